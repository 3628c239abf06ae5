# plot.gp - delivered events/s per server and scenario point (run.sh calls it)
#   gnuplot -e "datafile='results/fanout.dat'; outfile='results/fanout.svg'" plot.gp
# fanout.dat (written by run.sh): tab-separated, header "point target <servers...>",
# one row per point; "-" marks a server without a value for that point.
if (!exists("datafile")) datafile = 'results/fanout.dat'
if (!exists("outfile")) outfile = 'results/fanout.svg'

set terminal svg size 1100,600 dynamic enhanced font 'sans,12' background rgb 'white'
set output outfile
set datafile separator "\t"
set datafile missing '-'

set title 'SSE fan-out: delivered events/s (median of runs; "target" = N x R)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [100:*]
set format y '10^{%L}'
set ylabel 'events/s, all streams (log scale)'
set grid ytics
set key outside right top vertical
set xtics nomirror font 'sans,10'
set bmargin 4

plot datafile using 2:xtic(1) title columnheader(2) lc rgb '#c0c0c0', \
     for [i=3:*] datafile using i title columnheader(i)

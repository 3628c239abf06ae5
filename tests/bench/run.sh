#!/usr/bin/env bash
# run.sh - SSE server benchmark: floor, Node, nginx+Nchan and asio-sse.
#
# Builds the C/C++ tools (if needed), then for every scenario point, run and
# server kind (interleaved, so drift and a cut budget hit all servers alike)
# starts the server on a free loopback port, drives it with sse-load, stops
# it and appends one row to results/results.tsv.  Finally writes
# results/table.md (median per point) and results/fanout.svg.
# See README.md for the scenarios and columns.
#
# Environment knobs (defaults in brackets):
#   SERVERS          server kinds to run ["floor node nchan asio-sse"]
#   SCENARIOS        scenario kinds to run ["idle fanout ticker"]
#   RUNS             runs per point [2]
#   WARMUP/DURATION  fan-out and ticker windows, whole seconds [2/3]
#   IDLE_WARMUP/IDLE_DURATION  idle-memory windows, whole seconds [1/1]
#   CONNECT_TIMEOUT  max whole seconds for all streams to connect [6]
#   BUDGET_S         no run starts after this many seconds [540]
#   SSE_BENCH_SERVER asio-sse benchmark server, absolute or relative to the
#                    repository root [build/tests/bench/sse-bench-server]
#   ASIO_THREADS     --threads for sse-bench-server [1]; give it as many
#                    SERVER_CPUS
#   FLOOR_BATCH      events per send() for the floor [1]
#   SERVER_CPUS/CLIENT_CPUS  taskset CPU lists for the server and for the
#                    load side (sse-load, nchan-pub) [0 / 1 on 2+ CPUs;
#                    empty = no pinning]
#   BENCH_BUILD_DIR  where the tools are built [tests/bench/build]
#   RESULTS_DIR      output directory [tests/bench/results]
#   APPEND=1         append to an existing results.tsv instead of starting anew
#   PUBLISH=1        afterwards copy the reports to tests/bench/published/ and
#                    put the summary table into the top-level README.md
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/../.." && pwd)
BUILD_DIR=${BENCH_BUILD_DIR:-$BENCH_DIR/build}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
LOG_DIR=$RESULTS_DIR/logs
SSE_BENCH_SERVER=${SSE_BENCH_SERVER:-build/tests/bench/sse-bench-server}
[[ $SSE_BENCH_SERVER = /* ]] || SSE_BENCH_SERVER=$REPO_ROOT/$SSE_BENCH_SERVER
SERVERS=${SERVERS:-floor node nchan asio-sse}
SCENARIOS=${SCENARIOS:-idle fanout ticker}
RUNS=${RUNS:-2}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-3}
IDLE_WARMUP=${IDLE_WARMUP:-1}
IDLE_DURATION=${IDLE_DURATION:-1}
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-6}
BUDGET_S=${BUDGET_S:-540}
ASIO_THREADS=${ASIO_THREADS:-1}
FLOOR_BATCH=${FLOOR_BATCH:-1}
if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
  SERVER_CPUS=${SERVER_CPUS-0}
  CLIENT_CPUS=${CLIENT_CPUS-1}
else
  SERVER_CPUS=${SERVER_CPUS-}
  CLIENT_CPUS=${CLIENT_CPUS-}
fi
PAYLOAD=64
SERVER_MAX_S=300         # servers and publisher exit by themselves after this
NCHAN_MODULE=/usr/lib/nginx/modules/ngx_nchan_module.so

# Scenario points: kind N R(events/s per stream) T(ticker ms, 0 = off).
POINTS=(
  "idle   1000  0    0"
  "idle   10000 0    0"
  "fanout 1000  100  0"
  "fanout 1000  1000 0"
  "fanout 1000  5000 0"
  "fanout 10000 10   0"
  "fanout 10000 100  0"
  "ticker 10000 1    1000"
)

log() { printf '%s\n' "$*" >&2; }

# Command prefixes that pin a process to a CPU list (empty: no pinning).
SERVER_PIN=()
CLIENT_PIN=()
[[ -z $SERVER_CPUS ]] || SERVER_PIN=(taskset -c "$SERVER_CPUS")
[[ -z $CLIENT_CPUS ]] || CLIENT_PIN=(taskset -c "$CLIENT_CPUS")

# ---------------------------------------------------------------------------
# Child processes: every PID we start is recorded and killed on exit.
CHILDREN=()
NCHAN_TMP=""
NCHAN_LOG=""  # where nginx's error.log is kept when its temp dir goes
NCHAN_WORKERS=""

stop_pid() {  # TERM, wait up to 2 s, then KILL (bash reaps disowned jobs)
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 20; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

stop_children() {  # newest first: the publisher goes before nginx
  local i pid
  for ((i = ${#CHILDREN[@]} - 1; i >= 0; i--)); do stop_pid "${CHILDREN[i]}"; done
  CHILDREN=()
  # nginx workers die with their master; only a KILLed master leaves them.
  for pid in ${NCHAN_WORKERS//,/ }; do
    if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == nginx ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  NCHAN_WORKERS=""
  if [[ -n $NCHAN_TMP ]]; then
    cat "$NCHAN_TMP/error.log" >>"$NCHAN_LOG" 2>/dev/null || true
    rm -rf "$NCHAN_TMP"
    NCHAN_TMP=""
  fi
}

trap stop_children EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
build_tools() {
  local cc=${CC:-cc} cxx=${CXX:-c++}
  mkdir -p "$BUILD_DIR"
  if [[ ! -x $BUILD_DIR/sse-load || $BENCH_DIR/sse_load.cpp -nt $BUILD_DIR/sse-load ]]; then
    log "building sse-load"
    "$cxx" -std=c++17 -O2 -Wall -Wextra -pthread -o "$BUILD_DIR/sse-load" "$BENCH_DIR/sse_load.cpp"
  fi
  local tool
  for tool in floor nchan_pub; do
    local out=$BUILD_DIR/${tool//_/-}
    if [[ ! -x $out || $BENCH_DIR/$tool.c -nt $out ]]; then
      log "building ${tool//_/-}"
      "$cc" -std=c11 -O2 -Wall -Wextra -o "$out" "$BENCH_DIR/$tool.c"
    fi
  done
}

free_port() {  # a port in 20000-29999 (below the ephemeral range) nobody uses
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 10000))
    if [[ -z $(ss -Htan "( sport = :$p )") ]]; then echo "$p"; return 0; fi
  done
  return 1
}

wait_port() {  # port pid: until something accepts on the port (10 s max)
  local port=$1 pid=$2 i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

children_of() { ps -o pid= --ppid "$1" | tr -d ' ' | paste -sd, -; }

wait_children() {  # pid: its children's PIDs, comma-separated (5 s max)
  local i kids
  for ((i = 0; i < 50; i++)); do
    kids=$(children_of "$1")
    if [[ -n $kids ]]; then echo "$kids"; return 0; fi
    sleep 0.1
  done
  return 1
}

# Starts a server; sets SERVER_PID (what to stop), MEASURE_PIDS (what to
# sample in /proc) and SUB_PATH.  Servers without a --max-seconds of their
# own run under timeout(1), which forwards our TERM to them.
# Arguments: kind port R T logprefix.
start_server() {
  local kind=$1 port=$2 rate=$3 ticker=$4 logp=$5
  SUB_PATH=/events
  case $kind in
    floor)  # ticker points: a timer per stream (--ticker-ms) instead of the broadcast (--rate)
      local pace=(--rate "$rate")
      ((ticker > 0)) && pace=(--ticker-ms "$ticker")
      "${SERVER_PIN[@]}" "$BUILD_DIR/floor" --port "$port" "${pace[@]}" --payload "$PAYLOAD" \
        --batch "$FLOOR_BATCH" --max-seconds "$SERVER_MAX_S" >"$logp.server.log" 2>&1 &
      SERVER_PID=$! ;;
    node)
      "${SERVER_PIN[@]}" node "$BENCH_DIR/node_server.js" --port "$port" --path /events --rate "$rate" \
        --payload "$PAYLOAD" --ticker-ms "$ticker" --max-seconds "$SERVER_MAX_S" \
        >"$logp.server.log" 2>&1 &
      SERVER_PID=$! ;;
    asio-sse)
      "${SERVER_PIN[@]}" timeout "$SERVER_MAX_S" "$SSE_BENCH_SERVER" --port "$port" --path /events \
        --rate "$rate" --payload "$PAYLOAD" --ticker-ms "$ticker" --threads "$ASIO_THREADS" \
        >"$logp.server.log" 2>&1 &
      SERVER_PID=$! ;;
    nchan)
      SUB_PATH=/sub
      NCHAN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sse-bench-nchan.XXXXXX")
      NCHAN_LOG=$logp.server.log
      local user_directive=""
      [[ $(id -u) -eq 0 ]] && user_directive="user root;"  # else workers drop to nobody
      sed -e "s#@PREFIX@#$NCHAN_TMP#g" -e "s#@PORT@#$port#g" -e "s#@NOFILE@#$(ulimit -n)#g" \
          -e "s#@USER_DIRECTIVE@#$user_directive#" "$BENCH_DIR/nchan.conf.in" >"$NCHAN_TMP/nginx.conf"
      "${SERVER_PIN[@]}" timeout "$SERVER_MAX_S" nginx -p "$NCHAN_TMP" -c "$NCHAN_TMP/nginx.conf" \
        >"$logp.server.log" 2>&1 &
      SERVER_PID=$! ;;
  esac
  disown "$SERVER_PID"  # we track it ourselves; no "Killed" job notices
  CHILDREN+=("$SERVER_PID")
  MEASURE_PIDS=$SERVER_PID
  # Track a wrapped server too: it is stopped before its timeout(1), so a
  # server that ignores TERM gets KILLed instead of outliving the wrapper.
  if [[ $kind == asio-sse || $kind == nchan ]]; then
    MEASURE_PIDS=$(wait_children "$SERVER_PID") || return 1
    CHILDREN+=("$MEASURE_PIDS")
  fi
  wait_port "$port" "$SERVER_PID" || return 1
  if [[ $kind == nchan ]]; then  # the workers do the work; nginx listens before forking them
    MEASURE_PIDS=$(wait_children "$MEASURE_PIDS") || return 1
    NCHAN_WORKERS=$MEASURE_PIDS
    if ((rate > 0)); then
      "${CLIENT_PIN[@]}" "$BUILD_DIR/nchan-pub" --url "http://127.0.0.1:$port/pub" --rate "$rate" \
        --payload "$PAYLOAD" --max-seconds "$SERVER_MAX_S" >"$logp.pub.log" 2>&1 &
      disown "$!"
      CHILDREN+=("$!")
    fi
  fi
}

result_field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# One measurement: kind scenario N R T run.
run_point() {
  local kind=$1 scen=$2 n=$3 rate=$4 ticker=$5 run=$6
  local warm=$WARMUP dur=$DURATION
  if [[ $scen == idle ]]; then warm=$IDLE_WARMUP; dur=$IDLE_DURATION; fi
  local logp=$LOG_DIR/$kind-$scen-n$n-r$rate-$run
  local port
  port=$(free_port) || { log "no free port"; return 1; }
  local row_tail="NA NA NA NA NA NA NA NA NA NA"
  if start_server "$kind" "$port" "$rate" "$ticker" "$logp"; then
    timeout $((CONNECT_TIMEOUT + warm + dur + 15)) \
      "${CLIENT_PIN[@]}" "$BUILD_DIR/sse-load" --url "http://127.0.0.1:$port$SUB_PATH" --streams "$n" \
      --warmup "$warm" --duration "$dur" --connect-timeout "$CONNECT_TIMEOUT" \
      --server-pid "$MEASURE_PIDS" >"$logp.load.log" 2>&1 || true
    local res
    res=$(grep -m1 '^RESULT ' "$logp.load.log" || true)
    if [[ -n $res ]]; then
      local before start rss_per_stream=NA
      before=$(result_field server_rss_before_kb "$res")
      start=$(result_field server_rss_start_kb "$res")
      if [[ $before != NA && $start != NA ]]; then
        rss_per_stream=$(( (start - before) * 1024 / n ))
      fi
      row_tail="$(result_field streams_established "$res") $(result_field streams_receiving "$res")"
      row_tail+=" $(result_field events_per_sec "$res") $(result_field p50_us "$res")"
      row_tail+=" $(result_field p99_us "$res") $(result_field p999_us "$res")"
      row_tail+=" $(result_field max_us "$res") $rss_per_stream $(result_field server_cpu_pct "$res")"
      local other
      other=$(result_field other_cpu_pct "$res")
      row_tail+=" $other"
      log "  $kind $scen N=$n R=$rate run $run: $(result_field events_per_sec "$res") ev/s," \
          "p99 $(result_field p99_us "$res") us, rss/stream $rss_per_stream B," \
          "cpu $(result_field server_cpu_pct "$res")%, established $(result_field streams_established "$res")," \
          "errors $(result_field errors "$res"), other processes $other%"
      if [[ $other != NA ]] && awk -v o="$other" 'BEGIN { exit !(o > 25) }'; then
        log "  warning: other processes used $other% of a core during that window; the run is skewed"
      fi
    else
      log "  $kind $scen N=$n R=$rate run $run: no RESULT (see $logp.load.log)"
    fi
  else
    log "  $kind $scen N=$n R=$rate run $run: server did not start (see $logp.server.log)"
  fi
  stop_children
  local row
  row="$kind $scen $n $rate $PAYLOAD $run $row_tail"
  printf '%s\n' "${row// /$'\t'}" >>"$RESULTS_DIR/results.tsv"
}

server_available() {
  case $1 in
    floor) return 0 ;;
    node) command -v node >/dev/null || { log "skipping node: node not found"; return 1; } ;;
    nchan)
      { command -v nginx >/dev/null && [[ -f $NCHAN_MODULE ]]; } ||
        { log "skipping nchan: nginx or $NCHAN_MODULE not found"; return 1; } ;;
    asio-sse)
      [[ -x $SSE_BENCH_SERVER ]] ||
        { log "skipping asio-sse: $SSE_BENCH_SERVER not built (build the library with CMake)"; return 1; } ;;
    *) log "unknown server kind: $1"; return 1 ;;
  esac
}

# ---------------------------------------------------------------------------
# Reports: table.md (median per point) and fanout.dat -> fanout.svg.
write_reports() {
  local tsv=$RESULTS_DIR/results.tsv
  # Medians over runs, ordered by scenario, N, R, then server kind.
  awk -F'\t' -v OFS='\t' '
    function median(list,   v, n, i, j, t, m) {
      n = split(list, v, " ")
      if (n == 0) return "NA"
      for (i = 2; i <= n; i++)      # insertion sort, numeric
        for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
      if (n % 2) return v[(n+1)/2]
      m = (v[n/2] + v[n/2+1]) / 2
      return m == int(m) ? sprintf("%d", m) : sprintf("%.1f", m)
    }
    NR == 1 { for (c = 7; c <= NF; c++) name[c] = $c; next }
    {
      key = $1 OFS $2 OFS $3 OFS $4 OFS $5
      if (!(key in runs)) order[++npoints] = key
      runs[key]++
      for (c = 7; c <= NF; c++) if ($c != "NA") vals[key, c] = vals[key, c] " " $c
    }
    END {
      split("idle fanout ticker", sc, " "); for (i in sc) srank[sc[i]] = i
      split("floor node nchan asio-sse", sv, " "); for (i in sv) vrank[sv[i]] = i
      for (p = 1; p <= npoints; p++) {
        split(order[p], k, OFS)
        line = sprintf("%d %06d %06d %d", srank[k[2]], k[3], k[4], vrank[k[1]])
        line = line OFS order[p] OFS runs[order[p]]
        for (c = 7; c <= 16; c++) line = line OFS median(vals[order[p], c])
        print line
      }
    }' "$tsv" | sort | cut -f2- >"$RESULTS_DIR/medians.tsv"

  {
    echo "| server | scenario | N | R/stream | target ev/s | established | receiving | events/s | p50 us | p99 us | p99.9 us | max us | RSS/stream B | server CPU % | other CPU % | runs |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    awk -F'\t' '{
      printf "| %s | %s | %s | %s | %d |", $1, $2, $3, $4, $3 * $4
      for (c = 7; c <= 16; c++) printf " %s |", $c
      printf " %s |\n", $6
    }' "$RESULTS_DIR/medians.tsv"
    echo
    echo "Median of the runs per point. R is events/s per stream (ticker: one event per T ms)."
    echo "RSS/stream = server RSS growth from before connecting to the start of the window, / N."
    echo "Other CPU % = CPU used by unrelated processes during the window; above ~25 the point is skewed."
  } >"$RESULTS_DIR/table.md"

  # fanout.dat: one row per event-carrying point, one column per server.
  awk -F'\t' -v OFS='\t' '
    $2 != "idle" {
      label = $2 " N=" $3 " R=" $4
      if (!(label in seen)) { seen[label] = 1; labels[++nl] = label; target[label] = $3 * $4 }
      eps[label, $1] = $9; present[$1] = 1
    }
    END {
      split("floor node nchan asio-sse", sv, " ")
      hdr = "point" OFS "target"
      for (i = 1; i <= 4; i++) if (sv[i] in present) hdr = hdr OFS sv[i]
      print hdr
      for (l = 1; l <= nl; l++) {
        row = "\"" labels[l] "\"" OFS target[labels[l]]
        for (i = 1; i <= 4; i++)
          if (sv[i] in present) row = row OFS ((labels[l], sv[i]) in eps && eps[labels[l], sv[i]] != "NA" ? eps[labels[l], sv[i]] : "-")
        print row
      }
    }' "$RESULTS_DIR/medians.tsv" >"$RESULTS_DIR/fanout.dat"
  rm -f "$RESULTS_DIR/fanout.svg" # an older run's chart must not outlive its data
  if command -v gnuplot >/dev/null && [[ $(wc -l <"$RESULTS_DIR/fanout.dat") -gt 1 ]]; then
    gnuplot -e "datafile='$RESULTS_DIR/fanout.dat'; outfile='$RESULTS_DIR/fanout.svg'" \
      "$BENCH_DIR/plot.gp" 2>"$LOG_DIR/gnuplot.log" || log "gnuplot failed (see $LOG_DIR/gnuplot.log)"
  fi
}

# The README's summary: one row per point, one column per server; events/s
# and p99 for fan-out, RSS per stream for idle, server CPU for the ticker.
write_summary() {
  awk -F'\t' '
    function eps(v) { return v >= 1e6 ? sprintf("%.2f M", v / 1e6) : sprintf("%d k", v / 1000 + 0.5) }
    function th(v,   s) { s = sprintf("%d", v); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9](,|$)/, ",&", s); return s }
    function ms(v) { v /= 1000; return v < 10 ? sprintf("%.1f ms", v) : sprintf("%d ms", v + 0.5) }
    function cell(srv, k,   c, est) {
      if (!((k, srv) in have) || (srv == "floor" && sc[k] == "idle")) return "—"
      split(have[k, srv], c, "\t")
      if (sc[k] == "idle") c[0] = sprintf("%.1f KB", c[14] / 1000)
      else if (sc[k] == "ticker") c[0] = sprintf("%.1f %%", c[15])
      else c[0] = eps(c[9]) ", " ms(c[11])
      est = int(c[7] + 0.5) # streams established (median)
      if (est < c[3] + 0) c[0] = c[0] " (" th(est) " streams)"
      return srv == "asio-sse" ? "**" c[0] "**" : c[0]
    }
    {
      k = $2 " " $3 " " $4
      if (!(k in sc)) { keys[++n] = k; sc[k] = $2; nn[k] = $3; rr[k] = $4 }
      have[k, $1] = $0
    }
    END {
      print "| scenario (N streams, R events/s each) | floor | Node `http` | nginx + Nchan | **asio-sse** |"
      print "| --- | --- | --- | --- | --- |"
      for (i = 1; i <= n; i++) {
        k = keys[i]
        if (sc[k] == "idle") label = "idle memory per stream, N = " th(nn[k])
        else if (sc[k] == "ticker") label = "a timer per stream, N = " th(nn[k]) ", every " th(1000 / rr[k]) " ms: server CPU"
        else label = "fan-out N = " th(nn[k]) ", R = " th(rr[k]) ": events/s, p99"
        printf "| %s | %s | %s | %s | %s |\n", label, cell("floor", k), cell("node", k), cell("nchan", k), cell("asio-sse", k)
      }
    }' "$RESULTS_DIR/medians.tsv" >"$RESULTS_DIR/summary.md"
}

# Copies the reports to published/ and replaces the README table between its
# bench-summary markers.
publish() {
  local dest=$BENCH_DIR/published readme=$REPO_ROOT/README.md f
  mkdir -p "$dest"
  cp "$RESULTS_DIR"/{results.tsv,medians.tsv,table.md,summary.md} "$dest/"
  rm -f "$dest/fanout.svg" # a run without fan-out points has no chart
  if [[ -f $RESULTS_DIR/fanout.svg ]]; then cp "$RESULTS_DIR/fanout.svg" "$dest/"; fi
  for f in "$LOG_DIR"/asio-sse-*.server.log; do
    if [[ -f $f ]]; then echo "$(basename "$f" .server.log): $(grep published "$f")"; fi
  done >"$dest/asio-sse-counters.txt"
  awk -v table="$RESULTS_DIR/summary.md" '
    /<!-- bench-summary:end -->/ { skip = 0 }
    !skip { print }
    /<!-- bench-summary:begin -->/ { while ((getline line < table) > 0) print line; skip = 1 }
  ' "$readme" >"$readme.tmp" && mv "$readme.tmp" "$readme"
  log "published to $dest and README.md"
}

# ---------------------------------------------------------------------------
main() {
  local began=$SECONDS
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  log "open files limit: $(ulimit -n); server CPUs: ${SERVER_CPUS:-any}; client CPUs: ${CLIENT_CPUS:-any}"
  local load
  read -r load _ </proc/loadavg
  if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    log "warning: load average is $load; other work on this machine will skew the results"
  fi
  build_tools
  if [[ ${APPEND:-0} != 1 || ! -f $RESULTS_DIR/results.tsv ]]; then
    rm -rf "$LOG_DIR"
    mkdir -p "$LOG_DIR"
    printf 'server\tscenario\tN\tR\tpayload\trun\tstreams_established\tstreams_receiving\tevents_per_sec\tp50_us\tp99_us\tp999_us\tmax_us\trss_delta_per_stream_bytes\tserver_cpu_pct\tother_cpu_pct\n' \
      >"$RESULTS_DIR/results.tsv"
  fi
  mkdir -p "$LOG_DIR"

  local kind kinds=() point scen n rate ticker run est
  for kind in $SERVERS; do
    if server_available "$kind"; then kinds+=("$kind"); fi
  done
  for point in "${POINTS[@]}"; do
    read -r scen n rate ticker <<<"$point"
    [[ " $SCENARIOS " == *" $scen "* ]] || continue
    log "== $scen N=$n R=$rate"
    for ((run = 1; run <= RUNS; run++)); do
      for kind in "${kinds[@]}"; do
        if [[ $scen == ticker && $kind == nchan ]]; then continue; fi # Nchan has no per-stream timer
        if [[ $scen == idle ]]; then est=$((IDLE_WARMUP + IDLE_DURATION + 3)); else est=$((WARMUP + DURATION + 4)); fi
        if ((SECONDS - began + est > BUDGET_S)); then
          log "  time budget of ${BUDGET_S}s used up: skipping $kind $scen N=$n R=$rate run $run"
          continue
        fi
        run_point "$kind" "$scen" "$n" "$rate" "$ticker" "$run"
      done
    done
  done
  write_reports
  write_summary
  [[ ${PUBLISH:-0} != 1 ]] || publish
  log "done in $((SECONDS - began)) s: $RESULTS_DIR/results.tsv, table.md, fanout.svg"
}

main "$@"

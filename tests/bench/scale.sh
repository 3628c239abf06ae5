#!/usr/bin/env bash
# scale.sh - issue #17: 100,000 concurrent SSE streams on one 2-core machine.
#
# Three passes, each against a fresh sse-bench-server (--rate 1 --payload 64, one broadcast to
# every stream per second, pinned to SERVER_CPUS) driven by one sse-load (CLIENT_CPUS), over
# loopback only:
#   scale   N streams: time to connect all of them, established and receiving, events/s
#           (target N), latency, server RSS per stream;
#   steady  CHURN_N streams, no churn: the reference for
#   churn   CHURN_N streams plus CHURN streams/s opened and as many closed (each lives
#           CHURN_LIFE_MS): the steady streams' latency while streams join and leave.
# The load spreads its connections over SOURCE_ADDRS source addresses 127.1.0.x (one source
# address has only the ephemeral port range, about 28,000 ports, to reach one server port).
# Both programs raise their own open-files limit (soft to hard; the hard limit too when the
# process may, i.e. has CAP_SYS_RESOURCE). This script checks the kernel limits it depends on
# first and prints them; it changes a sysctl only with SCALE_SYSCTL=1 (and says so, and puts it
# back on exit). Where one process may not hold N descriptors, PROCS splits the scale pass over
# several servers (one broadcast still, through Redis; below). Every process runs under
# timeout(1), is recorded and stopped by its PID on exit. Writes RESULTS_DIR/scale.md (a
# markdown table, also printed) and the logs beside it.
#
# Environment knobs (defaults in brackets):
#   N                streams of the scale pass [100000]
#   SOURCE_ADDRS     source addresses of the scale pass [N / 5000 + 1]; the kernel's search for
#                    a free ephemeral port slows connect() down as one address fills its range
#                    (19,600 streams from one address took 8 s to connect, from 4 under 0.5 s)
#   RAMP_BATCH       connects in flight at once during the ramp [256]
#   CONNECT_TIMEOUT  whole seconds the scale pass may take to connect [60]
#   WARMUP/DURATION  warmup and measuring window of every pass, whole seconds [2/5]
#   CHURN_N          steady streams of the steady and churn passes [10000]
#   CHURN            streams opened (and closed) per second in the churn pass [10000]
#   CHURN_LIFE_MS    how long each churn stream stays open [500]
#   PASSES           which passes to run ["scale steady churn"]
#   PROCS            server processes of the scale pass [1]: K > 1 splits the N streams over K
#                    servers (and K loads), each a process within its own open-files limit,
#                    whose channel is one redis_channel on a Redis the script starts (needs
#                    redis-server, REDIS_SERVER): one broadcast still reaches all N; `auto`
#                    takes as few as the open-files limit allows (1 if N fits one process)
#   N_FIT=1          when the open-files hard limit cannot be raised to what N needs, run the
#                    scale pass with the largest N it allows (marked in the table) instead of
#                    failing (with PROCS=1)
#   SCALE_SYSCTL=1   raise fs.nr_open, fs.file-max, net.core.somaxconn and
#                    net.ipv4.tcp_max_syn_backlog where they are too low (restored on exit)
#   SSE_BENCH_SERVER asio-sse benchmark server [build/tests/bench/sse-bench-server]
#   SSE_LOAD         load client [sse-load beside SSE_BENCH_SERVER; else built into
#                    BENCH_BUILD_DIR like run.sh does]
#   SERVER_CPUS/CLIENT_CPUS  taskset CPU lists [0 / 1 on 2+ CPUs; empty = no pinning]
#   RESULTS_DIR      output directory [tests/bench/results]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$BENCH_DIR/lib.sh"
REPO_ROOT=$(cd "$BENCH_DIR/../.." && pwd)
BUILD_DIR=${BENCH_BUILD_DIR:-$BENCH_DIR/build}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
LOG_DIR=$RESULTS_DIR/scale-logs
SSE_BENCH_SERVER=${SSE_BENCH_SERVER:-build/tests/bench/sse-bench-server}
[[ $SSE_BENCH_SERVER = /* ]] || SSE_BENCH_SERVER=$REPO_ROOT/$SSE_BENCH_SERVER
SSE_LOAD=${SSE_LOAD:-$(dirname "$SSE_BENCH_SERVER")/sse-load}
[[ $SSE_LOAD = /* ]] || SSE_LOAD=$REPO_ROOT/$SSE_LOAD
N=${N:-100000}
SOURCE_ADDRS_USER=${SOURCE_ADDRS:-}
SOURCE_ADDRS=${SOURCE_ADDRS:-$((N / 5000 + 1))}
RAMP_BATCH=${RAMP_BATCH:-256}
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-60}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-5}
CHURN_N=${CHURN_N:-10000}
CHURN=${CHURN:-10000}
CHURN_LIFE_MS=${CHURN_LIFE_MS:-500}
PASSES=${PASSES:-scale steady churn}
PROCS=${PROCS:-1}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_TMP=""
CHURN_CONNECT_TIMEOUT=20
# Source addresses of the steady and churn passes: the churn pass's connects (its steady streams
# and CHURN/s over warmup and window) spread as thinly as the scale pass's.
CHURN_SOURCE_ADDRS=$(((CHURN_N + CHURN * (WARMUP + DURATION + 1)) / 5000 + 1))
PAYLOAD=64
RATE=1
SERVER_MAX_S=300      # the server exits by itself after this (timeout(1))
FD_SPARE=256          # descriptors beyond one per stream (epoll, listener, stdio, ...)
pin_cpus
REDIS_PIN=("${SERVER_PIN[@]}") # Redis shares the servers' CPUs

fail() { log "scale.sh: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Child processes: every PID we start is recorded and stopped on exit; sysctls we raised go back.
CHILDREN=()
RESTORE_SYSCTLS=()   # "key=old value" pairs, restored on exit

on_exit() {
  stop_recorded
  drop_redis_dir
  local kv
  for kv in "${RESTORE_SYSCTLS[@]}"; do
    if sysctl -q -w "$kv" >/dev/null 2>&1; then log "restored $kv"; else log "could not restore $kv"; fi
  done
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# TcpExt ListenOverflows / ListenDrops of this network namespace (NA if unreadable).
netstat_field() {
  awk -v key="$1" '$1 == "TcpExt:" { if (!h) { for (i = 2; i <= NF; i++) if ($i == key) col = i; h = 1 }
                                     else { print col ? $col + 0 : "NA"; exit } }' /proc/net/netstat 2>/dev/null || echo NA
}

# ---------------------------------------------------------------------------
# Kernel and process limits.
sysval() { sysctl -n "$1" 2>/dev/null | tr -s '\t ' ' ' || echo NA; }

# key wanted why: raise key to wanted with SCALE_SYSCTL=1, else say what is missing. Returns 1
# when the value stays too low.
want_sysctl() {
  local key=$1 wanted=$2 why=$3 cur
  cur=$(sysval "$key")
  [[ $cur =~ ^[0-9]+$ ]] || { log "  $key unreadable; $why"; return 1; }
  ((cur >= wanted)) && return 0
  if [[ ${SCALE_SYSCTL:-0} == 1 ]]; then
    if sysctl -q -w "$key=$wanted" >/dev/null 2>&1; then
      RESTORE_SYSCTLS+=("$key=$cur")
      log "  SCALE_SYSCTL=1: raised $key from $cur to $wanted ($why; restored on exit)"
      return 0
    fi
    log "  SCALE_SYSCTL=1: could not raise $key from $cur to $wanted ($why)"
    return 1
  fi
  log "  $key is $cur, below $wanted: $why (SCALE_SYSCTL=1 raises it for the run)"
  return 1
}

# The open-files limit a process started from here can reach: the hard limit, or `need` if a
# child can raise its hard limit that far (CAP_SYS_RESOURCE), as the programs do themselves.
reachable_nofile() {
  local need=$1 hard
  hard=$(ulimit -Hn)
  [[ $hard == unlimited ]] && { echo "$need"; return; }
  if ((hard >= need)) || (ulimit -Hn "$need") 2>/dev/null; then echo "$need"; else echo "$hard"; fi
}

# Descriptors one side needs: a stream each (the churn pass's ring too, as sse-load sizes it).
churn_fds() { echo $((CHURN_N + (CHURN * CHURN_LIFE_MS * 125 + 99999) / 100000 + 64 + FD_SPARE)); }

check_limits() {
  local ok=1 need churn_need ports lo hi reach
  if [[ $PROCS == auto ]]; then # as few processes as fit the open-files limit
    reach=$(reachable_nofile $((N + FD_SPARE)))
    PROCS=$(((N + reach - FD_SPARE - 1) / (reach - FD_SPARE)))
    log "PROCS=auto: $PROCS server process(es) for N=$N (open-files limit reachable: $reach)"
  fi
  [[ $PROCS =~ ^[1-9][0-9]*$ ]] || fail "PROCS must be a positive number or auto"
  if ((PROCS > 1)); then
    command -v "$REDIS_SERVER" >/dev/null || fail "PROCS=$PROCS needs $REDIS_SERVER (Debian: redis-server)"
    [[ ${N_FIT:-0} != 1 ]] || fail "N_FIT is for one process (PROCS=1)"
  fi
  need=$(((N + PROCS - 1) / PROCS + FD_SPARE)) # per process
  churn_need=$(churn_fds)
  local k
  log "kernel and process limits:"
  for k in fs.nr_open fs.file-max net.core.somaxconn net.ipv4.tcp_max_syn_backlog net.ipv4.ip_local_port_range \
           net.ipv4.tcp_tw_reuse net.ipv4.tcp_max_tw_buckets net.netfilter.nf_conntrack_max; do
    log "  $k = $(sysval "$k")"
  done
  [[ -r /proc/sys/net/netfilter/nf_conntrack_count ]] &&
    log "  net.netfilter.nf_conntrack_count = $(cat /proc/sys/net/netfilter/nf_conntrack_count)"
  log "  ulimit -n soft $(ulimit -Sn) hard $(ulimit -Hn) (each program raises its own)"
  local most=$need
  ((churn_need > most)) && most=$churn_need
  want_sysctl fs.nr_open "$most" "the ceiling of a process's open-files limit" || ok=0
  want_sysctl fs.file-max $((2 * (N > CHURN_N ? N : CHURN_N) + 65536)) "server and client descriptors together" || ok=0
  # The accept queue: connects in flight at once must fit (the server asks for SOMAXCONN).
  want_sysctl net.core.somaxconn "$RAMP_BATCH" "the accept queue must hold RAMP_BATCH connects" || true
  want_sysctl net.ipv4.tcp_max_syn_backlog "$RAMP_BATCH" "half-open connects in flight" || true
  read -r lo hi <<<"$(sysval net.ipv4.ip_local_port_range)"
  ports=$((hi - lo + 1))
  if ((N / SOURCE_ADDRS + 1000 > ports)); then
    log "  $((N / SOURCE_ADDRS)) streams per source address do not fit the $ports ephemeral ports: raise SOURCE_ADDRS"
    ok=0
  fi
  if [[ -r /proc/sys/net/netfilter/nf_conntrack_count ]] && [[ $(sysval net.netfilter.nf_conntrack_max) =~ ^[0-9]+$ ]] &&
     (($(sysval net.netfilter.nf_conntrack_max) < N + 1000)); then
    log "  warning: nf_conntrack_max is below N; if conntrack tracks loopback, connects will be dropped"
  fi
  ((ok)) || fail "kernel limits too low for N=$N (see above)"

  reach=$(reachable_nofile "$most")
  if ((reach < need)) && [[ " $PASSES " == *" scale "* ]]; then
    local msg
    msg="the open-files hard limit is $(ulimit -Hn) and cannot be raised to $need (N=$N / PROCS=$PROCS + $FD_SPARE):"
    msg+=" this shell and its children lack CAP_SYS_RESOURCE"
    if [[ ${N_FIT:-0} == 1 ]]; then
      N_ASKED=$N
      N=$(((reach - FD_SPARE - 64 * 2) / 100 * 100))
      ((N > 0)) || fail "$msg; no N fits"
      SOURCE_ADDRS=${SOURCE_ADDRS_USER:-$((N / 5000 + 1))}
      log "  $msg; N_FIT=1: the scale pass runs N=$N instead of $N_ASKED"
    else
      fail "$msg. Raise it before (ulimit -Hn as root, limits.conf, systemd LimitNOFILE=), split N over processes (PROCS=auto) or run with N_FIT=1 (the largest N that fits one)"
    fi
  fi
  if ((reach < churn_need)) && [[ " $PASSES " == *" churn "* ]]; then
    fail "the churn pass needs $churn_need descriptors per side (CHURN_N=$CHURN_N + CHURN x CHURN_LIFE_MS x 1.25) and the limit reachable is $reach: lower CHURN_LIFE_MS or CHURN_N"
  fi
}

# ---------------------------------------------------------------------------
# One pass: name streams source_addrs connect_timeout churn [procs]. Appends a row to ROWS.
# With procs > 1 the streams are split over that many servers on ports of their own (each a
# process, within its own open-files limit) and as many loads, one per server; the servers'
# channel is one `redis_channel` on a Redis of our own, the first server publishes (--rate) and
# the others only deliver, so one broadcast reaches every stream of every process. The loads
# hold after their ramps and measure one window together (--hold, SIGUSR1); their figures are
# summed (streams, events/s, server CPU, RSS growth), their latency histograms merged, and the
# connect time is the slowest load's ramp (they ramp at once).
ROWS=()
declare -A CPU=() CHURN_OPS=()  # per pass: server CPU %, churn streams opened + closed per second
run_pass() {
  local name=$1 n=$2 addrs=$3 ct=$4 churn=$5 procs=${6:-1}
  local logp=$LOG_DIR/$name k port wrapper spid res redis_args=() ports=() spids=() lpids=() wrappers=()
  if ((procs > 1)); then
    start_redis "$logp" || { log "$name: redis-server did not start (see $logp.redis.log)"; stop_recorded; return 1; }
    redis_args=(--redis-port "$REDIS_PORT")
  fi
  for ((k = 1; k <= procs; k++)); do
    port=$(free_port) || fail "no free port"
    "${SERVER_PIN[@]}" timeout "$SERVER_MAX_S" "$SSE_BENCH_SERVER" --port "$port" --path /events \
      --rate "$((k == 1 ? RATE : 0))" --payload "$PAYLOAD" "${redis_args[@]}" >"$logp.p$k.server.log" 2>&1 &
    wrapper=$!
    disown "$wrapper"
    CHILDREN+=("$wrapper")
    spid=$(wait_children "$wrapper") || { log "$name: server $k did not start (see $logp.p$k.server.log)"; stop_recorded; return 1; }
    CHILDREN+=("$spid")
    wait_port "$port" "$wrapper" || { log "$name: server $k did not listen (see $logp.p$k.server.log)"; stop_recorded; return 1; }
    ports+=("$port") spids+=("$spid")
  done
  local churn_args=() hold_args=()
  ((churn > 0)) && churn_args=(--churn "$churn" --churn-life-ms "$CHURN_LIFE_MS")
  local over0 drop0
  over0=$(netstat_field ListenOverflows)
  drop0=$(netstat_field ListenDrops)
  log "== $name: $n streams from $addrs source address(es)${churn_args[*]:+, ${churn_args[*]}}$( ((procs > 1)) && echo ", $procs server processes and loads, one Redis channel")"
  for ((k = 1; k <= procs; k++)); do
    ((procs > 1)) && hold_args=(--hold 1 --histogram "$logp.p$k.hist")
    timeout $((ct + WARMUP + DURATION + 20)) \
      "${CLIENT_PIN[@]}" "$SSE_LOAD" --url "http://127.0.0.1:${ports[k - 1]}/events" \
      --streams "$((n / procs + (k <= n % procs ? 1 : 0)))" \
      --warmup "$WARMUP" --duration "$DURATION" --connect-timeout "$ct" --ramp-batch "$RAMP_BATCH" \
      --source-addrs "$addrs" "${churn_args[@]}" "${hold_args[@]}" --server-pid "${spids[k - 1]}" \
      >"$logp.p$k.load.log" 2>&1 &
    wrappers+=("$!")
    CHILDREN+=("$!")
    lpids+=("$(wait_children "$!" || echo "$!")") # timeout's child: sse-load (taskset execs it)
  done
  if ((procs > 1)); then
    local pairs=()
    for ((k = 1; k <= procs; k++)); do pairs+=("$logp.p$k.load.log:${lpids[k - 1]}"); done
    release_holds $((ct + 5)) "${pairs[@]}" || true
  fi
  for wrapper in "${wrappers[@]}"; do wait "$wrapper" || true; done
  local over1 drop1 overflows=NA
  over1=$(netstat_field ListenOverflows)
  drop1=$(netstat_field ListenDrops)
  [[ $over0 == NA || $over1 == NA ]] || overflows=$((over1 - over0))
  local rss_now=0 v
  for spid in "${spids[@]}"; do
    v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$spid/status" 2>/dev/null || echo NA)
    if [[ $rss_now == NA || -z $v || $v == NA ]]; then rss_now=NA; else rss_now=$((rss_now + v)); fi
  done
  stop_recorded
  drop_redis_dir
  local results=() connect_ms=0
  for ((k = 1; k <= procs; k++)); do
    grep -v '^RESULT ' "$logp.p$k.load.log" | sed "s/^/  load $k: /" >&2 || true
    [[ -f $logp.p$k.server.log ]] && sed "s/^/  server $k: /" "$logp.p$k.server.log" >&2
    res=$(grep -m1 '^RESULT ' "$logp.p$k.load.log" || true)
    [[ -n $res ]] || { log "$name: no RESULT from load $k (see $logp.p$k.load.log)"; continue; }
    results+=("$res")
    connect_ms=$(awk -v a="$connect_ms" -v b="$(result_field connect_ms "$res")" \
                     'BEGIN { if (a == "NA" || b == "NA") print "NA"; else print (b + 0 > a + 0 ? b : a) }')
  done
  local got=${#results[@]} est recv eps errors cpu grow
  read -r est recv eps errors cpu grow <<<"$(sum_results "${results[@]}")"
  if ((got < procs)); then
    ROWS+=("| $name | $n | NA | NA | NA | NA | NA | NA | NA | NA | NA | NA | $overflows |")
    return 0
  fi
  local rss=NA conn=NA p50 p99 churn_cell=-
  [[ $grow == NA ]] || rss=$((grow * 1024 / n))
  [[ $connect_ms == NA ]] || conn=$(awk -v m="$connect_ms" 'BEGIN { printf "%.2f", m / 1000 }')
  if ((procs > 1)); then
    read -r p50 p99 _ <<<"$(merge_hist "$logp".p*.hist)" # microseconds
  else
    p50=$(result_field p50_us "$res")
    p99=$(result_field p99_us "$res")
  fi
  p50=$(us_to_ms "$p50")
  p99=$(us_to_ms "$p99")
  if ((churn > 0)); then
    churn_cell=$(awk -v o="$(result_field churn_opened "$res")" -v c="$(result_field churn_closed "$res")" \
                     -v w="$(result_field window_s "$res")" -v f="$(result_field churn_failed "$res")" \
                     'BEGIN { if (w > 0) printf "%.0f / %.0f (%d failed)", o / w, c / w, f; else print "NA" }')
  fi
  CPU[$name]=$cpu
  CHURN_OPS[$name]=$(awk -v o="$(result_field churn_opened "$res")" -v c="$(result_field churn_closed "$res")" \
                         -v w="$(result_field window_s "$res")" 'BEGIN { print (w > 0 ? (o + c) / w : 0) }')
  local label=$n
  [[ $name == scale && -n ${N_ASKED:-} ]] && label="$n (N_FIT; asked $N_ASKED)"
  ((procs > 1)) && label+=" ($procs processes)"
  ROWS+=("| $name | $label | $est | $recv | $conn | $eps ($((n * RATE))) | $p50 | $p99 | $rss | $cpu | $churn_cell | $errors | $overflows |")
  log "$name: established $est/$n, receiving $recv, connect ${conn} s, $eps events/s, p50 $p50 ms, p99 $p99 ms," \
      "RSS/stream $rss B (RSS at exit $rss_now kB), server CPU $cpu%, listen overflows $overflows," \
      "drops $((${drop1/NA/0} - ${drop0/NA/0}))"
}

# ---------------------------------------------------------------------------
main() {
  local began=$SECONDS
  [[ -x $SSE_BENCH_SERVER ]] || fail "no $SSE_BENCH_SERVER: build it (cmake -DASIO_SSE_BUILD_BENCH=ON) or set SSE_BENCH_SERVER"
  if [[ ! -x $SSE_LOAD ]]; then
    SSE_LOAD=$BUILD_DIR/sse-load
    if [[ ! -x $SSE_LOAD || $BENCH_DIR/sse_load.cpp -nt $SSE_LOAD || $BENCH_DIR/fd_limit.hpp -nt $SSE_LOAD ]]; then
      mkdir -p "$BUILD_DIR"
      log "building sse-load"
      "${CXX:-c++}" -std=c++17 -O2 -Wall -Wextra -pthread -o "$SSE_LOAD" "$BENCH_DIR/sse_load.cpp"
    fi
  fi
  mkdir -p "$LOG_DIR"
  rm -f "$LOG_DIR"/*.log
  local load
  read -r load _ </proc/loadavg
  log "server CPUs: ${SERVER_CPUS:-any}; client CPUs: ${CLIENT_CPUS:-any}; load average $load"
  awk -v l="$load" 'BEGIN { exit !(l > 0.5) }' && log "warning: load average is $load; other work on this machine will skew the results"
  check_limits
  local pass
  for pass in $PASSES; do
    case $pass in
      scale)  run_pass scale "$N" "$SOURCE_ADDRS" "$CONNECT_TIMEOUT" 0 "$PROCS" ;;
      steady) run_pass steady "$CHURN_N" "$CHURN_SOURCE_ADDRS" "$CHURN_CONNECT_TIMEOUT" 0 ;;
      churn)  run_pass churn "$CHURN_N" "$CHURN_SOURCE_ADDRS" "$CHURN_CONNECT_TIMEOUT" "$CHURN" ;;
      *) fail "unknown pass $pass (scale, steady, churn)" ;;
    esac
  done
  local out=$RESULTS_DIR/scale.md
  {
    echo "sse-bench-server --rate $RATE --payload $PAYLOAD (CPU ${SERVER_CPUS:-any}), sse-load (CPU ${CLIENT_CPUS:-any}),"
    ((PROCS > 1)) && echo "the scale pass split over $PROCS servers and $PROCS loads, one redis_channel (Redis on CPU ${SERVER_CPUS:-any}), one publisher,"
    echo "warmup $WARMUP s, window $DURATION s; churn: $CHURN streams/s opened and closed, each open $CHURN_LIFE_MS ms;"
    echo "$(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%d). Listen overflows: the kernel's TcpExt ListenOverflows over the pass,"
    echo "for the whole network namespace (another process's too); each one costs a connect a 1 s SYN retransmission."
    echo
    echo "| pass | streams | established | receiving | connect all (s) | events/s (target) | p50 ms | p99 ms | server RSS/stream (B) | server CPU % | churn opened/s / closed/s | errors | listen overflows |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${ROWS[@]}"
    # What a join or a leave costs the server: the churn pass's CPU beyond the steady pass's,
    # per stream opened or closed (the same at any CHURN_N if it is O(1) in the streams open).
    if [[ -n ${CPU[steady]:-} && -n ${CPU[churn]:-} && ${CPU[steady]} != NA && ${CPU[churn]} != NA ]]; then
      echo
      awk -v a="${CPU[steady]}" -v b="${CPU[churn]}" -v ops="${CHURN_OPS[churn]}" -v n="$CHURN_N" 'BEGIN {
        if (ops > 0) printf "Churn: %.0f joins + leaves/s cost the server %.1f%% of a core beyond the steady pass'"'"'s, %.1f us each, with %d streams open.\n", ops, b - a, (b - a) / 100 * 1e6 / ops, n }'
    fi
  } >"$out"
  echo
  cat "$out"
  log "done in $((SECONDS - began)) s: $out, logs in $LOG_DIR"
}

main "$@"

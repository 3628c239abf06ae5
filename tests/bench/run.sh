#!/usr/bin/env bash
# run.sh - SSE server benchmark: floor, Node, nginx+Nchan, cpp-httplib, RESTinio,
# Boost.Beast and asio-sse.
#
# Builds the C/C++ tools (if needed), then for every scenario point, run and
# server kind (interleaved, so drift and a cut budget hit all servers alike)
# starts the server on a free loopback port, drives it with sse-load, stops
# it and appends one row to results/results.tsv.  Finally writes
# results/table.md (median per point) and results/fanout.svg.
# The cluster scenario is asio-sse's own: one node with a local channel
# (asio-sse-local) against CLUSTER_NODES nodes sharing a redis_channel over a
# redis-server the script starts (asio-sse-redis), run whenever asio-sse is in
# SERVERS.  The post scenario (POST streams of tokens: time to first event,
# tokens/s) is asio-sse's against cpp-httplib's (httplib-default and
# httplib-pool), one after the other per run.
# Every fan-out point runs once per publishing rule (RULES: --catch-up-ms
# values, tick_rule.hpp) for every server kind but floor and nchan, which have
# their own single rule; the rule is results.tsv's catch_up_ms column.
# See README.md for the scenarios and columns.
#
# Environment knobs (defaults in brackets):
#   SERVERS          server kinds to run ["floor node nchan asio-sse httplib-default
#                    httplib-pool restinio beast"]; httplib-default (cpp-httplib's
#                    default pool) and httplib-pool (a pool of N + 16 threads; in
#                    the post scenario HTTPLIB_POOL) also run the post scenario;
#                    "httplib" stands for both; asio-sse-window (asio-sse with a
#                    coalescing window, sse-bench-server --flush-delay-us
#                    WINDOW_US) runs when named
#   WINDOW_US        asio-sse-window's window in microseconds [5000]
#   CLUSTER_WINDOW_US cluster scenario: give every node of every variant (local,
#                    local-x2, redis) a coalescing window of this many
#                    microseconds (--flush-delay-us) [0: none, write-through]
#   SCENARIOS        scenario kinds to run ["idle fanout ticker cluster post"]
#   RUNS             runs per point [2]
#   RULES            publishing rules of the fan-out points, --catch-up-ms values
#                    (tick_rule.hpp: a 1 ms tick publishes what fell due, at most
#                    max(1, R*C/1000) events; 1 = skip late ticks, Node's classic
#                    rule; 5 = asio-sse's default) ["1 5"]; each point runs every
#                    server kind once per rule (floor and nchan: once, their own)
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
#   REDIS_SERVER     redis-server for the cluster scenario [redis-server]
#   REDIS_CPUS       taskset CPU list for it [SERVER_CPUS]
#   POST_N           post scenario: concurrent POST streams [1000]
#   POST_TOKEN_MS    post scenario: one token every this many ms per stream [20]
#   POST_WARMUP/POST_DURATION  post scenario windows, whole seconds [2/8]
#   POST_RAMP_BATCH  post scenario: connects (and request writes) in flight at
#                    once while the requests go out [128]
#   POST_PROBES      post scenario: new streams opened one at a time during the
#                    window (sse-load --probe), the headline TTFE [200]
#   HTTPLIB_SERVER   cpp-httplib peer (fan-out and post scenarios), absolute or
#                    relative to the repository root [httplib-post-server beside
#                    SSE_BENCH_SERVER]
#   HTTPLIB_POOL     threads of httplib-pool in the post scenario [POST_N + 16]
#                    (idle, fan-out, ticker: N + 16)
#   RESTINIO_SERVER  RESTinio peer, likewise [restinio-sse-server beside
#                    SSE_BENCH_SERVER]
#   BEAST_SERVER     Boost.Beast peer, likewise [beast-sse-server beside
#                    SSE_BENCH_SERVER]
#   BENCH_BUILD_DIR  where the tools are built [tests/bench/build]
#   RESULTS_DIR      output directory [tests/bench/results]
#   APPEND=1         append to an existing results.tsv instead of starting anew
#   PUBLISH=1        afterwards copy the reports to tests/bench/published/ and
#                    put the summary table into the top-level README.md
#   SETUP=1          first install what the run uses (Debian packages through
#                    tests/install-deps.sh: the compilers, CMake, Asio, OpenSSL,
#                    hiredis, nghttp2, redis-server, cpp-httplib, RESTinio, Boost
#                    (1.81 where no Beast is there yet), nginx + Nchan, gnuplot,
#                    Node) and, unless SSE_BENCH_SERVER is given, build the
#                    library's benchmark tools and the C++ peers (a Release build
#                    in build/bench) and use them, as on a clean machine
#                    [1 with PUBLISH=1, else 0]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$BENCH_DIR/lib.sh"
REPO_ROOT=$(cd "$BENCH_DIR/../.." && pwd)
BUILD_DIR=${BENCH_BUILD_DIR:-$BENCH_DIR/build}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
LOG_DIR=$RESULTS_DIR/logs

# SETUP=1: what a clean machine lacks, installed; the servers built (see the knob above).
setup() {
  local pkgs=(gcc g++ cmake ninja-build libasio-dev libssl-dev libhiredis-dev redis-server libnghttp2-dev
              libcpp-httplib-dev librestinio-dev nginx libnginx-mod-nchan gnuplot-nox)
  command -v node >/dev/null || pkgs+=(nodejs)
  [[ -f /usr/include/boost/beast.hpp ]] || pkgs+=(libboost1.81-dev) # (Debian's default 1.74 serves too)
  log "setup: installing what is missing"
  bash "$REPO_ROOT/tests/install-deps.sh" "${pkgs[@]}"
  [[ -z ${SSE_BENCH_SERVER:-} ]] || return 0
  local dir=$REPO_ROOT/build/bench
  log "setup: building the benchmark tools and peers in $dir"
  mkdir -p "$dir"
  cmake -S "$REPO_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DASIO_SSE_BUILD_BENCH=ON \
    -DASIO_SSE_BUILD_TESTS=OFF -DASIO_SSE_BUILD_EXAMPLES=OFF >"$dir.log" 2>&1 &&
    cmake --build "$dir" -j"$(nproc)" >>"$dir.log" 2>&1 || { tail -n 30 "$dir.log"; log "setup: build failed ($dir.log)"; exit 1; }
  SSE_BENCH_SERVER=$dir/tests/bench/sse-bench-server
}
SETUP=${SETUP:-${PUBLISH:-0}}
[[ $SETUP != 1 ]] || setup

SSE_BENCH_SERVER=${SSE_BENCH_SERVER:-build/tests/bench/sse-bench-server}
[[ $SSE_BENCH_SERVER = /* ]] || SSE_BENCH_SERVER=$REPO_ROOT/$SSE_BENCH_SERVER
HTTPLIB_SERVER=${HTTPLIB_SERVER:-$(dirname "$SSE_BENCH_SERVER")/httplib-post-server}
[[ $HTTPLIB_SERVER = /* ]] || HTTPLIB_SERVER=$REPO_ROOT/$HTTPLIB_SERVER
RESTINIO_SERVER=${RESTINIO_SERVER:-$(dirname "$SSE_BENCH_SERVER")/restinio-sse-server}
[[ $RESTINIO_SERVER = /* ]] || RESTINIO_SERVER=$REPO_ROOT/$RESTINIO_SERVER
BEAST_SERVER=${BEAST_SERVER:-$(dirname "$SSE_BENCH_SERVER")/beast-sse-server}
[[ $BEAST_SERVER = /* ]] || BEAST_SERVER=$REPO_ROOT/$BEAST_SERVER
SERVERS=${SERVERS:-floor node nchan asio-sse httplib-default httplib-pool restinio beast}
RULES=${RULES:-1 5}
WINDOW_US=${WINDOW_US:-5000}
SCENARIOS=${SCENARIOS:-idle fanout ticker cluster post}
RUNS=${RUNS:-2}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-3}
IDLE_WARMUP=${IDLE_WARMUP:-1}
IDLE_DURATION=${IDLE_DURATION:-1}
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-6}
BUDGET_S=${BUDGET_S:-540}
ASIO_THREADS=${ASIO_THREADS:-1}
FLOOR_BATCH=${FLOOR_BATCH:-1}
pin_cpus
REDIS_CPUS=${REDIS_CPUS-$SERVER_CPUS}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
POST_N=${POST_N:-1000}
POST_TOKEN_MS=${POST_TOKEN_MS:-20}
POST_WARMUP=${POST_WARMUP:-2}
POST_DURATION=${POST_DURATION:-8}
POST_RAMP_BATCH=${POST_RAMP_BATCH:-128}
POST_PROBES=${POST_PROBES:-200}
HTTPLIB_POOL=${HTTPLIB_POOL:-$((POST_N + 16))}
CLUSTER_WINDOW_US=${CLUSTER_WINDOW_US:-0}
CLUSTER_NODES=2          # asio-sse-redis: nodes, each with N streams and R/CLUSTER_NODES of the publishes
PAYLOAD=64
CLK_TCK=$(getconf CLK_TCK)
SERVER_MAX_S=300         # servers and publisher exit by themselves after this
NCHAN_MODULE=/usr/lib/nginx/modules/ngx_nchan_module.so

# Scenario points: kind N R(events/s per stream) T(ticker ms, 0 = off).
# cluster: N streams per node; R events/s published in all (so per stream).
# post: N POST streams, R tokens/s each, one every T ms.
POINTS=(
  "idle   1000  0    0"
  "idle   10000 0    0"
  "fanout 1000  100  0"
  "fanout 1000  1000 0"
  "fanout 1000  5000 0"
  "fanout 10000 10   0"
  "fanout 10000 100  0"
  "ticker 10000 1    1000"
  "cluster 1000 100  0"
  "cluster 1000 1000 0"
  "post   $POST_N $((1000 / POST_TOKEN_MS)) $POST_TOKEN_MS"
)


# Command prefixes that pin a process to a CPU list (empty: no pinning).
REDIS_PIN=()
[[ -z $REDIS_CPUS ]] || REDIS_PIN=(taskset -c "$REDIS_CPUS")

# ---------------------------------------------------------------------------
# Child processes: every PID we start is recorded and killed on exit.
CHILDREN=()
NCHAN_TMP=""
NCHAN_LOG=""  # where nginx's error.log is kept when its temp dir goes
NCHAN_WORKERS=""
REDIS_TMP=""  # the cluster scenario's Redis directory (nothing is saved in it)

stop_children() {  # newest first: the publisher goes before nginx, the nodes before Redis
  local pid
  stop_recorded
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
  drop_redis_dir
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

# Starts a server; sets SERVER_PID (what to stop), MEASURE_PIDS (what to
# sample in /proc) and SUB_PATH.  Servers without a --max-seconds of their
# own run under timeout(1), which forwards our TERM to them.
# Arguments: kind port R T logprefix [more flags: --catch-up-ms C for node,
# asio-sse and the C++ peers; the post and cluster flags].
start_server() {
  local kind=$1 port=$2 rate=$3 ticker=$4 logp=$5
  shift 5
  local extra=("$@")
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
        --payload "$PAYLOAD" --ticker-ms "$ticker" --max-seconds "$SERVER_MAX_S" "${extra[@]}" \
        >"$logp.server.log" 2>&1 &
      SERVER_PID=$! ;;
    asio-sse | asio-sse-window)  # asio-sse-window: with a coalescing window (server_options::flush_delay)
      local window=()
      [[ $kind == asio-sse-window ]] && window=(--flush-delay-us "$WINDOW_US")
      "${SERVER_PIN[@]}" timeout "$SERVER_MAX_S" "$SSE_BENCH_SERVER" --port "$port" --path /events \
        --rate "$rate" --payload "$PAYLOAD" --ticker-ms "$ticker" --threads "$ASIO_THREADS" "${window[@]}" "${extra[@]}" \
        >"$logp.server.log" 2>&1 &
      SERVER_PID=$! ;;
    httplib-default | httplib-pool | restinio | beast)  # node_server.js's command line
      local bin=$HTTPLIB_SERVER  # httplib-pool's --pool and the post scenario's flags come in extra
      [[ $kind == restinio ]] && bin=$RESTINIO_SERVER
      [[ $kind == beast ]] && bin=$BEAST_SERVER
      "${SERVER_PIN[@]}" "$bin" --port "$port" --path /events --rate "$rate" --payload "$PAYLOAD" \
        --ticker-ms "$ticker" --max-seconds "$SERVER_MAX_S" "${extra[@]}" >"$logp.server.log" 2>&1 &
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
  if [[ $kind == asio-sse* || $kind == nchan ]]; then
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


# One measurement: kind scenario N R T run rule (a --catch-up-ms value, or NA:
# the server's own rule).
run_point() {
  local kind=$1 scen=$2 n=$3 rate=$4 ticker=$5 run=$6 rule=$7
  local warm=$WARMUP dur=$DURATION
  if [[ $scen == idle ]]; then warm=$IDLE_WARMUP; dur=$IDLE_DURATION; fi
  local logp=$LOG_DIR/$kind-$scen-n$n-r$rate-$run what="$kind $scen N=$n R=$rate"
  local flags=()
  if [[ $rule != NA ]]; then
    flags=(--catch-up-ms "$rule") logp=$LOG_DIR/$kind-$scen-n$n-r$rate-c$rule-$run what+=" C=$rule"
  fi
  [[ $kind == httplib-pool ]] && flags+=(--pool $((n + 16))) # a thread per stream, as llama.cpp sizes it
  local port
  port=$(free_port) || { log "no free port"; return 1; }
  local row_tail="NA NA NA NA NA NA NA NA NA NA"
  if start_server "$kind" "$port" "$rate" "$ticker" "$logp" "${flags[@]}"; then
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
      log "  $what run $run: $(result_field events_per_sec "$res") ev/s," \
          "p99 $(result_field p99_us "$res") us, rss/stream $rss_per_stream B," \
          "cpu $(result_field server_cpu_pct "$res")%, established $(result_field streams_established "$res")," \
          "receiving $(result_field streams_receiving "$res"), errors $(result_field errors "$res")," \
          "other processes $other%"
      if [[ $other != NA ]] && awk -v o="$other" 'BEGIN { exit !(o > 25) }'; then
        log "  warning: other processes used $other% of a core during that window; the run is skewed"
      fi
    else
      log "  $what run $run: no RESULT (see $logp.load.log)"
    fi
  else
    log "  $what run $run: server did not start (see $logp.server.log)"
  fi
  stop_children
  if [[ -f $logp.server.log ]]; then  # the server's counters, written as it stopped
    local counters
    counters=$(grep -m1 '^published ' "$logp.server.log" || true)
    [[ -z $counters ]] || log "    server: $counters"
  fi
  local row
  row="$kind $scen $n $rate $PAYLOAD $run $row_tail NA $rule" # no Redis here
  printf '%s\n' "${row// /$'\t'}" >>"$RESULTS_DIR/results.tsv"
}

# ---------------------------------------------------------------------------
# The cluster scenario.

now_us() { echo "${EPOCHREALTIME/[.,]/}"; }  # microseconds (any locale's decimal point)

sleep_until() {  # a now_us value
  local left=$(($1 - $(now_us)))
  if ((left > 0)); then sleep "$((left / 1000000)).$(printf '%06d' $((left % 1000000)))"; fi
}

proc_ticks() {  # pids...: their utime + stime summed, in clock ticks; NA if one is gone
  local pid stat f total=0
  for pid in "$@"; do
    { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || { echo NA; return 0; }
    read -ra f <<<"${stat##*) }" # f[0] is field 3 (state): utime is f[11], stime f[12]
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

machine_ticks() {  # user + nice + system of all CPUs, as sse-load counts them
  local cpu user nice system
  read -r cpu user nice system _ </proc/stat
  echo $((user + nice + system))
}

# pct TICKS_BEFORE TICKS_AFTER SECONDS: % of one core ("NA" if a sample is NA).
pct() {
  awk -v a="$1" -v b="$2" -v s="$3" -v hz="$CLK_TCK" \
    'BEGIN { if (a == "NA" || b == "NA" || s <= 0) print "NA"; else { v = 100 * (b - a) / hz / s; printf "%.1f\n", v < 0 ? 0 : v } }'
}

# One cluster measurement: variant N(per node) R(published in all) run.
# asio-sse-local: one sse-bench-server with a local channel, --rate R.
# asio-sse-local-x2: CLUSTER_NODES such servers pinned as the Redis nodes are, each with its own
# local channel at --rate R: the same fan-out work on the same CPUs, without Redis.
# asio-sse-redis: a Redis, CLUSTER_NODES servers on it (--redis-port, R split
# between them).  Either way one sse-load per node, N streams each, all held
# after their ramp and started together (SIGUSR1), so they measure the same
# window; the script samples Redis, the nodes, the loads and the machine over
# that window itself.  Row: established, receiving, events/s summed over the
# loads; latency from their merged histograms; RSS growth per stream over all
# nodes; server CPU = the nodes' sum (% of one core); redis_cpu_pct.
run_cluster_point() {
  local variant=$1 n=$2 rate=$3 run=$4
  local logp=$LOG_DIR/$variant-cluster-n$n-r$rate-$run
  local nodes=1 redis_args=() ok=1 k share port
  local ports=() node_pids=() load_pids=() wrappers=()
  REDIS_PID=""
  if [[ $variant == asio-sse-local-x2 ]]; then
    nodes=$CLUSTER_NODES # the same nodes, each with its own local channel publishing all R
  elif [[ $variant == asio-sse-redis ]]; then
    nodes=$CLUSTER_NODES
    if start_redis "$logp"; then
      redis_args=(--redis-port "$REDIS_PORT")
    else
      ok=0
      log "  $variant cluster R=$rate run $run: redis-server did not start (see $logp.redis.log)"
    fi
  fi
  for ((k = 1; ok && k <= nodes; k++)); do
    share=$((rate / nodes))
    if ((k == nodes)); then share=$((rate - share * (nodes - 1))); fi
    [[ $variant == asio-sse-local-x2 ]] && share=$rate
    if port=$(free_port) && start_server asio-sse "$port" "$share" 0 "$logp.node$k" "${redis_args[@]}" \
      --flush-delay-us "$CLUSTER_WINDOW_US"; then
      ports+=("$port")
      node_pids+=("$MEASURE_PIDS")
    else
      ok=0
      log "  $variant cluster R=$rate run $run: node $k did not start (see $logp.node$k.server.log)"
    fi
  done
  local row_tail="NA NA NA NA NA NA NA NA NA NA NA"
  if ((ok)); then
    for ((k = 1; k <= nodes; k++)); do
      timeout $((CONNECT_TIMEOUT + WARMUP + DURATION + 20)) \
        "${CLIENT_PIN[@]}" "$BUILD_DIR/sse-load" --url "http://127.0.0.1:${ports[k - 1]}/events" --streams "$n" \
        --warmup "$WARMUP" --duration "$DURATION" --connect-timeout "$CONNECT_TIMEOUT" \
        --server-pid "${node_pids[k - 1]}" --hold 1 --histogram "$logp.node$k.hist" \
        >"$logp.node$k.load.log" 2>&1 &
      wrappers+=("$!")
      CHILDREN+=("$!")
      load_pids+=("$(wait_children "$!" || echo "$!")") # timeout's child: sse-load (taskset execs it)
    done
    # Every load holds once its ramp is over (at most CONNECT_TIMEOUT); then all start at once.
    local pairs=()
    for ((k = 1; k <= nodes; k++)); do pairs+=("$logp.node$k.load.log:${load_pids[k - 1]}"); done
    release_holds $((CONNECT_TIMEOUT + 5)) "${pairs[@]}" || true
    # Our own samples span DURATION too, but end 0.1 s before the loads' window
    # does: a load exits as its window ends, and its CPU time goes with it.
    local go t0 t1 m0 m1 r0=NA r1=NA s0 s1 l0 l1
    go=$(now_us)
    sleep_until $((go + WARMUP * 1000000 - 100000))
    t0=$(now_us) m0=$(machine_ticks) s0=$(proc_ticks "${node_pids[@]}") l0=$(proc_ticks "${load_pids[@]}")
    [[ -z $REDIS_PID ]] || r0=$(proc_ticks "$REDIS_PID")
    sleep_until $((go + (WARMUP + DURATION) * 1000000 - 100000))
    t1=$(now_us) m1=$(machine_ticks) s1=$(proc_ticks "${node_pids[@]}") l1=$(proc_ticks "${load_pids[@]}")
    [[ -z $REDIS_PID ]] || r1=$(proc_ticks "$REDIS_PID")
    local w
    for w in "${wrappers[@]}"; do wait "$w" || true; done # each ends with its window
    local secs redis_cpu other_cpu
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1e6 }')
    redis_cpu=$(pct "$r0" "$r1" "$secs")
    other_cpu=NA
    if [[ $s0 != NA && $s1 != NA && $l0 != NA && $l1 != NA ]]; then # machine minus everything we started
      local known0=$((s0 + l0)) known1=$((s1 + l1))
      if [[ -n $REDIS_PID ]]; then
        if [[ $r0 != NA && $r1 != NA ]]; then known0=$((known0 + r0)) known1=$((known1 + r1)); else known1=NA; fi
      fi
      [[ $known1 == NA ]] || other_cpu=$(pct "$((m0 - known0))" "$((m1 - known1))" "$secs")
    fi
    local res results=() node_cpus=() est recv eps errors cpu rss
    for ((k = 1; k <= nodes; k++)); do
      res=$(grep -m1 '^RESULT ' "$logp.node$k.load.log" || true)
      [[ -n $res ]] || { log "  $variant cluster R=$rate run $run: no RESULT from load $k (see $logp.node$k.load.log)"; continue; }
      results+=("$res")
      node_cpus+=("$(result_field server_cpu_pct "$res")")
    done
    read -r est recv eps errors cpu rss <<<"$(sum_results "${results[@]}")"
    local got=${#results[@]}
    if ((got == nodes)); then
      local lat
      lat=$(merge_hist "$logp".node*.hist)
      [[ $rss == NA ]] || rss=$((rss * 1024 / (nodes * n)))
      row_tail="$est $recv $eps $lat $rss $cpu $other_cpu $redis_cpu"
      local p99
      p99=$(cut -d' ' -f2 <<<"$lat")
      log "  $variant cluster N=${nodes}x$n R=$rate run $run: $eps ev/s, p99 $p99 us (merged)," \
          "rss/stream $rss B, node cpu $(IFS=+; echo "${node_cpus[*]}")%, redis cpu $redis_cpu%," \
          "established $est, errors $errors, other processes $other_cpu%"
      if [[ $other_cpu != NA ]] && awk -v o="$other_cpu" 'BEGIN { exit !(o > 25) }'; then
        log "  warning: other processes used $other_cpu% of a core during that window; the run is skewed"
      fi
    fi
  fi
  stop_children
  for ((k = 1; k <= nodes; k++)); do  # the nodes' counters, written as they stopped
    if [[ -f $logp.node$k.server.log ]] && grep -q '^published' "$logp.node$k.server.log"; then
      log "    node $k: $(grep -m1 '^published' "$logp.node$k.server.log")"
    fi
  done
  local row
  row="$variant cluster $((nodes * n)) $rate $PAYLOAD $run $row_tail NA" # the server's own rule (--catch-up-ms 5)
  printf '%s\n' "${row// /$'\t'}" >>"$RESULTS_DIR/results.tsv"
}

# ---------------------------------------------------------------------------
# The post scenario: N POST streams at once, each streaming one token every T
# ms (R = 1000 / T tokens/s) until [DONE]; asio-sse (sse-bench-server's /chat
# route, a timer per stream) against cpp-httplib (httplib-post-server: a chunked
# content provider sleeping between tokens, one pool thread per stream) with its
# default pool and with a pool of HTTPLIB_POOL threads.

# Threads of cpp-httplib's default pool: CPPHTTPLIB_THREAD_POOL_COUNT,
# max(8, hardware_concurrency - 1) (online CPUs, whatever the pinning).
httplib_default_threads() {
  local hw
  hw=$(getconf _NPROCESSORS_ONLN)
  echo $((hw - 1 > 8 ? hw - 1 : 8))
}

# The kernel's count of connections dropped on a full accept queue (TcpExt
# ListenOverflows; this network namespace, all sockets), NA if unreadable.
listen_overflows() {
  awk '$1 == "TcpExt:" { if (!h) { for (i = 2; i <= NF; i++) if ($i == "ListenOverflows") col = i; h = 1 }
                         else { print col ? $col + 0 : "NA"; exit } }' /proc/net/netstat 2>/dev/null || echo NA
}

# One POST measurement: variant (asio-sse, httplib-default, httplib-pool) N R T run.
# Every stream asks for enough tokens to outlive the run (the ramp's bound, the
# warmup and the window, plus 2 s), so none completes inside it unless cut short.
# Row: established (200 heads), served (streams completed or receiving tokens in
# the window) as streams_receiving, tokens/s in all as events_per_sec, TTFE
# (request written -> first byte of the first data line) as p50..max, payload
# NA; post.tsv gets the per-stream figures, the accept-queue overflows
# counted during the run (cpp-httplib listens with a backlog of 5: a SYN
# dropped there costs that client a 1 s retransmission) and the probes: POST_PROBES
# new streams opened one at a time during the window (10 ms apart, 2 s timeout,
# each closed at its first data byte), whose TTFE is the latency a new client
# sees while the N streams are open and streaming.
run_post_point() {
  local variant=$1 n=$2 rate=$3 token_ms=$4 run=$5
  local logp=$LOG_DIR/$variant-post-n$n-r$rate-$run port threads
  local tokens=$(((CONNECT_TIMEOUT + POST_WARMUP + POST_DURATION + 2) * 1000 / token_ms))
  local flags=(--token-ms "$token_ms" --tokens "$tokens")
  case $variant in
    asio-sse) flags=(--post-path /chat "${flags[@]}") threads=$ASIO_THREADS ;;
    httplib-default) flags=(--post-path /chat "${flags[@]}") threads=$(httplib_default_threads) ;;
    httplib-pool) flags=(--post-path /chat "${flags[@]}" --pool "$HTTPLIB_POOL") threads=$HTTPLIB_POOL ;;
  esac
  port=$(free_port) || { log "no free port"; return 1; }
  local row_tail="NA NA NA NA NA NA NA NA NA NA" post_tail="NA NA NA NA NA NA NA NA NA NA NA NA NA NA"
  local probe_tail="$POST_PROBES NA NA NA NA NA"
  local lo0 lo1 overflows=NA
  lo0=$(listen_overflows)
  if start_server "$variant" "$port" 0 0 "$logp" "${flags[@]}"; then
    timeout $((CONNECT_TIMEOUT + POST_WARMUP + POST_DURATION + 15)) \
      "${CLIENT_PIN[@]}" "$BUILD_DIR/sse-load" --url "http://127.0.0.1:$port/chat" --post "{\"tokens\":$tokens}" \
      --streams "$n" --warmup "$POST_WARMUP" --duration "$POST_DURATION" --connect-timeout "$CONNECT_TIMEOUT" \
      --ramp-batch "$POST_RAMP_BATCH" --probe "$POST_PROBES" --server-pid "$MEASURE_PIDS" >"$logp.load.log" 2>&1 || true
    lo1=$(listen_overflows)
    [[ $lo0 == NA || $lo1 == NA ]] || overflows=$((lo1 - lo0))
    local res
    res=$(grep -m1 '^RESULT ' "$logp.load.log" || true)
    if [[ -n $res && $res == *" mode=post "* ]]; then
      local f=() k before start rss_per_stream=NA
      before=$(result_field server_rss_before_kb "$res")
      start=$(result_field server_rss_start_kb "$res")
      if [[ $before != NA && $start != NA ]]; then rss_per_stream=$(((start - before) * 1024 / n)); fi
      for k in streams_established streams_served streams_completed ttfe_streams p50_us p99_us p999_us max_us \
        events_per_sec stream_tps_mean stream_tps_p1 stream_tps_served_mean server_cpu_pct other_cpu_pct errors \
        probes probes_ok probes_failed probe_ttfe_p50_us probe_ttfe_p99_us probe_ttfe_max_us probes_timed_out; do
        f+=("$(result_field "$k" "$res")")
        [[ -n ${f[-1]} ]] || f[-1]=NA
      done
      row_tail="${f[0]} ${f[1]} ${f[8]} ${f[4]} ${f[5]} ${f[6]} ${f[7]} $rss_per_stream ${f[12]} ${f[13]}"
      post_tail="${f[*]:0:14}"
      probe_tail="${f[*]:15:6}"
      log "  $variant post N=$n R=$rate run $run: new-stream TTFE p50 ${f[18]} p99 ${f[19]} max ${f[20]} us" \
          "(probes ${f[16]} ok, ${f[17]} failed of which ${f[21]} timed out, of ${f[15]})," \
          "served ${f[1]}/$n (${f[2]} completed)," \
          "burst TTFE p50 ${f[4]} p99 ${f[5]} max ${f[7]} us (${f[3]} streams), tokens/s per stream mean ${f[9]}" \
          "p1 ${f[10]} (${f[11]} per served), ${f[8]} in all, cpu ${f[12]}%, errors ${f[14]}, other processes ${f[13]}%," \
          "accept-queue overflows $overflows, $(grep -m1 -o 'ramp over after [0-9.]* s' "$logp.load.log")"
      if [[ ${f[13]} != NA ]] && awk -v o="${f[13]}" 'BEGIN { exit !(o > 25) }'; then
        log "  warning: other processes used ${f[13]}% of a core during that window; the run is skewed"
      fi
    else
      log "  $variant post N=$n R=$rate run $run: no POST RESULT (see $logp.load.log)"
    fi
  else
    log "  $variant post N=$n R=$rate run $run: server did not start (see $logp.server.log)"
  fi
  stop_children
  if [[ -f $logp.server.log ]]; then  # the server's counters, written as it stopped
    local counters
    counters=$(grep -m1 '^published ' "$logp.server.log" || true)
    [[ -z $counters ]] || log "    server: $counters"
  fi
  local row
  row="$variant post $n $rate NA $run $row_tail NA NA" # no payload size (tokens are `token <k>`), no Redis, no rule
  printf '%s\n' "${row// /$'\t'}" >>"$RESULTS_DIR/results.tsv"
  row="$variant $n $rate $token_ms $threads $run $post_tail $overflows $probe_tail"
  printf '%s\n' "${row// /$'\t'}" >>"$RESULTS_DIR/post.tsv"
}

server_available() {
  case $1 in
    floor) return 0 ;;
    node) command -v node >/dev/null || { log "skipping node: node not found"; return 1; } ;;
    nchan)
      { command -v nginx >/dev/null && [[ -f $NCHAN_MODULE ]]; } ||
        { log "skipping nchan: nginx or $NCHAN_MODULE not found"; return 1; } ;;
    asio-sse | asio-sse-window)
      [[ -x $SSE_BENCH_SERVER ]] ||
        { log "skipping asio-sse: $SSE_BENCH_SERVER not built (build the library with CMake)"; return 1; } ;;
    httplib-default | httplib-pool)
      [[ -x $HTTPLIB_SERVER ]] ||
        { log "skipping $1: $HTTPLIB_SERVER not built" \
              "(tests/bench/CMakeLists.txt builds it when it finds httplib.h, e.g. from libcpp-httplib-dev)"; return 1; } ;;
    restinio)
      [[ -x $RESTINIO_SERVER ]] ||
        { log "skipping restinio: $RESTINIO_SERVER not built" \
              "(tests/bench/CMakeLists.txt builds it when it finds RESTinio, e.g. from librestinio-dev)"; return 1; } ;;
    beast)
      [[ -x $BEAST_SERVER ]] ||
        { log "skipping beast: $BEAST_SERVER not built" \
              "(tests/bench/CMakeLists.txt builds it when it finds boost/beast.hpp, e.g. from libboost1.81-dev)"; return 1; } ;;
    *) log "unknown server kind: $1"; return 1 ;;
  esac
}

# ---------------------------------------------------------------------------
# Medians of post.tsv per server and point: server N R token_ms threads runs,
# then the median of each measured column (streams_established .. other_cpu_pct).
post_medians() {
  [[ -f $RESULTS_DIR/post.tsv ]] || return 0
  awk -F'\t' -v OFS='\t' '
    function median(list,   v, n, i, j, t, m) {
      n = split(list, v, " ")
      if (n == 0) return "NA"
      for (i = 2; i <= n; i++)
        for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
      if (n % 2) return v[(n+1)/2]
      m = (v[n/2] + v[n/2+1]) / 2
      return m == int(m) ? sprintf("%d", m) : sprintf("%.1f", m)
    }
    NR == 1 { last = NF; next }
    {
      key = $1 OFS $2 OFS $3 OFS $4 OFS $5
      if (!(key in runs)) order[++npoints] = key
      runs[key]++
      for (c = 7; c <= last; c++) if ($c != "NA" && $c != "") vals[key, c] = vals[key, c] " " $c
    }
    END {
      split("asio-sse httplib-default httplib-pool", sv, " "); for (i in sv) vrank[sv[i]] = i
      for (p = 1; p <= npoints; p++) {
        split(order[p], k, OFS)
        line = sprintf("%06d %06d %d", k[2], k[3], vrank[k[1]]) OFS order[p] OFS runs[order[p]]
        for (c = 7; c <= last; c++) line = line OFS median(vals[order[p], c])
        print line
      }
    }' "$RESULTS_DIR/post.tsv" | sort | cut -f2-
}

# Reports: table.md (median per point) and fanout.dat -> fanout.svg.
write_reports() {
  local tsv=$RESULTS_DIR/results.tsv
  # Medians over runs, ordered by scenario, N, R, rule, then server kind; one row per
  # server, point and rule (catch_up_ms, results.tsv's column 18; NA: the server's own,
  # also for rows from before that column), the rule last: medians.tsv's column 18.
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
    NR == 1 { next }
    {
      rule = $18 == "" ? "NA" : $18
      key = $1 OFS $2 OFS $3 OFS $4 OFS $5 OFS rule
      if (!(key in runs)) order[++npoints] = key
      runs[key]++
      for (c = 7; c <= 17; c++) if ($c != "NA" && $c != "") vals[key, c] = vals[key, c] " " $c
    }
    END {
      split("idle fanout ticker cluster post", sc, " "); for (i in sc) srank[sc[i]] = i
      split("floor node nchan asio-sse asio-sse-window httplib-default httplib-pool restinio beast asio-sse-local asio-sse-local-x2 asio-sse-redis", sv, " "); for (i in sv) vrank[sv[i]] = i
      for (p = 1; p <= npoints; p++) {
        split(order[p], k, OFS)
        line = sprintf("%d %06d %06d %06d %02d", srank[k[2]], k[3], k[4], k[6] == "NA" ? 0 : k[6], vrank[k[1]])
        line = line OFS k[1] OFS k[2] OFS k[3] OFS k[4] OFS k[5] OFS runs[order[p]]
        for (c = 7; c <= 17; c++) line = line OFS median(vals[order[p], c])
        print line OFS k[6]
      }
    }' "$tsv" | sort | cut -f2- >"$RESULTS_DIR/medians.tsv"

  {
    echo "| server | scenario | N | R/stream | catch-up ms | target ev/s | established | receiving | events/s | p50 us | p99 us | p99.9 us | max us | RSS/stream B | server CPU % | other CPU % | runs |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    awk -F'\t' '{
      printf "| %s | %s | %s | %s | %s | %d |", $1, $2, $3, $4, $18 == "NA" ? "own" : $18, $3 * $4
      for (c = 7; c <= 16; c++) printf " %s |", $c
      printf " %s |\n", $6
    }' "$RESULTS_DIR/medians.tsv"
    echo
    echo "Median of the runs per point. R is events/s per stream (ticker: one event per T ms)."
    echo "Catch-up ms = the publishing rule (--catch-up-ms C, tick_rule.hpp): a 1 ms tick publishes what fell due,"
    echo "at most max(1, R x C / 1000) events (1: late ticks are not caught up, Node's classic rule; 5: asio-sse's"
    echo "default); own = the server's own rule (floor, Nchan) or no broadcast (idle, ticker, post; cluster: asio-sse's 5)."
    echo "Receiving = streams that got events in the window: the streams a server actually served (cpp-httplib: one"
    echo "pool thread per stream, so at most its pool's size)."
    echo "RSS/stream = server RSS growth from before connecting to the start of the window, / N."
    echo "Other CPU % = CPU used by unrelated processes during the window; above ~25 the point is skewed."
    if awk -F'\t' '$2 == "cluster" { f = 1 } END { exit !f }' "$RESULTS_DIR/medians.tsv"; then
      echo
      echo "### Cluster: one node with a local channel against $CLUSTER_NODES nodes on Redis"
      echo
      echo "| server | R | streams (established) | delivered ev/s | of target | p99 ms | server CPU % | redis CPU % | other CPU % | runs |"
      echo "|---|---|---|---|---|---|---|---|---|---|"
      awk -F'\t' -v OFS='\t' '$2 == "cluster"' "$RESULTS_DIR/medians.tsv" | sort -t$'\t' -k4,4n -k1,1 |
        awk -F'\t' '{
          of = $9 == "NA" ? "NA" : sprintf("%.1f %%", 100 * $9 / ($3 * $4))
          p99 = $11 == "NA" ? "NA" : sprintf("%.2f", $11 / 1000)
          printf "| %s | %s | %s (%s) | %s | %s | %s | %s | %s | %s | %s |\n", $1, $4, $3, $7, $9, of, p99, $15, $17, $16, $6
        }'
      echo
      echo "R = events/s published in all (asio-sse-redis: R/$CLUSTER_NODES on each node; asio-sse-local-x2: R on each node's own channel), so every stream's"
      echo "target is R events/s; streams = 1000 per node. Delivered = the loads' events/s summed; p99 from"
      echo "their merged histograms (publish to client); server CPU = the nodes' sum, % of one core."
    fi
    local post
    post=$(post_medians)
    if [[ -n $post ]]; then
      echo
      echo "### POST streams: time to first event and tokens/s, asio-sse against cpp-httplib"
      echo
      echo "| server | threads | N | tokens/s per stream | served | completed | TTFE of a new stream under load: p50 ms | p99 ms | max ms | probes ok | failed | of | burst TTFE p50 ms | p99 ms | p99.9 ms | max ms | of streams | tokens/s per stream: mean | p1 | mean per served | tokens/s in all | server CPU % | other CPU % | accept-queue overflows | runs |"
      echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
      awk -F'\t' '
        function ms(v) { return v == "NA" || v == "" ? "NA" : sprintf("%.2f", v / 1000) }
        function na(v) { return v == "" ? "NA" : v }
        { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
            $1, $5, $2, $3, $8, $9, ms($25), ms($26), ms($27), na($23), na($24), na($22),
            ms($11), ms($12), ms($13), ms($14), $10, $16, $17, $18, $15, $19, $20, $21, $6 }' <<<"$post"
      echo
      echo "N POST requests sent at once (at most $POST_RAMP_BATCH connects in flight), each asking for a token every T ms"
      echo "for longer than the run. TTFE = request written -> first byte of the first data line. TTFE of a"
      echo "new stream under load: over the probes, extra POST streams opened one at a time during the window"
      echo "while the N streams are open and streaming (the next one 10 ms after the previous got its first"
      echo "data byte; each closed then), quantiles over the ok ones; failed = no data within 2 s of its"
      echo "connect (counted apart, not in the quantiles) or an error; of = probes asked for (those not"
      echo "finished by the window's end are neither ok nor failed). Burst TTFE: over the N streams' own"
      echo "requests, all sent at once, over the streams that got a first event (of streams); served ="
      echo "completed or receiving tokens in the window; tokens/s per"
      echo "stream over all N requested streams (one never answered counts 0). threads = the server's"
      echo "(asio-sse: io_context threads; cpp-httplib: its task queue, one thread per open stream). Accept-queue"
      echo "overflows: connections the kernel dropped on a full listen queue during the run (cpp-httplib's"
      echo "backlog is 5; each drop delays that connect by a 1 s retransmission). In the table above the"
      echo "post rows' receiving is served, events/s tokens/s, and latency the burst TTFE."
    fi
  } >"$RESULTS_DIR/table.md"

  # fanout.dat: one row per event-carrying point and rule ("C=1": --catch-up-ms 1), one column
  # per server; a server with its own rule (floor, Nchan) shows in every rule's row of its point.
  awk -F'\t' -v OFS='\t' '
    $2 != "idle" && $2 != "cluster" && $2 != "post" {
      base = $2 " N=" $3 " R=" $4
      if (!(base in target)) { bases[++nb] = base; target[base] = $3 * $4 }
      if ($18 == "NA" || $18 == "") own[base, $1] = $9
      else {
        label = base " C=" $18
        if (!(label in seen)) { seen[label] = 1; nr[base]++; labels[base, nr[base]] = label }
        eps[label, $1] = $9
      }
      present[$1] = 1
    }
    function value(label, base, srv,   v) {
      v = (label, srv) in eps ? eps[label, srv] : (base, srv) in own ? own[base, srv] : "-"
      return v == "NA" ? "-" : v
    }
    END {
      ns = split("floor node nchan httplib-default httplib-pool restinio beast asio-sse asio-sse-window", sv, " ")
      hdr = "point" OFS "target"
      for (i = 1; i <= ns; i++) if (sv[i] in present) hdr = hdr OFS sv[i]
      print hdr
      for (b = 1; b <= nb; b++) {
        base = bases[b]
        for (r = 1; r <= (nr[base] ? nr[base] : 1); r++) {
          label = nr[base] ? labels[base, r] : base
          row = "\"" label "\"" OFS target[base]
          for (i = 1; i <= ns; i++) if (sv[i] in present) row = row OFS value(label, base, sv[i])
          print row
        }
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
  awk -F'\t' -v WINDOW_US="$WINDOW_US" '
    function eps(v) { return v >= 1e6 ? sprintf("%.2f M", v / 1e6) : v >= 1e4 ? sprintf("%d k", v / 1000 + 0.5) : th(v + 0.5) }
    function th(v,   s) { s = sprintf("%d", v); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9](,|$)/, ",&", s); return s }
    function ms(v) { v /= 1000; return v < 10 ? sprintf("%.1f ms", v) : sprintf("%d ms", v + 0.5) }
    # A cell: the median row of server srv at point k under rule r (a --catch-up-ms value), or
    # under its own rule (floor, Nchan; idle and ticker rows) when it has no row for r.
    function cell(srv, k, r,   c, row, served) {
      if ((k, r, srv) in have) row = have[k, r, srv]
      else if ((k, "NA", srv) in have) row = have[k, "NA", srv]
      else return "—"
      if (srv == "floor" && sc[k] == "idle") return "—"
      split(row, c, "\t")
      if (sc[k] == "idle") c[0] = sprintf("%.1f KB", c[14] / 1000)
      else if (sc[k] == "ticker") c[0] = sprintf("%.1f %%", c[15])
      else c[0] = eps(c[9]) ", " ms(c[11])
      # the streams it served (medians): fan-out, those that got events; else those established
      served = int((sc[k] == "fanout" ? c[8] : c[7]) + 0.5)
      if (served < c[3] + 0) c[0] = c[0] " (" th(served) " streams)"
      return srv == "asio-sse" ? "**" c[0] "**" : c[0]
    }
    $2 != "cluster" && $2 != "post" {  # cluster: asio-sse against itself (table.md has it); post: below
      k = $2 " " $3 " " $4
      r = $18 == "" ? "NA" : $18
      if (!(k in sc)) { keys[++n] = k; sc[k] = $2; nn[k] = $3; rr[k] = $4 }
      if (r != "NA" && !((k, r) in ruled)) { ruled[k, r] = 1; rules[k, ++nrules[k]] = r }
      have[k, r, $1] = $0
      present[$1] = 1
    }
    END {
      # floor, Node, Nchan and asio-sse always (the columns of the README table); the C++ peers when they ran
      ns = split("floor node nchan httplib-default httplib-pool restinio beast asio-sse asio-sse-window", all, " ")
      split("floor|Node `http`|nginx + Nchan|cpp-httplib, default pool|cpp-httplib, pool of N + 16 threads|RESTinio|Boost.Beast|**asio-sse**|**asio-sse, " WINDOW_US / 1000 " ms window**", title, "|")
      hdr = "| scenario (N streams, R events/s each) |"; sep = "| --- |"; m = 0
      for (i = 1; i <= ns; i++) {
        if (!(all[i] in present) && all[i] ~ /^(httplib-default|httplib-pool|restinio|beast|asio-sse-window)$/) continue
        sv[++m] = all[i]; hdr = hdr " " title[i] " |"; sep = sep " --- |"
      }
      print hdr
      print sep
      for (i = 1; i <= n; i++) {
        k = keys[i]
        for (j = 1; j <= (nrules[k] ? nrules[k] : 1); j++) {
          r = nrules[k] ? rules[k, j] : "NA"
          if (sc[k] == "idle") label = "idle memory per stream, N = " th(nn[k])
          else if (sc[k] == "ticker") label = "a timer per stream, N = " th(nn[k]) ", every " th(1000 / rr[k]) " ms: server CPU"
          else label = "fan-out N = " th(nn[k]) ", R = " th(rr[k]) (r == "NA" ? "" : ", catch-up " r " ms") ": events/s, p99"
          line = "| " label " |"
          for (s = 1; s <= m; s++) line = line " " cell(sv[s], k, r) " |"
          print line
        }
      }
    }' "$RESULTS_DIR/medians.tsv" >"$RESULTS_DIR/summary.md"
  local post
  post=$(post_medians)
  [[ -n $post ]] || return 0
  {
    echo
    echo "| POST streams (N open, R tokens/s each) | streams served | TTFE of a new stream under load p50 / p99 | burst TTFE (N at once) p50 / p99 | tokens/s per stream: mean / p1 | server CPU |"
    echo "| --- | --- | --- | --- | --- | --- |"
    awk -F'\t' '
      function th(v,   s) { s = sprintf("%d", v); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9](,|$)/, ",&", s); return s }
      function ms(v) { if (v == "NA" || v == "") return "NA"; v /= 1000; return v < 10 ? sprintf("%.2f ms", v) : v < 1000 ? sprintf("%d ms", v + 0.5) : sprintf("%.1f s", v / 1000) }
      {
        if ($1 == "asio-sse") name = "**asio-sse**"
        else if ($1 == "httplib-default") name = "cpp-httplib, default pool (" $5 " threads)"
        else if ($1 == "httplib-pool") name = "cpp-httplib, pool of " th($5) " threads"
        else name = $1
        # probes (medians of the runs): $23 ok, $24 failed, $25 $26 TTFE p50 p99
        if ($23 == "" || $23 == "NA") probe = "NA"
        else if ($23 + 0 == 0) probe = "no answer within 2 s (" th($24) " failed)"
        else {
          probe = ms($25) " / " ms($26)
          if ($24 + 0 > 0) probe = probe " (" th($24) " of " th($23 + $24) " probes failed)"
        }
        ttfe = ms($11) " / " ms($12)
        if ($10 != "NA" && $10 + 0 < $2 + 0) ttfe = ttfe " (of " th($10) ")"
        printf "| %s, N = %s, R = %s | %s of %s | %s | %s | %s / %s | %s %% |\n", name, th($2), $3, th($8), th($2), probe, ttfe, $16, $17, $19
      }' <<<"$post"
  } >>"$RESULTS_DIR/summary.md"
}

# Copies the reports to published/ and replaces the README table between its
# bench-summary markers.
publish() {
  local dest=$BENCH_DIR/published readme=$REPO_ROOT/README.md f
  mkdir -p "$dest"
  cp "$RESULTS_DIR"/{results.tsv,medians.tsv,table.md,summary.md} "$dest/"
  rm -f "$dest/post.tsv" # a run without post points has none
  if [[ $(wc -l <"$RESULTS_DIR/post.tsv" 2>/dev/null || echo 0) -gt 1 ]]; then cp "$RESULTS_DIR/post.tsv" "$dest/"; fi
  rm -f "$dest/fanout.svg" # a run without fan-out points has no chart
  if [[ -f $RESULTS_DIR/fanout.svg ]]; then cp "$RESULTS_DIR/fanout.svg" "$dest/"; fi
  for f in "$LOG_DIR"/asio-sse-*.server.log; do
    if [[ -f $f ]]; then echo "$(basename "$f" .server.log): $(grep published "$f")"; fi
  done >"$dest/asio-sse-counters.txt"
  for f in "$LOG_DIR"/{node,httplib-default,httplib-pool,restinio,beast}-*.server.log; do # the peers' counters
    if [[ -f $f ]] && grep -q '^published' "$f"; then echo "$(basename "$f" .server.log): $(grep -m1 '^published' "$f")"; fi
  done >"$dest/peer-counters.txt"
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
    printf 'server\tscenario\tN\tR\tpayload\trun\tstreams_established\tstreams_receiving\tevents_per_sec\tp50_us\tp99_us\tp999_us\tmax_us\trss_delta_per_stream_bytes\tserver_cpu_pct\tother_cpu_pct\tredis_cpu_pct\tcatch_up_ms\n' \
      >"$RESULTS_DIR/results.tsv"
    rm -f "$RESULTS_DIR/post.tsv"
  else
    if ! head -n1 "$RESULTS_DIR/results.tsv" | grep -q redis_cpu_pct; then
      sed -i '1s/$/\tredis_cpu_pct/' "$RESULTS_DIR/results.tsv" # a file from before the cluster scenario
    fi
    if ! head -n1 "$RESULTS_DIR/results.tsv" | grep -q catch_up_ms; then
      sed -i '1s/$/\tcatch_up_ms/' "$RESULTS_DIR/results.tsv" # a file from before RULES: its rows read as NA
    fi
  fi
  if [[ ! -f $RESULTS_DIR/post.tsv ]]; then
    printf 'server\tN\tR\ttoken_ms\tserver_threads\trun\tstreams_established\tstreams_served\tstreams_completed\tttfe_streams\tttfe_p50_us\tttfe_p99_us\tttfe_p999_us\tttfe_max_us\ttokens_per_sec\tstream_tps_mean\tstream_tps_p1\tstream_tps_served_mean\tserver_cpu_pct\tother_cpu_pct\tlisten_overflows\tprobes\tprobes_ok\tprobes_failed\tprobe_ttfe_p50_us\tprobe_ttfe_p99_us\tprobe_ttfe_max_us\n' \
      >"$RESULTS_DIR/post.tsv"
  elif ! head -n1 "$RESULTS_DIR/post.tsv" | grep -q probe_ttfe_p99_us; then # a file from before --probe
    sed -i '1s/$/\tprobes\tprobes_ok\tprobes_failed\tprobe_ttfe_p50_us\tprobe_ttfe_p99_us\tprobe_ttfe_max_us/' "$RESULTS_DIR/post.tsv"
  fi
  mkdir -p "$LOG_DIR"

  local kind kinds=() point scen n rate ticker run est variant variants=() rule rules=() first_rule
  for kind in $SERVERS; do
    [[ $kind == httplib ]] && kind="httplib-default httplib-pool" # the name both went by
    for variant in $kind; do
      [[ " ${kinds[*]} " == *" $variant "* ]] && continue
      if server_available "$variant"; then kinds+=("$variant"); fi
    done
  done
  read -ra rules <<<"$RULES"
  ((${#rules[@]} > 0)) || rules=(5)
  for rule in "${rules[@]}"; do
    [[ $rule =~ ^[1-9][0-9]*$ ]] || { log "RULES: $rule is not a --catch-up-ms value (whole ms, > 0)"; exit 2; }
  done
  first_rule=${rules[0]}
  if [[ " $SCENARIOS " == *" cluster "* && " ${kinds[*]} " == *" asio-sse "* ]]; then
    variants=(asio-sse-local asio-sse-local-x2)
    if command -v "$REDIS_SERVER" >/dev/null; then
      variants+=(asio-sse-redis)
    else
      log "skipping asio-sse-redis: $REDIS_SERVER not found"
    fi
  fi
  if [[ " $SCENARIOS " == *" post "* ]]; then
    local others=()
    for kind in "${kinds[@]}"; do [[ $kind == asio-sse || $kind == httplib-* ]] || others+=("$kind"); done
    ((${#others[@]} == 0)) || log "post scenario: ${others[*]} have no POST stream route; only asio-sse and httplib-* run it"
    [[ " ${kinds[*]} " == *" httplib-"* ]] || log "post scenario: no httplib-default or httplib-pool to run; no cpp-httplib rows"
  fi
  for point in "${POINTS[@]}"; do
    read -r scen n rate ticker <<<"$point"
    [[ " $SCENARIOS " == *" $scen "* ]] || continue
    log "== $scen N=$n R=$rate"
    local point_rules=(NA) # the publishing rule matters where a broadcast publishes: the fan-out points
    [[ $scen == fanout ]] && point_rules=("${rules[@]}")
    for ((run = 1; run <= RUNS; run++)); do
      for rule in "${point_rules[@]}"; do
        for kind in "${kinds[@]}"; do
          if [[ $scen == ticker && $kind == nchan ]]; then continue; fi # Nchan has no per-stream timer
          if [[ $scen == post ]]; then # asio-sse, then cpp-httplib with its default pool and with a big one
            [[ $kind == asio-sse || $kind == httplib-* ]] || continue
            if ((SECONDS - began + POST_WARMUP + POST_DURATION + 6 > BUDGET_S)); then
              log "  time budget of ${BUDGET_S}s used up: skipping $kind $scen N=$n R=$rate run $run"
              continue
            fi
            run_post_point "$kind" "$n" "$rate" "$ticker" "$run"
            continue
          fi
          if [[ $scen == cluster ]]; then # asio-sse only: its local channel, then Redis
            [[ $kind == asio-sse ]] || continue
            for variant in "${variants[@]}"; do
              if ((SECONDS - began + WARMUP + DURATION + 6 > BUDGET_S)); then
                log "  time budget of ${BUDGET_S}s used up: skipping $variant $scen N=$n R=$rate run $run"
                continue
              fi
              run_cluster_point "$variant" "$n" "$rate" "$run"
            done
            continue
          fi
          local kind_rule=$rule
          if [[ $kind == floor || $kind == nchan ]]; then # their own rule: once per run
            [[ $rule == NA || $rule == "$first_rule" ]] || continue
            kind_rule=NA
          fi
          if [[ $scen == idle ]]; then est=$((IDLE_WARMUP + IDLE_DURATION + 3)); else est=$((WARMUP + DURATION + 4)); fi
          if ((SECONDS - began + est > BUDGET_S)); then
            local tag=""
            [[ $kind_rule == NA ]] || tag=" C=$kind_rule"
            log "  time budget of ${BUDGET_S}s used up: skipping $kind $scen N=$n R=$rate$tag run $run"
            continue
          fi
          run_point "$kind" "$scen" "$n" "$rate" "$ticker" "$run" "$kind_rule"
        done
      done
    done
  done
  write_reports
  write_summary
  [[ ${PUBLISH:-0} != 1 ]] || publish
  log "done in $((SECONDS - began)) s: $RESULTS_DIR/results.tsv, table.md, fanout.svg"
}

main "$@"

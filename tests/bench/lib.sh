# shellcheck shell=bash
# lib.sh - shell helpers that run.sh and scale.sh share (sourced, not run).
# shellcheck disable=SC2034  # SERVER_PIN, CLIENT_PIN and the REDIS_* are the callers'

log() { printf '%s\n' "$*" >&2; }

stop_pid() {  # TERM, wait up to 2 s, then KILL (bash reaps disowned jobs)
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 20; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
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

stop_recorded() {  # stops the PIDs in CHILDREN, newest first, and forgets them
  local i
  for ((i = ${#CHILDREN[@]} - 1; i >= 0; i--)); do stop_pid "${CHILDREN[i]}"; done
  CHILDREN=()
}

# SERVER_CPUS and CLIENT_CPUS (taskset CPU lists; default 0 and 1 on 2+ CPUs with taskset, else
# no pinning) and the command prefixes that pin to them, SERVER_PIN and CLIENT_PIN.
pin_cpus() {
  if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
    SERVER_CPUS=${SERVER_CPUS-0}
    CLIENT_CPUS=${CLIENT_CPUS-1}
  else
    SERVER_CPUS=${SERVER_CPUS-}
    CLIENT_CPUS=${CLIENT_CPUS-}
  fi
  SERVER_PIN=()
  CLIENT_PIN=()
  [[ -z $SERVER_CPUS ]] || SERVER_PIN=(taskset -c "$SERVER_CPUS")
  [[ -z $CLIENT_CPUS ]] || CLIENT_PIN=(taskset -c "$CLIENT_CPUS")
}

result_field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }  # KEY "RESULT line": its value
us_to_ms() {  # microseconds [decimals, 1]: milliseconds; NA stays NA
  awk -v u="$1" -v d="${2:-1}" 'BEGIN { if (u == "NA" || u == "") print "NA"; else printf "%.*f\n", d, u / 1000 }'
}

# Starts a Redis of our own on a free loopback port, without persistence, in a
# temporary directory (REDIS_TMP: drop_redis_dir removes it); sets REDIS_PORT and REDIS_PID
# (redis-server itself, whose CPU time is sampled). Argument: logprefix. Uses the caller's
# REDIS_SERVER, REDIS_PIN (a command prefix, may be empty), SERVER_MAX_S and CHILDREN.
start_redis() {
  local logp=$1 wrapper
  REDIS_PORT=$(free_port) || return 1
  REDIS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sse-bench-redis.XXXXXX")
  "${REDIS_PIN[@]}" timeout "$SERVER_MAX_S" "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 \
    --save '' --appendonly no --dir "$REDIS_TMP" >"$logp.redis.log" 2>&1 &
  wrapper=$!
  disown "$wrapper"
  CHILDREN+=("$wrapper")
  REDIS_PID=$(wait_children "$wrapper") || return 1
  CHILDREN+=("$REDIS_PID")
  wait_port "$REDIS_PORT" "$wrapper"
}

drop_redis_dir() {  # after the Redis of start_redis has stopped
  if [[ -n ${REDIS_TMP:-} ]]; then
    rm -rf "$REDIS_TMP"
    REDIS_TMP=""
  fi
}

# Merges sse-load --histogram files exactly as sse-load merges its threads'
# histograms; prints "p50 p99 p999 max" in microseconds (NA without events).
merge_hist() {
  local mx
  mx=$(awk '$1 == "max" && $2 + 0 > m + 0 { m = $2 } END { print m + 0 }' "$@")
  awk '$1 != "max" { c[$1] += $2 } END { for (b in c) print b, c[b] }' "$@" | sort -n -k1,1 |
    awk -v mx="$mx" '
      { ub[++n] = $1 + 0; cnt[n] = $2 + 0; tot += $2 }
      function q(p,   r, i, seen) {  # sse-load Histogram::quantile: rank ceil(p * total)
        r = p * tot; r = r == int(r) ? r : int(r) + 1
        if (r < 1) r = 1
        if (r > tot) r = tot
        for (i = 1; i <= n; i++) { seen += cnt[i]; if (seen >= r) return ub[i] < mx + 0 ? ub[i] : mx + 0 }
        return mx + 0
      }
      END {
        if (tot == 0) { print "NA NA NA NA"; exit }
        printf "%.1f %.1f %.1f %.1f\n", q(0.5) / 1000, q(0.99) / 1000, q(0.999) / 1000, mx / 1000
      }'
}

# Loads started with --hold 1 say "holding until SIGUSR1" once their ramp is over. Waits (at
# most $1 s) until every one of them does, or one has exited, then sends all SIGUSR1 so that
# they measure one window. Arguments: seconds, then one "log:pid" per load. Returns 1 (after a
# warning) if not all of them held.
release_holds() {
  local secs=$1 i held alive pair pids=()
  shift
  for pair in "$@"; do pids+=("${pair##*:}"); done
  for ((i = 0; i < secs * 10; i++)); do
    held=0 alive=0
    for pair in "$@"; do
      if grep -q 'holding until SIGUSR1' "${pair%:*}" 2>/dev/null; then held=$((held + 1)); fi
      if kill -0 "${pair##*:}" 2>/dev/null; then alive=$((alive + 1)); fi
    done
    if ((held == $# || alive < $#)); then break; fi
    sleep 0.1
  done
  kill -USR1 "${pids[@]}" 2>/dev/null || true
  ((held == $#)) || { log "  warning: only $held of $# loads finished their ramp; the windows may differ"; return 1; }
}

# Sums sse-load RESULT lines, one per argument: prints "established receiving events/s errors
# server_cpu_pct rss_growth_kB" (the CPU and RSS sums are NA if a term is).
sum_results() {
  local res est=0 recv=0 eps=0 errors=0 cpu=0 grow=0 before start
  for res in "$@"; do
    est=$((est + $(result_field streams_established "$res")))
    recv=$((recv + $(result_field streams_receiving "$res")))
    errors=$((errors + $(result_field errors "$res")))
    eps=$(awk -v a="$eps" -v b="$(result_field events_per_sec "$res")" 'BEGIN { printf "%.0f", a + b }')
    cpu=$(awk -v a="$cpu" -v b="$(result_field server_cpu_pct "$res")" 'BEGIN { if (a == "NA" || b == "NA") print "NA"; else printf "%.1f", a + b }')
    before=$(result_field server_rss_before_kb "$res") start=$(result_field server_rss_start_kb "$res")
    if [[ $grow != NA && $before != NA && $start != NA ]]; then grow=$((grow + start - before)); else grow=NA; fi
  done
  echo "$est $recv $eps $errors $cpu $grow"
}

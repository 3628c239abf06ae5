# lib.sh - shell helpers that run.sh and scale.sh share (sourced, not run).

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

result_field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }  # KEY "RESULT line": its value

#!/usr/bin/env bash
# http2.sh - issue #18: N SSE streams over HTTP/2 (CONNS connections, N/CONNS streams each,
# cleartext h2c) against N over HTTP/1.1 (N connections), same server, same run; and, with
# PROTOS, the same N over HTTPS (HTTP/1.1 over TLS: `https`, the streams sealing their own
# TLS 1.3 records, and `https-openssl`, the server's context given a key-log callback of its own
# so that the streams keep OpenSSL's record layer; a throwaway certificate from the openssl CLI).
#
# For each rate R of RATES and each of RUNS runs, interleaved (h1, h2, h1, h2, ...): a fresh
# sse-bench-server --http2 1 (or, for HTTPS, --tls-cert; one broadcast of R events/s, PAYLOAD
# bytes, to every stream; pinned to SERVER_CPUS) driven by sse-load (HTTP/1.1, HTTPS) or
# h2-load (HTTP/2) on CLIENT_CPUS, over loopback. Per row: streams established and receiving,
# delivered events/s, latency p50/p99 (publish -> client), server CPU over the window, and
# server memory per stream (RSS growth from before the first connect to the start of the window,
# / N: the streams' heap, socket state and nghttp2's sessions, with idle streams between
# broadcasts). Writes RESULTS_DIR/http2.md (a markdown table, also printed; medians when
# RUNS > 1; each protocol's ratio to HTTP/1.1's) and the logs beside it. Every process runs
# under timeout(1), is recorded and stopped by its PID on exit.
#
# Environment knobs (defaults in brackets):
#   N                streams per pass [10000]
#   CONNS            HTTP/2 connections [100]
#   RATES            broadcast rates, events/s ["10 100"]
#   PROTOS           what to run, of h1 h2 https https-openssl ["h1 h2"]
#   RUNS             runs per point and protocol [1]
#   PAYLOAD          event data bytes [64]
#   WARMUP/DURATION  warmup and measuring window, whole seconds [2/5]
#   CONNECT_TIMEOUT  whole seconds for every stream's head [30]
#   SSE_BENCH_SERVER asio-sse benchmark server, built with asio-sse::http2
#                    [build/tests/bench/sse-bench-server]
#   SSE_LOAD/H2_LOAD the load clients [sse-load / h2-load beside SSE_BENCH_SERVER]
#   SERVER_CPUS/CLIENT_CPUS  taskset CPU lists [0 / 1 on 2+ CPUs; empty = no pinning]
#   RESULTS_DIR      output directory [tests/bench/results]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$BENCH_DIR/lib.sh"
REPO_ROOT=$(cd "$BENCH_DIR/../.." && pwd)
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
LOG_DIR=$RESULTS_DIR/http2-logs
SSE_BENCH_SERVER=${SSE_BENCH_SERVER:-build/tests/bench/sse-bench-server}
[[ $SSE_BENCH_SERVER = /* ]] || SSE_BENCH_SERVER=$REPO_ROOT/$SSE_BENCH_SERVER
SSE_LOAD=${SSE_LOAD:-$(dirname "$SSE_BENCH_SERVER")/sse-load}
H2_LOAD=${H2_LOAD:-$(dirname "$SSE_BENCH_SERVER")/h2-load}
N=${N:-10000}
CONNS=${CONNS:-100}
RATES=${RATES:-10 100}
PROTOS=${PROTOS:-h1 h2}
RUNS=${RUNS:-1}
PAYLOAD=${PAYLOAD:-64}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-5}
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-30}
pin_cpus

fail() { log "http2.sh: $*"; exit 1; }
for proto in $PROTOS; do
  case $proto in h1 | h2 | https | https-openssl) ;; *) fail "PROTOS: unknown protocol $proto" ;; esac
done
for tool in "$SSE_BENCH_SERVER" "$SSE_LOAD" "$H2_LOAD"; do
  [[ -x $tool ]] || fail "$tool not found: configure with -DASIO_SSE_BUILD_BENCH=ON and nghttp2 (libnghttp2-dev), build, or set SSE_BENCH_SERVER"
done
((N % CONNS == 0)) || fail "N ($N) must be a multiple of CONNS ($CONNS)"

CHILDREN=()
trap stop_recorded EXIT
trap 'exit 130' INT TERM
mkdir -p "$LOG_DIR"
if [[ " $PROTOS " == *" https"* ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$LOG_DIR/key.pem" \
    -out "$LOG_DIR/cert.pem" -days 2 -subj /CN=localhost >/dev/null 2>&1 || fail "openssl could not make a certificate"
fi

# run_one PROTO RATE RUN: one pass; appends "proto rate run established receiving eps p50 p99 cpu bytes_per_stream"
ROWS_TSV=$RESULTS_DIR/http2.tsv
printf 'proto\trate\trun\testablished\treceiving\tevents_per_s\tp50_ms\tp99_ms\tserver_cpu_pct\tbytes_per_stream\n' >"$ROWS_TSV"
run_one() {
  local proto=$1 rate=$2 run=$3 port wrapper spid res logp=$LOG_DIR/$1-r$2-$3
  port=$(free_port) || fail "no free port"
  local how=(--http2 1)
  [[ $proto == https* ]] && how=(--tls-cert "$LOG_DIR/cert.pem" --tls-key "$LOG_DIR/key.pem")
  [[ $proto == https-openssl ]] && how+=(--tls-keylog 1)
  "${SERVER_PIN[@]}" timeout $((CONNECT_TIMEOUT + WARMUP + DURATION + 60)) "$SSE_BENCH_SERVER" --port "$port" \
    --path /events --rate "$rate" --payload "$PAYLOAD" "${how[@]}" >"$logp.server.log" 2>&1 &
  wrapper=$!
  disown "$wrapper"
  CHILDREN+=("$wrapper")
  spid=$(wait_children "$wrapper") || fail "the server did not start (see $logp.server.log)"
  CHILDREN+=("$spid")
  wait_port "$port" "$wrapper" || fail "the server did not listen (see $logp.server.log)"
  local load=("$SSE_LOAD" --url "http://127.0.0.1:$port/events" --streams "$N") conns=$N
  if [[ $proto == h2 ]]; then
    load=("$H2_LOAD" --url "http://127.0.0.1:$port/events" --connections "$CONNS" --streams "$N")
    conns=$CONNS
  elif [[ $proto == https* ]]; then
    load=("$SSE_LOAD" --url "https://127.0.0.1:$port/events" --streams "$N")
  fi
  log "== $proto R=$rate run $run: $N streams over $conns connections"
  timeout $((CONNECT_TIMEOUT + WARMUP + DURATION + 30)) "${CLIENT_PIN[@]}" "${load[@]}" --warmup "$WARMUP" \
    --duration "$DURATION" --connect-timeout "$CONNECT_TIMEOUT" --server-pid "$spid" >"$logp.load.log" 2>&1 || true
  stop_recorded
  res=$(grep -m1 '^RESULT ' "$logp.load.log" || true)
  [[ -n $res ]] || fail "$proto R=$rate: no RESULT (see $logp.load.log)"
  local before start per=NA
  before=$(result_field server_rss_before_kb "$res")
  start=$(result_field server_rss_start_kb "$res")
  [[ $before == NA || $start == NA ]] || per=$(((start - before) * 1024 / N))
  local ms50 ms99
  ms50=$(us_to_ms "$(result_field p50_us "$res")" 2)
  ms99=$(us_to_ms "$(result_field p99_us "$res")" 2)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$proto" "$rate" "$run" "$(result_field streams_established "$res")" \
    "$(result_field streams_receiving "$res")" "$(result_field events_per_sec "$res")" "$ms50" "$ms99" \
    "$(result_field server_cpu_pct "$res")" "$per" >>"$ROWS_TSV"
}

for rate in $RATES; do
  for ((run = 1; run <= RUNS; run++)); do
    for proto in $PROTOS; do run_one "$proto" "$rate" "$run"; done
  done
done

# The table: per rate and protocol, the median of each column over the runs; then h2 / h1.
{
  echo "N = $N streams, ${PAYLOAD} B events; HTTP/1.1 and HTTPS: $N connections (sse-load); HTTP/2: $CONNS connections x $((N / CONNS)) streams, h2c (h2-load); server CPU $SERVER_CPUS, load CPU $CLIENT_CPUS; medians of $RUNS run(s)"
  echo
  echo "| R (events/s per stream) | protocol | established | receiving | delivered events/s | p50 ms | p99 ms | server CPU % | memory per stream (B) |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  awk -F'\t' -v protos="$PROTOS" 'NR > 1 { key = $2 "\t" $1; n[key]++; for (c = 4; c <= 10; c++) v[key, c, n[key]] = $c; keys[key] = 1 }
    function median(key, c,   i, j, t, a, m) {
      m = n[key]; for (i = 1; i <= m; i++) a[i] = v[key, c, i]
      for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    END {
      for (key in keys) { split(key, k, "\t"); rates[k[1]] = 1 }
      np = split(protos, plist, " ")
      name["h1"] = "HTTP/1.1"; name["h2"] = "HTTP/2"; name["https"] = "HTTPS (TLS 1.3, its own records)"
      name["https-openssl"] = "HTTPS (OpenSSL'"'"'s records)"
      for (r in rates) for (p = 1; p <= np; p++) {
        proto = plist[p]; key = r "\t" proto
        if (!(key in keys)) continue
        row[r, proto] = sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |", r, name[proto],
          median(key, 4), median(key, 5), median(key, 6), median(key, 7), median(key, 8), median(key, 9), median(key, 10))
        eps[r, proto] = median(key, 6); mem[r, proto] = median(key, 10)
      }
      nr = 0; for (r in rates) sorted[++nr] = r + 0
      for (i = 2; i <= nr; i++) for (j = i; j > 1 && sorted[j - 1] > sorted[j]; j--) { t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t }
      for (i = 1; i <= nr; i++) {
        r = sorted[i]
        for (p = 1; p <= np; p++) if ((r, plist[p]) in row) print row[r, plist[p]]
        for (p = 1; p <= np; p++)
          if (plist[p] != "h1" && (r, plist[p]) in row && eps[r, "h1"] > 0 && mem[r, "h1"] > 0)
            printf "| %s | %s / HTTP/1.1 | | | %.2fx | | | | %.2fx |\n", r, name[plist[p]], eps[r, plist[p]] / eps[r, "h1"], mem[r, plist[p]] / mem[r, "h1"]
      }
    }' "$ROWS_TSV"
} | tee "$RESULTS_DIR/http2.md"

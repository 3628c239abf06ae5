#!/usr/bin/env bash
# The real-client tests: npm `eventsource` and `eventsource-parser` round trips over the cases
# table, three browser engines running the same checks (Debian's Chromium via playwright-core,
# Debian's firefox-esr via puppeteer-core over WebDriver BiDi, Debian's WebKitGTK via
# lib/webkit_driver.py under xvfb-run) and curl, against the test server and the demo; npm
# `eventsource` over HTTPS to the secure dashboard (a throwaway CA made with the openssl CLI);
# HTTP/2 to the HTTP/2 dashboard (Chromium's 50 EventSources over one h2 connection against six
# over HTTP/1.1, curl and nghttp over h2, curl over h2c); the cluster chat (two sse-cluster nodes
# on a throwaway redis-server, npm `eventsource`, our own reader and Chromium through nginx);
# Chromium `fetch` POSTs from another origin (CORS preflight) to the LLM and MCP examples.
# Installs what is missing, builds the programs with -DASIO_SSE_CLIENT_TESTS=ON, runs the tests
# through CTest (label `clients`; `npm ci` first), prints one line per group and a closing
# "clients: N passed, N failed" line.
# Usage: bash tests/clients/run.sh   (as root, or a user with sudo)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

# Node.js and npm only when absent: a newer Node.js (not Debian's) may provide them.
apt=(g++ cmake ninja-build libasio-dev catch2 nlohmann-json3-dev libssl-dev libnghttp2-dev nghttp2-client
  libhiredis-dev redis-server nginx)
command -v node >/dev/null || apt+=(nodejs)
command -v npm >/dev/null || apt+=(npm)
command -v curl >/dev/null || apt+=(curl)
command -v openssl >/dev/null || apt+=(openssl)
[ -x /usr/bin/chromium ] || apt+=(chromium)
command -v firefox-esr >/dev/null || apt+=(firefox-esr)
# WebKitGTK for Debian's own python3 (lib/webkit_driver.py), on a virtual X display.
apt+=(gir1.2-webkit2-4.1 python3-gi xvfb)
bash tests/install-deps.sh "${apt[@]}" || exit 1
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "clients: Node.js >= 20 needed (eventsource 4, playwright-core, puppeteer-core), found $(node --version)"
  exit 1
fi

dir=build/clients
log=build/clients.log
mkdir -p build
start=$SECONDS
if ! { cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DASIO_SSE_CLIENT_TESTS=ON -DASIO_SSE_HEADER_CHECK=OFF &&
       cmake --build "$dir" -j"$(nproc)" --target sse-client-server sse-demo sse-secure-dashboard sse-http2-dashboard \
         sse-cluster sse-llm-stream sse-mcp-server; } >"$log" 2>&1; then
  tail -n 40 "$log"
  echo "clients: BUILD FAILED ($((SECONDS - start)) s, log: $log)"
  echo "0 passed, 1 failed"
  exit 1
fi

(cd "$dir" && ctest -L clients --output-on-failure --timeout 180) >>"$log" 2>&1
status=$?

# One line per group: CTest's verdict and the node test runner's counts.
echo
echo "== asio-sse client tests ($((SECONDS - start)) s, log: $log)"
awk '
  /^[0-9]+\/[0-9]+ Testing: / { name = $3 }
  /^# pass / { pass[name] = $3; total_pass += $3 }
  /^# fail / { fail[name] = $3; total_fail += $3 }
  /^Test (Passed|Failed)/ { order[++n] = name; result[name] = ($2 == "Passed." ? "ok" : "FAILED"); name = "" }
  END {
    for (i = 1; i <= n; ++i) {
      g = order[i]
      counts = (g in pass) ? sprintf(": %d passed, %d failed", pass[g], fail[g]) : ""
      printf "  %s: %s%s\n", g, result[g], counts
      if (result[g] != "ok" && fail[g] + 0 == 0) groups_failed++ # failed outside the node tests
    }
    printf "clients: %d passed, %d failed\n", total_pass, total_fail + groups_failed
  }' "$dir/Testing/Temporary/LastTest.log"
exit $((status != 0))

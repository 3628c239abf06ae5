#!/usr/bin/env bash
# Installs what is missing, builds the demo, and starts it at http://localhost:3000/.
# Extra arguments go to sse-demo (e.g. --port 8080 --interval-ms 1000).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tests/install-deps.sh" g++ cmake ninja-build libasio-dev
cmake -S "$root" -B "$root/build/demo" -G Ninja -DCMAKE_BUILD_TYPE=Release -DASIO_SSE_BUILD_TESTS=OFF >/dev/null
cmake --build "$root/build/demo" --target sse-demo
exec "$root/build/demo/examples/sse-demo" "$@"

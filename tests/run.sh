#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then builds and runs the
# tests plain (g++), under AddressSanitizer+UBSan (clang), under ThreadSanitizer (clang) and on
# Boost.Asio instead of standalone Asio (g++, ASIO_SSE_USE_BOOST_ASIO; installs libboost1.81-dev),
# in C++20 (g++, every header and example too; the co_await tests run in every g++ part), runs each libFuzzer target for a bounded time (ASIO_SSE_FUZZ_SECONDS, default 60), then tests
# against real clients (npm eventsource, eventsource-parser, openai, the MCP SDK; Chromium,
# Firefox and WebKitGTK; curl).
# Prints one summary line per part and a closing "N passed, N failed" line (tests, all parts).
# Usage: bash tests/run.sh [part...]   parts: plain asan tsan boost cxx20 fuzz clients (default: all)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(plain asan tsan boost cxx20 fuzz clients)

bash tests/install-deps.sh g++ clang cmake ninja-build libasio-dev catch2 curl libssl-dev openssl libhiredis-dev redis-server nlohmann-json3-dev librestinio-dev libcpp-httplib-dev libnghttp2-dev nghttp2-client || exit 1

jobs=$(nproc)
passed=0
failed=0
summary=()

# tally LOG OK: adds the tests a part ran to the totals, from ctest's "... tests failed out of T"
# or a script's "N passed, M failed" line; a part that reports neither counts as one test.
tally() {
  local log=$1 ok=$2 line
  line=$(grep -Eo '[0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  if [ -n "$line" ]; then
    local f t
    f=$(echo "$line" | awk '{print $1}')
    t=$(echo "$line" | awk '{print $NF}')
    passed=$((passed + t - f))
    failed=$((failed + f))
    return
  fi
  line=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [ -n "$line" ]; then
    local p f
    p=$(echo "$line" | awk '{print $1}')
    f=$(echo "$line" | awk '{print $3}')
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$ok" = ok ] || [ "$f" -gt 0 ] || failed=$((failed + 1)) # failed outside its tests
  elif [ "$ok" = ok ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
}

# build_and_test NAME CXX FLAGS [cmake args...]
build_and_test() {
  local name=$1 cxx=$2 flags=$3
  shift 3
  local dir="build/ci-$name" log="build/ci-$name.log" start=$SECONDS
  mkdir -p build
  if ! { cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER="$cxx" \
           -DCMAKE_CXX_FLAGS="$flags" "$@" && cmake --build "$dir" -j"$jobs"; } >"$log" 2>&1; then
    tail -n 40 "$log"
    summary+=("$name: BUILD FAILED ($((SECONDS - start)) s, log: $log)")
    failed=$((failed + 1))
    return
  fi
  if (cd "$dir" && ctest -j"$jobs" --output-on-failure --timeout 300) >>"$log" 2>&1; then
    summary+=("$name: ok, $(grep -Eo '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1) ($((SECONDS - start)) s)")
    tally "$log" ok
  else
    grep -E "Failed|FAILED|ERROR|Sanitizer" "$log" | head -n 40
    summary+=("$name: FAILED: $(grep -Eo '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1) ($((SECONDS - start)) s, log: $log)")
    tally "$log" failed
  fi
}

# run_script NAME SCRIPT [args...]: a part that is a script of its own (it prints its details).
run_script() {
  local name=$1 start=$SECONDS log="build/ci-$1.log"
  shift
  mkdir -p build
  if bash "$@" >"$log" 2>&1; then
    summary+=("$name: ok, $(tail -n 1 "$log" | sed 's/^ *//') ($((SECONDS - start)) s)")
    tally "$log" ok
  else
    tail -n 60 "$log"
    summary+=("$name: FAILED: $(tail -n 1 "$log" | sed 's/^ *//') ($((SECONDS - start)) s, log: $log)")
    tally "$log" failed
  fi
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

for part in "${parts[@]}"; do
  case $part in
    plain) build_and_test plain g++ "-O2" -DASIO_SSE_BUILD_BENCH=ON ;; # as optimised as users build it: timing bugs show; the bench tools compile
    asan) build_and_test asan clang++ "-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
            -DASIO_SSE_HEADER_CHECK=OFF -DASIO_SSE_BUILD_EXAMPLES=OFF ;;
    tsan) build_and_test tsan clang++ "-O1 -g -fsanitize=thread" -DASIO_SSE_HEADER_CHECK=OFF -DASIO_SSE_BUILD_EXAMPLES=OFF ;;
    boost) # Boost 1.81 only for this part (its -dev package conflicts with Debian's default 1.74)
      if bash tests/install-deps.sh libboost1.81-dev; then
        build_and_test boost g++ "" -DASIO_SSE_USE_BOOST_ASIO=ON -DASIO_SSE_HEADER_CHECK=OFF -DASIO_SSE_BUILD_EXAMPLES=OFF
      else
        summary+=("boost: FAILED: libboost1.81-dev could not be installed"); failed=$((failed + 1))
      fi ;;
    cxx20) build_and_test cxx20 g++ "" -DCMAKE_CXX_STANDARD=20 ;; # warnings are errors in C++20 too
    clients) run_script clients tests/clients/run.sh ;;
    fuzz) run_script fuzz tests/fuzz/run.sh "${ASIO_SSE_FUZZ_SECONDS:-60}" ;;
    *) echo "unknown part: $part"; failed=$((failed + 1)) ;;
  esac
done

echo
echo "== asio-sse test summary"
for line in "${summary[@]}"; do echo "  $line"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#summary[@]} -gt 0 ]

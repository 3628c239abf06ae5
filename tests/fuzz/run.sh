#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time,
# starting from the seed corpus in tests/fuzz/corpus/<target>/ (new inputs go to
# build/fuzz/corpus/<target>/, crashes to build/fuzz/artifacts/). Prints one line per target;
# exits non-zero if a target crashed, leaked or broke an invariant.
# Usage: bash tests/fuzz/run.sh [seconds per target, default 60]
set -uo pipefail
seconds=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
targets=(fuzz_http_parser fuzz_event fuzz_h2_session)
dir=build/fuzz

bash tests/install-deps.sh clang libclang-rt-14-dev cmake ninja-build libasio-dev catch2 libnghttp2-dev || exit 1
mkdir -p "$dir/artifacts"
if ! { cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
         -DASIO_SSE_FUZZ=ON -DASIO_SSE_HEADER_CHECK=OFF -DASIO_SSE_BUILD_EXAMPLES=OFF -DASIO_SSE_INSTALL=OFF &&
       cmake --build "$dir" -j2 --target "${targets[@]}"; } >"$dir/build.log" 2>&1; then
  tail -n 40 "$dir/build.log"
  echo "fuzz: BUILD FAILED (log: $dir/build.log)"
  exit 1
fi

failed=0
summary=() brief=()
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t"
  log="$dir/$t.log"
  "$dir/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/$t-" "$dir/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || echo "?")
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+' || echo "?")
  corpus=$(find "$dir/corpus/$t" -type f | wc -l)
  if [ $rc -eq 0 ]; then
    summary+=("$t: ok, $runs runs in ${seconds} s, coverage $cov edges, corpus $corpus")
    brief+=("$t $runs runs")
  else
    grep -E "ERROR|invariant failed|SUMMARY|Test unit written" "$log" | head -n 10
    summary+=("$t: FAILED (exit $rc, log: $log, artifacts: $dir/artifacts/)")
    brief+=("$t FAILED")
    failed=$((failed + 1))
  fi
done

echo
echo "== asio-sse fuzz summary"
for line in "${summary[@]}"; do echo "  $line"; done
joined=$(printf '%s, ' "${brief[@]}")
echo "${#targets[@]} targets, $failed failed (${joined%, }), ${seconds} s each"
[ "$failed" -eq 0 ]

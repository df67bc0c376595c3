#!/usr/bin/env bash
# Builds the libFuzzer target for the VRRP codec in build-fuzz/ (clang, ASan+UBSan) and runs it for
# a bounded time, then prints the execution count.
#
# Usage: tools/fuzz.sh [SECONDS]   (default 60)
# New inputs go to tests/fuzz/corpus-run/ (git-ignored); the committed seeds in tests/fuzz/corpus/
# are only read. A crash leaves crash-* in build-fuzz/ and makes this script fail.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-60}
BUILD=build-fuzz
CXX_FUZZ=${CXX_FUZZ:-clang++}

# Standalone configure of tests/fuzz: it needs only the pure core, not the adapters' libraries.
cmake -S tests/fuzz -B "$BUILD" -DCMAKE_CXX_COMPILER="$CXX_FUZZ" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >/dev/null
cmake --build "$BUILD" --target fuzz_advertisement -j"$(nproc)"

mkdir -p tests/fuzz/corpus-run
LOG=$BUILD/fuzz_advertisement.log
echo "running fuzz_advertisement for ${SECS}s (log: $LOG)"
set +e
(cd "$BUILD" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ./fuzz_advertisement -max_total_time="$SECS" -max_len=4200 -print_final_stats=1 \
    ../tests/fuzz/corpus-run ../tests/fuzz/corpus) >"$LOG" 2>&1
rc=$?
set -e
tail -n 25 "$LOG"
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG" | tail -n 1)
echo "fuzz_advertisement: exit $rc, ${execs:-?} executions in ${SECS}s"
exit $rc

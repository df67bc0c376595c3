#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for a bounded time from its
# committed corpus; fails on any crash, leak, hang or property violation.
#
# Usage: tools/fuzz.sh [SECONDS] [TARGET...]     SECONDS per target (default 60);
#                                                TARGET: advertisement, config (default both)
# Environment: FUZZ_BUILD (build directory, default build-fuzz), CXX_FUZZ (default clang++),
#              FUZZ_SKIP_BUILD=1 (use what FUZZ_BUILD holds), FUZZ_BUILD_ONLY=1.
# The committed seeds in tests/fuzz/corpus/<target>/ are only read; new inputs go to
# $FUZZ_BUILD/corpus-<target>/. A crash leaves crash-* in $FUZZ_BUILD and makes this fail.
# ctest runs it as fuzz/<target> with a short budget (tests/CMakeLists.txt); exit 77 = skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(advertisement config)
BUILD=${FUZZ_BUILD:-build-fuzz}
CXX_FUZZ=${CXX_FUZZ:-clang++}

if ! command -v "$CXX_FUZZ" >/dev/null; then
  echo "skipped: $CXX_FUZZ not found (tools/install-deps.sh installs clang)"
  exit 77
fi
if [ "${FUZZ_SKIP_BUILD:-0}" != 1 ]; then
  # Standalone configure of tests/fuzz: it needs only the pure core and the config loader.
  cmake -S tests/fuzz -B "$BUILD" -DCMAKE_CXX_COMPILER="$CXX_FUZZ" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" --target $(printf 'fuzz_%s ' "${TARGETS[@]}") -j"$(nproc)"
fi
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0

rc=0
for t in "${TARGETS[@]}"; do
  exe="$BUILD/fuzz_$t"
  seeds="$PWD/tests/fuzz/corpus/$t"
  work="$BUILD/corpus-$t"
  log="$BUILD/fuzz_$t.log"
  mkdir -p "$work"
  echo "running fuzz_$t for ${SECS}s (seeds $seeds, log $log)"
  set +e
  (cd "$BUILD" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "./fuzz_$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
      -print_final_stats=1 "corpus-$t" "$seeds") >"$log" 2>&1
  r=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  echo "fuzz_$t: exit $r, ${execs:-?} executions in ${SECS}s"
  if [ $r -ne 0 ]; then
    tail -n 40 "$log"
    rc=1
  fi
done
exit $rc

#!/usr/bin/env bash
# The test command (README): installs what is missing, builds with ASan+UBSan, runs every test.
# Tests that need root and network namespaces report "skipped" with the reason when they cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."
# Root runs everything (and installs what is missing). A user re-runs it with sudo when sudo exists
# (VIPD_TEST_NO_SUDO=1: stay unprivileged; namespace tests then report "skipped").
if [ "$(id -u)" != 0 ] && [ -z "${VIPD_TEST_NO_SUDO:-}" ] && command -v sudo >/dev/null 2>&1; then
  exec sudo -- "$0" "$@"
fi
if [ "$(id -u)" = 0 ]; then tools/install-deps.sh; fi
BUILD=${BUILD:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIPD_SANITIZE=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
ctest --test-dir "$BUILD" --output-on-failure "$@"

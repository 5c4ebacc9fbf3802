#!/usr/bin/env bash
# Installs what is missing, builds kiln, and runs every test (ctest prints the summary).
set -euo pipefail
cd "$(dirname "$0")"
# Opt-in modes (slow; own build folders): --sanitize (ASan+UBSan, build-san),
# --tsan (ThreadSanitizer, build-tsan), --fuzz [SECONDS] (libFuzzer, build-fuzz).
case "${1:-}" in
  --sanitize) shift; exec tests/sanitize/sanitize.sh asan "$@" ;;
  --tsan) shift; exec tests/sanitize/sanitize.sh tsan "$@" ;;
  --fuzz) shift; exec tests/fuzz/fuzz.sh "$@" ;;
esac
./scripts/setup.sh
BUILD=${KILN_BUILD_DIR:-build}
# Tests never read the user's tuning database (~/.cache/kiln/tuning.json).
export KILN_TUNING_DB="${KILN_TEST_TUNING_DB:-$PWD/$BUILD/tests-tuning.json}"
ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)" "$@"

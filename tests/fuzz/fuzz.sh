#!/usr/bin/env bash
# ./test.sh --fuzz [SECONDS]: builds the ONNX importer fuzzer (clang-22, libFuzzer,
# ASan+UBSan) into build-fuzz and runs it for SECONDS (60) on the seed corpus: the
# committed e2e models and Debian's ONNX conformance models. Exits non-zero on a
# finding (a crash, sanitizer report, timeout or out-of-memory); the input is
# saved as build-fuzz/findings/crash-* (see tests/fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-60}
BUILD=${KILN_FUZZ_BUILD_DIR:-build-fuzz}
export KILN_EXTRA_PKGS="${KILN_EXTRA_PKGS:-} clang-22 libfuzzer-22-dev libclang-rt-22-dev"
KILN_BUILD_DIR="$BUILD" KILN_BUILD_TARGETS=kiln-onnx-fuzzer \
  KILN_CMAKE_ARGS="-DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 -DKILN_FUZZ=ON ${KILN_CMAKE_ARGS:-}" \
  ./scripts/setup.sh

# Seeds: copied under unique names (libFuzzer reads every file of a folder).
SEEDS="$BUILD/seeds"
if [ ! -d "$SEEDS" ]; then
  mkdir -p "$SEEDS.tmp"
  for m in tests/e2e/models/*/model.onnx; do
    cp "$m" "$SEEDS.tmp/e2e_$(basename "$(dirname "$m")").onnx"
  done
  find /usr/share/libonnx-testdata/data -name model.onnx | while read -r m; do
    d=$(dirname "$m")
    cp "$m" "$SEEDS.tmp/$(basename "$(dirname "$d")")_$(basename "$d").onnx"
  done
  cp tests/fuzz/regressions/*.onnx "$SEEDS.tmp/" 2>/dev/null || true
  mv "$SEEDS.tmp" "$SEEDS"
fi
mkdir -p "$BUILD/corpus" "$BUILD/findings"

# The corpus grows in $BUILD/corpus; seeds are read only. Limits: 20 s per
# input, 2 GiB of memory in all and per allocation; leaks are findings too.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
echo "kiln fuzz: running $BUILD/bin/kiln-onnx-fuzzer for ${SECS}s ($(ls "$SEEDS" | wc -l) seeds)"
exec "$BUILD/bin/kiln-onnx-fuzzer" "$BUILD/corpus" "$SEEDS" \
  -dict=tests/fuzz/onnx.dict -max_total_time="$SECS" -timeout=20 \
  -rss_limit_mb=2048 -malloc_limit_mb=2048 \
  -artifact_prefix="$BUILD/findings/" -print_final_stats=1 ${KILN_FUZZ_ARGS:-}

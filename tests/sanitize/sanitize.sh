#!/usr/bin/env bash
# ./test.sh --sanitize [CTEST ARGS]: ASan+UBSan build (gcc, build-san) running the unit,
# importer (lit, e2e on the interpreter, conformance) and runtime tests.
# ./test.sh --tsan [CTEST ARGS]: ThreadSanitizer build (build-tsan) of the runtime and
# the concurrency test. What is covered and what is not: tests/sanitize/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODE=$1
shift
SUPP="$PWD/tests/sanitize"
if [ "$MODE" = tsan ]; then
  BUILD=${KILN_TSAN_BUILD_DIR:-build-tsan}
  KILN_BUILD_DIR="$BUILD" KILN_BUILD_TARGETS="ConcurrencyTest kiln-runtime-test" \
    KILN_CMAKE_ARGS="-DKILN_TSAN=ON ${KILN_CMAKE_ARGS:-}" \
    ./scripts/setup.sh
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$SUPP/tsan.supp ${TSAN_OPTIONS:-}"
  exec ctest --test-dir "$BUILD" --output-on-failure -R 'unit\.ConcurrencyTest|runtime\.c_runtime' "$@"
fi

BUILD=${KILN_SAN_BUILD_DIR:-build-san}
KILN_BUILD_DIR="$BUILD" KILN_CMAKE_ARGS="-DKILN_SANITIZE=ON ${KILN_CMAKE_ARGS:-}" ./scripts/setup.sh
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1 ${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$SUPP/lsan.supp:print_suppressions=0 ${LSAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$SUPP/ubsan.supp ${UBSAN_OPTIONS:-}"
# The C glue of every generated library is instrumented too (its kernels are not).
export CC="gcc -fsanitize=address,undefined -fno-omit-frame-pointer"
# The instrumented glue links libasan/libubsan, which the first test forbids, and
# such a library cannot load into python (the second).
export GTEST_FILTER="${GTEST_FILTER:--Library.LinksOnlySystemLibrariesAndExportsOnlyTheApi:Library.CAndPythonExamplesRun}"
# Native e2e models, LibraryModelsTest and native conformance repeat the library
# paths LibraryTest covers, mostly in uninstrumented Halide code, at 10+ min.
exec ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)" \
  -E 'e2e\.native|conformance\.native|unit\.LibraryModelsTest' "$@"

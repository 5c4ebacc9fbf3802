#!/usr/bin/env bash
# Installs what is missing, builds kiln, and runs every test (ctest prints the summary).
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
BUILD=${KILN_BUILD_DIR:-build}
ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)" "$@"

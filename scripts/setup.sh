#!/usr/bin/env bash
# Installs kiln's Debian dependencies when missing (idempotent, quiet when all is there),
# then configures and builds into ${KILN_BUILD_DIR:-build}.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(cmake ninja-build ccache g++ git
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
  libhalide14-0-dev libonnx-dev libprotobuf-dev protobuf-compiler libonnx-testdata
  libgtest-dev python3-numpy python3-onnx graphviz)
[ -n "${KILN_EXTRA_PKGS:-}" ] && PKGS+=(${KILN_EXTRA_PKGS})

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "kiln setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD=${KILN_BUILD_DIR:-build}
BUILD_TYPE=${KILN_BUILD_TYPE:-Release}
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache ${KILN_CMAKE_ARGS:-} >/dev/null
fi
export CCACHE_BASEDIR="$PWD"
cmake --build "$BUILD" -j "${KILN_JOBS:-$(nproc)}" ${KILN_BUILD_TARGETS:+--target $KILN_BUILD_TARGETS}

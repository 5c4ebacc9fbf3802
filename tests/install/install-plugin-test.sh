#!/usr/bin/env bash
# The install test: installs this build tree into a scratch prefix, builds
# examples/pass-plugin as a standalone project against that prefix alone,
# and runs the installed `kiln compile` with the plugin's kiln-fold-mul-one
# on two small ONNX models (FileCheck: the rewrite, and a near miss), then
# compiles one to a library with it and checks `kiln run`'s outputs.
# Usage: install-plugin-test.sh BUILD_DIR SOURCE_DIR FILECHECK
set -euo pipefail
build=$1 src=$2 filecheck=$3
here=$(cd "$(dirname "$0")" && pwd)
work=$build/tests/install/work
rm -rf "$work"
mkdir -p "$work"
unset LD_LIBRARY_PATH

step() { echo "== $*"; }

step "cmake --install $build --prefix $work/prefix"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
prefix=$work/prefix
kiln=$prefix/bin/kiln

# Nothing installed may point back into the build tree.
for f in "$prefix"/bin/* "$prefix"/lib/*.so; do
  if readelf -d "$f" | grep -F "$build" >/dev/null; then
    echo "error: $f refers to the build tree:"; readelf -d "$f" | grep -F "$build"
    exit 1
  fi
done

# Debug (-O0): the plugin keeps its own copies of inline LLVM functions, which
# must not bind to the LLVM 14 inside Halide that kiln has loaded too.
step "configure + build examples/pass-plugin (Debug) against $prefix"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=$work
fi
cmake -S "$src/examples/pass-plugin" -B "$work/plugin" -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF "${launcher[@]}" >"$work/configure.log"
found=$(sed -n 's/^kiln_DIR:PATH=//p' "$work/plugin/CMakeCache.txt")
if [ "$found" != "$prefix/lib/cmake/kiln" ]; then
  echo "error: the plugin found kiln in '$found', not in $prefix"; exit 1
fi
cmake --build "$work/plugin" >"$work/build.log" || { cat "$work/build.log"; exit 1; }
plugin=$work/plugin/KilnExamplePlugin.so
# The plugin shares kiln's libraries with the tool; it carries no copy of
# kiln's dialect (no op TypeIDs of its own).
readelf -d "$plugin" | grep -q 'NEEDED.*libkilnIR.so'
if nm -DC --defined-only "$plugin" |
  grep -E 'TypeIDResolver<kiln::[A-Za-z]+, void>::id$|kiln::KilnDialect::'; then
  echo "error: $plugin defines kiln's dialect symbols itself"; exit 1
fi

step "installed kiln compile + the plugin, on two models"
/usr/bin/python3 "$here/make_models.py" "$work"
run() { # MODEL PIPELINE: the IR after the plugin's pass, then the final IR
  "$kiln" compile "$work/$1" --emit=ir --load-pass-plugin="$plugin" \
    --pass-pipeline="$2" --print-ir-after=kiln-fold-mul-one 2>&1
}
run fold.onnx 'builtin.module(kiln-fold-mul-one)' |
  "$filecheck" "$here/install-plugin.checks" --check-prefix=FOLD
run near.onnx 'builtin.module(kiln-fold-mul-one)' |
  "$filecheck" "$here/install-plugin.checks" --check-prefix=NEAR
run fold.onnx 'builtin.module(kiln-fold-mul-one,kiln-fusion-pipeline)' |
  "$filecheck" "$here/install-plugin.checks" --check-prefix=PIPE
step "installed kiln: a library with the plugin's pass, run against numpy"
export KILN_CACHE_DIR=$work/kernel-cache
"$kiln" compile "$work/fold.onnx" -o "$work/lib" --load-pass-plugin="$plugin" \
  --pass-pipeline='builtin.module(kiln-fold-mul-one,kiln-fusion-pipeline)' >/dev/null
/usr/bin/python3 -c "import numpy as np, sys
np.save(sys.argv[1], np.linspace(-2, 2, 8, dtype=np.float32).reshape(2, 4))" "$work/x.npy"
"$kiln" run "$work/lib/libfold.so" --input x="$work/x.npy" --output-dir "$work/out" >/dev/null
/usr/bin/python3 - "$work" <<'PY'
import sys
import numpy as np
d = sys.argv[1]
x = np.load(d + "/x.npy")
w = np.arange(20, dtype=np.float32).reshape(4, 5) / 10.0
y, z = np.load(d + "/out/y.npy"), np.load(d + "/out/z.npy")
assert np.allclose(y, np.maximum(x @ w, 0), rtol=1e-5, atol=1e-6), y
assert np.array_equal(z, x), z
PY
step "ok"

#!/usr/bin/env bash
# Installs what is missing, builds kiln, then compiles the bundled default model (a small
# GPT-2-style decoder exported by torch) to a native library, runs it on the bundled
# inputs, checks the result against torch's outputs, and prints a latency summary.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
BUILD=${KILN_BUILD_DIR:-build}
MODEL_DIR=${1:-tests/e2e/models/gpt2_op17}
OUT=${KILN_OUT:-out/run}
KILN="$BUILD/bin/kiln"
rm -rf "$OUT" && mkdir -p "$OUT"

args=(); shapes=()
for f in "$MODEL_DIR"/inputs/*.npy; do
  n=$(basename "$f" .npy); args+=(--input "$n=$f")
  shapes+=(--shape "$n=$(/usr/bin/python3 -c "import numpy as n;print('x'.join(map(str,n.load('$f').shape)))")")
done

echo "== kiln compile $MODEL_DIR/model.onnx -o $OUT/lib ${shapes[*]} --stats"
"$KILN" compile "$MODEL_DIR/model.onnx" -o "$OUT/lib" --name model "${shapes[@]}" --stats 2>&1 |
  grep -v "not fused"
"$KILN" compile "$MODEL_DIR/model.onnx" --emit=ir -o "$OUT" "${shapes[@]}"
echo "   fused IR in $OUT/model.mlir; C header in $OUT/lib/model.h"

echo "== kiln run $OUT/lib/libmodel.so (native)"
"$KILN" run "$OUT/lib/libmodel.so" "${args[@]}" --output-dir "$OUT/native"
echo "== kiln run --backend=interpreter (reference)"
"$KILN" run "$MODEL_DIR/model.onnx" --backend=interpreter "${args[@]}" --output-dir "$OUT/interpreter"

echo "== compare with torch's outputs"
/usr/bin/python3 - "$MODEL_DIR/outputs" "$OUT/native" "$OUT/interpreter" <<'PY'
import glob, os, sys
import numpy as np
ref_dir, *dirs = sys.argv[1:]
ok = True
for ref in sorted(glob.glob(os.path.join(ref_dir, "*.npy"))):
    want = np.load(ref)
    scale = max(1.0, float(np.abs(want).max()))
    for d in dirs:
        got = np.load(os.path.join(d, os.path.basename(ref)))
        err = float(np.abs(got - want).max()) / scale
        good = got.shape == want.shape and err <= 1e-4
        ok &= good
        print(f"   {os.path.basename(ref)} [{os.path.basename(d)}]: max rel error {err:.2e} {'OK' if good else 'MISMATCH'}")
sys.exit(0 if ok else 1)
PY

echo "== kiln bench (native library, median of 200 runs)"
"$KILN" bench "$OUT/lib/libmodel.so" "${args[@]}" --runs 200 | head -n 6

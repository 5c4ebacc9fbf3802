#!/usr/bin/env bash
# Installs what is missing, builds kiln, then imports and runs the bundled default model
# (a small GPT-2-style decoder exported by torch) and checks it against torch's outputs.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
BUILD=${KILN_BUILD_DIR:-build}
MODEL_DIR=${1:-tests/e2e/models/gpt2_op17}
OUT=${KILN_OUT:-out/run}
mkdir -p "$OUT"
KILN="$BUILD/bin/kiln"

echo "== kiln compile $MODEL_DIR/model.onnx --emit=ir (first lines)"
"$KILN" compile "$MODEL_DIR/model.onnx" --emit=ir -o "$OUT"
head -n 20 "$OUT/model.mlir"
echo "   ... full IR in $OUT/model.mlir"

echo "== kiln run (reference interpreter)"
args=()
for f in "$MODEL_DIR"/inputs/*.npy; do
  n=$(basename "$f" .npy); args+=(--input "$n=$f")
done
start=$(date +%s%N)
"$KILN" run "$MODEL_DIR/model.onnx" --backend=interpreter "${args[@]}" --output-dir "$OUT/outputs"
end=$(date +%s%N)
echo "   interpreter wall time: $(( (end - start) / 1000000 )) ms (import + run)"

echo "== compare with the framework's outputs"
"$BUILD/bin/kiln-e2e" "$MODEL_DIR"

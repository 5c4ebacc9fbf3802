#!/bin/bash
# kiln vs ONNX Runtime side by side: exports BERT-base and GPT-2-small, compiles them with kiln,
# checks outputs against ONNX Runtime, times both alternately and writes benchmarks/results/.
#
#   benchmarks/run.sh [--threads N] [--rounds N] [--runs N] [--seq S] [--models a,b]
#                     [--sweep 32,64,128,256,512 | --no-sweep] [--sweep-rounds N]
#                     [--sweep-runs N] [--kiln PATH]
#
# Results: benchmarks/results/{summary.md,summary.json,profile_*.md,latency_vs_seq.png,raw/}
# (git-ignored); the plot is also copied to docs/bench_latency.png when under 200 KB.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PY=/usr/bin/python3
THREADS=2
ROUNDS=5
RUNS=10
SEQ=128
MODELS=bert_base,gpt2_small
SWEEP=32,64,128,256,512
SWEEP_ROUNDS=3
SWEEP_RUNS=5
KILN="${KILN:-$ROOT/build/bin/kiln}"

die() { echo "run.sh: error: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --seq) SEQ="$2"; shift 2 ;;
    --models) MODELS="$2"; shift 2 ;;
    --sweep) SWEEP="$2"; shift 2 ;;
    --no-sweep) SWEEP=""; shift ;;
    --sweep-rounds) SWEEP_ROUNDS="$2"; shift 2 ;;
    --sweep-runs) SWEEP_RUNS="$2"; shift 2 ;;
    --kiln) KILN="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
for n in "$THREADS" "$ROUNDS" "$RUNS" "$SEQ" "$SWEEP_ROUNDS" "$SWEEP_RUNS"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "expected a positive integer, got '$n'"
done

MODELS_DIR="$HERE/models"
RESULTS="$HERE/results"
RAW="$RESULTS/raw"
LIBS="$RESULTS/libs"
mkdir -p "$MODELS_DIR" "$RAW" "$LIBS" "$RESULTS/bin"
log() { echo "== $*" >&2; }

# ---- dependencies ------------------------------------------------------------------------
[ -x "$KILN" ] || die "no kiln binary at $KILN (build it: cmake -S $ROOT -B $ROOT/build -G Ninja \
-DCMAKE_BUILD_TYPE=Release && ninja -C $ROOT/build kiln), or pass --kiln PATH"
missing=()
for mod in torch:python3-torch onnx:python3-onnx numpy:python3-numpy \
           matplotlib:python3-matplotlib; do
  $PY -c "import ${mod%%:*}" 2>/dev/null || missing+=("${mod#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (apt)"
  apt-get install -y "${missing[@]}" >&2 || die "could not install ${missing[*]}"
fi
command -v node >/dev/null || die "node (>= 18) is needed for ONNX Runtime: apt-get install nodejs npm"
if [ ! -f "$HERE/node_modules/onnxruntime-node/package.json" ]; then
  log "installing onnxruntime-node (version pinned in package.json) into $HERE/node_modules"
  # --ignore-scripts: the install script only fetches GPU libraries; the CPU EP is bundled.
  (cd "$HERE" && npm ci --ignore-scripts --no-audit --no-fund >&2) \
    || die "npm ci --ignore-scripts (onnxruntime-node) failed"
fi
# A private copy of kiln, so that a rebuild of the tree during the run cannot change (or
# briefly remove) the compiler between configurations.
if ! cmp -s "$KILN" "$RESULTS/bin/kiln"; then
  cp "$KILN" "$RESULTS/bin/kiln.tmp" && mv "$RESULTS/bin/kiln.tmp" "$RESULTS/bin/kiln"
fi
KILN="$RESULTS/bin/kiln"
command -v cc >/dev/null || die "a C compiler (cc) is needed for peak_flops"
if [ ! -x "$RESULTS/bin/peak_flops" ] || [ "$HERE/peak_flops.c" -nt "$RESULTS/bin/peak_flops" ]; then
  cc -O2 -mavx512f -pthread -o "$RESULTS/bin/peak_flops" "$HERE/peak_flops.c" \
    || die "could not build peak_flops"
fi

# ---- models (cached: re-exported only when export_models.py changed) ----------------------
IFS=, read -r -a MODEL_LIST <<<"$MODELS"
for m in "${MODEL_LIST[@]}"; do
  onnx="$MODELS_DIR/$m.onnx"
  if [ ! -f "$onnx" ] || [ "$HERE/export_models.py" -nt "$onnx" ]; then
    log "exporting $m"
    $PY "$HERE/export_models.py" --out "$MODELS_DIR" --models "$m" 2>&1 \
      | grep -v -i "warning\|^  " >&2 || true
    [ -f "$onnx" ] || die "export of $m failed"
  fi
done

# ---- one configuration: compile, check, alternate kiln and ORT ---------------------------
input_args() { # model seq -> "--input name=file ..."
  local d="$MODELS_DIR/inputs/${1}_s$2" args=()
  for f in "$d"/*.npy; do args+=(--input "$(basename "$f" .npy)=$f"); done
  echo "${args[@]}"
}

run_config() { # model seq rounds runs
  local m="$1" s="$2" rounds="$3" runs="$4"
  local tag="${m}_s$s" onnx="$MODELS_DIR/$m.onnx" lib_dir="$LIBS/${m}_s$s"
  local out="$RAW/$tag"
  rm -rf "$out"
  mkdir -p "$out"
  $PY "$HERE/export_models.py" --out "$MODELS_DIR" --models "$m" --inputs "$s" >/dev/null
  local inputs
  inputs="$(input_args "$m" "$s")"
  local lib="$lib_dir/lib$m.so"
  if [ ! -f "$lib" ] || [ "$onnx" -nt "$lib" ] || [ "$KILN" -nt "$lib" ]; then
    log "$tag: kiln compile"
    "$KILN" compile "$onnx" -o "$lib_dir" --dim seq="$s" --stats >"$out/compile.log" 2>&1 \
      || { cat "$out/compile.log" >&2; die "kiln compile of $m at S=$s failed"; }
  fi
  cp "$lib_dir/$m.json" "$out/lib.json"

  log "$tag: checking kiln against ONNX Runtime"
  # shellcheck disable=SC2086
  "$KILN" run "$lib" $inputs --output-dir "$out/kiln_out" >/dev/null \
    || die "kiln run of $m at S=$s failed"
  # shellcheck disable=SC2086
  node "$HERE/ort_bench.js" "$onnx" $inputs --threads "$THREADS" --runs 1 --warmup 0 \
    --output-dir "$out/ort_out" >/dev/null || die "ONNX Runtime failed on $m at S=$s"
  $PY "$HERE/report.py" check "$out/kiln_out" "$out/ort_out" --tol 1e-3 \
    --json "$out/check.json" >&2 || CHECK_FAILED+=("$tag")

  for ((r = 1; r <= rounds; ++r)); do
    # shellcheck disable=SC2086
    "$KILN" bench "$lib" $inputs --threads "$THREADS" --runs "$runs" --warmup 2 --json \
      >"$out/kiln_r$r.json" || die "kiln bench of $m at S=$s failed"
    # shellcheck disable=SC2086
    node "$HERE/ort_bench.js" "$onnx" $inputs --threads "$THREADS" --runs "$runs" --warmup 2 \
      >"$out/ort_r$r.json" || die "ORT bench of $m at S=$s failed"
    # The peak is probed between rounds too (best of all probes), so a busy moment at the
    # start does not understate it.
    "$RESULTS/bin/peak_flops" --threads 1 --threads "$THREADS" --probes 30 >"$out/peak_r$r.json"
    $PY - "$out/kiln_r$r.json" "$out/ort_r$r.json" "$tag" "$r" >&2 <<'EOF'
import json, sys
k, o = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
print(f"   {sys.argv[3]} round {sys.argv[4]}: kiln {k['median_ms']:.1f} ms, "
      f"ORT {o['median_ms']:.1f} ms, ratio {k['median_ms'] / o['median_ms']:.2f}")
EOF
  done
}

CHECK_FAILED=()
log "peak FLOPS (before)"
"$RESULTS/bin/peak_flops" --threads 1 --threads "$THREADS" >"$RESULTS/peak_before.json"
cat "$RESULTS/peak_before.json" >&2
rm -rf "$RAW"
mkdir -p "$RAW"
for m in "${MODEL_LIST[@]}"; do
  run_config "$m" "$SEQ" "$ROUNDS" "$RUNS"
done
if [ -n "$SWEEP" ] && [[ ",$MODELS," == *,bert_base,* ]]; then
  IFS=, read -r -a SEQS <<<"$SWEEP"
  for s in "${SEQS[@]}"; do
    [ "$s" = "$SEQ" ] && continue # already measured above, with more rounds
    run_config bert_base "$s" "$SWEEP_ROUNDS" "$SWEEP_RUNS"
  done
fi
log "peak FLOPS (after)"
"$RESULTS/bin/peak_flops" --threads 1 --threads "$THREADS" >"$RESULTS/peak_after.json"
cat "$RESULTS/peak_after.json" >&2

# ---- report ------------------------------------------------------------------------------
$PY "$HERE/report.py" summary "$RAW" --peak "$RESULTS/peak_before.json" \
  --peak "$RESULTS/peak_after.json" --json "$RESULTS/summary.json" \
  --markdown "$RESULTS/summary.md"
PEAK="$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['peak_gflops']['$THREADS'])" \
  "$RESULTS/summary.json")"
for m in "${MODEL_LIST[@]}"; do
  d="$RAW/${m}_s$SEQ"
  # The profile of the round whose median is the middle one.
  mid="$($PY - "$d" <<'EOF'
import glob, json, sys
runs = sorted(glob.glob(sys.argv[1] + "/kiln_r*.json"), key=lambda p: json.load(open(p))["median_ms"])
print(runs[len(runs) // 2])
EOF
)"
  echo
  echo "per-kernel profile, $m S=$SEQ ($(basename "$mid")):"
  $PY "$HERE/report.py" profile "$mid" "$d/lib.json" --top 10 --peak "$PEAK" \
    | tee "$RESULTS/profile_${m}_s$SEQ.md"
done
if [ -n "$SWEEP" ] && [[ ",$MODELS," == *,bert_base,* ]]; then
  $PY "$HERE/report.py" plot "$RESULTS/summary.json" "$RESULTS/latency_vs_seq.png" \
    --model bert_base
  size=$(stat -c %s "$RESULTS/latency_vs_seq.png")
  if [ "$size" -lt 204800 ]; then
    mkdir -p "$ROOT/docs"
    cp "$RESULTS/latency_vs_seq.png" "$ROOT/docs/bench_latency.png"
    log "copied the plot to docs/bench_latency.png"
  else
    log "plot is $size bytes (>= 200 KB): not copied to docs/"
  fi
fi
if [ ${#CHECK_FAILED[@]} -gt 0 ]; then
  die "kiln's outputs differ from ONNX Runtime's beyond 1e-3 for: ${CHECK_FAILED[*]}"
fi

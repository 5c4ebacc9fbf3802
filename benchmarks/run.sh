#!/bin/bash
# kiln vs ONNX Runtime side by side: exports BERT-base and GPT-2-small, compiles them with kiln
# for each target ISA, checks outputs against ONNX Runtime, times both alternately and writes
# benchmarks/results/.
#
#   benchmarks/run.sh [--threads N] [--rounds N] [--runs N] [--seq S] [--models a,b]
#                     [--sweep 32,64,128,256,512 | --no-sweep] [--sweep-rounds N]
#                     [--sweep-runs N] [--targets host,x86-64-avx2] [--kiln PATH]
#
# --targets: kiln targets (host, x86-64, x86-64-avx2, x86-64-avx512, x86-64-avx512-bf16, or an
# x86-64 Halide target string); default host, plus x86-64-avx2 on an AVX-512 host.
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
TARGETS="" # empty: host (+ x86-64-avx2 on an AVX-512 host), decided once the ISA is known
KILN="${KILN:-$ROOT/build/bin/kiln}"
VENV="$HERE/.venv"
REQUIREMENTS="$HERE/requirements.txt"

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
    --targets) TARGETS="$2"; [ -n "$TARGETS" ] || die "--targets is empty"; shift 2 ;;
    --kiln) KILN="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
           matplotlib:python3-matplotlib ensurepip:python3-venv; do
  $PY -c "import ${mod%%:*}" 2>/dev/null || missing+=("${mod#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2 \
    || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2; } \
    || die "could not install ${missing[*]}"
fi
# ONNX Runtime: PyPI's onnxruntime (CPU EP) in a virtual environment of its own, never in the
# system Python; versions pinned in requirements.txt, reinstalled when that file changes.
if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQUIREMENTS" "$VENV/kiln-requirements.txt"; then
  log "installing onnxruntime (pinned in $REQUIREMENTS) into $VENV"
  [ -x "$VENV/bin/python" ] || $PY -m venv "$VENV" >&2 || die "could not create $VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
    -r "$REQUIREMENTS" >&2 || die "pip install -r $REQUIREMENTS (onnxruntime) failed"
  cp "$REQUIREMENTS" "$VENV/kiln-requirements.txt"
fi
ORT_PY="$VENV/bin/python"
ORT_VERSION="$("$ORT_PY" -c 'import onnxruntime; print(onnxruntime.__version__)')" \
  || die "onnxruntime does not import in $VENV (remove the folder and rerun)"
# A private copy of kiln, so that a rebuild of the tree during the run cannot change (or
# briefly remove) the compiler between configurations.
if ! cmp -s "$KILN" "$RESULTS/bin/kiln"; then
  cp "$KILN" "$RESULTS/bin/kiln.tmp" && mv "$RESULTS/bin/kiln.tmp" "$RESULTS/bin/kiln"
fi
KILN="$RESULTS/bin/kiln"
command -v cc >/dev/null || die "a C compiler (cc) is needed for peak_flops"
PEAK_FLOPS="$RESULTS/bin/peak_flops"
if [ ! -x "$PEAK_FLOPS" ] || [ "$HERE/peak_flops.c" -nt "$PEAK_FLOPS" ]; then
  # No -m flags: each probe carries its own target attribute and is picked from CPUID.
  cc -O2 -pthread -o "$PEAK_FLOPS" "$HERE/peak_flops.c" || die "could not build peak_flops"
fi

# ---- ISAs: the host's, each target's, and the peak probes they need ----------------------
HOST_INFO="$("$PEAK_FLOPS" --threads 1 --probes 1)" || die "peak_flops failed"
read -r HOST_ISA SUPPORTED_ISAS CPU_NAME < <($PY -c '
import json, sys
j = json.loads(sys.argv[1])
print(j["host_isa"], ",".join(j["supported_isas"]), j["cpu"])' "$HOST_INFO")
if [ -z "$TARGETS" ]; then
  TARGETS=host
  if [ "$HOST_ISA" = avx512 ]; then TARGETS=host,x86-64-avx2; fi
fi
isa_of_target() { # kiln target -> the peak probe of the ISA its kernels use
  case "$1" in
    host | host-*) echo "$HOST_ISA" ;;
    x86-64-avx512 | x86-64-avx512-*) echo avx512 ;;
    x86-64-avx2) echo avx2 ;;
    x86-64) echo sse ;;
    x86-64-*avx512*) echo avx512 ;; # Halide target strings
    x86-64-*avx2*) echo avx2 ;;
    x86-64-*) echo sse ;;
    *) return 1 ;;
  esac
}
slug() { echo "${1//[^A-Za-z0-9]/_}"; }
IFS=, read -r -a TARGET_LIST <<<"$TARGETS"
declare -A TARGET_ISA=()
PEAK_ISAS=("$HOST_ISA")
if [ "$HOST_ISA" = avx512 ]; then PEAK_ISAS+=(avx2); fi # an AVX2 column on an AVX-512 host
for t in "${TARGET_LIST[@]}"; do
  [ -n "${TARGET_ISA[$t]:-}" ] && die "target '$t' is listed twice"
  isa="$(isa_of_target "$t")" || die "unknown target '$t' (host, x86-64, x86-64-avx2, \
x86-64-avx512, x86-64-avx512-bf16 or an x86-64 Halide target string)"
  [[ ",$SUPPORTED_ISAS," == *",$isa,"* ]] \
    || die "target '$t' needs $isa, which this CPU ($CPU_NAME: $SUPPORTED_ISAS) lacks"
  TARGET_ISA[$t]="$isa"
  [[ " ${PEAK_ISAS[*]} " == *" $isa "* ]] || PEAK_ISAS+=("$isa")
done
log "host: $CPU_NAME, best ISA $HOST_ISA; targets: ${TARGET_LIST[*]}; peak probes: ${PEAK_ISAS[*]}"
log "ONNX Runtime: onnxruntime $ORT_VERSION (PyPI, in $VENV)"

# The kiln target string each target compiles with. Transitional: while the kiln binary does
# not know a target name yet (it says "invalid Halide target"), the equivalent Halide 14
# target string is used instead, and logged.
declare -A KILN_TARGET=()
halide_target_of() {
  case "$1" in
    x86-64) echo x86-64-linux-sse41 ;;
    x86-64-avx2) echo x86-64-linux-avx-avx2-f16c-fma-sse41 ;;
    x86-64-avx512) echo x86-64-linux-avx-avx2-avx512-avx512_skylake-f16c-fma-sse41 ;;
    *) return 1 ;;
  esac
}

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

kiln_compile() { # model seq target lib_dir log; sets KILN_TARGET[target]
  local m="$1" s="$2" t="$3" dir="$4" logf="$5" kt="${KILN_TARGET[$3]:-$3}" fallback
  if "$KILN" compile "$MODELS_DIR/$m.onnx" -o "$dir" --dim seq="$s" --target="$kt" --stats \
    >"$logf" 2>&1; then
    KILN_TARGET[$t]="$kt"
    return 0
  fi
  if [ "$kt" = "$t" ] && grep -q "invalid Halide target '$t'" "$logf" \
    && fallback="$(halide_target_of "$t")"; then
    log "kiln does not know the target name '$t' yet: compiling with the Halide target $fallback"
    KILN_TARGET[$t]="$fallback"
    "$KILN" compile "$MODELS_DIR/$m.onnx" -o "$dir" --dim seq="$s" --target="$fallback" \
      --stats >"$logf" 2>&1 && return 0
  fi
  return 1
}

run_config() { # model seq rounds runs
  local m="$1" s="$2" rounds="$3" runs="$4"
  local tag="${m}_s$s" onnx="$MODELS_DIR/$m.onnx"
  local out="$RAW/$tag" t ts inputs lib_dir stored reuse
  declare -A lib=()
  rm -rf "$out"
  mkdir -p "$out"
  $PY "$HERE/export_models.py" --out "$MODELS_DIR" --models "$m" --inputs "$s" >/dev/null
  inputs="$(input_args "$m" "$s")"
  for t in "${TARGET_LIST[@]}"; do
    ts="$(slug "$t")"
    lib_dir="$LIBS/$tag/$ts"
    lib[$t]="$lib_dir/lib$m.so"
    # Reused when newer than the model and this kiln, and built with the target string this
    # run uses (before the first compile of the run: the name, or its fallback, which only
    # this same kiln can have chosen); otherwise compiled, trying the name first.
    stored="$(cat "$lib_dir/kiln-target.txt" 2>/dev/null || true)"
    reuse=0
    if [ -f "${lib[$t]}" ] && [ "${lib[$t]}" -nt "$onnx" ] && [ "${lib[$t]}" -nt "$KILN" ]; then
      if [ -n "${KILN_TARGET[$t]:-}" ]; then
        [ "$stored" = "${KILN_TARGET[$t]}" ] && reuse=1
      elif [ -n "$stored" ] && { [ "$stored" = "$t" ] \
        || [ "$stored" = "$(halide_target_of "$t" || true)" ]; }; then
        reuse=1
      fi
    fi
    if [ "$reuse" = 1 ]; then
      KILN_TARGET[$t]="$stored"
    else
      log "$tag: kiln compile --target=${KILN_TARGET[$t]:-$t}"
      rm -rf "$lib_dir"
      kiln_compile "$m" "$s" "$t" "$lib_dir" "$out/compile_$ts.log" \
        || { cat "$out/compile_$ts.log" >&2; die "kiln compile of $m at S=$s for $t failed"; }
      echo "${KILN_TARGET[$t]}" >"$lib_dir/kiln-target.txt"
    fi
    cp "$lib_dir/$m.json" "$out/lib_$ts.json"
  done

  log "$tag: checking kiln against ONNX Runtime"
  # shellcheck disable=SC2086
  "$ORT_PY" "$HERE/ort_bench.py" "$onnx" $inputs --threads "$THREADS" --runs 1 --warmup 0 \
    --output-dir "$out/ort_out" >/dev/null || die "ONNX Runtime failed on $m at S=$s"
  for t in "${TARGET_LIST[@]}"; do
    ts="$(slug "$t")"
    # shellcheck disable=SC2086
    "$KILN" run "${lib[$t]}" $inputs --output-dir "$out/kiln_out_$ts" >/dev/null \
      || die "kiln run of $m at S=$s ($t) failed"
    echo "   target $t:" >&2
    $PY "$HERE/report.py" check "$out/kiln_out_$ts" "$out/ort_out" --tol 1e-3 \
      --json "$out/check_$ts.json" >&2 || CHECK_FAILED+=("$tag ($t)")
  done

  # A round: kiln for the first target, ORT, kiln for each other target; then the peaks.
  local r first
  for ((r = 1; r <= rounds; ++r)); do
    first=1
    for t in "${TARGET_LIST[@]}"; do
      ts="$(slug "$t")"
      # shellcheck disable=SC2086
      "$KILN" bench "${lib[$t]}" $inputs --threads "$THREADS" --runs "$runs" --warmup 2 --json \
        >"$out/kiln_${ts}_r$r.json" || die "kiln bench of $m at S=$s ($t) failed"
      if [ "$first" = 1 ]; then
        # shellcheck disable=SC2086
        "$ORT_PY" "$HERE/ort_bench.py" "$onnx" $inputs --threads "$THREADS" --runs "$runs" \
          --warmup 2 >"$out/ort_r$r.json" || die "ORT bench of $m at S=$s failed"
        first=0
      fi
    done
    # The peak is probed between rounds too (best of all probes), so a busy moment at the
    # start does not understate it.
    for isa in "${PEAK_ISAS[@]}"; do
      "$PEAK_FLOPS" --isa "$isa" --threads 1 --threads "$THREADS" --probes 30 \
        >"$out/peak_${isa}_r$r.json"
    done
    $PY - "$out" "$tag" "$r" "${TARGET_LIST[@]}" >&2 <<'EOF'
import json, re, sys
out, tag, r, targets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
o = json.load(open(f"{out}/ort_r{r}.json"))["median_ms"]
parts = []
for t in targets:
    k = json.load(open(f"{out}/kiln_{re.sub('[^A-Za-z0-9]', '_', t)}_r{r}.json"))["median_ms"]
    parts.append(f"kiln {t} {k:.1f} ms (ratio {k / o:.2f})")
print(f"   {tag} round {r}: ORT {o:.1f} ms; " + ", ".join(parts))
EOF
  done
}

CHECK_FAILED=()
rm -f "$RESULTS"/peak_*.json "$RESULTS"/profile_*.md
for isa in "${PEAK_ISAS[@]}"; do
  log "peak FLOPS, $isa (before)"
  "$PEAK_FLOPS" --isa "$isa" --threads 1 --threads "$THREADS" >"$RESULTS/peak_before_$isa.json"
  cat "$RESULTS/peak_before_$isa.json" >&2
done
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
for isa in "${PEAK_ISAS[@]}"; do
  log "peak FLOPS, $isa (after)"
  "$PEAK_FLOPS" --isa "$isa" --threads 1 --threads "$THREADS" >"$RESULTS/peak_after_$isa.json"
  cat "$RESULTS/peak_after_$isa.json" >&2
done

# ---- report ------------------------------------------------------------------------------
# What the run compared: the host, the targets (with the kiln target strings they compiled
# with) and ONNX Runtime's version; report.py puts it in the summary.
$PY - "$RAW/run.json" "$HOST_ISA" "$SUPPORTED_ISAS" "$CPU_NAME" "$THREADS" "$ORT_VERSION" \
  "$("$ORT_PY" -c 'import sys; print(sys.version.split()[0])')" "${PEAK_ISAS[*]}" \
  "$(for t in "${TARGET_LIST[@]}"; do echo "$t ${TARGET_ISA[$t]} ${KILN_TARGET[$t]:-$t}"; done)" \
  <<'EOF'
import json, sys
out, host_isa, supported, cpu, threads, ort_version, py_version, peak_isas, targets = sys.argv[1:]
json.dump({
    "host_isa": host_isa, "supported_isas": supported.split(","), "cpu": cpu,
    "threads": int(threads), "peak_isas": peak_isas.split(),
    "onnxruntime": {"package": "onnxruntime (PyPI)", "version": ort_version,
                    "python": py_version, "execution_provider": "CPUExecutionProvider"},
    "targets": [dict(zip(("target", "isa", "kiln_target"), line.split()))
                for line in targets.splitlines() if line.strip()],
}, open(out, "w"), indent=2)
EOF
peak_args=()
for f in "$RESULTS"/peak_before_*.json "$RESULTS"/peak_after_*.json; do peak_args+=(--peak "$f"); done
$PY "$HERE/report.py" summary "$RAW" "${peak_args[@]}" --json "$RESULTS/summary.json" \
  --markdown "$RESULTS/summary.md"
for m in "${MODEL_LIST[@]}"; do
  d="$RAW/${m}_s$SEQ"
  for t in "${TARGET_LIST[@]}"; do
    ts="$(slug "$t")"
    peak="$($PY -c 'import json, sys
print(json.load(open(sys.argv[1]))["peak_gflops"].get(sys.argv[2], {}).get(sys.argv[3], 0))' \
      "$RESULTS/summary.json" "${TARGET_ISA[$t]}" "$THREADS")"
    # The profile of the round whose median is the middle one.
    mid="$($PY - "$d" "$ts" <<'EOF'
import glob, json, sys
runs = sorted(glob.glob(f"{sys.argv[1]}/kiln_{sys.argv[2]}_r*.json"),
              key=lambda p: json.load(open(p))["median_ms"])
print(runs[len(runs) // 2])
EOF
)"
    echo
    echo "per-kernel profile, $m S=$SEQ, target $t (${TARGET_ISA[$t]} peak; $(basename "$mid")):"
    $PY "$HERE/report.py" profile "$mid" "$d/lib_$ts.json" --top 10 --peak "$peak" \
      | tee "$RESULTS/profile_${m}_s${SEQ}_$ts.md"
  done
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

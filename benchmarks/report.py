#!/usr/bin/python3
# Helpers for benchmarks/run.sh: output comparison (kiln vs ONNX Runtime), the side-by-side
# summary (ratios, GFLOP/s, % of peak), the per-kernel profile and the latency-vs-S plot.
"""Subcommands (all read/write files under benchmarks/results/):

  check KILN_DIR ORT_DIR [--tol 1e-3]
      compares every NAME.npy in ORT_DIR with KILN_DIR/NAME.npy; prints
      max|kiln - ort| / max|ort| per output; exit 1 if any is above --tol.
  summary RAW_DIR --peak PEAK.json... [--json OUT] [--markdown OUT]
      RAW_DIR/<model>_s<S>/{kiln_<target>,ort}_r<i>.json (+ lib_<target>.json, kiln's
      library report; peak_<isa>_r<i>.json) and RAW_DIR/run.json (host, targets, ONNX
      Runtime version) -> medians over rounds, ratios, GFLOP/s and % of the ISA's peak,
      one table per ISA.
  profile KILN_BENCH.json LIB.json [--top 10] [--peak GFLOPS]
      per-kernel profile grouped by unique kernel, with FLOPs from the kernel shapes.
  plot SUMMARY.json OUT.png [--model bert_base]
"""

import argparse
import glob
import json
import math
import os
import re
import statistics
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export_models import flops as model_flops  # noqa: E402


# ------------------------------------------------------------------------------------------
# check
# ------------------------------------------------------------------------------------------
def cmd_check(args):
    worst = 0.0
    names = sorted(glob.glob(os.path.join(args.ort_dir, "*.npy")))
    if not names:
        sys.exit(f"error: no .npy outputs in {args.ort_dir}")
    ok = True
    for ort_path in names:
        name = os.path.basename(ort_path)
        kiln_path = os.path.join(args.kiln_dir, name)
        if not os.path.exists(kiln_path):
            print(f"{name}: missing in {args.kiln_dir}")
            ok = False
            continue
        ref, got = np.load(ort_path), np.load(kiln_path)
        if ref.shape != got.shape:
            print(f"{name}: shape {got.shape} from kiln, {ref.shape} from ONNX Runtime")
            ok = False
            continue
        scale = max(float(np.abs(ref).max()), 1e-30)
        err = float(np.abs(got.astype(np.float64) - ref).max()) / scale
        if not math.isfinite(err):
            err = float("inf")
        worst = max(worst, err)
        status = "ok" if err <= args.tol else "MISMATCH"
        print(f"{name[:-4]}: max|kiln-ort|/max|ort| = {err:.2e} (scale {scale:.3g}) {status}")
        ok = ok and err <= args.tol
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"max_rel_err": worst, "tolerance": args.tol, "ok": ok}, f)
    sys.exit(0 if ok else 1)


# ------------------------------------------------------------------------------------------
# kernel FLOPs from kiln's library report (kernel keys carry the op and its tensor types)
# ------------------------------------------------------------------------------------------


def shapes_of(text):
    out = []
    for m in re.finditer(r"tensor<([^>]*)>", text):
        dims = [d for d in m.group(1).split("x")[:-1]]
        out.append([int(d) for d in dims if d.isdigit()])
    return out


def kernel_flops(key):
    """FLOPs of one call of a kernel, from its key, e.g. 'halide kiln.matmul(tensor<1x128x768xf32>,
    tensor<768x768xf32> packed) -> (tensor<1x128x768xf32>)'; 0 for non-matmul-like ops."""
    m = re.match(r"\S+ (kiln\.\w+)\((.*)\) -> \((.*?)\)", key)
    if not m:
        return 0, "?"
    op, ins, outs = m.group(1), shapes_of(m.group(2)), shapes_of(m.group(3))
    if op in ("kiln.matmul", "kiln.fused_matmul") and ins and outs:
        trans_b = "trans_b=true" in key
        b = ins[1]
        k = b[-1] if trans_b else b[-2]
        return 2 * math.prod(outs[0]) * k, op
    if op == "kiln.attention" and ins:
        heads = int(re.search(r"num_heads=(\d+)", key).group(1))
        layout = re.search(r'layout="(\w+)"', key)
        q, kk = ins[0], ins[1]
        if layout and layout.group(1) == "bsd":  # [B, S, H*dh]
            b, sq, d = q
            sk = kk[1]
            return 4 * b * sq * sk * d, op  # Q.K^T and P.V
        b, h, sq, dh = q  # bhsd
        sk = kk[-1] if "k_transposed=true" in key else kk[-2]
        return 4 * b * h * sq * sk * dh, op
    return 0, op


def load_profile(bench_json, lib_json):
    """Groups kiln bench's per-step profile by unique kernel: time, calls, FLOPs."""
    bench = json.load(open(bench_json))
    lib = json.load(open(lib_json))
    fn_of_step = {s["name"]: s["function"] for s in lib.get("step_list", [])}
    key_of_fn = {k["function"]: k["key"] for k in lib.get("kernels", [])}
    groups = {}
    for k in bench["kernels"]:
        fn = fn_of_step.get(k["name"], k["name"])
        key = key_of_fn.get(fn, k["name"])
        g = groups.setdefault(fn, {"key": key, "ms": 0.0, "sites": 0, "example": k["name"]})
        g["ms"] += k["ms_per_run"]
        g["sites"] += 1
    total = sum(g["ms"] for g in groups.values())
    rows = []
    for fn, g in groups.items():
        f, op = kernel_flops(g["key"])
        gflops = f * g["sites"] / (g["ms"] * 1e-3) / 1e9 if g["ms"] > 0 and f else 0.0
        rows.append({"function": fn, "op": op, "key": g["key"], "example": g["example"],
                     "sites": g["sites"], "ms": g["ms"], "share": g["ms"] / total if total else 0,
                     "gflop_per_call": f / 1e9, "gflops": gflops})
    rows.sort(key=lambda r: -r["ms"])
    return rows, total


def short_key(key):
    """'kiln.fused_matmul 128x768 * 768x3072 gelu' style description of a kernel key."""
    m = re.match(r"\S+ (kiln\.\w+)\((.*)\) -> \((.*?)\)(.*)", key)
    if not m:
        return key[:60]
    op, ins = m.group(1), shapes_of(m.group(2))
    attrs = m.group(4)
    desc = op.replace("kiln.", "") + " " + ", ".join("x".join(map(str, s)) or "scalar"
                                                     for s in ins)
    act = re.search(r'activation="(\w+)"', attrs)
    if act and act.group(1) != "none":
        desc += f" +{act.group(1)}"
    if op == "kiln.fused_matmul" and len(ins) > 2:
        desc += " +bias"
    if "causal=true" in attrs:
        desc += " causal"
    return desc


def profile_table(rows, total, top, peak):
    lines = ["| # | kernel (unique; shapes) | call sites | ms / run | share | GFLOP/s | % of peak |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for i, r in enumerate(rows[:top], 1):
        gf = f"{r['gflops']:.1f}" if r["gflops"] else "–"
        pk = f"{100 * r['gflops'] / peak:.0f}%" if r["gflops"] and peak else "–"
        lines.append(f"| {i} | `{short_key(r['key'])}` | {r['sites']} | {r['ms']:.2f} | "
                     f"{100 * r['share']:.1f}% | {gf} | {pk} |")
    mm = [r for r in rows if r["gflops"]]
    mm_ms = sum(r["ms"] for r in mm)
    mm_gf = sum(r["gflop_per_call"] * r["sites"] for r in mm)
    lines.append("")
    lines.append(f"Profiled total {total:.1f} ms/run; matmul + attention kernels "
                 f"{mm_ms:.1f} ms ({100 * mm_ms / total:.0f}%) for {mm_gf:.2f} GFLOP "
                 f"= {mm_gf / (mm_ms * 1e-3):.1f} GFLOP/s"
                 + (f" ({100 * mm_gf / (mm_ms * 1e-3) / peak:.0f}% of peak)" if peak else "")
                 + f"; the rest {total - mm_ms:.1f} ms.")
    return "\n".join(lines)


def cmd_profile(args):
    rows, total = load_profile(args.bench_json, args.lib_json)
    print(profile_table(rows, total, args.top, args.peak))


# ------------------------------------------------------------------------------------------
# summary
# ------------------------------------------------------------------------------------------
def read_peak(paths):
    """Best peak per ISA and thread count over several peak_flops runs:
    {isa: {threads: GFLOP/s}}. Files from before peak_flops had --isa are AVX-512 probes."""
    best = {}
    for p in paths:
        if not os.path.exists(p):
            continue
        j = json.load(open(p))
        per_isa = best.setdefault(j.get("isa", "avx512"), {})
        for t, v in j["peak_gflops"].items():
            per_isa[int(t)] = max(per_isa.get(int(t), 0.0), v)
    return best


def slug(target):
    """A target name as run.sh spells it in file names."""
    return re.sub(r"[^A-Za-z0-9]", "_", target)


def isa_of_target(target, host_isa):
    """The peak probe of the ISA a kiln target's kernels use (as run.sh maps them)."""
    if target == "host" or target.startswith("host-"):
        return host_isa
    if "avx512" in target:
        return "avx512"
    if "avx2" in target:
        return "avx2"
    return "sse"


ISA_ORDER = {"avx512": 0, "avx2": 1, "sse": 2}


def cmd_summary(args):
    run_json = os.path.join(args.raw_dir, "run.json")
    run = json.load(open(run_json)) if os.path.exists(run_json) else {}
    peak = read_peak(args.peak + sorted(glob.glob(os.path.join(args.raw_dir, "*", "peak_*.json"))))
    host_isa = run.get("host_isa") or ("avx512" if "avx512" in peak else next(iter(peak), "?"))
    targets = {slug(t["target"]): t for t in run.get("targets", [])}
    target_order = [slug(t["target"]) for t in run.get("targets", [])]
    ort_version = run.get("onnxruntime", {}).get("version")
    configs = []
    for d in sorted(glob.glob(os.path.join(args.raw_dir, "*_s*"))):
        m = re.match(r"(.+)_s(\d+)$", os.path.basename(d))
        if not m:
            continue
        model, seq = m.group(1), int(m.group(2))
        ort = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(d, "ort_r*.json")))]
        if not ort:
            continue
        if not ort_version:
            ort_version = ort[0].get("onnxruntime_version") or ort[0].get("runtime")
        # kiln_<target>_r<i>.json per target (kiln_r<i>.json: a run from before --targets).
        by_target = {}
        for p in sorted(glob.glob(os.path.join(d, "kiln_*r*.json"))):
            km = re.match(r"kiln_(?:(.+)_)?r(\d+)\.json$", os.path.basename(p))
            if km:
                by_target.setdefault(km.group(1) or "host", []).append(json.load(open(p)))
        threads = ort[0]["threads"]
        fl = model_flops(model, seq)
        o_med = statistics.median(r["median_ms"] for r in ort)
        ort_peak = peak.get(host_isa, {}).get(threads)
        for ts in sorted(by_target, key=lambda s: (target_order.index(s)
                                                    if s in target_order else 99, s)):
            kiln = by_target[ts]
            info = targets.get(ts, {"target": ts, "kiln_target": ts})
            isa = info.get("isa") or isa_of_target(info["target"], host_isa)
            k_med = statistics.median(r["median_ms"] for r in kiln)
            check = os.path.join(d, f"check_{ts}.json")
            if not os.path.exists(check):
                check = os.path.join(d, "check.json")
            cfg = {
                "model": model, "seq": seq, "threads": threads, "rounds": len(kiln),
                "target": info["target"], "kiln_target": info.get("kiln_target", info["target"]),
                "isa": isa, "ort_isa": host_isa,
                "gflop": fl / 1e9,
                "kiln_median_ms": k_med, "ort_median_ms": o_med,
                "kiln_round_medians": [r["median_ms"] for r in kiln],
                "ort_round_medians": [r["median_ms"] for r in ort],
                "kiln_p90_ms": statistics.median(r["p90_ms"] for r in kiln),
                "ort_p90_ms": statistics.median(r["p90_ms"] for r in ort),
                "ratio_kiln_over_ort": k_med / o_med,
                # Least-disturbed round of each (the machine is shared): a second view, not
                # the headline number.
                "kiln_best_round_ms": min(r["median_ms"] for r in kiln),
                "ort_best_round_ms": min(r["median_ms"] for r in ort),
                "kiln_gflops": fl / (k_med * 1e-3) / 1e9,
                "ort_gflops": fl / (o_med * 1e-3) / 1e9,
                "check": json.load(open(check)) if os.path.exists(check) else None,
            }
            # kiln against the peak of the ISA its kernels were compiled for; ONNX Runtime
            # (which dispatches on CPUID itself) against the host's best ISA.
            if threads in peak.get(isa, {}):
                cfg["peak_gflops"] = peak[isa][threads]
                cfg["kiln_pct_peak"] = 100 * cfg["kiln_gflops"] / peak[isa][threads]
            if ort_peak:
                cfg["ort_peak_gflops"] = ort_peak
                cfg["ort_pct_peak"] = 100 * cfg["ort_gflops"] / ort_peak
            configs.append(cfg)
    configs.sort(key=lambda c: (ISA_ORDER.get(c["isa"], 9), c["model"], c["seq"],
                                target_order.index(slug(c["target"]))
                                if slug(c["target"]) in target_order else 99))
    out = {
        "cpu": run.get("cpu"), "host_isa": host_isa, "supported_isas": run.get("supported_isas"),
        "onnxruntime_version": ort_version, "onnxruntime": run.get("onnxruntime"),
        "targets": run.get("targets"),
        "peak_gflops": peak, "configs": configs,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    lines = []
    if run.get("cpu"):
        lines.append(f"Host: {run['cpu']}, ISAs {', '.join(run.get('supported_isas') or [])} "
                     f"(best: {host_isa}); {run.get('threads', '?')} threads.")
    if ort_version:
        ov = run.get("onnxruntime") or {}
        lines.append(f"ONNX Runtime: onnxruntime {ort_version} (PyPI"
                     + (f", Python {ov['python']}" if ov.get("python") else "")
                     + "), CPU execution provider, graph optimization level all, "
                     "sequential, inter-op threads 1.")
    if lines:
        lines.append("")
    pk = lambda g, p: f"{g:.1f} ({p:.0f}%)" if p is not None else f"{g:.1f}"
    for isa in sorted({c["isa"] for c in configs}, key=lambda i: ISA_ORDER.get(i, 9)):
        rows = [c for c in configs if c["isa"] == isa]
        names = []
        for c in rows:
            n = c["target"] + (f" (as `{c['kiln_target']}`)" if c["kiln_target"] != c["target"]
                               else "")
            if n not in names:
                names.append(n)
        isa_peak = peak.get(isa, {}).get(rows[0]["threads"])
        lines.append(f"### {isa}: kiln --target {', '.join(names)}"
                     + (f"; peak {isa_peak:.1f} GFLOP/s on {rows[0]['threads']} threads"
                        if isa_peak else ""))
        lines.append("")
        lines.append(f"| model | S | target | GFLOP | kiln median ms | ORT median ms | kiln/ORT | "
                     f"kiln GFLOP/s (% {isa} peak) | ORT GFLOP/s (% {host_isa} peak) | "
                     "best round kiln / ORT ms (ratio) | max rel err |")
        lines.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in rows:
            err = f"{c['check']['max_rel_err']:.1e}" if c["check"] else "–"
            lines.append(
                f"| {c['model']} | {c['seq']} | {c['target']} | {c['gflop']:.2f} | "
                f"{c['kiln_median_ms']:.1f} | "
                f"{c['ort_median_ms']:.1f} | **{c['ratio_kiln_over_ort']:.2f}** | "
                f"{pk(c['kiln_gflops'], c.get('kiln_pct_peak'))} | "
                f"{pk(c['ort_gflops'], c.get('ort_pct_peak'))} | "
                f"{c['kiln_best_round_ms']:.1f} / {c['ort_best_round_ms']:.1f} "
                f"({c['kiln_best_round_ms'] / c['ort_best_round_ms']:.2f}) | {err} |")
        lines.append("")
    lines.append("Medians are the median over rounds of each round's median; a round runs kiln "
                 "for the first target, ONNX Runtime, then kiln for the other targets. "
                 "ONNX Runtime picks its own kernels from CPUID, so every table compares "
                 f"against the same ONNX Runtime run (on {host_isa}).")
    for isa in sorted(peak, key=lambda i: ISA_ORDER.get(i, 9)):
        lines.append(f"Measured FP32 peak, {isa} probe: " + ", ".join(
            f"{v:.1f} GFLOP/s on {t} thread{'s' if t > 1 else ''}"
            for t, v in sorted(peak[isa].items())) + ".")
    text = "\n".join(lines)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    print(text)


# ------------------------------------------------------------------------------------------
# plot
# ------------------------------------------------------------------------------------------
def cmd_plot(args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    summary = json.load(open(args.summary))
    cs = [c for c in summary["configs"] if c["model"] == args.model]
    targets = []
    for c in cs:
        if c.get("target", "host") not in targets:
            targets.append(c.get("target", "host"))
    by_target = {t: sorted((c for c in cs if c.get("target", "host") == t),
                           key=lambda c: c["seq"]) for t in targets}
    seqs = sorted({c["seq"] for c in cs})
    if len(seqs) < 2:
        sys.exit(f"error: fewer than 2 sequence lengths for {args.model} in {args.summary}")
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=90)
    for i, t in enumerate(targets):
        rows = by_target[t]
        label = f"kiln ({t}, {rows[0].get('isa', '?')})" if len(targets) > 1 else "kiln"
        ax.plot([c["seq"] for c in rows], [c["kiln_median_ms"] for c in rows], "o-",
                color=f"C{2 * i}", label=label)
        ax2.plot([c["seq"] for c in rows], [c["ratio_kiln_over_ort"] for c in rows], "o-",
                 color=f"C{2 * i}", label=label)
    ort_rows = by_target[targets[0]]
    ax.plot([c["seq"] for c in ort_rows], [c["ort_median_ms"] for c in ort_rows], "s--",
            color="C1", label="ONNX Runtime (CPU EP)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(seqs)
    ax.set_xticklabels([str(s) for s in seqs])
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("sequence length S")
    ax.set_ylabel("median latency (ms, log scale)")
    ax.set_title(f"{args.model}, batch 1, {cs[0]['threads']} threads")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    ax2.axhline(1.0, color="gray", lw=1, ls=":")
    ax2.set_xscale("log", base=2)
    ax2.set_xticks(seqs)
    ax2.set_xticklabels([str(s) for s in seqs])
    ax2.set_xlabel("sequence length S")
    ax2.set_ylabel("kiln / ORT latency")
    ax2.set_ylim(bottom=0)
    ax2.set_title("ratio (lower is better for kiln)")
    ax2.grid(True, alpha=0.3)
    if len(targets) > 1:
        ax2.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out) // 1024} KB)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("check")
    p.add_argument("kiln_dir")
    p.add_argument("ort_dir")
    p.add_argument("--tol", type=float, default=1e-3)
    p.add_argument("--json")
    p.set_defaults(fn=cmd_check)
    p = sub.add_parser("summary")
    p.add_argument("raw_dir")
    p.add_argument("--peak", action="append", default=[])
    p.add_argument("--json")
    p.add_argument("--markdown")
    p.set_defaults(fn=cmd_summary)
    p = sub.add_parser("profile")
    p.add_argument("bench_json")
    p.add_argument("lib_json")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--peak", type=float, default=0.0)
    p.set_defaults(fn=cmd_profile)
    p = sub.add_parser("plot")
    p.add_argument("summary")
    p.add_argument("out")
    p.add_argument("--model", default="bert_base")
    p.set_defaults(fn=cmd_plot)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()

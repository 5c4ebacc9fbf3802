#!/usr/bin/env python3
# ONNX Runtime side of kiln's benchmarks: times a model with PyPI onnxruntime (CPU EP, all
# graph optimizations) on .npy inputs and prints one JSON object with median/p90.
"""Times an ONNX model with ONNX Runtime's CPU execution provider.

  benchmarks/.venv/bin/python benchmarks/ort_bench.py MODEL.onnx --input NAME=FILE.npy ...
      [--threads N] [--runs N] [--warmup N] [--output-dir DIR]   (writes each output as NAME.npy)

Session: graph optimization level ORT_ENABLE_ALL, intra_op_num_threads = --threads,
inter_op_num_threads = 1, sequential execution, CPUExecutionProvider only. run.sh installs
onnxruntime (pinned in benchmarks/requirements.txt) into benchmarks/.venv and runs this
script with that environment's python.
"""

import json
import os
import sys
import time

USAGE = ("usage: ort_bench.py MODEL.onnx --input NAME=FILE.npy ... [--threads N] "
         "[--runs N] [--warmup N] [--output-dir DIR]")


def usage(message=None):
    if message:
        print(f"ort_bench: error: {message}", file=sys.stderr)
    print(USAGE, file=sys.stderr)
    sys.exit(2)


def parse_args(argv):
    opts = {"model": None, "inputs": [], "threads": 2, "runs": 20, "warmup": 3,
            "output_dir": None}
    i = 0
    while i < len(argv):
        a = argv[i]

        def value():
            nonlocal i
            if i + 1 >= len(argv):
                usage(f"{a} needs a value")
            i += 1
            return argv[i]

        def int_value():
            v = value()
            if not v.isdigit():
                usage(f"{a} needs a non-negative integer, got '{v}'")
            return int(v)

        if a == "--input":
            v = value()
            eq = v.find("=")
            if eq <= 0:
                usage(f"--input wants NAME=FILE.npy, got '{v}'")
            opts["inputs"].append((v[:eq], v[eq + 1:]))
        elif a == "--threads":
            opts["threads"] = int_value()
        elif a == "--runs":
            opts["runs"] = int_value()
        elif a == "--warmup":
            opts["warmup"] = int_value()
        elif a == "--output-dir":
            opts["output_dir"] = value()
        elif a in ("--help", "-h"):
            usage()
        elif a.startswith("--"):
            usage(f"unknown option {a}")
        elif opts["model"] is None:
            opts["model"] = a
        else:
            usage(f"unexpected argument '{a}'")
        i += 1
    if opts["model"] is None:
        usage("no model given")
    if opts["runs"] < 1:
        usage("--runs must be at least 1")
    return opts


def quantile(sorted_times, q):
    """Linear interpolation between closest ranks (numpy's default)."""
    pos = (len(sorted_times) - 1) * q
    lo, hi = int(pos // 1), -int(-pos // 1)
    return sorted_times[lo] + (sorted_times[hi] - sorted_times[lo]) * (pos - lo)


def main():
    opts = parse_args(sys.argv[1:])
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as e:
        here = os.path.dirname(os.path.abspath(__file__))
        sys.exit(f"ort_bench: error: cannot import onnxruntime/numpy ({e}); run it with "
                 f"{here}/.venv/bin/python (benchmarks/run.sh creates it with the versions in "
                 f"{here}/requirements.txt)")

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = opts["threads"]
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(opts["model"], sess_options=so,
                                   providers=["CPUExecutionProvider"])
    input_names = [i.name for i in session.get_inputs()]
    output_names = [o.name for o in session.get_outputs()]
    feeds = {}
    for name, path in opts["inputs"]:
        if name not in input_names:
            raise ValueError(f"input '{name}' is not an input of {opts['model']} "
                             f"(inputs: {', '.join(input_names)})")
        arr = np.load(path, allow_pickle=False)
        feeds[name] = np.ascontiguousarray(arr)
    for name in input_names:
        if name not in feeds:
            raise ValueError(f"no --input given for model input '{name}'")

    outputs = None
    for _ in range(opts["warmup"]):
        outputs = session.run(output_names, feeds)
    times = []
    for _ in range(opts["runs"]):
        t0 = time.perf_counter_ns()
        outputs = session.run(output_names, feeds)
        times.append((time.perf_counter_ns() - t0) / 1e6)
    if opts["output_dir"]:
        os.makedirs(opts["output_dir"], exist_ok=True)
        for name, value in zip(output_names, outputs):
            np.save(os.path.join(opts["output_dir"], name + ".npy"), np.asarray(value))
    s = sorted(times)
    print(json.dumps({
        "runtime": f"onnxruntime {ort.__version__} (Python {sys.version.split()[0]})",
        "onnxruntime_version": ort.__version__,
        "execution_provider": "cpu",
        "graph_optimization_level": "all",
        "intra_op_num_threads": opts["threads"],
        "inter_op_num_threads": 1,
        "execution_mode": "sequential",
        "model": opts["model"],
        "threads": opts["threads"],
        "runs": opts["runs"],
        "warmup": opts["warmup"],
        "median_ms": quantile(s, 0.5),
        "p90_ms": quantile(s, 0.9),
        "min_ms": s[0],
        "times_ms": times,
    }))


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - one line on stderr, no traceback
        print(f"ort_bench: error: {e}", file=sys.stderr)
        sys.exit(1)

#!/usr/bin/python3
"""Runs every malformed model of models/ (listed in models/expected.txt)
through `kiln compile` and `kiln run --backend=interpreter` and checks that
each fails cleanly: a non-zero exit (not a signal, not a timeout), a
`NAME.onnx: error: ...` line holding the expected substring, no crash report,
all under a 4 GB address-space limit and a per-call timeout.

Usage: run_corpus.py KILN [--models DIR] [--only NAME] [--jobs N]
                      [--memory-limit-gb N]   (0: none, for ASan builds,
                                               which reserve terabytes)
Exit status 0 when every case passes; a summary of failures otherwise.
"""
import argparse
import concurrent.futures
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MEMORY_LIMIT = 4 << 30  # bytes of address space per kiln process (0: none)
TIMEOUT = 20  # seconds per kiln call
CRASH_MARKERS = ("Stack dump", "PLEASE submit", "Assertion", "terminate called",
                 "Segmentation fault", "AddressSanitizer", "runtime error:")


def limit_memory():
    if MEMORY_LIMIT:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_kiln(argv, workdir):
    env = dict(os.environ, KILN_CACHE_DIR=os.path.join(workdir, "cache"))
    try:
        p = subprocess.run(argv, capture_output=True, text=True,
                           errors="replace", timeout=TIMEOUT,
                           preexec_fn=limit_memory, env=env)
        return p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        return None, "timed out after %d s" % TIMEOUT


def check(kiln, models, workdir, name, expect, run_only):
    """Returns a list of problems (empty when the case passes)."""
    path = os.path.join(models, name + ".onnx")
    problems = []
    inputs = []
    for f in sorted(os.listdir(models)):
        if f.startswith(name + ".") and f.endswith(".npy"):
            inputs.append("--input=%s=%s" % (f[len(name) + 1:-4],
                                             os.path.join(models, f)))
    tmp = os.path.join(workdir, name)
    commands = {
        "compile": [kiln, "compile", path, "-o", os.path.join(tmp, "out")],
        "run": [kiln, "run", "--backend=interpreter", path,
                "--output-dir=" + os.path.join(tmp, "run")] + inputs,
    }
    if run_only:
        del commands["compile"]
    for what, argv in commands.items():
        rc, out = run_kiln(argv, tmp)
        where = "%s (%s)" % (name, what)
        if rc is None:
            problems.append("%s: %s" % (where, out))
            continue
        if rc == 0:
            problems.append("%s: exited 0, expected an error" % where)
        elif rc < 0 or rc > 125:
            problems.append("%s: killed by signal / crashed (status %d)" %
                            (where, rc))
        for marker in CRASH_MARKERS:
            if marker in out:
                problems.append("%s: output contains '%s'" % (where, marker))
        prefix = path + ": error: "
        errors = [l for l in out.splitlines() if l.startswith(prefix)]
        if not errors:
            problems.append("%s: no line starts with '%s'" % (where, prefix))
        elif not any(expect in l for l in errors):
            problems.append("%s: no error contains '%s'" % (where, expect))
        if problems:
            problems.append("  output was:\n    " +
                            "\n    ".join(out.strip().splitlines()[:8]))
            break
    return problems


def read_cases(models):
    cases = []
    with open(os.path.join(models, "expected.txt")) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            # Without an address-space limit (ASan builds), an allocation
            # that should fail may succeed or abort inside ASan: skip those.
            if "needs-memory-limit" in fields[2:] and MEMORY_LIMIT == 0:
                continue
            cases.append((fields[0], fields[1], "run-only" in fields[2:]))
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kiln")
    ap.add_argument("--models", default=os.path.join(HERE, "models"))
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--memory-limit-gb", type=float, default=4)
    args = ap.parse_args()
    global MEMORY_LIMIT
    MEMORY_LIMIT = int(args.memory_limit_gb * (1 << 30))
    cases = read_cases(args.models)
    if args.only:
        cases = [c for c in cases if c[0] in args.only]
    if not cases:
        print("no cases found")
        return 1
    start = time.time()
    failures = []
    with tempfile.TemporaryDirectory(prefix="kiln-corpus-") as workdir, \
            concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(check, os.path.abspath(args.kiln), args.models,
                               workdir, *c): c[0] for c in cases}
        for fut in concurrent.futures.as_completed(futures):
            failures += fut.result()
    elapsed = time.time() - start
    for f in failures:
        print("FAIL " + f)
    failed = len({f.split(" ", 1)[0] for f in failures if not f.startswith(" ")})
    print("%d of %d malformed models rejected cleanly (%.1f s)" %
          (len(cases) - failed, len(cases), elapsed))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

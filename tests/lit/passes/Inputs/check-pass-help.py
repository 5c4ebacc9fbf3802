"""Checks `kiln-opt --help` (stdin) against passes/Passes.td (argv[1]): every
pass is listed as --NAME with its summary, followed by each of its options.
The passes, summaries and options come from `mlir-tblgen -gen-pass-doc`."""
import os
import re
import shutil
import subprocess
import sys


def passes_from_td(td, ir_include):
    tblgen = shutil.which("mlir-tblgen")
    llvm_include = os.path.join(os.path.dirname(tblgen), "..", "include")
    doc = subprocess.run(
        [tblgen, "-gen-pass-doc", "-I", llvm_include, "-I", ir_include, td],
        check=True, capture_output=True, text=True).stdout
    passes = []
    for block in re.split(r"^### ", doc, flags=re.M)[1:]:
        name = re.match(r"`-([\w-]+)`", block).group(1)
        summary = re.search(r"^_(.*)_$", block, re.M).group(1)
        options = []
        opts = re.search(r"#### Options\n\n```\n(.*?)```", block, re.S)
        if opts:
            options = re.findall(r"^-([\w-]+)\s*:", opts.group(1), re.M)
        passes.append((name, summary, options))
    return passes


def main():
    td, ir_include = sys.argv[1], sys.argv[2]
    help_lines = sys.stdin.read().splitlines()
    errors = 0
    passes = passes_from_td(td, ir_include)
    for name, summary, options in passes:
        at = [i for i, l in enumerate(help_lines)
              if re.match(r"\s+--%s\s+-\s+(.*)$" % re.escape(name), l)]
        if not at:
            print("error: --%s not listed" % name)
            errors += 1
            continue
        line = help_lines[at[0]]
        if not line.rstrip().endswith(summary):
            print("error: --%s without its summary: %s" % (name, line.strip()))
            errors += 1
        # Its options: the more indented --lines right below it.
        indent = len(line) - len(line.lstrip())
        listed = []
        for l in help_lines[at[0] + 1:]:
            m = re.match(r"(\s+)--([\w-]+)", l)
            if not m or len(m.group(1)) <= indent:
                break
            listed.append(m.group(2))
        for o in options:
            if o not in listed:
                print("error: --%s without its option --%s" % (name, o))
                errors += 1
        print("%s: summary, options %s" % (name, " ".join(sorted(options))))
    print("%d passes checked, %d errors" % (len(passes), errors))
    return 1 if errors or not passes else 0


if __name__ == "__main__":
    sys.exit(main())

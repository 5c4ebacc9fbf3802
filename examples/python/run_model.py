#!/usr/bin/env python3
"""Runs a kiln-compiled model library (OUTDIR/libNAME.so) from Python with
ctypes and numpy: lists its inputs and outputs, runs it on .npy files (or a
fixed pattern) and prints or saves the outputs.

  python3 run_model.py out/libbert.so --input input_ids=ids.npy --save results/
"""
import argparse
import ctypes
import os
import sys
import time

import numpy as np

# kiln_dtype values (N.h) and their numpy types; bool is one byte per element.
# bf16 (None) has no numpy type: such outputs come back as uint16 bit patterns.
DTYPES = [np.float32, np.float64, np.float16, None, np.int64, np.int32,
          np.int8, np.uint8, np.bool_]
DTYPE_NAMES = ["f32", "f64", "f16", "bf16", "i64", "i32", "i8", "u8", "bool"]


class KilnTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int32), ("shape", ctypes.POINTER(ctypes.c_int64))]


class Model:
    """One instance of a kiln model library."""

    def __init__(self, path, threads=0, name=None, weights=None):
        base = os.path.basename(path)
        if name is None:
            if not (base.startswith("lib") and base.endswith(".so")):
                raise ValueError(f"cannot tell the model name from {path!r}")
            name = base[3:-3]
        self.name = name
        self.lib = ctypes.CDLL(os.path.abspath(path))
        f = self._fn
        f("create_with_weights", ctypes.c_int,
          [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_char_p])
        f("destroy", None, [ctypes.c_void_p])
        f("last_error", ctypes.c_char_p, [ctypes.c_void_p])
        f("num_threads", ctypes.c_int, [ctypes.c_void_p])
        f("run_tensors", ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(KilnTensor),
                                        ctypes.c_int, ctypes.POINTER(KilnTensor), ctypes.c_int])
        for kind in ("input", "output"):
            f(f"num_{kind}s", ctypes.c_int, [])
            f(f"{kind}_name", ctypes.c_char_p, [ctypes.c_int])
            f(f"{kind}_dtype", ctypes.c_int, [ctypes.c_int])
            f(f"{kind}_rank", ctypes.c_int, [ctypes.c_int])
            f(f"{kind}_shape", ctypes.POINTER(ctypes.c_int64), [ctypes.c_int])
            f(f"{kind}_dim_name", ctypes.c_char_p, [ctypes.c_int, ctypes.c_int])
        self.inputs = self._describe("input")
        self.outputs = self._describe("output")
        self.handle = ctypes.c_void_p()
        w = weights.encode() if weights else None
        if self.api.create_with_weights(ctypes.byref(self.handle), threads, w) != 0:
            raise RuntimeError(self.api.last_error(None).decode())

    def _fn(self, suffix, restype, argtypes):
        fn = getattr(self.lib, f"{self.name}_{suffix}")
        fn.restype, fn.argtypes = restype, argtypes
        if not hasattr(self, "api"):
            self.api = type("Api", (), {})()
        setattr(self.api, suffix, fn)

    def _describe(self, kind):
        a = self.api
        out = []
        for i in range(getattr(a, f"num_{kind}s")()):
            rank = getattr(a, f"{kind}_rank")(i)
            shape = getattr(a, f"{kind}_shape")(i)
            out.append({
                "name": getattr(a, f"{kind}_name")(i).decode(),
                "dtype": getattr(a, f"{kind}_dtype")(i),
                "shape": tuple(shape[d] for d in range(rank)),
                "dims": tuple(getattr(a, f"{kind}_dim_name")(i, d).decode()
                              for d in range(rank)),
            })
        return out

    @staticmethod
    def _tensor(array, dtype):
        shape = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
        t = KilnTensor(array.ctypes.data, dtype, array.ndim, shape)
        t._keep = shape  # keep the shape array alive with the struct
        return t

    def run(self, inputs):
        """Runs on a list of numpy arrays (the library checks dtypes/shapes)."""
        arrays = [np.ascontiguousarray(x) for x in inputs]
        tin = (KilnTensor * max(len(arrays), 1))()
        for i, x in enumerate(arrays):
            dt = DTYPES.index(x.dtype.type) if x.dtype.type in DTYPES else -1
            tin[i] = self._tensor(x, dt)
        outs = [np.empty(o["shape"], DTYPES[o["dtype"]] or np.uint16) for o in self.outputs]
        tout = (KilnTensor * max(len(outs), 1))()
        for i, (y, o) in enumerate(zip(outs, self.outputs)):
            tout[i] = self._tensor(y, o["dtype"])
        status = self.api.run_tensors(self.handle, tin, len(arrays), tout, len(outs))
        if status != 0:
            raise RuntimeError(f"status {status}: {self.api.last_error(self.handle).decode()}")
        return outs

    def close(self):
        if getattr(self, "handle", None):
            self.api.destroy(self.handle)
            self.handle = ctypes.c_void_p()

    def __del__(self):
        self.close()


def pattern(info, k):
    """The fixed input pattern of examples/c/run_model.c (input k)."""
    n = int(np.prod(info["shape"], dtype=np.int64))
    i = np.arange(n)
    dt = DTYPES[info["dtype"]]
    if dt in (np.float32, np.float64):
        x = np.sin(np.float32(0.37) * i.astype(np.float32) + np.float32(k)).astype(dt)
    elif dt is np.bool_:
        x = (i % 2).astype(np.bool_)
    elif dt is None or dt is np.float16:
        x = np.zeros(n, np.uint16 if dt is None else dt)
    else:
        x = ((i + k) % 7).astype(dt)
    return x.reshape(info["shape"])


def describe(kind, i, info):
    dims = ",".join(f"{s}={d}" if d else str(s) for s, d in zip(info["shape"], info["dims"]))
    print(f"{kind} {i}: {info['name']} {DTYPE_NAMES[info['dtype']]} [{dims}]")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("library", help="OUTDIR/libNAME.so")
    p.add_argument("--input", action="append", default=[], help="NAME=FILE.npy")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--save", help="write each output to DIR/NAME.npy")
    args = p.parse_args()

    model = Model(args.library, threads=args.threads)
    print(f"model {model.name}: {len(model.inputs)} inputs, {len(model.outputs)} "
          f"outputs, {model.api.num_threads(model.handle)} threads")
    given = dict(s.split("=", 1) for s in args.input)
    inputs = []
    for k, info in enumerate(model.inputs):
        describe("input", k, info)
        inputs.append(np.load(given.pop(info["name"])) if info["name"] in given
                      else pattern(info, k))
    if given:
        sys.exit(f"unknown input(s): {', '.join(given)}")
    for k, info in enumerate(model.outputs):
        describe("output", k, info)

    outs = model.run(inputs)
    start = time.perf_counter()
    for _ in range(args.runs):
        outs = model.run(inputs)
    elapsed = time.perf_counter() - start
    for info, y in zip(model.outputs, outs):
        flat = y.reshape(-1)
        head = " ".join(f"{v:.6g}" for v in flat[:6].astype(np.float64))
        print(f"{info['name']}: {head}{' ...' if flat.size > 6 else ''} "
              f"sum={flat.astype(np.float64).sum():.9g}")
        if args.save:
            os.makedirs(args.save, exist_ok=True)
            np.save(os.path.join(args.save, info["name"] + ".npy"), y)
    if args.runs:
        print(f"{1e3 * elapsed / args.runs:.3f} ms per run ({args.runs} runs)")
    model.close()


if __name__ == "__main__":
    main()

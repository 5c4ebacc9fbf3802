#!/usr/bin/python3
# Re-evaluates each exported model.onnx with a small NumPy ONNX evaluator and compares with
# the saved torch outputs: proves the committed files agree before kiln is involved.
"""Usage: /usr/bin/python3 check_exports.py [MODEL_DIR ...]  (default: every */model.onnx here)

Only the operators the e2e exports use are implemented; anything else is an error. This is
a check of the test data (export bugs, shapes baked in by the tracer), not a reference
for kiln: kiln's own reference is its interpreter.
"""

import glob
import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ONNX_TO_NP = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64}


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def reduce_axes(a, node, inputs, opset):
    if node.op_type == "ReduceSum" and opset >= 13:
        axes = inputs[1] if len(inputs) > 1 and inputs[1] is not None else None
    elif node.op_type == "ReduceMean" and opset >= 18:
        axes = inputs[1] if len(inputs) > 1 else None
    else:
        axes = a.get("axes")
    return None if axes is None else tuple(int(x) for x in np.asarray(axes).reshape(-1))


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def run_node(node, x, opset):
    """x: list of input arrays (None for empty names). Returns a list of outputs."""
    a, op = attrs(node), node.op_type
    binary = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Pow": np.power,
              "Equal": np.equal, "Greater": np.greater}
    unary = {"Sqrt": np.sqrt, "Tanh": np.tanh, "Identity": lambda v: v.copy(),
             "Relu": lambda v: np.maximum(v, 0).astype(v.dtype),
             "Erf": lambda v: np.vectorize(math.erf)(v).astype(v.dtype)}
    if op in binary:
        r = binary[op](x[0], x[1])
        return [r.astype(x[0].dtype) if op == "Pow" else r]
    if op in unary:
        return [unary[op](x[0])]
    if op == "Div":
        if np.issubdtype(x[0].dtype, np.integer):
            return [np.trunc(x[0] / x[1]).astype(x[0].dtype)]
        return [x[0] / x[1]]
    if op == "Constant":
        return [numpy_helper.to_array(a["value"])]
    if op == "ConstantOfShape":
        v = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
        return [np.full(tuple(x[0]), v.reshape(-1)[0], dtype=v.dtype)]
    if op == "Cast":
        return [x[0].astype(ONNX_TO_NP[a["to"]])]
    if op == "Shape":
        return [np.array(x[0].shape, dtype=np.int64)]
    if op == "Gather":
        return [np.take(x[0], x[1], axis=a.get("axis", 0))]
    if op == "Unsqueeze":
        r = x[0]
        axes = sorted(int(v) for v in x[1].reshape(-1))
        for ax in axes:
            r = np.expand_dims(r, ax if ax >= 0 else ax + r.ndim + 1)
        return [r]
    if op == "Squeeze":
        axes = None if len(x) < 2 or x[1] is None else tuple(int(v) for v in x[1].reshape(-1))
        return [np.squeeze(x[0], axis=axes)]
    if op == "Concat":
        return [np.concatenate(x, axis=a["axis"])]
    if op == "Reshape":
        shape = [int(v) for v in x[1]]
        shape = [x[0].shape[i] if v == 0 else v for i, v in enumerate(shape)]
        return [x[0].reshape(shape)]
    if op == "Transpose":
        return [np.transpose(x[0], a.get("perm"))]
    if op == "MatMul":
        return [np.matmul(x[0], x[1])]
    if op == "Gemm":
        A = x[0].T if a.get("transA", 0) else x[0]
        B = x[1].T if a.get("transB", 0) else x[1]
        r = a.get("alpha", 1.0) * (A @ B)
        if len(x) > 2 and x[2] is not None:
            r = r + a.get("beta", 1.0) * x[2]
        return [r.astype(x[0].dtype)]
    if op == "Range":
        return [np.arange(x[0], x[1], x[2]).astype(x[0].dtype)]
    if op == "Softmax":
        return [softmax(x[0], a.get("axis", -1))]
    if op in ("ReduceMean", "ReduceSum"):
        axes = reduce_axes(a, node, x, opset)
        f = np.mean if op == "ReduceMean" else np.sum
        return [f(x[0], axis=axes, keepdims=bool(a.get("keepdims", 1))).astype(x[0].dtype)]
    if op == "Where":
        return [np.where(x[0], x[1], x[2])]
    if op == "Slice":
        data, starts, ends = x[0], x[1], x[2]
        axes = x[3] if len(x) > 3 and x[3] is not None else np.arange(len(starts))
        steps = x[4] if len(x) > 4 and x[4] is not None else np.ones(len(starts), np.int64)
        idx = [slice(None)] * data.ndim
        for s, e, ax, st in zip(starts, ends, axes, steps):
            idx[int(ax)] = slice(int(s), int(min(e, 2**62)), int(st))
        return [data[tuple(idx)]]
    if op == "Split":
        axis = a.get("axis", 0)
        sizes = x[1] if len(x) > 1 and x[1] is not None else a.get("split")
        if sizes is None:
            return np.split(x[0], len(node.output), axis=axis)
        return np.split(x[0], np.cumsum(sizes)[:-1], axis=axis)
    if op == "LayerNormalization":
        axis = a.get("axis", -1)
        axes = tuple(range(axis % x[0].ndim, x[0].ndim))
        mean = x[0].mean(axis=axes, keepdims=True)
        var = ((x[0] - mean) ** 2).mean(axis=axes, keepdims=True)
        r = (x[0] - mean) / np.sqrt(var + a.get("epsilon", 1e-5)) * x[1]
        if len(x) > 2 and x[2] is not None:
            r = r + x[2]
        return [r.astype(x[0].dtype)]
    if op == "TopK":
        axis, k = a.get("axis", -1), int(x[1].reshape(-1)[0])
        order = np.argsort(-x[0], axis=axis, kind="stable")
        if not a.get("largest", 1):
            order = np.argsort(x[0], axis=axis, kind="stable")
        idx = np.take(order, np.arange(k), axis=axis)
        return [np.take_along_axis(x[0], idx, axis=axis), idx.astype(np.int64)]
    if op == "ScatterElements":
        r = x[0].copy()
        np.put_along_axis(r, x[1], x[2], axis=a.get("axis", 0))
        return [r]
    raise NotImplementedError(f"check_exports: no NumPy evaluation of {op} ({node.name})")


def evaluate(model_path, feeds):
    model = onnx.load(model_path)
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    env = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    env.update(feeds)
    for node in model.graph.node:
        ins = [env[n] if n else None for n in node.input]
        outs = run_node(node, ins, opset)
        for name, value in zip(node.output, outs):
            env[name] = np.asarray(value)
    return {o.name: env[o.name] for o in model.graph.output}


def check(model_dir):
    with open(os.path.join(model_dir, "manifest.json")) as f:
        manifest = json.load(f)
    feeds = {i["name"]: np.load(os.path.join(model_dir, "inputs", i["name"] + ".npy"))
             for i in manifest["inputs"]}
    got = evaluate(os.path.join(model_dir, "model.onnx"), feeds)
    ok = True
    for o in manifest["outputs"]:
        want = np.load(os.path.join(model_dir, "outputs", o["name"] + ".npy"))
        have = got[o["name"]]
        if have.shape != want.shape or have.dtype != want.dtype:
            print(f"{model_dir}: {o['name']}: {have.dtype}{list(have.shape)} != "
                  f"{want.dtype}{list(want.shape)}")
            ok = False
            continue
        err = float(np.max(np.abs(have - want)) / max(1.0, float(np.max(np.abs(want)))))
        print(f"{os.path.basename(model_dir)}: {o['name']} rel err {err:.3g}")
        ok = ok and err <= 1e-5
    return ok


def main(argv):
    dirs = argv or sorted(os.path.dirname(p) for p in glob.glob(os.path.join(HERE, "*", "model.onnx")))
    bad = [d for d in dirs if not check(d)]
    for d in bad:
        print(f"MISMATCH: {d}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/python3
"""Writes the two small ONNX models of the install test into the given folder.

fold.onnx: relu(x @ W * 1.0) / 1.0 and 1 * x: kiln-fold-mul-one removes all three.
near.onnx: the same shapes with near misses it must keep: x * 1.0001, a one
that broadcasts x to a bigger shape, and 1.0 / x.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def const(name, value):
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def model(name, nodes, inits, outputs):
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    return m


def main(out_dir):
    w = np.arange(20, dtype=np.float32).reshape(4, 5) / 10.0
    fold = model("fold", [
        helper.make_node("MatMul", ["x", "W"], ["mm"]),
        helper.make_node("Mul", ["mm", "one"], ["scaled"]),
        helper.make_node("Relu", ["scaled"], ["r"]),
        helper.make_node("Div", ["r", "one"], ["y"]),
        helper.make_node("Mul", ["ones_2x4", "x"], ["z"]),
    ], [const("W", w), const("one", 1.0), const("ones_2x4", np.ones((2, 4)))],
        [("y", [2, 5]), ("z", [2, 4])])
    near = model("near", [
        helper.make_node("MatMul", ["x", "W"], ["mm"]),
        helper.make_node("Mul", ["mm", "almost_one"], ["scaled"]),
        helper.make_node("Relu", ["scaled"], ["y"]),
        helper.make_node("Mul", ["x", "ones_2x2x4"], ["z"]),
        helper.make_node("Div", ["one", "x"], ["v"]),
    ], [const("W", w), const("almost_one", 1.0001), const("one", 1.0),
        const("ones_2x2x4", np.ones((2, 2, 4)))],
        [("y", [2, 5]), ("z", [2, 2, 4]), ("v", [2, 4])])
    onnx.save(fold, os.path.join(out_dir, "fold.onnx"))
    onnx.save(near, os.path.join(out_dir, "near.onnx"))


if __name__ == "__main__":
    main(sys.argv[1])

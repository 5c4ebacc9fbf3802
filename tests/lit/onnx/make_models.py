#!/usr/bin/python3
"""Writes the tiny ONNX models under Inputs/ that the importer's lit tests read.

Run with Debian's python (it has onnx 1.12): /usr/bin/python3 make_models.py
Models are not run through onnx.checker: it only knows opsets up to 17, and
outputs here leave their types to the importer's inference.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "Inputs")
F32, I64 = TensorProto.FLOAT, TensorProto.INT64


def tensor(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def ints(name, values, scalar=False):
    arr = np.array(values, dtype=np.int64)
    return numpy_helper.from_array(arr.reshape(()) if scalar else arr, name)


def floats(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def save(name, nodes, inputs, outputs, opset, initializers=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(initializers))
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)],
        producer_name="kiln-tests")
    path = os.path.join(OUT, name + ".onnx")
    onnx.save(model, path)
    return path


def reduce_models():
    # Opset 13: ReduceMean axes is an attribute, ReduceSum axes an input.
    save("reduce_opset13", [
        helper.make_node("ReduceMean", ["x"], ["mean"], axes=[-1], name="mean"),
        helper.make_node("ReduceSum", ["x", "axes"], ["sum"], keepdims=0,
                         name="sum"),
        helper.make_node("ReduceMax", ["x"], ["max"], name="max"),
    ], [tensor("x", F32, ["batch", 3, 4])],
        [tensor(n, F32, None) for n in ("mean", "sum", "max")], 13,
        [ints("axes", [1])])
    # Opset 18: every Reduce* takes axes as an input.
    save("reduce_opset18", [
        helper.make_node("ReduceMean", ["x", "axes"], ["mean"], name="mean"),
        helper.make_node("ReduceProd", ["x"], ["prod"], keepdims=0, name="prod"),
        helper.make_node("ReduceMin", ["x"], ["same"], noop_with_empty_axes=1,
                         name="same"),
    ], [tensor("x", F32, [2, 3, 4])],
        [tensor(n, F32, None) for n in ("mean", "prod", "same")], 18,
        [ints("axes", [0, 2])])


def split_models():
    save("split_opset13", [
        helper.make_node("Split", ["x", "sizes"], ["a", "b"], axis=1, name="s1"),
        helper.make_node("Split", ["x"], ["c", "d", "e"], axis=0, name="s2"),
    ], [tensor("x", F32, [6, 10])],
        [tensor(n, F32, None) for n in "abcde"], 13, [ints("sizes", [3, 7])])
    save("split_opset18", [
        helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1,
                         num_outputs=3, name="s"),
    ], [tensor("x", F32, [2, 8])], [tensor(n, F32, None) for n in "abc"], 18)


def squeeze_model():
    save("squeeze_unsqueeze", [
        helper.make_node("Squeeze", ["x", "ax0"], ["sq"], name="sq"),
        helper.make_node("Unsqueeze", ["sq", "ax13"], ["un"], name="un"),
    ], [tensor("x", F32, [1, 3, 4])], [tensor("un", F32, None)], 13,
        [ints("ax0", [0]), ints("ax13", [1, 3])])


def gelu_layernorm_models():
    save("gelu_opset20", [
        helper.make_node("Gelu", ["x"], ["g"], name="gelu_exact"),
        helper.make_node("Gelu", ["g"], ["y"], approximate="tanh",
                         name="gelu_tanh"),
    ], [tensor("x", F32, ["seq", 8])], [tensor("y", F32, None)], 20)
    save("layernorm_opset17", [
        helper.make_node("LayerNormalization", ["x", "gamma", "beta"], ["y"],
                         axis=-1, epsilon=1e-6, name="ln"),
    ], [tensor("x", F32, [2, "seq", 8])], [tensor("y", F32, None)], 17,
        [floats("gamma", np.ones(8)), floats("beta", np.zeros(8))])


def trilu_cumsum_topk_model():
    save("trilu_cumsum_topk", [
        helper.make_node("Trilu", ["x", "k"], ["t"], upper=0, name="tril"),
        helper.make_node("CumSum", ["t", "axis"], ["c"], exclusive=1,
                         name="cumsum"),
        helper.make_node("TopK", ["c", "topk_k"], ["values", "indices"],
                         axis=-1, name="topk"),
    ], [tensor("x", F32, [4, 4])],
        [tensor("values", F32, None), tensor("indices", I64, None)], 14,
        [ints("k", 1, scalar=True), ints("axis", 1, scalar=True),
         ints("topk_k", [2])])


def slice_model():
    save("slice_defaults", [
        helper.make_node("Slice", ["x", "starts", "ends"], ["a"], name="first"),
        helper.make_node("Slice", ["x", "starts1", "ends1", "axes1", "steps1"],
                         ["b"], name="strided"),
    ], [tensor("x", F32, ["n", 10])],
        [tensor("a", F32, None), tensor("b", F32, None)], 13,
        [ints("starts", [0, 2]), ints("ends", [9223372036854775807, -1]),
         ints("starts1", [-1]), ints("ends1", [-9223372036854775807]),
         ints("axes1", [1]), ints("steps1", [-2])])


def symbolic_dims_model():
    save("symbolic_dims", [
        helper.make_node("MatMul", ["x", "w"], ["y"], name="proj"),
        helper.make_node("Softmax", ["y"], ["probs"], axis=-1, name="softmax"),
    ], [tensor("x", F32, ["batch", "seq", 16])],
        [tensor("probs", F32, ["batch", "seq", 32])], 17,
        [floats("w", np.linspace(-1, 1, 16 * 32).reshape(16, 32))])


def initializer_as_input_model():
    # ONNX IR < 4 listed initializers among the graph inputs.
    bias = floats("bias", [1, 2, 3])
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "bias"], ["y"], name="add")],
        "initializer_as_input",
        [tensor("x", F32, [3]), tensor("bias", F32, [3])],
        [tensor("y", F32, None)], [bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 3
    onnx.save(model, os.path.join(OUT, "initializer_as_input.onnx"))


def external_data_model():
    w = np.arange(4 * 24, dtype=np.float32).reshape(4, 24) / 10
    bin_name = "external_data.bin"
    with open(os.path.join(OUT, bin_name), "wb") as f:
        f.write(b"HEADER!!")  # the tensor starts at offset 8
        f.write(w.tobytes())
    init = numpy_helper.from_array(w, "weight")
    init.ClearField("raw_data")
    init.data_location = TensorProto.EXTERNAL
    for key, value in (("location", bin_name), ("offset", "8"),
                       ("length", str(w.nbytes))):
        entry = init.external_data.add()
        entry.key, entry.value = key, value
    save("external_data", [
        helper.make_node("MatMul", ["x", "weight"], ["y"], name="mm"),
    ], [tensor("x", F32, [1, 4])], [tensor("y", F32, None)], 13, [init])
    # The same tensor pointing past the end of the file.
    init.external_data[1].value = "400"
    save("external_data_short", [
        helper.make_node("MatMul", ["x", "weight"], ["y"], name="mm"),
    ], [tensor("x", F32, [1, 4])], [tensor("y", F32, None)], 13, [init])


def unsupported_model():
    save("unsupported_ops", [
        helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["sel"],
                         name="nms_1"),
        helper.make_node("Relu", ["boxes"], ["r"], name="relu"),
        helper.make_node("RoiAlign", ["boxes", "scores", "idx"], ["roi"],
                         name="roi0"),
        helper.make_node("RoiAlign", ["boxes", "scores", "idx"], ["roi2"],
                         name="roi1"),
        helper.make_node("FusedMatMul", ["boxes", "boxes"], ["fm"],
                         domain="com.microsoft", name="fused"),
    ], [tensor("boxes", F32, [1, 4, 4]), tensor("scores", F32, [1, 1, 4]),
        tensor("idx", I64, [1])], [tensor("r", F32, None)], 13)


def truncated_model():
    path = save("symbolic_dims_copy", [
        helper.make_node("Relu", ["x"], ["y"], name="relu"),
    ], [tensor("x", F32, ["n"])], [tensor("y", F32, None)], 13,
        [floats("unused", np.ones(64))])
    data = open(path, "rb").read()
    os.remove(path)
    with open(os.path.join(OUT, "truncated.onnx"), "wb") as f:
        f.write(data[: len(data) // 2])


def shape_subgraph_model():
    # What exporters emit to merge heads: Reshape(x, Concat(Shape(x)[0],
    # Shape(x)[1], [-1])). It folds to a constant when x's shape is static.
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "i0"], ["d0"], axis=0, name="g0"),
        helper.make_node("Gather", ["shape", "i1"], ["d1"], axis=0, name="g1"),
        helper.make_node("Unsqueeze", ["d0", "zero"], ["u0"], name="u0"),
        helper.make_node("Unsqueeze", ["d1", "zero"], ["u1"], name="u1"),
        helper.make_node("Concat", ["u0", "u1", "minus1"], ["new_shape"],
                         axis=0, name="concat"),
        helper.make_node("Reshape", ["x", "new_shape"], ["y"], name="merge"),
    ]
    save("shape_subgraph", nodes, [tensor("x", F32, ["batch", "seq", 4, 8])],
         [tensor("y", F32, None)], 13,
         [ints("i0", 0, scalar=True), ints("i1", 1, scalar=True),
          ints("zero", [0]), ints("minus1", [-1])])


def old_opset_models():
    # Opset 11: axes and split are attributes, Softmax coerces to 2-D, Clip
    # takes min/max inputs (its attribute form is opset 6).
    save("opset11_forms", [
        helper.make_node("Squeeze", ["x"], ["sq"], axes=[0], name="sq"),
        helper.make_node("Unsqueeze", ["sq"], ["un"], axes=[1], name="un"),
        helper.make_node("Split", ["un"], ["a", "b"], axis=2, split=[1, 3],
                         name="split"),
        helper.make_node("Softmax", ["b"], ["sm"], name="softmax"),
        helper.make_node("ReduceLogSumExp", ["sm"], ["lse"], axes=[1],
                         keepdims=0, name="lse"),
        helper.make_node("Clip", ["lse", "lo", "hi"], ["clip"], name="clip"),
    ], [tensor("x", F32, [1, 3, 4])], [tensor("clip", F32, None)], 11,
        [floats("lo", 0.5), floats("hi", 2.0)])
    save("opset6_clip", [
        helper.make_node("Clip", ["x"], ["y"], min=-1.0, max=1.0, name="clip"),
    ], [tensor("x", F32, ["n"])], [tensor("y", F32, None)], 6)
    # Add 6 broadcasts by attribute and TopK 1 takes k as one: older than
    # kiln implements.
    save("old_schemas", [
        helper.make_node("Add", ["x", "x"], ["s"], name="add"),
        helper.make_node("TopK", ["s"], ["v", "i"], k=1, name="topk"),
    ], [tensor("x", F32, [2, 3])], [tensor("v", F32, None)], 6)
    for opset in (23, 24):
        save("reshape_opset%d" % opset, [
            helper.make_node("Cos", ["x"], ["c"], name="cos"),
            helper.make_node("Reshape", ["c", "shape"], ["y"], name="reshape"),
        ], [tensor("x", F32, [2, 6])], [tensor("y", F32, None)], opset,
            [ints("shape", [3, 4])])


def runtime_inputs_model():
    # A training-mode Dropout and axes/k fed from graph inputs.
    save("runtime_inputs", [
        helper.make_node("Dropout", ["x", "", "training"], ["d"], name="drop"),
        helper.make_node("Unsqueeze", ["d", "axes"], ["u"], name="un"),
        helper.make_node("TopK", ["u", "k"], ["v", "i"], name="topk"),
    ], [tensor("x", F32, [2, 3]), tensor("training", TensorProto.BOOL, []),
        tensor("axes", I64, [1]), tensor("k", I64, [1])],
        [tensor("v", F32, None)], 13)


def composed_ops_model():
    save("composed_ops", [
        helper.make_node("ArgMin", ["x"], ["argmin"], axis=1, keepdims=0,
                         name="argmin"),
        helper.make_node("CastLike", ["x", "like"], ["cast"], name="castlike"),
        helper.make_node("Size", ["x"], ["size"], name="size"),
        helper.make_node("ReduceL2", ["x"], ["l2"], axes=[1], name="l2"),
        helper.make_node("ReduceSumSquare", ["x"], ["ss"], keepdims=0,
                         name="ss"),
    ], [tensor("x", F32, ["n", 4]), tensor("like", TensorProto.FLOAT16, [1])],
        [tensor(n, F32, None) for n in ("argmin", "cast", "size", "l2", "ss")],
        15)


def main():
    os.makedirs(OUT, exist_ok=True)
    reduce_models()
    split_models()
    squeeze_model()
    gelu_layernorm_models()
    trilu_cumsum_topk_model()
    slice_model()
    symbolic_dims_model()
    initializer_as_input_model()
    external_data_model()
    unsupported_model()
    truncated_model()
    shape_subgraph_model()
    old_opset_models()
    runtime_inputs_model()
    composed_ops_model()


if __name__ == "__main__":
    main()

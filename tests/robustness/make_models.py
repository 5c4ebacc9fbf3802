#!/usr/bin/python3
"""Writes the malformed-model corpus under models/: one NAME.onnx per case and
expected.txt, the table the ctest driver (run_corpus.py) checks each case
against ("NAME<TAB>substring of the expected error").

Every model is tiny and hand-made; the output is deterministic (fixed seeds,
no timestamps), so rerunning this script leaves git clean. Run it with Debian's
python, which has onnx: /usr/bin/python3 tests/robustness/make_models.py
"""
import os
import random
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "models")
F32, I64, I32 = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32

CASES = []  # (name, expected error substring)
RUN_ONLY = []  # (name, model, {input: array}, expected error substring)


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def floats(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.float32), name)


def model_of(nodes, inputs, outputs, initializers=(), opset=17, ir=8,
             opsets=None):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    imports = opsets if opsets is not None else [helper.make_opsetid("", opset)]
    m = helper.make_model(graph, opset_imports=imports,
                          producer_name="kiln-robustness")
    m.ir_version = ir
    return m


def write_bytes(name, data, expect):
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(data)
    CASES.append((name, expect))


def case(name, model, expect):
    write_bytes(name, model.SerializeToString(), expect)


def relu_model(**kw):
    """x[2,3] -> Relu -> y: the valid base the malformed cases start from."""
    return model_of([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                    [vi("x", F32, [2, 3])], [vi("y", F32, None)], **kw)


def unary(op, x_shape, extra_inputs=(), initializers=(), elem=F32, **attrs):
    """x -> OP(x, extra...) -> y, the node named 'n'."""
    return model_of(
        [helper.make_node(op, ["x"] + list(extra_inputs), ["y"], name="n",
                          **attrs)],
        [vi("x", elem, x_shape)], [vi("y", F32, None)], initializers)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


# --- Bytes that are not an ONNX model ----------------------------------------

def byte_cases():
    valid = relu_model().SerializeToString()
    write_bytes("empty_file", b"", "not a valid ONNX model")
    write_bytes("truncated", valid[: len(valid) // 2], "not a valid ONNX model")
    rng = random.Random(7)
    write_bytes("random_bytes", bytes(rng.randrange(256) for _ in range(512)),
                "not a valid ONNX model")
    write_bytes("text_file", b"ir_version: 8\ngraph { node { op_type: 'Relu' } }\n",
                "not a valid ONNX model")
    # ModelProto.graph (field 7) sent as a varint instead of a message:
    # protobuf keeps it as an unknown field, so the model has no graph.
    write_bytes("wrong_wire_type_graph", varint(1 << 3 | 0) + varint(8) +
                varint(7 << 3 | 0) + varint(5), "the model has no graph")
    # ModelProto.ir_version (field 1) with wire type 7, which does not exist,
    # in front of an otherwise valid model.
    write_bytes("invalid_wire_type", varint(1 << 3 | 7) + varint(3) + valid,
                "not a valid ONNX model")
    # A group start (wire type 3) that never ends.
    write_bytes("unterminated_group", valid + varint(15 << 3 | 3) + varint(1),
                "not a valid ONNX model")
    # NodeProto.input (field 1, strings) sent as a fixed64 inside the graph:
    # an unknown field, so the Relu node has no input.
    node = varint(1 << 3 | 1) + b"\0" * 8 + \
        varint(2 << 3 | 2) + varint(1) + b"y" + \
        varint(3 << 3 | 2) + varint(4) + b"relu" + \
        varint(4 << 3 | 2) + varint(4) + b"Relu"
    out = helper.make_tensor_value_info("y", F32, None).SerializeToString()
    graph = varint(1 << 3 | 2) + varint(len(node)) + node + \
        varint(12 << 3 | 2) + varint(len(out)) + out
    opset = helper.make_opsetid("", 17).SerializeToString()
    write_bytes("wrong_wire_type_node_input",
                varint(1 << 3 | 0) + varint(8) +
                varint(7 << 3 | 2) + varint(len(graph)) + graph +
                varint(8 << 3 | 2) + varint(len(opset)) + opset,
                "node 'relu' (Relu): needs at least 1 input, has 0")
    # A length prefix far past the end of the file (a 2 GB graph).
    write_bytes("length_past_end", varint(7 << 3 | 2) + varint(1 << 31) + b"xx",
                "not a valid ONNX model")


# --- Model-level structure ----------------------------------------------------

def model_cases():
    m = onnx.ModelProto()
    m.ir_version = 8
    m.opset_import.append(helper.make_opsetid("", 17))
    case("no_graph", m, "the model has no graph")
    case("empty_graph", model_of([], [], []), "the graph has no outputs")
    case("ir_version_zero", relu_model(ir=0), "ir_version")
    case("missing_opset_import", relu_model(opsets=[]),
         "the model imports no ai.onnx opset")
    case("opset_zero", relu_model(opset=0), "ai.onnx opset 0")
    case("unsupported_opset", relu_model(opset=99),
         "unsupported ai.onnx opset 99")
    case("output_never_produced",
         model_of([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                  [vi("x", F32, [2, 3])],
                  [vi("y", F32, None), vi("z", F32, None)]),
         "graph output 'z' is not produced by any node")
    case("input_not_a_tensor",
         model_of([helper.make_node("Identity", ["x"], ["y"], name="id")],
                  [helper.make_tensor_sequence_value_info("x", F32, [2])],
                  [vi("y", F32, None)]),
         "graph input 'x' is a sequence")
    case("input_without_shape",
         model_of([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                  [vi("x", F32, None)], [vi("y", F32, None)]),
         "graph input 'x' has no shape")
    case("string_input",
         model_of([helper.make_node("Identity", ["x"], ["y"], name="id")],
                  [vi("x", TensorProto.STRING, [2])], [vi("y", F32, None)]),
         "unsupported element type STRING: graph input 'x'")
    s = helper.make_tensor("s", TensorProto.STRING, [2], [b"a", b"b"])
    case("string_initializer",
         model_of([helper.make_node("Identity", ["s"], ["y"], name="id")],
                  [], [vi("y", F32, None)], [s]),
         "unsupported element type STRING: initializer 's'")


# --- Names: dangling, duplicate, cycles --------------------------------------

def name_cases():
    case("dangling_input",
         model_of([helper.make_node("Add", ["x", "ghost"], ["y"], name="add")],
                  [vi("x", F32, [2, 3])], [vi("y", F32, None)]),
         "node 'add' (Add): input 'ghost' is not produced by any node")
    case("missing_required_input",
         model_of([helper.make_node("Add", ["x", ""], ["y"], name="add")],
                  [vi("x", F32, [2, 3])], [vi("y", F32, None)]),
         "node 'add' (Add): needs at least 2 inputs; input #1 is missing")
    case("duplicate_node_output",
         model_of([helper.make_node("Relu", ["x"], ["y"], name="r1"),
                   helper.make_node("Neg", ["x"], ["y"], name="r2")],
                  [vi("x", F32, [2, 3])], [vi("y", F32, None)]),
         "node 'r2' (Neg): output 'y' is already defined")
    case("output_shadows_input",
         model_of([helper.make_node("Relu", ["x"], ["x"], name="relu")],
                  [vi("x", F32, [2, 3])], [vi("x", F32, None)]),
         "node 'relu' (Relu): output 'x' is already defined")
    case("duplicate_graph_input",
         model_of([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                  [vi("x", F32, [2, 3]), vi("x", F32, [2, 3])],
                  [vi("y", F32, None)]),
         "graph input 'x' is listed twice")
    case("duplicate_initializer",
         model_of([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                  [vi("x", F32, [3])], [vi("y", F32, None)],
                  [floats("w", [1, 2, 3]), floats("w", [4, 5, 6])]),
         "initializer 'w' is defined twice")
    case("cycle",
         model_of([helper.make_node("Add", ["x", "b"], ["a"], name="first"),
                   helper.make_node("Relu", ["a"], ["b"], name="second"),
                   helper.make_node("Neg", ["a"], ["y"], name="out")],
                  [vi("x", F32, [2, 3])], [vi("y", F32, None)]),
         "node 'first' (Add): is part of a cycle")
    case("self_loop",
         model_of([helper.make_node("Add", ["x", "y"], ["y"], name="loop")],
                  [vi("x", F32, [2, 3])], [vi("y", F32, None)]),
         "node 'loop' (Add): is part of a cycle")


# --- Initializer data ---------------------------------------------------------

def tensor_case(name, t, expect, uses=("Add", ["x", "w"])):
    op, ins = uses
    case(name,
         model_of([helper.make_node(op, ins, ["y"], name="n")],
                  [vi("x", F32, [4])], [vi("y", F32, None)], [t]),
         expect)


def raw(name, dims, nbytes, elem=F32):
    t = TensorProto(name=name, data_type=elem, dims=dims)
    t.raw_data = bytes(range(nbytes % 256)) * (nbytes // 256) + \
        bytes(range(nbytes % 256))
    t.raw_data = t.raw_data[:nbytes]
    return t


def initializer_cases():
    tensor_case("raw_data_too_short", raw("w", [4], 8),
                "tensor 'w' has 8 bytes of raw_data but its shape and type "
                "need 16")
    tensor_case("raw_data_too_long", raw("w", [4], 20),
                "tensor 'w' has 20 bytes of raw_data but its shape and type "
                "need 16")
    t = TensorProto(name="w", data_type=F32, dims=[2, 3])
    t.float_data.extend([1, 2, 3, 4, 5])
    tensor_case("float_data_count_mismatch", t,
                "tensor 'w' has 5 float_data values but its shape needs 6")
    t = TensorProto(name="w", data_type=I64, dims=[4])
    t.int64_data.extend([1, 2, 3, 4, 5, 6, 7])
    tensor_case("int64_data_count_mismatch", t,
                "tensor 'w' has 7 int64_data values but its shape needs 4")
    tensor_case("negative_dim_initializer", raw("w", [-1, 4], 16),
                "tensor 'w' has a negative dim -1")
    # 2^40 elements (4 TiB of floats) declared, 16 bytes present: rejected
    # from the sizes alone, nothing allocated.
    tensor_case("huge_dims_initializer", raw("w", [1 << 20, 1 << 20], 16),
                "tensor 'w' has 16 bytes of raw_data but its shape and type "
                "need 4398046511104")
    # dims whose product overflows int64.
    tensor_case("overflowing_dims_initializer",
                raw("w", [1 << 40, 1 << 40, 1 << 40], 16),
                "tensor 'w' is too large")
    t = TensorProto(name="w", data_type=F32, dims=[1 << 20, 1 << 20])
    tensor_case("huge_dims_float_data", t,
                "tensor 'w' has 0 float_data values but its shape needs "
                "1099511627776")


# --- External data ------------------------------------------------------------

def external(name, location, offset=None, length=None, dims=(4,)):
    t = TensorProto(name=name, data_type=F32, dims=list(dims))
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset),
                 ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    return t


def external_cases():
    # weights.bin: 16 bytes, exactly one [4] float tensor.
    with open(os.path.join(OUT, "weights.bin"), "wb") as f:
        f.write(np.arange(4, dtype=np.float32).tobytes())
    tensor_case("external_escapes_folder", external("w", "../../etc/passwd"),
                "tensor 'w' has external data location '../../etc/passwd' "
                "outside the model's folder")
    tensor_case("external_escapes_via_subdir",
                external("w", "sub/../../weights.bin"),
                "outside the model's folder")
    tensor_case("external_absolute_path", external("w", "/etc/passwd"),
                "tensor 'w' has an absolute external data location "
                "'/etc/passwd'")
    tensor_case("external_missing_file", external("w", "missing.bin"),
                "cannot open external data file")
    tensor_case("external_offset_past_end",
                external("w", "weights.bin", offset=4096),
                "is too short: needs 16 bytes at offset 4096, file has 16")
    tensor_case("external_length_mismatch",
                external("w", "weights.bin", length=8),
                "tensor 'w' has external data length 8 but its type needs 16")
    tensor_case("external_huge_dims",
                external("w", "weights.bin", dims=(1 << 20, 1 << 20)),
                "is too short: needs 4398046511104 bytes")
    tensor_case("external_no_location", external("w", ""),
                "tensor 'w' has external data without a location")
    tensor_case("external_bad_offset",
                external("w", "weights.bin", offset="-5"),
                "tensor 'w' has a malformed external data offset '-5'")


# --- Ops and domains ----------------------------------------------------------

def op_cases():
    case("unknown_domain",
         model_of([helper.make_node("Frobnicate", ["x"], ["y"], name="frob",
                                    domain="com.example")],
                  [vi("x", F32, [2, 3])], [vi("y", F32, None)]),
         "unsupported op Frobnicate (com.example, not imported): node frob")
    # Every unsupported op in one message.
    case("several_unsupported_ops",
         model_of([helper.make_node("Unique", ["x"], ["u"], name="uniq"),
                   helper.make_node("NonZero", ["x"], ["nz"], name="nz"),
                   helper.make_node("Bogus", ["x"], ["b"], name="bogus"),
                   helper.make_node("Add", ["x", "x"], ["y"], name="ok")],
                  [vi("x", F32, [2, 3])], [vi("y", F32, None)]),
         "unsupported op Unique (ai.onnx opset 17): node uniq; unsupported op "
         "NonZero (ai.onnx opset 17): node nz; unsupported op Bogus (ai.onnx "
         "opset 17): node bogus")
    branch = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["o"])], "branch", [],
        [vi("o", F32, [2, 3])])
    case("subgraph_if",
         model_of([helper.make_node("If", ["c"], ["y"], name="cond",
                                    then_branch=branch, else_branch=branch)],
                  [vi("c", TensorProto.BOOL, []), vi("x", F32, [2, 3])],
                  [vi("y", F32, None)]),
         "unsupported op If (ai.onnx opset 17): node cond")
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Identity", ["v_in"], ["v_out"])], "body",
        [vi("i", I64, []), vi("cond_in", TensorProto.BOOL, []),
         vi("v_in", F32, [2, 3])],
        [vi("cond_out", TensorProto.BOOL, []), vi("v_out", F32, [2, 3])])
    case("subgraph_loop",
         model_of([helper.make_node("Loop", ["n", "", "x"], ["y"], name="loop",
                                    body=body)],
                  [vi("n", I64, []), vi("x", F32, [2, 3])],
                  [vi("y", F32, None)]),
         "unsupported op Loop (ai.onnx opset 17): node loop")
    case("op_not_in_opset",
         model_of([helper.make_node("Gelu", ["x"], ["y"], name="gelu")],
                  [vi("x", F32, [2, 3])], [vi("y", F32, None)], opset=17),
         "node 'gelu' (Gelu): Gelu needs opset 20")
    case("too_many_inputs", unary("Relu", [2, 3], ["x"]),
         "node 'n' (Relu): has 2 inputs but takes at most 1")
    case("too_few_inputs", unary("Add", [2, 3]),
         "node 'n' (Add): needs at least 2 inputs, has 1")
    case("dtype_mismatch_add",
         model_of([helper.make_node("Add", ["x", "i"], ["y"], name="add")],
                  [vi("x", F32, [2, 3]), vi("i", I64, [2, 3])],
                  [vi("y", F32, None)]),
         "node 'add' (Add): 'kiln.add' op operand element types differ: 'f32' "
         "vs 'i64'")
    case("dtype_mismatch_matmul",
         model_of([helper.make_node("MatMul", ["x", "i"], ["y"], name="mm")],
                  [vi("x", F32, [2, 3]), vi("i", I32, [3, 2])],
                  [vi("y", F32, None)]),
         "node 'mm' (MatMul): 'kiln.matmul' op operands must have one element "
         "type, got 'f32' and 'i32'")
    case("wrong_attribute_type",
         unary("Transpose", [2, 3], perm=1.5),
         "node 'n' (Transpose): attribute 'perm' must be INTS, not FLOAT")
    case("wrong_attribute_type_axis",
         unary("Softmax", [2, 3], axis="last"),
         "node 'n' (Softmax): attribute 'axis' must be an INT, not STRING")
    case("missing_required_attribute", unary("Cast", [2, 3]),
         "node 'n' (Cast): attribute 'to' is required")
    case("constant_without_value",
         model_of([helper.make_node("Constant", [], ["y"], name="c")], [],
                  [vi("y", F32, None)]),
         "node 'c' (Constant): must have exactly one value attribute")
    case("attribute_axis_out_of_range", unary("Softmax", [2, 3], axis=5),
         "node 'n' (Softmax): 'kiln.softmax' op axis 5 is out of range for "
         "rank 2")


# --- Shapes -------------------------------------------------------------------

def shape_cases():
    case("negative_dim_input", relu_model_with_input([2, -5]),
         "graph input 'x' has a negative dim -5")
    case("huge_dims_input", relu_model_with_input([1 << 20, 1 << 20]),
         "graph input 'x' has shape 1048576x1048576xf32, over kiln's limit "
         "of 1099511627776 bytes per tensor")
    case("reshape_impossible",
         unary("Reshape", [2, 3], ["s"], [ints("s", [4, 2])]),
         "node 'n' (Reshape): 'kiln.reshape' op cannot reshape 6 elements of "
         "'tensor<2x3xf32>' into 8")
    case("reshape_two_minus_one",
         unary("Reshape", [2, 3], ["s"], [ints("s", [-1, -1])]),
         "node 'n' (Reshape): 'kiln.reshape' op shape has more than one -1")
    case("reshape_negative_dim",
         unary("Reshape", [2, 3], ["s"], [ints("s", [-2, -3])]),
         "node 'n' (Reshape): 'kiln.reshape' op invalid shape entry -2")
    case("gather_constant_index_out_of_range",
         unary("Gather", [5, 3], ["idx"], [ints("idx", [1, 7])]),
         "node 'n' (Gather): index 7 in input #1 ('idx') is out of range for axis 0 of input #0 ('x'), which has size 5")
    case("gather_constant_negative_index_out_of_range",
         unary("Gather", [5, 3], ["idx"], [ints("idx", [-6])], axis=0),
         "node 'n' (Gather): index -6 in input #1 ('idx') is out of range")
    case("concat_rank_mismatch",
         model_of([helper.make_node("Concat", ["x", "z"], ["y"], name="cat",
                                    axis=0)],
                  [vi("x", F32, [2, 3]), vi("z", F32, [2, 3, 1])],
                  [vi("y", F32, None)]),
         "node 'cat' (Concat): 'kiln.concat' op inputs must share rank")
    case("matmul_inner_dims_mismatch",
         model_of([helper.make_node("MatMul", ["x", "z"], ["y"], name="mm")],
                  [vi("x", F32, [2, 3]), vi("z", F32, [4, 5])],
                  [vi("y", F32, None)]),
         "node 'mm' (MatMul): 'kiln.matmul' op matmul contraction dims "
         "differ: 3 vs 4")
    case("broadcast_mismatch",
         model_of([helper.make_node("Add", ["x", "z"], ["y"], name="add")],
                  [vi("x", F32, [2, 3]), vi("z", F32, [4])],
                  [vi("y", F32, None)]),
         "node 'add' (Add): 'kiln.add' op operands cannot be broadcast "
         "together: dim 1 is 3 vs 4")
    # Shapes computed at import that would need terabytes: rejected from the
    # types, never allocated by import-time folding.
    case("expand_huge",
         unary("Expand", [1, 1], ["s"], [ints("s", [1 << 20, 1 << 20])]),
         "node 'n' (Expand): result #0 has shape 1048576x1048576xf32, over "
         "kiln's limit")
    case("constant_of_shape_huge",
         model_of([helper.make_node("ConstantOfShape", ["s"], ["y"], name="n")],
                  [], [vi("y", F32, None)], [ints("s", [1 << 20, 1 << 20])]),
         "node 'n' (ConstantOfShape): result #0 has shape "
         "1048576x1048576xf32, over kiln's limit")
    case("range_huge",
         model_of([helper.make_node("Range", ["a", "b", "d"], ["y"], name="n")],
                  [], [vi("y", F32, None)],
                  [floats("a", 0.0), floats("b", 1e13), floats("d", 1.0)]),
         "node 'n' (Range): result #0 has shape 9999999827968xf32, over "
         "kiln's limit")
    case("tile_huge",
         unary("Tile", [2, 3], ["r"], [ints("r", [1 << 30, 1 << 30])]),
         "node 'n' (Tile): result #0 has shape 2147483648x3221225472xf32, "
         "over kiln's limit")


def attribute_value_cases():
    """Attribute and constant-input values that no shape can satisfy."""
    case("empty_op_type", unary("", [2, 3]), "unsupported op  (ai.onnx opset "
         "17): node n")
    case("transpose_duplicate_perm", unary("Transpose", [2, 3], perm=[0, 0]),
         "node 'n' (Transpose): 'kiln.transpose' op perm must be a "
         "permutation of [0, rank)")
    case("split_sizes_mismatch",
         model_of([helper.make_node("Split", ["x", "sp"], ["y", "z"],
                                    name="n", axis=1)],
                  [vi("x", F32, [2, 3])], [vi("y", F32, None)],
                  [ints("sp", [2, 5])]),
         "node 'n' (Split): 'kiln.split' op split sizes sum to 7 but dim 1 "
         "is 3")
    case("unsqueeze_huge_axis",
         unary("Unsqueeze", [2, 3], ["a"], [ints("a", [1 << 40])]),
         "node 'n' (Unsqueeze): 'kiln.unsqueeze' op axis 1099511627776 is "
         "out of range for rank 3")
    case("range_zero_delta",
         model_of([helper.make_node("Range", ["a", "b", "d"], ["y"], name="n")],
                  [], [vi("y", F32, None)],
                  [ints("a", 0), ints("b", 10), ints("d", 0)]),
         "node 'n' (Range): 'kiln.range' op range delta must not be 0")
    case("slice_zero_step",
         unary("Slice", [2, 3], ["s", "e", "a", "st"],
               [ints("s", [0]), ints("e", [3]), ints("a", [1]),
                ints("st", [0])]),
         "node 'n' (Slice): 'kiln.slice' op slice step must not be 0")
    case("topk_k_too_large",
         model_of([helper.make_node("TopK", ["x", "k"], ["y", "i"], name="n")],
                  [vi("x", F32, [2, 3])], [vi("y", F32, None)],
                  [ints("k", [1 << 40])]),
         "node 'n' (TopK): 'kiln.topk' op k = 1099511627776 is out of range")
    case("tile_negative_repeats",
         unary("Tile", [2, 3], ["r"], [ints("r", [-1, 2])]),
         "node 'n' (Tile): 'kiln.tile' op negative repeat -1")


def runtime_cases():
    """Valid models that fail only when run: `kiln run --backend=interpreter`
    gets their inputs (NAME.INPUT.npy) and must fail cleanly; `kiln compile`
    is not checked (it succeeds)."""
    # A 64 GiB intermediate: under the driver's 4 GB limit the interpreter's
    # allocation fails, which must be an error, not an abort.
    m = unary("Expand", [1, 1], ["s"], [ints("s", [1 << 17, 1 << 17])])
    RUN_ONLY.append(("interpreter_out_of_memory", m, {"x": np.ones(
        (1, 1), np.float32)}, "node 'n' (kiln.expand): reference kernel "
        "failed: std::bad_alloc\tneeds-memory-limit"))
    # Token ids past the table: an error naming the node, not a bad read.
    m = model_of([helper.make_node("Gather", ["table", "ids"], ["y"],
                                   name="embed")],
                 [vi("ids", I64, [3])], [vi("y", F32, None)],
                 [floats("table", np.ones((5, 3)))])
    RUN_ONLY.append(("gather_input_out_of_range", m,
                     {"ids": np.array([0, 7, 1], np.int64)},
                     "node 'embed' (kiln.gather): gather: index 7 is out of "
                     "range for a dim of size 5"))


def relu_model_with_input(shape):
    return model_of([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                    [vi("x", F32, shape)], [vi("y", F32, None)])


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    byte_cases()
    model_cases()
    name_cases()
    initializer_cases()
    external_cases()
    op_cases()
    shape_cases()
    attribute_value_cases()
    runtime_cases()
    for name, model, inputs, expect in RUN_ONLY:
        case(name, model, expect)
        CASES[-1] = (name, expect + "\trun-only")
        for input_name, value in inputs.items():
            np.save(os.path.join(OUT, "%s.%s.npy" % (name, input_name)), value)
    names = [n for n, _ in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    with open(os.path.join(OUT, "expected.txt"), "w") as f:
        f.write("# case<TAB>substring of its error[<TAB>needs-memory-limit]"
                "[<TAB>run-only] (written by make_models.py)\n")
        for name, expect in CASES:
            f.write(f"{name}\t{expect}\n")
    print(f"wrote {len(CASES)} models to {OUT}")


if __name__ == "__main__":
    main()

// Tests of the ONNX importer: graph inputs and outputs, names and locations,
// errors, import-time folding and tensors (typed fields, external data, .pb).
#include "OnnxModelBuilder.h"

#include <algorithm>
#include <fstream>

using namespace mlir;
using namespace kiln;
using namespace kiln::testing;

namespace {

//===----------------------------------------------------------------------===//
// Graph inputs, outputs, names, locations
//===----------------------------------------------------------------------===//

TEST_F(OnnxImporterTest, SymbolicDimsAndNames) {
  Model m;
  m.input("x", {"batch", 4});
  m.input("y", {"batch", 4});
  m.node("Add", {"x", "y"}, {"z"}, "add0");
  m.output("z");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir, "tensor<?x4xf32> {kiln.dims = [\"batch\", \"\"], "
                        "kiln.name = \"x\"}");
  EXPECT_CONTAINS(r.ir, "-> (tensor<?x4xf32> {kiln.name = \"z\"})");
  EXPECT_EQ(r.count<AddOp>(), 1);
  r.module->walk([](AddOp op) {
    auto loc = dyn_cast<NameLoc>(op.getLoc());
    ASSERT_TRUE(loc);
    EXPECT_EQ(loc.getName().str(), "add0");
  });
}

TEST_F(OnnxImporterTest, DimValuesAndInputShapesPin) {
  Model m;
  m.input("ids", {1, "seq"}, onnx::TensorProto::INT64);
  m.input("mask", {1, "seq"}, onnx::TensorProto::INT64);
  m.input("w", {"", 3}); // an unnamed unknown dim
  m.node("Add", {"ids", "mask"}, {"s"});
  m.node("Relu", {"w"}, {"r"});
  m.output("s");
  m.output("r");
  OnnxImportOptions opts;
  opts.dimValues["seq"] = 128;
  opts.inputShapes["w"] = {5, 3};
  Imported r = import(m, opts);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir, "-> (tensor<1x128xi64> {kiln.name = \"s\"}, "
                        "tensor<5x3xf32> {kiln.name = \"r\"})");
  // Pinned symbolic dims keep their names; pinned unnamed ones need none.
  EXPECT_CONTAINS(r.ir, "tensor<1x128xi64> {kiln.dims = [\"\", \"seq\"], "
                        "kiln.name = \"ids\"}");
  EXPECT_CONTAINS(r.ir, "tensor<5x3xf32> {kiln.name = \"w\"}");

  // Pinning one input's symbolic dim pins it everywhere.
  OnnxImportOptions byShape;
  byShape.inputShapes["ids"] = {1, 64};
  Imported r2 = import(m, byShape);
  ASSERT_TRUE(r2.module) << r2.diags;
  EXPECT_CONTAINS(r2.ir, "tensor<1x64xi64> {kiln.dims = [\"\", \"seq\"], "
                         "kiln.name = \"mask\"}");
  EXPECT_CONTAINS(r2.ir, "{kiln.dims = [\"\", \"\"], kiln.name = \"w\"}");
}

TEST_F(OnnxImporterTest, OutputDimNamesFromTheModel) {
  Model m;
  m.input("x", {"batch", 4});
  m.node("Relu", {"x"}, {"y"});
  m.node("Relu", {"x"}, {"z"});
  m.output("y");
  m.output("z");
  auto *dims = m.graph()
                   .mutable_output(0)
                   ->mutable_type()
                   ->mutable_tensor_type()
                   ->mutable_shape();
  dims->add_dim()->set_dim_param("n");
  dims->add_dim()->set_dim_value(4);
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir, "-> (tensor<?x4xf32> {kiln.dims = [\"n\", \"\"], "
                        "kiln.name = \"y\"}, tensor<?x4xf32> {kiln.name = "
                        "\"z\"})");
}

TEST_F(OnnxImporterTest, PinErrors) {
  Model m;
  m.input("x", {2, "seq"});
  m.node("Relu", {"x"}, {"y"});
  m.output("y");
  OnnxImportOptions contradict;
  contradict.inputShapes["x"] = {3, 8};
  EXPECT_CONTAINS(import(m, contradict).diags,
                  "cannot pin input 'x' dim 0 to 3: the model has 2");
  OnnxImportOptions badRank;
  badRank.inputShapes["x"] = {2};
  EXPECT_CONTAINS(import(m, badRank).diags,
                  "cannot pin input 'x' to rank 1: the model gives it rank 2");
  OnnxImportOptions noInput;
  noInput.inputShapes["nope"] = {1};
  EXPECT_CONTAINS(import(m, noInput).diags,
                  "cannot pin input 'nope': the model has no graph input");
  OnnxImportOptions noDim;
  noDim.dimValues["sequence"] = 4;
  EXPECT_CONTAINS(import(m, noDim).diags,
                  "cannot pin dim 'sequence': no graph input has a dim");
}

TEST_F(OnnxImporterTest, InitializerListedAsInputIsAConstant) {
  Model m;
  m.input("x", {2});
  m.input("b", {2}); // ONNX IR < 4 style: the initializer is also an input
  m.initF32("b", {2}, {1, 2});
  m.node("Add", {"x", "b"}, {"y"});
  m.output("y");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_EQ(r.main().getNumArguments(), 1u);
  EXPECT_EQ(r.count<ConstantOp>(), 1);
}

TEST_F(OnnxImporterTest, LargeInitializersAreResources) {
  Model m;
  m.input("x", {4, 5});
  std::vector<float> big(20, 0.5f), small(4, 1.0f);
  m.initF32("onnx::MatMul_7", {5, 4}, big);
  m.initF32("onnx::MatMul:7", {5, 4}, big); // sanitizes to the same key
  m.initF32("bias", {4}, small);
  m.node("MatMul", {"x", "onnx::MatMul_7"}, {"a"});
  m.node("MatMul", {"x", "onnx::MatMul:7"}, {"b"});
  m.node("Add", {"a", "b"}, {"c"});
  m.node("Transpose", {"c"}, {"d"});
  m.node("Add", {"d", "bias"}, {"e"});
  m.output("e");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir, "dense_resource<onnx__MatMul_7>");
  EXPECT_CONTAINS(r.ir, "dense_resource<onnx__MatMul_7_1>");
  EXPECT_CONTAINS(r.ir, "dense<1.000000e+00> : tensor<4xf32>");
}

TEST_F(OnnxImporterTest, UnusedNodesAndInitializersAreDropped) {
  Model m;
  m.input("x", {2});
  m.initF32("unused", {2}, {1, 2});
  m.node("Relu", {"x"}, {"y"});
  m.node("Exp", {"x"}, {"dead"});
  m.output("y");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_EQ(r.count<ExpOp>(), 0);
  EXPECT_EQ(r.count<ConstantOp>(), 0);
}

TEST_F(OnnxImporterTest, UnsortedNodesAreSorted) {
  Model m;
  m.input("x", {2});
  m.node("Exp", {"t"}, {"y"});
  m.node("Relu", {"x"}, {"t"});
  m.output("y");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_EQ(r.count<ExpOp>(), 1);
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

TEST_F(OnnxImporterTest, UnsupportedOpsListedAtOnce) {
  Model m;
  m.input("x", {2});
  m.node("NonMaxSuppression", {"x"}, {"a"}, "nms_1");
  m.node("Loop", {"x"}, {"b"}, "loop0");
  m.node("Loop", {"x"}, {"c"}, "loop1");
  m.node("Relu", {"x"}, {"d"}, "fine");
  m.node("FusedGelu", {"x"}, {"e"}).set_domain("com.microsoft");
  m.output("d");
  Imported r = import(m);
  EXPECT_FALSE(r.module);
  EXPECT_CONTAINS(r.diags,
                  "loc(\"model.onnx\":0:0): unsupported op NonMaxSuppression "
                  "(ai.onnx opset 17): node nms_1; unsupported op Loop "
                  "(ai.onnx opset 17): nodes loop0, loop1; unsupported op "
                  "FusedGelu (com.microsoft, not imported): node FusedGelu_4");
  EXPECT_EQ(std::count(r.diags.begin(), r.diags.end(), '\n'), 1) << r.diags;
}

TEST_F(OnnxImporterTest, OpsetOutOfRange) {
  Model newer(24);
  newer.input("x", {2});
  newer.node("Relu", {"x"}, {"y"});
  newer.output("y");
  EXPECT_CONTAINS(import(newer).diags,
                  "unsupported ai.onnx opset 24 (kiln imports opsets 1 to 23)");
  Model zero(0);
  zero.input("x", {2});
  zero.node("Relu", {"x"}, {"y"});
  zero.output("y");
  EXPECT_CONTAINS(import(zero).diags,
                  "the model uses ai.onnx opset 0; opsets start at 1");
  Model none;
  none.proto.clear_opset_import();
  none.input("x", {2});
  none.node("Relu", {"x"}, {"y"});
  none.output("y");
  EXPECT_CONTAINS(import(none).diags, "imports no ai.onnx opset");
}

TEST_F(OnnxImporterTest, NodeErrorsNameNodeAndOpType) {
  Model m;
  m.input("x", {2, 3});
  m.input("y", {4, 5});
  m.node("MatMul", {"x", "y"}, {"z"}, "proj");
  m.output("z");
  Imported r = import(m);
  EXPECT_FALSE(r.module);
  EXPECT_CONTAINS(r.diags,
                  "loc(\"proj\"(\"model.onnx\":0:0)): node 'proj' (MatMul): ");

  Model undefined;
  undefined.input("x", {2});
  undefined.node("Add", {"x", "nowhere"}, {"y"});
  undefined.output("y");
  EXPECT_CONTAINS(import(undefined).diags,
                  "node 'Add_0' (Add): input 'nowhere' is not produced by any "
                  "node, initializer or graph input");
}

TEST_F(OnnxImporterTest, VerifierErrorsNameTheNode) {
  Model m;
  m.input("x", {4, 3});
  m.input("idx", {2}); // float indices
  m.node("Gather", {"x", "idx"}, {"y"}, "take");
  m.output("y");
  EXPECT_CONTAINS(import(m).diags, "node 'take' (Gather): 'kiln.gather' op "
                                   "operand #1 must be ranked tensor of");
}

TEST_F(OnnxImporterTest, CyclesAndDuplicateOutputs) {
  Model m;
  m.input("x", {2});
  m.node("Add", {"x", "b"}, {"a"}, "first");
  m.node("Relu", {"a"}, {"b"}, "second");
  m.output("b");
  EXPECT_CONTAINS(import(m).diags, "node 'first' (Add): is part of a cycle");
  Model d;
  d.input("x", {2});
  d.node("Relu", {"x"}, {"y"}, "one");
  d.node("Exp", {"x"}, {"y"}, "two");
  d.output("y");
  EXPECT_CONTAINS(import(d).diags, "node 'two' (Exp): output 'y' is already "
                                   "defined elsewhere in the graph");
}

TEST_F(OnnxImporterTest, NonConstantAttributeInputIsUnsupported) {
  Model m(13);
  m.input("x", {2, 1});
  m.input("axes", {1}, onnx::TensorProto::INT64);
  m.node("Squeeze", {"x", "axes"}, {"y"}, "sq");
  m.output("y");
  EXPECT_CONTAINS(
      import(m).diags,
      "unsupported: non-constant 'axes' input of node sq (Squeeze)");
  // Computed from a shape it is not known before import-time folding, which
  // cannot compute it when the shape is dynamic: the converter says so.
  Model s(13);
  s.input("x", {"n", 1});
  s.initI64("zero", {0});
  s.node("Shape", {"x"}, {"shape"});
  s.node("Gather", {"shape", "zero"}, {"axes"});
  s.node("Unsqueeze", {"x", "axes"}, {"y"}, "un");
  s.output("y");
  EXPECT_CONTAINS(import(s).diags,
                  "node 'un' (Unsqueeze): unsupported: non-constant 'axes' "
                  "input #1 (axes 'axes'); kiln needs its value at import");
}

TEST_F(OnnxImporterTest, UnusedOptionalOutputsOnly) {
  Model m;
  m.input("x", {2});
  m.node("Dropout", {"x"}, {"y", "mask"}, "drop");
  m.output("y");
  Imported ok = import(m);
  ASSERT_TRUE(ok.module) << ok.diags;
  EXPECT_EQ(ok.count<IdentityOp>(), 1);
  // The mask of inference is all true (from opset 10, where it is bool).
  m.output("mask");
  Imported mask = import(m);
  ASSERT_TRUE(mask.module) << mask.diags;
  EXPECT_CONTAINS(mask.ir, "kiln.constant dense<true> : tensor<2xi1>");
  // LayerNormalization's Mean and InvStdDev are not computed.
  Model ln;
  ln.input("x", {2, 4});
  ln.initF32("g", {4}, {1, 1, 1, 1});
  ln.node("LayerNormalization", {"x", "g"}, {"y", "mean", "inv"}, "ln");
  ln.output("y");
  ln.output("inv");
  EXPECT_CONTAINS(import(ln).diags,
                  "unsupported: output #2 'inv' of node ln "
                  "(LayerNormalization) is used; kiln computes only output #0");
}

TEST_F(OnnxImporterTest, OpNeedsNewerOpset) {
  Model m(17);
  m.input("x", {2});
  m.node("Gelu", {"x"}, {"y"}, "g");
  m.output("y");
  EXPECT_CONTAINS(import(m).diags,
                  "node 'g' (Gelu): Gelu needs opset 20 or later; the model "
                  "uses 17");
}

TEST_F(OnnxImporterTest, BadAttributeKindAndCastTarget) {
  Model m;
  m.input("x", {2});
  auto &n = m.node("Cast", {"x"}, {"y"}, "c");
  attrInt(n, "to", onnx::TensorProto::STRING);
  m.output("y");
  EXPECT_CONTAINS(import(m).diags,
                  "unsupported element type STRING: Cast target of node c "
                  "(Cast)");
  Model m2;
  m2.input("x", {2, 3});
  attrString(m2.node("Softmax", {"x"}, {"y"}, "s"), "axis", "last");
  m2.output("y");
  EXPECT_CONTAINS(
      import(m2).diags,
      "node 's' (Softmax): attribute 'axis' must be an INT, not STRING");
}

TEST_F(OnnxImporterTest, MissingOutputAndBadInputType) {
  Model m;
  m.input("x", {2});
  m.node("Relu", {"x"}, {"y"});
  m.output("nothing");
  EXPECT_CONTAINS(import(m).diags, "graph output 'nothing' is not produced");
  Model s;
  s.input("x", {2}, onnx::TensorProto::STRING);
  s.node("Relu", {"x"}, {"y"});
  s.output("y");
  EXPECT_CONTAINS(import(s).diags,
                  "unsupported element type STRING: graph input 'x'");
}

TEST_F(OnnxImporterTest, TruncatedAndGarbageFiles) {
  Model m;
  m.input("x", {"n", 3});
  m.initF32("w", {3, 8}, std::vector<float>(24, 0.25f));
  m.node("MatMul", {"x", "w"}, {"y"}, "mm");
  m.output("y");
  std::string bytes = m.proto.SerializeAsString();
  std::string dir = tempDir();
  std::string path = dir + "/model.onnx";
  auto write = [&](const std::string &data) {
    std::ofstream(path, std::ios::binary) << data;
  };
  write(bytes);
  Imported whole = importFile(path);
  ASSERT_TRUE(whole.module) << whole.diags;
  // Every strict prefix fails with exactly one error, and nothing crashes.
  for (size_t n = 0; n < bytes.size(); ++n) {
    write(bytes.substr(0, n));
    Imported r = importFile(path);
    EXPECT_FALSE(r.module) << "prefix of " << n << " bytes imported";
    EXPECT_EQ(std::count(r.diags.begin(), r.diags.end(), '\n'), 1)
        << "prefix " << n << ": " << r.diags;
    EXPECT_CONTAINS(r.diags, path);
  }
  write(std::string(100, '\xff'));
  EXPECT_CONTAINS(importFile(path).diags, "not a valid ONNX model");
  EXPECT_CONTAINS(importFile(dir + "/missing.onnx").diags,
                  "cannot read the model");
}

//===----------------------------------------------------------------------===//
// Constant folding of shape subgraphs
//===----------------------------------------------------------------------===//

/// x -> Shape -> Gather(0), Gather(2) -> Unsqueeze -> Concat([.., -1, ..]) ->
/// Reshape(x): the usual exported "keep batch and hidden, merge the rest".
Model shapeSubgraphModel(std::vector<Dim> dims) {
  Model m(13);
  m.input("x", dims);
  m.initI64("zero", {0});
  m.initI64("two", {2});
  m.initI64("minus1", {-1});
  *m.graph().add_initializer() = Model::tensorI64("i0", {}, {0});
  *m.graph().add_initializer() = Model::tensorI64("i2", {}, {2});
  m.node("Shape", {"x"}, {"s"});
  m.node("Gather", {"s", "i0"}, {"d0"});
  m.node("Gather", {"s", "i2"}, {"d2"});
  m.node("Unsqueeze", {"d0", "zero"}, {"u0"});
  m.node("Unsqueeze", {"d2", "zero"}, {"u2"});
  attrInt(m.node("Concat", {"u0", "minus1", "u2"}, {"shape"}), "axis", 0);
  m.node("Reshape", {"x", "shape"}, {"y"});
  m.output("y");
  return m;
}

TEST_F(OnnxImporterTest, StaticShapeSubgraphFolds) {
  Imported r = import(shapeSubgraphModel({2, 3, 4}));
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_EQ(r.count<ShapeOp>(), 0) << r.ir;
  EXPECT_EQ(r.count<GatherOp>(), 0) << r.ir;
  EXPECT_EQ(r.count<ConcatOp>(), 0) << r.ir;
  EXPECT_EQ(constOperand<ReshapeOp>(r, 1), (std::vector<int64_t>{2, -1, 4}));
  EXPECT_CONTAINS(r.ir, "tensor<2x3x4xf32> {kiln.name = \"y\"}");
}

TEST_F(OnnxImporterTest, PartlyDynamicShapeFoldsStaticDims) {
  Imported r = import(shapeSubgraphModel({"batch", 3, 4}));
  ASSERT_TRUE(r.module) << r.diags;
  // Gather(shape, 2) is the static 4; Gather(shape, 0) stays.
  EXPECT_EQ(r.count<ShapeOp>(), 1) << r.ir;
  EXPECT_EQ(r.count<GatherOp>(), 1) << r.ir;
  OnnxImportOptions pinned;
  pinned.dimValues["batch"] = 2;
  Imported p = import(shapeSubgraphModel({"batch", 3, 4}), pinned);
  ASSERT_TRUE(p.module) << p.diags;
  EXPECT_EQ(p.count<ShapeOp>(), 0) << p.ir;
}

/// x [batch, seq, 64] reshaped to [batch, seq, 4, 16] by a target computed
/// from x's shape, as exporters write it.
Model headSplitModel() {
  Model m;
  m.input("x", {"batch", "seq", 64});
  m.initI64("zero", {0});
  m.initI64("heads", {4});
  m.initI64("size", {16});
  m.node("Shape", {"x"}, {"s"});
  *m.graph().add_initializer() = Model::tensorI64("i0", {}, {0});
  *m.graph().add_initializer() = Model::tensorI64("i1", {}, {1});
  m.node("Gather", {"s", "i0"}, {"b"});
  m.node("Gather", {"s", "i1"}, {"n"});
  m.node("Unsqueeze", {"b", "zero"}, {"b1"});
  m.node("Unsqueeze", {"n", "zero"}, {"n1"});
  attrInt(m.node("Concat", {"b1", "n1", "heads", "size"}, {"t"}), "axis", 0);
  m.node("Reshape", {"x", "t"}, {"y"}, "split_heads");
  m.output("y");
  return m;
}

TEST_F(OnnxImporterTest, ShapeComputationsKeepStaticDims) {
  Imported r = import(headSplitModel());
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir, "-> (tensor<?x?x4x16xf32> {kiln.name = \"y\"})");
  std::vector<ref::Tensor> out =
      runMain(r, {ref::Tensor(ref::DType::F32, {2, 3, 64})});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape(), (ref::Shape{2, 3, 4, 16}));

  // Slice of a shape, integer arithmetic, a 0 (copy) dim, Expand and
  // ConstantOfShape.
  Model m;
  m.input("x", {"batch", 5, 64});
  m.input("e", {1, 16});
  m.initI64("zero", {0});
  m.initI64("one", {1});
  m.initI64("div", {1, 1, 4});
  m.initI64("four", {4});
  m.initI64("eight", {8});
  m.node("Shape", {"x"}, {"s"});
  m.node("Slice", {"s", "zero", "one"}, {"b"}); // [batch]
  m.node("Div", {"s", "div"}, {"q"});           // [batch, 5, 16]
  attrInt(m.node("Concat", {"q", "four"}, {"t1"}), "axis", 0);
  m.node("Reshape", {"x", "t1"}, {"r1"});
  attrInt(m.node("Concat", {"b", "zero", "eight", "eight"}, {"t2"}), "axis", 0);
  m.node("Reshape", {"x", "t2"}, {"r2"});
  attrInt(m.node("Concat", {"b", "one", "one"}, {"t3"}), "axis", 0);
  m.node("Expand", {"e", "t3"}, {"ex"});
  attrInt(m.node("Concat", {"b", "eight"}, {"t4"}), "axis", 0);
  m.node("ConstantOfShape", {"t4"}, {"fill"});
  for (auto o : {"r1", "r2", "ex", "fill"})
    m.output(o);
  Imported r2 = import(m);
  ASSERT_TRUE(r2.module) << r2.diags;
  EXPECT_CONTAINS(r2.ir, "-> (tensor<?x5x16x4xf32> {kiln.name = \"r1\"}, "
                         "tensor<?x5x8x8xf32> {kiln.name = \"r2\"}, "
                         "tensor<?x1x16xf32> {kiln.name = \"ex\"}, "
                         "tensor<?x8xf32> {kiln.name = \"fill\"})");
  out = runMain(r2, {ref::Tensor(ref::DType::F32, {3, 5, 64}),
                     ref::Tensor(ref::DType::F32, {1, 16})});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].shape(), (ref::Shape{3, 5, 16, 4}));
  EXPECT_EQ(out[1].shape(), (ref::Shape{3, 5, 8, 8}));
  EXPECT_EQ(out[2].shape(), (ref::Shape{3, 1, 16}));
  EXPECT_EQ(out[3].shape(), (ref::Shape{3, 8}));
}

TEST_F(OnnxImporterTest, MinusOneFromTheInputsOwnDims) {
  // Reshape(x, [B, S, -1]) of x [B, S, 4, 8]: B and S are x's own dims, so -1
  // is 32. Read from another tensor's shape they might differ: -1 unknown.
  Model m(13);
  m.input("x", {"batch", "seq", 4, 8});
  m.input("other", {"batch", "seq", 4, 8});
  m.initI64("zero", {0});
  m.initI64("one", {1});
  m.initI64("two", {2});
  m.initI64("minus1", {-1});
  m.node("Shape", {"x"}, {"s"});
  m.node("Slice", {"s", "zero", "two"}, {"bs"});
  attrInt(m.node("Concat", {"bs", "minus1"}, {"t"}), "axis", 0);
  m.node("Reshape", {"x", "t"}, {"merged"});
  m.node("Reshape", {"other", "t"}, {"unknown"});
  // 0 copies a dim: [0, S, -1] is the same.
  m.node("Slice", {"s", "one", "two"}, {"seq"});
  attrInt(m.node("Concat", {"zero", "seq", "minus1"}, {"t0"}), "axis", 0);
  m.node("Reshape", {"x", "t0"}, {"copied"});
  for (auto o : {"merged", "unknown", "copied"})
    m.output(o);
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir, "-> (tensor<?x?x32xf32> {kiln.name = \"merged\"}, "
                        "tensor<?x?x?xf32> {kiln.name = \"unknown\"}, "
                        "tensor<?x?x32xf32> {kiln.name = \"copied\"})");
  ref::Tensor x(ref::DType::F32, {2, 3, 4, 8});
  std::vector<ref::Tensor> out = runMain(r, {x, x});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].shape(), (ref::Shape{2, 3, 32}));
  EXPECT_EQ(out[2].shape(), (ref::Shape{2, 3, 32}));
}

TEST_F(OnnxImporterTest, ShapeFromDataStaysDynamic) {
  // A target shape read from a graph input is not known at import; constant
  // parts of it are.
  Model m;
  m.input("x", {"batch", 64});
  m.input("t", {2}, onnx::TensorProto::INT64);
  m.initI64("sixteen", {16});
  m.node("Reshape", {"x", "t"}, {"y"});
  m.node("Shape", {"t"}, {"len"}); // [2]: static, folded
  attrInt(m.node("Concat", {"t", "sixteen"}, {"t3"}), "axis", 0);
  m.node("Reshape", {"x", "t3"}, {"z"});
  m.output("y");
  m.output("len");
  m.output("z");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir, "-> (tensor<?x?xf32> {kiln.name = \"y\"}, "
                        "tensor<1xi64> {kiln.name = \"len\"}, "
                        "tensor<?x?x16xf32> {kiln.name = \"z\"})");
}

TEST_F(OnnxImporterTest, FoldingCanBeDisabled) {
  OnnxImportOptions opts;
  opts.foldConstants = false;
  Imported r = import(shapeSubgraphModel({2, 3, 4}), opts);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_EQ(r.count<ShapeOp>(), 1);
  EXPECT_EQ(r.count<ConcatOp>(), 1);
}

TEST_F(OnnxImporterTest, WeightsAreNotFolded) {
  Model m;
  m.input("x", {2, 300});
  m.initF32("w", {300, 300}, std::vector<float>(90000, 1.0f));
  m.node("Transpose", {"w"}, {"wt"});
  m.node("MatMul", {"x", "wt"}, {"y"});
  m.output("y");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_EQ(r.count<TransposeOp>(), 1);
}

//===----------------------------------------------------------------------===//
// Tensors: typed fields, external data, .pb files
//===----------------------------------------------------------------------===//

TEST_F(OnnxImporterTest, TensorFromTypedFields) {
  onnx::TensorProto f16;
  f16.set_data_type(onnx::TensorProto::FLOAT16);
  f16.add_dims(2);
  f16.add_int32_data(0x3c00); // 1.0
  f16.add_int32_data(0xc000); // -2.0
  ref::Tensor t = tensorFromProto(f16, ".");
  EXPECT_EQ(t.dtype(), ref::DType::F16);
  EXPECT_EQ(t.getDouble(1), -2.0);

  onnx::TensorProto b;
  b.set_data_type(onnx::TensorProto::BOOL);
  b.add_dims(3);
  for (int v : {1, 0, 1})
    b.add_int32_data(v);
  EXPECT_EQ(tensorFromProto(b, ".").toInts(), (std::vector<int64_t>{1, 0, 1}));

  onnx::TensorProto bad = Model::tensorF32("w", {2, 2}, {1, 2, 3});
  try {
    tensorFromProto(bad, ".");
    ADD_FAILURE() << "no error";
  } catch (const ref::Error &e) {
    EXPECT_CONTAINS(std::string(e.what()),
                    "tensor 'w' has 12 bytes of raw_data "
                    "but its shape and type need 16");
  }
  onnx::TensorProto str;
  str.set_name("s");
  str.set_data_type(onnx::TensorProto::STRING);
  EXPECT_THROW(tensorFromProto(str, "."), ref::Error);
}

TEST_F(OnnxImporterTest, ExternalData) {
  std::string dir = tempDir();
  std::vector<float> data(24);
  for (int i = 0; i < 24; ++i)
    data[i] = float(i);
  {
    std::ofstream f(dir + "/weights.bin", std::ios::binary);
    f << "PAD!"; // the tensor starts at offset 4
    f.write((const char *)data.data(), 96);
  }
  auto makeModel = [&](const std::string &location, int64_t offset) {
    Model m;
    m.input("x", {2, 4});
    onnx::TensorProto *w = m.graph().add_initializer();
    w->set_name("w");
    w->set_data_type(onnx::TensorProto::FLOAT);
    w->add_dims(4);
    w->add_dims(6);
    w->set_data_location(onnx::TensorProto::EXTERNAL);
    auto *loc = w->add_external_data();
    loc->set_key("location");
    loc->set_value(location);
    auto *off = w->add_external_data();
    off->set_key("offset");
    off->set_value(std::to_string(offset));
    m.node("MatMul", {"x", "w"}, {"y"});
    m.output("y");
    return m;
  };
  Imported r = import(makeModel("weights.bin", 4), {}, dir);
  ASSERT_TRUE(r.module) << r.diags;
  std::vector<int64_t> got = constOperand<MatMulOp>(r, 1);
  r.module->walk([&](MatMulOp op) {
    ref::Tensor w = toTensor(getConstantValue(op.getB()));
    EXPECT_EQ(w.shape(), (ref::Shape{4, 6}));
    EXPECT_EQ(w.getDouble(23), 23.0);
  });
  EXPECT_CONTAINS(import(makeModel("nope.bin", 0), {}, dir).diags,
                  "cannot open external data file '" + dir +
                      "/nope.bin' of tensor 'w'");
  EXPECT_CONTAINS(import(makeModel("weights.bin", 8), {}, dir).diags,
                  "of tensor 'w' is too short: needs 96 bytes at offset 8, "
                  "file has 100");
}

TEST_F(OnnxImporterTest, ReadTensorFile) {
  std::string dir = tempDir();
  onnx::TensorProto t = Model::tensorI64("input_0", {2, 2}, {1, -2, 3, -4});
  std::string path = dir + "/input_0.pb";
  {
    std::ofstream f(path, std::ios::binary);
    t.SerializeToOstream(&f);
  }
  ref::Tensor r = readOnnxTensorFile(path);
  EXPECT_EQ(r.dtype(), ref::DType::I64);
  EXPECT_EQ(r.toInts(), (std::vector<int64_t>{1, -2, 3, -4}));
  {
    std::ofstream f(path, std::ios::binary);
    f << std::string(t.SerializeAsString()).substr(0, 9);
  }
  EXPECT_THROW(readOnnxTensorFile(path), ref::Error);
  EXPECT_THROW(readOnnxTensorFile(dir + "/missing.pb"), ref::Error);
}

} // namespace

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
                  "loc(\"model.onnx\":0:0): unsupported ONNX ops: "
                  "NonMaxSuppression (node nms_1), Loop (nodes loop0, "
                  "loop1), com.microsoft.FusedGelu (node FusedGelu_4)");
  EXPECT_EQ(std::count(r.diags.begin(), r.diags.end(), '\n'), 1) << r.diags;
}

TEST_F(OnnxImporterTest, OpsetOutOfRange) {
  Model old(12);
  old.input("x", {2});
  old.node("Relu", {"x"}, {"y"});
  old.output("y");
  EXPECT_CONTAINS(import(old).diags, "opset 12; kiln imports opsets 13 to 21");
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

TEST_F(OnnxImporterTest, NonConstantAttributeInputIsAnError) {
  Model m(13);
  m.input("x", {2, 1});
  m.input("axes", {1}, onnx::TensorProto::INT64);
  m.node("Squeeze", {"x", "axes"}, {"y"}, "sq");
  m.output("y");
  EXPECT_CONTAINS(import(m).diags,
                  "node 'sq' (Squeeze): input #1 (axes 'axes') must be a "
                  "constant integer tensor");
}

TEST_F(OnnxImporterTest, UnusedOptionalOutputsOnly) {
  Model m;
  m.input("x", {2});
  m.node("Dropout", {"x"}, {"y", "mask"}, "drop");
  m.output("y");
  Imported ok = import(m);
  ASSERT_TRUE(ok.module) << ok.diags;
  EXPECT_EQ(ok.count<IdentityOp>(), 1);
  m.output("mask");
  EXPECT_CONTAINS(import(m).diags, "node 'drop' (Dropout): output #1 ('mask') "
                                   "is not supported but is used");
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
  EXPECT_CONTAINS(import(m).diags, "node 'c' (Cast): cannot cast to STRING");
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
                  "graph input 'x' has unsupported element type STRING");
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

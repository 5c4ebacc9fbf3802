// Tests of the ONNX importer's op conversions: the forms that changed between
// opsets 13 and 21 (attributes that became inputs, new attributes) and ops
// written with kiln ops (Clip, CastLike, Size, ArgMin, ReduceL2, ...).
#include "OnnxModelBuilder.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::testing;

namespace {

using OnnxOpsTest = OnnxImporterTest;

//===----------------------------------------------------------------------===//
// Opset-dependent forms
//===----------------------------------------------------------------------===//

TEST_F(OnnxOpsTest, ReduceAxesAttributeThenInput) {
  for (int64_t opset : {13, 17, 18, 21}) {
    Model m(opset);
    m.input("x", {2, 3, 4});
    auto &mean = m.node("ReduceMean", {"x"}, {"a"});
    auto &sum = m.node("ReduceSum", {"x", "axes"}, {"b"});
    m.initI64("axes", {1});
    if (opset < 18)
      attrInts(mean, "axes", {-1});
    else
      mean.add_input("axes_last");
    m.initI64("axes_last", {-1});
    attrInt(sum, "keepdims", 0);
    m.output("a");
    m.output("b");
    Imported r = import(m);
    ASSERT_TRUE(r.module) << "opset " << opset << ": " << r.diags;
    EXPECT_CONTAINS(r.ir, "tensor<2x3x1xf32> {kiln.name = \"a\"}");
    EXPECT_CONTAINS(r.ir, "tensor<2x4xf32> {kiln.name = \"b\"}");
  }
  Model wrong(18);
  wrong.input("x", {2, 3});
  attrInts(wrong.node("ReduceMax", {"x"}, {"y"}, "rm"), "axes", {0});
  wrong.output("y");
  EXPECT_CONTAINS(import(wrong).diags,
                  "node 'rm' (ReduceMax): has an 'axes' "
                  "attribute, but axes is an input since opset 18");
}

TEST_F(OnnxOpsTest, ReduceNoopWithEmptyAxes) {
  Model m(18);
  m.input("x", {2, 3});
  attrInt(m.node("ReduceMax", {"x"}, {"y"}), "noop_with_empty_axes", 1);
  m.node("ReduceMin", {"x"}, {"z"});
  m.output("y");
  m.output("z");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir,
                  "(tensor<2x3xf32> {kiln.name = \"y\"}, tensor<1x1xf32>");
}

TEST_F(OnnxOpsTest, SplitForms) {
  // Opset 13: sizes from the input, or equal parts per output.
  Model m(13);
  m.input("x", {6, 4});
  m.initI64("sizes", {2, 4});
  m.node("Split", {"x", "sizes"}, {"a", "b"});
  attrInt(m.node("Split", {"x"}, {"c", "d"}), "axis", 1);
  for (auto o : {"a", "b", "c", "d"})
    m.output(o);
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir, "-> (tensor<2x4xf32> {kiln.name = \"a\"}, "
                        "tensor<4x4xf32> {kiln.name = \"b\"}, tensor<6x2xf32> "
                        "{kiln.name = \"c\"}, tensor<6x2xf32>");
  // Opset 18: num_outputs, the last part smaller.
  Model m18(18);
  m18.input("x", {5});
  attrInt(m18.node("Split", {"x"}, {"a", "b"}), "num_outputs", 2);
  m18.output("a");
  m18.output("b");
  Imported r18 = import(m18);
  ASSERT_TRUE(r18.module) << r18.diags;
  EXPECT_CONTAINS(r18.ir, "(tensor<3xf32> {kiln.name = \"a\"}, tensor<2xf32>");
  // num_outputs before 18 is an error; 18 needs split or num_outputs.
  Model bad(18);
  bad.input("x", {4});
  bad.node("Split", {"x"}, {"a", "b"}, "sp");
  bad.output("a");
  EXPECT_CONTAINS(import(bad).diags, "node 'sp' (Split): needs a 'split' input "
                                     "or a 'num_outputs' attribute");
}

TEST_F(OnnxOpsTest, SqueezeUnsqueezeAxesInputs) {
  Model m(13);
  m.input("x", {1, 3, 1});
  m.initI64("ax0", {0});
  m.initI64("ax2", {0, 2});
  m.node("Squeeze", {"x", "ax0"}, {"a"});
  m.node("Squeeze", {"x"}, {"b"});
  m.node("Unsqueeze", {"b", "ax2"}, {"c"});
  m.output("a");
  m.output("c");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir,
                  "(tensor<3x1xf32> {kiln.name = \"a\"}, tensor<1x3x1xf32>");
}

TEST_F(OnnxOpsTest, GeluAndLayerNormalization) {
  Model m(20);
  m.input("x", {2, 8});
  m.initF32("g", {8}, std::vector<float>(8, 1));
  m.initF32("b", {8}, std::vector<float>(8, 0));
  attrString(m.node("Gelu", {"x"}, {"y"}), "approximate", "tanh");
  auto &ln = m.node("LayerNormalization", {"y", "g", "b"}, {"z", "", ""});
  attrFloat(ln, "epsilon", 1e-6f);
  m.output("z");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir, "kiln.gelu");
  EXPECT_CONTAINS(r.ir, "approximate = \"tanh\"");
  EXPECT_EQ(r.count<LayerNormalizationOp>(), 1);
  EXPECT_CONTAINS(r.ir, "epsilon = 9.99999997E-7 : f32");
}

TEST_F(OnnxOpsTest, TriluCumSumTopKConstantInputs) {
  Model m(14);
  m.input("x", {4, 4});
  m.initI64("k1", {1});
  m.initI64("two", {2});
  *m.graph().add_initializer() = Model::tensorI64("axis", {}, {1}); // a scalar
  attrInt(m.node("Trilu", {"x", "k1"}, {"t"}), "upper", 0);
  attrInt(m.node("CumSum", {"t", "axis"}, {"c"}), "reverse", 1);
  m.node("TopK", {"c", "two"}, {"v", "i"});
  m.output("v");
  m.output("i");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  r.module->walk([](TriluOp op) {
    EXPECT_EQ(op.getK(), 1);
    EXPECT_FALSE(op.getUpper());
  });
  r.module->walk([](CumSumOp op) {
    EXPECT_EQ(op.getAxis(), 1);
    EXPECT_TRUE(op.getReverse());
  });
  EXPECT_CONTAINS(r.ir,
                  "(tensor<4x2xf32> {kiln.name = \"v\"}, tensor<4x2xi64>");
}

TEST_F(OnnxOpsTest, SliceFillsAxesAndSteps) {
  Model m;
  m.input("x", {"n", 10});
  m.initI64("starts", {0, 2});
  m.initI64("ends", {1000, -1});
  m.node("Slice", {"x", "starts", "ends"}, {"y"});
  m.output("y");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_EQ(constOperand<SliceOp>(r, 3), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(constOperand<SliceOp>(r, 4), (std::vector<int64_t>{1, 1}));
  EXPECT_CONTAINS(r.ir, "tensor<?x7xf32> {kiln.name = \"y\"}");
}

TEST_F(OnnxOpsTest, TransposeDefaultPermAndGemm) {
  Model m;
  m.input("x", {2, 3, 4});
  m.input("a", {3, 5});
  m.input("b", {3, 5});
  m.node("Transpose", {"x"}, {"t"});
  auto &g = m.node("Gemm", {"a", "b"}, {"g"});
  attrInt(g, "transA", 1);
  attrFloat(g, "alpha", 0.5f);
  m.output("t");
  m.output("g");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir,
                  "(tensor<4x3x2xf32> {kiln.name = \"t\"}, tensor<5x5xf32>");
  r.module->walk([](GemmOp op) {
    EXPECT_TRUE(op.getTransA());
    EXPECT_FALSE(op.getTransB());
    EXPECT_EQ(op.getAlpha().convertToFloat(), 0.5f);
  });
}

TEST_F(OnnxOpsTest, VariadicAndConstantNodes) {
  Model m;
  m.input("x", {3});
  attrFloat(m.node("Constant", {}, {"c1"}), "value_float", 2.0f);
  attrInts(m.node("Constant", {}, {"shape"}), "value_ints", {3, 1});
  attrTensor(m.node("Constant", {}, {"c3"}), "value",
             Model::tensorF32("", {3}, {1, 2, 3}));
  m.node("Max", {"x", "c1", "c3"}, {"mx"});
  m.node("Mean", {"x", "c3"}, {"mean"});
  m.node("Reshape", {"mx", "shape"}, {"r"});
  m.output("r");
  m.output("mean");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_EQ(r.count<MaxOp>(), 2);
  EXPECT_EQ(r.count<DivOp>(), 1);
  EXPECT_CONTAINS(r.ir, "tensor<3x1xf32> {kiln.name = \"r\"}");
}

TEST_F(OnnxOpsTest, ConstantOfShapeValue) {
  auto makeModel = [](std::vector<Dim> dims) {
    Model m;
    m.input("x", dims);
    m.node("Shape", {"x"}, {"s"});
    attrTensor(m.node("ConstantOfShape", {"s"}, {"y"}), "value",
               Model::tensorI64("", {1}, {7}));
    m.node("ConstantOfShape", {"s"}, {"z"});
    m.output("y");
    m.output("z");
    return m;
  };
  Imported dynamic = import(makeModel({2, "n"}));
  ASSERT_TRUE(dynamic.module) << dynamic.diags;
  EXPECT_CONTAINS(dynamic.ir, "{value = 7 : i64}");
  EXPECT_CONTAINS(dynamic.ir, "{value = 0.000000e+00 : f32}");
  // With a static shape both fold to constants.
  Imported folded = import(makeModel({2, 3}));
  ASSERT_TRUE(folded.module) << folded.diags;
  EXPECT_EQ(folded.count<ConstantOfShapeOp>(), 0);
  EXPECT_CONTAINS(folded.ir, "dense<7> : tensor<2x3xi64>");
  EXPECT_CONTAINS(folded.ir, "dense<0.000000e+00> : tensor<2x3xf32>");
}

TEST_F(OnnxOpsTest, PowCastsItsExponent) {
  Model m;
  m.input("x", {3});
  m.initI64("two", {2});
  m.node("Pow", {"x", "two"}, {"y"});
  m.output("y");
  OnnxImportOptions noFold;
  noFold.foldConstants = false;
  Imported r = import(m, noFold);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_EQ(r.count<CastOp>(), 1);
  EXPECT_CONTAINS(r.ir, "kiln.pow");
  // Folded, the cast becomes an f32 constant.
  Imported folded = import(m);
  ASSERT_TRUE(folded.module) << folded.diags;
  EXPECT_EQ(folded.count<CastOp>(), 0);
  EXPECT_CONTAINS(folded.ir, "dense<2.000000e+00> : tensor<1xf32>");
}

//===----------------------------------------------------------------------===//
// Ops composed from kiln ops
//===----------------------------------------------------------------------===//

TEST_F(OnnxOpsTest, ClipInputsAndAttributes) {
  // Opset 13: optional min and max inputs (max only: min is "").
  Model m(13);
  m.input("x", {5});
  *m.graph().add_initializer() = Model::tensorF32("lo", {}, {-1});
  *m.graph().add_initializer() = Model::tensorF32("hi", {}, {2});
  m.node("Clip", {"x", "lo", "hi"}, {"both"});
  m.node("Clip", {"x", "", "hi"}, {"max"});
  m.node("Clip", {"x"}, {"none"});
  m.output("both");
  m.output("max");
  m.output("none");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  std::vector<ref::Tensor> out = runMain(r, {f32({5}, {-3, -1, 0, 2, 5})});
  ASSERT_EQ(out.size(), 3u);
  expectNear(out[0], {5}, {-1, -1, 0, 2, 2});
  expectNear(out[1], {5}, {-3, -1, 0, 2, 2});
  expectNear(out[2], {5}, {-3, -1, 0, 2, 5});
  // Opset 6: attributes.
  Model m6(6);
  m6.input("x", {5});
  auto &clip = m6.node("Clip", {"x"}, {"y"});
  attrFloat(clip, "min", -1);
  attrFloat(clip, "max", 2);
  m6.output("y");
  Imported r6 = import(m6);
  ASSERT_TRUE(r6.module) << r6.diags;
  out = runMain(r6, {f32({5}, {-3, -1, 0, 2, 5})});
  ASSERT_EQ(out.size(), 1u);
  expectNear(out[0], {5}, {-1, -1, 0, 2, 2});

  Model bad(6);
  bad.input("x", {5});
  bad.input("lo", {});
  bad.node("Clip", {"x", "lo"}, {"y"}, "c");
  bad.output("y");
  EXPECT_CONTAINS(import(bad).diags, "node 'c' (Clip): takes min and max as "
                                     "attributes before opset 11");
}

TEST_F(OnnxOpsTest, CastLikeAndSize) {
  Model m(15);
  m.input("x", {"n", 2});
  m.input("like", {1}, onnx::TensorProto::INT32);
  m.node("CastLike", {"x", "like"}, {"c"});
  m.node("Size", {"x"}, {"size"});
  m.output("c");
  m.output("size");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir, "-> (tensor<?x2xi32> {kiln.name = \"c\"}, "
                        "tensor<i64> {kiln.name = \"size\"})");
  std::vector<ref::Tensor> out = runMain(
      r, {f32({3, 2}, {1.7f, -1.7f, 0, 2, 3, 4}),
          ref::Tensor::of(ref::DType::I32, {1}, std::vector<int32_t>{0})});
  ASSERT_EQ(out.size(), 2u);
  expectNear(out[0], {3, 2}, {1, -1, 0, 2, 3, 4});
  expectNear(out[1], {}, {6});
  // A static input's size is a constant.
  OnnxImportOptions pinned;
  pinned.dimValues["n"] = 4;
  Imported p = import(m, pinned);
  ASSERT_TRUE(p.module) << p.diags;
  EXPECT_CONTAINS(p.ir, "kiln.constant dense<8> : tensor<i64>");
}

TEST_F(OnnxOpsTest, ArgMinReversesTheOrder) {
  Model m;
  m.input("x", {2, 3});
  m.input("i", {3}, onnx::TensorProto::INT64);
  m.input("u", {3}, onnx::TensorProto::UINT8);
  attrInt(m.node("ArgMin", {"x"}, {"first"}), "axis", 1);
  auto &last = m.node("ArgMin", {"x"}, {"last"});
  attrInt(last, "axis", -1);
  attrInt(last, "keepdims", 0);
  attrInt(last, "select_last_index", 1);
  m.node("ArgMin", {"i"}, {"imin"});
  m.node("ArgMin", {"u"}, {"umin"});
  for (auto o : {"first", "last", "imin", "umin"})
    m.output(o);
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  std::vector<ref::Tensor> out = runMain(
      r,
      {f32({2, 3}, {3, 1, 1, 0, 5, 0}), i64({3}, {0, INT64_MIN, INT64_MAX}),
       ref::Tensor::of(ref::DType::U8, {3}, std::vector<uint8_t>{5, 255, 0})});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].shape(), (ref::Shape{2, 1}));
  EXPECT_EQ(out[0].toInts(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(out[1].shape(), (ref::Shape{2}));
  EXPECT_EQ(out[1].toInts(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(out[2].toInts(), (std::vector<int64_t>{1}));
  EXPECT_EQ(out[3].toInts(), (std::vector<int64_t>{2}));

  Model b;
  b.input("x", {3}, onnx::TensorProto::BOOL);
  b.node("ArgMin", {"x"}, {"y"}, "am");
  b.output("y");
  EXPECT_CONTAINS(import(b).diags, "node 'am' (ArgMin): input must be "
                                   "numeric, not 'i1'");
}

TEST_F(OnnxOpsTest, ComposedReductions) {
  Model m(13);
  m.input("x", {2, 3});
  m.input("big", {2, 2});
  auto reduce = [&](const char *op, const char *in, const char *out,
                    std::vector<int64_t> axes, int keepdims) {
    auto &n = m.node(op, {in}, {out});
    if (!axes.empty())
      attrInts(n, "axes", axes);
    attrInt(n, "keepdims", keepdims);
    m.output(out);
  };
  reduce("ReduceL1", "x", "l1", {1}, 1);
  reduce("ReduceL2", "x", "l2", {1}, 0);
  reduce("ReduceSumSquare", "x", "ss", {}, 1);
  m.node("Abs", {"x"}, {"ax"});
  reduce("ReduceLogSum", "ax", "ls", {0}, 0);
  reduce("ReduceLogSumExp", "x", "lse", {-1}, 0);
  reduce("ReduceLogSumExp", "big", "stable", {1}, 1);
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  const double inf = INFINITY;
  std::vector<ref::Tensor> out =
      runMain(r, {f32({2, 3}, {1, -2, 3, -4, 5, -6}),
                  f32({2, 2}, {-(float)inf, -(float)inf, 1000, 1000})});
  ASSERT_EQ(out.size(), 6u);
  expectNear(out[0], {2, 1}, {6, 15});
  expectNear(out[1], {2}, {std::sqrt(14.0), std::sqrt(77.0)}, 1e-4);
  expectNear(out[2], {1, 1}, {91});
  expectNear(out[3], {3}, {std::log(5.0), std::log(7.0), std::log(9.0)});
  expectNear(out[4], {2},
             {std::log(std::exp(1.0) + std::exp(-2.0) + std::exp(3.0)),
              std::log(std::exp(-4.0) + std::exp(5.0) + std::exp(-6.0))},
             1e-4);
  // No overflow at 1000; a row of -inf gives -inf, not NaN.
  expectNear(out[5], {2, 1}, {-inf, 1000 + std::log(2.0)}, 1e-3);
}

TEST_F(OnnxOpsTest, ComposedReductionsOpset18AndIntegers) {
  Model m(18);
  m.input("x", {2, 2}, onnx::TensorProto::INT64);
  m.input("f", {2, 2});
  m.initI64("axes", {1});
  m.node("ReduceL2", {"x", "axes"}, {"l2"});
  attrInt(m.node("ReduceLogSumExp", {"f"}, {"same"}), "noop_with_empty_axes",
          1);
  m.output("l2");
  m.output("same");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir, "-> (tensor<2x1xi64> {kiln.name = \"l2\"}, "
                        "tensor<2x2xf32>");
  std::vector<ref::Tensor> out =
      runMain(r, {i64({2, 2}, {3, 4, 1, 1}), f32({2, 2}, {1, 2, 3, 4})});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].toInts(), (std::vector<int64_t>{5, 1})); // sqrt 2 -> 1
  expectNear(out[1], {2, 2}, {1, 2, 3, 4});

  Model bad(18);
  bad.input("x", {2, 2});
  attrInts(bad.node("ReduceL1", {"x"}, {"y"}, "r"), "axes", {0});
  bad.output("y");
  EXPECT_CONTAINS(import(bad).diags, "node 'r' (ReduceL1): has an 'axes' "
                                     "attribute, but axes is an input since "
                                     "opset 18");
}

//===----------------------------------------------------------------------===//
// Every mapped op, once
//===----------------------------------------------------------------------===//

/// One ONNX node over graph inputs (float [2,3] "x" unless given) and the kiln
/// op it must become, with its result type.
struct OpCase {
  std::string onnxOp;
  std::vector<std::pair<std::string, std::vector<Dim>>> inputs;
  std::function<void(onnx::NodeProto &)> attrs;
  std::string expect; // a substring of the printed op
  std::vector<int> types = {};
};

TEST_F(OnnxOpsTest, EveryMappedOpConverts) {
  const int F = onnx::TensorProto::FLOAT, I = onnx::TensorProto::INT64,
            B = onnx::TensorProto::BOOL;
  auto none = [](onnx::NodeProto &) {};
  std::vector<OpCase> cases = {
      {"Identity", {{"x", {2, 3}}}, none, "kiln.identity"},
      {"Neg", {{"x", {2, 3}}}, none, "kiln.neg"},
      {"Abs", {{"x", {2, 3}}}, none, "kiln.abs"},
      {"Sqrt", {{"x", {2, 3}}}, none, "kiln.sqrt"},
      {"Reciprocal", {{"x", {2, 3}}}, none, "kiln.reciprocal"},
      {"Exp", {{"x", {2, 3}}}, none, "kiln.exp"},
      {"Log", {{"x", {2, 3}}}, none, "kiln.log"},
      {"Erf", {{"x", {2, 3}}}, none, "kiln.erf"},
      {"Tanh", {{"x", {2, 3}}}, none, "kiln.tanh"},
      {"Relu", {{"x", {2, 3}}}, none, "kiln.relu"},
      {"Sigmoid", {{"x", {2, 3}}}, none, "kiln.sigmoid"},
      {"Sin", {{"x", {2, 3}}}, none, "kiln.sin"},
      {"Cos", {{"x", {2, 3}}}, none, "kiln.cos"},
      {"Floor", {{"x", {2, 3}}}, none, "kiln.floor"},
      {"Ceil", {{"x", {2, 3}}}, none, "kiln.ceil"},
      {"Not", {{"x", {2, 3}}}, none, "kiln.not", {B}},
      {"Cast",
       {{"x", {2, 3}}},
       [](onnx::NodeProto &n) { attrInt(n, "to", onnx::TensorProto::INT32); },
       "-> tensor<2x3xi32>"},
      {"Add", {{"x", {2, 3}}, {"y", {3}}}, none, "kiln.add"},
      {"Sub", {{"x", {2, 3}}, {"y", {3}}}, none, "kiln.sub"},
      {"Mul", {{"x", {2, 3}}, {"y", {3}}}, none, "kiln.mul"},
      {"Div", {{"x", {2, 3}}, {"y", {3}}}, none, "kiln.div"},
      {"Pow", {{"x", {2, 3}}, {"y", {3}}}, none, "kiln.pow"},
      {"Mod",
       {{"x", {2, 3}}, {"y", {3}}},
       [](onnx::NodeProto &n) { attrInt(n, "fmod", 1); },
       "kiln.mod %arg0, %arg1 {fmod = 1 : i64}"},
      {"Equal", {{"x", {2, 3}}, {"y", {3}}}, none, "-> tensor<2x3xi1>"},
      {"Less", {{"x", {2, 3}}, {"y", {3}}}, none, "kiln.less "},
      {"LessOrEqual", {{"x", {2, 3}}, {"y", {3}}}, none, "kiln.less_or_equal"},
      {"Greater", {{"x", {2, 3}}, {"y", {3}}}, none, "kiln.greater "},
      {"GreaterOrEqual",
       {{"x", {2, 3}}, {"y", {3}}},
       none,
       "kiln.greater_or_equal"},
      {"And", {{"x", {2}}, {"y", {2}}}, none, "kiln.and", {B, B}},
      {"Or", {{"x", {2}}, {"y", {2}}}, none, "kiln.or", {B, B}},
      {"Xor", {{"x", {2}}, {"y", {2}}}, none, "kiln.xor", {B, B}},
      {"Where",
       {{"c", {2, 3}}, {"x", {2, 3}}, {"y", {3}}},
       none,
       "kiln.where",
       {B, F, F}},
      {"Min", {{"x", {2, 3}}, {"y", {3}}}, none, "kiln.min"},
      {"Sum", {{"x", {2, 3}}, {"y", {3}}, {"z", {1}}}, none, "kiln.add"},
      {"MatMul", {{"x", {2, 3}}, {"y", {3, 4}}}, none, "-> tensor<2x4xf32>"},
      {"Gemm",
       {{"x", {2, 3}}, {"y", {4, 3}}, {"z", {4}}},
       [](onnx::NodeProto &n) { attrInt(n, "transB", 1); },
       "kiln.gemm %arg0, %arg1, %arg2 {trans_b = true}"},
      {"Einsum",
       {{"x", {2, 3}}, {"y", {3, 4}}},
       [](onnx::NodeProto &n) { attrString(n, "equation", "ij,jk->ik"); },
       "kiln.einsum %arg0, %arg1 {equation = \"ij,jk->ik\"}"},
      {"LogSoftmax",
       {{"x", {2, 3}}},
       [](onnx::NodeProto &n) { attrInt(n, "axis", 0); },
       "kiln.log_softmax %arg0 {axis = 0 : i64}"},
      {"ArgMax",
       {{"x", {2, 3}}},
       [](onnx::NodeProto &n) { attrInt(n, "axis", 1); },
       "-> tensor<2x1xi64>"},
      {"BatchNormalization",
       {{"x", {2, 3, 4}}, {"s", {3}}, {"b", {3}}, {"m", {3}}, {"v", {3}}},
       [](onnx::NodeProto &n) { attrFloat(n, "epsilon", 1e-3f); },
       "kiln.batch_normalization"},
      {"Flatten", {{"x", {2, 3, 4}}}, none, "-> tensor<2x12xf32>"},
      {"GatherElements",
       {{"x", {2, 3}}, {"i", {2, 2}}},
       [](onnx::NodeProto &n) { attrInt(n, "axis", 1); },
       "-> tensor<2x2xf32>",
       {F, I}},
      {"ScatterElements",
       {{"x", {2, 3}}, {"i", {2, 1}}, {"u", {2, 1}}},
       [](onnx::NodeProto &n) { attrString(n, "reduction", "add"); },
       "reduction = \"add\"",
       {F, I, F}},
      {"Gather",
       {{"x", {5, 3}}, {"i", {2, 4}}},
       none,
       "-> tensor<2x4x3xf32>",
       {F, I}},
      {"Expand", {{"x", {3, 1}}, {"s", {2}}}, none, "kiln.expand", {F, I}},
      {"Tile", {{"x", {3, 1}}, {"r", {2}}}, none, "kiln.tile", {F, I}},
      {"Range", {{"a", {}}, {"b", {}}, {"c", {}}}, none, "kiln.range"},
      {"Shape",
       {{"x", {2, 3, 4}}},
       [](onnx::NodeProto &n) {
         attrInt(n, "start", 1);
         attrInt(n, "end", -1);
       },
       "kiln.shape %arg0 {end = -1 : i64, start = 1 : i64}"},
      {"Reshape",
       {{"x", {2, 3}}, {"s", {2}}},
       [](onnx::NodeProto &n) { attrInt(n, "allowzero", 1); },
       "allowzero = true",
       {F, I}},
      {"Concat",
       {{"x", {2, 3}}, {"y", {2, 1}}},
       [](onnx::NodeProto &n) { attrInt(n, "axis", -1); },
       "-> tensor<2x4xf32>"},
  };
  OnnxImportOptions noFold;
  noFold.foldConstants = false;
  for (const OpCase &c : cases) {
    Model m(17);
    std::vector<std::string> names;
    for (auto [i, in] : llvm::enumerate(c.inputs)) {
      int type = i < c.types.size() ? c.types[i] : F;
      m.input(in.first, in.second, type);
      names.push_back(in.first);
    }
    c.attrs(m.node(c.onnxOp, names, {"out"}, "n"));
    m.output("out");
    Imported r = import(m, noFold);
    ASSERT_TRUE(r.module) << c.onnxOp << ": " << r.diags;
    EXPECT_CONTAINS(r.ir, c.expect) << c.onnxOp;
  }
}

} // namespace

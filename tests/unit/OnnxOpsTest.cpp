// Tests of the ONNX importer's op conversions, above all the forms that changed
// between opsets 13 and 21 (attributes that became inputs, new attributes).
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

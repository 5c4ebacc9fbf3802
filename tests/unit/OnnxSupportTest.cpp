// Tests of what the ONNX importer accepts: opsets (older opsets whose op
// schemas kiln implements, 22-23, the older forms it converts) and
// findUnsupportedOnnxFeatures, including Dropout's training_mode.
#include "OnnxModelBuilder.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::testing;

namespace {

using OnnxSupportTest = OnnxImporterTest;

std::string joined(const std::vector<std::string> &v) {
  std::string s;
  for (const std::string &e : v)
    s += e + "\n";
  return s;
}

//===----------------------------------------------------------------------===//
// Opsets
//===----------------------------------------------------------------------===//

TEST_F(OnnxSupportTest, OlderOpsetWithTheSameSchemas) {
  // And (7), Sin (7), Relu (6: only bfloat16 was added by 13), TopK (11: k
  // input), Einsum (12) have the schemas kiln implements at these opsets.
  Model m(11);
  m.input("a", {2, 3}, onnx::TensorProto::BOOL);
  m.input("x", {2, 3});
  m.initI64("k", {2});
  m.node("And", {"a", "a"}, {"and"});
  m.node("Sin", {"x"}, {"sin"});
  m.node("Relu", {"sin"}, {"relu"});
  m.node("TopK", {"relu", "k"}, {"values", "indices"});
  m.output("and");
  m.output("values");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir, "kiln.topk");
  EXPECT_TRUE(findUnsupportedOnnxFeatures(m.proto).empty());

  Model e(12);
  e.input("x", {2, 3});
  e.input("y", {3, 4});
  attrString(e.node("Einsum", {"x", "y"}, {"z"}), "equation", "ij,jk->ik");
  e.output("z");
  Imported re = import(e);
  ASSERT_TRUE(re.module) << re.diags;
  EXPECT_CONTAINS(re.ir, "-> (tensor<2x4xf32>");
}

TEST_F(OnnxSupportTest, OlderSchemasAreUnsupported) {
  // Add 6 broadcasts by attribute, TopK 1 takes k as an attribute, Cast 1
  // names its target by string: kiln implements Add from 7, TopK from 10 and
  // Cast from 6.
  Model m(6);
  m.input("x", {2, 3});
  m.node("Add", {"x", "x"}, {"a"}, "add");
  m.node("Add", {"a", "x"}, {"b"}, "add2");
  attrInt(m.node("TopK", {"b"}, {"v", "i"}, "top"), "k", 1);
  m.output("v");
  Imported r = import(m);
  EXPECT_FALSE(r.module);
  EXPECT_CONTAINS(r.diags,
                  "unsupported op Add version 6 (ai.onnx opset 6; kiln "
                  "implements Add from version 7): nodes add, add2; "
                  "unsupported op TopK version 1 (ai.onnx opset 6; kiln "
                  "implements TopK from version 10): node top");
  // At opset 7 Add is fine but TopK still old.
  m.proto.mutable_opset_import(0)->set_version(7);
  std::vector<std::string> found = findUnsupportedOnnxFeatures(m.proto);
  ASSERT_EQ(found.size(), 1u) << joined(found);
  EXPECT_CONTAINS(found[0], "unsupported op TopK version 1");
}

TEST_F(OnnxSupportTest, OpNotYetInTheOpset) {
  // LayerNormalization appears in opset 17: an invalid model before, not an
  // unsupported one.
  Model m(16);
  m.input("x", {2, 4});
  m.initF32("g", {4}, {1, 1, 1, 1});
  m.node("LayerNormalization", {"x", "g"}, {"y"}, "ln");
  m.output("y");
  EXPECT_TRUE(findUnsupportedOnnxFeatures(m.proto).empty());
  EXPECT_CONTAINS(import(m).diags,
                  "node 'ln' (LayerNormalization): LayerNormalization needs "
                  "opset 17 or later; the model uses 16");
  // Beyond libonnx's registry (opset 17) kiln's table knows Gelu is 20's.
  Model g(19);
  g.input("x", {2});
  g.node("Gelu", {"x"}, {"y"}, "gelu");
  g.output("y");
  EXPECT_TRUE(findUnsupportedOnnxFeatures(g.proto).empty());
  EXPECT_CONTAINS(import(g).diags, "node 'gelu' (Gelu): Gelu needs opset 20 "
                                   "or later; the model uses 19");
}

TEST_F(OnnxSupportTest, Opsets22And23ReadLike21) {
  for (int64_t opset : {22, 23}) {
    Model m(opset);
    m.input("x", {2, 6});
    m.initI64("shape", {3, 4});
    m.initI64("axes", {1});
    m.node("Cos", {"x"}, {"c"});
    m.node("Reshape", {"c", "shape"}, {"r"});
    m.node("ReduceMax", {"r", "axes"}, {"y"});
    m.output("y");
    Imported r = import(m);
    ASSERT_TRUE(r.module) << "opset " << opset << ": " << r.diags;
    EXPECT_CONTAINS(r.ir, "-> (tensor<3x1xf32>");
  }
}

TEST_F(OnnxSupportTest, SqueezeUnsqueezeSplitReduceAttributesBefore13) {
  Model m(11);
  m.input("x", {1, 6});
  attrInts(m.node("Squeeze", {"x"}, {"s"}), "axes", {0});
  attrInts(m.node("Unsqueeze", {"s"}, {"u"}), "axes", {0, 2});
  auto &split = m.node("Split", {"u"}, {"a", "b"});
  attrInt(split, "axis", 1);
  attrInts(split, "split", {2, 4});
  auto &sum = m.node("ReduceSum", {"b"}, {"sum"});
  attrInts(sum, "axes", {1});
  attrInt(sum, "keepdims", 0);
  m.output("a");
  m.output("sum");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_CONTAINS(r.ir, "-> (tensor<1x2x1xf32> {kiln.name = \"a\"}, "
                        "tensor<1x1xf32> {kiln.name = \"sum\"})");
  std::vector<ref::Tensor> out = runMain(r, {f32({1, 6}, {1, 2, 3, 4, 5, 6})});
  ASSERT_EQ(out.size(), 2u);
  expectNear(out[0], {1, 2, 1}, {1, 2});
  expectNear(out[1], {1, 1}, {3 + 4 + 5 + 6});

  // Inputs for them need opset 13; attributes are rejected from 13.
  Model early(11);
  early.input("x", {1, 6});
  early.initI64("axes", {0});
  early.node("Squeeze", {"x", "axes"}, {"y"}, "sq");
  early.output("y");
  EXPECT_CONTAINS(import(early).diags, "node 'sq' (Squeeze): has an axes "
                                       "input, which needs opset 13 (the "
                                       "model uses 11)");
  Model late(13);
  late.input("x", {1, 6});
  attrInts(late.node("Unsqueeze", {"x"}, {"y"}, "un"), "axes", {0});
  late.output("y");
  EXPECT_CONTAINS(import(late).diags, "node 'un' (Unsqueeze): has an 'axes' "
                                      "attribute, but axes is an input since "
                                      "opset 13");
}

TEST_F(OnnxSupportTest, SoftmaxBefore13CoercesTo2D) {
  // Opset 11, axis 1 of [2, 2, 2]: each batch row of 4 is normalized.
  Model m(11);
  m.input("x", {2, 2, 2});
  m.node("Softmax", {"x"}, {"y"});
  attrInt(m.node("LogSoftmax", {"x"}, {"z"}), "axis", -1);
  m.output("y");
  m.output("z");
  Imported r = import(m);
  ASSERT_TRUE(r.module) << r.diags;
  EXPECT_EQ(r.count<FlattenOp>(), 1) << r.ir;
  EXPECT_CONTAINS(r.ir, "-> (tensor<2x2x2xf32> {kiln.name = \"y\"}");
  // The last axis needs no coercion.
  EXPECT_CONTAINS(r.ir, "kiln.log_softmax %arg0 {axis = 2 : i64}");
  std::vector<ref::Tensor> out =
      runMain(r, {f32({2, 2, 2}, {0, 1, 2, 3, 5, 5, 5, 5})});
  ASSERT_EQ(out.size(), 2u);
  double sum = 1 + std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  expectNear(out[0], {2, 2, 2},
             {1 / sum, std::exp(1.0) / sum, std::exp(2.0) / sum,
              std::exp(3.0) / sum, 0.25, 0.25, 0.25, 0.25});
  double lse = std::log(1 + std::exp(1.0));
  expectNear(out[1], {2, 2, 2},
             {-lse, 1 - lse, -lse, 1 - lse, -std::log(2.0), -std::log(2.0),
              -std::log(2.0), -std::log(2.0)});
  // Opset 13 normalizes over the one axis.
  Model m13(13);
  m13.input("x", {2, 2, 2});
  attrInt(m13.node("Softmax", {"x"}, {"y"}), "axis", 1);
  m13.output("y");
  Imported r13 = import(m13);
  ASSERT_TRUE(r13.module) << r13.diags;
  EXPECT_EQ(r13.count<FlattenOp>(), 0);

  Model bad(11);
  bad.input("x", {2, 2});
  attrInt(bad.node("Softmax", {"x"}, {"y"}, "s"), "axis", 3);
  bad.output("y");
  EXPECT_CONTAINS(import(bad).diags,
                  "node 's' (Softmax): axis 3 is out of range for rank 2");
}

//===----------------------------------------------------------------------===//
// Dropout's training_mode
//===----------------------------------------------------------------------===//

Model dropoutModel(const std::string &modeFrom) {
  Model m(13);
  m.input("x", {2});
  if (modeFrom == "input") {
    m.input("mode", {}, onnx::TensorProto::BOOL);
  } else if (modeFrom == "true" || modeFrom == "false") {
    onnx::TensorProto t;
    t.set_name("mode");
    t.set_data_type(onnx::TensorProto::BOOL);
    t.add_int32_data(modeFrom == "true");
    *m.graph().add_initializer() = t;
  } else { // "not-true": Not(true), computed at import
    onnx::TensorProto t;
    t.set_data_type(onnx::TensorProto::BOOL);
    t.add_int32_data(1);
    attrTensor(m.node("Constant", {}, {"yes"}), "value", t);
    m.node("Not", {"yes"}, {"mode"});
  }
  m.node("Dropout", {"x", "", "mode"}, {"y"}, "drop");
  m.output("y");
  return m;
}

TEST_F(OnnxSupportTest, DropoutTrainingModeMustBeConstantFalse) {
  Imported off = import(dropoutModel("false"));
  ASSERT_TRUE(off.module) << off.diags;
  EXPECT_EQ(off.count<IdentityOp>(), 1);
  Imported folded = import(dropoutModel("not-true"));
  ASSERT_TRUE(folded.module) << folded.diags;

  Model on = dropoutModel("true");
  EXPECT_CONTAINS(joined(findUnsupportedOnnxFeatures(on.proto)),
                  "unsupported: Dropout in training mode ('training_mode' "
                  "input 'mode' is not false) in node drop (Dropout)");
  EXPECT_FALSE(import(on).module);
  Model runtime = dropoutModel("input");
  EXPECT_CONTAINS(joined(findUnsupportedOnnxFeatures(runtime.proto)),
                  "('training_mode' input 'mode' is not a constant)");
  // Computed at import to true: the converter rejects it.
  Model computed = dropoutModel("not-true");
  computed.graph()
      .mutable_node(0)
      ->mutable_attribute(0)
      ->mutable_t()
      ->set_int32_data(0, 0);
  EXPECT_TRUE(findUnsupportedOnnxFeatures(computed.proto).empty());
  EXPECT_CONTAINS(import(computed).diags,
                  "node 'drop' (Dropout): unsupported: Dropout in training "
                  "mode ('training_mode' is true)");
}

//===----------------------------------------------------------------------===//
// findUnsupportedOnnxFeatures
//===----------------------------------------------------------------------===//

TEST_F(OnnxSupportTest, SupportedModelHasNoFindings) {
  Model m;
  m.input("x", {"n", 4});
  m.initI64("axes", {0});
  m.node("Shape", {"x"}, {"s"});
  m.node("Unsqueeze", {"x", "axes"}, {"u"});
  m.output("s");
  m.output("u");
  EXPECT_TRUE(findUnsupportedOnnxFeatures(m.proto).empty());
}

TEST_F(OnnxSupportTest, EveryKindOfFinding) {
  Model m(17);
  auto *ms = m.proto.add_opset_import();
  ms->set_domain("com.microsoft");
  ms->set_version(1);
  m.input("x", {2, 3});
  m.input("k", {1}, onnx::TensorProto::INT64);
  m.input("h", {2}, onnx::TensorProto::UINT16);
  auto *seq = m.graph().add_input();
  seq->set_name("seq");
  seq->mutable_type()->mutable_sequence_type();
  *m.graph().add_initializer() = [] {
    onnx::TensorProto t;
    t.set_name("w");
    t.set_data_type(onnx::TensorProto::UINT16);
    t.add_dims(1);
    t.add_int32_data(1);
    return t;
  }();
  m.node("TopK", {"x", "k"}, {"v", "i"}, "top");
  m.node("FusedGelu", {"v"}, {"g"}, "fg").set_domain("com.microsoft");
  m.node("Hardmax", {"x"}, {"hm"}, "hm");
  attrString(m.node("Einsum", {"x"}, {"e"}, "ein"), "equation", "...i->...");
  attrInt(m.node("Cast", {"x"}, {"c"}, "cast"), "to",
          onnx::TensorProto::UINT32);
  attrInt(m.node("BatchNormalization", {"x", "w", "w", "w", "w"}, {"bn"}, "bn"),
          "training_mode", 1);
  m.output("g");
  std::string found = joined(findUnsupportedOnnxFeatures(m.proto));
  EXPECT_CONTAINS(found, "unsupported op FusedGelu (com.microsoft opset 1): "
                         "node fg\n");
  EXPECT_CONTAINS(found, "unsupported op Hardmax (ai.onnx opset 17): node "
                         "hm\n");
  EXPECT_CONTAINS(found, "unsupported element type UINT16: initializer 'w', "
                         "graph input 'h'\n");
  EXPECT_CONTAINS(found, "unsupported: graph input 'seq' is a sequence, not a "
                         "tensor\n");
  EXPECT_CONTAINS(found, "unsupported: non-constant 'k' input of node top "
                         "(TopK)\n");
  EXPECT_CONTAINS(found, "unsupported: Einsum with an ellipsis ('...') in "
                         "node ein (Einsum)\n");
  EXPECT_CONTAINS(found, "unsupported element type UINT32: Cast target of "
                         "node cast (Cast)\n");
  EXPECT_CONTAINS(found, "unsupported: BatchNormalization in training mode "
                         "in node bn (BatchNormalization)\n");
  // Ops come first, then the rest, each once.
  EXPECT_EQ(found.find("unsupported op"), 0u);
  EXPECT_EQ(std::count(found.begin(), found.end(), '\n'), 8) << found;
  // The importer reports all of them in one error.
  Imported r = import(m);
  EXPECT_FALSE(r.module);
  EXPECT_EQ(std::count(r.diags.begin(), r.diags.end(), '\n'), 1) << r.diags;
  EXPECT_CONTAINS(r.diags, "unsupported: Einsum with an ellipsis");
}

TEST_F(OnnxSupportTest, ValuesComputedFromShapesAreNotRuntime) {
  // Shape(x) depends on x's shape only: axes from it may fold at import.
  Model m(13);
  m.input("x", {2, 1});
  m.input("y", {2}, onnx::TensorProto::INT64);
  m.initI64("one", {1});
  m.node("Shape", {"x"}, {"s"});
  m.node("Sub", {"s", "one"}, {"axes"}); // [1, 0]
  m.node("Squeeze", {"x", "axes"}, {"a"});
  m.node("Add", {"y", "one"}, {"data"}); // depends on y's values
  m.node("Unsqueeze", {"x", "data"}, {"b"}, "un");
  m.output("a");
  m.output("b");
  std::vector<std::string> found = findUnsupportedOnnxFeatures(m.proto);
  ASSERT_EQ(found.size(), 1u) << joined(found);
  EXPECT_EQ(found[0],
            "unsupported: non-constant 'axes' input of node un (Unsqueeze)");
}

TEST_F(OnnxSupportTest, ManyNodesAreSummarized) {
  Model m;
  m.input("x", {2});
  for (int i = 0; i < 5; ++i)
    m.node("Hardmax", {"x"}, {"h" + std::to_string(i)});
  m.output("h0");
  std::vector<std::string> found = findUnsupportedOnnxFeatures(m.proto);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0], "unsupported op Hardmax (ai.onnx opset 17): nodes "
                      "Hardmax_0, Hardmax_1, Hardmax_2 and 2 more");
}

} // namespace

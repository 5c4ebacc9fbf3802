// ONNX -> kiln conversions for compute ops: elementwise math, comparisons and
// logic, matmuls, softmax, reductions, normalizations, Cast and Identity.
#include "OnnxImporterImpl.h"

#include <climits>

using namespace mlir;
using namespace kiln;
using namespace kiln::onnx_import;

namespace {

using Outputs = SmallVectorImpl<Value>;

LogicalResult push(Outputs &out, Value v) {
  if (!v)
    return failure();
  out.push_back(v);
  return success();
}

template <typename OpT> LogicalResult unary(NodeConverter &c, Outputs &out) {
  return push(out, c.build<OpT>(c.input(0)));
}

template <typename OpT> LogicalResult binary(NodeConverter &c, Outputs &out) {
  return push(out, c.build<OpT>(c.input(0), c.input(1)));
}

/// Variadic Max/Min/Sum: a left-to-right chain of the binary op.
template <typename OpT> LogicalResult chain(NodeConverter &c, Outputs &out) {
  Value acc = c.input(0);
  if (c.numInputs() == 1)
    return push(out, c.build<IdentityOp>(acc));
  for (unsigned i = 1; i < c.numInputs() && acc; ++i) {
    if (!c.input(i))
      return c.error() << "input #" << i << " is missing";
    acc = c.build<OpT>(acc, c.input(i));
  }
  return push(out, acc);
}

LogicalResult mean(NodeConverter &c, Outputs &out) {
  auto type = c.inputType(0);
  if (!type || !isa<FloatType>(type.getElementType()))
    return c.error() << "inputs must be float tensors";
  SmallVector<Value> sum;
  if (failed(chain<AddOp>(c, sum)))
    return failure();
  if (c.numInputs() == 1)
    return push(out, sum[0]);
  Value n = c.scalar(type.getElementType(), c.numInputs());
  return push(out, c.build<DivOp>(sum[0], n));
}

/// Pow allows an exponent of another type; kiln.pow wants one type.
LogicalResult pow(NodeConverter &c, Outputs &out) {
  Value base = c.input(0), exponent = c.input(1);
  auto bt = c.inputType(0), et = c.inputType(1);
  if (bt && et && bt.getElementType() != et.getElementType())
    exponent = c.build<CastOp>(exponent, TypeAttr::get(bt.getElementType()));
  if (!exponent)
    return failure();
  return push(out, c.build<PowOp>(base, exponent));
}

LogicalResult mod(NodeConverter &c, Outputs &out) {
  return push(
      out, c.build<ModOp>(c.input(0), c.input(1),
                          c.builder().getI64IntegerAttr(c.getInt("fmod", 0))));
}

LogicalResult where(NodeConverter &c, Outputs &out) {
  return push(out, c.build<WhereOp>(c.input(0), c.input(1), c.input(2)));
}

LogicalResult identity(NodeConverter &c, Outputs &out) {
  return push(out, c.build<IdentityOp>(c.input(0)));
}

/// Inference only: Dropout is the identity. Its mask output is unsupported
/// (the importer reports it if the graph uses it).
LogicalResult dropout(NodeConverter &c, Outputs &out) {
  return push(out, c.build<IdentityOp>(c.input(0)));
}

LogicalResult gelu(NodeConverter &c, Outputs &out) {
  std::string approx = c.getString("approximate", "none");
  if (approx != "none" && approx != "tanh")
    return c.error() << "approximate must be 'none' or 'tanh', not '" << approx
                     << "'";
  return push(out,
              c.build<GeluOp>(c.input(0), c.builder().getStringAttr(approx)));
}

LogicalResult cast(NodeConverter &c, Outputs &out) {
  const onnx::AttributeProto *to = c.attr("to");
  if (!to)
    return c.error() << "attribute 'to' is required";
  int64_t onnxType = c.getInt("to", 0);
  Type elem = elementTypeFromOnnx((int32_t)onnxType, c.context());
  if (!elem)
    return c.error() << "cannot cast to " << onnxTypeName((int32_t)onnxType);
  return push(out, c.build<CastOp>(c.input(0), TypeAttr::get(elem)));
}

//===----------------------------------------------------------------------===//
// Linear algebra
//===----------------------------------------------------------------------===//

LogicalResult matmul(NodeConverter &c, Outputs &out) {
  return push(out, c.build<MatMulOp>(c.input(0), c.input(1)));
}

LogicalResult gemm(NodeConverter &c, Outputs &out) {
  OpBuilder &b = c.builder();
  return push(out, c.build<GemmOp>(c.input(0), c.input(1), c.input(2),
                                   b.getF32FloatAttr(c.getFloat("alpha", 1.0f)),
                                   b.getF32FloatAttr(c.getFloat("beta", 1.0f)),
                                   b.getBoolAttr(c.getInt("transA", 0) != 0),
                                   b.getBoolAttr(c.getInt("transB", 0) != 0)));
}

LogicalResult einsum(NodeConverter &c, Outputs &out) {
  if (!c.attr("equation"))
    return c.error() << "attribute 'equation' is required";
  SmallVector<Value> inputs;
  for (unsigned i = 0; i < c.numInputs(); ++i) {
    if (!c.input(i))
      return c.error() << "input #" << i << " is missing";
    inputs.push_back(c.input(i));
  }
  std::string eq = c.getString("equation", "");
  return push(out, c.build<EinsumOp>(ValueRange(inputs),
                                     c.builder().getStringAttr(eq)));
}

//===----------------------------------------------------------------------===//
// Softmax, reductions, normalizations
//===----------------------------------------------------------------------===//

template <typename OpT> LogicalResult softmax(NodeConverter &c, Outputs &out) {
  return push(out, c.build<OpT>(c.input(0), c.builder().getI64IntegerAttr(
                                                c.getInt("axis", -1))));
}

/// Reduce*: axes is an attribute before `axesInputSince` and an optional
/// constant input from then on (ReduceSum: 13, the others: 18).
template <typename OpT, int64_t axesInputSince>
LogicalResult reduce(NodeConverter &c, Outputs &out) {
  SmallVector<int64_t> axes;
  bool noop = false;
  if (c.opset() >= axesInputSince) {
    if (c.attr("axes"))
      return c.error() << "has an 'axes' attribute, but axes is an input since "
                          "opset "
                       << axesInputSince;
    if (c.input(1)) {
      auto v = c.constInts(1, "axes");
      if (!v)
        return failure();
      axes = *v;
    }
    noop = c.getInt("noop_with_empty_axes", 0) != 0;
  } else {
    if (c.numInputs() > 1)
      return c.error() << "has an axes input, which needs opset "
                       << axesInputSince << " (the model uses " << c.opset()
                       << ")";
    if (auto a = c.getInts("axes"))
      axes = *a;
  }
  OpBuilder &b = c.builder();
  return push(out, c.build<OpT>(c.input(0), b.getDenseI64ArrayAttr(axes),
                                b.getBoolAttr(c.getInt("keepdims", 1) != 0),
                                b.getBoolAttr(noop)));
}

LogicalResult argmax(NodeConverter &c, Outputs &out) {
  OpBuilder &b = c.builder();
  return push(out, c.build<ArgMaxOp>(
                       c.input(0), b.getI64IntegerAttr(c.getInt("axis", 0)),
                       b.getBoolAttr(c.getInt("keepdims", 1) != 0),
                       b.getBoolAttr(c.getInt("select_last_index", 0) != 0)));
}

LogicalResult topk(NodeConverter &c, Outputs &out) {
  std::optional<int64_t> k = c.constInt(1, "k");
  if (!k)
    return failure();
  if (*k < 0)
    return c.error() << "k must not be negative, got " << *k;
  OpBuilder &b = c.builder();
  SmallVector<Value> r =
      c.buildN<TopKOp>(2, c.input(0), b.getI64IntegerAttr(*k),
                       b.getI64IntegerAttr(c.getInt("axis", -1)),
                       b.getBoolAttr(c.getInt("largest", 1) != 0),
                       b.getBoolAttr(c.getInt("sorted", 1) != 0));
  if (r.empty())
    return failure();
  out.append(r.begin(), r.end());
  return success();
}

LogicalResult cumsum(NodeConverter &c, Outputs &out) {
  std::optional<int64_t> axis = c.constInt(1, "axis");
  if (!axis)
    return failure();
  OpBuilder &b = c.builder();
  return push(out,
              c.build<CumSumOp>(c.input(0), b.getI64IntegerAttr(*axis),
                                b.getBoolAttr(c.getInt("exclusive", 0) != 0),
                                b.getBoolAttr(c.getInt("reverse", 0) != 0)));
}

/// LayerNormalization (opset 17). Only the normalized output is supported;
/// Mean and InvStdDev are training outputs.
LogicalResult layerNorm(NodeConverter &c, Outputs &out) {
  OpBuilder &b = c.builder();
  return push(out, c.build<LayerNormalizationOp>(
                       c.input(0), c.input(1), c.input(2),
                       b.getI64IntegerAttr(c.getInt("axis", -1)),
                       b.getF32FloatAttr(c.getFloat("epsilon", 1e-5f))));
}

/// BatchNormalization in inference mode; running statistics outputs are
/// training outputs and unsupported.
LogicalResult batchNorm(NodeConverter &c, Outputs &out) {
  if (c.getInt("training_mode", 0) != 0)
    return c.error() << "training_mode is not supported (inference only)";
  return push(out,
              c.build<BatchNormalizationOp>(
                  c.input(0), c.input(1), c.input(2), c.input(3), c.input(4),
                  c.builder().getF32FloatAttr(c.getFloat("epsilon", 1e-5f))));
}

} // namespace

void onnx_import::addMathOps(OpTable &t) {
  const unsigned kAny = UINT_MAX;
  // Unary elementwise.
  t["Identity"] = {identity, 1, 1, 1};
  t["Neg"] = {unary<NegOp>, 1, 1, 1};
  t["Abs"] = {unary<AbsOp>, 1, 1, 1};
  t["Sqrt"] = {unary<SqrtOp>, 1, 1, 1};
  t["Reciprocal"] = {unary<ReciprocalOp>, 1, 1, 1};
  t["Exp"] = {unary<ExpOp>, 1, 1, 1};
  t["Log"] = {unary<LogOp>, 1, 1, 1};
  t["Erf"] = {unary<ErfOp>, 1, 1, 1};
  t["Tanh"] = {unary<TanhOp>, 1, 1, 1};
  t["Relu"] = {unary<ReluOp>, 1, 1, 1};
  t["Sigmoid"] = {unary<SigmoidOp>, 1, 1, 1};
  t["Sin"] = {unary<SinOp>, 1, 1, 1};
  t["Cos"] = {unary<CosOp>, 1, 1, 1};
  t["Floor"] = {unary<FloorOp>, 1, 1, 1};
  t["Ceil"] = {unary<CeilOp>, 1, 1, 1};
  t["Not"] = {unary<NotOp>, 1, 1, 1};
  t["Gelu"] = {gelu, 1, 1, 20};
  t["Cast"] = {cast, 1, 1, 1};
  t["Dropout"] = {dropout, 1, 3, 1};
  // Binary elementwise (numpy broadcasting).
  t["Add"] = {binary<AddOp>, 2, 2, 1};
  t["Sub"] = {binary<SubOp>, 2, 2, 1};
  t["Mul"] = {binary<MulOp>, 2, 2, 1};
  t["Div"] = {binary<DivOp>, 2, 2, 1};
  t["Pow"] = {pow, 2, 2, 1};
  t["Mod"] = {mod, 2, 2, 1};
  t["Equal"] = {binary<EqualOp>, 2, 2, 1};
  t["Less"] = {binary<LessOp>, 2, 2, 1};
  t["LessOrEqual"] = {binary<LessOrEqualOp>, 2, 2, 1};
  t["Greater"] = {binary<GreaterOp>, 2, 2, 1};
  t["GreaterOrEqual"] = {binary<GreaterOrEqualOp>, 2, 2, 1};
  t["And"] = {binary<AndOp>, 2, 2, 1};
  t["Or"] = {binary<OrOp>, 2, 2, 1};
  t["Xor"] = {binary<XorOp>, 2, 2, 1};
  t["Where"] = {where, 3, 3, 1};
  // Variadic elementwise.
  t["Max"] = {chain<MaxOp>, 1, kAny, 1};
  t["Min"] = {chain<MinOp>, 1, kAny, 1};
  t["Sum"] = {chain<AddOp>, 1, kAny, 1};
  t["Mean"] = {mean, 1, kAny, 1};
  // Linear algebra.
  t["MatMul"] = {matmul, 2, 2, 1};
  t["Gemm"] = {gemm, 2, 3, 1};
  t["Einsum"] = {einsum, 1, kAny, 12};
  // Softmax, reductions, normalizations (Softmax's single-axis form: 13).
  t["Softmax"] = {softmax<SoftmaxOp>, 1, 1, 13};
  t["LogSoftmax"] = {softmax<LogSoftmaxOp>, 1, 1, 13};
  t["ReduceMean"] = {reduce<ReduceMeanOp, 18>, 1, 2, 1};
  t["ReduceSum"] = {reduce<ReduceSumOp, 13>, 1, 2, 1};
  t["ReduceMax"] = {reduce<ReduceMaxOp, 18>, 1, 2, 1};
  t["ReduceMin"] = {reduce<ReduceMinOp, 18>, 1, 2, 1};
  t["ReduceProd"] = {reduce<ReduceProdOp, 18>, 1, 2, 1};
  t["ArgMax"] = {argmax, 1, 1, 1};
  t["TopK"] = {topk, 2, 2, 10};
  t["CumSum"] = {cumsum, 2, 2, 11};
  t["LayerNormalization"] = {layerNorm, 2, 3, 17};
  t["BatchNormalization"] = {batchNorm, 5, 5, 1};
}

// ONNX -> kiln conversions for compute ops: elementwise math, comparisons and
// logic, Clip, matmuls, softmax, ArgMax/ArgMin, TopK, CumSum, normalizations,
// Cast, CastLike, Dropout and Identity. (Reductions: OnnxReduceOps.cpp.)
#include "OnnxImporterImpl.h"

#include "kiln/IR/TensorConversion.h"

#include <climits>

using namespace mlir;
using namespace kiln;
using namespace kiln::onnx_import;

namespace {

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

/// Inference only: Dropout is the identity, and its mask (a bool tensor from
/// opset 10) is all true. A training_mode input must be a constant false.
LogicalResult dropout(NodeConverter &c, Outputs &out) {
  if (Value mode = c.input(2)) {
    ElementsAttr value = getConstantValue(mode);
    if (!value)
      return c.error() << "unsupported: non-constant 'training_mode' input "
                          "(kiln imports inference graphs: it must be a "
                          "constant false)";
    ref::Tensor t = toTensor(value);
    if (t.numel() != 1)
      return c.error() << "'training_mode' must hold one value, not "
                       << t.numel();
    if (t.getInt(0) != 0)
      return c.error() << "unsupported: Dropout in training mode "
                          "('training_mode' is true); kiln imports inference "
                          "graphs";
  }
  if (failed(push(out, c.build<IdentityOp>(c.input(0)))))
    return failure();
  if (c.numOutputs() < 2 || c.node().output(1).empty() || c.opset() < 10)
    return success();
  OpBuilder &b = c.builder();
  Value shape =
      c.build<ShapeOp>(c.input(0), b.getI64IntegerAttr(0), IntegerAttr());
  if (!shape)
    return failure();
  return push(out, c.build<ConstantOfShapeOp>(
                       shape, IntegerAttr::get(b.getI1Type(), 1)));
}

/// Clip: min/max inputs (opset 11+) or attributes (6-10), either optional.
LogicalResult clip(NodeConverter &c, Outputs &out) {
  RankedTensorType type = c.inputType(0);
  if (!type)
    return c.error() << "input #0 has no known rank";
  Value lo, hi;
  if (c.opset() < 11) {
    if (c.numInputs() > 1)
      return c.error() << "takes min and max as attributes before opset 11";
    if (c.attr("min"))
      lo = c.scalar(type.getElementType(), c.getFloat("min", 0));
    if (c.attr("max"))
      hi = c.scalar(type.getElementType(), c.getFloat("max", 0));
  } else {
    lo = c.input(1);
    hi = c.input(2);
  }
  Value y = c.input(0);
  if (!lo && !hi)
    return push(out, c.build<IdentityOp>(y));
  if (lo)
    y = c.build<MaxOp>(y, lo);
  if (hi && y)
    y = c.build<MinOp>(y, hi); // min > max gives max, as ONNX says
  return push(out, y);
}

LogicalResult castLike(NodeConverter &c, Outputs &out) {
  RankedTensorType like = c.inputType(1);
  if (!like)
    return c.error() << "input #1 has no known type";
  return push(
      out, c.build<CastOp>(c.input(0), TypeAttr::get(like.getElementType())));
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

/// Softmax and LogSoftmax. Before opset 13 they work on the input coerced to
/// 2-D, [prod(d[:axis]), prod(d[axis:])] (axis default 1): flatten, normalize
/// rows, reshape back. Over the last axis that is the same as opset 13's.
template <typename OpT> LogicalResult softmax(NodeConverter &c, Outputs &out) {
  OpBuilder &b = c.builder();
  bool coerced = c.opset() < 13;
  int64_t axis = c.getInt("axis", coerced ? 1 : -1);
  RankedTensorType type = c.inputType(0);
  if (coerced && type) {
    int64_t rank = type.getRank();
    if (axis < -rank || axis > rank)
      return c.error() << "axis " << axis << " is out of range for rank "
                       << rank;
    if (axis < 0)
      axis += rank;
    coerced = axis != rank - 1;
  }
  if (!coerced)
    return push(out, c.build<OpT>(c.input(0), b.getI64IntegerAttr(axis)));
  if (!type)
    return c.error() << "input #0 has no known rank";
  Value flat = c.build<FlattenOp>(c.input(0), b.getI64IntegerAttr(axis));
  Value y = flat ? c.build<OpT>(flat, b.getI64IntegerAttr(1)) : Value();
  Value shape =
      y ? c.build<ShapeOp>(c.input(0), b.getI64IntegerAttr(0), IntegerAttr())
        : Value();
  if (!shape)
    return failure();
  // allowzero: a 0 in the shape is an empty dim, not "copy".
  return push(out, c.build<ReshapeOp>(y, shape, b.getBoolAttr(true)));
}

LogicalResult argmax(NodeConverter &c, Outputs &out) {
  OpBuilder &b = c.builder();
  return push(out, c.build<ArgMaxOp>(
                       c.input(0), b.getI64IntegerAttr(c.getInt("axis", 0)),
                       b.getBoolAttr(c.getInt("keepdims", 1) != 0),
                       b.getBoolAttr(c.getInt("select_last_index", 0) != 0)));
}

/// ArgMin as the ArgMax of an order-reversed copy: -x for floats, -1 - x
/// (= ~x, no overflow) for signed and max - x for unsigned integers. Ties
/// keep their order, so select_last_index carries over.
LogicalResult argmin(NodeConverter &c, Outputs &out) {
  RankedTensorType type = c.inputType(0);
  if (!type)
    return c.error() << "input #0 has no known rank";
  Type elem = type.getElementType();
  Value reversed;
  if (isa<FloatType>(elem)) {
    reversed = c.build<NegOp>(c.input(0));
  } else if (auto intType = dyn_cast<IntegerType>(elem);
             intType && intType.getWidth() > 1) {
    if (intType.isUnsigned() && intType.getWidth() > 32)
      return c.error() << "input must not be " << elem;
    double top = intType.isUnsigned()
                     ? double((uint64_t(1) << intType.getWidth()) - 1)
                     : -1.0;
    reversed = c.build<SubOp>(c.scalar(elem, top), c.input(0));
  } else {
    return c.error() << "input must be numeric, not " << elem;
  }
  if (!reversed)
    return failure();
  OpBuilder &b = c.builder();
  return push(out, c.build<ArgMaxOp>(
                       reversed, b.getI64IntegerAttr(c.getInt("axis", 0)),
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
    return c.error() << "unsupported: training_mode (kiln imports inference "
                        "graphs)";
  return push(out,
              c.build<BatchNormalizationOp>(
                  c.input(0), c.input(1), c.input(2), c.input(3), c.input(4),
                  c.builder().getF32FloatAttr(c.getFloat("epsilon", 1e-5f))));
}

} // namespace

// The last field is the oldest ONNX schema version converted (see
// OpConversion): version 1 of the unary ops carries consumed_inputs, binary
// ops before 7 broadcast by attribute, Cast 1 names its target by string,
// Dropout before 7 defaults to training, Gemm before 7 broadcasts C by
// attribute, BatchNormalization before 9 has `spatial`, TopK 1 takes k as an
// attribute.
void onnx_import::addMathOps(OpTable &t) {
  const unsigned kAny = UINT_MAX;
  // Unary elementwise.
  t["Identity"] = {identity, 1, 1, 1};
  t["Neg"] = {unary<NegOp>, 1, 1, 6};
  t["Abs"] = {unary<AbsOp>, 1, 1, 6};
  t["Sqrt"] = {unary<SqrtOp>, 1, 1, 6};
  t["Reciprocal"] = {unary<ReciprocalOp>, 1, 1, 6};
  t["Exp"] = {unary<ExpOp>, 1, 1, 6};
  t["Log"] = {unary<LogOp>, 1, 1, 6};
  t["Erf"] = {unary<ErfOp>, 1, 1, 9};
  t["Tanh"] = {unary<TanhOp>, 1, 1, 6};
  t["Relu"] = {unary<ReluOp>, 1, 1, 6};
  t["Sigmoid"] = {unary<SigmoidOp>, 1, 1, 6};
  t["Sin"] = {unary<SinOp>, 1, 1, 7};
  t["Cos"] = {unary<CosOp>, 1, 1, 7};
  t["Floor"] = {unary<FloorOp>, 1, 1, 6};
  t["Ceil"] = {unary<CeilOp>, 1, 1, 6};
  t["Not"] = {unary<NotOp>, 1, 1, 1};
  t["Gelu"] = {gelu, 1, 1, 20};
  t["Cast"] = {cast, 1, 1, 6};
  t["CastLike"] = {castLike, 2, 2, 15};
  t["Dropout"] = {dropout, 1, 3, 7, 2};
  t["Clip"] = {clip, 1, 3, 6};
  // Binary elementwise (numpy broadcasting).
  t["Add"] = {binary<AddOp>, 2, 2, 7};
  t["Sub"] = {binary<SubOp>, 2, 2, 7};
  t["Mul"] = {binary<MulOp>, 2, 2, 7};
  t["Div"] = {binary<DivOp>, 2, 2, 7};
  t["Pow"] = {pow, 2, 2, 7};
  t["Mod"] = {mod, 2, 2, 10};
  t["Equal"] = {binary<EqualOp>, 2, 2, 7};
  t["Less"] = {binary<LessOp>, 2, 2, 7};
  t["LessOrEqual"] = {binary<LessOrEqualOp>, 2, 2, 12};
  t["Greater"] = {binary<GreaterOp>, 2, 2, 7};
  t["GreaterOrEqual"] = {binary<GreaterOrEqualOp>, 2, 2, 12};
  t["And"] = {binary<AndOp>, 2, 2, 7};
  t["Or"] = {binary<OrOp>, 2, 2, 7};
  t["Xor"] = {binary<XorOp>, 2, 2, 7};
  t["Where"] = {where, 3, 3, 9};
  // Variadic elementwise (version 6 needs equal shapes: a special case of 8's
  // broadcasting).
  t["Max"] = {chain<MaxOp>, 1, kAny, 6};
  t["Min"] = {chain<MinOp>, 1, kAny, 6};
  t["Sum"] = {chain<AddOp>, 1, kAny, 6};
  t["Mean"] = {mean, 1, kAny, 6};
  // Linear algebra.
  t["MatMul"] = {matmul, 2, 2, 1};
  t["Gemm"] = {gemm, 2, 3, 7};
  t["Einsum"] = {einsum, 1, kAny, 12};
  // Softmax (the 2-D coercion before 13), arg reductions, normalizations.
  t["Softmax"] = {softmax<SoftmaxOp>, 1, 1, 1};
  t["LogSoftmax"] = {softmax<LogSoftmaxOp>, 1, 1, 1};
  t["ArgMax"] = {argmax, 1, 1, 1};
  t["ArgMin"] = {argmin, 1, 1, 1};
  t["TopK"] = {topk, 2, 2, 10, 2};
  t["CumSum"] = {cumsum, 2, 2, 11};
  t["LayerNormalization"] = {layerNorm, 2, 3, 17};
  t["BatchNormalization"] = {batchNorm, 5, 5, 9};
}

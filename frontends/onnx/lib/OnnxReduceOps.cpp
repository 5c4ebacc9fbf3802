// ONNX -> kiln conversions for the Reduce* ops: the five kiln has, and
// ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum and ReduceLogSumExp
// composed from them and elementwise ops.
#include "OnnxImporterImpl.h"

#include <cmath>

using namespace mlir;
using namespace kiln;
using namespace kiln::onnx_import;

namespace {

/// The axes and flags of a Reduce* node.
struct ReduceArgs {
  SmallVector<int64_t> axes;
  bool keepdims = true;
  bool noop = false;
};

/// Axes are an attribute before `axesInputSince` and an optional constant
/// input from then on (ReduceSum: 13, the others: 18).
std::optional<ReduceArgs> reduceArgs(NodeConverter &c, int64_t axesInputSince) {
  ReduceArgs args;
  if (c.opset() >= axesInputSince) {
    if (c.attr("axes")) {
      c.error() << "has an 'axes' attribute, but axes is an input since "
                   "opset "
                << axesInputSince;
      return std::nullopt;
    }
    if (c.input(1)) {
      auto v = c.constInts(1, "axes");
      if (!v)
        return std::nullopt;
      args.axes = *v;
    }
    args.noop = c.getInt("noop_with_empty_axes", 0) != 0;
  } else {
    if (c.numInputs() > 1) {
      c.error() << "has an axes input, which needs opset " << axesInputSince
                << " (the model uses " << c.opset() << ")";
      return std::nullopt;
    }
    if (auto a = c.getInts("axes"))
      args.axes = *a;
  }
  args.keepdims = c.getInt("keepdims", 1) != 0;
  if (c.failed())
    return std::nullopt;
  return args;
}

template <typename OpT>
Value buildReduce(NodeConverter &c, Value x, const ReduceArgs &args,
                  bool keepdims) {
  if (!x)
    return {};
  OpBuilder &b = c.builder();
  return c.build<OpT>(x, b.getDenseI64ArrayAttr(args.axes),
                      b.getBoolAttr(keepdims), b.getBoolAttr(args.noop));
}

template <typename OpT, int64_t axesInputSince>
LogicalResult reduce(NodeConverter &c, Outputs &out) {
  std::optional<ReduceArgs> args = reduceArgs(c, axesInputSince);
  if (!args)
    return failure();
  Value y = buildReduce<OpT>(c, c.input(0), *args, args->keepdims);
  if (!y)
    return failure();
  out.push_back(y);
  return success();
}

/// What a composed reduction computes from x (after any cast to f64).
using ComposeFn = Value (*)(NodeConverter &, Value x, const ReduceArgs &);

/// A reduction composed by `fn`. With `viaFloat`, integer inputs are computed
/// in f64 and cast back (truncating, as ONNX's reference does).
template <ComposeFn fn, bool viaFloat>
LogicalResult composed(NodeConverter &c, Outputs &out) {
  std::optional<ReduceArgs> args = reduceArgs(c, 18);
  if (!args)
    return failure();
  RankedTensorType type = c.inputType(0);
  if (!type)
    return c.error() << "input #0 has no known rank";
  Type elem = type.getElementType();
  if (!elem.isIntOrFloat() || elem.isInteger(1))
    return c.error() << "input must be numeric, not " << elem;
  Value x = c.input(0);
  bool cast = viaFloat && !isa<FloatType>(elem);
  if (cast)
    x = c.build<CastOp>(x, TypeAttr::get(c.builder().getF64Type()));
  Value y = x ? fn(c, x, *args) : Value();
  if (y && cast)
    y = c.build<CastOp>(y, TypeAttr::get(elem));
  if (!y)
    return failure();
  out.push_back(y);
  return success();
}

/// sum(|x|)
Value l1(NodeConverter &c, Value x, const ReduceArgs &args) {
  Value abs = c.build<AbsOp>(x);
  return buildReduce<ReduceSumOp>(c, abs, args, args.keepdims);
}

/// sum(x * x)
Value sumSquare(NodeConverter &c, Value x, const ReduceArgs &args) {
  Value square = c.build<MulOp>(x, x);
  return buildReduce<ReduceSumOp>(c, square, args, args.keepdims);
}

/// sqrt(sum(x * x))
Value l2(NodeConverter &c, Value x, const ReduceArgs &args) {
  Value s = sumSquare(c, x, args);
  return s ? c.build<SqrtOp>(s) : Value();
}

/// log(sum(x))
Value logSum(NodeConverter &c, Value x, const ReduceArgs &args) {
  Value s = buildReduce<ReduceSumOp>(c, x, args, args.keepdims);
  return s ? c.build<LogOp>(s) : Value();
}

/// log(sum(exp(x - m))) + m with m the max over the axes (0 where the max is
/// infinite, so all -inf gives -inf, not NaN). Without keepdims the result
/// is computed with kept dims and then summed over them: a sum of one element
/// is exact.
Value logSumExp(NodeConverter &c, Value x, const ReduceArgs &args) {
  Type elem = cast<RankedTensorType>(x.getType()).getElementType();
  Value m = buildReduce<ReduceMaxOp>(c, x, args, /*keepdims=*/true);
  Value absM = m ? c.build<AbsOp>(m) : Value();
  Value infinite =
      absM ? c.build<EqualOp>(absM, c.scalar(elem, INFINITY)) : Value();
  Value shift =
      infinite ? c.build<WhereOp>(infinite, c.scalar(elem, 0), m) : Value();
  Value diff = shift ? c.build<SubOp>(x, shift) : Value();
  Value exp = diff ? c.build<ExpOp>(diff) : Value();
  Value sum = buildReduce<ReduceSumOp>(c, exp, args, /*keepdims=*/true);
  Value log = sum ? c.build<LogOp>(sum) : Value();
  Value y = log ? c.build<AddOp>(log, shift) : Value();
  if (!y || args.keepdims)
    return y;
  return buildReduce<ReduceSumOp>(c, y, args, /*keepdims=*/false);
}

} // namespace

/// Reduce* take axes as an attribute (axes from version 1; negative ones from
/// 11, which does not change the meaning of the others), then as an input.
void onnx_import::addReduceOps(OpTable &t) {
  t["ReduceMean"] = {reduce<ReduceMeanOp, 18>, 1, 2, 1};
  t["ReduceSum"] = {reduce<ReduceSumOp, 13>, 1, 2, 1};
  t["ReduceMax"] = {reduce<ReduceMaxOp, 18>, 1, 2, 1};
  t["ReduceMin"] = {reduce<ReduceMinOp, 18>, 1, 2, 1};
  t["ReduceProd"] = {reduce<ReduceProdOp, 18>, 1, 2, 1};
  t["ReduceL1"] = {composed<l1, false>, 1, 2, 1};
  t["ReduceL2"] = {composed<l2, true>, 1, 2, 1};
  t["ReduceSumSquare"] = {composed<sumSquare, false>, 1, 2, 1};
  t["ReduceLogSum"] = {composed<logSum, true>, 1, 2, 1};
  t["ReduceLogSumExp"] = {composed<logSumExp, true>, 1, 2, 1};
}

// Shape inference for every kiln op: result element types and shapes from operand
// types, attributes and constant operands. Unknown dims become dynamic.
#include "kiln/IR/KilnDialect.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <limits>
#include <map>

using namespace mlir;
using namespace kiln;

static constexpr int64_t kDyn = ShapedType::kDynamic;

namespace {
RankedTensorType tensorType(Value v) {
  return dyn_cast<RankedTensorType>(v.getType());
}

RankedTensorType make(ArrayRef<int64_t> shape, Type elem) {
  return RankedTensorType::get(shape, elem);
}

/// Normalizes a possibly negative axis into [0, rank); failure when out of range.
FailureOr<int64_t> normAxis(Operation *op, int64_t axis, int64_t rank,
                            StringRef what = "axis") {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    return op->emitOpError() << what << " " << axis
                             << " is out of range for rank " << rank;
  return a;
}

/// Checks that every operand is a ranked tensor (unranked placeholders from an
/// importer that has not inferred them yet are rejected with a clear message).
LogicalResult requireRanked(Operation *op) {
  for (auto [i, v] : llvm::enumerate(op->getOperands()))
    if (!tensorType(v))
      return op->emitOpError() << "operand #" << i
                               << " must be a ranked tensor, got " << v.getType();
  return success();
}

/// Numpy broadcasting of two shapes.
FailureOr<SmallVector<int64_t>> broadcast(Operation *op, ArrayRef<int64_t> a,
                                          ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (x == 1)
      out[i] = y;
    else if (y == 1)
      out[i] = x;
    else if (x == kDyn)
      out[i] = y;
    else if (y == kDyn || x == y)
      out[i] = x;
    else
      return op->emitOpError() << "operands cannot be broadcast together: dim "
                               << i << " is " << x << " vs " << y;
  }
  return out;
}

/// The number of elements: kDyn when a dim is dynamic, INT64_MAX when it does
/// not fit in int64_t (found by fuzzing: tests/fuzz/regressions).
int64_t product(ArrayRef<int64_t> dims) {
  int64_t p = 1;
  for (int64_t d : dims) {
    if (d == kDyn)
      return kDyn;
    if (llvm::MulOverflow(p, d, p))
      return std::numeric_limits<int64_t>::max();
  }
  return p;
}

LogicalResult sameAsInput(Operation *op, SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(op)))
    return failure();
  types.push_back(op->getOperand(0).getType());
  return success();
}

LogicalResult binaryInfer(Operation *op, SmallVectorImpl<Type> &types,
                          bool boolResult) {
  if (failed(requireRanked(op)))
    return failure();
  auto a = tensorType(op->getOperand(0)), b = tensorType(op->getOperand(1));
  if (a.getElementType() != b.getElementType())
    return op->emitOpError() << "operand element types differ: "
                             << a.getElementType() << " vs " << b.getElementType();
  auto shape = broadcast(op, a.getShape(), b.getShape());
  if (failed(shape))
    return failure();
  Type elem = boolResult ? IntegerType::get(op->getContext(), 1) : a.getElementType();
  types.push_back(make(*shape, elem));
  return success();
}

LogicalResult reduceInfer(Operation *op, ArrayRef<int64_t> axes, bool keepdims,
                          bool noopWithEmpty, SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(op)))
    return failure();
  auto in = tensorType(op->getOperand(0));
  int64_t rank = in.getRank();
  SmallVector<bool> reduced(rank, axes.empty() && !noopWithEmpty);
  for (int64_t a : axes) {
    auto n = normAxis(op, a, rank);
    if (failed(n))
      return failure();
    reduced[*n] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < rank; ++i) {
    if (!reduced[i])
      shape.push_back(in.getDimSize(i));
    else if (keepdims)
      shape.push_back(1);
  }
  types.push_back(make(shape, in.getElementType()));
  return success();
}

/// The shape given by a 1-D int shape operand: its values when constant, else
/// dynamic dims (as many as the operand's static length).
FailureOr<SmallVector<int64_t>> shapeOperand(Operation *op, Value v,
                                             bool *isConstant = nullptr) {
  auto t = tensorType(v);
  if (t.getRank() != 1)
    return op->emitOpError() << "shape operand must be 1-D, got " << t;
  if (auto vals = getConstantInts(v)) {
    if (isConstant)
      *isConstant = true;
    return *vals;
  }
  if (isConstant)
    *isConstant = false;
  if (t.isDynamicDim(0))
    return op->emitOpError()
           << "shape operand has unknown length; its rank cannot be inferred";
  return SmallVector<int64_t>(t.getDimSize(0), kDyn);
}
} // namespace

//===----------------------------------------------------------------------===//
// Constants and elementwise
//===----------------------------------------------------------------------===//

LogicalResult ConstantOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                           ValueRange, DictionaryAttr attrs,
                                           OpaqueProperties props, RegionRange,
                                           SmallVectorImpl<Type> &types) {
  auto *p = props.as<Properties *>();
  Attribute value = p ? p->value : attrs.get("value");
  auto elements = dyn_cast_or_null<ElementsAttr>(value);
  if (!elements)
    return failure();
  types.push_back(elements.getType());
  return success();
}

LogicalResult ConstantOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  types.push_back(getValue().getType());
  return success();
}

#define KILN_SAME_AS_INPUT(OP)                                                 \
  LogicalResult OP::inferResultTypes(SmallVectorImpl<Type> &types) {           \
    return sameAsInput(getOperation(), types);                                 \
  }
KILN_SAME_AS_INPUT(IdentityOp)
KILN_SAME_AS_INPUT(NegOp)
KILN_SAME_AS_INPUT(AbsOp)
KILN_SAME_AS_INPUT(SqrtOp)
KILN_SAME_AS_INPUT(ReciprocalOp)
KILN_SAME_AS_INPUT(ExpOp)
KILN_SAME_AS_INPUT(LogOp)
KILN_SAME_AS_INPUT(ErfOp)
KILN_SAME_AS_INPUT(TanhOp)
KILN_SAME_AS_INPUT(ReluOp)
KILN_SAME_AS_INPUT(SigmoidOp)
KILN_SAME_AS_INPUT(SinOp)
KILN_SAME_AS_INPUT(CosOp)
KILN_SAME_AS_INPUT(FloorOp)
KILN_SAME_AS_INPUT(CeilOp)
KILN_SAME_AS_INPUT(TriluOp)
KILN_SAME_AS_INPUT(CumSumOp)
KILN_SAME_AS_INPUT(ScatterElementsOp)
#undef KILN_SAME_AS_INPUT

// Softmax and LogSoftmax: the input's type, on an axis that exists.
template <typename OpT>
static LogicalResult softmaxTypes(OpT op, SmallVectorImpl<Type> &types) {
  if (failed(sameAsInput(op, types)) ||
      failed(normAxis(op, op.getAxis(), op.getInput().getType().getRank())))
    return failure();
  return success();
}
LogicalResult SoftmaxOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return softmaxTypes(*this, types);
}
LogicalResult LogSoftmaxOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  return softmaxTypes(*this, types);
}

LogicalResult NotOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(sameAsInput(*this, types)))
    return failure();
  if (!getInput().getType().getElementType().isInteger(1))
    return emitOpError("requires a bool (i1) tensor");
  return success();
}

LogicalResult GeluOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (getApproximate() != "none" && getApproximate() != "tanh")
    return emitOpError() << "approximate must be 'none' or 'tanh', got '"
                         << getApproximate() << "'";
  return sameAsInput(*this, types);
}

LogicalResult CastOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  types.push_back(make(getInput().getType().getShape(), getTo()));
  return success();
}

#define KILN_BINARY(OP, BOOL)                                                  \
  LogicalResult OP::inferResultTypes(SmallVectorImpl<Type> &types) {           \
    return binaryInfer(getOperation(), types, BOOL);                           \
  }
KILN_BINARY(AddOp, false)
KILN_BINARY(SubOp, false)
KILN_BINARY(MulOp, false)
KILN_BINARY(DivOp, false)
KILN_BINARY(MaxOp, false)
KILN_BINARY(MinOp, false)
KILN_BINARY(ModOp, false)
KILN_BINARY(EqualOp, true)
KILN_BINARY(LessOp, true)
KILN_BINARY(LessOrEqualOp, true)
KILN_BINARY(GreaterOp, true)
KILN_BINARY(GreaterOrEqualOp, true)
KILN_BINARY(AndOp, false)
KILN_BINARY(OrOp, false)
KILN_BINARY(XorOp, false)
#undef KILN_BINARY

LogicalResult PowOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  // ONNX Pow allows a different exponent type; the result has the base's type.
  if (failed(requireRanked(*this)))
    return failure();
  auto shape = broadcast(*this, getLhs().getType().getShape(),
                         getRhs().getType().getShape());
  if (failed(shape))
    return failure();
  types.push_back(make(*shape, getLhs().getType().getElementType()));
  return success();
}

LogicalResult WhereOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto x = getX().getType(), y = getY().getType();
  if (x.getElementType() != y.getElementType())
    return emitOpError() << "x and y element types differ: " << x.getElementType()
                         << " vs " << y.getElementType();
  auto s = broadcast(*this, getCondition().getType().getShape(), x.getShape());
  if (failed(s))
    return failure();
  auto s2 = broadcast(*this, *s, y.getShape());
  if (failed(s2))
    return failure();
  types.push_back(make(*s2, x.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Linear algebra
//===----------------------------------------------------------------------===//

/// numpy matmul shape rule; `b` may be given transposed ([..., N, K]).
static FailureOr<SmallVector<int64_t>>
matmulShape(Operation *op, ArrayRef<int64_t> a, ArrayRef<int64_t> b,
            bool transB = false) {
  if (a.empty() || b.empty())
    return op->emitOpError("matmul operands must have rank >= 1");
  SmallVector<int64_t> aa(a), bb(b);
  bool vecA = aa.size() == 1, vecB = bb.size() == 1;
  if (vecA)
    aa.insert(aa.begin(), 1);
  if (vecB)
    bb.push_back(1);
  if (transB && !vecB)
    std::swap(bb[bb.size() - 1], bb[bb.size() - 2]);
  int64_t ka = aa.back(), kb = bb[bb.size() - 2];
  if (ka != kDyn && kb != kDyn && ka != kb)
    return op->emitOpError() << "matmul contraction dims differ: " << ka
                             << " vs " << kb;
  auto batch = broadcast(op, ArrayRef<int64_t>(aa).drop_back(2),
                         ArrayRef<int64_t>(bb).drop_back(2));
  if (failed(batch))
    return failure();
  SmallVector<int64_t> out = *batch;
  if (!vecA)
    out.push_back(aa[aa.size() - 2]);
  if (!vecB)
    out.push_back(bb.back());
  return out;
}

LogicalResult MatMulOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  if (getA().getType().getElementType() != getB().getType().getElementType())
    return emitOpError() << "operands must have one element type, got "
                         << getA().getType().getElementType() << " and "
                         << getB().getType().getElementType();
  auto s = matmulShape(*this, getA().getType().getShape(), getB().getType().getShape());
  if (failed(s))
    return failure();
  types.push_back(make(*s, getA().getType().getElementType()));
  return success();
}

LogicalResult GemmOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto a = getA().getType(), b = getB().getType();
  if (a.getRank() != 2 || b.getRank() != 2)
    return emitOpError("gemm operands A and B must be 2-D");
  int64_t m = a.getDimSize(getTransA() ? 1 : 0), ka = a.getDimSize(getTransA() ? 0 : 1);
  int64_t kb = b.getDimSize(getTransB() ? 1 : 0), n = b.getDimSize(getTransB() ? 0 : 1);
  if (ka != kDyn && kb != kDyn && ka != kb)
    return emitOpError() << "gemm contraction dims differ: " << ka << " vs " << kb;
  SmallVector<int64_t> out{m, n};
  if (getC()) {
    auto s = broadcast(*this, out, getC().getType().getShape());
    if (failed(s))
      return failure();
    if (*s != ArrayRef<int64_t>(out) && !llvm::is_contained(out, kDyn))
      return emitOpError("bias C must broadcast to the [M, N] result");
  }
  types.push_back(make(out, a.getElementType()));
  return success();
}

LogicalResult EinsumOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  std::string eq;
  for (char c : getEquation())
    if (c != ' ')
      eq.push_back(c);
  size_t arrow = eq.find("->");
  std::string lhs = eq.substr(0, arrow);
  SmallVector<std::string> terms;
  SmallVector<StringRef> parts;
  StringRef(lhs).split(parts, ',');
  for (StringRef t : parts)
    terms.push_back(t.str());
  if (terms.size() != getInputs().size())
    return emitOpError() << "equation has " << terms.size() << " operands, op has "
                         << getInputs().size();
  if (eq.find("...") != std::string::npos)
    return emitOpError("einsum with ellipsis is not supported");
  std::map<char, int64_t> dims;
  std::map<char, int> count;
  for (auto [term, v] : llvm::zip(terms, getInputs())) {
    auto t = tensorType(v);
    if ((int64_t)term.size() != t.getRank())
      return emitOpError() << "equation term '" << term << "' does not match rank "
                           << t.getRank();
    for (auto [i, c] : llvm::enumerate(term)) {
      int64_t d = t.getDimSize(i);
      ++count[c];
      auto it = dims.find(c);
      if (it == dims.end() || it->second == kDyn || it->second == 1)
        dims[c] = (it != dims.end() && d == 1) ? it->second : d;
      else if (d != kDyn && d != 1 && d != it->second)
        return emitOpError() << "einsum label '" << c << "' has sizes "
                             << it->second << " and " << d;
    }
  }
  std::string out;
  if (arrow != std::string::npos) {
    out = eq.substr(arrow + 2);
  } else {
    for (auto [c, n] : count)
      if (n == 1)
        out.push_back(c);
  }
  SmallVector<int64_t> shape;
  for (char c : out) {
    if (!dims.count(c))
      return emitOpError() << "output label '" << c << "' not in any input";
    shape.push_back(dims[c]);
  }
  types.push_back(make(shape, tensorType(getInputs()[0]).getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Data movement and shapes
//===----------------------------------------------------------------------===//

LogicalResult TransposeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType();
  ArrayRef<int64_t> perm = getPerm();
  if ((int64_t)perm.size() != in.getRank())
    return emitOpError() << "perm has " << perm.size() << " entries for rank "
                         << in.getRank();
  SmallVector<bool> seen(perm.size());
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= in.getRank() || seen[p])
      return emitOpError("perm must be a permutation of [0, rank)");
    seen[p] = true;
    shape.push_back(in.getDimSize(p));
  }
  types.push_back(make(shape, in.getElementType()));
  return success();
}

LogicalResult ReshapeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType();
  bool isConst = false;
  auto target = shapeOperand(*this, getShape(), &isConst);
  if (failed(target))
    return failure();
  SmallVector<int64_t> out(*target);
  if (!isConst) {
    types.push_back(make(out, in.getElementType()));
    return success();
  }
  int64_t inferIdx = -1;
  for (auto [i, d] : llvm::enumerate(out)) {
    if (d == 0 && !getAllowzero()) {
      if ((int64_t)i >= in.getRank())
        return emitOpError() << "shape entry " << i
                             << " is 0 (copy) but the input has rank " << in.getRank();
      d = in.getDimSize(i);
    } else if (d == -1) {
      if (inferIdx >= 0)
        return emitOpError("shape has more than one -1");
      inferIdx = i;
    } else if (d < -1) {
      return emitOpError() << "invalid shape entry " << d;
    }
  }
  int64_t total = product(in.getShape());
  if (inferIdx >= 0) {
    int64_t known = 1;
    bool dyn = false;
    for (auto [i, d] : llvm::enumerate(out))
      if ((int64_t)i != inferIdx) {
        if (d == kDyn)
          dyn = true;
        else if (llvm::MulOverflow(known, d, known))
          return emitOpError() << "the requested shape has over 2^63 elements";
      }
    if (total == kDyn || dyn)
      out[inferIdx] = kDyn;
    else if (known == 0 || total % known != 0)
      return emitOpError() << "cannot reshape " << in << " to the requested shape";
    else
      out[inferIdx] = total / known;
  } else if (total != kDyn && product(out) != kDyn && product(out) != total) {
    return emitOpError() << "cannot reshape " << total << " elements of " << in
                         << " into " << product(out);
  }
  types.push_back(make(out, in.getElementType()));
  return success();
}

LogicalResult FlattenOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType();
  int64_t axis = getAxis() < 0 ? getAxis() + in.getRank() : getAxis();
  if (axis < 0 || axis > in.getRank())
    return emitOpError() << "axis " << getAxis() << " out of range";
  types.push_back(make({product(in.getShape().take_front(axis)),
                        product(in.getShape().drop_front(axis))},
                       in.getElementType()));
  return success();
}

LogicalResult SqueezeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType();
  SmallVector<bool> drop(in.getRank(), false);
  if (getAxes().empty()) {
    for (int64_t i = 0; i < in.getRank(); ++i)
      drop[i] = in.getDimSize(i) == 1;
  }
  for (int64_t a : getAxes()) {
    auto n = normAxis(*this, a, in.getRank());
    if (failed(n))
      return failure();
    if (in.getDimSize(*n) != 1 && in.getDimSize(*n) != kDyn)
      return emitOpError() << "cannot squeeze dim " << *n << " of size "
                           << in.getDimSize(*n);
    drop[*n] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < in.getRank(); ++i)
    if (!drop[i])
      shape.push_back(in.getDimSize(i));
  types.push_back(make(shape, in.getElementType()));
  return success();
}

LogicalResult UnsqueezeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType();
  int64_t rank = in.getRank() + getAxes().size();
  SmallVector<bool> ins(rank, false);
  for (int64_t a : getAxes()) {
    auto n = normAxis(*this, a, rank);
    if (failed(n))
      return failure();
    if (ins[*n])
      return emitOpError("axes contain a duplicate");
    ins[*n] = true;
  }
  SmallVector<int64_t> shape;
  int64_t j = 0;
  for (int64_t i = 0; i < rank; ++i)
    shape.push_back(ins[i] ? 1 : in.getDimSize(j++));
  types.push_back(make(shape, in.getElementType()));
  return success();
}

LogicalResult ConcatOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  if (getInputs().empty())
    return emitOpError("needs at least one input");
  auto first = tensorType(getInputs()[0]);
  auto axis = normAxis(*this, getAxis(), first.getRank());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  shape[*axis] = 0;
  for (Value v : getInputs()) {
    auto t = tensorType(v);
    if (t.getRank() != first.getRank() || t.getElementType() != first.getElementType())
      return emitOpError() << "inputs must share rank and element type: " << first
                           << " vs " << t;
    for (int64_t i = 0; i < t.getRank(); ++i) {
      int64_t d = t.getDimSize(i);
      if (i == *axis) {
        if (shape[i] == kDyn || d == kDyn)
          shape[i] = kDyn;
        else if (llvm::AddOverflow(shape[i], d, shape[i]))
          return emitOpError() << "the concatenated dim does not fit in int64";
      } else if (shape[i] == kDyn) {
        shape[i] = d;
      } else if (d != kDyn && d != shape[i]) {
        return emitOpError() << "input dims differ on non-concat axis " << i
                             << ": " << shape[i] << " vs " << d;
      }
    }
  }
  types.push_back(make(shape, first.getElementType()));
  return success();
}

LogicalResult SplitOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType();
  auto axis = normAxis(*this, getAxis(), in.getRank());
  if (failed(axis))
    return failure();
  ArrayRef<int64_t> sizes = getSizes();
  if (sizes.size() != getNumResults())
    return emitOpError() << "has " << sizes.size() << " sizes for "
                         << getNumResults() << " results";
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0)
      return emitOpError() << "split size " << s << " is negative";
    total += s;
  }
  if (!in.isDynamicDim(*axis) && total != in.getDimSize(*axis))
    return emitOpError() << "split sizes sum to " << total << " but dim " << *axis
                         << " is " << in.getDimSize(*axis);
  for (int64_t s : sizes) {
    SmallVector<int64_t> shape(in.getShape());
    shape[*axis] = s;
    types.push_back(make(shape, in.getElementType()));
  }
  return success();
}

LogicalResult SliceOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType();
  auto starts = getConstantInts(getStarts()), ends = getConstantInts(getEnds());
  auto axes = getConstantInts(getAxes()), steps = getConstantInts(getSteps());
  SmallVector<int64_t> shape(in.getShape());
  if (!axes) {
    // Without constant axes, any dim may shrink.
    types.push_back(make(SmallVector<int64_t>(in.getRank(), kDyn), in.getElementType()));
    return success();
  }
  for (auto [i, a] : llvm::enumerate(*axes)) {
    auto axis = normAxis(*this, a, in.getRank());
    if (failed(axis))
      return failure();
    int64_t dim = in.getDimSize(*axis);
    if (!starts || !ends || !steps || dim == kDyn || i >= starts->size() ||
        i >= ends->size() || i >= steps->size()) {
      shape[*axis] = kDyn;
      continue;
    }
    int64_t step = (*steps)[i], start = (*starts)[i], end = (*ends)[i];
    if (step == 0)
      return emitOpError("slice step must not be 0");
    auto clamp = [](int64_t v, int64_t lo, int64_t hi) {
      return std::min(std::max(v, lo), hi);
    };
    if (start < 0)
      start += dim;
    if (end < 0)
      end += dim;
    if (step > 0) {
      start = clamp(start, 0, dim);
      end = clamp(end, 0, dim);
      shape[*axis] = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
      start = clamp(start, 0, dim - 1);
      end = clamp(end, -1, dim - 1);
      // -INT64_MIN does not fit; any step at least dim long takes one element.
      int64_t negStep = step == std::numeric_limits<int64_t>::min()
                            ? std::numeric_limits<int64_t>::max()
                            : -step;
      shape[*axis] = start > end ? (start - end - 1) / negStep + 1 : 0;
    }
  }
  types.push_back(make(shape, in.getElementType()));
  return success();
}

LogicalResult GatherOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType(), idx = getIndices().getType();
  auto axis = normAxis(*this, getAxis(), in.getRank());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(in.getShape().take_front(*axis));
  llvm::append_range(shape, idx.getShape());
  llvm::append_range(shape, in.getShape().drop_front(*axis + 1));
  types.push_back(make(shape, in.getElementType()));
  return success();
}

LogicalResult GatherElementsOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType(), idx = getIndices().getType();
  if (in.getRank() != idx.getRank())
    return emitOpError("indices must have the input's rank");
  if (failed(normAxis(*this, getAxis(), in.getRank())))
    return failure();
  types.push_back(make(idx.getShape(), in.getElementType()));
  return success();
}

LogicalResult ShapeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  int64_t rank = getInput().getType().getRank();
  auto clampIdx = [&](int64_t v) {
    if (v < 0)
      v += rank;
    return std::min(std::max<int64_t>(v, 0), rank);
  };
  int64_t start = clampIdx(getStart());
  int64_t end = getEnd() ? clampIdx(*getEnd()) : rank;
  types.push_back(make({std::max<int64_t>(end - start, 0)},
                       IntegerType::get(getContext(), 64)));
  return success();
}

LogicalResult ExpandOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType();
  auto target = shapeOperand(*this, getShape());
  if (failed(target))
    return failure();
  // Expand's shape entries of 1 keep the input dim (bidirectional broadcast).
  SmallVector<int64_t> t(*target);
  auto s = broadcast(*this, in.getShape(), t);
  if (failed(s))
    return failure();
  types.push_back(make(*s, in.getElementType()));
  return success();
}

LogicalResult TileOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType();
  auto reps = shapeOperand(*this, getRepeats());
  if (failed(reps))
    return failure();
  if ((int64_t)reps->size() != in.getRank())
    return emitOpError() << "repeats has " << reps->size() << " entries for rank "
                         << in.getRank();
  SmallVector<int64_t> shape;
  for (auto [d, r] : llvm::zip(in.getShape(), *reps)) {
    int64_t n = kDyn;
    if (r < 0 && r != kDyn)
      return emitOpError() << "negative repeat " << r;
    if (d != kDyn && r != kDyn && llvm::MulOverflow(d, r, n))
      return emitOpError() << "a dim of " << d << " repeated " << r
                           << " times does not fit in int64";
    shape.push_back(n);
  }
  types.push_back(make(shape, in.getElementType()));
  return success();
}

LogicalResult ConstantOfShapeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto shape = shapeOperand(*this, getShape());
  if (failed(shape))
    return failure();
  for (int64_t d : *shape)
    if (d < 0 && d != kDyn)
      return emitOpError() << "negative dim " << d << " in shape";
  Type elem = getValue().getType();
  if (auto shaped = dyn_cast<ShapedType>(elem)) {
    // ONNX gives the value as a one-element tensor.
    if (shaped.getNumElements() != 1)
      return emitOpError("value must be a scalar or a one-element tensor");
    elem = shaped.getElementType();
  }
  types.push_back(make(*shape, elem));
  return success();
}

LogicalResult RangeOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  Type elem = getStart().getType().getElementType();
  for (Value v : {getStart(), getLimit(), getDelta()}) {
    auto t = tensorType(v);
    if (t.getRank() != 0 && !(t.getRank() == 1 && t.getDimSize(0) == 1))
      return emitOpError("start, limit and delta must be scalars");
    if (t.getElementType() != elem)
      return emitOpError("start, limit and delta must share an element type");
  }
  int64_t n = kDyn;
  auto s = getConstantValue(getStart()), l = getConstantValue(getLimit()),
       d = getConstantValue(getDelta());
  if (s && l && d) {
    auto num = [](ElementsAttr a) -> double {
      if (auto f = dyn_cast<DenseFPElementsAttr>(a))
        return (*f.value_begin<APFloat>()).convertToDouble();
      if (auto i = dyn_cast<DenseIntElementsAttr>(a))
        return (double)(*i.value_begin<APInt>()).getSExtValue();
      return 0;
    };
    double delta = num(d);
    if (delta == 0)
      return emitOpError("range delta must not be 0");
    double count = std::ceil((num(l) - num(s)) / delta);
    if (!(count < 0x1p62)) // also NaN
      return emitOpError() << "range has too many elements (" << count << ")";
    n = count > 0 ? (int64_t)count : 0;
  }
  types.push_back(make({n}, elem));
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

#define KILN_REDUCE(OP)                                                        \
  LogicalResult OP::inferResultTypes(SmallVectorImpl<Type> &types) {           \
    return reduceInfer(*this, getAxes(), getKeepdims(),                        \
                       getNoopWithEmptyAxes(), types);                         \
  }
KILN_REDUCE(ReduceMeanOp)
KILN_REDUCE(ReduceSumOp)
KILN_REDUCE(ReduceMaxOp)
KILN_REDUCE(ReduceMinOp)
KILN_REDUCE(ReduceProdOp)
#undef KILN_REDUCE

LogicalResult ArgMaxOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(reduceInfer(*this, {getAxis()}, getKeepdims(), false, types)))
    return failure();
  auto t = cast<RankedTensorType>(types.back());
  types.back() = make(t.getShape(), IntegerType::get(getContext(), 64));
  return success();
}

LogicalResult TopKOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType();
  auto axis = normAxis(*this, getAxis(), in.getRank());
  if (failed(axis))
    return failure();
  int64_t k = getK();
  if (k < 0 || (!in.isDynamicDim(*axis) && k > in.getDimSize(*axis)))
    return emitOpError() << "k = " << k << " is out of range for dim of size "
                         << in.getDimSize(*axis);
  SmallVector<int64_t> shape(in.getShape());
  shape[*axis] = k;
  types.push_back(make(shape, in.getElementType()));
  types.push_back(make(shape, IntegerType::get(getContext(), 64)));
  return success();
}

/// Checks that a per-feature parameter (gamma/beta/bias) is 1-D of `n` elements,
/// or broadcastable to the normalized trailing dims.
static LogicalResult checkFeatureParam(Operation *op, Value v, StringRef name,
                                       ArrayRef<int64_t> trailing) {
  if (!v)
    return success();
  auto t = tensorType(v);
  if (t.getRank() > (int64_t)trailing.size())
    return op->emitOpError() << name << " has rank " << t.getRank()
                             << ", more than the normalized dims";
  for (int64_t i = 0; i < t.getRank(); ++i) {
    int64_t d = t.getDimSize(t.getRank() - 1 - i);
    int64_t e = trailing[trailing.size() - 1 - i];
    if (d != 1 && d != kDyn && e != kDyn && d != e)
      return op->emitOpError() << name << " shape " << t
                               << " does not match the normalized dims";
  }
  return success();
}

LogicalResult LayerNormalizationOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType();
  auto axis = normAxis(*this, getAxis(), in.getRank());
  if (failed(axis))
    return failure();
  ArrayRef<int64_t> trailing = in.getShape().drop_front(*axis);
  if (failed(checkFeatureParam(*this, getScale(), "scale", trailing)) ||
      failed(checkFeatureParam(*this, getBias(), "bias", trailing)))
    return failure();
  types.push_back(in);
  return success();
}

LogicalResult BatchNormalizationOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType();
  if (in.getRank() < 2)
    return emitOpError("input must have rank >= 2 (channels at dim 1)");
  int64_t c = in.getDimSize(1);
  for (Value v : {getScale(), getBias(), getMean(), getVariance()}) {
    auto t = tensorType(v);
    if (t.getRank() != 1 || (c != kDyn && !t.isDynamicDim(0) && t.getDimSize(0) != c))
      return emitOpError() << "parameters must be 1-D of the channel count " << c
                           << ", got " << t;
  }
  types.push_back(in);
  return success();
}

//===----------------------------------------------------------------------===//
// Fused ops
//===----------------------------------------------------------------------===//

LogicalResult LayerNormOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType();
  if (in.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  ArrayRef<int64_t> last = in.getShape().take_back(1);
  if (failed(checkFeatureParam(*this, getGamma(), "gamma", last)) ||
      failed(checkFeatureParam(*this, getBeta(), "beta", last)))
    return failure();
  types.push_back(in);
  return success();
}

LogicalResult SkipLayerNormOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto in = getInput().getType();
  auto s = broadcast(*this, in.getShape(), getSkip().getType().getShape());
  if (failed(s))
    return failure();
  if (in.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  ArrayRef<int64_t> last = ArrayRef<int64_t>(*s).take_back(1);
  if (failed(checkFeatureParam(*this, getGamma(), "gamma", last)) ||
      failed(checkFeatureParam(*this, getBeta(), "beta", last)) ||
      failed(checkFeatureParam(*this, getBias(), "bias", last)))
    return failure();
  auto out = make(*s, in.getElementType());
  types.push_back(out);
  if (getSum())
    types.push_back(out);
  return success();
}

LogicalResult AttentionOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  auto q = getQ().getType(), k = getK().getType(), v = getV().getType();
  StringRef layout = getLayout();
  int64_t heads = getNumHeads();
  if (heads < 1)
    return emitOpError() << "num_heads must be >= 1, got " << heads;
  auto eq = [](int64_t a, int64_t b) { return a == kDyn || b == kDyn || a == b; };
  SmallVector<int64_t> out;
  int64_t b, sq, sk, dq, dk;
  if (layout == "bhsd") {
    if (q.getRank() != 4 || k.getRank() != 4 || v.getRank() != 4)
      return emitOpError("layout 'bhsd' needs rank-4 q, k and v");
    b = q.getDimSize(0);
    sq = q.getDimSize(2);
    dq = q.getDimSize(3);
    sk = getKTransposed() ? k.getDimSize(3) : k.getDimSize(2);
    dk = getKTransposed() ? k.getDimSize(2) : k.getDimSize(3);
    if (!eq(q.getDimSize(1), k.getDimSize(1)) || !eq(q.getDimSize(1), v.getDimSize(1)))
      return emitOpError("q, k and v must have the same number of heads");
    if (!eq(sk, v.getDimSize(2)))
      return emitOpError() << "k has " << sk << " keys but v has " << v.getDimSize(2);
    out = {b, q.getDimSize(1), sq, v.getDimSize(3)};
  } else if (layout == "bsd") {
    if (q.getRank() != 3 || k.getRank() != 3 || v.getRank() != 3)
      return emitOpError("layout 'bsd' needs rank-3 q, k and v");
    if (getKTransposed())
      return emitOpError("k_transposed is only supported with layout 'bhsd'");
    b = q.getDimSize(0);
    sq = q.getDimSize(1);
    sk = k.getDimSize(1);
    dq = q.getDimSize(2);
    dk = k.getDimSize(2);
    for (auto [name, d] : {std::pair{"q", dq}, std::pair{"v", v.getDimSize(2)}})
      if (d != kDyn && d % heads != 0)
        return emitOpError() << name << " width " << d
                             << " is not divisible by num_heads " << heads;
    if (!eq(sk, v.getDimSize(1)))
      return emitOpError() << "k has " << sk << " keys but v has " << v.getDimSize(1);
    out = {b, sq, v.getDimSize(2)};
  } else {
    return emitOpError() << "layout must be 'bhsd' or 'bsd', got '" << layout << "'";
  }
  if (!eq(dq, dk))
    return emitOpError() << "q and k head widths differ: " << dq << " vs " << dk;
  if (!eq(k.getDimSize(0), b) || !eq(v.getDimSize(0), b))
    return emitOpError("q, k and v must share the batch size");
  if (getMask()) {
    auto m = getMask().getType();
    if (m.getRank() > 4)
      return emitOpError("mask rank must be <= 4");
    SmallVector<int64_t> scores{b, layout == "bhsd" ? q.getDimSize(1) : heads, sq, sk};
    auto s = broadcast(*this, m.getShape(), scores);
    if (failed(s))
      return failure();
    if (!m.getElementType().isInteger(1) && m.getElementType() != q.getElementType())
      return emitOpError() << "mask must be bool or " << q.getElementType();
  }
  types.push_back(make(out, q.getElementType()));
  return success();
}

LogicalResult FusedMatMulOp::inferResultTypes(SmallVectorImpl<Type> &types) {
  if (failed(requireRanked(*this)))
    return failure();
  StringRef act = getActivation();
  if (!llvm::is_contained({"none", "relu", "gelu", "gelu_tanh", "tanh"}, act))
    return emitOpError() << "unknown activation '" << act << "'";
  auto s = matmulShape(*this, getA().getType().getShape(),
                       getB().getType().getShape(), getTransB());
  if (failed(s))
    return failure();
  if (getBias() && failed(checkFeatureParam(*this, getBias(), "bias",
                                            ArrayRef<int64_t>(*s).take_back(1))))
    return failure();
  types.push_back(make(*s, getA().getType().getElementType()));
  return success();
}

// fuse-attention, masks: recognises masks that are exactly causal (constants,
// sliced tril buffers, trilu of ones, and not/equal/cast on top) so that the
// fused op carries the causal flag instead of a mask tensor.
#include "AttentionPatterns.h"
#include "MatchUtils.h"

#include <cmath>
#include <map>

using namespace mlir;
using namespace kiln;
using namespace kiln::match;

namespace {

/// Where a tensor's nonzero entries lie over its last two dims [M, N], taking
/// the causal diagonal j = i + (N - M): on and below it (Lower), strictly above
/// it (StrictUpper), or anything else (None). `binary`: every entry is 0 or 1.
enum class Tri { None, Lower, StrictUpper };
struct MaskPattern {
  Tri tri = Tri::None;
  bool binary = false;
};

Tri complement(Tri t) {
  if (t == Tri::Lower)
    return Tri::StrictUpper;
  if (t == Tri::StrictUpper)
    return Tri::Lower;
  return Tri::None;
}

/// The static [M, N] over which a constant mask is laid out, when it cannot
/// broadcast differently from the scores (a dim of 1 only where the scores'
/// dim is 1 too).
std::optional<std::pair<int64_t, int64_t>> maskDims(Value mask, Value scores) {
  auto type = dyn_cast<RankedTensorType>(mask.getType());
  if (!type || !type.hasStaticShape() || type.getRank() < 2)
    return std::nullopt;
  int64_t m = type.getDimSize(type.getRank() - 2);
  int64_t n = type.getDimSize(type.getRank() - 1);
  if ((m == 1 && getDim(scores, -2) != 1) ||
      (n == 1 && getDim(scores, -1) != 1))
    return std::nullopt;
  return std::make_pair(m, n);
}

/// Calls `visit(value, allowed)` for each element of a constant laid out over
/// [M, N] in its last two dims, with `allowed` = (j <= i + N - M); stops and
/// returns false as soon as `visit` does.
template <typename Fn>
bool scanCausal(ArrayRef<double> values, int64_t m, int64_t n, Fn visit) {
  for (size_t idx = 0; idx < values.size(); ++idx) {
    int64_t j = int64_t(idx) % n, i = (int64_t(idx) / n) % m;
    if (!visit(values[idx], j <= i + n - m))
      return false;
  }
  return true;
}

MaskPattern classifyConstant(Value v, Value scores) {
  auto dims = maskDims(v, scores);
  if (!dims)
    return {};
  auto values = getConstantDoubles(v);
  if (!values)
    return {};
  auto [m, n] = *dims;
  bool lower = scanCausal(*values, m, n, [](double x, bool allowed) {
    return (x != 0) == allowed;
  });
  bool upper = scanCausal(*values, m, n, [](double x, bool allowed) {
    return (x != 0) != allowed;
  });
  MaskPattern p;
  p.binary = llvm::all_of(*values, [](double x) { return x == 0 || x == 1; });
  p.tri = lower ? Tri::Lower : upper ? Tri::StrictUpper : Tri::None;
  return p;
}

/// The fill value of a tensor whose last two dims are equal (square) and whose
/// elements are all one value: a splat constant, constant_of_shape or an
/// expand of a scalar, with the shape's last two elements provably equal.
std::optional<double> getSquareFill(Value v) {
  if (auto cast = v.getDefiningOp<CastOp>()) {
    auto fill = getSquareFill(cast.getInput());
    if (!fill)
      return std::nullopt;
    Type to = getElementTypeOrSelf(cast.getType());
    if (to.isInteger(1))
      return *fill != 0 ? 1.0 : 0.0;
    if (isa<IntegerType>(to))
      return std::trunc(*fill);
    return fill;
  }
  auto squareShape = [](Value shape) {
    auto elements = getShapeElements(shape);
    return elements && elements->size() >= 2 &&
           isSameShapeElement((*elements)[elements->size() - 2],
                              elements->back());
  };
  if (getConstantValue(v)) {
    int64_t rank = getRank(v);
    if (rank < 2 || !hasStaticShape(v) || getDim(v, -1) != getDim(v, -2))
      return std::nullopt;
    return getScalarConstant(v);
  }
  if (auto fill = v.getDefiningOp<ConstantOfShapeOp>()) {
    if (!squareShape(fill.getShape()))
      return std::nullopt;
    Attribute value = fill.getValue();
    if (auto elements = dyn_cast<DenseElementsAttr>(value)) {
      if (elements.getNumElements() != 1)
        return std::nullopt;
      if (isa<FloatType>(elements.getElementType()))
        return (*elements.getValues<APFloat>().begin()).convertToDouble();
      return double((*elements.getValues<APInt>().begin()).getSExtValue());
    }
    if (auto f = dyn_cast<FloatAttr>(value))
      return f.getValueAsDouble();
    if (auto i = dyn_cast<IntegerAttr>(value))
      return double(i.getValue().getSExtValue());
    return std::nullopt;
  }
  if (auto expand = v.getDefiningOp<ExpandOp>()) {
    auto scalar = getScalarConstant(expand.getInput());
    if (!scalar || !squareShape(expand.getShape()))
      return std::nullopt;
    return scalar;
  }
  return std::nullopt;
}

/// A slice bound along one axis: its start and end, as shape elements.
struct SliceBounds {
  ShapeElement start, end;
};

/// slice(...slice(buffer)) of a constant tril/triu buffer [.., N, N], rows
/// [a, b) and columns [0, c): the nonzero pattern is causal for the slice
/// exactly when b == c (then Sk - Sq = a, the slice's row offset).
MaskPattern classifySlicedBuffer(SliceOp top) {
  std::map<int64_t, SliceBounds> bounds;
  Value v = top;
  while (auto slice = v.getDefiningOp<SliceOp>()) {
    int64_t rank = getRank(slice.getInput());
    auto axes = getConstantInts(slice.getAxes());
    auto steps = getConstantInts(slice.getSteps());
    auto starts = getShapeElements(slice.getStarts());
    auto ends = getShapeElements(slice.getEnds());
    if (rank < 2 || !axes || !steps || !starts || !ends ||
        starts->size() != axes->size() || ends->size() != axes->size() ||
        steps->size() != axes->size())
      return {};
    for (size_t k = 0; k < axes->size(); ++k) {
      auto axis = normalizeAxis((*axes)[k], rank);
      if (!axis || (*steps)[k] != 1 || bounds.count(*axis))
        return {};
      bounds[*axis] = {(*starts)[k], (*ends)[k]};
    }
    v = slice.getInput();
  }
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape() || type.getRank() < 2 ||
      !getConstantValue(v))
    return {};
  int64_t rank = type.getRank(), n = type.getDimSize(rank - 1);
  if (type.getDimSize(rank - 2) != n)
    return {};
  for (auto &entry : bounds)
    if (entry.first < rank - 2)
      return {};
  auto values = getConstantDoubles(v);
  if (!values)
    return {};
  bool lower = scanCausal(*values, n, n, [](double x, bool allowed) {
    return (x != 0) == allowed;
  });
  bool upper = scanCausal(*values, n, n, [](double x, bool allowed) {
    return (x != 0) != allowed;
  });
  if (!lower && !upper)
    return {};

  // A constant end is clamped to [0, N] like Slice does; an absent bound is
  // the whole axis.
  auto clampEnd = [&](ShapeElement e) {
    if (e.constant) {
      int64_t x = *e.constant < 0 ? *e.constant + n : *e.constant;
      e.constant = std::clamp<int64_t>(x, 0, n);
    }
    return e;
  };
  ShapeElement full{n, Value()};
  ShapeElement rowEnd = full, colEnd = full;
  if (auto it = bounds.find(rank - 2); it != bounds.end())
    rowEnd = clampEnd(it->second.end);
  if (auto it = bounds.find(rank - 1); it != bounds.end()) {
    const ShapeElement &start = it->second.start;
    if (!start.constant || *start.constant != 0)
      return {};
    colEnd = clampEnd(it->second.end);
  }
  if (!isSameShapeElement(rowEnd, colEnd))
    return {};
  MaskPattern p;
  p.tri = lower ? Tri::Lower : Tri::StrictUpper;
  p.binary = llvm::all_of(*values, [](double x) { return x == 0 || x == 1; });
  return p;
}

/// An index vector along the query (i) or key (j) axis of a [T, T] mask:
/// unsqueeze(r, 1) is [T, 1] (i), unsqueeze(r, 0) or r itself [1, T] (j), for
/// r = range(start, limit, delta > 0), so r[a] < r[b] exactly when a < b.
struct IndexVector {
  Value range;
  bool alongKeys;
};

std::optional<IndexVector> matchIndexVector(Value v) {
  bool alongKeys = true;
  if (auto unsqueeze = v.getDefiningOp<UnsqueezeOp>()) {
    ArrayRef<int64_t> axes = unsqueeze.getAxes();
    auto axis = axes.size() == 1 ? normalizeAxis(axes[0], 2) : std::nullopt;
    if (!axis)
      return std::nullopt;
    alongKeys = *axis == 0;
    v = unsqueeze.getInput();
  }
  auto range = v.getDefiningOp<RangeOp>();
  auto delta = range ? getScalarConstant(range.getDelta()) : std::nullopt;
  if (getRank(v) != 1 || !delta || *delta <= 0)
    return std::nullopt;
  return IndexVector{v, alongKeys};
}

/// cmp(r[j], r[i]) (or with the operands swapped) for index vectors from one
/// range r: j > i is strictly upper, j <= i is lower.
MaskPattern classifyIndexComparison(Operation *op) {
  auto lhs = matchIndexVector(op->getOperand(0));
  auto rhs = matchIndexVector(op->getOperand(1));
  if (!lhs || !rhs || lhs->alongKeys == rhs->alongKeys ||
      !isSameValue(lhs->range, rhs->range))
    return {};
  // Read the comparison as "j OP i".
  bool greater = isa<GreaterOp, GreaterOrEqualOp>(op);
  bool strict = isa<GreaterOp, LessOp>(op);
  if (!lhs->alongKeys)
    greater = !greater;
  MaskPattern p;
  p.binary = true;
  if (greater && strict)
    p.tri = Tri::StrictUpper; // j > i
  else if (!greater && !strict)
    p.tri = Tri::Lower; // j <= i
  return p;
}

MaskPattern classify(Value v, Value scores, int depth = 0) {
  if (depth > 8)
    return {};
  if (getConstantValue(v))
    return classifyConstant(v, scores);
  Operation *op = v.getDefiningOp();
  if (!op)
    return {};
  if (auto notOp = dyn_cast<NotOp>(op)) {
    MaskPattern p = classify(notOp.getInput(), scores, depth + 1);
    return {complement(p.tri), true};
  }
  if (isa<EqualOp>(op)) {
    auto scalar = getScalarOperand(op);
    if (!scalar)
      return {};
    MaskPattern p = classify(scalar->other, scores, depth + 1);
    if (scalar->scalar == 0)
      return {complement(p.tri), true}; // true exactly where the input is 0
    if (scalar->scalar == 1 && p.binary)
      return {p.tri, true};
    return {};
  }
  if (auto cast = dyn_cast<CastOp>(op)) {
    MaskPattern p = classify(cast.getInput(), scores, depth + 1);
    Type to = getElementTypeOrSelf(cast.getType());
    if (p.binary || to.isInteger(1) || isa<FloatType>(to))
      return {p.tri, p.binary || to.isInteger(1)};
    return {};
  }
  if (isa<GreaterOp, LessOp, GreaterOrEqualOp, LessOrEqualOp>(op))
    return classifyIndexComparison(op);
  if (auto slice = dyn_cast<SliceOp>(op))
    return classifySlicedBuffer(slice);
  if (auto trilu = dyn_cast<TriluOp>(op)) {
    auto fill = getSquareFill(trilu.getInput());
    if (!fill || *fill == 0)
      return {};
    MaskPattern p;
    p.binary = *fill == 1;
    if (!trilu.getUpper() && trilu.getK() == 0)
      p.tri = Tri::Lower;
    else if (trilu.getUpper() && trilu.getK() == 1)
      p.tri = Tri::StrictUpper;
    return p;
  }
  return {};
}

bool isMaskedFill(double x) { return x <= kiln::attention::kMaskedFill; }

} // namespace

bool kiln::attention::isCausalCondition(Value cond, bool condIsAllowed,
                                        Value scores) {
  MaskPattern p = classify(cond, scores);
  return (p.tri == Tri::Lower && condIsAllowed) ||
         (p.tri == Tri::StrictUpper && !condIsAllowed);
}

bool kiln::attention::isCausalAdditiveMask(Value mask, Value scores) {
  if (getConstantValue(mask)) {
    auto dims = maskDims(mask, scores);
    auto values = getConstantDoubles(mask);
    if (!dims || !values)
      return false;
    return scanCausal(*values, dims->first, dims->second,
                      [](double x, bool allowed) {
                        return allowed ? x == 0 : isMaskedFill(x);
                      });
  }
  if (auto trilu = mask.getDefiningOp<TriluOp>()) {
    auto fill = getSquareFill(trilu.getInput());
    return fill && isMaskedFill(*fill) && trilu.getUpper() && trilu.getK() == 1;
  }
  if (auto where = mask.getDefiningOp<WhereOp>()) {
    // Scalars or square tensors of one value (torch.zeros(T, T).masked_fill).
    auto uniform = [](Value v) {
      auto c = getScalarConstant(v);
      return c ? c : getSquareFill(v);
    };
    auto x = uniform(where.getX());
    auto y = uniform(where.getY());
    if (!x || !y)
      return false;
    if (*x == 0 && isMaskedFill(*y))
      return isCausalCondition(where.getCondition(), /*condIsAllowed=*/true,
                               scores);
    if (*y == 0 && isMaskedFill(*x))
      return isCausalCondition(where.getCondition(), /*condIsAllowed=*/false,
                               scores);
  }
  return false;
}

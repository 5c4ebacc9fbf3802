// Partial shape values: the known elements of small integer tensors computed
// from shapes (Shape -> Gather -> Unsqueeze -> Concat ...), used to give
// Reshape, Expand and ConstantOfShape results the static dims that shape
// inference, which sees only a non-constant shape operand, cannot.
#include "OnnxImporterImpl.h"

#include "kiln/IR/TensorConversion.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::onnx_import;

/// Shape tensors longer than this are not analysed.
static constexpr int64_t kMaxElements = 64;
/// How far back through defining ops the analysis looks.
static constexpr int kMaxDepth = 24;

static constexpr int64_t kUnknown = ShapedType::kDynamic;

namespace {
/// One element: a known value, or unknown but equal to dim `dim` of
/// `source` (a value read by kiln.shape), or nothing known.
struct Elem {
  int64_t value = kUnknown;
  Value source;
  int64_t dim = -1;
  static Elem known(int64_t v) { return {v, Value(), -1}; }
  bool isKnown() const { return value != kUnknown; }
};
using Elems = SmallVector<Elem>;
} // namespace

/// The element count of a static 0-D or 1-D integer tensor type, or -1.
static int64_t smallIntLength(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  if (!t || !t.hasStaticShape() || t.getRank() > 1 ||
      !isa<IntegerType>(t.getElementType()))
    return -1;
  int64_t n = t.getNumElements();
  return n <= kMaxElements ? n : -1;
}

static Elems partialValue(Value v, int depth);

/// ONNX Slice of a 1-D value with constant starts/ends/axes/steps.
static std::optional<Elems> sliceValue(SliceOp op, int depth) {
  auto starts = getConstantInts(op.getStarts());
  auto ends = getConstantInts(op.getEnds());
  auto axes = getConstantInts(op.getAxes());
  auto steps = getConstantInts(op.getSteps());
  if (!starts || !ends || !axes || !steps || starts->size() != 1 ||
      ends->size() != 1 || axes->size() != 1 || steps->size() != 1 ||
      ((*axes)[0] != 0 && (*axes)[0] != -1) || (*steps)[0] == 0)
    return std::nullopt;
  Elems in = partialValue(op.getInput(), depth + 1);
  int64_t n = in.size(), step = (*steps)[0];
  auto clampIndex = [&](int64_t i, int64_t lo, int64_t hi) {
    if (i < 0)
      i += n;
    return std::min(std::max(i, lo), hi);
  };
  int64_t start = step > 0 ? clampIndex((*starts)[0], 0, n)
                           : clampIndex((*starts)[0], -1, n - 1);
  int64_t end = step > 0 ? clampIndex((*ends)[0], 0, n)
                         : clampIndex((*ends)[0], -1, n - 1);
  Elems out;
  for (int64_t i = start; step > 0 ? i < end : i > end; i += step)
    out.push_back(in[i]);
  return out;
}

/// Integer add/sub/mul/div with 0-D/1-D broadcasting; known where both are.
static std::optional<Elems> arithmeticValue(Operation *op, int depth) {
  Elems a = partialValue(op->getOperand(0), depth + 1);
  Elems b = partialValue(op->getOperand(1), depth + 1);
  size_t n = std::max(a.size(), b.size());
  if ((a.size() != n && a.size() != 1) || (b.size() != n && b.size() != 1))
    return std::nullopt;
  Elems out;
  for (size_t i = 0; i < n; ++i) {
    const Elem &ea = a[a.size() == 1 ? 0 : i], &eb = b[b.size() == 1 ? 0 : i];
    if (!ea.isKnown() || !eb.isKnown()) {
      out.push_back(Elem());
      continue;
    }
    int64_t x = ea.value, y = eb.value;
    uint64_t ux = x, uy = y; // wrapping, like the interpreter
    if (isa<AddOp>(op))
      out.push_back(Elem::known((int64_t)(ux + uy)));
    else if (isa<SubOp>(op))
      out.push_back(Elem::known((int64_t)(ux - uy)));
    else if (isa<MulOp>(op))
      out.push_back(Elem::known((int64_t)(ux * uy)));
    else if (y != 0 && y != -1)
      out.push_back(Elem::known(x / y));
    else
      out.push_back(Elem());
  }
  return out;
}

/// What is known of `v`, a small static integer tensor (one entry per
/// element; empty when v is not such a tensor).
static Elems partialValue(Value v, int depth) {
  int64_t length = smallIntLength(v.getType());
  Elems unknown(std::max<int64_t>(length, 0));
  Operation *def = v.getDefiningOp();
  if (!def || depth > kMaxDepth)
    return unknown;
  std::optional<Elems> found;
  if (auto c = dyn_cast<ConstantOp>(def)) {
    found = Elems();
    for (int64_t x : toTensor(c.getValue()).toInts())
      found->push_back(Elem::known(x));
  } else if (auto shape = dyn_cast<ShapeOp>(def)) {
    auto in = dyn_cast<RankedTensorType>(shape.getInput().getType());
    if (in) {
      int64_t rank = in.getRank();
      auto clampIndex = [&](int64_t i) {
        return std::min(std::max(i < 0 ? i + rank : i, int64_t(0)), rank);
      };
      int64_t start = clampIndex(shape.getStart());
      int64_t end = shape.getEnd() ? clampIndex(*shape.getEnd()) : rank;
      found = Elems();
      for (int64_t i = start; i < end; ++i)
        found->push_back(in.isDynamicDim(i)
                             ? Elem{kUnknown, shape.getInput(), i}
                             : Elem::known(in.getDimSize(i)));
    }
  } else if (auto gather = dyn_cast<GatherOp>(def)) {
    auto indices = getConstantInts(gather.getIndices());
    Elems in = partialValue(gather.getInput(), depth + 1);
    int64_t n = in.size();
    if (indices && gather.getAxis() == 0 && n > 0) {
      found = Elems();
      for (int64_t i : *indices) {
        if (i < -n || i >= n) {
          found.reset();
          break;
        }
        found->push_back(in[i < 0 ? i + n : i]);
      }
    }
  } else if (isa<UnsqueezeOp, SqueezeOp, IdentityOp, ReshapeOp, CastOp>(def)) {
    found = partialValue(def->getOperand(0), depth + 1);
  } else if (auto concat = dyn_cast<ConcatOp>(def)) {
    found = Elems();
    for (Value part : concat.getInputs()) {
      Elems p = partialValue(part, depth + 1);
      found->append(p.begin(), p.end());
    }
  } else if (auto slice = dyn_cast<SliceOp>(def)) {
    found = sliceValue(slice, depth);
  } else if (isa<AddOp, SubOp, MulOp, DivOp>(def)) {
    found = arithmeticValue(def, depth);
  }
  // The analysis must agree with the type; otherwise it knows nothing.
  if (!found || (int64_t)found->size() != length)
    return unknown;
  return *found;
}

std::optional<SmallVector<int64_t>> onnx_import::partialShapeValue(Value v) {
  if (smallIntLength(v.getType()) < 0)
    return std::nullopt;
  SmallVector<int64_t> values;
  for (const Elem &e : partialValue(v, 0))
    values.push_back(e.value);
  if (llvm::all_of(values, [](int64_t x) { return x == kUnknown; }))
    return std::nullopt;
  return values;
}

/// Reshape's output dims from the partial target shape. A -1 is resolved when
/// the input is static, or when every dynamic input dim reappears in the
/// target (read from the input's own shape, or copied by a 0) and the other
/// target dims are static: it is then the quotient of the static parts.
static SmallVector<int64_t> reshapeDims(ReshapeOp op, ArrayRef<Elem> target,
                                        RankedTensorType in) {
  SmallVector<int64_t> dims;
  int inferred = -1;
  // Which dynamic input dims the target carries; false when a target dim is
  // neither static nor one of them.
  SmallVector<bool> carried(in.getRank(), false);
  bool symbolic = true;
  for (auto [i, e] : llvm::enumerate(target)) {
    int64_t carriedDim = -1;
    if (e.isKnown() && e.value == 0 && !op.getAllowzero()) {
      bool inRange = (int64_t)i < in.getRank();
      dims.push_back(inRange ? in.getDimSize(i) : kUnknown);
      if (inRange && in.isDynamicDim(i))
        carriedDim = i;
    } else if (e.isKnown() && e.value == -1) {
      symbolic &= inferred < 0; // two -1s: an invalid shape
      inferred = i;
      dims.push_back(kUnknown);
      continue;
    } else if (e.isKnown()) {
      dims.push_back(e.value >= 0 ? e.value : kUnknown);
    } else {
      dims.push_back(kUnknown);
      if (e.source == op.getInput() && in.isDynamicDim(e.dim))
        carriedDim = e.dim;
    }
    if (dims.back() != kUnknown)
      continue;
    if (carriedDim < 0 || carried[carriedDim])
      symbolic = false;
    else
      carried[carriedDim] = true;
  }
  if (inferred < 0)
    return dims;
  int64_t inStatic = 1, outStatic = 1;
  for (auto [j, d] : llvm::enumerate(in.getShape())) {
    if (in.isDynamicDim(j))
      symbolic &= carried[j];
    else
      inStatic *= d;
  }
  for (int64_t d : dims)
    outStatic *= d == kUnknown ? 1 : d;
  if (symbolic && outStatic > 0 && inStatic % outStatic == 0)
    dims[inferred] = inStatic / outStatic;
  return dims;
}

/// Expand's output dims: the input broadcast with the partial target shape.
static SmallVector<int64_t> expandDims(ArrayRef<Elem> target,
                                       RankedTensorType in) {
  int64_t rank = std::max<int64_t>(target.size(), in.getRank());
  SmallVector<int64_t> dims;
  for (int64_t j = 0; j < rank; ++j) {
    int64_t ti = j - (rank - (int64_t)target.size());
    int64_t ii = j - (rank - in.getRank());
    int64_t t = ti >= 0 ? target[ti].value : 1;
    int64_t d = ii >= 0 ? in.getDimSize(ii) : 1;
    if (t != kUnknown && t != 1)
      dims.push_back(d == kUnknown || d == 1 || d == t ? t : kUnknown);
    else if (t == 1)
      dims.push_back(d);
    else
      dims.push_back(d != kUnknown && d != 1 ? d : kUnknown);
  }
  return dims;
}

void onnx_import::refineShapeResult(Operation *op) {
  if (op->getNumResults() != 1)
    return;
  auto current = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  if (!current || current.hasStaticShape())
    return;
  SmallVector<int64_t> dims;
  if (auto reshape = dyn_cast<ReshapeOp>(op)) {
    auto in = dyn_cast<RankedTensorType>(reshape.getInput().getType());
    if (!in || smallIntLength(reshape.getShape().getType()) < 0)
      return;
    dims = reshapeDims(reshape, partialValue(reshape.getShape(), 0), in);
  } else if (auto expand = dyn_cast<ExpandOp>(op)) {
    auto in = dyn_cast<RankedTensorType>(expand.getInput().getType());
    if (!in || smallIntLength(expand.getShape().getType()) < 0)
      return;
    dims = expandDims(partialValue(expand.getShape(), 0), in);
  } else if (auto fill = dyn_cast<ConstantOfShapeOp>(op)) {
    if (smallIntLength(fill.getShape().getType()) < 0)
      return;
    for (const Elem &e : partialValue(fill.getShape(), 0))
      dims.push_back(e.value >= 0 ? e.value : kUnknown);
  } else {
    return;
  }
  if ((int64_t)dims.size() != current.getRank())
    return;
  // Keep what inference found; where both know a dim they must agree.
  for (auto [d, c] : llvm::zip(dims, current.getShape())) {
    if (c != kUnknown && d != kUnknown && c != d)
      return; // an invalid shape: the op reports it when run
    if (d == kUnknown)
      d = c;
  }
  auto refined = RankedTensorType::get(dims, current.getElementType(),
                                       current.getEncoding());
  if (refined != current && isRefinementOf(refined, current))
    op->getResult(0).setType(refined);
}

// fuse-attention, head layout: folds the head split (reshape [B,S,H·D] ->
// [B,S,H,D] + transpose) and merge around a "bhsd" kiln.attention into "bsd",
// and cuts a fused QKV projection whose split feeds attention into three.
#include "AttentionPatterns.h"
#include "MatchUtils.h"
#include "kiln/IR/KilnDialect.h"
#include "kiln/IR/TensorConversion.h"

#include "mlir/IR/DialectResourceBlobManager.h"

#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "fuse-attention"

using namespace mlir;
using namespace kiln;
using namespace kiln::match;

namespace {

LogicalResult fail(PatternRewriter &rewriter, Operation *op, const Twine &why) {
  return notFused(rewriter, op, DEBUG_TYPE, why);
}

/// Follows dim `d` of `v` back through ops that pass it on unchanged
/// (elementwise ops, matmul rows and batch dims, transposes, splits and
/// slices along other axes, reshapes that copy it, fused ops) to the tensor
/// and dim it comes from. Two dims with the same source are equal at run time.
std::pair<Value, int64_t> dimSource(Value v, int64_t d) {
  for (int step = 0; step < 64; ++step) {
    Operation *op = v.getDefiningOp();
    int64_t rank = getRank(v);
    if (!op || rank < 0 || d < 0 || d >= rank)
      break;
    // The operand of an elementwise op that has this dim un-broadcast.
    auto sameRankOperand = [&](ValueRange operands) -> Value {
      for (Value operand : operands)
        if (getRank(operand) == rank && getDim(operand, d) != 1)
          return operand;
      return {};
    };
    Value next;
    int64_t nextDim = d;
    if (op->getNumOperands() >= 1 &&
        isa<NegOp, AbsOp, SqrtOp, ReciprocalOp, ExpOp, LogOp, ErfOp, TanhOp,
            ReluOp, SigmoidOp, SinOp, CosOp, FloorOp, CeilOp, NotOp, GeluOp,
            CastOp, IdentityOp, SoftmaxOp, LogSoftmaxOp, LayerNormOp,
            LayerNormalizationOp, SkipLayerNormOp, BatchNormalizationOp,
            TriluOp>(op)) {
      next = op->getOperand(0);
    } else if (isa<AddOp, SubOp, MulOp, DivOp, PowOp, MaxOp, MinOp, WhereOp>(
                   op)) {
      next = sameRankOperand(op->getOperands());
    } else if (isa<MatMulOp, FusedMatMulOp>(op)) {
      if (getRank(op->getOperand(0)) == rank && d < rank - 1)
        next = op->getOperand(0);
    } else if (auto transpose = dyn_cast<TransposeOp>(op)) {
      next = transpose.getInput();
      nextDim = transpose.getPerm()[d];
    } else if (auto split = dyn_cast<SplitOp>(op)) {
      auto axis = normalizeAxis(split.getAxis(), rank);
      if (axis && *axis != d)
        next = split.getInput();
    } else if (auto slice = dyn_cast<SliceOp>(op)) {
      auto axes = getConstantInts(slice.getAxes());
      if (axes && llvm::none_of(*axes, [&](int64_t a) {
            return normalizeAxis(a, rank) == d;
          }))
        next = slice.getInput();
    } else if (auto reshape = dyn_cast<ReshapeOp>(op)) {
      auto elements = getShapeElements(reshape.getShape());
      if (elements && int64_t(elements->size()) == rank) {
        const ShapeElement &e = (*elements)[d];
        if (e.constant && *e.constant == 0 && !reshape.getAllowzero() &&
            d < getRank(reshape.getInput()))
          next = reshape.getInput();
        else if (!e.constant)
          if (auto ref = getShapeDimRef(e.value))
            std::tie(next, nextDim) = *ref;
      }
    } else if (auto attention = dyn_cast<AttentionOp>(op)) {
      bool bhsd = attention.getLayout() == "bhsd";
      if (d < (bhsd ? 3 : 2))
        next = attention.getQ();
    } else if (auto gather = dyn_cast<GatherOp>(op)) {
      auto axis = normalizeAxis(gather.getAxis(), getRank(gather.getInput()));
      int64_t indicesRank = getRank(gather.getIndices());
      if (axis && indicesRank == 0) {
        // A scalar index drops the axis.
        next = gather.getInput();
        nextDim = d < *axis ? d : d + 1;
      } else if (axis == 0 && d < indicesRank) {
        next = gather.getIndices(); // an embedding lookup
      }
    } else if (auto squeeze = dyn_cast<SqueezeOp>(op)) {
      int64_t inRank = getRank(squeeze.getInput());
      SmallVector<int64_t> kept;
      for (int64_t i = 0; i < inRank; ++i)
        if (llvm::none_of(squeeze.getAxes(), [&](int64_t a) {
              return normalizeAxis(a, inRank) == i;
            }))
          kept.push_back(i);
      if (!squeeze.getAxes().empty() && int64_t(kept.size()) == rank) {
        next = squeeze.getInput();
        nextDim = kept[d];
      }
    } else if (auto unsqueeze = dyn_cast<UnsqueezeOp>(op)) {
      int64_t before = 0;
      bool inserted = false;
      for (int64_t a : unsqueeze.getAxes()) {
        auto axis = normalizeAxis(a, rank);
        inserted |= axis == d;
        before += axis && *axis < d;
      }
      if (!inserted) {
        next = unsqueeze.getInput();
        nextDim = d - before;
      }
    }
    if (!next)
      break;
    v = next;
    d = nextDim;
  }
  return {v, d};
}

/// True when dim `i` of `a` and dim `j` of `b` are provably equal.
bool isSameDim(Value a, int64_t i, Value b, int64_t j) {
  int64_t da = getDim(a, i), db = getDim(b, j);
  if (!ShapedType::isDynamic(da) && !ShapedType::isDynamic(db))
    return da == db;
  auto sa = dimSource(a, i), sb = dimSource(b, j);
  return sa.second == sb.second && isSameValue(sa.first, sb.first);
}

/// True when `reshape` provably keeps its input's first `n` dims.
bool keepsLeadingDims(ReshapeOp reshape, int64_t n) {
  Value in = reshape.getInput(), out = reshape.getOutput();
  if (getRank(in) < n || getRank(out) < n)
    return false;
  auto elements = getShapeElements(reshape.getShape());
  SmallVector<int64_t> unproven;
  for (int64_t i = 0; i < n; ++i) {
    int64_t di = getDim(in, i), doo = getDim(out, i);
    if (!ShapedType::isDynamic(di) && di == doo)
      continue;
    if (elements && int64_t(elements->size()) == getRank(out)) {
      const ShapeElement &e = (*elements)[i];
      if (e.constant && *e.constant == 0 && !reshape.getAllowzero())
        continue;
      if (e.constant && *e.constant > 0 && *e.constant == di)
        continue;
      if (!e.constant)
        if (auto ref = getShapeDimRef(e.value);
            ref && isSameDim(ref->first, ref->second, in, i))
          continue;
    }
    unproven.push_back(i);
  }
  if (unproven.empty())
    return true;
  // One unproven dim is forced to match when the trailing dims have the same
  // size: the element counts agree (a -1, or a reshape that succeeds).
  if (unproven.size() != 1 || !elements)
    return false;
  int64_t inTail = 1, outTail = 1;
  for (int64_t i = n; i < getRank(in); ++i) {
    if (ShapedType::isDynamic(getDim(in, i)))
      return false;
    inTail *= getDim(in, i);
  }
  for (int64_t i = n; i < int64_t(elements->size()); ++i) {
    const ShapeElement &e = (*elements)[i];
    int64_t d = e.constant && *e.constant > 0 ? *e.constant : getDim(out, i);
    if (ShapedType::isDynamic(d))
      return false;
    outTail *= d;
  }
  return inTail == outTail;
}

/// True when `op` is a shape op whose results, through a few pure ops
/// (gather, unsqueeze, concat, ...), only feed `reshape`'s shape operand: it
/// dies with the reshape.
bool onlyComputesShapeOf(Operation *op, ReshapeOp reshape, int depth = 0) {
  if (depth == 0 && !isa<ShapeOp>(op))
    return false;
  if (depth > 8 || !isMemoryEffectFree(op) || op->getNumResults() == 0)
    return false;
  for (Value result : op->getResults())
    for (OpOperand &use : result.getUses()) {
      Operation *user = use.getOwner();
      if (user == reshape && use.get() == reshape.getShape())
        continue;
      if (user == reshape || !onlyComputesShapeOf(user, reshape, depth + 1))
        return false;
    }
  return true;
}

/// A head split: x [B, S, H·D] viewed as [B, H, S, D], with any constant
/// scalar scale on x peeled off; or, packed, part `index` of x [B, S, P·H·D]
/// viewed as [P, B, H, S, D] (a fused QKV projection split by
/// reshape [B,S,P,H,D] + transpose [2,0,3,1,4] + split/gather along axis 0).
struct HeadSplit {
  Value input;
  int64_t heads = 0;
  double scale = 1.0;
  int64_t index = 0, parts = 0; // parts > 0: a packed split of `input`
};

/// Heads from dim `i` of a reshape's result type or its constant shape.
std::optional<int64_t> reshapeDim(ReshapeOp reshape, int64_t i) {
  int64_t d = getDim(reshape.getOutput(), i);
  if (!ShapedType::isDynamic(d))
    return d;
  auto elements = getShapeElements(reshape.getShape());
  if (!elements || int64_t(elements->size()) <= i || !(*elements)[i].constant ||
      *(*elements)[i].constant <= 0)
    return std::nullopt;
  return *(*elements)[i].constant;
}

std::optional<HeadSplit> matchPackedHeadSplit(Value v) {
  Value packed;
  int64_t index = 0, parts = 0;
  if (auto squeeze = v.getDefiningOp<SqueezeOp>()) {
    auto part = dyn_cast<OpResult>(squeeze.getInput());
    auto split = part ? dyn_cast<SplitOp>(part.getOwner()) : SplitOp();
    if (!split || squeeze.getAxes() != ArrayRef<int64_t>{0} ||
        split.getAxis() != 0 ||
        !llvm::all_of(split.getSizes(), [](int64_t s) { return s == 1; }))
      return std::nullopt;
    packed = split.getInput();
    index = part.getResultNumber();
    parts = split.getSizes().size();
  } else if (auto gather = v.getDefiningOp<GatherOp>()) {
    auto idx = getConstantInts(gather.getIndices());
    parts = getDim(gather.getInput(), 0);
    if (gather.getAxis() != 0 || getRank(gather.getIndices()) != 0 || !idx ||
        ShapedType::isDynamic(parts))
      return std::nullopt;
    packed = gather.getInput();
    index = idx->front() < 0 ? idx->front() + parts : idx->front();
    if (index < 0 || index >= parts)
      return std::nullopt;
  } else {
    return std::nullopt;
  }
  auto transpose = packed.getDefiningOp<TransposeOp>();
  const int64_t packedPerm[] = {2, 0, 3, 1, 4};
  if (!transpose || transpose.getPerm() != ArrayRef<int64_t>(packedPerm))
    return std::nullopt;
  auto reshape = transpose.getInput().getDefiningOp<ReshapeOp>();
  if (!reshape || getRank(reshape.getInput()) != 3 ||
      getRank(reshape.getOutput()) != 5 || !keepsLeadingDims(reshape, 2))
    return std::nullopt;
  auto partsDim = reshapeDim(reshape, 2), heads = reshapeDim(reshape, 3);
  int64_t width = getDim(reshape.getInput(), 2);
  if (!partsDim || *partsDim != parts || !heads ||
      ShapedType::isDynamic(width) || width % parts != 0)
    return std::nullopt;
  HeadSplit split;
  split.input = reshape.getInput();
  split.heads = *heads;
  split.index = index;
  split.parts = parts;
  return split;
}

std::optional<HeadSplit> matchHeadSplit(Value v, ArrayRef<int64_t> perm) {
  const int64_t headsPerm[] = {0, 2, 1, 3};
  if (perm == ArrayRef<int64_t>(headsPerm))
    if (auto packed = matchPackedHeadSplit(v))
      return packed;
  auto transpose = v.getDefiningOp<TransposeOp>();
  if (!transpose || transpose.getPerm() != perm)
    return std::nullopt;
  auto reshape = transpose.getInput().getDefiningOp<ReshapeOp>();
  if (!reshape || getRank(reshape.getInput()) != 3 ||
      getRank(reshape.getOutput()) != 4 || !keepsLeadingDims(reshape, 2))
    return std::nullopt;
  auto heads = reshapeDim(reshape, 2);
  if (!heads)
    return std::nullopt;
  HeadSplit split;
  split.input = reshape.getInput();
  split.heads = *heads;
  while (Operation *op = split.input.getDefiningOp()) {
    auto scale = getScalarScale(op);
    if (!scale)
      break;
    split.scale *= scale->factor;
    split.input = scale->input;
  }
  return split;
}

/// The [B, S, H·D] tensor of a head split; a packed one is split (along the
/// last dim, once per packed tensor) here.
Value materialize(PatternRewriter &rewriter, Location loc,
                  const HeadSplit &split,
                  llvm::SmallDenseMap<Value, Operation *> &splits) {
  if (split.parts == 0)
    return split.input;
  Operation *&op = splits[split.input];
  if (!op) {
    auto type = cast<RankedTensorType>(split.input.getType());
    int64_t width = type.getShape().back() / split.parts;
    SmallVector<int64_t> shape(type.getShape());
    shape.back() = width;
    SmallVector<Type> types(
        split.parts, RankedTensorType::get(shape, type.getElementType()));
    op = SplitOp::create(rewriter, loc, types, split.input, /*axis=*/2,
                         SmallVector<int64_t>(split.parts, width));
  }
  return op->getResult(split.index);
}

/// reshape(transpose(attention{bhsd}(q, k, v), [0,2,1,3]), [B, Sq, H·Dv])
/// where q = transpose(reshape(xq, [B,Sq,H,D]), [0,2,1,3]), v likewise and k
/// likewise (perm [0,2,3,1] when k_transposed)
///   -> attention{bsd}(xq, xk, xv) with num_heads = H.
struct FoldAttentionHeadLayout : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ReshapeOp merge,
                                PatternRewriter &rewriter) const override {
    auto transpose = merge.getInput().getDefiningOp<TransposeOp>();
    if (!transpose)
      return notCandidate(rewriter, merge, "input is not a transpose");
    auto attention = transpose.getInput().getDefiningOp<AttentionOp>();
    if (!attention)
      return notCandidate(rewriter, merge, "not a head merge after attention");
    if (attention.getLayout() != "bhsd" || getRank(attention.getQ()) != 4)
      return notCandidate(rewriter, merge,
                          "attention is not 4-D in layout bhsd");
    const int64_t heads4[] = {0, 2, 1, 3}, headsKT[] = {0, 2, 3, 1};
    if (transpose.getPerm() != ArrayRef<int64_t>(heads4) ||
        getRank(merge.getOutput()) != 3)
      return fail(rewriter, merge,
                  "output is not transposed [0,2,1,3] and merged to 3-D");
    if (!attention->hasOneUse() ||
        !llvm::all_of(transpose->getUsers(), [&](Operation *user) {
          return user == merge || onlyComputesShapeOf(user, merge);
        }))
      return fail(rewriter, merge, "the attention output has other users");
    if (!keepsLeadingDims(merge, 2))
      return fail(rewriter, merge,
                  "merge reshape does not provably keep dims [B, Sq]");
    auto q = matchHeadSplit(attention.getQ(), heads4);
    auto k = matchHeadSplit(attention.getK(),
                            attention.getKTransposed() ? headsKT : heads4);
    auto v = matchHeadSplit(attention.getV(), heads4);
    if (!q || !k || !v)
      return fail(rewriter, merge,
                  Twine(!q   ? "q"
                        : !k ? "k"
                             : "v") +
                      " is not a head split of [B,S,H·D] by reshape + "
                      "transpose");
    if (q->heads != k->heads || q->heads != v->heads)
      return fail(rewriter, merge,
                  "q, k and v split into different head counts");
    double scale = attention.getScale().convertToDouble() * q->scale * k->scale;
    LLVM_DEBUG(llvm::dbgs()
               << DEBUG_TYPE << ": folding head layout into "
               << attention.getLoc() << " (" << q->heads << " heads)\n");
    Location loc = rewriter.getFusedLoc({attention.getLoc(), merge.getLoc()});
    llvm::SmallDenseMap<Value, Operation *> splits;
    Value qInput = materialize(rewriter, loc, *q, splits);
    Value kInput = materialize(rewriter, loc, *k, splits);
    Value vInput = materialize(rewriter, loc, *v, splits);
    auto fused =
        AttentionOp::create(rewriter, loc, merge.getType(), qInput, kInput,
                            vInput, attention.getMask(), APFloat(float(scale)),
                            q->heads, attention.getCausal(),
                            /*k_transposed=*/false, "bsd");
    (void)inferAndSetResultTypes(fused);
    rewriter.replaceOp(merge, fused.getOutput());
    return success();
  }
};

/// A projection whose output columns can be cut: y = x·W (matmul), y = x·W +
/// c (add of a matmul), or y = act(alpha·x·W + c) (fused_matmul), W a constant
/// f32 2-D weight ([K,N], [N,K] with trans_b) and c absent or a constant f32
/// that is [.., N] or broadcast along the last dim.
struct Projection {
  Operation *root = nullptr;        // the op producing y
  SmallVector<Operation *, 2> dead; // ops y replaces (root first)
  Value x, weight, bias;
  bool transB = false, fused = false;
  float alpha = 1;
  StringRef activation = "none";
};

int64_t getNumElements(Value v) {
  return cast<RankedTensorType>(v.getType()).getNumElements();
}

bool isF32Constant(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  return type && type.getElementType().isF32() && type.hasStaticShape() &&
         getConstantValue(v);
}

std::optional<Projection> matchProjection(Value y) {
  Projection p;
  p.root = y.getDefiningOp();
  if (!p.root || !y.hasOneUse())
    return std::nullopt;
  MatMulOp mm;
  if (auto f = dyn_cast<FusedMatMulOp>(p.root)) {
    p.x = f.getA();
    p.weight = f.getB();
    p.bias = f.getBias();
    p.transB = f.getTransB();
    p.alpha = f.getAlpha().convertToFloat();
    p.activation = f.getActivation();
    p.fused = true;
  } else if (auto add = dyn_cast<AddOp>(p.root)) {
    for (int side = 0; side < 2 && !mm; ++side) {
      mm = add->getOperand(side).getDefiningOp<MatMulOp>();
      p.bias = add->getOperand(1 - side);
    }
    // The add must not broadcast the product to a larger shape.
    if (!mm || !mm->hasOneUse() || mm.getType() != y.getType())
      return std::nullopt;
  } else if (!(mm = dyn_cast<MatMulOp>(p.root))) {
    return std::nullopt;
  }
  p.dead.push_back(p.root);
  if (mm) {
    if (mm != p.root)
      p.dead.push_back(mm);
    p.x = mm.getA();
    p.weight = mm.getB();
  }
  if (!isF32Constant(p.weight) || getRank(p.weight) != 2 || getRank(p.x) < 2 ||
      (p.bias && !isF32Constant(p.bias)))
    return std::nullopt;
  int64_t n = getDim(p.weight, p.transB ? 0 : 1);
  if (getDim(y, -1) != n)
    return std::nullopt;
  // The bias must be per column or the same for all columns, and must not
  // add dims to the product.
  if (p.bias && (getRank(p.bias) > getRank(y) ||
                 (getDim(p.bias, -1) != n && getDim(p.bias, -1) != 1)))
    return std::nullopt;
  return p;
}

/// Columns [begin, begin + size) of the constant `v` (whose elements are
/// `values`) along its last dim (rows of a [N,K] weight when `rows`), as a new
/// constant whose blob is named after v's ("<name>_part<index>").
Value sliceConstant(PatternRewriter &rewriter, Value v, ArrayRef<double> values,
                    int64_t begin, int64_t size, bool rows, size_t index) {
  auto type = cast<RankedTensorType>(v.getType());
  int64_t axis = rows ? 0 : type.getRank() - 1;
  if (type.getDimSize(axis) == 1)
    return v; // broadcast along the split axis: the same for every part
  SmallVector<int64_t> shape(type.getShape());
  int64_t inner = 1;
  for (int64_t i = axis + 1; i < type.getRank(); ++i)
    inner *= shape[i];
  int64_t outer = type.getNumElements() / (shape[axis] * inner);
  shape[axis] = size;
  ref::Tensor part(ref::DType::F32,
                   std::vector<int64_t>(shape.begin(), shape.end()));
  float *dst = part.data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < size; ++j)
      for (int64_t i = 0; i < inner; ++i)
        *dst++ =
            float(values[(o * type.getDimSize(axis) + begin + j) * inner + i]);
  std::string name = "qkv";
  if (auto blob = dyn_cast<DenseResourceElementsAttr>(getConstantValue(v)))
    name = blob.getRawHandle().getKey().str();
  return ConstantOp::create(
      rewriter, v.getLoc(), RankedTensorType::get(shape, type.getElementType()),
      toElementsAttr(part, rewriter.getContext(),
                     name + "_part" + std::to_string(index)));
}

/// split(projection(x), axis = last) where every part feeds a kiln.attention
/// as q, k or v (GPT-2's fused c_attn: x·W + b [B,S,3·H·D] split into q, k,
/// v)  ->  one projection per part with the matching columns of W and b. The
/// split would otherwise run as a copy kernel; the parts now come straight
/// out of their GEMMs (packed weights, fused bias) at the same FLOP count.
struct SplitProjectionForAttention : OpRewritePattern<SplitOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SplitOp split,
                                PatternRewriter &rewriter) const override {
    int64_t rank = getRank(split.getInput());
    if (rank < 2 || normalizeAxis(split.getAxis(), rank) != rank - 1 ||
        llvm::any_of(split.getSizes(), [](int64_t s) { return s <= 0; }))
      return notCandidate(rewriter, split,
                          "not a split of the last dim into non-empty parts");
    bool feedsAttention = false;
    for (Value part : split.getOutputs())
      for (OpOperand &use : part.getUses()) {
        auto attention = dyn_cast<AttentionOp>(use.getOwner());
        if (!attention || use.getOperandNumber() > 2)
          return notCandidate(rewriter, split,
                              "a part feeds something other than attention "
                              "q, k or v");
        feedsAttention = true;
      }
    if (!feedsAttention)
      return notCandidate(rewriter, split, "no part feeds attention");
    auto p = matchProjection(split.getInput());
    if (!p)
      return fail(rewriter, split,
                  "the split tensor is not a projection by a constant f32 "
                  "weight used only by the split");
    // Read W and b before changing anything.
    auto weights = getConstantDoubles(p->weight, getNumElements(p->weight));
    std::optional<SmallVector<double>> biases;
    if (p->bias)
      biases = getConstantDoubles(p->bias, getNumElements(p->bias));
    if (!weights || (p->bias && !biases))
      return fail(rewriter, split, "could not read the constant weights");
    // Cut W (and b) into the parts' columns. New ops keep the locations of
    // the ops they stand for.
    Location loc = p->root->getLoc(), mmLoc = p->dead.back()->getLoc();
    SmallVector<Value> parts;
    int64_t begin = 0;
    for (auto [i, size] : llvm::enumerate(split.getSizes())) {
      Value part = split.getResult(i);
      Value w = sliceConstant(rewriter, p->weight, *weights, begin, size,
                              p->transB, i);
      Value b = p->bias ? sliceConstant(rewriter, p->bias, *biases, begin, size,
                                        /*rows=*/false, i)
                        : Value();
      begin += size;
      Value y;
      if (p->fused) {
        y = FusedMatMulOp::create(rewriter, loc, part.getType(), p->x, w, b,
                                  p->activation, p->transB, APFloat(p->alpha));
      } else {
        auto mmType =
            cast<RankedTensorType>(p->dead.back()->getResult(0).getType());
        SmallVector<int64_t> shape(mmType.getShape());
        shape.back() = size;
        y = MatMulOp::create(
            rewriter, mmLoc,
            RankedTensorType::get(shape, rewriter.getF32Type()), p->x, w);
        if (b)
          y = AddOp::create(rewriter, loc, part.getType(), y, b);
      }
      parts.push_back(y);
    }
    LLVM_DEBUG(llvm::dbgs() << DEBUG_TYPE << ": split projection at " << loc
                            << " into " << parts.size() << " parts\n");
    rewriter.replaceOp(split, parts);
    for (Operation *op : p->dead)
      rewriter.eraseOp(op);
    return success();
  }
};

} // namespace

void kiln::attention::populateHeadLayoutPatterns(RewritePatternSet &patterns) {
  patterns.add<FoldAttentionHeadLayout, SplitProjectionForAttention>(
      patterns.getContext());
}

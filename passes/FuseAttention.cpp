// fuse-attention: rewrites Q·Kᵀ -> scale -> mask -> softmax -> ·V into
// kiln.attention, matching from each softmax's consumer outwards.
#include "AttentionPatterns.h"
#include "MatchUtils.h"
#include "kiln/Passes/Passes.h"

#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "fuse-attention"

namespace kiln {
#define GEN_PASS_DEF_FUSEATTENTIONPASS
#include "kiln/Passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;
using namespace kiln::match;
using kiln::attention::kMaskedFill;

namespace {

LogicalResult fail(PatternRewriter &rewriter, Operation *op, const Twine &why) {
  return notFused(rewriter, op, DEBUG_TYPE, why);
}

SmallVector<int64_t> identityPerm(int64_t rank) {
  return llvm::to_vector(llvm::seq<int64_t>(0, rank));
}

RankedTensorType permutedType(Value v, ArrayRef<int64_t> perm) {
  auto type = cast<RankedTensorType>(v.getType());
  SmallVector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(type.getDimSize(p));
  return RankedTensorType::get(shape, type.getElementType());
}

/// An operand of Q·Kᵀ seen through constant scalar scales and transposes:
/// operand == transpose(scale · base, perm).
struct PeeledOperand {
  Value operand, base;
  SmallVector<int64_t> perm;
  double scale = 1.0;
  bool scaled = false;
};

PeeledOperand peelScaleAndTranspose(Value v) {
  PeeledOperand p{v, v, identityPerm(getRank(v))};
  while (Operation *op = p.base.getDefiningOp()) {
    if (auto transpose = dyn_cast<TransposeOp>(op)) {
      p.perm = composePerms(transpose.getPerm(), p.perm);
      p.base = transpose.getInput();
      continue;
    }
    auto scale = getScalarScale(op);
    if (!scale)
      break;
    p.scale *= scale->factor;
    p.scaled = true;
    p.base = scale->input;
  }
  return p;
}

/// `transpose(base, perm)`, reusing existing values where possible.
Value transposeOf(PatternRewriter &rewriter, Location loc, Value base,
                  ArrayRef<int64_t> perm) {
  if (isIdentityPerm(perm))
    return base;
  return TransposeOp::create(rewriter, loc, permutedType(base, perm), base,
                             perm);
}

/// Whether `v` leads to a matmul through the ops that sit between Q·Kᵀ and
/// a softmax (scales, adds, wheres).
bool reachesMatMul(Value v, int depth = 0) {
  Operation *op = v.getDefiningOp();
  if (!op || depth > 8)
    return false;
  if (isa<MatMulOp>(op))
    return true;
  if (isa<MulOp, DivOp>(op)) {
    auto scalar = getScalarOperand(op);
    return scalar && reachesMatMul(scalar->other, depth + 1);
  }
  if (isa<AddOp>(op))
    return reachesMatMul(op->getOperand(0), depth + 1) ||
           reachesMatMul(op->getOperand(1), depth + 1);
  if (auto where = dyn_cast<WhereOp>(op))
    return reachesMatMul(where.getX(), depth + 1) ||
           reachesMatMul(where.getY(), depth + 1);
  return false;
}

/// What lies between Q·Kᵀ and the softmax.
struct ScoresChain {
  MatMulOp qk;
  double scale = 1.0;           // every constant scale on the scores
  double scaleAfterMasks = 1.0; // the part applied after the first mask
  bool causal = false;
  SmallVector<Value> additive;                    // additive masks
  SmallVector<std::pair<Value, bool>> conditions; // (cond, true means attend)
  SmallVector<Operation *> ops; // Q·Kᵀ and every op above it to the softmax
};

/// Walks from the softmax input down to Q·Kᵀ through constant scalar scales,
/// additive masks and where-masks; every value on the way must have one user.
LogicalResult parseScores(Value input, bool detectCausal, Operation *anchor,
                          PatternRewriter &rewriter, ScoresChain &chain) {
  Value current = input;
  bool sawMask = false;
  for (int step = 0; step < 16; ++step) {
    Operation *op = current.getDefiningOp();
    if (!op)
      return fail(rewriter, anchor,
                  "the scores are a block argument, not Q·Kᵀ");
    if (!current.hasOneUse())
      return fail(rewriter, anchor,
                  "the result of " + op->getName().getStringRef() +
                      " between Q·Kᵀ and softmax has other users");
    chain.ops.push_back(op);
    if (auto qk = dyn_cast<MatMulOp>(op)) {
      chain.qk = qk;
      if (!sawMask || chain.scaleAfterMasks == 1.0)
        return success();
      if (!chain.additive.empty())
        return fail(rewriter, anchor,
                    "a scale is applied after an additive mask");
      if (chain.scaleAfterMasks < 0)
        return fail(rewriter, anchor,
                    "a negative scale is applied after a boolean mask");
      return success();
    }
    if (isa<MulOp, DivOp>(op)) {
      auto scalar = getScalarOperand(op);
      if (!scalar || (isa<DivOp>(op) && scalar->constantIsLhs))
        return fail(rewriter, anchor,
                    op->getName().getStringRef() +
                        " on the scores is not by a constant scalar");
      if (scalar->scalar == 0)
        return fail(rewriter, anchor, "the scores are scaled by zero");
      double factor = isa<DivOp>(op) ? 1.0 / scalar->scalar : scalar->scalar;
      chain.scale *= factor;
      if (!sawMask)
        chain.scaleAfterMasks *= factor;
      current = scalar->other;
      continue;
    }
    if (isa<AddOp>(op)) {
      Value lhs = op->getOperand(0), rhs = op->getOperand(1);
      bool l = reachesMatMul(lhs), r = reachesMatMul(rhs);
      if (l == r)
        return fail(rewriter, anchor,
                    "cannot tell the scores from the mask in an add");
      Value scores = l ? lhs : rhs, mask = l ? rhs : lhs;
      if (getRank(mask) > getRank(scores) ||
          getElementTypeOrSelf(mask.getType()) !=
              getElementTypeOrSelf(scores.getType()))
        return fail(rewriter, anchor,
                    "the additive mask has a higher rank or another type");
      if (detectCausal && attention::isCausalAdditiveMask(mask, scores))
        chain.causal = true;
      else
        chain.additive.push_back(mask);
      sawMask = true;
      current = scores;
      continue;
    }
    if (auto where = dyn_cast<WhereOp>(op)) {
      auto fx = getScalarConstant(where.getX());
      auto fy = getScalarConstant(where.getY());
      bool xFill = fx && *fx <= kMaskedFill, yFill = fy && *fy <= kMaskedFill;
      if (xFill == yFill)
        return fail(rewriter, anchor,
                    "where is not a mask: not exactly one of its values is a "
                    "constant <= -1e4");
      Value scores = xFill ? where.getY() : where.getX();
      Value cond = where.getCondition();
      if (getRank(cond) > getRank(scores) ||
          getRank(where.getOutput()) != getRank(scores))
        return fail(rewriter, anchor, "the where mask has a higher rank");
      if (detectCausal && attention::isCausalCondition(cond, yFill, scores))
        chain.causal = true;
      else
        chain.conditions.push_back({cond, yFill});
      sawMask = true;
      current = scores;
      continue;
    }
    return fail(rewriter, anchor,
                "unexpected " + op->getName().getStringRef() +
                    " between Q·Kᵀ and softmax");
  }
  return fail(rewriter, anchor, "too many ops between Q·Kᵀ and softmax");
}

/// A boolean mask where true means "attend", from a where condition.
Value allowedMask(PatternRewriter &rewriter, Location loc, Value cond,
                  bool condIsAllowed) {
  if (condIsAllowed)
    return cond;
  if (auto notOp = cond.getDefiningOp<NotOp>())
    return notOp.getInput();
  if (auto equal = cond.getDefiningOp<EqualOp>()) {
    auto scalar = getScalarOperand(equal);
    if (scalar && scalar->scalar == 0 &&
        getElementTypeOrSelf(scalar->other.getType()).isInteger(1) &&
        scalar->other.getType() == cond.getType())
      return scalar->other; // equal(m, false) masks: m itself attends
  }
  return NotOp::create(rewriter, loc, cond.getType(), cond);
}

/// True when the batch dims (all but the last two) of `values` agree without
/// broadcasting: equal where static, and no static 1 against another size.
bool sameBatchDims(ArrayRef<Value> values) {
  int64_t rank = getRank(values.front());
  for (int64_t i = 0; i < rank - 2; ++i) {
    std::optional<int64_t> known;
    bool sawOne = false, sawOther = false;
    for (Value v : values) {
      int64_t d = getDim(v, i);
      (d == 1 ? sawOne : sawOther) = true;
      if (ShapedType::isDynamic(d))
        continue;
      if (known && *known != d)
        return false;
      known = d;
    }
    if (sawOne && sawOther)
      return false;
  }
  return true;
}

RankedTensorType withLeadingOne(Type type) {
  auto ranked = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape{1};
  llvm::append_range(shape, ranked.getShape());
  return RankedTensorType::get(shape, ranked.getElementType());
}

/// matmul(softmax(masks(scale · matmul(Q, Kᵀ)), axis = -1), V) with Q, K, V
/// of rank 4 [B,H,S,D] (or 3 [B·H,S,D]), scales on the scores, Q or K,
/// additive/where/causal masks  ->  kiln.attention {layout = "bhsd"}.
struct FuseAttentionChain : OpRewritePattern<MatMulOp> {
  FuseAttentionChain(MLIRContext *ctx, bool detectCausal)
      : OpRewritePattern<MatMulOp>(ctx), detectCausal(detectCausal) {}

  LogicalResult matchAndRewrite(MatMulOp pv,
                                PatternRewriter &rewriter) const override {
    auto softmax = pv.getA().getDefiningOp<SoftmaxOp>();
    if (!softmax)
      return notCandidate(rewriter, pv, "lhs is not a softmax");
    int64_t rank = getRank(softmax.getOutput());
    if (normalizeAxis(softmax.getAxis(), rank) != rank - 1)
      return fail(rewriter, pv,
                  "softmax is over axis " + Twine(softmax.getAxis()) +
                      ", not the last");
    if (!softmax->hasOneUse())
      return fail(rewriter, pv, "the softmax has other users");
    if (rank != 3 && rank != 4)
      return fail(rewriter, pv,
                  "scores of rank " + Twine(rank) + ", expected 3 or 4");
    ScoresChain chain;
    if (failed(
            parseScores(softmax.getInput(), detectCausal, pv, rewriter, chain)))
      return failure();
    if (!chain.additive.empty() && !chain.conditions.empty())
      return fail(rewriter, pv, "has both a boolean and an additive mask");

    Value v = pv.getB();
    Value qOperand = chain.qk.getA(), kOperand = chain.qk.getB();
    if (getRank(qOperand) != rank || getRank(kOperand) != rank ||
        getRank(v) != rank || getRank(pv.getOutput()) != rank)
      return fail(rewriter, pv, "Q, Kᵀ and V do not all have the scores' rank");
    if (!sameBatchDims({qOperand, kOperand, v}))
      return fail(rewriter, pv, "Q, K and V broadcast over batch or head dims");

    PeeledOperand q = peelScaleAndTranspose(qOperand);
    PeeledOperand k = peelScaleAndTranspose(kOperand);
    double scale = chain.scale * q.scale * k.scale;

    SmallVector<Operation *> absorbed = chain.ops;
    absorbed.append({softmax, pv});
    Location loc = absorbedLoc(AttentionOp::getOperationName(), absorbed);
    Value qValue =
        q.scaled ? transposeOf(rewriter, loc, q.base, q.perm) : qOperand;
    // kOperand is Kᵀ = transpose(base, k.perm); K = transpose(base, kPerm).
    SmallVector<int64_t> swapLast = identityPerm(rank);
    std::swap(swapLast[rank - 1], swapLast[rank - 2]);
    SmallVector<int64_t> kPerm = composePerms(k.perm, swapLast);
    Value kValue;
    bool kTransposed = false;
    if (isIdentityPerm(k.perm)) {
      kValue = k.base;
      kTransposed = true;
    } else {
      kValue = transposeOf(rewriter, loc, k.base, kPerm);
    }

    Value mask;
    for (Value m : chain.additive)
      mask = !mask ? m
                   : AddOp::create(rewriter, loc,
                                   broadcastType(mask.getType(), m.getType(),
                                                 getElementTypeOrSelf(m)),
                                   mask, m)
                         .getResult();
    for (auto [cond, condIsAllowed] : chain.conditions) {
      Value allowed = allowedMask(rewriter, loc, cond, condIsAllowed);
      mask =
          !mask ? allowed
                : AndOp::create(rewriter, loc,
                                broadcastType(mask.getType(), allowed.getType(),
                                              rewriter.getI1Type()),
                                mask, allowed)
                      .getResult();
    }

    Type outType = pv.getType();
    if (rank == 3) {
      auto unsqueeze = [&](Value x) -> Value {
        return UnsqueezeOp::create(rewriter, loc, withLeadingOne(x.getType()),
                                   x, ArrayRef<int64_t>{0});
      };
      qValue = unsqueeze(qValue);
      kValue = unsqueeze(kValue);
      v = unsqueeze(v);
      outType = withLeadingOne(outType);
    }
    int64_t heads = getDim(qValue, 1);
    if (ShapedType::isDynamic(heads))
      heads = 1;
    LLVM_DEBUG(llvm::dbgs()
               << DEBUG_TYPE << ": fusing attention at " << loc << " (scale "
               << scale << ", causal " << chain.causal << ", mask "
               << bool(mask) << ")\n");
    auto fused = AttentionOp::create(rewriter, loc, outType, qValue, kValue, v,
                                     mask, APFloat(float(scale)), heads,
                                     chain.causal, kTransposed, "bhsd");
    (void)inferAndSetResultTypes(fused);
    Value result = fused.getOutput();
    if (rank == 3)
      result = SqueezeOp::create(rewriter, loc, pv.getType(), result,
                                 ArrayRef<int64_t>{0});
    rewriter.replaceOp(pv, result);
    return success();
  }

  bool detectCausal;
};

struct FuseAttentionPass
    : kiln::impl::FuseAttentionPassBase<FuseAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(runCountedFusion<AttentionOp>(
            getOperation(), getArgument(), report,
            {{&numAttention, "attention", {}},
             {&numHeadLayout, "bsd-layout",
              [](AttentionOp op) { return op.getLayout() == "bsd"; }},
             {&numCausal, "causal",
              [](AttentionOp op) { return op.getCausal(); }},
             {&numMasked, "masked",
              [](AttentionOp op) { return bool(op.getMask()); }}},
            [&](RewritePatternSet &p) {
              populateFuseAttentionPatterns(p, foldHeadLayout, detectCausal);
            })))
      signalPassFailure();
  }
};

} // namespace

void kiln::populateFuseAttentionPatterns(RewritePatternSet &patterns,
                                         bool foldHeadLayout,
                                         bool detectCausal) {
  patterns.add<FuseAttentionChain>(patterns.getContext(), detectCausal);
  if (foldHeadLayout)
    attention::populateHeadLayoutPatterns(patterns);
}

// fuse-skip-layer-norm: rewrites a residual add (+ a bias add) feeding a
// kiln.layer_norm into kiln.skip_layer_norm, returning the sum when it is
// reused.
#include "MatchUtils.h"
#include "kiln/Passes/Passes.h"

#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "fuse-skip-layer-norm"

namespace kiln {
#define GEN_PASS_DEF_FUSESKIPLAYERNORMPASS
#include "kiln/Passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;
using namespace kiln::match;

namespace {

LogicalResult fail(PatternRewriter &rewriter, Operation *op, const Twine &why) {
  return notFused(rewriter, op, DEBUG_TYPE, why);
}

/// True when `a` and `b` have the same shape as far as types tell, with no
/// dim of 1 against another size (no broadcasting).
bool sameShapeNoBroadcast(Value a, Value b) {
  int64_t rank = getRank(a);
  if (rank < 0 || rank != getRank(b))
    return false;
  for (int64_t i = 0; i < rank; ++i) {
    int64_t da = getDim(a, i), db = getDim(b, i);
    if (!ShapedType::isDynamic(da) && !ShapedType::isDynamic(db) && da != db)
      return false;
    if ((da == 1) != (db == 1))
      return false;
  }
  return true;
}

/// layer_norm(add(a, b)), layer_norm(add(add(a, c), b)) or
/// layer_norm(add(add(a, b), c)) with c a constant 1-D bias over the last dim
///   -> skip_layer_norm(a, b, γ, β, bias c); when the sum has other users,
/// the fused op returns it as well and they use it.
struct FuseSkipLayerNorm : OpRewritePattern<LayerNormOp> {
  FuseSkipLayerNorm(MLIRContext *ctx, bool fuseBias)
      : OpRewritePattern<LayerNormOp>(ctx), fuseBias(fuseBias) {}

  LogicalResult matchAndRewrite(LayerNormOp ln,
                                PatternRewriter &rewriter) const override {
    auto sumAdd = ln.getInput().getDefiningOp<AddOp>();
    if (!sumAdd)
      return notCandidate(rewriter, ln, "input is not an add");
    Value sum = sumAdd.getOutput();
    int64_t rank = getRank(sum), lastDim = getDim(sum, -1);
    auto isBias = [&](Value v) {
      return fuseBias && getConstantValue(v) && getRank(v) <= rank &&
             isChannelVector(v, lastDim);
    };
    Value a = sumAdd.getLhs(), b = sumAdd.getRhs(), bias;
    Operation *biasAdd = nullptr;
    if (isBias(a) || isBias(b)) {
      // add(add(a, b), c): the bias comes after the residual add.
      bias = isBias(b) ? b : a;
      auto inner = (bias == b ? a : b).getDefiningOp<AddOp>();
      if (!inner || !inner->hasOneUse())
        return fail(rewriter, ln, "the add is a bias add, not a residual add");
      a = inner.getLhs();
      b = inner.getRhs();
      biasAdd = inner;
    } else if (fuseBias) {
      // add(add(a, c), b): the bias is added to one side first.
      for (Value *side : {&a, &b}) {
        auto inner = side->getDefiningOp<AddOp>();
        if (!inner || !inner->hasOneUse())
          continue;
        if (isBias(inner.getRhs()) || isBias(inner.getLhs())) {
          bias = isBias(inner.getRhs()) ? inner.getRhs() : inner.getLhs();
          *side = bias == inner.getRhs() ? inner.getLhs() : inner.getRhs();
          biasAdd = inner;
          break;
        }
      }
    }
    if (!sameShapeNoBroadcast(a, b) || getRank(a) != getRank(sum))
      return fail(rewriter, ln,
                  "the residual add broadcasts (its operands' shapes differ)");
    if (getElementTypeOrSelf(a) != getElementTypeOrSelf(sum) ||
        getElementTypeOrSelf(b) != getElementTypeOrSelf(sum))
      return fail(rewriter, ln, "the residual add mixes element types");

    SmallVector<Operation *> otherUsers;
    for (Operation *user : sum.getUsers())
      if (user != ln)
        otherUsers.push_back(user);
    bool needSum = !otherUsers.empty();

    // With the sum returned, the op must sit where the sum was computed (its
    // other users may come before the layer norm), after γ and β.
    Operation *after = sumAdd;
    if (needSum) {
      Block *block = sumAdd->getBlock();
      for (Value v : {ln.getGamma(), ln.getBeta()}) {
        Operation *def = v ? v.getDefiningOp() : nullptr;
        if (!def)
          continue;
        if (def->getBlock() != block)
          return fail(rewriter, ln, "γ/β are defined in another block");
        if (after->isBeforeInBlock(def))
          after = def;
      }
      for (Operation *user : otherUsers)
        if (user->getBlock() != block || !after->isBeforeInBlock(user))
          return fail(rewriter, ln, "the sum is used before γ/β are defined");
    }

    LLVM_DEBUG(llvm::dbgs() << DEBUG_TYPE << ": fusing skip_layer_norm at "
                            << ln.getLoc() << (needSum ? " (with sum)" : "")
                            << (bias ? " (with bias)" : "") << "\n");
    OpBuilder::InsertionGuard guard(rewriter);
    if (needSum)
      rewriter.setInsertionPointAfter(after);
    Value biasVector =
        bias ? makeChannelVector(rewriter, sumAdd.getLoc(), bias) : Value();
    SmallVector<Operation *> absorbed{sumAdd, ln};
    if (biasAdd)
      absorbed.push_back(biasAdd);
    auto fused = SkipLayerNormOp::create(
        rewriter, absorbedLoc(SkipLayerNormOp::getOperationName(), absorbed),
        ln.getType(), needSum ? sum.getType() : Type(), a, b, ln.getGamma(),
        ln.getBeta(), biasVector, ln.getEpsilon(), ln.getRms());
    (void)inferAndSetResultTypes(fused);
    rewriter.replaceOp(ln, fused.getOutput());
    if (needSum)
      rewriter.replaceAllUsesWith(sum, fused.getSum());
    rewriter.eraseOp(sumAdd);
    if (biasAdd)
      rewriter.eraseOp(biasAdd);
    return success();
  }

  bool fuseBias;
};

struct FuseSkipLayerNormPass
    : kiln::impl::FuseSkipLayerNormPassBase<FuseSkipLayerNormPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(runCountedFusion<SkipLayerNormOp>(
            getOperation(), getArgument(), report,
            {{&numSkipLayerNorm, "skip_layer_norm", {}},
             {&numWithSum, "with sum",
              [](SkipLayerNormOp op) { return bool(op.getSum()); }},
             {&numWithBias, "with bias",
              [](SkipLayerNormOp op) { return bool(op.getBias()); }}},
            [&](RewritePatternSet &p) {
              populateFuseSkipLayerNormPatterns(p, fuseBias);
            })))
      signalPassFailure();
  }
};

} // namespace

void kiln::populateFuseSkipLayerNormPatterns(RewritePatternSet &patterns,
                                             bool fuseBias) {
  patterns.add<FuseSkipLayerNorm>(patterns.getContext(), fuseBias);
}

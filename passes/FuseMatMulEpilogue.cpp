// fuse-matmul-epilogue: rewrites matmul/gemm with a constant 2-D weight, a bias
// add and an activation into kiln.fused_matmul (constant weight transposes
// folded).
#include "MatchUtils.h"
#include "kiln/Passes/Passes.h"

#define DEBUG_TYPE "fuse-matmul-epilogue"

namespace kiln {
#define GEN_PASS_DEF_FUSEMATMULEPILOGUEPASS
#include "kiln/Passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;
using namespace kiln::match;

namespace {

LogicalResult fail(PatternRewriter &rewriter, Operation *op, const Twine &why) {
  return notFused(rewriter, op, DEBUG_TYPE, why);
}

/// A constant 2-D weight, or a transpose [1, 0] of one (then `transposed`).
struct Weight {
  Value value;
  bool transposed = false;
};

std::optional<Weight> matchConstantWeight(Value b) {
  if (getConstantValue(b) && getRank(b) == 2)
    return Weight{b, false};
  auto transpose = b.getDefiningOp<TransposeOp>();
  if (transpose && getConstantValue(transpose.getInput()) && getRank(b) == 2 &&
      transpose.getPerm() == ArrayRef<int64_t>{1, 0})
    return Weight{transpose.getInput(), true};
  return std::nullopt;
}

/// The activation name fused_matmul uses for `op`, or "" when it is not one.
StringRef activationName(Operation *op) {
  if (auto gelu = dyn_cast<GeluOp>(op))
    return gelu.getApproximate() == "tanh"   ? "gelu_tanh"
           : gelu.getApproximate() == "none" ? "gelu"
                                             : "";
  if (isa<ReluOp>(op))
    return "relu";
  if (isa<TanhOp>(op))
    return "tanh";
  return "";
}

/// True when `v` is a constant bias over the last dim of `result`.
bool isBias(Value v, Value result) {
  return getConstantValue(v) && getRank(v) <= getRank(result) &&
         isChannelVector(v, getDim(result, -1));
}

/// matmul(a, W) with W a constant [K, N] (or transpose(constant [N, K]))
/// whose result gets a bias add or an activation, or whose weight is
/// transposed  ->  fused_matmul(a, W) {trans_b}; later patterns take the
/// epilogue.
struct FuseConstantWeightMatMul : OpRewritePattern<MatMulOp> {
  FuseConstantWeightMatMul(MLIRContext *ctx, bool fuseActivation)
      : OpRewritePattern<MatMulOp>(ctx), fuseActivation(fuseActivation) {}

  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &rewriter) const override {
    auto weight = matchConstantWeight(op.getB());
    if (!weight)
      return notCandidate(rewriter, op, "b is not a constant 2-D weight");
    if (getRank(op.getA()) < 2)
      return fail(rewriter, op, "a is not at least 2-D");
    bool epilogue = false;
    if (op->hasOneUse()) {
      Operation *user = *op->getUsers().begin();
      if (auto add = dyn_cast<AddOp>(user))
        epilogue =
            isBias(add.getLhs() == op.getOutput() ? add.getRhs() : add.getLhs(),
                   op.getOutput());
      else
        epilogue = fuseActivation && !activationName(user).empty();
    }
    if (!epilogue && !weight->transposed)
      return notCandidate(
          rewriter, op, "no bias add, activation or weight transpose to fuse");
    replaceOpWithFused<FusedMatMulOp>(rewriter, op, op.getType(), op.getA(),
                                      weight->value, /*bias=*/Value(), "none",
                                      weight->transposed, APFloat(1.0f));
    return success();
  }

  bool fuseActivation;
};

/// gemm(a, W, c) {alpha, beta, trans_b} with W constant (or a transpose of a
/// constant), no trans_a, c absent or a 1-D bias   ->  fused_matmul.
struct FuseGemm : OpRewritePattern<GemmOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GemmOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getTransA())
      return fail(rewriter, op, "trans_a is set");
    auto weight = matchConstantWeight(op.getB());
    if (!weight)
      return fail(rewriter, op, "b is not a constant 2-D weight");
    Value c = op.getC();
    if (c && !isBias(c, op.getOutput()))
      return fail(rewriter, op, "c is not a bias over the last dim");
    Location loc = op.getLoc();
    Value bias;
    if (c) {
      bias = makeChannelVector(rewriter, loc, c);
      float beta = op.getBeta().convertToFloat();
      if (beta != 1.0f) {
        auto scalarType = RankedTensorType::get({}, getElementTypeOrSelf(c));
        Value betaValue = ConstantOp::create(
            rewriter, loc, scalarType,
            DenseElementsAttr::get(
                scalarType,
                rewriter.getFloatAttr(scalarType.getElementType(), beta)));
        bias = MulOp::create(rewriter, loc, bias.getType(), bias, betaValue);
      }
    }
    bool transB = op.getTransB() != weight->transposed;
    replaceOpWithFused<FusedMatMulOp>(rewriter, op, op.getType(), op.getA(),
                                      weight->value, bias, "none", transB,
                                      op.getAlpha());
    return success();
  }
};

/// add(fused_matmul(a, W) {no bias, no activation}, bias) with a constant
/// bias over the last dim   ->  fused_matmul(a, W, bias).
struct FoldBiasIntoFusedMatMul : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AddOp add,
                                PatternRewriter &rewriter) const override {
    for (int side = 0; side < 2; ++side) {
      auto mm = add->getOperand(side).getDefiningOp<FusedMatMulOp>();
      Value bias = add->getOperand(1 - side);
      if (!mm)
        continue;
      if (mm.getBias() || mm.getActivation() != "none")
        return fail(rewriter, add, "the fused matmul already has an epilogue");
      if (!mm->hasOneUse())
        return fail(rewriter, add, "the matmul result has other users");
      if (!isBias(bias, mm.getOutput()))
        return fail(rewriter, add, "the add is not of a constant 1-D bias");
      if (add.getType() != mm.getType())
        return fail(rewriter, add, "the bias add changes the shape");
      Value vector = makeChannelVector(rewriter, add.getLoc(), bias);
      replaceOpsWithFused<FusedMatMulOp>(
          rewriter, add, {mm, add}, add.getType(), mm.getA(), mm.getB(), vector,
          "none", mm.getTransB(), mm.getAlpha());
      return success();
    }
    return notCandidate(rewriter, add, "no fused matmul operand");
  }
};

/// gelu | relu | tanh (fused_matmul(...) {no activation})
///   -> fused_matmul(...) {activation}.
template <typename ActivationOp>
struct FoldActivationIntoFusedMatMul : OpRewritePattern<ActivationOp> {
  using OpRewritePattern<ActivationOp>::OpRewritePattern;

  LogicalResult matchAndRewrite(ActivationOp op,
                                PatternRewriter &rewriter) const override {
    StringRef activation = activationName(op);
    if (activation.empty())
      return fail(rewriter, op, "not an activation fused_matmul supports");
    auto mm = op.getInput().template getDefiningOp<FusedMatMulOp>();
    if (!mm)
      return notCandidate(rewriter, op, "input is not a fused matmul");
    if (mm.getActivation() != "none")
      return fail(rewriter, op, "the fused matmul already has an activation");
    if (!mm->hasOneUse())
      return fail(rewriter, op, "the matmul result has other users");
    if (op.getType() != mm.getType())
      return fail(rewriter, op, "the activation changes the type");
    replaceOpsWithFused<FusedMatMulOp>(rewriter, op, {mm, op}, mm.getType(),
                                       mm.getA(), mm.getB(), mm.getBias(),
                                       activation, mm.getTransB(),
                                       mm.getAlpha());
    return success();
  }
};

struct FuseMatMulEpiloguePass
    : kiln::impl::FuseMatMulEpiloguePassBase<FuseMatMulEpiloguePass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(runCountedFusion<FusedMatMulOp>(
            getOperation(), getArgument(), report,
            {{&numFusedMatMul, "matmul", {}},
             {&numWithActivation, "with activation",
              [](FusedMatMulOp op) { return op.getActivation() != "none"; }},
             {&numTransB, "trans_b",
              [](FusedMatMulOp op) { return op.getTransB(); }}},
            [&](RewritePatternSet &p) {
              populateFuseMatMulEpiloguePatterns(p, fuseActivation);
            })))
      signalPassFailure();
  }
};

} // namespace

void kiln::populateFuseMatMulEpiloguePatterns(RewritePatternSet &patterns,
                                              bool fuseActivation) {
  MLIRContext *ctx = patterns.getContext();
  patterns.add<FuseConstantWeightMatMul>(ctx, fuseActivation);
  patterns.add<FuseGemm, FoldBiasIntoFusedMatMul>(ctx);
  if (fuseActivation)
    patterns.add<FoldActivationIntoFusedMatMul<GeluOp>,
                 FoldActivationIntoFusedMatMul<ReluOp>,
                 FoldActivationIntoFusedMatMul<TanhOp>>(ctx);
}

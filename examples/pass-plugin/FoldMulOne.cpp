// kiln-fold-mul-one: x·1, 1·x and x/1 become x. Exporters leave these behind
// (a scale of 1.0, an unused normalisation), and each costs a full pass over
// the tensor at run time. Multiplying or dividing by one is exact in IEEE
// floats and integers, so the rewrite never changes a result; it is skipped
// when the one would broadcast x to a bigger shape or another element type.
#include "Passes.h"

#include "kiln/IR/KilnDialect.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace {

/// True when `v` is a kiln.constant whose every element is one (a splat;
/// kiln.constant is ConstantLike, so MLIR's constant matchers see it).
bool isOne(Value v) {
  return matchPattern(v, m_OneFloat()) || matchPattern(v, m_One());
}

/// Replaces `op` by `x` when x·one (or x/one) is x itself: `one` is all ones
/// and the result has exactly x's type (no broadcast to a bigger shape).
LogicalResult foldToOperand(Operation *op, Value x, Value one,
                            PatternRewriter &rewriter) {
  if (!isOne(one))
    return rewriter.notifyMatchFailure(op, "other operand is not all ones");
  if (x.getType() != op->getResult(0).getType())
    return rewriter.notifyMatchFailure(op, "the one broadcasts x");
  rewriter.replaceOp(op, x);
  return success();
}

struct FoldMulByOne : OpRewritePattern<kiln::MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(kiln::MulOp op,
                                PatternRewriter &rewriter) const override {
    if (succeeded(foldToOperand(op, op.getLhs(), op.getRhs(), rewriter)))
      return success();
    return foldToOperand(op, op.getRhs(), op.getLhs(), rewriter);
  }
};

struct FoldDivByOne : OpRewritePattern<kiln::DivOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(kiln::DivOp op,
                                PatternRewriter &rewriter) const override {
    return foldToOperand(op, op.getLhs(), op.getRhs(), rewriter); // not 1/x
  }
};

struct FoldMulOnePass
    : public PassWrapper<FoldMulOnePass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FoldMulOnePass)

  StringRef getName() const final { return "FoldMulOnePass"; }
  StringRef getArgument() const final { return "kiln-fold-mul-one"; }
  StringRef getDescription() const final {
    return "Fold x*1, 1*x and x/1 (no broadcast) into x";
  }

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldMulByOne, FoldDivByOne>(&getContext());
    // These rewrites only (the driver still erases ops left without users,
    // such as the ones): no folding of other ops, so the pass does just that.
    GreedyRewriteConfig config;
    config.enableFolding(false);
    config.setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
    if (failed(
            applyPatternsGreedily(getOperation(), std::move(patterns), config)))
      signalPassFailure();
  }
};

} // namespace

std::unique_ptr<Pass> kiln_example::createFoldMulOnePass() {
  return std::make_unique<FoldMulOnePass>();
}

void kiln_example::registerFoldMulOnePass() {
  PassRegistration<FoldMulOnePass>();
}

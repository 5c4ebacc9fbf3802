// fuse-layer-norm: rewrites kiln.layer_normalization over the last axis and
// decomposed LayerNorm / RMSNorm graphs into kiln.layer_norm.
#include "MatchUtils.h"
#include "kiln/Passes/Passes.h"

#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "fuse-layer-norm"

namespace kiln {
#define GEN_PASS_DEF_FUSELAYERNORMPASS
#include "kiln/Passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;
using namespace kiln::match;

namespace {

LogicalResult fail(PatternRewriter &rewriter, Operation *op, const Twine &why) {
  return notFused(rewriter, op, DEBUG_TYPE, why);
}

/// reduce_mean(x, axes = [last], keepdims = true): returns x. `why` explains
/// a mismatch.
Value matchLastAxisMean(Value v, std::string &why) {
  auto mean = v.getDefiningOp<ReduceMeanOp>();
  if (!mean) {
    why = "expected a reduce_mean";
    return {};
  }
  int64_t rank = getRank(mean.getInput());
  ArrayRef<int64_t> axes = mean.getAxes();
  if (axes.size() != 1 || normalizeAxis(axes[0], rank) != rank - 1) {
    why = "reduce_mean is not over the last axis only";
    return {};
  }
  if (!mean.getKeepdims()) {
    why = "reduce_mean does not keep dims";
    return {};
  }
  return mean.getInput();
}

/// A matched normalization x̂ = (x - μ)/√(σ² + ε) or, with `rms`, x/√(mean(x²) +
/// ε).
struct NormMatch {
  Value input;
  double epsilon = 0.0;
  bool rms = false;
  bool candidate = false; // a (1/)sqrt denominator was found: a near miss
  SmallVector<Operation *> internal; // ops replaced by the fused op
};

/// Matches the denominator: √(var + ε) (or `1/√(var + ε)` when `inverse`:
/// reciprocal(sqrt), div(1, sqrt) or pow(var + ε, -0.5)); returns var.
Value matchStd(Value v, bool inverse, NormMatch &m, std::string &why) {
  Value radicand;
  if (inverse) {
    Operation *op = v.getDefiningOp();
    if (auto pow = dyn_cast_or_null<PowOp>(op)) {
      auto exponent = getScalarConstant(pow.getRhs());
      if (!exponent || *exponent != -0.5) {
        why = "pow is not by -0.5";
        return {};
      }
      m.internal.push_back(pow);
      m.candidate = true;
      radicand = pow.getLhs();
    } else {
      Value sqrtValue;
      if (auto recip = dyn_cast_or_null<ReciprocalOp>(op)) {
        sqrtValue = recip.getInput();
      } else if (auto div = dyn_cast_or_null<DivOp>(op)) {
        auto one = getScalarConstant(div.getLhs());
        if (!one || *one != 1.0) {
          why = "not a reciprocal";
          return {};
        }
        sqrtValue = div.getRhs();
      } else {
        why = "no reciprocal of a square root";
        return {};
      }
      m.internal.push_back(op);
      v = sqrtValue;
      inverse = false;
    }
  }
  if (!inverse) {
    auto sqrt = v.getDefiningOp<SqrtOp>();
    if (!sqrt) {
      why = "no square root";
      return {};
    }
    m.internal.push_back(sqrt);
    m.candidate = true;
    radicand = sqrt.getInput();
  }
  // radicand = var + ε (or var alone, ε = 0).
  if (auto add = radicand.getDefiningOp<AddOp>()) {
    auto eps = getScalarOperand(add);
    if (!eps || eps->scalar < 0) {
      why = "ε is not a non-negative constant scalar";
      return {};
    }
    m.epsilon = eps->scalar;
    m.internal.push_back(add);
    return eps->other;
  }
  return radicand;
}

/// Matches var = mean(y²) over the last axis (y² as pow(y, 2) or y·y);
/// returns y.
Value matchSquareMean(Value var, NormMatch &m, std::string &why) {
  Value squared = matchLastAxisMean(var, why);
  if (!squared)
    return {};
  m.internal.push_back(var.getDefiningOp());
  Operation *op = squared.getDefiningOp();
  if (auto pow = dyn_cast_or_null<PowOp>(op)) {
    auto exponent = getScalarConstant(pow.getRhs());
    if (!exponent || *exponent != 2.0) {
      why = "the variance's pow is not by 2";
      return {};
    }
    m.internal.push_back(pow);
    return pow.getLhs();
  }
  if (auto mul = dyn_cast_or_null<MulOp>(op)) {
    if (!isSameValue(mul.getLhs(), mul.getRhs())) {
      why = "the variance's mul is not a square";
      return {};
    }
    m.internal.push_back(mul);
    return mul.getLhs();
  }
  why = "the variance is not a mean of squares";
  return {};
}

/// num / √(mean(y²) + ε) (or num · 1/√(...) when `inverse`) where either
/// num = y = x - mean(x) (the sub may be duplicated) or, for RMSNorm, num = y =
/// x.
LogicalResult matchNormalization(Value num, Value den, bool inverse,
                                 NormMatch &m, std::string &why) {
  Value var = matchStd(den, inverse, m, why);
  if (!var)
    return failure();
  Value y = matchSquareMean(var, m, why);
  if (!y)
    return failure();
  if (!isSameValue(y, num)) {
    why = "the variance is not computed from the numerator";
    return failure();
  }
  std::string meanWhy;
  auto sub = num.getDefiningOp<SubOp>();
  Value centered = sub ? matchLastAxisMean(sub.getRhs(), meanWhy) : Value();
  if (sub && centered && isSameValue(centered, sub.getLhs())) {
    m.input = sub.getLhs();
    m.internal.push_back(sub);
    m.internal.push_back(sub.getRhs().getDefiningOp());
    // The duplicated-sub variant: y is a second, equal sub (with its mean).
    if (y != num) {
      if (auto ySub = y.getDefiningOp<SubOp>()) {
        m.internal.push_back(ySub);
        if (Operation *yMean = ySub.getRhs().getDefiningOp();
            yMean && yMean != sub.getRhs().getDefiningOp())
          m.internal.push_back(yMean);
      }
    }
    return success();
  }
  if (sub && !meanWhy.empty() && meanWhy != "expected a reduce_mean") {
    why = meanWhy; // e.g. the mean is over another axis
    return failure();
  }
  m.input = num;
  m.rms = true;
  return success();
}

/// The single user of `v` when it is an `OpTy` whose other operand is a
/// per-channel vector (γ or β) for last dim `lastDim`; that operand.
template <typename OpTy>
std::pair<OpTy, Value> matchChannelOp(Value v, int64_t lastDim, int64_t rank) {
  if (!v.hasOneUse())
    return {};
  auto op = dyn_cast<OpTy>(*v.getUsers().begin());
  if (!op)
    return {};
  Value other = op->getOperand(0) == v ? op->getOperand(1) : op->getOperand(0);
  if (other == v || !isChannelVector(other, lastDim) || getRank(other) > rank ||
      getElementTypeOrSelf(other) != getElementTypeOrSelf(v))
    return {};
  return {op, other};
}

/// Replaces the normalization `root` (and a following · γ and + β over the
/// last dim, when present) with kiln.layer_norm.
LogicalResult rewriteNormalization(Operation *root, NormMatch &m,
                                   PatternRewriter &rewriter) {
  // Every internal op's result must stay inside the match.
  SmallVector<Operation *> inside = m.internal;
  inside.push_back(root);
  for (Operation *op : m.internal)
    for (Value result : op->getResults())
      if (!onlyUsedBy(result, inside))
        return fail(rewriter, root,
                    "intermediate " + op->getName().getStringRef() +
                        " has users outside the normalization");
  // Elementwise with [.., 1] statistics: the shape is the input's; only a
  // rank or element type change would mean a broadcasting constant.
  Value normalized = root->getResult(0);
  if (getRank(normalized) != getRank(m.input) ||
      getElementTypeOrSelf(normalized) != getElementTypeOrSelf(m.input))
    return fail(rewriter, root, "the normalization changes the input's shape");
  int64_t rank = getRank(m.input), lastDim = getDim(m.input, -1);
  Operation *last = root;
  Value gamma, beta;
  if (auto [mul, g] = matchChannelOp<MulOp>(last->getResult(0), lastDim, rank);
      mul) {
    gamma = g;
    last = mul;
    inside.push_back(mul);
  }
  if (auto [add, b] = matchChannelOp<AddOp>(last->getResult(0), lastDim, rank);
      add) {
    beta = b;
    last = add;
    inside.push_back(add);
  }
  Type resultType = last->getResult(0).getType();
  if (getRank(last->getResult(0)) != rank)
    return fail(rewriter, root, "γ or β changes the rank");
  if (!gamma && ShapedType::isDynamic(lastDim))
    return fail(rewriter, root,
                "no γ, and the last dim is dynamic so none can be made");
  Location loc = last->getLoc();
  if (gamma) {
    gamma = makeChannelVector(rewriter, loc, gamma);
  } else {
    auto type = RankedTensorType::get({lastDim}, getElementTypeOrSelf(m.input));
    gamma = ConstantOp::create(
        rewriter, loc, type,
        DenseElementsAttr::get(
            type, rewriter.getFloatAttr(type.getElementType(), 1.0)));
  }
  if (beta)
    beta = makeChannelVector(rewriter, loc, beta);
  LLVM_DEBUG(llvm::dbgs() << DEBUG_TYPE << ": fusing " << (m.rms ? "rms" : "")
                          << "layer_norm at " << loc << " (eps " << m.epsilon
                          << ")\n");
  replaceOpsWithFused<LayerNormOp>(rewriter, last, inside, resultType,
                                   m.input, gamma, beta,
                                   APFloat(float(m.epsilon)), m.rms);
  return success();
}

/// kiln.layer_normalization(x, scale, bias) {axis = last}
///   -> kiln.layer_norm(x, scale, bias).
struct FuseLayerNormalization : OpRewritePattern<LayerNormalizationOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LayerNormalizationOp op,
                                PatternRewriter &rewriter) const override {
    int64_t rank = getRank(op.getInput()), lastDim = getDim(op.getInput(), -1);
    if (normalizeAxis(op.getAxis(), rank) != rank - 1)
      return fail(rewriter, op,
                  "normalizes over dims [" + Twine(op.getAxis()) +
                      ", rank), not the last dim only");
    Value bias = op.getBias();
    if (!isChannelVector(op.getScale(), lastDim) ||
        (bias && !isChannelVector(bias, lastDim)))
      return fail(rewriter, op,
                  "scale or bias is not a vector over the last dim");
    Value gamma = makeChannelVector(rewriter, op.getLoc(), op.getScale());
    if (bias)
      bias = makeChannelVector(rewriter, op.getLoc(), bias);
    replaceOpWithFused<LayerNormOp>(rewriter, op, op.getType(), op.getInput(),
                                    gamma, bias, op.getEpsilon(),
                                    /*rms=*/false);
    return success();
  }
};

/// (x - mean(x)) / sqrt(mean((x - mean(x))²) + ε) [· γ] [+ β]
/// and, with `rms`, x / sqrt(mean(x²) + ε) [· γ]   -> kiln.layer_norm.
struct FuseDivNormalization : OpRewritePattern<DivOp> {
  FuseDivNormalization(MLIRContext *ctx, bool fuseRms)
      : OpRewritePattern<DivOp>(ctx), fuseRms(fuseRms) {}
  LogicalResult matchAndRewrite(DivOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getRhs().getDefiningOp<SqrtOp>())
      return notCandidate(rewriter, op, "not a division by a square root");
    NormMatch m;
    std::string why;
    if (failed(matchNormalization(op.getLhs(), op.getRhs(), /*inverse=*/false,
                                  m, why)))
      return m.candidate ? fail(rewriter, op, why)
                         : notCandidate(rewriter, op, why);
    if (m.rms && !fuseRms)
      return fail(rewriter, op, "RMSNorm fusion is disabled");
    return rewriteNormalization(op, m, rewriter);
  }
  bool fuseRms;
};

/// (x - mean(x)) · 1/sqrt(mean((x - mean(x))²) + ε) [· γ] [+ β], the
/// reciprocal as reciprocal, div(1, ·) or pow(·, -0.5), and the RMSNorm form
/// x · 1/sqrt(mean(x²) + ε) [· γ]   -> kiln.layer_norm.
struct FuseMulNormalization : OpRewritePattern<MulOp> {
  FuseMulNormalization(MLIRContext *ctx, bool fuseRms)
      : OpRewritePattern<MulOp>(ctx), fuseRms(fuseRms) {}
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    std::string why;
    bool candidate = false;
    for (int side = 0; side < 2; ++side) {
      Value inv = op->getOperand(side), num = op->getOperand(1 - side);
      if (!inv.getDefiningOp<ReciprocalOp>() && !inv.getDefiningOp<DivOp>() &&
          !inv.getDefiningOp<PowOp>())
        continue;
      NormMatch m;
      std::string sideWhy;
      if (failed(matchNormalization(num, inv, /*inverse=*/true, m, sideWhy))) {
        if (m.candidate || !candidate)
          why = sideWhy;
        candidate |= m.candidate;
        continue;
      }
      if (m.rms && !fuseRms)
        return fail(rewriter, op, "RMSNorm fusion is disabled");
      return rewriteNormalization(op, m, rewriter);
    }
    if (!candidate)
      return notCandidate(rewriter, op, "not a multiplication by 1/sqrt");
    return fail(rewriter, op, why);
  }
  bool fuseRms;
};

struct FuseLayerNormPass
    : kiln::impl::FuseLayerNormPassBase<FuseLayerNormPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(runCountedFusion<LayerNormOp>(
            getOperation(), getArgument(), report,
            {{&numLayerNorm, "layer_norm", {}},
             {&numRmsNorm, "RMSNorm",
              [](LayerNormOp op) { return op.getRms(); }}},
            [&](RewritePatternSet &p) {
              populateFuseLayerNormPatterns(p, fuseRms);
            })))
      signalPassFailure();
  }
};

} // namespace

void kiln::populateFuseLayerNormPatterns(RewritePatternSet &patterns,
                                         bool fuseRms) {
  patterns.add<FuseLayerNormalization>(patterns.getContext());
  patterns.add<FuseDivNormalization, FuseMulNormalization>(
      patterns.getContext(), fuseRms);
}

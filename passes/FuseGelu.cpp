// fuse-gelu: rewrites the erf and tanh forms of GELU into kiln.gelu. Each side
// of the match is read as a small polynomial in x and the erf/tanh term.
#include "MatchUtils.h"
#include "kiln/Passes/Passes.h"

#include "llvm/Support/Debug.h"

#include <cmath>
#include <map>

#define DEBUG_TYPE "fuse-gelu"

namespace kiln {
#define GEN_PASS_DEF_FUSEGELUPASS
#include "kiln/Passes/Passes.h.inc"
} // namespace kiln

using namespace mlir;
using namespace kiln;
using namespace kiln::match;

namespace {

LogicalResult fail(PatternRewriter &rewriter, Operation *op, const Twine &why) {
  return notFused(rewriter, op, DEBUG_TYPE, why);
}

/// A polynomial in x and t (the erf or tanh term): (power of x, power of t)
/// -> coefficient. Powers are capped; a bigger one makes the value unreadable.
using Poly = std::map<std::pair<int, int>, double>;
constexpr int kMaxXPower = 4, kMaxTPower = 2, kMaxDepth = 16;

std::optional<Poly> mulPoly(const Poly &a, const Poly &b) {
  Poly out;
  for (auto &[ea, ca] : a)
    for (auto &[eb, cb] : b) {
      std::pair<int, int> e{ea.first + eb.first, ea.second + eb.second};
      if (e.first > kMaxXPower || e.second > kMaxTPower)
        return std::nullopt;
      out[e] += ca * cb;
    }
  return out;
}

Poly addPoly(const Poly &a, const Poly &b, double sign) {
  Poly out = a;
  for (auto &[e, c] : b)
    out[e] += sign * c;
  return out;
}

/// Reads `v` as a polynomial in `x` and `t` (t may be null) through add, sub,
/// mul, neg, div by a constant and pow by a small integer constant.
std::optional<Poly> readPoly(Value v, Value x, Value t, int depth = 0) {
  if (v == x)
    return Poly{{{1, 0}, 1.0}};
  if (t && v == t)
    return Poly{{{0, 1}, 1.0}};
  if (auto c = getScalarConstant(v))
    return Poly{{{0, 0}, *c}};
  Operation *op = v.getDefiningOp();
  if (!op || depth > kMaxDepth)
    return std::nullopt;
  auto read = [&](Value operand) { return readPoly(operand, x, t, depth + 1); };
  if (auto neg = dyn_cast<NegOp>(op)) {
    auto p = read(neg.getInput());
    if (!p)
      return std::nullopt;
    return addPoly(Poly{}, *p, -1.0);
  }
  if (!isa<AddOp, SubOp, MulOp, DivOp, PowOp>(op))
    return std::nullopt;
  if (isa<PowOp>(op)) {
    auto exponent = getScalarConstant(op->getOperand(1));
    if (!exponent || *exponent != std::round(*exponent) || *exponent < 1 ||
        *exponent > kMaxXPower)
      return std::nullopt;
    auto base = read(op->getOperand(0));
    if (!base)
      return std::nullopt;
    Poly out = *base;
    for (int i = 1; i < int(*exponent); ++i) {
      auto next = mulPoly(out, *base);
      if (!next)
        return std::nullopt;
      out = *next;
    }
    return out;
  }
  auto lhs = read(op->getOperand(0));
  auto rhs = read(op->getOperand(1));
  if (!lhs || !rhs)
    return std::nullopt;
  if (isa<AddOp>(op))
    return addPoly(*lhs, *rhs, 1.0);
  if (isa<SubOp>(op))
    return addPoly(*lhs, *rhs, -1.0);
  if (isa<MulOp>(op))
    return mulPoly(*lhs, *rhs);
  // Div: only by a constant.
  if (rhs->size() != 1 || !rhs->count({0, 0}) || rhs->at({0, 0}) == 0.0)
    return std::nullopt;
  return addPoly(Poly{}, *lhs, 1.0 / rhs->at({0, 0}));
}

/// True when `p` equals `want` coefficient by coefficient within `tol`.
bool polyNear(const Poly &p, const Poly &want, double tol) {
  for (auto &[e, c] : p) {
    auto it = want.find(e);
    if (!isNear(c, it == want.end() ? 0.0 : it->second, tol))
      return false;
  }
  for (auto &[e, c] : want)
    if (!p.count(e) && !isNear(0.0, c, tol))
      return false;
  return true;
}

std::string describe(const Poly &p) {
  std::string s;
  llvm::raw_string_ostream os(s);
  bool first = true;
  for (auto &[e, c] : p) {
    if (c == 0.0)
      continue;
    os << (first ? "" : " + ") << c;
    if (e.first)
      os << "·x" << (e.first > 1 ? "^" + std::to_string(e.first) : "");
    if (e.second)
      os << "·t" << (e.second > 1 ? "^" + std::to_string(e.second) : "");
    first = false;
  }
  return first ? "0" : s;
}

/// The candidates for x under an erf/tanh argument: non-constant operands of
/// the arithmetic ops in it, nearest first.
SmallVector<Value> candidateInputs(Value arg) {
  SmallVector<Value> out, work{arg};
  for (size_t i = 0; i < work.size() && work.size() < 32; ++i) {
    Operation *op = work[i].getDefiningOp();
    if (!op || !isa<AddOp, SubOp, MulOp, DivOp, PowOp, NegOp>(op))
      continue;
    for (Value operand : op->getOperands()) {
      if (getConstantValue(operand) || llvm::is_contained(work, operand))
        continue;
      work.push_back(operand);
      out.push_back(operand);
    }
  }
  return out;
}

/// The ops of a matched GELU: everything above `root` down to `x` (every
/// path from `root` ends at x or a constant, as the polynomials read it).
SmallVector<Operation *> geluOps(Operation *root, Value x) {
  SmallVector<Operation *> ops, work{root};
  llvm::SmallPtrSet<Operation *, 16> seen{root};
  while (!work.empty() && ops.size() < 64) {
    Operation *op = work.pop_back_val();
    ops.push_back(op);
    for (Value operand : op->getOperands())
      if (Operation *def = operand.getDefiningOp();
          def && operand != x && !isa<ConstantOp>(def) &&
          seen.insert(def).second)
        work.push_back(def);
  }
  return ops;
}

/// Shared matcher: `term` is erf(a·x) or tanh(a·x + b·x³) with the expected
/// argument polynomial `wantArg`; above it, a chain of single-use arithmetic
/// ops whose value is 0.5·x + 0.5·x·term. Replaces that op with kiln.gelu.
LogicalResult matchGelu(Operation *termOp, const Poly &wantArg,
                        StringRef approximate, double tol,
                        PatternRewriter &rewriter) {
  Value term = termOp->getResult(0);
  Value arg = termOp->getOperand(0);
  Value x;
  std::optional<Poly> lastArg;
  for (Value candidate : candidateInputs(arg)) {
    auto p = readPoly(arg, candidate, /*t=*/nullptr);
    if (!p)
      continue;
    lastArg = *p;
    if (polyNear(*p, wantArg, tol)) {
      x = candidate;
      break;
    }
  }
  if (!x && !lastArg)
    return fail(rewriter, termOp,
                "argument is not a polynomial with constant coefficients in "
                "one input");
  if (!x)
    return fail(rewriter, termOp,
                "argument is " + describe(*lastArg) + ", not " +
                    describe(wantArg));

  const Poly wantRoot{{{1, 0}, 0.5}, {{1, 1}, 0.5}};
  Value current = term;
  std::optional<Poly> lastRoot;
  auto incomplete = [&](const Twine &why) {
    return fail(rewriter, termOp,
                why + " before 0.5·x·(1+t) is complete" +
                    (lastRoot ? " (read " + describe(*lastRoot) + ")" : ""));
  };
  for (int step = 0; step < 8; ++step) {
    if (!current.hasOneUse())
      return incomplete("an intermediate value has other users");
    Operation *user = *current.getUsers().begin();
    if (!isa<AddOp, SubOp, MulOp, DivOp, NegOp>(user))
      return incomplete("the term feeds " + user->getName().getStringRef());
    current = user->getResult(0);
    auto p = readPoly(current, x, term);
    if (p)
      lastRoot = *p;
    if (!p || !polyNear(*p, wantRoot, tol))
      continue;
    if (current.getType() != x.getType())
      return fail(rewriter, user,
                  "constants broadcast the result to a "
                  "different shape than the input");
    LLVM_DEBUG(llvm::dbgs() << DEBUG_TYPE << ": fusing gelu(" << approximate
                            << ") at " << user->getLoc() << "\n");
    replaceOpsWithFused<GeluOp>(rewriter, user, geluOps(user, x),
                                current.getType(), x,
                                rewriter.getStringAttr(approximate));
    return success();
  }
  return fail(rewriter, termOp, "no 0.5·x·(1+t) found above the term");
}

/// x·0.5·(1 + erf(x/√2)) in any multiplication order, with x/√2 as a div by
/// √2 or a mul by 1/√2  ->  kiln.gelu {approximate = "none"}.
struct FuseErfGelu : OpRewritePattern<ErfOp> {
  FuseErfGelu(MLIRContext *ctx, double tol)
      : OpRewritePattern<ErfOp>(ctx), tol(tol) {}
  LogicalResult matchAndRewrite(ErfOp op,
                                PatternRewriter &rewriter) const override {
    const Poly wantArg{{{1, 0}, M_SQRT1_2}};
    return matchGelu(op, wantArg, "none", tol, rewriter);
  }
  double tol;
};

/// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) in any multiplication order,
/// x³ as pow(x, 3) or x·x·x, constants distributed or not
/// ->  kiln.gelu {approximate = "tanh"}.
struct FuseTanhGelu : OpRewritePattern<TanhOp> {
  FuseTanhGelu(MLIRContext *ctx, double tol)
      : OpRewritePattern<TanhOp>(ctx), tol(tol) {}
  LogicalResult matchAndRewrite(TanhOp op,
                                PatternRewriter &rewriter) const override {
    const double a = std::sqrt(2.0 / M_PI);
    const Poly wantArg{{{1, 0}, a}, {{3, 0}, a * 0.044715}};
    return matchGelu(op, wantArg, "tanh", tol, rewriter);
  }
  double tol;
};

struct FuseGeluPass : kiln::impl::FuseGeluPassBase<FuseGeluPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(runCountedFusion<GeluOp>(
            getOperation(), getArgument(), report,
            {{&numGelu, "GELU", {}},
             {&numGeluErf, "erf",
              [](GeluOp op) { return op.getApproximate() == "none"; }},
             {&numGeluTanh, "tanh",
              [](GeluOp op) { return op.getApproximate() == "tanh"; }}},
            [&](RewritePatternSet &p) {
              populateFuseGeluPatterns(p, tolerance);
            })))
      signalPassFailure();
  }
};

} // namespace

void kiln::populateFuseGeluPatterns(RewritePatternSet &patterns,
                                    double tolerance) {
  patterns.add<FuseErfGelu, FuseTanhGelu>(patterns.getContext(), tolerance);
}

// Helpers shared by kiln's fusion patterns: reading constants, comparing values
// structurally, permutations, shapes and use checks. Internal to passes/.
#ifndef KILN_PASSES_MATCHUTILS_H
#define KILN_PASSES_MATCHUTILS_H

#include "kiln/IR/KilnDialect.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kiln::match {

/// The elements of the kiln.constant behind `v` as doubles (float, integer and
/// bool element types; dense or dense_resource). nullopt when `v` is not a
/// constant, its elements cannot be read, or there are more than `maxElements`.
std::optional<llvm::SmallVector<double>>
getConstantDoubles(mlir::Value v, int64_t maxElements = int64_t(1) << 24);

/// The value of a constant whose elements are all equal (a scalar, a splat or a
/// one-element tensor); nullopt otherwise.
std::optional<double> getScalarConstant(mlir::Value v);

/// |a - b| <= tol * max(1, |a|, |b|): relative for large values, absolute near
/// 0.
bool isNear(double a, double b, double tol);

/// True when `a` and `b` are provably the same tensor: the same SSA value,
/// equal constants, or the same result of equivalent pure ops whose operands
/// are the same tensors (checked `depth` levels down).
bool isSameValue(mlir::Value a, mlir::Value b, unsigned depth = 6);

/// The rank of `v`'s ranked tensor type, or -1.
int64_t getRank(mlir::Value v);
/// Dim `i` of `v`'s ranked tensor type (negative counts from the back), or
/// ShapedType::kDynamic when unknown.
int64_t getDim(mlir::Value v, int64_t i);
/// True when every dim is static.
bool hasStaticShape(mlir::Value v);

/// `axis` in [0, rank) (negative counts from the back); nullopt if out of
/// range.
std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank);

/// The permutation of transpose(transpose(x, inner), outer): p[i] =
/// inner[outer[i]].
llvm::SmallVector<int64_t> composePerms(llvm::ArrayRef<int64_t> inner,
                                        llvm::ArrayRef<int64_t> outer);
bool isIdentityPerm(llvm::ArrayRef<int64_t> perm);

/// A binary op with a scalar constant on one side: the other side and the
/// scalar.
struct ScalarOperand {
  mlir::Value other;
  double scalar;
  bool constantIsLhs;
};
/// For a binary elementwise op (lhs, rhs) with one operand a scalar constant
/// and the result of the same type as the other operand: that operand and the
/// scalar.
std::optional<ScalarOperand> getScalarOperand(mlir::Operation *op);

/// A scaling by a constant: a mul by a nonzero scalar constant, or a div of a
/// value by one. The scaled value and the factor applied to it.
struct ScalarScale {
  mlir::Value input;
  double factor;
};
std::optional<ScalarScale> getScalarScale(mlir::Operation *op);

/// True when every user of `v` is one of `allowed`.
bool onlyUsedBy(mlir::Value v, llvm::ArrayRef<mlir::Operation *> allowed);

/// True when `v` is a tensor that broadcasts over the last dim of a tensor
/// whose last dim is `lastDim`: shape [N] or [1, ..., 1, N] with N == lastDim
/// (N must be static; lastDim may be dynamic).
bool isChannelVector(mlir::Value v, int64_t lastDim);
/// `v` (accepted by isChannelVector) as a 1-D tensor: `v` itself when already
/// 1-D, a reshaped constant, or a kiln.reshape.
mlir::Value makeChannelVector(mlir::PatternRewriter &rewriter,
                              mlir::Location loc, mlir::Value v);

/// The numpy broadcast of two ranked tensor types' shapes, with `elementType`
/// (dynamic where it cannot be known); null when they cannot broadcast.
mlir::RankedTensorType broadcastType(mlir::Type a, mlir::Type b,
                                     mlir::Type elementType);

/// One element of a 1-D shape tensor: a known constant, or a one-element
/// tensor `value` that holds it at run time.
struct ShapeElement {
  std::optional<int64_t> constant;
  mlir::Value value;
};
/// The elements of a 1-D i64/i32 shape tensor that is a constant or a concat
/// (axis 0) of constants and one-element tensors; nullopt otherwise.
std::optional<llvm::SmallVector<ShapeElement>>
getShapeElements(mlir::Value shape);
/// When the one-element tensor `element` is dim `d` of some tensor `t` read at
/// run time (gather(shape(t), d) or slice(shape(t)), through unsqueeze,
/// squeeze, reshape and cast), returns (t, d) with d in [0, rank(t)).
std::optional<std::pair<mlir::Value, int64_t>>
getShapeDimRef(mlir::Value element);
/// True when two shape elements are provably equal.
bool isSameShapeElement(const ShapeElement &a, const ShapeElement &b);

/// The location of a fused op `fusedName` that replaces the ops `absorbed`:
/// a FusedLoc of their locations whose metadata is an ArrayAttr of their op
/// names without the dialect, in program order, e.g.
/// loc(fused<["matmul", "mul", "softmax", "matmul"]>["/attn/MatMul", ...]).
/// Dumps (the graph pictures) read it to say what a fused op absorbed. An
/// absorbed op that is itself a `fusedName` (an earlier stage of the same
/// fusion) contributes its own list and locations instead of its name.
mlir::Location absorbedLoc(llvm::StringRef fusedName,
                           llvm::ArrayRef<mlir::Operation *> absorbed);

/// Creates `OpTy` in place of `op`, lets shape inference make its result types
/// more static, and replaces `op` with it. Its location records `absorbed`
/// (see absorbedLoc; default: `op` alone). Users whose types are then less
/// static than inferable are fixed by refineShapes at the end of the pass (see
/// runFusionPatterns).
template <typename OpTy, typename... Args>
OpTy replaceOpsWithFused(mlir::PatternRewriter &rewriter, mlir::Operation *op,
                         llvm::ArrayRef<mlir::Operation *> absorbed,
                         Args &&...args) {
  auto fused = OpTy::create(
      rewriter, absorbedLoc(OpTy::getOperationName(), absorbed),
      std::forward<Args>(args)...);
  (void)inferAndSetResultTypes(fused);
  rewriter.replaceOp(op, fused->getResults());
  return fused;
}
template <typename OpTy, typename... Args>
OpTy replaceOpWithFused(mlir::PatternRewriter &rewriter, mlir::Operation *op,
                        Args &&...args) {
  return replaceOpsWithFused<OpTy>(rewriter, op, {op},
                                   std::forward<Args>(args)...);
}

/// Match-failure reasons that start with this mean "not this pattern's graph
/// at all"; `report` mode leaves them out.
constexpr llvm::StringLiteral kNotCandidate = "not a candidate: ";
/// notifyMatchFailure with `why`; in builds with assertions also printed
/// under -debug-only=<debugType> (the pass's DEBUG_TYPE).
llvm::LogicalResult notFused(mlir::PatternRewriter &rewriter,
                             mlir::Operation *op, const char *debugType,
                             const llvm::Twine &why);
/// notifyMatchFailure with kNotCandidate + `why`.
llvm::LogicalResult notCandidate(mlir::PatternRewriter &rewriter,
                                 mlir::Operation *op, const llvm::Twine &why);

/// The body of a fusion pass: applies the patterns `populate` adds greedily
/// over `root`; when anything changed, re-infers result types so that users
/// of fused ops (and the function signature) take the more static types fused
/// ops may have. With `report`, then emits a remark "<passName>: not fused:
/// <reason>" at every op a pattern still rejects as a near miss (the
/// release-build stand-in for --debug-only). Fails when shape inference does.
llvm::LogicalResult
runFusionPatterns(mlir::Operation *root, llvm::StringRef passName, bool report,
                  llvm::function_ref<void(mlir::RewritePatternSet &)> populate);

/// One count a fusion pass keeps of the ops it made: the pass statistic it
/// adds to, its label in the report remark, and which fused ops it counts
/// (`select` empty: all of them).
template <typename OpTy> struct FusedOpCount {
  mlir::Pass::Statistic *statistic;
  llvm::StringRef label;
  std::function<bool(OpTy)> select;
};

/// runFusionPatterns, then adds to each count's statistic how many more OpTy
/// ops it selects than before. With `report`, also emits the remark
/// "<passName>: fused <n0> <label0> (<n1> <label1>, ...)".
template <typename OpTy>
llvm::LogicalResult
runCountedFusion(mlir::Operation *root, llvm::StringRef passName, bool report,
                 llvm::ArrayRef<FusedOpCount<OpTy>> counts,
                 llvm::function_ref<void(mlir::RewritePatternSet &)> populate) {
  auto tally = [&] {
    std::vector<unsigned> n(counts.size());
    root->walk([&](OpTy op) {
      for (size_t i = 0; i < counts.size(); ++i)
        n[i] += !counts[i].select || counts[i].select(op);
    });
    return n;
  };
  std::vector<unsigned> before = tally();
  if (mlir::failed(runFusionPatterns(root, passName, report, populate)))
    return mlir::failure();
  std::vector<unsigned> after = tally();
  std::string line;
  for (size_t i = 0; i < counts.size(); ++i) {
    unsigned made = after[i] - before[i];
    *counts[i].statistic += made;
    line += (i == 0 ? "" : i == 1 ? " (" : ", ") + std::to_string(made) + " " +
            counts[i].label.str();
  }
  if (counts.size() > 1)
    line += ")";
  if (report)
    mlir::emitRemark(root->getLoc()) << passName << ": fused " << line;
  return mlir::success();
}

/// Creates a 1-D i64 kiln.constant.
mlir::Value createI64Constant(mlir::OpBuilder &builder, mlir::Location loc,
                              llvm::ArrayRef<int64_t> values);

} // namespace kiln::match

#endif // KILN_PASSES_MATCHUTILS_H

// Helpers shared by kiln's fusion patterns: reading constants, comparing values
// structurally, permutations, shapes and use checks. Internal to passes/.
#ifndef KILN_PASSES_MATCHUTILS_H
#define KILN_PASSES_MATCHUTILS_H

#include "kiln/IR/KilnDialect.h"

#include "mlir/IR/PatternMatch.h"

#include <optional>

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

/// Creates `OpTy` (at `op`'s location) in place of `op`, lets shape inference
/// make its result types more static, and replaces `op` with it. Users whose
/// types are then less static than inferable are fixed by refineShapes at the
/// end of the pass (see runFusionPatterns).
template <typename OpTy, typename... Args>
OpTy replaceOpWithFused(mlir::PatternRewriter &rewriter, mlir::Operation *op,
                        Args &&...args) {
  auto fused =
      OpTy::create(rewriter, op->getLoc(), std::forward<Args>(args)...);
  (void)inferAndSetResultTypes(fused);
  rewriter.replaceOp(op, fused->getResults());
  return fused;
}

/// Match-failure reasons that start with this mean "not this pattern's graph
/// at all"; `report` mode leaves them out.
constexpr llvm::StringLiteral kNotCandidate = "not a candidate: ";
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

/// Creates a 1-D i64 kiln.constant.
mlir::Value createI64Constant(mlir::OpBuilder &builder, mlir::Location loc,
                              llvm::ArrayRef<int64_t> values);

} // namespace kiln::match

#endif // KILN_PASSES_MATCHUTILS_H

// Arithmetic cost of a kernel call (for `kiln bench`'s GFLOP/s and % of peak).
#include "kiln/Codegen/Library.h"
#include "kiln/IR/KilnDialect.h"

namespace kiln::library {

static double numel(mlir::Type t) {
  auto s = llvm::dyn_cast<mlir::RankedTensorType>(t);
  if (!s || !s.hasStaticShape())
    return 0;
  double n = 1;
  for (int64_t d : s.getShape())
    n *= (double)d;
  return n;
}

/// The contraction size K of a matmul whose B operand is `b`.
static double contraction(mlir::Value b, bool transB) {
  auto t = llvm::cast<mlir::RankedTensorType>(b.getType());
  if (t.getRank() == 1)
    return (double)t.getDimSize(0);
  return (double)t.getDimSize(t.getRank() - (transB ? 1 : 2));
}

double kernelFlops(mlir::Operation *op) {
  if (auto m = llvm::dyn_cast<MatMulOp>(op))
    return 2 * numel(m.getType()) * contraction(m.getB(), false);
  if (auto m = llvm::dyn_cast<FusedMatMulOp>(op))
    return 2 * numel(m.getType()) * contraction(m.getB(), m.getTransB());
  if (auto g = llvm::dyn_cast<GemmOp>(op)) {
    auto a = g.getA().getType();
    return 2 * numel(g.getType()) * (double)a.getDimSize(g.getTransA() ? 0 : 1);
  }
  if (auto a = llvm::dyn_cast<AttentionOp>(op)) {
    // Q·Kᵀ and P·V: 2·Sk·D each per query row and head, D = q's head width.
    auto q = a.getQ().getType();
    auto k = a.getK().getType();
    double sk = a.getLayout() == "bsd" ? (double)k.getDimSize(1)
                : a.getKTransposed()  ? (double)k.getDimSize(3)
                                      : (double)k.getDimSize(2);
    return 4 * numel(q) * sk; // numel(q) = B·H·Sq·D in either layout
  }
  return 0;
}

} // namespace kiln::library

// LLVM backend lowering of kiln's indexed reads and writes: gather,
// gather_elements (tensor.extract in a generic) and scatter_elements (a
// sequential scf.for applying updates in row-major order).
#include "KernelBuilder.h"

#include "kiln/IR/KilnDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::llvmgen::detail;

namespace {

/// An index value read from an int tensor, wrapped once when negative and
/// clamped into [0, dim) (the reference rejects out-of-range indices; a
/// kernel cannot report them, so it stays in bounds instead).
Value wrapIndex(OpBuilder &b, Location loc, Value idx, int64_t dim) {
  Type i64 = b.getI64Type();
  if (idx.getType() != i64)
    idx = arith::ExtSIOp::create(b, loc, i64, idx);
  Value zero = scalarConst(b, loc, i64, 0);
  Value d = scalarConst(b, loc, i64, (double)dim);
  Value neg =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, idx, zero);
  Value w = arith::SelectOp::create(b, loc, neg,
                                    arith::AddIOp::create(b, loc, idx, d), idx);
  w = arith::MaxSIOp::create(b, loc, w, zero);
  w = arith::MinSIOp::create(b, loc, w,
                             scalarConst(b, loc, i64, (double)(dim - 1)));
  return intToIndex(b, loc, w);
}

Value lowerGatherOp(KernelBuilder &kb, GatherOp g) {
  ArrayRef<int64_t> xs = kb.inShape(0);
  int64_t axis = normAxis(g.getAxis(), xs.size());
  int64_t outer = 1, inner = 1, dim = xs[axis];
  for (int64_t d = 0; d < (int64_t)xs.size(); ++d)
    if (d != axis)
      (d < axis ? outer : inner) *= xs[d];
  int64_t n = cast<RankedTensorType>(g.getIndices().getType()).getNumElements();
  Value x = kb.input(0, {outer, dim, inner});
  Value idx = kb.input(1, {n});
  RankedTensorType out = kb.outType(0, {outer, n, inner});
  return kb.generic({idx}, {kb.empty(out)},
                    {kb.dimsMap(3, {1}), kb.identityMap(3)}, kb.parallel(3),
                    [&](OpBuilder &b, Location loc, ValueRange a) {
                      Value i = wrapIndex(b, loc, a[0], dim);
                      Value o = linalg::IndexOp::create(b, loc, 0);
                      Value in = linalg::IndexOp::create(b, loc, 2);
                      return SmallVector<Value>{tensor::ExtractOp::create(
                          b, loc, x, ValueRange{o, i, in})};
                    })[0];
}

Value lowerGatherElements(KernelBuilder &kb, GatherElementsOp g) {
  ArrayRef<int64_t> xs = kb.inShape(0);
  unsigned r = xs.size();
  int64_t axis = normAxis(g.getAxis(), r);
  Value x = kb.input(0);
  RankedTensorType out = kb.outType();
  return kb.generic(
      {kb.input(1)}, {kb.empty(out)}, {kb.identityMap(r), kb.identityMap(r)},
      kb.parallel(r), [&](OpBuilder &b, Location loc, ValueRange a) {
        SmallVector<Value> coords;
        for (unsigned d = 0; d < r; ++d)
          coords.push_back((int64_t)d == axis
                               ? wrapIndex(b, loc, a[0], xs[axis])
                               : (Value)linalg::IndexOp::create(b, loc, d));
        return SmallVector<Value>{tensor::ExtractOp::create(b, loc, x, coords)};
      })[0];
}

Value combine(OpBuilder &b, Location loc, StringRef red, Value old, Value u) {
  bool fl = isa<FloatType>(old.getType());
  if (red == "add")
    return fl ? (Value)arith::AddFOp::create(b, loc, old, u)
              : (Value)arith::AddIOp::create(b, loc, old, u);
  if (red == "mul")
    return fl ? (Value)arith::MulFOp::create(b, loc, old, u)
              : (Value)arith::MulIOp::create(b, loc, old, u);
  if (red == "max") { // std::max(old, u)
    if (!fl)
      return arith::MaxSIOp::create(b, loc, old, u);
    Value lt = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, old, u);
    return arith::SelectOp::create(b, loc, lt, u, old);
  }
  if (red == "min") { // std::min(old, u)
    if (!fl)
      return arith::MinSIOp::create(b, loc, old, u);
    Value lt = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, u, old);
    return arith::SelectOp::create(b, loc, lt, u, old);
  }
  return u;
}

Value lowerScatter(KernelBuilder &kb, ScatterElementsOp s) {
  ArrayRef<int64_t> xs = kb.inShape(0), is = kb.inShape(1);
  unsigned r = xs.size();
  int64_t axis = normAxis(s.getAxis(), r);
  RankedTensorType out = kb.outType();
  Value init = kb.map(out, {kb.input(0)},
                      [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  Value indices = kb.input(1), updates = kb.input(2);
  int64_t n = 1;
  for (int64_t d : is)
    n *= d;
  StringRef red = s.getReduction();
  OpBuilder &b = kb.b;
  auto loop = scf::ForOp::create(
      b, kb.loc, kb.index(0), kb.index(n), kb.index(1), ValueRange{init},
      [&](OpBuilder &nb, Location loc, Value iv, ValueRange it) {
        // Delinearize iv over the indices' shape (row-major).
        SmallVector<Value> coords(r);
        Value rest = iv;
        for (int d = (int)r - 1; d >= 0; --d) {
          Value sz = arith::ConstantIndexOp::create(nb, loc, is[d]);
          coords[d] = arith::RemUIOp::create(nb, loc, rest, sz);
          rest = arith::DivUIOp::create(nb, loc, rest, sz);
        }
        Value idx = tensor::ExtractOp::create(nb, loc, indices, coords);
        Value u = tensor::ExtractOp::create(nb, loc, updates, coords);
        SmallVector<Value> target = coords;
        target[axis] = wrapIndex(nb, loc, idx, xs[axis]);
        Value cur = it[0];
        Value v = u;
        if (red != "none")
          v = combine(nb, loc, red,
                      tensor::ExtractOp::create(nb, loc, cur, target), u);
        Value next = tensor::InsertOp::create(nb, loc, v, cur, target);
        scf::YieldOp::create(nb, loc, next);
      });
  return loop.getResult(0);
}

} // namespace

LogicalResult kiln::llvmgen::detail::lowerGather(KernelBuilder &kb,
                                                 Results &results) {
  Operation *op = kb.op;
  if (auto g = dyn_cast<GatherOp>(op))
    results.push_back(lowerGatherOp(kb, g));
  else if (auto g = dyn_cast<GatherElementsOp>(op))
    results.push_back(lowerGatherElements(kb, g));
  else if (auto s = dyn_cast<ScatterElementsOp>(op))
    results.push_back(lowerScatter(kb, s));
  else
    return kb.fail("not a gather/scatter op");
  return success();
}

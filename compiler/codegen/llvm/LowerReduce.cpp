// LLVM backend lowering of kiln's reductions: reduce_{sum,mean,max,min,prod},
// argmax, softmax and log_softmax, as linalg.generic ops with reduction loops
// innermost.
#include "KernelBuilder.h"

#include "kiln/IR/KilnDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

using namespace mlir;
using namespace kiln;
using namespace kiln::llvmgen::detail;

namespace {

enum class Red { Mean, Sum, Max, Min, Prod };

/// The lowest (or highest) value of a compute type: ∓inf or the int limit.
Value extreme(KernelBuilder &kb, Type t, bool lowest) {
  if (isa<FloatType>(t))
    return kb.constant(t, lowest ? -std::numeric_limits<double>::infinity()
                                 : std::numeric_limits<double>::infinity());
  unsigned w = t.getIntOrFloatBitWidth();
  APInt v = lowest ? APInt::getSignedMinValue(w) : APInt::getSignedMaxValue(w);
  return arith::ConstantOp::create(kb.b, kb.loc, IntegerAttr::get(t, v));
}

template <typename OpT>
LogicalResult lowerReduceOp(KernelBuilder &kb, OpT r, Red kind,
                            Results &results) {
  ArrayRef<int64_t> in = kb.inShape(0);
  unsigned rank = in.size();
  ArrayRef<int64_t> axesAttr = r.getAxes();
  if (axesAttr.empty() && r.getNoopWithEmptyAxes()) {
    int64_t n = kb.outType().getNumElements();
    results.push_back(
        kb.map(kb.outType(0, {n}), {kb.input(0, {n})},
               [](OpBuilder &, Location, ValueRange a) { return a[0]; }));
    return success();
  }
  std::vector<bool> reduced(rank, axesAttr.empty());
  for (int64_t a : axesAttr)
    reduced[normAxis(a, rank)] = true;
  SmallVector<unsigned> kept, red;
  SmallVector<int64_t> keptShape;
  int64_t count = 1;
  for (unsigned d = 0; d < rank; ++d) {
    if (reduced[d]) {
      red.push_back(d);
      count *= in[d];
    } else {
      kept.push_back(d);
      keptShape.push_back(in[d]);
    }
  }
  // Loops: kept dims, then reduced dims (innermost).
  SmallVector<unsigned> loopOf(rank);
  for (unsigned l = 0; l < kept.size(); ++l)
    loopOf[kept[l]] = l;
  for (unsigned l = 0; l < red.size(); ++l)
    loopOf[red[l]] = kept.size() + l;
  SmallVector<unsigned> outDims, redLoops;
  for (unsigned l = 0; l < kept.size(); ++l)
    outDims.push_back(l);
  for (unsigned l = 0; l < red.size(); ++l)
    redLoops.push_back(kept.size() + l);

  Type t = kb.outElem();
  bool fl = isa<FloatType>(t);
  Value init = kind == Red::Max    ? extreme(kb, t, true)
               : kind == Red::Min  ? extreme(kb, t, false)
               : kind == Red::Prod ? kb.constant(t, 1)
                                   : kb.constant(t, 0);
  RankedTensorType outType = kb.outType(0, keptShape);
  Value acc =
      kb.generic({kb.input(0)}, {kb.filled(outType, init)},
                 {kb.dimsMap(rank, loopOf), kb.dimsMap(rank, outDims)},
                 kb.parallel(rank, redLoops),
                 [&](OpBuilder &b, Location loc, ValueRange a) {
                   Value x = a[0], y = a[1], v;
                   switch (kind) {
                   case Red::Max:
                     v = fl ? (Value)arith::MaximumFOp::create(b, loc, x, y)
                            : (Value)arith::MaxSIOp::create(b, loc, x, y);
                     break;
                   case Red::Min:
                     v = fl ? (Value)arith::MinimumFOp::create(b, loc, x, y)
                            : (Value)arith::MinSIOp::create(b, loc, x, y);
                     break;
                   case Red::Prod:
                     v = accMul(b, loc, y, x);
                     break;
                   default:
                     v = accAdd(b, loc, y, x);
                   }
                   return SmallVector<Value>{v};
                 })[0];
  if (kind == Red::Mean) {
    unsigned k = keptShape.size();
    acc = kb.generic({}, {acc}, {kb.identityMap(k)}, kb.parallel(k),
                     [&](OpBuilder &b, Location loc, ValueRange a) {
                       Value c = scalarConst(b, loc, t, (double)count);
                       Value v =
                           fl ? (Value)arith::DivFOp::create(b, loc, a[0], c)
                              : (Value)arith::DivSIOp::create(b, loc, a[0], c);
                       return SmallVector<Value>{v};
                     })[0];
  }
  results.push_back(acc);
  return success();
}

/// [outer, dim, inner] around `axis`.
void axisView(ArrayRef<int64_t> s, int64_t axis, int64_t &outer, int64_t &dim,
              int64_t &inner) {
  outer = dim = inner = 1;
  for (int64_t d = 0; d < (int64_t)s.size(); ++d)
    (d < axis ? outer : d == axis ? dim : inner) *= s[d];
}

Value lowerArgMax(KernelBuilder &kb, ArgMaxOp a) {
  ArrayRef<int64_t> in = kb.inShape(0);
  int64_t outer, dim, inner;
  axisView(in, normAxis(a.getAxis(), in.size()), outer, dim, inner);
  Value x = kb.input(0, {outer, dim, inner});
  Type t = kb.inElem(0);
  bool fl = isa<FloatType>(t), last = a.getSelectLastIndex();
  Type i64 = kb.b.getI64Type();
  Value best = kb.filled(kb.tensor({outer, inner}, t), extreme(kb, t, true));
  Value idx = kb.filled(kb.outType(0, {outer, inner}), kb.constant(i64, 0));
  return kb.generic(
      {x}, {best, idx},
      {kb.dimsMap(3, {0, 2, 1}), kb.dimsMap(3, {0, 1}), kb.dimsMap(3, {0, 1})},
      kb.parallel(3, {2}), [&](OpBuilder &b, Location loc, ValueRange v) {
        Value c = v[0], bv = v[1], bi = v[2];
        Value j = indexToInt(b, loc, linalg::IndexOp::create(b, loc, 2), i64);
        Value tieWins = scalarConst(b, loc, b.getI1Type(), last ? 1 : 0);
        Value better;
        if (fl) {
          Value bNan =
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, bv, bv);
          Value cNan =
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, c, c);
          Value gt =
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, c, bv);
          Value eq =
              arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, c, bv);
          Value num = arith::OrIOp::create(
              b, loc, arith::OrIOp::create(b, loc, cNan, gt),
              arith::AndIOp::create(b, loc, tieWins, eq));
          better = arith::SelectOp::create(
              b, loc, bNan, arith::AndIOp::create(b, loc, tieWins, cNan), num);
        } else {
          Value gt =
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, c, bv);
          Value eq =
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, c, bv);
          better = arith::OrIOp::create(
              b, loc, gt, arith::AndIOp::create(b, loc, tieWins, eq));
        }
        return SmallVector<Value>{
            arith::SelectOp::create(b, loc, better, c, bv),
            arith::SelectOp::create(b, loc, better, j, bi)};
      })[1];
}

/// softmax / log_softmax along `axis`, max subtracted first.
Value lowerSoftmax(KernelBuilder &kb, int64_t axisAttr, bool log) {
  ArrayRef<int64_t> in = kb.inShape(0);
  int64_t outer, dim, inner;
  axisView(in, normAxis(axisAttr, in.size()), outer, dim, inner);
  Value x = kb.input(0, {outer, dim, inner});
  Type t = kb.inElem(0);
  RankedTensorType rowType = kb.tensor({outer, inner}, t);
  AffineMap xRed = kb.dimsMap(3, {0, 2, 1}), rowMap = kb.dimsMap(3, {0, 1});
  Value mx = kb.generic({x}, {kb.filled(rowType, extreme(kb, t, true))},
                        {xRed, rowMap}, kb.parallel(3, {2}),
                        [](OpBuilder &b, Location loc, ValueRange a) {
                          return SmallVector<Value>{
                              arith::MaximumFOp::create(b, loc, a[0], a[1])};
                        })[0];
  Value sum = kb.generic(
      {x, mx}, {kb.filled(rowType, kb.constant(t, 0))}, {xRed, rowMap, rowMap},
      kb.parallel(3, {2}), [](OpBuilder &b, Location loc, ValueRange a) {
        Value e = math::ExpOp::create(
            b, loc, arith::SubFOp::create(b, loc, a[0], a[1]));
        return SmallVector<Value>{accAdd(b, loc, a[2], e)};
      })[0];
  RankedTensorType out = kb.outType(0, {outer, dim, inner});
  AffineMap id = kb.identityMap(3), rowOfOut = kb.dimsMap(3, {0, 2});
  return kb.generic(
      {x, mx, sum}, {kb.empty(out)}, {id, rowOfOut, rowOfOut, id},
      kb.parallel(3), [&](OpBuilder &b, Location loc, ValueRange a) {
        Value d = arith::SubFOp::create(b, loc, a[0], a[1]);
        Value v = log ? (Value)arith::SubFOp::create(
                            b, loc, d, math::LogOp::create(b, loc, a[2]))
                      : (Value)arith::DivFOp::create(
                            b, loc, math::ExpOp::create(b, loc, d), a[2]);
        return SmallVector<Value>{v};
      })[0];
}

} // namespace

LogicalResult kiln::llvmgen::detail::lowerReduce(KernelBuilder &kb,
                                                 Results &results) {
  Operation *op = kb.op;
  if (auto r = dyn_cast<ReduceMeanOp>(op))
    return lowerReduceOp(kb, r, Red::Mean, results);
  if (auto r = dyn_cast<ReduceSumOp>(op))
    return lowerReduceOp(kb, r, Red::Sum, results);
  if (auto r = dyn_cast<ReduceMaxOp>(op))
    return lowerReduceOp(kb, r, Red::Max, results);
  if (auto r = dyn_cast<ReduceMinOp>(op))
    return lowerReduceOp(kb, r, Red::Min, results);
  if (auto r = dyn_cast<ReduceProdOp>(op))
    return lowerReduceOp(kb, r, Red::Prod, results);
  if (auto a = dyn_cast<ArgMaxOp>(op)) {
    results.push_back(lowerArgMax(kb, a));
    return success();
  }
  if (auto s = dyn_cast<SoftmaxOp>(op)) {
    results.push_back(lowerSoftmax(kb, s.getAxis(), false));
    return success();
  }
  if (auto s = dyn_cast<LogSoftmaxOp>(op)) {
    results.push_back(lowerSoftmax(kb, s.getAxis(), true));
    return success();
  }
  return kb.fail("not a reduction op");
}

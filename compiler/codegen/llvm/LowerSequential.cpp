// LLVM backend lowering of kiln ops with a sequential dependence along one
// axis: cumsum (running sum) and topk (k rounds of selection, stable on
// ties), as scf.for loops over tensors.
#include "KernelBuilder.h"

#include "kiln/IR/KilnDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::llvmgen::detail;

namespace {

void axisView(ArrayRef<int64_t> s, int64_t axis, int64_t &outer, int64_t &dim,
              int64_t &inner) {
  outer = dim = inner = 1;
  for (int64_t d = 0; d < (int64_t)s.size(); ++d)
    (d < axis ? outer : d == axis ? dim : inner) *= s[d];
}

Value cIdx(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value lowerCumSum(KernelBuilder &kb, CumSumOp c) {
  ArrayRef<int64_t> in = kb.inShape(0);
  int64_t outer, dim, inner;
  axisView(in, normAxis(c.getAxis(), in.size()), outer, dim, inner);
  Value x = kb.input(0, {outer, dim, inner});
  RankedTensorType outType = kb.outType(0, {outer, dim, inner});
  Type t = kb.outElem();
  bool fl = isa<FloatType>(t);
  Type accT = fl ? kb.b.getF64Type() : t; // float sums in double
  bool exclusive = c.getExclusive(), reverse = c.getReverse();
  OpBuilder &b = kb.b;
  Location loc = kb.loc;
  auto rows = scf::ForOp::create(
      b, loc, cIdx(b, loc, 0), cIdx(b, loc, outer * inner), cIdx(b, loc, 1),
      ValueRange{kb.empty(outType)},
      [&](OpBuilder &rb, Location rl, Value row, ValueRange rit) {
        Value o = arith::DivUIOp::create(rb, rl, row, cIdx(rb, rl, inner));
        Value i = arith::RemUIOp::create(rb, rl, row, cIdx(rb, rl, inner));
        auto steps = scf::ForOp::create(
            rb, rl, cIdx(rb, rl, 0), cIdx(rb, rl, dim), cIdx(rb, rl, 1),
            ValueRange{rit[0], scalarConst(rb, rl, accT, 0)},
            [&](OpBuilder &sb, Location sl, Value s, ValueRange it) {
              Value j = reverse ? (Value)arith::SubIOp::create(
                                      sb, sl, cIdx(sb, sl, dim - 1), s)
                                : s;
              Value e =
                  tensor::ExtractOp::create(sb, sl, x, ValueRange{o, j, i});
              if (fl && accT != t)
                e = arith::ExtFOp::create(sb, sl, accT, e);
              Value sum = it[1];
              Value added = fl ? (Value)arith::AddFOp::create(sb, sl, sum, e)
                               : (Value)arith::AddIOp::create(sb, sl, sum, e);
              Value outV = exclusive ? sum : added;
              if (outV.getType() != t)
                outV = arith::TruncFOp::create(sb, sl, t, outV);
              Value next = tensor::InsertOp::create(sb, sl, outV, it[0],
                                                    ValueRange{o, j, i});
              scf::YieldOp::create(sb, sl, ValueRange{next, added});
            });
        scf::YieldOp::create(rb, rl, steps.getResult(0));
      });
  return rows.getResult(0);
}

/// Whether a strictly precedes b in topk order (NaN above every number).
Value before(OpBuilder &b, Location loc, Value x, Value y, bool largest) {
  if (!isa<FloatType>(x.getType()))
    return arith::CmpIOp::create(
        b, loc, largest ? arith::CmpIPredicate::sgt : arith::CmpIPredicate::slt,
        x, y);
  Value xn = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, x, x);
  Value yn = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, y, y);
  Value t = arith::ConstantOp::create(b, loc, b.getBoolAttr(true));
  Value anyNan = arith::OrIOp::create(b, loc, xn, yn);
  Value nanOrder =
      largest ? arith::AndIOp::create(b, loc, xn,
                                      arith::XOrIOp::create(b, loc, yn, t))
              : arith::AndIOp::create(b, loc,
                                      arith::XOrIOp::create(b, loc, xn, t), yn);
  Value numOrder = arith::CmpFOp::create(
      b, loc, largest ? arith::CmpFPredicate::OGT : arith::CmpFPredicate::OLT,
      x, y);
  return arith::SelectOp::create(b, loc, anyNan, nanOrder, numOrder);
}

void lowerTopK(KernelBuilder &kb, TopKOp tk, Results &results) {
  ArrayRef<int64_t> in = kb.inShape(0);
  int64_t outer, dim, inner;
  axisView(in, normAxis(tk.getAxis(), in.size()), outer, dim, inner);
  int64_t k = tk.getK();
  bool largest = tk.getLargest();
  Value x = kb.input(0, {outer, dim, inner});
  Value vals = kb.empty(kb.outType(0, {outer, k, inner}));
  Value idxs = kb.empty(kb.outType(1, {outer, k, inner}));
  OpBuilder &b = kb.b;
  Location loc = kb.loc;
  Type i64 = b.getI64Type();
  auto rows = scf::ForOp::create(
      b, loc, cIdx(b, loc, 0), cIdx(b, loc, outer * inner), cIdx(b, loc, 1),
      ValueRange{vals, idxs},
      [&](OpBuilder &rb, Location rl, Value row, ValueRange rit) {
        Value o = arith::DivUIOp::create(rb, rl, row, cIdx(rb, rl, inner));
        Value i = arith::RemUIOp::create(rb, rl, row, cIdx(rb, rl, inner));
        auto at = [&](OpBuilder &nb, Location nl, Value p) -> Value {
          // p is an i64 position, -1 for none; read a clamped element.
          Value c =
              arith::MaxSIOp::create(nb, nl, p, scalarConst(nb, nl, i64, 0));
          return tensor::ExtractOp::create(
              nb, nl, x, ValueRange{o, intToIndex(nb, nl, c), i});
        };
        // precedes(p, q): p strictly before q, ties by lower position.
        auto precedes = [&](OpBuilder &nb, Location nl, Value p, Value xp,
                            Value q, Value xq) -> Value {
          Value pq = before(nb, nl, xp, xq, largest);
          Value qp = before(nb, nl, xq, xp, largest);
          Value t = arith::ConstantOp::create(nb, nl, nb.getBoolAttr(true));
          Value tie = arith::AndIOp::create(
              nb, nl, arith::XOrIOp::create(nb, nl, qp, t),
              arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::slt, p, q));
          return arith::OrIOp::create(nb, nl, pq, tie);
        };
        auto picks = scf::ForOp::create(
            rb, rl, cIdx(rb, rl, 0), cIdx(rb, rl, k), cIdx(rb, rl, 1),
            ValueRange{rit[0], rit[1], scalarConst(rb, rl, i64, -1)},
            [&](OpBuilder &jb, Location jl, Value j, ValueRange jit) {
              Value prev = jit[2];
              Value xPrev = at(jb, jl, prev);
              Value none = scalarConst(jb, jl, i64, -1);
              auto scan = scf::ForOp::create(
                  jb, jl, cIdx(jb, jl, 0), cIdx(jb, jl, dim), cIdx(jb, jl, 1),
                  ValueRange{none},
                  [&](OpBuilder &mb, Location ml, Value m, ValueRange mit) {
                    Value best = mit[0];
                    Value mi = indexToInt(mb, ml, m, i64);
                    Value xm = tensor::ExtractOp::create(mb, ml, x,
                                                         ValueRange{o, m, i});
                    Value xBest = at(mb, ml, best);
                    Value noPrev = arith::CmpIOp::create(
                        mb, ml, arith::CmpIPredicate::slt, prev,
                        scalarConst(mb, ml, i64, 0));
                    Value noBest = arith::CmpIOp::create(
                        mb, ml, arith::CmpIPredicate::slt, best,
                        scalarConst(mb, ml, i64, 0));
                    Value after = arith::OrIOp::create(
                        mb, ml, noPrev, precedes(mb, ml, prev, xPrev, mi, xm));
                    Value beats = arith::OrIOp::create(
                        mb, ml, noBest, precedes(mb, ml, mi, xm, best, xBest));
                    Value take = arith::AndIOp::create(mb, ml, after, beats);
                    scf::YieldOp::create(mb, ml,
                                         ValueRange{arith::SelectOp::create(
                                             mb, ml, take, mi, best)});
                  });
              Value best = scan.getResult(0);
              Value v = at(jb, jl, best);
              Value nv = tensor::InsertOp::create(jb, jl, v, jit[0],
                                                  ValueRange{o, j, i});
              Value ni = tensor::InsertOp::create(jb, jl, best, jit[1],
                                                  ValueRange{o, j, i});
              scf::YieldOp::create(jb, jl, ValueRange{nv, ni, best});
            });
        scf::YieldOp::create(
            rb, rl, ValueRange{picks.getResult(0), picks.getResult(1)});
      });
  results.push_back(rows.getResult(0));
  results.push_back(rows.getResult(1));
}

} // namespace

LogicalResult kiln::llvmgen::detail::lowerSequential(KernelBuilder &kb,
                                                     Results &results) {
  if (auto c = dyn_cast<CumSumOp>(kb.op)) {
    results.push_back(lowerCumSum(kb, c));
    return success();
  }
  if (auto t = dyn_cast<TopKOp>(kb.op)) {
    lowerTopK(kb, t, results);
    return success();
  }
  return kb.fail("not a sequential op");
}

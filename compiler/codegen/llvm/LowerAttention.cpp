// LLVM backend lowering of kiln.attention: scores = scale·Q·Kᵀ (+ mask,
// causal), a masked row softmax and P·V, as linalg.generic ops over
// [B, H, Sq, Sk] scores. Both layouts ("bhsd", "bsd" with heads split by
// the indexing maps) and a transposed K are read in place.
#include "KernelBuilder.h"

#include "kiln/IR/KilnDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <limits>

using namespace mlir;
using namespace kiln;
using namespace kiln::llvmgen::detail;

LogicalResult kiln::llvmgen::detail::lowerAttention(KernelBuilder &kb,
                                                    Results &results) {
  auto a = dyn_cast<AttentionOp>(kb.op);
  if (!a)
    return kb.fail("not an attention op");
  bool bsd = a.getLayout() == "bsd", kT = a.getKTransposed();
  bool causal = a.getCausal();
  double scale = a.getScale().convertToDouble();
  ArrayRef<int64_t> qs = kb.inShape(0), ks = kb.inShape(1), vs = kb.inShape(2);
  int64_t B, H, Sq, D, Sk, Dv;
  Value q, k, v;
  if (bsd) {
    H = a.getNumHeads();
    B = qs[0], Sq = qs[1], D = qs[2] / H;
    Sk = kT ? ks[2] : ks[1];
    Dv = vs[2] / H;
    q = kb.input(0, {B, Sq, H, D});
    k = kT ? kb.input(1, {B, H, D, Sk}) : kb.input(1, {B, Sk, H, D});
    v = kb.input(2, {B, Sk, H, Dv});
  } else {
    B = qs[0], H = qs[1], Sq = qs[2], D = qs[3];
    Sk = kT ? ks[3] : ks[2];
    Dv = vs[3];
    q = kb.input(0);
    k = kb.input(1);
    v = kb.input(2);
  }
  MLIRContext *ctx = kb.ctx;
  Type t = kb.outElem();
  // Loops (b, h, i, j, c): c is the head dim (D for scores, Dv for output).
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  auto map5 = [&](ArrayRef<AffineExpr> e) {
    return AffineMap::get(5, 0, e, ctx);
  };
  AffineExpr b_ = d(0), h = d(1), i = d(2), j = d(3), c = d(4);
  AffineMap qMap = bsd ? map5({b_, i, h, c}) : map5({b_, h, i, c});
  AffineMap kMap = kT ? map5({b_, h, c, j})
                      : (bsd ? map5({b_, j, h, c}) : map5({b_, h, j, c}));
  AffineMap vMap = bsd ? map5({b_, j, h, c}) : map5({b_, h, j, c});
  AffineMap oMap = bsd ? map5({b_, i, h, c}) : map5({b_, h, i, c});
  AffineMap sMap5 = map5({b_, h, i, j});

  // 1. scores[b,h,i,j] = Σ_c q·k
  RankedTensorType sType = kb.tensor({B, H, Sq, Sk}, t);
  Value zero = kb.constant(t, 0);
  Value scores = kb.generic(
      {q, k}, {kb.filled(sType, zero)}, {qMap, kMap, sMap5},
      kb.parallel(5, {4}), [](OpBuilder &b, Location loc, ValueRange x) {
        return SmallVector<Value>{accMulAdd(b, loc, x[2], x[0], x[1])};
      })[0];

  // 2. scale, mask and causal rule; masked scores become -inf.
  SmallVector<Value> ins;
  SmallVector<AffineMap> maps;
  bool boolMask = false;
  if (a.getMask()) {
    boolMask = kindOf(a.getMask().getType()) == Kind::Bool;
    ins.push_back(kb.input(3));
    maps.push_back(kb.broadcastMap(kb.inShape(3), {B, H, Sq, Sk}));
  }
  maps.push_back(kb.identityMap(4));
  bool hasMask = !ins.empty();
  const double ninf = -std::numeric_limits<double>::infinity();
  scores = kb.generic(
      ins, {scores}, maps, kb.parallel(4),
      [&](OpBuilder &b, Location loc, ValueRange x) {
        Value s = arith::MulFOp::create(b, loc, scalarConst(b, loc, t, scale),
                                        x.back());
        Value ok = arith::ConstantOp::create(b, loc, b.getBoolAttr(true));
        if (hasMask && !boolMask)
          s = arith::AddFOp::create(b, loc, s, x[0]);
        if (hasMask && boolMask)
          ok = toBool(b, loc, x[0]);
        if (causal) {
          Value qi = linalg::IndexOp::create(b, loc, 2);
          Value kj = linalg::IndexOp::create(b, loc, 3);
          Value lim = arith::AddIOp::create(
              b, loc, qi, arith::ConstantIndexOp::create(b, loc, Sk - Sq));
          Value inRange =
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, kj, lim);
          ok = arith::AndIOp::create(b, loc, ok, inRange);
        }
        return SmallVector<Value>{arith::SelectOp::create(
            b, loc, ok, s, scalarConst(b, loc, t, ninf))};
      })[0];

  // 3. row max and 4. p = exp(s - max) (0 where masked), row sums.
  RankedTensorType rType = kb.tensor({B, H, Sq}, t);
  AffineMap s4 = kb.identityMap(4), r4 = kb.dimsMap(4, {0, 1, 2});
  auto red4 = kb.parallel(4, {3});
  Value mx =
      kb.generic({scores}, {kb.filled(rType, kb.constant(t, ninf))}, {s4, r4},
                 red4, [](OpBuilder &b, Location loc, ValueRange x) {
                   return SmallVector<Value>{
                       arith::MaximumFOp::create(b, loc, x[0], x[1])};
                 })[0];
  Value p = kb.generic(
      {mx}, {scores}, {r4, s4}, kb.parallel(4),
      [&](OpBuilder &b, Location loc, ValueRange x) {
        Value s = x[1];
        Value dead = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, s,
                                           scalarConst(b, loc, t, ninf));
        Value e =
            math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, s, x[0]));
        return SmallVector<Value>{arith::SelectOp::create(
            b, loc, dead, scalarConst(b, loc, t, 0), e)};
      })[0];
  Value sum =
      kb.generic({p}, {kb.filled(rType, zero)}, {s4, r4}, red4,
                 [](OpBuilder &b, Location loc, ValueRange x) {
                   return SmallVector<Value>{accAdd(b, loc, x[1], x[0])};
                 })[0];

  // 5. out = Σ_j p·v with the head dim innermost, then 6. divide by the sum.
  SmallVector<int64_t> oShape = bsd ? SmallVector<int64_t>{B, Sq, H, Dv}
                                    : SmallVector<int64_t>{B, H, Sq, Dv};
  RankedTensorType oType = kb.outType(0, oShape);
  AffineMap pMap = map5({b_, h, i, j});
  Value out = kb.generic(
      {p, v}, {kb.filled(oType, zero)}, {pMap, vMap, oMap}, kb.parallel(5, {3}),
      [](OpBuilder &b, Location loc, ValueRange x) {
        return SmallVector<Value>{accMulAdd(b, loc, x[2], x[0], x[1])};
      })[0];
  // Loops (b, h, i, c) over the output.
  auto map4 = [&](ArrayRef<AffineExpr> e) {
    return AffineMap::get(4, 0, e, ctx);
  };
  AffineMap o4 = bsd ? map4({d(0), d(2), d(1), d(3)}) : kb.identityMap(4);
  out = kb.generic(
      {sum}, {out}, {r4, o4}, kb.parallel(4),
      [&](OpBuilder &b, Location loc, ValueRange x) {
        Value z = scalarConst(b, loc, t, 0);
        Value empty =
            arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x[0], z);
        Value q = arith::DivFOp::create(b, loc, x[1], x[0]);
        return SmallVector<Value>{arith::SelectOp::create(b, loc, empty, z, q)};
      })[0];
  results.push_back(out);
  return success();
}

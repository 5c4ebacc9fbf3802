// LLVM backend lowering of kiln's normalizations: layer_norm (and RMS),
// skip_layer_norm, ONNX layer_normalization and batch_normalization, as row
// reductions followed by one elementwise pass.
#include "KernelBuilder.h"

#include "kiln/IR/KilnDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::llvmgen::detail;

namespace {

/// Normalizes each row of x [rows, n]: (x - mean) / sqrt(var + eps) * gamma
/// + beta (gamma, beta [n]; beta may be null). With rms, no mean is taken.
Value normalizeRows(KernelBuilder &kb, Value x, Value gamma, Value beta,
                    double eps, bool rms, RankedTensorType outType) {
  auto shape = cast<RankedTensorType>(x.getType()).getShape();
  int64_t rows = shape[0], n = shape[1];
  Type t = outType.getElementType();
  RankedTensorType rowType = kb.tensor({rows}, t);
  AffineMap id = kb.identityMap(2), row = kb.dimsMap(2, {0}),
            col = kb.dimsMap(2, {1});
  auto red = kb.parallel(2, {1});
  Value zero = kb.constant(t, 0);
  Value mean;
  if (!rms) {
    Value sum =
        kb.generic({x}, {kb.filled(rowType, zero)}, {id, row}, red,
                   [](OpBuilder &b, Location loc, ValueRange a) {
                     return SmallVector<Value>{accAdd(b, loc, a[1], a[0])};
                   })[0];
    mean = kb.generic({}, {sum}, {kb.identityMap(1)}, kb.parallel(1),
                      [&](OpBuilder &b, Location loc, ValueRange a) {
                        return SmallVector<Value>{arith::DivFOp::create(
                            b, loc, a[0], scalarConst(b, loc, t, (double)n))};
                      })[0];
  }
  // inv[r] = 1 / sqrt(mean((x - mean)^2) + eps)
  SmallVector<Value> ins = {x};
  SmallVector<AffineMap> maps = {id};
  if (mean) {
    ins.push_back(mean);
    maps.push_back(row);
  }
  maps.push_back(row);
  bool hasMean = (bool)mean;
  Value sq =
      kb.generic(ins, {kb.filled(rowType, zero)}, maps, red,
                 [&](OpBuilder &b, Location loc, ValueRange a) {
                   Value d = a[0];
                   if (hasMean)
                     d = arith::SubFOp::create(b, loc, d, a[1]);
                   Value acc = a.back();
                   return SmallVector<Value>{accMulAdd(b, loc, acc, d, d)};
                 })[0];
  Value inv = kb.generic(
      {}, {sq}, {kb.identityMap(1)}, kb.parallel(1),
      [&](OpBuilder &b, Location loc, ValueRange a) {
        Value var = arith::DivFOp::create(b, loc, a[0],
                                          scalarConst(b, loc, t, (double)n));
        Value s = math::SqrtOp::create(
            b, loc,
            arith::AddFOp::create(b, loc, var, scalarConst(b, loc, t, eps)));
        return SmallVector<Value>{
            arith::DivFOp::create(b, loc, scalarConst(b, loc, t, 1.0), s)};
      })[0];
  ins = {x, inv, gamma};
  maps = {id, row, col};
  if (mean) {
    ins.push_back(mean);
    maps.push_back(row);
  }
  if (beta) {
    ins.push_back(beta);
    maps.push_back(col);
  }
  maps.push_back(id);
  bool hasBeta = (bool)beta;
  return kb.generic(ins, {kb.empty(outType)}, maps, kb.parallel(2),
                    [&](OpBuilder &b, Location loc, ValueRange a) {
                      Value d = a[0];
                      unsigned next = 3;
                      if (hasMean)
                        d = arith::SubFOp::create(b, loc, d, a[next++]);
                      Value v = arith::MulFOp::create(
                          b, loc, arith::MulFOp::create(b, loc, d, a[1]), a[2]);
                      if (hasBeta)
                        v = arith::AddFOp::create(b, loc, v, a[next]);
                      return SmallVector<Value>{v};
                    })[0];
}

/// Operand `i` (broadcastable to `normShape`) as a flat [n] tensor.
Value paramRow(KernelBuilder &kb, unsigned i, ArrayRef<int64_t> normShape,
               int64_t n) {
  auto type = cast<RankedTensorType>(kb.op->getOperand(i).getType());
  if (type.getNumElements() == n)
    return kb.input(i, {n});
  Value full = kb.map(kb.tensor(normShape, kb.storage(type)), {kb.input(i)},
                      [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  return kb.reshape(full, {n});
}

} // namespace

LogicalResult kiln::llvmgen::detail::lowerNorm(KernelBuilder &kb,
                                               Results &results) {
  Operation *op = kb.op;
  ArrayRef<int64_t> xs = kb.inShape(0);
  int64_t rank = xs.size();
  if (auto l = dyn_cast<LayerNormOp>(op)) {
    int64_t n = xs.back(), rows = n ? kb.outType().getNumElements() / n : 0;
    Value beta = l.getBeta() ? kb.input(2, {n}) : Value();
    results.push_back(normalizeRows(kb, kb.input(0, {rows, n}),
                                    kb.input(1, {n}), beta,
                                    l.getEpsilon().convertToDouble(),
                                    l.getRms(), kb.outType(0, {rows, n})));
    return success();
  }
  if (auto s = dyn_cast<SkipLayerNormOp>(op)) {
    int64_t n = xs.back(), rows = n ? kb.outType().getNumElements() / n : 0;
    // Operands: input, skip, gamma, [beta], [bias].
    unsigned next = 3;
    Value beta = s.getBeta() ? kb.input(next++, {n}) : Value();
    Value bias = s.getBias() ? kb.input(next++, {n}) : Value();
    SmallVector<Value> ins = {kb.input(0), kb.input(1)};
    if (bias)
      ins.push_back(bias);
    Value sum = kb.map(kb.outType(0), ins,
                       [](OpBuilder &b, Location loc, ValueRange a) {
                         Value v = arith::AddFOp::create(b, loc, a[0], a[1]);
                         if (a.size() > 2)
                           v = arith::AddFOp::create(b, loc, v, a[2]);
                         return v;
                       });
    results.push_back(normalizeRows(kb, kb.reshape(sum, {rows, n}),
                                    kb.input(2, {n}), beta,
                                    s.getEpsilon().convertToDouble(),
                                    s.getRms(), kb.outType(0, {rows, n})));
    if (s.getSum())
      results.push_back(sum);
    return success();
  }
  if (auto l = dyn_cast<LayerNormalizationOp>(op)) {
    int64_t axis = l.getAxis() < 0 ? l.getAxis() + rank : l.getAxis();
    SmallVector<int64_t> normShape(xs.begin() + axis, xs.end());
    int64_t n = 1;
    for (int64_t d : normShape)
      n *= d;
    int64_t rows = n ? kb.outType().getNumElements() / n : 0;
    Value gamma = paramRow(kb, 1, normShape, n);
    Value beta = l.getBias() ? paramRow(kb, 2, normShape, n) : Value();
    results.push_back(normalizeRows(kb, kb.input(0, {rows, n}), gamma, beta,
                                    l.getEpsilon().convertToDouble(), false,
                                    kb.outType(0, {rows, n})));
    return success();
  }
  if (auto bn = dyn_cast<BatchNormalizationOp>(op)) {
    int64_t c = xs[1], outer = xs[0], inner = 1;
    for (int64_t d = 2; d < rank; ++d)
      inner *= xs[d];
    double eps = bn.getEpsilon().convertToDouble();
    Type t = kb.outElem();
    SmallVector<Value> ins = {kb.input(0, {outer, c, inner})};
    for (unsigned i = 1; i <= 4; ++i)
      ins.push_back(kb.input(i, {c}));
    AffineMap id = kb.identityMap(3), ch = kb.dimsMap(3, {1});
    results.push_back(kb.generic(
        ins, {kb.empty(kb.outType(0, {outer, c, inner}))},
        {id, ch, ch, ch, ch, id}, kb.parallel(3),
        [&](OpBuilder &b, Location loc, ValueRange a) {
          // (x - mean) * (1 / sqrt(var + eps)) * scale + bias
          Value inv = arith::DivFOp::create(
              b, loc, scalarConst(b, loc, t, 1.0),
              math::SqrtOp::create(
                  b, loc,
                  arith::AddFOp::create(b, loc, a[4],
                                        scalarConst(b, loc, t, eps))));
          Value v = arith::MulFOp::create(
              b, loc, arith::SubFOp::create(b, loc, a[0], a[3]), inv);
          v = arith::AddFOp::create(
              b, loc, arith::MulFOp::create(b, loc, v, a[1]), a[2]);
          return SmallVector<Value>{v};
        })[0]);
    return success();
  }
  return kb.fail("not a normalization op");
}

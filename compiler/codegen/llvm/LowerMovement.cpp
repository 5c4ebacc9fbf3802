// LLVM backend lowering of kiln's data movement and shape ops: transpose,
// the reshape family, concat, split, slice, expand, tile, trilu, shape,
// constant_of_shape, range and constant.
#include "KernelBuilder.h"

#include "kiln/IR/KilnDialect.h"
#include "kiln/IR/TensorConversion.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>

using namespace mlir;
using namespace kiln;
using namespace kiln::llvmgen::detail;

namespace {

int64_t product(ArrayRef<int64_t> s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i)
    p *= s[i];
  return p;
}

/// A plain copy with a new shape (reshape, flatten, squeeze, unsqueeze).
Value flatCopy(KernelBuilder &kb) {
  int64_t n = kb.outType().getNumElements();
  return kb.map(kb.outType(0, {n}), {kb.input(0, {n})},
                [](OpBuilder &, Location, ValueRange a) { return a[0]; });
}

Value lowerTranspose(KernelBuilder &kb, TransposeOp t) {
  ArrayRef<int64_t> in = kb.inShape(0);
  unsigned r = in.size();
  SmallVector<int64_t> perm(t.getPerm());
  if (perm.empty())
    for (unsigned i = 0; i < r; ++i)
      perm.push_back(r - 1 - i);
  SmallVector<unsigned> inv(r);
  for (unsigned i = 0; i < r; ++i)
    inv[perm[i]] = i;
  RankedTensorType out = kb.outType();
  return kb.generic({kb.input(0)}, {kb.empty(out)},
                    {kb.dimsMap(r, inv), kb.identityMap(r)}, kb.parallel(r),
                    [](OpBuilder &, Location, ValueRange a) {
                      return SmallVector<Value>{a[0]};
                    })[0];
}

SmallVector<OpFoldResult> attrs(OpBuilder &b, ArrayRef<int64_t> v) {
  SmallVector<OpFoldResult> r;
  for (int64_t x : v)
    r.push_back(b.getIndexAttr(x));
  return r;
}

Value lowerConcat(KernelBuilder &kb, ConcatOp c) {
  ArrayRef<int64_t> os = kb.outShape();
  int64_t axis = normAxis(c.getAxis(), os.size());
  int64_t outer = product(os, 0, axis),
          inner = product(os, axis + 1, os.size());
  RankedTensorType outType = kb.outType(0, {outer, os[axis], inner});
  Value acc = kb.empty(outType);
  int64_t at = 0;
  for (unsigned i = 0; i < c->getNumOperands(); ++i) {
    int64_t d = kb.inShape(i)[axis];
    if (d == 0)
      continue;
    Value in = kb.input(i, {outer, d, inner});
    acc = tensor::InsertSliceOp::create(
        kb.b, kb.loc, in, acc, attrs(kb.b, {0, at, 0}),
        attrs(kb.b, {outer, d, inner}), attrs(kb.b, {1, 1, 1}));
    at += d;
  }
  return acc;
}

void lowerSplit(KernelBuilder &kb, SplitOp s, Results &results) {
  ArrayRef<int64_t> is = kb.inShape(0);
  int64_t axis = normAxis(s.getAxis(), is.size());
  int64_t outer = product(is, 0, axis),
          inner = product(is, axis + 1, is.size());
  Value in = kb.input(0, {outer, is[axis], inner});
  int64_t at = 0;
  for (unsigned i = 0; i < s->getNumResults(); ++i) {
    int64_t d = kb.outShape(i)[axis];
    RankedTensorType t = kb.outType(i, {outer, d, inner});
    results.push_back(tensor::ExtractSliceOp::create(
        kb.b, kb.loc, t, in, attrs(kb.b, {0, at, 0}),
        attrs(kb.b, {outer, d, inner}), attrs(kb.b, {1, 1, 1})));
    at += d;
  }
}

Value lowerSlice(KernelBuilder &kb) {
  SmallVector<int64_t> start, step;
  (void)computeSlice(kb.op, start, step); // checked by isSupported
  RankedTensorType out = kb.outType();
  if (out.getNumElements() == 0)
    return kb.empty(out);
  unsigned r = out.getRank();
  SmallVector<AffineExpr> ex;
  for (unsigned i = 0; i < r; ++i)
    ex.push_back(getAffineDimExpr(i, kb.ctx) * step[i] + start[i]);
  return kb.generic({kb.input(0)}, {kb.empty(out)},
                    {AffineMap::get(r, 0, ex, kb.ctx), kb.identityMap(r)},
                    kb.parallel(r), [](OpBuilder &, Location, ValueRange a) {
                      return SmallVector<Value>{a[0]};
                    })[0];
}

Value lowerTile(KernelBuilder &kb) {
  ArrayRef<int64_t> in = kb.inShape(0), os = kb.outShape();
  unsigned r = os.size();
  SmallVector<AffineExpr> ex;
  for (unsigned i = 0; i < r; ++i) {
    AffineExpr d = getAffineDimExpr(i, kb.ctx);
    if (in[i] == 1 && os[i] != 1)
      ex.push_back(getAffineConstantExpr(0, kb.ctx));
    else if (in[i] == os[i] || in[i] == 0)
      ex.push_back(d);
    else
      ex.push_back(d % in[i]);
  }
  RankedTensorType out = kb.outType();
  return kb.generic({kb.input(0)}, {kb.empty(out)},
                    {AffineMap::get(r, 0, ex, kb.ctx), kb.identityMap(r)},
                    kb.parallel(r), [](OpBuilder &, Location, ValueRange a) {
                      return SmallVector<Value>{a[0]};
                    })[0];
}

Value lowerTrilu(KernelBuilder &kb, TriluOp t) {
  RankedTensorType out = kb.outType();
  unsigned r = out.getRank();
  bool upper = t.getUpper();
  int64_t k = t.getK();
  Type st = out.getElementType();
  return kb.generic(
      {kb.input(0)}, {kb.empty(out)}, {kb.identityMap(r), kb.identityMap(r)},
      kb.parallel(r), [&](OpBuilder &b, Location loc, ValueRange a) {
        Type i64 = b.getI64Type();
        Value i =
            indexToInt(b, loc, linalg::IndexOp::create(b, loc, r - 2), i64);
        Value j =
            indexToInt(b, loc, linalg::IndexOp::create(b, loc, r - 1), i64);
        Value diff = arith::SubIOp::create(b, loc, j, i);
        Value kk = scalarConst(b, loc, i64, (double)k);
        Value keep = arith::CmpIOp::create(b, loc,
                                           upper ? arith::CmpIPredicate::sge
                                                 : arith::CmpIPredicate::sle,
                                           diff, kk);
        return SmallVector<Value>{arith::SelectOp::create(
            b, loc, keep, a[0], scalarConst(b, loc, st, 0))};
      })[0];
}

/// A dense constant in the kernel context holding `t` in storage types.
Value constantTensor(KernelBuilder &kb, const ref::Tensor &t,
                     RankedTensorType type) {
  ArrayRef<char> raw(static_cast<const char *>(t.raw()), t.bytes());
  auto attr = DenseElementsAttr::getFromRawBuffer(type, raw);
  return arith::ConstantOp::create(kb.b, kb.loc, type, attr);
}

Value lowerShape(KernelBuilder &kb, ShapeOp s) {
  ArrayRef<int64_t> in = kb.inShape(0);
  int64_t r = in.size();
  auto fix = [r](int64_t v) {
    return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r);
  };
  int64_t start = fix(s.getStart());
  int64_t end = fix(s.getEnd() ? (int64_t)*s.getEnd() : r);
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i)
    dims.push_back(in[i]);
  RankedTensorType type = kb.outType(0, {(int64_t)dims.size()});
  return arith::ConstantOp::create(
      kb.b, kb.loc, type,
      DenseElementsAttr::get(type, ArrayRef<int64_t>(dims)));
}

LogicalResult lowerConstantOfShape(KernelBuilder &kb, ConstantOfShapeOp c,
                                   Results &results) {
  Attribute v = c.getValue();
  Type st = kb.outType().getElementType();
  Value scalar;
  if (auto e = dyn_cast<ElementsAttr>(v)) {
    ref::Tensor t = toTensor(e);
    if (t.numel() != 1)
      return kb.fail("constant_of_shape: value must have one element");
    scalar = isa<FloatType>(st) ? kb.constant(st, t.getDouble(0))
                                : kb.constantInt(st, t.getInt(0));
  } else if (auto f = dyn_cast<FloatAttr>(v)) {
    scalar = kb.constant(st, f.getValueAsDouble());
  } else if (auto i = dyn_cast<IntegerAttr>(v)) {
    int64_t x = i.getType().isInteger(1) || i.getType().isUnsignedInteger()
                    ? (int64_t)i.getValue().getZExtValue()
                    : i.getValue().getSExtValue();
    scalar =
        isa<FloatType>(st) ? kb.constant(st, (double)x) : kb.constantInt(st, x);
  } else {
    return kb.fail("constant_of_shape: unsupported value attribute");
  }
  results.push_back(kb.filled(kb.outType(), scalar));
  return success();
}

Value lowerRange(KernelBuilder &kb) {
  Type t = kb.outElem();
  Value zero = kb.index(0);
  Value s = tensor::ExtractOp::create(kb.b, kb.loc, kb.input(0, {1}), zero);
  Value d = tensor::ExtractOp::create(kb.b, kb.loc, kb.input(2, {1}), zero);
  bool fl = isa<FloatType>(t);
  if (fl && !t.isF64()) { // s + i*d in double, like the reference
    s = arith::ExtFOp::create(kb.b, kb.loc, kb.b.getF64Type(), s);
    d = arith::ExtFOp::create(kb.b, kb.loc, kb.b.getF64Type(), d);
  }
  RankedTensorType out = kb.outType();
  return kb.generic(
      {}, {kb.empty(out)}, {kb.identityMap(1)}, kb.parallel(1),
      [&](OpBuilder &b, Location loc, ValueRange) {
        Value i = linalg::IndexOp::create(b, loc, 0);
        Value v;
        if (fl) {
          Value fi = arith::SIToFPOp::create(
              b, loc, s.getType(), indexToInt(b, loc, i, b.getI64Type()));
          v = arith::AddFOp::create(b, loc, s,
                                    arith::MulFOp::create(b, loc, fi, d));
          if (v.getType() != t)
            v = arith::TruncFOp::create(b, loc, t, v);
        } else {
          Value ii = indexToInt(b, loc, i, t);
          v = arith::AddIOp::create(b, loc, s,
                                    arith::MulIOp::create(b, loc, ii, d));
        }
        return SmallVector<Value>{v};
      })[0];
}

} // namespace

std::string
kiln::llvmgen::detail::computeSlice(Operation *op,
                                    SmallVectorImpl<int64_t> &start,
                                    SmallVectorImpl<int64_t> &step) {
  auto in = cast<RankedTensorType>(op->getOperand(0).getType()).getShape();
  auto out = cast<RankedTensorType>(op->getResult(0).getType()).getShape();
  std::optional<SmallVector<int64_t>> starts =
                                          getConstantInts(op->getOperand(1)),
                                      ends = getConstantInts(op->getOperand(2)),
                                      axes = getConstantInts(op->getOperand(3)),
                                      steps =
                                          getConstantInts(op->getOperand(4));
  if (!starts || !ends || !axes || !steps)
    return "slice: starts, ends, axes and steps must be constants";
  size_t n = starts->size();
  if (ends->size() != n || (!axes->empty() && axes->size() != n) ||
      (!steps->empty() && steps->size() != n))
    return "slice: starts, ends, axes and steps have different lengths";
  int64_t rank = in.size();
  start.assign(rank, 0);
  step.assign(rank, 1);
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < n; ++i) {
    int64_t a = axes->empty() ? (int64_t)i : (*axes)[i];
    if (a < -rank || a >= rank)
      return "slice: axis out of range";
    a = normAxis(a, rank);
    if (seen[a])
      return "slice: repeated axis";
    seen[a] = true;
    int64_t dim = in[a], st = steps->empty() ? 1 : (*steps)[i];
    if (st == 0)
      return "slice: step must not be 0";
    int64_t s = (*starts)[i], e = (*ends)[i], count = 0;
    if (s < 0)
      s = s < -dim ? -1 : s + dim;
    if (e < 0)
      e = e < -dim ? -1 : e + dim;
    if (dim == 0) {
      s = 0;
    } else if (st > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      count = e > s ? (e - s - 1) / st + 1 : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      int64_t negStep = st == INT64_MIN ? INT64_MAX : -st;
      count = s > e ? (s - e - 1) / negStep + 1 : 0;
    }
    if (count <= 1)
      st = 1;
    if (count != out[a])
      return "slice: the result type does not match the constant bounds";
    start[a] = count > 0 ? s : 0;
    step[a] = st;
  }
  return "";
}

LogicalResult kiln::llvmgen::detail::lowerMovement(KernelBuilder &kb,
                                                   Results &results) {
  Operation *op = kb.op;
  if (isa<ReshapeOp, FlattenOp, SqueezeOp, UnsqueezeOp>(op)) {
    results.push_back(flatCopy(kb));
    return success();
  }
  if (auto t = dyn_cast<TransposeOp>(op)) {
    results.push_back(lowerTranspose(kb, t));
    return success();
  }
  if (auto c = dyn_cast<ConcatOp>(op)) {
    results.push_back(lowerConcat(kb, c));
    return success();
  }
  if (auto s = dyn_cast<SplitOp>(op)) {
    lowerSplit(kb, s, results);
    return success();
  }
  if (isa<SliceOp>(op)) {
    results.push_back(lowerSlice(kb));
    return success();
  }
  if (isa<ExpandOp>(op)) {
    results.push_back(
        kb.map(kb.outType(), {kb.input(0)},
               [](OpBuilder &, Location, ValueRange a) { return a[0]; }));
    return success();
  }
  if (isa<TileOp>(op)) {
    results.push_back(lowerTile(kb));
    return success();
  }
  if (auto t = dyn_cast<TriluOp>(op)) {
    results.push_back(lowerTrilu(kb, t));
    return success();
  }
  if (auto s = dyn_cast<ShapeOp>(op)) {
    results.push_back(lowerShape(kb, s));
    return success();
  }
  if (auto c = dyn_cast<ConstantOfShapeOp>(op))
    return lowerConstantOfShape(kb, c, results);
  if (isa<RangeOp>(op)) {
    results.push_back(lowerRange(kb));
    return success();
  }
  if (auto c = dyn_cast<ConstantOp>(op)) {
    ref::Tensor t;
    try {
      t = toTensor(cast<ElementsAttr>(c.getValue()));
    } catch (const std::exception &e) {
      return kb.fail(Twine("constant: ") + e.what());
    }
    int64_t n = t.numel();
    results.push_back(constantTensor(kb, t, kb.outType(0, {n})));
    return success();
  }
  return kb.fail("not a data movement op");
}

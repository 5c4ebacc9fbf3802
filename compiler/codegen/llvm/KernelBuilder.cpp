// The kernel builder of the LLVM backend: argument views, tensor and generic
// helpers, and scalar conversions shared by the per-op lowerings.
#include "KernelBuilder.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace kiln::llvmgen::detail;

Kind kiln::llvmgen::detail::kindOf(Type t) {
  if (auto shaped = dyn_cast<ShapedType>(t))
    t = shaped.getElementType();
  if (isa<FloatType>(t))
    return Kind::Float;
  if (t.isInteger(1))
    return Kind::Bool;
  return Kind::Int;
}

KernelBuilder::KernelBuilder(Operation *op, func::FuncOp fn)
    : op(op), fn(fn), b(fn.getContext()), loc(fn.getLoc()),
      ctx(fn.getContext()) {
  b.setInsertionPointToStart(&fn.getBody().front());
  inputs_.resize(op->getNumOperands());
}

LogicalResult KernelBuilder::fail(const Twine &why) {
  error = why.str();
  return failure();
}

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

Type KernelBuilder::elem(Type t) {
  if (auto shaped = dyn_cast<ShapedType>(t))
    t = shaped.getElementType();
  if (t.isF32())
    return Float32Type::get(ctx);
  if (t.isF64())
    return Float64Type::get(ctx);
  if (t.isF16())
    return Float16Type::get(ctx);
  if (t.isBF16())
    return BFloat16Type::get(ctx);
  if (auto i = dyn_cast<IntegerType>(t))
    return IntegerType::get(ctx, i.getWidth());
  if (t.isIndex())
    return IndexType::get(ctx);
  return Type();
}

Type KernelBuilder::storage(Type t) {
  Type e = elem(t);
  if (e && e.isInteger(1))
    return IntegerType::get(ctx, 8);
  return e;
}

RankedTensorType KernelBuilder::tensor(ArrayRef<int64_t> shape,
                                       Type storageElem) {
  return RankedTensorType::get(shape, storageElem);
}

ArrayRef<int64_t> KernelBuilder::inShape(unsigned i) {
  return cast<RankedTensorType>(op->getOperand(i).getType()).getShape();
}

ArrayRef<int64_t> KernelBuilder::outShape(unsigned i) {
  return cast<RankedTensorType>(op->getResult(i).getType()).getShape();
}

Type KernelBuilder::inElem(unsigned i) {
  return elem(op->getOperand(i).getType());
}

Type KernelBuilder::outElem(unsigned i) {
  return elem(op->getResult(i).getType());
}

RankedTensorType KernelBuilder::outType(unsigned i) {
  return outType(i, outShape(i));
}

RankedTensorType KernelBuilder::outType(unsigned i, ArrayRef<int64_t> shape) {
  return tensor(shape, storage(op->getResult(i).getType()));
}

//===----------------------------------------------------------------------===//
// Arguments
//===----------------------------------------------------------------------===//

Value KernelBuilder::input(unsigned i) { return input(i, inShape(i)); }

Value KernelBuilder::input(unsigned i, ArrayRef<int64_t> viewShape) {
  if (inputs_[i]) {
    if (cast<RankedTensorType>(inputs_[i].getType()).getShape() == viewShape)
      return inputs_[i];
    return reshape(inputs_[i], viewShape);
  }
  Type st = storage(op->getOperand(i).getType());
  if (llvm::is_contained(viewShape, 0)) {
    // Nothing to read; the argument keeps its placeholder type (MLIR's
    // bare-pointer convention rejects zero-sized memrefs).
    inputs_[i] = empty(tensor(viewShape, st));
    return inputs_[i];
  }
  BlockArgument arg = fn.getArgument(i);
  arg.setType(MemRefType::get(viewShape, st));
  OpBuilder entry = OpBuilder::atBlockBegin(&fn.getBody().front());
  inputs_[i] = bufferization::ToTensorOp::create(
      entry, loc, tensor(viewShape, st), arg, /*restrict=*/true,
      /*writable=*/false);
  return inputs_[i];
}

//===----------------------------------------------------------------------===//
// Scalars and tensors
//===----------------------------------------------------------------------===//

Value kiln::llvmgen::detail::scalarConst(OpBuilder &b, Location loc, Type t,
                                         double v) {
  if (auto f = dyn_cast<FloatType>(t))
    return arith::ConstantOp::create(b, loc, FloatAttr::get(f, v));
  if (t.isIndex())
    return arith::ConstantIndexOp::create(b, loc, (int64_t)v);
  return arith::ConstantOp::create(b, loc, IntegerAttr::get(t, (int64_t)v));
}

Value KernelBuilder::constant(Type t, double v) {
  return scalarConst(b, loc, t, v);
}

Value KernelBuilder::constantInt(Type t, int64_t v) {
  if (isa<FloatType>(t))
    return constant(t, (double)v);
  return arith::ConstantOp::create(b, loc, IntegerAttr::get(t, v));
}

Value KernelBuilder::index(int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value KernelBuilder::empty(RankedTensorType t) {
  return tensor::EmptyOp::create(b, loc, t.getShape(), t.getElementType());
}

Value KernelBuilder::filled(RankedTensorType t, Value scalar) {
  return linalg::FillOp::create(b, loc, scalar, empty(t)).getResult(0);
}

Value KernelBuilder::reshape(Value t, ArrayRef<int64_t> shape) {
  auto type = cast<RankedTensorType>(t.getType());
  if (type.getShape() == shape)
    return t;
  Type e = type.getElementType();
  int64_t n = type.getNumElements();
  Value flat = t;
  if (type.getRank() == 0) {
    flat = tensor::ExpandShapeOp::create(b, loc, tensor({1}, e), t,
                                         ArrayRef<ReassociationIndices>{});
  } else if (type.getRank() > 1) {
    ReassociationIndices all;
    for (int64_t d = 0; d < type.getRank(); ++d)
      all.push_back(d);
    flat = tensor::CollapseShapeOp::create(b, loc, tensor({n}, e), t,
                                           ArrayRef<ReassociationIndices>{all});
  }
  if (shape.empty())
    return tensor::CollapseShapeOp::create(b, loc, tensor(shape, e), flat,
                                           ArrayRef<ReassociationIndices>{});
  if (shape.size() == 1)
    return flat;
  ReassociationIndices all;
  for (size_t d = 0; d < shape.size(); ++d)
    all.push_back((int64_t)d);
  return tensor::ExpandShapeOp::create(b, loc, tensor(shape, e), flat,
                                       ArrayRef<ReassociationIndices>{all});
}

SmallVector<Value> KernelBuilder::generic(ValueRange ins, ValueRange outs,
                                          ArrayRef<AffineMap> maps,
                                          ArrayRef<utils::IteratorType> iters,
                                          BodyFn body) {
  SmallVector<Type> resultTypes;
  for (Value o : outs)
    resultTypes.push_back(o.getType());
  auto g = linalg::GenericOp::create(
      b, loc, resultTypes, ins, outs, maps, iters,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        SmallVector<Value> yielded = body(nb, nl, args);
        linalg::YieldOp::create(nb, nl, yielded);
      });
  return SmallVector<Value>(g.getResults());
}

AffineMap KernelBuilder::identityMap(unsigned rank) {
  return AffineMap::getMultiDimIdentityMap(rank, ctx);
}

AffineMap KernelBuilder::dimsMap(unsigned n, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(n, 0, exprs, ctx);
}

AffineMap KernelBuilder::broadcastMap(ArrayRef<int64_t> in,
                                      ArrayRef<int64_t> out) {
  unsigned r = in.size(), rr = out.size();
  SmallVector<AffineExpr> exprs;
  for (unsigned i = 0; i < r; ++i) {
    unsigned j = i + rr - r;
    if (in[i] == 1 && out[j] != 1)
      exprs.push_back(getAffineConstantExpr(0, ctx));
    else
      exprs.push_back(getAffineDimExpr(j, ctx));
  }
  return AffineMap::get(rr, 0, exprs, ctx);
}

SmallVector<utils::IteratorType>
KernelBuilder::parallel(unsigned n, ArrayRef<unsigned> reductionDims) {
  SmallVector<utils::IteratorType> iters(n, utils::IteratorType::parallel);
  for (unsigned d : reductionDims)
    iters[d] = utils::IteratorType::reduction;
  return iters;
}

Value KernelBuilder::map(RankedTensorType outType, ValueRange ins,
                         ScalarFn fn) {
  SmallVector<AffineMap> maps;
  for (Value in : ins)
    maps.push_back(broadcastMap(cast<RankedTensorType>(in.getType()).getShape(),
                                outType.getShape()));
  maps.push_back(identityMap(outType.getRank()));
  unsigned nIn = ins.size();
  return generic(ins, {empty(outType)}, maps, parallel(outType.getRank()),
                 [&](OpBuilder &nb, Location nl, ValueRange args) {
                   return SmallVector<Value>{fn(nb, nl, args.take_front(nIn))};
                 })[0];
}

//===----------------------------------------------------------------------===//
// Scalar helpers
//===----------------------------------------------------------------------===//

Value kiln::llvmgen::detail::toBool(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isInteger(1))
    return v;
  Value zero = scalarConst(b, loc, v.getType(), 0);
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, v, zero);
}

Value kiln::llvmgen::detail::fromBool(OpBuilder &b, Location loc, Value v) {
  if (!v.getType().isInteger(1))
    return v;
  return arith::ExtUIOp::create(b, loc, b.getI8Type(), v);
}

Value kiln::llvmgen::detail::indexToInt(OpBuilder &b, Location loc, Value idx,
                                        Type intType) {
  return arith::IndexCastOp::create(b, loc, intType, idx);
}

Value kiln::llvmgen::detail::intToIndex(OpBuilder &b, Location loc, Value v) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}

Value kiln::llvmgen::detail::convertScalar(OpBuilder &b, Location loc, Value v,
                                           Type from, Type to) {
  if (from == to)
    return v;
  Kind fk = kindOf(from), tk = kindOf(to);
  if (fk == Kind::Float) {
    auto ff = cast<FloatType>(from);
    if (tk == Kind::Float) {
      auto tf = cast<FloatType>(to);
      if (tf.getWidth() > ff.getWidth())
        return arith::ExtFOp::create(b, loc, to, v);
      return arith::TruncFOp::create(b, loc, to, v);
    }
    if (tk == Kind::Bool) // NaN is true, as in ONNX Cast
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, v,
                                   scalarConst(b, loc, from, 0));
    // Truncate toward zero, saturate to int64, NaN -> 0, then wrap.
    Type i64 = b.getI64Type();
    Value big = scalarConst(b, loc, from, 9.2233720368547758e18);
    Value small = scalarConst(b, loc, from, -9.2233720368547758e18);
    Value conv = arith::FPToSIOp::create(b, loc, i64, v);
    Value isBig =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, v, big);
    Value isSmall =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLE, v, small);
    Value isNan =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO, v, v);
    Value r = arith::SelectOp::create(
        b, loc, isBig,
        arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(INT64_MAX)),
        conv);
    r = arith::SelectOp::create(
        b, loc, isSmall,
        arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(INT64_MIN)), r);
    r = arith::SelectOp::create(b, loc, isNan, scalarConst(b, loc, i64, 0), r);
    if (to.getIntOrFloatBitWidth() < 64)
      r = arith::TruncIOp::create(b, loc, to, r);
    return r;
  }
  if (fk == Kind::Bool) {
    if (tk == Kind::Float)
      return arith::UIToFPOp::create(b, loc, to, v);
    return arith::ExtUIOp::create(b, loc, to, v);
  }
  // Integer source.
  if (tk == Kind::Float) {
    // Through f64 like the reference ((float)(double)i64).
    if (from.getIntOrFloatBitWidth() > 32 && !to.isF64()) {
      Value d = arith::SIToFPOp::create(b, loc, b.getF64Type(), v);
      return arith::TruncFOp::create(b, loc, to, d);
    }
    return arith::SIToFPOp::create(b, loc, to, v);
  }
  if (tk == Kind::Bool)
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, v,
                                 scalarConst(b, loc, from, 0));
  unsigned fw = from.getIntOrFloatBitWidth(), tw = to.getIntOrFloatBitWidth();
  if (tw > fw)
    return arith::ExtSIOp::create(b, loc, to, v);
  return arith::TruncIOp::create(b, loc, to, v);
}

Value kiln::llvmgen::detail::geluScalar(OpBuilder &b, Location loc, Value x,
                                        bool tanhApprox) {
  Type t = x.getType();
  Value half = scalarConst(b, loc, t, 0.5);
  Value one = scalarConst(b, loc, t, 1.0);
  Value inner;
  if (tanhApprox) {
    Value x3 =
        arith::MulFOp::create(b, loc, x, arith::MulFOp::create(b, loc, x, x));
    Value poly = arith::AddFOp::create(
        b, loc, x,
        arith::MulFOp::create(b, loc, scalarConst(b, loc, t, 0.044715), x3));
    Value arg = arith::MulFOp::create(
        b, loc, scalarConst(b, loc, t, 0.79788456080286535588), poly);
    inner = math::TanhOp::create(b, loc, arg);
  } else {
    Value arg = arith::MulFOp::create(
        b, loc, x, scalarConst(b, loc, t, 0.70710678118654752440));
    inner = math::ErfOp::create(b, loc, arg);
  }
  Value hx = arith::MulFOp::create(b, loc, half, x);
  return arith::MulFOp::create(b, loc, hx,
                               arith::AddFOp::create(b, loc, one, inner));
}

static arith::FastMathFlags reductionFlags() {
  return arith::FastMathFlags::reassoc | arith::FastMathFlags::contract;
}

Value kiln::llvmgen::detail::accAdd(OpBuilder &b, Location loc, Value acc,
                                    Value x) {
  if (isa<FloatType>(acc.getType()))
    return arith::AddFOp::create(b, loc, acc, x, reductionFlags());
  return arith::AddIOp::create(b, loc, acc, x);
}

Value kiln::llvmgen::detail::accMul(OpBuilder &b, Location loc, Value acc,
                                    Value x) {
  if (isa<FloatType>(acc.getType()))
    return arith::MulFOp::create(b, loc, acc, x, reductionFlags());
  return arith::MulIOp::create(b, loc, acc, x);
}

Value kiln::llvmgen::detail::accMulAdd(OpBuilder &b, Location loc, Value acc,
                                       Value x, Value y) {
  if (isa<FloatType>(acc.getType()))
    return accAdd(b, loc, acc,
                  arith::MulFOp::create(b, loc, x, y, reductionFlags()));
  return arith::AddIOp::create(b, loc, acc,
                               arith::MulIOp::create(b, loc, x, y));
}

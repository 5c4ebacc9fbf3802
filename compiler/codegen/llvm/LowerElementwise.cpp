// LLVM backend lowering of elementwise kiln ops (unary math, gelu, cast,
// broadcasting binary arithmetic and comparisons, where) to linalg.generic.
#include "KernelBuilder.h"

#include "kiln/IR/KilnDialect.h"
#include "kiln/IR/OpKinds.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::llvmgen::detail;

namespace {

using Un = ref::UnaryKind;
using Bin = ref::BinaryKind;

Value unaryScalar(OpBuilder &b, Location loc, Un k, Value x) {
  Type t = x.getType();
  Kind kind = kindOf(t);
  auto c = [&](double v) { return scalarConst(b, loc, t, v); };
  switch (k) {
  case Un::Identity:
    return x;
  case Un::Neg:
    if (kind == Kind::Float)
      return arith::NegFOp::create(b, loc, x);
    return arith::SubIOp::create(b, loc, c(0), x);
  case Un::Abs:
    if (kind == Kind::Float)
      return math::AbsFOp::create(b, loc, x);
    return arith::SelectOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x, c(0)),
        arith::SubIOp::create(b, loc, c(0), x), x);
  case Un::Sqrt:
    return math::SqrtOp::create(b, loc, x);
  case Un::Reciprocal:
    return arith::DivFOp::create(b, loc, c(1), x);
  case Un::Exp:
    return math::ExpOp::create(b, loc, x);
  case Un::Log:
    return math::LogOp::create(b, loc, x);
  case Un::Erf:
    return math::ErfOp::create(b, loc, x);
  case Un::Tanh:
    return math::TanhOp::create(b, loc, x);
  case Un::Relu:
    if (kind == Kind::Float) // NaN stays NaN
      return arith::SelectOp::create(
          b, loc,
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UGT, x, c(0)), x,
          c(0));
    return arith::MaxSIOp::create(b, loc, x, c(0));
  case Un::Sigmoid: {
    // e = exp(-|x|); x >= 0 ? 1/(1+e) : e/(1+e), stable for both signs.
    Value e = math::ExpOp::create(
        b, loc, arith::NegFOp::create(b, loc, math::AbsFOp::create(b, loc, x)));
    Value s = arith::DivFOp::create(b, loc, c(1),
                                    arith::AddFOp::create(b, loc, c(1), e));
    Value pos =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, x, c(0));
    return arith::SelectOp::create(b, loc, pos, s,
                                   arith::MulFOp::create(b, loc, e, s));
  }
  case Un::Sin:
    return math::SinOp::create(b, loc, x);
  case Un::Cos:
    return math::CosOp::create(b, loc, x);
  case Un::Floor:
    return math::FloorOp::create(b, loc, x);
  case Un::Ceil:
    return math::CeilOp::create(b, loc, x);
  case Un::Not: {
    Value t1 = arith::ConstantOp::create(b, loc, b.getBoolAttr(true));
    return arith::XOrIOp::create(b, loc, toBool(b, loc, x), t1);
  }
  }
  return x;
}

/// Integer power by squaring (negative exponents: only +-1 bases give
/// non-zero results), in i64 then truncated like the reference.
Value intPow(OpBuilder &b, Location loc, Value a, Value e) {
  Type t = a.getType();
  Type i64 = b.getI64Type();
  if (t != i64)
    a = arith::ExtSIOp::create(b, loc, i64, a);
  if (e.getType() != i64)
    e = arith::ExtSIOp::create(b, loc, i64, e);
  auto c = [&](int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v));
  };
  Value lb = arith::ConstantIndexOp::create(b, loc, 0);
  Value ub = arith::ConstantIndexOp::create(b, loc, 64);
  Value step = arith::ConstantIndexOp::create(b, loc, 1);
  auto loop = scf::ForOp::create(
      b, loc, lb, ub, step, ValueRange{c(1), a, e},
      [&](OpBuilder &nb, Location nl, Value, ValueRange it) {
        Value r = it[0], base = it[1], ex = it[2];
        Value bit = arith::AndIOp::create(nb, nl, ex, c(1));
        Value odd =
            arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ne, bit, c(0));
        Value nr = arith::SelectOp::create(
            nb, nl, odd, arith::MulIOp::create(nb, nl, r, base), r);
        Value nbase = arith::MulIOp::create(nb, nl, base, base);
        Value nex = arith::ShRUIOp::create(nb, nl, ex, c(1));
        scf::YieldOp::create(nb, nl, ValueRange{nr, nbase, nex});
      });
  Value pos = loop.getResult(0);
  // Negative exponent: 1 -> 1, -1 -> +-1 by parity, others -> 0.
  Value isOne =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, a, c(1));
  Value isMinusOne =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, a, c(-1));
  Value odd =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne,
                            arith::AndIOp::create(b, loc, e, c(1)), c(0));
  Value neg = arith::SelectOp::create(
      b, loc, isOne, c(1),
      arith::SelectOp::create(b, loc, isMinusOne,
                              arith::SelectOp::create(b, loc, odd, c(-1), c(1)),
                              c(0)));
  Value eNeg =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, e, c(0));
  Value r = arith::SelectOp::create(b, loc, eNeg, neg, pos);
  if (t != i64)
    r = arith::TruncIOp::create(b, loc, t, r);
  return r;
}

Value binaryScalar(OpBuilder &b, Location loc, Bin k, Value x, Value y) {
  Type t = x.getType();
  Kind kind = kindOf(t);
  auto c = [&](double v) { return scalarConst(b, loc, t, v); };
  if (k == Bin::And || k == Bin::Or || k == Bin::Xor) {
    Value p = toBool(b, loc, x), q = toBool(b, loc, y);
    if (k == Bin::And)
      return arith::AndIOp::create(b, loc, p, q);
    if (k == Bin::Or)
      return arith::OrIOp::create(b, loc, p, q);
    return arith::XOrIOp::create(b, loc, p, q);
  }
  if (k == Bin::Equal || k == Bin::Less || k == Bin::LessOrEqual || k == Bin::Greater ||
      k == Bin::GreaterOrEqual) {
    if (kind == Kind::Float) {
      arith::CmpFPredicate p = k == Bin::Equal   ? arith::CmpFPredicate::OEQ
                               : k == Bin::Less ? arith::CmpFPredicate::OLT
                               : k == Bin::LessOrEqual ? arith::CmpFPredicate::OLE
                               : k == Bin::Greater ? arith::CmpFPredicate::OGT
                                              : arith::CmpFPredicate::OGE;
      return arith::CmpFOp::create(b, loc, p, x, y);
    }
    if (kind == Kind::Bool) {
      x = toBool(b, loc, x);
      y = toBool(b, loc, y);
    }
    arith::CmpIPredicate p = k == Bin::Equal   ? arith::CmpIPredicate::eq
                             : k == Bin::Less ? arith::CmpIPredicate::slt
                             : k == Bin::LessOrEqual ? arith::CmpIPredicate::sle
                             : k == Bin::Greater ? arith::CmpIPredicate::sgt
                                            : arith::CmpIPredicate::sge;
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  if (kind == Kind::Float) {
    switch (k) {
    case Bin::Add:
      return arith::AddFOp::create(b, loc, x, y);
    case Bin::Sub:
      return arith::SubFOp::create(b, loc, x, y);
    case Bin::Mul:
      return arith::MulFOp::create(b, loc, x, y);
    case Bin::Div:
      return arith::DivFOp::create(b, loc, x, y);
    case Bin::Pow:
      return math::PowFOp::create(b, loc, x,
                                  convertScalar(b, loc, y, y.getType(), t));
    case Bin::Max:
      return arith::MaximumFOp::create(b, loc, x, y);
    case Bin::Min:
      return arith::MinimumFOp::create(b, loc, x, y);
    case Bin::FMod:
      return arith::RemFOp::create(b, loc, x, y);
    case Bin::Mod: {
      // Python %: the result takes the divisor's sign.
      Value r = arith::RemFOp::create(b, loc, x, y);
      Value nz =
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::ONE, r, c(0));
      Value rn =
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, r, c(0));
      Value yn =
          arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, y, c(0));
      Value fix = arith::AndIOp::create(b, loc, nz,
                                        arith::XOrIOp::create(b, loc, rn, yn));
      return arith::SelectOp::create(b, loc, fix,
                                     arith::AddFOp::create(b, loc, r, y), r);
    }
    default:
      break;
    }
    return x;
  }
  switch (k) {
  case Bin::Add:
    return arith::AddIOp::create(b, loc, x, y);
  case Bin::Sub:
    return arith::SubIOp::create(b, loc, x, y);
  case Bin::Mul:
    return arith::MulIOp::create(b, loc, x, y);
  case Bin::Max:
    return arith::MaxSIOp::create(b, loc, x, y);
  case Bin::Min:
    return arith::MinSIOp::create(b, loc, x, y);
  case Bin::Pow: {
    if (isa<FloatType>(y.getType())) {
      Type f64 = b.getF64Type();
      Value p =
          math::PowFOp::create(b, loc, convertScalar(b, loc, x, t, f64),
                               convertScalar(b, loc, y, y.getType(), f64));
      return convertScalar(b, loc, p, f64, t);
    }
    return intPow(b, loc, x, y);
  }
  case Bin::Div:
  case Bin::Mod:
  case Bin::FMod: {
    // The reference rejects division by zero; a kernel cannot report it, so
    // it yields 0 there. -1 is special-cased to avoid INT_MIN / -1.
    Value isZero =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, y, c(0));
    Value isM1 =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, y, c(-1));
    Value bad = arith::OrIOp::create(b, loc, isZero, isM1);
    Value safe = arith::SelectOp::create(b, loc, bad, c(1), y);
    Value r;
    if (k == Bin::Div) {
      r = arith::DivSIOp::create(b, loc, x, safe);
      r = arith::SelectOp::create(b, loc, isM1,
                                  arith::SubIOp::create(b, loc, c(0), x), r);
    } else {
      r = arith::RemSIOp::create(b, loc, x, safe);
      if (k == Bin::Mod) {
        Value nz =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, r, c(0));
        Value rn =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, r, c(0));
        Value yn =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, y, c(0));
        Value fix = arith::AndIOp::create(
            b, loc, nz, arith::XOrIOp::create(b, loc, rn, yn));
        r = arith::SelectOp::create(b, loc, fix,
                                    arith::AddIOp::create(b, loc, r, y), r);
      }
    }
    return arith::SelectOp::create(b, loc, isZero, c(0), r);
  }
  default:
    break;
  }
  return x;
}

} // namespace

LogicalResult kiln::llvmgen::detail::lowerElementwise(KernelBuilder &kb,
                                                      Results &results) {
  Operation *op = kb.op;
  RankedTensorType outType = kb.outType();
  Type outElem = kb.outElem();
  if (std::optional<Un> k = unaryKind(op)) {
    Value x = kb.input(0);
    if (*k == Un::Identity) { // a flat copy
      int64_t n = outType.getNumElements();
      x = kb.input(0, {n});
      outType = kb.outType(0, {n});
    }
    results.push_back(
        kb.map(outType, {x}, [&](OpBuilder &b, Location loc, ValueRange a) {
          return fromBool(b, loc, unaryScalar(b, loc, *k, a[0]));
        }));
    return success();
  }
  if (std::optional<Bin> k = binaryKind(op)) {
    results.push_back(
        kb.map(outType, {kb.input(0), kb.input(1)},
               [&](OpBuilder &b, Location loc, ValueRange a) {
                 return fromBool(b, loc, binaryScalar(b, loc, *k, a[0], a[1]));
               }));
    return success();
  }
  if (auto g = dyn_cast<GeluOp>(op)) {
    bool approx = g.getApproximate() == "tanh";
    results.push_back(kb.map(outType, {kb.input(0)},
                             [&](OpBuilder &b, Location loc, ValueRange a) {
                               return geluScalar(b, loc, a[0], approx);
                             }));
    return success();
  }
  if (isa<CastOp>(op)) {
    Type from = kb.inElem(0);
    int64_t n = outType.getNumElements();
    results.push_back(kb.map(
        kb.outType(0, {n}), {kb.input(0, {n})},
        [&](OpBuilder &b, Location loc, ValueRange a) {
          Value v = kindOf(from) == Kind::Bool ? toBool(b, loc, a[0]) : a[0];
          return fromBool(b, loc, convertScalar(b, loc, v, from, outElem));
        }));
    return success();
  }
  if (isa<WhereOp>(op)) {
    results.push_back(
        kb.map(outType, {kb.input(0), kb.input(1), kb.input(2)},
               [&](OpBuilder &b, Location loc, ValueRange a) -> Value {
                 return arith::SelectOp::create(b, loc, toBool(b, loc, a[0]),
                                                a[1], a[2]);
               }));
    return success();
  }
  return kb.fail("not an elementwise op");
}

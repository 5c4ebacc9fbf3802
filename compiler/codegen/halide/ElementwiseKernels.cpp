// Halide kernels for elementwise kiln ops: unary math, gelu, cast, binary ops
// and where with numpy broadcasting, batch normalization and trilu.
#include "Lowering.h"

#include "kiln/IR/KilnDialect.h"
#include "kiln/IR/OpKinds.h"

#include "llvm/ADT/TypeSwitch.h"

#include <functional>

using namespace Halide;

namespace kiln::halide::detail {
namespace {

using ExprFn = std::function<Expr(const std::vector<Expr> &)>;

/// out = fn(operands...) over the broadcast of `operands` to result 0.
void elementwise(KernelBuilder &kb, const std::vector<unsigned> &operands,
                 const ExprFn &fn) {
  Shape out = kb.resultShape(0);
  std::vector<Shape> shapes;
  for (unsigned o : operands)
    shapes.push_back(kb.operandShape(o));
  BroadcastPlan plan = planBroadcast(out, shapes);
  std::vector<Var> v = kb.vars(plan.out.size());
  std::vector<Expr> vals;
  for (size_t i = 0; i < operands.size(); ++i) {
    int in = kb.input(operands[i], plan.operands[i]);
    vals.push_back(kb.load(in, broadcastIndex(plan.operands[i], v)));
  }
  Func f = kb.output("out", v, {fn(vals)}, {0}, plan.out);
  scheduleElementwise(kb, f, plan.out, storageType(kb.resultDType(0)));
}

bool isInt(ref::DType t) {
  return t == ref::DType::I64 || t == ref::DType::I32 || t == ref::DType::I8 ||
         t == ref::DType::U8;
}

void requireFloat(KernelBuilder &kb, unsigned operand, const char *what) {
  if (!isFloatType(kb.operandDType(operand)))
    unsupported(std::string(what) + " needs a float tensor");
}

void requireNot64(KernelBuilder &kb, unsigned operand, const char *what) {
  if (kb.operandDType(operand) == ref::DType::F64)
    unsupported(std::string(what) +
                " on f64 is not supported (f32-accurate approximation)");
}

Expr zeroOf(Type t) { return cast(t, 0); }

/// Integer division truncating toward zero (Halide's rounds to -inf for b > 0).
Expr truncDiv(Expr a, Expr b) {
  Type t = a.type();
  Expr q = cast(t, abs(a)) / cast(t, abs(b));
  return select((a < zeroOf(t)) != (b < zeroOf(t)), -q, q);
}

bool lowerUnary(KernelBuilder &kb) {
  using U = std::function<Expr(Expr)>;
  mlir::Operation *op = kb.op;
  ref::DType dt = kb.operandDType(0);
  Type ct = computeType(dt);
  bool isF = isFloatType(dt);
  auto floatOnly = [&](const char *name) {
    if (!isF)
      unsupported(std::string(name) + " needs a float tensor");
  };
  std::optional<U> fn =
      llvm::TypeSwitch<mlir::Operation *, std::optional<U>>(op)
          .Case([&](IdentityOp) { return U([](Expr x) { return x; }); })
          .Case([&](NegOp) {
            if (dt == ref::DType::Bool || dt == ref::DType::U8)
              unsupported("neg needs a signed tensor");
            return U([](Expr x) { return -x; });
          })
          .Case([&](AbsOp) {
            if (dt == ref::DType::Bool)
              unsupported("abs of a bool tensor");
            return U([ct](Expr x) { return cast(ct, abs(x)); });
          })
          .Case([&](ReluOp) {
            if (dt == ref::DType::Bool)
              unsupported("relu of a bool tensor");
            return U([ct](Expr x) { return max(x, zeroOf(ct)); });
          })
          .Case([&](NotOp) {
            if (dt != ref::DType::Bool)
              unsupported("not needs a bool tensor");
            return U([](Expr x) { return !x; });
          })
          .Case([&](SqrtOp) {
            floatOnly("sqrt");
            return U([](Expr x) { return sqrt(x); });
          })
          .Case([&](ReciprocalOp) {
            floatOnly("reciprocal");
            return U([ct](Expr x) { return cast(ct, 1) / x; });
          })
          .Case([&](ExpOp) {
            floatOnly("exp");
            return U([](Expr x) { return exp(x); });
          })
          .Case([&](LogOp) {
            floatOnly("log");
            return U([](Expr x) { return log(x); });
          })
          .Case([&](ErfOp) {
            floatOnly("erf");
            requireNot64(kb, 0, "erf");
            return U([](Expr x) { return erfApprox(x); });
          })
          .Case([&](TanhOp) {
            floatOnly("tanh");
            requireNot64(kb, 0, "tanh");
            return U([](Expr x) { return tanhApprox(x); });
          })
          .Case([&](SigmoidOp) {
            floatOnly("sigmoid");
            return U(
                [ct](Expr x) { return cast(ct, 1) / (cast(ct, 1) + exp(-x)); });
          })
          .Case([&](SinOp) {
            floatOnly("sin");
            return U([](Expr x) { return sin(x); });
          })
          .Case([&](CosOp) {
            floatOnly("cos");
            return U([](Expr x) { return cos(x); });
          })
          .Case([&](FloorOp) {
            floatOnly("floor");
            return U([](Expr x) { return floor(x); });
          })
          .Case([&](CeilOp) {
            floatOnly("ceil");
            return U([](Expr x) { return ceil(x); });
          })
          .Case([&](GeluOp g) {
            floatOnly("gelu");
            requireNot64(kb, 0, "gelu");
            std::string a = g.getApproximate().str();
            if (a != "none" && a != "tanh")
              unsupported("gelu approximate='" + a + "'");
            return U([a](Expr x) {
              return a == "tanh" ? geluTanh(x) : geluExact(x);
            });
          })
          .Default([](mlir::Operation *) { return std::nullopt; });
  if (!fn)
    return false;
  elementwise(kb, {0}, [&](const std::vector<Expr> &v) { return (*fn)(v[0]); });
  return true;
}

bool lowerCast(KernelBuilder &kb) {
  auto c = mlir::dyn_cast<CastOp>(kb.op);
  if (!c)
    return false;
  ref::DType to = kb.resultDType(0);
  ref::DType from = kb.operandDType(0);
  Type ct = computeType(to);
  elementwise(kb, {0}, [&](const std::vector<Expr> &v) {
    Expr x = v[0];
    if (to == ref::DType::Bool)
      return from == ref::DType::Bool ? x : Expr(x != zeroOf(x.type()));
    if (from == ref::DType::Bool)
      return select(x, cast(ct, 1), cast(ct, 0));
    return cast(ct, x);
  });
  return true;
}

using Bin = ref::BinaryKind;

bool lowerBinary(KernelBuilder &kb) {
  std::optional<Bin> kind = binaryKind(kb.op);
  if (!kind)
    return false;
  ref::DType da = kb.operandDType(0), db = kb.operandDType(1);
  Bin k = *kind;
  bool logical = k == Bin::And || k == Bin::Or || k == Bin::Xor;
  if (logical && (da != ref::DType::Bool || db != ref::DType::Bool))
    unsupported("and/or/xor need bool tensors");
  if (k != Bin::Pow && da != db)
    unsupported("operands have different element types");
  bool isB = da == ref::DType::Bool;
  bool arith = k == Bin::Add || k == Bin::Sub || k == Bin::Mul ||
               k == Bin::Div || k == Bin::Mod || k == Bin::FMod ||
               k == Bin::Max || k == Bin::Min;
  if (isB && arith)
    unsupported("arithmetic on bool tensors");
  if (k == Bin::Pow && !isFloatType(da))
    unsupported("pow needs a float base");
  bool isF = isFloatType(da);
  Type ct = computeType(da);
  elementwise(kb, {0, 1}, [&](const std::vector<Expr> &v) -> Expr {
    Expr a = v[0], b = v[1];
    switch (k) {
    case Bin::Add:
      return a + b;
    case Bin::Sub:
      return a - b;
    case Bin::Mul:
      return a * b;
    case Bin::Div:
      return isF ? a / b : truncDiv(a, b);
    case Bin::Pow: {
      Expr e = cast(ct, b);
      if (!isFloatType(db)) {
        // Integer exponents: exact for negative bases too.
        Expr p = pow(abs(a), e);
        Expr odd = (cast(Int(64), b) % 2) != 0;
        return select(a < zeroOf(ct) && odd, -p, p);
      }
      return pow(a, e);
    }
    case Bin::Max:
      return max(a, b);
    case Bin::Min:
      return min(a, b);
    case Bin::Mod: {
      if (isF) // Halide's float % is a - b·floor(a/b): the divisor's sign.
        return a - b * floor(a / b);
      Expr r = a % b; // Euclidean: in [0, |b|)
      return select(b < zeroOf(ct) && r != zeroOf(ct), r + b, r);
    }
    case Bin::FMod:
      if (isF)
        return a - b * trunc(a / b);
      return a - truncDiv(a, b) * b;
    case Bin::Equal:
      return a == b;
    case Bin::Less:
      return a < b;
    case Bin::LessOrEqual:
      return a <= b;
    case Bin::Greater:
      return a > b;
    case Bin::GreaterOrEqual:
      return a >= b;
    case Bin::And:
      return a && b;
    case Bin::Or:
      return a || b;
    case Bin::Xor:
      return a != b;
    }
    return a;
  });
  return true;
}

bool lowerWhere(KernelBuilder &kb) {
  if (!mlir::isa<WhereOp>(kb.op))
    return false;
  if (kb.operandDType(0) != ref::DType::Bool)
    unsupported("where needs a bool condition");
  if (kb.operandDType(1) != kb.operandDType(2))
    unsupported("where's x and y have different element types");
  elementwise(kb, {0, 1, 2}, [](const std::vector<Expr> &v) {
    return select(v[0], v[1], v[2]);
  });
  return true;
}

bool lowerBatchNorm(KernelBuilder &kb) {
  auto bn = mlir::dyn_cast<BatchNormalizationOp>(kb.op);
  if (!bn)
    return false;
  requireFloat(kb, 0, "batch_normalization");
  Shape xs = kb.operandShape(0);
  if (xs.size() < 2)
    unsupported("batch_normalization needs rank >= 2");
  int64_t c = xs[1];
  for (unsigned i = 1; i < 5; ++i)
    if (product(kb.operandShape(i)) != c)
      unsupported("batch_normalization parameters must have C elements");
  Shape view = {xs[0], c, product(xs, 2)};
  int x = kb.input(0, view);
  int scale = kb.input(1, {c}), bias = kb.input(2, {c}),
      mean = kb.input(3, {c}), var = kb.input(4, {c});
  float eps = bn.getEpsilon().convertToFloat();
  std::vector<Var> v = kb.vars(3);
  Expr ch = v[1];
  Expr k = kb.load(scale, {ch}) / sqrt(kb.load(var, {ch}) + eps);
  Expr y =
      (kb.load(x, toExprs(v)) - kb.load(mean, {ch})) * k + kb.load(bias, {ch});
  Func f = kb.output("out", v, {y}, {0}, view);
  scheduleElementwise(kb, f, view, storageType(kb.resultDType(0)));
  return true;
}

bool lowerTrilu(KernelBuilder &kb) {
  auto tr = mlir::dyn_cast<TriluOp>(kb.op);
  if (!tr)
    return false;
  Shape xs = kb.operandShape(0);
  if (xs.size() < 2)
    unsupported("trilu needs rank >= 2");
  size_t r = xs.size();
  Shape view = {product(xs, 0, r - 2), xs[r - 2], xs[r - 1]};
  int x = kb.input(0, view);
  std::vector<Var> v = kb.vars(3);
  Expr k = Expr((int)tr.getK());
  Expr keep = tr.getUpper() ? Expr(v[2] >= v[1] + k) : Expr(v[2] <= v[1] + k);
  Type ct = computeType(kb.operandDType(0));
  Expr val = kb.load(x, toExprs(v));
  Expr y = ct.is_bool() ? Expr(keep && val) : select(keep, val, zeroOf(ct));
  Func f = kb.output("out", v, {y}, {0}, view);
  scheduleElementwise(kb, f, view, storageType(kb.resultDType(0)));
  return true;
}

} // namespace

bool lowerElementwise(KernelBuilder &kb) {
  return lowerUnary(kb) || lowerCast(kb) || lowerBinary(kb) || lowerWhere(kb) ||
         lowerBatchNorm(kb) || lowerTrilu(kb);
}

} // namespace kiln::halide::detail

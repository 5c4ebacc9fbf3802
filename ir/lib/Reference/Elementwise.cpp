// Reference kernels for elementwise ops: unary math, GELU, binary arithmetic
// and comparisons with numpy broadcasting, where, and cast.
#include "KernelUtil.h"

#include <cmath>
#include <limits>

using namespace kiln::ref;
using namespace kiln::ref::detail;

static const char *unaryName(UnaryKind k) {
  switch (k) {
  case UnaryKind::Identity:
    return "identity";
  case UnaryKind::Neg:
    return "neg";
  case UnaryKind::Abs:
    return "abs";
  case UnaryKind::Sqrt:
    return "sqrt";
  case UnaryKind::Reciprocal:
    return "reciprocal";
  case UnaryKind::Exp:
    return "exp";
  case UnaryKind::Log:
    return "log";
  case UnaryKind::Erf:
    return "erf";
  case UnaryKind::Tanh:
    return "tanh";
  case UnaryKind::Relu:
    return "relu";
  case UnaryKind::Sigmoid:
    return "sigmoid";
  case UnaryKind::Sin:
    return "sin";
  case UnaryKind::Cos:
    return "cos";
  case UnaryKind::Floor:
    return "floor";
  case UnaryKind::Ceil:
    return "ceil";
  case UnaryKind::Not:
    return "not";
  }
  return "?";
}

static double sigmoid(double x) {
  if (x >= 0)
    return 1.0 / (1.0 + std::exp(-x));
  double e = std::exp(x);
  return e / (1.0 + e);
}

static double unaryFloat(UnaryKind k, double x) {
  switch (k) {
  case UnaryKind::Identity:
    return x;
  case UnaryKind::Neg:
    return -x;
  case UnaryKind::Abs:
    return std::fabs(x);
  case UnaryKind::Sqrt:
    return std::sqrt(x);
  case UnaryKind::Reciprocal:
    return 1.0 / x;
  case UnaryKind::Exp:
    return std::exp(x);
  case UnaryKind::Log:
    return std::log(x);
  case UnaryKind::Erf:
    return std::erf(x);
  case UnaryKind::Tanh:
    return std::tanh(x);
  case UnaryKind::Relu:
    return x > 0 ? x : (std::isnan(x) ? x : 0.0);
  case UnaryKind::Sigmoid:
    return sigmoid(x);
  case UnaryKind::Sin:
    return std::sin(x);
  case UnaryKind::Cos:
    return std::cos(x);
  case UnaryKind::Floor:
    return std::floor(x);
  case UnaryKind::Ceil:
    return std::ceil(x);
  case UnaryKind::Not:
    break;
  }
  return x;
}

Tensor kiln::ref::unary(UnaryKind kind, const Tensor &x) {
  const char *name = unaryName(kind);
  if (kind == UnaryKind::Identity)
    return x;
  if (kind == UnaryKind::Not) {
    if (x.dtype() != DType::Bool)
      throw Error(std::string("not: input must be bool, got ") +
                  dtypeName(x.dtype()));
    Tensor out(DType::Bool, x.shape());
    for (int64_t i = 0; i < x.numel(); ++i)
      out.data<uint8_t>()[i] = !x.data<uint8_t>()[i];
    return out;
  }
  if (isFloat(x.dtype())) {
    std::vector<double> v = toDoubles(x);
    for (double &e : v)
      e = unaryFloat(kind, e);
    return fromDoubles(x.dtype(), x.shape(), v);
  }
  bool intOk = kind == UnaryKind::Neg || kind == UnaryKind::Abs ||
               kind == UnaryKind::Relu;
  if (!intOk || x.dtype() == DType::Bool)
    throw Error(std::string(name) + ": input must be a float tensor" +
                (intOk ? " or an integer tensor" : "") + ", got " +
                dtypeName(x.dtype()));
  Tensor out(x.dtype(), x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t v = x.getInt(i);
    uint64_t neg = 0 - (uint64_t)v; // wraps like two's complement
    if (kind == UnaryKind::Neg)
      v = (int64_t)neg;
    else if (kind == UnaryKind::Abs)
      v = v < 0 ? (int64_t)neg : v;
    else
      v = v > 0 ? v : 0;
    out.setInt(i, v);
  }
  return out;
}

Tensor kiln::ref::gelu(const Tensor &x, bool tanhApprox) {
  requireFloat(x, "gelu", "input");
  std::vector<double> v = toDoubles(x);
  const double kSqrt2OverPi = 0.79788456080286535588;
  for (double &e : v) {
    if (tanhApprox)
      e = 0.5 * e *
          (1.0 + std::tanh(kSqrt2OverPi * (e + 0.044715 * e * e * e)));
    else
      e = 0.5 * e * (1.0 + std::erf(e / std::sqrt(2.0)));
  }
  return fromDoubles(x.dtype(), x.shape(), v);
}

//===----------------------------------------------------------------------===//
// Binary
//===----------------------------------------------------------------------===//

static const char *binaryName(BinaryKind k) {
  switch (k) {
  case BinaryKind::Add:
    return "add";
  case BinaryKind::Sub:
    return "sub";
  case BinaryKind::Mul:
    return "mul";
  case BinaryKind::Div:
    return "div";
  case BinaryKind::Pow:
    return "pow";
  case BinaryKind::Max:
    return "max";
  case BinaryKind::Min:
    return "min";
  case BinaryKind::Mod:
    return "mod";
  case BinaryKind::FMod:
    return "mod(fmod)";
  case BinaryKind::Equal:
    return "equal";
  case BinaryKind::Less:
    return "less";
  case BinaryKind::LessOrEqual:
    return "less_or_equal";
  case BinaryKind::Greater:
    return "greater";
  case BinaryKind::GreaterOrEqual:
    return "greater_or_equal";
  case BinaryKind::And:
    return "and";
  case BinaryKind::Or:
    return "or";
  case BinaryKind::Xor:
    return "xor";
  }
  return "?";
}

static bool isCompare(BinaryKind k) {
  return k == BinaryKind::Equal || k == BinaryKind::Less ||
         k == BinaryKind::LessOrEqual || k == BinaryKind::Greater ||
         k == BinaryKind::GreaterOrEqual;
}

static bool isLogical(BinaryKind k) {
  return k == BinaryKind::And || k == BinaryKind::Or || k == BinaryKind::Xor;
}

template <typename T> static bool compare(BinaryKind k, T a, T b) {
  switch (k) {
  case BinaryKind::Equal:
    return a == b;
  case BinaryKind::Less:
    return a < b;
  case BinaryKind::LessOrEqual:
    return a <= b;
  case BinaryKind::Greater:
    return a > b;
  case BinaryKind::GreaterOrEqual:
    return a >= b;
  default:
    return false;
  }
}

static double floatOp(BinaryKind k, double a, double b) {
  switch (k) {
  case BinaryKind::Add:
    return a + b;
  case BinaryKind::Sub:
    return a - b;
  case BinaryKind::Mul:
    return a * b;
  case BinaryKind::Div:
    return a / b;
  case BinaryKind::Pow:
    return std::pow(a, b);
  case BinaryKind::Max:
    return std::isnan(a) || std::isnan(b) ? NAN : (a > b ? a : b);
  case BinaryKind::Min:
    return std::isnan(a) || std::isnan(b) ? NAN : (a < b ? a : b);
  case BinaryKind::FMod:
    return std::fmod(a, b);
  case BinaryKind::Mod: {
    double r = std::fmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0)))
      r += b;
    return r;
  }
  default:
    return 0;
  }
}

static int64_t intOp(BinaryKind k, int64_t a, int64_t b) {
  // Wrapping arithmetic through uint64_t (signed overflow is undefined in C++).
  uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
  switch (k) {
  case BinaryKind::Add:
    return (int64_t)(ua + ub);
  case BinaryKind::Sub:
    return (int64_t)(ua - ub);
  case BinaryKind::Mul:
    return (int64_t)(ua * ub);
  case BinaryKind::Max:
    return a > b ? a : b;
  case BinaryKind::Min:
    return a < b ? a : b;
  case BinaryKind::Div:
  case BinaryKind::Mod:
  case BinaryKind::FMod: {
    if (b == 0)
      throw Error(std::string(binaryName(k)) + ": integer division by zero");
    if (b == -1) // avoids INT64_MIN / -1 overflow
      return k == BinaryKind::Div ? (int64_t)(0 - ua) : 0;
    if (k == BinaryKind::Div)
      return a / b;
    int64_t r = a % b;
    if (k == BinaryKind::Mod && r != 0 && ((r < 0) != (b < 0)))
      r += b;
    return r;
  }
  case BinaryKind::Pow: {
    if (b < 0) // only 1 and -1 have non-zero integer results
      return a == 1 ? 1 : a == -1 ? (b % 2 ? -1 : 1) : 0;
    uint64_t r = 1, base = ua;
    for (uint64_t e = ub; e; e >>= 1, base *= base)
      if (e & 1)
        r *= base;
    return (int64_t)r;
  }
  default:
    return 0;
  }
}

Tensor kiln::ref::binary(BinaryKind kind, const Tensor &a, const Tensor &b) {
  const char *name = binaryName(kind);
  if (kind != BinaryKind::Pow)
    requireSameDType(a, b, name);
  bool isBool = a.dtype() == DType::Bool;
  if (isLogical(kind) && !isBool)
    throw Error(std::string(name) + ": operands must be bool, got " +
                dtypeName(a.dtype()));
  if (isBool && !isLogical(kind) && kind != BinaryKind::Equal)
    throw Error(std::string(name) + ": operands must be numeric, got bool");

  Shape outShape;
  try {
    outShape = broadcastShapes(a.shape(), b.shape());
  } catch (const Error &e) {
    throw Error(std::string(name) + ": " + e.what());
  }
  std::vector<int64_t> ia = broadcastIndexMap(a.shape(), outShape, name);
  std::vector<int64_t> ib = broadcastIndexMap(b.shape(), outShape, name);
  int64_t n = (int64_t)ia.size();
  DType outType = isCompare(kind) ? DType::Bool : a.dtype();
  Tensor out(outType, outShape);

  if (isLogical(kind)) {
    const uint8_t *pa = a.data<uint8_t>(), *pb = b.data<uint8_t>();
    uint8_t *po = out.data<uint8_t>();
    for (int64_t i = 0; i < n; ++i) {
      bool x = pa[ia[i]], y = pb[ib[i]];
      po[i] = kind == BinaryKind::And  ? (x && y)
              : kind == BinaryKind::Or ? (x || y)
                                       : (x != y);
    }
    return out;
  }
  if (isFloat(a.dtype())) {
    std::vector<double> va = toDoubles(a), vb = toDoubles(b);
    if (isCompare(kind)) {
      for (int64_t i = 0; i < n; ++i)
        out.data<uint8_t>()[i] = compare(kind, va[ia[i]], vb[ib[i]]);
      return out;
    }
    std::vector<double> r((size_t)n);
    for (int64_t i = 0; i < n; ++i)
      r[i] = floatOp(kind, va[ia[i]], vb[ib[i]]);
    return fromDoubles(outType, outShape, r);
  }
  // Integers (and bool equality).
  for (int64_t i = 0; i < n; ++i) {
    int64_t x = a.getInt(ia[i]);
    if (kind == BinaryKind::Pow && isFloat(b.dtype())) {
      out.setDouble(i, std::pow((double)x, b.getDouble(ib[i])));
      continue;
    }
    int64_t y = b.getInt(ib[i]);
    if (isCompare(kind))
      out.data<uint8_t>()[i] = compare(kind, x, y);
    else
      out.setInt(i, intOp(kind, x, y));
  }
  return out;
}

Tensor kiln::ref::where(const Tensor &cond, const Tensor &x, const Tensor &y) {
  if (cond.dtype() != DType::Bool)
    throw Error(std::string("where: condition must be bool, got ") +
                dtypeName(cond.dtype()));
  requireSameDType(x, y, "where");
  Shape outShape;
  try {
    outShape =
        broadcastShapes(cond.shape(), broadcastShapes(x.shape(), y.shape()));
  } catch (const Error &e) {
    throw Error(std::string("where: ") + e.what());
  }
  std::vector<int64_t> ic = broadcastIndexMap(cond.shape(), outShape, "where");
  std::vector<int64_t> ix = broadcastIndexMap(x.shape(), outShape, "where");
  std::vector<int64_t> iy = broadcastIndexMap(y.shape(), outShape, "where");
  Tensor out(x.dtype(), outShape);
  size_t es = dtypeSize(x.dtype());
  auto *dst = static_cast<unsigned char *>(out.raw());
  auto *px = static_cast<const unsigned char *>(x.raw());
  auto *py = static_cast<const unsigned char *>(y.raw());
  for (size_t i = 0; i < ic.size(); ++i) {
    const unsigned char *src =
        cond.data<uint8_t>()[ic[i]] ? px + ix[i] * es : py + iy[i] * es;
    std::memcpy(dst + i * es, src, es);
  }
  return out;
}

Tensor kiln::ref::cast(const Tensor &x, DType to) { return x.cast(to); }

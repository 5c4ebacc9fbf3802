// kiln::ref::Tensor: dtype helpers, element access with conversion, casts and
// half/bfloat16 conversions for the reference interpreter.
#include "kiln/Reference/Tensor.h"

#include <cmath>
#include <limits>

using namespace kiln::ref;

Error::~Error() = default;

size_t kiln::ref::dtypeSize(DType t) {
  switch (t) {
  case DType::F64:
  case DType::I64:
    return 8;
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::I8:
  case DType::U8:
  case DType::Bool:
    return 1;
  }
  return 1;
}

const char *kiln::ref::dtypeName(DType t) {
  switch (t) {
  case DType::F32:
    return "f32";
  case DType::F64:
    return "f64";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::I64:
    return "i64";
  case DType::I32:
    return "i32";
  case DType::I8:
    return "i8";
  case DType::U8:
    return "u8";
  case DType::Bool:
    return "bool";
  }
  return "?";
}

bool kiln::ref::isFloat(DType t) {
  return t == DType::F32 || t == DType::F64 || t == DType::F16 ||
         t == DType::BF16;
}

int64_t kiln::ref::numElements(const Shape &s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0)
      throw Error("negative dimension " + std::to_string(d) + " in shape");
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      throw Error("shape has too many elements");
    n *= d;
  }
  return n;
}

std::string kiln::ref::shapeStr(const Shape &s) {
  if (s.empty())
    return "scalar";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i)
      out += "x";
    out += std::to_string(s[i]);
  }
  return out;
}

Shape kiln::ref::strides(const Shape &s) {
  Shape st(s.size(), 1);
  for (int64_t i = (int64_t)s.size() - 2; i >= 0; --i)
    st[i] = st[i + 1] * s[i + 1];
  return st;
}

Tensor::Tensor(DType t, Shape s) : type_(t), shape_(std::move(s)) {
  int64_t n = numElements(shape_);
  // Guard against absurd sizes from bad input before allocating.
  if (n > (int64_t(1) << 40) / (int64_t)dtypeSize(t))
    throw Error("tensor of shape " + shapeStr(shape_) + " is too large");
  data_.assign((size_t)n * dtypeSize(t), 0);
}

Tensor Tensor::scalarF32(float v) {
  Tensor r(DType::F32, {});
  r.data<float>()[0] = v;
  return r;
}

Tensor Tensor::scalarI64(int64_t v) {
  Tensor r(DType::I64, {});
  r.data<int64_t>()[0] = v;
  return r;
}

double Tensor::getDouble(int64_t i) const {
  switch (type_) {
  case DType::F32:
    return data<float>()[i];
  case DType::F64:
    return data<double>()[i];
  case DType::F16:
    return halfToFloat(data<uint16_t>()[i]);
  case DType::BF16:
    return bf16ToFloat(data<uint16_t>()[i]);
  case DType::I64:
    return (double)data<int64_t>()[i];
  case DType::I32:
    return data<int32_t>()[i];
  case DType::I8:
    return data<int8_t>()[i];
  case DType::U8:
    return data<uint8_t>()[i];
  case DType::Bool:
    return data<uint8_t>()[i] ? 1.0 : 0.0;
  }
  return 0;
}

/// Float to int64 the ONNX way: truncate toward zero. NaN gives 0 and values
/// out of range saturate (C++ leaves both undefined; we pick a fixed answer).
static int64_t truncToInt(double v) {
  if (std::isnan(v))
    return 0;
  if (v >= 9.2233720368547758e18)
    return std::numeric_limits<int64_t>::max();
  if (v <= -9.2233720368547758e18)
    return std::numeric_limits<int64_t>::min();
  return (int64_t)v;
}

int64_t Tensor::getInt(int64_t i) const {
  switch (type_) {
  case DType::F32:
  case DType::F64:
  case DType::F16:
  case DType::BF16:
    return truncToInt(getDouble(i));
  case DType::I64:
    return data<int64_t>()[i];
  case DType::I32:
    return data<int32_t>()[i];
  case DType::I8:
    return data<int8_t>()[i];
  case DType::U8:
    return data<uint8_t>()[i];
  case DType::Bool:
    return data<uint8_t>()[i] ? 1 : 0;
  }
  return 0;
}

void Tensor::setDouble(int64_t i, double v) {
  switch (type_) {
  case DType::F32:
    data<float>()[i] = (float)v;
    return;
  case DType::F64:
    data<double>()[i] = v;
    return;
  case DType::F16:
    data<uint16_t>()[i] = floatToHalf((float)v);
    return;
  case DType::BF16:
    data<uint16_t>()[i] = floatToBf16((float)v);
    return;
  case DType::Bool:
    data<uint8_t>()[i] = v != 0.0; // NaN is true, as in ONNX Cast
    return;
  default:
    setInt(i, truncToInt(v));
  }
}

void Tensor::setInt(int64_t i, int64_t v) {
  // Narrowing integer stores wrap (two's complement), like numpy's astype.
  switch (type_) {
  case DType::F32:
  case DType::F64:
  case DType::F16:
  case DType::BF16:
    setDouble(i, (double)v);
    return;
  case DType::I64:
    data<int64_t>()[i] = v;
    return;
  case DType::I32:
    data<int32_t>()[i] = (int32_t)(uint32_t)(uint64_t)v;
    return;
  case DType::I8:
    data<int8_t>()[i] = (int8_t)(uint8_t)(uint64_t)v;
    return;
  case DType::U8:
    data<uint8_t>()[i] = (uint8_t)(uint64_t)v;
    return;
  case DType::Bool:
    data<uint8_t>()[i] = v != 0;
    return;
  }
}

Tensor Tensor::cast(DType to) const {
  Tensor r(to, shape_);
  int64_t n = numel();
  if (to == type_) {
    r.data_ = data_;
    return r;
  }
  bool fromFloat = isFloat(type_);
  for (int64_t i = 0; i < n; ++i) {
    if (fromFloat || isFloat(to))
      r.setDouble(i, getDouble(i));
    else
      r.setInt(i, getInt(i));
  }
  return r;
}

Tensor Tensor::reshaped(Shape s) const {
  if (numElements(s) != numel())
    throw Error("cannot reshape " + shapeStr(shape_) + " (" +
                std::to_string(numel()) + " elements) to " + shapeStr(s));
  Tensor r;
  r.type_ = type_;
  r.shape_ = std::move(s);
  r.data_ = data_;
  return r;
}

std::vector<int64_t> Tensor::toInts() const {
  std::vector<int64_t> out((size_t)numel());
  for (int64_t i = 0; i < numel(); ++i)
    out[i] = getInt(i);
  return out;
}

double kiln::ref::relativeError(const Tensor &a, const Tensor &b) {
  const double inf = std::numeric_limits<double>::infinity();
  if (a.dtype() != b.dtype() || a.shape() != b.shape())
    return inf;
  double maxDiff = 0, maxRef = 1;
  for (int64_t i = 0; i < a.numel(); ++i) {
    double x = a.getDouble(i), y = b.getDouble(i);
    if (std::isnan(x) || std::isnan(y)) {
      if (std::isnan(x) != std::isnan(y))
        return inf;
      continue;
    }
    if (std::isinf(x) || std::isinf(y)) {
      if (x != y)
        return inf;
      continue;
    }
    maxDiff = std::max(maxDiff, std::fabs(x - y));
    maxRef = std::max(maxRef, std::fabs(y));
  }
  return maxDiff / maxRef;
}

//===----------------------------------------------------------------------===//
// 16-bit floats
//===----------------------------------------------------------------------===//

static uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

static float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float kiln::ref::halfToFloat(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  if (exp == 0x1f) // inf / nan
    return bitsFloat(sign | 0x7f800000 | (man << 13));
  if (exp == 0) {
    // zero or subnormal: value = man * 2^-24
    float v = std::ldexp((float)man, -24);
    return sign ? -v : v;
  }
  return bitsFloat(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t kiln::ref::floatToHalf(float f) {
  uint32_t u = floatBits(f);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
  uint32_t absBits = u & 0x7fffffff;
  if (absBits >= 0x7f800000) // inf or nan (keep nan quiet and non-zero)
    return sign | 0x7c00 | (absBits > 0x7f800000 ? 0x200 : 0);
  float a = bitsFloat(absBits);
  if (a >= 65520.0f) // rounds to infinity
    return sign | 0x7c00;
  if (a < 6.103515625e-05f) {
    // subnormal half: round a / 2^-24 to nearest even integer
    float scaled = std::ldexp(a, 24);
    return sign | (uint16_t)std::nearbyint(scaled);
  }
  uint32_t exp = (absBits >> 23) - 112; // rebias 127 -> 15
  uint32_t man = absBits & 0x7fffff;
  uint32_t half = (exp << 10) | (man >> 13);
  uint32_t rest = man & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
    ++half; // may carry into the exponent, which is correct
  return sign | (uint16_t)half;
}

float kiln::ref::bf16ToFloat(uint16_t h) {
  return bitsFloat((uint32_t)h << 16);
}

uint16_t kiln::ref::floatToBf16(float f) {
  uint32_t u = floatBits(f);
  if ((u & 0x7fffffff) > 0x7f800000) // nan: keep it a quiet nan
    return (uint16_t)((u >> 16) | 0x40);
  uint32_t rounding = 0x7fff + ((u >> 16) & 1);
  return (uint16_t)((u + rounding) >> 16);
}

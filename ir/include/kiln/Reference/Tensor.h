// Plain C++ tensors for the reference interpreter, tests and tools (no MLIR).
#ifndef KILN_REFERENCE_TENSOR_H
#define KILN_REFERENCE_TENSOR_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::ref {

/// Element types the interpreter computes with. F16/BF16 are stored as 2-byte
/// patterns; kernels convert them through float.
enum class DType { F32, F64, F16, BF16, I64, I32, I8, U8, Bool };

size_t dtypeSize(DType t);
const char *dtypeName(DType t); // "f32", "i64", "bool", ...
bool isFloat(DType t);

/// An error in the user's input or model (shape mismatch, bad index, bad file).
/// The interpreter turns it into a diagnostic on the op that raised it.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
  /// Defined in Tensor.cpp (built with RTTI) so that Error's vtable and
  /// typeinfo live in one place; code built with -fno-rtti (MLIR users)
  /// still throws and catches it.
  ~Error() override;
};

using Shape = std::vector<int64_t>;
int64_t numElements(const Shape &s);
std::string shapeStr(const Shape &s); // "2x3x4", "scalar" for rank 0
Shape strides(const Shape &s);        // row-major element strides

/// A dense row-major tensor owning its bytes.
class Tensor {
public:
  Tensor() = default;
  Tensor(DType t, Shape s); // zero-filled
  template <typename T> static Tensor of(DType t, Shape s, std::vector<T> v) {
    Tensor r(t, std::move(s));
    if (v.size() != (size_t)r.numel() || sizeof(T) != dtypeSize(t))
      throw Error("Tensor::of: size mismatch");
    if (!v.empty())
      std::memcpy(r.raw(), v.data(), v.size() * sizeof(T));
    return r;
  }
  static Tensor scalarF32(float v);
  static Tensor scalarI64(int64_t v);

  DType dtype() const { return type_; }
  const Shape &shape() const { return shape_; }
  int64_t rank() const { return (int64_t)shape_.size(); }
  int64_t dim(int64_t i) const { return shape_.at(i < 0 ? i + rank() : i); }
  int64_t numel() const { return numElements(shape_); }
  size_t bytes() const { return data_.size(); }

  void *raw() { return data_.data(); }
  const void *raw() const { return data_.data(); }
  template <typename T> T *data() {
    return reinterpret_cast<T *>(data_.data());
  }
  template <typename T> const T *data() const {
    return reinterpret_cast<const T *>(data_.data());
  }

  /// Element i (row-major) converted to double / int64 whatever the dtype.
  double getDouble(int64_t i) const;
  int64_t getInt(int64_t i) const;
  /// Sets element i from a double / int64, converting to the dtype.
  void setDouble(int64_t i, double v);
  void setInt(int64_t i, int64_t v);

  /// A copy with another dtype (ONNX Cast rules: float->int truncates).
  Tensor cast(DType to) const;
  /// The same bytes with a new shape of equal element count.
  Tensor reshaped(Shape s) const;
  /// All elements as int64 (for shape-like tensors).
  std::vector<int64_t> toInts() const;

private:
  DType type_ = DType::F32;
  Shape shape_;
  std::vector<unsigned char> data_;
};

/// Largest |a-b| / max(1, max|b|) over all elements; shapes and dtypes must
/// match (returns +inf otherwise). NaNs in the same place compare equal.
double relativeError(const Tensor &a, const Tensor &b);

float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);
float bf16ToFloat(uint16_t h);
uint16_t floatToBf16(float f);

} // namespace kiln::ref

#endif // KILN_REFERENCE_TENSOR_H

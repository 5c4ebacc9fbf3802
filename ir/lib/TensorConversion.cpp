// Conversions between MLIR element types / ElementsAttr and kiln::ref::Tensor
// (dense and dense_resource attributes, i1 as one byte per bool).
#include "kiln/IR/TensorConversion.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace kiln;
using ref::DType;

static std::string typeStr(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

Type kiln::toMlirType(DType dtype, MLIRContext *ctx) {
  switch (dtype) {
  case DType::F32:
    return Float32Type::get(ctx);
  case DType::F64:
    return Float64Type::get(ctx);
  case DType::F16:
    return Float16Type::get(ctx);
  case DType::BF16:
    return BFloat16Type::get(ctx);
  case DType::I64:
    return IntegerType::get(ctx, 64);
  case DType::I32:
    return IntegerType::get(ctx, 32);
  case DType::I8:
    return IntegerType::get(ctx, 8);
  case DType::U8:
    return IntegerType::get(ctx, 8, IntegerType::Unsigned);
  case DType::Bool:
    return IntegerType::get(ctx, 1);
  }
  return {};
}

std::optional<DType> kiln::tryToDType(Type type) {
  if (auto shaped = dyn_cast<ShapedType>(type))
    type = shaped.getElementType();
  if (type.isF32())
    return DType::F32;
  if (type.isF64())
    return DType::F64;
  if (type.isF16())
    return DType::F16;
  if (type.isBF16())
    return DType::BF16;
  auto it = dyn_cast<IntegerType>(type);
  if (!it)
    return std::nullopt;
  bool isUnsigned = it.isUnsigned();
  switch (it.getWidth()) {
  case 1:
    return isUnsigned ? std::nullopt : std::optional(DType::Bool);
  case 8:
    return isUnsigned ? DType::U8 : DType::I8;
  case 32:
    return isUnsigned ? std::nullopt : std::optional(DType::I32);
  case 64:
    return isUnsigned ? std::nullopt : std::optional(DType::I64);
  default:
    return std::nullopt;
  }
}

DType kiln::toDType(Type type) {
  if (std::optional<DType> d = tryToDType(type))
    return *d;
  throw ref::Error("element type " + typeStr(type) +
                   " is not supported by kiln's reference tensors");
}

RankedTensorType kiln::toTensorType(const ref::Tensor &t, MLIRContext *ctx) {
  return RankedTensorType::get(t.shape(), toMlirType(t.dtype(), ctx));
}

/// Copies `data` into t, expanding a single element when `splat`.
static void fillFromBytes(ref::Tensor &t, ArrayRef<char> data, bool splat,
                          const std::string &what) {
  size_t es = ref::dtypeSize(t.dtype());
  auto *dst = static_cast<char *>(t.raw());
  if (splat && data.size() == es) {
    for (int64_t i = 0; i < t.numel(); ++i)
      std::memcpy(dst + i * es, data.data(), es);
    return;
  }
  if (data.size() != t.bytes())
    throw ref::Error(what + " holds " + std::to_string(data.size()) +
                     " bytes but its type needs " + std::to_string(t.bytes()));
  if (!data.empty())
    std::memcpy(dst, data.data(), data.size());
}

ref::Tensor kiln::toTensor(ElementsAttr attr) {
  auto type = cast<ShapedType>(attr.getType());
  if (!type.hasStaticShape())
    throw ref::Error("elements attribute of type " + typeStr(type) +
                     " has no static shape");
  DType dtype = toDType(type.getElementType());
  ref::Tensor t(dtype, ref::Shape(type.getShape()));

  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (dtype == DType::Bool) {
      int64_t i = 0;
      for (bool b : dense.getValues<bool>())
        t.data<uint8_t>()[i++] = b;
      return t;
    }
    fillFromBytes(t, dense.getRawData(), dense.isSplat(), "dense attribute");
    return t;
  }
  if (auto res = dyn_cast<DenseResourceElementsAttr>(attr)) {
    DenseResourceElementsHandle handle = res.getRawHandle();
    std::string what = "resource blob '" + handle.getKey().str() + "'";
    const AsmResourceBlob *blob = handle.getBlob();
    if (!blob)
      throw ref::Error(what + " has no data");
    fillFromBytes(t, blob->getData(), false, what);
    if (dtype == DType::Bool)
      for (int64_t i = 0; i < t.numel(); ++i)
        t.data<uint8_t>()[i] = t.data<uint8_t>()[i] != 0;
    return t;
  }
  // Any other ElementsAttr: element by element.
  auto values = attr.tryGetValues<Attribute>();
  if (!values)
    throw ref::Error("cannot read the elements of an attribute of type " +
                     typeStr(type));
  int64_t i = 0;
  for (Attribute a : *values) {
    if (auto f = dyn_cast<FloatAttr>(a))
      t.setDouble(i, f.getValueAsDouble());
    else if (auto n = dyn_cast<IntegerAttr>(a))
      t.setInt(i, dtype == DType::U8 || dtype == DType::Bool
                      ? (int64_t)n.getValue().getZExtValue()
                      : n.getValue().getSExtValue());
    else
      throw ref::Error("unsupported element in an attribute of type " +
                       typeStr(type));
    ++i;
  }
  return t;
}

ElementsAttr kiln::toElementsAttr(const ref::Tensor &t, MLIRContext *ctx,
                                  llvm::StringRef blobName) {
  RankedTensorType type = toTensorType(t, ctx);
  ArrayRef<char> bytes(static_cast<const char *>(t.raw()), t.bytes());
  if (!blobName.empty() && t.numel() > kInlineElementLimit) {
    AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
        bytes, /*align=*/64, /*dataIsMutable=*/false);
    return DenseResourceElementsAttr::get(type, blobName, std::move(blob));
  }
  if (t.dtype() == DType::Bool) {
    SmallVector<bool> values;
    for (int64_t i = 0; i < t.numel(); ++i)
      values.push_back(t.data<uint8_t>()[i] != 0);
    return DenseElementsAttr::get(type, ArrayRef<bool>(values));
  }
  return DenseElementsAttr::getFromRawBuffer(type, bytes);
}

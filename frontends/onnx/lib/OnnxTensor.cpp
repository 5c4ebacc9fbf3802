// ONNX TensorProto -> ref::Tensor: raw_data, typed data fields and external
// data files, plus the ONNX element type tables the importer shares.
#include "OnnxImporterImpl.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstring>
#include <limits>

using namespace kiln;
using namespace kiln::onnx_import;

std::optional<ref::DType> onnx_import::dtypeFromOnnx(int32_t onnxType) {
  switch (onnxType) {
  case onnx::TensorProto::FLOAT:
    return ref::DType::F32;
  case onnx::TensorProto::DOUBLE:
    return ref::DType::F64;
  case onnx::TensorProto::FLOAT16:
    return ref::DType::F16;
  case onnx::TensorProto::BFLOAT16:
    return ref::DType::BF16;
  case onnx::TensorProto::INT64:
    return ref::DType::I64;
  case onnx::TensorProto::INT32:
    return ref::DType::I32;
  case onnx::TensorProto::INT8:
    return ref::DType::I8;
  case onnx::TensorProto::UINT8:
    return ref::DType::U8;
  case onnx::TensorProto::BOOL:
    return ref::DType::Bool;
  default:
    return std::nullopt;
  }
}

std::string onnx_import::onnxTypeName(int32_t onnxType) {
  if (onnx::TensorProto::DataType_IsValid(onnxType))
    return onnx::TensorProto::DataType_Name(
        static_cast<onnx::TensorProto::DataType>(onnxType));
  return "type #" + std::to_string(onnxType);
}

mlir::Type onnx_import::elementTypeFromOnnx(int32_t onnxType,
                                            mlir::MLIRContext *ctx) {
  mlir::Builder b(ctx);
  switch (onnxType) {
  case onnx::TensorProto::FLOAT:
    return b.getF32Type();
  case onnx::TensorProto::DOUBLE:
    return b.getF64Type();
  case onnx::TensorProto::FLOAT16:
    return b.getF16Type();
  case onnx::TensorProto::BFLOAT16:
    return b.getBF16Type();
  case onnx::TensorProto::INT64:
    return b.getI64Type();
  case onnx::TensorProto::INT32:
    return b.getI32Type();
  case onnx::TensorProto::INT8:
    return b.getI8Type();
  case onnx::TensorProto::UINT8:
    return mlir::IntegerType::get(ctx, 8, mlir::IntegerType::Unsigned);
  case onnx::TensorProto::BOOL:
    return b.getI1Type();
  default:
    return {};
  }
}

namespace {

/// Maps the `nbytes` of external data of `t` (an empty buffer when 0).
std::unique_ptr<llvm::MemoryBuffer> readExternalData(const onnx::TensorProto &t,
                                                     llvm::StringRef baseDir,
                                                     uint64_t nbytes,
                                                     const std::string &what) {
  std::string location;
  uint64_t offset = 0;
  std::optional<uint64_t> length;
  for (const onnx::StringStringEntryProto &e : t.external_data()) {
    llvm::StringRef value(e.value());
    if (e.key() == "location") {
      location = e.value();
    } else if (e.key() == "offset" || e.key() == "length") {
      uint64_t n;
      if (value.trim().getAsInteger(10, n))
        throw ref::Error(what + " has a malformed external data " + e.key() +
                         " '" + e.value() + "'");
      if (e.key() == "offset")
        offset = n;
      else
        length = n;
    }
  }
  if (location.empty())
    throw ref::Error(what + " has external data without a location");
  if (llvm::sys::path::is_absolute(location))
    throw ref::Error(what + " has an absolute external data location '" +
                     location + "' (it must be relative to the model)");
  // The location must name a file inside the model's folder: after removing
  // "." and "x/.." it may not climb out with "..". (Symlinks in the folder
  // are followed: model caches link weights from elsewhere.)
  llvm::SmallString<256> inside(location);
  llvm::sys::path::remove_dots(inside, /*remove_dot_dot=*/true);
  if (inside.empty() || *llvm::sys::path::begin(inside) == "..")
    throw ref::Error(what + " has external data location '" + location +
                     "' outside the model's folder");
  llvm::SmallString<256> path(baseDir);
  llvm::sys::path::append(path, inside);
  if (length && *length != nbytes)
    throw ref::Error(what + " has external data length " +
                     std::to_string(*length) + " but its type needs " +
                     std::to_string(nbytes) + " bytes");
  uint64_t fileSize = 0;
  if (llvm::sys::fs::is_directory(path) ||
      llvm::sys::fs::file_size(path, fileSize))
    throw ref::Error("cannot open external data file '" + path.str().str() +
                     "' of " + what);
  if (offset > fileSize || fileSize - offset < nbytes)
    throw ref::Error("external data file '" + path.str().str() + "' of " +
                     what + " is too short: needs " + std::to_string(nbytes) +
                     " bytes at offset " + std::to_string(offset) +
                     ", file has " + std::to_string(fileSize));
  if (nbytes == 0)
    return llvm::MemoryBuffer::getMemBuffer("", path, false);
  auto buf = llvm::MemoryBuffer::getFileSlice(path, nbytes, offset,
                                              /*IsVolatile=*/false);
  if (!buf || (*buf)->getBufferSize() != nbytes)
    throw ref::Error("cannot read external data file '" + path.str().str() +
                     "' of " + what);
  return std::move(*buf);
}

/// Copies a repeated typed field into `out`, converting each element with
/// `set`.
template <typename Field, typename Set>
void copyField(const Field &field, int64_t numel, const std::string &what,
               const char *fieldName, Set set) {
  if ((int64_t)field.size() != numel)
    throw ref::Error(what + " has " + std::to_string(field.size()) + " " +
                     fieldName + " values but its shape needs " +
                     std::to_string(numel));
  for (int64_t i = 0; i < numel; ++i)
    set(i, field.Get((int)i));
}

} // namespace

ref::Tensor kiln::tensorFromProto(const onnx::TensorProto &t,
                                  llvm::StringRef baseDir) {
  std::string what =
      t.name().empty() ? std::string("tensor") : "tensor '" + t.name() + "'";
  std::optional<ref::DType> dtype = dtypeFromOnnx(t.data_type());
  if (!dtype)
    throw ref::Error(what + " has unsupported element type " +
                     onnxTypeName(t.data_type()));
  if (t.has_segment())
    throw ref::Error(what + " is segmented, which is not supported");

  // Validate the shape and its byte size before allocating anything.
  ref::Shape shape;
  int64_t numel = 1;
  const int64_t kMaxElements = int64_t(1) << 40;
  for (int64_t d : t.dims()) {
    if (d < 0)
      throw ref::Error(what + " has a negative dim " + std::to_string(d));
    if (d != 0 && numel > kMaxElements / d)
      throw ref::Error(what + " is too large");
    numel *= d;
    shape.push_back(d);
  }
  uint64_t nbytes = uint64_t(numel) * ref::dtypeSize(*dtype);

  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    // The file is checked (and mapped) before the tensor is allocated.
    std::unique_ptr<llvm::MemoryBuffer> data =
        readExternalData(t, baseDir, nbytes, what);
    ref::Tensor out(*dtype, shape);
    if (nbytes)
      std::memcpy(out.raw(), data->getBufferStart(), nbytes);
    return out;
  }

  if (t.has_raw_data()) {
    if (t.raw_data().size() != nbytes)
      throw ref::Error(what + " has " + std::to_string(t.raw_data().size()) +
                       " bytes of raw_data but its shape and type need " +
                       std::to_string(nbytes));
    ref::Tensor out(*dtype, shape);
    if (nbytes)
      std::memcpy(out.raw(), t.raw_data().data(), nbytes);
    return out;
  }

  // Typed fields. Check the count first so a bogus shape allocates nothing.
  int64_t available = 0;
  const char *fieldName = "int32_data";
  switch (*dtype) {
  case ref::DType::F32:
    available = t.float_data_size(), fieldName = "float_data";
    break;
  case ref::DType::F64:
    available = t.double_data_size(), fieldName = "double_data";
    break;
  case ref::DType::I64:
    available = t.int64_data_size(), fieldName = "int64_data";
    break;
  default:
    available = t.int32_data_size();
    break;
  }
  if (available != numel)
    throw ref::Error(what + " has " + std::to_string(available) + " " +
                     fieldName + " values but its shape needs " +
                     std::to_string(numel));

  ref::Tensor out(*dtype, shape);
  switch (*dtype) {
  case ref::DType::F32:
    copyField(t.float_data(), numel, what, fieldName,
              [&](int64_t i, float v) { out.data<float>()[i] = v; });
    break;
  case ref::DType::F64:
    copyField(t.double_data(), numel, what, fieldName,
              [&](int64_t i, double v) { out.data<double>()[i] = v; });
    break;
  case ref::DType::I64:
    copyField(t.int64_data(), numel, what, fieldName,
              [&](int64_t i, int64_t v) { out.data<int64_t>()[i] = v; });
    break;
  case ref::DType::F16:
  case ref::DType::BF16:
    // int32_data holds the 16-bit patterns.
    copyField(
        t.int32_data(), numel, what, fieldName,
        [&](int64_t i, int32_t v) { out.data<uint16_t>()[i] = uint16_t(v); });
    break;
  case ref::DType::Bool:
    copyField(t.int32_data(), numel, what, fieldName,
              [&](int64_t i, int32_t v) { out.data<uint8_t>()[i] = v != 0; });
    break;
  default:
    copyField(t.int32_data(), numel, what, fieldName,
              [&](int64_t i, int32_t v) { out.setInt(i, v); });
    break;
  }
  return out;
}

ref::Tensor kiln::readOnnxTensorFile(llvm::StringRef pbPath) {
  auto buf = llvm::MemoryBuffer::getFile(pbPath, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!buf)
    throw ref::Error("cannot read '" + pbPath.str() +
                     "': " + buf.getError().message());
  if ((*buf)->getBufferSize() > (size_t)std::numeric_limits<int>::max())
    throw ref::Error(pbPath.str() + ": file too large for a TensorProto");
  onnx::TensorProto proto;
  if (!proto.ParseFromArray((*buf)->getBufferStart(),
                            (int)(*buf)->getBufferSize()))
    throw ref::Error(pbPath.str() +
                     ": not a valid serialized ONNX TensorProto");
  try {
    return tensorFromProto(proto, llvm::sys::path::parent_path(pbPath));
  } catch (const ref::Error &e) {
    throw ref::Error(pbPath.str() + ": " + e.what());
  }
}

// Conversions between MLIR element types / ElementsAttr and kiln::ref::Tensor.
#ifndef KILN_IR_TENSORCONVERSION_H
#define KILN_IR_TENSORCONVERSION_H

#include "kiln/Reference/Tensor.h"
#include "mlir/IR/BuiltinAttributeInterfaces.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/MLIRContext.h"
#include <optional>

namespace kiln {

/// The MLIR element type of a dtype: f32, f64, f16, bf16, i64, i32, i8
/// (signless), ui8 (U8) and i1 (Bool).
mlir::Type toMlirType(ref::DType dtype, mlir::MLIRContext *ctx);
/// The dtype of an MLIR element type (or of a shaped type's elements);
/// std::nullopt when kiln has no such dtype. Signed integers map like
/// signless ones; ui8 is U8.
std::optional<ref::DType> tryToDType(mlir::Type type);
/// Like tryToDType but throws ref::Error naming the type when unsupported.
ref::DType toDType(mlir::Type type);

/// The tensor behind an elements attribute: DenseElementsAttr (splats
/// expanded), DenseResourceElementsAttr (blob bytes, i1 one byte each) or any
/// other ElementsAttr element by element. Throws ref::Error for an unsupported
/// element type, a dynamic shape, or a resource whose blob is missing or has
/// the wrong size.
ref::Tensor toTensor(mlir::ElementsAttr attr);

/// Elements larger than this many elements become dense_resource blobs when a
/// blob name is given (weights stay out of the printed IR).
constexpr int64_t kInlineElementLimit = 16;

/// An elements attribute holding `t`: a DenseResourceElementsAttr (64-byte
/// aligned heap blob; MLIR may add a suffix to keep `blobName` unique) when
/// blobName is non-empty and t has more than kInlineElementLimit elements,
/// otherwise a DenseElementsAttr. BF16 and all other dtypes are supported.
mlir::ElementsAttr toElementsAttr(const ref::Tensor &t, mlir::MLIRContext *ctx,
                                  llvm::StringRef blobName = "");

/// The ranked tensor type of `t` (its shape and dtype).
mlir::RankedTensorType toTensorType(const ref::Tensor &t,
                                    mlir::MLIRContext *ctx);

} // namespace kiln

#endif // KILN_IR_TENSORCONVERSION_H

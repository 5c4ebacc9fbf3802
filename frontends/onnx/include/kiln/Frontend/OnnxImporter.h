// The ONNX importer: reads an ONNX model (ai.onnx opsets 1-23) into a module
// holding `func.func @main` on kiln ops, and reads serialized ONNX tensors.
#ifndef KILN_FRONTEND_ONNXIMPORTER_H
#define KILN_FRONTEND_ONNXIMPORTER_H

#include "kiln/Reference/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace onnx {
class ModelProto;
class TensorProto;
} // namespace onnx

namespace kiln {

struct OnnxImportOptions {
  /// Pins a graph input's whole shape (must agree with its static ONNX dims).
  std::map<std::string, std::vector<int64_t>> inputShapes;
  /// Pins a symbolic dim (ONNX dim_param) by name, e.g. {"seq", 128}.
  std::map<std::string, int64_t> dimValues;
  /// Evaluate ops whose operands are all constants (shape subgraphs) at import.
  bool foldConstants = true;
};

/// Reads and imports an ONNX file into `func.func @main`. Arguments are the
/// graph inputs that are not initializers; arguments and results carry
/// `kiln.name` (the ONNX name) and, when a dim is symbolic or unknown,
/// `kiln.dims` (one string per dim: the ONNX dim_param, kept after pinning, or
/// ""). Result types come from kiln's shape inference. Initializers become
/// kiln.constant (dense_resource blobs named after them when > 16 elements).
/// Op locations are NameLoc(node name or "<OpType>_<index>", path:0:0).
/// On failure emits diagnostics on `ctx` (at `path`, messages starting
/// "node 'NAME' (OpType): " for node errors) and returns null. Loads the kiln
/// and func dialects into `ctx`.
mlir::OwningOpRef<mlir::ModuleOp> importOnnxFile(llvm::StringRef path,
                                                 mlir::MLIRContext &ctx,
                                                 const OnnxImportOptions &opts);

/// Imports an already parsed model. `baseDir` resolves external tensor data;
/// `fileName` names the model in locations and diagnostics.
mlir::OwningOpRef<mlir::ModuleOp>
importOnnxModel(const onnx::ModelProto &model, llvm::StringRef baseDir,
                llvm::StringRef fileName, mlir::MLIRContext &ctx,
                const OnnxImportOptions &opts);

/// What in `model` kiln does not support, one readable entry per feature
/// (each contains "unsupported"), empty when nothing is found:
///   - an op kiln lacks, with its domain and opset, and the nodes using it
///     ("unsupported op NonMaxSuppression (ai.onnx opset 11): node nms_1"), or
///     an op version older than kiln implements ("unsupported op TopK version
///     1 (ai.onnx opset 9; kiln implements TopK from version 10): node t");
///   - an ai.onnx opset newer than kiln knows;
///   - element types kiln lacks (graph inputs/outputs, initializers, Cast
///     targets, constants) and values that are not tensors;
///   - inputs kiln needs constant fed from graph inputs ("unsupported:
///     non-constant 'axes' input of node sq (Squeeze)"), Dropout or
///     BatchNormalization in training mode, used outputs kiln does not compute.
/// A static check: the importer reports everything found here in one error,
/// but may still find an input it needs constant that import-time folding
/// cannot compute (reported with the same wording) or an invalid model.
std::vector<std::string>
findUnsupportedOnnxFeatures(const onnx::ModelProto &model);

/// Whether kiln has the ONNX element type (a TensorProto::DataType value).
bool isSupportedOnnxElementType(int32_t onnxType);

/// Reads a serialized TensorProto (.pb, as in ONNX conformance test data).
/// Throws ref::Error naming the file on anything malformed or unsupported.
ref::Tensor readOnnxTensorFile(llvm::StringRef pbPath);

/// Converts a TensorProto (raw_data, typed fields or external data relative to
/// `baseDir`). Throws ref::Error naming the tensor.
ref::Tensor tensorFromProto(const onnx::TensorProto &tensor,
                            llvm::StringRef baseDir);

} // namespace kiln

#endif // KILN_FRONTEND_ONNXIMPORTER_H

// Private to the ONNX importer: the per-node conversion context that op
// converters use, the op table, and helpers shared by the importer's files.
#ifndef KILN_FRONTEND_ONNXIMPORTERIMPL_H
#define KILN_FRONTEND_ONNXIMPORTERIMPL_H

#include "kiln/Frontend/OnnxImporter.h"
#include "kiln/IR/KilnDialect.h"
#include "kiln/Reference/Tensor.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringMap.h"

#include "onnx/onnx_pb.h"

#include <optional>

namespace kiln::onnx_import {

/// The ref::DType of an ONNX TensorProto::DataType, if kiln supports it.
std::optional<ref::DType> dtypeFromOnnx(int32_t onnxType);
/// "FLOAT", "INT64", ... for messages.
std::string onnxTypeName(int32_t onnxType);
/// The MLIR element type of an ONNX data type; null if kiln does not support
/// it.
mlir::Type elementTypeFromOnnx(int32_t onnxType, mlir::MLIRContext *ctx);

/// The largest tensor kiln imports (1 TiB). Larger static shapes, usually a
/// malformed model, are rejected before anything is sized from them.
constexpr uint64_t kMaxTensorBytes = uint64_t(1) << 40;
/// Empty when `type`'s static size is at most kMaxTensorBytes; otherwise why
/// not ("has shape 1048576x1048576xf32: 4398046511104 bytes, over ...").
std::string checkTensorSize(mlir::RankedTensorType type);

/// Makes `name` a valid resource blob key: only [A-Za-z0-9_.], not starting
/// with a digit or '.'. (The blob manager makes keys unique.)
std::string sanitizeBlobName(llvm::StringRef name);

/// A kiln.constant holding `t`: dense_resource (named after `blobName`) when it
/// has more than 16 elements, inline dense elements otherwise.
mlir::Value buildConstant(mlir::OpBuilder &b, mlir::Location loc,
                          const ref::Tensor &t, llvm::StringRef blobName);

/// Evaluates `op`, just built, at import time when its value is known: a
/// kiln.shape of static dims, or an op whose operands are all small constants.
/// On success the op is erased and replaced by kiln.constant ops, whose values
/// are returned; otherwise returns the op's own results. Never fails: an op
/// that cannot be evaluated is left for the compiler.
llvm::SmallVector<mlir::Value> foldImportedOp(mlir::Operation *op,
                                              mlir::OpBuilder &b,
                                              llvm::StringRef blobName);

/// Converting one ONNX node: its inputs as values, its attributes, and
/// builders that infer result types and fold constants. Errors are emitted at
/// the node's location and remembered (see failed()); the importer prefixes
/// them with the node's name and op type.
class NodeConverter {
public:
  NodeConverter(const onnx::NodeProto &node, int64_t opset, mlir::Location loc,
                mlir::OpBuilder &b, llvm::SmallVector<mlir::Value> inputs,
                std::string baseDir, bool foldConstants);

  const onnx::NodeProto &node() const { return node_; }
  int64_t opset() const { return opset_; }
  mlir::Location loc() const { return loc_; }
  mlir::OpBuilder &builder() { return b_; }
  mlir::MLIRContext *context() { return b_.getContext(); }
  bool failed() const { return failed_; }

  /// Inputs as listed on the node; input(i) is null for an absent optional one.
  unsigned numInputs() const { return inputs_.size(); }
  mlir::Value input(unsigned i) const {
    return i < inputs_.size() ? inputs_[i] : mlir::Value();
  }
  /// The input's type when it is a ranked tensor, else null.
  mlir::RankedTensorType inputType(unsigned i) const;
  unsigned numOutputs() const { return node_.output_size(); }

  /// Attributes. A present attribute of the wrong kind is an error (and the
  /// default is returned so conversion can go on to report it).
  const onnx::AttributeProto *attr(llvm::StringRef name) const;
  int64_t getInt(llvm::StringRef name, int64_t dflt);
  float getFloat(llvm::StringRef name, float dflt);
  std::string getString(llvm::StringRef name, llvm::StringRef dflt);
  std::optional<llvm::SmallVector<int64_t>> getInts(llvm::StringRef name);
  const onnx::TensorProto *getTensor(llvm::StringRef name);

  /// The integers of constant input `i` (an error naming `what` when it is
  /// absent or not a constant).
  std::optional<llvm::SmallVector<int64_t>> constInts(unsigned i,
                                                      llvm::StringRef what);
  /// A single integer from constant input `i` (a scalar or one-element tensor).
  std::optional<int64_t> constInt(unsigned i, llvm::StringRef what);

  /// A tensor from a TensorProto attribute or initializer (errors reported).
  std::optional<ref::Tensor> tensorFrom(const onnx::TensorProto &t);

  /// kiln.constant builders.
  mlir::Value constant(const ref::Tensor &t);
  mlir::Value constI64(llvm::ArrayRef<int64_t> values);
  /// A rank-0 constant of `elementType` (float or integer) holding `v`.
  mlir::Value scalar(mlir::Type elementType, double v);

  /// Builds an OpT with placeholder result types, infers its types and folds
  /// it. Returns the results, or an empty vector on error.
  template <typename OpT, typename... Args>
  llvm::SmallVector<mlir::Value> buildN(unsigned numResults, Args &&...args) {
    llvm::SmallVector<mlir::Type> types(numResults, placeholderType());
    auto op = OpT::create(b_, loc_, mlir::TypeRange(types),
                          std::forward<Args>(args)...);
    return finish(op.getOperation());
  }
  /// Single-result form; a null value on error.
  template <typename OpT, typename... Args> mlir::Value build(Args &&...args) {
    auto op =
        OpT::create(b_, loc_, placeholderType(), std::forward<Args>(args)...);
    llvm::SmallVector<mlir::Value> r = finish(op.getOperation());
    return r.empty() ? mlir::Value() : r.front();
  }

  /// Emits an error at the node; conversion is marked failed.
  mlir::InFlightDiagnostic error();

private:
  mlir::Type placeholderType();
  llvm::SmallVector<mlir::Value> finish(mlir::Operation *op);
  /// Checks an attribute's declared kind; false (with an error) on mismatch.
  bool checkKind(const onnx::AttributeProto &a, int kind, const char *kindName);

  const onnx::NodeProto &node_;
  int64_t opset_;
  mlir::Location loc_;
  mlir::OpBuilder &b_;
  llvm::SmallVector<mlir::Value> inputs_;
  std::string baseDir_;
  bool fold_;
  bool failed_ = false;
};

/// Converts a node, appending one value per supported output (in order).
using ConvertFn = llvm::LogicalResult (*)(NodeConverter &,
                                          llvm::SmallVectorImpl<mlir::Value> &);

/// How to convert one ai.onnx op type.
struct OpConversion {
  ConvertFn convert;
  unsigned minInputs; // required inputs (must be present, non-empty)
  unsigned maxInputs; // UINT_MAX for variadic
  /// The oldest ONNX schema version of the op (its SinceVersion) whose
  /// semantics the converter implements; every later version up to opset 21
  /// is implemented too. A model's node is accepted when the op's schema at
  /// the model's opset is this version or newer (see OnnxSupport.cpp).
  int64_t oldestVersion;
  /// How many leading outputs the converter produces (UINT_MAX: all). A
  /// later output that the graph uses makes the model unsupported.
  unsigned maxOutputs = 1;
};
using OpTable = llvm::StringMap<OpConversion>;

/// The conversion of an ai.onnx op type, or null when kiln has none.
const OpConversion *lookupOpConversion(llvm::StringRef opType);
/// Fill the table (OnnxMathOps.cpp, OnnxReduceOps.cpp, OnnxShapeOps.cpp).
void addMathOps(OpTable &table);
void addReduceOps(OpTable &table);
void addShapeOps(OpTable &table);

//===----------------------------------------------------------------------===//
// Opsets (OnnxSupport.cpp)
//===----------------------------------------------------------------------===//

/// The ai.onnx opsets kiln imports.
constexpr int64_t kMinOpset = 1, kMaxOpset = 23;

/// Whether kiln converts op `opType` (ai.onnx) at model opset `opset`.
enum class OpVersionStatus {
  Supported,
  /// The op does not exist yet at that opset (an invalid model).
  NotInOpset,
  /// The op's schema at that opset is older than kiln implements.
  OldVersion,
  /// The op's schema at that opset (after 21) changed semantics.
  NewVersion,
};
/// Decides OpVersionStatus; for OldVersion and NewVersion, `schemaVersion` is
/// the op's schema version at `opset`.
OpVersionStatus checkOpVersion(llvm::StringRef opType, const OpConversion &conv,
                               int64_t opset, int64_t &schemaVersion);

//===----------------------------------------------------------------------===//
// Shape values (ShapeValues.cpp)
//===----------------------------------------------------------------------===//

/// The elements of a small 0-D/1-D integer tensor as far as they are known at
/// import (ShapedType::kDynamic where not): from constants, kiln.shape of
/// partly static types, and gather/unsqueeze/squeeze/concat/slice/cast and
/// integer arithmetic on those. Null when nothing is known.
std::optional<llvm::SmallVector<int64_t>> partialShapeValue(mlir::Value v);

/// Refines the result type of a just-inferred kiln.reshape, kiln.expand or
/// kiln.constant_of_shape from the partial value of its shape operand (e.g.
/// Reshape to Concat(B, S, 4, 16) gives ?x?x4x16 where inference gives
/// ?x?x?x?). Types only become more static.
void refineShapeResult(mlir::Operation *op);

/// The results a node converter appends to.
using Outputs = llvm::SmallVectorImpl<mlir::Value>;
/// Appends `v` to `out`; fails when `v` is null (whoever built it reported
/// why).
inline mlir::LogicalResult push(Outputs &out, mlir::Value v) {
  if (!v)
    return mlir::failure();
  out.push_back(v);
  return mlir::success();
}

} // namespace kiln::onnx_import

#endif // KILN_FRONTEND_ONNXIMPORTERIMPL_H

// Internal to the LLVM backend: the builder the per-op lowerings use to emit
// linalg/tensor/arith IR for one kiln op into a kernel function.
#ifndef KILN_CODEGEN_LLVM_KERNELBUILDER_H
#define KILN_CODEGEN_LLVM_KERNELBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <string>

namespace kiln::llvmgen::detail {

using mlir::Value;
using Results = llvm::SmallVectorImpl<mlir::Value>;

/// How a kiln element type computes: floats, signed integers, or bools
/// (i1 in registers, one byte i8 in memory).
enum class Kind { Float, Int, Bool };
Kind kindOf(mlir::Type elementOrShaped);

/// Builds the body of one kernel function `void fn(inputs..., outputs...)`.
/// The kiln op lives in the caller's context and is only read; everything
/// built here lives in the kernel's own context. Tensors built here use the
/// storage element type (i8 for bools); scalars in generic bodies use the
/// compute type (i1 for bools) where the op computes on them.
class KernelBuilder {
public:
  KernelBuilder(mlir::Operation *op, mlir::func::FuncOp fn);

  mlir::Operation *op; // the kiln op (caller's context)
  mlir::func::FuncOp fn;
  mlir::OpBuilder b;
  mlir::Location loc;
  mlir::MLIRContext *ctx; // the kernel's context
  std::string error;      // set by fail()

  mlir::LogicalResult fail(const llvm::Twine &why);

  //===--- Types ---------------------------------------------------------===//
  /// The compute element type in the kernel context of `t` (a type of either
  /// context, element or shaped).
  mlir::Type elem(mlir::Type t);
  /// The in-memory element type: like elem() but i1 becomes i8.
  mlir::Type storage(mlir::Type t);
  mlir::RankedTensorType tensor(llvm::ArrayRef<int64_t> shape,
                                mlir::Type storageElem);
  /// Shape of operand / result `i` of the kiln op.
  llvm::ArrayRef<int64_t> inShape(unsigned i);
  llvm::ArrayRef<int64_t> outShape(unsigned i = 0);
  mlir::Type inElem(unsigned i); // compute type
  mlir::Type outElem(unsigned i = 0);
  /// Storage tensor type of result `i` (with its own or another shape).
  mlir::RankedTensorType outType(unsigned i = 0);
  mlir::RankedTensorType outType(unsigned i, llvm::ArrayRef<int64_t> shape);

  //===--- Arguments -----------------------------------------------------===//
  /// Operand `i` as a tensor of its type, or viewed with another shape of the
  /// same element count (the buffer is a bare pointer: any view is free).
  Value input(unsigned i);
  Value input(unsigned i, llvm::ArrayRef<int64_t> viewShape);

  //===--- Scalars -------------------------------------------------------===//
  Value constant(mlir::Type t, double v); // float or integer type
  Value constantInt(mlir::Type t, int64_t v);
  Value index(int64_t v);

  //===--- Tensors -------------------------------------------------------===//
  Value empty(mlir::RankedTensorType t);
  Value filled(mlir::RankedTensorType t, Value scalar);
  /// Same elements, another static shape (collapse then expand).
  Value reshape(Value t, llvm::ArrayRef<int64_t> shape);

  using BodyFn = llvm::function_ref<llvm::SmallVector<Value>(
      mlir::OpBuilder &, mlir::Location, mlir::ValueRange)>;
  /// A linalg.generic over `iters` loops; maps are for ins then outs. The
  /// body gets the input elements, then the output elements, and returns
  /// one value per output.
  llvm::SmallVector<Value>
  generic(mlir::ValueRange ins, mlir::ValueRange outs,
          llvm::ArrayRef<mlir::AffineMap> maps,
          llvm::ArrayRef<mlir::utils::IteratorType> iters, BodyFn body);

  using ScalarFn = llvm::function_ref<Value(mlir::OpBuilder &, mlir::Location,
                                            mlir::ValueRange)>;
  /// out[i] = fn(ins[j][broadcast(i)]...) over `outType`'s shape, with numpy
  /// broadcasting of every input (right-aligned, size-1 dims repeat).
  Value map(mlir::RankedTensorType outType, mlir::ValueRange ins, ScalarFn fn);
  /// The indexing map reading a tensor of shape `in` broadcast to `out`.
  mlir::AffineMap broadcastMap(llvm::ArrayRef<int64_t> in,
                               llvm::ArrayRef<int64_t> out);
  mlir::AffineMap identityMap(unsigned rank);
  /// (d0..d{n-1}) -> (d{dims[0]}, d{dims[1]}, ...).
  mlir::AffineMap dimsMap(unsigned n, llvm::ArrayRef<unsigned> dims);
  llvm::SmallVector<mlir::utils::IteratorType>
  parallel(unsigned n, llvm::ArrayRef<unsigned> reductionDims = {});

private:
  llvm::SmallVector<Value> inputs_;
};

//===--- Scalar helpers (used inside generic bodies)
//------------------------===//
/// i8 storage -> i1, and back.
Value toBool(mlir::OpBuilder &b, mlir::Location loc, Value v);
Value fromBool(mlir::OpBuilder &b, mlir::Location loc, Value v);
Value scalarConst(mlir::OpBuilder &b, mlir::Location loc, mlir::Type t,
                  double v);
/// Element conversion with ONNX Cast rules (float -> int truncates and
/// saturates, NaN -> 0; to bool is x != 0; narrowing ints wrap). `v` is in
/// compute type `from`; the result is in compute type `to`.
Value convertScalar(mlir::OpBuilder &b, mlir::Location loc, Value v,
                    mlir::Type from, mlir::Type to);
Value indexToInt(mlir::OpBuilder &b, mlir::Location loc, Value idx,
                 mlir::Type intType);
Value intToIndex(mlir::OpBuilder &b, mlir::Location loc, Value v);
/// Accumulation steps of reductions: acc + x, acc * x, acc + x * y. Float
/// forms carry reassoc/contract fast-math flags so LLVM may vectorize the
/// reduction and form FMAs (results differ from sequential order by rounding).
Value accAdd(mlir::OpBuilder &b, mlir::Location loc, Value acc, Value x);
Value accMul(mlir::OpBuilder &b, mlir::Location loc, Value acc, Value x);
Value accMulAdd(mlir::OpBuilder &b, mlir::Location loc, Value acc, Value x,
                Value y);
/// gelu(x) exact (erf) or with the tanh approximation, in x's float type.
Value geluScalar(mlir::OpBuilder &b, mlir::Location loc, Value x,
                 bool tanhApprox);

//===--- Per-op lowerings (one family per file)
//-----------------------------===//
mlir::LogicalResult lowerElementwise(KernelBuilder &kb, Results &results);
mlir::LogicalResult lowerLinalg(KernelBuilder &kb, Results &results);
mlir::LogicalResult lowerMovement(KernelBuilder &kb, Results &results);
mlir::LogicalResult lowerGather(KernelBuilder &kb, Results &results);
mlir::LogicalResult lowerReduce(KernelBuilder &kb, Results &results);
mlir::LogicalResult lowerSequential(KernelBuilder &kb, Results &results);
mlir::LogicalResult lowerNorm(KernelBuilder &kb, Results &results);
mlir::LogicalResult lowerAttention(KernelBuilder &kb, Results &results);

/// Why the op cannot be compiled ("" when it can): per-op dtype, attribute
/// and constant-operand requirements (the common type checks are done first).
std::string checkOp(mlir::Operation *op);

/// Per input dim of a kiln.slice: first index and step (count = the result
/// dim), from its constant starts/ends/axes/steps. Returns "" or the reason
/// the bounds are not usable (not constant, invalid).
std::string computeSlice(mlir::Operation *op,
                         llvm::SmallVectorImpl<int64_t> &start,
                         llvm::SmallVectorImpl<int64_t> &step);

/// Einsum equation parsed against input ranks: one label list per input and
/// the output labels. Labels are char codes; ellipsis dims get 256, 257, ...
struct EinsumSpec {
  std::vector<std::vector<int>> inputs;
  std::vector<int> output;
};
/// Parses like the reference kernel; returns "" or the error.
std::string parseEinsum(llvm::StringRef equation,
                        llvm::ArrayRef<llvm::ArrayRef<int64_t>> shapes,
                        EinsumSpec &spec);

/// `axis` (negative counts from the end) as an index in [0, rank); the op
/// verifier has checked the range.
inline int64_t normAxis(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

} // namespace kiln::llvmgen::detail

#endif // KILN_CODEGEN_LLVM_KERNELBUILDER_H

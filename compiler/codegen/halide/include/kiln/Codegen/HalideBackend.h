// The Halide 14 kernel backend: lowers one kiln op to a scheduled Halide
// pipeline, compiles it ahead of time to an object, or runs it by JIT (tests).
#ifndef KILN_CODEGEN_HALIDEBACKEND_H
#define KILN_CODEGEN_HALIDEBACKEND_H

#include "kiln/Reference/Tensor.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/LogicalResult.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kiln::halide {

/// How to build a kernel. Defaults give the schedules the backend was tuned
/// with on this machine.
struct KernelOptions {
  /// A Halide target string ("x86-64-linux-avx512_skylake-...") or "host".
  std::string target = "host";
  /// Threads the kernel will run on (0: the machine's cores). With 1, no loop
  /// is parallelized.
  int threads = 0;
  /// Schedule parameters by name, overriding the defaults; see
  /// scheduleParamNames(). Unknown names are an error.
  std::map<std::string, int64_t> params;
  /// Drop Halide's runtime checks of buffer shapes (the caller guarantees
  /// them).
  bool noAsserts = false;
  /// A Halide autoscheduler that schedules the kernel instead of its manual
  /// schedule: "" (manual, the default) or "adams2019" (Halide's Adams2019
  /// plugin, loaded on first use). `params` must be empty then. Kernels whose
  /// builder does not support autoscheduling fail to build in this mode.
  std::string autoscheduler;
};

/// One buffer argument of a compiled kernel. A kernel function takes
/// `halide_buffer_t *` arguments: the inputs, then the outputs, in the order
/// kernelArgs() lists them. Every buffer is dense and row-major with the
/// `shape` given here, which may be a reshaped (coalesced) view of the
/// operand's type: Halide dim i has extent shape[rank-1-i] and stride
/// prod(shape[rank-i:]). Bool tensors are one byte per element (0/1).
struct KernelArg {
  std::string name; // "in0", "in1", ..., "out0", ...
  bool isOutput = false;
  unsigned index = 0; // the op's operand index, or result index
  ref::DType dtype = ref::DType::F32;
  std::vector<int64_t> shape; // row-major buffer shape (never rank 0)
  bool packed = false;        // holds packWeights(op, value), not the value
};

/// True when the op can be compiled by this backend: static shapes, supported
/// op, dtypes and attributes. Otherwise `why` says what is missing.
bool isSupported(mlir::Operation *op, std::string *why = nullptr);

/// A stable signature of the kernel the op compiles to: op name, operand and
/// result types, attributes, the values of compile-time operands (shapes,
/// slice bounds) and which weights are packed. Ops that compile to the same
/// code share a key. Empty when the op is not supported.
std::string kernelKey(mlir::Operation *op);

/// The kernel's buffer arguments (inputs, then outputs). Operands that are
/// only read at compile time (a Reshape's shape, Slice bounds, ...) are not
/// arguments. Fails (with a diagnostic) when the op is not supported.
llvm::FailureOr<std::vector<KernelArg>> kernelArgs(mlir::Operation *op);

/// True when operand `operand` of `op` is a constant weight the kernel reads in
/// a pre-packed layout (matmul / fused_matmul / gemm with a constant 2-D b).
bool usesPackedWeight(mlir::Operation *op, unsigned operand);
/// The packed form of operand `operand`'s value, which the runtime passes in
/// place of the value. Layout: b seen as [K, N] (after trans_b), cut into
/// panels of P columns: packed[p][k][j] = b[k][p*P + j], zero past N; shape
/// [ceil(N/P), K, P] with P = packedPanelWidth(op). Throws ref::Error when
/// the value's shape does not match the operand.
ref::Tensor packWeights(mlir::Operation *op, const ref::Tensor &value,
                        unsigned operand = 1);
/// The panel width P of the packed layout of `op`'s weight (48 by default).
int64_t packedPanelWidth(mlir::Operation *op);

/// True when `name` ("adams2019") is an autoscheduler the backend can load
/// and use; otherwise `why` says what failed (unknown name, plugin missing).
/// Loads the plugin on first use (KILN_ADAMS2019_PLUGIN overrides its path).
bool autoschedulerAvailable(llvm::StringRef name, std::string *why = nullptr);

/// Schedule parameters the op's kernel reads (names valid in
/// KernelOptions::params) with their default values on the host target.
std::map<std::string, int64_t> scheduleParamNames(mlir::Operation *op);

/// Compiles the op's kernel to an object file defining one function
/// `int functionName(halide_buffer_t *...)` (arguments as kernelArgs() says),
/// without the Halide runtime. Emits a diagnostic on the op on failure.
llvm::LogicalResult compileKernelToObject(mlir::Operation *op,
                                          llvm::StringRef functionName,
                                          llvm::StringRef objPath,
                                          const KernelOptions &opts = {});
/// Also writes a C header declaring the function next to the object.
llvm::LogicalResult compileKernelToObject(mlir::Operation *op,
                                          llvm::StringRef functionName,
                                          llvm::StringRef objPath,
                                          llvm::StringRef headerPath,
                                          const KernelOptions &opts);
/// Files compileKernel() writes; empty paths are skipped.
struct KernelOutputs {
  std::string object;       // ELF object, no Halide runtime
  std::string header;       // C header declaring the function
  std::string assembly;     // target assembly
  std::string stmt;         // Halide's lowered statement (for --emit halide)
  std::string stmtHtml;     // the same as browsable HTML
  std::string llvmAssembly; // LLVM IR
};
/// Compiles the op's kernel to the requested files. Emits a diagnostic on
/// the op on failure.
llvm::LogicalResult compileKernel(mlir::Operation *op,
                                  llvm::StringRef functionName,
                                  const KernelOutputs &outputs,
                                  const KernelOptions &opts = {});

/// Writes the Halide runtime (thread pool, buffers, errors) for `target` as
/// one object, to be linked once into a library of kernels.
/// `errorMessage` receives the reason on failure.
llvm::LogicalResult compileRuntimeObject(llvm::StringRef objPath,
                                         llvm::StringRef target = "host",
                                         std::string *errorMessage = nullptr);

/// Compiles the kernel by JIT and runs it. `inputs` are the op's operands in
/// order (all of them, as the interpreter takes them; compile-time operands
/// are ignored, packed weights are packed here). Returns the results.
/// Emits a diagnostic on the op on failure.
llvm::FailureOr<std::vector<ref::Tensor>>
runKernelJIT(mlir::Operation *op, llvm::ArrayRef<ref::Tensor> inputs,
             const KernelOptions &opts = {});

} // namespace kiln::halide

#endif // KILN_CODEGEN_HALIDEBACKEND_H

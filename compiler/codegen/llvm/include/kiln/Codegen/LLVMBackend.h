// The LLVM kernel backend: lowers one kiln op through MLIR's own dialects
// (linalg/tensor -> bufferization -> scf -> llvm) to a native object file.
#ifndef KILN_CODEGEN_LLVMBACKEND_H
#define KILN_CODEGEN_LLVMBACKEND_H

#include "mlir/IR/Operation.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/LogicalResult.h"

#include <string>

namespace kiln::llvmgen {

/// Kernel ABI. compileKernelToObject() defines one C function
///
///   void fnName(void *arg0, ..., void *argN);
///
/// with one bare data pointer per buffer: first every operand of the op in
/// operand order (absent optional operands are left out; constant operands
/// such as weights or a Reshape's shape are arguments too, the kernel may
/// ignore those it reads at compile time), then every result in result order.
/// Buffers are dense and row-major with the static shapes of the op's types;
/// bool tensors hold one byte (0 or 1) per element. Results are written into
/// buffers the caller allocated (destination passing); they must not overlap
/// any operand buffer. The function may allocate scratch memory with
/// malloc/free and calls libm; it keeps no state between calls and is safe to
/// call from several threads at once.

/// True when the op can be compiled by this backend: a kiln op with static
/// shapes, element types f32/f64/i64/i32/i8/i1 and the operands its lowering
/// needs at compile time (Slice bounds) constant. Otherwise `why` says why.
bool isSupported(mlir::Operation *op, std::string *why = nullptr);

/// A stable signature of the code the op compiles to: backend version, op
/// name, operand and result types, attributes and the values of the operands
/// read at compile time. Ops that compile to the same code share a key.
/// Empty when the op is not supported.
std::string kernelKey(mlir::Operation *op);

/// The number of pointer arguments of the op's kernel (operands + results).
unsigned kernelArgCount(mlir::Operation *op);

/// Options for compileKernelToObject.
struct CompileOptions {
  /// CPU and features to compile for; empty means the host's.
  std::string cpu;
  std::string features;
  /// When non-empty, the LLVM dialect module and the LLVM IR are written to
  /// `<dumpPrefix>.mlir` / `<dumpPrefix>.ll` (debugging).
  std::string dumpPrefix;
};

/// Compiles the op's kernel to an object file defining `fnName` (see the ABI
/// above) for the host CPU at O3. The op is only read: it is copied into a
/// private context, so several threads may compile kernels of one module at
/// once. Emits a diagnostic on the op and fails when the op is not supported
/// or code generation fails.
llvm::LogicalResult compileKernelToObject(mlir::Operation *op,
                                          llvm::StringRef fnName,
                                          llvm::StringRef objPath,
                                          const CompileOptions &opts = {});

/// The kernel's IR after lowering to linalg/tensor (before bufferization), as
/// text; for tests and `--emit=ir` style debugging. Empty on failure.
std::string kernelTensorIR(mlir::Operation *op, llvm::StringRef fnName);

} // namespace kiln::llvmgen

#endif // KILN_CODEGEN_LLVMBACKEND_H

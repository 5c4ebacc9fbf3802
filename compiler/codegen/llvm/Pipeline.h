// Internal to the LLVM backend: the kernel context, the MLIR pass pipeline
// from linalg/tensor to the LLVM dialect, and LLVM object emission.
#ifndef KILN_CODEGEN_LLVM_PIPELINE_H
#define KILN_CODEGEN_LLVM_PIPELINE_H

#include "kiln/Codegen/LLVMBackend.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"

#include <memory>
#include <string>

namespace kiln::llvmgen::detail {

/// A fresh single-threaded context with the dialects, bufferization models
/// and LLVM IR translations kernels need.
std::unique_ptr<mlir::MLIRContext> makeKernelContext();

/// Bufferizes the tensor-level kernel module (outputs written in place into
/// the output arguments) and lowers it to the LLVM dialect with the
/// bare-pointer calling convention. `error` says what failed.
mlir::LogicalResult lowerToLLVMDialect(mlir::ModuleOp module,
                                       std::string &error);

/// Translates an LLVM dialect module to LLVM IR, optimizes it at O3 for the
/// host (or opts.cpu / opts.features) and writes an object file.
mlir::LogicalResult emitObject(mlir::ModuleOp module, llvm::StringRef objPath,
                               const CompileOptions &opts, std::string &error);

} // namespace kiln::llvmgen::detail

#endif // KILN_CODEGEN_LLVM_PIPELINE_H

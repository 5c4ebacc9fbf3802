// Per-kernel dumps for `kiln compile --emit=halide|asm`: every unique kernel
// of the library (the library emitter's dedup) as a Halide statement or
// assembly.
#ifndef KILN_COMPILER_KERNELDUMP_H
#define KILN_COMPILER_KERNELDUMP_H

#include "kiln/Codegen/Library.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace kiln {

enum class KernelDumpKind {
  HalideStmt, // OUTDIR/kernels/<fn>.stmt: Halide's lowered statement
  Assembly,   // OUTDIR/kernels/<fn>.s: target assembly
  All         // Halide kernels: <fn>.stmt, .stmt.html, .ll and .s (--dump-dir)
};

struct KernelDumpOptions {
  std::string outDir; // kernels go to OUTDIR/kernels/, created if missing
  KernelDumpKind kind = KernelDumpKind::HalideStmt;
  library::Backend backend = library::Backend::Auto;
  std::string target = "host"; // Halide target string
  int threads = 0;
};

/// Writes one file per unique kernel of @main (ops deduplicated exactly as
/// emitLibrary does) under OUTDIR/kernels/, plus OUTDIR/kernels/index.txt
/// listing each kernel's file, backend, key and the ops (ONNX node names) that
/// use it. Kernels of the LLVM backend have no Halide statement or assembly:
/// they get their LLVM IR (<fn>.ll) and a line in the index saying so.
/// Returns the path of the index; diagnostics and failure on error.
llvm::FailureOr<std::string> dumpKernels(mlir::ModuleOp module,
                                         const KernelDumpOptions &opts);

} // namespace kiln

#endif // KILN_COMPILER_KERNELDUMP_H

// Graphviz export of a model's @main: one node per op, SSA edges labelled with
// tensor types, fused ops highlighted, weights folded into their users' labels.
#ifndef KILN_COMPILER_DOTEXPORT_H
#define KILN_COMPILER_DOTEXPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace kiln {

/// Writes @main of `module` as a Graphviz digraph to `os`. Fails (with a
/// diagnostic) when the module has no entry function.
mlir::LogicalResult exportDot(mlir::ModuleOp module, llvm::raw_ostream &os);

/// The path of Graphviz's `dot` on PATH, or "" when Graphviz is not installed.
std::string findGraphvizDot();

/// Renders the Graphviz file `dotPath` to `outPath` in `format` ("svg" or
/// "png") with Graphviz's `dot`. Returns "" on success, else why it failed
/// (Graphviz missing, an unknown format, dot's exit status).
std::string renderDot(llvm::StringRef dotPath, llvm::StringRef format,
                      llvm::StringRef outPath);

} // namespace kiln

#endif // KILN_COMPILER_DOTEXPORT_H

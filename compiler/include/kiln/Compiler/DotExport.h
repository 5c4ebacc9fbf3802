// Graphviz export of a model's @main: one node per op, SSA edges labelled with
// tensor types, fused ops highlighted, weights folded into their users' labels.
#ifndef KILN_COMPILER_DOTEXPORT_H
#define KILN_COMPILER_DOTEXPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace kiln {

/// Writes @main of `module` as a Graphviz digraph to `os`. Fails (with a
/// diagnostic) when the module has no entry function.
mlir::LogicalResult exportDot(mlir::ModuleOp module, llvm::raw_ostream &os);

} // namespace kiln

#endif // KILN_COMPILER_DOTEXPORT_H

// The example plugin's passes. The plugin links kiln's shared libraries
// (kiln::Passes, kiln::IR), the same ones the kiln tool has loaded, so it can
// use kiln's C++ op classes: isa<kiln::MulOp> matches the host's ops.
#ifndef KILN_EXAMPLE_PLUGIN_PASSES_H
#define KILN_EXAMPLE_PLUGIN_PASSES_H

#include "mlir/Pass/Pass.h"

#include <memory>

namespace kiln_example {

/// `kiln-count-ops`: one remark per function with a histogram of its op names.
std::unique_ptr<mlir::Pass> createCountOpsPass();
/// `kiln-strip-identity`: replaces every `kiln.identity` by its operand.
std::unique_ptr<mlir::Pass> createStripIdentityPass();
/// `kiln-fold-mul-one`: x·1, 1·x and x/1 become x (exactly equal in IEEE
/// floats and integers) where the one does not broadcast x to a bigger shape.
std::unique_ptr<mlir::Pass> createFoldMulOnePass();

void registerCountOpsPass();
void registerStripIdentityPass();
void registerFoldMulOnePass();

} // namespace kiln_example

#endif // KILN_EXAMPLE_PLUGIN_PASSES_H

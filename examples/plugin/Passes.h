// The example plugin's passes. They use only MLIR's generic Operation API
// (ops are matched by name), so the plugin needs no kiln library: a plugin
// that links kiln's static libraries would get its own copies of kiln's op
// TypeIDs, and isa<kiln::AddOp> would then never match the host's ops.
#ifndef KILN_EXAMPLE_PLUGIN_PASSES_H
#define KILN_EXAMPLE_PLUGIN_PASSES_H

#include "mlir/Pass/Pass.h"

#include <memory>

namespace kiln_example {

/// `kiln-count-ops`: one remark per function with a histogram of its op names.
std::unique_ptr<mlir::Pass> createCountOpsPass();
/// `kiln-strip-identity`: replaces every `kiln.identity` by its operand.
std::unique_ptr<mlir::Pass> createStripIdentityPass();

void registerCountOpsPass();
void registerStripIdentityPass();

} // namespace kiln_example

#endif // KILN_EXAMPLE_PLUGIN_PASSES_H

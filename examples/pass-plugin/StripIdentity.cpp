// kiln-strip-identity: replaces each `kiln.identity` (ONNX Identity, and what
// some exporters leave around weights) by its operand and erases it.
#include "Passes.h"

#include "kiln/IR/KilnDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/SmallVector.h"

using namespace mlir;

namespace {

struct StripIdentityPass
    : public PassWrapper<StripIdentityPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(StripIdentityPass)

  StringRef getName() const final { return "StripIdentityPass"; }
  StringRef getArgument() const final { return "kiln-strip-identity"; }
  StringRef getDescription() const final {
    return "Replace every kiln.identity by its operand";
  }

  void runOnOperation() override {
    SmallVector<kiln::IdentityOp> identities;
    getOperation().walk([&](kiln::IdentityOp op) { identities.push_back(op); });
    for (kiln::IdentityOp op : identities) {
      // Identity never changes the type in a verified module; if a pass left
      // a refined result type, keep the op rather than break its users.
      if (op.getInput().getType() != op.getType())
        continue;
      op.getResult().replaceAllUsesWith(op.getInput());
      op.erase();
    }
  }
};

} // namespace

std::unique_ptr<Pass> kiln_example::createStripIdentityPass() {
  return std::make_unique<StripIdentityPass>();
}

void kiln_example::registerStripIdentityPass() {
  PassRegistration<StripIdentityPass>();
}

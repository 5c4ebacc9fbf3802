// kiln-strip-identity: replaces each `kiln.identity` (ONNX Identity, and what
// some exporters leave around weights) by its operand and erases it.
#include "Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/SmallVector.h"

using namespace mlir;

namespace {

struct StripIdentityPass
    : public PassWrapper<StripIdentityPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(StripIdentityPass)

  StringRef getArgument() const final { return "kiln-strip-identity"; }
  StringRef getDescription() const final {
    return "Replace every kiln.identity by its operand";
  }

  void runOnOperation() override {
    SmallVector<Operation *> identities;
    getOperation().walk([&](Operation *op) {
      if (op->getName().getStringRef() == "kiln.identity" &&
          op->getNumOperands() == 1 && op->getNumResults() == 1)
        identities.push_back(op);
    });
    for (Operation *op : identities) {
      Value in = op->getOperand(0), out = op->getResult(0);
      // Identity never changes the type in a verified module; if a pass left
      // a refined result type, keep the op rather than break its users.
      if (in.getType() != out.getType())
        continue;
      out.replaceAllUsesWith(in);
      op->erase();
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

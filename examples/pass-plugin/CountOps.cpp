// kiln-count-ops: reports how many ops of each kind every function holds, as
// one remark on the function ("kiln.matmul: 4, kiln.add: 2, ...").
#include "Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringMap.h"

#include <algorithm>
#include <vector>

using namespace mlir;

namespace {

struct CountOpsPass
    : public PassWrapper<CountOpsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(CountOpsPass)

  StringRef getName() const final { return "CountOpsPass"; }
  StringRef getArgument() const final { return "kiln-count-ops"; }
  StringRef getDescription() const final {
    return "Report a histogram of op names per function (as remarks)";
  }

  void runOnOperation() override {
    for (auto fn : getOperation().getOps<FunctionOpInterface>()) {
      llvm::StringMap<unsigned> counts;
      fn->walk([&](Operation *op) {
        if (op != fn.getOperation())
          counts[op->getName().getStringRef()]++;
      });
      // Most frequent first; ties by name, so the output is stable.
      std::vector<std::pair<std::string, unsigned>> sorted;
      for (auto &entry : counts)
        sorted.emplace_back(entry.getKey().str(), entry.getValue());
      std::sort(sorted.begin(), sorted.end(), [](auto &a, auto &b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
      InFlightDiagnostic remark = fn.emitRemark()
                                  << "op counts in @" << fn.getName() << ":";
      for (auto [i, entry] : llvm::enumerate(sorted))
        remark << (i ? ", " : " ") << entry.first << ": " << entry.second;
    }
    markAllAnalysesPreserved();
  }
};

} // namespace

std::unique_ptr<Pass> kiln_example::createCountOpsPass() {
  return std::make_unique<CountOpsPass>();
}

void kiln_example::registerCountOpsPass() { PassRegistration<CountOpsPass>(); }

// kiln-opt: runs kiln pass pipelines on .mlir files (the lit tests' driver).
#include "kiln/IR/KilnDialect.h"
#ifdef KILN_HAVE_PASSES
#include "kiln/Passes/Passes.h"
#endif

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<kiln::KilnDialect, mlir::func::FuncDialect>();
  mlir::registerTransformsPasses();
#ifdef KILN_HAVE_PASSES
  kiln::registerKilnPasses();
#endif
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "kiln optimizer driver\n", registry));
}

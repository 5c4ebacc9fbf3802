// The plugin's entry point: MLIR's pass plugin loader (--load-pass-plugin)
// calls mlirGetPassPluginInfo and then registers the passes below.
#include "Passes.h"

#include "mlir/Tools/Plugins/PassPlugin.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/Compiler.h"

extern "C" LLVM_ATTRIBUTE_WEAK ::mlir::PassPluginLibraryInfo
mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "KilnExamplePlugin", LLVM_VERSION_STRING,
          []() {
            kiln_example::registerCountOpsPass();
            kiln_example::registerStripIdentityPass();
            kiln_example::registerFoldMulOnePass();
          }};
}

// Loading the exported e2e models (tests/e2e/models/<name>/) for tests that
// compile them into libraries: their .npy inputs and the optimized module.
#ifndef KILN_TESTS_UNIT_MODELTESTUTIL_H
#define KILN_TESTS_UNIT_MODELTESTUTIL_H

#include "kiln/Compiler/Driver.h"
#include "kiln/Passes/Passes.h"
#include "kiln/Reference/Npy.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <map>
#include <string>

/// name -> tensor for every .npy file in `dir`.
inline std::map<std::string, kiln::ref::Tensor>
readNpyDir(const std::string &dir) {
  std::map<std::string, kiln::ref::Tensor> out;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec))
    if (llvm::sys::path::extension(it->path()) == ".npy")
      out[llvm::sys::path::stem(it->path()).str()] =
          kiln::ref::readNpy(it->path());
  return out;
}

/// Imports the ONNX model at `path` with every input's shape pinned to the
/// shape of `inputs[name]` and runs the default pipeline. Null on failure,
/// with the diagnostics appended to `diags`.
inline mlir::OwningOpRef<mlir::ModuleOp>
loadOptimizedModel(mlir::MLIRContext &ctx, const std::string &path,
                   const std::map<std::string, kiln::ref::Tensor> &inputs,
                   std::string &diags) {
  mlir::ScopedDiagnosticHandler h(&ctx, [&](mlir::Diagnostic &d) {
    diags += d.str() + "\n";
    return mlir::success();
  });
  kiln::LoadOptions lo;
  for (auto &[name, t] : inputs)
    lo.inputShapes[name] = t.shape();
  mlir::OwningOpRef<mlir::ModuleOp> module = kiln::loadModel(path, ctx, lo);
  if (!module)
    return nullptr;
  mlir::PassManager pm(&ctx);
  kiln::buildDefaultPipeline(pm);
  if (mlir::failed(pm.run(*module)))
    return nullptr;
  return module;
}

#endif // KILN_TESTS_UNIT_MODELTESTUTIL_H

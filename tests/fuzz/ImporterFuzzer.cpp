// libFuzzer target on the ONNX importer: bytes -> onnx::ModelProto -> kiln
// import (with import-time folding) -> verifier -> kiln's default fusion
// pipeline. Bad input must end in diagnostics, never a crash, hang or
// unbounded allocation. Also linked into kiln-fuzz-replay (ReplayMain.cpp).
#include "kiln/Frontend/OnnxImporter.h"
#include "kiln/IR/KilnDialect.h"
#include "kiln/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include "onnx/onnx_pb.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

namespace {

/// KILN_FUZZ_VERBOSE=1 prints every diagnostic (for replaying one input).
bool verbose() {
  static const bool v = [] {
    const char *e = std::getenv("KILN_FUZZ_VERBOSE");
    return e && *e && *e != '0';
  }();
  return v;
}

/// What happened to the last input: its diagnostics, one a line, then
/// "imported" and "pipeline failed" when those happened.
std::string &outcome() {
  static std::string s;
  return s;
}

/// A module the importer returned must verify (the importer verifies it
/// itself); anything else is an importer bug, reported as a crash.
void checkVerifies(mlir::ModuleOp module, const char *stage) {
  if (mlir::succeeded(mlir::verify(module)))
    return;
  std::fprintf(stderr, "kiln fuzz: the module does not verify %s\n", stage);
  module.print(llvm::errs());
  std::abort();
}

} // namespace

/// For kiln-fuzz-replay: checks a reproducer's `.expect` file against it.
const char *kilnFuzzLastOutcome() { return outcome().c_str(); }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  outcome().clear();
  if (size > (size_t)std::numeric_limits<int>::max())
    return 0;
  onnx::ModelProto model;
  if (!model.ParseFromArray(data, (int)size)) {
    outcome() = "not a ModelProto";
    return 0;
  }

  mlir::DialectRegistry registry;
  registry.insert<kiln::KilnDialect, mlir::func::FuncDialect>();
  mlir::MLIRContext ctx(registry, mlir::MLIRContext::Threading::DISABLED);
  mlir::ScopedDiagnosticHandler quiet(&ctx, [](mlir::Diagnostic &d) {
    if (verbose())
      llvm::errs() << d.getLocation() << ": " << d.str() << "\n";
    outcome() += d.str() + "\n";
    return mlir::success();
  });

  // External data resolves against a folder that does not exist: relative
  // paths must fail cleanly; nothing is read from the fuzzer's own folder.
  kiln::OnnxImportOptions opts;
  mlir::OwningOpRef<mlir::ModuleOp> module = kiln::importOnnxModel(
      model, "/nonexistent/kiln-fuzz", "fuzz.onnx", ctx, opts);
  if (!module)
    return 0;
  checkVerifies(*module, "after import");
  outcome() += "imported\n";

  // The pass manager verifies after each pass; a failure there (with a
  // diagnostic) is tolerated, a crash is not.
  mlir::PassManager pm(&ctx);
  kiln::buildDefaultPipeline(pm);
  if (mlir::succeeded(pm.run(*module)))
    checkVerifies(*module, "after the default pipeline");
  else
    outcome() += "pipeline failed\n";
  return 0;
}

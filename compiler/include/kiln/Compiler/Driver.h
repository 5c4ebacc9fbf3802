// The compiler driver library: load a model (ONNX or kiln MLIR), run pass
// pipelines with MLIR's instrumentation, print IR. Shared by kiln and tests.
#ifndef KILN_COMPILER_DRIVER_H
#define KILN_COMPILER_DRIVER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kiln {

/// Registers every dialect a kiln model or pipeline may use.
void registerKilnDialects(mlir::DialectRegistry &registry);

struct LoadOptions {
  /// Pins a graph input's shape ("input_ids" -> {1, 128}).
  std::map<std::string, std::vector<int64_t>> inputShapes;
  /// Pins a symbolic dim by name ("seq" -> 128).
  std::map<std::string, int64_t> dimValues;
};

/// Parses "name=1x128" (shape) into `shapes`; returns an error message or "".
std::string parseShapeSpec(llvm::StringRef spec,
                           std::map<std::string, std::vector<int64_t>> &shapes);
/// Parses "name=128" (a symbolic dim's value) into `dims`.
std::string parseDimSpec(llvm::StringRef spec, std::map<std::string, int64_t> &dims);

/// Loads `path` (.onnx through the importer, anything else as kiln MLIR),
/// applies pinned shapes and verifies. Null with diagnostics on failure.
mlir::OwningOpRef<mlir::ModuleOp> loadModel(llvm::StringRef path,
                                            mlir::MLIRContext &ctx,
                                            const LoadOptions &opts);

/// Pins the shapes of @main's arguments (by kiln.name / kiln.dims) and re-infers
/// every shape downstream.
mlir::LogicalResult pinInputShapes(mlir::ModuleOp module, const LoadOptions &opts);

/// The model's entry function: @main, or the only function in the module.
mlir::func::FuncOp getMainFunction(mlir::ModuleOp module);

/// The name of @main's argument/result `i` (kiln.name, else "input_i"/"output_i").
std::string argName(mlir::func::FuncOp fn, unsigned i);
std::string resultName(mlir::func::FuncOp fn, unsigned i);

/// Formats a location for a one-line message: "file:line:col", or "file" for
/// ONNX files (no line numbers); node names are part of importer messages.
std::string formatLocation(mlir::Location loc);

/// Prints diagnostics as `file: error: message` (the DESIGN.md contract) on stderr
/// for as long as the returned handler lives.
std::unique_ptr<mlir::ScopedDiagnosticHandler>
installDiagnosticPrinter(mlir::MLIRContext &ctx);

/// Prints `module` with large weights elided so dumps stay readable.
void printModule(mlir::ModuleOp module, llvm::raw_ostream &os, bool elideWeights = true);

} // namespace kiln

#endif // KILN_COMPILER_DRIVER_H

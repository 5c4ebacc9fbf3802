// `kiln compile --dump-dir DIR`: every stage of a compile on disk. The IR as
// imported, after each pass and final; graph pictures; kernel artifacts; the
// arena's memory plan.
#ifndef KILN_COMPILER_DUMPDIR_H
#define KILN_COMPILER_DUMPDIR_H

#include "kiln/Codegen/Library.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <string>

namespace kiln {

struct DumpDirOptions {
  std::string dir;
  // How kernels are compiled, as for the library (kernels/ shows exactly the
  // kernels a library of this model holds).
  library::Backend backend = library::Backend::Auto;
  std::string target = "host";
  int threads = 0;
  // Where notes (a skipped rendering) go.
  llvm::raw_ostream *notes = &llvm::errs();
};

/// Writes, in DIR:
///   00-imported.mlir          the model as imported (weights elided)
///   NN-<pass>.mlir            the module after each pass that ran, numbered
///                             in order, named by the pass argument
///   MM-final.mlir             the module handed to code generation
///   graph-imported.dot/.svg   graph pictures (the .svg when Graphviz's dot
///   graph-final.dot/.svg      is on PATH)
///   kernels/                  per unique kernel: .stmt, .stmt.html, .ll, .s
///                             and index.txt (see KernelDump.h)
///   memory-plan.txt           the arena: every intermediate's size, offset
///                             and live range in kernel calls; arena total
class DumpDir {
public:
  /// Creates DIR (and its parents) and checks a file can be written there.
  /// Null with `error` set when it cannot.
  static std::unique_ptr<DumpDir> create(const DumpDirOptions &opts,
                                         std::string &error);

  /// 00-imported.mlir and graph-imported.dot (+ .svg).
  mlir::LogicalResult writeImported(mlir::ModuleOp module);
  /// Adds an instrumentation to `pm` that writes NN-<pass>.mlir after every
  /// pass (NN-<pass>.failed.mlir when one fails). The module is printed whole,
  /// so the context must run passes single-threaded.
  void instrument(mlir::PassManager &pm);
  /// MM-final.mlir, graph-final.dot (+ .svg), kernels/ and memory-plan.txt.
  /// Needs static shapes for the kernels and the plan.
  mlir::LogicalResult writeFinal(mlir::ModuleOp module);

  const std::string &dir() const { return opts.dir; }
  /// The next stage number ("03").
  std::string nextStage();
  /// Writes `module` (weights elided) to DIR/<name>; diagnostics on failure.
  mlir::LogicalResult writeModule(mlir::ModuleOp module, llvm::StringRef name);

private:
  explicit DumpDir(const DumpDirOptions &opts) : opts(opts) {}
  mlir::LogicalResult writeGraph(mlir::ModuleOp module, llvm::StringRef stem);

  DumpDirOptions opts;
  unsigned stage = 0;
};

/// Writes the memory plan of @main (as the library emitter plans it for
/// `backend`) to `os`: the kernel calls in order, then one line per arena
/// buffer (size, offset, first and last kernel call using it, the op that
/// writes it), then the arena total. Diagnostics and failure when @main cannot
/// become a library (dynamic shapes, unsupported ops).
mlir::LogicalResult writeMemoryPlan(mlir::ModuleOp module,
                                    library::Backend backend,
                                    llvm::raw_ostream &os);

} // namespace kiln

#endif // KILN_COMPILER_DUMPDIR_H

// The library emitter's view of a model: kernel steps in order, where every
// buffer lives (arena, weights, caller inputs/outputs), weight blobs, output
// copies. Built from @main by buildProgram(); compiled by LibraryEmitter.
#ifndef KILN_CODEGEN_LIBRARY_PROGRAM_H
#define KILN_CODEGEN_LIBRARY_PROGRAM_H

#include "kiln/Codegen/HalideBackend.h"
#include "kiln/Codegen/Library.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/STLExtras.h"

#include <string>
#include <vector>

namespace kiln::library {

/// Where a buffer's bytes live; values match the runtime's kiln_rt_root.
enum class Root : uint8_t { Arena = 0, Weights = 1, Input = 2, Output = 3 };

struct Place {
  Root root = Root::Arena;
  uint32_t index = 0;  // input / output index
  uint64_t offset = 0; // bytes into the arena / weights / caller buffer
};

struct IOTensor {
  std::string name;
  ref::DType dtype = ref::DType::F32;
  std::vector<int64_t> shape;
  std::vector<std::string> dimNames; // "" for a static dim
  uint64_t bytes = 0;
};

struct StepArg {
  halide::KernelArg arg;
  Place place;
};

/// One call of a compiled kernel. Halide kernels take the arguments
/// halide::kernelArgs() lists; LLVM kernels take every operand, then every
/// result, as bare data pointers (Step::args lists them the same way).
struct Step {
  mlir::Operation *op = nullptr;
  unsigned kernel = 0; // into Program::kernels
  std::vector<StepArg> args;
  std::string name; // "node name (kiln.op)"
};

/// One unique kernel (ops with equal halide::kernelKey share it).
struct Kernel {
  std::string key;                   // "halide ..." or "llvm ..."
  Backend backend = Backend::Halide; // Halide or LLVM
  mlir::Operation *op = nullptr;     // the first op with this key
  unsigned uses = 0;
  // Halide schedule: parameters and autoscheduler (from the tuning
  // database; empty: the defaults) and what `schedule` to report.
  std::map<std::string, int64_t> params;
  std::string autoscheduler;
  std::string schedule = "default";
  /// The resolved Halide target `params`/`autoscheduler` were tuned for; the
  /// variants for other targets use the defaults.
  std::string tunedTarget;
  /// One compiled form per library target, best first (set when compiled).
  struct Variant {
    std::string target; // the target's name ("x86-64-avx2", "host")
    std::string function, objectPath;
    bool cacheHit = false;
    double seconds = 0;
  };
  std::vector<Variant> variants;
  /// For reports, once compiled: variant 0's (the best target's) symbol,
  /// whether every variant came from the cache, and their compile time.
  const std::string &function() const { return variants.front().function; }
  bool cacheHit() const {
    return llvm::all_of(variants, [](const Variant &v) { return v.cacheHit; });
  }
  double seconds() const {
    double s = 0;
    for (const Variant &v : variants)
      s += v.seconds;
    return s;
  }
};

struct WeightBlob {
  uint64_t offset = 0; // 64-byte aligned
  ref::Tensor data;
};

/// A copy into an output after the last step.
struct OutputCopy {
  Place src;
  uint32_t output = 0;
  uint64_t bytes = 0;
};

/// An intermediate placed in the arena by the memory planner: written by step
/// `first` (result `result` of its op), last read by step `last` (inclusive;
/// steps.size() means the output copies after the last step).
struct ArenaBuffer {
  int64_t first = 0, last = 0;
  unsigned result = 0;
  uint64_t bytes = 0, offset = 0;
};

struct Program {
  std::vector<IOTensor> inputs, outputs;
  std::vector<Step> steps;
  std::vector<Kernel> kernels;
  std::vector<WeightBlob> weights;
  uint64_t weightBytes = 0; // blob size, padding included
  std::vector<OutputCopy> copies;
  uint64_t arenaBytes = 0, intermediateBytes = 0;
  std::vector<ArenaBuffer> arenaBuffers; // the memory plan, in step order
  unsigned aliases = 0; // view ops that needed no kernel
};

/// Analyzes `fn`: static shapes, every needed op supported by a backend
/// `choice` allows (all failures listed, one diagnostic each), kernels
/// deduplicated by key, weights packed and deduplicated by content,
/// intermediates placed in the arena by the memory planner. Dead ops are
/// dropped. Kernels are not compiled here.
llvm::FailureOr<Program> buildProgram(mlir::func::FuncOp fn,
                                      Backend choice = Backend::Auto);

/// A short name for an op's location: its NameLoc (the ONNX node), else
/// file:line, else "".
std::string locationName(mlir::Location loc);

} // namespace kiln::library

#endif // KILN_CODEGEN_LIBRARY_PROGRAM_H

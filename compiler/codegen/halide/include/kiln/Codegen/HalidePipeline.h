// The Halide-level view of a kiln kernel: the scheduled pipeline an op lowers
// to, for tools that JIT, time or print it. Includes Halide.h (heavy).
#ifndef KILN_CODEGEN_HALIDEPIPELINE_H
#define KILN_CODEGEN_HALIDEPIPELINE_H

#include "kiln/Codegen/HalideBackend.h"

#include "Halide.h"

namespace kiln::halide {

/// A scheduled pipeline for one op, ready to compile.
struct KernelPipeline {
  Halide::Pipeline pipeline;
  /// The input parameters, in kernelArgs() order; outputs follow implicitly
  /// (Halide appends the pipeline's output buffers after them).
  std::vector<Halide::Argument> args;
  std::vector<Halide::ImageParam> inputs; // same order as args
  std::vector<KernelArg> signature;       // inputs then outputs
  Halide::Target target;
  std::map<std::string, int64_t> params; // schedule parameters used
};

/// Lowers and schedules `op`. Emits a diagnostic on the op on failure.
llvm::FailureOr<KernelPipeline> buildKernel(mlir::Operation *op,
                                            const KernelOptions &opts = {});

/// The Halide target for a target string ("host" or a Halide target string).
/// Fails with `error` set when the string is not a valid target.
llvm::FailureOr<Halide::Target> parseTarget(llvm::StringRef target,
                                            std::string *error = nullptr);

} // namespace kiln::halide

#endif // KILN_CODEGEN_HALIDEPIPELINE_H

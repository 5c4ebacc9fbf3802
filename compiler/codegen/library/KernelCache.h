// Compiling a Program's unique kernels (and the Halide runtime) to objects,
// in parallel, through an on-disk cache keyed by kernel signature, target and
// compiler build.
#ifndef KILN_CODEGEN_LIBRARY_KERNELCACHE_H
#define KILN_CODEGEN_LIBRARY_KERNELCACHE_H

#include "Program.h"

#include "kiln/Codegen/Target.h"

#include <string>

namespace kiln::library {

struct KernelBuildOptions {
  /// A --target value: one target or a comma-separated list (every kernel is
  /// compiled for each; see kiln/Codegen/Target.h).
  std::string target = "host";
  int threads = 0;      // KernelOptions::threads
  std::string cacheDir; // used when useCache
  bool useCache = true;
  int jobs = 0;        // parallel compilations (0: cores)
  std::string workDir; // objects go here when not cached
};

/// The library's targets for a --target value, best first (diagnostic at
/// `loc` when invalid).
mlir::FailureOr<std::vector<target::TargetInfo>>
libraryTargets(llvm::StringRef list, mlir::Location loc);

/// Sets each kernel's variants (one per target: function name
/// "kiln_k_<hash>" and object path),
/// compiling those not in the cache. Diagnostics on the kernel's op on
/// failure (all kernels are attempted).
mlir::LogicalResult compileKernels(Program &prog,
                                   const KernelBuildOptions &opts,
                                   mlir::Location loc);

/// The Halide runtime object for opts.target (cached like kernels).
mlir::FailureOr<std::string> halideRuntimeObject(const KernelBuildOptions &opts,
                                                 mlir::Location loc);

/// Identifies the compiler build (the file holding the Halide backend: its
/// size and time), so cached objects from another build are not reused.
std::string compilerFingerprint();

} // namespace kiln::library

#endif // KILN_CODEGEN_LIBRARY_KERNELCACHE_H

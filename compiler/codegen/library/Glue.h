// Writers of a model library's generated files: the public C header N.h, the
// C glue N.c (the runtime's model tables and the exported N_* API), the
// assembly that embeds the weights, and the linker version script.
#ifndef KILN_CODEGEN_LIBRARY_GLUE_H
#define KILN_CODEGEN_LIBRARY_GLUE_H

#include "Program.h"

#include <string>

namespace kiln::library {

struct GlueOptions {
  std::string name;     // C identifier N
  bool embedded = true; // weights in .rodata (else N.weights beside the .so)
  uint64_t weightsId = 0;
  int defaultThreads = 0;
  /// The kernel variants' targets and KILN_ISA_* bits, best first (one per
  /// entry of Kernel::variants).
  std::vector<std::pair<std::string, unsigned>> variants;
};

/// N.h: self-contained C API (no other kiln header needed).
std::string writeHeader(const Program &prog, const GlueOptions &opts);
/// N.c: compiled against kiln/kiln_runtime.h; kernels from Program::kernels.
std::string writeSource(const Program &prog, const GlueOptions &opts);
/// N.weights.S: the weights blob file `binPath` as a 64-byte aligned,
/// read-only hidden symbol N_kiln_weights.
std::string writeWeightsAsm(const GlueOptions &opts, llvm::StringRef binPath);
/// The version script exporting only the N_* API functions.
std::string writeVersionScript(const GlueOptions &opts);
/// The names of the exported API functions (without the N_ prefix).
const std::vector<std::string> &apiFunctions();

/// A C string literal for `s` (quotes included).
std::string cString(llvm::StringRef s);

} // namespace kiln::library

#endif // KILN_CODEGEN_LIBRARY_GLUE_H

// kiln's named compilation targets and what each means to the Halide and LLVM
// backends and to a library's CPU dispatch (docs/targets.md).
#ifndef KILN_CODEGEN_TARGET_H
#define KILN_CODEGEN_TARGET_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/LogicalResult.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>
#include <vector>

namespace Halide {
struct Target;
} // namespace Halide

namespace kiln::target {

/// Instruction-set levels (the runtime's KILN_ISA_* bits; cumulative).
enum Isa : unsigned {
  IsaSse41 = 1,
  IsaAvx2 = 2,
  IsaAvx512 = 4,
  IsaAvx512Bf16 = 8,
};

/// One target a kernel variant is compiled for.
struct TargetInfo {
  std::string name;                 // "host", "x86-64-avx2", or a Halide string
  std::string halide;               // Halide target string ("host": detected)
  std::string llvmCpu;              // "" with llvmFeatures "": the host's
  std::string llvmFeatures;         // "+avx,+avx2,..."
  unsigned isa = 0;                 // KILN_ISA_* bits the CPU must have
  int vectorBits = 128;             // widest f32 vector
  int vectorRegisters = 16;         // architectural vector registers
  int64_t l2Bytes = 0, l3Bytes = 0; // data caches (host: read; else typical)
};

/// The named targets, best last: x86-64, x86-64-avx2, x86-64-avx512,
/// x86-64-avx512-bf16.
const std::vector<TargetInfo> &namedTargets();

/// The KILN_ISA_* bits of this machine (CPUID and the OS's saved state).
unsigned hostIsa();
/// The best named target within `isa` ("x86-64-avx2"); "none" if none.
std::string isaName(unsigned isa);
/// KILN_ISA_* bits that a Halide target's features need.
unsigned isaOf(const Halide::Target &t);
unsigned isaOfHalideTarget(llvm::StringRef halideTarget);
/// Drops from `t` every feature of the ISA levels not in `isa`.
void restrictTo(Halide::Target &t, unsigned isa);

/// One target: "host" (this machine's detected features), a named target, or
/// a Halide target string (e.g. "host-profile", "x86-64-linux-avx2-fma").
llvm::FailureOr<TargetInfo> lookup(llvm::StringRef name, std::string *error);
/// A --target value: one target or a comma-separated list of them. A list
/// is sorted best first (as the library tries them) and must not repeat.
llvm::FailureOr<std::vector<TargetInfo>> parseList(llvm::StringRef list,
                                                   std::string *error);
/// Whether this machine can run code for `t`.
inline bool hostRuns(const TargetInfo &t) {
  return (t.isa & hostIsa()) == t.isa;
}

/// `kiln compile --target=help`: the targets and what this host supports.
void printHelp(llvm::raw_ostream &os);

} // namespace kiln::target

#endif // KILN_CODEGEN_TARGET_H

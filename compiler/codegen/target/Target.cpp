// Named targets: their Halide target strings, LLVM CPU features, ISA bits and
// register files; the host's ISA from CPUID; --target list parsing and help.
#include "kiln/Codegen/Target.h"

#include "Halide.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <fstream>

extern "C" uint32_t kiln_rt_cpu_isa(void);

namespace kiln::target {

namespace {
/// Size in bytes of the host's cache of `level` (sysfs), or `fallback`.
int64_t hostCacheBytes(int level, int64_t fallback) {
  for (int i = 0; i < 8; ++i) {
    std::string dir =
        "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::ifstream lv(dir + "level"), ty(dir + "type"), sz(dir + "size");
    int l = 0;
    std::string type, size;
    if (!(lv >> l) || !(ty >> type) || !(sz >> size))
      continue;
    if (l != level || type == "Instruction" || size.empty())
      continue;
    int64_t n = std::atoll(size.c_str());
    char unit = size.back();
    return unit == 'K' ? n << 10 : unit == 'M' ? n << 20 : n;
  }
  return fallback;
}

TargetInfo make(std::string name, std::string halide, std::string features,
                unsigned isa) {
  TargetInfo t;
  t.name = std::move(name);
  t.halide = std::move(halide);
  t.llvmCpu = "x86-64";
  t.llvmFeatures = std::move(features);
  t.isa = isa;
  t.vectorBits = isa & IsaAvx512 ? 512 : isa & IsaAvx2 ? 256 : 128;
  t.vectorRegisters = isa & IsaAvx512 ? 32 : 16;
  // Typical of the CPUs these targets run on (Zen 2-4, Skylake and later).
  t.l2Bytes = int64_t(512) << 10;
  t.l3Bytes = int64_t(16) << 20;
  return t;
}

const char *kAvx2Features = "+sse4.1,+avx,+avx2,+fma,+f16c";
const char *kAvx512Features = "+sse4.1,+avx,+avx2,+fma,+f16c,+avx512f,"
                              "+avx512cd,+avx512bw,+avx512dq,+avx512vl";
} // namespace

const std::vector<TargetInfo> &namedTargets() {
  static const std::vector<TargetInfo> all = [] {
    const std::string sse = "x86-64-linux-sse41";
    const std::string avx2 = sse + "-avx-avx2-fma-f16c";
    const std::string avx512 = avx2 + "-avx512-avx512_skylake";
    unsigned i1 = IsaSse41, i2 = i1 | IsaAvx2, i3 = i2 | IsaAvx512,
             i4 = i3 | IsaAvx512Bf16;
    // Halide 14 reaches BF16/VNNI only through avx512_sapphirerapids, which
    // also implies AVX512-FP16 and AVX-VNNI (absent on Zen 4): the bf16
    // target's Halide kernels use the Skylake AVX-512 set for now.
    return std::vector<TargetInfo>{
        make("x86-64", sse, "+sse4.1", i1),
        make("x86-64-avx2", avx2, kAvx2Features, i2),
        make("x86-64-avx512", avx512, kAvx512Features, i3),
        make("x86-64-avx512-bf16", avx512,
             std::string(kAvx512Features) + ",+avx512bf16,+avx512vnni", i4)};
  }();
  return all;
}

unsigned hostIsa() {
  static const unsigned isa = kiln_rt_cpu_isa();
  return isa;
}

std::string isaName(unsigned isa) {
  std::string best = "none";
  for (const TargetInfo &t : namedTargets())
    if ((t.isa & isa) == t.isa)
      best = t.name;
  return best;
}

namespace {
/// The Halide features of each ISA level (Isa bit i <-> kFeatures[i]).
using HF = Halide::Target::Feature;
const std::vector<HF> kFeatures[] = {
    {Halide::Target::SSE41},
    {Halide::Target::AVX, Halide::Target::AVX2, Halide::Target::FMA,
     Halide::Target::F16C},
    {Halide::Target::AVX512, Halide::Target::AVX512_Skylake,
     Halide::Target::AVX512_Cannonlake, Halide::Target::AVX512_KNL},
    {Halide::Target::AVX512_SapphireRapids}};
} // namespace

unsigned isaOf(const Halide::Target &t) {
  if (t.arch != Halide::Target::X86)
    return 0;
  unsigned isa = 0;
  for (unsigned level = 0; level < std::size(kFeatures); ++level)
    if (llvm::any_of(kFeatures[level], [&](HF f) { return t.has_feature(f); }))
      isa |= (2u << level) - 1; // this level and every one below
  return isa;
}

unsigned isaOfHalideTarget(llvm::StringRef halideTarget) {
  return isaOf(Halide::Target(halideTarget.str()));
}

void restrictTo(Halide::Target &t, unsigned isa) {
  for (unsigned level = 0; level < std::size(kFeatures); ++level)
    if (!(isa & (1u << level)))
      for (HF f : kFeatures[level])
        if (t.has_feature(f))
          t = t.without_feature(f);
}

llvm::FailureOr<TargetInfo> lookup(llvm::StringRef name, std::string *error) {
  name = name.trim();
  for (const TargetInfo &t : namedTargets())
    if (t.name == name)
      return t;
  if (name.empty() || name == "host" || name.starts_with("host-")) {
    // The Halide backend resolves "host" (dropping features Halide 14's
    // detection adds but the CPU lacks); LLVM uses the host's CPU.
    TargetInfo t =
        make(name.empty() ? "host" : name.str(), name.str(), "", hostIsa());
    if (t.halide.empty())
      t.halide = "host";
    t.llvmCpu.clear();
    t.l2Bytes = hostCacheBytes(2, t.l2Bytes);
    t.l3Bytes = hostCacheBytes(3, t.l3Bytes);
    return t;
  }
  if (Halide::Target::validate_target_string(name.str())) {
    TargetInfo t = make(name.str(), name.str(), "", isaOfHalideTarget(name));
    // A raw Halide string pins Halide's kernels only; LLVM matches its level.
    t.llvmFeatures = t.isa & IsaAvx512 ? kAvx512Features
                     : t.isa & IsaAvx2 ? kAvx2Features
                                       : "+sse4.1";
    return t;
  }
  if (error) {
    *error = "unknown target '" + name.str() + "' (known: host";
    for (const TargetInfo &t : namedTargets())
      *error += ", " + t.name;
    *error += ", or a Halide target string; --target=help lists them)";
  }
  return llvm::failure();
}

llvm::FailureOr<std::vector<TargetInfo>> parseList(llvm::StringRef list,
                                                   std::string *error) {
  llvm::SmallVector<llvm::StringRef> parts;
  list.split(parts, ',');
  std::vector<TargetInfo> out;
  for (llvm::StringRef p : parts) {
    llvm::FailureOr<TargetInfo> t = lookup(p, error);
    if (llvm::failed(t))
      return llvm::failure();
    for (const TargetInfo &seen : out)
      if (seen.name == t->name || (parts.size() > 1 && seen.isa == t->isa)) {
        if (error)
          *error = "target '" + t->name + "' is listed twice" +
                   (seen.name == t->name ? std::string()
                                         : " (as '" + seen.name +
                                               "', the same instruction set)");
        return llvm::failure();
      }
    out.push_back(*t);
  }
  // Best first: the library tries variants in this order.
  llvm::stable_sort(out, [](const TargetInfo &a, const TargetInfo &b) {
    return a.isa > b.isa;
  });
  return out;
}

void printHelp(llvm::raw_ostream &os) {
  unsigned host = hostIsa();
  os << "kiln targets (--target=T or a comma-separated list: one library, "
        "every kernel\ncompiled for each, the best the CPU runs picked when "
        "an instance is created):\n";
  os << llvm::formatv("  {0,-20} {1}\n", "host",
                      "this machine (default): " + isaName(host) +
                          " level, Halide's detected features");
  struct Row {
    const char *name, *what;
  } rows[] = {
      {"x86-64", "SSE4.1 baseline (128-bit vectors)"},
      {"x86-64-avx2", "AVX2, FMA, F16C (256-bit, 16 registers)"},
      {"x86-64-avx512", "AVX-512 F/CD/BW/DQ/VL (512-bit, 32 registers)"},
      {"x86-64-avx512-bf16",
       "x86-64-avx512 + AVX512-BF16 and AVX512-VNNI (as on Zen 4)"}};
  for (const Row &r : rows) {
    llvm::FailureOr<TargetInfo> t = lookup(r.name, nullptr);
    bool runs = succeeded(t) && (t->isa & host) == t->isa;
    os << llvm::formatv("  {0,-20} {1}{2}\n", r.name, r.what,
                        runs ? "" : "  [not on this CPU]");
  }
  os << "This CPU: " << isaName(host)
     << ". KILN_MAX_CPU_ISA=x86-64|avx2|"
        "avx512|avx512-bf16 caps what a library picks at run time.\n";
}

} // namespace kiln::target

// Parallel, cached AOT compilation of a model's unique Halide kernels.
#include "KernelCache.h"

#include "kiln/Codegen/HalidePipeline.h"
#include "kiln/Codegen/LLVMBackend.h"
#include "kiln/Codegen/Library.h"
#include "kiln/Codegen/Target.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/SHA256.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <dlfcn.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace kiln::library {

std::string defaultCacheDir() {
  if (const char *d = std::getenv("KILN_CACHE_DIR"); d && *d)
    return d;
  if (const char *x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return std::string(x) + "/kiln/kernels";
  if (const char *h = std::getenv("HOME"); h && *h)
    return std::string(h) + "/.cache/kiln/kernels";
  return "/tmp/kiln-cache/kernels";
}

std::string compilerFingerprint() {
  static const std::string fp = [] {
    using Fn =
        llvm::LogicalResult (*)(mlir::Operation *, llvm::StringRef,
                                llvm::StringRef, const halide::KernelOptions &);
    Fn fn = &halide::compileKernelToObject;
    std::string s = "kiln-kernel-cache-v1";
    Dl_info info;
    struct stat st;
    if (dladdr(reinterpret_cast<void *>(fn), &info) && info.dli_fname &&
        stat(info.dli_fname, &st) == 0)
      s += std::string(" ") + info.dli_fname + " " +
           std::to_string((long long)st.st_size) + " " +
           std::to_string((long long)st.st_mtim.tv_sec) + "." +
           std::to_string((long long)st.st_mtim.tv_nsec);
    return s;
  }();
  return fp;
}

namespace {

std::string hashHex(llvm::StringRef text) {
  std::array<uint8_t, 32> h = llvm::SHA256::hash(
      llvm::ArrayRef<uint8_t>(text.bytes_begin(), text.bytes_end()));
  return llvm::toHex(h, /*LowerCase=*/true).substr(0, 32);
}

/// The folder objects go to (the cache, or the work dir), created if missing.
mlir::FailureOr<std::string> kernelDir(const KernelBuildOptions &opts,
                                       mlir::Location loc) {
  std::string dir = opts.useCache ? opts.cacheDir : opts.workDir;
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return mlir::emitError(loc) << "cannot create kernel directory '" << dir
                                << "': " << ec.message();
  return dir;
}

/// The resolved target string ("host" becomes this machine's features).
mlir::FailureOr<std::string> resolveTarget(llvm::StringRef target,
                                           mlir::Location loc) {
  std::string err;
  llvm::FailureOr<Halide::Target> t = halide::parseTarget(target, &err);
  if (failed(t))
    return mlir::emitError(loc) << err;
  return t->to_string();
}

/// Renames `tmp` to `path` (atomic in one directory).
bool publish(const std::string &tmp, const std::string &path) {
  return !llvm::sys::fs::rename(tmp, path);
}

std::string tempName(const std::string &path) {
  static std::atomic<unsigned> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." +
         std::to_string(counter++);
}

} // namespace

mlir::FailureOr<std::vector<target::TargetInfo>>
libraryTargets(llvm::StringRef list, mlir::Location loc) {
  std::string err;
  llvm::FailureOr<std::vector<target::TargetInfo>> ts =
      target::parseList(list.empty() ? "host" : list, &err);
  if (failed(ts))
    return mlir::emitError(loc) << err;
  return *ts;
}

mlir::LogicalResult compileKernels(Program &prog,
                                   const KernelBuildOptions &opts,
                                   mlir::Location loc) {
  mlir::FailureOr<std::vector<target::TargetInfo>> targets =
      libraryTargets(opts.target, loc);
  if (failed(targets))
    return mlir::failure();
  std::vector<std::string> resolved;
  for (const target::TargetInfo &t : *targets) {
    mlir::FailureOr<std::string> r = resolveTarget(t.halide, loc);
    if (failed(r))
      return mlir::failure();
    resolved.push_back(*r);
  }
  mlir::FailureOr<std::string> dir = kernelDir(opts, loc);
  if (failed(dir))
    return mlir::failure();
  // One job per kernel and target.
  std::vector<std::pair<unsigned, unsigned>> misses;
  for (auto [i, k] : llvm::enumerate(prog.kernels)) {
    k.variants.clear();
    for (auto [ti, t] : llvm::enumerate(*targets)) {
      // The schedule is part of the key: a tuned compile never reuses an
      // object built with other parameters.
      std::string sched;
      if (k.tunedTarget.empty() || k.tunedTarget == resolved[ti]) {
        for (const auto &kv : k.params)
          sched += "\nparam " + kv.first + "=" + std::to_string(kv.second);
        if (!k.autoscheduler.empty())
          sched += "\nautoscheduler=" + k.autoscheduler;
      }
      // LLVM kernels follow the target's CPU features.
      std::string llvmTarget =
          k.backend == Backend::LLVM
              ? "\nllvm " + t.llvmCpu + " " + t.llvmFeatures
              : "";
      std::string h = hashHex(k.key + "\n" + resolved[ti] + llvmTarget +
                              "\nthreads=" + std::to_string(opts.threads) +
                              "\n" + compilerFingerprint() + sched);
      Kernel::Variant v;
      v.target = t.name;
      v.function = "kiln_k_" + h.substr(0, 24);
      v.objectPath = *dir + "/" + h + ".o";
      v.cacheHit = opts.useCache && llvm::sys::fs::exists(v.objectPath);
      if (!v.cacheHit)
        misses.push_back({(unsigned)i, (unsigned)ti});
      k.variants.push_back(std::move(v));
    }
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> ok{true};
  auto compileOne = [&](std::pair<unsigned, unsigned> job) {
    Kernel &k = prog.kernels[job.first];
    Kernel::Variant &v = k.variants[job.second];
    const target::TargetInfo &t = (*targets)[job.second];
    auto t0 = std::chrono::steady_clock::now();
    std::string tmp = tempName(v.objectPath);
    halide::KernelOptions ko;
    ko.target = resolved[job.second];
    ko.threads = opts.threads;
    if (k.tunedTarget.empty() || k.tunedTarget == resolved[job.second]) {
      ko.params = k.params;
      ko.autoscheduler = k.autoscheduler;
    }
    llvmgen::CompileOptions lo;
    lo.cpu = t.llvmCpu;
    lo.features = t.llvmFeatures;
    llvm::LogicalResult built =
        k.backend == Backend::LLVM
            ? llvmgen::compileKernelToObject(k.op, v.function, tmp, lo)
            : halide::compileKernelToObject(k.op, v.function, tmp, ko);
    if (failed(built)) {
      llvm::sys::fs::remove(tmp);
      ok = false;
      return;
    }
    if (!publish(tmp, v.objectPath)) {
      mlir::emitError(k.op->getLoc())
          << "cannot write kernel object '" << v.objectPath << "'";
      llvm::sys::fs::remove(tmp);
      ok = false;
    }
    v.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
  };
  if (misses.empty())
    return mlir::success();
  // The first compile of each backend runs alone: it initializes that
  // backend's target machinery once.
  std::vector<std::pair<unsigned, unsigned>> rest;
  bool seen[2] = {false, false};
  for (auto job : misses) {
    bool isLLVM = prog.kernels[job.first].backend == Backend::LLVM;
    if (seen[isLLVM]) {
      rest.push_back(job);
      continue;
    }
    seen[isLLVM] = true;
    compileOne(job);
  }
  misses = std::move(rest);
  int jobs = opts.jobs > 0 ? opts.jobs
                           : std::max(1u, std::thread::hardware_concurrency());
  // Ops are read concurrently: only safe when the context is thread-safe.
  if (!prog.kernels.front().op->getContext()->isMultithreadingEnabled())
    jobs = 1;
  jobs = std::min<int>(jobs, misses.size());
  auto worker = [&] {
    for (size_t j; (j = next.fetch_add(1)) < misses.size();)
      compileOne(misses[j]);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < jobs; ++t)
    pool.emplace_back(worker);
  worker();
  for (std::thread &t : pool)
    t.join();
  return mlir::success(ok.load());
}

mlir::FailureOr<std::string> halideRuntimeObject(const KernelBuildOptions &opts,
                                                 mlir::Location loc) {
  // One runtime serves every variant: built for the least capable target.
  mlir::FailureOr<std::vector<target::TargetInfo>> targets =
      libraryTargets(opts.target, loc);
  if (failed(targets))
    return mlir::failure();
  std::string base = targets->back().halide;
  mlir::FailureOr<std::string> target = resolveTarget(base, loc);
  if (failed(target))
    return mlir::failure();
  mlir::FailureOr<std::string> dir = kernelDir(opts, loc);
  if (failed(dir))
    return mlir::failure();
  std::string path =
      *dir + "/halide_runtime_" +
      hashHex("halide-runtime\n" + *target + "\n" + compilerFingerprint()) +
      ".o";
  if (opts.useCache && llvm::sys::fs::exists(path))
    return path;
  std::string tmp = tempName(path), err;
  if (failed(halide::compileRuntimeObject(tmp, base, &err))) {
    llvm::sys::fs::remove(tmp);
    return mlir::emitError(loc) << "cannot compile the Halide runtime: " << err;
  }
  if (!publish(tmp, path)) {
    llvm::sys::fs::remove(tmp);
    return mlir::emitError(loc) << "cannot write '" << path << "'";
  }
  return path;
}

} // namespace kiln::library

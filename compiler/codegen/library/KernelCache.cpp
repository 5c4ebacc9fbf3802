// Parallel, cached AOT compilation of a model's unique Halide kernels.
#include "KernelCache.h"

#include "kiln/Codegen/HalidePipeline.h"
#include "kiln/Codegen/LLVMBackend.h"
#include "kiln/Codegen/Library.h"

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

mlir::LogicalResult compileKernels(Program &prog,
                                   const KernelBuildOptions &opts,
                                   mlir::Location loc) {
  mlir::FailureOr<std::string> target = resolveTarget(opts.target, loc);
  if (failed(target))
    return mlir::failure();
  mlir::FailureOr<std::string> dir = kernelDir(opts, loc);
  if (failed(dir))
    return mlir::failure();
  std::vector<unsigned> misses;
  for (auto [i, k] : llvm::enumerate(prog.kernels)) {
    // The schedule is part of the key: a tuned compile never reuses an
    // object built with other parameters.
    std::string sched;
    for (const auto &kv : k.params)
      sched += "\nparam " + kv.first + "=" + std::to_string(kv.second);
    if (!k.autoscheduler.empty())
      sched += "\nautoscheduler=" + k.autoscheduler;
    std::string h = hashHex(k.key + "\n" + *target +
                            "\nthreads=" + std::to_string(opts.threads) + "\n" +
                            compilerFingerprint() + sched);
    k.function = "kiln_k_" + h.substr(0, 24);
    k.objectPath = *dir + "/" + h + ".o";
    k.cacheHit = opts.useCache && llvm::sys::fs::exists(k.objectPath);
    if (!k.cacheHit)
      misses.push_back(i);
  }
  bool anyLLVM = llvm::any_of(
      prog.kernels, [](const Kernel &k) { return k.backend == Backend::LLVM; });
  if (anyLLVM && opts.target != "host" && !opts.target.empty())
    return mlir::emitError(loc)
           << "the LLVM backend compiles for the host only, not for target '"
           << opts.target << "'";
  halide::KernelOptions kopts;
  kopts.target = opts.target;
  kopts.threads = opts.threads;
  std::atomic<size_t> next{0};
  std::atomic<bool> ok{true};
  auto compileOne = [&](unsigned i) {
    Kernel &k = prog.kernels[i];
    auto t0 = std::chrono::steady_clock::now();
    std::string tmp = tempName(k.objectPath);
    halide::KernelOptions ko = kopts;
    ko.params = k.params;
    ko.autoscheduler = k.autoscheduler;
    llvm::LogicalResult built =
        k.backend == Backend::LLVM
            ? llvmgen::compileKernelToObject(k.op, k.function, tmp)
            : halide::compileKernelToObject(k.op, k.function, tmp, ko);
    if (failed(built)) {
      llvm::sys::fs::remove(tmp);
      ok = false;
      return;
    }
    if (!publish(tmp, k.objectPath)) {
      mlir::emitError(k.op->getLoc())
          << "cannot write kernel object '" << k.objectPath << "'";
      llvm::sys::fs::remove(tmp);
      ok = false;
    }
    k.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
  };
  if (misses.empty())
    return mlir::success();
  // The first compile of each backend runs alone: it initializes that
  // backend's target machinery once.
  std::vector<unsigned> rest;
  bool seen[2] = {false, false};
  for (unsigned i : misses) {
    bool isLLVM = prog.kernels[i].backend == Backend::LLVM;
    if (seen[isLLVM]) {
      rest.push_back(i);
      continue;
    }
    seen[isLLVM] = true;
    compileOne(i);
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
  mlir::FailureOr<std::string> target = resolveTarget(opts.target, loc);
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
  if (failed(halide::compileRuntimeObject(tmp, opts.target, &err))) {
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

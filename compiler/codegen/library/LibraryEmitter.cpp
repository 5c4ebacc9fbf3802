// emitLibrary: a shape-static kiln module in, OUTDIR/libN.so + N.h (+ N.c,
// N.json, N.weights) out. Plans the program, compiles kernels through the
// cache, writes weights and glue, and links with the system C compiler.
#include "Glue.h"
#include "KernelCache.h"
#include "Program.h"
#include "Tuner.h"

#include "kiln/Codegen/Library.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/xxhash.h"

#include <chrono>
#include <cstdlib>
#include <dlfcn.h>

namespace kiln::library {

namespace {
#include "RuntimeHeaders.inc" // kModelTypesHeader, kRuntimeHeader

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

constexpr uint64_t kMaxEmbeddedBytes = uint64_t(1) << 30;

/// Writes what `write` puts in the stream to `path`, through a temporary file
/// renamed into place. Errors say "cannot write <what>'path'".
mlir::LogicalResult
writeThroughTemp(const std::string &path, llvm::StringRef what,
                 mlir::Location loc,
                 llvm::function_ref<void(llvm::raw_ostream &)> write) {
  std::string tmp = path + ".tmp";
  std::error_code ec;
  {
    llvm::raw_fd_ostream os(tmp, ec);
    if (ec)
      return mlir::emitError(loc)
             << "cannot write " << what << "'" << path << "': " << ec.message();
    write(os);
    os.close();
    if (os.has_error())
      return mlir::emitError(loc) << "cannot write " << what << "'" << path
                                  << "': " << os.error().message();
  }
  if ((ec = llvm::sys::fs::rename(tmp, path)))
    return mlir::emitError(loc)
           << "cannot write " << what << "'" << path << "': " << ec.message();
  return mlir::success();
}

/// Writes `text` to `path`.
mlir::LogicalResult writeFile(const std::string &path, llvm::StringRef text,
                              mlir::Location loc) {
  return writeThroughTemp(path, "", loc,
                          [&](llvm::raw_ostream &os) { os << text; });
}

/// The weights blob (and, for an external file, its 64-byte header).
mlir::LogicalResult writeWeights(const Program &prog, const std::string &path,
                                 bool withHeader, uint64_t id,
                                 mlir::Location loc) {
  return writeThroughTemp(path, "weights ", loc, [&](llvm::raw_ostream &os) {
    if (withHeader) {
      char header[64] = {0};
      std::memcpy(header, "KILNWTS1", 8);
      std::memcpy(header + 8, &id, 8);
      uint64_t bytes = prog.weightBytes;
      std::memcpy(header + 16, &bytes, 8);
      os.write(header, sizeof header);
    }
    uint64_t at = 0;
    for (const WeightBlob &b : prog.weights) {
      os.write_zeros(b.offset - at);
      os.write(static_cast<const char *>(b.data.raw()), b.data.bytes());
      at = b.offset + b.data.bytes();
    }
    os.write_zeros(prog.weightBytes - at);
  });
}

uint64_t weightsId(const Program &prog) {
  std::vector<uint64_t> parts = {prog.weightBytes};
  for (const WeightBlob &b : prog.weights) {
    parts.push_back(b.offset);
    parts.push_back(llvm::xxh3_64bits(llvm::ArrayRef<uint8_t>(
        static_cast<const uint8_t *>(b.data.raw()), b.data.bytes())));
  }
  uint64_t id = llvm::xxh3_64bits(
      llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(parts.data()),
                              parts.size() * sizeof(uint64_t)));
  return id ? id : 1;
}

/// libkilnrt.a: $KILN_RUNTIME_LIB, the build tree's, or ../lib beside the
/// running executable.
std::string runtimeArchive() {
  if (const char *e = std::getenv("KILN_RUNTIME_LIB"); e && *e)
    return e;
#ifdef KILN_RUNTIME_ARCHIVE
  if (llvm::sys::fs::exists(KILN_RUNTIME_ARCHIVE))
    return KILN_RUNTIME_ARCHIVE;
#endif
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&runtimeArchive), &info) &&
      info.dli_fname) {
    llvm::SmallString<256> p(llvm::sys::path::parent_path(info.dli_fname));
    llvm::sys::path::append(p, "..", "lib", "libkilnrt.a");
    if (llvm::sys::fs::exists(p))
      return std::string(p);
  }
  return "";
}

/// Runs the C compiler; its output goes to `logPath` and into the error.
mlir::LogicalResult runCompiler(const LibraryOptions &opts,
                                std::vector<std::string> args,
                                const std::string &logPath,
                                mlir::Location loc) {
  std::string cc = opts.cc;
  if (cc.empty())
    if (const char *e = std::getenv("CC"); e && *e)
      cc = e;
  if (cc.empty())
    cc = "cc";
  llvm::SmallVector<llvm::StringRef> words;
  llvm::StringRef(cc).split(words, ' ', -1, false);
  llvm::ErrorOr<std::string> exe = llvm::sys::findProgramByName(words[0]);
  if (!exe)
    return mlir::emitError(loc)
           << "cannot find the C compiler '" << words[0] << "' (set CC)";
  std::vector<llvm::StringRef> argv = {*exe};
  for (size_t i = 1; i < words.size(); ++i)
    argv.push_back(words[i]);
  for (const std::string &a : args)
    argv.push_back(a);
  std::optional<llvm::StringRef> redirects[] = {
      std::nullopt, llvm::StringRef(logPath), llvm::StringRef(logPath)};
  std::string err;
  int rc = llvm::sys::ExecuteAndWait(*exe, argv, std::nullopt, redirects, 0, 0,
                                     &err);
  if (rc != 0) {
    std::string log;
    if (auto buf = llvm::MemoryBuffer::getFile(logPath))
      log = (*buf)->getBuffer().take_back(4000).str();
    std::string cmd;
    for (llvm::StringRef a : argv)
      cmd += (cmd.empty() ? "" : " ") + a.str();
    return mlir::emitError(loc) << "linking the library failed (" << cmd << ")"
                                << (err.empty() ? "" : ": " + err) << "\n"
                                << log;
  }
  return mlir::success();
}

mlir::func::FuncOp mainFunction(mlir::ModuleOp module) {
  if (auto f = module.lookupSymbol<mlir::func::FuncOp>("main"))
    return f;
  mlir::func::FuncOp only;
  for (auto f : module.getOps<mlir::func::FuncOp>()) {
    if (only)
      return nullptr;
    only = f;
  }
  return only;
}

void writeReportJson(const LibraryReport &r, const Program &prog,
                     llvm::raw_ostream &os) {
  llvm::json::Array kernels;
  for (const KernelReport &k : r.kernels)
    kernels.push_back(
        llvm::json::Object{{"function", k.function},
                           {"op", k.op},
                           {"backend", k.backend},
                           {"key", k.key},
                           {"uses", k.uses},
                           {"cache_hit", k.cacheHit},
                           {"schedule", k.schedule},
                           {"compile_seconds", k.compileSeconds},
                           {"flops", k.flops}});
  llvm::json::Array steps;
  for (const Step &s : prog.steps)
    steps.push_back(llvm::json::Object{
        {"name", s.name}, {"function", prog.kernels[s.kernel].function()}});
  llvm::json::Object o{{"name", r.name},
                       {"library", r.libraryPath},
                       {"header", r.headerPath},
                       {"weights_file", r.weightsPath},
                       {"external_weights", r.externalWeights},
                       {"weight_bytes", (int64_t)r.weightBytes},
                       {"arena_bytes", (int64_t)r.arenaBytes},
                       {"intermediate_bytes", (int64_t)r.intermediateBytes},
                       {"targets", llvm::json::Array(r.targets)},
                       {"steps", r.steps},
                       {"views", r.aliases},
                       {"output_copies", r.copies},
                       {"unique_kernels", (int64_t)r.kernels.size()},
                       {"cache_hits", r.cacheHits},
                       {"cache_misses", r.cacheMisses},
                       {"compile_seconds", r.compileSeconds},
                       {"link_seconds", r.linkSeconds},
                       {"total_seconds", r.totalSeconds},
                       {"kernels", std::move(kernels)},
                       {"step_list", std::move(steps)}};
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(o))) << "\n";
}

} // namespace

std::string sanitizeName(llvm::StringRef name) {
  std::string s;
  for (char c : name)
    s += (std::isalnum((unsigned char)c) || c == '_') ? c : '_';
  if (s.empty())
    return "model";
  if (std::isdigit((unsigned char)s[0]))
    s = "_" + s;
  return s;
}

llvm::FailureOr<LibraryReport> emitLibrary(mlir::ModuleOp module,
                                           const LibraryOptions &opts) {
  auto start = Clock::now();
  mlir::Location loc = module.getLoc();
  mlir::func::FuncOp fn = mainFunction(module);
  if (!fn)
    return mlir::emitError(loc) << "the module has no @main function";
  if (opts.outDir.empty())
    return mlir::emitError(loc) << "no output directory given";
  std::string name = sanitizeName(opts.name);
  llvm::SmallString<256> outDir(opts.outDir);
  llvm::sys::fs::make_absolute(outDir);
  if (std::error_code ec = llvm::sys::fs::create_directories(outDir))
    return mlir::emitError(loc)
           << "cannot create '" << outDir << "': " << ec.message();

  llvm::FailureOr<Program> prog = buildProgram(fn, opts.backend);
  if (failed(prog))
    return mlir::failure();

  LibraryReport report;
  report.name = name;
  report.externalWeights = opts.weights == WeightsMode::External ||
                           (opts.weights == WeightsMode::Auto &&
                            prog->weightBytes > opts.externalThreshold);
  if (!report.externalWeights && prog->weightBytes > kMaxEmbeddedBytes)
    return mlir::emitError(loc)
           << "the weights (" << prog->weightBytes
           << " bytes) are too large to embed; use external weights";

  // Intermediate files: OUTDIR/N.build (kept) or a temporary directory.
  llvm::SmallString<256> work;
  if (opts.keepIntermediates) {
    work = outDir;
    llvm::sys::path::append(work, name + ".build");
    llvm::sys::fs::create_directories(work);
  } else if (std::error_code ec =
                 llvm::sys::fs::createUniqueDirectory("kiln-" + name, work)) {
    return mlir::emitError(loc)
           << "cannot create a temporary directory: " << ec.message();
  }
  llvm::scope_exit cleanup([&] {
    if (!opts.keepIntermediates)
      llvm::sys::fs::remove_directories(work);
  });
  std::string workDir(work);

  KernelBuildOptions kb;
  kb.target = opts.target;
  kb.threads = opts.threads;
  kb.cacheDir = opts.cacheDir.empty() ? defaultCacheDir() : opts.cacheDir;
  kb.useCache = opts.useCache;
  kb.jobs = opts.jobs;
  kb.workDir = workDir + "/kernels";
  if (failed(applyTuning(*prog, opts, report, loc)))
    return mlir::failure();
  auto compileStart = Clock::now();
  if (failed(compileKernels(*prog, kb, loc)))
    return mlir::failure();
  // The Halide runtime goes in only when a Halide kernel needs it.
  std::string halideRuntime;
  if (llvm::any_of(prog->kernels, [](const Kernel &k) {
        return k.backend == Backend::Halide;
      })) {
    mlir::FailureOr<std::string> rt = halideRuntimeObject(kb, loc);
    if (failed(rt))
      return mlir::failure();
    halideRuntime = *rt;
  }
  report.compileSeconds = since(compileStart);

  std::string archive = runtimeArchive();
  if (archive.empty())
    return mlir::emitError(loc) << "cannot find the kiln runtime "
                                   "(libkilnrt.a); set KILN_RUNTIME_LIB";

  GlueOptions glue;
  glue.name = name;
  mlir::FailureOr<std::vector<target::TargetInfo>> targets =
      libraryTargets(opts.target, loc);
  if (failed(targets))
    return mlir::failure();
  for (const target::TargetInfo &t : *targets) {
    // "host (x86-64-avx512)": what the detected features amount to.
    std::string name =
        t.name == "host" ? "host (" + target::isaName(t.isa) + ")" : t.name;
    glue.variants.push_back({name, t.isa});
    report.targets.push_back(name);
  }
  glue.embedded = !report.externalWeights;
  glue.weightsId = weightsId(*prog);
  glue.defaultThreads = opts.threads;

  std::string lib = (outDir + "/lib" + name + ".so").str();
  std::string header = (outDir + "/" + name + ".h").str();
  std::string source = (outDir + "/" + name + ".c").str();
  std::string weightsFile = (outDir + "/" + name + ".weights").str();
  std::string inc = workDir + "/include/kiln";
  llvm::sys::fs::create_directories(inc);
  if (failed(writeFile(inc + "/kiln_model_types.h", kModelTypesHeader, loc)) ||
      failed(writeFile(inc + "/kiln_runtime.h", kRuntimeHeader, loc)) ||
      failed(writeFile(header, writeHeader(*prog, glue), loc)) ||
      failed(writeFile(source, writeSource(*prog, glue), loc)) ||
      failed(writeFile(workDir + "/" + name + ".map", writeVersionScript(glue),
                       loc)))
    return mlir::failure();

  std::vector<std::string> args = {"-shared",
                                   "-O2",
                                   "-fPIC",
                                   "-fvisibility=hidden",
                                   "-I" + workDir + "/include",
                                   "-o",
                                   lib + ".tmp",
                                   source};
  if (report.externalWeights) {
    if (failed(writeWeights(*prog, weightsFile, true, glue.weightsId, loc)))
      return mlir::failure();
    report.weightsPath = weightsFile;
  } else {
    llvm::sys::fs::remove(weightsFile); // a stale one from an earlier build
    if (prog->weightBytes > 0) {
      std::string bin = workDir + "/" + name + ".weights.bin";
      std::string asmPath = workDir + "/" + name + ".weights.S";
      if (failed(writeWeights(*prog, bin, false, 0, loc)) ||
          failed(writeFile(asmPath, writeWeightsAsm(glue, bin), loc)))
        return mlir::failure();
      args.push_back(asmPath);
    }
  }
  for (const Kernel &k : prog->kernels)
    for (const Kernel::Variant &v : k.variants)
      args.push_back(v.objectPath);
  if (!halideRuntime.empty())
    args.push_back(halideRuntime);
  args.push_back(archive);
  for (const char *a :
       {"-Wl,-z,noexecstack", "-Wl,-z,now", "-lpthread", "-lm", "-ldl"})
    args.push_back(a);
  args.push_back("-Wl,--version-script=" + workDir + "/" + name + ".map");
  auto linkStart = Clock::now();
  if (failed(runCompiler(opts, args, workDir + "/link.log", loc)))
    return mlir::failure();
  if (std::error_code ec = llvm::sys::fs::rename(lib + ".tmp", lib))
    return mlir::emitError(loc)
           << "cannot write '" << lib << "': " << ec.message();
  report.linkSeconds = since(linkStart);

  report.libraryPath = lib;
  report.headerPath = header;
  report.reportPath = (outDir + "/" + name + ".json").str();
  report.steps = prog->steps.size();
  report.copies = prog->copies.size();
  report.aliases = prog->aliases;
  report.arenaBytes = prog->arenaBytes;
  report.intermediateBytes = prog->intermediateBytes;
  report.weightBytes = prog->weightBytes;
  for (const Kernel &k : prog->kernels) {
    KernelReport kr;
    kr.key = k.key;
    kr.function = k.function();
    kr.op = k.op->getName().getStringRef().str();
    kr.backend = k.backend == Backend::LLVM ? "llvm" : "halide";
    kr.uses = k.uses;
    kr.cacheHit = k.cacheHit();
    kr.compileSeconds = k.seconds();
    kr.schedule = k.schedule;
    kr.flops = kernelFlops(k.op);
    (kr.cacheHit ? report.cacheHits : report.cacheMisses)++;
    report.kernels.push_back(std::move(kr));
  }
  report.totalSeconds = since(start);
  std::string json;
  llvm::raw_string_ostream js(json);
  writeReportJson(report, *prog, js);
  if (failed(writeFile(report.reportPath, json, loc)))
    return mlir::failure();
  return report;
}

static std::string bytesText(uint64_t b) {
  char buf[64];
  if (b >= (uint64_t(1) << 20))
    snprintf(buf, sizeof buf, "%.1f MiB", b / 1048576.0);
  else if (b >= 1024)
    snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  else
    snprintf(buf, sizeof buf, "%llu B", (unsigned long long)b);
  return buf;
}

void printLibraryReport(const LibraryReport &r, llvm::raw_ostream &os) {
  os << "library " << r.libraryPath << "\n";
  unsigned llvmKernels = llvm::count_if(
      r.kernels, [](const KernelReport &k) { return k.backend == "llvm"; });
  os << "  kernel calls per run: " << r.steps << " (" << r.kernels.size()
     << " unique kernels: " << r.kernels.size() - llvmKernels << " Halide, "
     << llvmKernels << " LLVM; " << r.aliases << " views, " << r.copies
     << " output copies)\n";
  os << "  targets: " << llvm::join(r.targets, ", ")
     << (r.targets.size() > 1 ? " (one kernel set each, picked by CPUID)" : "")
     << "\n";
  os << "  kernel cache: " << r.cacheHits << " hits, " << r.cacheMisses
     << " compiled\n";
  if (!r.tuningDbPath.empty())
    os << "  tuning db: " << r.tunedKernels << " of "
       << r.kernels.size() - llvmKernels << " Halide kernels use stored schedules ("
       << r.tuningDbPath << ")\n";
  os << "  arena: " << bytesText(r.arenaBytes) << " for "
     << bytesText(r.intermediateBytes) << " of intermediates";
  if (r.intermediateBytes)
    os << llvm::format(" (%.1f%%)", 100.0 * r.arenaBytes / r.intermediateBytes);
  os << "\n";
  os << "  weights: " << bytesText(r.weightBytes)
     << (r.externalWeights ? " in " + r.weightsPath : std::string(" embedded"))
     << "\n";
  os << llvm::format("  time: %.2f s (kernels %.2f s, link %.2f s)\n",
                     r.totalSeconds, r.compileSeconds, r.linkSeconds);
}

} // namespace kiln::library

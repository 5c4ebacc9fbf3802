// kiln: the command-line compiler. `kiln compile` imports a model, runs the pass
// pipeline and emits IR or a native library; `kiln run` executes a model.
#include "kiln/Codegen/Library.h"
#include "kiln/Codegen/Target.h"
#include "kiln/Compiler/DotExport.h"
#include "kiln/Compiler/Driver.h"
#include "kiln/Compiler/DumpDir.h"
#include "kiln/Compiler/KernelDump.h"
#include "kiln/IR/Interpreter.h"
#include "kiln/IR/KilnDialect.h"
#include "kiln/Reference/Npy.h"
#ifdef KILN_HAVE_PASSES
#include "kiln/Passes/Passes.h"
#endif

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

#include <algorithm>
#include <chrono>
#include <new>
#include <random>

using namespace mlir;
namespace cl = llvm::cl;

static cl::SubCommand compileCmd("compile", "Compile a model (.onnx or .mlir)");
static cl::SubCommand runCmd("run", "Run a model on .npy inputs");
static cl::SubCommand benchCmd("bench", "Time a model: median, p90, per-kernel profile");

// Options shared by the subcommands that load a model.
static cl::opt<std::string> modelPath(cl::Positional, cl::desc("MODEL"),
                                      cl::sub(compileCmd), cl::sub(runCmd),
                                      cl::sub(benchCmd), cl::Required);
static cl::list<std::string> shapeSpecs(
    "shape", cl::desc("Pin an input's shape: NAME=1x128"), cl::sub(compileCmd),
    cl::sub(runCmd), cl::sub(benchCmd));
static cl::list<std::string> dimSpecs(
    "dim", cl::desc("Pin a symbolic dim: NAME=128"), cl::sub(compileCmd),
    cl::sub(runCmd), cl::sub(benchCmd));
static cl::opt<std::string> passPipeline(
    "pass-pipeline", cl::desc("Textual pass pipeline to run instead of the default"),
    cl::sub(compileCmd), cl::sub(runCmd));
static cl::opt<bool> noOptimize("no-optimize",
                                cl::desc("Skip the default pass pipeline"),
                                cl::sub(compileCmd), cl::sub(runCmd));
static cl::list<std::string> passPlugins(
    "load-pass-plugin", cl::desc("Load passes from a plugin library"),
    cl::sub(compileCmd), cl::sub(runCmd));
static cl::opt<bool> printAfterAll("print-ir-after-all",
                                   cl::desc("Print IR after every pass"),
                                   cl::sub(compileCmd), cl::sub(runCmd));
static cl::list<std::string> printAfter(
    "print-ir-after", cl::desc("Print IR after the named passes"),
    cl::CommaSeparated, cl::sub(compileCmd), cl::sub(runCmd));
static cl::opt<bool> printBeforeAll("print-ir-before-all",
                                    cl::desc("Print IR before every pass"),
                                    cl::sub(compileCmd), cl::sub(runCmd));
static cl::list<std::string> printBefore(
    "print-ir-before", cl::desc("Print IR before the named passes"),
    cl::CommaSeparated, cl::sub(compileCmd), cl::sub(runCmd));
static cl::opt<bool> printAfterChange(
    "print-ir-after-change",
    cl::desc("Print IR after a pass only when it changed the IR; alone: after "
             "every pass that changes it, with --print-ir-after=P: after P"),
    cl::sub(compileCmd), cl::sub(runCmd));
static cl::opt<std::string> dumpDir(
    "dump-dir",
    cl::desc("Write every stage to DIR: NN-<pass>.mlir, graph-*.dot/.svg, "
             "kernels/, memory-plan.txt"),
    cl::value_desc("DIR"), cl::sub(compileCmd));
static cl::opt<std::string> render(
    "render", cl::desc("With --emit=dot -o OUTDIR: also render the graph "
                       "with Graphviz's dot: svg|png"),
    cl::sub(compileCmd));
static cl::opt<bool> stats("stats",
                           cl::desc("Report what each pass fused and what the library holds"),
                           cl::sub(compileCmd), cl::sub(runCmd), cl::sub(benchCmd));
static cl::opt<std::string> codegen("backend",
                                    cl::desc("Kernel backend: auto (Halide, LLVM for the "
                                             "rest) | halide | llvm; for run: also interpreter"),
                                    cl::init("auto"), cl::sub(compileCmd), cl::sub(runCmd),
                                    cl::sub(benchCmd));
static cl::opt<int> threads("threads",
                            cl::desc("Threads kernels use (0: all cores)"),
                            cl::init(0), cl::sub(compileCmd), cl::sub(runCmd),
                            cl::sub(benchCmd));
static cl::opt<std::string>
    target("target",
           cl::desc("host (default), x86-64, x86-64-avx2, x86-64-avx512, "
                    "x86-64-avx512-bf16, a comma-separated list of them "
                    "(one library, dispatched by CPUID), or help"),
           cl::init("host"), cl::sub(compileCmd), cl::sub(runCmd),
           cl::sub(benchCmd));
static cl::opt<bool> timing("timing", cl::desc("Time every pass"),
                            cl::sub(compileCmd), cl::sub(runCmd));

// compile
static cl::opt<std::string> outDir("o", cl::desc("Output directory"),
                                   cl::value_desc("OUTDIR"), cl::sub(compileCmd));
static cl::opt<std::string> emit("emit", cl::desc("What to emit: lib|obj|ir|halide|asm|dot"),
                                 cl::init("lib"), cl::sub(compileCmd));
static cl::opt<std::string> libName("name", cl::desc("Library name (default: model file stem)"),
                                    cl::sub(compileCmd));
static cl::opt<bool> externalWeights("external-weights",
                                     cl::desc("Put weights in OUTDIR/N.weights (mmapped)"),
                                     cl::sub(compileCmd));

// Tuning (docs/tuning.md)
static cl::opt<bool> tune(
    "tune",
    cl::desc("Tune every unique Halide kernel on this machine (schedule parameters and "
             "Halide's Adams2019 autoscheduler), store the winners in the tuning "
             "database and compile with them"),
    cl::sub(compileCmd));
static cl::opt<std::string> tuneBudget(
    "tune-budget",
    cl::desc("--tune budget: SECONDS in all (\"300\" or \"300s\"; default 180) or "
             "candidates per kernel (\"8t\", no time limit)"),
    cl::value_desc("BUDGET"), cl::sub(compileCmd));
static cl::opt<std::string> tuningDb(
    "tuning-db",
    cl::desc("Tuning database to read (and write with --tune); default "
             "$KILN_TUNING_DB, else $XDG_CACHE_HOME/kiln/tuning.json or "
             "~/.cache/kiln/tuning.json"),
    cl::value_desc("PATH"), cl::sub(compileCmd), cl::sub(runCmd), cl::sub(benchCmd));
static cl::opt<bool> noTuningDb("no-tuning-db",
                                cl::desc("Ignore the tuning database: default schedules"),
                                cl::sub(compileCmd), cl::sub(runCmd), cl::sub(benchCmd));

// run
static cl::list<std::string> inputSpecs("input", cl::desc("NAME=FILE.npy"),
                                        cl::sub(runCmd), cl::sub(benchCmd));
static cl::opt<std::string> outputDir("output-dir", cl::desc("Where to write NAME.npy outputs"),
                                      cl::init("."), cl::sub(runCmd));

// bench
static cl::opt<int> runs("runs", cl::desc("Timed runs"), cl::init(20), cl::sub(benchCmd));
static cl::opt<int> warmup("warmup", cl::desc("Untimed runs first"), cl::init(3),
                           cl::sub(benchCmd));
static cl::opt<bool> jsonOut("json", cl::desc("Print one JSON object"), cl::sub(benchCmd));
static cl::opt<double> peakGflops(
    "peak-gflops",
    cl::desc("The machine's measured FP32 peak (GFLOP/s) for the % of peak column "
             "(benchmarks/peak_flops.c measures it)"),
    cl::init(0), cl::sub(benchCmd));

static int fail(const llvm::Twine &msg) {
  llvm::errs() << "kiln: error: " << msg << "\n";
  return 1;
}

/// Loads the model named on the command line with the pinned shapes.
static OwningOpRef<ModuleOp> load(MLIRContext &ctx) {
  kiln::LoadOptions opts;
  for (auto &s : shapeSpecs)
    if (std::string e = kiln::parseShapeSpec(s, opts.inputShapes); !e.empty()) {
      fail("--shape: " + e);
      return nullptr;
    }
  for (auto &s : dimSpecs)
    if (std::string e = kiln::parseDimSpec(s, opts.dimValues); !e.empty()) {
      fail("--dim: " + e);
      return nullptr;
    }
  return kiln::loadModel(modelPath, ctx, opts);
}

/// Runs the default pipeline (or --pass-pipeline) with the requested instrumentation.
static LogicalResult optimize(ModuleOp module, kiln::DumpDir *dump = nullptr) {
  PassManager pm(module.getContext());
  if (failed(applyPassManagerCLOptions(pm)))
    return failure();
  if (!passPipeline.empty()) {
    // The text names its anchor ("builtin.module(...)"); a bare list of passes
    // ("canonicalize,cse") runs on the module. Parsing into `pm` directly
    // would nest a second builtin.module level that matches nothing.
    std::string text = passPipeline;
    if (!StringRef(text).starts_with("builtin.module("))
      text = "builtin.module(" + text + ")";
    FailureOr<OpPassManager> parsed = parsePassPipeline(text, llvm::errs());
    if (failed(parsed))
      return failure();
    static_cast<OpPassManager &>(pm) = std::move(*parsed);
  } else if (!noOptimize) {
#ifdef KILN_HAVE_PASSES
    kiln::buildDefaultPipeline(pm, /*report=*/stats);
#else
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
#endif
  }
  if (printAfterAll || !printAfter.empty() || printBeforeAll ||
      !printBefore.empty() || printAfterChange) {
    std::set<std::string> after(printAfter.begin(), printAfter.end());
    std::set<std::string> before(printBefore.begin(), printBefore.end());
    // --print-ir-after-change alone means after every pass (that changes IR).
    bool allAfter = printAfterAll || (printAfterChange && after.empty());
    bool allBefore = printBeforeAll;
    // Module-scope IR printing aborts on a multi-threaded context.
    module.getContext()->disableMultithreading();
    pm.enableIRPrinting(
        [allBefore, before](Pass *p, Operation *) {
          return allBefore || before.count(p->getArgument().str());
        },
        [allAfter, after](Pass *p, Operation *) {
          return allAfter || after.count(p->getArgument().str());
        },
        /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/printAfterChange,
        /*printAfterOnlyOnFailure=*/false, llvm::errs(),
        OpPrintingFlags().elideLargeResourceString(256).elideLargeElementsAttrs(64));
  }
  if (dump) {
    module.getContext()->disableMultithreading();
    dump->instrument(pm);
  }
  if (timing)
    pm.enableTiming();
  return pm.run(module);
}

/// Library options from the command line.
static FailureOr<kiln::library::LibraryOptions> libraryOptions(StringRef dir,
                                                              StringRef name) {
  kiln::library::LibraryOptions opts;
  opts.outDir = dir.str();
  opts.name = kiln::library::sanitizeName(name);
  opts.target = target;
  opts.threads = threads;
  if (codegen == "auto")
    opts.backend = kiln::library::Backend::Auto;
  else if (codegen == "halide")
    opts.backend = kiln::library::Backend::Halide;
  else if (codegen == "llvm")
    opts.backend = kiln::library::Backend::LLVM;
  else {
    fail("--backend must be auto, halide or llvm for a library, not '" + codegen + "'");
    return failure();
  }
  if (externalWeights)
    opts.weights = kiln::library::WeightsMode::External;
  opts.tuningDb = tuningDb;
  opts.useTuningDb = !noTuningDb;
  opts.tune = tune;
  if (!tuneBudget.empty()) {
    std::string e = kiln::library::parseTuneBudget(tuneBudget, opts.tuneSeconds,
                                                   opts.tuneTrials);
    if (!e.empty()) {
      fail(e);
      return failure();
    }
  }
  return opts;
}

static std::string modelStem() {
  return libName.empty() ? llvm::sys::path::stem(modelPath).str() : libName.getValue();
}

/// --dump-dir: checked before any work; null when not asked for.
static FailureOr<std::unique_ptr<kiln::DumpDir>> openDumpDir() {
  if (dumpDir.empty())
    return std::unique_ptr<kiln::DumpDir>();
  auto lib = libraryOptions(dumpDir, modelStem());
  if (failed(lib))
    return failure();
  kiln::DumpDirOptions opts;
  opts.dir = dumpDir;
  opts.backend = lib->backend;
  opts.target = lib->target;
  opts.threads = lib->threads;
  std::string error;
  std::unique_ptr<kiln::DumpDir> dump = kiln::DumpDir::create(opts, error);
  if (!dump) {
    fail(error);
    return failure();
  }
  return dump;
}

static int compileMain(MLIRContext &ctx) {
  if ((tune || !tuneBudget.empty()) && emit != "lib")
    return fail("--tune and --tune-budget go with --emit=lib");
  if (!tuneBudget.empty() && !tune)
    return fail("--tune-budget goes with --tune");
  if (!render.empty() && emit != "dot")
    return fail("--render goes with --emit=dot");
  if (!render.empty() && render != "svg" && render != "png")
    return fail("--render must be svg or png, not '" + render + "'");
  if (!render.empty() && outDir.empty())
    return fail("--render needs an output directory: -o OUTDIR");
  auto dump = openDumpDir();
  if (failed(dump))
    return 1;
  OwningOpRef<ModuleOp> module = load(ctx);
  if (!module)
    return 1;
  if (*dump && failed((*dump)->writeImported(*module)))
    return 1;
  if (failed(optimize(*module, dump->get())))
    return 1;
  if (*dump) {
    if (failed((*dump)->writeFinal(*module)))
      return 1;
    llvm::errs() << "kiln: wrote the stages to " << (*dump)->dir() << "\n";
  }
  if (emit == "ir") {
    if (outDir.empty()) {
      kiln::printModule(*module, llvm::outs());
      return 0;
    }
    if (auto ec = llvm::sys::fs::create_directories(outDir))
      return fail("cannot create output directory '" + outDir + "': " + ec.message());
    std::string path = (outDir + "/" + modelStem() + ".mlir");
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (ec)
      return fail("cannot write '" + path + "': " + ec.message());
    kiln::printModule(*module, os, /*elideWeights=*/false);
    return 0;
  }
  if (emit == "dot") {
    if (outDir.empty())
      return failed(kiln::exportDot(*module, llvm::outs())) ? 1 : 0;
    if (auto ec = llvm::sys::fs::create_directories(outDir))
      return fail("cannot create output directory '" + outDir + "': " + ec.message());
    std::string path = outDir + "/" + modelStem() + ".dot";
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (ec)
      return fail("cannot write '" + path + "': " + ec.message());
    if (failed(kiln::exportDot(*module, os)))
      return 1;
    os.close();
    llvm::outs() << "wrote " << path << "\n";
    if (render.empty())
      return 0;
    std::string picture = outDir + "/" + modelStem() + "." + render;
    if (std::string why = kiln::renderDot(path, render, picture); !why.empty())
      return fail("cannot render " + path + ": " + why);
    llvm::outs() << "wrote " << picture << "\n";
    return 0;
  }
  if (emit == "halide" || emit == "asm") {
    if (outDir.empty())
      return fail("--emit=" + emit + " needs an output directory: -o OUTDIR");
    auto lib = libraryOptions(outDir, modelStem());
    if (failed(lib))
      return 1;
    kiln::KernelDumpOptions dump;
    dump.outDir = outDir;
    dump.kind = emit == "halide" ? kiln::KernelDumpKind::HalideStmt
                                 : kiln::KernelDumpKind::Assembly;
    dump.backend = lib->backend;
    dump.target = lib->target;
    dump.threads = lib->threads;
    FailureOr<std::string> index = kiln::dumpKernels(*module, dump);
    if (failed(index))
      return 1;
    llvm::outs() << "wrote " << *index << "\n";
    return 0;
  }
  if (emit != "lib")
    return fail("--emit=" + emit + " is not implemented (use lib, ir, dot, halide or asm)");
  if (outDir.empty() && *dump)
    return 0; // --dump-dir alone: the stages are the output
  if (outDir.empty())
    return fail("--emit=lib needs an output directory: -o OUTDIR");
  auto opts = libraryOptions(outDir, modelStem());
  if (failed(opts))
    return 1;
  auto report = kiln::library::emitLibrary(*module, *opts);
  if (failed(report))
    return 1;
  if (stats)
    kiln::library::printLibraryReport(*report, llvm::outs());
  else
    llvm::outs() << "wrote " << report->libraryPath << " and " << report->headerPath << "\n";
  if (opts->tune)
    kiln::library::printTuningReport(*report, llvm::outs());
  return 0;
}

/// Reads the --input NAME=FILE.npy pairs.
static FailureOr<std::map<std::string, kiln::ref::Tensor>> readInputs() {
  std::map<std::string, kiln::ref::Tensor> out;
  for (auto &spec : inputSpecs) {
    auto [name, file] = llvm::StringRef(spec).split('=');
    if (name.empty() || file.empty()) {
      fail("--input expects NAME=FILE.npy, got '" + spec + "'");
      return failure();
    }
    try {
      out[name.str()] = kiln::ref::readNpy(file.str());
    } catch (const kiln::ref::Error &e) {
      fail("input '" + name + "': " + e.what());
      return failure();
    }
  }
  return out;
}

/// Orders named inputs as `names` lists them; errors on missing or extra ones.
static FailureOr<std::vector<kiln::ref::Tensor>>
orderInputs(std::map<std::string, kiln::ref::Tensor> named,
            ArrayRef<std::string> names) {
  std::vector<kiln::ref::Tensor> out;
  for (const std::string &n : names) {
    auto it = named.find(n);
    if (it == named.end()) {
      fail("missing --input for model input '" + n + "'");
      return failure();
    }
    out.push_back(std::move(it->second));
    named.erase(it);
  }
  if (!named.empty()) {
    fail("--input names '" + named.begin()->first + "', which is not a model input");
    return failure();
  }
  return out;
}

static std::vector<std::string> argNames(func::FuncOp fn) {
  std::vector<std::string> names;
  for (unsigned i = 0; i < fn.getNumArguments(); ++i)
    names.push_back(kiln::argName(fn, i));
  return names;
}

/// Compiles MODEL (with the given input shapes pinned) into a library under
/// the cache, keyed by the model's bytes and every option that shapes the
/// library, and returns the library path; a second call reuses it.
static FailureOr<std::string>
compileToCache(MLIRContext &ctx, const std::map<std::string, kiln::ref::Tensor> &inputs) {
  auto bytes = llvm::MemoryBuffer::getFile(modelPath);
  if (!bytes) {
    fail("cannot read '" + modelPath + "': " + bytes.getError().message());
    return failure();
  }
  llvm::SHA256 sha;
  sha.update(bytes.get()->getBuffer());
  std::string key = "kiln-model-v1|" + codegen + "|" + target + "|" +
                    std::to_string(threads) + "|" + passPipeline + "|" +
                    std::to_string(noOptimize);
  // A changed tuning database changes the kernels' schedules.
  std::string db = noTuningDb ? "" : tuningDb.empty() ? kiln::library::defaultTuningDbPath()
                                                       : tuningDb.getValue();
  llvm::sys::fs::file_status dbStatus;
  if (!db.empty() && !llvm::sys::fs::status(db, dbStatus))
    key += "|db:" + db + "@" + std::to_string(dbStatus.getSize()) + "@" +
           std::to_string(dbStatus.getLastModificationTime().time_since_epoch().count());
  for (auto &s : shapeSpecs)
    key += "|s:" + s;
  for (auto &s : dimSpecs)
    key += "|d:" + s;
  for (auto &[name, t] : inputs)
    key += "|i:" + name + "=" + kiln::ref::shapeStr(t.shape());
  sha.update(key);
  std::string hash = llvm::toHex(sha.final(), /*LowerCase=*/true).substr(0, 24);
  std::string dir = kiln::library::defaultCacheDir() + "/../models/" + hash;
  std::string name = kiln::library::sanitizeName(llvm::sys::path::stem(modelPath));
  std::string lib = dir + "/lib" + name + ".so";
  if (llvm::sys::fs::exists(lib))
    return lib;

  // Pin every input's shape from the files given, then compile.
  for (auto &[n, t] : inputs) {
    std::string spec = n + "=";
    for (size_t i = 0; i < t.shape().size(); ++i)
      spec += (i ? "x" : "") + std::to_string(t.shape()[i]);
    if (t.shape().empty())
      continue;
    if (llvm::none_of(shapeSpecs, [&](const std::string &s) {
          return StringRef(s).starts_with(n + "=");
        }))
      shapeSpecs.push_back(spec);
  }
  OwningOpRef<ModuleOp> module = load(ctx);
  if (!module || failed(optimize(*module)))
    return failure();
  auto opts = libraryOptions(dir, name);
  if (failed(opts))
    return failure();
  auto report = kiln::library::emitLibrary(*module, *opts);
  if (failed(report))
    return failure();
  if (stats)
    kiln::library::printLibraryReport(*report, llvm::errs());
  return report->libraryPath;
}

/// Opens MODEL as a library: itself when it is one, else compiled into the cache.
static FailureOr<std::unique_ptr<kiln::library::LoadedModel>>
openNative(MLIRContext &ctx, const std::map<std::string, kiln::ref::Tensor> &inputs) {
  std::string lib = modelPath;
  if (!StringRef(modelPath).ends_with(".so")) {
    auto compiled = compileToCache(ctx, inputs);
    if (failed(compiled))
      return failure();
    lib = *compiled;
  }
  auto model = kiln::library::LoadedModel::open(lib, threads);
  if (!model) {
    fail(llvm::toString(model.takeError()));
    return failure();
  }
  return std::move(*model);
}

static int writeOutputs(ArrayRef<kiln::ref::Tensor> outputs,
                        ArrayRef<std::string> names) {
  if (auto ec = llvm::sys::fs::create_directories(outputDir))
    return fail("cannot create output directory '" + outputDir + "': " + ec.message());
  for (auto [t, name] : llvm::zip(outputs, names)) {
    std::string path = outputDir + "/" + name + ".npy";
    try {
      kiln::ref::writeNpy(path, t);
    } catch (const kiln::ref::Error &e) {
      return fail(e.what());
    }
    llvm::outs() << name << ": " << kiln::ref::shapeStr(t.shape()) << " "
                 << kiln::ref::dtypeName(t.dtype()) << " -> " << path << "\n";
  }
  return 0;
}

static int runMain(MLIRContext &ctx) {
  auto named = readInputs();
  if (failed(named))
    return 1;
  if (codegen == "interpreter") {
    if (StringRef(modelPath).ends_with(".so"))
      return fail("--backend=interpreter needs a model file (.onnx or .mlir), not a library");
    OwningOpRef<ModuleOp> module = load(ctx);
    if (!module || failed(optimize(*module)))
      return 1;
    func::FuncOp fn = kiln::getMainFunction(*module);
    if (!fn)
      return fail("the model has no @main function");
    auto inputs = orderInputs(std::move(*named), argNames(fn));
    if (failed(inputs))
      return 1;
    auto outputs = kiln::interpret(fn, *inputs);
    if (failed(outputs))
      return 1;
    std::vector<std::string> names;
    for (unsigned i = 0; i < fn.getNumResults(); ++i)
      names.push_back(kiln::resultName(fn, i));
    return writeOutputs(*outputs, names);
  }
  auto model = openNative(ctx, *named);
  if (failed(model))
    return 1;
  std::vector<std::string> inNames, outNames;
  for (auto &t : (*model)->inputs())
    inNames.push_back(t.name);
  for (auto &t : (*model)->outputs())
    outNames.push_back(t.name);
  auto inputs = orderInputs(std::move(*named), inNames);
  if (failed(inputs))
    return 1;
  auto outputs = (*model)->run(*inputs);
  if (!outputs)
    return fail(llvm::toString(outputs.takeError()));
  return writeOutputs(*outputs, outNames);
}

/// A random input for `info`: floats in [-1, 1), integers in [0, 2), bools true.
static kiln::ref::Tensor randomInput(const kiln::library::TensorInfo &info,
                                     std::mt19937 &rng) {
  kiln::ref::Tensor t(info.dtype, info.shape);
  std::uniform_real_distribution<double> real(-1, 1);
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (kiln::ref::isFloat(info.dtype))
      t.setDouble(i, real(rng));
    else if (info.dtype == kiln::ref::DType::Bool)
      t.setInt(i, 1);
    else
      t.setInt(i, rng() % 2);
  }
  return t;
}

static double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  // Nearest rank: the smallest value with at least a fraction p of values <= it.
  size_t rank = (size_t)std::ceil(p * v.size());
  size_t i = std::min(v.size() - 1, rank == 0 ? 0 : rank - 1);
  return v[i];
}

/// FLOPs per call of each profiled step, from the library's build report
/// (OUTDIR/N.json beside libN.so); empty when the report is missing.
static std::map<std::string, double> stepFlops(StringRef libPath, StringRef name) {
  std::map<std::string, double> out;
  SmallString<256> path = llvm::sys::path::parent_path(libPath);
  llvm::sys::path::append(path, name + ".json");
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf)
    return out;
  auto json = llvm::json::parse(buf.get()->getBuffer());
  if (!json) {
    llvm::consumeError(json.takeError());
    return out;
  }
  const llvm::json::Object *o = json->getAsObject();
  if (!o || !o->getArray("kernels") || !o->getArray("step_list"))
    return out;
  std::map<std::string, double> byFunction;
  for (const llvm::json::Value &k : *o->getArray("kernels"))
    if (auto *ko = k.getAsObject())
      if (auto fn = ko->getString("function"))
        byFunction[fn->str()] = ko->getNumber("flops").value_or(0);
  for (const llvm::json::Value &st : *o->getArray("step_list"))
    if (auto *so = st.getAsObject())
      if (auto n = so->getString("name"); n && so->getString("function"))
        out.emplace(n->str(), byFunction[so->getString("function")->str()]);
  return out;
}

static int benchMain(MLIRContext &ctx) {
  auto named = readInputs();
  if (failed(named))
    return 1;
  if (runs < 1)
    return fail("--runs must be at least 1");
  auto model = openNative(ctx, *named);
  if (failed(model))
    return 1;
  kiln::library::LoadedModel &m = **model;
  std::string libPath = modelPath;
  if (!StringRef(modelPath).ends_with(".so")) {
    auto compiled = compileToCache(ctx, *named); // already built: only finds it
    if (failed(compiled))
      return 1;
    libPath = *compiled;
  }
  std::map<std::string, double> flops = stepFlops(libPath, m.name());
  std::mt19937 rng(42);
  std::vector<kiln::ref::Tensor> inputs, outputs;
  for (auto &info : m.inputs()) {
    auto it = named->find(info.name);
    inputs.push_back(it != named->end() ? it->second : randomInput(info, rng));
  }
  for (auto &info : m.outputs())
    outputs.emplace_back(info.dtype, info.shape);
  using clock = std::chrono::steady_clock;
  std::vector<double> ms;
  for (int i = 0; i < warmup + runs; ++i) {
    auto t0 = clock::now();
    if (llvm::Error e = m.runInto(inputs, outputs))
      return fail(llvm::toString(std::move(e)));
    double t = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    if (i >= warmup)
      ms.push_back(t);
  }
  // A separate profiled pass, so the timer calls don't skew the latencies above.
  m.setProfiling(true);
  for (int i = 0; i < std::max(1, (int)runs / 2); ++i)
    if (llvm::Error e = m.runInto(inputs, outputs))
      return fail(llvm::toString(std::move(e)));
  auto steps = m.stepTimes();
  m.setProfiling(false);
  std::sort(steps.begin(), steps.end(),
            [](auto &a, auto &b) { return a.seconds > b.seconds; });
  double median = percentile(ms, 0.5), p90 = percentile(ms, 0.9);
  double total = 0;
  for (auto &s : steps)
    total += s.seconds;
  int profiled = std::max(1, (int)runs / 2);
  double modelFlops = 0;
  for (auto &s : steps)
    modelFlops += flops.count(s.name) ? flops[s.name] * s.calls / profiled : 0;
  // GFLOP/s of a step from its profiled time; 0 when it does no counted arithmetic.
  auto gflops = [&](const kiln::library::LoadedModel::StepTime &s) {
    double f = flops.count(s.name) ? flops[s.name] * s.calls : 0;
    return s.seconds > 0 ? f / s.seconds * 1e-9 : 0.0;
  };
  if (jsonOut) {
    llvm::json::Array kernels;
    for (auto &s : steps)
      kernels.push_back(llvm::json::Object{
          {"name", s.name},
          {"calls", s.calls},
          {"ms_per_run", 1e3 * s.seconds / profiled},
          {"share", total > 0 ? s.seconds / total : 0.0},
          {"flops_per_run", flops.count(s.name) ? flops[s.name] * s.calls / profiled : 0.0},
          {"gflops", gflops(s)},
          {"pct_peak", peakGflops > 0 ? 100 * gflops(s) / peakGflops : 0.0}});
    llvm::json::Object o{{"model", modelPath},
                         {"threads", m.threads()},
                         {"target", m.target()},
                         {"runs", (int)runs},
                         {"median_ms", median},
                         {"p90_ms", p90},
                         {"min_ms", percentile(ms, 0)},
                         {"gflop", modelFlops * 1e-9},
                         {"gflops", modelFlops / median * 1e-6},
                         {"peak_gflops", peakGflops.getValue()},
                         {"kernels", std::move(kernels)}};
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(o))) << "\n";
    return 0;
  }
  llvm::outs() << llvm::formatv(
      "{0}: {1} runs, {2} threads, target {5}: median {3:F3} ms, "
      "p90 {4:F3} ms\n",
      modelPath, (int)runs, m.threads(), median, p90,
      m.target().empty() ? std::string("?") : m.target());
  if (modelFlops > 0) {
    llvm::outs() << llvm::formatv("  {0:F2} GFLOP per run (matmuls and attention): {1:F1} GFLOP/s",
                                  modelFlops * 1e-9, modelFlops / median * 1e-6);
    if (peakGflops > 0)
      llvm::outs() << llvm::formatv(", {0:F1}% of the {1:F1} GFLOP/s peak",
                                    100 * modelFlops / median * 1e-6 / peakGflops,
                                    peakGflops.getValue());
    llvm::outs() << "\n";
  }
  llvm::outs() << "per kernel (profiled runs):     ms/run  share  GFLOP/s"
               << (peakGflops > 0 ? "  %peak" : "") << "\n";
  for (auto &s : steps) {
    llvm::outs() << llvm::formatv("  {0,-30} {1,9:F3} {2,5:F1}% {3,8:F1}", s.name,
                                  1e3 * s.seconds / profiled,
                                  total > 0 ? 100 * s.seconds / total : 0.0, gflops(s));
    if (peakGflops > 0)
      llvm::outs() << llvm::formatv(" {0,6:F1}", 100 * gflops(s) / peakGflops);
    llvm::outs() << "\n";
  }
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // InitLLVM makes a failed allocation abort; let it throw std::bad_alloc
  // instead, which the interpreter reports as an error on the op.
  std::set_new_handler(nullptr);
  registerPassManagerCLOptions();
  registerMLIRContextCLOptions();
  registerAsmPrinterCLOptions(); // --mlir-print-debuginfo for the IR dumps
  mlir::registerTransformsPasses();
#ifdef KILN_HAVE_PASSES
  kiln::registerKilnPasses();
#endif
  // Plugins must register their passes before the pipeline is parsed.
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef a(argv[i]);
    std::string lib;
    if (a.consume_front("--load-pass-plugin="))
      lib = a.str();
    else if (a == "--load-pass-plugin" && i + 1 < argc)
      lib = argv[i + 1];
    if (lib.empty())
      continue;
    auto plugin = PassPlugin::load(lib);
    if (!plugin)
      return fail("cannot load pass plugin '" + lib + "': " +
                  llvm::toString(plugin.takeError()));
    plugin->registerPassRegistryCallbacks();
  }
  // --target=help needs no model.
  for (int i = 1; i < argc; ++i)
    if (StringRef(argv[i]) == "--target=help" ||
        (StringRef(argv[i]) == "--target" && i + 1 < argc &&
         StringRef(argv[i + 1]) == "help")) {
      kiln::target::printHelp(llvm::outs());
      return 0;
    }
  cl::ParseCommandLineOptions(argc, argv, "kiln: a compiler for transformer models\n");

  DialectRegistry registry;
  kiln::registerKilnDialects(registry);
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  ctx.printOpOnDiagnostic(false);
  auto diagnostics = kiln::installDiagnosticPrinter(ctx);
  if (compileCmd)
    return compileMain(ctx);
  if (runCmd)
    return runMain(ctx);
  if (benchCmd)
    return benchMain(ctx);
  return fail("expected a subcommand: compile | run | bench (see --help)");
}

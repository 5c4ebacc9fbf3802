// kiln: the command-line compiler. `kiln compile` imports a model, runs the pass
// pipeline and emits IR or a native library; `kiln run` executes a model.
#include "kiln/Compiler/Driver.h"
#include "kiln/IR/Interpreter.h"
#include "kiln/IR/KilnDialect.h"
#include "kiln/Reference/Npy.h"
#ifdef KILN_HAVE_PASSES
#include "kiln/Passes/Passes.h"
#endif

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::SubCommand compileCmd("compile", "Compile a model (.onnx or .mlir)");
static cl::SubCommand runCmd("run", "Run a model on .npy inputs");

// Options shared by the subcommands that load a model.
static cl::opt<std::string> modelPath(cl::Positional, cl::desc("MODEL"),
                                      cl::sub(compileCmd), cl::sub(runCmd),
                                      cl::Required);
static cl::list<std::string> shapeSpecs(
    "shape", cl::desc("Pin an input's shape: NAME=1x128"), cl::sub(compileCmd),
    cl::sub(runCmd));
static cl::list<std::string> dimSpecs(
    "dim", cl::desc("Pin a symbolic dim: NAME=128"), cl::sub(compileCmd),
    cl::sub(runCmd));
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
static cl::opt<bool> stats("stats", cl::desc("Print pass statistics"),
                           cl::sub(compileCmd), cl::sub(runCmd));
static cl::opt<bool> timing("timing", cl::desc("Time every pass"),
                            cl::sub(compileCmd), cl::sub(runCmd));

// compile
static cl::opt<std::string> outDir("o", cl::desc("Output directory"),
                                   cl::value_desc("OUTDIR"), cl::sub(compileCmd));
static cl::opt<std::string> emit("emit", cl::desc("What to emit: lib|obj|ir|halide|asm|dot"),
                                 cl::init("lib"), cl::sub(compileCmd));
static cl::opt<std::string> libName("name", cl::desc("Library name (default: model file stem)"),
                                    cl::sub(compileCmd));

// run
static cl::list<std::string> inputSpecs("input", cl::desc("NAME=FILE.npy"),
                                        cl::sub(runCmd));
static cl::opt<std::string> outputDir("output-dir", cl::desc("Where to write NAME.npy outputs"),
                                      cl::init("."), cl::sub(runCmd));
static cl::opt<std::string> backend("backend", cl::desc("interpreter (more to come)"),
                                    cl::init("interpreter"), cl::sub(runCmd));

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
static LogicalResult optimize(ModuleOp module) {
  PassManager pm(module.getContext());
  if (failed(applyPassManagerCLOptions(pm)))
    return failure();
  if (!passPipeline.empty()) {
    if (failed(parsePassPipeline(passPipeline, pm, llvm::errs())))
      return failure();
  } else if (!noOptimize) {
#ifdef KILN_HAVE_PASSES
    kiln::buildDefaultPipeline(pm, /*report=*/stats);
#else
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
#endif
  }
  if (printAfterAll || !printAfter.empty()) {
    std::set<std::string> names(printAfter.begin(), printAfter.end());
    bool all = printAfterAll;
    pm.enableIRPrinting(
        [](Pass *, Operation *) { return false; },
        [all, names](Pass *p, Operation *) {
          return all || names.count(p->getArgument().str());
        },
        /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/false,
        /*printAfterOnlyOnFailure=*/false, llvm::errs(),
        OpPrintingFlags().elideLargeResourceString(256).elideLargeElementsAttrs(64));
  }
  if (stats)
    pm.enableStatistics();
  if (timing)
    pm.enableTiming();
  return pm.run(module);
}

static int compileMain(MLIRContext &ctx) {
  OwningOpRef<ModuleOp> module = load(ctx);
  if (!module || failed(optimize(*module)))
    return 1;
  if (emit == "ir") {
    if (outDir.empty()) {
      kiln::printModule(*module, llvm::outs());
      return 0;
    }
    if (auto ec = llvm::sys::fs::create_directories(outDir))
      return fail("cannot create output directory '" + outDir + "': " + ec.message());
    std::string name = libName.empty() ? llvm::sys::path::stem(modelPath).str()
                                       : libName.getValue();
    std::string path = (outDir + "/" + name + ".mlir");
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (ec)
      return fail("cannot write '" + path + "': " + ec.message());
    kiln::printModule(*module, os, /*elideWeights=*/false);
    return 0;
  }
  return fail("--emit=" + emit + " needs the native backend, which is not built yet "
              "(use --emit=ir, or `kiln run --backend=interpreter`)");
}

static int runMain(MLIRContext &ctx) {
  if (backend != "interpreter")
    return fail("--backend=" + backend + " is not available yet; use --backend=interpreter");
  OwningOpRef<ModuleOp> module = load(ctx);
  if (!module || failed(optimize(*module)))
    return 1;
  func::FuncOp fn = kiln::getMainFunction(*module);
  if (!fn)
    return fail("the model has no @main function");
  std::map<std::string, std::string> files;
  for (auto &spec : inputSpecs) {
    auto [name, file] = llvm::StringRef(spec).split('=');
    if (name.empty() || file.empty())
      return fail("--input expects NAME=FILE.npy, got '" + spec + "'");
    files[name.str()] = file.str();
  }
  std::vector<kiln::ref::Tensor> inputs;
  for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
    std::string name = kiln::argName(fn, i);
    auto it = files.find(name);
    if (it == files.end())
      return fail("missing --input for model input '" + name + "'");
    try {
      inputs.push_back(kiln::ref::readNpy(it->second));
    } catch (const kiln::ref::Error &e) {
      return fail("input '" + name + "': " + e.what());
    }
    files.erase(it);
  }
  if (!files.empty())
    return fail("--input names '" + files.begin()->first + "', which is not a model input");
  auto outputs = kiln::interpret(fn, inputs);
  if (failed(outputs))
    return 1;
  if (auto ec = llvm::sys::fs::create_directories(outputDir))
    return fail("cannot create output directory '" + outputDir + "': " + ec.message());
  for (auto [i, t] : llvm::enumerate(*outputs)) {
    std::string path = outputDir + "/" + kiln::resultName(fn, i) + ".npy";
    try {
      kiln::ref::writeNpy(path, t);
    } catch (const kiln::ref::Error &e) {
      return fail(e.what());
    }
    llvm::outs() << kiln::resultName(fn, i) << ": " << kiln::ref::shapeStr(t.shape())
                 << " " << kiln::ref::dtypeName(t.dtype()) << " -> " << path << "\n";
  }
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerPassManagerCLOptions();
  registerMLIRContextCLOptions();
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
  return fail("expected a subcommand: compile | run (see --help)");
}

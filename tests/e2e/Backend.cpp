// The test backends: "interpreter" imports an ONNX file and runs kiln's
// reference interpreter on it; "native" ("llvm", "halide") compiles it with
// the default pipeline into a native library (emitLibrary) and runs that.
#include "Backend.h"

#include "kiln/Codegen/Library.h"
#include "kiln/Compiler/Driver.h"
#include "kiln/Frontend/OnnxImporter.h"
#include "kiln/IR/Interpreter.h"
#include "kiln/IR/KilnDialect.h"
#include "kiln/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <exception>
#include <unistd.h>

using namespace kiln;
using namespace kiln::test;

Backend::~Backend() = default;

bool kiln::test::looksUnsupported(const std::string &diagnostics) {
  // The importer's wording: "unsupported ONNX ops: ...", "unsupported element
  // type",
  // "... is not supported", opsets outside its range, other domains, string
  // tensors.
  std::string lower = llvm::StringRef(diagnostics).lower();
  for (const char *phrase :
       {"unsupported", "not supported", "not implemented",
        "kiln imports opsets", "imports no ai.onnx opset", "to string"})
    if (lower.find(phrase) != std::string::npos)
      return true;
  return false;
}

namespace {

/// A location as the runners print it: ONNX node names, and file names without
/// their folders (the runner already says which model it is).
void printLocation(mlir::Location loc, llvm::raw_ostream &os) {
  if (auto name = llvm::dyn_cast<mlir::NameLoc>(loc)) {
    os << name.getName().getValue();
  } else if (auto file = llvm::dyn_cast<mlir::FileLineColLoc>(loc)) {
    os << llvm::sys::path::filename(file.getFilename().getValue());
  } else if (auto fused = llvm::dyn_cast<mlir::FusedLoc>(loc)) {
    llvm::interleave(
        fused.getLocations(), os,
        [&](mlir::Location l) { printLocation(l, os); }, " ");
  } else {
    os << loc;
  }
}

/// Collects every diagnostic emitted in a context while alive, as "loc: text"
/// lines.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(mlir::MLIRContext &ctx)
      : handler(&ctx, [this](mlir::Diagnostic &diag) {
          llvm::raw_string_ostream os(text);
          if (!llvm::isa<mlir::UnknownLoc>(diag.getLocation())) {
            printLocation(diag.getLocation(), os);
            os << ": ";
          }
          os << diag.str() << "\n";
          for (mlir::Diagnostic &note : diag.getNotes())
            os << "  note: " << note.str() << "\n";
          return mlir::success();
        }) {}
  std::string take() {
    std::string r = std::move(text);
    text.clear();
    return r;
  }

private:
  std::string text;
  mlir::ScopedDiagnosticHandler handler;
};

/// An import failure is "unsupported" when its diagnostics say so; a run
/// failure is always an error (the importer accepted the model, so every op
/// must run).
Status classify(std::string message, const char *fallback) {
  if (message.empty())
    message = fallback;
  if (looksUnsupported(message))
    return Status::unsupported(std::move(message));
  return Status::error(std::move(message));
}

/// Imports with kiln's ONNX frontend and evaluates with kiln::interpret.
class InterpreterBackend : public Backend {
public:
  InterpreterBackend()
      : ctx(mlir::MLIRContext::Threading::DISABLED), diags(ctx) {
    ctx.getOrLoadDialect<mlir::func::FuncDialect>();
    ctx.getOrLoadDialect<kiln::KilnDialect>();
  }
  const char *name() const override { return "interpreter"; }

  Status load(const std::string &modelPath) override {
    try {
      module = importOnnxFile(modelPath, ctx, OnnxImportOptions());
    } catch (const std::exception &e) {
      return classify(diags.take() + e.what(), "import threw");
    }
    if (!module)
      return classify(diags.take(), "import failed without a diagnostic");
    fn = module->lookupSymbol<mlir::func::FuncOp>("main");
    if (!fn)
      return Status::error("imported module has no func.func @main");
    inputs.clear();
    outputs.clear();
    for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i) {
      auto n = fn.getArgAttrOfType<mlir::StringAttr>(i, "kiln.name");
      inputs.push_back(n ? n.str() : "input_" + std::to_string(i));
    }
    for (unsigned i = 0, e = fn.getNumResults(); i < e; ++i) {
      auto n = fn.getResultAttrOfType<mlir::StringAttr>(i, "kiln.name");
      outputs.push_back(n ? n.str() : "output_" + std::to_string(i));
    }
    diags.take(); // warnings from a successful import are not failures
    return Status::success();
  }

  const std::vector<std::string> &inputNames() const override { return inputs; }
  const std::vector<std::string> &outputNames() const override {
    return outputs;
  }

  Status run(const std::vector<ref::Tensor> &in,
             std::vector<ref::Tensor> &out) override {
    if (!fn)
      return Status::error("run before a successful load");
    if (in.size() != inputs.size())
      return Status::error("model takes " + std::to_string(inputs.size()) +
                           " inputs, given " + std::to_string(in.size()));
    llvm::FailureOr<std::vector<ref::Tensor>> result;
    try {
      result = interpret(fn, in);
    } catch (const std::exception &e) {
      return Status::error(diags.take() + "interpreter threw: " + e.what());
    }
    if (mlir::failed(result)) {
      std::string m = diags.take();
      return Status::error(m.empty() ? "interpreter failed without a diagnostic"
                                     : m);
    }
    out = std::move(*result);
    return Status::success();
  }

private:
  mlir::MLIRContext ctx;
  DiagnosticCollector diags;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::func::FuncOp fn;
  std::vector<std::string> inputs, outputs;
};

/// True when an emitLibrary diagnostic says the model is beyond what native
/// libraries do, as opposed to a compiler error: an op no allowed kernel
/// backend compiles, a tensor type libraries lack, or a shape that stays
/// dynamic with every input shape pinned (it depends on input values, e.g.
/// Reshape's or Tile's shape fed as a graph input).
bool nativeUnsupported(const std::string &diagnostics) {
  for (const char *phrase : {"cannot be compiled to a native library",
                             "which kiln libraries do not support",
                             "a native library needs static shapes"})
    if (diagnostics.find(phrase) != std::string::npos)
      return true;
  return false;
}

/// Imports with kiln's ONNX frontend, runs the default fusion pipeline,
/// compiles a native library with emitLibrary and runs it with LoadedModel.
/// Compiles at the first run (inputs pinned to the given shapes) and again
/// when the input shapes change.
class NativeBackend : public Backend {
public:
  NativeBackend(const char *label, library::Backend kernels,
                BackendOptions options)
      : label(label), kernels(kernels), opts(std::move(options)),
        ctx(makeRegistry(), opts.compileJobs == 1
                                ? mlir::MLIRContext::Threading::DISABLED
                                : mlir::MLIRContext::Threading::ENABLED),
        diags(ctx) {
    ctx.loadAllAvailableDialects();
  }
  ~NativeBackend() override {
    model.reset(); // dlclose before the files go
    removeLibrary();
    if (ownsWorkDir && !std::getenv("KILN_TEST_KEEP"))
      llvm::sys::fs::remove_directories(workDir);
  }
  const char *name() const override { return label; }

  Status load(const std::string &modelPath) override {
    path = modelPath;
    model.reset();
    removeLibrary();
    compiledShapes.clear();
    Status st = import({}, imported);
    if (!st.ok())
      return st;
    mlir::func::FuncOp fn = getMainFunction(*imported);
    if (!fn)
      return Status::error("imported module has no func.func @main");
    inputs.clear();
    outputs.clear();
    for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
      inputs.push_back(argName(fn, i));
    for (unsigned i = 0, e = fn.getNumResults(); i < e; ++i)
      outputs.push_back(resultName(fn, i));
    diags.take();
    return Status::success();
  }

  const std::vector<std::string> &inputNames() const override { return inputs; }
  const std::vector<std::string> &outputNames() const override {
    return outputs;
  }

  Status run(const std::vector<ref::Tensor> &in,
             std::vector<ref::Tensor> &out) override {
    if (path.empty())
      return Status::error("run before a successful load");
    if (in.size() != inputs.size())
      return Status::error("model takes " + std::to_string(inputs.size()) +
                           " inputs, given " + std::to_string(in.size()));
    std::vector<std::vector<int64_t>> shapes;
    for (const ref::Tensor &t : in)
      shapes.push_back(t.shape());
    if (!model || shapes != compiledShapes) {
      Status st = compile(shapes);
      if (!st.ok())
        return st;
    }
    std::vector<ref::Tensor> byLibraryOrder;
    try {
      llvm::Expected<std::vector<ref::Tensor>> result = model->run(in);
      if (!result)
        return Status::error("library run: " +
                             llvm::toString(result.takeError()));
      byLibraryOrder = std::move(*result);
    } catch (const std::exception &e) {
      return Status::error(std::string("library run threw: ") + e.what());
    }
    // Outputs in the imported graph's order, matched by name.
    out.clear();
    for (const std::string &n : outputs) {
      size_t i = 0;
      while (i < model->outputs().size() && model->outputs()[i].name != n)
        ++i;
      if (i >= byLibraryOrder.size())
        return Status::error("the library has no output '" + n + "'");
      out.push_back(std::move(byLibraryOrder[i]));
    }
    return Status::success();
  }

private:
  static mlir::DialectRegistry makeRegistry() {
    mlir::DialectRegistry registry;
    registerKilnDialects(registry);
    return registry;
  }

  /// Imports `path` with `pinned` input shapes into `into`.
  Status import(const std::map<std::string, std::vector<int64_t>> &pinned,
                mlir::OwningOpRef<mlir::ModuleOp> &into) {
    OnnxImportOptions io;
    io.inputShapes = pinned;
    try {
      into = importOnnxFile(path, ctx, io);
    } catch (const std::exception &e) {
      return classify(diags.take() + e.what(), "import threw");
    }
    if (!into)
      return classify(diags.take(), "import failed without a diagnostic");
    return Status::success();
  }

  /// Whether @main of `m` already has exactly these input shapes.
  static bool hasShapes(mlir::ModuleOp m,
                        const std::vector<std::vector<int64_t>> &shapes) {
    mlir::func::FuncOp fn = getMainFunction(m);
    if (!fn || fn.getNumArguments() != shapes.size())
      return false;
    for (unsigned i = 0; i < shapes.size(); ++i) {
      auto t = llvm::dyn_cast<mlir::RankedTensorType>(fn.getArgumentTypes()[i]);
      if (!t || !t.hasStaticShape() ||
          llvm::ArrayRef<int64_t>(t.getShape()) !=
              llvm::ArrayRef<int64_t>(shapes[i]))
        return false;
    }
    return true;
  }

  Status compile(const std::vector<std::vector<int64_t>> &shapes) {
    model.reset();
    removeLibrary();
    mlir::OwningOpRef<mlir::ModuleOp> m;
    if (imported && hasShapes(*imported, shapes)) {
      m = std::move(imported); // static model: the first import will do
    } else {
      std::map<std::string, std::vector<int64_t>> pinned;
      for (size_t i = 0; i < shapes.size(); ++i)
        pinned[inputs[i]] = shapes[i];
      Status st = import(pinned, m);
      if (!st.ok())
        return st.kind == FailureKind::Unsupported
                   ? st
                   : Status::error("import with the inputs' shapes: " +
                                   st.message);
    }
    mlir::PassManager pm(&ctx);
    buildDefaultPipeline(pm);
    if (mlir::failed(pm.run(*m)))
      return Status::error("pipeline: " + diags.take());
    diags.take(); // remarks and warnings of a successful pipeline

    if (Status st = prepareDirs(); !st.ok())
      return st;
    library::LibraryOptions lo;
    lo.name = library::sanitizeName(
        llvm::sys::path::filename(llvm::sys::path::parent_path(path)));
    lo.outDir = libDir;
    lo.backend = kernels;
    lo.cacheDir = cacheDir;
    lo.jobs = opts.compileJobs;
    lo.threads = opts.threads;
    llvm::FailureOr<library::LibraryReport> report;
    try {
      report = library::emitLibrary(*m, lo);
    } catch (const std::exception &e) {
      return Status::error(diags.take() + "emitLibrary threw: " + e.what());
    }
    if (mlir::failed(report)) {
      std::string msg = diags.take();
      if (msg.empty())
        msg = "emitLibrary failed without a diagnostic";
      if (nativeUnsupported(msg))
        return Status::unsupported(
            msg.find("needs static shapes") != std::string::npos
                ? "a shape depends on input values: " + msg
                : std::move(msg));
      return Status::error("compile: " + msg);
    }
    diags.take();
    llvm::Expected<std::unique_ptr<library::LoadedModel>> loaded =
        library::LoadedModel::open(report->libraryPath, opts.threads);
    if (!loaded)
      return Status::error("cannot open the library: " +
                           llvm::toString(loaded.takeError()));
    model = std::move(*loaded);
    compiledShapes = shapes;
    return Status::success();
  }

  /// Makes the work folder (once) and a fresh folder for this library.
  Status prepareDirs() {
    if (workDir.empty()) {
      if (!opts.workDir.empty()) {
        workDir = opts.workDir;
      } else {
        llvm::SmallString<128> dir;
        if (std::error_code ec =
                llvm::sys::fs::createUniqueDirectory("kiln-native", dir))
          return Status::error("cannot make a temporary folder: " +
                               ec.message());
        workDir = std::string(dir);
        ownsWorkDir = true;
      }
      if (!opts.cacheDir.empty())
        cacheDir = opts.cacheDir;
      else if (const char *env = std::getenv("KILN_CACHE_DIR"); env && *env)
        cacheDir = ""; // emitLibrary's default: $KILN_CACHE_DIR
      else
        cacheDir = workDir + "/cache";
    }
    static unsigned counter = 0;
    libDir = workDir + "/lib-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter++);
    if (std::error_code ec = llvm::sys::fs::create_directories(libDir))
      return Status::error("cannot make '" + libDir + "': " + ec.message());
    return Status::success();
  }

  void removeLibrary() {
    if (!libDir.empty() && !std::getenv("KILN_TEST_KEEP"))
      llvm::sys::fs::remove_directories(libDir);
    libDir.clear();
  }

  const char *label;
  library::Backend kernels;
  BackendOptions opts;
  mlir::MLIRContext ctx;
  DiagnosticCollector diags;
  std::string path, workDir, cacheDir, libDir;
  bool ownsWorkDir = false;
  mlir::OwningOpRef<mlir::ModuleOp> imported;
  std::unique_ptr<library::LoadedModel> model;
  std::vector<std::vector<int64_t>> compiledShapes;
  std::vector<std::string> inputs, outputs;
};

} // namespace

const char *kiln::test::backendNames() {
  return "interpreter, native, llvm, halide";
}

std::unique_ptr<Backend>
kiln::test::createBackend(const std::string &name, std::string &error,
                          const BackendOptions &options) {
  if (name == "interpreter")
    return std::make_unique<InterpreterBackend>();
  if (name == "native")
    return std::make_unique<NativeBackend>("native", library::Backend::Auto,
                                           options);
  if (name == "llvm")
    return std::make_unique<NativeBackend>("llvm", library::Backend::LLVM,
                                           options);
  if (name == "halide")
    return std::make_unique<NativeBackend>("halide", library::Backend::Halide,
                                           options);
  error = "unknown backend '" + name + "' (known: " + backendNames() + ")";
  return nullptr;
}

// The test backends: "interpreter" imports an ONNX file and runs kiln's
// reference interpreter on it. New backends (compiled libraries) go beside it
// in createBackend.
#include "Backend.h"

#include "kiln/Frontend/OnnxImporter.h"
#include "kiln/IR/Interpreter.h"
#include "kiln/IR/KilnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <exception>

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

} // namespace

const char *kiln::test::backendNames() { return "interpreter"; }

std::unique_ptr<Backend> kiln::test::createBackend(const std::string &name,
                                                   std::string &error) {
  if (name == "interpreter")
    return std::make_unique<InterpreterBackend>();
  error = "unknown backend '" + name + "' (known: " + backendNames() + ")";
  return nullptr;
}

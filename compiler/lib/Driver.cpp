// Loading models and shared driver helpers for the kiln tools.
#include "kiln/Compiler/Driver.h"

#include "kiln/Frontend/OnnxImporter.h"
#include "kiln/IR/KilnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/SourceMgr.h"

#include <set>

using namespace mlir;

void kiln::registerKilnDialects(DialectRegistry &registry) {
  registry.insert<kiln::KilnDialect, func::FuncDialect>();
}

std::string kiln::parseShapeSpec(StringRef spec,
                                 std::map<std::string, std::vector<int64_t>> &shapes) {
  auto [name, dims] = spec.rsplit('=');
  if (name.empty() || dims.empty() || !spec.contains('='))
    return "expected NAME=DxDx... in '" + spec.str() + "'";
  std::vector<int64_t> shape;
  SmallVector<StringRef> parts;
  dims.split(parts, 'x');
  for (StringRef p : parts) {
    int64_t d;
    if (p.trim().getAsInteger(10, d) || d < 0)
      return "bad dimension '" + p.str() + "' in '" + spec.str() + "'";
    shape.push_back(d);
  }
  shapes[name.str()] = shape;
  return "";
}

std::string kiln::parseDimSpec(StringRef spec, std::map<std::string, int64_t> &dims) {
  auto [name, value] = spec.rsplit('=');
  int64_t d;
  if (name.empty() || !spec.contains('=') || value.getAsInteger(10, d) || d < 0)
    return "expected NAME=N (a symbolic dim's size) in '" + spec.str() + "'";
  dims[name.str()] = d;
  return "";
}

func::FuncOp kiln::getMainFunction(ModuleOp module) {
  if (auto main = module.lookupSymbol<func::FuncOp>("main"))
    return main;
  func::FuncOp only;
  for (auto fn : module.getOps<func::FuncOp>()) {
    if (only)
      return {};
    only = fn;
  }
  return only;
}

std::string kiln::argName(func::FuncOp fn, unsigned i) {
  if (auto s = fn.getArgAttrOfType<StringAttr>(i, "kiln.name"))
    return s.str();
  return "input_" + std::to_string(i);
}

std::string kiln::resultName(func::FuncOp fn, unsigned i) {
  if (auto s = fn.getResultAttrOfType<StringAttr>(i, "kiln.name"))
    return s.str();
  return "output_" + std::to_string(i);
}

LogicalResult kiln::pinInputShapes(ModuleOp module, const LoadOptions &opts) {
  if (opts.inputShapes.empty() && opts.dimValues.empty())
    return success();
  func::FuncOp fn = getMainFunction(module);
  if (!fn)
    return module.emitError("no @main function to pin input shapes on");
  std::set<std::string> used;
  Block &entry = fn.getBody().front();
  for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
    auto type = dyn_cast<RankedTensorType>(fn.getArgumentTypes()[i]);
    if (!type)
      continue;
    std::string name = argName(fn, i);
    SmallVector<int64_t> shape(type.getShape());
    if (auto it = opts.inputShapes.find(name); it != opts.inputShapes.end()) {
      used.insert(name);
      if (it->second.size() != shape.size())
        return fn.emitError() << "--shape " << name << ": rank "
                              << it->second.size() << " but the input has rank "
                              << shape.size();
      for (size_t d = 0; d < shape.size(); ++d) {
        if (!ShapedType::isDynamic(shape[d]) && shape[d] != it->second[d])
          return fn.emitError() << "--shape " << name << ": dim " << d << " is "
                                << shape[d] << " in the model, not " << it->second[d];
        shape[d] = it->second[d];
      }
    }
    if (auto names = fn.getArgAttrOfType<ArrayAttr>(i, "kiln.dims")) {
      for (auto [d, a] : llvm::enumerate(names)) {
        auto s = dyn_cast<StringAttr>(a);
        if (!s || d >= shape.size())
          continue;
        if (auto it = opts.dimValues.find(s.str()); it != opts.dimValues.end()) {
          used.insert(s.str());
          if (ShapedType::isDynamic(shape[d]))
            shape[d] = it->second;
        }
      }
    }
    auto pinned = RankedTensorType::get(shape, type.getElementType());
    entry.getArgument(i).setType(pinned);
  }
  for (auto &[name, _] : opts.inputShapes)
    if (!used.count(name))
      return fn.emitError() << "--shape names '" << name << "', which is not a model input";
  for (auto &[name, _] : opts.dimValues)
    if (!used.count(name))
      return fn.emitError() << "--dim names '" << name
                            << "', which is not a symbolic dim of any input";
  fn.setFunctionType(FunctionType::get(module.getContext(), entry.getArgumentTypes(),
                                       fn.getResultTypes()));
  return refineShapes(module);
}

OwningOpRef<ModuleOp> kiln::loadModel(StringRef path, MLIRContext &ctx,
                                      const LoadOptions &opts) {
  OwningOpRef<ModuleOp> module;
  if (path.ends_with(".onnx")) {
    OnnxImportOptions io;
    io.inputShapes = opts.inputShapes;
    io.dimValues = opts.dimValues;
    module = importOnnxFile(path, ctx, io);
    return module; // the importer pins shapes itself
  }
  llvm::SourceMgr sm;
  std::string err;
  auto file = mlir::openInputFile(path, &err);
  if (!file) {
    emitError(FileLineColLoc::get(&ctx, path, 0, 0)) << "cannot open: " << err;
    return nullptr;
  }
  sm.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  module = parseSourceFile<ModuleOp>(sm, &ctx);
  if (!module)
    return nullptr;
  if (failed(pinInputShapes(*module, opts)) || failed(verify(*module)))
    return nullptr;
  return module;
}

void kiln::printModule(ModuleOp module, llvm::raw_ostream &os, bool elideWeights) {
  OpPrintingFlags flags;
  if (elideWeights)
    flags.elideLargeResourceString(256).elideLargeElementsAttrs(64);
  module.print(os, flags);
  os << "\n";
}

std::string kiln::formatLocation(Location loc) {
  if (auto file = dyn_cast<FileLineColLoc>(loc)) {
    std::string s = file.getFilename().str();
    if (file.getLine() > 0)
      s += ":" + std::to_string(file.getLine()) + ":" + std::to_string(file.getColumn());
    return s;
  }
  if (auto name = dyn_cast<NameLoc>(loc)) {
    std::string inner = formatLocation(name.getChildLoc());
    return inner.empty() ? name.getName().str() : inner;
  }
  if (auto fused = dyn_cast<FusedLoc>(loc)) {
    for (Location l : fused.getLocations())
      if (std::string s = formatLocation(l); !s.empty())
        return s;
    return "";
  }
  if (auto callsite = dyn_cast<CallSiteLoc>(loc))
    return formatLocation(callsite.getCallee());
  return "";
}

std::unique_ptr<ScopedDiagnosticHandler>
kiln::installDiagnosticPrinter(MLIRContext &ctx) {
  return std::make_unique<ScopedDiagnosticHandler>(&ctx, [](Diagnostic &diag) {
    auto print = [](Diagnostic &d) {
      const char *sev = d.getSeverity() == DiagnosticSeverity::Error     ? "error"
                        : d.getSeverity() == DiagnosticSeverity::Warning ? "warning"
                        : d.getSeverity() == DiagnosticSeverity::Note    ? "note"
                                                                         : "remark";
      std::string where = formatLocation(d.getLocation());
      llvm::errs() << (where.empty() ? "kiln" : where) << ": " << sev << ": " << d.str()
                   << "\n";
    };
    print(diag);
    for (Diagnostic &note : diag.getNotes())
      print(note);
    return success();
  });
}

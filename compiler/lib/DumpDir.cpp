// `kiln compile --dump-dir DIR`: numbered IR stages (a pass instrumentation
// writes one file after each pass), graph pictures, kernel artifacts through
// KernelDump, and the memory plan from the library's Program.
#include "kiln/Compiler/DumpDir.h"
#include "kiln/Compiler/DotExport.h"
#include "kiln/Compiler/Driver.h"
#include "kiln/Compiler/KernelDump.h"

// The library emitter's analysis: the kernel calls and the arena plan.
#include "Program.h"

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

using namespace mlir;

namespace kiln {

namespace {

/// A file name part for a pass: its argument ("kiln-fuse-attention"), else its
/// name with anything but [A-Za-z0-9._-] replaced by '_'.
std::string passFileName(Pass *pass) {
  std::string name = !pass->getArgument().empty() ? pass->getArgument().str()
                                                  : pass->getName().str();
  for (char &c : name)
    if (!llvm::isAlnum(c) && c != '-' && c != '_' && c != '.')
      c = '_';
  return name;
}

/// Writes the module after each pass. Pass adaptors (the nested pipelines of
/// a pass manager) are skipped, as MLIR's IR printer skips them; a pass that
/// runs on several nested ops in a row writes one file, the last state.
class StageInstrumentation : public PassInstrumentation {
public:
  explicit StageInstrumentation(DumpDir &dump) : dump(dump) {}

  void runAfterPass(Pass *pass, Operation *op) override { write(pass, op, ""); }
  void runAfterPassFailed(Pass *pass, Operation *op) override {
    write(pass, op, ".failed");
  }

private:
  void write(Pass *pass, Operation *op, StringRef suffix) {
    if (pass->getName().starts_with("Pipeline Collection"))
      return;
    if (pass != last) {
      number = dump.nextStage();
      last = pass;
    }
    ModuleOp module = dyn_cast<ModuleOp>(op);
    if (!module)
      module = op->getParentOfType<ModuleOp>();
    while (module && module->getParentOfType<ModuleOp>())
      module = module->getParentOfType<ModuleOp>();
    if (!module)
      return;
    (void)dump.writeModule(module, number + "-" + passFileName(pass) +
                                       suffix.str() + ".mlir");
  }

  DumpDir &dump;
  Pass *last = nullptr;
  std::string number;
};

} // namespace

std::unique_ptr<DumpDir> DumpDir::create(const DumpDirOptions &opts,
                                         std::string &error) {
  if (opts.dir.empty()) {
    error = "--dump-dir needs a directory";
    return nullptr;
  }
  if (std::error_code ec = llvm::sys::fs::create_directories(opts.dir)) {
    error = "cannot create --dump-dir '" + opts.dir + "': " + ec.message();
    return nullptr;
  }
  // Creating a directory succeeds on an existing read-only one: try a file.
  SmallString<256> probe;
  int fd = -1;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(
          opts.dir + "/.kiln-probe-%%%%%%", fd, probe)) {
    error = "cannot write to --dump-dir '" + opts.dir + "': " + ec.message();
    return nullptr;
  }
  llvm::sys::fs::closeFile(fd);
  llvm::sys::fs::remove(probe);
  return std::unique_ptr<DumpDir>(new DumpDir(opts));
}

/// "07": at least two digits.
static std::string twoDigits(uint64_t n) {
  std::string s = std::to_string(n);
  return s.size() < 2 ? "0" + s : s;
}

std::string DumpDir::nextStage() { return twoDigits(stage++); }

LogicalResult DumpDir::writeModule(ModuleOp module, StringRef name) {
  std::string path = opts.dir + "/" + name.str();
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return module.emitError()
           << "cannot write '" << path << "': " << ec.message();
  printModule(module, os, /*elideWeights=*/true);
  return success();
}

LogicalResult DumpDir::writeGraph(ModuleOp module, StringRef stem) {
  std::string dot = opts.dir + "/" + stem.str() + ".dot";
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(dot, ec);
    if (ec)
      return module.emitError()
             << "cannot write '" << dot << "': " << ec.message();
    if (failed(exportDot(module, os)))
      return failure();
  }
  if (findGraphvizDot().empty()) {
    *opts.notes << "kiln: note: Graphviz's 'dot' is not on PATH; wrote " << dot
                << " without a picture\n";
    return success();
  }
  std::string svg = opts.dir + "/" + stem.str() + ".svg";
  if (std::string why = renderDot(dot, "svg", svg); !why.empty())
    *opts.notes << "kiln: note: no " << svg << ": " << why << "\n";
  return success();
}

LogicalResult DumpDir::writeImported(ModuleOp module) {
  if (failed(writeModule(module, nextStage() + "-imported.mlir")))
    return failure();
  return writeGraph(module, "graph-imported");
}

void DumpDir::instrument(PassManager &pm) {
  pm.addInstrumentation(std::make_unique<StageInstrumentation>(*this));
}

LogicalResult DumpDir::writeFinal(ModuleOp module) {
  if (failed(writeModule(module, nextStage() + "-final.mlir")) ||
      failed(writeGraph(module, "graph-final")))
    return failure();
  // Kernels and the plan need every shape known; IR and graphs do not.
  func::FuncOp fn = getMainFunction(module);
  auto isStatic = [](Type t) {
    auto shaped = dyn_cast<ShapedType>(t);
    return !shaped || shaped.hasStaticShape();
  };
  if (fn && (!llvm::all_of(fn.getArgumentTypes(), isStatic) ||
             !llvm::all_of(fn.getResultTypes(), isStatic))) {
    *opts.notes << "kiln: note: the model has dynamic shapes, so " << opts.dir
                << " has no kernels/ or memory-plan.txt; pin them with "
                   "--shape NAME=1x128 or --dim NAME=128\n";
    return success();
  }
  KernelDumpOptions kernels;
  kernels.outDir = opts.dir;
  kernels.kind = KernelDumpKind::All;
  kernels.backend = opts.backend;
  kernels.target = opts.target;
  kernels.threads = opts.threads;
  if (failed(dumpKernels(module, kernels)))
    return failure();
  std::string path = opts.dir + "/memory-plan.txt";
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return module.emitError()
           << "cannot write '" << path << "': " << ec.message();
  return writeMemoryPlan(module, opts.backend, os);
}

LogicalResult writeMemoryPlan(ModuleOp module, library::Backend backend,
                              llvm::raw_ostream &os) {
  func::FuncOp fn = getMainFunction(module);
  if (!fn)
    return module.emitError("the module has no @main function");
  FailureOr<library::Program> prog = library::buildProgram(fn, backend);
  if (failed(prog))
    return failure();
  auto mib = [](uint64_t bytes) { return bytes / (1024.0 * 1024.0); };
  os << "# kiln memory plan of @" << fn.getSymName() << ": "
     << prog->arenaBuffers.size()
     << " intermediates share one arena (64-byte aligned offsets).\n"
     << "# Live ranges count kernel calls (the steps below); a buffer is\n"
     << "# written by call `first` and last read by call `last`; 'end' is the\n"
     << "# copy into the outputs after the last call. Results that are model\n"
     << "# outputs are written straight into the caller's buffers, and views\n"
     << "# (reshape, squeeze, ...) share their operand's buffer.\n\n";
  os << "## kernel calls\n";
  os << llvm::formatv("{0,5} | {1,-24} | {2}\n", "call",
                      "kernel (kernels/ file)", "op");
  for (auto [i, step] : llvm::enumerate(prog->steps))
    os << llvm::formatv("{0,5} | {1,-24} | {2}\n", i,
                        "k" + twoDigits(step.kernel) + "_" +
                            step.op->getName().stripDialect().str(),
                        step.name);
  os << "\n## arena buffers\n";
  os << llvm::formatv("{0,-6} | {1,10} | {2,10} | {3,5} | {4,5} | {5}\n",
                      "buffer", "bytes", "offset", "first", "last",
                      "written by");
  int64_t end = prog->steps.size();
  for (auto [i, b] : llvm::enumerate(prog->arenaBuffers)) {
    std::string last = b.last >= end ? "end" : std::to_string(b.last);
    std::string writer = prog->steps[b.first].name;
    if (prog->steps[b.first].op->getNumResults() > 1)
      writer += " #" + std::to_string(b.result);
    os << llvm::formatv("b{0,-5} | {1,10} | {2,10} | {3,5} | {4,5} | {5}\n", i,
                        b.bytes, b.offset, b.first, last, writer);
  }
  os << "\n"
     << llvm::formatv("arena total: {0} bytes ({1:F2} MiB)\n", prog->arenaBytes,
                      mib(prog->arenaBytes))
     << llvm::formatv("without reuse: {0} bytes ({1:F2} MiB)\n",
                      prog->intermediateBytes, mib(prog->intermediateBytes))
     << llvm::formatv("weights: {0} bytes ({1:F2} MiB), outside the arena\n",
                      prog->weightBytes, mib(prog->weightBytes));
  return success();
}

} // namespace kiln

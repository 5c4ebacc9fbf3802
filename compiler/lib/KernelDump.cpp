// `kiln compile --emit=halide|asm`: compiles each unique kernel of the library
// to its Halide lowered statement or assembly, plus an index of kernel -> ops.
#include "kiln/Compiler/KernelDump.h"
#include "kiln/Codegen/HalideBackend.h"
#include "kiln/Codegen/LLVMBackend.h"
#include "kiln/Compiler/Driver.h"

// The library emitter's analysis (kernel dedup and backend choice), so the
// dumps show exactly the kernels a library of this model holds.
#include "Program.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <map>

using namespace mlir;

namespace {

/// "k03_fused_matmul": the kernel's index and op name, a valid C identifier.
std::string kernelFunctionName(unsigned index, Operation *op) {
  std::string opName = op->getName().stripDialect().str();
  std::string number = std::to_string(index);
  if (number.size() < 2)
    number = "0" + number;
  return "k" + number + "_" + opName;
}

} // namespace

FailureOr<std::string> kiln::dumpKernels(ModuleOp module,
                                         const KernelDumpOptions &opts) {
  func::FuncOp fn = getMainFunction(module);
  if (!fn)
    return module.emitError("the module has no @main function");
  FailureOr<library::Program> prog = library::buildProgram(fn, opts.backend);
  if (failed(prog))
    return failure();

  std::string dir = opts.outDir + "/kernels";
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return module.emitError()
           << "cannot create '" << dir << "': " << ec.message();

  // The ops each kernel serves, by ONNX node name.
  std::map<unsigned, std::vector<std::string>> users;
  for (const library::Step &step : prog->steps) {
    std::string where = library::locationName(step.op->getLoc());
    users[step.kernel].push_back((where.empty() ? std::string("?") : where) +
                                 " (" +
                                 step.op->getName().getStringRef().str() + ")");
  }

  std::string indexPath = dir + "/index.txt";
  std::error_code ec;
  llvm::raw_fd_ostream index(indexPath, ec);
  if (ec)
    return module.emitError()
           << "cannot write '" << indexPath << "': " << ec.message();
  const char *ext = opts.kind == KernelDumpKind::HalideStmt ? ".stmt" : ".s";
  bool all = opts.kind == KernelDumpKind::All;
  index << "# kernel file | backend | uses | ops (ONNX node) | key\n";

  halide::KernelOptions hopts;
  hopts.target = opts.target;
  hopts.threads = opts.threads;
  for (auto [i, kernel] : llvm::enumerate(prog->kernels)) {
    std::string name = kernelFunctionName(i, kernel.op);
    std::string base = dir + "/" + name;
    std::string file;
    std::string note;
    if (kernel.backend == library::Backend::Halide) {
      halide::KernelOutputs outs;
      if (all) {
        outs.stmt = base + ".stmt";
        outs.stmtHtml = base + ".stmt.html";
        outs.llvmAssembly = base + ".ll";
        outs.assembly = base + ".s";
      } else {
        (opts.kind == KernelDumpKind::HalideStmt ? outs.stmt : outs.assembly) =
            base + ext;
      }
      if (failed(halide::compileKernel(kernel.op, name, outs, hopts)))
        return failure();
      file = all ? name + ".{stmt,stmt.html,ll,s}" : name + ext;
    } else {
      // The LLVM backend writes its LLVM IR (and LLVM-dialect module) beside a
      // throwaway object; it has neither a Halide statement nor an assembly
      // API.
      llvmgen::CompileOptions lopts;
      lopts.dumpPrefix = base;
      std::string obj = base + ".o";
      if (failed(llvmgen::compileKernelToObject(kernel.op, name, obj, lopts)))
        return failure();
      llvm::sys::fs::remove(obj);
      file = name + ".ll";
      note = opts.kind == KernelDumpKind::HalideStmt
                 ? " [LLVM backend: no Halide statement, wrote LLVM IR]"
                 : " [LLVM backend: no assembly output, wrote LLVM IR]";
      if (all) {
        file = name + ".{ll,mlir}";
        note = " [LLVM backend: LLVM IR and LLVM-dialect MLIR only]";
      }
    }
    index << file << " | "
          << (kernel.backend == library::Backend::Halide ? "halide" : "llvm")
          << " | " << kernel.uses << " | " << llvm::join(users[i], ", ")
          << " | " << kernel.key << note << "\n";
  }
  return indexPath;
}

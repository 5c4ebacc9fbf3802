// The LLVM backend's lowering pipeline: one-shot bufferization into the
// output arguments, linalg to loops, math approximations, conversion to the
// LLVM dialect (bare pointers), then LLVM O3 and object emission.
#include "Pipeline.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/SubsetInsertionOpInterfaceImpl.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/SubsetInsertionOpInterfaceImpl.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

#include <mutex>

using namespace mlir;
using namespace kiln::llvmgen;

std::unique_ptr<MLIRContext> kiln::llvmgen::detail::makeKernelContext() {
  DialectRegistry registry;
  registry
      .insert<affine::AffineDialect, arith::ArithDialect,
              bufferization::BufferizationDialect, cf::ControlFlowDialect,
              func::FuncDialect, index::IndexDialect, LLVM::LLVMDialect,
              linalg::LinalgDialect, math::MathDialect, memref::MemRefDialect,
              scf::SCFDialect, tensor::TensorDialect, ub::UBDialect>();
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  linalg::registerSubsetOpInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerSubsetOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  auto ctx =
      std::make_unique<MLIRContext>(registry, MLIRContext::Threading::DISABLED);
  ctx->loadAllAvailableDialects();
  return ctx;
}

namespace {

/// Runs `pm` on `module`, collecting diagnostics into `error` on failure.
LogicalResult runPasses(PassManager &pm, ModuleOp module, StringRef stage,
                        std::string &error) {
  std::string diags;
  ScopedDiagnosticHandler handler(module.getContext(), [&](Diagnostic &d) {
    if (d.getSeverity() == DiagnosticSeverity::Error)
      diags += d.str() + "\n";
    return success();
  });
  if (succeeded(pm.run(module)))
    return success();
  error = (stage + " failed: " + diags).str();
  return failure();
}

/// Which math ops become polynomial approximations (vectorizable, accurate
/// to a few ulp for f32); the others (sin, cos, pow, ...) call libm.
bool approximate(StringRef name) {
  return name == "math.erf" || name == "math.tanh" || name == "math.exp" ||
         name == "math.log";
}

} // namespace

LogicalResult kiln::llvmgen::detail::lowerToLLVMDialect(ModuleOp module,
                                                        std::string &error) {
  MLIRContext *ctx = module.getContext();
  {
    PassManager pm(ctx);
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
    pm.addPass(bufferization::createEmptyTensorEliminationPass());
    if (failed(runPasses(pm, module, "tensor cleanup", error)))
      return failure();
  }
  {
    bufferization::OneShotBufferizationOptions opts;
    opts.bufferAlignment = 64;
    // Copies become linalg.copy loops (memref.copy of strided views would
    // call an MLIR runtime function the generated library does not have).
    opts.memCpyFn = [](OpBuilder &b, Location loc, Value from,
                       Value to) -> LogicalResult {
      linalg::CopyOp::create(b, loc, from, to);
      return success();
    };
    bufferization::BufferizationState state;
    std::string diags;
    ScopedDiagnosticHandler handler(ctx, [&](Diagnostic &d) {
      diags += d.str() + "\n";
      return success();
    });
    if (failed(bufferization::runOneShotBufferize(module, opts, state))) {
      error = "bufferization failed: " + diags;
      return failure();
    }
  }
  {
    PassManager pm(ctx);
    pm.addPass(createCanonicalizerPass());
    bufferization::buildBufferDeallocationPipeline(pm);
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createConvertLinalgToLoopsPass());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
    if (failed(runPasses(pm, module, "loop lowering", error)))
      return failure();
  }
  {
    RewritePatternSet patterns(ctx);
    populateMathPolynomialApproximationPatterns(patterns, approximate);
    if (failed(applyPatternsGreedily(module, std::move(patterns)))) {
      error = "math approximation did not converge";
      return failure();
    }
  }
  {
    PassManager pm(ctx);
    pm.addPass(memref::createExpandStridedMetadataPass());
    pm.addPass(createLowerAffinePass());
    pm.addPass(createSCFToControlFlowPass());
    pm.addPass(createConvertMathToLLVMPass());
    pm.addPass(createConvertMathToLibmPass());
    pm.addPass(createArithToLLVMConversionPass());
    ConvertFuncToLLVMPassOptions funcOpts;
    funcOpts.useBarePtrCallConv = true;
    pm.addPass(createConvertFuncToLLVMPass(funcOpts));
    pm.addPass(createFinalizeMemRefToLLVMConversionPass());
    pm.addPass(createConvertControlFlowToLLVMPass());
    pm.addPass(createConvertIndexToLLVMPass());
    pm.addPass(createUBToLLVMConversionPass());
    pm.addPass(createReconcileUnrealizedCastsPass());
    if (failed(runPasses(pm, module, "conversion to the LLVM dialect", error)))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Object emission
//===----------------------------------------------------------------------===//

namespace {

void initializeNativeTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

std::string hostFeatures() {
  std::string s;
  for (const auto &f : llvm::sys::getHostCPUFeatures())
    s += (s.empty() ? "" : ",") + std::string(f.getValue() ? "+" : "-") +
         f.getKey().str();
  return s;
}

} // namespace

LogicalResult kiln::llvmgen::detail::emitObject(ModuleOp module,
                                                StringRef objPath,
                                                const CompileOptions &opts,
                                                std::string &error) {
  initializeNativeTarget();
  llvm::LLVMContext llctx;
  std::string diags;
  std::unique_ptr<llvm::Module> llmod;
  {
    ScopedDiagnosticHandler handler(module.getContext(), [&](Diagnostic &d) {
      diags += d.str() + "\n";
      return success();
    });
    llmod = translateModuleToLLVMIR(module, llctx);
  }
  if (!llmod) {
    error = "translation to LLVM IR failed: " + diags;
    return failure();
  }
  llvm::Triple triple(llvm::sys::getProcessTriple());
  std::string lookupError;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, lookupError);
  if (!target) {
    error = "no LLVM target for " + triple.str() + ": " + lookupError;
    return failure();
  }
  std::string cpu =
      opts.cpu.empty() ? llvm::sys::getHostCPUName().str() : opts.cpu;
  std::string features = opts.cpu.empty() && opts.features.empty()
                             ? hostFeatures()
                             : opts.features;
  llvm::TargetOptions targetOpts;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      triple, cpu, features, targetOpts, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  if (!tm) {
    error = "could not create a target machine for " + cpu;
    return failure();
  }
  llmod->setTargetTriple(triple);
  llmod->setDataLayout(tm->createDataLayout());
  for (llvm::Function &f : *llmod) {
    if (f.isDeclaration())
      continue;
    f.addFnAttr("target-cpu", cpu);
    if (!features.empty())
      f.addFnAttr("target-features", features);
    f.addFnAttr(llvm::Attribute::NoUnwind);
  }

  // Optimize at O3.
  {
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PipelineTuningOptions pto;
    pto.LoopVectorization = true;
    pto.SLPVectorization = true;
    // No full unrolling of the small static loops kernels have: it turns
    // whole kernels into one huge block whose scheduling takes seconds; the
    // vectorizer still interleaves.
    pto.LoopUnrolling = false;
    llvm::PassBuilder pb(tm.get(), pto);
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    llvm::ModulePassManager mpm =
        pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
    mpm.run(*llmod, mam);
  }
  if (!opts.dumpPrefix.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream ll(opts.dumpPrefix + ".ll", ec);
    if (!ec)
      llmod->print(ll, nullptr);
  }

  std::error_code ec;
  llvm::raw_fd_ostream out(objPath, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = "cannot write " + objPath.str() + ": " + ec.message();
    return failure();
  }
  llvm::legacy::PassManager codegen;
  if (tm->addPassesToEmitFile(codegen, out, nullptr,
                              llvm::CodeGenFileType::ObjectFile)) {
    error = "the target cannot emit object files";
    return failure();
  }
  codegen.run(*llmod);
  out.flush();
  if (out.has_error()) {
    error = "error writing " + objPath.str();
    out.clear_error();
    return failure();
  }
  return success();
}

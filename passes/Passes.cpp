// Registration of kiln's passes and the default fusion pipeline.
#include "kiln/Passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace kiln {
namespace detail {
// registerKilnPasses() for the passes alone, generated from Passes.td; the
// public kiln::registerKilnPasses() below adds the pipeline.
#define GEN_PASS_REGISTRATION
#include "kiln/Passes/Passes.h.inc"
} // namespace detail
} // namespace kiln

void kiln::buildDefaultPipeline(OpPassManager &pm) {
  buildDefaultPipeline(pm, /*report=*/false);
}

void kiln::buildDefaultPipeline(OpPassManager &pm, bool report) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  FuseGeluPassOptions gelu;
  gelu.report = report;
  pm.addPass(createFuseGeluPass(gelu));
  FuseLayerNormPassOptions layerNorm;
  layerNorm.report = report;
  pm.addPass(createFuseLayerNormPass(layerNorm));
  FuseSkipLayerNormPassOptions skipLayerNorm;
  skipLayerNorm.report = report;
  pm.addPass(createFuseSkipLayerNormPass(skipLayerNorm));
  FuseAttentionPassOptions attention;
  attention.report = report;
  pm.addPass(createFuseAttentionPass(attention));
  FuseMatMulEpiloguePassOptions matmul;
  matmul.report = report;
  pm.addPass(createFuseMatMulEpiloguePass(matmul));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

namespace {
struct FusionPipelineOptions : PassPipelineOptions<FusionPipelineOptions> {
  Option<bool> report{*this, "report",
                      llvm::cl::desc("Remarks with what each fusion pass "
                                     "fused and why near misses were not"),
                      llvm::cl::init(false)};
};
} // namespace

void kiln::registerKilnPasses() {
  static bool registered = false;
  if (registered)
    return;
  registered = true;
  detail::registerKilnPasses();
  PassPipelineRegistration<FusionPipelineOptions>(
      "kiln-fusion-pipeline",
      "kiln's default fusion pipeline: canonicalize, cse, fuse-gelu, "
      "fuse-layer-norm, fuse-skip-layer-norm, fuse-attention, "
      "fuse-matmul-epilogue, canonicalize, cse",
      [](OpPassManager &pm, const FusionPipelineOptions &options) {
        buildDefaultPipeline(pm, options.report);
      });
}

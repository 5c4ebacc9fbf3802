// kiln's passes: constructors, pattern populators, registration and the
// default fusion pipeline. The passes themselves are declared in
// passes/Passes.td.
#ifndef KILN_PASSES_PASSES_H
#define KILN_PASSES_PASSES_H

#include "kiln/IR/KilnDialect.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <memory>

namespace kiln {

// createFuseAttentionPass(), createFuseLayerNormPass(), ... and their options
// structs (e.g. FuseAttentionPassOptions), generated from Passes.td.
#define GEN_PASS_DECL
#include "kiln/Passes/Passes.h.inc"

/// The rewrite patterns of each fusion pass, for use in other pattern sets.
/// Options left at their defaults.
void populateFuseAttentionPatterns(mlir::RewritePatternSet &patterns,
                                   bool foldHeadLayout = true,
                                   bool detectCausal = true);
void populateFuseLayerNormPatterns(mlir::RewritePatternSet &patterns,
                                   bool fuseRms = true);
void populateFuseSkipLayerNormPatterns(mlir::RewritePatternSet &patterns,
                                       bool fuseBias = true);
void populateFuseGeluPatterns(mlir::RewritePatternSet &patterns,
                              double tolerance = 1e-4);
void populateFuseMatMulEpiloguePatterns(mlir::RewritePatternSet &patterns,
                                        bool fuseActivation = true);

/// Adds kiln's default fusion pipeline to `pm`: canonicalize, cse, fuse-gelu,
/// fuse-layer-norm, fuse-skip-layer-norm, fuse-attention, fuse-matmul-epilogue,
/// canonicalize, cse. Registered as `kiln-fusion-pipeline` (option
/// `report=true` sets every fusion pass's `report` option).
void buildDefaultPipeline(mlir::OpPassManager &pm);
/// The same, with the fusion passes' `report` option: remarks with what each
/// pass fused and why near misses were not (for `kiln compile --stats`;
/// MLIR's pass statistics print nothing in release builds of MLIR).
void buildDefaultPipeline(mlir::OpPassManager &pm, bool report);

/// Registers every kiln pass and the `kiln-fusion-pipeline` pipeline with the
/// global registry (command-line flags, --pass-pipeline parsing).
void registerKilnPasses();

} // namespace kiln

#endif // KILN_PASSES_PASSES_H

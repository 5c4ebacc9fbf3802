// kiln's passes: name, summary, options and statistics of each, in one place.
// mlir-tblgen -gen-pass-decls -name Kiln turns this into Passes.h.inc.
#ifndef KILN_PASSES_TD
#define KILN_PASSES_TD

include "mlir/Pass/PassBase.td"

// Every pass has a `report` option: remarks with what it fused and why each
// near miss was not (pass statistics and --debug-only print nothing in
// release builds of LLVM/MLIR, such as Debian's).

def FuseAttentionPass : Pass<"fuse-attention"> {
  let summary = "Fuse Q·Kᵀ → scale → mask → softmax → ·V into kiln.attention";
  let description = [{
    Matches the attention chain from each softmax's consumer outwards, in the
    forms exporters produce: the scale as a div or mul by a constant scalar on
    the scores, on Q or on K (or absent); Kᵀ as a transpose or folded into the
    head-split permutation; additive masks, boolean masks through where (both
    polarities, `equal(mask, 0)` and `not` included) and causal masks (tril
    buffers, trilu, exact constant masks) turned into the `causal` flag. When
    the heads are split by reshape+transpose and merged back the same way, the
    op takes the [B, S, H·D] tensors directly (layout "bsd").
  }];
  let dependentDialects = ["::kiln::KilnDialect"];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit remarks: what the pass fused, and why each near miss was not">,
    Option<"foldHeadLayout", "fold-head-layout", "bool", /*default=*/"true",
           "Fold head split/merge reshapes and transposes into layout \"bsd\", and split a packed QKV projection into one projection per part">,
    Option<"detectCausal", "detect-causal", "bool", /*default=*/"true",
           "Turn masks that are exactly causal into the causal flag">,
  ];
  let statistics = [
    Statistic<"numAttention", "attention", "Attention blocks fused">,
    Statistic<"numCausal", "causal", "Fused attention blocks with a causal mask flag">,
    Statistic<"numMasked", "masked", "Fused attention blocks with a mask tensor">,
    Statistic<"numHeadLayout", "bsd-layout", "Fused attention blocks in layout \"bsd\" (head split/merge folded)">,
  ];
}

def FuseLayerNormPass : Pass<"fuse-layer-norm"> {
  let summary = "Fuse LayerNormalization and decomposed LayerNorm/RMSNorm into kiln.layer_norm";
  let description = [{
    Rewrites kiln.layer_normalization over the last axis, and the decomposed
    forms mean/sub/pow|mul/mean/add ε/sqrt/div|reciprocal·mul (· γ + β),
    including the one with a duplicated sub, and RMSNorm
    (x·1/√(mean(x²)+ε)·γ) into kiln.layer_norm (with `rms` for RMSNorm).
  }];
  let dependentDialects = ["::kiln::KilnDialect"];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit remarks: what the pass fused, and why each near miss was not">,
    Option<"fuseRms", "rms", "bool", /*default=*/"true",
           "Also fuse RMSNorm into layer_norm {rms}">,
  ];
  let statistics = [
    Statistic<"numLayerNorm", "layer-norm", "LayerNorms fused">,
    Statistic<"numRmsNorm", "rms-norm", "RMSNorms fused">,
  ];
}

def FuseSkipLayerNormPass : Pass<"fuse-skip-layer-norm"> {
  let summary = "Fuse a residual add (+ bias add) feeding kiln.layer_norm into kiln.skip_layer_norm";
  let description = [{
    add(a, b) (+ a 1-D bias) feeding a kiln.layer_norm becomes
    kiln.skip_layer_norm. When the sum has other users (pre-LN blocks), the
    fused op also returns it and those users take it from there.
  }];
  let dependentDialects = ["::kiln::KilnDialect"];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit remarks: what the pass fused, and why each near miss was not">,
    Option<"fuseBias", "fuse-bias", "bool", /*default=*/"true",
           "Fold a 1-D bias add before the residual add into the op">,
  ];
  let statistics = [
    Statistic<"numSkipLayerNorm", "skip-layer-norm", "Residual adds + LayerNorms fused">,
    Statistic<"numWithSum", "with-sum", "Fused ops that also return the sum">,
    Statistic<"numWithBias", "with-bias", "Fused ops that took a bias add">,
  ];
}

def FuseGeluPass : Pass<"fuse-gelu"> {
  let summary = "Fuse the erf and tanh forms of GELU into kiln.gelu";
  let description = [{
    Matches x·0.5·(1+erf(x/√2)) and 0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³))) in
    any order of multiplication and any way of writing the constants (div by
    √2 or mul by 1/√2, pow(x, 3) or x·x·x, constants folded together): each
    side is read as a polynomial in x and the erf/tanh term and compared with
    the GELU one within `tolerance`.
  }];
  let dependentDialects = ["::kiln::KilnDialect"];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit remarks: what the pass fused, and why each near miss was not">,
    Option<"tolerance", "tolerance", "double", /*default=*/"1e-4",
           "Relative tolerance when comparing GELU constants">,
  ];
  let statistics = [
    Statistic<"numGelu", "gelu", "GELUs fused">,
    Statistic<"numGeluErf", "gelu-erf", "Exact (erf) GELUs fused">,
    Statistic<"numGeluTanh", "gelu-tanh", "tanh-approximation GELUs fused">,
  ];
}

def FuseMatMulEpiloguePass : Pass<"fuse-matmul-epilogue"> {
  let summary = "Fuse matmul/gemm with a constant weight, bias add and activation into kiln.fused_matmul";
  let description = [{
    matmul(a, W) or gemm(a, W, c) with a constant 2-D weight W (a transpose of
    a constant weight becomes trans_b), followed by an add of a 1-D bias over
    the last dim and optionally gelu, relu or tanh, becomes kiln.fused_matmul.
  }];
  let dependentDialects = ["::kiln::KilnDialect"];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit remarks: what the pass fused, and why each near miss was not">,
    Option<"fuseActivation", "fuse-activation", "bool", /*default=*/"true",
           "Fold a following gelu/relu/tanh into the op">,
  ];
  let statistics = [
    Statistic<"numFusedMatMul", "fused-matmul", "Matmuls fused">,
    Statistic<"numWithActivation", "with-activation", "Fused matmuls with an activation">,
    Statistic<"numTransB", "trans-b", "Fused matmuls with a transposed weight">,
  ];
}

#endif // KILN_PASSES_TD

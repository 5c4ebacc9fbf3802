// fuse-skip-layer-norm: residual add (+ bias) + kiln.layer_norm becomes
// kiln.skip_layer_norm, returning the sum when it is used again.
// RUN: kiln-opt %s --fuse-skip-layer-norm --split-input-file | FileCheck %s
// RUN: kiln-opt %s --fuse-skip-layer-norm=fuse-bias=false --split-input-file | FileCheck %s --check-prefix=NOBIAS
// RUN: kiln-opt %s --fuse-skip-layer-norm=report=true --split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// REQUIRES: kiln-passes

// BERT (post-LN): LayerNorm(bias + x·W + residual).
// CHECK-LABEL: func.func @post_ln_with_bias
// CHECK: %[[MM:.*]] = kiln.matmul
// CHECK-NEXT: %[[S:.*]] = kiln.skip_layer_norm %[[MM]], %arg1, %arg3 beta(%arg4) bias(%[[B:.*]]) {epsilon = 9.99999996E-13 : f32}
// CHECK-SAME: -> tensor<1x?x8xf32>
// CHECK-NEXT: return %[[S]]
// NOBIAS-LABEL: func.func @post_ln_with_bias
// NOBIAS: %[[A:.*]] = kiln.add
// NOBIAS-NEXT: kiln.skip_layer_norm %[[A]], %arg1, %arg3 beta(%arg4) {
func.func @post_ln_with_bias(%x: tensor<1x?x8xf32>, %res: tensor<1x?x8xf32>, %w: tensor<8x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<1x?x8xf32> {
  %bias = kiln.constant dense<0.1> : tensor<8xf32>
  %mm = kiln.matmul %x, %w : (tensor<1x?x8xf32>, tensor<8x8xf32>) -> tensor<1x?x8xf32>
  %0 = kiln.add %bias, %mm : (tensor<8xf32>, tensor<1x?x8xf32>) -> tensor<1x?x8xf32>
  %1 = kiln.add %0, %res : (tensor<1x?x8xf32>, tensor<1x?x8xf32>) -> tensor<1x?x8xf32>
  %2 = kiln.layer_norm %1, %g, %b {epsilon = 1.0e-12 : f32} : (tensor<1x?x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x?x8xf32>
  return %2 : tensor<1x?x8xf32>
}

// -----

// GPT-2 (pre-LN): the residual sum feeds the LayerNorm and the next residual.
// CHECK-LABEL: func.func @pre_ln_returns_sum
// CHECK-NEXT: %[[Y:.*]], %[[SUM:.*]] = kiln.skip_layer_norm %arg0, %arg1, %arg2 beta(%arg3) :
// CHECK-SAME: -> (tensor<2x4x8xf32>, tensor<2x4x8xf32>)
// CHECK-NEXT: %[[N:.*]] = kiln.add %[[SUM]], %[[Y]]
// CHECK-NEXT: return %[[N]]
func.func @pre_ln_returns_sum(%x: tensor<2x4x8xf32>, %attn: tensor<2x4x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<2x4x8xf32> {
  %r = kiln.add %x, %attn : (tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  %h = kiln.layer_norm %r, %g, %b : (tensor<2x4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  %n = kiln.add %r, %h : (tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  return %n : tensor<2x4x8xf32>
}

// -----

// The sum is used before the LayerNorm's γ is defined, and the bias comes
// after the residual add; RMSNorm flag kept.
// CHECK-LABEL: func.func @sum_used_early
// CHECK: %[[G:.*]] = kiln.constant dense<1.500000e+00>
// CHECK: %[[Y:.*]], %[[SUM:.*]] = kiln.skip_layer_norm %arg0, %arg1, %[[G]] bias(%{{.*}}) {rms = true}
// CHECK-NEXT: %[[E:.*]] = kiln.exp %[[SUM]]
// CHECK-NEXT: return %[[Y]], %[[E]]
func.func @sum_used_early(%x: tensor<4x8xf32>, %y: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %bias = kiln.constant dense<0.1> : tensor<1x8xf32>
  %r0 = kiln.add %x, %y : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %r = kiln.add %r0, %bias : (tensor<4x8xf32>, tensor<1x8xf32>) -> tensor<4x8xf32>
  %g = kiln.constant dense<1.5> : tensor<8xf32>
  %e = kiln.exp %r : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %h = kiln.layer_norm %r, %g {rms = true} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %h, %e : tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// Near miss: a bias add alone is not a residual add.
// REPORT: remark: fuse-skip-layer-norm: not fused: the add is a bias add, not a residual add
// CHECK-LABEL: func.func @bias_only
// CHECK-NOT: kiln.skip_layer_norm
// CHECK: kiln.layer_norm
func.func @bias_only(%x: tensor<4x8xf32>, %g: tensor<8xf32>) -> tensor<4x8xf32> {
  %bias = kiln.constant dense<0.1> : tensor<8xf32>
  %r = kiln.add %x, %bias : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %h = kiln.layer_norm %r, %g : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %h : tensor<4x8xf32>
}

// -----

// Near miss: the add broadcasts ([1, S, E] + [2, S, E], e.g. position
// embeddings), which skip_layer_norm does not do.
// REPORT: remark: fuse-skip-layer-norm: not fused: the residual add broadcasts
// CHECK-LABEL: func.func @broadcasting_add
// CHECK-NOT: kiln.skip_layer_norm
// CHECK: kiln.layer_norm
func.func @broadcasting_add(%x: tensor<2x4x8xf32>, %p: tensor<1x4x8xf32>, %g: tensor<8xf32>) -> tensor<2x4x8xf32> {
  %r = kiln.add %x, %p : (tensor<2x4x8xf32>, tensor<1x4x8xf32>) -> tensor<2x4x8xf32>
  %h = kiln.layer_norm %r, %g : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  return %h : tensor<2x4x8xf32>
}

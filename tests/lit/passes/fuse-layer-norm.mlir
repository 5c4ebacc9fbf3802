// fuse-layer-norm: LayerNormalization and decomposed LayerNorm/RMSNorm become
// kiln.layer_norm; near misses stay.
// RUN: kiln-opt %s --fuse-layer-norm --split-input-file | FileCheck %s
// RUN: kiln-opt %s --fuse-layer-norm=rms=false --split-input-file | FileCheck %s --check-prefix=NORMS
// RUN: kiln-opt %s --fuse-layer-norm=report=true --split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// REQUIRES: kiln-passes

// CHECK-LABEL: func.func @onnx_layer_norm
// CHECK-NEXT: %[[N:.*]] = kiln.layer_norm %arg0, %arg1, %arg2 {epsilon = 9.99999996E-13 : f32}
// CHECK-NEXT: return %[[N]]
func.func @onnx_layer_norm(%x: tensor<2x?x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<2x?x16xf32> {
  %0 = kiln.layer_normalization %x, %g, %b {epsilon = 1.0e-12 : f32} : (tensor<2x?x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<2x?x16xf32>
  return %0 : tensor<2x?x16xf32>
}

// -----

// Near miss: LayerNormalization over the last two dims.
// REPORT: remark: fuse-layer-norm: not fused: normalizes over dims [1, rank), not the last dim only
// CHECK-LABEL: func.func @onnx_layer_norm_two_axes
// CHECK-NOT: kiln.layer_norm
// CHECK: kiln.layer_normalization
func.func @onnx_layer_norm_two_axes(%x: tensor<2x4x16xf32>, %g: tensor<4x16xf32>) -> tensor<2x4x16xf32> {
  %0 = kiln.layer_normalization %x, %g {axis = 1} : (tensor<2x4x16xf32>, tensor<4x16xf32>) -> tensor<2x4x16xf32>
  return %0 : tensor<2x4x16xf32>
}

// -----

// torch.nn.LayerNorm as exported at opset < 17:
// ReduceMean, Sub, Pow 2, ReduceMean, Add ε, Sqrt, Div, Mul γ, Add β.
// CHECK-LABEL: func.func @decomposed
// CHECK: %[[N:.*]] = kiln.layer_norm %arg0, %arg1, %arg2 : (
// CHECK-NEXT: return %[[N]]
func.func @decomposed(%x: tensor<1x?x32xf32>, %g: tensor<32xf32>, %b: tensor<32xf32>) -> tensor<1x?x32xf32> {
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-5> : tensor<f32>
  %mean = kiln.reduce_mean %x {axes = array<i64: -1>} : (tensor<1x?x32xf32>) -> tensor<1x?x1xf32>
  %d = kiln.sub %x, %mean : (tensor<1x?x32xf32>, tensor<1x?x1xf32>) -> tensor<1x?x32xf32>
  %sq = kiln.pow %d, %two : (tensor<1x?x32xf32>, tensor<f32>) -> tensor<1x?x32xf32>
  %var = kiln.reduce_mean %sq {axes = array<i64: -1>} : (tensor<1x?x32xf32>) -> tensor<1x?x1xf32>
  %ve = kiln.add %var, %eps : (tensor<1x?x1xf32>, tensor<f32>) -> tensor<1x?x1xf32>
  %std = kiln.sqrt %ve : (tensor<1x?x1xf32>) -> tensor<1x?x1xf32>
  %n = kiln.div %d, %std : (tensor<1x?x32xf32>, tensor<1x?x1xf32>) -> tensor<1x?x32xf32>
  %y = kiln.mul %n, %g : (tensor<1x?x32xf32>, tensor<32xf32>) -> tensor<1x?x32xf32>
  %z = kiln.add %y, %b : (tensor<1x?x32xf32>, tensor<32xf32>) -> tensor<1x?x32xf32>
  return %z : tensor<1x?x32xf32>
}

// -----

// The duplicated-sub variant (two equal subs), the square as a mul, the
// division as reciprocal·mul, γ and β on the left and as [1, 1, N] constants.
// CHECK-LABEL: func.func @duplicated_sub
// CHECK-DAG: %[[G:.*]] = kiln.constant dense<2.000000e+00> : tensor<8xf32>
// CHECK-DAG: %[[B:.*]] = kiln.constant dense<5.000000e-01> : tensor<8xf32>
// CHECK: %[[N:.*]] = kiln.layer_norm %arg0, %[[G]], %[[B]] {epsilon = 9.99999996E-13 : f32}
// CHECK-NEXT: return %[[N]]
func.func @duplicated_sub(%x: tensor<2x3x8xf32>) -> tensor<2x3x8xf32> {
  %eps = kiln.constant dense<1.0e-12> : tensor<f32>
  %g = kiln.constant dense<2.0> : tensor<1x1x8xf32>
  %b = kiln.constant dense<0.5> : tensor<1x1x8xf32>
  %mean = kiln.reduce_mean %x {axes = array<i64: 2>} : (tensor<2x3x8xf32>) -> tensor<2x3x1xf32>
  %d1 = kiln.sub %x, %mean : (tensor<2x3x8xf32>, tensor<2x3x1xf32>) -> tensor<2x3x8xf32>
  %d2 = kiln.sub %x, %mean : (tensor<2x3x8xf32>, tensor<2x3x1xf32>) -> tensor<2x3x8xf32>
  %sq = kiln.mul %d2, %d2 : (tensor<2x3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  %var = kiln.reduce_mean %sq {axes = array<i64: 2>} : (tensor<2x3x8xf32>) -> tensor<2x3x1xf32>
  %ve = kiln.add %eps, %var : (tensor<f32>, tensor<2x3x1xf32>) -> tensor<2x3x1xf32>
  %std = kiln.sqrt %ve : (tensor<2x3x1xf32>) -> tensor<2x3x1xf32>
  %inv = kiln.reciprocal %std : (tensor<2x3x1xf32>) -> tensor<2x3x1xf32>
  %n = kiln.mul %inv, %d1 : (tensor<2x3x1xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  %y = kiln.mul %g, %n : (tensor<1x1x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  %z = kiln.add %b, %y : (tensor<1x1x8xf32>, tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  return %z : tensor<2x3x8xf32>
}

// -----

// T5 RMSNorm: x · 1/sqrt(mean(x²) + ε) · γ.
// CHECK-LABEL: func.func @rms_norm
// CHECK: %[[N:.*]] = kiln.layer_norm %arg0, %arg1 {epsilon = 9.99999997E-7 : f32, rms = true}
// CHECK-NEXT: return %[[N]]
// NORMS-LABEL: func.func @rms_norm
// NORMS-NOT: kiln.layer_norm
// NORMS: kiln.reciprocal
func.func @rms_norm(%x: tensor<1x?x16xf32>, %g: tensor<16xf32>) -> tensor<1x?x16xf32> {
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-6> : tensor<f32>
  %sq = kiln.pow %x, %two : (tensor<1x?x16xf32>, tensor<f32>) -> tensor<1x?x16xf32>
  %var = kiln.reduce_mean %sq {axes = array<i64: -1>} : (tensor<1x?x16xf32>) -> tensor<1x?x1xf32>
  %ve = kiln.add %var, %eps : (tensor<1x?x1xf32>, tensor<f32>) -> tensor<1x?x1xf32>
  %std = kiln.sqrt %ve : (tensor<1x?x1xf32>) -> tensor<1x?x1xf32>
  %inv = kiln.reciprocal %std : (tensor<1x?x1xf32>) -> tensor<1x?x1xf32>
  %n = kiln.mul %x, %inv : (tensor<1x?x16xf32>, tensor<1x?x1xf32>) -> tensor<1x?x16xf32>
  %y = kiln.mul %g, %n : (tensor<16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  return %y : tensor<1x?x16xf32>
}

// -----

// RMSNorm as a division and without γ: a γ of ones is made.
// CHECK-LABEL: func.func @rms_norm_div_no_gamma
// CHECK: %[[ONES:.*]] = kiln.constant dense<1.000000e+00> : tensor<4xf32>
// CHECK: %[[N:.*]] = kiln.layer_norm %arg0, %[[ONES]] {rms = true}
// CHECK-NEXT: return %[[N]]
func.func @rms_norm_div_no_gamma(%x: tensor<3x4xf32>) -> tensor<3x4xf32> {
  %eps = kiln.constant dense<1.0e-5> : tensor<f32>
  %sq = kiln.mul %x, %x : (tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
  %var = kiln.reduce_mean %sq {axes = array<i64: 1>} : (tensor<3x4xf32>) -> tensor<3x1xf32>
  %ve = kiln.add %var, %eps : (tensor<3x1xf32>, tensor<f32>) -> tensor<3x1xf32>
  %std = kiln.sqrt %ve : (tensor<3x1xf32>) -> tensor<3x1xf32>
  %n = kiln.div %x, %std : (tensor<3x4xf32>, tensor<3x1xf32>) -> tensor<3x4xf32>
  return %n : tensor<3x4xf32>
}

// -----

// 1/sqrt as pow(var + ε, -0.5).
// CHECK-LABEL: func.func @rsqrt_as_pow
// CHECK: kiln.layer_norm %arg0, %arg1, %arg2 : (
func.func @rsqrt_as_pow(%x: tensor<2x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<2x8xf32> {
  %two = kiln.constant dense<2.0> : tensor<f32>
  %mhalf = kiln.constant dense<-0.5> : tensor<f32>
  %eps = kiln.constant dense<1.0e-5> : tensor<f32>
  %mean = kiln.reduce_mean %x {axes = array<i64: -1>} : (tensor<2x8xf32>) -> tensor<2x1xf32>
  %d = kiln.sub %x, %mean : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %sq = kiln.pow %d, %two : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %var = kiln.reduce_mean %sq {axes = array<i64: -1>} : (tensor<2x8xf32>) -> tensor<2x1xf32>
  %ve = kiln.add %var, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %inv = kiln.pow %ve, %mhalf : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %n = kiln.mul %d, %inv : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %y = kiln.mul %n, %g : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  %z = kiln.add %y, %b : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return %z : tensor<2x8xf32>
}

// -----

// Near miss: normalizes over axis 1, not the last.
// REPORT: remark: fuse-layer-norm: not fused: reduce_mean is not over the last axis only
// CHECK-LABEL: func.func @not_last_axis
// CHECK-NOT: kiln.layer_norm
// CHECK: kiln.reduce_mean
func.func @not_last_axis(%x: tensor<2x3x8xf32>) -> tensor<2x3x8xf32> {
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-5> : tensor<f32>
  %mean = kiln.reduce_mean %x {axes = array<i64: 1>} : (tensor<2x3x8xf32>) -> tensor<2x1x8xf32>
  %d = kiln.sub %x, %mean : (tensor<2x3x8xf32>, tensor<2x1x8xf32>) -> tensor<2x3x8xf32>
  %sq = kiln.pow %d, %two : (tensor<2x3x8xf32>, tensor<f32>) -> tensor<2x3x8xf32>
  %var = kiln.reduce_mean %sq {axes = array<i64: 1>} : (tensor<2x3x8xf32>) -> tensor<2x1x8xf32>
  %ve = kiln.add %var, %eps : (tensor<2x1x8xf32>, tensor<f32>) -> tensor<2x1x8xf32>
  %std = kiln.sqrt %ve : (tensor<2x1x8xf32>) -> tensor<2x1x8xf32>
  %n = kiln.div %d, %std : (tensor<2x3x8xf32>, tensor<2x1x8xf32>) -> tensor<2x3x8xf32>
  return %n : tensor<2x3x8xf32>
}

// -----

// Near miss: the centered value is also returned.
// REPORT: remark: fuse-layer-norm: not fused: intermediate kiln.sub has users outside the normalization
// CHECK-LABEL: func.func @intermediate_reused
// CHECK-NOT: kiln.layer_norm
// CHECK: kiln.div
func.func @intermediate_reused(%x: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-5> : tensor<f32>
  %mean = kiln.reduce_mean %x {axes = array<i64: -1>} : (tensor<2x8xf32>) -> tensor<2x1xf32>
  %d = kiln.sub %x, %mean : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %sq = kiln.pow %d, %two : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %var = kiln.reduce_mean %sq {axes = array<i64: -1>} : (tensor<2x8xf32>) -> tensor<2x1xf32>
  %ve = kiln.add %var, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %std = kiln.sqrt %ve : (tensor<2x1xf32>) -> tensor<2x1xf32>
  %n = kiln.div %d, %std : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  return %n, %d : tensor<2x8xf32>, tensor<2x8xf32>
}

// -----

// Near miss: ε is not a constant.
// REPORT: remark: fuse-layer-norm: not fused: ε is not a non-negative constant scalar
// CHECK-LABEL: func.func @nonconstant_eps
// CHECK-NOT: kiln.layer_norm
// CHECK: kiln.sqrt
func.func @nonconstant_eps(%x: tensor<2x8xf32>, %eps: tensor<f32>) -> tensor<2x8xf32> {
  %two = kiln.constant dense<2.0> : tensor<f32>
  %mean = kiln.reduce_mean %x {axes = array<i64: -1>} : (tensor<2x8xf32>) -> tensor<2x1xf32>
  %d = kiln.sub %x, %mean : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %sq = kiln.pow %d, %two : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %var = kiln.reduce_mean %sq {axes = array<i64: -1>} : (tensor<2x8xf32>) -> tensor<2x1xf32>
  %ve = kiln.add %var, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %std = kiln.sqrt %ve : (tensor<2x1xf32>) -> tensor<2x1xf32>
  %n = kiln.div %d, %std : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  return %n : tensor<2x8xf32>
}

// -----

// Near miss: the variance is of another tensor than the numerator.
// CHECK-LABEL: func.func @variance_of_other
// CHECK-NOT: kiln.layer_norm
// CHECK: kiln.div
func.func @variance_of_other(%x: tensor<2x8xf32>, %w: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %eps = kiln.constant dense<1.0e-5> : tensor<f32>
  %sq = kiln.mul %w, %w : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %var = kiln.reduce_mean %sq {axes = array<i64: -1>} : (tensor<2x8xf32>) -> tensor<2x1xf32>
  %ve = kiln.add %var, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %std = kiln.sqrt %ve : (tensor<2x1xf32>) -> tensor<2x1xf32>
  %n = kiln.div %x, %std : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  return %n : tensor<2x8xf32>
}

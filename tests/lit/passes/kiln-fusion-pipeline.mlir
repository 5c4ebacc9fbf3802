// The default fusion pipeline on one post-LN (BERT-style) encoder layer written
// the way exporters write it; with report=true each pass says what it fused.
// RUN: kiln-opt %s --kiln-fusion-pipeline | FileCheck %s
// RUN: kiln-opt %s --kiln-fusion-pipeline=report=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// REQUIRES: kiln-passes

// The constant transpose of the K weight is folded by canonicalize first.
// CHECK-LABEL: func.func @encoder_layer
// CHECK-COUNT-3: kiln.fused_matmul %arg0, %{{.*}}, %{{.*}} : (tensor<1x?x8xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<1x?x8xf32>
// CHECK-NEXT: %[[A:.*]] = kiln.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {layout = "bsd", num_heads = 2 : i64, scale = 5.000000e-01 : f32}
// CHECK-NEXT: %[[O:.*]] = kiln.matmul %[[A]]
// CHECK-NEXT: %[[LN1:.*]] = kiln.skip_layer_norm %[[O]], %arg0, %{{.*}} beta(%{{.*}}) bias(%{{.*}}) {epsilon = 9.99999996E-13 : f32}
// CHECK-NEXT: %[[F:.*]] = kiln.fused_matmul %[[LN1]], %{{.*}}, %{{.*}} {activation = "gelu"}
// CHECK-NEXT: %[[F2:.*]] = kiln.matmul %[[F]]
// CHECK-NEXT: %[[LN2:.*]] = kiln.skip_layer_norm %[[F2]], %[[LN1]], %{{.*}} beta(%{{.*}}) bias(%{{.*}})
// CHECK-NEXT: return %[[LN2]]
// REPORT: remark: fuse-gelu: fused 1 GELU (1 erf, 0 tanh)
// REPORT: remark: fuse-layer-norm: fused 2 layer_norm (0 RMSNorm)
// REPORT: remark: fuse-skip-layer-norm: fused 2 skip_layer_norm (0 with sum, 2 with bias)
// REPORT: remark: fuse-attention: fused 1 attention (1 bsd-layout, 0 causal, 1 masked)
// REPORT: remark: fuse-matmul-epilogue: fused 4 matmul (1 with activation, 0 trans_b)
func.func @encoder_layer(%x: tensor<1x?x8xf32>, %mask: tensor<1x?xi64>) -> tensor<1x?x8xf32> {
  %wq = kiln.constant dense<0.1> : tensor<8x8xf32>
  %wk = kiln.constant dense<0.2> : tensor<8x8xf32>
  %wv = kiln.constant dense<0.3> : tensor<8x8xf32>
  %wo = kiln.constant dense<0.4> : tensor<8x8xf32>
  %w1 = kiln.constant dense<0.5> : tensor<8x16xf32>
  %w2 = kiln.constant dense<0.6> : tensor<16x8xf32>
  %b8 = kiln.constant dense<0.01> : tensor<8xf32>
  %b16 = kiln.constant dense<0.02> : tensor<16xf32>
  %g = kiln.constant dense<1.5> : tensor<8xf32>
  %split = kiln.constant dense<[0, 0, 2, 4]> : tensor<4xi64>
  %merge = kiln.constant dense<[0, 0, 8]> : tensor<3xi64>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %two = kiln.constant dense<2.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %big = kiln.constant dense<-10000.0> : tensor<f32>
  %sqrt2 = kiln.constant dense<1.41421354> : tensor<f32>
  %eps = kiln.constant dense<1.0e-12> : tensor<f32>
  // (1 - mask) * -10000
  %m0 = kiln.unsqueeze %mask {axes = array<i64: 1, 2>} : (tensor<1x?xi64>) -> tensor<1x1x1x?xi64>
  %m1 = kiln.cast %m0 {to = f32} : (tensor<1x1x1x?xi64>) -> tensor<1x1x1x?xf32>
  %m2 = kiln.sub %one, %m1 : (tensor<f32>, tensor<1x1x1x?xf32>) -> tensor<1x1x1x?xf32>
  %ext = kiln.mul %m2, %big : (tensor<1x1x1x?xf32>, tensor<f32>) -> tensor<1x1x1x?xf32>
  // Q, K (weight stored transposed), V projections and head split
  %q0 = kiln.matmul %x, %wq : (tensor<1x?x8xf32>, tensor<8x8xf32>) -> tensor<1x?x8xf32>
  %q1 = kiln.add %b8, %q0 : (tensor<8xf32>, tensor<1x?x8xf32>) -> tensor<1x?x8xf32>
  %wkt = kiln.transpose %wk {perm = array<i64: 1, 0>} : (tensor<8x8xf32>) -> tensor<8x8xf32>
  %k0 = kiln.matmul %x, %wkt : (tensor<1x?x8xf32>, tensor<8x8xf32>) -> tensor<1x?x8xf32>
  %k1 = kiln.add %b8, %k0 : (tensor<8xf32>, tensor<1x?x8xf32>) -> tensor<1x?x8xf32>
  %v0 = kiln.matmul %x, %wv : (tensor<1x?x8xf32>, tensor<8x8xf32>) -> tensor<1x?x8xf32>
  %v1 = kiln.add %b8, %v0 : (tensor<8xf32>, tensor<1x?x8xf32>) -> tensor<1x?x8xf32>
  %q2 = kiln.reshape %q1, %split : (tensor<1x?x8xf32>, tensor<4xi64>) -> tensor<1x?x2x4xf32>
  %q = kiln.transpose %q2 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x4xf32>) -> tensor<1x2x?x4xf32>
  %k2 = kiln.reshape %k1, %split : (tensor<1x?x8xf32>, tensor<4xi64>) -> tensor<1x?x2x4xf32>
  %kt = kiln.transpose %k2 {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x?x2x4xf32>) -> tensor<1x2x4x?xf32>
  %v2 = kiln.reshape %v1, %split : (tensor<1x?x8xf32>, tensor<4xi64>) -> tensor<1x?x2x4xf32>
  %v = kiln.transpose %v2 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x4xf32>) -> tensor<1x2x?x4xf32>
  // attention
  %s = kiln.matmul %q, %kt : (tensor<1x2x?x4xf32>, tensor<1x2x4x?xf32>) -> tensor<1x2x?x?xf32>
  %sd = kiln.div %s, %two : (tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %sm = kiln.add %sd, %ext : (tensor<1x2x?x?xf32>, tensor<1x1x1x?xf32>) -> tensor<1x2x?x?xf32>
  %p = kiln.softmax %sm {axis = -1} : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %c = kiln.matmul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  %ct = kiln.transpose %c {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x2x?x4xf32>) -> tensor<1x?x2x4xf32>
  %cm = kiln.reshape %ct, %merge : (tensor<1x?x2x4xf32>, tensor<3xi64>) -> tensor<1x?x8xf32>
  // output projection, residual, LayerNorm (decomposed)
  %o0 = kiln.matmul %cm, %wo : (tensor<1x?x8xf32>, tensor<8x8xf32>) -> tensor<1x?x8xf32>
  %o1 = kiln.add %b8, %o0 : (tensor<8xf32>, tensor<1x?x8xf32>) -> tensor<1x?x8xf32>
  %r1 = kiln.add %o1, %x : (tensor<1x?x8xf32>, tensor<1x?x8xf32>) -> tensor<1x?x8xf32>
  %mu1 = kiln.reduce_mean %r1 {axes = array<i64: -1>} : (tensor<1x?x8xf32>) -> tensor<1x?x1xf32>
  %d1 = kiln.sub %r1, %mu1 : (tensor<1x?x8xf32>, tensor<1x?x1xf32>) -> tensor<1x?x8xf32>
  %sq1 = kiln.pow %d1, %two : (tensor<1x?x8xf32>, tensor<f32>) -> tensor<1x?x8xf32>
  %var1 = kiln.reduce_mean %sq1 {axes = array<i64: -1>} : (tensor<1x?x8xf32>) -> tensor<1x?x1xf32>
  %ve1 = kiln.add %var1, %eps : (tensor<1x?x1xf32>, tensor<f32>) -> tensor<1x?x1xf32>
  %sd1 = kiln.sqrt %ve1 : (tensor<1x?x1xf32>) -> tensor<1x?x1xf32>
  %n1 = kiln.div %d1, %sd1 : (tensor<1x?x8xf32>, tensor<1x?x1xf32>) -> tensor<1x?x8xf32>
  %y1 = kiln.mul %n1, %g : (tensor<1x?x8xf32>, tensor<8xf32>) -> tensor<1x?x8xf32>
  %h1 = kiln.add %y1, %b8 : (tensor<1x?x8xf32>, tensor<8xf32>) -> tensor<1x?x8xf32>
  // FFN with exact GELU
  %f0 = kiln.matmul %h1, %w1 : (tensor<1x?x8xf32>, tensor<8x16xf32>) -> tensor<1x?x16xf32>
  %f1 = kiln.add %b16, %f0 : (tensor<16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  %e0 = kiln.div %f1, %sqrt2 : (tensor<1x?x16xf32>, tensor<f32>) -> tensor<1x?x16xf32>
  %e1 = kiln.erf %e0 : (tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  %e2 = kiln.add %e1, %one : (tensor<1x?x16xf32>, tensor<f32>) -> tensor<1x?x16xf32>
  %e3 = kiln.mul %f1, %e2 : (tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  %gl = kiln.mul %e3, %half : (tensor<1x?x16xf32>, tensor<f32>) -> tensor<1x?x16xf32>
  %f2 = kiln.matmul %gl, %w2 : (tensor<1x?x16xf32>, tensor<16x8xf32>) -> tensor<1x?x8xf32>
  %f3 = kiln.add %b8, %f2 : (tensor<8xf32>, tensor<1x?x8xf32>) -> tensor<1x?x8xf32>
  %r2 = kiln.add %f3, %h1 : (tensor<1x?x8xf32>, tensor<1x?x8xf32>) -> tensor<1x?x8xf32>
  %mu2 = kiln.reduce_mean %r2 {axes = array<i64: -1>} : (tensor<1x?x8xf32>) -> tensor<1x?x1xf32>
  %d2 = kiln.sub %r2, %mu2 : (tensor<1x?x8xf32>, tensor<1x?x1xf32>) -> tensor<1x?x8xf32>
  %sq2 = kiln.pow %d2, %two : (tensor<1x?x8xf32>, tensor<f32>) -> tensor<1x?x8xf32>
  %var2 = kiln.reduce_mean %sq2 {axes = array<i64: -1>} : (tensor<1x?x8xf32>) -> tensor<1x?x1xf32>
  %ve2 = kiln.add %var2, %eps : (tensor<1x?x1xf32>, tensor<f32>) -> tensor<1x?x1xf32>
  %sd2 = kiln.sqrt %ve2 : (tensor<1x?x1xf32>) -> tensor<1x?x1xf32>
  %n2 = kiln.div %d2, %sd2 : (tensor<1x?x8xf32>, tensor<1x?x1xf32>) -> tensor<1x?x8xf32>
  %y2 = kiln.mul %n2, %g : (tensor<1x?x8xf32>, tensor<8xf32>) -> tensor<1x?x8xf32>
  %h2 = kiln.add %y2, %b8 : (tensor<1x?x8xf32>, tensor<8xf32>) -> tensor<1x?x8xf32>
  return %h2 : tensor<1x?x8xf32>
}

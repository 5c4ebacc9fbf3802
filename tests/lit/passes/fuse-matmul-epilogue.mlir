// fuse-matmul-epilogue: matmul/gemm with a constant weight + bias + activation
// becomes kiln.fused_matmul; near misses stay.
// RUN: kiln-opt %s --fuse-matmul-epilogue --split-input-file | FileCheck %s
// RUN: kiln-opt %s --fuse-matmul-epilogue=fuse-activation=false --split-input-file | FileCheck %s --check-prefix=NOACT
// RUN: kiln-opt %s --fuse-matmul-epilogue=report=true --split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// REQUIRES: kiln-passes

// REPORT: remark: fuse-matmul-epilogue: fused 1 matmul (0 with activation, 0 trans_b)
// CHECK-LABEL: func.func @bias
// CHECK-DAG: %[[W:.*]] = kiln.constant dense<5.000000e-01> : tensor<8x16xf32>
// CHECK-DAG: %[[B:.*]] = kiln.constant dense<1.000000e-01> : tensor<16xf32>
// CHECK: %[[F:.*]] = kiln.fused_matmul %arg0, %[[W]], %[[B]] :
// CHECK-NEXT: return %[[F]]
func.func @bias(%x: tensor<1x?x8xf32>) -> tensor<1x?x16xf32> {
  %w = kiln.constant dense<0.5> : tensor<8x16xf32>
  %b = kiln.constant dense<0.1> : tensor<16xf32>
  %0 = kiln.matmul %x, %w : (tensor<1x?x8xf32>, tensor<8x16xf32>) -> tensor<1x?x16xf32>
  %1 = kiln.add %b, %0 : (tensor<16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  return %1 : tensor<1x?x16xf32>
}

// -----

// Bias + GELU (the BERT FFN), bias + tanh GELU, bias + relu, tanh alone.
// CHECK-LABEL: func.func @activations
// CHECK: kiln.fused_matmul %arg0, %{{.*}}, %{{.*}} {activation = "gelu"}
// CHECK: kiln.fused_matmul %arg0, %{{.*}}, %{{.*}} {activation = "gelu_tanh"}
// CHECK: kiln.fused_matmul %arg0, %{{.*}}, %{{.*}} {activation = "relu"}
// CHECK: kiln.fused_matmul %arg0, %{{.*}} {activation = "tanh"}
// CHECK-NOT: kiln.gelu
// NOACT-LABEL: func.func @activations
// NOACT-COUNT-3: kiln.fused_matmul %arg0, %{{.*}}, %{{.*}} :
// NOACT: kiln.relu
// NOACT: kiln.matmul
// NOACT: kiln.tanh
func.func @activations(%x: tensor<4x8xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>) {
  %w = kiln.constant dense<0.5> : tensor<8x16xf32>
  %b = kiln.constant dense<0.1> : tensor<16xf32>
  %0 = kiln.matmul %x, %w : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %1 = kiln.add %0, %b : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %2 = kiln.gelu %1 : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %3 = kiln.matmul %x, %w : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %4 = kiln.add %3, %b : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %5 = kiln.gelu %4 {approximate = "tanh"} : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %6 = kiln.matmul %x, %w : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %7 = kiln.add %6, %b : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %8 = kiln.relu %7 : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %9 = kiln.matmul %x, %w : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %10 = kiln.tanh %9 : (tensor<4x16xf32>) -> tensor<4x16xf32>
  return %2, %5, %8, %10 : tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// A transposed constant weight (torch Linear exported as MatMul(x, Wᵀ)).
// CHECK-LABEL: func.func @transposed_weight
// CHECK: %[[W:.*]] = kiln.constant dense<{{.*}}> : tensor<3x2xf32>
// CHECK: kiln.fused_matmul %arg0, %[[W]], %{{.*}} {trans_b = true} : (tensor<5x2xf32>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<5x3xf32>
func.func @transposed_weight(%x: tensor<5x2xf32>) -> tensor<5x3xf32> {
  %w = kiln.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %b = kiln.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %wt = kiln.transpose %w {perm = array<i64: 1, 0>} : (tensor<3x2xf32>) -> tensor<2x3xf32>
  %0 = kiln.matmul %x, %wt : (tensor<5x2xf32>, tensor<2x3xf32>) -> tensor<5x3xf32>
  %1 = kiln.add %0, %b : (tensor<5x3xf32>, tensor<3xf32>) -> tensor<5x3xf32>
  return %1 : tensor<5x3xf32>
}

// -----

// Gemm (nn.MultiheadAttention's out_proj): transB, C as the bias, β scaling it.
// CHECK-LABEL: func.func @gemm
// CHECK: kiln.fused_matmul %arg0, %{{.*}}, %{{.*}} {alpha = 2.000000e+00 : f32, trans_b = true}
// CHECK: %[[SCALED:.*]] = kiln.mul %{{.*}}, %{{.*}} : (tensor<16xf32>, tensor<f32>) -> tensor<16xf32>
// CHECK: kiln.fused_matmul %arg0, %{{.*}}, %[[SCALED]] {trans_b = true}
func.func @gemm(%x: tensor<4x8xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %w = kiln.constant dense<0.5> : tensor<16x8xf32>
  %c = kiln.constant dense<0.1> : tensor<16xf32>
  %0 = kiln.gemm %x, %w, %c {trans_b = true, alpha = 2.0 : f32} : (tensor<4x8xf32>, tensor<16x8xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %1 = kiln.gemm %x, %w, %c {trans_b = true, beta = 0.5 : f32} : (tensor<4x8xf32>, tensor<16x8xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  return %0, %1 : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// Near misses: a non-constant weight; a full-tensor "bias"; a matmul result
// also used elsewhere; a plain constant-weight
// matmul with nothing to fuse.
// CHECK-LABEL: func.func @near_misses
// CHECK: kiln.matmul %arg0, %arg1
// CHECK: kiln.add
// CHECK: kiln.matmul %arg0, %{{.*}} : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
// CHECK-NEXT: kiln.add %{{.*}}, %arg2
// CHECK: kiln.matmul %arg0, %{{.*}} : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
// CHECK-NEXT: kiln.add
// CHECK: kiln.matmul %arg0, %{{.*}} : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
// CHECK-NOT: kiln.fused_matmul
func.func @near_misses(%x: tensor<4x8xf32>, %wv: tensor<8x16xf32>, %full: tensor<4x16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>) {
  %w = kiln.constant dense<0.5> : tensor<8x16xf32>
  %b = kiln.constant dense<0.1> : tensor<16xf32>
  %0 = kiln.matmul %x, %wv : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %1 = kiln.add %0, %b : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %2 = kiln.matmul %x, %w : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %3 = kiln.add %2, %full : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %4 = kiln.matmul %x, %w : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %5 = kiln.add %4, %b : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %6 = kiln.matmul %x, %w : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  return %1, %3, %5, %4, %6 : tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>
}

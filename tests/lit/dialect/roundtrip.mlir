// Every kiln op parses, verifies, prints and parses back to the same IR.
// RUN: kiln-opt %s | kiln-opt | FileCheck %s

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%a: tensor<2x3xf32>, %b: tensor<3xf32>, %c: tensor<2x3xi1>) -> tensor<2x3xf32> {
  // CHECK: kiln.add %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %0 = kiln.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: kiln.gelu %{{.*}} {approximate = "tanh"}
  %1 = kiln.gelu %0 {approximate = "tanh"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  // CHECK: kiln.less {{.*}} -> tensor<2x3xi1>
  %2 = kiln.less %1, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %3 = kiln.and %2, %c : (tensor<2x3xi1>, tensor<2x3xi1>) -> tensor<2x3xi1>
  // CHECK: kiln.where
  %4 = kiln.where %3, %1, %a : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %5 = kiln.cast %4 {to = i64} : (tensor<2x3xf32>) -> tensor<2x3xi64>
  %6 = kiln.cast %5 {to = f32} : (tensor<2x3xi64>) -> tensor<2x3xf32>
  return %6 : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @shapes
func.func @shapes(%x: tensor<1x?x64xf32>) -> tensor<1x?x4x16xf32> {
  // CHECK: kiln.constant dense<[1, -1, 4, 16]> : tensor<4xi64>
  %s = kiln.constant dense<[1, -1, 4, 16]> : tensor<4xi64>
  // CHECK: kiln.reshape {{.*}} -> tensor<1x?x4x16xf32>
  %r = kiln.reshape %x, %s : (tensor<1x?x64xf32>, tensor<4xi64>) -> tensor<1x?x4x16xf32>
  %t = kiln.transpose %r {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x4x16xf32>) -> tensor<1x4x?x16xf32>
  %u = kiln.transpose %t {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x4x?x16xf32>) -> tensor<1x?x4x16xf32>
  return %u : tensor<1x?x4x16xf32>
}

// CHECK-LABEL: func.func @fused
func.func @fused(%q: tensor<1x8x64xf32>, %g: tensor<64xf32>, %m: tensor<1x1x1x8xi1>) -> (tensor<1x8x64xf32>, tensor<1x8x64xf32>) {
  // CHECK: kiln.attention {{.*}} {causal = true, layout = "bsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32}
  %a = kiln.attention %q, %q, %q, %m {scale = 0.25 : f32, num_heads = 4, causal = true, layout = "bsd"} : (tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<1x1x1x8xi1>) -> tensor<1x8x64xf32>
  // CHECK: kiln.skip_layer_norm %{{.*}}, %{{.*}}, %{{.*}} beta(%{{.*}}) : (
  %y, %sum = kiln.skip_layer_norm %a, %q, %g beta(%g) {epsilon = 1.0e-5 : f32} : (tensor<1x8x64xf32>, tensor<1x8x64xf32>, tensor<64xf32>, tensor<64xf32>) -> (tensor<1x8x64xf32>, tensor<1x8x64xf32>)
  %l = kiln.layer_norm %y, %g {rms = true} : (tensor<1x8x64xf32>, tensor<64xf32>) -> tensor<1x8x64xf32>
  %w = kiln.constant dense<0.5> : tensor<64x64xf32>
  // CHECK: kiln.fused_matmul {{.*}} {activation = "gelu", trans_b = true}
  %f = kiln.fused_matmul %l, %w, %g {activation = "gelu", trans_b = true} : (tensor<1x8x64xf32>, tensor<64x64xf32>, tensor<64xf32>) -> tensor<1x8x64xf32>
  return %f, %sum : tensor<1x8x64xf32>, tensor<1x8x64xf32>
}

// CHECK-LABEL: func.func @reductions
func.func @reductions(%x: tensor<2x5x7xf32>) -> (tensor<2x1x7xf32>, tensor<2x7xi64>, tensor<2x5x3xf32>, tensor<2x5x3xi64>) {
  %0 = kiln.reduce_mean %x {axes = array<i64: 1>} : (tensor<2x5x7xf32>) -> tensor<2x1x7xf32>
  %1 = kiln.argmax %x {axis = 1, keepdims = false} : (tensor<2x5x7xf32>) -> tensor<2x7xi64>
  // CHECK: kiln.topk {{.*}} -> (tensor<2x5x3xf32>, tensor<2x5x3xi64>)
  %v, %i = kiln.topk %x {k = 3} : (tensor<2x5x7xf32>) -> (tensor<2x5x3xf32>, tensor<2x5x3xi64>)
  return %0, %1, %v, %i : tensor<2x1x7xf32>, tensor<2x7xi64>, tensor<2x5x3xf32>, tensor<2x5x3xi64>
}

// Steps of extreme size take one element (no overflow in the shape rule).
// CHECK-LABEL: func.func @slice_extreme_steps
func.func @slice_extreme_steps(%x: tensor<4x5xf32>) -> tensor<1x1xf32> {
  %st = kiln.constant dense<[3, 1]> : tensor<2xi64>
  %en = kiln.constant dense<[-9223372036854775808, 9223372036854775807]> : tensor<2xi64>
  %ax = kiln.constant dense<[0, 1]> : tensor<2xi64>
  %sp = kiln.constant dense<[-9223372036854775808, 9223372036854775807]> : tensor<2xi64>
  // CHECK: kiln.slice {{.*}} -> tensor<1x1xf32>
  %y = kiln.slice %x, %st, %en, %ax, %sp : (tensor<4x5xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

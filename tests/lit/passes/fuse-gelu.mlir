// fuse-gelu: erf and tanh GELU forms become kiln.gelu; near misses stay.
// RUN: kiln-opt %s --fuse-gelu --split-input-file | FileCheck %s
// RUN: kiln-opt %s --fuse-gelu=report=true --split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// REQUIRES: kiln-passes

// torch's exact GELU export: Div(x, √2) -> Erf -> Add 1 -> Mul x -> Mul 0.5.
// CHECK-LABEL: func.func @erf_div
// CHECK-NEXT: %[[G:.*]] = kiln.gelu %arg0 : (
// CHECK-NEXT: return %[[G]]
func.func @erf_div(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = kiln.constant dense<1.41421354> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %0 = kiln.div %x, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %1 = kiln.erf %0 : (tensor<2x8xf32>) -> tensor<2x8xf32>
  %2 = kiln.add %1, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %3 = kiln.mul %x, %2 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %4 = kiln.mul %3, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  return %4 : tensor<2x8xf32>
}

// -----

// Mul by 0.7071 instead of div by √2; 0.5 multiplied into x first, constant
// on the left.
// CHECK-LABEL: func.func @erf_mul_half_first
// CHECK-NEXT: %[[G:.*]] = kiln.gelu %arg0 : (
// CHECK-NEXT: return %[[G]]
func.func @erf_mul_half_first(%x: tensor<4xf32>) -> tensor<4xf32> {
  %rsqrt2 = kiln.constant dense<0.707106769> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %0 = kiln.mul %rsqrt2, %x : (tensor<f32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = kiln.erf %0 : (tensor<4xf32>) -> tensor<4xf32>
  %2 = kiln.add %one, %1 : (tensor<f32>, tensor<4xf32>) -> tensor<4xf32>
  %3 = kiln.mul %half, %x : (tensor<f32>, tensor<4xf32>) -> tensor<4xf32>
  %4 = kiln.mul %3, %2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %4 : tensor<4xf32>
}

// -----

// 0.5·(1+erf) first, then · x; x is itself computed (a bias add).
// CHECK-LABEL: func.func @erf_half_times_term
// CHECK: %[[X:.*]] = kiln.add %arg0, %arg1
// CHECK-NEXT: %[[G:.*]] = kiln.gelu %[[X]] : (
// CHECK-NEXT: return %[[G]]
func.func @erf_half_times_term(%a: tensor<3x4xf32>, %b: tensor<4xf32>) -> tensor<3x4xf32> {
  %sqrt2 = kiln.constant dense<1.41421354> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %x = kiln.add %a, %b : (tensor<3x4xf32>, tensor<4xf32>) -> tensor<3x4xf32>
  %0 = kiln.div %x, %sqrt2 : (tensor<3x4xf32>, tensor<f32>) -> tensor<3x4xf32>
  %1 = kiln.erf %0 : (tensor<3x4xf32>) -> tensor<3x4xf32>
  %2 = kiln.add %1, %one : (tensor<3x4xf32>, tensor<f32>) -> tensor<3x4xf32>
  %3 = kiln.mul %2, %half : (tensor<3x4xf32>, tensor<f32>) -> tensor<3x4xf32>
  %4 = kiln.mul %3, %x : (tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
  return %4 : tensor<3x4xf32>
}

// -----

// torch's tanh GELU export: x³ as x·(x·x), constants on the left.
// CHECK-LABEL: func.func @tanh_mul_cube
// CHECK-NEXT: %[[G:.*]] = kiln.gelu %arg0 {approximate = "tanh"}
// CHECK-NEXT: return %[[G]]
func.func @tanh_mul_cube(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %c0 = kiln.constant dense<0.044715> : tensor<f32>
  %c1 = kiln.constant dense<0.797884583> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %0 = kiln.mul %x, %x : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %1 = kiln.mul %x, %0 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %2 = kiln.mul %c0, %1 : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %3 = kiln.add %x, %2 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %4 = kiln.mul %c1, %3 : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %5 = kiln.tanh %4 : (tensor<2x8xf32>) -> tensor<2x8xf32>
  %6 = kiln.add %one, %5 : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %7 = kiln.mul %x, %6 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %8 = kiln.mul %half, %7 : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  return %8 : tensor<2x8xf32>
}

// -----

// HF NewGELU: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·pow(x, 3)))).
// CHECK-LABEL: func.func @tanh_pow
// CHECK-NEXT: %[[G:.*]] = kiln.gelu %arg0 {approximate = "tanh"}
// CHECK-NEXT: return %[[G]]
func.func @tanh_pow(%x: tensor<8xf32>) -> tensor<8xf32> {
  %three = kiln.constant dense<3.0> : tensor<f32>
  %c0 = kiln.constant dense<0.044715> : tensor<f32>
  %c1 = kiln.constant dense<0.797884583> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %0 = kiln.pow %x, %three : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %1 = kiln.mul %0, %c0 : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %2 = kiln.add %x, %1 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %3 = kiln.mul %2, %c1 : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %4 = kiln.tanh %3 : (tensor<8xf32>) -> tensor<8xf32>
  %5 = kiln.add %4, %one : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %6 = kiln.mul %half, %x : (tensor<f32>, tensor<8xf32>) -> tensor<8xf32>
  %7 = kiln.mul %6, %5 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %7 : tensor<8xf32>
}

// -----

// gelu_fast: 0.5·x·(1 + tanh(x·0.7978845608·(1 + 0.044715·x·x))), the
// constants distributed differently.
// CHECK-LABEL: func.func @tanh_distributed
// CHECK-NEXT: %[[G:.*]] = kiln.gelu %arg0 {approximate = "tanh"}
// CHECK-NEXT: return %[[G]]
func.func @tanh_distributed(%x: tensor<8xf32>) -> tensor<8xf32> {
  %c0 = kiln.constant dense<0.044715> : tensor<f32>
  %c1 = kiln.constant dense<0.797884583> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %0 = kiln.mul %x, %c0 : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %1 = kiln.mul %0, %x : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %2 = kiln.add %1, %one : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %3 = kiln.mul %x, %c1 : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %4 = kiln.mul %3, %2 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %5 = kiln.tanh %4 : (tensor<8xf32>) -> tensor<8xf32>
  %6 = kiln.add %5, %one : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %7 = kiln.mul %x, %half : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %8 = kiln.mul %7, %6 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %8 : tensor<8xf32>
}

// -----

// Near miss: erf(x/1.5) is not GELU.
// REPORT: remark: fuse-gelu: not fused: argument is 6.666667e-01·x, not 7.071068e-01·x
// CHECK-LABEL: func.func @wrong_erf_constant
// CHECK-NOT: kiln.gelu
// CHECK: kiln.erf
func.func @wrong_erf_constant(%x: tensor<4xf32>) -> tensor<4xf32> {
  %c = kiln.constant dense<1.5> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %0 = kiln.div %x, %c : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %1 = kiln.erf %0 : (tensor<4xf32>) -> tensor<4xf32>
  %2 = kiln.add %1, %one : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %3 = kiln.mul %x, %2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %4 = kiln.mul %3, %half : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  return %4 : tensor<4xf32>
}

// -----

// Near miss: 0.6 instead of 0.5 outside.
// REPORT: remark: fuse-gelu: not fused: the term feeds func.return before 0.5·x·(1+t) is complete (read 6.000000e-01·x + 6.000000e-01·x·t)
// CHECK-LABEL: func.func @wrong_half
// CHECK-NOT: kiln.gelu
// CHECK: kiln.erf
func.func @wrong_half(%x: tensor<4xf32>) -> tensor<4xf32> {
  %sqrt2 = kiln.constant dense<1.41421354> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.6> : tensor<f32>
  %0 = kiln.div %x, %sqrt2 : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %1 = kiln.erf %0 : (tensor<4xf32>) -> tensor<4xf32>
  %2 = kiln.add %1, %one : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %3 = kiln.mul %x, %2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %4 = kiln.mul %3, %half : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  return %4 : tensor<4xf32>
}

// -----

// Near miss: the tanh GELU with 0.05 instead of 0.044715.
// CHECK-LABEL: func.func @wrong_tanh_cubic
// CHECK-NOT: kiln.gelu
// CHECK: kiln.tanh
func.func @wrong_tanh_cubic(%x: tensor<8xf32>) -> tensor<8xf32> {
  %three = kiln.constant dense<3.0> : tensor<f32>
  %c0 = kiln.constant dense<0.05> : tensor<f32>
  %c1 = kiln.constant dense<0.797884583> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %0 = kiln.pow %x, %three : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %1 = kiln.mul %0, %c0 : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %2 = kiln.add %x, %1 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  %3 = kiln.mul %2, %c1 : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %4 = kiln.tanh %3 : (tensor<8xf32>) -> tensor<8xf32>
  %5 = kiln.add %4, %one : (tensor<8xf32>, tensor<f32>) -> tensor<8xf32>
  %6 = kiln.mul %half, %x : (tensor<f32>, tensor<8xf32>) -> tensor<8xf32>
  %7 = kiln.mul %6, %5 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %7 : tensor<8xf32>
}

// -----

// Near miss: the (1 + erf) term is also returned, so the chain cannot go.
// CHECK-LABEL: func.func @term_reused
// CHECK-NOT: kiln.gelu
// CHECK: kiln.erf
func.func @term_reused(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %sqrt2 = kiln.constant dense<1.41421354> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %0 = kiln.div %x, %sqrt2 : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %1 = kiln.erf %0 : (tensor<4xf32>) -> tensor<4xf32>
  %2 = kiln.add %1, %one : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %3 = kiln.mul %x, %2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %4 = kiln.mul %3, %half : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  return %4, %2 : tensor<4xf32>, tensor<4xf32>
}

// -----

// Near miss: the input is scaled by a non-constant before erf.
// REPORT: remark: fuse-gelu: not fused: argument is not a polynomial with constant coefficients in one input
// CHECK-LABEL: func.func @nonconstant_scale
// CHECK-NOT: kiln.gelu
// CHECK: kiln.erf
func.func @nonconstant_scale(%x: tensor<4xf32>, %s: tensor<f32>) -> tensor<4xf32> {
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %0 = kiln.div %x, %s : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %1 = kiln.erf %0 : (tensor<4xf32>) -> tensor<4xf32>
  %2 = kiln.add %1, %one : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %3 = kiln.mul %x, %2 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %4 = kiln.mul %3, %half : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  return %4 : tensor<4xf32>
}

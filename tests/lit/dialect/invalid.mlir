// Verifier errors carry clear messages.
// RUN: kiln-opt %s -split-input-file -verify-diagnostics

func.func @bad_broadcast(%a: tensor<2x3xf32>, %b: tensor<4xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{operands cannot be broadcast together: dim 1 is 3 vs 4}}
  %0 = kiln.add %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @wrong_result(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{result #0 has type 'tensor<3x2xf32>' but its operands give 'tensor<2x3xf32>'}}
  %0 = kiln.relu %a : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @matmul_k(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{matmul contraction dims differ: 3 vs 4}}
  %0 = kiln.matmul %a, %b : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @bad_perm(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{perm must be a permutation of [0, rank)}}
  %0 = kiln.transpose %a {perm = array<i64: 0, 0>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @bad_reshape(%a: tensor<2x3xf32>) -> tensor<4xf32> {
  %s = kiln.constant dense<[4]> : tensor<1xi64>
  // expected-error @+1 {{cannot reshape 6 elements}}
  %0 = kiln.reshape %a, %s : (tensor<2x3xf32>, tensor<1xi64>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @bad_heads(%q: tensor<1x8x60xf32>) -> tensor<1x8x60xf32> {
  // expected-error @+1 {{q width 60 is not divisible by num_heads 7}}
  %0 = kiln.attention %q, %q, %q {scale = 1.0 : f32, num_heads = 7, layout = "bsd"} : (tensor<1x8x60xf32>, tensor<1x8x60xf32>, tensor<1x8x60xf32>) -> tensor<1x8x60xf32>
  return %0 : tensor<1x8x60xf32>
}

// -----

func.func @bad_axis(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %0 = kiln.concat %a, %a {axis = 2} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @bad_gelu(%a: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{approximate must be 'none' or 'tanh', got 'fast'}}
  %0 = kiln.gelu %a {approximate = "fast"} : (tensor<2xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @split_sizes(%a: tensor<6xf32>) -> (tensor<2xf32>, tensor<2xf32>) {
  // expected-error @+1 {{split sizes sum to 4 but dim 0 is 6}}
  %0:2 = kiln.split %a {axis = 0, sizes = array<i64: 2, 2>} : (tensor<6xf32>) -> (tensor<2xf32>, tensor<2xf32>)
  return %0#0, %0#1 : tensor<2xf32>, tensor<2xf32>
}

// -----

func.func @slice_min_step(%x: tensor<4xf32>) -> tensor<0xf32> {
  %st = kiln.constant dense<3> : tensor<1xi64>
  %en = kiln.constant dense<-9223372036854775808> : tensor<1xi64>
  %ax = kiln.constant dense<0> : tensor<1xi64>
  // expected-error @+1 {{result #0 has type 'tensor<0xf32>' but its operands give 'tensor<1xf32>'}}
  %y = kiln.slice %x, %st, %en, %ax, %en : (tensor<4xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<0xf32>
  return %y : tensor<0xf32>
}

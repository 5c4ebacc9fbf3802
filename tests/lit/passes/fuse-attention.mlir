// fuse-attention: Q·Kᵀ -> scale -> mask -> softmax -> ·V becomes kiln.attention
// in the forms exporters write; near misses stay unfused.
// RUN: kiln-opt %s --fuse-attention --split-input-file | FileCheck %s
// RUN: kiln-opt %s --fuse-attention=fold-head-layout=false --split-input-file | FileCheck %s --check-prefix=BHSD
// RUN: kiln-opt %s --fuse-attention=detect-causal=false --split-input-file | FileCheck %s --check-prefix=NOCAUSAL
// RUN: kiln-opt %s --fuse-attention=report=true --split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// REQUIRES: kiln-passes

// Heads already split: Kᵀ as a transpose of the last two dims, scale as a div
// on the scores, an additive [B,1,1,S] mask.
// REPORT: remark: fuse-attention: fused 1 attention (0 bsd-layout, 0 causal, 1 masked)
// CHECK-LABEL: func.func @bhsd_additive
// CHECK-NEXT: %[[A:.*]] = kiln.attention %arg0, %arg1, %arg2, %arg3 {num_heads = 4 : i64, scale = 1.250000e-01 : f32} : (tensor<2x4x?x8xf32>, tensor<2x4x?x8xf32>, tensor<2x4x?x8xf32>, tensor<2x1x1x?xf32>) -> tensor<2x4x?x8xf32>
// CHECK-NEXT: return %[[A]]
func.func @bhsd_additive(%q: tensor<2x4x?x8xf32>, %k: tensor<2x4x?x8xf32>, %v: tensor<2x4x?x8xf32>, %m: tensor<2x1x1x?xf32>) -> tensor<2x4x?x8xf32> {
  %c8 = kiln.constant dense<8.0> : tensor<f32>
  %kt = kiln.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<2x4x?x8xf32>) -> tensor<2x4x8x?xf32>
  %s = kiln.matmul %q, %kt : (tensor<2x4x?x8xf32>, tensor<2x4x8x?xf32>) -> tensor<2x4x?x?xf32>
  %d = kiln.div %s, %c8 : (tensor<2x4x?x?xf32>, tensor<f32>) -> tensor<2x4x?x?xf32>
  %a = kiln.add %d, %m : (tensor<2x4x?x?xf32>, tensor<2x1x1x?xf32>) -> tensor<2x4x?x?xf32>
  %p = kiln.softmax %a : (tensor<2x4x?x?xf32>) -> tensor<2x4x?x?xf32>
  %o = kiln.matmul %p, %v : (tensor<2x4x?x?xf32>, tensor<2x4x?x8xf32>) -> tensor<2x4x?x8xf32>
  return %o : tensor<2x4x?x8xf32>
}

// -----

// Kᵀ given directly ([B,H,D,Sk]), no scale, no mask (T5-style unscaled).
// CHECK-LABEL: func.func @k_transposed_no_scale
// CHECK-NEXT: %[[A:.*]] = kiln.attention %arg0, %arg1, %arg2 {k_transposed = true, num_heads = 2 : i64, scale = 1.000000e+00 : f32}
// CHECK-NEXT: return %[[A]]
func.func @k_transposed_no_scale(%q: tensor<1x2x5x4xf32>, %kt: tensor<1x2x4x7xf32>, %v: tensor<1x2x7x4xf32>) -> tensor<1x2x5x4xf32> {
  %s = kiln.matmul %q, %kt : (tensor<1x2x5x4xf32>, tensor<1x2x4x7xf32>) -> tensor<1x2x5x7xf32>
  %p = kiln.softmax %s {axis = 3} : (tensor<1x2x5x7xf32>) -> tensor<1x2x5x7xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x5x7xf32>, tensor<1x2x7x4xf32>) -> tensor<1x2x5x4xf32>
  return %o : tensor<1x2x5x4xf32>
}

// -----

// BERT self-attention as torch exports it: projections [B,S,32] split into 4
// heads by reshape + transpose (Kᵀ folded into perm [0,2,3,1]), the padding
// mask (1 - m)·-10000 kept as an additive mask, heads merged back.
// CHECK-LABEL: func.func @bert_head_layout
// CHECK: %[[MASK:.*]] = kiln.mul
// CHECK-NEXT: %[[A:.*]] = kiln.attention %arg0, %arg1, %arg2, %[[MASK]] {layout = "bsd", num_heads = 4 : i64, scale = 0.353553385 : f32} : (tensor<1x6x32xf32>, tensor<1x6x32xf32>, tensor<1x6x32xf32>, tensor<1x1x1x6xf32>) -> tensor<1x6x32xf32>
// CHECK-NEXT: return %[[A]]
// BHSD-LABEL: func.func @bert_head_layout
// BHSD: kiln.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {num_heads = 4 : i64, scale = 0.353553385 : f32} : (tensor<1x4x6x8xf32>, tensor<1x4x6x8xf32>, tensor<1x4x6x8xf32>, tensor<1x1x1x6xf32>) -> tensor<1x4x6x8xf32>
func.func @bert_head_layout(%xq: tensor<1x6x32xf32>, %xk: tensor<1x6x32xf32>, %xv: tensor<1x6x32xf32>, %mask: tensor<1x6xi64>) -> tensor<1x6x32xf32> {
  %split = kiln.constant dense<[0, 0, 4, 8]> : tensor<4xi64>
  %merge = kiln.constant dense<[0, 0, -1]> : tensor<3xi64>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %big = kiln.constant dense<-10000.0> : tensor<f32>
  %sqrtd = kiln.constant dense<2.82842708> : tensor<f32>
  %m0 = kiln.unsqueeze %mask {axes = array<i64: 1, 2>} : (tensor<1x6xi64>) -> tensor<1x1x1x6xi64>
  %m1 = kiln.cast %m0 {to = f32} : (tensor<1x1x1x6xi64>) -> tensor<1x1x1x6xf32>
  %m2 = kiln.sub %one, %m1 : (tensor<f32>, tensor<1x1x1x6xf32>) -> tensor<1x1x1x6xf32>
  %ext = kiln.mul %m2, %big : (tensor<1x1x1x6xf32>, tensor<f32>) -> tensor<1x1x1x6xf32>
  %q0 = kiln.reshape %xq, %split : (tensor<1x6x32xf32>, tensor<4xi64>) -> tensor<1x6x4x8xf32>
  %q = kiln.transpose %q0 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x6x4x8xf32>) -> tensor<1x4x6x8xf32>
  %k0 = kiln.reshape %xk, %split : (tensor<1x6x32xf32>, tensor<4xi64>) -> tensor<1x6x4x8xf32>
  %kt = kiln.transpose %k0 {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x6x4x8xf32>) -> tensor<1x4x8x6xf32>
  %v0 = kiln.reshape %xv, %split : (tensor<1x6x32xf32>, tensor<4xi64>) -> tensor<1x6x4x8xf32>
  %v = kiln.transpose %v0 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x6x4x8xf32>) -> tensor<1x4x6x8xf32>
  %s = kiln.matmul %q, %kt : (tensor<1x4x6x8xf32>, tensor<1x4x8x6xf32>) -> tensor<1x4x6x6xf32>
  %d = kiln.div %s, %sqrtd : (tensor<1x4x6x6xf32>, tensor<f32>) -> tensor<1x4x6x6xf32>
  %a = kiln.add %d, %ext : (tensor<1x4x6x6xf32>, tensor<1x1x1x6xf32>) -> tensor<1x4x6x6xf32>
  %p = kiln.softmax %a : (tensor<1x4x6x6xf32>) -> tensor<1x4x6x6xf32>
  %o = kiln.matmul %p, %v : (tensor<1x4x6x6xf32>, tensor<1x4x6x8xf32>) -> tensor<1x4x6x8xf32>
  %ot = kiln.transpose %o {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x4x6x8xf32>) -> tensor<1x6x4x8xf32>
  %out = kiln.reshape %ot, %merge : (tensor<1x6x4x8xf32>, tensor<3xi64>) -> tensor<1x6x32xf32>
  return %out : tensor<1x6x32xf32>
}

// -----

// GPT-2 as torch exports it with a dynamic sequence: one fused QKV projection
// split in three, head-split shapes computed from Shape/Gather, the tril
// buffer sliced to [:T, :T] and applied with where(.., finfo.min): the
// causal flag, no mask tensor.
// CHECK-LABEL: func.func @gpt2_dynamic_causal
// CHECK: %[[QKV:.*]]:3 = kiln.split
// CHECK-NEXT: %[[A:.*]] = kiln.attention %[[QKV]]#0, %[[QKV]]#1, %[[QKV]]#2 {causal = true, layout = "bsd", num_heads = 2 : i64, scale = 0.353553385 : f32} : (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
// CHECK-NEXT: return %[[A]]
// NOCAUSAL-LABEL: func.func @gpt2_dynamic_causal
// NOCAUSAL: kiln.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {layout = "bsd", num_heads = 2 : i64, scale = 0.353553385 : f32} : (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x1x?x?xi1>)
func.func @gpt2_dynamic_causal(%h: tensor<1x?x16xf32>, %w: tensor<16x48xf32>) -> tensor<1x?x16xf32> {
  %bias = kiln.constant dense<[[[[true, false, false, false], [true, true, false, false], [true, true, true, false], [true, true, true, true]]]]> : tensor<1x1x4x4xi1>
  %fill = kiln.constant dense<-3.40282347E+38> : tensor<f32>
  %sqrtd = kiln.constant dense<2.82842708> : tensor<f32>
  %i0 = kiln.constant dense<0> : tensor<i64>
  %i1 = kiln.constant dense<1> : tensor<i64>
  %heads = kiln.constant dense<[2]> : tensor<1xi64>
  %width = kiln.constant dense<[8]> : tensor<1xi64>
  %z = kiln.constant dense<[0]> : tensor<1xi64>
  %ax2 = kiln.constant dense<[2]> : tensor<1xi64>
  %ax3 = kiln.constant dense<[3]> : tensor<1xi64>
  %st = kiln.constant dense<[1]> : tensor<1xi64>
  %e16 = kiln.constant dense<[16]> : tensor<1xi64>
  %qkv = kiln.matmul %h, %w : (tensor<1x?x16xf32>, tensor<16x48xf32>) -> tensor<1x?x48xf32>
  %xq, %xk, %xv = kiln.split %qkv {axis = 2, sizes = array<i64: 16, 16, 16>} : (tensor<1x?x48xf32>) -> (tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>)
  %shape = kiln.shape %h : (tensor<1x?x16xf32>) -> tensor<3xi64>
  %b = kiln.gather %shape, %i0 : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %t = kiln.gather %shape, %i1 : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %bu = kiln.unsqueeze %b {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %tu = kiln.unsqueeze %t {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %tu2 = kiln.unsqueeze %t {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %split = kiln.concat %bu, %tu, %heads, %width {axis = 0} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4xi64>
  %q0 = kiln.reshape %xq, %split : (tensor<1x?x16xf32>, tensor<4xi64>) -> tensor<1x?x2x8xf32>
  %q = kiln.transpose %q0 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x8xf32>) -> tensor<1x2x?x8xf32>
  %k0 = kiln.reshape %xk, %split : (tensor<1x?x16xf32>, tensor<4xi64>) -> tensor<1x?x2x8xf32>
  %kt = kiln.transpose %k0 {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x?x2x8xf32>) -> tensor<1x2x8x?xf32>
  %v0 = kiln.reshape %xv, %split : (tensor<1x?x16xf32>, tensor<4xi64>) -> tensor<1x?x2x8xf32>
  %v = kiln.transpose %v0 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x8xf32>) -> tensor<1x2x?x8xf32>
  %s = kiln.matmul %q, %kt : (tensor<1x2x?x8xf32>, tensor<1x2x8x?xf32>) -> tensor<1x2x?x?xf32>
  %d = kiln.div %s, %sqrtd : (tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %c0 = kiln.slice %bias, %z, %tu, %ax2, %st : (tensor<1x1x4x4xi1>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x1x?x4xi1>
  %c1 = kiln.slice %c0, %z, %tu2, %ax3, %st : (tensor<1x1x?x4xi1>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x1x?x?xi1>
  %wm = kiln.where %c1, %d, %fill : (tensor<1x1x?x?xi1>, tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %p = kiln.softmax %wm : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  %ot = kiln.transpose %o {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x2x?x8xf32>) -> tensor<1x?x2x8xf32>
  %oshape = kiln.shape %ot : (tensor<1x?x2x8xf32>) -> tensor<4xi64>
  %ob = kiln.gather %oshape, %i0 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %os = kiln.gather %oshape, %i1 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %obu = kiln.unsqueeze %ob {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %osu = kiln.unsqueeze %os {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %merge = kiln.concat %obu, %osu, %e16 {axis = 0} : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3xi64>
  %out = kiln.reshape %ot, %merge : (tensor<1x?x2x8xf32>, tensor<3xi64>) -> tensor<1x?x16xf32>
  return %out : tensor<1x?x16xf32>
}

// -----

// masked_fill(mask == 0, -inf) with an integer padding mask: a boolean mask of
// the right polarity (not(equal(m, 0)) = attend).
// CHECK-LABEL: func.func @masked_fill_equal_zero
// CHECK: %[[EQ:.*]] = kiln.equal %arg3, %{{.*}}
// CHECK: %[[NOT:.*]] = kiln.not %[[EQ]]
// CHECK-NEXT: %[[A:.*]] = kiln.attention %arg0, %arg1, %arg2, %[[NOT]] {num_heads = 2 : i64, scale = 5.000000e-01 : f32}
// CHECK-NEXT: return %[[A]]
func.func @masked_fill_equal_zero(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x3x4xf32>, %v: tensor<1x2x3x4xf32>, %m: tensor<1x1x1x3xi64>) -> tensor<1x2x3x4xf32> {
  %zero = kiln.constant dense<0> : tensor<i64>
  %inf = kiln.constant dense<0xFF800000> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %kt = kiln.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x3x4xf32>) -> tensor<1x2x4x3xf32>
  %s = kiln.matmul %q, %kt : (tensor<1x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32>
  %d = kiln.mul %half, %s : (tensor<f32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %eq = kiln.equal %m, %zero : (tensor<1x1x1x3xi64>, tensor<i64>) -> tensor<1x1x1x3xi1>
  %w = kiln.where %eq, %inf, %d : (tensor<1x1x1x3xi1>, tensor<f32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %p = kiln.softmax %w : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}

// -----

// where(not(b), -1e9, scores): the mask is b itself.
// CHECK-LABEL: func.func @masked_fill_not
// CHECK-NEXT: %[[A:.*]] = kiln.attention %arg0, %arg1, %arg2, %arg3 {num_heads = 2 : i64, scale = 5.000000e-01 : f32}
// CHECK-NEXT: return %[[A]]
func.func @masked_fill_not(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x3x4xf32>, %v: tensor<1x2x3x4xf32>, %b: tensor<1x1x3x3xi1>) -> tensor<1x2x3x4xf32> {
  %fill = kiln.constant dense<-1.0e9> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %kt = kiln.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x3x4xf32>) -> tensor<1x2x4x3xf32>
  %s = kiln.matmul %q, %kt : (tensor<1x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32>
  %d = kiln.mul %s, %half : (tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %nb = kiln.not %b : (tensor<1x1x3x3xi1>) -> tensor<1x1x3x3xi1>
  %w = kiln.where %nb, %fill, %d : (tensor<1x1x3x3xi1>, tensor<f32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %p = kiln.softmax %w : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}

// -----

// torch.tril(ones(T, T)) built at run time (constant_of_shape + trilu) and
// applied as masked_fill(tril == 0, -inf): the causal flag.
// CHECK-LABEL: func.func @trilu_causal
// CHECK-NEXT: %[[A:.*]] = kiln.attention %arg0, %arg1, %arg2 {causal = true, num_heads = 2 : i64, scale = 5.000000e-01 : f32}
// CHECK-NEXT: return %[[A]]
func.func @trilu_causal(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
  %i2 = kiln.constant dense<2> : tensor<i64>
  %zero = kiln.constant dense<0.0> : tensor<f32>
  %inf = kiln.constant dense<0xFF800000> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %shape = kiln.shape %q : (tensor<1x2x?x4xf32>) -> tensor<4xi64>
  %t = kiln.gather %shape, %i2 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %tu = kiln.unsqueeze %t {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %tt = kiln.concat %tu, %tu {axis = 0} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %ones = kiln.constant_of_shape %tt {value = 1.0 : f32} : (tensor<2xi64>) -> tensor<?x?xf32>
  %tril = kiln.trilu %ones {upper = false} : (tensor<?x?xf32>) -> tensor<?x?xf32>
  %eq = kiln.equal %tril, %zero : (tensor<?x?xf32>, tensor<f32>) -> tensor<?x?xi1>
  %kt = kiln.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x4xf32>) -> tensor<1x2x4x?xf32>
  %s = kiln.matmul %q, %kt : (tensor<1x2x?x4xf32>, tensor<1x2x4x?xf32>) -> tensor<1x2x?x?xf32>
  %d = kiln.mul %s, %half : (tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %w = kiln.where %eq, %inf, %d : (tensor<?x?xi1>, tensor<f32>, tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %p = kiln.softmax %w : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
}

// -----

// An exact additive causal constant (0 / -inf, nn.Transformer's square
// subsequent mask) plus a padding mask: causal flag and the padding mask.
// CHECK-LABEL: func.func @additive_causal_plus_padding
// CHECK-NEXT: %[[A:.*]] = kiln.attention %arg0, %arg1, %arg2, %arg3 {causal = true, num_heads = 2 : i64, scale = 5.000000e-01 : f32}
// CHECK-NEXT: return %[[A]]
func.func @additive_causal_plus_padding(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x3x4xf32>, %v: tensor<1x2x3x4xf32>, %pad: tensor<1x1x1x3xf32>) -> tensor<1x2x3x4xf32> {
  %causal = kiln.constant dense<[[0.0, 0xFF800000, 0xFF800000], [0.0, 0.0, 0xFF800000], [0.0, 0.0, 0.0]]> : tensor<3x3xf32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %kt = kiln.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x3x4xf32>) -> tensor<1x2x4x3xf32>
  %s = kiln.matmul %q, %kt : (tensor<1x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32>
  %d = kiln.mul %s, %half : (tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %a0 = kiln.add %d, %causal : (tensor<1x2x3x3xf32>, tensor<3x3xf32>) -> tensor<1x2x3x3xf32>
  %a1 = kiln.add %pad, %a0 : (tensor<1x1x1x3xf32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %p = kiln.softmax %a1 : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}

// -----

// T5: unscaled, a position bias and a padding mask (two additive masks,
// combined into one).
// CHECK-LABEL: func.func @two_additive_masks
// CHECK: %[[M:.*]] = kiln.add %arg3, %arg4 : (tensor<1x2x3x5xf32>, tensor<1x1x1x5xf32>) -> tensor<1x2x3x5xf32>
// CHECK-NEXT: kiln.attention %arg0, %arg1, %arg2, %[[M]] {num_heads = 2 : i64, scale = 1.000000e+00 : f32}
func.func @two_additive_masks(%q: tensor<1x2x3x4xf32>, %k: tensor<1x2x5x4xf32>, %v: tensor<1x2x5x4xf32>, %pos: tensor<1x2x3x5xf32>, %pad: tensor<1x1x1x5xf32>) -> tensor<1x2x3x4xf32> {
  %kt = kiln.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x5x4xf32>) -> tensor<1x2x4x5xf32>
  %s = kiln.matmul %q, %kt : (tensor<1x2x3x4xf32>, tensor<1x2x4x5xf32>) -> tensor<1x2x3x5xf32>
  %a0 = kiln.add %pad, %s : (tensor<1x1x1x5xf32>, tensor<1x2x3x5xf32>) -> tensor<1x2x3x5xf32>
  %a1 = kiln.add %a0, %pos : (tensor<1x2x3x5xf32>, tensor<1x2x3x5xf32>) -> tensor<1x2x3x5xf32>
  %p = kiln.softmax %a1 : (tensor<1x2x3x5xf32>) -> tensor<1x2x3x5xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x3x5xf32>, tensor<1x2x5x4xf32>) -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}

// -----

// nn.MultiheadAttention (cross-attention, heads folded into the batch:
// [B·H, S, D]): the scale is a div on Q, Kᵀ a [1, 2, 0] transpose.
// CHECK-LABEL: func.func @mha_rank3_cross
// CHECK: %[[K:.*]] = kiln.transpose %arg1 {perm = array<i64: 1, 0, 2>} : (tensor<7x8x4xf32>) -> tensor<8x7x4xf32>
// CHECK: %[[Q4:.*]] = kiln.unsqueeze %arg0 {axes = array<i64: 0>} : (tensor<8x5x4xf32>) -> tensor<1x8x5x4xf32>
// CHECK: %[[K4:.*]] = kiln.unsqueeze %[[K]] {axes = array<i64: 0>}
// CHECK: %[[V4:.*]] = kiln.unsqueeze %arg2 {axes = array<i64: 0>}
// CHECK: %[[A:.*]] = kiln.attention %[[Q4]], %[[K4]], %[[V4]] {num_heads = 8 : i64, scale = 5.000000e-01 : f32} : (tensor<1x8x5x4xf32>, tensor<1x8x7x4xf32>, tensor<1x8x7x4xf32>) -> tensor<1x8x5x4xf32>
// CHECK: %[[O:.*]] = kiln.squeeze %[[A]] {axes = array<i64: 0>} : (tensor<1x8x5x4xf32>) -> tensor<8x5x4xf32>
// CHECK-NEXT: return %[[O]]
func.func @mha_rank3_cross(%q: tensor<8x5x4xf32>, %k: tensor<7x8x4xf32>, %v: tensor<8x7x4xf32>) -> tensor<8x5x4xf32> {
  %two = kiln.constant dense<2.0> : tensor<f32>
  %qs = kiln.div %q, %two : (tensor<8x5x4xf32>, tensor<f32>) -> tensor<8x5x4xf32>
  %kt = kiln.transpose %k {perm = array<i64: 1, 2, 0>} : (tensor<7x8x4xf32>) -> tensor<8x4x7xf32>
  %s = kiln.matmul %qs, %kt : (tensor<8x5x4xf32>, tensor<8x4x7xf32>) -> tensor<8x5x7xf32>
  %p = kiln.softmax %s {axis = -1} : (tensor<8x5x7xf32>) -> tensor<8x5x7xf32>
  %o = kiln.matmul %p, %v : (tensor<8x5x7xf32>, tensor<8x7x4xf32>) -> tensor<8x5x4xf32>
  return %o : tensor<8x5x4xf32>
}

// -----

// The scale split between Q and K (q·d^-¼, k·d^-¼) before the head split,
// and a scale on the scores too: all multiplied into the op's scale.
// CHECK-LABEL: func.func @scale_on_q_and_k
// CHECK-NEXT: %[[A:.*]] = kiln.attention %arg0, %arg1, %arg2 {layout = "bsd", num_heads = 2 : i64, scale = 1.250000e-01 : f32}
// CHECK-NEXT: return %[[A]]
func.func @scale_on_q_and_k(%xq: tensor<1x3x8xf32>, %xk: tensor<1x3x8xf32>, %xv: tensor<1x3x8xf32>) -> tensor<1x3x8xf32> {
  %split = kiln.constant dense<[1, 3, 2, 4]> : tensor<4xi64>
  %merge = kiln.constant dense<[1, 3, 8]> : tensor<3xi64>
  %c = kiln.constant dense<0.5> : tensor<f32>
  %sq = kiln.mul %xq, %c : (tensor<1x3x8xf32>, tensor<f32>) -> tensor<1x3x8xf32>
  %q0 = kiln.reshape %sq, %split : (tensor<1x3x8xf32>, tensor<4xi64>) -> tensor<1x3x2x4xf32>
  %q = kiln.transpose %q0 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x3x2x4xf32>) -> tensor<1x2x3x4xf32>
  %k0 = kiln.reshape %xk, %split : (tensor<1x3x8xf32>, tensor<4xi64>) -> tensor<1x3x2x4xf32>
  %k = kiln.transpose %k0 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x3x2x4xf32>) -> tensor<1x2x3x4xf32>
  %ks = kiln.mul %c, %k : (tensor<f32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  %kt = kiln.transpose %ks {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x3x4xf32>) -> tensor<1x2x4x3xf32>
  %v0 = kiln.reshape %xv, %split : (tensor<1x3x8xf32>, tensor<4xi64>) -> tensor<1x3x2x4xf32>
  %v = kiln.transpose %v0 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x3x2x4xf32>) -> tensor<1x2x3x4xf32>
  %s = kiln.matmul %q, %kt : (tensor<1x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32>
  %d = kiln.mul %s, %c : (tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %p = kiln.softmax %d : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  %ot = kiln.transpose %o {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x2x3x4xf32>) -> tensor<1x3x2x4xf32>
  %out = kiln.reshape %ot, %merge : (tensor<1x3x2x4xf32>, tensor<3xi64>) -> tensor<1x3x8xf32>
  return %out : tensor<1x3x8xf32>
}

// -----

// HF GPT-2 with a KV cache: the buffer sliced to rows [Sk-Sq, Sk) and
// columns [0, Sk), so the diagonal sits at Sk - Sq: still the causal flag.
// CHECK-LABEL: func.func @kv_offset_causal
// CHECK-NEXT: %[[A:.*]] = kiln.attention %arg0, %arg1, %arg2 {causal = true, k_transposed = true, num_heads = 2 : i64, scale = 1.000000e+00 : f32}
// CHECK-NEXT: return %[[A]]
func.func @kv_offset_causal(%q: tensor<1x2x2x4xf32>, %kt: tensor<1x2x4x5xf32>, %v: tensor<1x2x5x4xf32>) -> tensor<1x2x2x4xf32> {
  %bias = kiln.constant dense<[[[[true, false, false, false, false, false], [true, true, false, false, false, false], [true, true, true, false, false, false], [true, true, true, true, false, false], [true, true, true, true, true, false], [true, true, true, true, true, true]]]]> : tensor<1x1x6x6xi1>
  %fill = kiln.constant dense<-3.40282347E+38> : tensor<f32>
  %starts = kiln.constant dense<[3, 0]> : tensor<2xi64>
  %ends = kiln.constant dense<[5, 5]> : tensor<2xi64>
  %axes = kiln.constant dense<[2, 3]> : tensor<2xi64>
  %steps = kiln.constant dense<[1, 1]> : tensor<2xi64>
  %s = kiln.matmul %q, %kt : (tensor<1x2x2x4xf32>, tensor<1x2x4x5xf32>) -> tensor<1x2x2x5xf32>
  %c = kiln.slice %bias, %starts, %ends, %axes, %steps : (tensor<1x1x6x6xi1>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<1x1x2x5xi1>
  %w = kiln.where %c, %s, %fill : (tensor<1x1x2x5xi1>, tensor<1x2x2x5xf32>, tensor<f32>) -> tensor<1x2x2x5xf32>
  %p = kiln.softmax %w : (tensor<1x2x2x5xf32>) -> tensor<1x2x2x5xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x2x5xf32>, tensor<1x2x5x4xf32>) -> tensor<1x2x2x4xf32>
  return %o : tensor<1x2x2x4xf32>
}

// -----

// Near miss: a buffer slice whose row end differs from its column end
// ([3, 5) x [0, 4)) is not causal: it stays a mask.
// CHECK-LABEL: func.func @offset_mismatch
// CHECK: kiln.attention %arg0, %arg1, %arg2, %{{.*}} {k_transposed = true, num_heads = 2 : i64
// CHECK-NOT: causal = true
func.func @offset_mismatch(%q: tensor<1x2x2x4xf32>, %kt: tensor<1x2x4x4xf32>, %v: tensor<1x2x4x4xf32>) -> tensor<1x2x2x4xf32> {
  %bias = kiln.constant dense<[[[[true, false, false, false, false, false], [true, true, false, false, false, false], [true, true, true, false, false, false], [true, true, true, true, false, false], [true, true, true, true, true, false], [true, true, true, true, true, true]]]]> : tensor<1x1x6x6xi1>
  %fill = kiln.constant dense<-3.40282347E+38> : tensor<f32>
  %starts = kiln.constant dense<[3, 0]> : tensor<2xi64>
  %ends = kiln.constant dense<[5, 4]> : tensor<2xi64>
  %axes = kiln.constant dense<[2, 3]> : tensor<2xi64>
  %steps = kiln.constant dense<[1, 1]> : tensor<2xi64>
  %s = kiln.matmul %q, %kt : (tensor<1x2x2x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x2x4xf32>
  %c = kiln.slice %bias, %starts, %ends, %axes, %steps : (tensor<1x1x6x6xi1>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<1x1x2x4xi1>
  %w = kiln.where %c, %s, %fill : (tensor<1x1x2x4xi1>, tensor<1x2x2x4xf32>, tensor<f32>) -> tensor<1x2x2x4xf32>
  %p = kiln.softmax %w : (tensor<1x2x2x4xf32>) -> tensor<1x2x2x4xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x2x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x2x4xf32>
  return %o : tensor<1x2x2x4xf32>
}

// -----

// Near miss: softmax over the head axis.
// REPORT: remark: fuse-attention: not fused: softmax is over axis 1, not the last
// CHECK-LABEL: func.func @softmax_not_last
// CHECK-NOT: kiln.attention
// CHECK: kiln.softmax
func.func @softmax_not_last(%q: tensor<1x2x3x4xf32>, %kt: tensor<1x2x4x3xf32>, %v: tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32> {
  %s = kiln.matmul %q, %kt : (tensor<1x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32>
  %p = kiln.softmax %s {axis = 1} : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}

// -----

// Near miss: the masked scores are used twice (also returned).
// REPORT: remark: fuse-attention: not fused: the result of kiln.add between Q·Kᵀ and softmax has other users
// CHECK-LABEL: func.func @masked_scores_used_twice
// CHECK-NOT: kiln.attention
// CHECK: kiln.softmax
func.func @masked_scores_used_twice(%q: tensor<1x2x3x4xf32>, %kt: tensor<1x2x4x3xf32>, %v: tensor<1x2x3x4xf32>, %m: tensor<1x1x1x3xf32>) -> (tensor<1x2x3x4xf32>, tensor<1x2x3x3xf32>) {
  %s = kiln.matmul %q, %kt : (tensor<1x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32>
  %a = kiln.add %s, %m : (tensor<1x2x3x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x2x3x3xf32>
  %p = kiln.softmax %a : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %o, %a : tensor<1x2x3x4xf32>, tensor<1x2x3x3xf32>
}

// -----

// One mask shared by two attention blocks is fine (BERT's extended mask).
// CHECK-LABEL: func.func @mask_shared_by_two_blocks
// CHECK-COUNT-2: kiln.attention %{{.*}}, %{{.*}}, %{{.*}}, %arg3
// CHECK-NOT: kiln.softmax
func.func @mask_shared_by_two_blocks(%q: tensor<1x2x3x4xf32>, %kt: tensor<1x2x4x3xf32>, %v: tensor<1x2x3x4xf32>, %m: tensor<1x1x1x3xf32>) -> tensor<1x2x3x4xf32> {
  %s = kiln.matmul %q, %kt : (tensor<1x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32>
  %a = kiln.add %s, %m : (tensor<1x2x3x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x2x3x3xf32>
  %p = kiln.softmax %a : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  %s2 = kiln.matmul %o, %kt : (tensor<1x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32>
  %a2 = kiln.add %m, %s2 : (tensor<1x1x1x3xf32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %p2 = kiln.softmax %a2 : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o2 = kiln.matmul %p2, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %o2 : tensor<1x2x3x4xf32>
}

// -----

// Near miss: the scale is not a constant (sqrt of a shape computed at run time).
// REPORT: remark: fuse-attention: not fused: kiln.div on the scores is not by a constant scalar
// CHECK-LABEL: func.func @nonconstant_scale
// CHECK-NOT: kiln.attention
// CHECK: kiln.softmax
func.func @nonconstant_scale(%q: tensor<1x2x3x4xf32>, %kt: tensor<1x2x4x3xf32>, %v: tensor<1x2x3x4xf32>, %c: tensor<f32>) -> tensor<1x2x3x4xf32> {
  %s = kiln.matmul %q, %kt : (tensor<1x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32>
  %d = kiln.div %s, %c : (tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %p = kiln.softmax %d : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}

// -----

// Near misses: a where whose fill (-1) does not mask, and a scale applied
// after an additive mask.
// REPORT: remark: fuse-attention: not fused: where is not a mask
// REPORT: remark: fuse-attention: not fused: a scale is applied after an additive mask
// CHECK-LABEL: func.func @not_masks
// CHECK-NOT: kiln.attention
// CHECK: kiln.softmax
// CHECK: kiln.softmax
func.func @not_masks(%q: tensor<1x2x3x4xf32>, %kt: tensor<1x2x4x3xf32>, %v: tensor<1x2x3x4xf32>, %b: tensor<1x1x3x3xi1>, %m: tensor<1x1x1x3xf32>) -> (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) {
  %fill = kiln.constant dense<-1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %s = kiln.matmul %q, %kt : (tensor<1x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32>
  %w = kiln.where %b, %s, %fill : (tensor<1x1x3x3xi1>, tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %p = kiln.softmax %w : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  %s2 = kiln.matmul %q, %kt : (tensor<1x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32>
  %a2 = kiln.add %s2, %m : (tensor<1x2x3x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x2x3x3xf32>
  %d2 = kiln.mul %a2, %half : (tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %p2 = kiln.softmax %d2 : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o2 = kiln.matmul %p2, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %o, %o2 : tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>
}

// -----

// Near miss: a mask that is almost causal (one entry off) stays a mask.
// CHECK-LABEL: func.func @almost_causal
// CHECK: kiln.attention %arg0, %arg1, %arg2, %{{.*}} {k_transposed = true, num_heads = 2 : i64
// CHECK-NOT: causal = true
func.func @almost_causal(%q: tensor<1x2x3x4xf32>, %kt: tensor<1x2x4x3xf32>, %v: tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32> {
  %tril = kiln.constant dense<[[true, true, false], [true, true, false], [true, true, true]]> : tensor<3x3xi1>
  %fill = kiln.constant dense<-1.0e4> : tensor<f32>
  %s = kiln.matmul %q, %kt : (tensor<1x2x3x4xf32>, tensor<1x2x4x3xf32>) -> tensor<1x2x3x3xf32>
  %w = kiln.where %tril, %s, %fill : (tensor<3x3xi1>, tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %p = kiln.softmax %w : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %o : tensor<1x2x3x4xf32>
}

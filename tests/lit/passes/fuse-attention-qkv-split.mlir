// fuse-attention: a fused QKV projection (GPT-2's c_attn) whose split along
// the last dim feeds kiln.attention is cut into one projection per part, so
// that no split copy runs; near misses keep their split.
// RUN: kiln-opt %s --fuse-attention --split-input-file | FileCheck %s
// RUN: kiln-opt %s --fuse-attention=report=true --split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// REQUIRES: kiln-passes

// matmul + bias add (as torch exports Conv1D), through the head split: the
// weight's columns 4..7 and the bias' elements 4..7 go to k.
// CHECK-LABEL: func.func @gpt2_qkv
// CHECK-NOT: kiln.split
// CHECK-DAG: %[[WK:.*]] = kiln.constant dense<{{\[\[}}4.000000e+00, 5.000000e+00, 6.000000e+00, 7.000000e+00], [1.600000e+01, {{.*}}]]> : tensor<4x4xf32>
// CHECK-DAG: %[[BK:.*]] = kiln.constant dense<[1.040000e+02, 1.050000e+02, 1.060000e+02, 1.070000e+02]> : tensor<4xf32>
// CHECK-DAG: %[[MK:.*]] = kiln.matmul %arg0, %[[WK]] : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
// CHECK-DAG: %[[K:.*]] = kiln.add %[[MK]], %[[BK]]
// CHECK: %[[A:.*]] = kiln.attention %{{.*}}, %[[K]], %{{.*}} {causal = true, layout = "bsd", num_heads = 2 : i64
// CHECK-NOT: kiln.split
// CHECK: return %[[A]]
func.func @gpt2_qkv(%h: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> {
  %w = kiln.constant dense<[[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0], [12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0], [24.0, 25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0, 32.0, 33.0, 34.0, 35.0], [36.0, 37.0, 38.0, 39.0, 40.0, 41.0, 42.0, 43.0, 44.0, 45.0, 46.0, 47.0]]> : tensor<4x12xf32>
  %b = kiln.constant dense<[100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 106.0, 107.0, 108.0, 109.0, 110.0, 111.0]> : tensor<12xf32>
  %mm = kiln.matmul %h, %w : (tensor<1x?x4xf32>, tensor<4x12xf32>) -> tensor<1x?x12xf32>
  %qkv = kiln.add %mm, %b : (tensor<1x?x12xf32>, tensor<12xf32>) -> tensor<1x?x12xf32>
  %xq, %xk, %xv = kiln.split %qkv {axis = 2, sizes = array<i64: 4, 4, 4>} : (tensor<1x?x12xf32>) -> (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>)
  %a = kiln.attention %xq, %xk, %xv {causal = true, layout = "bsd", num_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
  return %a : tensor<1x?x4xf32>
}

// -----

// fused_matmul with trans_b ([N,K] weight, rows 8..11 go to v), a negative
// split axis and unequal parts.
// CHECK-LABEL: func.func @fused_trans_b
// CHECK-NOT: kiln.split
// CHECK-DAG: %[[WV:.*]] = kiln.constant dense<{{\[\[}}8.000000e+00, 2.000000e+01, 3.200000e+01, 4.400000e+01], {{.*}}]]> : tensor<4x4xf32>
// CHECK-DAG: %[[WQK:.*]] = kiln.constant dense_resource<{{.*}}> : tensor<8x4xf32>
// CHECK-DAG: %[[QK:.*]] = kiln.fused_matmul %arg0, %[[WQK]], %{{.*}} {alpha = 2.000000e+00 : f32, trans_b = true} : (tensor<2x3x4xf32>, tensor<8x4xf32>, tensor<8xf32>) -> tensor<2x3x8xf32>
// CHECK-DAG: %[[V:.*]] = kiln.fused_matmul %arg0, %[[WV]], %{{.*}} {alpha = 2.000000e+00 : f32, trans_b = true} : (tensor<2x3x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
// CHECK: kiln.attention %[[QK]], %[[QK]], %[[V]]
func.func @fused_trans_b(%h: tensor<2x3x4xf32>) -> tensor<2x3x4xf32> {
  %w = kiln.constant dense<[[0.0, 12.0, 24.0, 36.0], [1.0, 13.0, 25.0, 37.0], [2.0, 14.0, 26.0, 38.0], [3.0, 15.0, 27.0, 39.0], [4.0, 16.0, 28.0, 40.0], [5.0, 17.0, 29.0, 41.0], [6.0, 18.0, 30.0, 42.0], [7.0, 19.0, 31.0, 43.0], [8.0, 20.0, 32.0, 44.0], [9.0, 21.0, 33.0, 45.0], [10.0, 22.0, 34.0, 46.0], [11.0, 23.0, 35.0, 47.0]]> : tensor<12x4xf32>
  %b = kiln.constant dense<[100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 106.0, 107.0, 108.0, 109.0, 110.0, 111.0]> : tensor<12xf32>
  %qkv = kiln.fused_matmul %h, %w, %b {trans_b = true, alpha = 2.0 : f32} : (tensor<2x3x4xf32>, tensor<12x4xf32>, tensor<12xf32>) -> tensor<2x3x12xf32>
  %qk, %v = kiln.split %qkv {axis = -1, sizes = array<i64: 8, 4>} : (tensor<2x3x12xf32>) -> (tensor<2x3x8xf32>, tensor<2x3x4xf32>)
  %a = kiln.attention %qk, %qk, %v {layout = "bsd", num_heads = 2 : i64, scale = 0.5 : f32} : (tensor<2x3x8xf32>, tensor<2x3x8xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  return %a : tensor<2x3x4xf32>
}

// -----

// Near miss: the weight is not a constant (a function argument).
// REPORT: remark: fuse-attention: not fused: the split tensor is not a projection by a constant f32 weight used only by the split
// CHECK-LABEL: func.func @weight_not_constant
// CHECK: kiln.split
func.func @weight_not_constant(%h: tensor<1x3x4xf32>, %w: tensor<4x12xf32>) -> tensor<1x3x4xf32> {
  %qkv = kiln.matmul %h, %w : (tensor<1x3x4xf32>, tensor<4x12xf32>) -> tensor<1x3x12xf32>
  %xq, %xk, %xv = kiln.split %qkv {axis = 2, sizes = array<i64: 4, 4, 4>} : (tensor<1x3x12xf32>) -> (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>)
  %a = kiln.attention %xq, %xk, %xv {layout = "bsd", num_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  return %a : tensor<1x3x4xf32>
}

// -----

// Near miss: the packed projection is also returned, so it must be computed
// anyway.
// REPORT: remark: fuse-attention: not fused: the split tensor is not a projection by a constant f32 weight used only by the split
// CHECK-LABEL: func.func @projection_has_other_users
// CHECK: %[[P:.*]] = kiln.matmul
// CHECK: kiln.split %[[P]]
func.func @projection_has_other_users(%h: tensor<1x3x4xf32>) -> (tensor<1x3x4xf32>, tensor<1x3x12xf32>) {
  %w = kiln.constant dense<[[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0], [12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0], [24.0, 25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0, 32.0, 33.0, 34.0, 35.0], [36.0, 37.0, 38.0, 39.0, 40.0, 41.0, 42.0, 43.0, 44.0, 45.0, 46.0, 47.0]]> : tensor<4x12xf32>
  %qkv = kiln.matmul %h, %w : (tensor<1x3x4xf32>, tensor<4x12xf32>) -> tensor<1x3x12xf32>
  %xq, %xk, %xv = kiln.split %qkv {axis = 2, sizes = array<i64: 4, 4, 4>} : (tensor<1x3x12xf32>) -> (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>)
  %a = kiln.attention %xq, %xk, %xv {layout = "bsd", num_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  return %a, %qkv : tensor<1x3x4xf32>, tensor<1x3x12xf32>
}

// -----

// Not a candidate: a part also feeds an op other than attention (the split
// is not only for attention; left alone, not reported).
// CHECK-LABEL: func.func @part_feeds_other_op
// CHECK: kiln.split
// CHECK: kiln.relu
func.func @part_feeds_other_op(%h: tensor<1x3x4xf32>) -> (tensor<1x3x4xf32>, tensor<1x3x4xf32>) {
  %w = kiln.constant dense<[[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0], [12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0], [24.0, 25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0, 32.0, 33.0, 34.0, 35.0], [36.0, 37.0, 38.0, 39.0, 40.0, 41.0, 42.0, 43.0, 44.0, 45.0, 46.0, 47.0]]> : tensor<4x12xf32>
  %qkv = kiln.matmul %h, %w : (tensor<1x3x4xf32>, tensor<4x12xf32>) -> tensor<1x3x12xf32>
  %xq, %xk, %xv = kiln.split %qkv {axis = 2, sizes = array<i64: 4, 4, 4>} : (tensor<1x3x12xf32>) -> (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>)
  %a = kiln.attention %xq, %xk, %xv {layout = "bsd", num_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  %r = kiln.relu %xv : (tensor<1x3x4xf32>) -> tensor<1x3x4xf32>
  return %a, %r : tensor<1x3x4xf32>, tensor<1x3x4xf32>
}

// -----

// Not a candidate: a split of a middle dim.
// CHECK-LABEL: func.func @split_not_last_dim
// CHECK: kiln.split
func.func @split_not_last_dim(%h: tensor<1x6x4xf32>) -> tensor<1x3x12xf32> {
  %w = kiln.constant dense<[[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0], [12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0], [24.0, 25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0, 32.0, 33.0, 34.0, 35.0], [36.0, 37.0, 38.0, 39.0, 40.0, 41.0, 42.0, 43.0, 44.0, 45.0, 46.0, 47.0]]> : tensor<4x12xf32>
  %qkv = kiln.matmul %h, %w : (tensor<1x6x4xf32>, tensor<4x12xf32>) -> tensor<1x6x12xf32>
  %x, %y = kiln.split %qkv {axis = 1, sizes = array<i64: 3, 3>} : (tensor<1x6x12xf32>) -> (tensor<1x3x12xf32>, tensor<1x3x12xf32>)
  %a = kiln.attention %x, %y, %y {layout = "bsd", num_heads = 2 : i64, scale = 0.5 : f32} : (tensor<1x3x12xf32>, tensor<1x3x12xf32>, tensor<1x3x12xf32>) -> tensor<1x3x12xf32>
  return %a : tensor<1x3x12xf32>
}

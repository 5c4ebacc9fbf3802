// Folders: shapes of static tensors, inverse transposes, constant reshapes.
// RUN: kiln-opt %s --canonicalize | FileCheck %s

// CHECK-LABEL: func.func @shape_fold
func.func @shape_fold(%x: tensor<2x?x8xf32>) -> (tensor<1xi64>, tensor<3xi64>) {
  // CHECK-DAG: kiln.constant dense<8> : tensor<1xi64>
  // CHECK-DAG: %[[S:.*]] = kiln.shape %{{.*}} : (tensor<2x?x8xf32>) -> tensor<3xi64>
  %0 = kiln.shape %x {start = 2} : (tensor<2x?x8xf32>) -> tensor<1xi64>
  // The dynamic dim keeps the full shape from folding.
  %1 = kiln.shape %x : (tensor<2x?x8xf32>) -> tensor<3xi64>
  return %0, %1 : tensor<1xi64>, tensor<3xi64>
}

// CHECK-LABEL: func.func @transpose_pair
func.func @transpose_pair(%x: tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<4x2x3xf32>) {
  %0 = kiln.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %1 = kiln.transpose %0 {perm = array<i64: 1, 2, 0>} : (tensor<4x2x3xf32>) -> tensor<2x3x4xf32>
  // CHECK: %[[T:.*]] = kiln.transpose
  // CHECK-NOT: kiln.transpose
  // CHECK: return %arg0, %[[T]]
  return %1, %0 : tensor<2x3x4xf32>, tensor<4x2x3xf32>
}

// CHECK-LABEL: func.func @transpose_not_inverse
func.func @transpose_not_inverse(%x: tensor<2x3x4xf32>) -> tensor<3x4x2xf32> {
  // Two rotations in the same direction do not cancel: both stay.
  // CHECK: kiln.transpose
  // CHECK: kiln.transpose
  %0 = kiln.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
  %1 = kiln.transpose %0 {perm = array<i64: 2, 0, 1>} : (tensor<4x2x3xf32>) -> tensor<3x4x2xf32>
  return %1 : tensor<3x4x2xf32>
}

// CHECK-LABEL: func.func @const_transpose
func.func @const_transpose() -> tensor<3x2xf32> {
  // CHECK: kiln.constant dense<{{\[\[}}1.000000e+00, 4.000000e+00], [2.000000e+00, 5.000000e+00], [3.000000e+00, 6.000000e+00]]>
  %c = kiln.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %t = kiln.transpose %c {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %t : tensor<3x2xf32>
}

// CHECK-LABEL: func.func @noop_cast
func.func @noop_cast(%x: tensor<3xi64>) -> (tensor<3xi64>, tensor<3xi32>) {
  // A cast to the same type folds away; a real cast stays.
  // CHECK: %[[C:.*]] = kiln.cast %arg0 {to = i32}
  // CHECK: return %arg0, %[[C]]
  %0 = kiln.cast %x {to = i64} : (tensor<3xi64>) -> tensor<3xi64>
  %1 = kiln.cast %x {to = i32} : (tensor<3xi64>) -> tensor<3xi32>
  return %0, %1 : tensor<3xi64>, tensor<3xi32>
}

// The example plugin's kiln-fold-mul-one (examples/pass-plugin/FoldMulOne.cpp)
// matches kiln's ops by their C++ classes: it shares kiln's libraries with the
// tool that loads it. x·1, 1·x and x/1 fold; near misses stay.
// REQUIRES: kiln-plugin

// RUN: kiln-opt %s --load-pass-plugin=%kiln_plugin --pass-pipeline='builtin.module(kiln-fold-mul-one)' | FileCheck %s
// CHECK-LABEL: func.func @fold
// CHECK-NOT: kiln.mul
// CHECK-NOT: kiln.div
// CHECK: return %arg0, %arg0, %arg0, %arg1 :

// CHECK-LABEL: func.func @near_miss
// CHECK-DAG: %[[ONE:.*]] = kiln.constant dense<1.000000e+00> : tensor<f32>
// CHECK-DAG: %[[ONES:.*]] = kiln.constant dense<1.000000e+00> : tensor<2x2x3xf32>
// CHECK-DAG: %[[NEAR:.*]] = kiln.constant dense<1.000100e+00> : tensor<f32>
// CHECK: kiln.mul %arg0, %[[NEAR]]
// CHECK: kiln.mul %arg0, %[[ONES]]
// CHECK: kiln.div %[[ONE]], %arg0
// CHECK: kiln.add %arg0, %[[ONE]]

func.func @fold(%x: tensor<2x3xf32>, %i: tensor<4xi64>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<4xi64>) {
  %one = kiln.constant dense<1.0> : tensor<f32>
  %ones = kiln.constant dense<1.0> : tensor<2x3xf32>
  %onei = kiln.constant dense<1> : tensor<1xi64>
  %0 = kiln.mul %x, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %1 = kiln.mul %ones, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %2 = kiln.div %x, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %3 = kiln.mul %i, %onei : (tensor<4xi64>, tensor<1xi64>) -> tensor<4xi64>
  return %0, %1, %2, %3 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<4xi64>
}

func.func @near_miss(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %one = kiln.constant dense<1.0> : tensor<f32>
  %ones = kiln.constant dense<1.0> : tensor<2x2x3xf32>
  %near = kiln.constant dense<1.0001> : tensor<f32>
  %0 = kiln.mul %x, %near : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  %1 = kiln.mul %x, %ones : (tensor<2x3xf32>, tensor<2x2x3xf32>) -> tensor<2x2x3xf32>
  %2 = kiln.div %one, %x : (tensor<f32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %3 = kiln.add %x, %one : (tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
  return %0, %1, %2, %3 : tensor<2x3xf32>, tensor<2x2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}

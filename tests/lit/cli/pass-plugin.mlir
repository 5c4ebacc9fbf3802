// The example pass plugin (examples/pass-plugin) loads into kiln-opt and kiln
// compile, and its passes run from a textual pipeline.
// REQUIRES: kiln-plugin

// RUN: kiln-opt %s --load-pass-plugin=%kiln_plugin --pass-pipeline='builtin.module(kiln-count-ops,kiln-strip-identity,kiln-count-ops)' --mlir-print-op-on-diagnostic=false 2>&1 | FileCheck %s --check-prefix=OPT
// OPT: remark: op counts in @main: kiln.identity: 3, func.return: 1, kiln.add: 1, kiln.constant: 1
// OPT: remark: op counts in @main: func.return: 1, kiln.add: 1, kiln.constant: 1
// OPT: module {
// OPT-NEXT: func.func @main(%arg0: tensor<2x3xf32>)
// OPT-NEXT: %[[C:.*]] = kiln.constant
// OPT-NEXT: %[[SUM:.*]] = kiln.add %arg0, %[[C]]
// OPT-NEXT: return %[[SUM]], %arg0
// OPT-NOT: kiln.identity

// kiln compile: the plugin's passes replace the default pipeline.
// RUN: kiln compile %s --emit=ir --load-pass-plugin=%kiln_plugin --pass-pipeline='builtin.module(kiln-strip-identity,kiln-count-ops)' 2>&1 | FileCheck %s --check-prefix=COMPILE
// COMPILE: remark: op counts in @main: func.return: 1, kiln.add: 1, kiln.constant: 1
// COMPILE: kiln.add %arg0,
// COMPILE-NOT: kiln.identity
// Its effect shows in --print-ir-after like any pass's.
// RUN: kiln compile %s --emit=ir --load-pass-plugin=%kiln_plugin --pass-pipeline='builtin.module(kiln-strip-identity)' --print-ir-after=kiln-strip-identity 2>&1 >/dev/null | FileCheck %s --check-prefix=AFTER
// AFTER: IR Dump After {{.*}}(kiln-strip-identity)
// AFTER-NOT: kiln.identity
// AFTER: return
// A bare pass list runs on the module too.
// RUN: kiln compile %s --emit=ir --load-pass-plugin %kiln_plugin --pass-pipeline=kiln-strip-identity | FileCheck %s --check-prefix=BARE
// BARE-NOT: kiln.identity
// BARE: return

// Without the plugin the pass is unknown; a missing plugin is a clear error.
// RUN: not kiln compile %s --emit=ir --pass-pipeline='builtin.module(kiln-strip-identity)' 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// UNKNOWN: 'kiln-strip-identity' does not refer to a registered pass
// RUN: not kiln compile %s --emit=ir --load-pass-plugin=%t.missing.so 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: kiln: error: cannot load pass plugin '{{.*}}missing.so'

func.func @main(%arg0: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %c = kiln.constant dense<1.0> : tensor<2x3xf32>
  %0 = kiln.identity %arg0 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %1 = kiln.add %0, %c : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %2 = kiln.identity %1 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %3 = kiln.identity %arg0 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %2, %3 : tensor<2x3xf32>, tensor<2x3xf32>
}

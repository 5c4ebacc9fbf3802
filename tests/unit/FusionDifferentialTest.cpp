// Differential tests of the fusion passes: each module runs on the reference
// interpreter before and after a pass, on random inputs and random sizes for
// its dynamic dims, and must give the same outputs with the fused op present.
// The committed e2e models go through the whole fusion pipeline the same way,
// with exact counts of what gets fused.
#include "kiln/Frontend/OnnxImporter.h"
#include "kiln/IR/Interpreter.h"
#include "kiln/IR/KilnDialect.h"
#include "kiln/Passes/Passes.h"
#include "kiln/Reference/Npy.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>
#include <map>
#include <random>

using namespace kiln;
using namespace kiln::ref;

namespace {

/// One module and the pass that must fuse it.
struct Case {
  const char *name;
  const char *pipeline;
  const char *fusedOp; // op that must appear after the pass
  int fusedCount;
  int64_t maxDim;     // dynamic dims take sizes in [1, maxDim]
  const char *expect; // text the fused IR must contain ("" for none)
  const char *ir;
};

class FusionTest : public ::testing::Test {
protected:
  FusionTest() {
    mlir::DialectRegistry registry;
    registry.insert<kiln::KilnDialect, mlir::func::FuncDialect>();
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
    kiln::registerKilnPasses();
    handler.emplace(&ctx, [this](mlir::Diagnostic &d) {
      llvm::raw_string_ostream os(diagnostics);
      os << d.getLocation() << ": " << d.str() << "\n";
      return mlir::success();
    });
  }

  mlir::LogicalResult runPipeline(mlir::ModuleOp module, llvm::StringRef text) {
    mlir::PassManager pm(&ctx);
    if (text == "kiln-fusion-pipeline")
      kiln::buildDefaultPipeline(pm);
    else if (mlir::failed(mlir::parsePassPipeline(text, pm)))
      return mlir::failure();
    return pm.run(module);
  }

  mlir::MLIRContext ctx;
  std::optional<mlir::ScopedDiagnosticHandler> handler;
  std::string diagnostics;
};

mlir::func::FuncOp mainOf(mlir::ModuleOp module) {
  return *module.getOps<mlir::func::FuncOp>().begin();
}

int countOps(mlir::ModuleOp module, llvm::StringRef name) {
  int n = 0;
  module.walk(
      [&](mlir::Operation *op) { n += op->getName().getStringRef() == name; });
  return n;
}

/// Random inputs for `fn`'s arguments, every dynamic dim `dynSize`. Floats in
/// [-2, 2]; bools and integers (masks) random 0/1 but 1 at index 0 of the last
/// dim, so that no attention row is fully masked (where a -inf fill and the
/// fused op's "zeros" convention would differ).
std::vector<Tensor> randomInputs(mlir::func::FuncOp fn, int64_t dynSize,
                                 std::mt19937 &rng) {
  std::vector<Tensor> out;
  std::uniform_real_distribution<float> real(-2.0f, 2.0f);
  std::bernoulli_distribution coin(0.7);
  for (mlir::Type t : fn.getArgumentTypes()) {
    auto type = mlir::cast<mlir::RankedTensorType>(t);
    Shape shape;
    for (int64_t d : type.getShape())
      shape.push_back(mlir::ShapedType::isDynamic(d) ? dynSize : d);
    mlir::Type et = type.getElementType();
    DType dtype = et.isF32()         ? DType::F32
                  : et.isInteger(1)  ? DType::Bool
                  : et.isInteger(32) ? DType::I32
                                     : DType::I64;
    Tensor x(dtype, shape);
    int64_t last = shape.empty() ? 1 : shape.back();
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (dtype == DType::F32)
        x.setDouble(i, real(rng));
      else
        x.setInt(i, (last == 0 || i % last == 0) ? 1 : int64_t(coin(rng)));
    }
    out.push_back(std::move(x));
  }
  return out;
}

// clang-format off
const Case kCases[] = {
{"gelu_erf", "fuse-gelu", "kiln.gelu", 1, 6, "", R"(
func.func @main(%x: tensor<2x?xf32>) -> tensor<2x?xf32> {
  %sqrt2 = kiln.constant dense<1.41421354> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %0 = kiln.div %x, %sqrt2 : (tensor<2x?xf32>, tensor<f32>) -> tensor<2x?xf32>
  %1 = kiln.erf %0 : (tensor<2x?xf32>) -> tensor<2x?xf32>
  %2 = kiln.add %1, %one : (tensor<2x?xf32>, tensor<f32>) -> tensor<2x?xf32>
  %3 = kiln.mul %x, %2 : (tensor<2x?xf32>, tensor<2x?xf32>) -> tensor<2x?xf32>
  %4 = kiln.mul %3, %half : (tensor<2x?xf32>, tensor<f32>) -> tensor<2x?xf32>
  return %4 : tensor<2x?xf32>
})"},
{"gelu_tanh_fast", "fuse-gelu", "kiln.gelu", 1, 6, "approximate = \"tanh\"", R"(
func.func @main(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %c0 = kiln.constant dense<0.044715> : tensor<f32>
  %c1 = kiln.constant dense<0.797884583> : tensor<f32>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %half = kiln.constant dense<0.5> : tensor<f32>
  %0 = kiln.mul %x, %c0 : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  %1 = kiln.mul %0, %x : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %2 = kiln.add %1, %one : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  %3 = kiln.mul %x, %c1 : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  %4 = kiln.mul %3, %2 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  %5 = kiln.tanh %4 : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %6 = kiln.add %5, %one : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  %7 = kiln.mul %x, %half : (tensor<?x8xf32>, tensor<f32>) -> tensor<?x8xf32>
  %8 = kiln.mul %7, %6 : (tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return %8 : tensor<?x8xf32>
})"},
{"layer_norm_decomposed", "fuse-layer-norm", "kiln.layer_norm", 1, 6, "", R"(
func.func @main(%x: tensor<1x?x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<1x?x16xf32> {
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-5> : tensor<f32>
  %mean = kiln.reduce_mean %x {axes = array<i64: -1>} : (tensor<1x?x16xf32>) -> tensor<1x?x1xf32>
  %d = kiln.sub %x, %mean : (tensor<1x?x16xf32>, tensor<1x?x1xf32>) -> tensor<1x?x16xf32>
  %sq = kiln.pow %d, %two : (tensor<1x?x16xf32>, tensor<f32>) -> tensor<1x?x16xf32>
  %var = kiln.reduce_mean %sq {axes = array<i64: -1>} : (tensor<1x?x16xf32>) -> tensor<1x?x1xf32>
  %ve = kiln.add %var, %eps : (tensor<1x?x1xf32>, tensor<f32>) -> tensor<1x?x1xf32>
  %std = kiln.sqrt %ve : (tensor<1x?x1xf32>) -> tensor<1x?x1xf32>
  %n = kiln.div %d, %std : (tensor<1x?x16xf32>, tensor<1x?x1xf32>) -> tensor<1x?x16xf32>
  %y = kiln.mul %n, %g : (tensor<1x?x16xf32>, tensor<16xf32>) -> tensor<1x?x16xf32>
  %z = kiln.add %y, %b : (tensor<1x?x16xf32>, tensor<16xf32>) -> tensor<1x?x16xf32>
  return %z : tensor<1x?x16xf32>
})"},
{"layer_norm_duplicated_sub", "fuse-layer-norm", "kiln.layer_norm", 1, 6, "", R"(
func.func @main(%x: tensor<?x3x8xf32>) -> tensor<?x3x8xf32> {
  %eps = kiln.constant dense<1.0e-12> : tensor<f32>
  %g = kiln.constant dense<[[[1.0, 2.0, 3.0, 4.0, 0.5, 0.25, -1.0, 2.5]]]> : tensor<1x1x8xf32>
  %b = kiln.constant dense<0.5> : tensor<1x1x8xf32>
  %mean = kiln.reduce_mean %x {axes = array<i64: 2>} : (tensor<?x3x8xf32>) -> tensor<?x3x1xf32>
  %d1 = kiln.sub %x, %mean : (tensor<?x3x8xf32>, tensor<?x3x1xf32>) -> tensor<?x3x8xf32>
  %d2 = kiln.sub %x, %mean : (tensor<?x3x8xf32>, tensor<?x3x1xf32>) -> tensor<?x3x8xf32>
  %sq = kiln.mul %d2, %d2 : (tensor<?x3x8xf32>, tensor<?x3x8xf32>) -> tensor<?x3x8xf32>
  %var = kiln.reduce_mean %sq {axes = array<i64: 2>} : (tensor<?x3x8xf32>) -> tensor<?x3x1xf32>
  %ve = kiln.add %eps, %var : (tensor<f32>, tensor<?x3x1xf32>) -> tensor<?x3x1xf32>
  %std = kiln.sqrt %ve : (tensor<?x3x1xf32>) -> tensor<?x3x1xf32>
  %inv = kiln.reciprocal %std : (tensor<?x3x1xf32>) -> tensor<?x3x1xf32>
  %n = kiln.mul %inv, %d1 : (tensor<?x3x1xf32>, tensor<?x3x8xf32>) -> tensor<?x3x8xf32>
  %y = kiln.mul %g, %n : (tensor<1x1x8xf32>, tensor<?x3x8xf32>) -> tensor<?x3x8xf32>
  %z = kiln.add %b, %y : (tensor<1x1x8xf32>, tensor<?x3x8xf32>) -> tensor<?x3x8xf32>
  return %z : tensor<?x3x8xf32>
})"},
{"rms_norm", "fuse-layer-norm", "kiln.layer_norm", 1, 6, "rms = true", R"(
func.func @main(%x: tensor<1x?x16xf32>, %g: tensor<16xf32>) -> tensor<1x?x16xf32> {
  %two = kiln.constant dense<2.0> : tensor<f32>
  %eps = kiln.constant dense<1.0e-6> : tensor<f32>
  %sq = kiln.pow %x, %two : (tensor<1x?x16xf32>, tensor<f32>) -> tensor<1x?x16xf32>
  %var = kiln.reduce_mean %sq {axes = array<i64: -1>} : (tensor<1x?x16xf32>) -> tensor<1x?x1xf32>
  %ve = kiln.add %var, %eps : (tensor<1x?x1xf32>, tensor<f32>) -> tensor<1x?x1xf32>
  %std = kiln.sqrt %ve : (tensor<1x?x1xf32>) -> tensor<1x?x1xf32>
  %inv = kiln.reciprocal %std : (tensor<1x?x1xf32>) -> tensor<1x?x1xf32>
  %n = kiln.mul %x, %inv : (tensor<1x?x16xf32>, tensor<1x?x1xf32>) -> tensor<1x?x16xf32>
  %y = kiln.mul %g, %n : (tensor<16xf32>, tensor<1x?x16xf32>) -> tensor<1x?x16xf32>
  return %y : tensor<1x?x16xf32>
})"},
{"skip_layer_norm_bias_and_sum", "fuse-skip-layer-norm", "kiln.skip_layer_norm", 1, 6, "%sum", R"(
func.func @main(%x: tensor<2x?x8xf32>, %y: tensor<2x?x8xf32>, %g: tensor<8xf32>) -> (tensor<2x?x8xf32>, tensor<2x?x8xf32>) {
  %bias = kiln.constant dense<[0.1, -0.2, 0.3, 0.0, 1.0, 2.0, -1.0, 0.5]> : tensor<8xf32>
  %0 = kiln.add %bias, %x : (tensor<8xf32>, tensor<2x?x8xf32>) -> tensor<2x?x8xf32>
  %r = kiln.add %0, %y : (tensor<2x?x8xf32>, tensor<2x?x8xf32>) -> tensor<2x?x8xf32>
  %h = kiln.layer_norm %r, %g : (tensor<2x?x8xf32>, tensor<8xf32>) -> tensor<2x?x8xf32>
  %e = kiln.exp %r : (tensor<2x?x8xf32>) -> tensor<2x?x8xf32>
  return %h, %e : tensor<2x?x8xf32>, tensor<2x?x8xf32>
})"},
{"attention_bhsd_additive", "fuse-attention", "kiln.attention", 1, 6, "", R"(
func.func @main(%q: tensor<2x3x?x4xf32>, %k: tensor<2x3x?x4xf32>, %v: tensor<2x3x?x5xf32>, %m: tensor<2x1x1x?xf32>) -> tensor<2x3x?x5xf32> {
  %c = kiln.constant dense<2.0> : tensor<f32>
  %kt = kiln.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<2x3x?x4xf32>) -> tensor<2x3x4x?xf32>
  %s = kiln.matmul %q, %kt : (tensor<2x3x?x4xf32>, tensor<2x3x4x?xf32>) -> tensor<2x3x?x?xf32>
  %d = kiln.div %s, %c : (tensor<2x3x?x?xf32>, tensor<f32>) -> tensor<2x3x?x?xf32>
  %a = kiln.add %d, %m : (tensor<2x3x?x?xf32>, tensor<2x1x1x?xf32>) -> tensor<2x3x?x?xf32>
  %p = kiln.softmax %a : (tensor<2x3x?x?xf32>) -> tensor<2x3x?x?xf32>
  %o = kiln.matmul %p, %v : (tensor<2x3x?x?xf32>, tensor<2x3x?x5xf32>) -> tensor<2x3x?x5xf32>
  return %o : tensor<2x3x?x5xf32>
})"},
{"attention_bert_layout_padding", "fuse-attention", "kiln.attention", 1, 6, "layout = \"bsd\"", R"(
func.func @main(%xq: tensor<2x?x8xf32>, %xk: tensor<2x?x8xf32>, %xv: tensor<2x?x8xf32>, %mask: tensor<2x?xi64>) -> tensor<2x?x8xf32> {
  %split = kiln.constant dense<[0, 0, 2, 4]> : tensor<4xi64>
  %merge = kiln.constant dense<[0, 0, -1]> : tensor<3xi64>
  %one = kiln.constant dense<1.0> : tensor<f32>
  %big = kiln.constant dense<-10000.0> : tensor<f32>
  %sqrtd = kiln.constant dense<2.0> : tensor<f32>
  %m0 = kiln.unsqueeze %mask {axes = array<i64: 1, 2>} : (tensor<2x?xi64>) -> tensor<2x1x1x?xi64>
  %m1 = kiln.cast %m0 {to = f32} : (tensor<2x1x1x?xi64>) -> tensor<2x1x1x?xf32>
  %m2 = kiln.sub %one, %m1 : (tensor<f32>, tensor<2x1x1x?xf32>) -> tensor<2x1x1x?xf32>
  %ext = kiln.mul %m2, %big : (tensor<2x1x1x?xf32>, tensor<f32>) -> tensor<2x1x1x?xf32>
  %q0 = kiln.reshape %xq, %split : (tensor<2x?x8xf32>, tensor<4xi64>) -> tensor<2x?x2x4xf32>
  %q = kiln.transpose %q0 {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x?x2x4xf32>) -> tensor<2x2x?x4xf32>
  %k0 = kiln.reshape %xk, %split : (tensor<2x?x8xf32>, tensor<4xi64>) -> tensor<2x?x2x4xf32>
  %kt = kiln.transpose %k0 {perm = array<i64: 0, 2, 3, 1>} : (tensor<2x?x2x4xf32>) -> tensor<2x2x4x?xf32>
  %v0 = kiln.reshape %xv, %split : (tensor<2x?x8xf32>, tensor<4xi64>) -> tensor<2x?x2x4xf32>
  %v = kiln.transpose %v0 {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x?x2x4xf32>) -> tensor<2x2x?x4xf32>
  %s = kiln.matmul %q, %kt : (tensor<2x2x?x4xf32>, tensor<2x2x4x?xf32>) -> tensor<2x2x?x?xf32>
  %d = kiln.div %s, %sqrtd : (tensor<2x2x?x?xf32>, tensor<f32>) -> tensor<2x2x?x?xf32>
  %a = kiln.add %d, %ext : (tensor<2x2x?x?xf32>, tensor<2x1x1x?xf32>) -> tensor<2x2x?x?xf32>
  %p = kiln.softmax %a : (tensor<2x2x?x?xf32>) -> tensor<2x2x?x?xf32>
  %o = kiln.matmul %p, %v : (tensor<2x2x?x?xf32>, tensor<2x2x?x4xf32>) -> tensor<2x2x?x4xf32>
  %ot = kiln.transpose %o {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x2x?x4xf32>) -> tensor<2x?x2x4xf32>
  %out = kiln.reshape %ot, %merge : (tensor<2x?x2x4xf32>, tensor<3xi64>) -> tensor<2x?x8xf32>
  return %out : tensor<2x?x8xf32>
})"},
{"attention_gpt2_tril_buffer", "fuse-attention", "kiln.attention", 1, 4, "causal = true", R"(
func.func @main(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
  %bias = kiln.constant dense<[[[[true, false, false, false], [true, true, false, false], [true, true, true, false], [true, true, true, true]]]]> : tensor<1x1x4x4xi1>
  %fill = kiln.constant dense<0xFF800000> : tensor<f32>
  %c = kiln.constant dense<0.5> : tensor<f32>
  %i2 = kiln.constant dense<2> : tensor<i64>
  %z = kiln.constant dense<[0]> : tensor<1xi64>
  %ax2 = kiln.constant dense<[2]> : tensor<1xi64>
  %ax3 = kiln.constant dense<[3]> : tensor<1xi64>
  %st = kiln.constant dense<[1]> : tensor<1xi64>
  %shape = kiln.shape %q : (tensor<1x2x?x4xf32>) -> tensor<4xi64>
  %t = kiln.gather %shape, %i2 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %tu = kiln.unsqueeze %t {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %kt = kiln.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x4xf32>) -> tensor<1x2x4x?xf32>
  %s = kiln.matmul %q, %kt : (tensor<1x2x?x4xf32>, tensor<1x2x4x?xf32>) -> tensor<1x2x?x?xf32>
  %d = kiln.mul %s, %c : (tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %c0 = kiln.slice %bias, %z, %tu, %ax2, %st : (tensor<1x1x4x4xi1>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x1x?x4xi1>
  %c1 = kiln.slice %c0, %z, %tu, %ax3, %st : (tensor<1x1x?x4xi1>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x1x?x?xi1>
  %w = kiln.where %c1, %d, %fill : (tensor<1x1x?x?xi1>, tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %p = kiln.softmax %w : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
})"},
{"attention_kv_offset_causal", "fuse-attention", "kiln.attention", 1, 1, "causal = true", R"(
func.func @main(%q: tensor<1x2x2x4xf32>, %k: tensor<1x2x5x4xf32>, %v: tensor<1x2x5x4xf32>) -> tensor<1x2x2x4xf32> {
  %bias = kiln.constant dense<[[[[true, false, false, false, false, false], [true, true, false, false, false, false], [true, true, true, false, false, false], [true, true, true, true, false, false], [true, true, true, true, true, false], [true, true, true, true, true, true]]]]> : tensor<1x1x6x6xi1>
  %fill = kiln.constant dense<-3.40282347E+38> : tensor<f32>
  %starts = kiln.constant dense<[3, 0]> : tensor<2xi64>
  %ends = kiln.constant dense<[5, 5]> : tensor<2xi64>
  %axes = kiln.constant dense<[2, 3]> : tensor<2xi64>
  %steps = kiln.constant dense<[1, 1]> : tensor<2xi64>
  %kt = kiln.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x5x4xf32>) -> tensor<1x2x4x5xf32>
  %s = kiln.matmul %q, %kt : (tensor<1x2x2x4xf32>, tensor<1x2x4x5xf32>) -> tensor<1x2x2x5xf32>
  %c = kiln.slice %bias, %starts, %ends, %axes, %steps : (tensor<1x1x6x6xi1>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<1x1x2x5xi1>
  %w = kiln.where %c, %s, %fill : (tensor<1x1x2x5xi1>, tensor<1x2x2x5xf32>, tensor<f32>) -> tensor<1x2x2x5xf32>
  %p = kiln.softmax %w : (tensor<1x2x2x5xf32>) -> tensor<1x2x2x5xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x2x5xf32>, tensor<1x2x5x4xf32>) -> tensor<1x2x2x4xf32>
  return %o : tensor<1x2x2x4xf32>
})"},
{"attention_masked_fill_equal_zero", "fuse-attention", "kiln.attention", 1, 6, "kiln.not", R"(
func.func @main(%q: tensor<2x2x?x4xf32>, %k: tensor<2x2x?x4xf32>, %v: tensor<2x2x?x4xf32>, %m: tensor<2x1x1x?xi64>) -> tensor<2x2x?x4xf32> {
  %zero = kiln.constant dense<0> : tensor<i64>
  %inf = kiln.constant dense<0xFF800000> : tensor<f32>
  %kt = kiln.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<2x2x?x4xf32>) -> tensor<2x2x4x?xf32>
  %s = kiln.matmul %q, %kt : (tensor<2x2x?x4xf32>, tensor<2x2x4x?xf32>) -> tensor<2x2x?x?xf32>
  %eq = kiln.equal %m, %zero : (tensor<2x1x1x?xi64>, tensor<i64>) -> tensor<2x1x1x?xi1>
  %w = kiln.where %eq, %inf, %s : (tensor<2x1x1x?xi1>, tensor<f32>, tensor<2x2x?x?xf32>) -> tensor<2x2x?x?xf32>
  %p = kiln.softmax %w : (tensor<2x2x?x?xf32>) -> tensor<2x2x?x?xf32>
  %o = kiln.matmul %p, %v : (tensor<2x2x?x?xf32>, tensor<2x2x?x4xf32>) -> tensor<2x2x?x4xf32>
  return %o : tensor<2x2x?x4xf32>
})"},
{"attention_trilu_causal", "fuse-attention", "kiln.attention", 1, 6, "causal = true", R"(
func.func @main(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
  %i2 = kiln.constant dense<2> : tensor<i64>
  %zero = kiln.constant dense<0.0> : tensor<f32>
  %inf = kiln.constant dense<-1.0e9> : tensor<f32>
  %shape = kiln.shape %q : (tensor<1x2x?x4xf32>) -> tensor<4xi64>
  %t = kiln.gather %shape, %i2 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %tu = kiln.unsqueeze %t {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %tt = kiln.concat %tu, %tu {axis = 0} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %ones = kiln.constant_of_shape %tt {value = 1.0 : f32} : (tensor<2xi64>) -> tensor<?x?xf32>
  %tril = kiln.trilu %ones {upper = false} : (tensor<?x?xf32>) -> tensor<?x?xf32>
  %eq = kiln.equal %tril, %zero : (tensor<?x?xf32>, tensor<f32>) -> tensor<?x?xi1>
  %kt = kiln.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x4xf32>) -> tensor<1x2x4x?xf32>
  %s = kiln.matmul %q, %kt : (tensor<1x2x?x4xf32>, tensor<1x2x4x?xf32>) -> tensor<1x2x?x?xf32>
  %w = kiln.where %eq, %inf, %s : (tensor<?x?xi1>, tensor<f32>, tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %p = kiln.softmax %w : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
})"},
{"attention_range_causal_additive", "fuse-attention", "kiln.attention", 1, 6, "causal = true", R"(
func.func @main(%q: tensor<1x2x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32> {
  %i0 = kiln.constant dense<0> : tensor<i64>
  %i1 = kiln.constant dense<1> : tensor<i64>
  %i2 = kiln.constant dense<2> : tensor<i64>
  %inf = kiln.constant dense<0xFF800000> : tensor<f32>
  %shape = kiln.shape %q : (tensor<1x2x?x4xf32>) -> tensor<4xi64>
  %t = kiln.gather %shape, %i2 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %tu = kiln.unsqueeze %t {axes = array<i64: 0>} : (tensor<i64>) -> tensor<1xi64>
  %tt = kiln.concat %tu, %tu {axis = 0} : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %zeros = kiln.constant_of_shape %tt {value = 0.0 : f32} : (tensor<2xi64>) -> tensor<?x?xf32>
  %r = kiln.range %i0, %t, %i1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %rj = kiln.unsqueeze %r {axes = array<i64: 0>} : (tensor<?xi64>) -> tensor<1x?xi64>
  %ri = kiln.unsqueeze %r {axes = array<i64: 1>} : (tensor<?xi64>) -> tensor<?x1xi64>
  %above = kiln.greater %rj, %ri : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %mask = kiln.where %above, %inf, %zeros : (tensor<?x?xi1>, tensor<f32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  %kt = kiln.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x4xf32>) -> tensor<1x2x4x?xf32>
  %s = kiln.matmul %q, %kt : (tensor<1x2x?x4xf32>, tensor<1x2x4x?xf32>) -> tensor<1x2x?x?xf32>
  %a = kiln.add %s, %mask : (tensor<1x2x?x?xf32>, tensor<?x?xf32>) -> tensor<1x2x?x?xf32>
  %p = kiln.softmax %a : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x4xf32>) -> tensor<1x2x?x4xf32>
  return %o : tensor<1x2x?x4xf32>
})"},
{"attention_mha_rank3_qscale", "fuse-attention", "kiln.attention", 1, 6, "kiln.squeeze", R"(
func.func @main(%q: tensor<6x?x4xf32>, %k: tensor<5x6x4xf32>, %v: tensor<6x5x3xf32>) -> tensor<6x?x3xf32> {
  %two = kiln.constant dense<2.0> : tensor<f32>
  %qs = kiln.div %q, %two : (tensor<6x?x4xf32>, tensor<f32>) -> tensor<6x?x4xf32>
  %kt = kiln.transpose %k {perm = array<i64: 1, 2, 0>} : (tensor<5x6x4xf32>) -> tensor<6x4x5xf32>
  %s = kiln.matmul %qs, %kt : (tensor<6x?x4xf32>, tensor<6x4x5xf32>) -> tensor<6x?x5xf32>
  %p = kiln.softmax %s : (tensor<6x?x5xf32>) -> tensor<6x?x5xf32>
  %o = kiln.matmul %p, %v : (tensor<6x?x5xf32>, tensor<6x5x3xf32>) -> tensor<6x?x3xf32>
  return %o : tensor<6x?x3xf32>
})"},
{"attention_packed_qkv_gather", "fuse-attention", "kiln.attention", 1, 6, "layout = \"bsd\"", R"(
func.func @main(%x: tensor<2x?x24xf32>) -> tensor<2x?x8xf32> {
  %shape5 = kiln.constant dense<[0, 0, 3, 2, 4]> : tensor<5xi64>
  %merge = kiln.constant dense<[0, 0, 8]> : tensor<3xi64>
  %i0 = kiln.constant dense<0> : tensor<i64>
  %i1 = kiln.constant dense<1> : tensor<i64>
  %i2 = kiln.constant dense<2> : tensor<i64>
  %c = kiln.constant dense<0.5> : tensor<f32>
  %r = kiln.reshape %x, %shape5 : (tensor<2x?x24xf32>, tensor<5xi64>) -> tensor<2x?x3x2x4xf32>
  %t = kiln.transpose %r {perm = array<i64: 2, 0, 3, 1, 4>} : (tensor<2x?x3x2x4xf32>) -> tensor<3x2x2x?x4xf32>
  %q = kiln.gather %t, %i0 : (tensor<3x2x2x?x4xf32>, tensor<i64>) -> tensor<2x2x?x4xf32>
  %k = kiln.gather %t, %i1 : (tensor<3x2x2x?x4xf32>, tensor<i64>) -> tensor<2x2x?x4xf32>
  %v = kiln.gather %t, %i2 : (tensor<3x2x2x?x4xf32>, tensor<i64>) -> tensor<2x2x?x4xf32>
  %kt = kiln.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<2x2x?x4xf32>) -> tensor<2x2x4x?xf32>
  %s = kiln.matmul %q, %kt : (tensor<2x2x?x4xf32>, tensor<2x2x4x?xf32>) -> tensor<2x2x?x?xf32>
  %d = kiln.mul %s, %c : (tensor<2x2x?x?xf32>, tensor<f32>) -> tensor<2x2x?x?xf32>
  %p = kiln.softmax %d : (tensor<2x2x?x?xf32>) -> tensor<2x2x?x?xf32>
  %o = kiln.matmul %p, %v : (tensor<2x2x?x?xf32>, tensor<2x2x?x4xf32>) -> tensor<2x2x?x4xf32>
  %ot = kiln.transpose %o {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x2x?x4xf32>) -> tensor<2x?x2x4xf32>
  %out = kiln.reshape %ot, %merge : (tensor<2x?x2x4xf32>, tensor<3xi64>) -> tensor<2x?x8xf32>
  return %out : tensor<2x?x8xf32>
})"},
// The split of a constant QKV projection (GPT-2's c_attn) is cut into one
// projection per part: no kiln.split is left.
{"attention_qkv_projection_split", "fuse-attention", "kiln.split", 0, 6, "layout = \"bsd\"", R"(
func.func @main(%h: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> {
  %w = kiln.constant dense<[[0.246, 0.484, 0.590, 0.885, 0.480, 0.845, -0.942, -0.069, 0.887, 0.298, 0.802, -0.774], [-0.062, -0.507, 0.088, 0.148, -0.974, -0.567, -0.441, 0.833, 0.531, -0.681, 0.594, -0.722], [0.235, -0.747, -0.996, 0.743, -0.581, -0.569, 0.965, 0.745, -0.421, 0.923, 0.078, 0.356], [-0.590, 0.882, 0.381, 0.933, 0.787, -0.402, -0.278, -0.668, -0.709, -0.870, -0.397, 0.206]]> : tensor<4x12xf32>
  %b = kiln.constant dense<[-0.993, 0.356, -0.324, -0.380, 0.637, -0.039, -0.368, -0.038, 0.409, -0.886, 0.950, -0.954]> : tensor<12xf32>
  %split = kiln.constant dense<[0, 0, 2, 2]> : tensor<4xi64>
  %merge = kiln.constant dense<[0, 0, 4]> : tensor<3xi64>
  %c = kiln.constant dense<0.7> : tensor<f32>
  %mm = kiln.matmul %h, %w : (tensor<1x?x4xf32>, tensor<4x12xf32>) -> tensor<1x?x12xf32>
  %qkv = kiln.add %mm, %b : (tensor<1x?x12xf32>, tensor<12xf32>) -> tensor<1x?x12xf32>
  %xq, %xk, %xv = kiln.split %qkv {axis = 2, sizes = array<i64: 4, 4, 4>} : (tensor<1x?x12xf32>) -> (tensor<1x?x4xf32>, tensor<1x?x4xf32>, tensor<1x?x4xf32>)
  %q0 = kiln.reshape %xq, %split : (tensor<1x?x4xf32>, tensor<4xi64>) -> tensor<1x?x2x2xf32>
  %q = kiln.transpose %q0 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x2xf32>) -> tensor<1x2x?x2xf32>
  %k0 = kiln.reshape %xk, %split : (tensor<1x?x4xf32>, tensor<4xi64>) -> tensor<1x?x2x2xf32>
  %kt = kiln.transpose %k0 {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x?x2x2xf32>) -> tensor<1x2x2x?xf32>
  %v0 = kiln.reshape %xv, %split : (tensor<1x?x4xf32>, tensor<4xi64>) -> tensor<1x?x2x2xf32>
  %v = kiln.transpose %v0 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x2xf32>) -> tensor<1x2x?x2xf32>
  %s = kiln.matmul %q, %kt : (tensor<1x2x?x2xf32>, tensor<1x2x2x?xf32>) -> tensor<1x2x?x?xf32>
  %d = kiln.mul %s, %c : (tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %p = kiln.softmax %d : (tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %o = kiln.matmul %p, %v : (tensor<1x2x?x?xf32>, tensor<1x2x?x2xf32>) -> tensor<1x2x?x2xf32>
  %ot = kiln.transpose %o {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x2x?x2xf32>) -> tensor<1x?x2x2xf32>
  %out = kiln.reshape %ot, %merge : (tensor<1x?x2x2xf32>, tensor<3xi64>) -> tensor<1x?x4xf32>
  return %out : tensor<1x?x4xf32>
})"},
// The same through the packed [B,S,3,H,D] head split, with a fused_matmul
// projection whose activation must be kept per part.
{"attention_packed_qkv_projection", "fuse-attention", "kiln.split", 0, 6, "activation = \"relu\"", R"(
func.func @main(%h: tensor<2x?x4xf32>) -> tensor<2x?x8xf32> {
  %w = kiln.constant dense<[[0.500, 0.690, -0.964, 0.575, -0.268, 0.157, -0.982, -0.907, -0.638, 0.910, -0.607, 0.511, 0.859, 0.884, -0.311, -0.290, 0.049, 0.551, -0.784, 0.497, 0.594, 0.719, -0.927, 0.892], [-0.818, -0.319, 0.222, 0.836, -0.320, 0.848, 0.090, -0.375, -0.366, -0.645, -0.844, -0.702, 0.378, 0.993, -0.677, -0.903, 0.973, 0.067, -0.188, -0.525, 0.188, 0.653, -0.089, -0.156], [-0.889, 0.832, -0.935, -0.013, 0.677, -0.739, 0.463, 0.900, 0.261, 0.576, -0.787, -0.131, -0.702, 0.689, -0.410, -0.094, 0.999, 0.705, 0.952, -0.093, -0.024, 0.459, -0.042, -0.418], [-0.192, -0.707, -0.246, 0.977, 0.920, 0.254, -0.001, -0.323, -0.822, -0.455, 0.564, 0.735, -0.277, 0.572, 0.550, 0.389, 0.328, 0.519, -0.273, 0.409, -0.438, -0.029, 0.539, 0.382]]> : tensor<4x24xf32>
  %b = kiln.constant dense<[-0.412, 0.891, 0.299, 0.161, -0.977, 0.094, -0.499, 0.343, -0.074, 0.633, 0.295, 0.595, -0.304, 0.288, 0.476, 0.656, -0.300, 0.686, 0.740, 0.377, 0.952, 0.913, 0.036, 0.059]> : tensor<24xf32>
  %shape5 = kiln.constant dense<[0, 0, 3, 2, 4]> : tensor<5xi64>
  %merge = kiln.constant dense<[0, 0, 8]> : tensor<3xi64>
  %i0 = kiln.constant dense<0> : tensor<i64>
  %i1 = kiln.constant dense<1> : tensor<i64>
  %i2 = kiln.constant dense<2> : tensor<i64>
  %c = kiln.constant dense<0.5> : tensor<f32>
  %x = kiln.fused_matmul %h, %w, %b {activation = "relu"} : (tensor<2x?x4xf32>, tensor<4x24xf32>, tensor<24xf32>) -> tensor<2x?x24xf32>
  %r = kiln.reshape %x, %shape5 : (tensor<2x?x24xf32>, tensor<5xi64>) -> tensor<2x?x3x2x4xf32>
  %t = kiln.transpose %r {perm = array<i64: 2, 0, 3, 1, 4>} : (tensor<2x?x3x2x4xf32>) -> tensor<3x2x2x?x4xf32>
  %q = kiln.gather %t, %i0 : (tensor<3x2x2x?x4xf32>, tensor<i64>) -> tensor<2x2x?x4xf32>
  %k = kiln.gather %t, %i1 : (tensor<3x2x2x?x4xf32>, tensor<i64>) -> tensor<2x2x?x4xf32>
  %v = kiln.gather %t, %i2 : (tensor<3x2x2x?x4xf32>, tensor<i64>) -> tensor<2x2x?x4xf32>
  %kt = kiln.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<2x2x?x4xf32>) -> tensor<2x2x4x?xf32>
  %s = kiln.matmul %q, %kt : (tensor<2x2x?x4xf32>, tensor<2x2x4x?xf32>) -> tensor<2x2x?x?xf32>
  %d = kiln.mul %s, %c : (tensor<2x2x?x?xf32>, tensor<f32>) -> tensor<2x2x?x?xf32>
  %p = kiln.softmax %d : (tensor<2x2x?x?xf32>) -> tensor<2x2x?x?xf32>
  %o = kiln.matmul %p, %v : (tensor<2x2x?x?xf32>, tensor<2x2x?x4xf32>) -> tensor<2x2x?x4xf32>
  %ot = kiln.transpose %o {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x2x?x4xf32>) -> tensor<2x?x2x4xf32>
  %out = kiln.reshape %ot, %merge : (tensor<2x?x2x4xf32>, tensor<3xi64>) -> tensor<2x?x8xf32>
  return %out : tensor<2x?x8xf32>
})"},
{"matmul_epilogues", "fuse-matmul-epilogue", "kiln.fused_matmul", 3, 6, "activation = \"tanh\"", R"(
func.func @main(%x: tensor<?x3xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>) {
  %w = kiln.constant dense<[[1.0, -2.0], [0.5, 0.25], [-1.0, 3.0]]> : tensor<3x2xf32>
  %wt = kiln.constant dense<[[1.0, 0.5, -1.0], [-2.0, 0.25, 3.0]]> : tensor<2x3xf32>
  %b = kiln.constant dense<[0.1, -0.3]> : tensor<2xf32>
  %0 = kiln.matmul %x, %w : (tensor<?x3xf32>, tensor<3x2xf32>) -> tensor<?x2xf32>
  %1 = kiln.add %0, %b : (tensor<?x2xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  %2 = kiln.gelu %1 : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %t = kiln.transpose %wt {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  %3 = kiln.matmul %x, %t : (tensor<?x3xf32>, tensor<3x2xf32>) -> tensor<?x2xf32>
  %4 = kiln.add %b, %3 : (tensor<2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %5 = kiln.relu %4 : (tensor<?x2xf32>) -> tensor<?x2xf32>
  %6 = kiln.gemm %x, %wt, %b {trans_b = true, alpha = 0.5 : f32, beta = 2.0 : f32} : (tensor<?x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  %7 = kiln.tanh %6 : (tensor<?x2xf32>) -> tensor<?x2xf32>
  return %2, %5, %7 : tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2xf32>
})"},
};
// clang-format on

class FusionCaseTest : public FusionTest,
                       public ::testing::WithParamInterface<Case> {};

TEST_P(FusionCaseTest, SameOutputsBeforeAndAfter) {
  const Case &c = GetParam();
  auto module = mlir::parseSourceString<mlir::ModuleOp>(c.ir, &ctx);
  ASSERT_TRUE(module) << diagnostics;
  auto fused = module->clone();
  mlir::OwningOpRef<mlir::ModuleOp> fusedOwner(fused);
  ASSERT_TRUE(mlir::succeeded(runPipeline(fused, c.pipeline))) << diagnostics;
  EXPECT_EQ(countOps(fused, c.fusedOp), c.fusedCount)
      << c.name << " after " << c.pipeline;
  EXPECT_EQ(countOps(fused, "kiln.softmax"), 0);
  std::string printed;
  llvm::raw_string_ostream os(printed);
  fused.print(os);
  EXPECT_NE(printed.find(c.expect), std::string::npos)
      << c.name << ": no \"" << c.expect << "\" in\n"
      << printed;
  EXPECT_EQ(countOps(fused, "kiln.erf") + countOps(fused, "kiln.reduce_mean"),
            0);

  std::mt19937 rng(1234);
  for (int64_t size = 1; size <= c.maxDim; ++size) {
    std::vector<Tensor> inputs = randomInputs(mainOf(*module), size, rng);
    auto before = interpret(mainOf(*module), inputs);
    ASSERT_TRUE(mlir::succeeded(before)) << diagnostics;
    auto after = interpret(mainOf(fused), inputs);
    ASSERT_TRUE(mlir::succeeded(after)) << diagnostics;
    ASSERT_EQ(before->size(), after->size());
    for (size_t i = 0; i < before->size(); ++i)
      EXPECT_LE(relativeError((*after)[i], (*before)[i]), 1e-4)
          << c.name << ": output " << i << " with dynamic dims = " << size;
  }
}

INSTANTIATE_TEST_SUITE_P(Patterns, FusionCaseTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case> &info) {
                           return std::string(info.param.name);
                         });

/// What the fusion pipeline must leave in each committed e2e model (both
/// opsets give the same counts).
struct ModelCounts {
  int attention, causal, bsd, layerNorm, skipLayerNorm, gelu, fusedMatMul,
      softmax;
};
const std::map<std::string, ModelCounts> kModelCounts = {
    // BERT: 2 layers; embedding LN + 2 LNs per layer all take a residual;
    // GELU and the pooler's tanh go into fused matmuls.
    {"bert", {2, 0, 2, 0, 5, 0, 9, 0}},
    {"bert_qscale", {2, 0, 2, 0, 5, 0, 9, 0}},
    // GPT-2: 2 pre-LN blocks; the first LN's input is a broadcasting
    // token + position embedding add, so it stays a plain layer_norm. The
    // fused QKV projection is cut into 3 (no split): 2 x (3 + MLP up).
    {"gpt2", {2, 2, 2, 1, 4, 0, 8, 0}},
    // Encoder-decoder: 2 encoder self, 2 decoder causal self, 2 cross.
    {"seq2seq", {6, 2, 6, 0, 10, 0, 22, 0}},
    // MoE: one attention (its QKV projection cut into 3); the router's
    // softmax stays; experts' batched [4, K, N] weights are not 2-D, so their
    // GELU stays standalone.
    {"moe_scatter", {1, 0, 1, 1, 1, 1, 3, 1}},
    {"moe_onehot", {1, 0, 1, 1, 1, 1, 3, 1}},
};

TEST_F(FusionTest, CommittedModels) {
  std::string root = std::string(KILN_SOURCE_DIR) + "/tests/e2e/models";
  std::error_code ec;
  int checked = 0;
  for (llvm::sys::fs::directory_iterator it(root, ec), end; it != end && !ec;
       it.increment(ec)) {
    std::string dir = it->path();
    std::string name = llvm::sys::path::filename(dir).str();
    if (!llvm::sys::fs::exists(dir + "/model.onnx"))
      continue;
    std::string family = name.substr(0, name.rfind("_op"));
    SCOPED_TRACE(name);
    auto expected = kModelCounts.find(family);
    ASSERT_NE(expected, kModelCounts.end())
        << "no expected counts for " << name;

    auto module = importOnnxFile(dir + "/model.onnx", ctx, OnnxImportOptions());
    ASSERT_TRUE(module) << diagnostics;
    mlir::func::FuncOp fn = mainOf(*module);
    std::vector<Tensor> inputs;
    for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
      auto argName = fn.getArgAttrOfType<mlir::StringAttr>(i, "kiln.name");
      ASSERT_TRUE(argName);
      inputs.push_back(readNpy(dir + "/inputs/" + argName.str() + ".npy"));
    }
    auto before = interpret(fn, inputs);
    ASSERT_TRUE(mlir::succeeded(before)) << diagnostics;

    ASSERT_TRUE(mlir::succeeded(runPipeline(*module, "kiln-fusion-pipeline")))
        << diagnostics;
    const ModelCounts &want = expected->second;
    int causal = 0, bsd = 0;
    module->walk([&](AttentionOp op) {
      causal += op.getCausal();
      bsd += op.getLayout() == "bsd";
    });
    EXPECT_EQ(countOps(*module, "kiln.attention"), want.attention);
    EXPECT_EQ(causal, want.causal);
    EXPECT_EQ(bsd, want.bsd);
    EXPECT_EQ(countOps(*module, "kiln.layer_norm"), want.layerNorm);
    EXPECT_EQ(countOps(*module, "kiln.skip_layer_norm"), want.skipLayerNorm);
    EXPECT_EQ(countOps(*module, "kiln.gelu"), want.gelu);
    EXPECT_EQ(countOps(*module, "kiln.fused_matmul"), want.fusedMatMul);
    EXPECT_EQ(countOps(*module, "kiln.softmax"), want.softmax);
    // Nothing of a decomposed LayerNorm or GELU is left.
    for (const char *op : {"kiln.layer_normalization", "kiln.reduce_mean",
                           "kiln.erf", "kiln.pow", "kiln.sqrt"})
      EXPECT_EQ(countOps(*module, op), 0) << op;

    auto after = interpret(mainOf(*module), inputs);
    ASSERT_TRUE(mlir::succeeded(after)) << diagnostics;
    ASSERT_EQ(after->size(), before->size());
    for (size_t i = 0; i < after->size(); ++i) {
      EXPECT_LE(relativeError((*after)[i], (*before)[i]), 1e-4)
          << "output " << i;
      auto outName = fn.getResultAttrOfType<mlir::StringAttr>(i, "kiln.name");
      if (outName &&
          llvm::sys::fs::exists(dir + "/outputs/" + outName.str() + ".npy")) {
        Tensor expectedOut =
            readNpy(dir + "/outputs/" + outName.str() + ".npy");
        EXPECT_LE(relativeError((*after)[i], expectedOut), 1e-4)
            << outName.str();
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 0) << "no models under " << root;
}

} // namespace

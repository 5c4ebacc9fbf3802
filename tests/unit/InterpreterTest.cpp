// Tests of the reference interpreter on parsed kiln IR and of the conversions
// between ElementsAttr (dense and dense_resource) and ref::Tensor.
#include "KilnIRTest.h"
#include "kiln/IR/Interpreter.h"
#include "kiln/IR/KilnDialect.h"
#include "kiln/IR/TensorConversion.h"
#include "kiln/Reference/Kernels.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <gtest/gtest.h>

using namespace kiln;
using namespace kiln::ref;

namespace {

class InterpreterTest : public KilnIRTest {
protected:

  mlir::func::FuncOp parse(llvm::StringRef src, llvm::StringRef name = "main") {
    module = mlir::parseSourceString<mlir::ModuleOp>(src, &ctx);
    if (!module)
      return {};
    return module->lookupSymbol<mlir::func::FuncOp>(name);
  }

  mlir::OwningOpRef<mlir::ModuleOp> module;
};

Tensor F(Shape s, std::vector<float> v) {
  return Tensor::of(DType::F32, std::move(s), std::move(v));
}
Tensor I(Shape s, std::vector<int64_t> v) {
  return Tensor::of(DType::I64, std::move(s), std::move(v));
}

Tensor random(Shape s, uint32_t seed) {
  Tensor t(DType::F32, std::move(s));
  uint32_t x = seed * 2654435761u + 7;
  for (int64_t i = 0; i < t.numel(); ++i) {
    x = x * 1664525u + 1013904223u;
    t.data<float>()[i] = (float)((x >> 8) / double(1 << 24) * 2.0 - 1.0);
  }
  return t;
}

} // namespace

TEST_F(InterpreterTest, RunsAGraphWithDynamicDims) {
  auto fn = parse(R"mlir(
    func.func @main(%x: tensor<?x3xf32> {kiln.name = "x"}, %w: tensor<3x2xf32>)
        -> (tensor<?x2xf32> {kiln.name = "y"}) {
      %b = kiln.constant dense<[1.0, -1.0]> : tensor<2xf32>
      %m = kiln.matmul %x, %w : (tensor<?x3xf32>, tensor<3x2xf32>) -> tensor<?x2xf32>
      %a = kiln.add %m, %b : (tensor<?x2xf32>, tensor<2xf32>) -> tensor<?x2xf32>
      %s = kiln.softmax %a {axis = -1} : (tensor<?x2xf32>) -> tensor<?x2xf32>
      return %s : tensor<?x2xf32>
    })mlir");
  ASSERT_TRUE(fn) << diagnostics;
  Tensor x = F({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor w = F({3, 2}, {1, 0, 0, 1, 1, 1});
  auto out = interpret(fn, {x, w});
  ASSERT_TRUE(succeeded(out)) << diagnostics;
  ASSERT_EQ(out->size(), 1u);
  Tensor want =
      softmax(binary(BinaryKind::Add, matmul(x, w), F({2}, {1, -1})), -1);
  EXPECT_EQ(relativeError((*out)[0], want), 0.0);
  // Another size for the dynamic dim.
  auto out2 = interpret(fn, {F({1, 3}, {0, 0, 0}), w});
  ASSERT_TRUE(succeeded(out2)) << diagnostics;
  EXPECT_EQ((*out2)[0].shape(), (Shape{1, 2}));
}

TEST_F(InterpreterTest, ChecksInputsAgainstTheSignature) {
  auto fn = parse(R"mlir(
    func.func @main(%ids: tensor<1x?xi64> {kiln.name = "input_ids"}, %f: tensor<4xf32>)
        -> tensor<1x?xi64> {
      return %ids : tensor<1x?xi64>
    })mlir");
  ASSERT_TRUE(fn) << diagnostics;
  Tensor f(DType::F32, {4});
  EXPECT_TRUE(succeeded(interpret(fn, {I({1, 5}, {1, 2, 3, 4, 5}), f})));
  EXPECT_TRUE(failed(interpret(fn, {I({1, 5}, {1, 2, 3, 4, 5})})));
  EXPECT_NE(diagnostics.find("takes 2 inputs but 1 were given"),
            std::string::npos)
      << diagnostics;
  diagnostics.clear();
  EXPECT_TRUE(failed(interpret(fn, {F({1, 2}, {1, 2}), f})));
  EXPECT_NE(diagnostics.find("input 'input_ids' is tensor<1x2xf32> but the "
                             "model expects tensor<1x?xi64>"),
            std::string::npos)
      << diagnostics;
  diagnostics.clear();
  EXPECT_TRUE(failed(interpret(fn, {I({2, 1}, {1, 2}), f})));
  EXPECT_NE(diagnostics.find("input 'input_ids'"), std::string::npos);
  diagnostics.clear();
  EXPECT_TRUE(failed(interpret(fn, {I({1, 1}, {1}), Tensor(DType::F32, {5})})));
  EXPECT_NE(diagnostics.find("input #1 is tensor<5xf32>"), std::string::npos)
      << diagnostics;
}

TEST_F(InterpreterTest, KernelErrorsNameTheNode) {
  auto fn = parse(R"mlir(
    func.func @main(%x: tensor<3x2xf32>, %i: tensor<2xi64>) -> tensor<2x2xf32> {
      %g = kiln.gather %x, %i {axis = 0} : (tensor<3x2xf32>, tensor<2xi64>) -> tensor<2x2xf32> loc("embed/Gather_3")
      return %g : tensor<2x2xf32>
    })mlir");
  ASSERT_TRUE(fn) << diagnostics;
  Tensor x = F({3, 2}, {1, 2, 3, 4, 5, 6});
  auto ok = interpret(fn, {x, I({2}, {2, -1})});
  ASSERT_TRUE(succeeded(ok)) << diagnostics;
  EXPECT_EQ(relativeError((*ok)[0], F({2, 2}, {5, 6, 5, 6})), 0.0);
  EXPECT_TRUE(failed(interpret(fn, {x, I({2}, {0, 7})})));
  EXPECT_NE(diagnostics.find("embed/Gather_3"), std::string::npos)
      << diagnostics;
  EXPECT_NE(diagnostics.find("gather: index 7 is out of range"),
            std::string::npos)
      << diagnostics;
}

TEST_F(InterpreterTest, UnknownOpsAreReported) {
  auto fn = parse(R"mlir(
    func.func private @helper(%x: tensor<2xf32>) -> tensor<2xf32>
    func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
      %y = func.call @helper(%x) : (tensor<2xf32>) -> tensor<2xf32>
      return %y : tensor<2xf32>
    })mlir");
  ASSERT_TRUE(fn) << diagnostics;
  EXPECT_TRUE(failed(interpret(fn, {F({2}, {1, 2})})));
  EXPECT_NE(diagnostics.find("does not know op 'func.call'"), std::string::npos)
      << diagnostics;
}

TEST_F(InterpreterTest, FusedAttentionMatchesTheUnfusedGraph) {
  auto fused = parse(R"mlir(
    func.func @main(%q: tensor<1x4x8xf32>, %k: tensor<1x6x8xf32>, %v: tensor<1x6x8xf32>,
                    %m: tensor<1x1x1x6xf32>) -> tensor<1x4x8xf32> {
      %a = kiln.attention %q, %k, %v, %m {scale = 0.5 : f32, num_heads = 2, causal = true, layout = "bsd"}
        : (tensor<1x4x8xf32>, tensor<1x6x8xf32>, tensor<1x6x8xf32>, tensor<1x1x1x6xf32>) -> tensor<1x4x8xf32>
      return %a : tensor<1x4x8xf32>
    })mlir");
  ASSERT_TRUE(fused) << diagnostics;
  Tensor q = random({1, 4, 8}, 1), k = random({1, 6, 8}, 2),
         v = random({1, 6, 8}, 3), m = random({1, 1, 1, 6}, 4);
  auto got = interpret(fused, {q, k, v, m});
  ASSERT_TRUE(succeeded(got)) << diagnostics;
  auto unfused = parse(R"mlir(
    func.func @main(%q: tensor<1x4x8xf32>, %k: tensor<1x6x8xf32>, %v: tensor<1x6x8xf32>,
                    %m: tensor<1x1x1x6xf32>) -> tensor<1x4x8xf32> {
      %s4 = kiln.constant dense<[1, 4, 2, 4]> : tensor<4xi64>
      %s6 = kiln.constant dense<[1, 6, 2, 4]> : tensor<4xi64>
      %qr = kiln.reshape %q, %s4 : (tensor<1x4x8xf32>, tensor<4xi64>) -> tensor<1x4x2x4xf32>
      %kr = kiln.reshape %k, %s6 : (tensor<1x6x8xf32>, tensor<4xi64>) -> tensor<1x6x2x4xf32>
      %vr = kiln.reshape %v, %s6 : (tensor<1x6x8xf32>, tensor<4xi64>) -> tensor<1x6x2x4xf32>
      %qt = kiln.transpose %qr {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x4x2x4xf32>) -> tensor<1x2x4x4xf32>
      %kt = kiln.transpose %kr {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x6x2x4xf32>) -> tensor<1x2x4x6xf32>
      %vt = kiln.transpose %vr {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x6x2x4xf32>) -> tensor<1x2x6x4xf32>
      %s = kiln.matmul %qt, %kt : (tensor<1x2x4x4xf32>, tensor<1x2x4x6xf32>) -> tensor<1x2x4x6xf32>
      %half = kiln.constant dense<0.5> : tensor<f32>
      %ss = kiln.mul %s, %half : (tensor<1x2x4x6xf32>, tensor<f32>) -> tensor<1x2x4x6xf32>
      %sm = kiln.add %ss, %m : (tensor<1x2x4x6xf32>, tensor<1x1x1x6xf32>) -> tensor<1x2x4x6xf32>
      %ones = kiln.constant dense<1.0> : tensor<4x6xf32>
      %tri = kiln.trilu %ones {upper = false, k = 2} : (tensor<4x6xf32>) -> tensor<4x6xf32>
      %zero = kiln.constant dense<0.0> : tensor<f32>
      %keep = kiln.greater %tri, %zero : (tensor<4x6xf32>, tensor<f32>) -> tensor<4x6xi1>
      %neg = kiln.constant dense<-1.0e30> : tensor<f32>
      %masked = kiln.where %keep, %sm, %neg : (tensor<4x6xi1>, tensor<1x2x4x6xf32>, tensor<f32>) -> tensor<1x2x4x6xf32>
      %p = kiln.softmax %masked {axis = -1} : (tensor<1x2x4x6xf32>) -> tensor<1x2x4x6xf32>
      %o = kiln.matmul %p, %vt : (tensor<1x2x4x6xf32>, tensor<1x2x6x4xf32>) -> tensor<1x2x4x4xf32>
      %ot = kiln.transpose %o {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x2x4x4xf32>) -> tensor<1x4x2x4xf32>
      %s3 = kiln.constant dense<[1, 4, 8]> : tensor<3xi64>
      %out = kiln.reshape %ot, %s3 : (tensor<1x4x2x4xf32>, tensor<3xi64>) -> tensor<1x4x8xf32>
      return %out : tensor<1x4x8xf32>
    })mlir");
  ASSERT_TRUE(unfused) << diagnostics;
  auto want = interpret(unfused, {q, k, v, m});
  ASSERT_TRUE(succeeded(want)) << diagnostics;
  EXPECT_LE(relativeError((*got)[0], (*want)[0]), 1e-6);
}

TEST_F(InterpreterTest, MultiResultOpsAndOptionalOperands) {
  auto fn = parse(R"mlir(
    func.func @main(%x: tensor<2x4xf32>, %s: tensor<2x4xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>)
        -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x2xf32>, tensor<2x2xi64>, tensor<2x1xf32>, tensor<2x3xf32>) {
      %y, %sum = kiln.skip_layer_norm %x, %s, %g bias(%b) {epsilon = 1.0e-5 : f32} : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>)
      %v, %i = kiln.topk %x {k = 2} : (tensor<2x4xf32>) -> (tensor<2x2xf32>, tensor<2x2xi64>)
      %p0, %p1 = kiln.split %x {axis = 1, sizes = array<i64: 1, 3>} : (tensor<2x4xf32>) -> (tensor<2x1xf32>, tensor<2x3xf32>)
      return %y, %sum, %v, %i, %p0, %p1 : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x2xf32>, tensor<2x2xi64>, tensor<2x1xf32>, tensor<2x3xf32>
    })mlir");
  ASSERT_TRUE(fn) << diagnostics;
  Tensor x = random({2, 4}, 5), s = random({2, 4}, 6), g = random({4}, 7),
         b = random({4}, 8);
  auto out = interpret(fn, {x, s, g, b});
  ASSERT_TRUE(succeeded(out)) << diagnostics;
  ASSERT_EQ(out->size(), 6u);
  auto [y, sum] = skipLayerNorm(x, s, g, nullptr, &b, 1e-5, false);
  EXPECT_EQ(relativeError((*out)[0], y), 0.0);
  EXPECT_EQ(relativeError((*out)[1], sum), 0.0);
  auto [tv, ti] = topk(x, 2, -1, true, true);
  EXPECT_EQ(relativeError((*out)[2], tv), 0.0);
  EXPECT_EQ(relativeError((*out)[3], ti), 0.0);
  EXPECT_EQ((*out)[5].shape(), (Shape{2, 3}));
  EXPECT_EQ((*out)[4].getDouble(1), x.getDouble(4));
}

TEST_F(InterpreterTest, EvaluateOpOnSingleOps) {
  auto fn = parse(R"mlir(
    func.func @main(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
      %c = kiln.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
      %s = kiln.constant dense<[2, 2]> : tensor<2xi64>
      %n = kiln.constant_of_shape %s {value = 7 : i64} : (tensor<2xi64>) -> tensor<2x2xi64>
      %t = kiln.transpose %x {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
      return %t : tensor<3x2xf32>
    })mlir");
  ASSERT_TRUE(fn) << diagnostics;
  auto ops = llvm::to_vector(llvm::make_pointer_range(fn.getBody().front()));
  auto c = evaluateOp(ops[0], {});
  ASSERT_TRUE(succeeded(c));
  EXPECT_EQ((*c)[0].shape(), (Shape{2, 3}));
  EXPECT_EQ((*c)[0].getDouble(5), 6.0);
  auto n = evaluateOp(ops[2], {I({2}, {2, 2})});
  ASSERT_TRUE(succeeded(n)) << diagnostics;
  EXPECT_EQ(relativeError((*n)[0], I({2, 2}, {7, 7, 7, 7})), 0.0);
  auto t = evaluateOp(ops[3], {(*c)[0]});
  ASSERT_TRUE(succeeded(t));
  EXPECT_EQ(relativeError((*t)[0], F({3, 2}, {1, 4, 2, 5, 3, 6})), 0.0);
  EXPECT_TRUE(failed(evaluateOp(ops[3], {})));
  EXPECT_TRUE(
      failed(evaluateOp(ops[3], {F({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8})})));
  EXPECT_NE(diagnostics.find("transpose: perm"), std::string::npos)
      << diagnostics;
  // With an error string nothing is emitted (folders use this).
  diagnostics.clear();
  std::string error;
  EXPECT_TRUE(failed(evaluateOp(ops[3], {F({2}, {1, 2})}, &error)));
  EXPECT_NE(error.find("transpose: perm"), std::string::npos) << error;
  EXPECT_EQ(diagnostics, "");
}

TEST_F(InterpreterTest, TensorConversionRoundTrips) {
  std::vector<Tensor> samples;
  for (DType t : {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I64,
                  DType::I32, DType::I8, DType::U8, DType::Bool})
    for (Shape s : {Shape{}, Shape{3}, Shape{4, 8}, Shape{0, 2}}) {
      Tensor x(t, s);
      auto *p = static_cast<unsigned char *>(x.raw());
      for (size_t i = 0; i < x.bytes(); ++i)
        p[i] = (unsigned char)(i * 29 + 3);
      if (t == DType::Bool)
        for (int64_t i = 0; i < x.numel(); ++i)
          p[i] &= 1;
      samples.push_back(x);
    }
  for (const Tensor &x : samples) {
    for (llvm::StringRef blob : {"", "weight"}) {
      mlir::ElementsAttr attr = toElementsAttr(x, &ctx, blob);
      bool resource = llvm::isa<mlir::DenseResourceElementsAttr>(attr);
      EXPECT_EQ(resource, !blob.empty() && x.numel() > kInlineElementLimit);
      EXPECT_EQ(attr.getType(), toTensorType(x, &ctx));
      Tensor y = toTensor(attr);
      EXPECT_EQ(y.dtype(), x.dtype()) << dtypeName(x.dtype());
      EXPECT_EQ(y.shape(), x.shape());
      ASSERT_EQ(y.bytes(), x.bytes());
      if (x.bytes())
        EXPECT_EQ(std::memcmp(x.raw(), y.raw(), x.bytes()), 0)
            << dtypeName(x.dtype()) << " " << shapeStr(x.shape()) << " "
            << blob.str();
      if (resource) {
        auto handle =
            llvm::cast<mlir::DenseResourceElementsAttr>(attr).getRawHandle();
        ASSERT_TRUE(handle.getBlob());
        EXPECT_EQ(handle.getBlob()->getDataAlignment(), 64u);
      }
    }
  }
  // Splats expand; types map both ways.
  auto splat = mlir::DenseElementsAttr::get(
      mlir::RankedTensorType::get({2, 2}, mlir::Float32Type::get(&ctx)), 1.5f);
  EXPECT_EQ(relativeError(toTensor(splat), F({2, 2}, {1.5, 1.5, 1.5, 1.5})),
            0.0);
  auto boolSplat = mlir::DenseElementsAttr::get(
      mlir::RankedTensorType::get({3}, mlir::IntegerType::get(&ctx, 1)), true);
  EXPECT_EQ(toTensor(boolSplat).data<uint8_t>()[2], 1);
  EXPECT_EQ(
      tryToDType(mlir::IntegerType::get(&ctx, 8, mlir::IntegerType::Unsigned)),
      DType::U8);
  EXPECT_EQ(toMlirType(DType::U8, &ctx),
            mlir::IntegerType::get(&ctx, 8, mlir::IntegerType::Unsigned));
  EXPECT_FALSE(tryToDType(mlir::IntegerType::get(&ctx, 16)).has_value());
  EXPECT_THROW(toDType(mlir::Float8E4M3FNType::get(&ctx)), Error);
}

TEST_F(InterpreterTest, ReadsParsedDenseResources) {
  // The blob starts with its alignment (4) as a little-endian u32.
  auto fn = parse(R"mlir(
    func.func @main(%x: tensor<3xf32>) -> tensor<3xf32> {
      %w = kiln.constant dense_resource<w0> : tensor<3xf32>
      %y = kiln.mul %x, %w : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
      return %y : tensor<3xf32>
    }
    {-#
      dialect_resources: {
        builtin: {
          w0: "0x040000000000803F00000040000040C0"
        }
      }
    #-})mlir");
  ASSERT_TRUE(fn) << diagnostics;
  auto out = interpret(fn, {F({3}, {2, 2, 2})});
  ASSERT_TRUE(succeeded(out)) << diagnostics;
  EXPECT_EQ(relativeError((*out)[0], F({3}, {2, 4, -6})), 0.0);

  // A resource with the wrong size is an error on the constant, not a crash.
  fn = parse(R"mlir(
    func.func @main() -> tensor<4xf32> {
      %w = kiln.constant dense_resource<w1> : tensor<4xf32> loc("weights/W")
      return %w : tensor<4xf32>
    }
    {-#
      dialect_resources: {
        builtin: {
          w1: "0x040000000000803F"
        }
      }
    #-})mlir");
  ASSERT_TRUE(fn) << diagnostics;
  EXPECT_TRUE(failed(interpret(fn, {})));
  EXPECT_NE(diagnostics.find("weights/W"), std::string::npos) << diagnostics;
  EXPECT_NE(diagnostics.find("resource blob 'w1' holds 4 bytes"),
            std::string::npos)
      << diagnostics;
}

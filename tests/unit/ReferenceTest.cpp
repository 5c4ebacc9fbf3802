// Tests of the reference kernels (ir/lib/Reference) against hand-computed
// values and, for fused ops, against compositions of the plain kernels.
#include "kiln/Reference/Kernels.h"

#include <cmath>
#include <gtest/gtest.h>
#include <limits>

using namespace kiln::ref;

namespace {

Tensor F(Shape s, std::vector<float> v) {
  return Tensor::of(DType::F32, std::move(s), std::move(v));
}
Tensor I(Shape s, std::vector<int64_t> v) {
  return Tensor::of(DType::I64, std::move(s), std::move(v));
}
Tensor B(Shape s, std::vector<uint8_t> v) {
  return Tensor::of(DType::Bool, std::move(s), std::move(v));
}

/// Deterministic pseudo-random floats in [-1, 1).
Tensor random(Shape s, uint32_t seed) {
  Tensor t(DType::F32, std::move(s));
  uint32_t x = seed * 2654435761u + 12345;
  for (int64_t i = 0; i < t.numel(); ++i) {
    x = x * 1664525u + 1013904223u;
    t.data<float>()[i] = (float)((x >> 8) / double(1 << 24) * 2.0 - 1.0);
  }
  return t;
}

void expectValues(const Tensor &t, const Shape &shape,
                  const std::vector<double> &want, double tol = 1e-5) {
  ASSERT_EQ(shapeStr(t.shape()), shapeStr(shape));
  ASSERT_EQ(t.numel(), (int64_t)want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i]))
      EXPECT_TRUE(std::isnan(t.getDouble((int64_t)i))) << "element " << i;
    else if (std::isinf(want[i]))
      EXPECT_EQ(t.getDouble((int64_t)i), want[i]) << "element " << i;
    else
      EXPECT_NEAR(t.getDouble((int64_t)i), want[i], tol) << "element " << i;
  }
}

void expectClose(const Tensor &a, const Tensor &b, double tol = 1e-5) {
  EXPECT_LE(relativeError(a, b), tol)
      << shapeStr(a.shape()) << " vs " << shapeStr(b.shape());
}

} // namespace

//===----------------------------------------------------------------------===//
// Tensor basics
//===----------------------------------------------------------------------===//

TEST(Tensor, HalfAndBf16Conversions) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(floatToHalf(1e6f), 0x7C00);           // overflow -> inf
  EXPECT_EQ(floatToHalf(5.9604645e-08f), 0x0001); // smallest subnormal
  EXPECT_EQ(floatToHalf(1.0009765625f), 0x3C01);  // exact
  EXPECT_EQ(floatToHalf(1.00048828125f), 0x3C00); // tie -> even
  EXPECT_EQ(floatToHalf(1.00146484375f), 0x3C02); // tie -> even (up)
  EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(NAN))));
  EXPECT_EQ(halfToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(halfToFloat(0x0001), 5.9604645e-08f);
  EXPECT_EQ(halfToFloat(0xFC00), -INFINITY);
  EXPECT_EQ(floatToBf16(1.0f), 0x3F80);
  EXPECT_EQ(bf16ToFloat(0x4049), 3.140625f);
  EXPECT_EQ(floatToBf16(3.14159f), 0x4049);
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(NAN))));
}

TEST(Tensor, CastFollowsOnnx) {
  Tensor x = F({5}, {-1.7f, 2.9f, 0.0f, 300.5f, NAN});
  expectValues(x.cast(DType::I32), {5}, {-1, 2, 0, 300, 0});
  expectValues(x.cast(DType::Bool), {5}, {1, 1, 0, 1, 1});
  expectValues(cast(I({3}, {-1, 256, 7}), DType::U8), {3}, {255, 0, 7});
  expectValues(cast(B({2}, {1, 0}), DType::F32), {2}, {1, 0});
  Tensor h = x.cast(DType::F16).cast(DType::F32);
  EXPECT_NEAR(h.getDouble(0), -1.7, 1e-3);
  EXPECT_EQ(Tensor::scalarI64(1).cast(DType::I64).getInt(0), 1);
}

TEST(Tensor, ShapesAndErrors) {
  EXPECT_EQ(shapeStr({}), "scalar");
  EXPECT_EQ(shapeStr({2, 3}), "2x3");
  EXPECT_EQ(strides({2, 3, 4}), (Shape{12, 4, 1}));
  EXPECT_THROW(F({2, 2}, {1, 2, 3}), Error);
  EXPECT_THROW(F({4}, {1, 2, 3, 4}).reshaped({3}), Error);
  EXPECT_THROW(Tensor(DType::F32, {-1}), Error);
  EXPECT_THROW(Tensor(DType::F32, {int64_t(1) << 40, 1 << 20}), Error);
}

TEST(Tensor, RelativeError) {
  EXPECT_EQ(relativeError(F({2}, {1, 2}), F({2}, {1, 2})), 0.0);
  EXPECT_NEAR(relativeError(F({2}, {1, 4.1f}), F({2}, {1, 4})), 0.1 / 4, 1e-6);
  EXPECT_EQ(relativeError(F({2}, {NAN, 1}), F({2}, {NAN, 1})), 0.0);
  EXPECT_TRUE(std::isinf(relativeError(F({2}, {NAN, 1}), F({2}, {0, 1}))));
  EXPECT_TRUE(std::isinf(relativeError(F({2}, {1, 1}), F({1, 2}, {1, 1}))));
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

TEST(Elementwise, BroadcastingAdd) {
  Tensor r = binary(BinaryKind::Add, F({2, 1}, {10, 20}), F({3}, {1, 2, 3}));
  expectValues(r, {2, 3}, {11, 12, 13, 21, 22, 23});
  Tensor s = binary(BinaryKind::Sub, F({}, {1}), F({2, 2}, {1, 2, 3, 4}));
  expectValues(s, {2, 2}, {0, -1, -2, -3});
  EXPECT_THROW(binary(BinaryKind::Add, F({2}, {1, 2}), F({3}, {1, 2, 3})),
               Error);
  EXPECT_THROW(binary(BinaryKind::Add, F({1}, {1}), I({1}, {1})), Error);
}

TEST(Elementwise, IntegerArithmetic) {
  Tensor a = I({4}, {-7, 7, -7, 7}), b = I({4}, {2, 2, -2, -2});
  expectValues(binary(BinaryKind::Div, a, b), {4}, {-3, 3, 3, -3});
  expectValues(binary(BinaryKind::Mod, a, b), {4}, {1, 1, -1, -1});
  expectValues(binary(BinaryKind::FMod, a, b), {4}, {-1, 1, -1, 1});
  expectValues(binary(BinaryKind::Pow, I({3}, {2, 3, -2}), I({3}, {10, 0, 3})),
               {3}, {1024, 1, -8});
  EXPECT_THROW(binary(BinaryKind::Div, I({1}, {1}), I({1}, {0})), Error);
  Tensor i32 = Tensor::of(DType::I32, {1}, std::vector<int32_t>{2147483647});
  expectValues(binary(BinaryKind::Add, i32, i32.cast(DType::I32)), {1}, {-2});
}

TEST(Elementwise, FloatOps) {
  Tensor a = F({4}, {-7.5f, 7.5f, 1, NAN}), b = F({4}, {2, -2, 4, 1});
  expectValues(binary(BinaryKind::Mod, a, b), {4}, {0.5, -0.5, 1, NAN});
  expectValues(binary(BinaryKind::FMod, a, b), {4}, {-1.5, 1.5, 1, NAN});
  expectValues(binary(BinaryKind::Max, a, b), {4}, {2, 7.5, 4, NAN});
  expectValues(binary(BinaryKind::Pow, F({2}, {2, 9}), I({2}, {3, 0})), {2},
               {8, 1});
  expectValues(binary(BinaryKind::Div, F({2}, {1, -1}), F({2}, {0, 0})), {2},
               {INFINITY, -INFINITY});
}

TEST(Elementwise, ComparisonsAndLogic) {
  Tensor c = binary(BinaryKind::Less, F({3}, {1, 2, 3}), F({1}, {2}));
  EXPECT_EQ(c.dtype(), DType::Bool);
  expectValues(c, {3}, {1, 0, 0});
  expectValues(
      binary(BinaryKind::GreaterOrEqual, I({3}, {1, 2, 3}), I({}, {2})), {3},
      {0, 1, 1});
  expectValues(binary(BinaryKind::Xor, B({2, 1}, {1, 0}), B({2}, {1, 0})),
               {2, 2}, {0, 1, 1, 0});
  expectValues(binary(BinaryKind::Equal, B({2}, {1, 0}), B({2}, {1, 1})), {2},
               {1, 0});
  EXPECT_THROW(binary(BinaryKind::And, F({1}, {1}), F({1}, {1})), Error);
  EXPECT_THROW(binary(BinaryKind::Add, B({1}, {1}), B({1}, {1})), Error);
}

TEST(Elementwise, Unary) {
  Tensor x = F({4}, {-2, -0.5f, 0.25f, 4});
  expectValues(unary(UnaryKind::Relu, x), {4}, {0, 0, 0.25, 4});
  expectValues(unary(UnaryKind::Abs, x), {4}, {2, 0.5, 0.25, 4});
  expectValues(unary(UnaryKind::Reciprocal, x), {4}, {-0.5, -2, 4, 0.25});
  expectValues(unary(UnaryKind::Floor, x), {4}, {-2, -1, 0, 4});
  expectValues(unary(UnaryKind::Ceil, x), {4}, {-2, -0, 1, 4});
  expectValues(unary(UnaryKind::Sigmoid, F({3}, {0, -1000, 1000})), {3},
               {0.5, 0, 1});
  expectValues(unary(UnaryKind::Erf, F({1}, {1})), {1}, {0.8427007929497149});
  expectValues(unary(UnaryKind::Neg, I({2}, {3, -4})), {2}, {-3, 4});
  expectValues(unary(UnaryKind::Not, B({2}, {1, 0})), {2}, {0, 1});
  EXPECT_THROW(unary(UnaryKind::Sqrt, I({1}, {4})), Error);
  EXPECT_THROW(unary(UnaryKind::Not, F({1}, {1})), Error);
  expectValues(unary(UnaryKind::Identity, I({1}, {9})), {1}, {9});
}

TEST(Elementwise, Gelu) {
  Tensor x = F({3}, {1, -1, 0});
  expectValues(gelu(x, false), {3},
               {0.8413447460685429, -0.15865525393145707, 0});
  expectValues(gelu(x, true), {3},
               {0.8411919906082768, -0.15880800939172324, 0});
}

TEST(Elementwise, Where) {
  Tensor r = where(B({2, 1}, {1, 0}), F({3}, {1, 2, 3}), F({}, {-1}));
  expectValues(r, {2, 3}, {1, 2, 3, -1, -1, -1});
  EXPECT_THROW(where(F({1}, {1}), F({1}, {1}), F({1}, {1})), Error);
  EXPECT_THROW(where(B({1}, {1}), F({1}, {1}), I({1}, {1})), Error);
}

//===----------------------------------------------------------------------===//
// Linear algebra
//===----------------------------------------------------------------------===//

TEST(Linalg, Matmul2D) {
  Tensor a = F({2, 3}, {1, 2, 3, 4, 5, 6}),
         b = F({3, 2}, {7, 8, 9, 10, 11, 12});
  expectValues(matmul(a, b), {2, 2}, {58, 64, 139, 154});
  expectValues(matmul(I({1, 2}, {2, 3}), I({2, 1}, {4, 5})), {1, 1}, {23});
  EXPECT_THROW(matmul(a, a), Error);
}

TEST(Linalg, Matmul1D) {
  Tensor v = F({3}, {1, 2, 3}), m = F({3, 2}, {7, 8, 9, 10, 11, 12});
  expectValues(matmul(v, m), {2}, {58, 64});
  expectValues(matmul(F({2, 3}, {1, 2, 3, 4, 5, 6}), v), {2}, {14, 32});
  expectValues(matmul(v, v), {}, {14});
  // A 1-D operand against a batch: [3] x [2,3,2] -> [2,2].
  Tensor batch =
      binary(BinaryKind::Mul, m.reshaped({1, 3, 2}), F({2, 1, 1}, {1, 2}));
  expectValues(matmul(v, batch), {2, 2}, {58, 64, 116, 128});
}

TEST(Linalg, MatmulBatchBroadcast) {
  Tensor a = random({2, 1, 2, 3}, 1), b = random({3, 3, 4}, 2);
  Tensor r = matmul(a, b);
  ASSERT_EQ(r.shape(), (Shape{2, 3, 2, 4}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j) {
      Tensor ai = slice(a, {i}, {i + 1}, {0}, {}).reshaped({2, 3});
      Tensor bj = slice(b, {j}, {j + 1}, {0}, {}).reshaped({3, 4});
      Tensor rij =
          slice(r, {i, j}, {i + 1, j + 1}, {0, 1}, {}).reshaped({2, 4});
      expectClose(rij, matmul(ai, bj));
    }
}

TEST(Linalg, Gemm) {
  Tensor a = F({3, 2}, {1, 4, 2, 5, 3, 6}); // transposed [[1,2,3],[4,5,6]]
  Tensor b =
      F({2, 3}, {7, 9, 11, 8, 10, 12}); // transposed [[7,8],[9,10],[11,12]]
  Tensor c = F({2}, {1, -1});
  Tensor r = gemm(a, b, &c, 0.5, 2.0, true, true);
  expectValues(r, {2, 2}, {31, 30, 71.5, 75});
  expectValues(
      gemm(F({1, 1}, {2}), F({1, 1}, {3}), nullptr, 1, 1, false, false), {1, 1},
      {6});
  EXPECT_THROW(
      gemm(F({2}, {1, 2}), F({2, 1}, {1, 2}), nullptr, 1, 1, false, false),
      Error);
}

TEST(Linalg, EinsumMatchesMatmul) {
  Tensor a = random({3, 4}, 3), b = random({4, 5}, 4);
  expectClose(einsum("ij,jk->ik", {a, b}), matmul(a, b));
  expectClose(einsum("ij, jk", {a, b}), matmul(a, b)); // implicit output
  expectClose(einsum("ij,jk->ki", {a, b}), transpose(matmul(a, b), {1, 0}));
  Tensor q = random({1, 2, 3, 4}, 5), k = random({1, 2, 5, 4}, 6);
  expectClose(einsum("bhqd,bhkd->bhqk", {q, k}),
              matmul(q, transpose(k, {0, 1, 3, 2})));
}

TEST(Linalg, EinsumReductionsAndShapes) {
  Tensor m = F({2, 3}, {1, 2, 3, 4, 5, 6});
  expectValues(einsum("ij->", {m}), {}, {21});
  expectValues(einsum("ij->j", {m}), {3}, {5, 7, 9});
  expectValues(einsum("ij", {m}), {2, 3}, {1, 2, 3, 4, 5, 6});
  expectValues(einsum("ji", {m}), {3, 2},
               {1, 4, 2, 5, 3, 6}); // implicit: sorted
  expectValues(einsum("i,j->ij", {F({2}, {1, 2}), F({2}, {3, 4})}), {2, 2},
               {3, 4, 6, 8});
  expectValues(einsum("ii->i", {F({2, 2}, {1, 2, 3, 4})}), {2}, {1, 4});
  expectValues(einsum("ii", {F({2, 2}, {1, 2, 3, 4})}), {}, {5});
  Tensor x = random({2, 3}, 7), y = random({3, 4}, 8), z = random({4, 2}, 9);
  expectClose(einsum("ij,jk,kl->il", {x, y, z}), matmul(matmul(x, y), z));
  expectValues(einsum("ij,ij->i", {m, m}), {2}, {14, 77});
}

TEST(Linalg, EinsumEllipsis) {
  Tensor a = random({2, 1, 3, 4}, 10), b = random({5, 4, 2}, 11);
  expectClose(einsum("...ij,...jk->...ik", {a, b}), matmul(a, b));
  Tensor s = einsum("...i->...", {F({2, 2}, {1, 2, 3, 4})});
  expectValues(s, {2}, {3, 7});
  expectValues(einsum("i...->...", {F({2, 2}, {1, 2, 3, 4})}), {2}, {4, 6});
}

TEST(Linalg, EinsumErrors) {
  Tensor m = F({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_THROW(einsum("ij,jk->ik", {m}), Error);
  EXPECT_THROW(einsum("ij,jk->ik", {m, m}), Error); // j: 3 vs 2
  EXPECT_THROW(einsum("ijk->i", {m}), Error);
  EXPECT_THROW(einsum("ij->iz", {m}), Error);
  EXPECT_THROW(einsum("i$->i", {m}), Error);
}

//===----------------------------------------------------------------------===//
// Shapes and data movement
//===----------------------------------------------------------------------===//

TEST(Shape, Transpose) {
  Tensor x = F({2, 3}, {1, 2, 3, 4, 5, 6});
  expectValues(transpose(x, {1, 0}), {3, 2}, {1, 4, 2, 5, 3, 6});
  expectValues(transpose(x, {}), {3, 2}, {1, 4, 2, 5, 3, 6});
  Tensor y = random({2, 3, 4}, 12);
  Tensor t = transpose(y, {2, 0, 1});
  ASSERT_EQ(t.shape(), (Shape{4, 2, 3}));
  // t[d][a][b] == y[a][b][d]
  for (int64_t d = 0; d < 4; ++d)
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t c = 0; c < 3; ++c)
        EXPECT_EQ(t.getDouble((d * 2 + a) * 3 + c),
                  y.getDouble((a * 3 + c) * 4 + d));
  EXPECT_THROW(transpose(x, {0, 0}), Error);
  EXPECT_THROW(transpose(x, {0}), Error);
  Tensor b = transpose(B({1, 2}, {1, 0}), {1, 0});
  expectValues(b, {2, 1}, {1, 0});
}

TEST(Shape, ReshapeOnnx) {
  Tensor x = random({2, 3, 4}, 13);
  EXPECT_EQ(reshape(x, {0, -1}, false).shape(), (Shape{2, 12}));
  EXPECT_EQ(reshape(x, {-1}, false).shape(), (Shape{24}));
  EXPECT_EQ(reshape(x, {4, 0, 2}, false).shape(), (Shape{4, 3, 2}));
  EXPECT_THROW(reshape(x, {-1, -1}, false), Error);
  EXPECT_THROW(reshape(x, {5, -1}, false), Error);
  EXPECT_THROW(reshape(x, {-2, 12}, false), Error);
  EXPECT_THROW(reshape(x, {0, 0, 0, 0}, false), Error); // copies past rank
  Tensor empty(DType::F32, {0, 3});
  EXPECT_EQ(reshape(empty, {3, 0}, true).shape(), (Shape{3, 0}));
  EXPECT_EQ(reshape(empty, {0, 3}, false).shape(), (Shape{0, 3}));
  EXPECT_THROW(reshape(empty, {0, -1}, true), Error);
  EXPECT_EQ(reshape(x, {24}, false).getDouble(5), x.getDouble(5));
}

TEST(Shape, FlattenSqueezeUnsqueeze) {
  Tensor x = random({2, 3, 4}, 14);
  EXPECT_EQ(flatten(x, 0).shape(), (Shape{1, 24}));
  EXPECT_EQ(flatten(x, -1).shape(), (Shape{6, 4}));
  EXPECT_EQ(flatten(x, 3).shape(), (Shape{24, 1}));
  EXPECT_THROW(flatten(x, 4), Error);
  Tensor y(DType::F32, {1, 3, 1, 2});
  EXPECT_EQ(squeeze(y, {}).shape(), (Shape{3, 2}));
  EXPECT_EQ(squeeze(y, {-2}).shape(), (Shape{1, 3, 2}));
  EXPECT_THROW(squeeze(y, {1}), Error);
  EXPECT_EQ(unsqueeze(x, {0, -1}).shape(), (Shape{1, 2, 3, 4, 1}));
  EXPECT_EQ(unsqueeze(x, {1, 3}).shape(), (Shape{2, 1, 3, 1, 4}));
  EXPECT_EQ(unsqueeze(Tensor::scalarF32(1), {0}).shape(), (Shape{1}));
  EXPECT_THROW(unsqueeze(x, {0, 0}), Error);
  EXPECT_THROW(unsqueeze(x, {5}), Error);
}

TEST(Shape, ConcatAndSplit) {
  Tensor a = F({2, 1}, {1, 2}), b = F({2, 2}, {3, 4, 5, 6});
  Tensor c = concat({a, b}, -1);
  expectValues(c, {2, 3}, {1, 3, 4, 2, 5, 6});
  expectValues(concat({a, a}, 0), {4, 1}, {1, 2, 1, 2});
  EXPECT_THROW(concat({a, F({3, 1}, {1, 2, 3})}, 1), Error);
  EXPECT_THROW(concat({a, I({2, 1}, {1, 2})}, 1), Error);
  std::vector<Tensor> parts = split(c, 1, {2, 0, 1});
  ASSERT_EQ(parts.size(), 3u);
  expectValues(parts[0], {2, 2}, {1, 3, 2, 5});
  EXPECT_EQ(parts[1].shape(), (Shape{2, 0}));
  expectValues(parts[2], {2, 1}, {4, 6});
  EXPECT_THROW(split(c, 1, {1, 1}), Error);
}

TEST(Shape, SliceOnnxEdgeCases) {
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  Tensor x = F({5}, {0, 1, 2, 3, 4});
  expectValues(slice(x, {1}, {3}, {}, {}), {2}, {1, 2});
  expectValues(slice(x, {-2}, {kMax}, {0}, {1}), {2}, {3, 4});
  expectValues(slice(x, {-100}, {100}, {}, {}), {5}, {0, 1, 2, 3, 4});
  expectValues(slice(x, {0}, {5}, {}, {2}), {3}, {0, 2, 4});
  expectValues(slice(x, {kMax}, {kMin}, {}, {-1}), {5}, {4, 3, 2, 1, 0});
  expectValues(slice(x, {-1}, {-100}, {}, {-2}), {3}, {4, 2, 0});
  expectValues(slice(x, {3}, {0}, {}, {-1}), {3}, {3, 2, 1});
  expectValues(slice(x, {-100}, {kMin}, {}, {-1}), {1},
               {0}); // start clamps to 0
  EXPECT_EQ(slice(x, {3}, {1}, {}, {}).shape(), (Shape{0}));
  expectValues(slice(x, {1}, {2}, {}, {kMax}), {1}, {1});
  expectValues(slice(x, {4}, {0}, {}, {kMin}), {1}, {4});
  Tensor m = F({2, 3}, {1, 2, 3, 4, 5, 6});
  expectValues(slice(m, {1, -1}, {kMax, 0}, {-1, 0}, {1, -1}), {1, 2}, {5, 6});
  EXPECT_THROW(slice(x, {0}, {1}, {}, {0}), Error);
  EXPECT_THROW(slice(m, {0, 0}, {1, 1}, {1, -1}, {}), Error);
  EXPECT_THROW(slice(x, {0}, {1, 2}, {}, {}), Error);
  EXPECT_THROW(slice(x, {0}, {1}, {1}, {}), Error);
}

TEST(Shape, Gather) {
  Tensor x = F({3, 2}, {1, 2, 3, 4, 5, 6});
  expectValues(gather(x, I({2}, {2, -3}), 0), {2, 2}, {5, 6, 1, 2});
  expectValues(gather(x, I({1, 2}, {1, 0}), 1), {3, 1, 2}, {2, 1, 4, 3, 6, 5});
  expectValues(gather(x, I({}, {1}), 0), {2}, {3, 4});
  EXPECT_THROW(gather(x, I({1}, {3}), 0), Error);
  EXPECT_THROW(gather(x, I({1}, {-4}), 0), Error);
  EXPECT_THROW(gather(x, F({1}, {0}), 0), Error);
  EXPECT_THROW(gather(x, I({1}, {0}), 2), Error);
}

TEST(Shape, GatherAndScatterElements) {
  Tensor x = F({2, 2}, {1, 2, 3, 4});
  expectValues(gatherElements(x, I({2, 2}, {0, 0, 1, 0}), 1), {2, 2},
               {1, 1, 4, 3});
  expectValues(gatherElements(x, I({1, 2}, {1, -2}), 0), {1, 2}, {3, 2});
  EXPECT_THROW(gatherElements(x, I({2, 2}, {0, 2, 0, 0}), 1), Error);
  EXPECT_THROW(gatherElements(x, I({2}, {0, 0}), 1), Error);

  Tensor data = F({1, 5}, {1, 2, 3, 4, 5});
  Tensor idx = I({1, 2}, {1, 3}), upd = F({1, 2}, {1.1f, 2.1f});
  expectValues(scatterElements(data, idx, upd, 1, ScatterReduction::None),
               {1, 5}, {1, 1.1, 3, 2.1, 5});
  Tensor dup = I({1, 2}, {1, 1});
  expectValues(scatterElements(data, dup, upd, 1, ScatterReduction::Add),
               {1, 5}, {1, 5.2, 3, 4, 5});
  expectValues(scatterElements(data, dup, upd, 1, ScatterReduction::Mul),
               {1, 5}, {1, 2 * 1.1 * 2.1, 3, 4, 5});
  expectValues(scatterElements(data, dup, upd, 1, ScatterReduction::Max),
               {1, 5}, {1, 2.1, 3, 4, 5});
  expectValues(scatterElements(data, I({1, 1}, {-1}), F({1, 1}, {9}), 1,
                               ScatterReduction::Min),
               {1, 5}, {1, 2, 3, 4, 5});
  EXPECT_THROW(scatterElements(data, I({1, 1}, {5}), F({1, 1}, {9}), 1,
                               ScatterReduction::None),
               Error);
}

TEST(Shape, ShapeExpandTile) {
  Tensor x(DType::F32, {2, 3, 4});
  expectValues(shapeOf(x, 0, std::nullopt), {3}, {2, 3, 4});
  expectValues(shapeOf(x, -2, std::nullopt), {2}, {3, 4});
  expectValues(shapeOf(x, 1, -1), {1}, {3});
  expectValues(shapeOf(x, -10, 10), {3}, {2, 3, 4});
  EXPECT_EQ(shapeOf(x, 2, 1).shape(), (Shape{0}));

  Tensor col = F({3, 1}, {1, 2, 3});
  Tensor e = expand(col, {2, 1, 2});
  expectValues(e, {2, 3, 2}, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3});
  EXPECT_EQ(expand(col, {1}).shape(), (Shape{3, 1}));
  EXPECT_THROW(expand(col, {2, 2}), Error);
  EXPECT_THROW(broadcastTo(col, {3}), Error);

  expectValues(tile(F({2}, {1, 2}), {3}), {6}, {1, 2, 1, 2, 1, 2});
  expectValues(tile(F({1, 2}, {1, 2}), {2, 2}), {2, 4},
               {1, 2, 1, 2, 1, 2, 1, 2});
  EXPECT_THROW(tile(col, {2}), Error);
}

TEST(Shape, ConstantOfShapeRangeTrilu) {
  expectValues(constantOfShape({2, 2}, Tensor::of(DType::I64, {1},
                                                  std::vector<int64_t>{7})),
               {2, 2}, {7, 7, 7, 7});
  EXPECT_EQ(constantOfShape({}, Tensor::scalarF32(1)).shape(), Shape{});
  EXPECT_THROW(constantOfShape({2}, F({2}, {1, 2})), Error);
  EXPECT_THROW(constantOfShape({-1}, Tensor::scalarF32(1)), Error);

  expectValues(range(I({}, {1}), I({}, {10}), I({}, {3})), {3}, {1, 4, 7});
  expectValues(range(I({}, {10}), I({}, {4}), I({}, {-3})), {2}, {10, 7});
  expectValues(range(I({}, {5}), I({}, {1}), I({}, {2})), {0}, {});
  expectValues(range(F({}, {0}), F({}, {1}), F({}, {0.25f})), {4},
               {0, 0.25, 0.5, 0.75});
  EXPECT_THROW(range(I({}, {0}), I({}, {1}), I({}, {0})), Error);
  EXPECT_THROW(range(I({}, {0}), F({}, {1}), I({}, {1})), Error);

  Tensor m = F({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  expectValues(trilu(m, true, 0), {3, 3}, {1, 2, 3, 0, 5, 6, 0, 0, 9});
  expectValues(trilu(m, true, 1), {3, 3}, {0, 2, 3, 0, 0, 6, 0, 0, 0});
  expectValues(trilu(m, false, 0), {3, 3}, {1, 0, 0, 4, 5, 0, 7, 8, 9});
  expectValues(trilu(m, false, -1), {3, 3}, {0, 0, 0, 4, 0, 0, 7, 8, 0});
  expectValues(trilu(F({2, 1, 2}, {1, 2, 3, 4}), false, 0), {2, 1, 2},
               {1, 0, 3, 0});
  EXPECT_THROW(trilu(F({2}, {1, 2}), true, 0), Error);
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

TEST(Reduce, SoftmaxStable) {
  Tensor x = F({2, 3}, {1, 2, 3, 1000, 1001, 1002});
  double e1 = std::exp(-2.0), e2 = std::exp(-1.0), s = e1 + e2 + 1;
  std::vector<double> row = {e1 / s, e2 / s, 1 / s};
  expectValues(softmax(x, -1), {2, 3},
               {row[0], row[1], row[2], row[0], row[1], row[2]});
  Tensor col = softmax(F({2, 1}, {0, 0}), 0);
  expectValues(col, {2, 1}, {0.5, 0.5});
  expectValues(logSoftmax(x, 1), {2, 3},
               {std::log(row[0]), std::log(row[1]), std::log(row[2]),
                std::log(row[0]), std::log(row[1]), std::log(row[2])});
  EXPECT_THROW(softmax(I({2}, {1, 2}), 0), Error);
  EXPECT_THROW(softmax(x, 2), Error);
}

TEST(Reduce, ReduceOps) {
  Tensor x = F({2, 3}, {1, 2, 3, 4, 5, 6});
  expectValues(reduce(ReduceKind::Mean, x, {1}, true, false), {2, 1}, {2, 5});
  expectValues(reduce(ReduceKind::Sum, x, {}, false, false), {}, {21});
  expectValues(reduce(ReduceKind::Sum, x, {}, true, false), {1, 1}, {21});
  expectValues(reduce(ReduceKind::Max, x, {-2}, false, false), {3}, {4, 5, 6});
  expectValues(reduce(ReduceKind::Min, x, {0, 1}, false, false), {}, {1});
  expectValues(reduce(ReduceKind::Prod, x, {1}, false, false), {2}, {6, 120});
  expectValues(reduce(ReduceKind::Sum, x, {}, false, true), {2, 3},
               {1, 2, 3, 4, 5, 6});
  expectValues(reduce(ReduceKind::Sum, I({3}, {1, 2, 3}), {0}, false, false),
               {}, {6});
  expectValues(reduce(ReduceKind::Mean, I({2}, {1, 2}), {0}, false, false), {},
               {1});
  Tensor empty(DType::F32, {0, 2});
  expectValues(reduce(ReduceKind::Sum, empty, {0}, false, false), {2}, {0, 0});
  expectValues(reduce(ReduceKind::Max, empty, {0}, false, false), {2},
               {-INFINITY, -INFINITY});
  EXPECT_THROW(reduce(ReduceKind::Sum, x, {1, -1}, false, false), Error);
  EXPECT_THROW(reduce(ReduceKind::Sum, x, {2}, false, false), Error);
}

TEST(Reduce, ArgmaxTopkCumsum) {
  Tensor x = F({2, 4}, {1, 3, 3, 2, 5, 5, 0, 5});
  expectValues(argmax(x, 1, true, false), {2, 1}, {1, 0});
  expectValues(argmax(x, 1, false, true), {2}, {2, 3});
  expectValues(argmax(x, 0, false, false), {4}, {1, 1, 0, 1});
  EXPECT_EQ(argmax(x, 1, false, false).dtype(), DType::I64);

  auto [v, i] = topk(x, 2, -1, true, true);
  expectValues(v, {2, 2}, {3, 3, 5, 5});
  expectValues(i, {2, 2}, {1, 2, 0, 1});
  auto [vs, is] = topk(x, 3, 1, false, true);
  expectValues(vs, {2, 3}, {1, 2, 3, 0, 5, 5});
  expectValues(is, {2, 3}, {0, 3, 1, 2, 0, 1});
  auto [vi, ii] = topk(I({4}, {4, 9, 9, 1}), 3, 0, true, true);
  expectValues(vi, {3}, {9, 9, 4});
  expectValues(ii, {3}, {1, 2, 0});
  EXPECT_THROW(topk(x, 5, 1, true, true), Error);

  Tensor c = F({3}, {1, 2, 3});
  expectValues(cumsum(c, 0, false, false), {3}, {1, 3, 6});
  expectValues(cumsum(c, 0, true, false), {3}, {0, 1, 3});
  expectValues(cumsum(c, 0, false, true), {3}, {6, 5, 3});
  expectValues(cumsum(c, 0, true, true), {3}, {5, 3, 0});
  expectValues(cumsum(I({2, 2}, {1, 2, 3, 4}), 0, false, false), {2, 2},
               {1, 2, 4, 6});
}

TEST(Reduce, LayerNormalization) {
  Tensor x = F({2, 3}, {1, 2, 3, 2, 4, 6});
  Tensor scale = F({3}, {1, 1, 2}), bias = F({3}, {0, 1, 0});
  double eps = 1e-5, inv1 = 1 / std::sqrt(2.0 / 3 + eps),
         inv2 = 1 / std::sqrt(8.0 / 3 + eps);
  expectValues(layerNormalization(x, scale, &bias, -1, eps), {2, 3},
               {-inv1, 1, 2 * inv1, -2 * inv2, 1, 4 * inv2});
  // axis 0 normalizes everything: mean 3, var 8/3.
  Tensor all = layerNormalization(x, F({}, {1}), nullptr, 0, 0);
  double s = 1 / std::sqrt(16.0 / 6);
  expectValues(all, {2, 3}, {-2 * s, -1 * s, 0, -1 * s, 1 * s, 3 * s});
  EXPECT_THROW(layerNormalization(x, F({2}, {1, 1}), nullptr, -1, eps), Error);
  // The fused kernel agrees with the ONNX one over the last dim.
  Tensor y = random({2, 3, 8}, 20), g = random({8}, 21), b = random({8}, 22);
  expectClose(layerNorm(y, g, &b, 1e-5, false),
              layerNormalization(y, g, &b, -1, 1e-5));
}

TEST(Reduce, BatchNormalization) {
  Tensor x = F({1, 2, 2}, {1, 2, 3, 4});
  Tensor r = batchNormalization(x, F({2}, {1, 2}), F({2}, {0, 1}),
                                F({2}, {1, 3}), F({2}, {4, 1}), 0);
  expectValues(r, {1, 2, 2}, {0, 0.5, 1, 3});
  EXPECT_THROW(batchNormalization(x, F({1}, {1}), F({2}, {0, 1}),
                                  F({2}, {1, 3}), F({2}, {4, 1}), 0),
               Error);
}

//===----------------------------------------------------------------------===//
// Fused ops
//===----------------------------------------------------------------------===//

TEST(Fused, RmsNormAndSkipLayerNorm) {
  Tensor x = F({1, 2}, {3, 4});
  double inv = 1 / std::sqrt(12.5);
  expectValues(layerNorm(x, F({2}, {1, 2}), nullptr, 0, true), {1, 2},
               {3 * inv, 8 * inv});
  Tensor beta = F({2}, {1, 1});
  expectValues(layerNorm(x, F({2}, {1, 2}), &beta, 0, true), {1, 2},
               {3 * inv + 1, 8 * inv + 1});
  EXPECT_THROW(layerNorm(x, F({3}, {1, 1, 1}), nullptr, 0, false), Error);

  Tensor a = random({2, 3, 8}, 30), skip = random({2, 3, 8}, 31);
  Tensor g = random({8}, 32), b = random({8}, 33), bias = random({8}, 34);
  auto [out, sum] = skipLayerNorm(a, skip, g, &b, &bias, 1e-5, false);
  Tensor s = binary(BinaryKind::Add, binary(BinaryKind::Add, a, skip), bias);
  expectClose(sum, s, 0);
  expectClose(out, layerNormalization(s, g, &b, -1, 1e-5));
  EXPECT_THROW(
      skipLayerNorm(a, random({2, 3, 4}, 35), g, nullptr, nullptr, 1e-5, false),
      Error);
}

namespace {

/// softmax(scale·q·kᵀ + mask)·v in bhsd, built from the plain kernels.
/// `keep` (bool [Sq, Sk] broadcast) removes keys by adding -1e30.
Tensor naiveAttention(const Tensor &q, const Tensor &k, const Tensor &v,
                      const Tensor *additive, const Tensor *keep,
                      double scale) {
  Tensor s = matmul(q, transpose(k, {0, 1, 3, 2}));
  s = binary(BinaryKind::Mul, s, F({}, {(float)scale}));
  if (additive)
    s = binary(BinaryKind::Add, s, *additive);
  if (keep)
    s = where(*keep, s, F({}, {-1e30f}));
  return matmul(softmax(s, -1), v);
}

Tensor causalKeep(int64_t sq, int64_t sk) {
  Tensor keep(DType::Bool, {sq, sk});
  for (int64_t i = 0; i < sq; ++i)
    for (int64_t j = 0; j < sk; ++j)
      keep.data<uint8_t>()[i * sk + j] = j <= i + (sk - sq);
  return keep;
}

} // namespace

TEST(Fused, AttentionMatchesNaive) {
  Tensor q = random({2, 3, 4, 8}, 40), k = random({2, 3, 6, 8}, 41),
         v = random({2, 3, 6, 5}, 42);
  AttentionOptions o;
  o.scale = 1 / std::sqrt(8.0);
  expectClose(attention(q, k, v, nullptr, o),
              naiveAttention(q, k, v, nullptr, nullptr, o.scale));

  // Causal with Sq < Sk: query i sees keys j <= i + 2.
  o.causal = true;
  Tensor keep = causalKeep(4, 6);
  expectClose(attention(q, k, v, nullptr, o),
              naiveAttention(q, k, v, nullptr, &keep, o.scale));

  // Additive float mask [B,1,1,Sk] plus causal.
  Tensor add = random({2, 1, 1, 6}, 43);
  expectClose(attention(q, k, v, &add, o),
              naiveAttention(q, k, v, &add, &keep, o.scale));

  // Bool mask [Sq, Sk] (true = attend), no causal.
  o.causal = false;
  Tensor boolMask(DType::Bool, {4, 6});
  for (int64_t i = 0; i < 24; ++i)
    boolMask.data<uint8_t>()[i] = (i * 7) % 3 != 0 || i % 6 == 0;
  expectClose(attention(q, k, v, &boolMask, o),
              naiveAttention(q, k, v, nullptr, &boolMask, o.scale));

  // k given as [B,H,D,Sk].
  o.kTransposed = true;
  expectClose(attention(q, transpose(k, {0, 1, 3, 2}), v, &add, o),
              naiveAttention(q, k, v, &add, nullptr, o.scale));
}

TEST(Fused, AttentionBsdLayout) {
  const int64_t b = 2, s = 4, sk = 5, h = 2, d = 3;
  Tensor q = random({b, s, h * d}, 50), k = random({b, sk, h * d}, 51),
         v = random({b, sk, h * d}, 52);
  auto heads = [&](const Tensor &t, int64_t len) {
    return transpose(t.reshaped({b, len, h, d}), {0, 2, 1, 3});
  };
  AttentionOptions o;
  o.scale = 0.7;
  o.numHeads = h;
  o.layout = AttentionLayout::BSD;
  o.causal = true;
  Tensor mask = random({b, 1, 1, sk}, 53);
  Tensor keep = causalKeep(s, sk);
  Tensor want = naiveAttention(heads(q, s), heads(k, sk), heads(v, sk), &mask,
                               &keep, o.scale);
  want = transpose(want, {0, 2, 1, 3}).reshaped({b, s, h * d});
  expectClose(attention(q, k, v, &mask, o), want);
  o.kTransposed = true;
  expectClose(attention(q, transpose(k, {0, 2, 1}), v, &mask, o), want);
  o.numHeads = 4;
  EXPECT_THROW(attention(q, k, v, nullptr, o), Error);
}

TEST(Fused, AttentionFullyMaskedRowIsZero) {
  Tensor q = random({1, 1, 2, 4}, 60), k = random({1, 1, 3, 4}, 61),
         v = random({1, 1, 3, 2}, 62);
  Tensor mask = B({2, 3}, {0, 0, 0, 1, 0, 1});
  AttentionOptions o;
  Tensor r = attention(q, k, v, &mask, o);
  EXPECT_EQ(r.getDouble(0), 0.0);
  EXPECT_EQ(r.getDouble(1), 0.0);
  Tensor keep = B({1, 3}, {1, 0, 1});
  Tensor row1 =
      naiveAttention(slice(q, {1}, {2}, {2}, {}), k, v, nullptr, &keep, 1.0);
  EXPECT_NEAR(r.getDouble(2), row1.getDouble(0), 1e-6);
  EXPECT_NEAR(r.getDouble(3), row1.getDouble(1), 1e-6);
  Tensor inf = F({3}, {-INFINITY, -INFINITY, -INFINITY});
  Tensor z = attention(q, k, v, &inf, o);
  for (int64_t i = 0; i < z.numel(); ++i)
    EXPECT_EQ(z.getDouble(i), 0.0);
  EXPECT_THROW(attention(q, k, v, &keep,
                         [] {
                           AttentionOptions bad;
                           bad.numHeads = 3;
                           return bad;
                         }()),
               Error);
  Tensor badMask = F({2, 2}, {0, 0, 0, 0});
  EXPECT_THROW(attention(q, k, v, &badMask, o), Error);
}

TEST(Fused, FusedMatmul) {
  Tensor a = random({2, 3, 4}, 70), b = random({5, 4}, 71),
         bias = random({5}, 72);
  Tensor bt = transpose(b, {1, 0});
  Tensor lin =
      binary(BinaryKind::Add,
             binary(BinaryKind::Mul, matmul(a, bt), F({}, {0.5f})), bias);
  expectClose(fusedMatmul(a, b, &bias, Activation::None, true, 0.5), lin);
  expectClose(fusedMatmul(a, b, &bias, Activation::Gelu, true, 0.5),
              gelu(lin, false));
  expectClose(fusedMatmul(a, b, &bias, Activation::GeluTanh, true, 0.5),
              gelu(lin, true));
  expectClose(fusedMatmul(a, b, &bias, Activation::Relu, true, 0.5),
              unary(UnaryKind::Relu, lin));
  expectClose(fusedMatmul(a, b, &bias, Activation::Tanh, true, 0.5),
              unary(UnaryKind::Tanh, lin));
  expectClose(fusedMatmul(a, bt, nullptr, Activation::None, false, 1.0),
              matmul(a, bt));
  EXPECT_EQ(parseActivation("gelu_tanh"), Activation::GeluTanh);
  EXPECT_FALSE(parseActivation("swish").has_value());
  EXPECT_THROW(fusedMatmul(a, b, nullptr, Activation::None, false, 1.0), Error);
}

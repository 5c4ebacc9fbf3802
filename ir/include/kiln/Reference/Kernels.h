// Reference kernels: one plain C++ function per kiln op, defining its meaning.
// No MLIR; attributes are plain arguments; invalid input throws ref::Error.
#ifndef KILN_REFERENCE_KERNELS_H
#define KILN_REFERENCE_KERNELS_H

#include "kiln/Reference/Tensor.h"
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kiln::ref {

// Conventions: float tensors (f32, f64, f16, bf16) are computed in double and
// stored back in the input dtype; integer ops compute in int64. Axes may be
// negative (counted from the back). Optional operands are `const Tensor *`
// (nullptr when absent).

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

/// numpy broadcasting of two shapes; throws Error when incompatible.
Shape broadcastShapes(const Shape &a, const Shape &b);
/// Normalizes axis into [0, rank); throws Error naming `what` when out of
/// range.
int64_t normalizeAxis(int64_t axis, int64_t rank, const char *what);
/// The elements as doubles (any dtype) and back (to a float dtype).
std::vector<double> toDoubles(const Tensor &t);
Tensor fromDoubles(DType t, Shape s, const std::vector<double> &v);

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

enum class UnaryKind {
  Identity,
  Neg,
  Abs,
  Sqrt,
  Reciprocal,
  Exp,
  Log,
  Erf,
  Tanh,
  Relu,
  Sigmoid,
  Sin,
  Cos,
  Floor,
  Ceil,
  Not
};
/// Identity works on any dtype; Neg/Abs/Relu on floats and integers; Not on
/// bool; the rest on floats.
Tensor unary(UnaryKind kind, const Tensor &x);

/// GELU: x·Φ(x) (exact, erf) or 0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³))).
Tensor gelu(const Tensor &x, bool tanhApprox);

enum class BinaryKind {
  Add,
  Sub,
  Mul,
  Div,
  Pow,
  Max,
  Min,
  Mod,  // integer/float modulo with the divisor's sign (Python %)
  FMod, // C fmod: the dividend's sign
  Equal,
  Less,
  LessOrEqual,
  Greater,
  GreaterOrEqual, // -> bool
  And,
  Or,
  Xor // bool only
};
/// Elementwise with numpy broadcasting. Operands must share a dtype, except
/// Pow whose exponent may have any numeric dtype (result: base's dtype).
/// Integer Div truncates toward zero; integer division by zero is an Error.
Tensor binary(BinaryKind kind, const Tensor &a, const Tensor &b);

/// cond (bool) ? x : y with broadcasting of all three.
Tensor where(const Tensor &cond, const Tensor &x, const Tensor &y);

/// ONNX Cast (float to int truncates toward zero, to bool is x != 0).
Tensor cast(const Tensor &x, DType to);

//===----------------------------------------------------------------------===//
// Linear algebra
//===----------------------------------------------------------------------===//

/// numpy matmul: 1-D operands get a dim prepended/appended (then removed),
/// batch dims broadcast. Floats accumulate in double; integers in int64.
Tensor matmul(const Tensor &a, const Tensor &b);

/// ONNX Gemm on 2-D a, b: alpha·op(a)·op(b) + beta·c (c broadcast to [M,N]).
Tensor gemm(const Tensor &a, const Tensor &b, const Tensor *c, double alpha,
            double beta, bool transA, bool transB);

/// Einstein summation: "ij,jk->ik" (explicit) or "ij,jk" (implicit output:
/// labels seen once, sorted). Any number of inputs; labels absent from the
/// output are summed; "..." broadcasts leading dims. A label repeated within
/// one operand takes the diagonal.
Tensor einsum(const std::string &equation, const std::vector<Tensor> &inputs);

//===----------------------------------------------------------------------===//
// Data movement and shapes
//===----------------------------------------------------------------------===//

/// Output dim i is input dim perm[i]; empty perm reverses the dims.
Tensor transpose(const Tensor &x, const std::vector<int64_t> &perm);
/// ONNX Reshape: 0 copies the input dim (unless allowZero), one -1 is inferred.
Tensor reshape(const Tensor &x, const std::vector<int64_t> &shape,
               bool allowZero);
/// The shape ONNX Reshape gives `in` for `shape` (throws on invalid).
Shape reshapeShape(const Shape &in, const std::vector<int64_t> &shape,
                   bool allowZero);
/// [prod(d[:axis]), prod(d[axis:])], axis in [-rank, rank].
Tensor flatten(const Tensor &x, int64_t axis);
/// Removes the given size-1 dims (every size-1 dim when axes is empty).
Tensor squeeze(const Tensor &x, const std::vector<int64_t> &axes);
/// Inserts size-1 dims at the given positions of the output.
Tensor unsqueeze(const Tensor &x, const std::vector<int64_t> &axes);
Tensor concat(const std::vector<Tensor> &inputs, int64_t axis);
/// Pieces of the given sizes along axis (sizes must sum to the dim).
std::vector<Tensor> split(const Tensor &x, int64_t axis,
                          const std::vector<int64_t> &sizes);
/// ONNX Slice: empty axes means 0..n-1, empty steps means all 1. Negative
/// starts/ends count from the back, out-of-range values clamp, steps may be
/// negative (not zero).
Tensor slice(const Tensor &x, const std::vector<int64_t> &starts,
             const std::vector<int64_t> &ends, const std::vector<int64_t> &axes,
             const std::vector<int64_t> &steps);
/// ONNX Gather: out = x.take(indices, axis); negative indices wrap once.
Tensor gather(const Tensor &x, const Tensor &indices, int64_t axis);
/// ONNX GatherElements: out[i..] = x[.., indices[i..], ..] along axis.
Tensor gatherElements(const Tensor &x, const Tensor &indices, int64_t axis);
/// dims [start, end) of x's shape as 1-D i64 (ONNX Shape, clamped).
Tensor shapeOf(const Tensor &x, int64_t start, std::optional<int64_t> end);
/// ONNX Expand: broadcast x with `shape` (bidirectional, like numpy).
Tensor expand(const Tensor &x, const std::vector<int64_t> &shape);
/// numpy broadcast_to (x's shape must broadcast to exactly `shape`).
Tensor broadcastTo(const Tensor &x, const Shape &shape);
Tensor tile(const Tensor &x, const std::vector<int64_t> &repeats);
/// A tensor of `shape` filled with the single element of `value`.
Tensor constantOfShape(const std::vector<int64_t> &shape, const Tensor &value);
/// [start, limit) step delta; scalars of one dtype, delta != 0.
Tensor range(const Tensor &start, const Tensor &limit, const Tensor &delta);
/// Keeps j >= i + k (upper) or j <= i + k (lower) in the last two dims.
Tensor trilu(const Tensor &x, bool upper, int64_t k);

enum class ScatterReduction { None, Add, Mul, Max, Min };
/// ONNX ScatterElements; updates apply in row-major order of `indices`.
Tensor scatterElements(const Tensor &x, const Tensor &indices,
                       const Tensor &updates, int64_t axis,
                       ScatterReduction reduction);

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

/// Numerically stable (max subtracted first).
Tensor softmax(const Tensor &x, int64_t axis);
Tensor logSoftmax(const Tensor &x, int64_t axis);

enum class ReduceKind { Mean, Sum, Max, Min, Prod };
/// Reduces over `axes` (all when empty, unless noopWithEmptyAxes, then x).
/// Empty reductions give 0 (Sum), 1 (Prod), NaN (float Mean), -inf/+inf or
/// the dtype's min/max (Max/Min). Float Max/Min propagate NaN.
Tensor reduce(ReduceKind kind, const Tensor &x,
              const std::vector<int64_t> &axes, bool keepDims,
              bool noopWithEmptyAxes);
/// Index (i64) of the maximum along axis; first one on ties unless
/// selectLastIndex. NaN counts as the maximum (first NaN wins).
Tensor argmax(const Tensor &x, int64_t axis, bool keepDims,
              bool selectLastIndex);
/// k largest (or smallest) along axis: values and i64 indices. Ties keep the
/// lower index first. `sorted` is accepted; results are always sorted.
std::pair<Tensor, Tensor> topk(const Tensor &x, int64_t k, int64_t axis,
                               bool largest, bool sorted);
Tensor cumsum(const Tensor &x, int64_t axis, bool exclusive, bool reverse);
/// ONNX LayerNormalization: normalizes over dims [axis, rank); scale and
/// bias broadcast against those trailing dims.
Tensor layerNormalization(const Tensor &x, const Tensor &scale,
                          const Tensor *bias, int64_t axis, double epsilon);
/// ONNX BatchNormalization (inference): channels at dim 1, params 1-D [C].
Tensor batchNormalization(const Tensor &x, const Tensor &scale,
                          const Tensor &bias, const Tensor &mean,
                          const Tensor &var, double epsilon);

//===----------------------------------------------------------------------===//
// Fused ops
//===----------------------------------------------------------------------===//

/// kiln.layer_norm over the last dim; gamma/beta 1-D of that size. With rms:
/// x/√(mean(x²)+ε)·γ (+β).
Tensor layerNorm(const Tensor &x, const Tensor &gamma, const Tensor *beta,
                 double epsilon, bool rms);
/// kiln.skip_layer_norm: s = x + skip (+ bias), returns {layer_norm(s), s}.
std::pair<Tensor, Tensor> skipLayerNorm(const Tensor &x, const Tensor &skip,
                                        const Tensor &gamma, const Tensor *beta,
                                        const Tensor *bias, double epsilon,
                                        bool rms);

enum class AttentionLayout { BHSD, BSD };
struct AttentionOptions {
  double scale = 1.0;
  int64_t numHeads = 1;
  bool causal = false;
  bool kTransposed = false;
  AttentionLayout layout = AttentionLayout::BHSD;
};
/// kiln.attention: softmax(scale·Q·Kᵀ + mask)·V per head (see KilnOps.td).
/// mask: additive float or bool (true = attend), broadcastable to
/// [B,H,Sq,Sk]. Causal masks key j for query i when j > i + (Sk - Sq).
/// A key is masked by a false bool, the causal rule or a -inf score (finite
/// additive values such as -1e4 are not masking); a query row whose keys are
/// all masked gives zeros. In layout bsd, k_transposed means k is [B,H·D,Sk].
Tensor attention(const Tensor &q, const Tensor &k, const Tensor &v,
                 const Tensor *mask, const AttentionOptions &opts);

enum class Activation { None, Relu, Gelu, GeluTanh, Tanh };
/// Parses "none|relu|gelu|gelu_tanh|tanh"; std::nullopt otherwise.
std::optional<Activation> parseActivation(const std::string &name);
/// kiln.fused_matmul: act(alpha·matmul(a, op(b)) + bias); op(b) swaps b's
/// last two dims when transB; bias broadcasts against the product.
Tensor fusedMatmul(const Tensor &a, const Tensor &b, const Tensor *bias,
                   Activation act, bool transB, double alpha);

} // namespace kiln::ref

#endif // KILN_REFERENCE_KERNELS_H

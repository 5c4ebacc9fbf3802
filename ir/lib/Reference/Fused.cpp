// Reference kernels for kiln's fused ops: layer_norm (and RMS),
// skip_layer_norm, attention (masks, causal, layouts), fused_matmul epilogues.
#include "KernelUtil.h"

#include <cmath>
#include <limits>

using namespace kiln::ref;
using namespace kiln::ref::detail;

Tensor kiln::ref::layerNorm(const Tensor &x, const Tensor &gamma,
                            const Tensor *beta, double epsilon, bool rms) {
  requireFloat(x, "layer_norm", "input");
  requireFloat(gamma, "layer_norm", "gamma");
  if (x.rank() == 0)
    throw Error("layer_norm: input must have rank >= 1");
  int64_t n = x.dim(-1);
  if (gamma.shape() != Shape{n})
    throw Error("layer_norm: gamma must have shape " + std::to_string(n) +
                ", got " + shapeStr(gamma.shape()));
  std::vector<double> vb;
  if (beta) {
    requireFloat(*beta, "layer_norm", "beta");
    if (beta->shape() != Shape{n})
      throw Error("layer_norm: beta must have shape " + std::to_string(n) +
                  ", got " + shapeStr(beta->shape()));
    vb = toDoubles(*beta);
  }
  std::vector<double> v = toDoubles(x), vg = toDoubles(gamma);
  int64_t rows = n ? x.numel() / n : 0;
  for (int64_t r = 0; r < rows; ++r) {
    double *row = v.data() + r * n;
    double mean = 0, var = 0;
    if (!rms) {
      for (int64_t i = 0; i < n; ++i)
        mean += row[i];
      mean /= (double)n;
    }
    for (int64_t i = 0; i < n; ++i)
      var += (row[i] - mean) * (row[i] - mean);
    var /= (double)n; // with rms: mean(x²)
    double inv = 1.0 / std::sqrt(var + epsilon);
    for (int64_t i = 0; i < n; ++i)
      row[i] = (row[i] - mean) * inv * vg[i] + (beta ? vb[i] : 0.0);
  }
  return fromDoubles(x.dtype(), x.shape(), v);
}

std::pair<Tensor, Tensor>
kiln::ref::skipLayerNorm(const Tensor &x, const Tensor &skip,
                         const Tensor &gamma, const Tensor *beta,
                         const Tensor *bias, double epsilon, bool rms) {
  requireFloat(x, "skip_layer_norm", "input");
  Tensor sum = binary(BinaryKind::Add, x, skip);
  if (sum.shape() != x.shape())
    throw Error("skip_layer_norm: skip " + shapeStr(skip.shape()) +
                " must not grow the input " + shapeStr(x.shape()));
  if (bias) {
    if (bias->rank() != 1 || bias->dim(0) != x.dim(-1))
      throw Error("skip_layer_norm: bias must have shape " +
                  std::to_string(x.dim(-1)) + ", got " +
                  shapeStr(bias->shape()));
    sum = binary(BinaryKind::Add, sum, *bias);
  }
  Tensor out = layerNorm(sum, gamma, beta, epsilon, rms);
  return {out, sum};
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

/// [B, S, H·D] -> [B, H, S, D].
static Tensor splitHeads(const Tensor &t, int64_t heads, const char *name) {
  if (t.rank() != 3)
    throw Error(std::string("attention: ") + name +
                " must be [B, S, H*D] in layout bsd, got " +
                shapeStr(t.shape()));
  if (t.dim(2) % heads != 0)
    throw Error(std::string("attention: ") + name + " hidden size " +
                std::to_string(t.dim(2)) + " is not divisible by num_heads " +
                std::to_string(heads));
  Tensor r = t.reshaped({t.dim(0), t.dim(1), heads, t.dim(2) / heads});
  return transpose(r, {0, 2, 1, 3});
}

Tensor kiln::ref::attention(const Tensor &qIn, const Tensor &kIn,
                            const Tensor &vIn, const Tensor *mask,
                            const AttentionOptions &opts) {
  requireFloat(qIn, "attention", "q");
  requireSameDType(qIn, kIn, "attention");
  requireSameDType(qIn, vIn, "attention");
  bool bsd = opts.layout == AttentionLayout::BSD;
  if (opts.numHeads < 1)
    throw Error("attention: num_heads must be >= 1");
  Tensor q = qIn, k = kIn, v = vIn;
  if (bsd) {
    q = splitHeads(qIn, opts.numHeads, "q");
    v = splitHeads(vIn, opts.numHeads, "v");
    // k [B, Sk, H·D], or [B, H·D, Sk] when transposed.
    k = splitHeads(opts.kTransposed ? swapLastTwo(kIn) : kIn, opts.numHeads,
                   "k");
    if (opts.kTransposed)
      k = swapLastTwo(k);
  }
  for (auto [t, name] : {std::pair{&q, "q"}, {&k, "k"}, {&v, "v"}})
    if (t->rank() != 4)
      throw Error(std::string("attention: ") + name +
                  " must have rank 4 in layout bhsd, got " +
                  shapeStr(t->shape()));
  int64_t b = q.dim(0), h = q.dim(1), sq = q.dim(2), d = q.dim(3);
  int64_t sk = opts.kTransposed ? k.dim(3) : k.dim(2);
  int64_t kd = opts.kTransposed ? k.dim(2) : k.dim(3);
  int64_t dv = v.dim(3);
  if (!bsd && opts.numHeads != 1 && opts.numHeads != h)
    throw Error("attention: num_heads " + std::to_string(opts.numHeads) +
                " does not match q " + shapeStr(q.shape()));
  if (k.dim(0) != b || k.dim(1) != h || kd != d || v.dim(0) != b ||
      v.dim(1) != h || v.dim(2) != sk)
    throw Error("attention: shapes q " + shapeStr(qIn.shape()) + ", k " +
                shapeStr(kIn.shape()) + ", v " + shapeStr(vIn.shape()) +
                " do not fit together");

  Shape scoreShape{b, h, sq, sk};
  std::vector<int64_t> maskMap;
  std::vector<double> maskVals;
  bool boolMask = false;
  if (mask) {
    boolMask = mask->dtype() == DType::Bool;
    if (!boolMask && !isFloat(mask->dtype()))
      throw Error(std::string("attention: mask must be float or bool, got ") +
                  dtypeName(mask->dtype()));
    maskMap = broadcastIndexMap(mask->shape(), scoreShape, "attention: mask");
    maskVals = toDoubles(*mask);
  }

  std::vector<double> vq = toDoubles(q), vk = toDoubles(k), vv = toDoubles(v);
  std::vector<double> out((size_t)(b * h * sq * dv), 0.0);
  std::vector<double> scores((size_t)sk);
  std::vector<bool> live((size_t)sk);
  const double ninf = -std::numeric_limits<double>::infinity();
  for (int64_t bh = 0; bh < b * h; ++bh) {
    const double *Q = vq.data() + bh * sq * d;
    const double *K = vk.data() + bh * sk * d;
    const double *V = vv.data() + bh * sk * dv;
    for (int64_t i = 0; i < sq; ++i) {
      double mx = ninf;
      for (int64_t j = 0; j < sk; ++j) {
        double dot = 0;
        for (int64_t c = 0; c < d; ++c)
          dot +=
              Q[i * d + c] * (opts.kTransposed ? K[c * sk + j] : K[j * d + c]);
        double s = opts.scale * dot;
        bool ok = !(opts.causal && j > i + (sk - sq));
        if (mask) {
          double m = maskVals[maskMap[(bh * sq + i) * sk + j]];
          if (boolMask)
            ok = ok && m != 0;
          else
            s += m;
        }
        // A key is masked by a false bool, the causal rule, or a -inf score.
        ok = ok && s != ninf;
        live[j] = ok;
        scores[j] = s;
        if (ok)
          mx = std::max(mx, s);
      }
      if (mx == ninf) // every key masked: the row is zeros
        continue;
      double sum = 0;
      for (int64_t j = 0; j < sk; ++j) {
        scores[j] = live[j] ? std::exp(scores[j] - mx) : 0.0;
        sum += scores[j];
      }
      double *O = out.data() + (bh * sq + i) * dv;
      for (int64_t j = 0; j < sk; ++j) {
        if (!live[j])
          continue;
        double p = scores[j] / sum;
        for (int64_t c = 0; c < dv; ++c)
          O[c] += p * V[j * dv + c];
      }
    }
  }
  Tensor result = fromDoubles(q.dtype(), {b, h, sq, dv}, out);
  if (!bsd)
    return result;
  return transpose(result, {0, 2, 1, 3}).reshaped({b, sq, h * dv});
}

//===----------------------------------------------------------------------===//
// Fused matmul
//===----------------------------------------------------------------------===//

std::optional<Activation> kiln::ref::parseActivation(const std::string &name) {
  if (name == "none")
    return Activation::None;
  if (name == "relu")
    return Activation::Relu;
  if (name == "gelu")
    return Activation::Gelu;
  if (name == "gelu_tanh")
    return Activation::GeluTanh;
  if (name == "tanh")
    return Activation::Tanh;
  return std::nullopt;
}

Tensor kiln::ref::fusedMatmul(const Tensor &a, const Tensor &b,
                              const Tensor *bias, Activation act, bool transB,
                              double alpha) {
  requireFloat(a, "fused_matmul", "a");
  requireSameDType(a, b, "fused_matmul");
  Shape shape;
  std::vector<double> r =
      matmulDoubles(a, transB ? swapLastTwo(b) : b, shape, "fused_matmul");
  std::vector<int64_t> biasMap;
  std::vector<double> vb;
  if (bias) {
    requireSameDType(a, *bias, "fused_matmul");
    biasMap = broadcastIndexMap(bias->shape(), shape, "fused_matmul: bias");
    vb = toDoubles(*bias);
  }
  const double kSqrt2OverPi = 0.79788456080286535588;
  for (size_t i = 0; i < r.size(); ++i) {
    double x = alpha * r[i] + (bias ? vb[biasMap[i]] : 0.0);
    switch (act) {
    case Activation::None:
      break;
    case Activation::Relu:
      x = x > 0 ? x : (std::isnan(x) ? x : 0.0);
      break;
    case Activation::Gelu:
      x = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
      break;
    case Activation::GeluTanh:
      x = 0.5 * x *
          (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
      break;
    case Activation::Tanh:
      x = std::tanh(x);
      break;
    }
    r[i] = x;
  }
  return fromDoubles(a.dtype(), shape, r);
}

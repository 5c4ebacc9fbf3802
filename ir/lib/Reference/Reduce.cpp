// Reference kernels for reductions and normalizations: softmax, reduce_*,
// argmax, topk, cumsum, ONNX LayerNormalization and BatchNormalization.
#include "KernelUtil.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

using namespace kiln::ref;
using namespace kiln::ref::detail;

namespace {
/// x viewed as [outer, dim, inner] around one axis.
struct AxisView {
  int64_t outer = 1, dim = 1, inner = 1;
  AxisView(const Shape &s, int64_t axis) {
    for (int64_t d = 0; d < (int64_t)s.size(); ++d)
      (d < axis ? outer : d == axis ? dim : inner) *= s[d];
  }
  int64_t at(int64_t o, int64_t j, int64_t i) const {
    return (o * dim + j) * inner + i;
  }
};
} // namespace

static Tensor softmaxImpl(const Tensor &x, int64_t axis, bool log,
                          const char *name) {
  requireFloat(x, name, "input");
  if (x.rank() == 0)
    throw Error(std::string(name) + ": input must have rank >= 1");
  axis = normalizeAxis(axis, x.rank(), name);
  AxisView v(x.shape(), axis);
  std::vector<double> a = toDoubles(x);
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < v.inner; ++i) {
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < v.dim; ++j)
        mx = std::max(mx, a[v.at(o, j, i)]);
      double sum = 0;
      for (int64_t j = 0; j < v.dim; ++j)
        sum += std::exp(a[v.at(o, j, i)] - mx);
      double logSum = std::log(sum);
      for (int64_t j = 0; j < v.dim; ++j) {
        double &e = a[v.at(o, j, i)];
        e = log ? e - mx - logSum : std::exp(e - mx) / sum;
      }
    }
  return fromDoubles(x.dtype(), x.shape(), a);
}

Tensor kiln::ref::softmax(const Tensor &x, int64_t axis) {
  return softmaxImpl(x, axis, false, "softmax");
}

Tensor kiln::ref::logSoftmax(const Tensor &x, int64_t axis) {
  return softmaxImpl(x, axis, true, "log_softmax");
}

/// The smallest / largest value of an integer dtype (for empty max/min).
static int64_t intLimit(DType t, bool lowest) {
  switch (t) {
  case DType::I32:
    return lowest ? std::numeric_limits<int32_t>::min()
                  : std::numeric_limits<int32_t>::max();
  case DType::I8:
    return lowest ? -128 : 127;
  case DType::U8:
  case DType::Bool:
    return lowest ? 0 : (t == DType::Bool ? 1 : 255);
  default:
    return lowest ? std::numeric_limits<int64_t>::min()
                  : std::numeric_limits<int64_t>::max();
  }
}

Tensor kiln::ref::reduce(ReduceKind kind, const Tensor &x,
                         const std::vector<int64_t> &axes, bool keepDims,
                         bool noopWithEmptyAxes) {
  if (axes.empty() && noopWithEmptyAxes)
    return x;
  int64_t rank = x.rank();
  std::vector<bool> reduced(rank, axes.empty());
  for (int64_t a : axes) {
    int64_t n = normalizeAxis(a, rank, "reduce");
    if (reduced[n])
      throw Error("reduce: axis " + std::to_string(a) + " is repeated");
    reduced[n] = true;
  }
  if (x.dtype() == DType::Bool)
    throw Error("reduce: input must be numeric, got bool");
  Shape outShape, keptShape;
  std::vector<int64_t> st(rank, 0);
  for (int64_t d = 0; d < rank; ++d) {
    keptShape.push_back(reduced[d] ? 1 : x.dim(d));
    if (!reduced[d])
      outShape.push_back(x.dim(d));
    else if (keepDims)
      outShape.push_back(1);
  }
  Shape keptSt = strides(keptShape);
  for (int64_t d = 0; d < rank; ++d)
    st[d] = reduced[d] ? 0 : keptSt[d];
  int64_t outN = numElements(keptShape);
  int64_t count = outN ? x.numel() / outN : 0;
  bool fl = isFloat(x.dtype());
  Tensor out(x.dtype(), outShape);

  if (fl) {
    const double inf = std::numeric_limits<double>::infinity();
    double init = kind == ReduceKind::Max    ? -inf
                  : kind == ReduceKind::Min  ? inf
                  : kind == ReduceKind::Prod ? 1.0
                                             : 0.0;
    std::vector<double> acc((size_t)outN, init), v = toDoubles(x);
    forEachOffset(x.shape(), 0, st, [&](int64_t i, int64_t o) {
      double e = v[i];
      double &a = acc[o];
      switch (kind) {
      case ReduceKind::Max:
        a = std::isnan(a) || std::isnan(e) ? NAN : std::max(a, e);
        break;
      case ReduceKind::Min:
        a = std::isnan(a) || std::isnan(e) ? NAN : std::min(a, e);
        break;
      case ReduceKind::Prod:
        a *= e;
        break;
      default:
        a += e;
      }
    });
    if (kind == ReduceKind::Mean)
      for (double &a : acc)
        a /= (double)count; // empty: NaN
    return fromDoubles(x.dtype(), outShape, acc);
  }
  int64_t init = kind == ReduceKind::Max    ? intLimit(x.dtype(), true)
                 : kind == ReduceKind::Min  ? intLimit(x.dtype(), false)
                 : kind == ReduceKind::Prod ? 1
                                            : 0;
  std::vector<int64_t> acc((size_t)outN, init);
  forEachOffset(x.shape(), 0, st, [&](int64_t i, int64_t o) {
    int64_t e = x.getInt(i);
    int64_t &a = acc[o];
    if (kind == ReduceKind::Max)
      a = std::max(a, e);
    else if (kind == ReduceKind::Min)
      a = std::min(a, e);
    else if (kind == ReduceKind::Prod)
      a = (int64_t)((uint64_t)a * (uint64_t)e);
    else
      a = (int64_t)((uint64_t)a + (uint64_t)e);
  });
  for (int64_t o = 0; o < outN; ++o) {
    if (kind == ReduceKind::Mean && count == 0)
      throw Error("reduce_mean: empty reduction of an integer tensor");
    out.setInt(o, kind == ReduceKind::Mean ? acc[o] / count : acc[o]);
  }
  return out;
}

Tensor kiln::ref::argmax(const Tensor &x, int64_t axis, bool keepDims,
                         bool selectLastIndex) {
  if (x.rank() == 0)
    throw Error("argmax: input must have rank >= 1");
  axis = normalizeAxis(axis, x.rank(), "argmax");
  if (x.dim(axis) == 0)
    throw Error("argmax: axis " + std::to_string(axis) + " of " +
                shapeStr(x.shape()) + " is empty");
  if (x.dtype() == DType::Bool)
    throw Error("argmax: input must be numeric, got bool");
  AxisView v(x.shape(), axis);
  Shape outShape = x.shape();
  if (keepDims)
    outShape[axis] = 1;
  else
    outShape.erase(outShape.begin() + axis);
  Tensor out(DType::I64, outShape);
  bool fl = isFloat(x.dtype());
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < v.inner; ++i) {
      int64_t best = 0;
      for (int64_t j = 1; j < v.dim; ++j) {
        bool better;
        if (fl) {
          double c = x.getDouble(v.at(o, j, i)),
                 b = x.getDouble(v.at(o, best, i));
          if (std::isnan(b))
            better = selectLastIndex && std::isnan(c);
          else
            better = std::isnan(c) || c > b || (selectLastIndex && c == b);
        } else {
          int64_t c = x.getInt(v.at(o, j, i)), b = x.getInt(v.at(o, best, i));
          better = c > b || (selectLastIndex && c == b);
        }
        if (better)
          best = j;
      }
      out.data<int64_t>()[o * v.inner + i] = best;
    }
  return out;
}

std::pair<Tensor, Tensor> kiln::ref::topk(const Tensor &x, int64_t k,
                                          int64_t axis, bool largest,
                                          bool /*sorted*/) {
  if (x.rank() == 0)
    throw Error("topk: input must have rank >= 1");
  axis = normalizeAxis(axis, x.rank(), "topk");
  if (k < 0 || k > x.dim(axis))
    throw Error("topk: k = " + std::to_string(k) +
                " is out of range for axis " + std::to_string(axis) + " of " +
                shapeStr(x.shape()));
  if (x.dtype() == DType::Bool)
    throw Error("topk: input must be numeric, got bool");
  AxisView v(x.shape(), axis);
  Shape outShape = x.shape();
  outShape[axis] = k;
  Tensor values(x.dtype(), outShape), indices(DType::I64, outShape);
  AxisView ov(outShape, axis);
  bool fl = isFloat(x.dtype());
  size_t es = dtypeSize(x.dtype());
  std::vector<int64_t> order((size_t)v.dim);
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < v.inner; ++i) {
      std::iota(order.begin(), order.end(), 0);
      // NaN ranks above every number; stable_sort keeps lower indices first.
      auto before = [&](int64_t p, int64_t q) {
        if (fl) {
          double a = x.getDouble(v.at(o, p, i)), b = x.getDouble(v.at(o, q, i));
          if (std::isnan(a) || std::isnan(b))
            return largest ? (std::isnan(a) && !std::isnan(b))
                           : (!std::isnan(a) && std::isnan(b));
          return largest ? a > b : a < b;
        }
        int64_t a = x.getInt(v.at(o, p, i)), b = x.getInt(v.at(o, q, i));
        return largest ? a > b : a < b;
      };
      std::stable_sort(order.begin(), order.end(), before);
      for (int64_t j = 0; j < k; ++j) {
        int64_t dst = ov.at(o, j, i), src = v.at(o, order[j], i);
        std::memcpy(static_cast<unsigned char *>(values.raw()) + dst * es,
                    static_cast<const unsigned char *>(x.raw()) + src * es, es);
        indices.data<int64_t>()[dst] = order[j];
      }
    }
  return {values, indices};
}

Tensor kiln::ref::cumsum(const Tensor &x, int64_t axis, bool exclusive,
                         bool reverse) {
  if (x.rank() == 0)
    throw Error("cumsum: input must have rank >= 1");
  if (x.dtype() == DType::Bool)
    throw Error("cumsum: input must be numeric, got bool");
  axis = normalizeAxis(axis, x.rank(), "cumsum");
  AxisView v(x.shape(), axis);
  Tensor out(x.dtype(), x.shape());
  bool fl = isFloat(x.dtype());
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < v.inner; ++i) {
      double sumF = 0;
      int64_t sumI = 0;
      for (int64_t s = 0; s < v.dim; ++s) {
        int64_t j = reverse ? v.dim - 1 - s : s;
        int64_t at = v.at(o, j, i);
        if (fl) {
          double e = x.getDouble(at);
          if (!exclusive)
            sumF += e;
          out.setDouble(at, sumF);
          if (exclusive)
            sumF += e;
        } else {
          int64_t e = x.getInt(at);
          if (!exclusive)
            sumI = (int64_t)((uint64_t)sumI + (uint64_t)e);
          out.setInt(at, sumI);
          if (exclusive)
            sumI = (int64_t)((uint64_t)sumI + (uint64_t)e);
        }
      }
    }
  return out;
}

Tensor kiln::ref::layerNormalization(const Tensor &x, const Tensor &scale,
                                     const Tensor *bias, int64_t axis,
                                     double epsilon) {
  requireFloat(x, "layer_normalization", "input");
  requireFloat(scale, "layer_normalization", "scale");
  if (x.rank() == 0)
    throw Error("layer_normalization: input must have rank >= 1");
  axis = normalizeAxis(axis, x.rank(), "layer_normalization");
  Shape normShape(x.shape().begin() + axis, x.shape().end());
  int64_t n = numElements(normShape);
  int64_t rows = n ? x.numel() / n : 0;
  std::vector<int64_t> scaleMap =
      broadcastIndexMap(scale.shape(), normShape, "layer_normalization: scale");
  std::vector<int64_t> biasMap;
  std::vector<double> vb;
  if (bias) {
    requireFloat(*bias, "layer_normalization", "bias");
    biasMap = broadcastIndexMap(bias->shape(), normShape,
                                "layer_normalization: bias");
    vb = toDoubles(*bias);
  }
  std::vector<double> v = toDoubles(x), vs = toDoubles(scale);
  for (int64_t r = 0; r < rows; ++r) {
    double *row = v.data() + r * n;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; ++i)
      mean += row[i];
    mean /= (double)n;
    for (int64_t i = 0; i < n; ++i)
      var += (row[i] - mean) * (row[i] - mean);
    var /= (double)n;
    double inv = 1.0 / std::sqrt(var + epsilon);
    for (int64_t i = 0; i < n; ++i)
      row[i] = (row[i] - mean) * inv * vs[scaleMap[i]] +
               (bias ? vb[biasMap[i]] : 0.0);
  }
  return fromDoubles(x.dtype(), x.shape(), v);
}

Tensor kiln::ref::batchNormalization(const Tensor &x, const Tensor &scale,
                                     const Tensor &bias, const Tensor &mean,
                                     const Tensor &var, double epsilon) {
  requireFloat(x, "batch_normalization", "input");
  if (x.rank() < 2)
    throw Error("batch_normalization: input must have rank >= 2, got " +
                shapeStr(x.shape()));
  int64_t c = x.dim(1);
  const Tensor *params[] = {&scale, &bias, &mean, &var};
  const char *names[] = {"scale", "bias", "mean", "variance"};
  for (int p = 0; p < 4; ++p) {
    requireFloat(*params[p], "batch_normalization", names[p]);
    if (params[p]->shape() != Shape{c})
      throw Error(std::string("batch_normalization: ") + names[p] +
                  " must have shape " + std::to_string(c) + ", got " +
                  shapeStr(params[p]->shape()));
  }
  AxisView view(x.shape(), 1);
  std::vector<double> v = toDoubles(x);
  for (int64_t o = 0; o < view.outer; ++o)
    for (int64_t ch = 0; ch < c; ++ch) {
      double s = scale.getDouble(ch), b = bias.getDouble(ch);
      double m = mean.getDouble(ch);
      double inv = 1.0 / std::sqrt(var.getDouble(ch) + epsilon);
      for (int64_t i = 0; i < view.inner; ++i) {
        double &e = v[view.at(o, ch, i)];
        e = (e - m) * inv * s + b;
      }
    }
  return fromDoubles(x.dtype(), x.shape(), v);
}

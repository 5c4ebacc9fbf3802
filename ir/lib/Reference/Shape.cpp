// Reference kernels for data movement and shape ops: transpose, reshape,
// squeeze, concat, split, slice, gather, expand, tile, range, trilu, scatter.
#include "KernelUtil.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace kiln::ref;
using namespace kiln::ref::detail;

static std::string intsStr(const std::vector<int64_t> &v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

Tensor kiln::ref::transpose(const Tensor &x, const std::vector<int64_t> &perm) {
  int64_t rank = x.rank();
  std::vector<int64_t> p = perm;
  if (p.empty())
    for (int64_t i = rank - 1; i >= 0; --i)
      p.push_back(i);
  std::vector<bool> seen(rank, false);
  bool valid = (int64_t)p.size() == rank;
  for (int64_t d : p) {
    if (!valid || d < 0 || d >= rank || seen[d]) {
      valid = false;
      break;
    }
    seen[d] = true;
  }
  if (!valid)
    throw Error("transpose: perm " + intsStr(perm) +
                " is not a permutation of the dims of " + shapeStr(x.shape()));
  Shape inSt = strides(x.shape()), outShape(rank);
  std::vector<int64_t> st(rank);
  for (int64_t i = 0; i < rank; ++i) {
    outShape[i] = x.dim(p[i]);
    st[i] = inSt[p[i]];
  }
  return stridedCopy(x, outShape, 0, st);
}

Shape kiln::ref::reshapeShape(const Shape &in,
                              const std::vector<int64_t> &shape,
                              bool allowZero) {
  Shape out(shape.size());
  int64_t inferAt = -1, known = 1;
  bool hasZero = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t d = shape[i];
    if (d == -1) {
      if (inferAt >= 0)
        throw Error("reshape: more than one -1 in shape " + intsStr(shape));
      inferAt = (int64_t)i;
      continue;
    }
    if (d < -1)
      throw Error("reshape: invalid dim " + std::to_string(d) + " in shape " +
                  intsStr(shape));
    if (d == 0 && !allowZero) {
      if (i >= in.size())
        throw Error("reshape: shape " + intsStr(shape) + " copies dim " +
                    std::to_string(i) + " but the input " + shapeStr(in) +
                    " has rank " + std::to_string(in.size()));
      d = in[i];
    }
    hasZero |= d == 0;
    out[i] = d;
    known *= d;
  }
  int64_t total = numElements(in);
  if (inferAt >= 0) {
    if (hasZero)
      throw Error("reshape: cannot infer -1 in " + intsStr(shape) +
                  " next to a zero dim");
    if (known == 0 || total % known != 0)
      throw Error("reshape: cannot reshape " + shapeStr(in) + " to " +
                  intsStr(shape));
    out[inferAt] = total / known;
  }
  if (numElements(out) != total)
    throw Error("reshape: cannot reshape " + shapeStr(in) + " (" +
                std::to_string(total) + " elements) to " + intsStr(shape));
  return out;
}

Tensor kiln::ref::reshape(const Tensor &x, const std::vector<int64_t> &shape,
                          bool allowZero) {
  return x.reshaped(reshapeShape(x.shape(), shape, allowZero));
}

Tensor kiln::ref::flatten(const Tensor &x, int64_t axis) {
  int64_t r = x.rank();
  if (axis < -r || axis > r)
    throw Error("flatten: axis " + std::to_string(axis) +
                " is out of range for rank " + std::to_string(r));
  if (axis < 0)
    axis += r;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < r; ++i)
    (i < axis ? outer : inner) *= x.dim(i);
  return x.reshaped({outer, inner});
}

/// Normalizes a list of axes against `rank`, rejecting duplicates.
static std::vector<int64_t> normalizeAxes(const std::vector<int64_t> &axes,
                                          int64_t rank, const char *what) {
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    int64_t n = normalizeAxis(a, rank, what);
    if (std::count(out.begin(), out.end(), n))
      throw Error(std::string(what) + ": axis " + std::to_string(a) +
                  " is repeated in " + intsStr(axes));
    out.push_back(n);
  }
  return out;
}

Tensor kiln::ref::squeeze(const Tensor &x, const std::vector<int64_t> &axes) {
  std::vector<int64_t> ax = normalizeAxes(axes, x.rank(), "squeeze");
  Shape out;
  for (int64_t i = 0; i < x.rank(); ++i) {
    bool listed = std::count(ax.begin(), ax.end(), i) > 0;
    if (listed && x.dim(i) != 1)
      throw Error("squeeze: dim " + std::to_string(i) + " of " +
                  shapeStr(x.shape()) + " is not 1");
    if (listed || (ax.empty() && x.dim(i) == 1))
      continue;
    out.push_back(x.dim(i));
  }
  return x.reshaped(out);
}

Tensor kiln::ref::unsqueeze(const Tensor &x, const std::vector<int64_t> &axes) {
  int64_t outRank = x.rank() + (int64_t)axes.size();
  std::vector<int64_t> ax = normalizeAxes(axes, outRank, "unsqueeze");
  Shape out;
  int64_t src = 0;
  for (int64_t i = 0; i < outRank; ++i)
    out.push_back(std::count(ax.begin(), ax.end(), i) ? 1 : x.dim(src++));
  return x.reshaped(out);
}

Tensor kiln::ref::concat(const std::vector<Tensor> &inputs, int64_t axis) {
  if (inputs.empty())
    throw Error("concat: needs at least one input");
  const Tensor &first = inputs[0];
  if (first.rank() == 0)
    throw Error("concat: inputs must have rank >= 1");
  axis = normalizeAxis(axis, first.rank(), "concat");
  Shape outShape = first.shape();
  outShape[axis] = 0;
  for (const Tensor &t : inputs) {
    requireSameDType(first, t, "concat");
    bool ok = t.rank() == first.rank();
    for (int64_t d = 0; ok && d < t.rank(); ++d)
      ok = d == axis || t.dim(d) == first.dim(d);
    if (!ok)
      throw Error("concat: input shapes " + shapeStr(first.shape()) + " and " +
                  shapeStr(t.shape()) + " differ outside axis " +
                  std::to_string(axis));
    outShape[axis] += t.dim(axis);
  }
  Tensor out(first.dtype(), outShape);
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= first.dim(d);
  size_t outRow = out.bytes() / (size_t)std::max<int64_t>(outer, 1);
  auto *dst = static_cast<unsigned char *>(out.raw());
  size_t at = 0;
  for (const Tensor &t : inputs) {
    size_t row = outer ? t.bytes() / (size_t)outer : 0;
    auto *src = static_cast<const unsigned char *>(t.raw());
    for (int64_t o = 0; o < outer && row; ++o)
      std::memcpy(dst + o * outRow + at, src + o * row, row);
    at += row;
  }
  return out;
}

std::vector<Tensor> kiln::ref::split(const Tensor &x, int64_t axis,
                                     const std::vector<int64_t> &sizes) {
  if (x.rank() == 0)
    throw Error("split: input must have rank >= 1");
  axis = normalizeAxis(axis, x.rank(), "split");
  int64_t sum = 0;
  for (int64_t s : sizes) {
    if (s < 0)
      throw Error("split: negative size in " + intsStr(sizes));
    sum += s;
  }
  if (sum != x.dim(axis))
    throw Error("split: sizes " + intsStr(sizes) + " do not add up to dim " +
                std::to_string(axis) + " of " + shapeStr(x.shape()));
  std::vector<Tensor> out;
  Shape st = strides(x.shape());
  int64_t start = 0;
  for (int64_t s : sizes) {
    Shape shape = x.shape();
    shape[axis] = s;
    out.push_back(stridedCopy(x, shape, start * st[axis], st));
    start += s;
  }
  return out;
}

Tensor kiln::ref::slice(const Tensor &x, const std::vector<int64_t> &starts,
                        const std::vector<int64_t> &ends,
                        const std::vector<int64_t> &axesIn,
                        const std::vector<int64_t> &stepsIn) {
  size_t n = starts.size();
  if (ends.size() != n || (!axesIn.empty() && axesIn.size() != n) ||
      (!stepsIn.empty() && stepsIn.size() != n))
    throw Error("slice: starts, ends, axes and steps have different lengths (" +
                std::to_string(n) + ", " + std::to_string(ends.size()) + ", " +
                std::to_string(axesIn.size()) + ", " +
                std::to_string(stepsIn.size()) + ")");
  std::vector<int64_t> axes = axesIn;
  if (axes.empty())
    for (size_t i = 0; i < n; ++i)
      axes.push_back((int64_t)i);
  axes = normalizeAxes(axes, x.rank(), "slice");
  Shape inSt = strides(x.shape()), outShape = x.shape();
  std::vector<int64_t> st = inSt;
  int64_t offset = 0;
  for (size_t i = 0; i < n; ++i) {
    int64_t a = axes[i], dim = x.dim(a);
    int64_t step = stepsIn.empty() ? 1 : stepsIn[i];
    if (step == 0)
      throw Error("slice: step must not be 0");
    int64_t s = starts[i], e = ends[i];
    if (s < 0)
      s = s < -dim ? -1 : s + dim; // stays negative when below -dim
    if (e < 0)
      e = e < -dim ? -1 : e + dim;
    int64_t count = 0;
    if (dim == 0) {
      s = 0;
    } else if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      count = e > s ? (e - s - 1) / step + 1 : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      int64_t negStep = step == std::numeric_limits<int64_t>::min()
                            ? std::numeric_limits<int64_t>::max()
                            : -step;
      count = s > e ? (s - e - 1) / negStep + 1 : 0;
    }
    if (count <= 1) // the stride is never used; avoid overflowing it
      step = 1;
    outShape[a] = count;
    if (count > 0)
      offset += s * inSt[a];
    st[a] = step * inSt[a];
  }
  if (numElements(outShape) == 0)
    return Tensor(x.dtype(), outShape);
  return stridedCopy(x, outShape, offset, st);
}

/// An index read from an int tensor, wrapped once when negative.
static int64_t wrapIndex(int64_t i, int64_t dim, const char *op) {
  int64_t w = i < 0 ? i + dim : i;
  if (w < 0 || w >= dim)
    throw Error(std::string(op) + ": index " + std::to_string(i) +
                " is out of range for a dim of size " + std::to_string(dim));
  return w;
}

static void requireIntIndices(const Tensor &t, const char *op) {
  if (t.dtype() != DType::I64 && t.dtype() != DType::I32)
    throw Error(std::string(op) + ": indices must be i64 or i32, got " +
                dtypeName(t.dtype()));
}

Tensor kiln::ref::gather(const Tensor &x, const Tensor &indices, int64_t axis) {
  requireIntIndices(indices, "gather");
  if (x.rank() == 0)
    throw Error("gather: input must have rank >= 1");
  axis = normalizeAxis(axis, x.rank(), "gather");
  Shape outShape(x.shape().begin(), x.shape().begin() + axis);
  outShape.insert(outShape.end(), indices.shape().begin(),
                  indices.shape().end());
  outShape.insert(outShape.end(), x.shape().begin() + axis + 1,
                  x.shape().end());
  int64_t outer = 1, inner = 1, dim = x.dim(axis);
  for (int64_t d = 0; d < x.rank(); ++d)
    if (d != axis)
      (d < axis ? outer : inner) *= x.dim(d);
  std::vector<int64_t> idx = indices.toInts();
  for (int64_t &i : idx)
    i = wrapIndex(i, dim, "gather");
  Tensor out(x.dtype(), outShape);
  size_t chunk = (size_t)inner * dtypeSize(x.dtype());
  auto *dst = static_cast<unsigned char *>(out.raw());
  auto *src = static_cast<const unsigned char *>(x.raw());
  size_t at = 0;
  for (int64_t o = 0; o < outer && chunk; ++o)
    for (int64_t i : idx) {
      std::memcpy(dst + at, src + (o * dim + i) * chunk, chunk);
      at += chunk;
    }
  return out;
}

/// Per element of `indices`: the linear index into x with dim `axis`
/// replaced by the (wrapped) index value.
static std::vector<int64_t> elementTargets(const Tensor &x,
                                           const Tensor &indices, int64_t axis,
                                           const char *op) {
  requireIntIndices(indices, op);
  if (indices.rank() != x.rank())
    throw Error(std::string(op) + ": indices " + shapeStr(indices.shape()) +
                " must have the rank of the input " + shapeStr(x.shape()));
  if (x.rank() == 0)
    throw Error(std::string(op) + ": input must have rank >= 1");
  axis = normalizeAxis(axis, x.rank(), op);
  for (int64_t d = 0; d < x.rank(); ++d)
    if (d != axis && indices.dim(d) > x.dim(d))
      throw Error(std::string(op) + ": indices " + shapeStr(indices.shape()) +
                  " exceed the input " + shapeStr(x.shape()) + " at dim " +
                  std::to_string(d));
  Shape xSt = strides(x.shape());
  std::vector<int64_t> st = xSt;
  st[axis] = 0;
  std::vector<int64_t> targets((size_t)indices.numel());
  forEachOffset(indices.shape(), 0, st, [&](int64_t i, int64_t off) {
    targets[i] =
        off + wrapIndex(indices.getInt(i), x.dim(axis), op) * xSt[axis];
  });
  return targets;
}

Tensor kiln::ref::gatherElements(const Tensor &x, const Tensor &indices,
                                 int64_t axis) {
  std::vector<int64_t> src =
      elementTargets(x, indices, axis, "gather_elements");
  Tensor out(x.dtype(), indices.shape());
  size_t es = dtypeSize(x.dtype());
  for (size_t i = 0; i < src.size(); ++i)
    std::memcpy(static_cast<unsigned char *>(out.raw()) + i * es,
                static_cast<const unsigned char *>(x.raw()) + src[i] * es, es);
  return out;
}

Tensor kiln::ref::scatterElements(const Tensor &x, const Tensor &indices,
                                  const Tensor &updates, int64_t axis,
                                  ScatterReduction reduction) {
  requireSameDType(x, updates, "scatter_elements");
  if (updates.shape() != indices.shape())
    throw Error("scatter_elements: updates " + shapeStr(updates.shape()) +
                " must have the shape of indices " + shapeStr(indices.shape()));
  std::vector<int64_t> dst =
      elementTargets(x, indices, axis, "scatter_elements");
  Tensor out = x;
  size_t es = dtypeSize(x.dtype());
  bool fl = isFloat(x.dtype());
  if (reduction != ScatterReduction::None && x.dtype() == DType::Bool)
    throw Error("scatter_elements: reductions need a numeric tensor");
  for (size_t i = 0; i < dst.size(); ++i) {
    int64_t t = dst[i];
    if (reduction == ScatterReduction::None) {
      std::memcpy(static_cast<unsigned char *>(out.raw()) + t * es,
                  static_cast<const unsigned char *>(updates.raw()) + i * es,
                  es);
      continue;
    }
    if (fl) {
      double a = out.getDouble(t), b = updates.getDouble((int64_t)i);
      double r = reduction == ScatterReduction::Add   ? a + b
                 : reduction == ScatterReduction::Mul ? a * b
                 : reduction == ScatterReduction::Max ? std::max(a, b)
                                                      : std::min(a, b);
      out.setDouble(t, r);
    } else {
      int64_t a = out.getInt(t), b = updates.getInt((int64_t)i);
      int64_t r = reduction == ScatterReduction::Add
                      ? (int64_t)((uint64_t)a + (uint64_t)b)
                  : reduction == ScatterReduction::Mul
                      ? (int64_t)((uint64_t)a * (uint64_t)b)
                  : reduction == ScatterReduction::Max ? std::max(a, b)
                                                       : std::min(a, b);
      out.setInt(t, r);
    }
  }
  return out;
}

Tensor kiln::ref::shapeOf(const Tensor &x, int64_t start,
                          std::optional<int64_t> end) {
  int64_t r = x.rank();
  int64_t e = end.value_or(r);
  auto fix = [r](int64_t v) {
    return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r);
  };
  start = fix(start);
  e = fix(e);
  std::vector<int64_t> dims;
  for (int64_t i = start; i < e; ++i)
    dims.push_back(x.dim(i));
  return Tensor::of(DType::I64, {(int64_t)dims.size()}, dims);
}

Tensor kiln::ref::expand(const Tensor &x, const std::vector<int64_t> &shape) {
  Shape target;
  try {
    target = broadcastShapes(x.shape(), shape);
  } catch (const Error &e) {
    throw Error(std::string("expand: ") + e.what());
  }
  return broadcastTo(x, target);
}

Tensor kiln::ref::tile(const Tensor &x, const std::vector<int64_t> &repeats) {
  if ((int64_t)repeats.size() != x.rank())
    throw Error("tile: repeats " + intsStr(repeats) +
                " must have one entry per dim of " + shapeStr(x.shape()));
  Shape outShape = x.shape();
  for (size_t d = 0; d < repeats.size(); ++d) {
    if (repeats[d] < 0)
      throw Error("tile: negative repeat in " + intsStr(repeats));
    outShape[d] *= repeats[d];
  }
  Tensor out(x.dtype(), outShape);
  size_t es = dtypeSize(x.dtype());
  Shape inSt = strides(x.shape());
  int64_t rank = x.rank();
  std::vector<int64_t> idx(rank, 0);
  for (int64_t i = 0; i < out.numel(); ++i) {
    int64_t src = 0;
    for (int64_t d = 0; d < rank; ++d)
      src += (idx[d] % x.dim(d)) * inSt[d];
    std::memcpy(static_cast<unsigned char *>(out.raw()) + i * es,
                static_cast<const unsigned char *>(x.raw()) + src * es, es);
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++idx[d] < outShape[d])
        break;
      idx[d] = 0;
    }
  }
  return out;
}

Tensor kiln::ref::constantOfShape(const std::vector<int64_t> &shape,
                                  const Tensor &value) {
  if (value.numel() != 1)
    throw Error("constant_of_shape: value must have one element, got " +
                shapeStr(value.shape()));
  for (int64_t d : shape)
    if (d < 0)
      throw Error("constant_of_shape: negative dim in shape " + intsStr(shape));
  Tensor out(value.dtype(), shape);
  size_t es = dtypeSize(value.dtype());
  for (int64_t i = 0; i < out.numel(); ++i)
    std::memcpy(static_cast<unsigned char *>(out.raw()) + i * es, value.raw(),
                es);
  return out;
}

Tensor kiln::ref::range(const Tensor &start, const Tensor &limit,
                        const Tensor &delta) {
  requireSameDType(start, limit, "range");
  requireSameDType(start, delta, "range");
  if (start.numel() != 1 || limit.numel() != 1 || delta.numel() != 1)
    throw Error("range: start, limit and delta must be scalars");
  DType type = start.dtype();
  if (type == DType::Bool)
    throw Error("range: operands must be numeric, got bool");
  const int64_t kMax = int64_t(1) << 32;
  if (isFloat(type)) {
    double s = start.getDouble(0), l = limit.getDouble(0),
           d = delta.getDouble(0);
    if (d == 0 || std::isnan(d) || std::isnan(s) || std::isnan(l))
      throw Error("range: delta must be non-zero and operands not NaN");
    double n = std::ceil((l - s) / d);
    if (!(n < (double)kMax))
      throw Error("range: too many elements");
    int64_t count = n > 0 ? (int64_t)n : 0;
    Tensor out(type, {count});
    for (int64_t i = 0; i < count; ++i)
      out.setDouble(i, s + (double)i * d);
    return out;
  }
  int64_t s = start.getInt(0), l = limit.getInt(0), d = delta.getInt(0);
  if (d == 0)
    throw Error("range: delta must be non-zero");
  // ceil((l - s) / d) in 128-bit-free form: distance and step have one sign.
  long double span = (long double)l - (long double)s;
  long double n = std::ceil(span / (long double)d);
  if (n >= (long double)kMax)
    throw Error("range: too many elements");
  int64_t count = n > 0 ? (int64_t)n : 0;
  Tensor out(type, {count});
  for (int64_t i = 0; i < count; ++i)
    out.setInt(i, s + i * d);
  return out;
}

Tensor kiln::ref::trilu(const Tensor &x, bool upper, int64_t k) {
  if (x.rank() < 2)
    throw Error("trilu: input must have rank >= 2, got " + shapeStr(x.shape()));
  Tensor out = x;
  int64_t rows = x.dim(-2), cols = x.dim(-1);
  int64_t mats = (rows * cols) != 0 ? x.numel() / (rows * cols) : 0;
  size_t es = dtypeSize(x.dtype());
  auto *p = static_cast<unsigned char *>(out.raw());
  for (int64_t m = 0; m < mats; ++m)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        bool keep = upper ? j - i >= k : j - i <= k;
        if (!keep)
          std::memset(p + ((m * rows + i) * cols + j) * es, 0, es);
      }
  return out;
}

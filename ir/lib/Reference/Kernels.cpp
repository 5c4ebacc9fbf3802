// Helpers shared by the reference kernels: broadcasting, axes, strided copies
// and conversions between tensors and double vectors.
#include "KernelUtil.h"

#include <algorithm>

using namespace kiln::ref;
using namespace kiln::ref::detail;

Shape kiln::ref::broadcastShapes(const Shape &a, const Shape &b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (x != y && x != 1 && y != 1)
      throw Error("shapes " + shapeStr(a) + " and " + shapeStr(b) +
                  " do not broadcast");
    out[i] = x == 1 ? y : x;
  }
  return out;
}

int64_t kiln::ref::normalizeAxis(int64_t axis, int64_t rank, const char *what) {
  if (axis < -rank || axis >= rank)
    throw Error(std::string(what) + ": axis " + std::to_string(axis) +
                " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

std::vector<double> kiln::ref::toDoubles(const Tensor &t) {
  std::vector<double> v((size_t)t.numel());
  if (t.dtype() == DType::F32) {
    const float *p = t.data<float>();
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = p[i];
  } else {
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = t.getDouble((int64_t)i);
  }
  return v;
}

Tensor kiln::ref::fromDoubles(DType type, Shape s,
                              const std::vector<double> &v) {
  Tensor t(type, std::move(s));
  if ((size_t)t.numel() != v.size())
    throw Error("fromDoubles: size mismatch");
  if (type == DType::F32) {
    float *p = t.data<float>();
    for (size_t i = 0; i < v.size(); ++i)
      p[i] = (float)v[i];
  } else {
    for (size_t i = 0; i < v.size(); ++i)
      t.setDouble((int64_t)i, v[i]);
  }
  return t;
}

std::vector<int64_t>
detail::broadcastStrides(const Shape &from, const Shape &to, const char *what) {
  if (from.size() > to.size())
    throw Error(std::string(what) + ": shape " + shapeStr(from) +
                " does not broadcast to " + shapeStr(to));
  Shape st = strides(from);
  size_t lead = to.size() - from.size();
  std::vector<int64_t> out(to.size(), 0);
  for (size_t i = 0; i < from.size(); ++i) {
    if (from[i] == to[lead + i])
      out[lead + i] = from[i] == 1 ? 0 : st[i];
    else if (from[i] == 1)
      out[lead + i] = 0;
    else
      throw Error(std::string(what) + ": shape " + shapeStr(from) +
                  " does not broadcast to " + shapeStr(to));
  }
  return out;
}

std::vector<int64_t> detail::broadcastIndexMap(const Shape &from,
                                               const Shape &to,
                                               const char *what) {
  std::vector<int64_t> map((size_t)numElements(to));
  forEachOffset(to, 0, broadcastStrides(from, to, what),
                [&](int64_t i, int64_t off) { map[i] = off; });
  return map;
}

template <typename T>
static void copyStrided(const T *src, T *dst, const Shape &shape,
                        int64_t offset, const std::vector<int64_t> &strides) {
  forEachOffset(shape, offset, strides,
                [&](int64_t i, int64_t off) { dst[i] = src[off]; });
}

Tensor detail::stridedCopy(const Tensor &in, const Shape &outShape,
                           int64_t offset, const std::vector<int64_t> &st) {
  Tensor out(in.dtype(), outShape);
  switch (dtypeSize(in.dtype())) {
  case 1:
    copyStrided(in.data<uint8_t>(), out.data<uint8_t>(), outShape, offset, st);
    break;
  case 2:
    copyStrided(in.data<uint16_t>(), out.data<uint16_t>(), outShape, offset,
                st);
    break;
  case 4:
    copyStrided(in.data<uint32_t>(), out.data<uint32_t>(), outShape, offset,
                st);
    break;
  default:
    copyStrided(in.data<uint64_t>(), out.data<uint64_t>(), outShape, offset,
                st);
  }
  return out;
}

void detail::requireFloat(const Tensor &t, const char *op,
                          const char *operand) {
  if (!isFloat(t.dtype()))
    throw Error(std::string(op) + ": " + operand +
                " must be a float tensor, got " + dtypeName(t.dtype()));
}

void detail::requireSameDType(const Tensor &a, const Tensor &b,
                              const char *op) {
  if (a.dtype() != b.dtype())
    throw Error(std::string(op) + ": operand dtypes differ (" +
                dtypeName(a.dtype()) + " vs " + dtypeName(b.dtype()) + ")");
}

Tensor detail::swapLastTwo(const Tensor &x) {
  if (x.rank() < 2)
    throw Error("cannot transpose the last two dims of a rank-" +
                std::to_string(x.rank()) + " tensor");
  std::vector<int64_t> perm(x.rank());
  for (int64_t i = 0; i < x.rank(); ++i)
    perm[i] = i;
  std::swap(perm[x.rank() - 1], perm[x.rank() - 2]);
  return transpose(x, perm);
}

Tensor kiln::ref::broadcastTo(const Tensor &x, const Shape &shape) {
  return stridedCopy(x, shape, 0, broadcastStrides(x.shape(), shape, "expand"));
}

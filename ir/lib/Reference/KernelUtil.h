// Private helpers shared by the reference kernels: index iteration, strided
// copies and broadcasting maps. Not installed; only ir/lib/Reference uses it.
#ifndef KILN_LIB_REFERENCE_KERNELUTIL_H
#define KILN_LIB_REFERENCE_KERNELUTIL_H

#include "kiln/Reference/Kernels.h"

namespace kiln::ref::detail {

/// Calls fn(i, off) for every element i of `shape` in row-major order, with
/// off = offset + Σ idx[d]·strides[d] (strides may be 0 or negative).
template <typename Fn>
void forEachOffset(const Shape &shape, int64_t offset,
                   const std::vector<int64_t> &strides, Fn fn) {
  int64_t n = numElements(shape);
  if (n == 0)
    return;
  int64_t rank = (int64_t)shape.size();
  std::vector<int64_t> idx(rank, 0);
  int64_t off = offset;
  for (int64_t i = 0; i < n; ++i) {
    fn(i, off);
    for (int64_t d = rank - 1; d >= 0; --d) {
      off += strides[d];
      if (++idx[d] < shape[d])
        break;
      off -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

/// Element strides of `from` seen as a tensor of shape `to` under numpy
/// broadcasting (0 on broadcast dims); throws Error naming `what` if `from`
/// does not broadcast to `to`.
std::vector<int64_t> broadcastStrides(const Shape &from, const Shape &to,
                                      const char *what);
/// For each element of `to`, the linear index of its source in `from`.
std::vector<int64_t> broadcastIndexMap(const Shape &from, const Shape &to,
                                       const char *what);
/// out[i] = in[offset + Σ idx[d]·strides[d]] over outShape (any dtype).
Tensor stridedCopy(const Tensor &in, const Shape &outShape, int64_t offset,
                   const std::vector<int64_t> &strides);
/// Throws Error unless t has a float dtype.
void requireFloat(const Tensor &t, const char *op, const char *operand);
/// Throws Error unless a and b share a dtype.
void requireSameDType(const Tensor &a, const Tensor &b, const char *op);
/// numpy matmul in double precision; sets outShape.
std::vector<double> matmulDoubles(const Tensor &a, const Tensor &b,
                                  Shape &outShape, const char *op);
/// The shape with dims `a` and `b` (the last two) swapped, as a copy.
Tensor swapLastTwo(const Tensor &x);

} // namespace kiln::ref::detail

#endif // KILN_LIB_REFERENCE_KERNELUTIL_H

// Reference kernels for linear algebra: numpy matmul, ONNX Gemm and a general
// Einstein summation (explicit/implicit output, ellipsis, any input count).
#include "KernelUtil.h"

#include <algorithm>
#include <cctype>
#include <map>

using namespace kiln::ref;
using namespace kiln::ref::detail;

namespace {

template <typename T> std::vector<T> elementsAs(const Tensor &t);
template <> std::vector<double> elementsAs<double>(const Tensor &t) {
  return toDoubles(t);
}
template <> std::vector<int64_t> elementsAs<int64_t>(const Tensor &t) {
  return t.toInts();
}

/// Batched matmul on row-major buffers; batch dims broadcast.
template <typename Acc>
std::vector<Acc> matmulCore(const Tensor &a, const Tensor &b, Shape &outShape,
                            const char *op) {
  if (a.rank() == 0 || b.rank() == 0)
    throw Error(std::string(op) + ": operands must have rank >= 1, got " +
                shapeStr(a.shape()) + " and " + shapeStr(b.shape()));
  Shape as = a.shape(), bs = b.shape();
  if (a.rank() == 1)
    as.insert(as.begin(), 1);
  if (b.rank() == 1)
    bs.push_back(1);
  int64_t m = as[as.size() - 2], k = as.back();
  int64_t k2 = bs[bs.size() - 2], n = bs.back();
  if (k != k2)
    throw Error(std::string(op) + ": inner dimensions differ (" +
                shapeStr(a.shape()) + " times " + shapeStr(b.shape()) + ")");
  Shape batchA(as.begin(), as.end() - 2), batchB(bs.begin(), bs.end() - 2);
  Shape batch;
  try {
    batch = broadcastShapes(batchA, batchB);
  } catch (const Error &e) {
    throw Error(std::string(op) + ": batch dims: " + e.what());
  }
  std::vector<int64_t> mapA = broadcastIndexMap(batchA, batch, op);
  std::vector<int64_t> mapB = broadcastIndexMap(batchB, batch, op);

  std::vector<Acc> va = elementsAs<Acc>(a), vb = elementsAs<Acc>(b);
  std::vector<Acc> out(mapA.size() * (size_t)(m * n), Acc(0));
  for (size_t bi = 0; bi < mapA.size(); ++bi) {
    const Acc *pa = va.data() + mapA[bi] * m * k;
    const Acc *pb = vb.data() + mapB[bi] * k * n;
    Acc *po = out.data() + bi * m * n;
    // Rows of the output in blocks of 8 and columns in blocks of 512, so
    // each row segment of b is reused from cache; the sum order over p is
    // unchanged (p ascending), so blocking does not change results.
    const int64_t rowBlock = 8, colBlock = 512;
    for (int64_t i0 = 0; i0 < m; i0 += rowBlock)
      for (int64_t j0 = 0; j0 < n; j0 += colBlock) {
        int64_t i1 = std::min(m, i0 + rowBlock),
                j1 = std::min(n, j0 + colBlock);
        for (int64_t p = 0; p < k; ++p)
          for (int64_t i = i0; i < i1; ++i) {
            Acc x = pa[i * k + p];
            Acc *orow = po + i * n;
            const Acc *brow = pb + p * n;
            for (int64_t j = j0; j < j1; ++j)
              orow[j] += x * brow[j];
          }
      }
  }
  outShape = batch;
  if (a.rank() > 1)
    outShape.push_back(m);
  if (b.rank() > 1)
    outShape.push_back(n);
  return out;
}

} // namespace

std::vector<double> detail::matmulDoubles(const Tensor &a, const Tensor &b,
                                          Shape &outShape, const char *op) {
  return matmulCore<double>(a, b, outShape, op);
}

Tensor kiln::ref::matmul(const Tensor &a, const Tensor &b) {
  requireSameDType(a, b, "matmul");
  if (a.dtype() == DType::Bool)
    throw Error("matmul: operands must be numeric, got bool");
  Shape shape;
  if (isFloat(a.dtype()))
    return fromDoubles(a.dtype(), shape, matmulDoubles(a, b, shape, "matmul"));
  std::vector<int64_t> r = matmulCore<int64_t>(a, b, shape, "matmul");
  Tensor out(a.dtype(), shape);
  for (size_t i = 0; i < r.size(); ++i)
    out.setInt((int64_t)i, r[i]);
  return out;
}

Tensor kiln::ref::gemm(const Tensor &a, const Tensor &b, const Tensor *c,
                       double alpha, double beta, bool transA, bool transB) {
  requireSameDType(a, b, "gemm");
  if (a.rank() != 2 || b.rank() != 2)
    throw Error("gemm: a and b must be 2-D, got " + shapeStr(a.shape()) +
                " and " + shapeStr(b.shape()));
  Tensor at = transA ? swapLastTwo(a) : a;
  Tensor bt = transB ? swapLastTwo(b) : b;
  Shape shape;
  std::vector<double> r = matmulDoubles(at, bt, shape, "gemm");
  for (double &x : r)
    x *= alpha;
  if (c) {
    if (c->dtype() != a.dtype())
      throw Error("gemm: c has dtype " + std::string(dtypeName(c->dtype())) +
                  " but a has " + dtypeName(a.dtype()));
    std::vector<int64_t> map = broadcastIndexMap(c->shape(), shape, "gemm: c");
    std::vector<double> vc = toDoubles(*c);
    for (size_t i = 0; i < r.size(); ++i)
      r[i] += beta * vc[map[i]];
  }
  return fromDoubles(a.dtype(), shape, r);
}

//===----------------------------------------------------------------------===//
// Einsum
//===----------------------------------------------------------------------===//

namespace {

constexpr int kEllipsis = -1;

/// One term of the equation: letter codes (their char values) or kEllipsis.
std::vector<int> parseTerm(const std::string &term, const std::string &eq) {
  std::vector<int> labels;
  bool sawEllipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    char c = term[i];
    if (std::isalpha((unsigned char)c)) {
      labels.push_back((unsigned char)c);
    } else if (term.compare(i, 3, "...") == 0 && !sawEllipsis) {
      labels.push_back(kEllipsis);
      sawEllipsis = true;
      i += 2;
    } else {
      throw Error("einsum: bad equation '" + eq + "' (unexpected '" +
                  std::string(1, c) + "')");
    }
  }
  return labels;
}

std::vector<std::string> splitOn(const std::string &s, char sep) {
  std::vector<std::string> parts(1);
  for (char c : s) {
    if (c == sep)
      parts.emplace_back();
    else
      parts.back() += c;
  }
  return parts;
}

template <typename Acc>
std::vector<Acc>
einsumLoop(const std::vector<Tensor> &inputs, const Shape &loopSizes,
           const std::vector<std::vector<int64_t>> &inStrides,
           const std::vector<int64_t> &outStrides, int64_t outNumel) {
  std::vector<Acc> out((size_t)outNumel, Acc(0));
  std::vector<std::vector<Acc>> vals;
  for (const Tensor &t : inputs)
    vals.push_back(elementsAs<Acc>(t));
  int64_t total = numElements(loopSizes);
  if (total == 0)
    return out;
  size_t nl = loopSizes.size(), ni = inputs.size();
  std::vector<int64_t> idx(nl, 0), offs(ni, 0);
  int64_t outOff = 0;
  for (int64_t it = 0; it < total; ++it) {
    Acc prod = Acc(1);
    for (size_t i = 0; i < ni; ++i)
      prod *= vals[i][offs[i]];
    out[outOff] += prod;
    for (int64_t d = (int64_t)nl - 1; d >= 0; --d) {
      ++idx[d];
      outOff += outStrides[d];
      for (size_t i = 0; i < ni; ++i)
        offs[i] += inStrides[i][d];
      if (idx[d] < loopSizes[d])
        break;
      outOff -= outStrides[d] * loopSizes[d];
      for (size_t i = 0; i < ni; ++i)
        offs[i] -= inStrides[i][d] * loopSizes[d];
      idx[d] = 0;
    }
  }
  return out;
}

} // namespace

Tensor kiln::ref::einsum(const std::string &equation,
                         const std::vector<Tensor> &inputs) {
  std::string eq;
  for (char c : equation)
    if (!std::isspace((unsigned char)c))
      eq += c;
  if (inputs.empty())
    throw Error("einsum: needs at least one input");
  for (const Tensor &t : inputs)
    requireSameDType(inputs[0], t, "einsum");
  if (inputs[0].dtype() == DType::Bool)
    throw Error("einsum: operands must be numeric, got bool");

  size_t arrow = eq.find("->");
  bool explicitOut = arrow != std::string::npos;
  std::vector<std::string> terms = splitOn(eq.substr(0, arrow), ',');
  if (terms.size() != inputs.size())
    throw Error("einsum: equation '" + equation + "' has " +
                std::to_string(terms.size()) + " operand terms but " +
                std::to_string(inputs.size()) + " inputs were given");

  // Labels: letters by char code; ellipsis dims get codes 256, 257, ...
  std::vector<std::vector<int>> opLabels;
  std::vector<int64_t> ellRanks;
  int64_t ellRank = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    std::vector<int> labels = parseTerm(terms[i], equation);
    int64_t letters = std::count_if(labels.begin(), labels.end(),
                                    [](int l) { return l != kEllipsis; });
    bool hasEll = letters != (int64_t)labels.size();
    int64_t er = inputs[i].rank() - letters;
    if ((!hasEll && er != 0) || er < 0)
      throw Error("einsum: term '" + terms[i] + "' does not match input " +
                  std::to_string(i) + " of shape " +
                  shapeStr(inputs[i].shape()));
    opLabels.push_back(labels);
    ellRanks.push_back(hasEll ? er : 0);
    ellRank = std::max(ellRank, hasEll ? er : 0);
  }
  // Expand each term to one label per dim.
  std::map<int, int64_t> sizes;
  std::map<int, int> counts;
  std::vector<std::vector<int>> dimLabels(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    for (int l : opLabels[i]) {
      if (l != kEllipsis) {
        dimLabels[i].push_back(l);
        continue;
      }
      for (int64_t e = ellRank - ellRanks[i]; e < ellRank; ++e)
        dimLabels[i].push_back(256 + (int)e);
    }
    for (size_t d = 0; d < dimLabels[i].size(); ++d) {
      int l = dimLabels[i][d];
      int64_t sz = inputs[i].dim((int64_t)d);
      ++counts[l];
      auto [pos, fresh] = sizes.emplace(l, sz);
      if (fresh || pos->second == sz)
        continue;
      bool isEll = l >= 256;
      if (isEll && (sz == 1 || pos->second == 1)) {
        pos->second = std::max(pos->second, sz);
        continue;
      }
      throw Error("einsum: label '" +
                  (isEll ? std::string("...") : std::string(1, (char)l)) +
                  "' has sizes " + std::to_string(pos->second) + " and " +
                  std::to_string(sz));
    }
  }
  for (int64_t e = 0; e < ellRank; ++e)
    sizes.emplace(256 + (int)e, 1);

  std::vector<int> outLabels;
  if (explicitOut) {
    std::vector<int> labels = parseTerm(eq.substr(arrow + 2), equation);
    for (int l : labels) {
      if (l == kEllipsis) {
        for (int64_t e = 0; e < ellRank; ++e)
          outLabels.push_back(256 + (int)e);
        continue;
      }
      if (!sizes.count(l))
        throw Error("einsum: output label '" + std::string(1, (char)l) +
                    "' is not in any input");
      if (std::count(outLabels.begin(), outLabels.end(), l))
        throw Error("einsum: output label '" + std::string(1, (char)l) +
                    "' appears twice");
      outLabels.push_back(l);
    }
  } else {
    for (int64_t e = 0; e < ellRank; ++e)
      outLabels.push_back(256 + (int)e);
    for (auto [l, n] : counts) // std::map: ascending char code
      if (l < 256 && n == 1)
        outLabels.push_back(l);
  }

  // Loop over output labels first, then the summed ones.
  std::vector<int> loop = outLabels;
  for (auto &[l, sz] : sizes)
    if (!std::count(loop.begin(), loop.end(), l))
      loop.push_back(l);
  Shape loopSizes, outShape;
  for (int l : loop)
    loopSizes.push_back(sizes[l]);
  for (int l : outLabels)
    outShape.push_back(sizes[l]);
  Shape outSt = strides(outShape);
  std::vector<int64_t> outStrides(loop.size(), 0);
  for (size_t d = 0; d < outLabels.size(); ++d)
    outStrides[d] = outSt[d];
  std::vector<std::vector<int64_t>> inStrides;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::vector<int64_t> st(loop.size(), 0);
    Shape ist = strides(inputs[i].shape());
    for (size_t d = 0; d < dimLabels[i].size(); ++d) {
      size_t pos =
          std::find(loop.begin(), loop.end(), dimLabels[i][d]) - loop.begin();
      if (inputs[i].dim((int64_t)d) != 1 || loopSizes[pos] == 1)
        st[pos] += ist[d]; // repeated labels add up: a diagonal
    }
    inStrides.push_back(st);
  }
  int64_t outNumel = numElements(outShape);
  DType type = inputs[0].dtype();
  if (isFloat(type))
    return fromDoubles(
        type, outShape,
        einsumLoop<double>(inputs, loopSizes, inStrides, outStrides, outNumel));
  std::vector<int64_t> r =
      einsumLoop<int64_t>(inputs, loopSizes, inStrides, outStrides, outNumel);
  Tensor out(type, outShape);
  for (size_t i = 0; i < r.size(); ++i)
    out.setInt((int64_t)i, r[i]);
  return out;
}

// Output comparison for the e2e and conformance runners (see Compare.h).
#include "Compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

using namespace kiln;
using namespace kiln::test;

std::string kiln::test::describe(const ref::Tensor &t) {
  return std::string(ref::dtypeName(t.dtype())) + "[" +
         ref::shapeStr(t.shape()) + "]";
}

namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.7g", v);
  return buf;
}

/// The row-major index `i` as "[a,b,c]".
std::string indexStr(const ref::Shape &shape, int64_t i) {
  std::string r;
  for (int64_t d = (int64_t)shape.size() - 1; d >= 0; --d) {
    int64_t n = shape[d] ? shape[d] : 1;
    r = std::to_string(i % n) + (r.empty() ? "" : ",") + r;
    i /= n;
  }
  return "[" + r + "]";
}

/// Shape/dtype agreement; fills `c` and returns false when they differ.
bool sameLayout(const ref::Tensor &got, const ref::Tensor &want,
                Comparison &c) {
  if (got.dtype() == want.dtype() && got.shape() == want.shape())
    return true;
  c.ok = false;
  c.error = INFINITY;
  c.detail = "got " + describe(got) + ", expected " + describe(want);
  return false;
}

bool bothNan(double a, double b) { return std::isnan(a) && std::isnan(b); }

} // namespace

Comparison kiln::test::compareRelative(const ref::Tensor &got,
                                       const ref::Tensor &want, double tol) {
  Comparison c;
  if (!sameLayout(got, want, c))
    return c;
  c.error = ref::relativeError(got, want);
  c.ok = c.error <= tol; // false for NaN too
  if (c.ok)
    return c;
  // Name the element with the largest absolute difference (or the first NaN
  // mismatch).
  int64_t worst = -1;
  double worstDiff = -1;
  for (int64_t i = 0, n = want.numel(); i < n; ++i) {
    double a = got.getDouble(i), b = want.getDouble(i);
    if (bothNan(a, b))
      continue;
    double d = std::fabs(a - b);
    if (std::isnan(d)) {
      worst = i;
      break;
    }
    if (d > worstDiff) {
      worstDiff = d;
      worst = i;
    }
  }
  if (worst >= 0)
    c.detail = "worst at " + indexStr(want.shape(), worst) + ": got " +
               num(got.getDouble(worst)) + ", expected " +
               num(want.getDouble(worst));
  return c;
}

Comparison kiln::test::compareAllClose(const ref::Tensor &got,
                                       const ref::Tensor &want, double rtol,
                                       double atol) {
  Comparison c;
  if (!sameLayout(got, want, c))
    return c;
  bool exact = !ref::isFloat(want.dtype());
  int64_t bad = 0, first = -1;
  for (int64_t i = 0, n = want.numel(); i < n; ++i) {
    bool good;
    double excess = 0;
    if (exact) {
      good = got.getInt(i) == want.getInt(i);
      excess = good ? 0 : 1;
    } else {
      double a = got.getDouble(i), b = want.getDouble(i);
      if (std::isnan(a) || std::isnan(b) || std::isinf(a) || std::isinf(b)) {
        good = bothNan(a, b) || a == b;
        excess = good ? 0 : INFINITY;
      } else {
        double diff = std::fabs(a - b);
        excess = diff - (atol + rtol * std::fabs(b));
        good = excess <= 0;
      }
    }
    if (!good) {
      if (first < 0)
        first = i;
      ++bad;
      c.error = std::max(c.error, excess);
    }
  }
  c.ok = bad == 0;
  if (!c.ok)
    c.detail = std::to_string(bad) + " of " + std::to_string(want.numel()) +
               " elements differ; first at " + indexStr(want.shape(), first) +
               ": got " +
               (exact ? std::to_string(got.getInt(first))
                      : num(got.getDouble(first))) +
               ", expected " +
               (exact ? std::to_string(want.getInt(first))
                      : num(want.getDouble(first)));
  return c;
}

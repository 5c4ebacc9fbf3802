// Output comparison for the e2e and conformance runners: relative-to-scale
// error (e2e) and numpy-style allclose (ONNX backend tests), each explaining
// the worst element.
#ifndef KILN_TESTS_E2E_COMPARE_H
#define KILN_TESTS_E2E_COMPARE_H

#include "kiln/Reference/Tensor.h"

#include <string>

namespace kiln::test {

struct Comparison {
  bool ok = false;
  double error =
      0; // the measure the check used (relative error, or worst excess)
  std::string detail; // why it failed, naming the worst element; empty when ok
};

/// e2e check: ref::relativeError(got, want) <= tol (error relative to the
/// output scale).
Comparison compareRelative(const ref::Tensor &got, const ref::Tensor &want,
                           double tol);

/// ONNX backend-test check: dtype and shape equal; floats |got-want| <= atol +
/// rtol*|want| elementwise (NaN matches NaN, inf matches the same inf);
/// integers and bools exact.
Comparison compareAllClose(const ref::Tensor &got, const ref::Tensor &want,
                           double rtol, double atol);

/// "f32[2x3]" for messages.
std::string describe(const ref::Tensor &t);

} // namespace kiln::test

#endif // KILN_TESTS_E2E_COMPARE_H

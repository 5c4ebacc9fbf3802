// Deterministic tensor literals for tests that write kiln IR as text
// (weights for small models compiled into libraries).
#ifndef KILN_TESTS_UNIT_TESTLITERALS_H
#define KILN_TESTS_UNIT_TESTLITERALS_H

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

/// A dense f32 literal of `shape` with deterministic values in [-1, 1), as
/// hex (`dense<"0x..."> : tensor<AxBxf32>`).
inline std::string denseF32(const std::vector<int64_t> &shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::string hex = "0x", type = "tensor<";
  int64_t n = 1;
  for (int64_t d : shape) {
    n *= d;
    type += std::to_string(d) + "x";
  }
  for (int64_t i = 0; i < n; ++i) {
    float f = dist(rng);
    const unsigned char *b = reinterpret_cast<const unsigned char *>(&f);
    char buf[16];
    snprintf(buf, sizeof buf, "%02X%02X%02X%02X", b[0], b[1], b[2], b[3]);
    hex += buf;
  }
  return "dense<\"" + hex + "\"> : " + type + "f32>";
}

#endif // KILN_TESTS_UNIT_TESTLITERALS_H

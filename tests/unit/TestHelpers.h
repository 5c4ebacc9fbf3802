// Helpers for tests that compile small models into libraries: deterministic
// tensor literals and inputs, and scratch directories.
#ifndef KILN_TESTS_UNIT_TESTHELPERS_H
#define KILN_TESTS_UNIT_TESTHELPERS_H

#include "kiln/Reference/Tensor.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"

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

/// An f32 tensor of `shape` with deterministic values in [-2, 2).
inline kiln::ref::Tensor randomTensor(const std::vector<int64_t> &shape,
                                      unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  kiln::ref::Tensor t(kiln::ref::DType::F32, shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = dist(rng);
  return t;
}

/// A new, unique directory under the system's temp dir ("" on failure).
inline std::string tempDir(const char *prefix) {
  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory(prefix, dir))
    return "";
  return std::string(dir);
}

#endif // KILN_TESTS_UNIT_TESTHELPERS_H

// How the e2e and conformance runners execute a model: a small interface with
// one implementation per way of running (the reference interpreter now,
// compiled libraries later).
#ifndef KILN_TESTS_E2E_BACKEND_H
#define KILN_TESTS_E2E_BACKEND_H

#include "kiln/Reference/Tensor.h"

#include <memory>
#include <string>
#include <vector>

namespace kiln::test {

/// Why a model could not be loaded or run. `Unsupported` means the model uses
/// something kiln does not implement (an op, a dtype); the conformance runner
/// counts it apart.
enum class FailureKind { None, Unsupported, Error };

struct Status {
  FailureKind kind = FailureKind::None;
  std::string message; // the diagnostics, one per line
  bool ok() const { return kind == FailureKind::None; }
  static Status success() { return {}; }
  static Status error(std::string m) {
    return {FailureKind::Error, std::move(m)};
  }
  static Status unsupported(std::string m) {
    return {FailureKind::Unsupported, std::move(m)};
  }
};

/// Runs one model. Inputs and outputs are positional, in the order of the
/// model's graph inputs / outputs; inputNames()/outputNames() give their ONNX
/// names.
class Backend {
public:
  virtual ~Backend();
  virtual const char *name() const = 0;
  /// Loads (imports, compiles, ...) the model at `modelPath` (an .onnx file).
  virtual Status load(const std::string &modelPath) = 0;
  virtual const std::vector<std::string> &inputNames() const = 0;
  virtual const std::vector<std::string> &outputNames() const = 0;
  virtual Status run(const std::vector<ref::Tensor> &inputs,
                     std::vector<ref::Tensor> &outputs) = 0;
};

/// The backend called `name` ("interpreter"); null with `error` set when
/// unknown.
std::unique_ptr<Backend> createBackend(const std::string &name,
                                       std::string &error);
/// The names createBackend accepts, comma-separated (for --help and errors).
const char *backendNames();

/// True when a diagnostic text says the model uses something kiln does not
/// support. Used until the importer exposes a structured answer.
bool looksUnsupported(const std::string &diagnostics);

} // namespace kiln::test

#endif // KILN_TESTS_E2E_BACKEND_H

// How the e2e and conformance runners execute a model: a small interface with
// one implementation per way of running (the reference interpreter, or native
// libraries compiled with kiln's default pipeline and emitLibrary).
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

/// Settings of the native backends (ignored by the interpreter).
struct BackendOptions {
  /// Folder the libraries are built in (one sub-folder per load, removed with
  /// the backend); "" makes a temporary folder, removed with the backend.
  std::string workDir;
  /// Kernel cache; "" means $KILN_CACHE_DIR when set, else a `cache` folder in
  /// the temporary work folder (empty at start, so compile times are honest).
  std::string cacheDir;
  /// Parallel kernel compilations and run-time threads (0: the machine's
  /// cores).
  int compileJobs = 0;
  int threads = 0;
};

/// The backend called `name` ("interpreter"; "native": Halide where it
/// supports an op, else LLVM; "llvm" or "halide": that kernel backend only);
/// null with `error` set when unknown. A native backend compiles at the first
/// run(), with the graph inputs pinned to the shapes of the tensors given,
/// and again when later inputs have other shapes. Ops that no allowed kernel
/// backend compiles make load()/run() answer FailureKind::Unsupported.
std::unique_ptr<Backend> createBackend(const std::string &name,
                                       std::string &error,
                                       const BackendOptions &options = {});
/// The names createBackend accepts, comma-separated (for --help and errors).
const char *backendNames();

/// True when a diagnostic text says the model uses something kiln does not
/// support. Used until the importer exposes a structured answer.
bool looksUnsupported(const std::string &diagnostics);

} // namespace kiln::test

#endif // KILN_TESTS_E2E_BACKEND_H

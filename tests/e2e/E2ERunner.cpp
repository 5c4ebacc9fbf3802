// kiln-e2e: runs an exported model directory (model.onnx, inputs/*.npy,
// outputs/*.npy, manifest.json) through a kiln backend and checks every output
// against the framework's.
#include "Backend.h"
#include "Compare.h"

#include "kiln/Reference/Npy.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <exception>

using namespace kiln;
namespace cl = llvm::cl;

static cl::opt<std::string> modelDir(cl::Positional, cl::Required,
                                     cl::desc("<model directory>"));
static cl::opt<std::string> backendName(
    "backend", cl::init("interpreter"),
    cl::desc("how to run the model: interpreter, native (a library compiled "
             "for the inputs' shapes; Halide where supported, else LLVM), "
             "llvm, halide"));
static cl::opt<std::string>
    expectedDir("outputs", cl::desc("directory of expected <output>.npy files "
                                    "(default: MODEL_DIR/outputs)"));
static cl::opt<double> tolerance(
    "tolerance", cl::init(1e-4),
    cl::desc("max |got-expected| / max(1, max|expected|) per output"));

namespace {

struct Manifest {
  std::vector<std::string> inputs, outputs;
};

std::string join(const std::string &dir, const std::string &name) {
  llvm::SmallString<256> p(dir);
  llvm::sys::path::append(p, name);
  return std::string(p);
}

/// Reads the input/output names from manifest.json; throws ref::Error on a bad
/// file.
Manifest readManifest(const std::string &path) {
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf)
    throw ref::Error(path + ": " + buf.getError().message());
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buf)->getBuffer());
  if (!json)
    throw ref::Error(path + ": " + llvm::toString(json.takeError()));
  Manifest m;
  auto names = [&](const char *key, std::vector<std::string> &into) {
    const llvm::json::Object *root = json->getAsObject();
    const llvm::json::Array *list = root ? root->getArray(key) : nullptr;
    if (!list)
      throw ref::Error(path + ": no \"" + key + "\" list");
    for (const llvm::json::Value &v : *list) {
      const llvm::json::Object *o = v.getAsObject();
      std::optional<llvm::StringRef> n =
          o ? o->getString("name") : std::nullopt;
      if (!n)
        throw ref::Error(path + ": an entry of \"" + key + "\" has no name");
      into.push_back(n->str());
    }
  };
  names("inputs", m.inputs);
  names("outputs", m.outputs);
  return m;
}

int indexOf(const std::vector<std::string> &names, const std::string &n) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == n)
      return (int)i;
  return -1;
}

/// Runs the check; returns the process exit code (0 ok, 1 mismatch, 2 error).
int runModel() {
  llvm::StringRef dir = llvm::StringRef(modelDir).rtrim('/');
  std::string label = llvm::sys::path::filename(dir).str();
  if (label.empty() || label == ".")
    label = modelDir;
  std::string outDir = expectedDir.empty() ? join(modelDir, "outputs")
                                           : std::string(expectedDir);
  Manifest manifest = readManifest(join(modelDir, "manifest.json"));

  std::string error;
  std::unique_ptr<test::Backend> backend =
      test::createBackend(backendName, error);
  if (!backend) {
    llvm::errs() << "kiln-e2e: " << error << "\n";
    return 2;
  }
  test::Status st = backend->load(join(modelDir, "model.onnx"));
  if (!st.ok()) {
    llvm::errs() << label << ": " << backend->name()
                 << " cannot load model.onnx:\n"
                 << st.message << "\n";
    return 2;
  }

  std::vector<ref::Tensor> inputs;
  for (const std::string &n : backend->inputNames()) {
    if (indexOf(manifest.inputs, n) < 0) {
      llvm::errs() << label << ": model input '" << n
                   << "' is not in manifest.json\n";
      return 2;
    }
    inputs.push_back(ref::readNpy(join(join(modelDir, "inputs"), n + ".npy")));
  }
  if (inputs.size() != manifest.inputs.size()) {
    llvm::errs() << label << ": model has " << inputs.size()
                 << " inputs, manifest.json lists " << manifest.inputs.size()
                 << "\n";
    return 2;
  }

  std::vector<ref::Tensor> outputs;
  st = backend->run(inputs, outputs);
  if (!st.ok()) {
    llvm::errs() << label << ": " << backend->name() << " failed:\n"
                 << st.message << "\n";
    return 2;
  }
  if (outputs.size() != backend->outputNames().size()) {
    llvm::errs() << label << ": backend returned " << outputs.size()
                 << " outputs for " << backend->outputNames().size()
                 << " names\n";
    return 2;
  }

  int bad = 0;
  for (const std::string &n : manifest.outputs) {
    int i = indexOf(backend->outputNames(), n);
    if (i < 0) {
      llvm::outs() << label << ": " << n
                   << ": MISSING (the model has no such output)\n";
      ++bad;
      continue;
    }
    ref::Tensor want = ref::readNpy(join(outDir, n + ".npy"));
    test::Comparison c = test::compareRelative(outputs[i], want, tolerance);
    char err[64];
    std::snprintf(err, sizeof err, "rel err %.3g (tol %g) ", c.error,
                  (double)tolerance);
    llvm::outs() << label << ": " << n << " " << test::describe(outputs[i])
                 << " " << err << (c.ok ? "ok" : "MISMATCH");
    if (!c.ok) {
      llvm::outs() << ": " << c.detail;
      ++bad;
    }
    llvm::outs() << "\n";
  }
  llvm::outs() << label << " (" << backend->name()
               << "): " << (bad ? "FAILED" : "passed") << ", "
               << manifest.outputs.size() - bad << "/"
               << manifest.outputs.size() << " outputs match\n";
  return bad ? 1 : 0;
}

} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv,
                              "kiln-e2e: check a kiln backend against a "
                              "model's saved framework outputs\n");
  try {
    return runModel();
  } catch (const std::exception &e) { // bad .npy / manifest files: ref::Error
    llvm::errs() << "kiln-e2e: " << e.what() << "\n";
    return 2;
  }
}

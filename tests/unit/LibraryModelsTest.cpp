// The exported e2e models (tests/e2e/models/*) compiled into native libraries
// with the default fusion pipeline, run through the C API and compared with
// the framework's outputs.
#include "ModelTestUtil.h"
#include "kiln/Codegen/Library.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>

using namespace kiln;
using namespace kiln::library;

namespace {

const std::string kModels = KILN_SOURCE_DIR "/tests/e2e/models";

struct Case {
  const char *model;
  Backend backend;
};
void PrintTo(const Case &c, std::ostream *os) {
  *os << c.model << (c.backend == Backend::LLVM ? " (llvm)" : " (auto)");
}
std::string caseName(const ::testing::TestParamInfo<Case> &info) {
  return std::string(info.param.model) +
         (info.param.backend == Backend::LLVM ? "_llvm" : "_auto");
}

class LibraryModels : public ::testing::TestWithParam<Case> {
protected:
  static void SetUpTestSuite() {
    llvm::SmallString<128> dir;
    (void)llvm::sys::fs::createUniqueDirectory("kiln-libmodels", dir);
    workDir = new std::string(dir);
  }
  static void TearDownTestSuite() {
    if (!std::getenv("KILN_TEST_KEEP"))
      llvm::sys::fs::remove_directories(*workDir);
    delete workDir;
  }
  static std::string *workDir;
};
std::string *LibraryModels::workDir;

/// Compiles the model in `dir` (model.onnx, inputs/, outputs/), runs it and
/// compares with the saved outputs; `runs` more runs are timed.
void checkModel(const std::string &dir, const std::string &name,
                Backend backend, const std::string &workDir, int runs = 0) {
  std::map<std::string, ref::Tensor> inputs = readNpyDir(dir + "/inputs");
  std::map<std::string, ref::Tensor> expected = readNpyDir(dir + "/outputs");
  ASSERT_FALSE(inputs.empty());

  mlir::DialectRegistry registry;
  registerKilnDialects(registry);
  mlir::MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  std::string diags;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      loadOptimizedModel(ctx, dir + "/model.onnx", inputs, diags);
  ASSERT_TRUE(module) << diags;

  LibraryOptions opts;
  opts.name = name + (backend == Backend::LLVM ? "_llvm" : "");
  opts.outDir = workDir + "/" + opts.name;
  opts.backend = backend;
  opts.cacheDir = workDir + "/cache";
  auto report = emitLibrary(*module, opts);
  ASSERT_TRUE(succeeded(report)) << diags;
  std::string stats;
  llvm::raw_string_ostream os(stats);
  printLibraryReport(*report, os);
  std::cout << stats;

  auto model = LoadedModel::open(report->libraryPath, 2);
  ASSERT_TRUE(!!model) << llvm::toString(model.takeError());
  std::vector<ref::Tensor> in;
  for (const TensorInfo &t : (*model)->inputs()) {
    ASSERT_TRUE(inputs.count(t.name)) << "no input file for " << t.name;
    in.push_back(inputs[t.name]);
  }
  auto out = (*model)->run(in);
  ASSERT_TRUE(!!out) << llvm::toString(out.takeError());
  for (size_t i = 0; i < out->size(); ++i) {
    const std::string &outName = (*model)->outputs()[i].name;
    ASSERT_TRUE(expected.count(outName)) << "no expected output " << outName;
    ref::Tensor want = expected[outName];
    ref::Tensor got = (*out)[i];
    if (want.dtype() != got.dtype())
      got = got.cast(want.dtype());
    double err = ref::relativeError(got, want);
    EXPECT_LT(err, 1e-3) << opts.name << " output " << outName;
    std::cout << opts.name << " " << outName << " rel err " << err << "\n";
  }
  // Token ids out of the vocabulary are an error naming the input, not an
  // out-of-bounds read; the instance then still runs valid ids.
  for (size_t i = 0; i < in.size(); ++i) {
    if ((*model)->inputs()[i].name != "input_ids")
      continue;
    std::vector<ref::Tensor> bad = in;
    bad[i].setInt(bad[i].numel() - 1, int64_t(1) << 40);
    auto rejected = (*model)->run(bad);
    ASSERT_FALSE(!!rejected) << opts.name << " ran with an id of 2^40";
    std::string msg = llvm::toString(rejected.takeError());
    EXPECT_NE(msg.find("input " + std::to_string(i) +
                       " ('input_ids'): element " +
                       std::to_string(bad[i].numel() - 1) +
                       " is 1099511627776, out of range"),
              std::string::npos)
        << msg;
    bad[i].setInt(bad[i].numel() - 1, -1); // negative ids count from the end
    auto negative = (*model)->run(bad);
    EXPECT_TRUE(!!negative) << llvm::toString(negative.takeError());
    auto again = (*model)->run(in);
    ASSERT_TRUE(!!again) << llvm::toString(again.takeError());
    EXPECT_LT(ref::relativeError((*again)[0], (*out)[0]), 1e-6);
  }
  if (runs > 0) {
    std::vector<double> times;
    for (int r = 0; r < runs; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      ASSERT_TRUE(!!(*model)->run(in));
      times.push_back(std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - t0)
                          .count());
    }
    std::sort(times.begin(), times.end());
    std::cout << opts.name << ": median " << times[times.size() / 2]
              << " ms over " << runs << " runs, " << (*model)->threads()
              << " threads\n";
    // Where the time goes: the slowest kernel calls.
    (*model)->setProfiling(true);
    for (int r = 0; r < runs; ++r)
      ASSERT_TRUE(!!(*model)->run(in));
    std::vector<LoadedModel::StepTime> steps = (*model)->stepTimes();
    double total = 0;
    for (const LoadedModel::StepTime &t : steps)
      total += t.seconds;
    std::sort(steps.begin(), steps.end(), [](const auto &a, const auto &b) {
      return a.seconds > b.seconds;
    });
    for (size_t i = 0; i < std::min<size_t>(8, steps.size()); ++i)
      llvm::outs() << llvm::format("  %6.2f ms %5.1f%%  ",
                                   1e3 * steps[i].seconds / runs,
                                   100 * steps[i].seconds / total)
                   << steps[i].name << "\n";
  }
}

TEST_P(LibraryModels, MatchesFrameworkOutputs) {
  checkModel(kModels + "/" + GetParam().model, GetParam().model,
             GetParam().backend, *workDir);
}

/// KILN_LIBRARY_MODEL=DIR (model.onnx, inputs/, outputs/) adds a model, e.g.
/// a full-size BERT for timing; skipped otherwise.
TEST_F(LibraryModels, ModelFromEnvironment) {
  const char *dir = std::getenv("KILN_LIBRARY_MODEL");
  if (!dir)
    GTEST_SKIP() << "set KILN_LIBRARY_MODEL=DIR to run";
  checkModel(dir, "env_model", Backend::Auto, *workDir, 10);
}

INSTANTIATE_TEST_SUITE_P(
    E2E, LibraryModels,
    // Every committed exported model, through both backend choices.
    ::testing::Values(Case{"bert_op14", Backend::Auto},
                      Case{"bert_op17", Backend::Auto},
                      Case{"bert_qscale_op14", Backend::Auto},
                      Case{"bert_qscale_op17", Backend::Auto},
                      Case{"gpt2_op14", Backend::Auto},
                      Case{"gpt2_op17", Backend::Auto},
                      Case{"seq2seq_op14", Backend::Auto},
                      Case{"seq2seq_op17", Backend::Auto},
                      Case{"moe_onehot_op14", Backend::Auto},
                      Case{"moe_onehot_op17", Backend::Auto},
                      Case{"moe_scatter_op14", Backend::Auto},
                      Case{"moe_scatter_op17", Backend::Auto},
                      Case{"bert_op14", Backend::LLVM},
                      Case{"bert_op17", Backend::LLVM},
                      Case{"bert_qscale_op14", Backend::LLVM},
                      Case{"bert_qscale_op17", Backend::LLVM},
                      Case{"gpt2_op14", Backend::LLVM},
                      Case{"gpt2_op17", Backend::LLVM},
                      Case{"seq2seq_op14", Backend::LLVM},
                      Case{"seq2seq_op17", Backend::LLVM},
                      Case{"moe_onehot_op14", Backend::LLVM},
                      Case{"moe_onehot_op17", Backend::LLVM},
                      Case{"moe_scatter_op14", Backend::LLVM},
                      Case{"moe_scatter_op17", Backend::LLVM}),
    caseName);

} // namespace

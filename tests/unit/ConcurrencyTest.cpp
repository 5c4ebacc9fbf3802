// One compiled model (an e2e model, default bert_op14) run from 4 threads at
// once, each on its own instance, every output compared bit for bit with the
// single-threaded run of the same input. Also built with ThreadSanitizer
// (./test.sh --tsan, tests/sanitize/README.md).
#include "ModelTestUtil.h"
#include "kiln/Codegen/Library.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

using namespace kiln;
using namespace kiln::library;

#if defined(__SANITIZE_THREAD__)
#define KILN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KILN_TSAN 1
#endif
#endif

namespace {

constexpr int kThreads = 4;
/// Runs per thread on one instance (fewer under TSan, which is ~10x slower).
#ifdef KILN_TSAN
constexpr int kRuns = 12;
constexpr int kCreateRuns = 4;
#else
constexpr int kRuns = 50;
constexpr int kCreateRuns = 10;
#endif

/// KILN_CONCURRENCY_MODEL=DIR (model.onnx + inputs/) picks another model.
std::string modelDir() {
  if (const char *e = std::getenv("KILN_CONCURRENCY_MODEL"); e && *e)
    return e;
  return KILN_SOURCE_DIR "/tests/e2e/models/bert_op14";
}

bool sameBits(const ref::Tensor &a, const ref::Tensor &b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         a.bytes() == b.bytes() &&
         std::memcmp(a.raw(), b.raw(), a.bytes()) == 0;
}

/// Input variant `v` of `t`: integers rotated by v positions (so indices stay
/// in range), floats scaled; distinct inputs per thread make any state shared
/// between instances show up in the outputs.
ref::Tensor variant(const ref::Tensor &t, int v, bool rotate) {
  ref::Tensor r = t;
  int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    if (ref::isFloat(t.dtype()))
      r.setDouble(i, t.getDouble(i) * (1.0 + 0.25 * v));
    else if (rotate)
      r.setInt(i, t.getInt((i + v) % n));
  }
  return r;
}

class Concurrency : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    llvm::SmallString<128> dir;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("kiln-concurrency", dir));
    workDir_ = new std::string(dir);
    library_ = new std::string;
    inputs_ = new std::vector<std::vector<ref::Tensor>>;
    expected_ = new std::vector<std::vector<ref::Tensor>>;
    compileAndReference();
  }
  static void TearDownTestSuite() {
    if (!std::getenv("KILN_TEST_KEEP"))
      llvm::sys::fs::remove_directories(*workDir_);
    delete workDir_;
    delete library_;
    delete inputs_;
    delete expected_;
  }

  static void compileAndReference();
  /// Runs input variant `v` on `model`; an empty string when the outputs
  /// match the reference bit for bit, else what went wrong.
  static std::string runAndCheck(LoadedModel &model, int v);

  static std::string *workDir_, *library_;
  static std::vector<std::vector<ref::Tensor>> *inputs_;   // per variant
  static std::vector<std::vector<ref::Tensor>> *expected_; // per variant
};
std::string *Concurrency::workDir_, *Concurrency::library_;
std::vector<std::vector<ref::Tensor>> *Concurrency::inputs_;
std::vector<std::vector<ref::Tensor>> *Concurrency::expected_;

void Concurrency::compileAndReference() {
  std::string dir = modelDir();
  std::map<std::string, ref::Tensor> files = readNpyDir(dir + "/inputs");
  ASSERT_FALSE(files.empty()) << "no inputs in " << dir;

  mlir::DialectRegistry registry;
  registerKilnDialects(registry);
  mlir::MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  std::string diags;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      loadOptimizedModel(ctx, dir + "/model.onnx", files, diags);
  ASSERT_TRUE(module) << diags;

  LibraryOptions opts;
  opts.name = "concurrency";
  opts.outDir = *workDir_ + "/lib";
  if (!std::getenv("KILN_CACHE_DIR"))
    opts.cacheDir = *workDir_ + "/cache";
#ifdef KILN_TSAN
  // Compile serially (LLVM's and Halide's threads are not instrumented) and
  // instrument the generated glue like the runtime archive it links.
  opts.jobs = 1;
  opts.cc = "cc -fsanitize=thread";
#endif
  auto report = emitLibrary(*module, opts);
  ASSERT_TRUE(succeeded(report)) << diags;
  *library_ = report->libraryPath;

  // The reference: every variant run on one instance, one at a time.
  auto model = LoadedModel::open(*library_, 2);
  ASSERT_TRUE(!!model) << llvm::toString(model.takeError());
  for (int v = 0; v < kThreads; ++v) {
    std::vector<ref::Tensor> in;
    for (const TensorInfo &t : (*model)->inputs()) {
      ASSERT_TRUE(files.count(t.name)) << "no input file for " << t.name;
      // Token ids rotate; masks and other integer inputs stay as they are.
      in.push_back(
          variant(files[t.name], v, t.name.find("mask") == std::string::npos));
    }
    auto out = (*model)->run(in);
    ASSERT_TRUE(!!out) << llvm::toString(out.takeError());
    inputs_->push_back(std::move(in));
    expected_->push_back(std::move(*out));
  }
  // The variants must differ, or the test could not see crossed wires.
  ASSERT_FALSE(sameBits(expected_->at(0).at(0), expected_->at(1).at(0)));
}

std::string Concurrency::runAndCheck(LoadedModel &model, int v) {
  auto out = model.run((*inputs_)[v]);
  if (!out)
    return llvm::toString(out.takeError());
  const std::vector<ref::Tensor> &want = (*expected_)[v];
  if (out->size() != want.size())
    return "wrong output count";
  for (size_t i = 0; i < want.size(); ++i)
    if (!sameBits((*out)[i], want[i]))
      return "output " + model.outputs()[i].name + " of variant " +
             std::to_string(v) + " differs from the single-threaded run";
  return "";
}

/// Collects the first failure of any thread.
struct Failures {
  std::mutex mutex;
  std::string first;
  std::atomic<int> count{0};
  void add(const std::string &msg) {
    if (msg.empty())
      return;
    std::lock_guard<std::mutex> lock(mutex);
    if (count++ == 0)
      first = msg;
  }
};

// 4 threads, each with its own instance (2 pool threads each), 50 runs
// cycling through the input variants, all at once.
TEST_F(Concurrency, SeparateInstancesRunTogether) {
  ASSERT_FALSE(library_->empty());
  Failures failures;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      auto model = LoadedModel::open(*library_, 2);
      ++ready;
      if (!model) {
        failures.add(llvm::toString(model.takeError()));
        return;
      }
      while (ready.load() < kThreads) // start the runs together
        std::this_thread::yield();
      for (int r = 0; r < kRuns; ++r)
        failures.add(runAndCheck(**model, (t + r) % kThreads));
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(failures.count.load(), 0) << failures.first;
}

// Instances created, run and destroyed over and over on 4 threads at once
// (creation installs the runtime's Halide hooks and starts thread pools).
TEST_F(Concurrency, CreateRunDestroyOnEachThread) {
  ASSERT_FALSE(library_->empty());
  Failures failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < kCreateRuns; ++r) {
        auto model = LoadedModel::open(*library_, 1 + (t + r) % 2);
        if (!model) {
          failures.add(llvm::toString(model.takeError()));
          return;
        }
        failures.add(runAndCheck(**model, (t + r) % kThreads));
      }
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(failures.count.load(), 0) << failures.first;
}

// One instance shared by 4 threads: each run either succeeds with the right
// outputs or is refused as busy; none corrupts another.
TEST_F(Concurrency, SharedInstanceRefusesOverlappingRuns) {
  ASSERT_FALSE(library_->empty());
  auto model = LoadedModel::open(*library_, 1);
  ASSERT_TRUE(!!model) << llvm::toString(model.takeError());
  Failures failures;
  std::atomic<int> ok{0}, busy{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < kCreateRuns; ++r) {
        std::string msg = runAndCheck(**model, (t + r) % kThreads);
        if (msg.empty())
          ++ok;
        else if (msg.find("running on another thread") != std::string::npos)
          ++busy;
        else
          failures.add(msg);
      }
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(failures.count.load(), 0) << failures.first;
  EXPECT_EQ(ok + busy, kThreads * kCreateRuns);
  EXPECT_GT(ok.load(), 0);
}

} // namespace

// Tests of kernel tuning: --tune-budget parsing, candidate values, a tiny tune
// into a temporary database that a later compile uses (outputs still match
// the interpreter), stored parameters in the kernel cache key, corrupt and
// stale databases, and Adams2019-scheduled kernels against the interpreter.
#include "TestHelpers.h"
#include "kiln/Codegen/HalideBackend.h"
#include "kiln/Codegen/HalidePipeline.h"
#include "kiln/Codegen/HalideTuning.h"
#include "kiln/Codegen/Library.h"
#include "kiln/IR/Interpreter.h"
#include "kiln/IR/KilnDialect.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <random>

using namespace kiln;
using namespace kiln::library;

namespace {

/// Matmul (packed weight), bias add, gelu, layer norm, softmax: five unique
/// Halide kernels.
std::string smallModel() {
  return R"(
func.func @main(%x: tensor<16x32xf32> {kiln.name = "x"}) -> (tensor<16x64xf32> {kiln.name = "y"}) {
  %w = "kiln.constant"() {value = )" +
         denseF32({32, 64}, 1) + R"(} : () -> tensor<32x64xf32>
  %b = "kiln.constant"() {value = )" +
         denseF32({64}, 2) + R"(} : () -> tensor<64xf32>
  %h = "kiln.matmul"(%x, %w) : (tensor<16x32xf32>, tensor<32x64xf32>) -> tensor<16x64xf32>
  %a = "kiln.add"(%h, %b) : (tensor<16x64xf32>, tensor<64xf32>) -> tensor<16x64xf32>
  %g = "kiln.gelu"(%a) : (tensor<16x64xf32>) -> tensor<16x64xf32>
  %n = "kiln.layer_norm"(%g, %b) {epsilon = 1.0e-5 : f32} : (tensor<16x64xf32>, tensor<64xf32>) -> tensor<16x64xf32>
  %s = "kiln.softmax"(%n) {axis = -1 : i64} : (tensor<16x64xf32>) -> tensor<16x64xf32>
  return %s : tensor<16x64xf32>
}
)";
}

std::string readFile(const std::string &path) {
  auto buf = llvm::MemoryBuffer::getFile(path);
  return buf ? (*buf)->getBuffer().str() : "";
}

void writeFile(const std::string &path, const std::string &text) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  os << text;
}

class Tuning : public ::testing::Test {
protected:
  Tuning() {
    registry.insert<kiln::KilnDialect, mlir::func::FuncDialect>();
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
    dir = tempDir("kiln-tunetest");
    module = mlir::parseSourceString<mlir::ModuleOp>(smallModel(), &ctx);
  }
  ~Tuning() override { llvm::sys::fs::remove_directories(dir); }

  LibraryOptions options(const std::string &sub) {
    LibraryOptions o;
    o.outDir = dir + "/" + sub;
    o.name = "small";
    o.cacheDir = dir + "/cache";
    o.tuningDb = dir + "/tuning.json";
    o.threads = 2;
    return o;
  }

  llvm::FailureOr<LibraryReport> compile(const LibraryOptions &o) {
    mlir::ScopedDiagnosticHandler h(&ctx, [&](mlir::Diagnostic &d) {
      diags += d.str() + "\n";
      return mlir::success();
    });
    return emitLibrary(*module, o);
  }

  /// Runs the library and compares it with the interpreter.
  void expectMatchesInterpreter(const LibraryReport &r) {
    ref::Tensor x = randomTensor({16, 32}, 7);
    auto model = LoadedModel::open(r.libraryPath, 2);
    ASSERT_TRUE(bool(model)) << llvm::toString(model.takeError());
    auto got = (*model)->run({x});
    ASSERT_TRUE(bool(got)) << llvm::toString(got.takeError());
    auto fn = module->lookupSymbol<mlir::func::FuncOp>("main");
    auto want = kiln::interpret(fn, {x});
    ASSERT_TRUE(succeeded(want));
    ASSERT_EQ(got->size(), 1u);
    EXPECT_LT(ref::relativeError((*got)[0], (*want)[0]), 1e-4);
  }

  const KernelReport *kernelFor(const LibraryReport &r, llvm::StringRef op) {
    for (const KernelReport &k : r.kernels)
      if (k.op == op)
        return &k;
    return nullptr;
  }

  mlir::DialectRegistry registry;
  mlir::MLIRContext ctx{mlir::MLIRContext::Threading::ENABLED};
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::string dir, diags;
};

TEST(TuneBudget, ParsesSecondsAndTrials) {
  double s = -1;
  int t = -1;
  EXPECT_EQ(parseTuneBudget("300", s, t), "");
  EXPECT_EQ(s, 300);
  EXPECT_EQ(t, 0);
  EXPECT_EQ(parseTuneBudget("2.5s", s, t), "");
  EXPECT_EQ(s, 2.5);
  EXPECT_EQ(parseTuneBudget("8t", s, t), "");
  EXPECT_EQ(t, 8);
  EXPECT_EQ(s, 0);
  EXPECT_NE(parseTuneBudget("8q", s, t), "");
  EXPECT_NE(parseTuneBudget("fast", s, t), "");
  EXPECT_NE(parseTuneBudget("0", s, t), "");
  EXPECT_NE(parseTuneBudget("1.5t", s, t), "");
}

TEST(TuneCandidates, StayNearTheDefault) {
  std::vector<int64_t> g = halide::candidateValues("parallel_grain", 32768);
  EXPECT_EQ(g.front(), 8192);
  EXPECT_NE(std::find(g.begin(), g.end(), 131072), g.end());
  EXPECT_EQ(std::find(g.begin(), g.end(), 32768), g.end());
  std::vector<int64_t> m = halide::candidateValues("tile_m", 8);
  EXPECT_FALSE(m.empty());
  for (int64_t v : m) {
    EXPECT_NE(v, 8);
    EXPECT_GE(v, 2);
    EXPECT_LE(v, 32);
  }
  EXPECT_NE(std::find(m.begin(), m.end(), 4), m.end());
  // Switches: a default of 1 also tries 0 (and 0 tries 1 first).
  std::vector<int64_t> p = halide::candidateValues("prefetch_next_panel", 1);
  EXPECT_NE(std::find(p.begin(), p.end(), 0), p.end());
  EXPECT_EQ(halide::candidateValues("prefetch_next_panel", 0).front(), 1);
}

TEST_F(Tuning, TuneWritesTheDbAndLaterCompilesUseIt) {
  ASSERT_TRUE(module);
  LibraryOptions o = options("tuned");
  o.tune = true;
  o.tuneTrials = 3; // default, Adams2019, one manual candidate
  auto r = compile(o);
  ASSERT_TRUE(succeeded(r)) << diags;
  ASSERT_EQ(r->tuning.size(), 5u) << diags;
  for (const KernelTuneReport &k : r->tuning) {
    EXPECT_TRUE(k.winner == "manual" || k.winner == "adams2019")
        << k.op << ": " << k.note;
    EXPECT_GT(k.defaultMs, 0) << k.op;
    EXPECT_LE(k.timed, 3) << k.op;
  }
  // Every kernel has a line: key, target, threads, scheduler, params.
  std::string db = readFile(o.tuningDb);
  EXPECT_NE(db.find("# kiln tuning database"), std::string::npos);
  size_t lines = 0;
  for (llvm::StringRef line : llvm::split(db, '\n')) {
    if (line.empty() || line.starts_with("#"))
      continue;
    ++lines;
    EXPECT_TRUE(line.contains("\"key\":\"kiln.")) << line.str();
    EXPECT_TRUE(line.contains("\"threads\":2")) << line.str();
    EXPECT_TRUE(line.contains("\"scheduler\":\"manual\"") ||
                line.contains("\"scheduler\":\"adams2019\""))
        << line.str();
    EXPECT_TRUE(line.contains("\"default_us\":")) << line.str();
  }
  EXPECT_EQ(lines, 5u) << db;
  EXPECT_EQ(r->tunedKernels, 5u);
  expectMatchesInterpreter(*r);

  // A later compile without --tune uses every entry.
  auto again = compile(options("again"));
  ASSERT_TRUE(succeeded(again)) << diags;
  EXPECT_EQ(again->tunedKernels, 5u);
  for (const KernelReport &k : again->kernels)
    EXPECT_NE(k.schedule, "default") << k.op;
  expectMatchesInterpreter(*again);

  // With another thread count nothing matches.
  LibraryOptions one = options("one");
  one.threads = 1;
  auto other = compile(one);
  ASSERT_TRUE(succeeded(other)) << diags;
  EXPECT_EQ(other->tunedKernels, 0u);
}

TEST_F(Tuning, StoredParamsAreInTheCacheKey) {
  ASSERT_TRUE(module);
  LibraryOptions plain = options("plain");
  plain.useTuningDb = false;
  auto r1 = compile(plain);
  ASSERT_TRUE(succeeded(r1)) << diags;
  const KernelReport *add = kernelFor(*r1, "kiln.add");
  ASSERT_TRUE(add);
  // The add's key and this machine's target, as the library resolves them.
  std::string key = add->key.substr(std::string("halide ").size());
  std::string target = halide::parseTarget("host")->to_string();
  llvm::json::Object o{{"key", key},
                       {"target", target},
                       {"threads", 2},
                       {"scheduler", "manual"},
                       {"params", llvm::json::Object{{"parallel_grain", 64}}}};
  std::string entry;
  llvm::raw_string_ostream(entry) << llvm::json::Value(std::move(o)) << "\n";
  // And Adams2019 for the softmax.
  std::string softmaxKey =
      kernelFor(*r1, "kiln.softmax")->key.substr(std::string("halide ").size());
  llvm::json::Object so{{"key", softmaxKey},
                        {"target", target},
                        {"threads", 2},
                        {"scheduler", "adams2019"},
                        {"params", llvm::json::Object{}}};
  std::string adamsLine;
  llvm::raw_string_ostream(adamsLine)
      << llvm::json::Value(std::move(so)) << "\n";
  writeFile(plain.tuningDb, entry + adamsLine);

  auto r2 = compile(options("withdb"));
  ASSERT_TRUE(succeeded(r2)) << diags;
  std::string why;
  bool adams = halide::autoschedulerAvailable("adams2019", &why);
  EXPECT_EQ(r2->tunedKernels, adams ? 2u : 1u) << diags;
  const KernelReport *add2 = kernelFor(*r2, "kiln.add");
  ASSERT_TRUE(add2);
  EXPECT_EQ(add2->schedule, "tuned");
  EXPECT_FALSE(add2->cacheHit); // not the default-schedule object
  EXPECT_NE(add2->function, add->function);
  EXPECT_TRUE(kernelFor(*r2, "kiln.layer_norm")->cacheHit);
  EXPECT_EQ(kernelFor(*r2, "kiln.layer_norm")->schedule, "default");
  if (adams) {
    EXPECT_EQ(kernelFor(*r2, "kiln.softmax")->schedule, "adams2019");
    EXPECT_FALSE(kernelFor(*r2, "kiln.softmax")->cacheHit);
  }
  expectMatchesInterpreter(*r2);

  // A stale entry (a parameter the kernel does not have) is ignored.
  std::string stale = entry;
  stale.replace(stale.find("parallel_grain"), 14, "no_such_param");
  writeFile(plain.tuningDb, stale); // the adams2019 line is gone too
  diags.clear();
  auto r3 = compile(options("stale"));
  ASSERT_TRUE(succeeded(r3)) << diags;
  EXPECT_EQ(r3->tunedKernels, 0u);
  EXPECT_NE(diags.find("ignoring the tuning database entry"), std::string::npos)
      << diags;
  EXPECT_NE(diags.find("no_such_param"), std::string::npos) << diags;
}

TEST_F(Tuning, CorruptDbWarnsAndFallsBack) {
  ASSERT_TRUE(module);
  LibraryOptions o = options("corrupt");
  writeFile(o.tuningDb, "this is not JSON\n{\"key\": 3}\n\x01\x02\n");
  auto r = compile(o);
  ASSERT_TRUE(succeeded(r)) << diags;
  EXPECT_EQ(r->tunedKernels, 0u);
  EXPECT_NE(diags.find("tuning database '" + o.tuningDb + "' line 1: not JSON"),
            std::string::npos)
      << diags;
  EXPECT_NE(diags.find("3 unreadable lines skipped"), std::string::npos)
      << diags;
  expectMatchesInterpreter(*r);

  // A directory where the file should be: a warning, default schedules.
  LibraryOptions d = options("dirdb");
  d.tuningDb = dir + "/cache";
  diags.clear();
  auto r2 = compile(d);
  ASSERT_TRUE(succeeded(r2)) << diags;
  EXPECT_NE(diags.find("cannot read the tuning database"), std::string::npos)
      << diags;
}

/// Each op alone, scheduled by Adams2019 and run by JIT, against the
/// interpreter.
class Adams2019 : public ::testing::Test {
protected:
  Adams2019() {
    registry.insert<kiln::KilnDialect, mlir::func::FuncDialect>();
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
  }

  void check(const std::string &src, double tol = 1e-4) {
    std::string diags;
    mlir::ScopedDiagnosticHandler h(&ctx, [&](mlir::Diagnostic &d) {
      diags += d.str() + "\n";
      return mlir::success();
    });
    auto m = mlir::parseSourceString<mlir::ModuleOp>(src, &ctx);
    ASSERT_TRUE(m) << diags;
    auto fn = m->lookupSymbol<mlir::func::FuncOp>("main");
    mlir::Operation *op = &fn.getBody().front().front();
    std::vector<ref::Tensor> inputs;
    for (auto [i, a] : llvm::enumerate(fn.getArguments())) {
      auto t = mlir::cast<mlir::RankedTensorType>(a.getType());
      inputs.push_back(randomTensor(t.getShape().vec(), 11 + i));
    }
    halide::KernelOptions ko;
    ko.threads = 2;
    ko.autoscheduler = "adams2019";
    auto got = halide::runKernelJIT(op, inputs, ko);
    ASSERT_TRUE(succeeded(got)) << diags;
    auto want = kiln::interpret(fn, inputs);
    ASSERT_TRUE(succeeded(want)) << diags;
    ASSERT_EQ(got->size(), want->size());
    for (size_t i = 0; i < got->size(); ++i)
      EXPECT_LT(ref::relativeError((*got)[i], (*want)[i]), tol);
    // A near miss: another input gives other results (the check can fail).
    inputs[0] = randomTensor(inputs[0].shape(), 99);
    auto other = halide::runKernelJIT(op, inputs, ko);
    ASSERT_TRUE(succeeded(other)) << diags;
    EXPECT_GT(ref::relativeError((*other)[0], (*want)[0]), 1e-2);
  }

  void SetUp() override {
    std::string why;
    if (!halide::autoschedulerAvailable("adams2019", &why))
      GTEST_SKIP() << why;
  }

  mlir::DialectRegistry registry;
  mlir::MLIRContext ctx{mlir::MLIRContext::Threading::DISABLED};
};

TEST_F(Adams2019, Elementwise) {
  check(R"(
func.func @main(%a: tensor<8x37xf32>, %b: tensor<37xf32>) -> tensor<8x37xf32> {
  %0 = "kiln.add"(%a, %b) : (tensor<8x37xf32>, tensor<37xf32>) -> tensor<8x37xf32>
  return %0 : tensor<8x37xf32>
})");
}

TEST_F(Adams2019, LayerNorm) {
  check(R"(
func.func @main(%a: tensor<12x80xf32>, %g: tensor<80xf32>, %b: tensor<80xf32>) -> tensor<12x80xf32> {
  %0 = "kiln.layer_norm"(%a, %g, %b) {epsilon = 1.0e-5 : f32} : (tensor<12x80xf32>, tensor<80xf32>, tensor<80xf32>) -> tensor<12x80xf32>
  return %0 : tensor<12x80xf32>
})");
}

TEST_F(Adams2019, Matmul) {
  check(R"(
func.func @main(%a: tensor<24x40xf32>, %b: tensor<40x56xf32>) -> tensor<24x56xf32> {
  %0 = "kiln.matmul"(%a, %b) : (tensor<24x40xf32>, tensor<40x56xf32>) -> tensor<24x56xf32>
  return %0 : tensor<24x56xf32>
})");
}

TEST_F(Adams2019, UnknownAutoschedulerIsAnError) {
  std::string why;
  EXPECT_FALSE(halide::autoschedulerAvailable("mullapudi", &why));
  EXPECT_NE(why.find("unknown autoscheduler"), std::string::npos);
}

} // namespace

// End-to-end tests of generated model libraries: compile small kiln models to
// libN.so, run them through dlopen and compare with the interpreter; kernel
// dedup and cache, ldd and exports, API misuse, external weights, errors.
#include "kiln/Codegen/Library.h"
#include "TestHelpers.h"
#include "kiln/Codegen/HalideBackend.h"
#include "kiln/Codegen/Target.h"
#include "kiln/IR/Interpreter.h"
#include "kiln/IR/KilnDialect.h"
#include "kiln/Reference/Npy.h"
#include "kiln/kiln_model_types.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <thread>

using namespace kiln;
using namespace kiln::library;

namespace {

/// A small MLP-like model: matmul, bias add (twice: one shared kernel),
/// gelu, mul, fused matmul (packed weight), softmax, a reshape view, a dead
/// op, and outputs that alias an intermediate, an input and a constant.
std::string mlpModel() {
  return R"(
func.func @main(%x: tensor<4x32xf32> {kiln.name = "x", kiln.dims = ["batch", ""]},
                %m: tensor<4x48xf32> {kiln.name = "mask"})
    -> (tensor<4x48xf32> {kiln.name = "y"}, tensor<192xf32> {kiln.name = "flat"},
        tensor<4x32xf32> {kiln.name = "x_again"}, tensor<48xf32> {kiln.name = "bias"}) {
  %w1 = "kiln.constant"() {value = )" +
         denseF32({32, 48}, 1) + R"(} : () -> tensor<32x48xf32>
  %b1 = "kiln.constant"() {value = )" +
         denseF32({48}, 2) + R"(} : () -> tensor<48xf32>
  %w2 = "kiln.constant"() {value = )" +
         denseF32({48, 48}, 3) + R"(} : () -> tensor<48x48xf32>
  %shape = "kiln.constant"() {value = dense<[192]> : tensor<1xi64>} : () -> tensor<1xi64>
  %h = "kiln.matmul"(%x, %w1) : (tensor<4x32xf32>, tensor<32x48xf32>) -> tensor<4x48xf32> loc("fc1/MatMul")
  %h2 = "kiln.add"(%h, %b1) : (tensor<4x48xf32>, tensor<48xf32>) -> tensor<4x48xf32> loc("fc1/Add")
  %g = "kiln.gelu"(%h2) : (tensor<4x48xf32>) -> tensor<4x48xf32>
  %g2 = "kiln.mul"(%g, %m) : (tensor<4x48xf32>, tensor<4x48xf32>) -> tensor<4x48xf32>
  %o = "kiln.fused_matmul"(%g2, %w2, %b1) {activation = "relu"} : (tensor<4x48xf32>, tensor<48x48xf32>, tensor<48xf32>) -> tensor<4x48xf32>
  %o2 = "kiln.add"(%o, %b1) : (tensor<4x48xf32>, tensor<48xf32>) -> tensor<4x48xf32> loc("fc2/Add")
  %s = "kiln.softmax"(%o2) {axis = -1 : i64} : (tensor<4x48xf32>) -> tensor<4x48xf32>
  %r = "kiln.reshape"(%s, %shape) : (tensor<4x48xf32>, tensor<1xi64>) -> tensor<192xf32>
  %dead = "kiln.exp"(%x) : (tensor<4x32xf32>) -> tensor<4x32xf32>
  return %s, %r, %x, %b1 : tensor<4x48xf32>, tensor<192xf32>, tensor<4x32xf32>, tensor<48xf32>
}
)";
}

std::string runCommand(const std::string &cmd) {
  std::string out;
  if (FILE *p = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (fgets(buf, sizeof buf, p))
      out += buf;
    pclose(p);
  }
  return out;
}

class Library : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    cacheDir = new std::string(tempDir("kiln-libtest-cache"));
    outDir = new std::string(tempDir("kiln-libtest-out"));
  }
  static void TearDownTestSuite() {
    if (std::getenv("KILN_TEST_KEEP")) // keep the libraries for a look
      llvm::errs() << "kept " << *outDir << " and " << *cacheDir << "\n";
    else {
      llvm::sys::fs::remove_directories(*cacheDir);
      llvm::sys::fs::remove_directories(*outDir);
    }
    delete cacheDir;
    delete outDir;
  }

  Library() {
    registry.insert<kiln::KilnDialect, mlir::func::FuncDialect>();
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
  }

  mlir::OwningOpRef<mlir::ModuleOp> parse(const std::string &text) {
    return mlir::parseSourceString<mlir::ModuleOp>(text, &ctx);
  }

  LibraryOptions options(const std::string &sub, const std::string &name) {
    LibraryOptions o;
    o.outDir = *outDir + "/" + sub;
    o.name = name;
    o.cacheDir = *cacheDir;
    return o;
  }

  /// Compiles `text` (diagnostics into `diags`).
  llvm::FailureOr<LibraryReport> compile(const std::string &text,
                                         const LibraryOptions &o,
                                         std::string *diags = nullptr) {
    std::string sink;
    mlir::ScopedDiagnosticHandler h(&ctx, [&](mlir::Diagnostic &d) {
      (diags ? *diags : sink) += d.str() + "\n";
      if (!diags)
        llvm::errs() << d.str() << "\n";
      return mlir::success();
    });
    mlir::OwningOpRef<mlir::ModuleOp> m = parse(text);
    if (!m)
      return mlir::failure();
    module = std::move(m);
    return emitLibrary(*module, o);
  }

  std::vector<ref::Tensor> reference(llvm::ArrayRef<ref::Tensor> inputs) {
    auto fn = module->lookupSymbol<mlir::func::FuncOp>("main");
    auto out = kiln::interpret(fn, inputs);
    EXPECT_TRUE(succeeded(out));
    return succeeded(out) ? *out : std::vector<ref::Tensor>{};
  }

  static std::string *cacheDir, *outDir;
  mlir::DialectRegistry registry;
  mlir::MLIRContext ctx{mlir::MLIRContext::Threading::ENABLED};
  mlir::OwningOpRef<mlir::ModuleOp> module;
};
std::string *Library::cacheDir, *Library::outDir;

void expectMatches(const std::vector<ref::Tensor> &got,
                   const std::vector<ref::Tensor> &want, double tol = 1e-4) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].shape(), want[i].shape()) << "output " << i;
    EXPECT_LT(ref::relativeError(got[i], want[i]), tol) << "output " << i;
  }
}

TEST_F(Library, MlpMatchesInterpreterAndReusesKernels) {
  auto report = compile(mlpModel(), options("mlp", "mlp"));
  ASSERT_TRUE(succeeded(report));
  // 7 kernel calls (the dead exp dropped, the reshape a view); both bias adds
  // share one kernel.
  EXPECT_EQ(report->steps, 7u);
  EXPECT_EQ(report->kernels.size(), 6u);
  EXPECT_EQ(report->aliases, 1u);
  EXPECT_EQ(report->copies, 3u); // flat (same bytes as y), x_again, bias
  EXPECT_EQ(report->cacheMisses, 6u);
  EXPECT_LT(report->arenaBytes, report->intermediateBytes);
  EXPECT_TRUE(llvm::sys::fs::exists(report->reportPath));
  EXPECT_TRUE(llvm::sys::fs::exists(report->headerPath));

  auto model = LoadedModel::open(report->libraryPath, 2);
  ASSERT_TRUE(!!model) << llvm::toString(model.takeError());
  LoadedModel &lm = **model;
  ASSERT_EQ(lm.inputs().size(), 2u);
  EXPECT_EQ(lm.inputs()[0].name, "x");
  EXPECT_EQ(lm.inputs()[0].dimNames, (std::vector<std::string>{"batch", ""}));
  EXPECT_EQ(lm.outputs()[1].shape, (std::vector<int64_t>{192}));
  EXPECT_EQ(lm.threads(), 2);
  for (unsigned seed = 0; seed < 3; ++seed) {
    std::vector<ref::Tensor> in = {randomTensor({4, 32}, seed),
                                   randomTensor({4, 48}, 100 + seed)};
    auto out = lm.run(in);
    ASSERT_TRUE(!!out) << llvm::toString(out.takeError());
    expectMatches(*out, reference(in));
  }
  // Profiling names the steps by their node names.
  lm.setProfiling(true);
  ASSERT_TRUE(!!lm.run({randomTensor({4, 32}, 7), randomTensor({4, 48}, 8)}));
  auto times = lm.stepTimes();
  ASSERT_EQ(times.size(), 7u);
  EXPECT_EQ(times[0].name, "fc1/MatMul (kiln.matmul)");
  EXPECT_EQ(times[0].calls, 1);
}

TEST_F(Library, RecompileHitsTheCache) {
  ASSERT_TRUE(succeeded(compile(mlpModel(), options("warm", "mlp"))));
  auto again = compile(mlpModel(), options("again", "mlp2"));
  ASSERT_TRUE(succeeded(again));
  EXPECT_EQ(again->cacheMisses, 0u);
  EXPECT_EQ(again->cacheHits, 6u);
  auto model = LoadedModel::open(again->libraryPath, 1);
  ASSERT_TRUE(!!model) << llvm::toString(model.takeError());
  std::vector<ref::Tensor> in = {randomTensor({4, 32}, 5),
                                 randomTensor({4, 48}, 6)};
  auto out = (*model)->run(in);
  ASSERT_TRUE(!!out) << llvm::toString(out.takeError());
  expectMatches(*out, reference(in));
}

TEST_F(Library, LinksOnlySystemLibrariesAndExportsOnlyTheApi) {
  auto report = compile(mlpModel(), options("deps", "deps"));
  ASSERT_TRUE(succeeded(report));
  std::string ldd = runCommand("ldd " + report->libraryPath);
  ASSERT_FALSE(ldd.empty());
  llvm::SmallVector<llvm::StringRef> lines;
  llvm::StringRef(ldd).split(lines, '\n', -1, false);
  for (llvm::StringRef line : lines) {
    llvm::StringRef lib = line.trim().split(' ').first;
    bool allowed = lib.starts_with("linux-vdso") ||
                   lib.starts_with("libc.so") || lib.starts_with("libm.so") ||
                   lib.starts_with("libpthread") ||
                   lib.starts_with("libdl.so") || lib.contains("ld-linux");
    EXPECT_TRUE(allowed) << "unexpected dependency: " << line.str();
  }
  std::string syms = runCommand("nm -D --defined-only " + report->libraryPath);
  llvm::SmallVector<llvm::StringRef> symLines;
  llvm::StringRef(syms).split(symLines, '\n', -1, false);
  EXPECT_GT(symLines.size(), 20u);
  for (llvm::StringRef line : symLines)
    EXPECT_TRUE(line.rsplit(' ').second.starts_with("deps_")) << line.str();
}

using RunFn = int (*)(void *, const void *const *, int, void *const *, int);
using RunTensorsFn = int (*)(void *, const kiln_tensor *, int,
                             const kiln_tensor *, int);
using ErrorFn = const char *(*)(const void *);

TEST_F(Library, ApiMisuseReturnsErrors) {
  auto report = compile(mlpModel(), options("misuse", "misuse"));
  ASSERT_TRUE(succeeded(report));
  auto model = LoadedModel::open(report->libraryPath, 1);
  ASSERT_TRUE(!!model) << llvm::toString(model.takeError());
  LoadedModel &lm = **model;
  auto run = reinterpret_cast<RunFn>(lm.symbol("run"));
  auto runTensors = reinterpret_cast<RunTensorsFn>(lm.symbol("run_tensors"));
  auto lastError = reinterpret_cast<ErrorFn>(lm.symbol("last_error"));
  auto inputName =
      reinterpret_cast<const char *(*)(int)>(lm.symbol("input_name"));
  auto outputIndex =
      reinterpret_cast<int (*)(const char *)>(lm.symbol("output_index"));
  ASSERT_TRUE(run && runTensors && lastError && inputName && outputIndex);
  void *inst = lm.instance();

  std::vector<float> x(4 * 32, 0.5f), m(4 * 48, 1.0f), y(192), flat(192),
      xa(128), bias(48);
  const void *in[] = {x.data(), m.data()};
  void *out[] = {y.data(), flat.data(), xa.data(), bias.data()};
  EXPECT_EQ(run(inst, in, 2, out, 4), KILN_OK) << lastError(inst);
  EXPECT_EQ(run(inst, in, 1, out, 4), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(lastError(inst), "model 'misuse' has 2 inputs, got 1");
  EXPECT_EQ(run(inst, in, 2, out, 3), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(lastError(inst), "model 'misuse' has 4 outputs, got 3");
  const void *nullIn[] = {x.data(), nullptr};
  EXPECT_EQ(run(inst, nullIn, 2, out, 4), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(lastError(inst), "input 1 ('mask') is NULL");
  EXPECT_EQ(run(inst, nullptr, 2, out, 4), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(run(nullptr, in, 2, out, 4), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(lastError(nullptr), "run: the instance is NULL");
  // Buffers need their element size's alignment (kernels assume it).
  std::vector<float> spare(4 * 48 + 1);
  const void *misaligned[] = {x.data(),
                              reinterpret_cast<const char *>(spare.data()) + 2};
  EXPECT_EQ(run(inst, misaligned, 2, out, 4), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(lastError(inst), "input 1 ('mask') is not aligned to 4 bytes "
                                "(f32 elements need it)");
  void *misalignedOut[] = {y.data(), flat.data(), xa.data(),
                           reinterpret_cast<char *>(spare.data()) + 1};
  EXPECT_EQ(run(inst, in, 2, misalignedOut, 4), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(lastError(inst), "output 3 ('bias') is not aligned to 4 bytes "
                                "(f32 elements need it)");
  // Aligned to the element but not to a vector or cache line: accepted.
  std::vector<float> shifted(4 * 48 + 1, 1.0f);
  const void *offsetIn[] = {x.data(), shifted.data() + 1};
  EXPECT_EQ(run(inst, offsetIn, 2, out, 4), KILN_OK) << lastError(inst);
  void *aliased[] = {x.data(), flat.data(), xa.data(), bias.data()};
  EXPECT_EQ(run(inst, in, 2, aliased, 4), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(lastError(inst)).find("overlaps input 0"),
            std::string::npos);

  int64_t xs[] = {4, 32}, ms[] = {4, 48}, bad[] = {4, 47}, ys[] = {4, 48},
          fs[] = {192}, bs[] = {48};
  kiln_tensor tin[] = {{x.data(), KILN_F32, 2, xs},
                       {m.data(), KILN_F32, 2, ms}};
  kiln_tensor tout[] = {{y.data(), KILN_F32, 2, ys},
                        {flat.data(), KILN_F32, 1, fs},
                        {xa.data(), KILN_F32, 2, xs},
                        {bias.data(), KILN_F32, 1, bs}};
  EXPECT_EQ(runTensors(inst, tin, 2, tout, 4), KILN_OK) << lastError(inst);
  tin[1].shape = bad;
  EXPECT_EQ(runTensors(inst, tin, 2, tout, 4), KILN_ERROR_SHAPE);
  EXPECT_STREQ(lastError(inst),
               "input 1 ('mask'): expected shape [4,48], got [4,47]");
  tin[1].shape = ms;
  tin[0].dtype = KILN_F64;
  EXPECT_EQ(runTensors(inst, tin, 2, tout, 4), KILN_ERROR_DTYPE);
  EXPECT_STREQ(lastError(inst), "input 0 ('x'): expected dtype f32, got f64");
  tin[0].dtype = KILN_F32;
  int64_t bs2[] = {48, 1}; // rank 2 needs 2 entries (ASan caught a read of 1)
  tout[3].rank = 2;
  tout[3].shape = bs2;
  EXPECT_EQ(runTensors(inst, tin, 2, tout, 4), KILN_ERROR_SHAPE);
  tout[3].rank = 1;
  tout[3].shape = bs;
  tout[0].data = nullptr;
  EXPECT_EQ(runTensors(inst, tin, 2, tout, 4), KILN_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(lastError(inst), "output 0 ('y') has NULL data");
  tout[0].data = y.data();
  EXPECT_EQ(runTensors(inst, tin, 2, tout, 4), KILN_OK);
  EXPECT_STREQ(lastError(inst), "");

  EXPECT_EQ(inputName(2), nullptr);
  EXPECT_EQ(outputIndex("x_again"), 2);
  EXPECT_EQ(outputIndex("nope"), -1);
  // Preallocated outputs are checked too.
  std::vector<ref::Tensor> tensors = {randomTensor({4, 32}, 1),
                                      randomTensor({4, 48}, 2)};
  std::vector<ref::Tensor> outs;
  for (std::vector<int64_t> s :
       std::vector<std::vector<int64_t>>{{4, 48}, {192}, {4, 32}, {47}})
    outs.emplace_back(ref::DType::F32, s);
  llvm::Error err = lm.runInto(tensors, outs);
  ASSERT_TRUE(!!err);
  EXPECT_NE(llvm::toString(std::move(err))
                .find("output 3 ('bias'): expected shape [48], got [47]"),
            std::string::npos);
  outs[3] = ref::Tensor(ref::DType::F32, {48});
  EXPECT_FALSE(!!lm.runInto(tensors, outs));
  expectMatches(outs, reference(tensors));
  // The loader reports a wrong input through the same checks.
  auto wrong = lm.run({randomTensor({4, 32}, 1)});
  ASSERT_FALSE(!!wrong);
  EXPECT_NE(llvm::toString(wrong.takeError()).find("has 2 inputs, got 1"),
            std::string::npos);
}

/// Gathers whose indices are caller inputs: i32 ids cast to i64 and
/// flattened (rows of a 10x4 table), and i64 positions (columns of a 4x7
/// table, axis 1).
std::string gatherModel() {
  return R"(
func.func @main(%ids: tensor<2x3xi32> {kiln.name = "ids"},
                %pos: tensor<5xi64> {kiln.name = "pos"})
    -> (tensor<6x4xf32> {kiln.name = "rows"}, tensor<4x5xf32> {kiln.name = "cols"}) {
  %table = "kiln.constant"() {value = )" +
         denseF32({10, 4}, 4) + R"(} : () -> tensor<10x4xf32>
  %cols = "kiln.constant"() {value = )" +
         denseF32({4, 7}, 5) + R"(} : () -> tensor<4x7xf32>
  %shape = "kiln.constant"() {value = dense<[6]> : tensor<1xi64>} : () -> tensor<1xi64>
  %c = "kiln.cast"(%ids) {to = i64} : (tensor<2x3xi32>) -> tensor<2x3xi64>
  %flat = "kiln.reshape"(%c, %shape) : (tensor<2x3xi64>, tensor<1xi64>) -> tensor<6xi64>
  %r = "kiln.gather"(%table, %flat) {axis = 0 : i64} : (tensor<10x4xf32>, tensor<6xi64>) -> tensor<6x4xf32> loc("embed")
  %k = "kiln.gather"(%cols, %pos) {axis = 1 : i64} : (tensor<4x7xf32>, tensor<5xi64>) -> tensor<4x5xf32> loc("pick")
  return %r, %k : tensor<6x4xf32>, tensor<4x5xf32>
}
)";
}

TEST_F(Library, IndexInputsAreRangeChecked) {
  for (Backend backend : {Backend::Auto, Backend::LLVM}) {
    std::string name = backend == Backend::LLVM ? "gather_llvm" : "gather_auto";
    LibraryOptions o = options(name, name);
    o.backend = backend;
    auto report = compile(gatherModel(), o);
    ASSERT_TRUE(succeeded(report));
    auto model = LoadedModel::open(report->libraryPath, 1);
    ASSERT_TRUE(!!model) << llvm::toString(model.takeError());
    LoadedModel &lm = **model;
    auto run = reinterpret_cast<RunFn>(lm.symbol("run"));
    auto lastError = reinterpret_cast<ErrorFn>(lm.symbol("last_error"));
    ASSERT_TRUE(run && lastError);
    void *inst = lm.instance();

    // Valid ids, negative ones counting from the end, match the interpreter.
    ref::Tensor ids = ref::Tensor::of(
        ref::DType::I32, {2, 3}, std::vector<int32_t>{0, 9, -10, -1, 3, 5});
    ref::Tensor pos = ref::Tensor::of(ref::DType::I64, {5},
                                      std::vector<int64_t>{6, -7, 0, 3, -1});
    std::vector<float> rows(24), cols(20);
    const void *in[] = {ids.raw(), pos.raw()};
    void *out[] = {rows.data(), cols.data()};
    ASSERT_EQ(run(inst, in, 2, out, 2), KILN_OK) << lastError(inst);
    std::vector<ref::Tensor> want = reference({ids, pos});
    ASSERT_EQ(want.size(), 2u);
    EXPECT_EQ(0, memcmp(rows.data(), want[0].raw(), want[0].bytes()));
    EXPECT_EQ(0, memcmp(cols.data(), want[1].raw(), want[1].bytes()));

    // One past either end of an axis, and a huge id, are errors naming the
    // input and the element; outputs are not written.
    std::vector<float> untouched = rows;
    ids.data<int32_t>()[4] = 10;
    EXPECT_EQ(run(inst, in, 2, out, 2), KILN_ERROR_INVALID_ARGUMENT);
    EXPECT_STREQ(lastError(inst),
                 "input 0 ('ids'): element 4 is 10, out of range [-10, 10) for "
                 "the indices of embed (kiln.gather)");
    EXPECT_EQ(rows, untouched);
    ids.data<int32_t>()[4] = -11;
    EXPECT_EQ(run(inst, in, 2, out, 2), KILN_ERROR_INVALID_ARGUMENT);
    ids.data<int32_t>()[4] = INT32_MIN;
    EXPECT_EQ(run(inst, in, 2, out, 2), KILN_ERROR_INVALID_ARGUMENT);
    ids.data<int32_t>()[4] = 9;
    pos.data<int64_t>()[2] = int64_t(1) << 40;
    EXPECT_EQ(run(inst, in, 2, out, 2), KILN_ERROR_INVALID_ARGUMENT);
    EXPECT_STREQ(lastError(inst),
                 "input 1 ('pos'): element 2 is 1099511627776, out of range "
                 "[-7, 7) for the indices of pick (kiln.gather)");
    pos.data<int64_t>()[2] = -8;
    EXPECT_EQ(run(inst, in, 2, out, 2), KILN_ERROR_INVALID_ARGUMENT);
    pos.data<int64_t>()[2] = 6;
    EXPECT_EQ(run(inst, in, 2, out, 2), KILN_OK) << lastError(inst);
    EXPECT_STREQ(lastError(inst), "");
  }
}

TEST_F(Library, ExternalWeightsAreMapped) {
  LibraryOptions o = options("external", "ext");
  o.weights = WeightsMode::External;
  auto report = compile(mlpModel(), o);
  ASSERT_TRUE(succeeded(report));
  ASSERT_TRUE(report->externalWeights);
  uint64_t size = 0;
  ASSERT_FALSE(llvm::sys::fs::file_size(report->weightsPath, size));
  EXPECT_EQ(size, 64 + report->weightBytes);
  std::vector<ref::Tensor> in = {randomTensor({4, 32}, 11),
                                 randomTensor({4, 48}, 12)};
  {
    auto model = LoadedModel::open(report->libraryPath, 1);
    ASSERT_TRUE(!!model) << llvm::toString(model.takeError());
    auto out = (*model)->run(in);
    ASSERT_TRUE(!!out) << llvm::toString(out.takeError());
    expectMatches(*out, reference(in));
  }
  // An explicit path works too; a missing or foreign file is an error.
  std::string moved = report->weightsPath + ".moved";
  ASSERT_FALSE(llvm::sys::fs::rename(report->weightsPath, moved));
  auto missing = LoadedModel::open(report->libraryPath, 1);
  ASSERT_FALSE(!!missing);
  EXPECT_NE(
      llvm::toString(missing.takeError()).find("cannot open weights file"),
      std::string::npos);
  auto explicitPath = LoadedModel::open(report->libraryPath, 1, "", moved);
  ASSERT_TRUE(!!explicitPath) << llvm::toString(explicitPath.takeError());
  // Same size, other content: the build id in the header does not match.
  auto buf = llvm::MemoryBuffer::getFile(moved);
  ASSERT_TRUE(!!buf);
  std::string bytes = (*buf)->getBuffer().str();
  bytes[8] ^= 1;
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(report->weightsPath, ec);
    os << bytes;
  }
  auto foreign = LoadedModel::open(report->libraryPath, 1);
  ASSERT_FALSE(!!foreign);
  EXPECT_NE(llvm::toString(foreign.takeError()).find("does not belong"),
            std::string::npos);
}

TEST_F(Library, InstancesRunInParallel) {
  auto report = compile(mlpModel(), options("parallel", "par"));
  ASSERT_TRUE(succeeded(report));
  std::vector<ref::Tensor> in = {randomTensor({4, 32}, 21),
                                 randomTensor({4, 48}, 22)};
  std::vector<ref::Tensor> want = reference(in);
  std::vector<int> ok(3, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      auto model = LoadedModel::open(report->libraryPath, 1 + t % 2);
      if (!model) {
        llvm::consumeError(model.takeError());
        return;
      }
      int good = 0;
      for (int rep = 0; rep < 50; ++rep) {
        auto out = (*model)->run(in);
        if (!out) {
          llvm::consumeError(out.takeError());
          continue;
        }
        bool same = true;
        for (size_t i = 0; i < want.size(); ++i)
          same &= ref::relativeError((*out)[i], want[i]) < 1e-4;
        good += same;
      }
      ok[t] = good;
    });
  for (std::thread &t : threads)
    t.join();
  for (int t = 0; t < 3; ++t)
    EXPECT_EQ(ok[t], 50) << "thread " << t;
}

/// Threads of this process (Linux).
int processThreads() {
  int n = 0;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it("/proc/self/task", ec), end;
       !ec && it != end; it.increment(ec))
    ++n;
  return n;
}

TEST_F(Library, ParallelKernelsUseTheInstancePool) {
  // Shapes large enough for the backend to parallelize its loops.
  std::string text = R"(
func.func @main(%x: tensor<128x256xf32> {kiln.name = "x"}, %g: tensor<256xf32> {kiln.name = "gamma"})
    -> (tensor<128x256xf32> {kiln.name = "y"}) {
  %w = "kiln.constant"() {value = )" +
                     denseF32({256, 256}, 9) + R"(} : () -> tensor<256x256xf32>
  %h = "kiln.fused_matmul"(%x, %w) {activation = "gelu"} : (tensor<128x256xf32>, tensor<256x256xf32>) -> tensor<128x256xf32>
  %n = "kiln.layer_norm"(%h, %g) : (tensor<128x256xf32>, tensor<256xf32>) -> tensor<128x256xf32>
  %s = "kiln.softmax"(%n) {axis = -1 : i64} : (tensor<128x256xf32>) -> tensor<128x256xf32>
  return %s : tensor<128x256xf32>
}
)";
  LibraryOptions o = options("pool", "pool");
  o.threads = 2;
  auto report = compile(text, o);
  ASSERT_TRUE(succeeded(report));
  std::vector<ref::Tensor> in = {randomTensor({128, 256}, 31),
                                 randomTensor({256}, 32)};
  std::vector<ref::Tensor> want = reference(in);
  for (int threads : {1, 2, 3}) {
    int before = processThreads();
    auto model = LoadedModel::open(report->libraryPath, threads);
    ASSERT_TRUE(!!model) << llvm::toString(model.takeError());
    // The instance starts its workers when created...
    EXPECT_EQ(processThreads(), before + threads - 1);
    for (int rep = 0; rep < 3; ++rep) {
      auto out = (*model)->run(in);
      ASSERT_TRUE(!!out) << llvm::toString(out.takeError());
      expectMatches(*out, want);
    }
    // ...and runs start none (Halide's own pool stays unused).
    EXPECT_EQ(processThreads(), before + threads - 1);
  }
}

TEST_F(Library, LLVMBackendBuildsTheWholeModel) {
  LibraryOptions o = options("llvm", "mlp_llvm");
  o.backend = Backend::LLVM;
  auto report = compile(mlpModel(), o);
  ASSERT_TRUE(succeeded(report));
  for (const KernelReport &k : report->kernels)
    EXPECT_EQ(k.backend, "llvm") << k.op;
  EXPECT_EQ(report->steps, 7u);
  EXPECT_EQ(report->kernels.size(), 6u); // the two adds still share a kernel
  // No Halide runtime in an LLVM-only library.
  std::string syms = runCommand("nm " + report->libraryPath);
  EXPECT_EQ(syms.find("halide_do_par_for"), std::string::npos);
  auto model = LoadedModel::open(report->libraryPath, 1);
  ASSERT_TRUE(!!model) << llvm::toString(model.takeError());
  std::vector<ref::Tensor> in = {randomTensor({4, 32}, 41),
                                 randomTensor({4, 48}, 42)};
  auto out = (*model)->run(in);
  ASSERT_TRUE(!!out) << llvm::toString(out.takeError());
  expectMatches(*out, reference(in));
}

TEST_F(Library, AutoFallsBackToLLVMPerOp) {
  // top-k and an i64 output: Halide where it can, LLVM for the rest.
  std::string text = R"(
func.func @main(%x: tensor<6x40xf32> {kiln.name = "x"})
    -> (tensor<6x5xf32> {kiln.name = "values"}, tensor<6x5xi64> {kiln.name = "indices"}) {
  %e = "kiln.exp"(%x) : (tensor<6x40xf32>) -> tensor<6x40xf32>
  %v, %i = "kiln.topk"(%e) {k = 5 : i64} : (tensor<6x40xf32>) -> (tensor<6x5xf32>, tensor<6x5xi64>)
  %n = "kiln.neg"(%v) : (tensor<6x5xf32>) -> tensor<6x5xf32>
  return %n, %i : tensor<6x5xf32>, tensor<6x5xi64>
}
)";
  auto report = compile(text, options("mixed", "mixed"));
  ASSERT_TRUE(succeeded(report));
  mlir::Operation *topk = nullptr;
  module->walk([&](kiln::TopKOp op) { topk = op; });
  ASSERT_TRUE(topk);
  bool halideHasTopK = kiln::halide::isSupported(topk);
  for (const KernelReport &k : report->kernels) {
    if (k.op == "kiln.topk")
      EXPECT_EQ(k.backend, halideHasTopK ? "halide" : "llvm");
    else
      EXPECT_EQ(k.backend, "halide") << k.op;
  }
  auto model = LoadedModel::open(report->libraryPath, 2);
  ASSERT_TRUE(!!model) << llvm::toString(model.takeError());
  std::vector<ref::Tensor> in = {randomTensor({6, 40}, 51)};
  auto out = (*model)->run(in);
  ASSERT_TRUE(!!out) << llvm::toString(out.takeError());
  std::vector<ref::Tensor> want = reference(in);
  expectMatches(*out, want);
  EXPECT_EQ((*out)[1].dtype(), ref::DType::I64);
}

/// Sets (or, with nullptr, unsets) an environment variable for one scope.
struct ScopedEnv {
  ScopedEnv(const char *name, const char *value) : name(name) {
    if (const char *old = std::getenv(name))
      saved = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { saved ? setenv(name, saved->c_str(), 1) : unsetenv(name); }
  const char *name;
  std::optional<std::string> saved;
};

TEST_F(Library, FatLibraryDispatchesByCpuAndCap) {
  // Every kernel for three targets in one .so; the instance runs the best one
  // this CPU supports, or the best within $KILN_MAX_CPU_ISA. Only targets the
  // host runs are run, so the test holds on any x86-64 host.
  LibraryOptions o = options("fat", "mlp_fat");
  o.target = "x86-64,x86-64-avx2,x86-64-avx512";
  o.backend = Backend::Auto;
  auto report = compile(mlpModel(), o);
  ASSERT_TRUE(succeeded(report));
  EXPECT_EQ(report->targets, (std::vector<std::string>{
                                 "x86-64-avx512", "x86-64-avx2", "x86-64"}));
  std::string syms = runCommand("nm " + report->libraryPath);
  std::vector<ref::Tensor> in = {randomTensor({4, 32}, 61),
                                 randomTensor({4, 48}, 62)};
  std::vector<ref::Tensor> want = reference(in);
  unsigned host = kiln::target::hostIsa();
  struct Case {
    const char *cap, *expect;
    unsigned needs;
  } cases[] = {{nullptr, nullptr, 0},
               {"x86-64", "x86-64", kiln::target::IsaSse41},
               {"avx2", "x86-64-avx2", kiln::target::IsaAvx2},
               {"x86-64-avx512", "x86-64-avx512", kiln::target::IsaAvx512},
               {"avx512-bf16", "x86-64-avx512", kiln::target::IsaAvx512}};
  for (const Case &c : cases) {
    if ((host & c.needs) != c.needs)
      continue; // this CPU cannot run that variant
    SCOPED_TRACE(c.cap ? c.cap : "no cap");
    ScopedEnv env("KILN_MAX_CPU_ISA", c.cap);
    auto model = LoadedModel::open(report->libraryPath, 2);
    ASSERT_TRUE(!!model) << llvm::toString(model.takeError());
    std::string expect =
        c.expect ? c.expect
                 : kiln::target::isaName(host & ~kiln::target::IsaAvx512Bf16);
    EXPECT_EQ((*model)->target(), expect);
    auto out = (*model)->run(in);
    ASSERT_TRUE(!!out) << llvm::toString(out.takeError());
    expectMatches(*out, want);
  }
  {
    ScopedEnv env("KILN_MAX_CPU_ISA", "pentium");
    auto bad = LoadedModel::open(report->libraryPath, 1);
    ASSERT_FALSE(!!bad);
    EXPECT_NE(llvm::toString(bad.takeError()).find("KILN_MAX_CPU_ISA must be"),
              std::string::npos);
  }
  // A library whose only target the (capped) CPU lacks is refused at create
  // with a clear error, never run into SIGILL.
  LibraryOptions only = options("only512", "mlp_only512");
  only.target = "x86-64-avx512";
  auto r512 = compile(mlpModel(), only);
  ASSERT_TRUE(succeeded(r512));
  ScopedEnv env("KILN_MAX_CPU_ISA", "avx2");
  auto refused = LoadedModel::open(r512->libraryPath, 1);
  ASSERT_FALSE(!!refused);
  std::string msg = llvm::toString(refused.takeError());
  EXPECT_NE(msg.find("compiled for x86-64-avx512"), std::string::npos) << msg;
  EXPECT_NE(msg.find("capped by KILN_MAX_CPU_ISA"), std::string::npos) << msg;
}

TEST_F(Library, TargetListsAreChecked) {
  std::string diags;
  LibraryOptions o = options("badtarget", "mlp_bad");
  o.target = "x86-64-avx2,avx9000";
  EXPECT_TRUE(failed(compile(mlpModel(), o, &diags)));
  EXPECT_NE(diags.find("unknown target 'avx9000'"), std::string::npos) << diags;
  diags.clear();
  o.target = "x86-64-avx2,x86-64-avx2";
  EXPECT_TRUE(failed(compile(mlpModel(), o, &diags)));
  EXPECT_NE(diags.find("listed twice"), std::string::npos) << diags;
}

/// The input pattern of examples/c/run_model.c.
ref::Tensor examplePattern(const std::vector<int64_t> &shape, int k) {
  ref::Tensor t(ref::DType::F32, shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = sinf(0.37f * (float)i + (float)k);
  return t;
}

TEST_F(Library, CAndPythonExamplesRun) {
  auto report = compile(mlpModel(), options("examples", "example"));
  ASSERT_TRUE(succeeded(report));
  std::string dir = llvm::sys::path::parent_path(report->libraryPath).str();
  std::string src = KILN_SOURCE_DIR "/examples";

  // C: build with the example's Makefile, run, compare the printed sums.
  std::string build =
      runCommand("make -s -C " + src + "/c MODEL=example MODEL_DIR=" + dir +
                 " BUILD=" + dir + " 2>&1");
  ASSERT_TRUE(llvm::sys::fs::exists(dir + "/run_model")) << build;
  std::string out = runCommand(dir + "/run_model --threads 2 --runs 3 2>&1");
  EXPECT_NE(out.find("model example: 2 inputs, 4 outputs, 2 threads"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("input 0: x f32 [4=batch,32]"), std::string::npos) << out;
  EXPECT_NE(out.find("ms per run (3 runs)"), std::string::npos) << out;
  std::vector<ref::Tensor> want =
      reference({examplePattern({4, 32}, 0), examplePattern({4, 48}, 1)});
  const char *names[] = {"y", "flat", "x_again", "bias"};
  for (int i = 0; i < 4; ++i) {
    size_t at = out.find(std::string("\n") + names[i] + ":");
    ASSERT_NE(at, std::string::npos) << out;
    size_t sumAt = out.find("sum=", at);
    double sum = std::strtod(out.c_str() + sumAt + 4, nullptr), expect = 0;
    for (int64_t j = 0; j < want[i].numel(); ++j)
      expect += want[i].data<float>()[j];
    EXPECT_NEAR(sum, expect, 1e-4 * std::max(1.0, std::fabs(expect)))
        << names[i];
  }

  // Python (ctypes + numpy): given .npy inputs, saved .npy outputs.
  std::vector<ref::Tensor> in = {randomTensor({4, 32}, 61),
                                 randomTensor({4, 48}, 62)};
  ref::writeNpy(dir + "/x.npy", in[0]);
  ref::writeNpy(dir + "/mask.npy", in[1]);
  std::string py = runCommand(
      "/usr/bin/python3 " + src + "/python/run_model.py " +
      report->libraryPath + " --input x=" + dir + "/x.npy --input mask=" + dir +
      "/mask.npy --runs 2 --save " + dir + "/py 2>&1");
  EXPECT_NE(py.find("model example: 2 inputs, 4 outputs"), std::string::npos)
      << py;
  want = reference(in);
  for (int i = 0; i < 4; ++i) {
    std::string file = dir + "/py/" + names[i] + ".npy";
    ASSERT_TRUE(llvm::sys::fs::exists(file)) << py;
    ref::Tensor got = ref::readNpy(file);
    EXPECT_LT(ref::relativeError(got, want[i]), 1e-4) << names[i];
  }
}

TEST_F(Library, DynamicShapeNamesTheInputAndFlags) {
  std::string text = R"(
func.func @main(%ids: tensor<1x?xf32> {kiln.name = "input_ids", kiln.dims = ["", "seq"]})
    -> (tensor<1x?xf32> {kiln.name = "out"}) {
  %0 = "kiln.exp"(%ids) : (tensor<1x?xf32>) -> tensor<1x?xf32>
  return %0 : tensor<1x?xf32>
}
)";
  std::string diags;
  auto report = compile(text, options("dynamic", "dyn"), &diags);
  EXPECT_TRUE(failed(report));
  EXPECT_NE(diags.find("input 'input_ids' has a dynamic shape"),
            std::string::npos)
      << diags;
  EXPECT_NE(diags.find("--shape input_ids=1xN or --dim seq=N"),
            std::string::npos)
      << diags;
}

TEST_F(Library, UnsupportedOpsAreAllListed) {
  // Ops no backend knows (the Halide backend grows, these stay unknown).
  ctx.allowUnregisteredDialects(true);
  std::string text = R"(
func.func @main(%x: tensor<4x8xf32> {kiln.name = "x"})
    -> (tensor<4x8xf32>, tensor<4x1xi64>, tensor<4x8xf32>) {
  %a = "mystery.scan"(%x) : (tensor<4x8xf32>) -> tensor<4x8xf32> loc("first")
  %b = "mystery.pick"(%x) : (tensor<4x8xf32>) -> tensor<4x1xi64> loc("second")
  %e = "kiln.exp"(%a) : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %c = "mystery.scan"(%e) : (tensor<4x8xf32>) -> tensor<4x8xf32> loc("third")
  %dead = "mystery.unused"(%x) : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %a, %b, %c : tensor<4x8xf32>, tensor<4x1xi64>, tensor<4x8xf32>
}
)";
  std::string diags;
  auto report = compile(text, options("unsupported", "uns"), &diags);
  EXPECT_TRUE(failed(report));
  EXPECT_NE(diags.find("3 op(s) cannot be compiled"), std::string::npos)
      << diags;
  EXPECT_NE(diags.find("mystery.scan x2"), std::string::npos) << diags;
  EXPECT_NE(diags.find("mystery.pick x1"), std::string::npos) << diags;
  EXPECT_EQ(diags.find("mystery.unused"), std::string::npos) << diags;
}

} // namespace

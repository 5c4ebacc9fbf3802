// GEMM kernel benchmark: JIT-compiles kiln's Halide matmul kernels at
// transformer shapes and reports GFLOP/s against a measured FP32 FMA peak;
// with --attention, times the fused attention kernel against the unfused
// graph (scores matmul, softmax, P·V matmul).
//
//   gemm_bench [--runs N] [--threads N]... [--shape MxKxN]...
//              [--variant packed|plain|gelu]... [--attention S]... [--target T]
//              [--dump DIR]   (writes each timed kernel's Halide stmt and
//              assembly) [--param NAME=VALUE]... (schedule parameters, as
//              scheduleParamNames() lists them, for every kernel)
//              [--peak-isa avx512|avx2|sse|auto]   (the peak probe; auto: the
//              ISA of --target, i.e. the host's best for host)
#include "kiln/Codegen/HalidePipeline.h"
#include "kiln/IR/KilnDialect.h"
#include "kiln/IR/TensorConversion.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace kiln;
using Clock = std::chrono::steady_clock;

namespace {

std::string targetString = "host";
bool causalAttention = false; // --causal: causal attention (the unfused graph
                              // then needs a mask op, so it is not timed)
std::string dumpDir; // --dump DIR: Halide stmt and assembly of each kernel
int dumpCount = 0;
std::map<std::string, int64_t> scheduleParams; // --param NAME=VALUE

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// The FP32 peak probes, one per vector ISA, picked at run time (CPUID): the
/// binary is built without -m flags, so each loop carries its own target.
enum class ProbeIsa { SSE, AVX2, AVX512 };
const char *isaName(ProbeIsa isa) {
  return isa == ProbeIsa::AVX512 ? "avx512"
         : isa == ProbeIsa::AVX2 ? "avx2"
                                 : "sse";
}
bool cpuHas(ProbeIsa isa) {
  __builtin_cpu_init();
  switch (isa) {
  case ProbeIsa::AVX512:
    return __builtin_cpu_supports("avx512f");
  case ProbeIsa::AVX2:
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  case ProbeIsa::SSE:
    return true; // part of x86-64
  }
  return false;
}
ProbeIsa hostIsa() {
  return cpuHas(ProbeIsa::AVX512) ? ProbeIsa::AVX512
         : cpuHas(ProbeIsa::AVX2) ? ProbeIsa::AVX2
                                  : ProbeIsa::SSE;
}
/// The probe for the ISA kernels compiled for `target` run on: host -> the
/// host's best; a Halide target or kiln name with avx512 / avx2 -> that; any
/// other (x86-64, SSE4.1) -> sse.
ProbeIsa isaOfTarget(const std::string &target) {
  if (target.rfind("host", 0) == 0)
    return hostIsa();
  if (target.find("avx512") != std::string::npos)
    return ProbeIsa::AVX512;
  if (target.find("avx2") != std::string::npos)
    return ProbeIsa::AVX2;
  return ProbeIsa::SSE;
}
ProbeIsa probeIsa = ProbeIsa::SSE; // set in main

/// 16 independent chains of 512-bit FMAs: 2 FMA ports x 4-cycle latency with
/// room to spare. 16 lanes x 2 FLOPs per chain and iteration.
__attribute__((target("avx512f"))) double fmaLoopAvx512(int64_t iters) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i)
    acc[i] = _mm512_set1_ps((float)i);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 16; ++i)
      acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  float sink = 0;
  for (int i = 0; i < 16; ++i)
    sink += _mm512_reduce_add_ps(acc[i]);
  return sink;
}

/// 12 chains of 256-bit FMAs (12 accumulators + 2 constants fit AVX2's 16 ymm
/// registers; Zen 2 needs 10+: 2 ports x 5-cycle latency). 8 lanes x 2 FLOPs.
__attribute__((target("avx2,fma"))) double fmaLoopAvx2(int64_t iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i)
    acc[i] = _mm256_set1_ps((float)i);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i)
      acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i)
    s = _mm256_add_ps(s, acc[i]);
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  double sink = 0;
  for (float l : lanes)
    sink += l;
  return sink;
}

/// Baseline x86-64: 12 chains of 128-bit multiply then add (no FMA; kept
/// apart under -mfma too). 4 lanes x 2 FLOPs.
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("fp-contract=off")))
#endif
double
mulAddLoopSse(int64_t iters) {
  __m128 acc[12];
  for (int i = 0; i < 12; ++i)
    acc[i] = _mm_set1_ps((float)i);
  const __m128 a = _mm_set1_ps(0.999999f), b = _mm_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i)
      acc[i] = _mm_add_ps(_mm_mul_ps(acc[i], a), b);
  __m128 s = acc[0];
  for (int i = 1; i < 12; ++i)
    s = _mm_add_ps(s, acc[i]);
  float lanes[4];
  _mm_storeu_ps(lanes, s);
  return (double)lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

/// Runs the probe of `probeIsa` for about `flops` FLOPs; returns the FLOPs
/// done (and a sink, so the loop is kept).
double probeLoop(double flops, double &sink) {
  double perIter = probeIsa == ProbeIsa::AVX512 ? 16 * 16 * 2
                   : probeIsa == ProbeIsa::AVX2 ? 12 * 8 * 2
                                                : 12 * 4 * 2;
  auto iters = (int64_t)(flops / perIter);
  sink += probeIsa == ProbeIsa::AVX512 ? fmaLoopAvx512(iters)
          : probeIsa == ProbeIsa::AVX2 ? fmaLoopAvx2(iters)
                                       : mulAddLoopSse(iters);
  return iters * perIter;
}

/// FP32 peak in GFLOP/s on `threads` threads running the probe at once: the
/// best of many short probes (~3 ms each), as kernels are timed best-of.
double measurePeak(int threads) {
  // ~512 MFLOP per thread and probe on AVX-512, a quarter of that on SSE.
  const double flops = probeIsa == ProbeIsa::AVX512 ? 512e6
                       : probeIsa == ProbeIsa::AVX2 ? 256e6
                                                    : 128e6;
  double best = 0;
  for (int rep = 0; rep < 40; ++rep) {
    std::vector<double> sinks(threads, 0), done(threads, 0);
    auto t0 = Clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] { done[t] = probeLoop(flops, sinks[t]); });
    for (auto &t : pool)
      t.join();
    double s = seconds(t0, Clock::now());
    double total = 0;
    for (double d : done)
      total += d;
    best = std::max(best, total / s / 1e9);
  }
  return best;
}

struct Shape3 {
  int64_t m, k, n;
};

struct Result {
  double ms = 0, bestMs = 0, gflops = 0;
  double maxErr = 0;
  double cpuMs = 0; // least process CPU time of a run (all threads)
};

/// CPU time of the process (all threads), in seconds. On a shared machine it
/// counts only the time the kernel ran, unlike wall time.
double cpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/// Builds fused_matmul(a[M,K], w[K,N] constant) (+ bias, gelu for "gelu";
/// a non-constant w for "plain") and times the JIT-compiled kernel.
Result runShape(mlir::MLIRContext &ctx, Shape3 s, const std::string &variant,
                int threads, int runs) {
  std::string a =
      "tensor<" + std::to_string(s.m) + "x" + std::to_string(s.k) + "xf32>";
  std::string w =
      "tensor<" + std::to_string(s.k) + "x" + std::to_string(s.n) + "xf32>";
  std::string o =
      "tensor<" + std::to_string(s.m) + "x" + std::to_string(s.n) + "xf32>";
  std::string bias = "tensor<" + std::to_string(s.n) + "xf32>";
  bool gelu = variant == "gelu";
  std::string src = "func.func @f(%a: " + a + ", %w: " + w + ", %b: " + bias +
                    ") -> " + o + " {\n" + "  %r = kiln.fused_matmul %a, %w" +
                    (gelu ? ", %b {activation = \"gelu\"}" : "") + " : (" + a +
                    ", " + w + (gelu ? ", " + bias : "") + ") -> " + o + "\n" +
                    "  return %r : " + o + "\n}\n";
  auto module = mlir::parseSourceString<mlir::ModuleOp>(src, &ctx);
  if (!module) {
    std::fprintf(stderr, "gemm_bench: failed to parse the kernel IR\n");
    std::exit(1);
  }
  auto fn = *module->getOps<mlir::func::FuncOp>().begin();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uf(-1, 1);
  auto fill = [&](ref::Tensor &t) {
    for (int64_t i = 0; i < t.numel(); ++i)
      t.data<float>()[i] = uf(rng);
  };
  ref::Tensor ta(ref::DType::F32, {s.m, s.k}), tw(ref::DType::F32, {s.k, s.n}),
      tb(ref::DType::F32, {s.n});
  fill(ta), fill(tw), fill(tb);
  if (variant != "plain") {
    mlir::OpBuilder b(&ctx);
    b.setInsertionPointToStart(&fn.getBody().front());
    auto cst =
        kiln::ConstantOp::create(b, fn.getLoc(), fn.getArgument(1).getType(),
                                 toElementsAttr(tw, &ctx, "w"));
    fn.getArgument(1).replaceAllUsesWith(cst);
  }
  mlir::Operation *op = nullptr;
  fn.walk([&](kiln::FusedMatMulOp m) { op = m; });
  halide::KernelOptions opts;
  opts.threads = threads;
  opts.target = targetString;
  opts.params = scheduleParams;
  auto kp = halide::buildKernel(op, opts);
  if (mlir::failed(kp))
    std::exit(1);
  if (!dumpDir.empty()) {
    halide::KernelOutputs outs;
    std::string base = dumpDir + "/kernel" + std::to_string(dumpCount++);
    outs.stmt = base + ".stmt";
    outs.assembly = base + ".s";
    (void)halide::compileKernel(op, "kernel", outs, opts);
  }
  kp->pipeline.compile_jit(kp->target);
  // Buffers as the kernel's signature describes them.
  ref::Tensor packed =
      halide::usesPackedWeight(op, 1) ? halide::packWeights(op, tw) : tw;
  ref::Tensor out(ref::DType::F32, {s.m, s.n});
  Halide::ParamMap pm;
  std::vector<Halide::Buffer<>> bufs;
  size_t in = 0;
  for (const halide::KernelArg &arg : kp->signature) {
    std::vector<int> dims(arg.shape.rbegin(), arg.shape.rend());
    void *data = arg.isOutput     ? out.raw()
                 : arg.index == 0 ? ta.raw()
                 : arg.index == 1 ? packed.raw()
                                  : tb.raw();
    Halide::Buffer<> b(Halide::Float(32), data, dims);
    if (arg.isOutput)
      bufs.push_back(b);
    else
      pm.set(kp->inputs[in++], b);
  }
  Halide::Realization real(bufs);
  kp->pipeline.realize(real, kp->target, pm); // warm up
  std::vector<double> times;
  double cpuBest = 1e30;
  for (int r = 0; r < runs; ++r) {
    double c0 = cpuSeconds();
    auto t0 = Clock::now();
    kp->pipeline.realize(real, kp->target, pm);
    times.push_back(seconds(t0, Clock::now()));
    cpuBest = std::min(cpuBest, cpuSeconds() - c0);
  }
  std::sort(times.begin(), times.end());
  Result res;
  res.cpuMs = cpuBest * 1e3;
  res.ms = times[times.size() / 2] * 1e3;
  res.bestMs = times.front() * 1e3;
  res.gflops = 2.0 * s.m * s.k * s.n / (res.bestMs * 1e-3) / 1e9;
  // Spot-check a few outputs against a double-precision dot product.
  for (int64_t i = 0; i < s.m; i += std::max<int64_t>(1, s.m / 7))
    for (int64_t j = 0; j < s.n; j += std::max<int64_t>(1, s.n / 11)) {
      double acc = 0;
      for (int64_t k = 0; k < s.k; ++k)
        acc += (double)ta.data<float>()[i * s.k + k] *
               tw.data<float>()[k * s.n + j];
      if (gelu) {
        acc += tb.data<float>()[j];
        acc = 0.5 * acc * (1 + std::erf(acc / std::sqrt(2.0)));
      }
      res.maxErr =
          std::max(res.maxErr, std::abs(acc - out.data<float>()[i * s.n + j]) /
                                   std::max(1.0, std::abs(acc)));
    }
  return res;
}

/// Median and best time (ms) of the JIT-compiled kernel of `op` on random
/// inputs shaped as its signature says.
std::pair<double, double> timeOp(mlir::Operation *op, int threads, int runs) {
  halide::KernelOptions opts;
  opts.threads = threads;
  opts.target = targetString;
  opts.params = scheduleParams;
  auto kp = halide::buildKernel(op, opts);
  if (mlir::failed(kp))
    std::exit(1);
  if (!dumpDir.empty()) {
    halide::KernelOutputs outs;
    std::string base = dumpDir + "/kernel" + std::to_string(dumpCount++);
    outs.stmt = base + ".stmt";
    outs.assembly = base + ".s";
    (void)halide::compileKernel(op, "kernel", outs, opts);
  }
  kp->pipeline.compile_jit(kp->target);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uf(-1, 1);
  std::vector<ref::Tensor> keep;
  keep.reserve(kp->signature.size());
  Halide::ParamMap pm;
  std::vector<Halide::Buffer<>> outs;
  size_t in = 0;
  for (const halide::KernelArg &arg : kp->signature) {
    keep.emplace_back(arg.dtype, arg.shape);
    ref::Tensor &t = keep.back();
    if (arg.dtype == ref::DType::F32)
      for (int64_t i = 0; i < t.numel(); ++i)
        t.data<float>()[i] = uf(rng);
    std::vector<int> dims(arg.shape.rbegin(), arg.shape.rend());
    Halide::Type ht =
        arg.dtype == ref::DType::F32 ? Halide::Float(32) : Halide::UInt(8);
    Halide::Buffer<> b(ht, t.raw(), dims);
    if (arg.isOutput)
      outs.push_back(b);
    else
      pm.set(kp->inputs[in++], b);
  }
  Halide::Realization real(outs);
  kp->pipeline.realize(real, kp->target, pm);
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    auto t0 = Clock::now();
    kp->pipeline.realize(real, kp->target, pm);
    times.push_back(seconds(t0, Clock::now()) * 1e3);
  }
  std::sort(times.begin(), times.end());
  return {times[times.size() / 2], times.front()};
}

/// Fused attention vs the unfused graph at sequence length s (B=1, H=12, d=64).
void benchAttention(mlir::MLIRContext &ctx, int64_t s, int threads, int runs) {
  std::string S = std::to_string(s);
  std::string qkv = "tensor<1x12x" + S + "x64xf32>";
  std::string sc = "tensor<1x12x" + S + "x" + S + "xf32>";
  std::string src =
      "func.func @f(%q: " + qkv + ", %k: " + qkv + ", %v: " + qkv + ") -> (" +
      qkv + ", " + qkv +
      ") {\n"
      "  %o = kiln.attention %q, %k, %v {scale = 0.125 : f32" +
      (causalAttention ? ", causal = true" : "") + "} : (" + qkv + ", " + qkv +
      ", " + qkv + ") -> " + qkv +
      "\n"
      "  %s = kiln.fused_matmul %q, %k {trans_b = true, alpha = 0.125 : f32} : "
      "(" +
      qkv + ", " + qkv + ") -> " + sc +
      "\n"
      "  %p = kiln.softmax %s : (" +
      sc + ") -> " + sc +
      "\n"
      "  %u = kiln.matmul %p, %v : (" +
      sc + ", " + qkv + ") -> " + qkv +
      "\n"
      "  return %o, %u : " +
      qkv + ", " + qkv + "\n}\n";
  auto module = mlir::parseSourceString<mlir::ModuleOp>(src, &ctx);
  if (!module) {
    std::fprintf(stderr, "gemm_bench: failed to parse the attention IR\n");
    std::exit(1);
  }
  std::vector<mlir::Operation *> ops;
  module->walk([&](mlir::Operation *op) {
    if (op->getDialect() && op->getDialect()->getNamespace() == "kiln")
      ops.push_back(op);
  });
  auto fused = timeOp(ops[0], threads, runs);
  double unfusedMed = 0, unfusedBest = 0;
  for (size_t i = 1; i < ops.size(); ++i) {
    auto t = timeOp(ops[i], threads, runs);
    unfusedMed += t.first;
    unfusedBest += t.second;
  }
  double flops = 12.0 * 2 * 2 * s * s * 64;
  // GFLOP/s count the dense S x S work (causal kernels skip about half).
  std::printf("attention S=%-6ld threads=%d %s fused %8.3f ms (best %8.3f, "
              "%6.1f GFLOP/s)"
              "  unfused%s %8.3f ms (best %8.3f)  speedup %.2fx\n",
              s, threads, causalAttention ? "causal" : "", fused.first,
              fused.second, flops / fused.second / 1e6,
              causalAttention ? " (without its mask)" : "", unfusedMed,
              unfusedBest, unfusedBest / fused.second);
  std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv) {
  int runs = 30;
  std::vector<int> threadCounts;
  std::vector<Shape3> shapes;
  std::vector<std::string> variants;
  std::vector<int64_t> attention;
  std::string peakIsaName = "auto";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "gemm_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--runs") {
      runs = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--threads") {
      threadCounts.push_back(std::max(1, std::atoi(next().c_str())));
    } else if (a == "--variant") {
      variants.push_back(next());
      if (variants.back() != "packed" && variants.back() != "plain" &&
          variants.back() != "gelu") {
        std::fprintf(stderr, "gemm_bench: unknown variant '%s'\n",
                     variants.back().c_str());
        return 2;
      }
    } else if (a == "--causal") {
      causalAttention = true;
    } else if (a == "--dump") {
      dumpDir = next();
    } else if (a == "--param") {
      std::string kv = next();
      size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::fprintf(stderr, "gemm_bench: --param wants NAME=VALUE\n");
        return 2;
      }
      scheduleParams[kv.substr(0, eq)] = std::atoll(kv.c_str() + eq + 1);
    } else if (a == "--target") {
      targetString = next();
    } else if (a == "--peak-isa") {
      peakIsaName = next();
      if (peakIsaName != "auto" && peakIsaName != "avx512" &&
          peakIsaName != "avx2" && peakIsaName != "sse") {
        std::fprintf(stderr, "gemm_bench: unknown --peak-isa '%s'\n",
                     peakIsaName.c_str());
        return 2;
      }
    } else if (a == "--attention") {
      attention.push_back(std::max<int64_t>(1, std::atoll(next().c_str())));
    } else if (a == "--shape") {
      Shape3 s;
      if (std::sscanf(next().c_str(), "%ldx%ldx%ld", &s.m, &s.k, &s.n) != 3 ||
          s.m <= 0 || s.k <= 0 || s.n <= 0) {
        std::fprintf(stderr, "gemm_bench: --shape wants MxKxN\n");
        return 2;
      }
      shapes.push_back(s);
    } else {
      std::fprintf(
          stderr,
          "usage: gemm_bench [--runs N] [--threads N]... [--shape MxKxN]... "
          "[--variant packed|plain|gelu]... [--attention S]... [--target T] "
          "[--dump DIR] [--param NAME=VALUE]... "
          "[--peak-isa avx512|avx2|sse|auto]\n");
      return 2;
    }
  }
  if (threadCounts.empty())
    threadCounts = {1, (int)std::max(1u, std::thread::hardware_concurrency())};
  if (shapes.empty() && !attention.empty())
    variants = {"none"};
  else if (shapes.empty())
    shapes = {
        {128, 768, 768}, {128, 768, 3072}, {128, 3072, 768}, {128, 768, 2304}};
  if (variants.empty())
    variants = {"packed"};
  probeIsa = peakIsaName == "avx512" ? ProbeIsa::AVX512
             : peakIsaName == "avx2" ? ProbeIsa::AVX2
             : peakIsaName == "sse"  ? ProbeIsa::SSE
                                     : isaOfTarget(targetString);
  if (!cpuHas(probeIsa)) {
    std::fprintf(stderr,
                 "gemm_bench: error: this CPU lacks %s (for %s; its best: "
                 "%s): kernels for it cannot run here\n",
                 isaName(probeIsa),
                 peakIsaName == "auto" ? ("--target " + targetString).c_str()
                                       : "--peak-isa",
                 isaName(hostIsa()));
    return 1;
  }
  std::printf("# peak probe: %s (host: %s, target: %s)\n", isaName(probeIsa),
              isaName(hostIsa()), targetString.c_str());
  // The Halide JIT thread pool takes its size from HL_NUM_THREADS.
  int maxThreads = *std::max_element(threadCounts.begin(), threadCounts.end());
  setenv("HL_NUM_THREADS", std::to_string(maxThreads).c_str(), 1);

  mlir::DialectRegistry registry;
  registry.insert<kiln::KilnDialect, mlir::func::FuncDialect>();
  mlir::MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();

  if (!shapes.empty())
    std::printf("%-16s %-7s %7s %9s %9s %9s %8s %9s %8s\n", "shape MxKxN",
                "variant", "threads", "median ms", "best ms", "GFLOP/s",
                "% peak", "max err", "cpu ms");
  for (int threads : threadCounts) {
    // The peak is measured around each kernel (best of all probes), so that a
    // busy machine lowers both alike; rows print once it is known.
    double peak = measurePeak(threads);
    std::vector<std::pair<std::string, Result>> rows;
    for (const std::string &v :
         shapes.empty() ? std::vector<std::string>{} : variants)
      for (Shape3 s : shapes) {
        Result r = runShape(ctx, s, v, threads, runs);
        peak = std::max(peak, measurePeak(threads));
        char name[64];
        std::snprintf(name, sizeof(name), "%ldx%ldx%ld", s.m, s.k, s.n);
        rows.push_back({std::string(name) + " " + v, r});
      }
    for (auto &[name, r] : rows) {
      std::string shape = name.substr(0, name.find(' ')),
                  v = name.substr(name.find(' ') + 1);
      std::printf("%-16s %-7s %7d %9.3f %9.3f %9.1f %7.1f%% %9.1e %8.3f\n",
                  shape.c_str(), v.c_str(), threads, r.ms, r.bestMs, r.gflops,
                  100.0 * r.gflops / peak, r.maxErr, r.cpuMs);
    }
    if (!shapes.empty())
      std::printf("# measured FP32 peak (%s probe) on %d thread(s): %.1f "
                  "GFLOP/s; "
                  "GFLOP/s and %% "
                  "peak use the best time; cpu ms: the least CPU time of a "
                  "run, all threads (spinning pool threads included)\n",
                  isaName(probeIsa), threads, peak);
    std::fflush(stdout);
    for (int64_t s : attention)
      benchAttention(ctx, s, threads, runs);
  }
  return 0;
}

// Tuning one Halide kernel: JIT-compiles schedule candidates, times them on
// random inputs of the kernel's shapes (median of batched samples) and keeps
// the fastest whose results match the default schedule's.
#include "kiln/Codegen/HalideTuning.h"

#include "Lowering.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OpDefinition.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <set>
#include <thread>

using namespace Halide;
using namespace kiln::halide::detail;

namespace kiln::halide {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// Thresholds (minimum work per parallel task): scaled by powers of 4.
bool isThreshold(const std::string &name) {
  return name.find("grain") != std::string::npos ||
         name.find("min_flops") != std::string::npos;
}

std::vector<int> halideSizes(const std::vector<int64_t> &shape) {
  return std::vector<int>(shape.rbegin(), shape.rend());
}

/// A random value per element: floats in [-1, 1); integers 0 (valid as
/// gather indices); bools 1.
ref::Tensor randomTensor(ref::DType dt, const std::vector<int64_t> &shape,
                         std::mt19937 &rng) {
  ref::Tensor t(dt, shape);
  std::uniform_real_distribution<double> real(-1, 1);
  for (int64_t i = 0, n = t.numel(); i < n; ++i) {
    if (ref::isFloat(dt))
      t.setDouble(i, real(rng));
    else if (dt == ref::DType::Bool)
      t.setInt(i, 1);
  }
  return t;
}

bool closeEnough(const ref::Tensor &a, const ref::Tensor &b) {
  if (a.numel() != b.numel() || a.dtype() != b.dtype())
    return false;
  bool isF = ref::isFloat(a.dtype());
  for (int64_t i = 0, n = a.numel(); i < n; ++i) {
    if (isF) {
      double x = a.getDouble(i), y = b.getDouble(i);
      if (std::isnan(x) && std::isnan(y))
        continue;
      if (!(std::fabs(x - y) <= 1e-3 + 1e-3 * std::fabs(y)))
        return false;
    } else if (a.getInt(i) != b.getInt(i)) {
      return false;
    }
  }
  return true;
}

/// The kernel's buffers (random inputs, outputs) and the timing loop.
class Bench {
public:
  Bench(mlir::Operation *op, const TuneOptions &opts) : op(op), opts(opts) {}

  /// Builds the candidate `kopts`, runs it and times it. Returns the median
  /// seconds per call, or a negative value with `why` set when it failed.
  /// `keep` receives the compiled pipeline, for measure().
  double time(const KernelOptions &kopts, std::string &why,
              std::shared_ptr<KernelPipeline> *keep = nullptr) {
    std::string diag;
    mlir::ScopedDiagnosticHandler handler(op->getContext(),
                                          [&](mlir::Diagnostic &d) {
                                            if (diag.empty())
                                              diag = d.str();
                                            return mlir::success();
                                          });
    llvm::FailureOr<KernelPipeline> kp = buildKernel(op, kopts);
    if (llvm::failed(kp)) {
      why = diag.empty() ? "cannot build" : diag;
      return -1;
    }
    try {
      if (!ready)
        prepare(*kp);
      ParamMap pm = paramsFor(*kp);
      Realization real(outBufs);
      kp->pipeline.compile_jit(kp->target);
      for (ref::Tensor &t : results) // a stale result must not pass the check
        std::fill_n(static_cast<char *>(t.raw()), t.bytes(), 0x7f);
      kp->pipeline.realize(real, kp->target, pm);
      if (reference.empty()) {
        reference = results;
      } else {
        for (size_t i = 0; i < results.size(); ++i)
          if (!closeEnough(results[i], reference[i])) {
            why = "its results differ from the default schedule's";
            return -1;
          }
      }
      double t = measure(*kp);
      if (keep)
        *keep = std::make_shared<KernelPipeline>(std::move(*kp));
      return t;
    } catch (const Halide::Error &e) {
      why = llvm::StringRef(e.what()).trim().str();
    } catch (const ref::Error &e) {
      why = e.what();
    } catch (const Unsupported &u) {
      why = u.why;
    }
    return -1;
  }

  /// Times a compiled candidate again: the median of opts.samples samples,
  /// each batching calls to last opts.minSampleSeconds. Throws Halide::Error.
  double measure(KernelPipeline &kp) {
    std::vector<ParamMap> pms;
    for (size_t c = 0; c < copies; ++c)
      pms.push_back(paramsFor(kp, c));
    Realization real(outBufs);
    auto t0 = Clock::now();
    kp.pipeline.realize(real, kp.target, pms[0]);
    double once = std::max(since(t0), 1e-7);
    int batch = (int)std::clamp(opts.minSampleSeconds / once, 1.0, 10000.0);
    std::vector<double> samples;
    size_t call = 1;
    for (int s = 0; s < std::max(1, opts.samples); ++s) {
      auto s0 = Clock::now();
      for (int b = 0; b < batch; ++b)
        kp.pipeline.realize(real, kp.target, pms[call++ % copies]);
      samples.push_back(since(s0) / batch);
    }
    std::sort(samples.begin(), samples.end());
    return samples[samples.size() / 2];
  }

private:
  /// The inputs, with copy `c` of the weights.
  ParamMap paramsFor(const KernelPipeline &kp, size_t c = 0) {
    ParamMap pm;
    size_t in = 0;
    for (const KernelArg &a : kp.signature)
      if (!a.isOutput) {
        const std::vector<Buffer<>> &w = weightBufs[in];
        pm.set(kp.inputs[in], w.empty() ? inBufs[in] : w[c % w.size()]);
        ++in;
      }
    return pm;
  }

  /// Random inputs (packed where the kernel reads packed weights) and
  /// output buffers, from the first candidate's signature.
  void prepare(const KernelPipeline &kp) {
    std::mt19937 rng(1234);
    inputs.reserve(kp.signature.size());
    for (const KernelArg &a : kp.signature) {
      if (a.isOutput)
        continue;
      mlir::Value v = op->getOperand(a.index);
      ref::Tensor t = randomTensor(
          a.dtype, staticShape(v).empty() ? Shape{1} : staticShape(v), rng);
      if (a.packed)
        t = packWeights(op, t, a.index);
      inputs.push_back(std::move(t));
      inBufs.push_back(Buffer<>(storageType(a.dtype), inputs.back().raw(),
                                halideSizes(a.shape)));
      // In a model, each call reads its own weights, mostly from memory, not
      // from a cache the previous call warmed: rotate through copies of
      // constant operands that together exceed the last-level cache.
      weightBufs.emplace_back();
      mlir::Operation *def = v.getDefiningOp();
      uint64_t bytes = inputs.back().bytes();
      if (def && def->hasTrait<mlir::OpTrait::ConstantLike>() && bytes > 0 &&
          bytes >= (uint64_t(256) << 10)) {
        size_t n = std::clamp<uint64_t>((uint64_t(64) << 20) / bytes, 1, 32);
        for (size_t c = 0; c < n; ++c) {
          weightCopies.push_back(inputs.back());
          weightBufs.back().push_back(Buffer<>(storageType(a.dtype),
                                               weightCopies.back().raw(),
                                               halideSizes(a.shape)));
        }
        copies = std::max(copies, n);
      }
    }
    for (const KernelArg &a : kp.signature)
      if (a.isOutput)
        results.emplace_back(a.dtype, a.shape);
    size_t r = 0;
    for (const KernelArg &a : kp.signature)
      if (a.isOutput)
        outBufs.push_back(Buffer<>(storageType(a.dtype), results[r++].raw(),
                                   halideSizes(a.shape)));
    ready = true;
  }

  mlir::Operation *op;
  const TuneOptions &opts;
  bool ready = false;
  std::vector<ref::Tensor> inputs, results, reference;
  std::vector<Buffer<>> inBufs, outBufs;
  std::deque<ref::Tensor> weightCopies;          // stable addresses
  std::vector<std::vector<Buffer<>>> weightBufs; // per input; empty: inBufs
  size_t copies = 1;
};

/// Sizes the JIT runtime's thread pool before its first use.
void setJitThreads(int threads) {
  if (const char *e = std::getenv("HL_NUM_THREADS"); e && *e)
    return;
  setenv("HL_NUM_THREADS", std::to_string(threads).c_str(), 1);
}
} // namespace

std::vector<int64_t> candidateValues(const std::string &name, int64_t def) {
  std::vector<int64_t> out;
  if (isThreshold(name) || def > 64) {
    for (double f : {0.25, 4.0, 1.0 / 16, 16.0}) {
      int64_t v = std::max<int64_t>(1, (int64_t)std::llround(def * f));
      if (v != def && std::find(out.begin(), out.end(), v) == out.end())
        out.push_back(v);
    }
    return out;
  }
  // 0 and 1 are tried for switches (a default of 0 or 1), e.g. prefetching.
  for (int64_t v : {0, 1, 2, 3, 4, 6, 8, 10, 12, 16, 24, 32, 48, 64})
    if (v != def && v <= std::max<int64_t>(def * 4, 4) &&
        (v == 0 ? def <= 1 : v * 4 >= def))
      out.push_back(v);
  // Nearest first (by ratio; 0 counts as half of 1).
  auto dist = [&](int64_t v) {
    return std::fabs(
        std::log(std::max(0.5, (double)v) / std::max(0.5, (double)def)));
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](int64_t a, int64_t b) { return dist(a) < dist(b); });
  return out;
}

llvm::FailureOr<TuneResult>
tuneKernel(mlir::Operation *op, const TuneOptions &opts, std::string *error) {
  auto start = Clock::now();
  int threads = opts.threads > 0
                    ? opts.threads
                    : (int)std::max(1u, std::thread::hardware_concurrency());
  setJitThreads(threads);
  std::map<std::string, int64_t> defaults = scheduleParamNames(op);
  // With one thread, parallel thresholds change nothing.
  std::vector<std::string> names;
  for (const auto &kv : defaults)
    if (threads > 1 || !isThreshold(kv.first))
      names.push_back(kv.first);

  TuneResult res;
  TuneProgress prog;
  prog.candidates = 1 + (opts.tryAutoscheduler ? 1 : 0);
  for (const std::string &n : names)
    prog.candidates += candidateValues(n, defaults[n]).size();
  prog.candidates = std::min(prog.candidates, std::max(1, opts.maxCandidates));
  auto report = [&] {
    if (opts.progress)
      opts.progress(prog);
  };
  auto log = [&](const std::string &what, double t, const std::string &why) {
    if (!opts.log)
      return;
    std::string line = what + ": ";
    line += t < 0 ? "rejected (" + why + ")"
                  : std::to_string(t * 1e6).substr(0, 10) + " us";
    opts.log(line);
  };
  auto describe = [](const std::map<std::string, int64_t> &p) {
    std::string s;
    for (const auto &kv : p)
      s += (s.empty() ? "" : " ") + kv.first + "=" + std::to_string(kv.second);
    return s.empty() ? std::string("(no parameters)") : s;
  };

  Bench bench(op, opts);
  KernelOptions base;
  base.target = opts.target;
  base.threads = opts.threads;
  std::string why;
  prog.candidate = 1;
  report();
  std::shared_ptr<KernelPipeline> defaultKp, bestKp, adamsKp;
  double t = bench.time(base, why, &defaultKp);
  log("default " + describe(defaults), t, why);
  if (t < 0) {
    if (error)
      *error = "the default schedule failed: " + why;
    return llvm::failure();
  }
  res.timed = 1;
  res.defaultSeconds = res.bestManualSeconds = t;
  res.bestParams = defaults;
  bestKp = defaultKp;
  prog.defaultSeconds = prog.bestSeconds = t;
  auto budgetLeft = [&] {
    return res.timed + res.rejected < opts.maxCandidates &&
           since(start) < opts.seconds;
  };

  if (!opts.tryAutoscheduler) {
    res.adamsNote = "not tried";
  } else if (!budgetLeft()) {
    res.adamsNote = "no budget left";
  } else {
    prog.candidate++;
    report();
    KernelOptions a = base;
    a.autoscheduler = "adams2019";
    double ta = bench.time(a, why, &adamsKp);
    log("adams2019", ta, why);
    if (ta < 0) {
      res.adamsNote = why;
      res.rejected++;
    } else {
      res.adamsSeconds = ta;
      res.timed++;
      prog.bestSeconds = std::min(prog.bestSeconds, ta);
    }
  }

  // Coordinate descent: one parameter changed at a time, from the best so
  // far; a candidate must beat the best by 3% (timing noise) to replace it.
  // The moves are taken round-robin over the parameters, nearest values
  // first, so a small budget still reaches every parameter.
  std::vector<std::pair<std::string, int64_t>> moves;
  {
    std::vector<std::vector<int64_t>> values;
    size_t most = 0;
    for (const std::string &n : names) {
      values.push_back(candidateValues(n, defaults[n]));
      most = std::max(most, values.back().size());
    }
    for (size_t r = 0; r < most; ++r)
      for (size_t i = 0; i < names.size(); ++i)
        if (r < values[i].size())
          moves.emplace_back(names[i], values[i][r]);
  }
  std::set<std::map<std::string, int64_t>> seen = {defaults};
  for (int pass = 0; pass < 2 && budgetLeft(); ++pass) {
    bool improved = false;
    for (const auto &[n, v] : moves) {
      if (!budgetLeft())
        break;
      std::map<std::string, int64_t> cand = res.bestParams;
      cand[n] = v;
      if (!seen.insert(cand).second)
        continue;
      prog.candidate = std::min(prog.candidate + 1, prog.candidates);
      report();
      KernelOptions k = base;
      k.params = cand;
      std::shared_ptr<KernelPipeline> kp;
      double tc = bench.time(k, why, &kp);
      log(n + "=" + std::to_string(v), tc, why);
      if (tc < 0) {
        res.rejected++;
        continue;
      }
      res.timed++;
      if (tc < res.bestManualSeconds * 0.97) {
        res.bestManualSeconds = tc;
        res.bestParams = cand;
        bestKp = kp;
        improved = true;
        prog.bestSeconds = std::min(prog.bestSeconds, tc);
      }
    }
    if (!improved)
      break;
  }
  // Confirmation: the default, the best manual candidate and Adams2019 timed
  // again, interleaved, five rounds; medians replace the search's times (a
  // candidate that won through a noisy measurement of the default loses).
  if (opts.confirm) {
    std::vector<double> d, m, a;
    try {
      // Each round starts with another candidate, so none always runs
      // right after the slow Adams2019 kernel.
      for (int round = 0; round < 5; ++round)
        for (int i = 0; i < 3; ++i) {
          int which = (round + i) % 3;
          if (which == 0)
            d.push_back(bench.measure(*defaultKp));
          else if (which == 1 && bestKp != defaultKp)
            m.push_back(bench.measure(*bestKp));
          else if (which == 2 && adamsKp)
            a.push_back(bench.measure(*adamsKp));
        }
      auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
      };
      res.defaultSeconds = median(d);
      res.bestManualSeconds = m.empty() ? res.defaultSeconds : median(m);
      if (!a.empty())
        res.adamsSeconds = median(a);
      if (opts.log)
        opts.log(
            "confirmed: default " + std::to_string(res.defaultSeconds * 1e6) +
            " us, best manual " + std::to_string(res.bestManualSeconds * 1e6) +
            " us" +
            (a.empty() ? std::string()
                       : ", adams2019 " +
                             std::to_string(res.adamsSeconds * 1e6) + " us"));
      if (res.bestManualSeconds >= res.defaultSeconds * 0.97) {
        res.bestManualSeconds = res.defaultSeconds;
        res.bestParams = defaults;
      }
    } catch (const Halide::Error &) {
      // Keep the search's times.
    }
  }
  // The autoscheduler must also win by the noise margin.
  if (res.adamsSeconds > 0 && res.adamsSeconds < res.bestManualSeconds * 0.97)
    res.winner = "adams2019";
  return res;
}

} // namespace kiln::halide

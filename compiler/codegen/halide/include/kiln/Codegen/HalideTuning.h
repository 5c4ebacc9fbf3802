// Tuning one Halide kernel on this machine: times schedule-parameter
// candidates (and Halide's Adams2019 autoscheduler) by JIT on random inputs.
#ifndef KILN_CODEGEN_HALIDETUNING_H
#define KILN_CODEGEN_HALIDETUNING_H

#include "kiln/Codegen/HalideBackend.h"

#include <functional>
#include <map>
#include <string>

namespace kiln::halide {

/// Where a kernel's tuning stands, for progress displays.
struct TuneProgress {
  int candidate = 0;         // 1-based index of the candidate being timed
  int candidates = 0;        // planned candidates (an upper bound)
  double bestSeconds = 0;    // best so far (0: none yet)
  double defaultSeconds = 0; // the default schedule (0: not yet)
};

struct TuneOptions {
  std::string target = "host";
  /// Threads the kernel runs on (0: the machine's cores). The JIT thread pool
  /// is sized from it on first use (HL_NUM_THREADS, unless already set).
  int threads = 0;
  /// Soft time limit for this kernel (compiles and timing), in seconds. The
  /// default schedule is always timed.
  double seconds = 10;
  /// Most candidates timed, the default and the autoscheduler included.
  int maxCandidates = 16;
  /// Also time Halide's Adams2019 autoscheduler as one candidate.
  bool tryAutoscheduler = true;
  /// Timed samples per candidate; the median counts.
  int samples = 5;
  /// Calls are batched so one sample lasts at least this long.
  double minSampleSeconds = 10e-3;
  /// Time the default, the best manual candidate and the autoscheduler again
  /// at the end (interleaved, median of 5) before picking the winner.
  bool confirm = true;
  std::function<void(const TuneProgress &)> progress;
  /// Receives one line per candidate timed or rejected (verbose output).
  std::function<void(const std::string &)> log;
};

struct TuneResult {
  /// Median seconds per call: default parameters, the best manual
  /// parameters, and the autoscheduler (< 0: not timed; see adamsNote).
  double defaultSeconds = 0, bestManualSeconds = 0, adamsSeconds = -1;
  std::string adamsNote;
  /// Every parameter of the best manual candidate (defaults included).
  std::map<std::string, int64_t> bestParams;
  /// "manual" or "adams2019": the faster one.
  std::string winner = "manual";
  int timed = 0;    // candidates timed
  int rejected = 0; // candidates that failed to build or gave other results
  double winnerSeconds() const {
    return winner == "manual" ? bestManualSeconds : adamsSeconds;
  }
};

/// The values worth trying for schedule parameter `name` whose default is
/// `def`, nearest first (the default itself excluded).
std::vector<int64_t> candidateValues(const std::string &name, int64_t def);

/// Tunes `op`'s kernel: times the default schedule, Adams2019 (when asked
/// and supported) and manual candidates found by coordinate descent over
/// scheduleParamNames(op), each checked against the default's results.
/// Fails with `error` set when even the default cannot be built or run.
llvm::FailureOr<TuneResult> tuneKernel(mlir::Operation *op,
                                       const TuneOptions &opts,
                                       std::string *error = nullptr);

} // namespace kiln::halide

#endif // KILN_CODEGEN_HALIDETUNING_H

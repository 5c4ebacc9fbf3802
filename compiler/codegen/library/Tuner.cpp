// `kiln compile --tune` and the tuning database in library builds: tunes each
// unique Halide kernel (progress on stderr), stores the winners, and applies
// stored schedules to the kernels of later compiles.
#include "Tuner.h"
#include "KernelCache.h"
#include "TuningDb.h"

#include "kiln/Codegen/HalidePipeline.h"
#include "kiln/Codegen/HalideTuning.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <thread>

namespace kiln::library {

std::string defaultTuningDbPath() { return TuningDb::defaultPath(); }

std::string parseTuneBudget(llvm::StringRef text, double &seconds,
                            int &trials) {
  llvm::StringRef t = text.trim();
  llvm::StringRef num = t.take_while(
      [](char c) { return std::isdigit((unsigned char)c) || c == '.'; });
  llvm::StringRef unit = t.drop_front(num.size());
  double v = 0;
  if (num.empty() || num.getAsDouble(v) || v <= 0)
    return "--tune-budget expects seconds (\"300\", \"300s\") or candidates "
           "per kernel (\"8t\"), not '" +
           text.str() + "'";
  if (unit.empty() || unit == "s") {
    seconds = v;
    trials = 0;
    return "";
  }
  if ((unit == "t" || unit == "trials") && v == (int)v) {
    trials = (int)v;
    seconds = 0;
    return "";
  }
  return "--tune-budget: unknown unit '" + unit.str() +
         "' (use s for seconds or t for candidates per kernel)";
}

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// Microseconds, one decimal ("-" when not measured).
std::string usText(double seconds) {
  if (seconds < 0)
    return "-";
  return llvm::formatv("{0:F1}", seconds * 1e6).str();
}

std::string nowText() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

/// The progress display: a bar redrawn in place on a terminal, one line per
/// finished kernel otherwise.
class Progress {
public:
  Progress(unsigned kernels, double budget)
      : n(kernels), budget(budget),
        tty(llvm::sys::Process::StandardErrIsDisplayed()) {}

  void update(unsigned i, const std::string &op,
              const halide::TuneProgress &p) {
    if (!tty)
      return;
    double frac =
        (i + (p.candidates ? double(p.candidate - 1) / p.candidates : 0)) /
        std::max(1u, n);
    const int width = 20;
    int filled = (int)(frac * width);
    std::string bar(filled, '#');
    bar += std::string(width - filled, '-');
    llvm::errs() << "\r\033[K[" << bar << "] kernel " << (i + 1) << "/" << n
                 << " " << op << "  candidate " << p.candidate << "/"
                 << p.candidates;
    if (p.bestSeconds > 0)
      llvm::errs() << "  best " << usText(p.bestSeconds) << " us ("
                   << llvm::format("%.2f", p.defaultSeconds / p.bestSeconds)
                   << "x)";
    llvm::errs() << "  " << (int)since(start) << "s";
    if (budget > 0)
      llvm::errs() << "/" << (int)budget << "s";
    llvm::errs().flush();
  }

  void done(unsigned i, const KernelTuneReport &r) {
    if (tty)
      llvm::errs() << "\r\033[K"; // the bar is redrawn below this line
    llvm::errs() << "tune: kernel " << (i + 1) << "/" << n << " " << r.op
                 << ": ";
    if (r.winner.empty()) {
      llvm::errs() << "skipped (" << r.note << ")\n";
      return;
    }
    double best = r.winner == "manual" ? r.manualMs : r.adamsMs;
    llvm::errs() << "default " << usText(r.defaultMs / 1e3) << " us, best "
                 << usText(best / 1e3) << " us (" << r.winner << ", "
                 << llvm::format("%.2f", r.defaultMs / best) << "x), "
                 << r.timed << " candidates, "
                 << llvm::format("%.1f", r.seconds) << " s\n";
  }

private:
  unsigned n;
  double budget;
  bool tty;
  Clock::time_point start = Clock::now();
};

std::string paramsText(const std::map<std::string, int64_t> &p) {
  std::string s;
  for (const auto &kv : p)
    s += (s.empty() ? "" : " ") + kv.first + "=" + std::to_string(kv.second);
  return s;
}

/// The kernelKey part of a Program kernel key ("halide <key>").
std::string halideKey(const Kernel &k) {
  llvm::StringRef key(k.key);
  key.consume_front("halide ");
  return key.str();
}

/// Tunes every Halide kernel of `prog` and records the winners in `db`.
void tuneKernels(Program &prog, TuningDb &db, const LibraryOptions &opts,
                 const std::string &target, int threads,
                 LibraryReport &report) {
  std::vector<unsigned> todo;
  for (auto [i, k] : llvm::enumerate(prog.kernels))
    if (k.backend == Backend::Halide)
      todo.push_back(i);
  double total = opts.tuneTrials > 0    ? 0
                 : opts.tuneSeconds > 0 ? opts.tuneSeconds
                                        : kDefaultTuneSeconds;
  Progress progress(todo.size(), total);
  auto start = Clock::now();
  for (auto [j, i] : llvm::enumerate(todo)) {
    Kernel &k = prog.kernels[i];
    KernelTuneReport r;
    r.op = k.op->getName().getStringRef().str();
    r.key = halideKey(k);
    r.uses = k.uses;
    halide::TuneOptions to;
    to.target = target;
    to.threads = opts.threads;
    to.tryAutoscheduler = opts.tuneAutoscheduler;
    if (opts.tuneTrials > 0) {
      to.maxCandidates = opts.tuneTrials;
      to.seconds = 1e9;
    } else {
      // An equal share of what is left; unused time rolls over.
      double left = std::max(0.0, total - since(start));
      to.seconds = left / (todo.size() - j);
    }
    to.progress = [&, j = j](const halide::TuneProgress &p) {
      progress.update(j, r.op, p);
    };
    if (const char *v = std::getenv("KILN_TUNE_VERBOSE"); v && *v && *v != '0')
      to.log = [tty = llvm::sys::Process::StandardErrIsDisplayed()](
                   const std::string &line) {
        llvm::errs() << (tty ? "\r\033[K" : "") << "    " << line << "\n";
      };
    auto t0 = Clock::now();
    std::string err;
    llvm::FailureOr<halide::TuneResult> res =
        halide::tuneKernel(k.op, to, &err);
    r.seconds = since(t0);
    if (failed(res)) {
      r.note = err;
    } else {
      r.defaultMs = res->defaultSeconds * 1e3;
      r.manualMs = res->bestManualSeconds * 1e3;
      r.adamsMs = res->adamsSeconds > 0 ? res->adamsSeconds * 1e3 : -1;
      r.winner = res->winner;
      r.params = paramsText(res->bestParams);
      r.note = res->adamsNote;
      r.timed = res->timed;
      TuningEntry e;
      e.key = r.key;
      e.target = target;
      e.threads = threads;
      e.scheduler = res->winner;
      if (res->winner == "manual")
        e.params = res->bestParams;
      e.op = r.op;
      e.defaultUs = res->defaultSeconds * 1e6;
      e.manualUs = res->bestManualSeconds * 1e6;
      e.adamsUs = res->adamsSeconds > 0 ? res->adamsSeconds * 1e6 : -1;
      e.tuned = nowText();
      db.put(e);
    }
    progress.done(j, r);
    report.tuning.push_back(std::move(r));
  }
  report.tuneSeconds = since(start);
}

/// True when `e` can schedule `k`'s kernel now: its parameters are all known
/// and the kernel builds with them. Otherwise `why` says why not.
bool entryUsable(const Kernel &k, const TuningEntry &e,
                 const LibraryOptions &opts, std::string &why) {
  std::map<std::string, int64_t> known = halide::scheduleParamNames(k.op);
  for (const auto &kv : e.params)
    if (!known.count(kv.first)) {
      why = "unknown schedule parameter '" + kv.first + "'";
      return false;
    }
  halide::KernelOptions ko;
  ko.target = opts.target;
  ko.threads = opts.threads;
  ko.params = e.params;
  if (e.scheduler == "adams2019") {
    ko.params.clear();
    ko.autoscheduler = "adams2019";
  }
  std::string diag;
  mlir::ScopedDiagnosticHandler handler(k.op->getContext(),
                                        [&](mlir::Diagnostic &d) {
                                          if (diag.empty())
                                            diag = d.str();
                                          return mlir::success();
                                        });
  if (failed(halide::buildKernel(k.op, ko))) {
    why = diag;
    return false;
  }
  return true;
}
} // namespace

mlir::LogicalResult applyTuning(Program &prog, const LibraryOptions &opts,
                                LibraryReport &report, mlir::Location loc) {
  if (!opts.useTuningDb && !opts.tune)
    return mlir::success();
  // With several targets, tuning (and the database) serves the best one this
  // machine runs; the other variants use the default schedules.
  mlir::FailureOr<std::vector<target::TargetInfo>> targets =
      libraryTargets(opts.target, loc);
  if (failed(targets))
    return mlir::failure();
  const target::TargetInfo *runnable = nullptr;
  for (const target::TargetInfo &t : *targets)
    if (!runnable && target::hostRuns(t))
      runnable = &t;
  if (!runnable) {
    if (opts.tune)
      return mlir::emitError(loc)
             << "--tune needs a target this CPU runs (it supports "
             << target::isaName(target::hostIsa()) << ")";
    return mlir::success();
  }
  std::string err;
  llvm::FailureOr<Halide::Target> t =
      halide::parseTarget(runnable->halide, &err);
  if (failed(t))
    return mlir::emitError(loc) << err;
  std::string target = t->to_string();
  int threads = opts.threads > 0
                    ? opts.threads
                    : (int)std::max(1u, std::thread::hardware_concurrency());
  TuningDb db;
  std::vector<std::string> warnings;
  db.load(opts.tuningDb.empty() ? TuningDb::defaultPath() : opts.tuningDb,
          warnings);
  for (const std::string &w : warnings)
    mlir::emitWarning(loc) << w;
  report.tuningDbPath = db.path();
  if (opts.tune) {
    tuneKernels(prog, db, opts, target, threads, report);
    std::string error;
    if (!db.save(error))
      mlir::emitWarning(loc) << "the tuning results were not saved: " << error;
  }
  for (Kernel &k : prog.kernels) {
    if (k.backend != Backend::Halide)
      continue;
    const TuningEntry *e = db.lookup(halideKey(k), target, threads);
    if (!e)
      continue;
    std::string why;
    if (!entryUsable(k, *e, opts, why)) {
      mlir::emitWarning(k.op->getLoc())
          << "ignoring the tuning database entry for this kernel (" << why
          << "); using the default schedule";
      continue;
    }
    k.tunedTarget = target;
    if (e->scheduler == "adams2019") {
      k.autoscheduler = "adams2019";
      k.schedule = "adams2019";
    } else {
      // Parameters equal to the defaults build the default kernel: leave
      // them out so the object is shared with untuned compiles.
      if (e->params != halide::scheduleParamNames(k.op))
        k.params = e->params;
      k.schedule = "tuned";
    }
    report.tunedKernels++;
  }
  return mlir::success();
}

void printTuningReport(const LibraryReport &r, llvm::raw_ostream &os) {
  os << "tuning: " << r.tuning.size() << " kernels in "
     << llvm::format("%.1f", r.tuneSeconds) << " s; winners saved to "
     << r.tuningDbPath << "\n";
  os << llvm::format("  %-28s %4s %11s %11s %11s  %-9s %7s\n", "kernel", "uses",
                     "default us", "manual us", "adams us", "winner",
                     "speedup");
  double before = 0, after = 0;
  for (const KernelTuneReport &k : r.tuning) {
    std::string op = k.op;
    if (op.size() > 28)
      op = op.substr(0, 28);
    if (k.winner.empty()) {
      os << llvm::format("  %-28s %4u  skipped: %s\n", op.c_str(), k.uses,
                         k.note.c_str());
      continue;
    }
    double best = k.winner == "manual" ? k.manualMs : k.adamsMs;
    before += k.defaultMs * k.uses;
    after += best * k.uses;
    os << llvm::format(
        "  %-28s %4u %11s %11s %11s  %-9s %6.2fx\n", op.c_str(), k.uses,
        usText(k.defaultMs / 1e3).c_str(), usText(k.manualMs / 1e3).c_str(),
        usText(k.adamsMs / 1e3).c_str(), k.winner.c_str(), k.defaultMs / best);
  }
  if (after > 0)
    os << llvm::format("  sum over calls: %.3f ms -> %.3f ms (%.2fx)\n", before,
                       after, before / after);
  unsigned noAdams = 0;
  for (const KernelTuneReport &k : r.tuning)
    if (!k.winner.empty() && k.adamsMs < 0)
      noAdams++;
  if (noAdams) {
    os << "  adams2019 not timed for " << noAdams << " kernels:";
    std::map<std::string, unsigned> reasons;
    for (const KernelTuneReport &k : r.tuning)
      if (!k.winner.empty() && k.adamsMs < 0)
        reasons[k.note]++;
    for (const auto &kv : reasons)
      os << "\n    " << kv.second << " x " << kv.first;
    os << "\n";
  }
}

} // namespace kiln::library

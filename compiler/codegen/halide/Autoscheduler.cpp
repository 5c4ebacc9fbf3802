// Halide autoschedulers as an alternative to the kernels' manual schedules:
// loading the Adams2019 plugin once, and scheduling a built pipeline with it.
#include "Lowering.h"

#include "kiln/Codegen/Target.h"

#include "llvm/ADT/StringExtras.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <mutex>
#include <unistd.h>

using namespace Halide;

namespace kiln::halide {

namespace {
constexpr const char *kAdamsPluginPath =
    "/usr/lib/x86_64-linux-gnu/halide14/libautoschedule_adams2019.so";

/// The Halide name of a kiln autoscheduler name ("" when unknown).
std::string halideName(llvm::StringRef name) {
  if (name.equals_insensitive("adams2019"))
    return "Adams2019";
  return "";
}

struct PluginState {
  std::once_flag once;
  bool loaded = false;
  std::string error;
};

PluginState &adamsPlugin() {
  static PluginState state;
  std::call_once(state.once, [] {
    std::string path = kAdamsPluginPath;
    if (const char *e = std::getenv("KILN_ADAMS2019_PLUGIN"); e && *e)
      path = e;
    if (::access(path.c_str(), R_OK) != 0) {
      state.error = "the Adams2019 plugin '" + path + "' is not readable";
      return;
    }
    // Adams2019's default beam search (beam 32, 5 passes) takes minutes on
    // kernels with many Funcs (attention: 12 minutes here); a greedy search
    // (beam 1, one pass) takes seconds. HL_BEAM_SIZE set by the user wins.
    // Read on every search, so tuning and later compiles agree.
    setenv("HL_BEAM_SIZE", "1", /*overwrite=*/0);
    try {
      Halide::load_plugin(path);
      state.loaded = true;
    } catch (const Halide::Error &e) {
      state.error = "cannot load the Adams2019 plugin '" + path +
                    "': " + llvm::StringRef(e.what()).trim().str();
    }
  });
  return state;
}
} // namespace

bool autoschedulerAvailable(llvm::StringRef name, std::string *why) {
  if (halideName(name).empty()) {
    if (why)
      *why = "unknown autoscheduler '" + name.str() + "' (known: adams2019)";
    return false;
  }
  PluginState &p = adamsPlugin();
  if (!p.loaded && why)
    *why = p.error;
  return p.loaded;
}

namespace detail {

void autoschedulePipeline(KernelBuilder &kb, Pipeline &pipeline) {
  if (!kb.autoscheduleAsked)
    unsupported("this kernel does not support autoscheduling yet");
  if (!kb.opts.params.empty())
    unsupported("schedule parameters cannot be combined with an "
                "autoscheduler");
  std::string why;
  if (!autoschedulerAvailable(kb.opts.autoscheduler, &why))
    unsupported(why);
  // kb.threads cores, the host's last-level cache (sysfs); 40 is Halide's
  // generic load-vs-arithmetic cost ratio.
  static const int64_t llc = [] {
    llvm::FailureOr<kiln::target::TargetInfo> host =
        kiln::target::lookup("host", nullptr);
    return llvm::succeeded(host) ? host->l3Bytes : int64_t(16) << 20;
  }();
  MachineParams mp(kb.threads, (uint64_t)llc, 40);
  // Adams2019 picks a schedule for the host it reads from the target; it
  // applies the schedule to the pipeline's Funcs directly.
  // Adams2019 prints its search to stderr at any log level; keep it quiet
  // unless HL_DEBUG_AUTOSCHEDULE asks for it. One search at a time (the
  // redirect is process-wide).
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  const char *dbg = std::getenv("HL_DEBUG_AUTOSCHEDULE");
  int saved = -1;
  if (!dbg || !*dbg) {
    llvm::errs().flush();
    std::fflush(stderr);
    int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    saved = null >= 0 ? ::dup(2) : -1;
    if (saved >= 0)
      ::dup2(null, 2);
    if (null >= 0)
      ::close(null);
  }
  auto restore = [&] {
    if (saved < 0)
      return;
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    saved = -1;
  };
  try {
    pipeline.auto_schedule(halideName(kb.opts.autoscheduler), kb.target, mp);
    // Store every Func where it is computed. Adams2019 hoists some storage
    // above the compute level (store_at an outer reduction loop, compute_at
    // an inner one, tile loops between) for sliding-window reuse; Halide 14's
    // sliding window then skips recomputation across the tile loop while
    // storage folding keeps one slice, and reads stale values (wrong
    // autoscheduled attention results on SSE4.1, AVX2 and AVX-512).
    std::map<std::string, Internal::Function> funcs;
    for (const Func &f : pipeline.outputs())
      for (const auto &kv : Internal::find_transitive_calls(f.function()))
        funcs.emplace(kv.first, kv.second);
    for (auto &kv : funcs)
      kv.second.schedule().store_level() = kv.second.schedule().compute_level();
  } catch (...) {
    restore();
    throw;
  }
  restore();
}

} // namespace detail
} // namespace kiln::halide

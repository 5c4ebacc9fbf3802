// Native model libraries: compile a shape-static kiln module into
// OUTDIR/libN.so + OUTDIR/N.h (Halide / LLVM kernels, C glue, the runtime),
// and load such a library back to run it (`kiln run libN.so`, tests).
#ifndef KILN_CODEGEN_LIBRARY_H
#define KILN_CODEGEN_LIBRARY_H

#include "kiln/Reference/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/LogicalResult.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kiln::library {

enum class WeightsMode {
  Auto,     // embedded up to externalThreshold bytes, else N.weights
  Embedded, // always in the library's .rodata
  External  // always in N.weights beside the library (mmapped)
};

/// Which kernel backend compiles each op.
enum class Backend {
  Auto,   // Halide where it supports the op, else LLVM
  Halide, // Halide only (unsupported ops are an error)
  LLVM    // LLVM only (MLIR 22 -> LLVM 22)
};

struct LibraryOptions {
  std::string outDir;          // created if missing
  std::string name;            // library name N (made a C identifier)
  /// "host", a named target (x86-64, x86-64-avx2, x86-64-avx512,
  /// x86-64-avx512-bf16), a Halide target string, or a comma-separated list:
  /// every kernel is then compiled for each and the library picks the best
  /// the CPU supports when an instance is created.
  std::string target = "host";
  Backend backend = Backend::Auto;
  /// Threads the kernels are scheduled for and the default of N_create(.., 0)
  /// (0: the machine's cores at run time).
  int threads = 0;
  WeightsMode weights = WeightsMode::Auto;
  uint64_t externalThreshold = uint64_t(64) << 20;
  /// Kernel object cache; "" means defaultCacheDir().
  std::string cacheDir;
  bool useCache = true;
  /// Parallel kernel compilations (0: the machine's cores).
  int jobs = 0;
  /// The C compiler that compiles the glue and links (default $CC, else cc).
  std::string cc;
  /// Keep N.c and the link inputs in OUTDIR/N.build/ (else only N.c is kept).
  bool keepIntermediates = false;
  /// Tuning database (docs/tuning.md); "" means defaultTuningDbPath(). Halide
  /// kernels with an entry for this target and thread count use its schedule.
  std::string tuningDb;
  bool useTuningDb = true;
  /// Tune every unique Halide kernel first (kiln compile --tune), store the
  /// winners in the database, then compile with them. Budget: tuneSeconds in
  /// all (0: kDefaultTuneSeconds) and at most tuneTrials candidates a kernel
  /// (0: 16). Progress goes to stderr.
  bool tune = false;
  double tuneSeconds = 0;
  int tuneTrials = 0;
  /// Also try Halide's Adams2019 autoscheduler while tuning.
  bool tuneAutoscheduler = true;
};

/// The default total tuning time of `kiln compile --tune`, in seconds.
constexpr double kDefaultTuneSeconds = 180;

/// Parses a --tune-budget value: "300" or "300s" (seconds in all), "8t" or
/// "8trials" (candidates per kernel, no time limit). Returns "" or an error.
std::string parseTuneBudget(llvm::StringRef text, double &seconds,
                            int &trials);

/// One kernel's tuning outcome (times are medians per call, in ms; < 0: not
/// measured).
struct KernelTuneReport {
  std::string op, key;
  unsigned uses = 0;
  double defaultMs = -1, manualMs = -1, adamsMs = -1;
  std::string winner; // "manual", "adams2019", or "" when tuning failed
  std::string params; // the winning manual parameters, "a=1 b=2"
  std::string note;   // why Adams2019 (or the kernel) was skipped
  int timed = 0;
  double seconds = 0; // tuning time
};

/// One unique kernel of a library.
struct KernelReport {
  std::string key;      // "halide <kernelKey>" or "llvm <kernelKey>"
  std::string function; // symbol in the library
  std::string op;       // "kiln.fused_matmul"
  std::string backend;  // "halide" or "llvm"
  unsigned uses = 0;    // steps that call it
  bool cacheHit = false;
  double compileSeconds = 0;
  /// "default", "tuned" (stored manual parameters) or "adams2019".
  std::string schedule = "default";
  double flops = 0;     // floating-point ops per call (matmul-like ops; 0 otherwise)
};

/// What emitLibrary built; `kiln compile --stats` prints it, and it is also
/// written to OUTDIR/N.json.
struct LibraryReport {
  std::string name, libraryPath, headerPath, weightsPath, reportPath;
  std::vector<std::string> targets;  // the kernel variants, best first
  unsigned steps = 0;                // kernel calls per run
  unsigned copies = 0;               // output copies per run
  unsigned aliases = 0;              // reshape-like ops that became views
  std::vector<KernelReport> kernels; // unique kernels
  unsigned cacheHits = 0, cacheMisses = 0;
  uint64_t arenaBytes = 0;        // planned arena
  uint64_t intermediateBytes = 0; // sum of all intermediates (no reuse)
  uint64_t weightBytes = 0;
  bool externalWeights = false;
  double compileSeconds = 0, linkSeconds = 0, totalSeconds = 0;
  /// The tuning database read (and written by --tune), how many kernels use
  /// its schedules, and the --tune results.
  std::string tuningDbPath;
  unsigned tunedKernels = 0;
  std::vector<KernelTuneReport> tuning;
  double tuneSeconds = 0;
};

/// Compiles @main of `module` (every shape static, every op supported by the
/// Halide backend) into OUTDIR/libN.so and OUTDIR/N.h (+ OUTDIR/N.weights
/// when external, OUTDIR/N.c, OUTDIR/N.json). Errors are MLIR diagnostics
/// (on the op or argument at fault) and failure.
llvm::FailureOr<LibraryReport> emitLibrary(mlir::ModuleOp module,
                                           const LibraryOptions &opts);

/// Floating-point operations of one call of `op`: 2·M·N·K for matmul, gemm and
/// fused_matmul, 4·B·H·Sq·Sk·D for attention (Q·Kᵀ and P·V); 0 for other ops,
/// whose cost is memory traffic rather than arithmetic.
double kernelFlops(mlir::Operation *op);

/// Prints the report as `kiln compile --stats` shows it.
void printLibraryReport(const LibraryReport &report, llvm::raw_ostream &os);
/// Prints the --tune table: per kernel default, best manual and Adams2019
/// times, the winner and its speedup over the default.
void printTuningReport(const LibraryReport &report, llvm::raw_ostream &os);

/// `name` as a C identifier (other characters become '_'; "model" if empty).
std::string sanitizeName(llvm::StringRef name);
/// The kernel cache directory LibraryOptions{}.cacheDir stands for:
/// $KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln/kernels, else
/// ~/.cache/kiln/kernels.
std::string defaultCacheDir();
/// The tuning database LibraryOptions{}.tuningDb stands for:
/// $KILN_TUNING_DB, else $XDG_CACHE_HOME/kiln/tuning.json, else
/// ~/.cache/kiln/tuning.json.
std::string defaultTuningDbPath();

/// A model input or output as a loaded library reports it.
struct TensorInfo {
  std::string name;
  ref::DType dtype = ref::DType::F32;
  std::vector<int64_t> shape;
  std::vector<std::string> dimNames; // "" for a static dim
};

/// A kiln-generated library opened with dlopen, with one instance.
class LoadedModel {
public:
  /// Opens `path` (OUTDIR/libN.so; N comes from the file name unless `name`
  /// is given) and creates an instance with `threads` threads (0: default).
  static llvm::Expected<std::unique_ptr<LoadedModel>>
  open(llvm::StringRef path, int threads = 0, llvm::StringRef name = "",
       llvm::StringRef weightsPath = "");
  ~LoadedModel();
  LoadedModel(const LoadedModel &) = delete;
  LoadedModel &operator=(const LoadedModel &) = delete;

  const std::string &name() const { return name_; }
  const std::vector<TensorInfo> &inputs() const { return inputs_; }
  const std::vector<TensorInfo> &outputs() const { return outputs_; }
  int threads() const;
  /// The target of the kernel variant this instance runs (the best of the
  /// library's targets the CPU supports; "" for libraries without variants).
  std::string target() const;

  /// Runs on `inputs` (checked by the library: count, dtype, shape) and
  /// returns the outputs; the library's error message on failure.
  llvm::Expected<std::vector<ref::Tensor>>
  run(llvm::ArrayRef<ref::Tensor> inputs);
  /// Same, into `outputs` the caller allocated (e.g. once, for benchmarks):
  /// no allocation per call.
  llvm::Error runInto(llvm::ArrayRef<ref::Tensor> inputs,
                      llvm::MutableArrayRef<ref::Tensor> outputs);

  /// Per-step timing: enable, run, then read.
  struct StepTime {
    std::string name;
    double seconds = 0;
    int64_t calls = 0;
  };
  void setProfiling(bool enable);
  std::vector<StepTime> stepTimes() const;

  /// The raw C entry point `N_<suffix>` (e.g. "run"), for tests.
  void *symbol(llvm::StringRef suffix) const;
  void *instance() const { return instance_; }

private:
  LoadedModel() = default;
  struct Api;
  std::string name_;
  void *handle_ = nullptr;
  void *instance_ = nullptr;
  std::unique_ptr<Api> api_;
  std::vector<TensorInfo> inputs_, outputs_;
};

} // namespace kiln::library

#endif // KILN_CODEGEN_LIBRARY_H

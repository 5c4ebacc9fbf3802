// Shared machinery of the Halide backend: the per-kernel builder (buffer
// arguments, loads and stores in row-major index order), broadcasting plans,
// schedule helpers, and the lowering entry point of each op family.
#ifndef KILN_CODEGEN_HALIDE_LOWERING_H
#define KILN_CODEGEN_HALIDE_LOWERING_H

#include "kiln/Codegen/HalidePipeline.h"
#include "kiln/Codegen/Target.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"

#include <optional>
#include <string>
#include <vector>

namespace kiln::halide::detail {

using Shape = std::vector<int64_t>;

/// Thrown by lowering code for an unsupported op/shape/attribute; caught by
/// buildKernel and turned into a diagnostic (or isSupported's reason).
struct Unsupported {
  std::string why;
};
[[noreturn]] void unsupported(const std::string &why);

/// `axis` (negative counts from the end) as an index in [0, rank); unsupported
/// when out of range.
int64_t normAxis(int64_t axis, size_t rank);

/// The ref dtype of an MLIR element type (throws Unsupported otherwise).
ref::DType dtypeOf(mlir::Type elementType);
/// Halide type a buffer of `t` holds (bool: uint8).
Halide::Type storageType(ref::DType t);
/// Halide type kernels compute `t` in (f16/bf16: f32, bool: bool).
Halide::Type computeType(ref::DType t);
bool isFloatType(ref::DType t);

/// The static shape of a ranked tensor value (Unsupported when dynamic).
Shape staticShape(mlir::Value v);
int64_t product(const Shape &s, size_t begin = 0, size_t end = SIZE_MAX);

/// Builds one kernel: declares buffer arguments, loads and stores values with
/// row-major indices, and collects outputs and schedule parameters.
class KernelBuilder {
public:
  KernelBuilder(mlir::Operation *op, const KernelOptions &opts,
                const Halide::Target &target);

  mlir::Operation *op;
  const KernelOptions &opts;
  Halide::Target target;
  int threads; // >= 1

  /// Declares operand `operand` as a buffer input viewed with row-major
  /// `shape` (default: the operand's own shape; must have equal numel unless
  /// packed). Returns its index among the inputs.
  int input(unsigned operand, Shape shape = {}, bool packed = false,
            std::optional<ref::DType> dtype = std::nullopt);
  /// Loads element `idx` (row-major) of input `in`, in its compute type.
  Halide::Expr load(int in, const std::vector<Halide::Expr> &idx) const;
  /// The row-major buffer shape of input `in`.
  const Shape &inputShape(int in) const { return args[in].shape; }
  ref::DType inputDType(int in) const { return args[in].dtype; }

  /// Row-major vars for an output of rank `rank` (d0 outermost).
  std::vector<Halide::Var> vars(size_t rank, const std::string &prefix = "d");
  /// Defines output Func `f` (row-major `vars`) as `values`, one per result in
  /// `results` (a Tuple when several), cast to each result's storage type.
  /// `shape` is the row-major buffer shape shared by these results.
  Halide::Func output(const std::string &name,
                      const std::vector<Halide::Var> &vars,
                      const std::vector<Halide::Expr> &values,
                      const std::vector<unsigned> &results, const Shape &shape);
  /// Same, for an output Func defined by the caller in storage types (for
  /// update definitions). `f` must use Halide-order (reversed) vars.
  void addOutput(Halide::Func f, const std::vector<unsigned> &results,
                 const Shape &shape);

  /// A schedule parameter: opts.params[name] if given, else `def`. Recorded
  /// so scheduleParamNames() can list it.
  int64_t param(const std::string &name, int64_t def);
  /// True when an autoscheduler (opts.autoscheduler) schedules this kernel:
  /// the builder then defines the algorithm only and applies no schedule
  /// directives. Builders that never ask cannot be autoscheduled.
  bool autoschedule() {
    autoscheduleAsked = true;
    return !opts.autoscheduler.empty();
  }
  bool autoscheduleAsked = false;
  /// Natural vector lanes of `t` on the target.
  int lanes(Halide::Type t) const { return target.natural_vector_size(t); }
  /// Architectural vector registers of the target (32 with AVX-512, else 16).
  int vectorRegisters() const {
    return kiln::target::isaOf(target) & kiln::target::IsaAvx512 ? 32 : 16;
  }

  /// Result types.
  ref::DType resultDType(unsigned r) const;
  Shape resultShape(unsigned r) const;
  Shape operandShape(unsigned o) const {
    return staticShape(op->getOperand(o));
  }
  ref::DType operandDType(unsigned o) const;

  // Collected results.
  std::vector<KernelArg> args;            // inputs then outputs
  std::vector<Halide::ImageParam> params; // one per input arg
  std::vector<Halide::Func> outputs;      // pipeline outputs
  std::map<std::string, int64_t> usedParams;

private:
  unsigned nextOut = 0;
};

/// Halide-order call of a Func / param with row-major indices.
Halide::Expr callRowMajor(const Halide::Func &f, std::vector<Halide::Expr> idx);
std::vector<Halide::Expr> toExprs(const std::vector<Halide::Var> &vars);

/// numpy broadcasting, coalesced: dims of size 1 in the output are dropped
/// and neighbouring dims merged when every operand broadcasts both or none.
struct BroadcastPlan {
  Shape out;                   // rank >= 1
  std::vector<Shape> operands; // same rank as out; 1 where broadcast
};
BroadcastPlan planBroadcast(const Shape &out,
                            const std::vector<Shape> &operands);
/// Row-major index into an operand of a plan: 0 where it broadcasts.
std::vector<Halide::Expr> broadcastIndex(const Shape &operand,
                                         const std::vector<Halide::Var> &vars);

/// Vectorizes the innermost dim (guarded tails), parallelizes the fused outer
/// dims in chunks of at least `grain` elements when threads > 1.
void scheduleElementwise(KernelBuilder &kb, Halide::Func f, const Shape &shape,
                         Halide::Type t, int64_t grain = 0);

/// erf(x) for f32 by a piecewise polynomial fit (|error| < 1e-6).
Halide::Expr erfApprox(Halide::Expr x);
/// Activation epilogues shared by fused ops: "none|relu|gelu|gelu_tanh|tanh".
Halide::Expr applyActivation(const std::string &act, Halide::Expr x);
Halide::Expr geluExact(Halide::Expr x);
/// tanh through exp (vectorizes; Halide 14's tanh calls libm per lane).
Halide::Expr tanhApprox(Halide::Expr x);
Halide::Expr geluTanh(Halide::Expr x);

// Lowering entry points; each returns false when the op is not its family.
bool lowerElementwise(KernelBuilder &kb);
bool lowerMovement(KernelBuilder &kb);
bool lowerMatmul(KernelBuilder &kb);
bool lowerNorm(KernelBuilder &kb);
bool lowerAttention(KernelBuilder &kb);

/// Schedules `pipeline` (built by `kb` with kb.autoschedule() true) with
/// kb.opts.autoscheduler; throws Unsupported when that is not possible.
void autoschedulePipeline(KernelBuilder &kb, Halide::Pipeline &pipeline);

/// Matmul packing (MatmulKernels.cpp).
bool matmulUsesPacked(mlir::Operation *op, unsigned operand);
int64_t matmulPanelWidth(mlir::Operation *op);
ref::Tensor matmulPack(mlir::Operation *op, const ref::Tensor &value);

} // namespace kiln::halide::detail

#endif // KILN_CODEGEN_HALIDE_LOWERING_H

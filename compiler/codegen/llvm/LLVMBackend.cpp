// The LLVM backend's entry points: what it supports, kernel keys, and
// compiling one kiln op into a kernel function and an object file.
#include "kiln/Codegen/LLVMBackend.h"

#include "KernelBuilder.h"
#include "Pipeline.h"

#include "kiln/IR/KilnDialect.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::llvmgen;
using namespace kiln::llvmgen::detail;

namespace {

/// Bumped whenever generated code changes, so cached kernels are rebuilt.
constexpr const char *kBackendVersion = "kiln-llvm-1";

bool supportedElement(Type t) {
  if (t.isF32() || t.isF64())
    return true;
  auto i = dyn_cast<IntegerType>(t);
  return i && i.isSignless() &&
         (i.getWidth() == 64 || i.getWidth() == 32 || i.getWidth() == 8 ||
          i.getWidth() == 1);
}

std::string typeStr(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

std::string checkTypes(Operation *op) {
  if (!op->getDialect() || op->getDialect()->getNamespace() != "kiln")
    return "'" + op->getName().getStringRef().str() + "' is not a kiln op";
  auto check = [&](Type t, const char *what, unsigned i) -> std::string {
    auto ranked = dyn_cast<RankedTensorType>(t);
    std::string where = std::string(what) + " #" + std::to_string(i);
    if (!ranked || !ranked.hasStaticShape())
      return where + " has type " + typeStr(t) +
             "; the LLVM backend needs static shapes";
    if (!supportedElement(ranked.getElementType()))
      return where + " has element type " + typeStr(ranked.getElementType()) +
             "; the LLVM backend supports f32, f64, i64, i32, i8 and i1";
    return "";
  };
  for (auto [i, v] : llvm::enumerate(op->getOperands()))
    if (std::string e = check(v.getType(), "operand", i); !e.empty())
      return e;
  for (auto [i, v] : llvm::enumerate(op->getResults()))
    if (std::string e = check(v.getType(), "result", i); !e.empty())
      return e;
  return "";
}

LogicalResult dispatch(KernelBuilder &kb, Results &results) {
  Operation *op = kb.op;
  if (isa<IdentityOp, NegOp, AbsOp, SqrtOp, ReciprocalOp, ExpOp, LogOp, ErfOp,
          TanhOp, ReluOp, SigmoidOp, SinOp, CosOp, FloorOp, CeilOp, NotOp,
          GeluOp, CastOp, WhereOp>(op) ||
      isa<AddOp, SubOp, MulOp, DivOp, PowOp, MaxOp, MinOp, ModOp, EqualOp,
          LessOp, LessOrEqualOp, GreaterOp, GreaterOrEqualOp, AndOp, OrOp,
          XorOp>(op))
    return lowerElementwise(kb, results);
  if (isa<MatMulOp, GemmOp, FusedMatMulOp, EinsumOp>(op))
    return lowerLinalg(kb, results);
  if (isa<GatherOp, GatherElementsOp, ScatterElementsOp>(op))
    return lowerGather(kb, results);
  if (isa<ReduceMeanOp, ReduceSumOp, ReduceMaxOp, ReduceMinOp, ReduceProdOp,
          ArgMaxOp, SoftmaxOp, LogSoftmaxOp>(op))
    return lowerReduce(kb, results);
  if (isa<CumSumOp, TopKOp>(op))
    return lowerSequential(kb, results);
  if (isa<LayerNormOp, SkipLayerNormOp, LayerNormalizationOp,
          BatchNormalizationOp>(op))
    return lowerNorm(kb, results);
  if (isa<AttentionOp>(op))
    return lowerAttention(kb, results);
  return lowerMovement(kb, results);
}

/// Builds `func.func @fnName(memref args...)` for the op in `ctx`, at the
/// tensor level: inputs through bufferization.to_tensor, results written with
/// bufferization.materialize_in_destination into the output arguments.
OwningOpRef<ModuleOp> buildKernel(Operation *op, StringRef fnName,
                                  MLIRContext *ctx, std::string &error) {
  Location loc = UnknownLoc::get(ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  SmallVector<Type> argTypes;
  auto memrefOf = [&](Type t) -> Type {
    auto r = cast<RankedTensorType>(t);
    Type e = r.getElementType();
    Type st;
    if (e.isF32())
      st = Float32Type::get(ctx);
    else if (e.isF64())
      st = Float64Type::get(ctx);
    else
      st = IntegerType::get(ctx, std::max(8u, e.getIntOrFloatBitWidth()));
    if (r.getNumElements() == 0) // never accessed; see KernelBuilder::input
      return MemRefType::get({1}, st);
    return MemRefType::get(r.getShape(), st);
  };
  for (Value v : op->getOperands())
    argTypes.push_back(memrefOf(v.getType()));
  for (Value v : op->getResults())
    argTypes.push_back(memrefOf(v.getType()));
  OpBuilder mb(ctx);
  mb.setInsertionPointToEnd(module->getBody());
  auto fn = func::FuncOp::create(mb, loc, fnName,
                                 FunctionType::get(ctx, argTypes, {}));
  fn.addEntryBlock();
  KernelBuilder kb(op, fn);
  SmallVector<Value> results;
  if (failed(dispatch(kb, results))) {
    error = kb.error.empty() ? "lowering failed" : kb.error;
    return nullptr;
  }
  if (results.size() != op->getNumResults()) {
    error = "internal error: the lowering produced " +
            std::to_string(results.size()) + " results for " +
            std::to_string(op->getNumResults());
    return nullptr;
  }
  unsigned nIn = op->getNumOperands();
  for (auto [i, res] : llvm::enumerate(results)) {
    auto rt = cast<RankedTensorType>(res.getType());
    auto want = cast<MemRefType>(argTypes[nIn + i]);
    int64_t n =
        cast<RankedTensorType>(op->getResult(i).getType()).getNumElements();
    if (rt.getElementType() != want.getElementType() ||
        rt.getNumElements() != n) {
      error = "internal error: result #" + std::to_string(i) +
              " was lowered to " + typeStr(rt) + " for " + typeStr(want);
      return nullptr;
    }
    if (n == 0)
      continue; // nothing to write
    BlockArgument out = fn.getArgument(nIn + i);
    out.setType(MemRefType::get(rt.getShape(), rt.getElementType()));
    bufferization::MaterializeInDestinationOp::create(
        kb.b, loc, TypeRange{}, res, out, /*restrict=*/true, /*writable=*/true);
  }
  func::ReturnOp::create(kb.b, loc);
  fn.setType(
      FunctionType::get(ctx, fn.getBody().front().getArgumentTypes(), {}));
  for (unsigned i = 0; i < fn.getNumArguments(); ++i)
    fn.setArgAttr(i, LLVM::LLVMDialect::getNoAliasAttrName(),
                  UnitAttr::get(ctx));

  std::string diags;
  ScopedDiagnosticHandler handler(ctx, [&](Diagnostic &d) {
    diags += d.str() + "\n";
    return success();
  });
  if (failed(verify(*module))) {
    error = "internal error: the kernel IR does not verify: " + diags;
    return nullptr;
  }
  return module;
}

} // namespace

bool llvmgen::isSupported(Operation *op, std::string *why) {
  std::string reason = checkTypes(op);
  if (reason.empty())
    reason = checkOp(op);
  if (why)
    *why = reason;
  return reason.empty();
}

std::string llvmgen::kernelKey(Operation *op) {
  if (!isSupported(op))
    return "";
  std::string key;
  llvm::raw_string_ostream os(key);
  os << kBackendVersion << '|' << op->getName() << '|';
  for (Value v : op->getOperands())
    os << v.getType() << ',';
  os << "->";
  for (Value v : op->getResults())
    os << v.getType() << ',';
  // Inherent attributes only: discardable ones (pass markers) do not change
  // the code.
  for (StringAttr name : op->getName().getAttributeNames())
    if (std::optional<Attribute> a = op->getInherentAttr(name.getValue()))
      if (*a)
        os << '|' << name.getValue() << '=' << *a;
  if (isa<SliceOp>(op)) { // bounds are compiled in
    SmallVector<int64_t> start, step;
    computeSlice(op, start, step);
    os << "|start";
    for (int64_t s : start)
      os << ',' << s;
    os << "|step";
    for (int64_t s : step)
      os << ',' << s;
  }
  return key;
}

unsigned llvmgen::kernelArgCount(Operation *op) {
  return op->getNumOperands() + op->getNumResults();
}

std::string llvmgen::kernelTensorIR(Operation *op, StringRef fnName) {
  if (!isSupported(op))
    return "";
  std::unique_ptr<MLIRContext> ctx = makeKernelContext();
  std::string error;
  OwningOpRef<ModuleOp> module = buildKernel(op, fnName, ctx.get(), error);
  if (!module)
    return "";
  std::string s;
  llvm::raw_string_ostream os(s);
  module->print(os);
  return s;
}

LogicalResult llvmgen::compileKernelToObject(Operation *op, StringRef fnName,
                                             StringRef objPath,
                                             const CompileOptions &opts) {
  std::string why;
  if (!isSupported(op, &why))
    return op->emitError() << "LLVM backend: " << why;
  std::unique_ptr<MLIRContext> ctx = makeKernelContext();
  std::string error;
  OwningOpRef<ModuleOp> module = buildKernel(op, fnName, ctx.get(), error);
  if (!module)
    return op->emitError() << "LLVM backend: " << error;
  if (failed(lowerToLLVMDialect(*module, error)))
    return op->emitError() << "LLVM backend: " << error;
  if (!opts.dumpPrefix.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream os(opts.dumpPrefix + ".mlir", ec);
    if (!ec)
      module->print(os);
  }
  if (failed(emitObject(*module, objPath, opts, error)))
    return op->emitError() << "LLVM backend: " << error;
  return success();
}

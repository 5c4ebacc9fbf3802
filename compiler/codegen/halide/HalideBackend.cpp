// The Halide backend's public API: support checks, kernel keys, building
// pipelines, AOT compilation to objects, and JIT runs for tests.
#include "Lowering.h"

#include "kiln/Codegen/Target.h"
#include "kiln/IR/KilnDialect.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/raw_ostream.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

using namespace Halide;
using namespace kiln::halide::detail;
using llvm::FailureOr;
using llvm::LogicalResult;

namespace kiln::halide {

/// True when the CPU executes AVX512-FP16 instructions (CPUID.7.0:EDX[23]).
static bool cpuHasAvx512Fp16() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
    return false;
  return (d >> 23) & 1;
#else
  return false;
#endif
}

/// Halide 14's host detection can report features the CPU lacks: it reports
/// avx512_sapphirerapids on CPUs without AVX512-FP16 (Zen 4), and LLVM then
/// emits FP16 instructions (vmovsh) that fault. Every feature is checked
/// against the CPU's own ISA level (kiln::target::hostIsa, CPUID and the OS's
/// saved state); what it lacks is dropped.
static Target hostTarget() {
  Target t = get_host_target();
  if (t.arch != Target::X86)
    return t;
  unsigned isa = kiln::target::hostIsa();
  if (t.has_feature(Target::AVX512_SapphireRapids) && !cpuHasAvx512Fp16())
    t = t.without_feature(Target::AVX512_SapphireRapids);
  kiln::target::restrictTo(t, isa);
  if (!(isa & kiln::target::IsaAvx2) && t.has_feature(Target::FMA4))
    t = t.without_feature(Target::FMA4);
  return t;
}

FailureOr<Target> parseTarget(llvm::StringRef s, std::string *error) {
  if (s.empty() || s == "host")
    return hostTarget();
  for (const kiln::target::TargetInfo &named : kiln::target::namedTargets())
    if (named.name == s)
      return Target(named.halide);
  if (s.starts_with("host-")) {
    // Host plus extra features, e.g. "host-profile".
    Target t = hostTarget();
    llvm::SmallVector<llvm::StringRef> feats;
    s.drop_front(5).split(feats, '-');
    for (llvm::StringRef f : feats) {
      Target::Feature feature = Target::feature_from_name(f.str());
      if (feature == Target::FeatureEnd) {
        if (error)
          *error = "unknown Halide target feature '" + f.str() + "'";
        return llvm::failure();
      }
      t = t.with_feature(feature);
    }
    return t;
  }
  if (!Target::validate_target_string(s.str())) {
    if (error)
      *error = "invalid Halide target '" + s.str() + "'";
    return llvm::failure();
  }
  return Target(s.str());
}

namespace {
/// Builds the pipeline or throws Unsupported / Halide::Error / ref::Error.
KernelPipeline buildOrThrow(mlir::Operation *op, const KernelOptions &opts) {
  if (!op->getDialect() || op->getDialect()->getNamespace() != "kiln")
    unsupported("not a kiln op");
  std::string terr;
  FailureOr<Target> target = parseTarget(opts.target, &terr);
  if (llvm::failed(target))
    unsupported(terr);
  Target t = *target;
  if (opts.noAsserts)
    t = t.with_feature(Target::NoAsserts);
  for (mlir::Value v : op->getResults())
    if (product(staticShape(v)) == 0)
      unsupported("empty results are left to the LLVM backend");
  KernelBuilder kb(op, opts, t);
  if (!lowerElementwise(kb) && !lowerMovement(kb) && !lowerMatmul(kb) &&
      !lowerNorm(kb) && !lowerAttention(kb))
    unsupported("op '" + op->getName().getStringRef().str() +
                "' has no Halide kernel");
  for (const auto &kv : opts.params)
    if (!kb.usedParams.count(kv.first))
      unsupported("unknown schedule parameter '" + kv.first + "'");
  KernelPipeline kp;
  kp.pipeline = Pipeline(kb.outputs);
  if (!opts.autoscheduler.empty())
    autoschedulePipeline(kb, kp.pipeline);
  for (const ImageParam &p : kb.params) {
    kp.args.push_back(p);
    kp.inputs.push_back(p);
  }
  kp.signature = kb.args;
  kp.target = t;
  kp.params = kb.usedParams;
  return kp;
}

std::string describe(const std::exception &e) {
  std::string s = e.what();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}
} // namespace

FailureOr<KernelPipeline> buildKernel(mlir::Operation *op,
                                      const KernelOptions &opts) {
  try {
    return buildOrThrow(op, opts);
  } catch (const Unsupported &u) {
    op->emitOpError() << "cannot be compiled by the Halide backend: " << u.why;
  } catch (const Halide::Error &e) {
    op->emitOpError() << "Halide failed to build the kernel: " << describe(e);
  } catch (const ref::Error &e) {
    op->emitOpError() << describe(e);
  }
  return llvm::failure();
}

bool isSupported(mlir::Operation *op, std::string *why) {
  try {
    (void)buildOrThrow(op, KernelOptions());
    return true;
  } catch (const Unsupported &u) {
    if (why)
      *why = u.why;
  } catch (const Halide::Error &e) {
    if (why)
      *why = "Halide: " + describe(e);
  } catch (const ref::Error &e) {
    if (why)
      *why = describe(e);
  }
  return false;
}

std::string kernelKey(mlir::Operation *op) {
  std::vector<KernelArg> sig;
  try {
    sig = buildOrThrow(op, KernelOptions()).signature;
  } catch (...) {
    return "";
  }
  std::string key;
  llvm::raw_string_ostream os(key);
  os << op->getName().getStringRef() << "(";
  for (auto [i, v] : llvm::enumerate(op->getOperands())) {
    if (i)
      os << ", ";
    os << v.getType();
    bool isBuffer = false, packed = false;
    for (const KernelArg &a : sig)
      if (!a.isOutput && a.index == i) {
        isBuffer = true;
        packed = a.packed;
      }
    if (packed) {
      os << " packed";
    } else if (!isBuffer) {
      // Compile-time operands (shapes, slice bounds) change the code.
      if (auto ints = kiln::getConstantInts(v)) {
        os << " = [";
        llvm::interleaveComma(*ints, os);
        os << "]";
      }
    }
  }
  os << ") -> (";
  llvm::interleaveComma(op->getResultTypes(), os);
  os << ")";
  // Attributes, sorted by name (discardable ones like locations excluded).
  llvm::SmallVector<mlir::NamedAttribute> attrs(op->getAttrs().begin(),
                                                op->getAttrs().end());
  llvm::sort(attrs,
             [](const mlir::NamedAttribute &a, const mlir::NamedAttribute &b) {
               return a.getName().strref() < b.getName().strref();
             });
  for (const mlir::NamedAttribute &a : attrs) {
    if (a.getName().strref().starts_with("kiln."))
      continue; // annotations that do not change the kernel
    os << " " << a.getName().strref() << "=" << a.getValue();
  }
  return key;
}

FailureOr<std::vector<KernelArg>> kernelArgs(mlir::Operation *op) {
  FailureOr<KernelPipeline> kp = buildKernel(op);
  if (llvm::failed(kp))
    return llvm::failure();
  return kp->signature;
}

bool usesPackedWeight(mlir::Operation *op, unsigned operand) {
  try {
    return matmulUsesPacked(op, operand);
  } catch (const Unsupported &) {
    return false;
  }
}

int64_t packedPanelWidth(mlir::Operation *op) { return matmulPanelWidth(op); }

ref::Tensor packWeights(mlir::Operation *op, const ref::Tensor &value,
                        unsigned operand) {
  if (!usesPackedWeight(op, operand))
    throw ref::Error("operand " + std::to_string(operand) +
                     " of this op is not a packed weight");
  try {
    return matmulPack(op, value);
  } catch (const Unsupported &u) {
    throw ref::Error(u.why);
  }
}

std::map<std::string, int64_t> scheduleParamNames(mlir::Operation *op) {
  try {
    return buildOrThrow(op, KernelOptions()).params;
  } catch (...) {
    return {};
  }
}

static bool isIdentifier(llvm::StringRef s) {
  if (s.empty() || !(std::isalpha((unsigned char)s[0]) || s[0] == '_'))
    return false;
  return llvm::all_of(
      s, [](char c) { return std::isalnum((unsigned char)c) || c == '_'; });
}

LogicalResult compileKernel(mlir::Operation *op, llvm::StringRef fn,
                            const KernelOutputs &outputs,
                            const KernelOptions &opts) {
  if (!isIdentifier(fn))
    return op->emitError() << "kernel function name '" << fn
                           << "' is not a C identifier";
  FailureOr<KernelPipeline> kp = buildKernel(op, opts);
  if (llvm::failed(kp))
    return llvm::failure();
  std::map<OutputFileType, std::string> outs;
  auto add = [&](OutputFileType t, const std::string &path) {
    if (!path.empty())
      outs[t] = path;
  };
  add(OutputFileType::object, outputs.object);
  add(OutputFileType::c_header, outputs.header);
  add(OutputFileType::assembly, outputs.assembly);
  add(OutputFileType::stmt, outputs.stmt);
  add(OutputFileType::stmt_html, outputs.stmtHtml);
  add(OutputFileType::llvm_assembly, outputs.llvmAssembly);
  if (outs.empty())
    return llvm::success();
  try {
    kp->pipeline.compile_to(outs, kp->args, fn.str(),
                            kp->target.with_feature(Target::NoRuntime));
  } catch (const Halide::Error &e) {
    return op->emitOpError()
           << "Halide failed to compile the kernel: " << describe(e);
  }
  return llvm::success();
}

LogicalResult compileKernelToObject(mlir::Operation *op, llvm::StringRef fn,
                                    llvm::StringRef objPath,
                                    llvm::StringRef headerPath,
                                    const KernelOptions &opts) {
  KernelOutputs outs;
  outs.object = objPath.str();
  outs.header = headerPath.str();
  return compileKernel(op, fn, outs, opts);
}

LogicalResult compileKernelToObject(mlir::Operation *op, llvm::StringRef fn,
                                    llvm::StringRef objPath,
                                    const KernelOptions &opts) {
  return compileKernelToObject(op, fn, objPath, "", opts);
}

LogicalResult compileRuntimeObject(llvm::StringRef objPath,
                                   llvm::StringRef target,
                                   std::string *errorMessage) {
  std::string err;
  FailureOr<Target> t = parseTarget(target, &err);
  if (llvm::failed(t)) {
    if (errorMessage)
      *errorMessage = err;
    return llvm::failure();
  }
  try {
    compile_standalone_runtime(objPath.str(), *t);
  } catch (const Halide::Error &e) {
    if (errorMessage)
      *errorMessage = describe(e);
    return llvm::failure();
  }
  return llvm::success();
}

static std::vector<int> halideSizes(const std::vector<int64_t> &shape) {
  return std::vector<int>(shape.rbegin(), shape.rend());
}

FailureOr<std::vector<ref::Tensor>>
runKernelJIT(mlir::Operation *op, llvm::ArrayRef<ref::Tensor> inputs,
             const KernelOptions &opts) {
  if (inputs.size() != op->getNumOperands())
    return op->emitError() << "runKernelJIT: expected " << op->getNumOperands()
                           << " inputs, got " << inputs.size();
  FailureOr<KernelPipeline> kp = buildKernel(op, opts);
  if (llvm::failed(kp))
    return llvm::failure();
  std::vector<ref::Tensor> packed; // keeps packed copies alive
  packed.reserve(inputs.size());
  std::vector<ref::Tensor> results;
  ParamMap pm;
  std::vector<Buffer<>> outBufs;
  try {
    for (mlir::Value v : op->getResults())
      results.emplace_back(
          dtypeOf(mlir::cast<mlir::ShapedType>(v.getType()).getElementType()),
          staticShape(v));
    size_t in = 0;
    for (const KernelArg &a : kp->signature) {
      if (a.isOutput)
        continue;
      const ref::Tensor *t = &inputs[a.index];
      if (a.packed) {
        packed.push_back(packWeights(op, *t, a.index));
        t = &packed.back();
      }
      if (t->dtype() != a.dtype || t->numel() != product(a.shape))
        return op->emitError()
               << "runKernelJIT: input " << a.index << " is "
               << ref::dtypeName(t->dtype()) << " " << ref::shapeStr(t->shape())
               << ", kernel expects " << ref::dtypeName(a.dtype) << " "
               << ref::shapeStr(a.shape);
      Buffer<> b(storageType(a.dtype), const_cast<void *>(t->raw()),
                 halideSizes(a.shape));
      pm.set(kp->inputs[in++], b);
    }
    for (const KernelArg &a : kp->signature)
      if (a.isOutput)
        outBufs.push_back(Buffer<>(storageType(a.dtype), results[a.index].raw(),
                                   halideSizes(a.shape)));
    Realization real(outBufs);
    kp->pipeline.compile_jit(kp->target);
    kp->pipeline.realize(real, kp->target, pm);
  } catch (const Halide::Error &e) {
    return op->emitOpError() << "Halide JIT failed: " << describe(e);
  } catch (const ref::Error &e) {
    return op->emitOpError() << describe(e);
  } catch (const Unsupported &u) {
    return op->emitOpError() << u.why;
  }
  // Bool outputs hold 0/1 bytes already; nothing to convert.
  return results;
}

} // namespace kiln::halide

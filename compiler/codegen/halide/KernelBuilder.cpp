// The per-kernel builder of the Halide backend: buffer arguments, row-major
// loads/stores, broadcasting plans, elementwise schedules and math helpers.
#include "Lowering.h"

#include "mlir/IR/BuiltinTypes.h"

#include <thread>

using namespace Halide;

namespace kiln::halide::detail {

void unsupported(const std::string &why) { throw Unsupported{why}; }

int64_t normAxis(int64_t axis, size_t rank) {
  int64_t a = axis < 0 ? axis + (int64_t)rank : axis;
  if (a < 0 || a >= (int64_t)rank)
    unsupported("axis " + std::to_string(axis) + " out of range");
  return a;
}

ref::DType dtypeOf(mlir::Type t) {
  if (t.isF32())
    return ref::DType::F32;
  if (t.isF64())
    return ref::DType::F64;
  if (t.isF16())
    return ref::DType::F16;
  if (t.isBF16())
    return ref::DType::BF16;
  if (auto it = mlir::dyn_cast<mlir::IntegerType>(t)) {
    switch (it.getWidth()) {
    case 1:
      return ref::DType::Bool;
    case 8:
      return it.isUnsigned() ? ref::DType::U8 : ref::DType::I8;
    case 32:
      if (!it.isUnsigned())
        return ref::DType::I32;
      break;
    case 64:
      if (!it.isUnsigned())
        return ref::DType::I64;
      break;
    }
  }
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "element type " << t << " is not supported";
  unsupported(s);
}

Type storageType(ref::DType t) {
  switch (t) {
  case ref::DType::F32:
    return Float(32);
  case ref::DType::F64:
    return Float(64);
  case ref::DType::F16:
    return Float(16);
  case ref::DType::BF16:
    return BFloat(16);
  case ref::DType::I64:
    return Int(64);
  case ref::DType::I32:
    return Int(32);
  case ref::DType::I8:
    return Int(8);
  case ref::DType::U8:
  case ref::DType::Bool:
    return UInt(8);
  }
  return Float(32);
}

Type computeType(ref::DType t) {
  switch (t) {
  case ref::DType::F16:
  case ref::DType::BF16:
    return Float(32);
  case ref::DType::Bool:
    return Bool();
  default:
    return storageType(t);
  }
}

bool isFloatType(ref::DType t) { return ref::isFloat(t); }

Shape staticShape(mlir::Value v) {
  auto type = mlir::dyn_cast<mlir::RankedTensorType>(v.getType());
  if (!type)
    unsupported("operand is not a ranked tensor");
  if (!type.hasStaticShape())
    unsupported("dynamic shapes are not supported by the Halide backend");
  Shape s(type.getShape().begin(), type.getShape().end());
  // Halide buffers hold int32 extents.
  if (product(s) >= (int64_t(1) << 31))
    unsupported("tensor too large for a Halide buffer");
  return s;
}

int64_t product(const Shape &s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < std::min(end, s.size()); ++i)
    p *= s[i];
  return p;
}

KernelBuilder::KernelBuilder(mlir::Operation *op, const KernelOptions &opts,
                             const Target &target)
    : op(op), opts(opts), target(target) {
  threads = opts.threads > 0
                ? opts.threads
                : std::max(1u, std::thread::hardware_concurrency());
}

ref::DType KernelBuilder::resultDType(unsigned r) const {
  auto t = mlir::cast<mlir::ShapedType>(op->getResult(r).getType());
  return dtypeOf(t.getElementType());
}

Shape KernelBuilder::resultShape(unsigned r) const {
  return staticShape(op->getResult(r));
}

ref::DType KernelBuilder::operandDType(unsigned o) const {
  auto t = mlir::dyn_cast<mlir::ShapedType>(op->getOperand(o).getType());
  if (!t)
    unsupported("operand is not a tensor");
  return dtypeOf(t.getElementType());
}

int KernelBuilder::input(unsigned operand, Shape shape, bool packed,
                         std::optional<ref::DType> dtype) {
  ref::DType dt = dtype ? *dtype : operandDType(operand);
  Shape own = operandShape(operand);
  if (shape.empty())
    shape = own.empty() ? Shape{1} : own;
  if (!packed && product(shape) != product(own))
    unsupported("internal: input view has the wrong element count");
  int idx = (int)params.size();
  ImageParam p(storageType(dt), (int)shape.size(), "in" + std::to_string(idx));
  int64_t stride = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t e = shape[shape.size() - 1 - i];
    // Estimates only guide autoschedulers; manual schedules ignore them.
    p.dim((int)i).set_bounds(0, (int)e).set_stride((int)stride);
    p.dim((int)i).set_estimate(0, (int)e);
    stride *= e;
  }
  KernelArg a;
  a.name = p.name();
  a.isOutput = false;
  a.index = operand;
  a.dtype = dt;
  a.shape = shape;
  a.packed = packed;
  args.push_back(a);
  params.push_back(p);
  return idx;
}

Expr KernelBuilder::load(int in, const std::vector<Expr> &idx) const {
  std::vector<Expr> rev(idx.rbegin(), idx.rend());
  Expr v = params[in](rev);
  ref::DType dt = args[in].dtype;
  if (dt == ref::DType::Bool)
    return v != cast(v.type(), 0);
  if (dt == ref::DType::F16 || dt == ref::DType::BF16)
    return cast(Float(32), v);
  return v;
}

std::vector<Var> KernelBuilder::vars(size_t rank, const std::string &prefix) {
  std::vector<Var> v;
  for (size_t i = 0; i < rank; ++i)
    v.push_back(Var(prefix + std::to_string(i)));
  return v;
}

Func KernelBuilder::output(const std::string &name,
                           const std::vector<Var> &vars,
                           const std::vector<Expr> &values,
                           const std::vector<unsigned> &results,
                           const Shape &shape) {
  Func f(name);
  std::vector<Var> hv(vars.rbegin(), vars.rend());
  std::vector<Expr> stored;
  for (size_t i = 0; i < values.size(); ++i)
    stored.push_back(cast(storageType(resultDType(results[i])), values[i]));
  if (stored.size() == 1)
    f(hv) = stored[0];
  else
    f(hv) = Tuple(stored);
  addOutput(f, results, shape);
  return f;
}

void KernelBuilder::addOutput(Func f, const std::vector<unsigned> &results,
                              const Shape &shape) {
  std::vector<Var> hv = f.args();
  if (hv.size() != shape.size())
    unsupported("internal: output rank mismatch");
  for (size_t i = 0; i < hv.size(); ++i) {
    f.bound(hv[i], 0, (int)shape[shape.size() - 1 - i]);
    f.set_estimate(hv[i], 0, (int)shape[shape.size() - 1 - i]);
  }
  // Halide lets only the first buffer of a Tuple output carry bounds; the
  // others share them.
  bool first = true;
  for (OutputImageParam buf : f.output_buffers()) {
    int64_t stride = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
      int64_t e = shape[shape.size() - 1 - i];
      if (first)
        buf.dim((int)i).set_bounds(0, (int)e);
      buf.dim((int)i).set_stride((int)stride);
      stride *= e;
    }
    first = false;
  }
  for (unsigned r : results) {
    if (product(shape) != product(resultShape(r)))
      unsupported("internal: output view has the wrong element count");
    KernelArg a;
    a.name = "out" + std::to_string(nextOut++);
    a.isOutput = true;
    a.index = r;
    a.dtype = resultDType(r);
    a.shape = shape;
    args.push_back(a);
  }
  outputs.push_back(f);
}

int64_t KernelBuilder::param(const std::string &name, int64_t def) {
  auto it = opts.params.find(name);
  int64_t v = it == opts.params.end() ? def : it->second;
  usedParams[name] = v;
  return v;
}

Expr callRowMajor(const Func &f, std::vector<Expr> idx) {
  std::reverse(idx.begin(), idx.end());
  return Func(f)(idx);
}

std::vector<Expr> toExprs(const std::vector<Var> &vars) {
  return std::vector<Expr>(vars.begin(), vars.end());
}

BroadcastPlan planBroadcast(const Shape &out,
                            const std::vector<Shape> &operands) {
  size_t rank = out.size();
  std::vector<Shape> aligned;
  for (const Shape &s : operands) {
    if (s.size() > rank)
      unsupported("internal: operand rank above the result's");
    Shape a(rank - s.size(), 1);
    a.insert(a.end(), s.begin(), s.end());
    for (size_t d = 0; d < rank; ++d)
      if (a[d] != 1 && a[d] != out[d])
        unsupported("operand shapes do not broadcast to the result");
    aligned.push_back(a);
  }
  BroadcastPlan plan;
  plan.operands.resize(operands.size());
  std::vector<bool> prevMask;
  for (size_t d = 0; d < rank; ++d) {
    if (out[d] == 1)
      continue;
    std::vector<bool> mask;
    for (const Shape &a : aligned)
      mask.push_back(a[d] == 1);
    if (!plan.out.empty() && mask == prevMask) {
      plan.out.back() *= out[d];
      for (size_t i = 0; i < aligned.size(); ++i)
        if (!mask[i])
          plan.operands[i].back() *= out[d];
    } else {
      plan.out.push_back(out[d]);
      for (size_t i = 0; i < aligned.size(); ++i)
        plan.operands[i].push_back(mask[i] ? 1 : out[d]);
    }
    prevMask = mask;
  }
  if (plan.out.empty()) {
    plan.out = {1};
    for (Shape &s : plan.operands)
      s = {1};
  }
  return plan;
}

std::vector<Expr> broadcastIndex(const Shape &operand,
                                 const std::vector<Var> &vars) {
  std::vector<Expr> idx;
  for (size_t d = 0; d < vars.size(); ++d)
    idx.push_back(operand[d] == 1 ? Expr(0) : Expr(vars[d]));
  return idx;
}

void scheduleElementwise(KernelBuilder &kb, Func f, const Shape &shape, Type t,
                         int64_t grain) {
  if (kb.autoschedule())
    return;
  std::vector<Var> hv = f.args();
  size_t rank = hv.size();
  int vw = std::max(1, kb.lanes(t));
  int64_t inner = shape.back();
  int64_t total = product(shape);
  if (grain <= 0)
    grain = kb.param("parallel_grain", 32768);
  bool par = kb.threads > 1 && total >= 2 * grain;
  if (rank == 1) {
    if (par) {
      int64_t chunk = std::max<int64_t>(grain, total / (kb.threads * 8));
      chunk = (chunk + vw - 1) / vw * vw;
      Var o("o"), i("i");
      f.split(hv[0], o, i, (int)chunk, TailStrategy::GuardWithIf).parallel(o);
      if (inner > 1)
        f.vectorize(i, vw, TailStrategy::GuardWithIf);
    } else if (inner > 1) {
      f.vectorize(hv[0], vw, TailStrategy::GuardWithIf);
    }
    return;
  }
  if (inner > 1)
    f.vectorize(hv[0], vw, TailStrategy::GuardWithIf);
  if (!par)
    return;
  Var cur = hv[rank - 1];
  for (size_t d = rank - 1; d-- > 1;) {
    Var fused(cur.name() + "_" + hv[d].name());
    f.fuse(hv[d], cur, fused);
    cur = fused;
  }
  int64_t rowsPerTask = (grain + inner - 1) / inner;
  if (rowsPerTask > 1) {
    Var o("to"), i("ti");
    f.split(cur, o, i, (int)rowsPerTask, TailStrategy::GuardWithIf).parallel(o);
  } else {
    f.parallel(cur);
  }
}

static Expr horner(const std::vector<float> &c, Expr t) {
  Expr r = c.back();
  for (size_t i = c.size() - 1; i-- > 0;)
    r = r * t + c[i];
  return r;
}

Expr erfApprox(Expr x) {
  // Coefficients from tools/fit_erf.py (max abs error 1.4e-7 in f32).
  static const std::vector<float> p = {1.128379150e+00f, -3.761241473e-01f,
                                       1.128078896e-01f, -2.672698978e-02f,
                                       4.934518828e-03f, -5.696712997e-04f};
  static const std::vector<float> q = {
      -1.591672765e-04f, 2.849863773e-01f, 2.592251766e-01f,  3.493894189e-01f,
      -1.068324629e-01f, 5.671387313e-01f, -4.737497525e-01f, 1.200597532e-01f};
  x = cast(Float(32), x);
  Expr ax = abs(x);
  Expr small = x * horner(p, x * x);
  Expr xc = clamp(ax, 1.0f, 4.0f);
  Expr t = 1.0f / (1.0f + 0.5f * xc);
  Expr large = 1.0f - exp(-xc * xc) * horner(q, t);
  return select(ax < 1.0f, small, select(x < 0.0f, -large, large));
}

Expr tanhApprox(Expr x) {
  // tanh(x) = sign(x)·(1 - e)/(1 + e), e = exp(-2|x|): vectorizes (Halide's
  // own tanh calls libm per lane).
  Expr e = exp(-2.0f * abs(x));
  Expr r = (1.0f - e) / (1.0f + e);
  return select(x < 0.0f, -r, r);
}

Expr geluExact(Expr x) {
  return 0.5f * x * (1.0f + erfApprox(x * 0.70710678118654752f));
}

Expr geluTanh(Expr x) {
  Expr inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + tanhApprox(inner));
}

Expr applyActivation(const std::string &act, Expr x) {
  if (act == "none")
    return x;
  if (act == "relu")
    return max(x, 0.0f);
  if (act == "gelu")
    return geluExact(x);
  if (act == "gelu_tanh")
    return geluTanh(x);
  if (act == "tanh")
    return tanhApprox(x);
  unsupported("activation '" + act + "' is not supported");
}

} // namespace kiln::halide::detail

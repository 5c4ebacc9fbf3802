// Halide kernels for row-wise ops: softmax / log_softmax, reductions, argmax,
// cumsum, and the layer norms (layer_normalization, layer_norm,
// skip_layer_norm, RMS variant).
// Rows are reduced with vectorized partial results (rfactor) and each row is
// read from memory once (later passes hit L1).
#include "Lowering.h"

#include "kiln/IR/KilnDialect.h"

#include "llvm/ADT/TypeSwitch.h"

#include <functional>

using namespace Halide;

namespace kiln::halide::detail {
namespace {

enum class Fold { Sum, Max, Min, Prod };

Expr foldInit(Fold k, Type t) {
  switch (k) {
  case Fold::Sum:
    return cast(t, 0);
  case Fold::Prod:
    return cast(t, 1);
  case Fold::Max:
    return t.min(); // -inf for floats
  case Fold::Min:
    return t.max();
  }
  return cast(t, 0);
}

Expr foldStep(Fold k, Expr acc, Expr v) {
  switch (k) {
  case Fold::Sum:
    return acc + v;
  case Fold::Prod:
    return acc * v;
  case Fold::Max:
    return max(acc, v);
  case Fold::Min:
    return min(acc, v);
  }
  return acc;
}

/// red(outer...) = fold of value(x) over x in [0, n), with vector partial
/// results (rfactor) when n >= vw. Schedule it with computeAt().
struct Reduction {
  Func red, intm;
  Var u;
  bool vectorized = false;
};

Reduction innerReduce(const std::string &name,
                      const std::function<Expr(Expr)> &value,
                      const std::vector<Var> &outer, int64_t n, Fold kind,
                      Type t, int vw, bool factor = true) {
  Reduction res;
  res.red = Func(name);
  Func &red = res.red;
  RDom r(0, (int)n, name + "_r");
  red(outer) = foldInit(kind, t);
  red(outer) = foldStep(kind, red(outer), value(r.x));
  if (factor && n >= vw) {
    RVar ro(name + "_ro"), ri(name + "_ri");
    res.u = Var(name + "_u");
    red.update().split(r.x, ro, ri, vw, TailStrategy::GuardWithIf);
    res.intm = red.update().rfactor(ri, res.u);
    // rfactor appends u as the outermost dim; keep the lanes contiguous.
    std::vector<Var> order = {res.u};
    order.insert(order.end(), outer.begin(), outer.end());
    res.intm.reorder_storage(order);
    res.vectorized = true;
  }
  return res;
}

void computeAt(const Reduction &r, Func consumer, const Var &level) {
  Func red = r.red;
  red.compute_at(consumer, level);
  if (r.vectorized) {
    Func intm = r.intm;
    intm.compute_at(consumer, level).vectorize(r.u);
    intm.update().vectorize(r.u);
  }
}

/// Splits the rows of `out` (var `row`, `nrows` rows of `rowLen`) into
/// parallel tasks; returns the loop level to compute per-row work at.
Var parallelRows(KernelBuilder &kb, Func out, Var row, int64_t nrows,
                 int64_t rowLen) {
  int64_t grain = kb.param("parallel_grain", 32768);
  if (kb.threads <= 1 || nrows < 2 || nrows * rowLen < 2 * grain)
    return row;
  int64_t per = std::max<int64_t>(1, grain / std::max<int64_t>(rowLen, 1));
  per = std::min<int64_t>(per, (nrows + 2 * kb.threads - 1) / (2 * kb.threads));
  per = std::max<int64_t>(per, 1);
  if (per == 1) {
    out.parallel(row);
    return row;
  }
  Var ro("row_o"), ri("row_i");
  out.split(row, ro, ri, (int)per, TailStrategy::GuardWithIf).parallel(ro);
  return ri;
}

void requireF32(KernelBuilder &kb, unsigned operand) {
  if (kb.operandDType(operand) != ref::DType::F32)
    unsupported("this kernel supports f32 only");
}

bool lowerSoftmax(KernelBuilder &kb) {
  bool isLog = mlir::isa<LogSoftmaxOp>(kb.op);
  if (!isLog && !mlir::isa<SoftmaxOp>(kb.op))
    return false;
  requireF32(kb, 0);
  int64_t axisAttr = isLog ? mlir::cast<LogSoftmaxOp>(kb.op).getAxis()
                           : mlir::cast<SoftmaxOp>(kb.op).getAxis();
  Shape in = kb.operandShape(0);
  if (in.empty())
    in = {1};
  int64_t axis = normAxis(axisAttr, in.size());
  int64_t outer = product(in, 0, axis), A = in[axis],
          inner = product(in, axis + 1);
  if (A == 0 || outer * inner == 0)
    unsupported("empty softmax");
  Type f = Float(32);
  int vw = kb.lanes(f);
  Func out("out");
  if (inner == 1) {
    Shape view = {outer, A};
    int x = kb.input(0, view);
    Var c("c"), row("row");
    Func xin("xin"), ex("ex");
    xin(c, row) = kb.load(x, {row, c});
    Reduction mx = innerReduce(
        "mx", [&](Expr e) { return xin(e, row); }, {row}, A, Fold::Max, f, vw,
        !kb.autoschedule());
    ex(c, row) = exp(xin(c, row) - mx.red(row));
    Reduction sm = innerReduce(
        "sum", [&](Expr e) { return ex(e, row); }, {row}, A, Fold::Sum, f, vw,
        !kb.autoschedule());
    Expr y = isLog ? Expr(xin(c, row) - mx.red(row) - log(sm.red(row)))
                   : Expr(ex(c, row) * (1.0f / sm.red(row)));
    out(c, row) = y;
    kb.addOutput(out, {0}, view);
    if (kb.autoschedule())
      return true;
    out.vectorize(c, vw, TailStrategy::GuardWithIf);
    Var lvl = parallelRows(kb, out, row, outer, A);
    computeAt(mx, out, lvl);
    computeAt(sm, out, lvl);
    if (!isLog)
      ex.compute_at(out, lvl).vectorize(c, vw, TailStrategy::GuardWithIf);
    return true;
  }
  // Reduce over a middle axis: vectorize across the contiguous inner dim.
  Shape view = {outer, A, inner};
  int x = kb.input(0, view);
  Var i("i"), a("a"), o("o");
  Func xin("xin"), mx("mx"), ex("ex"), sm("sm");
  xin(i, a, o) = kb.load(x, {o, a, i});
  RDom r(0, (int)A, "r");
  mx(i, o) = f.min();
  mx(i, o) = max(mx(i, o), xin(i, r, o));
  ex(i, a, o) = exp(xin(i, a, o) - mx(i, o));
  sm(i, o) = 0.0f;
  sm(i, o) += ex(i, r, o);
  out(i, a, o) = isLog ? Expr(xin(i, a, o) - mx(i, o) - log(sm(i, o)))
                       : Expr(ex(i, a, o) / sm(i, o));
  kb.addOutput(out, {0}, view);
  if (kb.autoschedule())
    return true;
  out.vectorize(i, vw, TailStrategy::GuardWithIf);
  Var lvl = parallelRows(kb, out, o, outer, A * inner);
  for (Func fn : {mx, sm}) {
    fn.compute_at(out, lvl).vectorize(i, vw, TailStrategy::GuardWithIf);
    fn.update().reorder(i, r.x).vectorize(i, vw, TailStrategy::GuardWithIf);
  }
  if (!isLog)
    ex.compute_at(out, lvl).vectorize(i, vw, TailStrategy::GuardWithIf);
  return true;
}

bool lowerReduce(KernelBuilder &kb) {
  std::optional<Fold> kind =
      llvm::TypeSwitch<mlir::Operation *, std::optional<Fold>>(kb.op)
          .Case([](ReduceSumOp) { return Fold::Sum; })
          .Case([](ReduceMeanOp) { return Fold::Sum; })
          .Case([](ReduceMaxOp) { return Fold::Max; })
          .Case([](ReduceMinOp) { return Fold::Min; })
          .Case([](ReduceProdOp) { return Fold::Prod; })
          .Default([](mlir::Operation *) { return std::nullopt; });
  if (!kind)
    return false;
  bool mean = mlir::isa<ReduceMeanOp>(kb.op);
  ref::DType dt = kb.operandDType(0);
  if (dt == ref::DType::Bool)
    unsupported("reductions of bool tensors");
  if (mean && !isFloatType(dt))
    unsupported("reduce_mean needs a float tensor");
  auto axesAttr = kb.op->getAttrOfType<mlir::DenseI64ArrayAttr>("axes");
  bool noop =
      kb.op->getAttrOfType<mlir::BoolAttr>("noop_with_empty_axes").getValue();
  Shape in = kb.operandShape(0);
  std::vector<bool> red(in.size(), false);
  if (axesAttr.empty()) {
    if (noop) {
      // Identity: a flat copy.
      Shape flat = {std::max<int64_t>(1, product(in))};
      int x = kb.input(0, flat);
      std::vector<Var> v = kb.vars(1);
      Func f = kb.output("out", v, {kb.load(x, toExprs(v))}, {0}, flat);
      scheduleElementwise(kb, f, flat, storageType(kb.resultDType(0)));
      return true;
    }
    red.assign(in.size(), true);
  }
  for (int64_t a : axesAttr.asArrayRef())
    red[normAxis(a, in.size())] = true;
  // Coalesce: drop size-1 dims, merge neighbours with the same role.
  Shape view;
  std::vector<bool> role;
  int64_t count = 1;
  for (size_t d = 0; d < in.size(); ++d) {
    if (red[d])
      count *= in[d];
    if (in[d] == 1)
      continue;
    if (!role.empty() && role.back() == red[d]) {
      view.back() *= in[d];
    } else {
      view.push_back(in[d]);
      role.push_back(red[d]);
    }
  }
  if (count == 0 || product(in) == 0)
    unsupported("empty reductions are not supported");
  if (view.empty()) {
    view = {1};
    role = {false};
  }
  Shape outView;
  for (size_t g = 0; g < view.size(); ++g)
    if (!role[g])
      outView.push_back(view[g]);
  bool anyKept = !outView.empty();
  if (!anyKept)
    outView = {1};
  int x = kb.input(0, view);
  Type ct = computeType(dt);
  std::vector<Var> ov = kb.vars(outView.size(), "o");
  std::vector<Var> hov(ov.rbegin(), ov.rend());
  // RDom over reduced groups, innermost first.
  std::vector<Range> ranges;
  for (size_t g = view.size(); g-- > 0;)
    if (role[g])
      ranges.push_back(Range(0, (int)view[g]));
  Func out("out");
  int vw = kb.lanes(ct);
  bool innerReduced = role.back();
  if (ranges.empty()) {
    // Nothing reduced (all reduced dims had size 1): a copy.
    out(hov) = cast(storageType(kb.resultDType(0)), kb.load(x, toExprs(ov)));
    kb.addOutput(out, {0}, outView);
    scheduleElementwise(kb, out, outView, storageType(kb.resultDType(0)));
    return true;
  }
  RDom r(ranges, "r");
  std::vector<Expr> idx;
  size_t ki = 0, ri = ranges.size();
  for (size_t g = 0; g < view.size(); ++g)
    idx.push_back(role[g] ? Expr(r[--ri])
                          : Expr(anyKept ? Expr(ov[ki++]) : Expr(0)));
  Func acc("acc");
  acc(hov) = foldInit(*kind, ct);
  acc(hov) = foldStep(*kind, acc(hov), kb.load(x, idx));
  Expr y = acc(hov);
  if (mean)
    y = y / cast(ct, Expr((int64_t)count));
  out(hov) = cast(storageType(kb.resultDType(0)), y);
  kb.addOutput(out, {0}, outView);
  if (kb.autoschedule())
    return true;
  int64_t inner = outView.back();
  if (!innerReduced && inner > 1) {
    // Vectorize across the contiguous kept dim; reduce outside it.
    Var vo("vo"), vi("vi");
    out.split(hov[0], vo, vi, vw, TailStrategy::GuardWithIf).vectorize(vi);
    Var lvl = vo;
    if (outView.size() > 1)
      lvl = parallelRows(kb, out, hov.back(), outView.front(),
                         product(view) / outView.front());
    acc.compute_at(out, vo).vectorize(hov[0], vw, TailStrategy::GuardWithIf);
    std::vector<VarOrRVar> order = {hov[0]};
    for (size_t i = 0; i < ranges.size(); ++i)
      order.push_back(r[i]);
    for (size_t i = 1; i < hov.size(); ++i)
      order.push_back(hov[i]);
    acc.update().reorder(order).vectorize(hov[0], vw,
                                          TailStrategy::GuardWithIf);
    (void)lvl;
    return true;
  }
  // The innermost dim is reduced: vector partial results through rfactor,
  // one output element at a time.
  Var lvl = hov[0];
  if (anyKept) {
    Var rowLvl = parallelRows(kb, out, hov.back(), outView.front(),
                              product(view) / outView.front());
    if (hov.size() == 1)
      lvl = rowLvl;
  }
  acc.compute_at(out, lvl);
  if (view.back() >= vw) {
    RVar ro("ro"), rin("rin");
    Var u("u");
    acc.update().split(r[0], ro, rin, vw, TailStrategy::GuardWithIf);
    Func intm = acc.update().rfactor(rin, u);
    std::vector<Var> order = {u};
    order.insert(order.end(), hov.begin(), hov.end());
    intm.reorder_storage(order).compute_at(out, lvl).vectorize(u);
    intm.update().vectorize(u);
  }
  return true;
}

/// The shared row-normalization kernel. `skip`/`bias` are optional operands
/// added first; `sumResult` is the result index that receives the sum.
void layerNormKernel(KernelBuilder &kb, int64_t rows, int64_t n, unsigned xOp,
                     std::optional<unsigned> skipOp, unsigned gammaOp,
                     std::optional<unsigned> betaOp,
                     std::optional<unsigned> biasOp, float eps, bool rms,
                     std::optional<unsigned> sumResult) {
  Type f = Float(32);
  int vw = kb.lanes(f);
  Shape view = {rows, n};
  int x = kb.input(xOp, view);
  auto vecParam = [&](unsigned o) {
    int64_t e = product(kb.operandShape(o));
    if (e != n && e != 1)
      unsupported("normalization parameters must have " + std::to_string(n) +
                  " elements (or 1)");
    return std::make_pair(kb.input(o, {e}), e == 1);
  };
  Var c("c"), row("row");
  Func s("s");
  Expr sv = kb.load(x, {row, c});
  if (skipOp) {
    int64_t e = product(kb.operandShape(*skipOp));
    if (e == rows * n) {
      int sk = kb.input(*skipOp, view);
      sv = sv + kb.load(sk, {row, c});
    } else if (e == n) {
      int sk = kb.input(*skipOp, {n});
      sv = sv + kb.load(sk, {c});
    } else {
      unsupported("skip must have the input's shape or its last dim");
    }
  }
  if (biasOp) {
    auto [bi, scalar] = vecParam(*biasOp);
    sv = sv + kb.load(bi, {scalar ? Expr(0) : Expr(c)});
  }
  s(c, row) = sv;
  auto [g, gScalar] = vecParam(gammaOp);
  float invN = 1.0f / (float)n;
  Func mean("mean"), rstd("rstd");
  std::optional<Reduction> sum;
  if (!rms) {
    sum = innerReduce(
        "sum", [&](Expr e) { return s(e, row); }, {row}, n, Fold::Sum, f, vw,
        !kb.autoschedule());
    mean(row) = sum->red(row) * invN;
  }
  Reduction sq = innerReduce(
      "sumsq",
      [&](Expr e) {
        Expr d = rms ? Expr(s(e, row)) : Expr(s(e, row) - mean(row));
        return d * d;
      },
      {row}, n, Fold::Sum, f, vw, !kb.autoschedule());
  rstd(row) = 1.0f / sqrt(sq.red(row) * invN + eps);
  Expr yc = rms ? Expr(s(c, row)) : Expr(s(c, row) - mean(row));
  Expr y = yc * rstd(row) * kb.load(g, {gScalar ? Expr(0) : Expr(c)});
  if (betaOp) {
    auto [b, bScalar] = vecParam(*betaOp);
    y = y + kb.load(b, {bScalar ? Expr(0) : Expr(c)});
  }
  Func out("out");
  std::vector<Expr> vals = {cast(storageType(kb.resultDType(0)), y)};
  std::vector<unsigned> results = {0};
  if (sumResult) {
    vals.push_back(cast(storageType(kb.resultDType(*sumResult)), s(c, row)));
    results.push_back(*sumResult);
  }
  if (vals.size() == 1)
    out(c, row) = vals[0];
  else
    out(c, row) = Tuple(vals);
  kb.addOutput(out, results, view);
  if (kb.autoschedule())
    return;
  out.vectorize(c, vw, TailStrategy::GuardWithIf);
  Var lvl = parallelRows(kb, out, row, rows, n);
  if (skipOp || biasOp)
    s.compute_at(out, lvl).vectorize(c, vw, TailStrategy::GuardWithIf);
  if (sum) {
    computeAt(*sum, out, lvl);
    mean.compute_at(out, lvl);
  }
  computeAt(sq, out, lvl);
  rstd.compute_at(out, lvl);
}

bool lowerLayerNorms(KernelBuilder &kb) {
  mlir::Operation *op = kb.op;
  if (auto ln = mlir::dyn_cast<LayerNormOp>(op)) {
    for (unsigned i = 0; i < op->getNumOperands(); ++i)
      requireF32(kb, i);
    Shape in = kb.operandShape(0);
    if (in.empty())
      unsupported("layer_norm of a scalar");
    int64_t n = in.back();
    std::optional<unsigned> beta;
    if (ln.getBeta())
      beta = 2;
    layerNormKernel(kb, product(in) / std::max<int64_t>(n, 1), n, 0,
                    std::nullopt, 1, beta, std::nullopt,
                    ln.getEpsilon().convertToFloat(), ln.getRms(),
                    std::nullopt);
    return true;
  }
  if (auto ln = mlir::dyn_cast<LayerNormalizationOp>(op)) {
    for (unsigned i = 0; i < op->getNumOperands(); ++i)
      requireF32(kb, i);
    Shape in = kb.operandShape(0);
    if (in.empty())
      unsupported("layer_normalization of a scalar");
    int64_t axis = normAxis(ln.getAxis(), in.size());
    int64_t n = product(in, axis);
    std::optional<unsigned> beta;
    if (ln.getBias())
      beta = 2;
    layerNormKernel(kb, product(in, 0, axis), n, 0, std::nullopt, 1, beta,
                    std::nullopt, ln.getEpsilon().convertToFloat(), false,
                    std::nullopt);
    return true;
  }
  if (auto sl = mlir::dyn_cast<SkipLayerNormOp>(op)) {
    for (unsigned i = 0; i < op->getNumOperands(); ++i)
      requireF32(kb, i);
    Shape in = kb.operandShape(0);
    if (in.empty())
      unsupported("skip_layer_norm of a scalar");
    int64_t n = in.back();
    // Operands: input, skip, gamma, beta?, bias? (segment sizes tell which).
    std::optional<unsigned> beta, bias;
    unsigned next = 3;
    if (sl.getBeta())
      beta = next++;
    if (sl.getBias())
      bias = next++;
    std::optional<unsigned> sum;
    if (op->getNumResults() > 1)
      sum = 1;
    layerNormKernel(kb, product(in) / std::max<int64_t>(n, 1), n, 0, 1u, 2,
                    beta, bias, sl.getEpsilon().convertToFloat(), sl.getRms(),
                    sum);
    return true;
  }
  return false;
}

/// argmax along an axis: first (or last) index of the maximum; NaN counts as
/// the maximum and the first NaN wins.
bool lowerArgMax(KernelBuilder &kb) {
  auto am = mlir::dyn_cast<ArgMaxOp>(kb.op);
  if (!am)
    return false;
  ref::DType dt = kb.operandDType(0);
  if (dt == ref::DType::Bool || dt == ref::DType::F16 || dt == ref::DType::BF16)
    unsupported("argmax of this element type");
  Shape in = kb.operandShape(0);
  if (in.empty())
    in = {1};
  int64_t axis = normAxis(am.getAxis(), in.size());
  int64_t outer = product(in, 0, axis), A = in[axis],
          inner = product(in, axis + 1);
  if (A == 0 || outer * inner == 0)
    unsupported("empty argmax");
  int x = kb.input(0, {outer, A, inner});
  Var i("i"), o("o");
  Func red("red");
  red(i, o) = Tuple(cast(Int(64), 0), kb.load(x, {o, 0, i}));
  if (A > 1) {
    RDom r(1, (int)A - 1, "r");
    Expr v = kb.load(x, {o, r, i}), best = red(i, o)[1];
    bool isF = isFloatType(dt);
    Expr better;
    if (am.getSelectLastIndex())
      better =
          isF ? (!is_nan(best) && (v >= best || is_nan(v))) : Expr(v >= best);
    else
      better =
          isF ? (v > best || (is_nan(v) && !is_nan(best))) : Expr(v > best);
    red(i, o) = Tuple(select(better, cast(Int(64), r), red(i, o)[0]),
                      select(better, v, best));
    if (!kb.autoschedule())
      red.update().reorder(i, r.x);
  }
  Func out("out");
  out(i, o) = red(i, o)[0];
  Shape view = {outer, inner};
  kb.addOutput(out, {0}, view);
  if (kb.autoschedule())
    return true;
  int vw = kb.lanes(Int(64));
  Var lvl = parallelRows(kb, out, o, outer, A * inner);
  red.compute_at(out, lvl);
  if (inner > 1) {
    out.vectorize(i, vw, TailStrategy::GuardWithIf);
    red.vectorize(i, vw, TailStrategy::GuardWithIf);
    if (A > 1)
      red.update().vectorize(i, vw, TailStrategy::GuardWithIf);
  }
  return true;
}

/// cumsum along an axis (exclusive / reverse variants), as a sequential scan
/// vectorized across the contiguous inner dims.
bool lowerCumSum(KernelBuilder &kb) {
  auto cs = mlir::dyn_cast<CumSumOp>(kb.op);
  if (!cs)
    return false;
  ref::DType dt = kb.operandDType(0);
  if (dt != ref::DType::F32 && dt != ref::DType::F64 && dt != ref::DType::I64 &&
      dt != ref::DType::I32)
    unsupported("cumsum of this element type");
  Shape in = kb.operandShape(0);
  if (in.empty())
    unsupported("cumsum of a scalar");
  int64_t axis = normAxis(cs.getAxis(), in.size());
  int64_t outer = product(in, 0, axis), A = in[axis],
          inner = product(in, axis + 1);
  if (A == 0 || outer * inner == 0)
    unsupported("empty cumsum");
  Shape view = {outer, A, inner};
  int x = kb.input(0, view);
  Var i("i"), a("a"), o("o");
  bool excl = cs.getExclusive(), rev = cs.getReverse();
  Type t = storageType(dt);
  // Position p (0 first in scan order) is element a = p or A-1-p.
  auto pos = [&](Expr p) { return rev ? Expr((int)A - 1 - p) : p; };
  Func out("out");
  Expr first = excl ? cast(t, 0) : kb.load(x, {o, pos(0), i});
  out(i, a, o) = select(a == pos(0), first, cast(t, 0));
  std::optional<RDom> r;
  if (A > 1) {
    r = RDom(1, (int)A - 1, "r");
    Expr p = r->x;
    Expr add =
        excl ? kb.load(x, {o, pos(p - 1), i}) : kb.load(x, {o, pos(p), i});
    out(i, pos(p), o) = out(i, pos(p - 1), o) + add;
  }
  kb.addOutput(out, {0}, view);
  if (kb.autoschedule())
    return true;
  int vw = kb.lanes(t);
  bool par = kb.threads > 1 && outer > 1 &&
             product(view) >= 2 * kb.param("parallel_grain", 32768);
  if (inner > 1)
    out.vectorize(i, vw, TailStrategy::GuardWithIf);
  if (r) {
    Stage u = out.update();
    u.reorder(i, r->x, o);
    if (inner > 1)
      u.vectorize(i, vw, TailStrategy::GuardWithIf);
    if (par)
      u.parallel(o);
  }
  return true;
}

} // namespace

bool lowerNorm(KernelBuilder &kb) {
  return lowerSoftmax(kb) || lowerReduce(kb) || lowerLayerNorms(kb) ||
         lowerArgMax(kb) || lowerCumSum(kb);
}

} // namespace kiln::halide::detail

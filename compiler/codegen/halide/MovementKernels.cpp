// Halide kernels for kiln's data-movement ops: reshape-like copies, transpose
// (tiled), concat, split, slice, gather, gather_elements, expand and tile.
#include "Lowering.h"

#include "kiln/IR/KilnDialect.h"

using namespace Halide;

namespace kiln::halide::detail {
namespace {

std::vector<int64_t> constInts(mlir::Value v, const char *what) {
  std::optional<llvm::SmallVector<int64_t>> ints = getConstantInts(v);
  if (!ints)
    unsupported(std::string(what) + " must be a constant");
  return std::vector<int64_t>(ints->begin(), ints->end());
}

/// Reshape, flatten, squeeze, unsqueeze: a flat copy.
bool lowerReshapeLike(KernelBuilder &kb) {
  if (!mlir::isa<ReshapeOp, FlattenOp, SqueezeOp, UnsqueezeOp>(kb.op))
    return false;
  int64_t n = product(kb.resultShape(0));
  if (product(kb.operandShape(0)) != n)
    unsupported("input and result element counts differ");
  Shape flat = {n};
  int in = kb.input(0, flat);
  std::vector<Var> v = kb.vars(1);
  Func f = kb.output("out", v, {kb.load(in, toExprs(v))}, {0}, flat);
  scheduleElementwise(kb, f, flat, storageType(kb.resultDType(0)));
  return true;
}

bool lowerTranspose(KernelBuilder &kb) {
  auto tr = mlir::dyn_cast<TransposeOp>(kb.op);
  if (!tr)
    return false;
  Shape in = kb.operandShape(0);
  size_t rank = in.size();
  std::vector<int64_t> perm(tr.getPerm().begin(), tr.getPerm().end());
  if (perm.empty())
    for (size_t i = 0; i < rank; ++i)
      perm.push_back((int64_t)(rank - 1 - i));
  if (perm.size() != rank)
    unsupported("perm has the wrong length");
  // Drop size-1 input dims, then merge output dims that are consecutive input
  // dims, so that each remaining dim moves.
  std::vector<int64_t> keep; // input dims kept, in input order
  for (size_t d = 0; d < rank; ++d)
    if (in[d] != 1)
      keep.push_back((int64_t)d);
  std::vector<int64_t> p; // perm over kept dims (positions in `keep`)
  for (int64_t d : perm) {
    auto it = std::find(keep.begin(), keep.end(), d);
    if (it != keep.end())
      p.push_back(it - keep.begin());
  }
  std::vector<std::vector<int64_t>> groups; // output groups of input positions
  for (int64_t d : p) {
    if (!groups.empty() && groups.back().back() + 1 == d)
      groups.back().push_back(d);
    else
      groups.push_back({d});
  }
  // Input dims of the coalesced view: groups sorted by first input position.
  std::vector<size_t> order(groups.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return groups[a][0] < groups[b][0]; });
  Shape inView, outView;
  std::vector<size_t> inPosOfGroup(groups.size());
  for (size_t j = 0; j < order.size(); ++j) {
    int64_t e = 1;
    for (int64_t d : groups[order[j]])
      e *= in[keep[d]];
    inView.push_back(e);
    inPosOfGroup[order[j]] = j;
  }
  for (const auto &g : groups) {
    int64_t e = 1;
    for (int64_t d : g)
      e *= in[keep[d]];
    outView.push_back(e);
  }
  if (outView.empty()) {
    inView = outView = {1};
    groups = {{0}};
    inPosOfGroup = {0};
  }
  size_t r = outView.size();
  int x = kb.input(0, inView);
  std::vector<Var> v = kb.vars(r);
  // src: the input in its own dim order, so it can be staged per tile.
  Func src("src");
  std::vector<Var> sv = kb.vars(r, "s");
  src(std::vector<Var>(sv.rbegin(), sv.rend())) =
      kb.params[x](std::vector<Expr>(sv.rbegin(), sv.rend()));
  std::vector<Expr> idx(r);
  for (size_t g = 0; g < r; ++g)
    idx[inPosOfGroup[g]] = v[g];
  Expr val = callRowMajor(src, idx);
  ref::DType dt = kb.resultDType(0);
  Func f("out");
  std::vector<Var> hv(v.rbegin(), v.rend());
  f(hv) = val;
  kb.addOutput(f, {0}, outView);
  if (kb.autoschedule())
    return true;
  Type st = storageType(dt);
  if (r == 1 || inPosOfGroup[r - 1] == r - 1) {
    scheduleElementwise(kb, f, outView, st);
    return true;
  }
  // The output's innermost dim a is strided in the input; the input's
  // innermost dim is output dim b. Tile (a, b) and stage the input tile.
  size_t b = 0;
  for (size_t g = 0; g < r; ++g)
    if (inPosOfGroup[g] == r - 1)
      b = g;
  int vw = kb.lanes(st);
  int64_t ta = std::min<int64_t>(vw, outView[r - 1]);
  int64_t tb = std::min<int64_t>(vw, outView[b]);
  Var ao("ao"), ai("ai"), bo("bo"), bi("bi");
  std::vector<VarOrRVar> loops = {ai, bi, ao, bo};
  for (size_t g = r; g-- > 0;)
    if (g != r - 1 && g != b)
      loops.push_back(v[g]);
  f.split(v[r - 1], ao, ai, (int)ta, TailStrategy::ShiftInwards)
      .split(v[b], bo, bi, (int)tb, TailStrategy::ShiftInwards)
      .reorder(loops)
      .vectorize(ai)
      .unroll(bi);
  src.compute_at(f, ao).vectorize(sv[r - 1]).unroll(sv[inPosOfGroup[r - 1]]);
  int64_t total = product(outView);
  int64_t grain = kb.param("parallel_grain", 32768);
  if (kb.threads > 1 && total >= 2 * grain) {
    // Outer loops after bo: the other output dims, innermost first.
    Var cur = bo;
    for (size_t g = r; g-- > 0;) {
      if (g == r - 1 || g == b)
        continue;
      Var fused(cur.name() + "_" + v[g].name());
      f.fuse(cur, v[g], fused);
      cur = fused;
    }
    f.parallel(cur);
  }
  return true;
}

bool lowerConcat(KernelBuilder &kb) {
  auto cc = mlir::dyn_cast<ConcatOp>(kb.op);
  if (!cc)
    return false;
  Shape out = kb.resultShape(0);
  int64_t axis = normAxis(cc.getAxis(), out.size());
  int64_t outer = product(out, 0, axis), inner = product(out, axis + 1);
  Shape view = {outer, out[axis], inner};
  std::vector<Var> v = kb.vars(3);
  std::vector<Var> hv(v.rbegin(), v.rend());
  Func f("out");
  Type st = storageType(kb.resultDType(0));
  f(hv) = undef(st);
  int64_t off = 0;
  std::vector<int> updates;
  for (unsigned i = 0; i < kb.op->getNumOperands(); ++i) {
    int64_t a = kb.operandShape(i)[axis];
    if (a == 0)
      continue;
    int in = kb.input(i, {outer, a, inner});
    RDom r(0, (int)a, "r" + std::to_string(i));
    Expr val = cast(st, kb.params[in](v[2], r, v[0]));
    f(v[2], r + (int)off, v[0]) = val;
    updates.push_back((int)updates.size());
    off += a;
  }
  if (off != out[axis])
    unsupported("concat inputs do not add up to the result");
  kb.addOutput(f, {0}, view);
  if (kb.autoschedule())
    return true;
  int vw = kb.lanes(st);
  int64_t grain = kb.param("parallel_grain", 32768);
  bool par = kb.threads > 1 && product(view) >= 2 * grain;
  for (int u : updates) {
    Stage s = f.update(u);
    if (inner > 1)
      s.vectorize(v[2], vw, TailStrategy::GuardWithIf);
    if (par && outer > 1)
      s.parallel(v[0]);
  }
  return true;
}

bool lowerSplit(KernelBuilder &kb) {
  auto sp = mlir::dyn_cast<SplitOp>(kb.op);
  if (!sp)
    return false;
  Shape in = kb.operandShape(0);
  int64_t axis = normAxis(sp.getAxis(), in.size());
  int64_t outer = product(in, 0, axis), inner = product(in, axis + 1);
  int x = kb.input(0, {outer, in[axis], inner});
  int64_t off = 0;
  for (unsigned r = 0; r < kb.op->getNumResults(); ++r) {
    int64_t a = kb.resultShape(r)[axis];
    Shape view = {outer, a, inner};
    if (product(view) == 0)
      unsupported("empty split outputs are not supported");
    std::vector<Var> v = kb.vars(3);
    Expr val = kb.load(x, {v[0], v[1] + (int)off, v[2]});
    Func f = kb.output("out" + std::to_string(r), v, {val}, {r}, view);
    scheduleElementwise(kb, f, view, storageType(kb.resultDType(r)));
    off += a;
  }
  if (off != in[axis])
    unsupported("split sizes do not add up to the input");
  return true;
}

bool lowerSlice(KernelBuilder &kb) {
  auto sl = mlir::dyn_cast<SliceOp>(kb.op);
  if (!sl)
    return false;
  Shape in = kb.operandShape(0), out = kb.resultShape(0);
  size_t rank = in.size();
  std::vector<int64_t> starts = constInts(sl.getStarts(), "slice starts");
  std::vector<int64_t> ends = constInts(sl.getEnds(), "slice ends");
  std::vector<int64_t> axes = constInts(sl.getAxes(), "slice axes");
  std::vector<int64_t> steps = constInts(sl.getSteps(), "slice steps");
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back((int64_t)i);
  if (steps.empty())
    steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size())
    unsupported("slice starts/ends/axes/steps lengths differ");
  std::vector<int64_t> first(rank, 0), step(rank, 1);
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t a = normAxis(axes[i], rank), d = in[a], st = steps[i];
    if (st == 0)
      unsupported("slice step 0");
    int64_t s = starts[i], e = ends[i];
    s = s < 0 ? s + d : s;
    e = e < 0 ? e + d : e;
    if (st > 0) {
      s = std::clamp<int64_t>(s, 0, d);
      e = std::clamp<int64_t>(e, 0, d);
    } else {
      s = std::clamp<int64_t>(s, 0, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
    }
    int64_t n = st > 0 ? std::max<int64_t>(0, (e - s + st - 1) / st)
                       : std::max<int64_t>(0, (s - e + (-st) - 1) / (-st));
    if (n != out[a])
      unsupported("slice result shape does not match its bounds");
    first[a] = s;
    step[a] = st;
  }
  if (product(out) == 0)
    unsupported("empty slices are not supported");
  Shape outView = out.empty() ? Shape{1} : out;
  int x = kb.input(0);
  std::vector<Var> v = kb.vars(outView.size());
  std::vector<Expr> idx;
  for (size_t d = 0; d < rank; ++d)
    idx.push_back(Expr((int)first[d]) + Expr((int)step[d]) * v[d]);
  Func f = kb.output("out", v, {kb.load(x, idx)}, {0}, outView);
  scheduleElementwise(kb, f, outView, storageType(kb.resultDType(0)));
  return true;
}

Expr indexExpr(Expr raw, int64_t dim) {
  Expr i = cast(Int(32), raw);
  i = select(i < 0, i + (int)dim, i);
  // Out-of-range indices are clamped: the kernel never reads out of bounds.
  return clamp(i, 0, (int)dim - 1);
}

bool lowerGather(KernelBuilder &kb) {
  auto g = mlir::dyn_cast<GatherOp>(kb.op);
  if (!g)
    return false;
  Shape in = kb.operandShape(0);
  if (in.empty())
    unsupported("gather of a scalar");
  int64_t axis = normAxis(g.getAxis(), in.size());
  int64_t outer = product(in, 0, axis), inner = product(in, axis + 1);
  int64_t nIdx = product(kb.operandShape(1));
  Shape view = {outer, nIdx, inner};
  if (product(view) == 0)
    unsupported("empty gathers are not supported");
  int x = kb.input(0, {outer, in[axis], inner});
  int ix = kb.input(1, {nIdx});
  std::vector<Var> v = kb.vars(3);
  Expr i = indexExpr(kb.load(ix, {v[1]}), in[axis]);
  Func f = kb.output("out", v, {kb.load(x, {v[0], i, v[2]})}, {0}, view);
  scheduleElementwise(kb, f, view, storageType(kb.resultDType(0)));
  return true;
}

bool lowerGatherElements(KernelBuilder &kb) {
  auto g = mlir::dyn_cast<GatherElementsOp>(kb.op);
  if (!g)
    return false;
  Shape in = kb.operandShape(0), is = kb.operandShape(1);
  if (in.empty() || in.size() != is.size())
    unsupported("gather_elements needs indices of the input's rank");
  int64_t axis = normAxis(g.getAxis(), in.size());
  if (product(is) == 0)
    unsupported("empty gathers are not supported");
  int x = kb.input(0), ix = kb.input(1);
  std::vector<Var> v = kb.vars(is.size());
  std::vector<Expr> idx = toExprs(v);
  idx[axis] = indexExpr(kb.load(ix, toExprs(v)), in[axis]);
  Func f = kb.output("out", v, {kb.load(x, idx)}, {0}, is);
  scheduleElementwise(kb, f, is, storageType(kb.resultDType(0)));
  return true;
}

bool lowerExpand(KernelBuilder &kb) {
  if (!mlir::isa<ExpandOp>(kb.op))
    return false;
  Shape out = kb.resultShape(0);
  BroadcastPlan plan = planBroadcast(out, {kb.operandShape(0)});
  int x = kb.input(0, plan.operands[0]);
  std::vector<Var> v = kb.vars(plan.out.size());
  Func f =
      kb.output("out", v, {kb.load(x, broadcastIndex(plan.operands[0], v))},
                {0}, plan.out);
  scheduleElementwise(kb, f, plan.out, storageType(kb.resultDType(0)));
  return true;
}

bool lowerTile(KernelBuilder &kb) {
  if (!mlir::isa<TileOp>(kb.op))
    return false;
  Shape in = kb.operandShape(0), out = kb.resultShape(0);
  if (in.empty() || product(out) == 0)
    unsupported("tile of a scalar or to an empty tensor");
  int x = kb.input(0);
  std::vector<Var> v = kb.vars(out.size());
  std::vector<Expr> idx;
  for (size_t d = 0; d < in.size(); ++d)
    idx.push_back(in[d] == out[d] ? Expr(v[d]) : Expr(v[d] % (int)in[d]));
  Func f = kb.output("out", v, {kb.load(x, idx)}, {0}, out);
  scheduleElementwise(kb, f, out, storageType(kb.resultDType(0)));
  return true;
}

} // namespace

bool lowerMovement(KernelBuilder &kb) {
  return lowerReshapeLike(kb) || lowerTranspose(kb) || lowerConcat(kb) ||
         lowerSplit(kb) || lowerSlice(kb) || lowerGather(kb) ||
         lowerGatherElements(kb) || lowerExpand(kb) || lowerTile(kb);
}

} // namespace kiln::halide::detail

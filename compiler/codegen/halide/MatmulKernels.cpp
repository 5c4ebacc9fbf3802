// Halide kernels for matmul, gemm and fused_matmul: a register-tiled GEMM whose
// tile follows the target's vector width and register file (reduction
// innermost), constant weights read in a pre-packed panel layout shared by
// every target, batch broadcasting, and a fused epilogue.
#include "Lowering.h"

#include "kiln/IR/KilnDialect.h"

#include <algorithm>

using namespace Halide;

namespace kiln::halide::detail {
namespace {

/// Width of a packed weight panel in f32 elements. One layout for every
/// target, so a fat library shares one copy of the weights: 48 is 3 AVX-512,
/// 6 AVX2 or 12 SSE vectors, and every target's register tile width (below)
/// divides it. Narrow weights use panels rounded up to kPackedAlign.
constexpr int64_t kPackedPanel = 48;
constexpr int64_t kPackedAlign = 16;

/// The register tile of a target: `vectors` f32 vectors wide (the B panel
/// held in registers) by `rows` rows of A broadcast one at a time. The
/// accumulators (vectors x rows), the B vectors and one broadcast must fit
/// the register file: 3 x 8 (24 + 3 + 1 = 28 of 32 zmm) with AVX-512, 3 x 4
/// (12 + 3 + 1 = 16 of 16 ymm/xmm) with AVX2 or SSE. (2 x 6, also 12
/// accumulators, measured 70-82% of the AVX2 peak on two threads at BERT
/// shapes against 84-92% for 3 x 4; BENCHMARKS.md.)
struct RegisterTile {
  int64_t vectors, rows;
};
RegisterTile registerTile(int registers) {
  if (registers >= 32)
    return {3, 8};
  return {3, 4};
}

/// The op's operands in a common form.
struct MatmulView {
  unsigned a = 0, b = 1;
  std::optional<unsigned> epi; // bias (fused_matmul) or C (gemm)
  bool transA = false, transB = false;
  float alpha = 1, beta = 1;
  std::string activation = "none";
  Shape aShape, bShape; // as stored
  Shape batchA, batchB, batchOut;
  int64_t M = 0, K = 0, N = 0;
};

MatmulView viewOf(mlir::Operation *op) {
  MatmulView v;
  if (auto mm = mlir::dyn_cast<MatMulOp>(op)) {
    (void)mm;
  } else if (auto g = mlir::dyn_cast<GemmOp>(op)) {
    v.transA = g.getTransA();
    v.transB = g.getTransB();
    v.alpha = g.getAlpha().convertToFloat();
    v.beta = g.getBeta().convertToFloat();
    if (g.getC())
      v.epi = 2;
  } else if (auto f = mlir::dyn_cast<FusedMatMulOp>(op)) {
    v.transB = f.getTransB();
    v.alpha = f.getAlpha().convertToFloat();
    v.activation = f.getActivation().str();
    if (f.getBias())
      v.epi = 2;
  } else {
    unsupported("not a matmul");
  }
  v.aShape = staticShape(op->getOperand(0));
  v.bShape = staticShape(op->getOperand(1));
  Shape a = v.aShape, b = v.bShape;
  if (a.empty() || b.empty())
    unsupported("matmul of a scalar");
  if (mlir::isa<GemmOp>(op) && (a.size() != 2 || b.size() != 2))
    unsupported("gemm needs 2-D operands");
  if (a.size() == 1)
    a.insert(a.begin(), 1);
  if (b.size() == 1)
    b.push_back(1);
  size_t ra = a.size(), rb = b.size();
  v.M = v.transA ? a[ra - 1] : a[ra - 2];
  v.K = v.transA ? a[ra - 2] : a[ra - 1];
  int64_t kb = v.transB ? b[rb - 1] : b[rb - 2];
  v.N = v.transB ? b[rb - 2] : b[rb - 1];
  if (kb != v.K)
    unsupported("matmul inner dimensions differ");
  if (v.K == 0 || v.M == 0 || v.N == 0)
    unsupported("empty matmuls are not supported");
  v.batchA.assign(a.begin(), a.end() - 2);
  v.batchB.assign(b.begin(), b.end() - 2);
  size_t nb = std::max(v.batchA.size(), v.batchB.size());
  v.batchA.insert(v.batchA.begin(), nb - v.batchA.size(), 1);
  v.batchB.insert(v.batchB.begin(), nb - v.batchB.size(), 1);
  for (size_t i = 0; i < nb; ++i) {
    int64_t x = v.batchA[i], y = v.batchB[i];
    if (x != y && x != 1 && y != 1)
      unsupported("matmul batch dimensions do not broadcast");
    v.batchOut.push_back(std::max(x, y));
  }
  return v;
}

bool isF32(mlir::Value v) {
  auto t = mlir::dyn_cast<mlir::ShapedType>(v.getType());
  return t && t.getElementType().isF32();
}

int64_t panelWidth(int64_t n) {
  if (n >= kPackedPanel)
    return kPackedPanel;
  return (n + kPackedAlign - 1) / kPackedAlign * kPackedAlign;
}

} // namespace

bool matmulUsesPacked(mlir::Operation *op, unsigned operand) {
  if (operand != 1 || !mlir::isa<MatMulOp, GemmOp, FusedMatMulOp>(op))
    return false;
  if (!getConstantValue(op->getOperand(1)))
    return false;
  for (mlir::Value v : op->getOperands())
    if (!isF32(v))
      return false;
  MatmulView v = viewOf(op);
  return v.bShape.size() == 2;
}

int64_t matmulPanelWidth(mlir::Operation *op) {
  return panelWidth(viewOf(op).N);
}

ref::Tensor matmulPack(mlir::Operation *op, const ref::Tensor &value) {
  MatmulView v = viewOf(op);
  if (value.shape() != v.bShape || value.dtype() != ref::DType::F32)
    throw ref::Error("packWeights: expected an f32 tensor of shape " +
                     ref::shapeStr(v.bShape) + ", got " +
                     ref::dtypeName(value.dtype()) + " " +
                     ref::shapeStr(value.shape()));
  int64_t p = panelWidth(v.N), panels = (v.N + p - 1) / p, K = v.K, N = v.N;
  ref::Tensor out(ref::DType::F32, {panels, K, p});
  const float *src = value.data<float>();
  float *dst = out.data<float>();
  for (int64_t pi = 0; pi < panels; ++pi)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < p; ++j) {
        int64_t n = pi * p + j;
        float x = 0;
        if (n < N)
          x = v.transB ? src[n * K + k] : src[k * N + n];
        dst[(pi * K + k) * p + j] = x;
      }
  return out;
}

bool lowerMatmul(KernelBuilder &kb) {
  mlir::Operation *op = kb.op;
  if (!mlir::isa<MatMulOp, GemmOp, FusedMatMulOp>(op))
    return false;
  for (mlir::Value x : op->getOperands())
    if (!isF32(x))
      unsupported("matmul kernels support f32 only");
  MatmulView mv = viewOf(op);
  applyActivation(mv.activation, Expr(0.0f)); // validates the name
  bool packed = matmulUsesPacked(op, 1);
  int64_t M = mv.M, N = mv.N, K = mv.K;
  // B without batch dims: fold A's batch dims into M (A is contiguous).
  bool fold = !mv.transA && product(mv.batchB) == 1 &&
              product(mv.batchA) == product(mv.batchOut);
  BroadcastPlan bp;
  int64_t Mv = M;
  if (fold) {
    Mv = product(mv.batchOut) * M;
    bp.out.clear();
  } else {
    bp = planBroadcast(mv.batchOut.empty() ? Shape{1} : mv.batchOut,
                       {mv.batchA.empty() ? Shape{1} : mv.batchA,
                        mv.batchB.empty() ? Shape{1} : mv.batchB});
    if (bp.out.size() == 1 && bp.out[0] == 1)
      bp.out.clear(); // no batch at all
  }
  size_t nb = bp.out.size();
  Shape aBatch = nb ? bp.operands[0] : Shape{},
        bBatch = nb ? bp.operands[1] : Shape{};

  // Inputs.
  Shape aView = aBatch;
  if (mv.transA) {
    aView.push_back(K);
    aView.push_back(M);
  } else {
    aView.push_back(Mv);
    aView.push_back(K);
  }
  int a = kb.input(mv.a, aView);
  int64_t P = panelWidth(N);
  int vw = kb.lanes(Float(32));
  RegisterTile rt = registerTile(kb.vectorRegisters());
  int64_t mt =
      std::min<int64_t>(std::max<int64_t>(1, kb.param("tile_m", rt.rows)), Mv);
  int64_t panelVectors =
      std::clamp<int64_t>(kb.param("panel_vectors", rt.vectors), 1, 8);
  int64_t nt;
  if (packed) {
    // The widest whole-vector tile <= panelVectors that divides the panel.
    nt = P;
    for (int64_t v = std::min<int64_t>(panelVectors, P / vw); v >= 1; --v)
      if (P % (v * vw) == 0) {
        nt = v * vw;
        break;
      }
  } else if (N >= panelVectors * vw) {
    nt = panelVectors * vw;
  } else if (N >= vw) {
    nt = N / vw * vw;
  } else {
    nt = N;
  }
  int b;
  if (packed) {
    b = kb.input(mv.b, {(N + P - 1) / P, K, P}, /*packed=*/true);
  } else {
    Shape bView = bBatch;
    bView.push_back(mv.transB ? N : K);
    bView.push_back(mv.transB ? K : N);
    b = kb.input(mv.b, bView);
  }

  // Vars: row-major [batch..., m, n].
  std::vector<Var> bv = kb.vars(nb, "b");
  Var m("m"), n("n");
  auto batchIdx = [&](const Shape &opBatch) {
    std::vector<Expr> idx;
    for (size_t i = 0; i < nb; ++i)
      idx.push_back(opBatch[i] == 1 ? Expr(0) : Expr(bv[i]));
    return idx;
  };
  RDom r(0, (int)K, "k");
  auto aAt = [&](Expr k, Expr mm) {
    std::vector<Expr> idx = batchIdx(aBatch);
    if (mv.transA) {
      idx.push_back(k);
      idx.push_back(mm);
    } else {
      idx.push_back(mm);
      idx.push_back(k);
    }
    return kb.load(a, idx);
  };
  std::vector<Var> hb(bv.rbegin(), bv.rend()); // Halide-order batch vars
  auto hargs = [&](std::vector<Var> inner) {
    inner.insert(inner.end(), hb.begin(), hb.end());
    return inner;
  };

  Func bs("b_staged"); // B with n contiguous (non-packed, transposed B)
  Var sn("sn"), sk("sk");
  if (!packed && mv.transB) {
    std::vector<Expr> idx = batchIdx(bBatch);
    std::vector<Var> sargs = {sn, sk};
    for (size_t i = 0; i < nb; ++i)
      sargs.push_back(hb[i]);
    idx.push_back(sn);
    idx.push_back(sk);
    bs(sargs) = kb.load(b, idx);
  }
  auto bAt = [&](Expr k, Expr nn) -> Expr {
    if (!packed && mv.transB) {
      std::vector<Expr> args = {nn, k};
      std::vector<Expr> bi = batchIdx(bBatch);
      for (size_t i = nb; i-- > 0;)
        args.push_back(bi[i]);
      return bs(args);
    }
    std::vector<Expr> idx = batchIdx(bBatch);
    idx.push_back(k);
    idx.push_back(nn);
    return kb.load(b, idx);
  };

  Var ni("ni"), no("no");
  Func prod("prod");
  Expr acc;
  if (packed) {
    // prod(ni, no, m): column ni of tile no (nt wide; P / nt tiles a panel).
    int chunks = (int)(P / nt);
    prod(hargs({ni, no, m})) = 0.0f;
    prod(hargs({ni, no, m})) +=
        aAt(r, m) * kb.load(b, {no / chunks, r, (no % chunks) * (int)nt + ni});
    std::vector<Expr> pa = {n % (int)nt, n / (int)nt, m};
    for (Var &x : hb)
      pa.push_back(x);
    acc = prod(pa);
  } else {
    prod(hargs({n, m})) = 0.0f;
    prod(hargs({n, m})) += aAt(r, m) * bAt(r, n);
    acc = prod(hargs({n, m}));
  }

  // Epilogue: alpha, bias / beta·C, activation.
  Expr y = mv.alpha == 1.0f ? acc : acc * mv.alpha;
  if (mv.epi) {
    Shape es = kb.operandShape(*mv.epi);
    Shape full = mv.batchOut;
    full.push_back(M);
    full.push_back(N);
    if (es.size() > full.size())
      unsupported("bias has more dims than the product");
    es.insert(es.begin(), full.size() - es.size(), 1);
    for (size_t i = 0; i < full.size(); ++i)
      if (es[i] != 1 && es[i] != full[i])
        unsupported("bias does not broadcast to the product");
    bool mFull = es[full.size() - 2] == M && M != 1;
    bool nFull = es[full.size() - 1] == N && N != 1;
    Shape eb(es.begin(), es.end() - 2);
    bool batchNone = product(eb) == 1;
    bool batchAll = eb == mv.batchOut;
    Expr e;
    if (batchNone || product(mv.batchOut) == 1) {
      int ein = kb.input(*mv.epi, {mFull ? M : 1, nFull ? N : 1});
      Expr mm = fold && M != Mv ? Expr(m % (int)M) : Expr(m);
      e = kb.load(ein, {mFull ? mm : Expr(0), nFull ? Expr(n) : Expr(0)});
    } else if (batchAll && (mFull || M == 1) && (nFull || N == 1)) {
      // Same shape as the output: index it like the output view.
      Shape ev = bp.out;
      ev.push_back(Mv);
      ev.push_back(N);
      int ein = kb.input(*mv.epi, ev);
      std::vector<Expr> idx = toExprs(bv);
      idx.push_back(m);
      idx.push_back(n);
      e = kb.load(ein, idx);
    } else {
      unsupported("bias broadcasting pattern is not supported");
    }
    y = y + (mlir::isa<GemmOp>(op) && mv.beta != 1.0f ? e * mv.beta : e);
  }
  y = applyActivation(mv.activation, y);

  Shape outView = bp.out;
  outView.push_back(Mv);
  outView.push_back(N);
  Func out("out");
  out(hargs({n, m})) = y;
  kb.addOutput(out, {0}, outView);

  if (kb.autoschedule())
    return true; // the algorithm only; the autoscheduler places every Func

  // Schedule: output tiles of NT columns x MT rows, the reduction innermost
  // over the tile with the accumulators in registers; tiles run in parallel.
  // The defaults follow the target (registerTile: vector width and register
  // count). Named parameters (kb.param; the tuner searches around them):
  //  tile_m              rows of the register tile (default: registerTile,
  //                      8 with 32 vector registers, 4 with 16). tile_m x
  //                      vectors accumulators + vectors B loads + 1 broadcast
  //                      should fit the register file.
  //  panel_vectors       tile width in vectors (1..8; default: registerTile,
  //                      3). A packed (constant)
  //                      B uses the largest width <= this that divides its
  //                      panel (kPackedPanel).
  //  k_unroll            unroll factor of the reduction loop (1, 2, 4;
  //                      default 1).
  //  tile_grain          consecutive tiles (rows first, within one column
  //                      panel) each parallel task runs (1, 2, 4, 8, 16;
  //                      default 1). Larger grains keep a B panel on one core.
  //  prefetch_next_panel 1: software-prefetch the next packed B panel while
  //                      computing the current one (each register tile
  //                      prefetches it row by row), for weights that stream
  //                      from DRAM like GPT-2's 154 MB LM head (0/1; default
  //                      0: the hardware prefetcher already keeps up here,
  //                      see BENCHMARKS.md).
  //  parallel_min_flops  smaller GEMMs run on one thread (default 2^20).
  int64_t nvec = std::min<int64_t>(vw, nt);
  Var nio("nio"), nii("nii"), mo("mo"), mi("mi");
  out.split(n, nio, nii, (int)nt,
            packed ? TailStrategy::GuardWithIf : TailStrategy::ShiftInwards)
      .split(m, mo, mi, (int)mt, TailStrategy::ShiftInwards);
  std::vector<VarOrRVar> order = {nii, mi, mo, nio};
  for (Var &x : hb)
    order.push_back(x);
  out.reorder(order).vectorize(nii, (int)nvec).unroll(nii).unroll(mi);
  int64_t mTiles = (Mv + mt - 1) / mt;
  int64_t tiles = mTiles * ((N + nt - 1) / nt) * product(bp.out);
  double flops = 2.0 * (double)Mv * N * K * product(bp.out);
  int64_t grain = std::clamp<int64_t>(kb.param("tile_grain", 1), 1, mTiles);
  Var t = mo;
  if (kb.threads > 1 && tiles > 1 &&
      flops >= kb.param("parallel_min_flops", 1 << 20)) {
    Var fused("tile");
    out.fuse(mo, nio, fused);
    t = fused;
    for (Var &x : hb) {
      Var f2(fused.name() + "_" + x.name());
      out.fuse(t, x, f2);
      t = f2;
    }
    if (grain > 1) {
      Var task("task"), within("within");
      out.split(t, task, within, (int)grain, TailStrategy::GuardWithIf);
      out.parallel(task);
      t = within;
    } else {
      out.parallel(t);
    }
  }
  Var pn = packed ? ni : n;
  prod.compute_at(out, t).vectorize(pn, (int)nvec).unroll(pn).unroll(m);
  if (packed)
    prod.bound_extent(ni, (int)nt);
  prod.update().reorder(pn, m, r).vectorize(pn, (int)nvec).unroll(pn).unroll(m);
  int64_t kUnroll = kb.param("k_unroll", 1);
  RVar kLoop = r.x; // the reduction loop over rows (or row groups)
  int64_t kSteps = K;
  if (kUnroll > 1 && K % kUnroll == 0) {
    RVar ko("ko"), ki("ki");
    prod.update().split(r.x, ko, ki, (int)kUnroll).unroll(ki);
    kLoop = ko;
    kSteps = K / kUnroll;
  }
  if (packed) {
    // Row k + K of panel p is row k of panel p + 1 in the packed layout, so
    // prefetching "K rows ahead" pulls the next panel in, one row per step.
    if (kb.param("prefetch_next_panel", 0))
      prod.update().prefetch(kb.params[b], kLoop, kLoop, Expr((int)kSteps),
                             PrefetchBoundStrategy::NonFaulting);
  }
  if (!packed && mv.transB) {
    bs.compute_root().vectorize(sn, vw, TailStrategy::GuardWithIf);
    if (kb.threads > 1 && nb)
      bs.parallel(hb.back());
    else if (kb.threads > 1)
      bs.parallel(sk);
  }
  return true;
}

} // namespace kiln::halide::detail

// Halide kernel for kiln.attention: per (batch, head, query tile), the score
// rows of the tile live in a small buffer (tile x Sk), never an Sq x Sk matrix.
// Q·Kᵀ and P·V are register-tiled like the GEMM; K is transposed once per head.
#include "Lowering.h"

#include "kiln/IR/KilnDialect.h"

#include <limits>

using namespace Halide;

namespace kiln::halide::detail {

bool lowerAttention(KernelBuilder &kb) {
  auto at = mlir::dyn_cast<AttentionOp>(kb.op);
  if (!at)
    return false;
  for (unsigned i = 0; i < 3; ++i)
    if (kb.operandDType(i) != ref::DType::F32)
      unsupported("attention supports f32 q/k/v only");
  std::string layout = at.getLayout().str();
  bool bsd = layout == "bsd";
  if (!bsd && layout != "bhsd")
    unsupported("attention layout '" + layout + "'");
  bool kT = at.getKTransposed();
  Shape qs = kb.operandShape(0), ks = kb.operandShape(1),
        vs = kb.operandShape(2);
  int64_t B, H, Sq, Sk, D, Dv;
  if (!bsd) {
    if (qs.size() != 4 || ks.size() != 4 || vs.size() != 4)
      unsupported("bhsd attention needs rank-4 q, k, v");
    B = qs[0], H = qs[1], Sq = qs[2], D = qs[3];
    Sk = kT ? ks[3] : ks[2];
    Dv = vs[3];
    if ((kT ? ks[2] : ks[3]) != D || vs[2] != Sk || ks[0] != B || ks[1] != H ||
        vs[0] != B || vs[1] != H)
      unsupported("attention q/k/v shapes do not match");
  } else {
    if (kT)
      unsupported("k_transposed with the bsd layout");
    if (qs.size() != 3 || ks.size() != 3 || vs.size() != 3)
      unsupported("bsd attention needs rank-3 q, k, v");
    H = at.getNumHeads();
    if (H <= 0 || qs[2] % H || vs[2] % H || ks[2] != qs[2])
      unsupported("hidden sizes are not divisible by num_heads");
    B = qs[0], Sq = qs[1], Sk = ks[1], D = qs[2] / H, Dv = vs[2] / H;
    if (ks[0] != B || vs[0] != B || vs[1] != Sk)
      unsupported("attention q/k/v shapes do not match");
  }
  if (B * H * Sq * Sk * D * Dv == 0)
    unsupported("empty attention");
  float scale = at.getScale().convertToFloat();
  bool causal = at.getCausal();

  // bsd buffers are viewed as [B, S, H, D] (the same bytes).
  int q = bsd ? kb.input(0, {B, Sq, H, D}) : kb.input(0);
  int k = bsd ? kb.input(1, {B, Sk, H, D}) : kb.input(1);
  int v = bsd ? kb.input(2, {B, Sk, H, Dv}) : kb.input(2);
  int mask = -1;
  Shape ms;
  if (at.getMask()) {
    ref::DType mt = kb.operandDType(3);
    if (mt != ref::DType::F32 && mt != ref::DType::Bool)
      unsupported("attention mask must be f32 or bool");
    ms = kb.operandShape(3);
    if (ms.size() > 4)
      unsupported("attention mask rank above 4");
    ms.insert(ms.begin(), 4 - ms.size(), 1);
    Shape full = {B, H, Sq, Sk};
    for (int i = 0; i < 4; ++i)
      if (ms[i] != 1 && ms[i] != full[i])
        unsupported("attention mask does not broadcast to [B,H,Sq,Sk]");
    mask = kb.input(3, ms);
  }

  Var c("c"), i("i"), j("j"), d("d"), h("h"), b("b");
  // Every input load clamps each index into its buffer. The tiled algorithm
  // below evaluates padded keys, rows and columns past the ends, and a
  // schedule may evaluate a Func at points no output needs (an autoscheduler's
  // ShiftInwards split of a small extent, or a per-tile key range that bounds
  // inference cannot prove non-empty, which then reaches below key 0).
  // Clamped, such points read valid elements that are masked or never used,
  // and bounds inference keeps every buffer access in range under any
  // schedule.
  auto load = [&](int in, std::vector<Expr> idx) {
    const Shape &shape = kb.inputShape(in);
    for (size_t n = 0; n < idx.size(); ++n)
      idx[n] = clamp(idx[n], 0, (int)shape[n] - 1);
    return kb.load(in, idx);
  };
  auto qAt = [&](Expr dd, Expr ii) {
    return bsd ? load(q, {b, ii, h, dd}) : load(q, {b, h, ii, dd});
  };
  auto kAt = [&](Expr dd, Expr jj) {
    if (bsd)
      return load(k, {b, jj, h, dd});
    return kT ? load(k, {b, h, dd, jj}) : load(k, {b, h, jj, dd});
  };
  auto vAt = [&](Expr cc, Expr jj) {
    return bsd ? load(v, {b, jj, h, cc}) : load(v, {b, h, jj, cc});
  };
  // Masked scores hold the lowest finite float, not -inf: Halide compiles
  // float math with LLVM's no-infs/no-NaNs fast-math flags (unless
  // strict_float), under which an infinite constant is poison and comparisons
  // with it may fold away; some autoscheduled schedules then gave inf/NaN
  // rows. (A -inf in an additive mask still masks its key: exp(-inf - max) is
  // 0 and the row max never takes it.)
  const float masked = std::numeric_limits<float>::lowest();

  // Tiling: queries in tiles of QT rows; keys in blocks of JT (whole
  // vectors), Sk padded to a block multiple (padded keys are masked out);
  // values in panels of CT columns. Intermediates are indexed by (row in
  // tile ti, tile to) so that per-tile key ranges are visible to Halide.
  // Named parameters (kb.param; they shape the tiled algorithm, so they
  // apply with an autoscheduler too):
  //  query_tile          query rows per tile = rows of the register tiles
  //                      (default 8 with 32 vector registers, 6 with 16;
  //                      candidates 4, 6, 8).
  //  key_block_vectors   keys per score block, in vectors (default 2 with 32
  //                      registers, 1 with 16; candidates 1, 2, 4).
  //  value_panel_vectors P·V output columns per register tile, in vectors
  //                      (default 2; candidates 1, 2, 4 with d = 64).
  int vw = kb.lanes(Float(32));
  auto roundUp = [](int64_t x, int64_t m) { return (x + m - 1) / m * m; };
  // Defaults by register file: 8 rows x 2 key vectors (16 accumulators) with
  // 32 registers; 6 rows x 1 key vector with 16 (AVX2, SSE: the tuner's pick
  // on BERT-base, 2.1x faster than 8 x 2 there).
  bool wide = kb.vectorRegisters() >= 32;
  int64_t qt = std::min<int64_t>(
      std::max<int64_t>(1, kb.param("query_tile", wide ? 8 : 6)), Sq);
  int64_t jt = std::min<int64_t>(
      std::max<int64_t>(1, kb.param("key_block_vectors", wide ? 2 : 1)) * vw,
      roundUp(Sk, vw));
  int64_t ct = std::min<int64_t>(
      std::max<int64_t>(1, kb.param("value_panel_vectors", 2)) * vw,
      roundUp(Dv, vw));
  int64_t skp = roundUp(Sk, jt), nb = skp / jt;
  Var ti("ti"), to("to");
  Expr row =
      to * (int)qt + ti; // query index (may pass Sq - 1 in the last tile)
  // Key blocks a tile needs: all, or (causal) those up to its last row's
  // diagonal. Keys past a row's own diagonal inside them are masked.
  Expr blocks = Expr((int)nb);
  if (causal) {
    Expr lastKey = to * (int)qt + (int)qt - 1 + (int)(Sk - Sq); // inclusive
    blocks = clamp(lastKey / (int)jt + 1, 0, (int)nb);
  }

  // Per head: K packed as [Sk/JT][D][JT] and V as [Dv/CT][Sk][CT] panels, so
  // the tile loops below stream contiguous memory.
  Var ji("ji"), jo("jo"), ci("ci"), co("co");
  Func kp("kpack"), vp("vpack");
  kp(ji, d, jo, h, b) = kAt(d, jo * (int)jt + ji);
  vp(ci, j, co, h, b) = vAt(co * (int)ct + ci, j);
  // Scores of one query tile: dot products per key block, then scale, mask,
  // causality and padding.
  Func dot("dot"), s("s");
  RDom rd(0, (int)D, "rd");
  dot(ji, jo, ti, to, h, b) = 0.0f;
  dot(ji, jo, ti, to, h, b) += qAt(rd, row) * kp(ji, rd, jo, h, b);
  Expr sv = dot(j % (int)jt, j / (int)jt, ti, to, h, b) * scale;
  if (mask >= 0) {
    std::vector<Expr> mi = {
        ms[0] == 1 ? Expr(0) : Expr(b), ms[1] == 1 ? Expr(0) : Expr(h),
        ms[2] == 1 ? Expr(0) : row, ms[3] == 1 ? Expr(0) : Expr(j)};
    Expr m = load(mask, mi);
    sv = m.type().is_bool() ? select(m, sv, masked) : sv + m;
  }
  if (causal)
    sv = select(j > row + (int)(Sk - Sq), masked, sv);
  if (skp != Sk)
    sv = select(j < (int)Sk, sv, masked);
  s(j, ti, to, h, b) = sv;
  // Key reductions run over (key in block, block) with the block range
  // bounded per tile.
  auto keys = [&](const std::string &name) {
    RDom r(0, (int)jt, 0, (int)nb, name);
    if (causal)
      r.where(r.y < blocks);
    return r;
  };
  // Row max, exponentials, row sum.
  Func mx("mx"), e("e"), sm("sm");
  RDom rj = keys("rj");
  mx(ti, to, h, b) = masked;
  mx(ti, to, h, b) =
      max(mx(ti, to, h, b), s(rj.y * (int)jt + rj.x, ti, to, h, b));
  Expr mxv = mx(ti, to, h, b);
  Expr mxs = select(mxv == masked, 0.0f, mxv);
  Expr sj = s(j, ti, to, h, b);
  e(j, ti, to, h, b) = select(sj == masked, 0.0f, exp(sj - mxs));
  RDom rs = keys("rs");
  sm(ti, to, h, b) = 0.0f;
  sm(ti, to, h, b) += e(rs.y * (int)jt + rs.x, ti, to, h, b);
  // P·V per value panel, normalized at the end.
  Func o("o");
  RDom rv = keys("rv");
  Expr key = rv.y * (int)jt + rv.x;
  o(ci, co, ti, to, h, b) = 0.0f;
  o(ci, co, ti, to, h, b) += e(key, ti, to, h, b) * vp(ci, key, co, h, b);
  Expr tiE = i % (int)qt, toE = i / (int)qt;
  Expr ov = o(c % (int)ct, c / (int)ct, tiE, toE, h, b);
  Expr smv = sm(tiE, toE, h, b);
  Expr res = select(smv > 0.0f, ov / smv, 0.0f);

  Func out("out");
  if (bsd) {
    out(c, h, i, b) = res;
    kb.addOutput(out, {0}, {B, Sq, H, Dv});
  } else {
    out(c, i, h, b) = res;
    kb.addOutput(out, {0}, {B, H, Sq, Dv});
  }
  if (kb.autoschedule())
    return true; // the algorithm only; the autoscheduler places every Func

  // Schedule: parallel over (batch, head); per query tile the score rows
  // (QT x key range) live in small buffers; Q·Kᵀ and P·V use register tiles of
  // (2 vectors x QT rows) with the reduction innermost.
  Var io("io"), ii("ii"), cio("cio"), coo("coo"), bh("bh");
  out.split(i, io, ii, (int)qt, TailStrategy::GuardWithIf)
      .split(c, coo, cio, (int)ct, TailStrategy::GuardWithIf)
      .reorder(cio, ii, coo, io, h, b)
      .vectorize(cio, vw)
      .unroll(cio)
      .unroll(ii)
      .fuse(h, b, bh);
  if (kb.threads > 1 && B * H > 1)
    out.parallel(bh);
  kp.compute_at(out, bh).vectorize(ji, vw);
  vp.compute_at(out, bh).vectorize(ci, vw);
  // Score buffers are allocated once per head and reused by each query tile.
  Var sjo("sjo"), sji("sji");
  s.store_at(out, bh)
      .compute_at(out, io)
      .bound_extent(ti, (int)qt)
      .split(j, sjo, sji, (int)jt)
      .reorder(sji, ti, sjo)
      .vectorize(sji, vw);
  dot.compute_at(s, sjo).vectorize(ji, vw).unroll(ji).unroll(ti);
  dot.update().reorder(ji, ti, rd).vectorize(ji, vw).unroll(ji).unroll(ti);
  e.store_at(out, bh)
      .compute_at(out, io)
      .bound_extent(ti, (int)qt)
      .vectorize(j, vw);
  for (auto [red, rx] :
       {std::make_pair(mx, RVar(rj.x)), std::make_pair(sm, RVar(rs.x))}) {
    red.compute_at(out, io);
    RVar ro(red.name() + "_ro"), ri(red.name() + "_ri");
    Var u(red.name() + "_u");
    red.update().split(rx, ro, ri, vw);
    Func intm = red.update().rfactor(ri, u);
    // rfactor appends u as the outermost dim; keep the lanes contiguous.
    intm.reorder_storage(u, ti, to, h, b).compute_at(out, io).vectorize(u);
    intm.update().vectorize(u);
  }
  o.compute_at(out, coo)
      .bound_extent(ci, (int)ct)
      .bound_extent(ti, (int)qt)
      .vectorize(ci, vw)
      .unroll(ci)
      .unroll(ti);
  o.update()
      .reorder(ci, ti, rv.x, rv.y)
      .vectorize(ci, vw)
      .unroll(ci)
      .unroll(ti);
  return true;
}

} // namespace kiln::halide::detail

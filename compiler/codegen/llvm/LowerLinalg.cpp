// LLVM backend lowering of kiln's linear algebra: numpy matmul, gemm,
// fused_matmul (bias + activation epilogue) and einsum, as linalg.generic
// contractions whose innermost loop runs along contiguous output columns.
#include "KernelBuilder.h"

#include "kiln/IR/KilnDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <algorithm>
#include <cctype>
#include <map>

using namespace mlir;
using namespace kiln;
using namespace kiln::llvmgen::detail;

namespace {

/// acc[batch.., i, j] = Σ_k a[.., i, k] · b[.., k, j] with numpy batch
/// broadcasting. aShape/bShape are rank >= 2 views; transA / transB mean the
/// last two dims of a / b are swapped ([.., k, i] / [.., j, k]).
Value contract(KernelBuilder &kb, Value a, Value b, bool transA, bool transB,
               RankedTensorType outType) {
  auto as = cast<RankedTensorType>(a.getType()).getShape();
  auto bs = cast<RankedTensorType>(b.getType()).getShape();
  ArrayRef<int64_t> os = outType.getShape();
  unsigned nb = os.size() - 2, nLoops = nb + 3;
  unsigned di = nb, dk = nb + 1, dj = nb + 2;
  MLIRContext *ctx = kb.ctx;
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  auto batchExprs = [&](ArrayRef<int64_t> shape) {
    SmallVector<AffineExpr> e;
    unsigned r = shape.size() - 2;
    for (unsigned i = 0; i < r; ++i) {
      unsigned j = i + nb - r;
      e.push_back(shape[i] == 1 && os[j] != 1 ? getAffineConstantExpr(0, ctx)
                                              : d(j));
    }
    return e;
  };
  SmallVector<AffineExpr> ea = batchExprs(as), eb = batchExprs(bs), eo;
  ea.append(transA ? SmallVector<AffineExpr>{d(dk), d(di)}
                   : SmallVector<AffineExpr>{d(di), d(dk)});
  eb.append(transB ? SmallVector<AffineExpr>{d(dj), d(dk)}
                   : SmallVector<AffineExpr>{d(dk), d(dj)});
  for (unsigned i = 0; i < nb; ++i)
    eo.push_back(d(i));
  eo.append({d(di), d(dj)});
  SmallVector<AffineMap> maps = {AffineMap::get(nLoops, 0, ea, ctx),
                                 AffineMap::get(nLoops, 0, eb, ctx),
                                 AffineMap::get(nLoops, 0, eo, ctx)};
  Value init = kb.filled(outType, kb.constant(outType.getElementType(), 0));
  Value r = kb.generic({a, b}, {init}, maps, kb.parallel(nLoops, {dk}),
                       [&](OpBuilder &nb_, Location loc, ValueRange x) {
                         return SmallVector<Value>{
                             accMulAdd(nb_, loc, x[2], x[0], x[1])};
                       })[0];
  return r;
}

/// Views of numpy matmul operands: 1-D a becomes [1, k], 1-D b [k, 1]; the
/// output view keeps those size-1 dims (same bytes as the result).
void matmulViews(ArrayRef<int64_t> a, ArrayRef<int64_t> b, bool transB,
                 SmallVector<int64_t> &av, SmallVector<int64_t> &bv,
                 SmallVector<int64_t> &ov) {
  av.assign(a.begin(), a.end());
  bv.assign(b.begin(), b.end());
  if (av.size() == 1)
    av.insert(av.begin(), 1);
  if (bv.size() == 1)
    bv.push_back(1);
  SmallVector<int64_t> ba(av.begin(), av.end() - 2),
      bb(bv.begin(), bv.end() - 2);
  size_t nb = std::max(ba.size(), bb.size());
  ov.assign(nb, 1);
  for (size_t i = 0; i < nb; ++i) {
    int64_t x = i + ba.size() >= nb ? ba[i + ba.size() - nb] : 1;
    int64_t y = i + bb.size() >= nb ? bb[i + bb.size() - nb] : 1;
    ov[i] = x == 1 ? y : x;
  }
  ov.push_back(av[av.size() - 2]);
  ov.push_back(transB ? bv[bv.size() - 2] : bv.back());
}

Value activation(OpBuilder &b, Location loc, StringRef act, Value x) {
  Type t = x.getType();
  if (act == "relu")
    return arith::SelectOp::create(
        b, loc,
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UGT, x,
                              scalarConst(b, loc, t, 0)),
        x, scalarConst(b, loc, t, 0));
  if (act == "gelu" || act == "gelu_tanh")
    return geluScalar(b, loc, x, act == "gelu_tanh");
  if (act == "tanh")
    return math::TanhOp::create(b, loc, x);
  return x;
}

LogicalResult lowerMatmulLike(KernelBuilder &kb, Results &results, Value bias,
                              double alpha, double beta, bool transA,
                              bool transB, StringRef act) {
  SmallVector<int64_t> av, bv, ov;
  matmulViews(kb.inShape(0), kb.inShape(1), transB, av, bv, ov);
  if (transA) // gemm: a is [k, m]
    ov[ov.size() - 2] = av.back();
  Value a = kb.input(0, av), b = kb.input(1, bv);
  RankedTensorType outType = kb.outType(0, ov);
  Value acc = contract(kb, a, b, transA, transB, outType);
  if (!bias && alpha == 1.0 && act == "none") {
    results.push_back(acc);
    return success();
  }
  Type t = outType.getElementType();
  if (bias && ArrayRef<int64_t>(ov) != kb.outShape(0)) {
    // 1-D operands: broadcast the bias against the real result shape.
    ov.assign(kb.outShape(0).begin(), kb.outShape(0).end());
    acc = kb.reshape(acc, ov);
  }
  SmallVector<Value> ins;
  SmallVector<AffineMap> maps;
  if (bias) {
    ins.push_back(bias);
    maps.push_back(
        kb.broadcastMap(cast<RankedTensorType>(bias.getType()).getShape(), ov));
  }
  maps.push_back(kb.identityMap(ov.size()));
  bool hasBias = (bool)bias;
  results.push_back(kb.generic(
      ins, {acc}, maps, kb.parallel(ov.size()),
      [&](OpBuilder &b, Location loc, ValueRange x) {
        Value r = x.back();
        if (alpha != 1.0)
          r = arith::MulFOp::create(b, loc, scalarConst(b, loc, t, alpha), r);
        if (hasBias) {
          Value c = x[0];
          if (beta != 1.0)
            c = arith::MulFOp::create(b, loc, scalarConst(b, loc, t, beta), c);
          r = arith::AddFOp::create(b, loc, r, c);
        }
        return SmallVector<Value>{activation(b, loc, act, r)};
      })[0]);
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// Einsum equations
//===----------------------------------------------------------------------===//

static std::string parseTerm(StringRef term, std::vector<int> &labels) {
  bool sawEllipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    char c = term[i];
    if (std::isalpha((unsigned char)c)) {
      labels.push_back((unsigned char)c);
    } else if (term.substr(i).starts_with("...") && !sawEllipsis) {
      labels.push_back(-1);
      sawEllipsis = true;
      i += 2;
    } else {
      return "unexpected '" + std::string(1, c) + "'";
    }
  }
  return "";
}

std::string kiln::llvmgen::detail::parseEinsum(
    StringRef equation, ArrayRef<ArrayRef<int64_t>> shapes, EinsumSpec &spec) {
  std::string eq;
  for (char c : equation)
    if (!std::isspace((unsigned char)c))
      eq += c;
  size_t arrow = eq.find("->");
  SmallVector<StringRef> terms;
  StringRef(eq).substr(0, arrow).split(terms, ',');
  if (terms.size() != shapes.size())
    return "einsum: equation has " + std::to_string(terms.size()) +
           " terms for " + std::to_string(shapes.size()) + " inputs";
  std::vector<std::vector<int>> raw(shapes.size());
  std::vector<int64_t> ellRanks;
  int64_t ellRank = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    std::string err = parseTerm(terms[i], raw[i]);
    if (!err.empty())
      return "einsum: " + err;
    int64_t letters = std::count_if(raw[i].begin(), raw[i].end(),
                                    [](int l) { return l >= 0; });
    bool hasEll = letters != (int64_t)raw[i].size();
    int64_t er = (int64_t)shapes[i].size() - letters;
    if ((!hasEll && er != 0) || er < 0)
      return "einsum: term '" + terms[i].str() + "' does not match input " +
             std::to_string(i);
    ellRanks.push_back(hasEll ? er : 0);
    ellRank = std::max(ellRank, hasEll ? er : 0);
  }
  std::map<int, int64_t> sizes;
  std::map<int, int> counts;
  spec.inputs.assign(shapes.size(), {});
  for (size_t i = 0; i < shapes.size(); ++i) {
    for (int l : raw[i]) {
      if (l >= 0) {
        spec.inputs[i].push_back(l);
        continue;
      }
      for (int64_t e = ellRank - ellRanks[i]; e < ellRank; ++e)
        spec.inputs[i].push_back(256 + (int)e);
    }
    for (size_t d = 0; d < spec.inputs[i].size(); ++d) {
      int l = spec.inputs[i][d];
      int64_t sz = shapes[i][d];
      ++counts[l];
      auto [pos, fresh] = sizes.emplace(l, sz);
      if (fresh || pos->second == sz)
        continue;
      if (l >= 256 && (sz == 1 || pos->second == 1)) {
        pos->second = std::max(pos->second, sz);
        continue;
      }
      return "einsum: a label has sizes " + std::to_string(pos->second) +
             " and " + std::to_string(sz);
    }
  }
  spec.output.clear();
  if (arrow != std::string::npos) {
    std::vector<int> labels;
    std::string err = parseTerm(StringRef(eq).substr(arrow + 2), labels);
    if (!err.empty())
      return "einsum: " + err;
    for (int l : labels) {
      if (l < 0) {
        for (int64_t e = 0; e < ellRank; ++e)
          spec.output.push_back(256 + (int)e);
        continue;
      }
      if (!sizes.count(l) ||
          std::count(spec.output.begin(), spec.output.end(), l))
        return "einsum: bad output label '" + std::string(1, (char)l) + "'";
      spec.output.push_back(l);
    }
  } else {
    for (int64_t e = 0; e < ellRank; ++e)
      spec.output.push_back(256 + (int)e);
    for (auto [l, n] : counts)
      if (l < 256 && n == 1)
        spec.output.push_back(l);
  }
  return "";
}

static LogicalResult lowerEinsum(KernelBuilder &kb, EinsumOp e,
                                 Results &results) {
  SmallVector<ArrayRef<int64_t>> shapes;
  for (unsigned i = 0; i < e->getNumOperands(); ++i)
    shapes.push_back(kb.inShape(i));
  EinsumSpec spec;
  std::string err = parseEinsum(e.getEquation(), shapes, spec);
  if (!err.empty())
    return kb.fail(err);
  // Loops: output labels, then the summed ones in label order.
  std::map<int, int64_t> sizes;
  for (size_t i = 0; i < shapes.size(); ++i)
    for (size_t d = 0; d < spec.inputs[i].size(); ++d) {
      int64_t &s = sizes[spec.inputs[i][d]];
      s = std::max(s, shapes[i][d]);
    }
  std::vector<int> loops = spec.output;
  for (auto &[l, s] : sizes)
    if (!std::count(loops.begin(), loops.end(), l))
      loops.push_back(l);
  unsigned n = loops.size(), nOut = spec.output.size();
  auto pos = [&](int l) {
    return (unsigned)(std::find(loops.begin(), loops.end(), l) - loops.begin());
  };
  SmallVector<AffineMap> maps;
  SmallVector<Value> ins;
  for (size_t i = 0; i < shapes.size(); ++i) {
    SmallVector<AffineExpr> ex;
    for (size_t d = 0; d < spec.inputs[i].size(); ++d) {
      int l = spec.inputs[i][d];
      if (shapes[i][d] == 1 && sizes[l] != 1)
        ex.push_back(getAffineConstantExpr(0, kb.ctx));
      else
        ex.push_back(getAffineDimExpr(pos(l), kb.ctx));
    }
    maps.push_back(AffineMap::get(n, 0, ex, kb.ctx));
    ins.push_back(kb.input(i));
  }
  SmallVector<int64_t> outShape;
  SmallVector<unsigned> outDims, redDims;
  for (unsigned i = 0; i < n; ++i) {
    if (i < nOut) {
      outShape.push_back(sizes[loops[i]]);
      outDims.push_back(i);
    } else {
      redDims.push_back(i);
    }
  }
  maps.push_back(kb.dimsMap(n, outDims));
  RankedTensorType outType = kb.outType(0, outShape);
  Type t = outType.getElementType();
  Value init = kb.filled(outType, kb.constant(t, 0));
  unsigned nIn = ins.size();
  results.push_back(kb.generic(
      ins, {init}, maps, kb.parallel(n, redDims),
      [&](OpBuilder &b, Location loc, ValueRange x) {
        Value prod = x[0];
        for (unsigned i = 1; i < nIn; ++i)
          prod = isa<FloatType>(t)
                     ? (Value)arith::MulFOp::create(b, loc, prod, x[i])
                     : (Value)arith::MulIOp::create(b, loc, prod, x[i]);
        return SmallVector<Value>{accAdd(b, loc, x[nIn], prod)};
      })[0]);
  return success();
}

LogicalResult kiln::llvmgen::detail::lowerLinalg(KernelBuilder &kb,
                                                 Results &results) {
  Operation *op = kb.op;
  if (isa<MatMulOp>(op))
    return lowerMatmulLike(kb, results, Value(), 1.0, 1.0, false, false,
                           "none");
  if (auto g = dyn_cast<GemmOp>(op)) {
    Value c = g.getC() ? kb.input(2) : Value();
    return lowerMatmulLike(kb, results, c, g.getAlpha().convertToDouble(),
                           g.getBeta().convertToDouble(), g.getTransA(),
                           g.getTransB(), "none");
  }
  if (auto f = dyn_cast<FusedMatMulOp>(op)) {
    Value bias = f.getBias() ? kb.input(2) : Value();
    return lowerMatmulLike(kb, results, bias, f.getAlpha().convertToDouble(),
                           1.0, false, f.getTransB(), f.getActivation());
  }
  if (auto e = dyn_cast<EinsumOp>(op))
    return lowerEinsum(kb, e, results);
  return kb.fail("not a linear algebra op");
}

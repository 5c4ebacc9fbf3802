// What the LLVM backend can compile: per-op dtype, rank, attribute and
// constant-operand requirements, mirroring what the reference kernels accept.
#include "KernelBuilder.h"

#include "kiln/IR/KilnDialect.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::llvmgen::detail;

namespace {

Type elemOf(Value v) { return cast<ShapedType>(v.getType()).getElementType(); }
Kind kindOfV(Value v) { return kindOf(v.getType()); }
int64_t rankOf(Value v) { return cast<ShapedType>(v.getType()).getRank(); }

std::string name(Operation *op) { return op->getName().stripDialect().str(); }

std::string needFloat(Operation *op, ValueRange vs) {
  for (Value v : vs)
    if (kindOfV(v) != Kind::Float)
      return name(op) + ": operands must be float tensors";
  return "";
}

std::string needNumeric(Operation *op, ValueRange vs) {
  for (Value v : vs)
    if (kindOfV(v) == Kind::Bool)
      return name(op) + ": operands must be numeric, not bool";
  return "";
}

std::string needSame(Operation *op, ValueRange vs) {
  for (Value v : vs)
    if (elemOf(v) != elemOf(vs[0]))
      return name(op) + ": operands must share an element type";
  return "";
}

std::string needIndices(Operation *op, Value v) {
  Type t = elemOf(v);
  if (!t.isInteger(64) && !t.isInteger(32))
    return name(op) + ": indices must be i64 or i32";
  return "";
}

std::string firstOf(std::initializer_list<std::string> list) {
  for (const std::string &s : list)
    if (!s.empty())
      return s;
  return "";
}

std::string checkUnary(Operation *op) {
  Kind k = kindOfV(op->getOperand(0));
  if (isa<IdentityOp>(op))
    return "";
  if (isa<NotOp>(op))
    return k == Kind::Bool ? "" : "not: input must be bool";
  if (isa<NegOp, AbsOp, ReluOp>(op))
    return k == Kind::Bool ? name(op) + ": input must be numeric" : "";
  return k == Kind::Float ? "" : name(op) + ": input must be a float tensor";
}

std::string checkBinary(Operation *op) {
  Value l = op->getOperand(0), r = op->getOperand(1);
  if (isa<PowOp>(op))
    return needNumeric(op, {l, r});
  if (std::string e = needSame(op, {l, r}); !e.empty())
    return e;
  bool isBool = kindOfV(l) == Kind::Bool;
  if (isa<AndOp, OrOp, XorOp>(op))
    return isBool ? "" : name(op) + ": operands must be bool";
  if (isBool && !isa<EqualOp>(op))
    return name(op) + ": operands must be numeric, not bool";
  return "";
}

std::string checkAttention(AttentionOp a) {
  Operation *op = a;
  if (std::string e = firstOf({needFloat(op, {a.getQ(), a.getK(), a.getV()}),
                               needSame(op, {a.getQ(), a.getK(), a.getV()})});
      !e.empty())
    return e;
  if (Value m = a.getMask())
    if (kindOfV(m) != Kind::Bool && elemOf(m) != elemOf(a.getQ()))
      return "attention: mask must be bool or of q's float type";
  StringRef layout = a.getLayout();
  int64_t h = a.getNumHeads();
  if (h < 1)
    return "attention: num_heads must be >= 1";
  if (layout == "bsd") {
    if (rankOf(a.getQ()) != 3 || rankOf(a.getK()) != 3 || rankOf(a.getV()) != 3)
      return "attention: q, k, v must have rank 3 in layout bsd";
    auto qs = cast<ShapedType>(a.getQ().getType()).getShape();
    auto ks = cast<ShapedType>(a.getK().getType()).getShape();
    auto vs = cast<ShapedType>(a.getV().getType()).getShape();
    int64_t kHidden = a.getKTransposed() ? ks[1] : ks[2];
    if (qs[2] % h || vs[2] % h || kHidden != qs[2])
      return "attention: hidden sizes do not split into num_heads heads";
  } else if (layout == "bhsd") {
    if (rankOf(a.getQ()) != 4 || rankOf(a.getK()) != 4 || rankOf(a.getV()) != 4)
      return "attention: q, k, v must have rank 4 in layout bhsd";
  } else {
    return "attention: unknown layout '" + layout.str() + "'";
  }
  if (Value m = a.getMask())
    if (rankOf(m) > 4)
      return "attention: mask has rank > 4";
  return "";
}

std::string checkEinsum(EinsumOp e) {
  Operation *op = e;
  if (std::string err = firstOf(
          {needNumeric(op, e.getInputs()), needSame(op, e.getInputs())});
      !err.empty())
    return err;
  SmallVector<ArrayRef<int64_t>> shapes;
  for (Value v : e.getInputs())
    shapes.push_back(cast<ShapedType>(v.getType()).getShape());
  EinsumSpec spec;
  std::string err = parseEinsum(e.getEquation(), shapes, spec);
  if (!err.empty())
    return err;
  if ((int64_t)spec.output.size() != rankOf(e.getOutput()))
    return "einsum: the result rank does not match the equation";
  return "";
}

} // namespace

std::string kiln::llvmgen::detail::checkOp(Operation *op) {
  if (op->getNumOperands() > 0 &&
      !isa<ShapeOp, ConstantOfShapeOp, CastOp, WhereOp, RangeOp, GatherOp,
           GatherElementsOp, ScatterElementsOp, ReshapeOp, ExpandOp, TileOp,
           SliceOp, ArgMaxOp, TopKOp, AttentionOp, PowOp>(op) &&
      !isa<EqualOp, LessOp, LessOrEqualOp, GreaterOp, GreaterOrEqualOp>(op)) {
    // Most ops keep the element type of their first operand.
    for (Value r : op->getResults())
      if (elemOf(r) != elemOf(op->getOperand(0)))
        return name(op) + ": result element type differs from the input's";
  }
  return llvm::TypeSwitch<Operation *, std::string>(op)
      .Case<IdentityOp, NegOp, AbsOp, SqrtOp, ReciprocalOp, ExpOp, LogOp, ErfOp,
            TanhOp, ReluOp, SigmoidOp, SinOp, CosOp, FloorOp, CeilOp, NotOp>(
          [](Operation *o) { return checkUnary(o); })
      .Case<AddOp, SubOp, MulOp, DivOp, PowOp, MaxOp, MinOp, ModOp, EqualOp,
            LessOp, LessOrEqualOp, GreaterOp, GreaterOrEqualOp, AndOp, OrOp,
            XorOp>([](Operation *o) { return checkBinary(o); })
      .Case([](GeluOp g) -> std::string {
        if (g.getApproximate() != "none" && g.getApproximate() != "tanh")
          return "gelu: unknown approximate '" + g.getApproximate().str() + "'";
        return needFloat(g, {g.getInput()});
      })
      .Case([](CastOp) { return std::string(); })
      .Case([](WhereOp w) -> std::string {
        if (kindOfV(w.getCondition()) != Kind::Bool)
          return "where: condition must be bool";
        return needSame(w, {w.getX(), w.getY(), w.getOutput()});
      })
      .Case([](MatMulOp m) {
        return firstOf({needNumeric(m, {m.getA(), m.getB()}),
                        needSame(m, {m.getA(), m.getB()})});
      })
      .Case([](GemmOp g) -> std::string {
        if (rankOf(g.getA()) != 2 || rankOf(g.getB()) != 2)
          return "gemm: a and b must be 2-D";
        SmallVector<Value> vs = {g.getA(), g.getB()};
        if (g.getC())
          vs.push_back(g.getC());
        return firstOf({needFloat(g, vs), needSame(g, vs)});
      })
      .Case([](FusedMatMulOp f) -> std::string {
        StringRef act = f.getActivation();
        if (act != "none" && act != "relu" && act != "gelu" &&
            act != "gelu_tanh" && act != "tanh")
          return "fused_matmul: unknown activation '" + act.str() + "'";
        if (f.getTransB() && rankOf(f.getB()) < 2)
          return "fused_matmul: trans_b needs b of rank >= 2";
        SmallVector<Value> vs = {f.getA(), f.getB()};
        if (f.getBias())
          vs.push_back(f.getBias());
        return firstOf({needFloat(f, vs), needSame(f, vs)});
      })
      .Case([](EinsumOp e) { return checkEinsum(e); })
      .Case<TransposeOp, ReshapeOp, FlattenOp, SqueezeOp, UnsqueezeOp, ExpandOp,
            TileOp, ConcatOp, SplitOp>([](Operation *o) -> std::string {
        if (isa<ConcatOp>(o))
          return needSame(o, o->getOperands());
        if (isa<TileOp, ExpandOp>(o) &&
            rankOf(o->getOperand(0)) > rankOf(o->getResult(0)))
          return name(o) + ": result rank is lower than the input's";
        if (isa<TileOp>(o) &&
            rankOf(o->getOperand(0)) != rankOf(o->getResult(0)))
          return "tile: result rank differs from the input's";
        return "";
      })
      .Case([](SliceOp s) {
        SmallVector<int64_t> start, step;
        return computeSlice(s, start, step);
      })
      .Case([](GatherOp g) -> std::string {
        if (rankOf(g.getInput()) == 0)
          return "gather: input must have rank >= 1";
        return needIndices(g, g.getIndices());
      })
      .Case([](GatherElementsOp g) -> std::string {
        if (rankOf(g.getInput()) == 0 ||
            rankOf(g.getIndices()) != rankOf(g.getInput()))
          return "gather_elements: indices must have the input's rank (>= 1)";
        return needIndices(g, g.getIndices());
      })
      .Case([](ScatterElementsOp s) -> std::string {
        StringRef r = s.getReduction();
        if (r != "none" && r != "add" && r != "mul" && r != "max" && r != "min")
          return "scatter_elements: unknown reduction '" + r.str() + "'";
        if (r != "none" && kindOfV(s.getInput()) == Kind::Bool)
          return "scatter_elements: reductions need a numeric tensor";
        if (rankOf(s.getInput()) == 0 ||
            rankOf(s.getIndices()) != rankOf(s.getInput()) ||
            s.getIndices().getType() !=
                s.getUpdates().getType().clone(elemOf(s.getIndices())))
          return "scatter_elements: indices and updates must match in shape "
                 "and have the input's rank";
        return firstOf({needIndices(s, s.getIndices()),
                        needSame(s, {s.getInput(), s.getUpdates()})});
      })
      .Case([](ShapeOp) { return std::string(); })
      .Case([](ConstantOfShapeOp c) -> std::string {
        Attribute v = c.getValue();
        if (!isa<ElementsAttr, FloatAttr, IntegerAttr>(v))
          return "constant_of_shape: unsupported value attribute";
        return "";
      })
      .Case([](RangeOp r) -> std::string {
        SmallVector<Value> vs = {r.getStart(), r.getLimit(), r.getDelta()};
        for (Value v : vs)
          if (cast<ShapedType>(v.getType()).getNumElements() != 1)
            return "range: start, limit and delta must be scalars";
        if (elemOf(r.getOutput()) != elemOf(r.getStart()))
          return "range: result element type differs from start's";
        return firstOf({needNumeric(r, vs), needSame(r, vs)});
      })
      .Case([](TriluOp t) -> std::string {
        return rankOf(t.getInput()) >= 2 ? ""
                                         : "trilu: input must have rank >= 2";
      })
      .Case<SoftmaxOp, LogSoftmaxOp>([](Operation *o) -> std::string {
        if (rankOf(o->getOperand(0)) == 0)
          return name(o) + ": input must have rank >= 1";
        return needFloat(o, o->getOperands());
      })
      .Case<ReduceMeanOp, ReduceSumOp, ReduceMaxOp, ReduceMinOp, ReduceProdOp>(
          [](Operation *o) { return needNumeric(o, o->getOperands()); })
      .Case([](ArgMaxOp a) -> std::string {
        if (rankOf(a.getInput()) == 0)
          return "argmax: input must have rank >= 1";
        return needNumeric(a, {a.getInput()});
      })
      .Case([](TopKOp t) -> std::string {
        if (rankOf(t.getInput()) == 0)
          return "topk: input must have rank >= 1";
        if (elemOf(t.getValues()) != elemOf(t.getInput()))
          return "topk: values must have the input's element type";
        return needNumeric(t, {t.getInput()});
      })
      .Case([](CumSumOp c) -> std::string {
        if (rankOf(c.getInput()) == 0)
          return "cumsum: input must have rank >= 1";
        return needNumeric(c, {c.getInput()});
      })
      .Case([](LayerNormalizationOp l) -> std::string {
        if (rankOf(l.getInput()) == 0)
          return "layer_normalization: input must have rank >= 1";
        return firstOf(
            {needFloat(l, l->getOperands()), needSame(l, l->getOperands())});
      })
      .Case([](BatchNormalizationOp b) -> std::string {
        if (rankOf(b.getInput()) < 2)
          return "batch_normalization: input must have rank >= 2";
        return firstOf(
            {needFloat(b, b->getOperands()), needSame(b, b->getOperands())});
      })
      .Case<LayerNormOp, SkipLayerNormOp>([](Operation *o) -> std::string {
        if (rankOf(o->getOperand(0)) == 0)
          return name(o) + ": input must have rank >= 1";
        return firstOf(
            {needFloat(o, o->getOperands()), needSame(o, o->getOperands())});
      })
      .Case([](AttentionOp a) { return checkAttention(a); })
      .Case([](ConstantOp) { return std::string(); })
      .Default([](Operation *o) {
        return "the LLVM backend has no lowering for '" +
               o->getName().getStringRef().str() + "'";
      });
}

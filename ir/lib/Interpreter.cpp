// The reference interpreter: maps each kiln op to its kernel in
// kiln/Reference/Kernels.h and runs a function's single block in order.
#include "kiln/IR/Interpreter.h"

#include "kiln/IR/KilnDialect.h"
#include "kiln/IR/OpKinds.h"
#include "kiln/IR/TensorConversion.h"
#include "kiln/Reference/Kernels.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace kiln;
using ref::Tensor;
using Results = std::vector<Tensor>;

namespace {

std::vector<int64_t> ints(ArrayRef<int64_t> a) { return {a.begin(), a.end()}; }

double toDouble(const llvm::APFloat &f) { return f.convertToDouble(); }

/// The single value of a constant_of_shape `value` attribute as a tensor.
Tensor scalarFromAttr(TypedAttr attr) {
  if (auto elements = dyn_cast<ElementsAttr>(attr)) {
    Tensor t = toTensor(elements);
    if (t.numel() != 1)
      throw ref::Error("constant_of_shape: value must have one element, got " +
                       ref::shapeStr(t.shape()));
    return t.reshaped({});
  }
  Tensor t(toDType(attr.getType()), {});
  if (auto f = dyn_cast<FloatAttr>(attr))
    t.setDouble(0, f.getValueAsDouble());
  else if (auto i = dyn_cast<IntegerAttr>(attr))
    t.setInt(0, i.getType().isUnsignedInteger() || i.getType().isInteger(1)
                    ? (int64_t)i.getValue().getZExtValue()
                    : i.getValue().getSExtValue());
  else
    throw ref::Error("constant_of_shape: unsupported value attribute");
  return t;
}

std::optional<ref::ReduceKind> reduceKind(Operation *op) {
  using K = ref::ReduceKind;
  return llvm::TypeSwitch<Operation *, std::optional<K>>(op)
      .Case([](ReduceMeanOp) { return K::Mean; })
      .Case([](ReduceSumOp) { return K::Sum; })
      .Case([](ReduceMaxOp) { return K::Max; })
      .Case([](ReduceMinOp) { return K::Min; })
      .Case([](ReduceProdOp) { return K::Prod; })
      .Default([](Operation *) { return std::nullopt; });
}

template <typename ReduceOpT>
Results runReduce(ReduceOpT op, ref::ReduceKind kind, const Tensor &x) {
  return {ref::reduce(kind, x, ints(op.getAxes()), op.getKeepdims(),
                      op.getNoopWithEmptyAxes())};
}

Results reduceOp(Operation *op, ref::ReduceKind kind, const Tensor &x) {
  return llvm::TypeSwitch<Operation *, Results>(op)
      .Case<ReduceMeanOp, ReduceSumOp, ReduceMaxOp, ReduceMinOp, ReduceProdOp>(
          [&](auto r) { return runReduce(r, kind, x); });
}

ref::ScatterReduction scatterReduction(StringRef s) {
  if (s == "none")
    return ref::ScatterReduction::None;
  if (s == "add")
    return ref::ScatterReduction::Add;
  if (s == "mul")
    return ref::ScatterReduction::Mul;
  if (s == "max")
    return ref::ScatterReduction::Max;
  if (s == "min")
    return ref::ScatterReduction::Min;
  throw ref::Error("scatter_elements: unknown reduction '" + s.str() + "'");
}

/// Runs `op` on `in`; std::nullopt when the op is not one the interpreter
/// knows. Kernels throw ref::Error on invalid input.
std::optional<Results> evaluate(Operation *op, ArrayRef<Tensor> in) {
  if (std::optional<ref::UnaryKind> k = unaryKind(op))
    return Results{ref::unary(*k, in[0])};
  if (std::optional<ref::BinaryKind> k = binaryKind(op))
    return Results{ref::binary(*k, in[0], in[1])};
  if (std::optional<ref::ReduceKind> k = reduceKind(op))
    return reduceOp(op, *k, in[0]);
  // Optional operands follow the required ones in ODS order.
  auto optional = [&](Value v, size_t &next) -> const Tensor * {
    return v ? &in[next++] : nullptr;
  };
  using Opt = std::optional<Results>;
  return llvm::TypeSwitch<Operation *, Opt>(op)
      .Case([&](ConstantOp c) { return Results{toTensor(c.getValue())}; })
      .Case([&](GeluOp g) -> Opt {
        StringRef a = g.getApproximate();
        if (a != "none" && a != "tanh")
          throw ref::Error("gelu: unknown approximate '" + a.str() + "'");
        return Results{ref::gelu(in[0], a == "tanh")};
      })
      .Case([&](CastOp c) {
        return Results{ref::cast(in[0], toDType(c.getTo()))};
      })
      .Case([&](WhereOp) { return Results{ref::where(in[0], in[1], in[2])}; })
      .Case([&](MatMulOp) { return Results{ref::matmul(in[0], in[1])}; })
      .Case([&](GemmOp g) {
        size_t next = 2;
        const Tensor *c = optional(g.getC(), next);
        return Results{ref::gemm(in[0], in[1], c, toDouble(g.getAlpha()),
                                 toDouble(g.getBeta()), g.getTransA(),
                                 g.getTransB())};
      })
      .Case([&](EinsumOp e) {
        return Results{ref::einsum(e.getEquation().str(),
                                   std::vector<Tensor>(in.begin(), in.end()))};
      })
      .Case([&](TransposeOp t) {
        return Results{ref::transpose(in[0], ints(t.getPerm()))};
      })
      .Case([&](ReshapeOp r) {
        return Results{ref::reshape(in[0], in[1].toInts(), r.getAllowzero())};
      })
      .Case([&](FlattenOp f) {
        return Results{ref::flatten(in[0], (int64_t)f.getAxis())};
      })
      .Case([&](SqueezeOp s) {
        return Results{ref::squeeze(in[0], ints(s.getAxes()))};
      })
      .Case([&](UnsqueezeOp u) {
        return Results{ref::unsqueeze(in[0], ints(u.getAxes()))};
      })
      .Case([&](ConcatOp c) {
        return Results{ref::concat(std::vector<Tensor>(in.begin(), in.end()),
                                   (int64_t)c.getAxis())};
      })
      .Case([&](SplitOp s) {
        return ref::split(in[0], (int64_t)s.getAxis(), ints(s.getSizes()));
      })
      .Case([&](SliceOp) {
        return Results{ref::slice(in[0], in[1].toInts(), in[2].toInts(),
                                  in[3].toInts(), in[4].toInts())};
      })
      .Case([&](GatherOp g) {
        return Results{ref::gather(in[0], in[1], (int64_t)g.getAxis())};
      })
      .Case([&](GatherElementsOp g) {
        return Results{ref::gatherElements(in[0], in[1], (int64_t)g.getAxis())};
      })
      .Case([&](ShapeOp s) {
        std::optional<int64_t> end;
        if (std::optional<uint64_t> e = s.getEnd())
          end = (int64_t)*e;
        return Results{ref::shapeOf(in[0], (int64_t)s.getStart(), end)};
      })
      .Case(
          [&](ExpandOp) { return Results{ref::expand(in[0], in[1].toInts())}; })
      .Case([&](TileOp) { return Results{ref::tile(in[0], in[1].toInts())}; })
      .Case([&](ConstantOfShapeOp c) {
        return Results{
            ref::constantOfShape(in[0].toInts(), scalarFromAttr(c.getValue()))};
      })
      .Case([&](RangeOp) { return Results{ref::range(in[0], in[1], in[2])}; })
      .Case([&](TriluOp t) {
        return Results{ref::trilu(in[0], t.getUpper(), (int64_t)t.getK())};
      })
      .Case([&](ScatterElementsOp s) {
        return Results{
            ref::scatterElements(in[0], in[1], in[2], (int64_t)s.getAxis(),
                                 scatterReduction(s.getReduction()))};
      })
      .Case([&](SoftmaxOp s) {
        return Results{ref::softmax(in[0], (int64_t)s.getAxis())};
      })
      .Case([&](LogSoftmaxOp s) {
        return Results{ref::logSoftmax(in[0], (int64_t)s.getAxis())};
      })
      .Case([&](ArgMaxOp a) {
        return Results{ref::argmax(in[0], (int64_t)a.getAxis(), a.getKeepdims(),
                                   a.getSelectLastIndex())};
      })
      .Case([&](TopKOp t) {
        auto [values, indices] =
            ref::topk(in[0], (int64_t)t.getK(), (int64_t)t.getAxis(),
                      t.getLargest(), t.getSorted());
        return Results{values, indices};
      })
      .Case([&](CumSumOp c) {
        return Results{ref::cumsum(in[0], (int64_t)c.getAxis(),
                                   c.getExclusive(), c.getReverse())};
      })
      .Case([&](LayerNormalizationOp l) {
        size_t next = 2;
        const Tensor *bias = optional(l.getBias(), next);
        return Results{ref::layerNormalization(in[0], in[1], bias,
                                               (int64_t)l.getAxis(),
                                               toDouble(l.getEpsilon()))};
      })
      .Case([&](BatchNormalizationOp b) {
        return Results{ref::batchNormalization(
            in[0], in[1], in[2], in[3], in[4], toDouble(b.getEpsilon()))};
      })
      .Case([&](LayerNormOp l) {
        size_t next = 2;
        const Tensor *beta = optional(l.getBeta(), next);
        return Results{ref::layerNorm(in[0], in[1], beta,
                                      toDouble(l.getEpsilon()), l.getRms())};
      })
      .Case([&](SkipLayerNormOp s) {
        size_t next = 3;
        const Tensor *beta = optional(s.getBeta(), next);
        const Tensor *bias = optional(s.getBias(), next);
        auto [out, sum] =
            ref::skipLayerNorm(in[0], in[1], in[2], beta, bias,
                               toDouble(s.getEpsilon()), s.getRms());
        return s.getSum() ? Results{out, sum} : Results{out};
      })
      .Case([&](AttentionOp a) {
        size_t next = 3;
        const Tensor *mask = optional(a.getMask(), next);
        ref::AttentionOptions o;
        o.scale = toDouble(a.getScale());
        o.numHeads = (int64_t)a.getNumHeads();
        o.causal = a.getCausal();
        o.kTransposed = a.getKTransposed();
        StringRef layout = a.getLayout();
        if (layout == "bsd")
          o.layout = ref::AttentionLayout::BSD;
        else if (layout != "bhsd")
          throw ref::Error("attention: unknown layout '" + layout.str() + "'");
        return Results{ref::attention(in[0], in[1], in[2], mask, o)};
      })
      .Case([&](FusedMatMulOp f) {
        size_t next = 2;
        const Tensor *bias = optional(f.getBias(), next);
        std::optional<ref::Activation> act =
            ref::parseActivation(f.getActivation().str());
        if (!act)
          throw ref::Error("fused_matmul: unknown activation '" +
                           f.getActivation().str() + "'");
        return Results{ref::fusedMatmul(in[0], in[1], bias, *act, f.getTransB(),
                                        toDouble(f.getAlpha()))};
      })
      .Default([](Operation *) { return std::nullopt; });
}

std::string describe(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  t.print(os);
  return s;
}

std::string describe(const Tensor &t) {
  return "tensor<" +
         (t.rank() ? ref::shapeStr(t.shape()) + "x" : std::string()) +
         ref::dtypeName(t.dtype()) + ">";
}

/// Whether `t` fits `type`: same dtype and rank, static dims equal.
bool fits(const Tensor &t, Type type) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  if (!ranked) // unranked types accept any tensor of the element type
    return !isa<ShapedType>(type) ||
           tryToDType(cast<ShapedType>(type).getElementType()) == t.dtype();
  if (tryToDType(ranked.getElementType()) != t.dtype() ||
      ranked.getRank() != t.rank())
    return false;
  for (int64_t i = 0; i < t.rank(); ++i)
    if (!ranked.isDynamicDim(i) && ranked.getDimSize(i) != t.dim(i))
      return false;
  return true;
}

} // namespace

FailureOr<std::vector<Tensor>>
kiln::evaluateOp(Operation *op, ArrayRef<Tensor> operands, std::string *error) {
  auto fail = [&](const Twine &msg) -> FailureOr<std::vector<Tensor>> {
    if (error) {
      *error = msg.str();
      return failure();
    }
    // Name the model's node (its NameLoc) when the location has one.
    if (auto name = dyn_cast<NameLoc>(op->getLoc()))
      return op->emitError() << "node '" << name.getName().getValue() << "' ("
                             << op->getName() << "): " << msg;
    return op->emitError(msg);
  };
  if (operands.size() != op->getNumOperands())
    return fail("interpreter got " + Twine(operands.size()) +
                " operand tensors for " + Twine(op->getNumOperands()) +
                " operands");
  std::optional<Results> results;
  try {
    results = evaluate(op, operands);
  } catch (const ref::Error &e) {
    return fail(e.what());
  } catch (const std::exception &e) {
    return fail(Twine("reference kernel failed: ") + e.what());
  }
  if (!results)
    return fail("the reference interpreter does not know op '" +
                op->getName().getStringRef() + "'");
  if (results->size() != op->getNumResults())
    return fail("the reference kernel gave " + Twine(results->size()) +
                " results for " + Twine(op->getNumResults()));
  return std::move(*results);
}

FailureOr<std::vector<Tensor>> kiln::interpret(func::FuncOp fn,
                                               ArrayRef<Tensor> inputs) {
  if (fn.isExternal())
    return fn.emitError() << "cannot interpret a function without a body";
  if (!llvm::hasSingleElement(fn.getBody()))
    return fn.emitError() << "the interpreter needs a single-block function";
  Block &block = fn.getBody().front();

  ArrayRef<Type> argTypes = fn.getArgumentTypes();
  if (inputs.size() != argTypes.size())
    return fn.emitError() << "@" << fn.getName() << " takes " << argTypes.size()
                          << " inputs but " << inputs.size() << " were given";
  llvm::DenseMap<Value, Tensor> values;
  llvm::DenseMap<Value, unsigned> usesLeft;
  for (auto [i, type] : llvm::enumerate(argTypes)) {
    if (!fits(inputs[i], type)) {
      std::string name = "#" + std::to_string(i);
      if (auto n = fn.getArgAttrOfType<StringAttr>(i, "kiln.name"))
        name = "'" + n.getValue().str() + "'";
      return fn.emitError() << "input " << name << " is " << describe(inputs[i])
                            << " but the model expects " << describe(type);
    }
    values[block.getArgument(i)] = inputs[i];
  }
  auto countUses = [&](Value v) {
    usesLeft[v] = (unsigned)std::distance(v.use_begin(), v.use_end());
  };
  for (BlockArgument arg : block.getArguments())
    countUses(arg);

  for (Operation &op : block) {
    // Operands: moved out on their last use, copied otherwise.
    std::vector<Tensor> operands;
    operands.reserve(op.getNumOperands());
    for (Value v : op.getOperands()) {
      auto it = values.find(v);
      if (it == values.end())
        return op.emitError() << "operand is not computed by this block";
      if (--usesLeft[v] == 0) {
        operands.push_back(std::move(it->second));
        values.erase(it);
      } else {
        operands.push_back(it->second);
      }
    }
    if (isa<func::ReturnOp>(op))
      return operands;

    FailureOr<std::vector<Tensor>> results = evaluateOp(&op, operands);
    if (failed(results))
      return failure();
    for (auto [i, res] : llvm::enumerate(op.getResults())) {
      Tensor &t = (*results)[i];
      if (!fits(t, res.getType()))
        return op.emitError()
               << "the interpreter computed result #" << i << " as "
               << describe(t) << " but the IR says " << describe(res.getType());
      if (res.use_empty())
        continue;
      countUses(res);
      values[res] = std::move(t);
    }
  }
  return fn.emitError() << "function body has no func.return";
}

// ONNX -> kiln conversions for data movement and shape ops: Transpose, Reshape,
// Squeeze/Unsqueeze, Concat, Split, Slice, Gather, Shape, Size, Expand,
// Constant, ...
#include "OnnxImporterImpl.h"

#include "kiln/IR/TensorConversion.h"

#include <climits>
#include <numeric>

using namespace mlir;
using namespace kiln;
using namespace kiln::onnx_import;

namespace {

LogicalResult pushAll(Outputs &out, ArrayRef<Value> values) {
  if (values.empty())
    return failure();
  out.append(values.begin(), values.end());
  return success();
}

/// Input 0's type; an error when it is not a ranked tensor.
RankedTensorType rankedInput(NodeConverter &c) {
  RankedTensorType t = c.inputType(0);
  if (!t)
    c.error() << "input #0 has no known rank";
  return t;
}

LogicalResult transpose(NodeConverter &c, Outputs &out) {
  SmallVector<int64_t> perm;
  if (auto p = c.getInts("perm")) {
    perm = *p;
  } else {
    RankedTensorType t = rankedInput(c);
    if (!t)
      return failure();
    for (int64_t i = t.getRank() - 1; i >= 0; --i)
      perm.push_back(i); // default: reverse the dims
  }
  return push(out, c.build<TransposeOp>(
                       c.input(0), c.builder().getDenseI64ArrayAttr(perm)));
}

LogicalResult reshape(NodeConverter &c, Outputs &out) {
  return push(out, c.build<ReshapeOp>(
                       c.input(0), c.input(1),
                       c.builder().getBoolAttr(c.getInt("allowzero", 0) != 0)));
}

LogicalResult flatten(NodeConverter &c, Outputs &out) {
  return push(out, c.build<FlattenOp>(c.input(0), c.builder().getI64IntegerAttr(
                                                      c.getInt("axis", 1))));
}

/// Squeeze/Unsqueeze axes: an attribute before opset 13, an input since.
/// `required`: Unsqueeze must have them.
std::optional<SmallVector<int64_t>> squeezeAxes(NodeConverter &c,
                                                bool required) {
  if (c.opset() < 13) {
    if (c.numInputs() > 1) {
      c.error() << "has an axes input, which needs opset 13 (the model uses "
                << c.opset() << ")";
      return std::nullopt;
    }
    std::optional<SmallVector<int64_t>> axes = c.getInts("axes");
    if (!axes && required && !c.failed())
      c.error() << "attribute 'axes' is required";
    if (c.failed())
      return std::nullopt;
    return axes.value_or(SmallVector<int64_t>());
  }
  if (c.attr("axes")) {
    c.error() << "has an 'axes' attribute, but axes is an input since opset "
                 "13";
    return std::nullopt;
  }
  if (!c.input(1) && !required)
    return SmallVector<int64_t>();
  return c.constInts(1, "axes");
}

LogicalResult squeeze(NodeConverter &c, Outputs &out) {
  auto axes = squeezeAxes(c, /*required=*/false);
  if (!axes)
    return failure();
  return push(out, c.build<SqueezeOp>(c.input(0),
                                      c.builder().getDenseI64ArrayAttr(*axes)));
}

LogicalResult unsqueeze(NodeConverter &c, Outputs &out) {
  auto axes = squeezeAxes(c, /*required=*/true);
  if (!axes)
    return failure();
  return push(out, c.build<UnsqueezeOp>(
                       c.input(0), c.builder().getDenseI64ArrayAttr(*axes)));
}

LogicalResult concat(NodeConverter &c, Outputs &out) {
  if (!c.attr("axis"))
    return c.error() << "attribute 'axis' is required";
  SmallVector<Value> inputs;
  for (unsigned i = 0; i < c.numInputs(); ++i) {
    if (!c.input(i))
      return c.error() << "input #" << i << " is missing";
    inputs.push_back(c.input(i));
  }
  return push(out, c.build<ConcatOp>(
                       ValueRange(inputs),
                       c.builder().getI64IntegerAttr(c.getInt("axis", 0))));
}

/// Split sizes come from the `split` attribute (before 13) or input (13+),
/// else equal parts: as many as the node's outputs (before 18) or
/// `num_outputs` (18+, the last part smaller when the dim does not divide).
LogicalResult split(NodeConverter &c, Outputs &out) {
  if (c.opset() < 13 && c.numInputs() > 1)
    return c.error() << "has a split input, which needs opset 13 (the model "
                        "uses "
                     << c.opset() << ")";
  if (c.opset() >= 13 && c.attr("split"))
    return c.error() << "has a 'split' attribute, but split is an input since "
                        "opset 13";
  if (c.attr("num_outputs") && c.opset() < 18)
    return c.error() << "attribute 'num_outputs' needs opset 18 (the model "
                        "uses "
                     << c.opset() << ")";
  int64_t axis = c.getInt("axis", 0);
  int64_t numOutputs = c.numOutputs();
  SmallVector<int64_t> sizes;
  if (c.opset() < 13 && c.attr("split")) {
    auto v = c.getInts("split");
    if (!v)
      return failure();
    sizes = *v;
  } else if (c.input(1)) {
    auto v = c.constInts(1, "split");
    if (!v)
      return failure();
    sizes = *v;
  } else {
    int64_t parts = numOutputs;
    if (c.opset() >= 18) {
      if (!c.attr("num_outputs"))
        return c.error()
               << "needs a 'split' input or a 'num_outputs' attribute";
      parts = c.getInt("num_outputs", 0);
      if (parts != numOutputs)
        return c.error() << "num_outputs is " << parts << " but the node has "
                         << numOutputs << " outputs";
    }
    RankedTensorType t = rankedInput(c);
    if (!t)
      return failure();
    int64_t a = axis < 0 ? axis + t.getRank() : axis;
    if (a < 0 || a >= t.getRank())
      return c.error() << "axis " << axis << " is out of range for rank "
                       << t.getRank();
    if (t.isDynamicDim(a))
      return c.error() << "cannot split dynamic dim " << a
                       << " into equal parts; give split sizes";
    int64_t dim = t.getDimSize(a);
    if (parts <= 0)
      return c.error() << "must have at least one output";
    if (c.opset() >= 18) {
      int64_t chunk = (dim + parts - 1) / parts;
      for (int64_t i = 0; i < parts; ++i)
        sizes.push_back(std::max<int64_t>(0, std::min(chunk, dim - i * chunk)));
    } else {
      if (dim % parts != 0)
        return c.error() << "dim " << a << " (" << dim
                         << ") does not split into " << parts << " equal parts";
      sizes.assign(parts, dim / parts);
    }
  }
  if ((int64_t)sizes.size() != numOutputs)
    return c.error() << "has " << sizes.size() << " split sizes but "
                     << numOutputs << " outputs";
  OpBuilder &b = c.builder();
  return pushAll(out, c.buildN<SplitOp>(numOutputs, c.input(0),
                                        b.getI64IntegerAttr(axis),
                                        b.getDenseI64ArrayAttr(sizes)));
}

/// Slice with starts/ends and optional axes/steps inputs; absent ones are
/// filled with constants (axes 0..n-1, steps 1).
LogicalResult slice(NodeConverter &c, Outputs &out) {
  Value axes = c.input(3), steps = c.input(4);
  if (!axes || !steps) {
    RankedTensorType starts = c.inputType(1);
    if (!starts || starts.getRank() != 1 || starts.isDynamicDim(0))
      return c.error() << "starts must be a 1-D tensor of known length when "
                          "axes or steps are omitted";
    int64_t n = starts.getDimSize(0);
    if (!axes) {
      SmallVector<int64_t> iota(n);
      std::iota(iota.begin(), iota.end(), 0);
      axes = c.constI64(iota);
    }
    if (!steps)
      steps = c.constI64(SmallVector<int64_t>(n, 1));
  }
  return push(
      out, c.build<SliceOp>(c.input(0), c.input(1), c.input(2), axes, steps));
}

/// Constant indices (Gather, GatherElements) must lie in [-size, size) of
/// the data's static `axis` dim: kernels do not check them.
LogicalResult checkConstantIndices(NodeConverter &c, int64_t axis) {
  RankedTensorType data = c.inputType(0);
  ElementsAttr indices = c.input(1) ? getConstantValue(c.input(1)) : nullptr;
  if (!data || !indices || !isa<IntegerType>(indices.getElementType()))
    return success();
  int64_t rank = data.getRank();
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank || data.isDynamicDim(a))
    return success(); // shape inference reports a bad axis
  int64_t size = data.getDimSize(a);
  for (int64_t v : toTensor(indices).toInts())
    if (v < -size || v >= size)
      return c.error() << "index " << v << " in input #1 ('"
                       << c.node().input(1) << "') is out of range for axis "
                       << a << " of input #0 ('" << c.node().input(0)
                       << "'), which has size " << size;
  return success();
}

template <typename OpT> LogicalResult gather(NodeConverter &c, Outputs &out) {
  int64_t axis = c.getInt("axis", 0);
  if (failed(checkConstantIndices(c, axis)))
    return failure();
  return push(out, c.build<OpT>(c.input(0), c.input(1),
                                c.builder().getI64IntegerAttr(axis)));
}

LogicalResult scatterElements(NodeConverter &c, Outputs &out) {
  std::string reduction = c.getString("reduction", "none");
  if (reduction != "none" && reduction != "add" && reduction != "mul" &&
      reduction != "max" && reduction != "min")
    return c.error() << "unknown reduction '" << reduction << "'";
  OpBuilder &b = c.builder();
  return push(
      out, c.build<ScatterElementsOp>(c.input(0), c.input(1), c.input(2),
                                      b.getI64IntegerAttr(c.getInt("axis", 0)),
                                      b.getStringAttr(reduction)));
}

LogicalResult shape(NodeConverter &c, Outputs &out) {
  OpBuilder &b = c.builder();
  IntegerAttr end;
  if (c.attr("end"))
    end = b.getI64IntegerAttr(c.getInt("end", 0));
  return push(out,
              c.build<ShapeOp>(c.input(0),
                               b.getI64IntegerAttr(c.getInt("start", 0)), end));
}

/// Size: the product of the input's dims, an i64 scalar.
LogicalResult size(NodeConverter &c, Outputs &out) {
  OpBuilder &b = c.builder();
  Value shape =
      c.build<ShapeOp>(c.input(0), b.getI64IntegerAttr(0), IntegerAttr());
  if (!shape)
    return failure();
  return push(out, c.build<ReduceProdOp>(shape, b.getDenseI64ArrayAttr({}),
                                         b.getBoolAttr(false),
                                         b.getBoolAttr(false)));
}

LogicalResult expand(NodeConverter &c, Outputs &out) {
  return push(out, c.build<ExpandOp>(c.input(0), c.input(1)));
}

LogicalResult tile(NodeConverter &c, Outputs &out) {
  return push(out, c.build<TileOp>(c.input(0), c.input(1)));
}

LogicalResult range(NodeConverter &c, Outputs &out) {
  return push(out, c.build<RangeOp>(c.input(0), c.input(1), c.input(2)));
}

/// ConstantOfShape's fill value: a one-element tensor attribute (default f32
/// 0).
LogicalResult constantOfShape(NodeConverter &c, Outputs &out) {
  OpBuilder &b = c.builder();
  TypedAttr value = b.getF32FloatAttr(0.0f);
  if (const onnx::TensorProto *proto = c.getTensor("value")) {
    std::optional<ref::Tensor> t = c.tensorFrom(*proto);
    if (!t)
      return failure();
    if (t->numel() != 1)
      return c.error() << "attribute 'value' must hold one element, not "
                       << t->numel();
    Type elem = elementTypeFromOnnx(proto->data_type(), c.context());
    if (isa<FloatType>(elem))
      value = FloatAttr::get(elem, t->getDouble(0));
    else
      value = IntegerAttr::get(elem, t->getInt(0));
  } else if (c.failed()) {
    return failure();
  }
  return push(out, c.build<ConstantOfShapeOp>(c.input(0), value));
}

LogicalResult trilu(NodeConverter &c, Outputs &out) {
  int64_t k = 0;
  if (c.input(1)) {
    std::optional<int64_t> v = c.constInt(1, "k");
    if (!v)
      return failure();
    k = *v;
  }
  OpBuilder &b = c.builder();
  return push(out, c.build<TriluOp>(c.input(0),
                                    b.getBoolAttr(c.getInt("upper", 1) != 0),
                                    b.getI64IntegerAttr(k)));
}

/// Constant: exactly one of value, value_float(s), value_int(s).
LogicalResult constant(NodeConverter &c, Outputs &out) {
  static const char *const kUnsupported[] = {"sparse_value", "value_string",
                                             "value_strings"};
  for (const char *name : kUnsupported)
    if (c.attr(name))
      return c.error() << "attribute '" << name << "' is not supported";
  if (c.node().attribute_size() != 1)
    return c.error() << "must have exactly one value attribute";
  std::optional<ref::Tensor> t;
  if (const onnx::TensorProto *proto = c.getTensor("value")) {
    t = c.tensorFrom(*proto);
  } else if (c.attr("value_float")) {
    t = ref::Tensor::scalarF32(c.getFloat("value_float", 0));
  } else if (c.attr("value_int")) {
    t = ref::Tensor::scalarI64(c.getInt("value_int", 0));
  } else if (const onnx::AttributeProto *a = c.attr("value_floats")) {
    std::vector<float> v(a->floats().begin(), a->floats().end());
    t = ref::Tensor::of(ref::DType::F32, {(int64_t)v.size()}, v);
  } else if (c.attr("value_ints")) {
    SmallVector<int64_t> ints =
        c.getInts("value_ints").value_or(SmallVector<int64_t>());
    std::vector<int64_t> v(ints.begin(), ints.end());
    t = ref::Tensor::of(ref::DType::I64, {(int64_t)v.size()}, v);
  } else {
    return c.error() << "unknown attribute '" << c.node().attribute(0).name()
                     << "'";
  }
  if (!t || c.failed())
    return failure();
  return push(out, c.constant(*t));
}

} // namespace

// The last fields: the oldest ONNX schema version converted (see
// OpConversion; Reshape 1 and Slice 1 take attributes, Concat 1 defaults its
// axis, Split 1 also takes sizes as an input, Tile 1 differs), and for Split
// that it has any number of outputs.
void onnx_import::addShapeOps(OpTable &t) {
  const unsigned kAny = UINT_MAX;
  t["Transpose"] = {transpose, 1, 1, 1};
  t["Reshape"] = {reshape, 2, 2, 5};
  t["Flatten"] = {flatten, 1, 1, 1};
  t["Squeeze"] = {squeeze, 1, 2, 1};
  t["Unsqueeze"] = {unsqueeze, 1, 2, 1};
  t["Concat"] = {concat, 1, kAny, 4};
  t["Split"] = {split, 1, 2, 2, kAny};
  t["Slice"] = {slice, 3, 5, 10};
  t["Gather"] = {gather<GatherOp>, 2, 2, 1};
  t["GatherElements"] = {gather<GatherElementsOp>, 2, 2, 11};
  t["ScatterElements"] = {scatterElements, 3, 3, 11};
  t["Shape"] = {shape, 1, 1, 1};
  t["Size"] = {size, 1, 1, 1};
  t["Expand"] = {expand, 2, 2, 8};
  t["Tile"] = {tile, 2, 2, 6};
  t["Range"] = {range, 3, 3, 11};
  t["ConstantOfShape"] = {constantOfShape, 1, 1, 9};
  t["Trilu"] = {trilu, 1, 2, 14};
  t["Constant"] = {constant, 0, 0, 1};
}

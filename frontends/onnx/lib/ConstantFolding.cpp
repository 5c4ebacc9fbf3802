// Import-time constant folding: shape subgraphs (Shape -> Gather -> Concat ->
// Reshape ...) become kiln.constant ops when the shapes they read are static.
#include "OnnxImporterImpl.h"

#include "kiln/IR/Interpreter.h"
#include "kiln/IR/TensorConversion.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::onnx_import;

/// Ops with more elements than this (in any operand or result) are not folded:
/// folding is for shape arithmetic, not for copying weights.
static constexpr int64_t kMaxFoldElements = int64_t(1) << 16;

std::string onnx_import::sanitizeBlobName(StringRef name) {
  std::string out;
  for (char c : name)
    out += (llvm::isAlnum(c) || c == '_' || c == '.') ? c : '_';
  if (out.empty() || llvm::isDigit(out[0]) || out[0] == '.')
    out = "_" + out;
  return out;
}

Value onnx_import::buildConstant(OpBuilder &b, Location loc,
                                 const ref::Tensor &t, StringRef blobName) {
  ElementsAttr value = toElementsAttr(t, b.getContext(), blobName);
  return ConstantOp::create(b, loc, value.getType(), value);
}

/// The dims [start, end) of a kiln.shape when they are all static.
static std::optional<SmallVector<int64_t>> staticShapeDims(ShapeOp op) {
  auto type = dyn_cast<RankedTensorType>(op.getInput().getType());
  auto resultType = dyn_cast<RankedTensorType>(op.getType());
  if (!type || !resultType || !resultType.hasStaticShape())
    return std::nullopt;
  int64_t rank = type.getRank();
  auto clampIdx = [&](int64_t v) {
    if (v < 0)
      v += rank;
    return std::min(std::max<int64_t>(v, 0), rank);
  };
  int64_t start = clampIdx(op.getStart());
  int64_t end = op.getEnd() ? clampIdx(*op.getEnd()) : rank;
  SmallVector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) {
    if (type.isDynamicDim(i))
      return std::nullopt;
    dims.push_back(type.getDimSize(i));
  }
  return dims;
}

/// A kiln.gather of constant indices from a kiln.shape whose selected dims are
/// static (e.g. the hidden size of a [batch, seq, 768] tensor) is known even
/// when other dims are dynamic.
static std::optional<ref::Tensor> gatherStaticDims(GatherOp op) {
  auto shape = op.getInput().getDefiningOp<ShapeOp>();
  ElementsAttr indicesAttr = getConstantValue(op.getIndices());
  auto resultType = dyn_cast<RankedTensorType>(op.getType());
  if (!shape || !indicesAttr || !resultType || !resultType.hasStaticShape())
    return std::nullopt;
  auto inType = dyn_cast<RankedTensorType>(shape.getInput().getType());
  if (!inType)
    return std::nullopt;
  int64_t rank = inType.getRank();
  int64_t start =
      shape.getStart() < 0 ? shape.getStart() + rank : shape.getStart();
  start = std::min(std::max<int64_t>(start, 0), rank);
  int64_t length = cast<RankedTensorType>(shape.getType()).getDimSize(0);
  ref::Tensor indices = toTensor(indicesAttr);
  ref::Tensor out(ref::DType::I64, ref::Shape(resultType.getShape()));
  for (int64_t i = 0; i < indices.numel(); ++i) {
    int64_t idx = indices.getInt(i);
    if (idx < 0)
      idx += length;
    if (idx < 0 || idx >= length || inType.isDynamicDim(start + idx))
      return std::nullopt;
    out.setInt(i, inType.getDimSize(start + idx));
  }
  return out;
}

static bool isSmallStatic(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  return t && t.hasStaticShape() && t.getNumElements() <= kMaxFoldElements;
}

/// Evaluates an op whose operands are all constants with the reference
/// interpreter. Errors (an op the interpreter cannot run, say) are silent: the
/// op then stays in the graph.
static std::optional<std::vector<ref::Tensor>>
evaluateConstantOp(Operation *op) {
  std::vector<ref::Tensor> operands;
  for (Value v : op->getOperands()) {
    ElementsAttr value = getConstantValue(v);
    if (!value || !isSmallStatic(v.getType()))
      return std::nullopt;
    operands.push_back(toTensor(value));
  }
  for (Type t : op->getResultTypes())
    if (!isSmallStatic(t))
      return std::nullopt;
  std::string error;
  FailureOr<std::vector<ref::Tensor>> results =
      evaluateOp(op, operands, &error);
  if (failed(results) || results->size() != op->getNumResults())
    return std::nullopt;
  return std::move(*results);
}

SmallVector<Value> onnx_import::foldImportedOp(Operation *op, OpBuilder &b,
                                               StringRef blobName) {
  SmallVector<Value> results(op->getResults());
  if (isa<ConstantOp>(op))
    return results;
  std::optional<std::vector<ref::Tensor>> values;
  if (auto shape = dyn_cast<ShapeOp>(op)) {
    if (std::optional<SmallVector<int64_t>> dims = staticShapeDims(shape))
      values = {
          ref::Tensor::of(ref::DType::I64, {(int64_t)dims->size()},
                          std::vector<int64_t>(dims->begin(), dims->end()))};
  } else if (auto gather = dyn_cast<GatherOp>(op)) {
    if (std::optional<ref::Tensor> dims = gatherStaticDims(gather))
      values = {std::move(*dims)};
  }
  if (!values && op->getNumOperands() > 0)
    values = evaluateConstantOp(op);
  if (!values)
    return results;

  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(op);
  SmallVector<Value> folded;
  for (auto [i, t] : llvm::enumerate(*values)) {
    std::string name = blobName.str();
    if (values->size() > 1)
      name += "_" + std::to_string(i);
    Value c = buildConstant(b, op->getLoc(), t, name);
    // The interpreter's answer must agree with shape inference.
    if (!isRefinementOf(c.getType(), results[i].getType())) {
      for (Value v : folded)
        v.getDefiningOp()->erase();
      c.getDefiningOp()->erase();
      return results;
    }
    folded.push_back(c);
  }
  op->erase();
  return folded;
}

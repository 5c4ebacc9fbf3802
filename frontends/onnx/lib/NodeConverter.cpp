// The per-node conversion context: attribute access, constant inputs, and op
// building with type inference and constant folding.
#include "OnnxImporterImpl.h"

#include "kiln/IR/TensorConversion.h"

#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace kiln;
using namespace kiln::onnx_import;

NodeConverter::NodeConverter(const onnx::NodeProto &node, int64_t opset,
                             Location loc, OpBuilder &b,
                             SmallVector<Value> inputs, std::string baseDir,
                             bool foldConstants)
    : node_(node), opset_(opset), loc_(loc), b_(b), inputs_(std::move(inputs)),
      baseDir_(std::move(baseDir)), fold_(foldConstants) {}

RankedTensorType NodeConverter::inputType(unsigned i) const {
  Value v = input(i);
  return v ? dyn_cast<RankedTensorType>(v.getType()) : RankedTensorType();
}

InFlightDiagnostic NodeConverter::error() {
  failed_ = true;
  return emitError(loc_);
}

Type NodeConverter::placeholderType() {
  return UnrankedTensorType::get(b_.getF32Type());
}

std::string onnx_import::checkTensorSize(RankedTensorType type) {
  uint64_t bytes = std::max<uint64_t>(1, type.getElementTypeBitWidth() / 8);
  bool over = false, negative = false;
  for (int64_t d : type.getShape()) {
    if (ShapedType::isDynamic(d))
      continue;
    if (d < 0)
      negative = true;
    else if (d != 0 && bytes > kMaxTensorBytes / (uint64_t)d)
      over = true;
    else
      bytes *= (uint64_t)d;
  }
  if (!negative && (llvm::is_contained(type.getShape(), 0) || !over))
    return "";
  std::string s;
  llvm::raw_string_ostream os(s);
  os << (negative ? "has a negative dim: shape " : "has shape ");
  llvm::interleave(
      type.getShape(), os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << "?";
        else
          os << d;
      },
      "x");
  os << "x" << type.getElementType();
  if (!negative)
    os << ", over kiln's limit of " << kMaxTensorBytes << " bytes per tensor";
  return s;
}

SmallVector<Value> NodeConverter::finish(Operation *op) {
  // Shape inference, then the op's own verifier (operand element types, say),
  // so that errors surface here, while the node is known.
  if (::mlir::failed(inferAndSetResultTypes(op)) ||
      ::mlir::failed(verify(op))) {
    failed_ = true; // the reason was emitted on the op
    return {};
  }
  // Absurd static sizes are rejected before folding or later passes size
  // anything from them (or overflow computing their element count).
  for (auto [i, result] : llvm::enumerate(op->getResults())) {
    auto type = dyn_cast<RankedTensorType>(result.getType());
    std::string tooLarge = type ? checkTensorSize(type) : "";
    if (!tooLarge.empty()) {
      error() << "result #" << i << " " << tooLarge;
      return {};
    }
  }
  refineShapeResult(op);
  if (!fold_)
    return SmallVector<Value>(op->getResults());
  std::string blobName = node_.output_size() ? node_.output(0) : node_.name();
  return foldImportedOp(op, b_, sanitizeBlobName(blobName));
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

const onnx::AttributeProto *NodeConverter::attr(StringRef name) const {
  for (const onnx::AttributeProto &a : node_.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

bool NodeConverter::checkKind(const onnx::AttributeProto &a, int kind,
                              const char *kindName) {
  // Old models may leave `type` unset; then the field that is set decides.
  if (a.type() == onnx::AttributeProto::UNDEFINED || a.type() == kind)
    return true;
  error() << "attribute '" << a.name() << "' must be " << kindName << ", not "
          << onnx::AttributeProto::AttributeType_Name(a.type());
  return false;
}

int64_t NodeConverter::getInt(StringRef name, int64_t dflt) {
  const onnx::AttributeProto *a = attr(name);
  if (!a || !checkKind(*a, onnx::AttributeProto::INT, "an INT"))
    return dflt;
  return a->i();
}

float NodeConverter::getFloat(StringRef name, float dflt) {
  const onnx::AttributeProto *a = attr(name);
  if (!a || !checkKind(*a, onnx::AttributeProto::FLOAT, "a FLOAT"))
    return dflt;
  return a->f();
}

std::string NodeConverter::getString(StringRef name, StringRef dflt) {
  const onnx::AttributeProto *a = attr(name);
  if (!a || !checkKind(*a, onnx::AttributeProto::STRING, "a STRING"))
    return dflt.str();
  return a->s();
}

std::optional<SmallVector<int64_t>> NodeConverter::getInts(StringRef name) {
  const onnx::AttributeProto *a = attr(name);
  if (!a || !checkKind(*a, onnx::AttributeProto::INTS, "INTS"))
    return std::nullopt;
  return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
}

const onnx::TensorProto *NodeConverter::getTensor(StringRef name) {
  const onnx::AttributeProto *a = attr(name);
  if (!a || !checkKind(*a, onnx::AttributeProto::TENSOR, "a TENSOR"))
    return nullptr;
  if (!a->has_t()) {
    error() << "attribute '" << name << "' holds no tensor";
    return nullptr;
  }
  return &a->t();
}

//===----------------------------------------------------------------------===//
// Constant inputs and constants
//===----------------------------------------------------------------------===//

static std::string inputLabel(const onnx::NodeProto &node, unsigned i,
                              StringRef what) {
  std::string s = "input #" + std::to_string(i) + " (" + what.str();
  if ((int)i < node.input_size() && !node.input(i).empty())
    s += " '" + node.input(i) + "'";
  return s + ")";
}

std::optional<SmallVector<int64_t>> NodeConverter::constInts(unsigned i,
                                                             StringRef what) {
  Value v = input(i);
  if (!v) {
    error() << "missing " << inputLabel(node_, i, what);
    return std::nullopt;
  }
  ElementsAttr value = getConstantValue(v);
  if (!value) {
    // The wording of findUnsupportedOnnxFeatures, which catches the inputs
    // fed from graph inputs before conversion.
    error() << "unsupported: non-constant '" << what << "' "
            << inputLabel(node_, i, what)
            << "; kiln needs its value at import (an initializer or a value "
               "computable at import time)";
    return std::nullopt;
  }
  if (!isa<IntegerType>(value.getElementType())) {
    error() << inputLabel(node_, i, what) << " must be an integer tensor";
    return std::nullopt;
  }
  std::vector<int64_t> ints = toTensor(value).toInts();
  return SmallVector<int64_t>(ints.begin(), ints.end());
}

std::optional<int64_t> NodeConverter::constInt(unsigned i, StringRef what) {
  std::optional<SmallVector<int64_t>> ints = constInts(i, what);
  if (!ints)
    return std::nullopt;
  if (ints->size() != 1) {
    error() << inputLabel(node_, i, what) << " must hold one value, not "
            << ints->size();
    return std::nullopt;
  }
  return ints->front();
}

std::optional<ref::Tensor>
NodeConverter::tensorFrom(const onnx::TensorProto &t) {
  try {
    return tensorFromProto(t, baseDir_);
  } catch (const ref::Error &e) {
    error() << e.what();
    return std::nullopt;
  }
}

Value NodeConverter::constant(const ref::Tensor &t) {
  std::string name = node_.output_size() ? node_.output(0) : node_.name();
  return buildConstant(b_, loc_, t, sanitizeBlobName(name));
}

Value NodeConverter::constI64(ArrayRef<int64_t> values) {
  return constant(
      ref::Tensor::of(ref::DType::I64, {(int64_t)values.size()},
                      std::vector<int64_t>(values.begin(), values.end())));
}

Value NodeConverter::scalar(Type elementType, double v) {
  ref::Tensor t(toDType(elementType), {});
  if (isa<FloatType>(elementType))
    t.setDouble(0, v);
  else
    t.setInt(0, (int64_t)v);
  return constant(t);
}

const OpConversion *onnx_import::lookupOpConversion(StringRef opType) {
  static const OpTable table = [] {
    OpTable t;
    addMathOps(t);
    addReduceOps(t);
    addShapeOps(t);
    return t;
  }();
  auto it = table.find(opType);
  return it == table.end() ? nullptr : &it->second;
}

// The kiln dialect: registration, constants, and the shape-inference helpers
// shared by the verifier, the importer and the refine-shapes step.
#include "kiln/IR/KilnDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace kiln;

#include "kiln/IR/KilnDialect.cpp.inc"
#include "kiln/IR/KilnInterfaces.cpp.inc"

void KilnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "kiln/IR/KilnOps.cpp.inc"
      >();
}

Operation *KilnDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                            Type type, Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements || elements.getType() != type)
    return nullptr;
  return ConstantOp::create(builder, loc, type, elements);
}

bool kiln::isRefinementOf(Type actual, Type inferred) {
  if (actual == inferred)
    return true;
  auto a = dyn_cast<RankedTensorType>(actual);
  auto b = dyn_cast<RankedTensorType>(inferred);
  if (!a || !b)
    return false;
  if (a.getElementType() != b.getElementType() || a.getRank() != b.getRank())
    return false;
  for (auto [x, y] : llvm::zip(a.getShape(), b.getShape()))
    if (!ShapedType::isDynamic(y) && x != y)
      return false;
  return true;
}

LogicalResult kiln::verifyInferredTypes(Operation *op) {
  auto iface = dyn_cast<InferShapeOpInterface>(op);
  if (!iface)
    return success();
  SmallVector<Type> inferred;
  if (failed(iface.inferResultTypes(inferred)))
    return failure(); // inferResultTypes emitted the reason
  if (inferred.size() != op->getNumResults())
    return op->emitOpError() << "has " << op->getNumResults()
                             << " results but shape inference gives "
                             << inferred.size();
  for (auto [i, pair] : llvm::enumerate(llvm::zip(op->getResultTypes(), inferred))) {
    auto [actual, expect] = pair;
    if (!isRefinementOf(actual, expect))
      return op->emitOpError() << "result #" << i << " has type " << actual
                               << " but its operands give " << expect;
  }
  return success();
}

LogicalResult kiln::inferAndSetResultTypes(Operation *op) {
  auto iface = dyn_cast<InferShapeOpInterface>(op);
  if (!iface)
    return success();
  SmallVector<Type> inferred;
  if (failed(iface.inferResultTypes(inferred)))
    return failure();
  if (inferred.size() != op->getNumResults())
    return op->emitOpError() << "shape inference gave " << inferred.size()
                             << " types for " << op->getNumResults() << " results";
  for (auto [res, type] : llvm::zip(op->getResults(), inferred)) {
    // Keep a more static type already present (e.g. pinned by the user).
    if (isa<RankedTensorType>(res.getType()) && isRefinementOf(res.getType(), type))
      continue;
    res.setType(type);
  }
  return success();
}

LogicalResult kiln::refineShapes(Operation *root) {
  WalkResult walk = root->walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (isa<InferShapeOpInterface>(op) && failed(inferAndSetResultTypes(op)))
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  root->walk([](func::FuncOp fn) {
    if (fn.isExternal())
      return;
    auto ret = cast<func::ReturnOp>(fn.getBody().back().getTerminator());
    auto type = FunctionType::get(fn.getContext(), fn.getArgumentTypes(),
                                  ret.getOperandTypes());
    fn.setFunctionType(type);
  });
  return success();
}

ElementsAttr kiln::getConstantValue(Value v) {
  if (auto c = v.getDefiningOp<ConstantOp>())
    return c.getValue();
  return {};
}

std::optional<SmallVector<int64_t>> kiln::getConstantInts(Value v) {
  ElementsAttr attr = getConstantValue(v);
  if (!attr || !isa<IntegerType>(attr.getElementType()))
    return std::nullopt;
  auto dense = dyn_cast<DenseIntElementsAttr>(attr);
  if (!dense)
    return std::nullopt;
  SmallVector<int64_t> out;
  for (const APInt &x : dense.getValues<APInt>())
    out.push_back(x.getSExtValue());
  return out;
}

#define GET_OP_CLASSES
#include "kiln/IR/KilnOps.cpp.inc"

// The kiln dialect: include this to use kiln ops from C++.
#ifndef KILN_IR_KILNDIALECT_H
#define KILN_IR_KILNDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace kiln {
/// Checks an op's result types against what its shape inference computes:
/// same element types and ranks, static dims equal where both are static.
llvm::LogicalResult verifyInferredTypes(mlir::Operation *op);
/// True if `actual` may stand where `inferred` was computed (same element type
/// and rank; each dim equal, or dynamic in `inferred`).
bool isRefinementOf(mlir::Type actual, mlir::Type inferred);
} // namespace kiln

#include "kiln/IR/KilnDialect.h.inc"
#include "kiln/IR/KilnInterfaces.h.inc"

#define GET_OP_CLASSES
#include "kiln/IR/KilnOps.h.inc"

namespace kiln {
/// Infers `op`'s result types and sets them (dynamic dims only get more static).
/// Returns failure, with a diagnostic on the op, when the operands are invalid.
llvm::LogicalResult inferAndSetResultTypes(mlir::Operation *op);
/// Re-runs shape inference over every kiln op of `root` in order, then updates the
/// enclosing functions' result types. Used after pinning input shapes or folding.
llvm::LogicalResult refineShapes(mlir::Operation *root);
/// The constant value behind `v` when it is produced by kiln.constant.
mlir::ElementsAttr getConstantValue(mlir::Value v);
/// The integers behind a constant int tensor `v` (e.g. a Reshape's shape).
std::optional<llvm::SmallVector<int64_t>> getConstantInts(mlir::Value v);
} // namespace kiln

#endif // KILN_IR_KILNDIALECT_H

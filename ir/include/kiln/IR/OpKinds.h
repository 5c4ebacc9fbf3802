// Which elementwise kernel kind a kiln op is: one mapping shared by the
// interpreter and both code generators.
#ifndef KILN_IR_OPKINDS_H
#define KILN_IR_OPKINDS_H

#include "kiln/Reference/Kernels.h"

#include "mlir/IR/Operation.h"

#include <optional>

namespace kiln {
/// The unary elementwise kind of `op` (identity, neg, ..., not), if it is one.
std::optional<ref::UnaryKind> unaryKind(mlir::Operation *op);
/// The binary elementwise kind of `op` (add, ..., xor; mod with fmod -> FMod).
std::optional<ref::BinaryKind> binaryKind(mlir::Operation *op);
} // namespace kiln

#endif // KILN_IR_OPKINDS_H

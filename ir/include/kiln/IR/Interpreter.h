// The reference interpreter: runs a kiln function op by op with the plain C++
// kernels of kiln/Reference/Kernels.h. It defines what every kiln op means.
#ifndef KILN_IR_INTERPRETER_H
#define KILN_IR_INTERPRETER_H

#include "kiln/Reference/Tensor.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/LogicalResult.h"
#include <string>
#include <vector>

namespace kiln {

/// Runs `fn` (a single-block func.func of kiln ops ending in func.return) on
/// `inputs` and returns the func.return operands. Inputs are checked against
/// the signature first (count, dtype, rank, static dims; dynamic dims take any
/// size), naming the argument by its `kiln.name` attribute when present.
/// Each op's results are checked against its static result types. On any
/// error an MLIR diagnostic is emitted on the offending op (or the function)
/// and failure is returned.
llvm::FailureOr<std::vector<ref::Tensor>>
interpret(mlir::func::FuncOp fn, llvm::ArrayRef<ref::Tensor> inputs);

/// Evaluates one kiln op on tensors for its operands (in operand order,
/// optional operands that are absent left out). Used for constant folding and
/// kernel tests. Returns failure when the kernel rejects its input or the op
/// is not a kiln op the interpreter knows: with `error` null it emits a
/// diagnostic on `op`; otherwise it stores the message in *error and emits
/// nothing (for folders, which must fail silently).
llvm::FailureOr<std::vector<ref::Tensor>>
evaluateOp(mlir::Operation *op, llvm::ArrayRef<ref::Tensor> operands,
           std::string *error = nullptr);

} // namespace kiln

#endif // KILN_IR_INTERPRETER_H

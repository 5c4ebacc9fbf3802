// The op -> elementwise kind mapping (see kiln/IR/OpKinds.h).
#include "kiln/IR/OpKinds.h"
#include "kiln/IR/KilnDialect.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace kiln {

std::optional<ref::UnaryKind> unaryKind(Operation *op) {
  using K = ref::UnaryKind;
  return llvm::TypeSwitch<Operation *, std::optional<K>>(op)
      .Case([](IdentityOp) { return K::Identity; })
      .Case([](NegOp) { return K::Neg; })
      .Case([](AbsOp) { return K::Abs; })
      .Case([](SqrtOp) { return K::Sqrt; })
      .Case([](ReciprocalOp) { return K::Reciprocal; })
      .Case([](ExpOp) { return K::Exp; })
      .Case([](LogOp) { return K::Log; })
      .Case([](ErfOp) { return K::Erf; })
      .Case([](TanhOp) { return K::Tanh; })
      .Case([](ReluOp) { return K::Relu; })
      .Case([](SigmoidOp) { return K::Sigmoid; })
      .Case([](SinOp) { return K::Sin; })
      .Case([](CosOp) { return K::Cos; })
      .Case([](FloorOp) { return K::Floor; })
      .Case([](CeilOp) { return K::Ceil; })
      .Case([](NotOp) { return K::Not; })
      .Default([](Operation *) { return std::nullopt; });
}

std::optional<ref::BinaryKind> binaryKind(Operation *op) {
  using K = ref::BinaryKind;
  return llvm::TypeSwitch<Operation *, std::optional<K>>(op)
      .Case([](AddOp) { return K::Add; })
      .Case([](SubOp) { return K::Sub; })
      .Case([](MulOp) { return K::Mul; })
      .Case([](DivOp) { return K::Div; })
      .Case([](PowOp) { return K::Pow; })
      .Case([](MaxOp) { return K::Max; })
      .Case([](MinOp) { return K::Min; })
      .Case([](ModOp m) { return m.getFmod() ? K::FMod : K::Mod; })
      .Case([](EqualOp) { return K::Equal; })
      .Case([](LessOp) { return K::Less; })
      .Case([](LessOrEqualOp) { return K::LessOrEqual; })
      .Case([](GreaterOp) { return K::Greater; })
      .Case([](GreaterOrEqualOp) { return K::GreaterOrEqual; })
      .Case([](AndOp) { return K::And; })
      .Case([](OrOp) { return K::Or; })
      .Case([](XorOp) { return K::Xor; })
      .Default([](Operation *) { return std::nullopt; });
}

} // namespace kiln

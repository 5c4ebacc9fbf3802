// The kiln dialect: base definitions, type constraints and the shape-inference interface.
#ifndef KILN_BASE_TD
#define KILN_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Kiln_Dialect : Dialect {
  let name = "kiln";
  let cppNamespace = "::kiln";
  let summary = "Tensor-level ops of transformer models, as kiln compiles them";
  let description = [{
    Ops on ranked tensors, close to ONNX semantics, plus the fused ops that kiln's
    passes produce (attention, layer_norm, skip_layer_norm, gelu, fused_matmul).
    Every op's meaning is defined by the reference interpreter (ir/lib/Reference).
  }];
  let hasConstantMaterializer = 1;
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

// Element types kiln tensors carry. bf16/f16 are accepted by the IR so that later
// work can add them to kernels; the interpreter handles f32, integers and bool.
def Kiln_Element : AnyTypeOf<[F32, F16, BF16, F64, I64, I32, I8, I1, UI8]>;
def Kiln_Tensor : RankedTensorOf<[F32, F16, BF16, F64, I64, I32, I8, I1, UI8]>;
def Kiln_FloatTensor : RankedTensorOf<[F32, F16, BF16, F64]>;
def Kiln_IntTensor : RankedTensorOf<[I64, I32]>;
def Kiln_BoolTensor : RankedTensorOf<[I1]>;

// A signless i64 attribute read as int64_t (MLIR's I64Attr returns uint64_t,
// which silently breaks negative axes).
def Kiln_I64Attr : TypedSignlessIntegerAttrBase<I64, "int64_t",
    "64-bit signless integer attribute"> {
  let convertFromStorage = "$_self.getValue().getSExtValue()";
}

def Kiln_InferShapeOpInterface : OpInterface<"InferShapeOpInterface"> {
  let cppNamespace = "::kiln";
  let description = [{
    Computes result types (element type and shape) from operand types, attributes
    and, where an operand is a constant, its value. Dimensions that cannot be known
    statically are dynamic. The verifier checks that result types are compatible
    with (equal to or more static than) the inferred ones.
  }];
  let methods = [
    InterfaceMethod<"Infer the result types of this op.", "::llvm::LogicalResult",
      "inferResultTypes", (ins "::llvm::SmallVectorImpl<::mlir::Type> &":$types)>,
  ];
  let verify = [{ return ::kiln::verifyInferredTypes($_op); }];
}

class Kiln_Op<string mnemonic, list<Trait> traits = []>
    : Op<Kiln_Dialect, mnemonic,
         !listconcat(traits, [Pure,
             DeclareOpInterfaceMethods<Kiln_InferShapeOpInterface>])> {
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

#endif // KILN_BASE_TD

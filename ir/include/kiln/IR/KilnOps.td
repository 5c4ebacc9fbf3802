// The kiln dialect's ops. Semantics follow ONNX where an ONNX op exists; the
// reference interpreter (ir/lib/Reference) defines each op exactly.
#ifndef KILN_OPS_TD
#define KILN_OPS_TD

include "kiln/IR/KilnBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

def Kiln_ConstantOp : Kiln_Op<"constant", [ConstantLike,
    DeclareOpInterfaceMethods<InferTypeOpInterface>]> {
  let summary = "A constant tensor (weights are dense_resource blobs)";
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Kiln_Tensor:$output);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

class Kiln_UnaryOp<string mnemonic, list<Trait> traits = []>
    : Kiln_Op<mnemonic, traits> {
  let arguments = (ins Kiln_Tensor:$input);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_IdentityOp : Kiln_UnaryOp<"identity"> { let summary = "y = x"; let hasFolder = 1; }
def Kiln_NegOp : Kiln_UnaryOp<"neg"> { let summary = "y = -x"; }
def Kiln_AbsOp : Kiln_UnaryOp<"abs"> { let summary = "y = |x|"; }
def Kiln_SqrtOp : Kiln_UnaryOp<"sqrt"> { let summary = "y = sqrt(x)"; }
def Kiln_ReciprocalOp : Kiln_UnaryOp<"reciprocal"> { let summary = "y = 1/x"; }
def Kiln_ExpOp : Kiln_UnaryOp<"exp"> { let summary = "y = e^x"; }
def Kiln_LogOp : Kiln_UnaryOp<"log"> { let summary = "y = ln(x)"; }
def Kiln_ErfOp : Kiln_UnaryOp<"erf"> { let summary = "y = erf(x)"; }
def Kiln_TanhOp : Kiln_UnaryOp<"tanh"> { let summary = "y = tanh(x)"; }
def Kiln_ReluOp : Kiln_UnaryOp<"relu"> { let summary = "y = max(x, 0)"; }
def Kiln_SigmoidOp : Kiln_UnaryOp<"sigmoid"> { let summary = "y = 1/(1+e^-x)"; }
def Kiln_SinOp : Kiln_UnaryOp<"sin"> { let summary = "y = sin(x)"; }
def Kiln_CosOp : Kiln_UnaryOp<"cos"> { let summary = "y = cos(x)"; }
def Kiln_FloorOp : Kiln_UnaryOp<"floor"> { let summary = "y = floor(x)"; }
def Kiln_CeilOp : Kiln_UnaryOp<"ceil"> { let summary = "y = ceil(x)"; }
def Kiln_NotOp : Kiln_UnaryOp<"not"> { let summary = "logical not of a bool tensor"; }

def Kiln_GeluOp : Kiln_Op<"gelu"> {
  let summary = "GELU: x·Φ(x) (approximate = none) or its tanh approximation";
  let arguments = (ins Kiln_Tensor:$input,
                   DefaultValuedStrAttr<StrAttr, "none">:$approximate);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_CastOp : Kiln_Op<"cast"> {
  let summary = "Element type conversion (ONNX Cast; float to int truncates)";
  let arguments = (ins Kiln_Tensor:$input, TypeAttr:$to);
  let results = (outs Kiln_Tensor:$output);  let hasFolder = 1;
}

class Kiln_BinaryOp<string mnemonic, list<Trait> traits = []>
    : Kiln_Op<mnemonic, traits> {
  let summary = "Elementwise with numpy broadcasting";
  let arguments = (ins Kiln_Tensor:$lhs, Kiln_Tensor:$rhs);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_AddOp : Kiln_BinaryOp<"add", [Commutative]>;
def Kiln_SubOp : Kiln_BinaryOp<"sub">;
def Kiln_MulOp : Kiln_BinaryOp<"mul", [Commutative]>;
def Kiln_DivOp : Kiln_BinaryOp<"div">;
def Kiln_PowOp : Kiln_BinaryOp<"pow">;
def Kiln_MaxOp : Kiln_BinaryOp<"max", [Commutative]>;
def Kiln_MinOp : Kiln_BinaryOp<"min", [Commutative]>;
def Kiln_ModOp : Kiln_BinaryOp<"mod"> {
  let arguments = (ins Kiln_Tensor:$lhs, Kiln_Tensor:$rhs,
                   DefaultValuedAttr<Kiln_I64Attr, "0">:$fmod);
}
def Kiln_EqualOp : Kiln_BinaryOp<"equal", [Commutative]>;
def Kiln_LessOp : Kiln_BinaryOp<"less">;
def Kiln_LessOrEqualOp : Kiln_BinaryOp<"less_or_equal">;
def Kiln_GreaterOp : Kiln_BinaryOp<"greater">;
def Kiln_GreaterOrEqualOp : Kiln_BinaryOp<"greater_or_equal">;
def Kiln_AndOp : Kiln_BinaryOp<"and", [Commutative]>;
def Kiln_OrOp : Kiln_BinaryOp<"or", [Commutative]>;
def Kiln_XorOp : Kiln_BinaryOp<"xor", [Commutative]>;

def Kiln_WhereOp : Kiln_Op<"where"> {
  let summary = "cond ? x : y, with numpy broadcasting";
  let arguments = (ins Kiln_BoolTensor:$condition, Kiln_Tensor:$x, Kiln_Tensor:$y);
  let results = (outs Kiln_Tensor:$output);
}

//===----------------------------------------------------------------------===//
// Linear algebra
//===----------------------------------------------------------------------===//

def Kiln_MatMulOp : Kiln_Op<"matmul"> {
  let summary = "numpy matmul (batched, broadcasting batch dims)";
  let arguments = (ins Kiln_Tensor:$a, Kiln_Tensor:$b);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_GemmOp : Kiln_Op<"gemm"> {
  let summary = "alpha·op(A)·op(B) + beta·C";
  let arguments = (ins Kiln_Tensor:$a, Kiln_Tensor:$b, Optional<Kiln_Tensor>:$c,
                   DefaultValuedAttr<F32Attr, "1.0">:$alpha,
                   DefaultValuedAttr<F32Attr, "1.0">:$beta,
                   DefaultValuedAttr<BoolAttr, "false">:$trans_a,
                   DefaultValuedAttr<BoolAttr, "false">:$trans_b);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_EinsumOp : Kiln_Op<"einsum"> {
  let summary = "Einstein summation (explicit or implicit output)";
  let arguments = (ins Variadic<Kiln_Tensor>:$inputs, StrAttr:$equation);
  let results = (outs Kiln_Tensor:$output);
}

//===----------------------------------------------------------------------===//
// Data movement and shape ops
//===----------------------------------------------------------------------===//

def Kiln_TransposeOp : Kiln_Op<"transpose"> {
  let summary = "Permute dimensions: output dim i is input dim perm[i]";
  let arguments = (ins Kiln_Tensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs Kiln_Tensor:$output);
  let hasFolder = 1;
}

def Kiln_ReshapeOp : Kiln_Op<"reshape"> {
  let summary = "ONNX Reshape: 0 copies a dim (unless allowzero), -1 is inferred";
  let arguments = (ins Kiln_Tensor:$input, Kiln_IntTensor:$shape,
                   DefaultValuedAttr<BoolAttr, "false">:$allowzero);
  let results = (outs Kiln_Tensor:$output);
  let hasFolder = 1;
}

def Kiln_FlattenOp : Kiln_Op<"flatten"> {
  let summary = "Reshape to 2-D [prod(d[:axis]), prod(d[axis:])]";
  let arguments = (ins Kiln_Tensor:$input, DefaultValuedAttr<Kiln_I64Attr, "1">:$axis);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_SqueezeOp : Kiln_Op<"squeeze"> {
  let summary = "Remove size-1 dims (all of them when axes is empty)";
  let arguments = (ins Kiln_Tensor:$input, DenseI64ArrayAttr:$axes);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_UnsqueezeOp : Kiln_Op<"unsqueeze"> {
  let summary = "Insert size-1 dims at the given output positions";
  let arguments = (ins Kiln_Tensor:$input, DenseI64ArrayAttr:$axes);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_ConcatOp : Kiln_Op<"concat"> {
  let summary = "Concatenate along an axis";
  let arguments = (ins Variadic<Kiln_Tensor>:$inputs, Kiln_I64Attr:$axis);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_SplitOp : Kiln_Op<"split"> {
  let summary = "Split along an axis into pieces of the given sizes";
  let arguments = (ins Kiln_Tensor:$input, Kiln_I64Attr:$axis, DenseI64ArrayAttr:$sizes);
  let results = (outs Variadic<Kiln_Tensor>:$outputs);
}

def Kiln_SliceOp : Kiln_Op<"slice"> {
  let summary = "ONNX Slice with starts/ends/axes/steps as 1-D int tensors";
  let arguments = (ins Kiln_Tensor:$input, Kiln_IntTensor:$starts,
                   Kiln_IntTensor:$ends, Kiln_IntTensor:$axes,
                   Kiln_IntTensor:$steps);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_GatherOp : Kiln_Op<"gather"> {
  let summary = "ONNX Gather (take along axis; negative indices wrap)";
  let arguments = (ins Kiln_Tensor:$input, Kiln_IntTensor:$indices,
                   DefaultValuedAttr<Kiln_I64Attr, "0">:$axis);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_GatherElementsOp : Kiln_Op<"gather_elements"> {
  let summary = "ONNX GatherElements";
  let arguments = (ins Kiln_Tensor:$input, Kiln_IntTensor:$indices,
                   DefaultValuedAttr<Kiln_I64Attr, "0">:$axis);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_ShapeOp : Kiln_Op<"shape"> {
  let summary = "The input's shape (dims [start, end)) as a 1-D i64 tensor";
  let arguments = (ins Kiln_Tensor:$input,
                   DefaultValuedAttr<Kiln_I64Attr, "0">:$start, OptionalAttr<Kiln_I64Attr>:$end);
  let results = (outs RankedTensorOf<[I64]>:$output);
  let hasFolder = 1;
}

def Kiln_ExpandOp : Kiln_Op<"expand"> {
  let summary = "Broadcast the input to a shape (ONNX Expand)";
  let arguments = (ins Kiln_Tensor:$input, Kiln_IntTensor:$shape);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_TileOp : Kiln_Op<"tile"> {
  let summary = "Repeat the input along each dim";
  let arguments = (ins Kiln_Tensor:$input, Kiln_IntTensor:$repeats);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_ConstantOfShapeOp : Kiln_Op<"constant_of_shape"> {
  let summary = "A tensor of the given shape filled with one value";
  let arguments = (ins Kiln_IntTensor:$shape, TypedAttrInterface:$value);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_RangeOp : Kiln_Op<"range"> {
  let summary = "[start, limit) with step delta (scalars)";
  let arguments = (ins Kiln_Tensor:$start, Kiln_Tensor:$limit, Kiln_Tensor:$delta);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_TriluOp : Kiln_Op<"trilu"> {
  let summary = "Keep the upper (or lower) triangle of the last two dims, offset k";
  let arguments = (ins Kiln_Tensor:$input, DefaultValuedAttr<BoolAttr, "true">:$upper,
                   DefaultValuedAttr<Kiln_I64Attr, "0">:$k);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_ScatterElementsOp : Kiln_Op<"scatter_elements"> {
  let summary = "ONNX ScatterElements (reduction none|add|mul|max|min)";
  let arguments = (ins Kiln_Tensor:$input, Kiln_IntTensor:$indices, Kiln_Tensor:$updates,
                   DefaultValuedAttr<Kiln_I64Attr, "0">:$axis,
                   DefaultValuedStrAttr<StrAttr, "none">:$reduction);
  let results = (outs Kiln_Tensor:$output);
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

def Kiln_SoftmaxOp : Kiln_Op<"softmax"> {
  let summary = "Softmax along one axis";
  let arguments = (ins Kiln_FloatTensor:$input, DefaultValuedAttr<Kiln_I64Attr, "-1">:$axis);
  let results = (outs Kiln_FloatTensor:$output);
}

def Kiln_LogSoftmaxOp : Kiln_Op<"log_softmax"> {
  let summary = "Log-softmax along one axis";
  let arguments = (ins Kiln_FloatTensor:$input, DefaultValuedAttr<Kiln_I64Attr, "-1">:$axis);
  let results = (outs Kiln_FloatTensor:$output);
}

class Kiln_ReduceOp<string mnemonic> : Kiln_Op<mnemonic> {
  let summary = "Reduce over axes (all axes when empty, unless noop_with_empty_axes)";
  let arguments = (ins Kiln_Tensor:$input, DenseI64ArrayAttr:$axes,
                   DefaultValuedAttr<BoolAttr, "true">:$keepdims,
                   DefaultValuedAttr<BoolAttr, "false">:$noop_with_empty_axes);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_ReduceMeanOp : Kiln_ReduceOp<"reduce_mean">;
def Kiln_ReduceSumOp : Kiln_ReduceOp<"reduce_sum">;
def Kiln_ReduceMaxOp : Kiln_ReduceOp<"reduce_max">;
def Kiln_ReduceMinOp : Kiln_ReduceOp<"reduce_min">;
def Kiln_ReduceProdOp : Kiln_ReduceOp<"reduce_prod">;

def Kiln_ArgMaxOp : Kiln_Op<"argmax"> {
  let summary = "Index of the maximum along an axis (i64)";
  let arguments = (ins Kiln_Tensor:$input, DefaultValuedAttr<Kiln_I64Attr, "0">:$axis,
                   DefaultValuedAttr<BoolAttr, "true">:$keepdims,
                   DefaultValuedAttr<BoolAttr, "false">:$select_last_index);
  let results = (outs RankedTensorOf<[I64]>:$output);
}

def Kiln_TopKOp : Kiln_Op<"topk"> {
  let summary = "The k largest (or smallest) values along an axis and their indices";
  let arguments = (ins Kiln_Tensor:$input, Kiln_I64Attr:$k,
                   DefaultValuedAttr<Kiln_I64Attr, "-1">:$axis,
                   DefaultValuedAttr<BoolAttr, "true">:$largest,
                   DefaultValuedAttr<BoolAttr, "true">:$sorted);
  let results = (outs Kiln_Tensor:$values, RankedTensorOf<[I64]>:$indices);
}

def Kiln_CumSumOp : Kiln_Op<"cumsum"> {
  let summary = "Cumulative sum along an axis";
  let arguments = (ins Kiln_Tensor:$input, Kiln_I64Attr:$axis,
                   DefaultValuedAttr<BoolAttr, "false">:$exclusive,
                   DefaultValuedAttr<BoolAttr, "false">:$reverse);
  let results = (outs Kiln_Tensor:$output);
}

def Kiln_LayerNormalizationOp : Kiln_Op<"layer_normalization"> {
  let summary = "ONNX LayerNormalization over dims [axis, rank)";
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$scale,
                   Optional<Kiln_FloatTensor>:$bias,
                   DefaultValuedAttr<Kiln_I64Attr, "-1">:$axis,
                   DefaultValuedAttr<F32Attr, "1e-5">:$epsilon);
  let results = (outs Kiln_FloatTensor:$output);
}

def Kiln_BatchNormalizationOp : Kiln_Op<"batch_normalization"> {
  let summary = "ONNX BatchNormalization, inference mode (channels at dim 1)";
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$scale,
                   Kiln_FloatTensor:$bias, Kiln_FloatTensor:$mean,
                   Kiln_FloatTensor:$variance,
                   DefaultValuedAttr<F32Attr, "1e-5">:$epsilon);
  let results = (outs Kiln_FloatTensor:$output);
}

//===----------------------------------------------------------------------===//
// Fused ops (produced by kiln's passes)
//===----------------------------------------------------------------------===//

def Kiln_LayerNormOp : Kiln_Op<"layer_norm"> {
  let summary = "LayerNorm (or RMSNorm) over the last dim: (x-μ)/√(σ²+ε)·γ+β";
  let description = [{
    Normalizes over the last dimension. With `rms`, no mean is subtracted
    (x/√(mean(x²)+ε)·γ (+β)). gamma and beta are 1-D of the last dim's size.
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$gamma,
                   Optional<Kiln_FloatTensor>:$beta,
                   DefaultValuedAttr<F32Attr, "1e-5">:$epsilon,
                   DefaultValuedAttr<BoolAttr, "false">:$rms);
  let results = (outs Kiln_FloatTensor:$output);
}

def Kiln_SkipLayerNormOp : Kiln_Op<"skip_layer_norm", [AttrSizedOperandSegments]> {
  let summary = "Residual add (+bias) then LayerNorm; optionally returns the sum";
  let description = [{
    s = input + skip (+ bias); output = layer_norm(s, gamma, beta). When `sum` is
    present it is s, for a later residual use (pre-LN blocks).
  }];
  let arguments = (ins Kiln_FloatTensor:$input, Kiln_FloatTensor:$skip,
                   Kiln_FloatTensor:$gamma, Optional<Kiln_FloatTensor>:$beta,
                   Optional<Kiln_FloatTensor>:$bias,
                   DefaultValuedAttr<F32Attr, "1e-5">:$epsilon,
                   DefaultValuedAttr<BoolAttr, "false">:$rms);
  let results = (outs Kiln_FloatTensor:$output, Optional<Kiln_FloatTensor>:$sum);
  let assemblyFormat = [{
    $input `,` $skip `,` $gamma (`beta` `(` $beta^ `)`)? (`bias` `(` $bias^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
}

def Kiln_AttentionOp : Kiln_Op<"attention"> {
  let summary = "softmax(scale·Q·Kᵀ + mask)·V per head, fused";
  let description = [{
    layout "bhsd": q [B,H,Sq,D], k [B,H,Sk,D] ([B,H,D,Sk] with k_transposed),
    v [B,H,Sk,Dv], output [B,H,Sq,Dv].
    layout "bsd": q [B,Sq,H·D], k [B,Sk,H·D], v [B,Sk,H·Dv], output [B,Sq,H·Dv]
    (heads split and merged inside the op; `num_heads` gives H).
    mask: additive float or bool (true = attend), broadcastable to [B,H,Sq,Sk].
    causal: key j is masked for query i when j > i + (Sk - Sq).
    A row with every key masked gives zeros.
  }];
  let arguments = (ins Kiln_FloatTensor:$q, Kiln_FloatTensor:$k, Kiln_FloatTensor:$v,
                   Optional<Kiln_Tensor>:$mask,
                   F32Attr:$scale,
                   DefaultValuedAttr<Kiln_I64Attr, "1">:$num_heads,
                   DefaultValuedAttr<BoolAttr, "false">:$causal,
                   DefaultValuedAttr<BoolAttr, "false">:$k_transposed,
                   DefaultValuedStrAttr<StrAttr, "bhsd">:$layout);
  let results = (outs Kiln_FloatTensor:$output);
}

def Kiln_FusedMatMulOp : Kiln_Op<"fused_matmul"> {
  let summary = "matmul(a, b) (b transposed with trans_b) + bias, then activation";
  let description = [{
    output = act(alpha · a·op(b) + bias). b is 2-D [K,N] ([N,K] with trans_b) or
    batched like matmul; bias is broadcast over the last dim.
    activation: none | relu | gelu | gelu_tanh | tanh.
  }];
  let arguments = (ins Kiln_FloatTensor:$a, Kiln_FloatTensor:$b,
                   Optional<Kiln_FloatTensor>:$bias,
                   DefaultValuedStrAttr<StrAttr, "none">:$activation,
                   DefaultValuedAttr<BoolAttr, "false">:$trans_b,
                   DefaultValuedAttr<F32Attr, "1.0">:$alpha);
  let results = (outs Kiln_FloatTensor:$output);
}

#endif // KILN_OPS_TD

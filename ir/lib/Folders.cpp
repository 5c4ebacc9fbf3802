// Cheap folders of kiln ops: constants, identities, shapes of static tensors,
// and no-op transposes/reshapes.
#include "kiln/IR/KilnDialect.h"

#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;
using namespace kiln;

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

OpFoldResult IdentityOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType())
    return getInput();
  return {};
}

OpFoldResult CastOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType())
    return getInput();
  return {};
}

OpFoldResult TransposeOp::fold(FoldAdaptor adaptor) {
  ArrayRef<int64_t> perm = getPerm();
  bool identity = true;
  for (auto [i, p] : llvm::enumerate(perm))
    identity &= (int64_t)i == p;
  if (identity && getInput().getType() == getType())
    return getInput();
  // transpose(transpose(x)) with inverse perms is x.
  if (auto inner = getInput().getDefiningOp<TransposeOp>()) {
    ArrayRef<int64_t> p0 = inner.getPerm();
    bool inverse = p0.size() == perm.size();
    for (size_t i = 0; inverse && i < perm.size(); ++i)
      inverse = p0[perm[i]] == (int64_t)i;
    if (inverse && inner.getInput().getType() == getType())
      return inner.getInput();
  }
  // A small dense constant is permuted at compile time.
  auto dense = dyn_cast_or_null<DenseElementsAttr>(adaptor.getInput());
  if (!dense || !getType().hasStaticShape() || dense.getNumElements() > (1 << 16))
    return {};
  if (dense.isSplat())
    return dense.resizeSplat(getType());
  auto inType = getInput().getType();
  int64_t rank = inType.getRank();
  SmallVector<int64_t> inStrides(rank, 1);
  for (int64_t i = rank - 2; i >= 0; --i)
    inStrides[i] = inStrides[i + 1] * inType.getDimSize(i + 1);
  auto values = llvm::to_vector(dense.getValues<Attribute>());
  SmallVector<Attribute> out(values.size());
  SmallVector<int64_t> idx(rank, 0);
  ArrayRef<int64_t> outShape = getType().getShape();
  for (size_t n = 0; n < out.size(); ++n) {
    int64_t src = 0;
    for (int64_t d = 0; d < rank; ++d)
      src += idx[d] * inStrides[perm[d]];
    out[n] = values[src];
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++idx[d] < outShape[d])
        break;
      idx[d] = 0;
    }
  }
  return DenseElementsAttr::get(getType(), out);
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType() && getType().hasStaticShape())
    return getInput();
  if (auto inner = getInput().getDefiningOp<ReshapeOp>())
    if (inner.getInput().getType() == getType() && getType().hasStaticShape())
      return inner.getInput();
  auto dense = dyn_cast_or_null<DenseElementsAttr>(adaptor.getInput());
  if (dense && getType().hasStaticShape())
    return dense.reshape(getType());
  return {};
}

OpFoldResult ShapeOp::fold(FoldAdaptor) {
  auto type = getType();
  auto in = getInput().getType();
  if (!type.hasStaticShape())
    return {};
  int64_t rank = in.getRank();
  auto clampIdx = [&](int64_t v) {
    if (v < 0)
      v += rank;
    return std::min(std::max<int64_t>(v, 0), rank);
  };
  int64_t start = clampIdx(getStart());
  int64_t end = getEnd() ? clampIdx(*getEnd()) : rank;
  SmallVector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) {
    if (in.isDynamicDim(i))
      return {};
    dims.push_back(in.getDimSize(i));
  }
  return DenseIntElementsAttr::get(type, dims);
}

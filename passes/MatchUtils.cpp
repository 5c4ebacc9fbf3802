// Helpers shared by kiln's fusion patterns: reading constants, comparing values
// structurally, permutations, shapes and use checks.
#include "MatchUtils.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/Support/Debug.h"

#include <cmath>

using namespace mlir;

namespace kiln::match {

template <typename ResourceAttr>
static bool appendResource(ElementsAttr attr, SmallVectorImpl<double> &out) {
  auto typed = dyn_cast<ResourceAttr>(attr);
  if (!typed)
    return false;
  auto values = typed.tryGetAsArrayRef();
  if (!values)
    return false;
  for (auto x : *values)
    out.push_back(static_cast<double>(x));
  return true;
}

std::optional<SmallVector<double>> getConstantDoubles(Value v,
                                                      int64_t maxElements) {
  ElementsAttr attr = getConstantValue(v);
  if (!attr)
    return std::nullopt;
  int64_t numel = attr.getNumElements();
  if (numel > maxElements)
    return std::nullopt;
  Type elementType = attr.getElementType();
  SmallVector<double> out;
  out.reserve(numel);
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (isa<FloatType>(elementType)) {
      for (APFloat x : dense.getValues<APFloat>()) {
        bool lost = false;
        x.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
        out.push_back(x.convertToDouble());
      }
      return out;
    }
    if (auto intType = dyn_cast<IntegerType>(elementType)) {
      bool isUnsigned = intType.isUnsigned() || intType.getWidth() == 1;
      for (const APInt &x : dense.getValues<APInt>())
        out.push_back(isUnsigned ? double(x.getZExtValue())
                                 : double(x.getSExtValue()));
      return out;
    }
    return std::nullopt;
  }
  if (isa<DenseResourceElementsAttr>(attr)) {
    if (appendResource<DenseF32ResourceElementsAttr>(attr, out) ||
        appendResource<DenseF64ResourceElementsAttr>(attr, out) ||
        appendResource<DenseI64ResourceElementsAttr>(attr, out) ||
        appendResource<DenseI32ResourceElementsAttr>(attr, out) ||
        appendResource<DenseI8ResourceElementsAttr>(attr, out) ||
        appendResource<DenseUI8ResourceElementsAttr>(attr, out) ||
        appendResource<DenseBoolResourceElementsAttr>(attr, out))
      if (int64_t(out.size()) == numel)
        return out;
  }
  return std::nullopt;
}

std::optional<double> getScalarConstant(Value v) {
  ElementsAttr attr = getConstantValue(v);
  if (!attr)
    return std::nullopt;
  // A splat needs one element read; anything else must be small.
  if (auto dense = dyn_cast<DenseElementsAttr>(attr);
      dense && dense.isSplat()) {
    if (isa<FloatType>(dense.getElementType())) {
      APFloat x = dense.getSplatValue<APFloat>();
      bool lost = false;
      x.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
      return x.convertToDouble();
    }
    if (auto intType = dyn_cast<IntegerType>(dense.getElementType())) {
      APInt x = dense.getSplatValue<APInt>();
      return intType.isUnsigned() || intType.getWidth() == 1
                 ? double(x.getZExtValue())
                 : double(x.getSExtValue());
    }
    return std::nullopt;
  }
  auto values = getConstantDoubles(v, /*maxElements=*/4096);
  if (!values || values->empty())
    return std::nullopt;
  for (double x : *values)
    if (x != values->front() && !(std::isnan(x) && std::isnan(values->front())))
      return std::nullopt;
  return values->front();
}

bool isNear(double a, double b, double tol) {
  if (std::isinf(a) || std::isinf(b))
    return a == b;
  double scale = std::max({1.0, std::fabs(a), std::fabs(b)});
  return std::fabs(a - b) <= tol * scale;
}

bool isSameValue(Value a, Value b, unsigned depth) {
  if (a == b)
    return true;
  if (!a || !b || a.getType() != b.getType())
    return false;
  ElementsAttr ca = getConstantValue(a), cb = getConstantValue(b);
  if (ca || cb)
    return ca && cb && ca == cb;
  if (depth == 0)
    return false;
  auto ra = dyn_cast<OpResult>(a), rb = dyn_cast<OpResult>(b);
  if (!ra || !rb || ra.getResultNumber() != rb.getResultNumber())
    return false;
  Operation *opA = ra.getOwner(), *opB = rb.getOwner();
  if (!isMemoryEffectFree(opA) || !isMemoryEffectFree(opB) ||
      opA->getNumRegions() || opB->getNumRegions())
    return false;
  return OperationEquivalence::isEquivalentTo(
      opA, opB,
      [&](Value x, Value y) { return success(isSameValue(x, y, depth - 1)); },
      /*markEquivalent=*/nullptr, OperationEquivalence::IgnoreLocations);
}

int64_t getRank(Value v) {
  if (auto type = dyn_cast<RankedTensorType>(v.getType()))
    return type.getRank();
  return -1;
}

int64_t getDim(Value v, int64_t i) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type)
    return ShapedType::kDynamic;
  auto axis = normalizeAxis(i, type.getRank());
  if (!axis)
    return ShapedType::kDynamic;
  return type.getDimSize(*axis);
}

bool hasStaticShape(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  return type && type.hasStaticShape();
}

std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis >= rank)
    return std::nullopt;
  return axis;
}

SmallVector<int64_t> composePerms(ArrayRef<int64_t> inner,
                                  ArrayRef<int64_t> outer) {
  SmallVector<int64_t> out;
  for (int64_t i : outer)
    out.push_back(inner[i]);
  return out;
}

bool isIdentityPerm(ArrayRef<int64_t> perm) {
  for (auto [i, p] : llvm::enumerate(perm))
    if (p != int64_t(i))
      return false;
  return true;
}

/// True when broadcasting `constant` against `other` leaves `other`'s shape.
static bool broadcastsInto(Value constant, Value other) {
  auto c = dyn_cast<RankedTensorType>(constant.getType());
  auto o = dyn_cast<RankedTensorType>(other.getType());
  if (!c || !o || c.getRank() > o.getRank())
    return false;
  int64_t offset = o.getRank() - c.getRank();
  for (int64_t i = 0; i < c.getRank(); ++i) {
    int64_t cd = c.getDimSize(i), od = o.getDimSize(i + offset);
    if (cd != 1 && cd != od)
      return false;
  }
  return true;
}

std::optional<ScalarOperand> getScalarOperand(Operation *op) {
  if (op->getNumOperands() != 2 || op->getNumResults() != 1)
    return std::nullopt;
  for (int side = 0; side < 2; ++side) {
    Value c = op->getOperand(side), other = op->getOperand(1 - side);
    auto scalar = getScalarConstant(c);
    if (!scalar || getConstantValue(other))
      continue;
    if (!broadcastsInto(c, other))
      continue;
    return ScalarOperand{other, *scalar, side == 0};
  }
  return std::nullopt;
}

std::optional<ScalarScale> getScalarScale(Operation *op) {
  if (!isa<MulOp, DivOp>(op))
    return std::nullopt;
  auto scalar = getScalarOperand(op);
  if (!scalar || (isa<DivOp>(op) && scalar->constantIsLhs) ||
      scalar->scalar == 0)
    return std::nullopt;
  return ScalarScale{scalar->other,
                     isa<DivOp>(op) ? 1.0 / scalar->scalar : scalar->scalar};
}

bool onlyUsedBy(Value v, ArrayRef<Operation *> allowed) {
  return llvm::all_of(v.getUsers(), [&](Operation *user) {
    return llvm::is_contained(allowed, user);
  });
}

bool isChannelVector(Value v, int64_t lastDim) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || type.getRank() < 1 || !isa<FloatType>(type.getElementType()))
    return false;
  int64_t n = type.getShape().back();
  if (ShapedType::isDynamic(n))
    return false;
  if (!ShapedType::isDynamic(lastDim) && n != lastDim)
    return false;
  return llvm::all_of(type.getShape().drop_back(),
                      [](int64_t d) { return d == 1; });
}

RankedTensorType broadcastType(Type a, Type b, Type elementType) {
  auto ta = dyn_cast<RankedTensorType>(a), tb = dyn_cast<RankedTensorType>(b);
  if (!ta || !tb)
    return {};
  int64_t rank = std::max(ta.getRank(), tb.getRank());
  SmallVector<int64_t> shape(rank);
  for (int64_t i = 0; i < rank; ++i) {
    int64_t ia = i - (rank - ta.getRank()), ib = i - (rank - tb.getRank());
    int64_t da = ia >= 0 ? ta.getDimSize(ia) : 1;
    int64_t db = ib >= 0 ? tb.getDimSize(ib) : 1;
    if (da == 1)
      shape[i] = db;
    else if (db == 1)
      shape[i] = da;
    else if (ShapedType::isDynamic(da))
      shape[i] = db; // equal to db at run time unless db is dynamic too
    else if (ShapedType::isDynamic(db) || da == db)
      shape[i] = da;
    else
      return {};
  }
  return RankedTensorType::get(shape, elementType);
}

std::optional<SmallVector<ShapeElement>> getShapeElements(Value shape) {
  if (getRank(shape) != 1)
    return std::nullopt;
  SmallVector<ShapeElement> out;
  if (auto ints = getConstantInts(shape)) {
    for (int64_t x : *ints)
      out.push_back({x, Value()});
    return out;
  }
  if (getDim(shape, 0) == 1) {
    out.push_back({std::nullopt, shape});
    return out;
  }
  auto concat = shape.getDefiningOp<ConcatOp>();
  if (!concat || concat.getAxis() != 0)
    return std::nullopt;
  for (Value piece : concat.getInputs()) {
    if (auto ints = getConstantInts(piece)) {
      for (int64_t x : *ints)
        out.push_back({x, Value()});
      continue;
    }
    if (getRank(piece) != 1 || getDim(piece, 0) != 1)
      return std::nullopt;
    out.push_back({std::nullopt, piece});
  }
  return out;
}

std::optional<std::pair<Value, int64_t>> getShapeDimRef(Value element) {
  Value v = element;
  while (Operation *op = v.getDefiningOp()) {
    if (isa<UnsqueezeOp, SqueezeOp, ReshapeOp, CastOp, IdentityOp>(op)) {
      v = op->getOperand(0);
      continue;
    }
    break;
  }
  std::optional<int64_t> index;
  ShapeOp shapeOp;
  if (auto gather = v.getDefiningOp<GatherOp>()) {
    auto idx = getConstantInts(gather.getIndices());
    if (gather.getAxis() != 0 || !idx || idx->size() != 1)
      return std::nullopt;
    shapeOp = gather.getInput().getDefiningOp<ShapeOp>();
    index = idx->front();
  } else if (auto slice = v.getDefiningOp<SliceOp>()) {
    auto starts = getConstantInts(slice.getStarts());
    auto ends = getConstantInts(slice.getEnds());
    auto steps = getConstantInts(slice.getSteps());
    if (!starts || !ends || !steps || starts->size() != 1 ||
        ends->size() != 1 || (*steps)[0] != 1 ||
        (*ends)[0] != (*starts)[0] + 1 || (*starts)[0] < 0)
      return std::nullopt;
    shapeOp = slice.getInput().getDefiningOp<ShapeOp>();
    index = starts->front();
  }
  if (!shapeOp || !index)
    return std::nullopt;
  int64_t rank = getRank(shapeOp.getInput());
  if (rank < 0)
    return std::nullopt;
  // shape(t) with start/end lists dims [start, end) of t.
  auto start = normalizeAxis(shapeOp.getStart(), rank);
  if (shapeOp.getStart() == rank)
    start = rank;
  if (!start)
    return std::nullopt;
  int64_t end = rank;
  if (auto e = shapeOp.getEnd()) {
    end = *e < 0 ? *e + rank : std::min<int64_t>(*e, rank);
  }
  int64_t count = end - *start;
  int64_t i = *index < 0 ? *index + count : *index;
  if (i < 0 || i >= count)
    return std::nullopt;
  return std::make_pair(shapeOp.getInput(), *start + i);
}

bool isSameShapeElement(const ShapeElement &a, const ShapeElement &b) {
  if (a.constant || b.constant)
    return a.constant && b.constant && *a.constant == *b.constant;
  if (isSameValue(a.value, b.value))
    return true;
  auto ra = getShapeDimRef(a.value), rb = getShapeDimRef(b.value);
  return ra && rb && ra->second == rb->second &&
         isSameValue(ra->first, rb->first);
}

Location absorbedLoc(StringRef fusedName, ArrayRef<Operation *> absorbed) {
  assert(!absorbed.empty() && "a fused op absorbs at least one op");
  SmallVector<Operation *> ops(absorbed.begin(), absorbed.end());
  // Program order, when the ops share a block (they do in fusion patterns).
  if (llvm::all_of(ops, [&](Operation *op) {
        return op->getBlock() == ops.front()->getBlock();
      }))
    llvm::sort(ops, [](Operation *a, Operation *b) {
      return a != b && a->isBeforeInBlock(b);
    });
  MLIRContext *ctx = ops.front()->getContext();
  SmallVector<Location> locs;
  SmallVector<Attribute> names;
  for (Operation *op : ops) {
    if (isa<ConstantOp>(op))
      continue; // weights and scalars are operands, not absorbed work
    auto fused = dyn_cast<FusedLoc>(op->getLoc());
    auto list =
        fused ? dyn_cast_or_null<ArrayAttr>(fused.getMetadata()) : ArrayAttr();
    if (op->getName().getStringRef() == fusedName && list) {
      llvm::append_range(locs, fused.getLocations());
      llvm::append_range(names, list.getValue());
      continue;
    }
    locs.push_back(op->getLoc());
    names.push_back(StringAttr::get(ctx, op->getName().stripDialect()));
  }
  return FusedLoc::get(locs, ArrayAttr::get(ctx, names), ctx);
}

LogicalResult notFused(PatternRewriter &rewriter, Operation *op,
                       const char *debugType, const Twine &why) {
  DEBUG_WITH_TYPE(debugType, llvm::dbgs() << debugType << ": " << op->getName()
                                          << " at " << op->getLoc()
                                          << " not fused: " << why << "\n");
  return rewriter.notifyMatchFailure(op, why);
}

LogicalResult notCandidate(PatternRewriter &rewriter, Operation *op,
                           const Twine &why) {
  return rewriter.notifyMatchFailure(op, kNotCandidate + why);
}

namespace {
/// Keeps the last match-failure reason a pattern gave.
struct ReasonRecorder : RewriterBase::Listener {
  void notifyMatchFailure(Location loc,
                          function_ref<void(Diagnostic &)> callback) override {
    Diagnostic diag(loc, DiagnosticSeverity::Remark);
    callback(diag);
    reason = diag.str();
  }
  std::string reason;
};
} // namespace

/// Runs every pattern rooted at each op once more and reports its reasons.
static void reportMisses(Operation *root, StringRef passName,
                         RewritePatternSet &patterns) {
  SmallVector<Operation *> ops;
  root->walk([&](Operation *op) {
    if (op != root)
      ops.push_back(op);
  });
  ReasonRecorder recorder;
  PatternRewriter rewriter(root->getContext());
  rewriter.setListener(&recorder);
  for (Operation *op : ops) {
    for (const std::unique_ptr<RewritePattern> &pattern :
         patterns.getNativePatterns()) {
      if (pattern->getRootKind() != op->getName())
        continue;
      recorder.reason.clear();
      rewriter.setInsertionPoint(op);
      if (succeeded(pattern->matchAndRewrite(op, rewriter))) {
        // Only when the greedy driver stopped at its iteration limit.
        emitRemark(root->getLoc())
            << passName << ": fusion did not converge; report stopped";
        return;
      }
      StringRef reason = recorder.reason;
      if (!reason.empty() && !reason.starts_with(kNotCandidate))
        emitRemark(op->getLoc()) << passName << ": not fused: " << reason;
    }
  }
}

LogicalResult
runFusionPatterns(Operation *root, StringRef passName, bool report,
                  function_ref<void(RewritePatternSet &)> populate) {
  MLIRContext *ctx = root->getContext();
  RewritePatternSet patterns(ctx);
  populate(patterns);
  bool changed = false;
  // Not converging within the driver's iteration limit leaves a correct,
  // partly fused graph: not an error.
  (void)applyPatternsGreedily(root, std::move(patterns), GreedyRewriteConfig(),
                              &changed);
  if (changed && failed(refineShapes(root)))
    return failure();
  if (report) {
    RewritePatternSet again(ctx);
    populate(again);
    reportMisses(root, passName, again);
  }
  return success();
}

Value createI64Constant(OpBuilder &builder, Location loc,
                        ArrayRef<int64_t> values) {
  auto type =
      RankedTensorType::get({int64_t(values.size())}, builder.getI64Type());
  return ConstantOp::create(builder, loc, type,
                            DenseIntElementsAttr::get(type, values));
}

Value makeChannelVector(PatternRewriter &rewriter, Location loc, Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getRank() == 1)
    return v;
  auto flat =
      RankedTensorType::get({type.getShape().back()}, type.getElementType());
  if (ElementsAttr attr = getConstantValue(v)) {
    if (auto dense = dyn_cast<DenseElementsAttr>(attr))
      return ConstantOp::create(rewriter, loc, flat, dense.reshape(flat));
    if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr))
      return ConstantOp::create(
          rewriter, loc, flat,
          DenseResourceElementsAttr::get(flat, resource.getRawHandle()));
  }
  Value shape = createI64Constant(rewriter, loc, {type.getShape().back()});
  return ReshapeOp::create(rewriter, loc, flat, v, shape);
}

} // namespace kiln::match

// Graphviz (.dot) export of @main for `kiln compile --emit=dot`: ops are nodes
// (op name + result shapes, ONNX node name as tooltip), SSA values are edges,
// fused ops sit in clusters labelled with the ops they absorbed.
#include "kiln/Compiler/DotExport.h"
#include "kiln/Compiler/Driver.h"
#include "kiln/IR/KilnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Program.h"

using namespace mlir;

namespace {

/// Escapes `s` for a double-quoted DOT string.
std::string escape(StringRef s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

/// "?x?x64xf32" for tensor<?x?x64xf32>; the full type otherwise.
std::string shortType(Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  type.print(os);
  StringRef ref(s);
  if (ref.consume_front("tensor<") && ref.consume_back(">"))
    return ref.str();
  return s;
}

/// The ONNX node names a location carries (a NameLoc, or several in a
/// FusedLoc).
void collectNames(Location loc, SmallVectorImpl<std::string> &names) {
  if (auto name = dyn_cast<NameLoc>(loc)) {
    names.push_back(name.getName().str());
    return;
  }
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      collectNames(inner, names);
  if (auto callSite = dyn_cast<CallSiteLoc>(loc))
    collectNames(callSite.getCallee(), names);
}

/// The op names a fused op absorbed, as the fusion passes record them: the
/// ArrayAttr metadata of a FusedLoc (see passes/MatchUtils.h absorbedLoc),
/// looked up through FusedLocs without metadata that later rewrites wrap it
/// in. Null when the location records none (e.g. a model written fused).
ArrayAttr absorbedOps(Location loc) {
  auto fused = dyn_cast<FusedLoc>(loc);
  if (!fused)
    return nullptr;
  if (auto list = dyn_cast_or_null<ArrayAttr>(fused.getMetadata()))
    return list;
  if (fused.getMetadata())
    return nullptr;
  for (Location inner : fused.getLocations())
    if (ArrayAttr list = absorbedOps(inner))
      return list;
  return nullptr;
}

/// "attention: matmul, mul, add, softmax, matmul", six names a line.
std::string clusterLabel(Operation *op, ArrayAttr absorbed) {
  std::string label = op->getName().stripDialect().str() + ":";
  for (auto [i, name] : llvm::enumerate(absorbed)) {
    auto s = dyn_cast<StringAttr>(name);
    label += (i == 0 ? " " : i % 6 == 0 ? ",\n" : ", ");
    label += s ? s.getValue().str() : std::string("?");
  }
  return label;
}

/// Ops kiln's fusion passes produce.
bool isFused(Operation *op) {
  return isa<kiln::AttentionOp, kiln::FusedMatMulOp, kiln::LayerNormOp,
             kiln::SkipLayerNormOp, kiln::GeluOp>(op);
}

/// A constant's one-line description: its weight name or small value, and type.
std::string describeConstant(kiln::ConstantOp op) {
  Attribute value = op.getValue();
  std::string type = shortType(op.getResult().getType());
  if (auto res = dyn_cast<DenseResourceElementsAttr>(value))
    return res.getRawHandle().getKey().str() + " : " + type;
  if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
    if (dense.isSplat() || dense.getNumElements() == 1) {
      std::string s;
      llvm::raw_string_ostream os(s);
      if (dense.getElementType().isIntOrIndex())
        os << dense.getSplatValue<APInt>().getSExtValue();
      else if (isa<FloatType>(dense.getElementType()))
        os << llvm::format("%g",
                           dense.getSplatValue<APFloat>().convertToDouble());
      else
        os << "const";
      return s + " : " + type;
    }
  }
  return "const : " + type;
}

/// Short attributes (ints, floats, strings, bools) worth showing in a label.
std::string describeAttrs(Operation *op) {
  std::string out;
  llvm::raw_string_ostream os(out);
  for (NamedAttribute attr : op->getAttrs()) {
    Attribute v = attr.getValue();
    if (!isa<IntegerAttr, FloatAttr, StringAttr, BoolAttr, DenseI64ArrayAttr>(
            v))
      continue;
    std::string text;
    llvm::raw_string_ostream ts(text);
    if (auto s = dyn_cast<StringAttr>(v))
      ts << s.getValue();
    else if (auto i = dyn_cast<IntegerAttr>(v))
      ts << (i.getType().isInteger(1)
                 ? (i.getValue().getBoolValue() ? "true" : "false")
                 : std::to_string(i.getValue().getSExtValue()));
    else if (auto b = dyn_cast<BoolAttr>(v))
      ts << (b.getValue() ? "true" : "false");
    else if (auto f = dyn_cast<FloatAttr>(v))
      ts << llvm::format("%g", f.getValueAsDouble());
    else if (auto a = dyn_cast<DenseI64ArrayAttr>(v))
      ts << "["
         << llvm::join(
                llvm::map_range(a.asArrayRef(),
                                [](int64_t x) { return std::to_string(x); }),
                ",")
         << "]";
    if (text.size() > 32)
      continue;
    os << "\n" << attr.getName().getValue() << "=" << text;
  }
  return out;
}

} // namespace

LogicalResult kiln::exportDot(ModuleOp module, llvm::raw_ostream &os) {
  func::FuncOp fn = getMainFunction(module);
  if (!fn)
    return module.emitError("no @main function to draw");

  os << "digraph \"" << escape(fn.getSymName()) << "\" {\n"
     << "  rankdir=TB;\n"
     << "  node [shape=box, style=\"rounded,filled\", fillcolor=\"white\", "
        "fontname=\"Helvetica\", fontsize=10];\n"
     << "  edge [fontname=\"Helvetica\", fontsize=8];\n";

  // Where each SSA value comes from: a node id, and for multi-result ops the
  // result number (shown on the edge).
  llvm::DenseMap<Value, std::string> source;
  for (auto [i, arg] : llvm::enumerate(fn.getArguments())) {
    std::string id = "arg" + std::to_string(i);
    source[arg] = id;
    os << "  " << id << " [shape=ellipse, fillcolor=\"#d9ead3\", label=\""
       << escape(argName(fn, i) + "\n" + shortType(arg.getType())) << "\"];\n";
  }

  // Constants are folded into their users' labels unless the function returns
  // them directly; then they get a small node.
  auto collapsed = [](Operation *op) {
    auto cst = dyn_cast<kiln::ConstantOp>(op);
    return cst && llvm::none_of(cst->getUsers(), [](Operation *user) {
             return isa<func::ReturnOp>(user);
           });
  };

  unsigned next = 0;
  llvm::DenseMap<Operation *, std::string> ids;
  for (Operation &op : fn.getBody().front()) {
    if (collapsed(&op))
      continue;
    std::string id = "op" + std::to_string(next++);
    ids[&op] = id;
    for (Value r : op.getResults())
      source[r] = id;

    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      std::string label = "outputs";
      for (unsigned i = 0, e = ret.getNumOperands(); i < e; ++i)
        label += "\n" + resultName(fn, i);
      os << "  " << id << " [shape=ellipse, fillcolor=\"#d9ead3\", label=\""
         << escape(label) << "\"];\n";
      continue;
    }
    if (auto cst = dyn_cast<kiln::ConstantOp>(op)) {
      os << "  " << id << " [shape=note, fontsize=8, label=\""
         << escape(describeConstant(cst)) << "\"];\n";
      continue;
    }

    std::string label = op.getName().getStringRef().str();
    if (op.getNumResults() > 0) {
      SmallVector<std::string> types;
      for (Type t : op.getResultTypes())
        types.push_back(shortType(t));
      label += "\n" + llvm::join(types, ", ");
    }
    label += describeAttrs(&op);
    for (Value operand : op.getOperands())
      if (auto cst = operand.getDefiningOp<kiln::ConstantOp>();
          cst && collapsed(cst))
        label += "\n+ " + describeConstant(cst);

    SmallVector<std::string> names;
    collectNames(op.getLoc(), names);
    std::string tooltip = names.empty() ? label : llvm::join(names, ", ");
    // A fused op that records what it absorbed sits in a cluster saying so.
    ArrayAttr absorbed = isFused(&op) ? absorbedOps(op.getLoc()) : nullptr;
    std::string indent = absorbed ? "    " : "  ";
    if (absorbed)
      os << "  subgraph cluster_" << id << " {\n"
         << "    label=\"" << escape(clusterLabel(&op, absorbed))
         << "\"; tooltip=\"" << escape(tooltip)
         << "\"; style=\"rounded,dashed\"; color=\"#e69138\"; "
            "fontname=\"Helvetica\"; fontsize=9;\n";
    os << indent << id << " [label=\"" << escape(label) << "\", tooltip=\""
       << escape(tooltip) << "\"";
    if (isFused(&op))
      os << ", fillcolor=\"#ffd27f\", penwidth=2";
    os << "];\n";
    if (absorbed)
      os << "  }\n";
  }

  // Edges: one per operand that is not a folded constant.
  for (Operation &op : fn.getBody().front()) {
    auto it = ids.find(&op);
    if (it == ids.end())
      continue;
    for (Value operand : op.getOperands()) {
      auto src = source.find(operand);
      if (src == source.end())
        continue; // a folded constant or a value from an enclosing region
      std::string label = shortType(operand.getType());
      if (auto result = dyn_cast<OpResult>(operand);
          result && result.getOwner()->getNumResults() > 1)
        label = "#" + std::to_string(result.getResultNumber()) + " " + label;
      os << "  " << src->second << " -> " << it->second << " [label=\""
         << escape(label) << "\"];\n";
    }
  }
  os << "}\n";
  return success();
}

std::string kiln::findGraphvizDot() {
  llvm::ErrorOr<std::string> dot = llvm::sys::findProgramByName("dot");
  return dot ? *dot : std::string();
}

std::string kiln::renderDot(StringRef dotPath, StringRef format,
                            StringRef outPath) {
  if (format != "svg" && format != "png")
    return "unknown picture format '" + format.str() + "' (use svg or png)";
  std::string dot = findGraphvizDot();
  if (dot.empty())
    return "Graphviz's 'dot' is not on PATH (Debian package graphviz)";
  std::string typeFlag = "-T" + format.str();
  std::string outFlag = "-o" + outPath.str();
  SmallVector<StringRef> args{dot, typeFlag, outFlag, dotPath};
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(dot, args, /*Env=*/std::nullopt,
                                     /*Redirects=*/{}, /*SecondsToWait=*/120,
                                     /*MemoryLimit=*/0, &error);
  if (rc != 0)
    return "dot " + typeFlag + " " + dotPath.str() + " failed" +
           (error.empty() ? " with exit status " + std::to_string(rc)
                          : ": " + error);
  return "";
}

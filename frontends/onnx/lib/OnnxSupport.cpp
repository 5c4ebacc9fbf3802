// What kiln can import: the opset rules (which schema version of each op the
// model's opset means, via libonnx's schema registry) and
// findUnsupportedOnnxFeatures, a static check of a whole model.
#include "OnnxImporterImpl.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"

#include "onnx/defs/schema.h"

using namespace kiln;
using namespace kiln::onnx_import;

static bool isDefaultDomain(const std::string &domain) {
  return domain.empty() || domain == "ai.onnx";
}

//===----------------------------------------------------------------------===//
// Opsets
//===----------------------------------------------------------------------===//

/// The newest ai.onnx opset libonnx's registry knows (17 for libonnx 1.12).
static int64_t registryMaxOpset() {
  static const int64_t v = [] {
    const auto &m =
        onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
    auto it = m.find(onnx::ONNX_DOMAIN);
    return it == m.end() ? int64_t(0) : int64_t(it->second.second);
  }();
  return v;
}

namespace {
/// A new schema version, after opset 21, of an op kiln converts.
struct LaterVersion {
  const char *op;
  int64_t version;
  /// True when the version only adds element types: kiln, which checks
  /// element types on their own, reads it as the previous version.
  bool typesOnly;
};
} // namespace

/// Opsets 22 and 23, for the ops kiln converts. Opset 22 added bfloat16 to
/// Sin, Cos and Dropout; opset 23 added 4-bit types (float4e2m1, int4, uint4)
/// to the data movement ops. No semantics changed, so kiln reads opsets 22
/// and 23 like 21. A version that changes semantics is listed with typesOnly =
/// false (and is then rejected); raise kMaxOpset only after adding the next
/// opset's versions here.
static const LaterVersion kLaterVersions[] = {
    {"Sin", 22, true},
    {"Cos", 22, true},
    {"Dropout", 22, true},
    {"Cast", 23, true},
    {"CastLike", 23, true},
    {"Constant", 23, true},
    {"ConstantOfShape", 23, true},
    {"Flatten", 23, true},
    {"Identity", 23, true},
    {"Reshape", 23, true},
    {"Shape", 23, true},
    {"Size", 23, true},
    {"Squeeze", 23, true},
    {"Transpose", 23, true},
    {"Unsqueeze", 23, true},
};
static constexpr int64_t kLastImplementedOpset = 21;

OpVersionStatus onnx_import::checkOpVersion(llvm::StringRef opType,
                                            const OpConversion &conv,
                                            int64_t opset,
                                            int64_t &schemaVersion) {
  schemaVersion = 0;
  // Up to the registry's last opset it says which schema version the opset
  // means; the converter implements versions from conv.oldestVersion on.
  if (opset <= registryMaxOpset()) {
    const onnx::OpSchema *schema =
        onnx::OpSchemaRegistry::Schema(opType.str(), (int)opset);
    if (!schema) // not in this opset yet (or unknown to libonnx: Gelu)
      return OpVersionStatus::NotInOpset;
    schemaVersion = schema->SinceVersion();
    return schemaVersion >= conv.oldestVersion ? OpVersionStatus::Supported
                                               : OpVersionStatus::OldVersion;
  }
  // Beyond the registry, kiln's own table decides. Ops converted from a
  // version newer than the registry (Gelu: 20) have that version as their
  // first, so an older opset does not have them.
  if (opset < conv.oldestVersion)
    return OpVersionStatus::NotInOpset;
  // Every form from oldestVersion through opset 21 is converted (the
  // converters branch on the opset where ONNX changed an op).
  if (opset <= kLastImplementedOpset)
    return OpVersionStatus::Supported;
  for (const LaterVersion &v : kLaterVersions) {
    if (opType == v.op && v.version <= opset && !v.typesOnly) {
      schemaVersion = v.version;
      return OpVersionStatus::NewVersion;
    }
  }
  return OpVersionStatus::Supported;
}

//===----------------------------------------------------------------------===//
// findUnsupportedOnnxFeatures
//===----------------------------------------------------------------------===//

namespace {

/// An input that kiln needs as a constant at import.
struct ConstInput {
  const char *op;
  int index;
  const char *name;
  int64_t sinceOpset; // the opset where ONNX made it an input
};

const ConstInput kConstInputs[] = {
    {"Squeeze", 1, "axes", 13},         {"Unsqueeze", 1, "axes", 13},
    {"Split", 1, "split", 13},          {"ReduceSum", 1, "axes", 13},
    {"ReduceMean", 1, "axes", 18},      {"ReduceMax", 1, "axes", 18},
    {"ReduceMin", 1, "axes", 18},       {"ReduceProd", 1, "axes", 18},
    {"ReduceL1", 1, "axes", 18},        {"ReduceL2", 1, "axes", 18},
    {"ReduceLogSum", 1, "axes", 18},    {"ReduceLogSumExp", 1, "axes", 18},
    {"ReduceSumSquare", 1, "axes", 18}, {"TopK", 1, "k", 10},
    {"CumSum", 1, "axis", 11},          {"Trilu", 1, "k", 14},
};

/// Problems grouped by what is unsupported, in order of first appearance,
/// each with the places (nodes, inputs) where it occurs.
class Findings {
public:
  /// `kind`: what places are ("node"), or empty when they say it themselves.
  explicit Findings(std::string kind = "") : kind(std::move(kind)) {}
  void add(const std::string &what, const std::string &where) {
    auto [it, inserted] = slot.try_emplace(what, groups.size());
    if (inserted)
      groups.push_back({what, {}});
    groups[it->second].second.push_back(where);
  }
  /// "WHAT: place, place, place and N more".
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    const size_t kShown = 3;
    for (const auto &[what, places] : groups) {
      std::string e = what;
      if (!places.empty() && !places.front().empty()) {
        e += ": ";
        if (!kind.empty())
          e += kind + (places.size() > 1 ? "s " : " ");
        for (size_t i = 0; i < places.size() && i < kShown; ++i)
          e += (i ? ", " : "") + places[i];
        if (places.size() > kShown)
          e += " and " + std::to_string(places.size() - kShown) + " more";
      }
      out.push_back(e);
    }
    return out;
  }

private:
  std::string kind;
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  llvm::StringMap<size_t> slot;
};

class SupportChecker {
public:
  explicit SupportChecker(const onnx::ModelProto &model)
      : model(model), graph(model.graph()) {}

  std::vector<std::string> run();

private:
  void checkValueType(const onnx::TypeProto &type, const std::string &where);
  void checkElementType(int32_t type, const std::string &where);
  void checkTypes();
  void findRuntimeValues();
  std::string nodeName(int index) const;
  std::string nodeLabel(int index) const;
  void checkNode(int index);
  void checkNodeDetails(int index, const OpConversion &conv);
  /// The value of a constant input: an initializer or a Constant node's
  /// tensor; null when it is neither (or unreadable).
  std::optional<ref::Tensor> constantValue(const std::string &name) const;

  const onnx::ModelProto &model;
  const onnx::GraphProto &graph;
  int64_t opset = -1; // -1: no ai.onnx opset; opset checks are skipped
  Findings ops{"node"}, other;
  llvm::StringSet<> initializers, runtime, used;
  llvm::StringMap<int> constantNodes; // output name -> Constant node index
};

} // namespace

void SupportChecker::checkElementType(int32_t type, const std::string &where) {
  if (type == onnx::TensorProto::UNDEFINED || dtypeFromOnnx(type))
    return;
  other.add("unsupported element type " + onnxTypeName(type), where);
}

void SupportChecker::checkValueType(const onnx::TypeProto &type,
                                    const std::string &where) {
  switch (type.value_case()) {
  case onnx::TypeProto::kTensorType:
    checkElementType(type.tensor_type().elem_type(), where);
    return;
  case onnx::TypeProto::VALUE_NOT_SET:
    return; // an undeclared type: inference decides
  case onnx::TypeProto::kSequenceType:
    other.add("unsupported: " + where + " is a sequence, not a tensor", "");
    return;
  case onnx::TypeProto::kMapType:
    other.add("unsupported: " + where + " is a map, not a tensor", "");
    return;
  case onnx::TypeProto::kOptionalType:
    other.add("unsupported: " + where + " is an optional, not a tensor", "");
    return;
  default:
    other.add("unsupported: " + where + " is a sparse tensor", "");
    return;
  }
}

void SupportChecker::checkTypes() {
  for (const onnx::TensorProto &t : graph.initializer())
    checkElementType(t.data_type(), "initializer '" + t.name() + "'");
  for (const onnx::SparseTensorProto &t : graph.sparse_initializer())
    other.add("unsupported: sparse initializer '" + t.values().name() + "'",
              "");
  for (const onnx::ValueInfoProto &in : graph.input())
    if (!initializers.count(in.name()))
      checkValueType(in.type(), "graph input '" + in.name() + "'");
  for (const onnx::ValueInfoProto &out : graph.output())
    checkValueType(out.type(), "graph output '" + out.name() + "'");
  for (const onnx::ValueInfoProto &v : graph.value_info())
    checkValueType(v.type(), "value '" + v.name() + "'");
}

/// Values that depend on the data of graph inputs (not just their shapes):
/// kiln cannot know them at import.
void SupportChecker::findRuntimeValues() {
  for (const onnx::ValueInfoProto &in : graph.input())
    if (!initializers.count(in.name()))
      runtime.insert(in.name());
  // Nodes are normally sorted; the loop also settles unsorted graphs.
  for (bool changed = true; changed;) {
    changed = false;
    for (const onnx::NodeProto &node : graph.node()) {
      if (isDefaultDomain(node.domain()) &&
          (node.op_type() == "Shape" || node.op_type() == "Size"))
        continue; // only the input's shape matters
      bool dependent = llvm::any_of(node.input(), [&](const std::string &in) {
        return !in.empty() && runtime.count(in);
      });
      if (!dependent)
        continue;
      for (const std::string &out : node.output())
        if (!out.empty() && runtime.insert(out).second)
          changed = true;
    }
  }
}

std::string SupportChecker::nodeName(int index) const {
  const onnx::NodeProto &node = graph.node(index);
  if (!node.name().empty())
    return node.name();
  return node.op_type() + "_" + std::to_string(index);
}

std::string SupportChecker::nodeLabel(int index) const {
  return "node " + nodeName(index) + " (" + graph.node(index).op_type() + ")";
}

std::optional<ref::Tensor>
SupportChecker::constantValue(const std::string &name) const {
  try {
    for (const onnx::TensorProto &t : graph.initializer())
      if (t.name() == name)
        return tensorFromProto(t, ".");
    auto it = constantNodes.find(name);
    if (it == constantNodes.end())
      return std::nullopt;
    for (const onnx::AttributeProto &a : graph.node(it->second).attribute()) {
      if (a.name() == "value" && a.has_t())
        return tensorFromProto(a.t(), ".");
      if (a.name() == "value_int")
        return ref::Tensor::scalarI64(a.i());
    }
  } catch (const ref::Error &) {
    // The importer reports unreadable tensors.
  }
  return std::nullopt;
}

void SupportChecker::checkNode(int index) {
  const onnx::NodeProto &node = graph.node(index);
  if (!isDefaultDomain(node.domain())) {
    std::string domainOpset = node.domain() + ", not imported";
    for (const onnx::OperatorSetIdProto &imp : model.opset_import())
      if (imp.domain() == node.domain())
        domainOpset = node.domain() + " opset " + std::to_string(imp.version());
    ops.add("unsupported op " + node.op_type() + " (" + domainOpset + ")",
            nodeName(index));
    return;
  }
  const OpConversion *conv = lookupOpConversion(node.op_type());
  std::string at =
      opset >= 0 ? " (ai.onnx opset " + std::to_string(opset) : " (ai.onnx";
  if (!conv) {
    ops.add("unsupported op " + node.op_type() + at + ")", nodeName(index));
    return;
  }
  if (opset < kMinOpset || opset > kMaxOpset)
    return; // no opset, or reported for the whole model
  int64_t version = 0;
  OpVersionStatus status =
      checkOpVersion(node.op_type(), *conv, opset, version);
  if (status == OpVersionStatus::OldVersion) {
    ops.add("unsupported op " + node.op_type() + " version " +
                std::to_string(version) + at + "; kiln implements " +
                node.op_type() + " from version " +
                std::to_string(conv->oldestVersion) + ")",
            nodeName(index));
    return;
  }
  if (status == OpVersionStatus::NewVersion) {
    ops.add("unsupported op " + node.op_type() + " version " +
                std::to_string(version) + at + "; kiln implements " +
                node.op_type() + " up to version " +
                std::to_string(kLastImplementedOpset) + ")",
            nodeName(index));
    return;
  }
  if (status == OpVersionStatus::Supported)
    checkNodeDetails(index, *conv);
  // NotInOpset: an invalid model, which the importer reports as an error.
}

void SupportChecker::checkNodeDetails(int index, const OpConversion &conv) {
  const onnx::NodeProto &node = graph.node(index);
  const std::string &op = node.op_type();
  auto input = [&](int i) -> std::string {
    return i < node.input_size() ? node.input(i) : std::string();
  };

  // Outputs kiln does not compute must be unused. Dropout's mask (all true in
  // inference) is computed from opset 10, where it became a bool tensor.
  unsigned produced = conv.maxOutputs;
  if (op == "Dropout" && opset < 10)
    produced = 1;
  std::vector<std::string> usedOutputs;
  for (unsigned i = produced; i < (unsigned)node.output_size(); ++i) {
    const std::string &out = node.output(i);
    if (!out.empty() && used.count(out))
      usedOutputs.push_back("#" + std::to_string(i) + " '" + out + "'");
  }
  if (!usedOutputs.empty())
    other.add("unsupported: output" +
                  std::string(usedOutputs.size() > 1 ? "s " : " ") +
                  llvm::join(usedOutputs, ", ") + " of " + nodeLabel(index) +
                  (usedOutputs.size() > 1 ? " are" : " is") +
                  " used; kiln computes " +
                  (produced == 1
                       ? std::string("only output #0")
                       : "outputs #0 to #" + std::to_string(produced - 1)),
              "");

  for (const ConstInput &ci : kConstInputs) {
    if (op != ci.op || opset < ci.sinceOpset)
      continue;
    std::string in = input(ci.index);
    if (!in.empty() && runtime.count(in))
      other.add(std::string("unsupported: non-constant '") + ci.name +
                    "' input of " + nodeLabel(index),
                "");
  }

  if (op == "Dropout") {
    std::string mode = input(2);
    if (mode.empty())
      return;
    std::optional<ref::Tensor> value = constantValue(mode);
    if (value && value->numel() == 1 && value->getInt(0) == 0)
      return;
    if (value || runtime.count(mode))
      other.add("unsupported: Dropout in training mode ('training_mode' "
                "input '" +
                    mode + "' is " + (value ? "not false" : "not a constant") +
                    ") in " + nodeLabel(index),
                "");
    // Otherwise it is computed from constants: the converter checks it.
  } else if (op == "BatchNormalization") {
    for (const onnx::AttributeProto &a : node.attribute())
      if (a.name() == "training_mode" && a.i() != 0)
        other.add("unsupported: BatchNormalization in training mode in " +
                      nodeLabel(index),
                  "");
  } else if (op == "Constant") {
    for (const onnx::AttributeProto &a : node.attribute()) {
      if (a.name() == "sparse_value" || a.name() == "value_string" ||
          a.name() == "value_strings")
        other.add("unsupported: attribute '" + a.name() + "' of " +
                      nodeLabel(index),
                  "");
      else if (a.name() == "value" && a.has_t())
        checkElementType(a.t().data_type(), nodeLabel(index));
    }
  } else if (op == "ConstantOfShape") {
    for (const onnx::AttributeProto &a : node.attribute())
      if (a.name() == "value" && a.has_t())
        checkElementType(a.t().data_type(), nodeLabel(index));
  } else if (op == "Einsum") {
    for (const onnx::AttributeProto &a : node.attribute())
      if (a.name() == "equation" && a.s().find("...") != std::string::npos)
        other.add("unsupported: Einsum with an ellipsis ('...') in " +
                      nodeLabel(index),
                  "");
  } else if (op == "Cast") {
    for (const onnx::AttributeProto &a : node.attribute())
      if (a.name() == "to")
        checkElementType((int32_t)a.i(), "Cast target of " + nodeLabel(index));
  }
}

std::vector<std::string> SupportChecker::run() {
  bool hasOpset = false;
  for (const onnx::OperatorSetIdProto &imp : model.opset_import()) {
    if (isDefaultDomain(imp.domain())) {
      opset = imp.version();
      hasOpset = true;
    }
  }
  std::vector<std::string> out;
  if (hasOpset && opset > kMaxOpset)
    out.push_back("unsupported ai.onnx opset " + std::to_string(opset) +
                  " (kiln imports opsets " + std::to_string(kMinOpset) +
                  " to " + std::to_string(kMaxOpset) + ")");
  if (!model.has_graph())
    return out;
  for (const onnx::TensorProto &t : graph.initializer())
    initializers.insert(t.name());
  for (const onnx::NodeProto &node : graph.node()) {
    for (const std::string &in : node.input())
      if (!in.empty())
        used.insert(in);
  }
  for (const onnx::ValueInfoProto &o : graph.output())
    used.insert(o.name());
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto &node = graph.node(i);
    if (isDefaultDomain(node.domain()) && node.op_type() == "Constant" &&
        node.output_size() == 1)
      constantNodes[node.output(0)] = i;
  }
  checkTypes();
  findRuntimeValues();
  for (int i = 0; i < graph.node_size(); ++i)
    checkNode(i);
  for (std::string &e : ops.entries())
    out.push_back(std::move(e));
  for (std::string &e : other.entries())
    out.push_back(std::move(e));
  return out;
}

std::vector<std::string>
kiln::findUnsupportedOnnxFeatures(const onnx::ModelProto &model) {
  return SupportChecker(model).run();
}

bool kiln::isSupportedOnnxElementType(int32_t onnxType) {
  return dtypeFromOnnx(onnxType).has_value();
}

// The ONNX importer's driver: parses the model, checks that kiln supports
// everything in it (findUnsupportedOnnxFeatures), creates @main's arguments,
// converts nodes in topological order and returns the graph outputs.
#include "OnnxImporterImpl.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <limits>
#include <queue>

using namespace mlir;
using namespace kiln;
using namespace kiln::onnx_import;

static bool isDefaultDomain(StringRef domain) {
  return domain.empty() || domain == "ai.onnx";
}

namespace {

/// A diagnostic captured while converting a node, re-emitted with the node's
/// name and op type in front.
struct CapturedDiagnostic {
  DiagnosticSeverity severity;
  std::string message;
  SmallVector<std::pair<Location, std::string>> notes;
};

class GraphImporter {
public:
  /// `ownedModel`, when given, is `model` itself: each initializer's bytes
  /// are freed once its constant exists, so weights are held once, not twice.
  GraphImporter(const onnx::ModelProto &model, onnx::ModelProto *ownedModel,
                StringRef baseDir, StringRef fileName, MLIRContext &ctx,
                const OnnxImportOptions &opts)
      : model_(model), ownedModel_(ownedModel), graph_(model.graph()),
        baseDir_(baseDir.str()), ctx_(ctx), opts_(opts), b_(&ctx),
        fileLoc_(FileLineColLoc::get(&ctx, fileName, 0, 0)) {}

  OwningOpRef<ModuleOp> run();

private:
  LogicalResult findOpset();
  LogicalResult checkSupported();
  LogicalResult bindDimValues();
  FailureOr<RankedTensorType> inputType(const onnx::ValueInfoProto &input,
                                        SmallVectorImpl<Attribute> &dimNames,
                                        bool &annotate);
  LogicalResult createFunction(ModuleOp module);
  FailureOr<std::vector<int>> sortNodes();
  LogicalResult convertNode(int index);
  LogicalResult createReturn();
  void removeDeadOps();

  Value lookup(StringRef name);
  std::string nodeName(int index) const;
  Location nodeLoc(int index) const;
  InFlightDiagnostic nodeError(int index);

  const onnx::ModelProto &model_;
  onnx::ModelProto *ownedModel_;
  const onnx::GraphProto &graph_;
  std::string baseDir_;
  MLIRContext &ctx_;
  const OnnxImportOptions &opts_;
  OpBuilder b_;
  Location fileLoc_;
  int64_t opset_ = 0;
  func::FuncOp fn_;

  llvm::StringMap<Value> values_;
  llvm::StringMap<int> initializers_;   // name -> index in graph_.initializer
  llvm::StringSet<> usedNames_;         // read by a node or a graph output
  std::map<std::string, int64_t> dims_; // symbolic dim name -> pinned value
  bool initializerFailed_ = false;
};

} // namespace

std::string GraphImporter::nodeName(int index) const {
  const onnx::NodeProto &node = graph_.node(index);
  if (!node.name().empty())
    return node.name();
  return node.op_type() + "_" + std::to_string(index);
}

Location GraphImporter::nodeLoc(int index) const {
  return NameLoc::get(StringAttr::get(&ctx_, nodeName(index)), fileLoc_);
}

InFlightDiagnostic GraphImporter::nodeError(int index) {
  InFlightDiagnostic d = emitError(nodeLoc(index));
  d << "node '" << nodeName(index) << "' (" << graph_.node(index).op_type()
    << "): ";
  return d;
}

//===----------------------------------------------------------------------===//
// Model-level checks
//===----------------------------------------------------------------------===//

LogicalResult GraphImporter::findOpset() {
  bool found = false;
  for (const onnx::OperatorSetIdProto &imp : model_.opset_import()) {
    if (isDefaultDomain(imp.domain())) {
      opset_ = imp.version();
      found = true;
    }
  }
  bool hasDefaultOps = llvm::any_of(graph_.node(), [](const auto &node) {
    return isDefaultDomain(node.domain());
  });
  if (!found && hasDefaultOps)
    return emitError(fileLoc_) << "the model imports no ai.onnx opset";
  // (Opsets above kMaxOpset are reported by checkSupported.)
  if (found && opset_ < kMinOpset)
    return emitError(fileLoc_) << "the model uses ai.onnx opset " << opset_
                               << "; opsets start at " << kMinOpset;
  return success();
}

/// Everything kiln does not support, in one error.
LogicalResult GraphImporter::checkSupported() {
  std::vector<std::string> problems = findUnsupportedOnnxFeatures(model_);
  if (problems.empty())
    return success();
  return emitError(fileLoc_) << llvm::join(problems, "; ");
}

//===----------------------------------------------------------------------===//
// Graph inputs
//===----------------------------------------------------------------------===//

/// Collects symbolic dim values: OnnxImportOptions::dimValues, plus the dims
/// that inputShapes pins on symbolic dims (so every input sharing a dim name
/// agrees), and checks the options name real inputs and dims.
LogicalResult GraphImporter::bindDimValues() {
  llvm::StringSet<> symbols;
  llvm::StringMap<const onnx::ValueInfoProto *> inputs;
  for (const onnx::ValueInfoProto &in : graph_.input()) {
    if (initializers_.count(in.name()))
      continue;
    inputs[in.name()] = &in;
    if (in.type().has_tensor_type() && in.type().tensor_type().has_shape())
      for (const auto &d : in.type().tensor_type().shape().dim())
        if (!d.has_dim_value() && !d.dim_param().empty())
          symbols.insert(d.dim_param());
  }
  for (auto &[name, value] : opts_.dimValues) {
    if (!symbols.count(name))
      return emitError(fileLoc_) << "cannot pin dim '" << name
                                 << "': no graph input has a dim of that name";
    if (value < 0)
      return emitError(fileLoc_) << "cannot pin dim '" << name
                                 << "' to the negative value " << value;
    dims_[name] = value;
  }
  for (auto &[name, shape] : opts_.inputShapes) {
    auto it = inputs.find(name);
    if (it == inputs.end())
      return emitError(fileLoc_)
             << "cannot pin input '" << name
             << "': the model has no graph input of that name";
    const onnx::TypeProto &type = it->second->type();
    if (!type.has_tensor_type() || !type.tensor_type().has_shape())
      continue;
    const auto &dims = type.tensor_type().shape().dim();
    if (dims.size() != (int)shape.size())
      return emitError(fileLoc_)
             << "cannot pin input '" << name << "' to rank " << shape.size()
             << ": the model gives it rank " << dims.size();
    for (int i = 0; i < dims.size(); ++i) {
      const auto &d = dims[i];
      if (shape[i] < 0 || d.has_dim_value() || d.dim_param().empty())
        continue;
      auto [pos, inserted] = dims_.emplace(d.dim_param(), shape[i]);
      if (!inserted && pos->second != shape[i])
        return emitError(fileLoc_)
               << "dim '" << d.dim_param() << "' is pinned to both "
               << pos->second << " and " << shape[i] << " (by input '" << name
               << "')";
    }
  }
  return success();
}

FailureOr<RankedTensorType>
GraphImporter::inputType(const onnx::ValueInfoProto &input,
                         SmallVectorImpl<Attribute> &dimNames, bool &annotate) {
  const std::string &name = input.name();
  if (!input.type().has_tensor_type())
    return emitError(fileLoc_) << "graph input '" << name
                               << "' is not a tensor (sequences, maps and "
                                  "optionals are not supported)";
  const onnx::TypeProto::Tensor &tt = input.type().tensor_type();
  Type elem = elementTypeFromOnnx(tt.elem_type(), &ctx_);
  if (!elem)
    return emitError(fileLoc_)
           << "graph input '" << name << "' has unsupported element type "
           << onnxTypeName(tt.elem_type());
  auto pinned = opts_.inputShapes.find(name);
  bool hasPin = pinned != opts_.inputShapes.end();
  if (!tt.has_shape() && !hasPin)
    return emitError(fileLoc_) << "graph input '" << name
                               << "' has no shape (not even a rank); pin one "
                                  "(OnnxImportOptions::inputShapes, --shape)";
  SmallVector<int64_t> shape;
  annotate = false;
  int rank =
      tt.has_shape() ? tt.shape().dim_size() : (int)pinned->second.size();
  for (int i = 0; i < rank; ++i) {
    int64_t size = ShapedType::kDynamic;
    std::string symbol;
    if (tt.has_shape()) {
      const auto &d = tt.shape().dim(i);
      if (d.has_dim_value() && d.dim_value() < 0)
        return emitError(fileLoc_)
               << "graph input '" << name << "' has a negative dim "
               << d.dim_value() << " (dim " << i << ")";
      if (d.has_dim_value()) {
        size = d.dim_value();
      } else if (!d.dim_param().empty()) {
        // A pinned symbolic dim keeps its name (for generated headers).
        symbol = d.dim_param();
        auto it = dims_.find(symbol);
        if (it != dims_.end())
          size = it->second;
      }
    }
    if (hasPin && pinned->second[i] >= 0) {
      if (!ShapedType::isDynamic(size) && size != pinned->second[i])
        return emitError(fileLoc_)
               << "cannot pin input '" << name << "' dim " << i << " to "
               << pinned->second[i] << ": the model has " << size;
      size = pinned->second[i];
    }
    annotate |= ShapedType::isDynamic(size) || !symbol.empty();
    shape.push_back(size);
    dimNames.push_back(StringAttr::get(&ctx_, symbol));
  }
  RankedTensorType type = RankedTensorType::get(shape, elem);
  if (std::string tooLarge = checkTensorSize(type); !tooLarge.empty())
    return emitError(fileLoc_) << "graph input '" << name << "' " << tooLarge;
  return type;
}

LogicalResult GraphImporter::createFunction(ModuleOp module) {
  SmallVector<Type> argTypes;
  SmallVector<SmallVector<Attribute>> argDims;
  SmallVector<bool> argAnnotate;
  SmallVector<const onnx::ValueInfoProto *> args;
  for (const onnx::ValueInfoProto &in : graph_.input()) {
    if (initializers_.count(in.name()))
      continue; // ONNX IR < 4 lists initializers as inputs: they are constants
    if (values_.count(in.name()) || in.name().empty())
      return emitError(fileLoc_) << "graph input '" << in.name()
                                 << "' is listed twice or has no name";
    SmallVector<Attribute> dims;
    bool annotate = false;
    FailureOr<RankedTensorType> type = inputType(in, dims, annotate);
    if (failed(type))
      return failure();
    argTypes.push_back(*type);
    argDims.push_back(std::move(dims));
    argAnnotate.push_back(annotate);
    args.push_back(&in);
    values_[in.name()] = Value(); // reserve; set below
  }

  b_.setInsertionPointToEnd(module.getBody());
  fn_ = func::FuncOp::create(b_, fileLoc_, "main",
                             b_.getFunctionType(argTypes, {}));
  Block *entry = fn_.addEntryBlock();
  for (auto [i, in] : llvm::enumerate(args)) {
    BlockArgument arg = entry->getArgument(i);
    arg.setLoc(NameLoc::get(StringAttr::get(&ctx_, in->name()), fileLoc_));
    values_[in->name()] = arg;
    fn_.setArgAttr(i, "kiln.name", b_.getStringAttr(in->name()));
    if (argAnnotate[i])
      fn_.setArgAttr(i, "kiln.dims", b_.getArrayAttr(argDims[i]));
  }
  b_.setInsertionPointToEnd(entry);
  return success();
}

//===----------------------------------------------------------------------===//
// Nodes
//===----------------------------------------------------------------------===//

/// Node indices in an order where every value is defined before its use
/// (ONNX requires it, but some exporters emit unsorted graphs).
FailureOr<std::vector<int>> GraphImporter::sortNodes() {
  int n = graph_.node_size();
  llvm::StringMap<int> producer;
  for (int i = 0; i < n; ++i) {
    for (const std::string &out : graph_.node(i).output()) {
      if (out.empty())
        continue;
      if (values_.count(out) || initializers_.count(out) ||
          !producer.try_emplace(out, i).second)
        return nodeError(i) << "output '" << out
                            << "' is already defined elsewhere in the graph";
    }
  }
  std::vector<std::vector<int>> users(n);
  std::vector<int> pending(n, 0);
  for (int i = 0; i < n; ++i) {
    for (const std::string &in : graph_.node(i).input()) {
      if (in.empty())
        continue;
      usedNames_.insert(in);
      auto it = producer.find(in);
      if (it != producer.end()) {
        users[it->second].push_back(i);
        ++pending[i];
      } else if (!values_.count(in) && !initializers_.count(in)) {
        return nodeError(i) << "input '" << in
                            << "' is not produced by any node, initializer "
                               "or graph input";
      }
    }
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < n; ++i)
    if (pending[i] == 0)
      ready.push(i);
  std::vector<int> order;
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int u : users[i])
      if (--pending[u] == 0)
        ready.push(u);
  }
  if ((int)order.size() != n) {
    for (int i = 0; i < n; ++i)
      if (pending[i] > 0)
        return nodeError(i) << "is part of a cycle in the graph";
  }
  return order;
}

Value GraphImporter::lookup(StringRef name) {
  auto it = values_.find(name);
  if (it != values_.end())
    return it->second;
  auto init = initializers_.find(name);
  if (init == initializers_.end())
    return {};
  // Initializers become constants where first used.
  try {
    ref::Tensor t = tensorFromProto(graph_.initializer(init->second), baseDir_);
    if (ownedModel_) {
      onnx::TensorProto *proto =
          ownedModel_->mutable_graph()->mutable_initializer(init->second);
      std::string().swap(*proto->mutable_raw_data());
    }
    Location loc = NameLoc::get(StringAttr::get(&ctx_, name), fileLoc_);
    Value v = buildConstant(b_, loc, t, sanitizeBlobName(name));
    values_[name] = v;
    return v;
  } catch (const ref::Error &e) {
    emitError(fileLoc_) << e.what();
    initializerFailed_ = true;
    return {};
  }
}

LogicalResult GraphImporter::convertNode(int index) {
  const onnx::NodeProto &node = graph_.node(index);
  const OpConversion *conv = lookupOpConversion(node.op_type());
  int64_t version = 0;
  switch (checkOpVersion(node.op_type(), *conv, opset_, version)) {
  case OpVersionStatus::Supported:
    break;
  case OpVersionStatus::NotInOpset:
    return nodeError(index)
           << node.op_type() << " needs opset " << conv->oldestVersion
           << " or later; the model uses " << opset_;
  case OpVersionStatus::OldVersion: // checkSupported reports these first
  case OpVersionStatus::NewVersion:
    return nodeError(index)
           << "unsupported version " << version << " of " << node.op_type();
  }
  auto plural = [](unsigned n) {
    return std::to_string(n) + (n == 1 ? " input" : " inputs");
  };
  unsigned numInputs = node.input_size();
  if (numInputs > conv->maxInputs)
    return nodeError(index) << "has " << plural(numInputs)
                            << " but takes at most " << conv->maxInputs;
  SmallVector<Value> inputs;
  for (unsigned i = 0; i < numInputs; ++i) {
    const std::string &name = node.input(i);
    Value v = name.empty() ? Value() : lookup(name);
    if (initializerFailed_)
      return failure();
    if (!v && i < conv->minInputs)
      return nodeError(index) << "needs at least " << plural(conv->minInputs)
                              << "; input #" << i << " is missing";
    inputs.push_back(v);
  }
  if (numInputs < conv->minInputs)
    return nodeError(index) << "needs at least " << plural(conv->minInputs)
                            << ", has " << numInputs;

  // Convert, capturing diagnostics (from the converter, shape inference or
  // the verifier) to re-emit them naming the node and its op type.
  SmallVector<CapturedDiagnostic> diags;
  SmallVector<Value> outputs;
  bool ok;
  {
    ScopedDiagnosticHandler capture(&ctx_, [&](Diagnostic &d) {
      CapturedDiagnostic c{d.getSeverity(), d.str(), {}};
      for (Diagnostic &note : d.getNotes())
        c.notes.push_back({note.getLocation(), note.str()});
      diags.push_back(std::move(c));
      return success();
    });
    NodeConverter converter(node, opset_, nodeLoc(index), b_, std::move(inputs),
                            baseDir_, opts_.foldConstants);
    ok = succeeded(conv->convert(converter, outputs)) && !converter.failed();
  }
  for (CapturedDiagnostic &c : diags) {
    InFlightDiagnostic d = c.severity == DiagnosticSeverity::Error
                               ? emitError(nodeLoc(index))
                           : c.severity == DiagnosticSeverity::Warning
                               ? emitWarning(nodeLoc(index))
                               : emitRemark(nodeLoc(index));
    d << "node '" << nodeName(index) << "' (" << node.op_type()
      << "): " << c.message;
    for (auto &[loc, msg] : c.notes)
      d.attachNote(loc) << msg;
  }
  if (!ok) {
    if (diags.empty())
      nodeError(index) << "could not be converted";
    return failure();
  }

  for (int i = 0; i < node.output_size(); ++i) {
    const std::string &name = node.output(i);
    if (name.empty())
      continue;
    if (i >= (int)outputs.size() || !outputs[i]) {
      if (usedNames_.count(name))
        return nodeError(index) << "output #" << i << " ('" << name
                                << "') is not supported but is used";
      continue;
    }
    values_[name] = outputs[i];
  }
  return success();
}

LogicalResult GraphImporter::createReturn() {
  if (graph_.output_size() == 0)
    return emitError(fileLoc_) << "the graph has no outputs";
  SmallVector<Value> results;
  for (const onnx::ValueInfoProto &out : graph_.output()) {
    Value v = lookup(out.name());
    if (initializerFailed_)
      return failure();
    if (!v)
      return emitError(fileLoc_) << "graph output '" << out.name()
                                 << "' is not produced by any node";
    results.push_back(v);
  }
  func::ReturnOp::create(b_, fileLoc_, results);
  fn_.setFunctionType(b_.getFunctionType(fn_.getArgumentTypes(),
                                         ValueRange(results).getTypes()));
  for (auto [i, out] : llvm::enumerate(graph_.output())) {
    fn_.setResultAttr(i, "kiln.name", b_.getStringAttr(out.name()));
    // Output types come from inference, but the model's symbolic dim names
    // for them are kept where the ranks agree.
    auto type = dyn_cast<RankedTensorType>(results[i].getType());
    const onnx::TypeProto &declared = out.type();
    if (!type || !declared.has_tensor_type() ||
        !declared.tensor_type().has_shape() ||
        declared.tensor_type().shape().dim_size() != type.getRank())
      continue;
    SmallVector<Attribute> names;
    bool named = false;
    for (const auto &d : declared.tensor_type().shape().dim()) {
      std::string name = d.has_dim_value() ? "" : d.dim_param();
      named |= !name.empty();
      names.push_back(b_.getStringAttr(name));
    }
    if (named)
      fn_.setResultAttr(i, "kiln.dims", b_.getArrayAttr(names));
  }
  return success();
}

/// Erases ops whose results are unused: nodes the outputs do not depend on and
/// constants left behind by folding.
void GraphImporter::removeDeadOps() {
  Block &body = fn_.getBody().front();
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body)))
    if (isOpTriviallyDead(&op))
      op.erase();
}

OwningOpRef<ModuleOp> GraphImporter::run() {
  ctx_.loadDialect<KilnDialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc_);
  if (!model_.has_graph()) {
    emitError(fileLoc_) << "the model has no graph";
    return nullptr;
  }
  if (model_.ir_version() <= 0) {
    emitError(fileLoc_) << "the model has no ir_version (it is "
                        << model_.ir_version() << "); not a valid ONNX model";
    return nullptr;
  }
  for (int i = 0; i < graph_.initializer_size(); ++i) {
    const std::string &name = graph_.initializer(i).name();
    if (name.empty() || !initializers_.try_emplace(name, i).second) {
      emitError(fileLoc_) << "initializer '" << name << "' is "
                          << (name.empty() ? "unnamed" : "defined twice");
      return nullptr;
    }
  }
  for (const onnx::ValueInfoProto &out : graph_.output())
    usedNames_.insert(out.name());

  if (failed(checkSupported()) || failed(findOpset()) ||
      failed(bindDimValues()) || failed(createFunction(*module)))
    return nullptr;
  FailureOr<std::vector<int>> order = sortNodes();
  if (failed(order))
    return nullptr;
  for (int index : *order)
    if (failed(convertNode(index)))
      return nullptr;
  if (failed(createReturn()))
    return nullptr;
  removeDeadOps();
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

OwningOpRef<ModuleOp> kiln::importOnnxModel(const onnx::ModelProto &model,
                                            StringRef baseDir,
                                            StringRef fileName,
                                            MLIRContext &ctx,
                                            const OnnxImportOptions &opts) {
  try {
    return GraphImporter(model, nullptr, baseDir, fileName, ctx, opts).run();
  } catch (const ref::Error &e) {
    emitError(FileLineColLoc::get(&ctx, fileName, 0, 0)) << e.what();
    return nullptr;
  }
}

OwningOpRef<ModuleOp> kiln::importOnnxFile(StringRef path, MLIRContext &ctx,
                                           const OnnxImportOptions &opts) {
  Location loc = FileLineColLoc::get(&ctx, path, 0, 0);
  onnx::ModelProto model;
  {
    // The file's bytes are released once parsed.
    auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                           /*RequiresNullTerminator=*/false);
    if (!buf) {
      emitError(loc) << "cannot read the model: " << buf.getError().message();
      return nullptr;
    }
    size_t size = (*buf)->getBufferSize();
    if (size > (size_t)std::numeric_limits<int>::max()) {
      emitError(loc) << "the model file is over 2 GiB; store its weights as "
                        "ONNX external data";
      return nullptr;
    }
    if (size == 0 ||
        !model.ParseFromArray((*buf)->getBufferStart(), (int)size)) {
      emitError(loc)
          << "not a valid ONNX model (malformed or truncated protobuf)";
      return nullptr;
    }
  }
  StringRef dir = llvm::sys::path::parent_path(path);
  try {
    return GraphImporter(model, &model, dir.empty() ? "." : dir, path, ctx,
                         opts)
        .run();
  } catch (const ref::Error &e) {
    emitError(loc) << e.what();
    return nullptr;
  }
}

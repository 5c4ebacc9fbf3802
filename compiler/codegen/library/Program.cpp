// Builds the library emitter's Program from a model's @main: checks static
// shapes and backend support, orders kernel steps, makes reshape-like ops
// views, binds results to caller outputs, packs and dedupes weights, and plans
// the arena.
#include "Program.h"
#include "MemoryPlanner.h"

#include "kiln/Codegen/LLVMBackend.h"
#include "kiln/IR/KilnDialect.h"
#include "kiln/IR/TensorConversion.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/xxhash.h"

#include <map>

namespace kiln::library {

std::string locationName(mlir::Location loc) {
  if (auto n = mlir::dyn_cast<mlir::NameLoc>(loc))
    return n.getName().str();
  if (auto f = mlir::dyn_cast<mlir::FusedLoc>(loc)) {
    for (mlir::Location l : f.getLocations())
      if (std::string s = locationName(l); !s.empty())
        return s;
    return "";
  }
  if (auto c = mlir::dyn_cast<mlir::CallSiteLoc>(loc))
    return locationName(c.getCallee());
  if (auto fl = mlir::dyn_cast<mlir::FileLineColLoc>(loc))
    return (fl.getFilename().strref() + ":" + llvm::Twine(fl.getLine())).str();
  return "";
}

namespace {

constexpr uint64_t kAlign = 64;
uint64_t alignUp(uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

/// Reshape-like ops: the result is the operand's bytes viewed with another
/// shape (every buffer is dense row-major), so they become aliases.
bool isView(mlir::Operation *op) {
  return mlir::isa<kiln::ReshapeOp, kiln::FlattenOp, kiln::SqueezeOp,
                   kiln::UnsqueezeOp, kiln::IdentityOp>(op);
}

std::string typeString(mlir::Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

/// The backend that compiles `op`, its kernel key and its buffer arguments.
struct KernelChoice {
  Backend backend = Backend::Halide;
  std::string key;
  std::vector<halide::KernelArg> args;
};

/// LLVM kernels take every operand, then every result, as dense buffers of
/// the values' own shapes.
std::vector<halide::KernelArg> llvmArgs(mlir::Operation *op) {
  std::vector<halide::KernelArg> args;
  auto add = [&](mlir::Value v, bool isOutput, unsigned index) {
    halide::KernelArg a;
    a.name = (isOutput ? "out" : "in") + std::to_string(index);
    a.isOutput = isOutput;
    a.index = index;
    auto t = mlir::cast<mlir::RankedTensorType>(v.getType());
    a.dtype = kiln::toDType(t);
    a.shape.assign(t.getShape().begin(), t.getShape().end());
    args.push_back(std::move(a));
  };
  for (auto [i, v] : llvm::enumerate(op->getOperands()))
    add(v, false, i);
  for (auto [i, v] : llvm::enumerate(op->getResults()))
    add(v, true, i);
  return args;
}

/// Picks the backend for a kiln op: Halide first under Auto. Fails with the
/// reasons each allowed backend gave.
mlir::FailureOr<KernelChoice> chooseKernel(mlir::Operation *op, Backend choice,
                                           std::string &why) {
  if (!op->getDialect() || op->getDialect()->getNamespace() != "kiln") {
    why = "not a kiln op";
    return mlir::failure();
  }
  std::string halideWhy, llvmWhy;
  if (choice != Backend::LLVM && halide::isSupported(op, &halideWhy)) {
    llvm::FailureOr<std::vector<halide::KernelArg>> args =
        halide::kernelArgs(op);
    if (failed(args))
      return mlir::failure();
    return KernelChoice{Backend::Halide, "halide " + halide::kernelKey(op),
                        std::move(*args)};
  }
  if (choice != Backend::Halide && llvmgen::isSupported(op, &llvmWhy))
    return KernelChoice{Backend::LLVM, "llvm " + llvmgen::kernelKey(op),
                        llvmArgs(op)};
  if (choice == Backend::Halide)
    why = "the Halide backend: " + halideWhy;
  else if (choice == Backend::LLVM)
    why = "the LLVM backend: " + llvmWhy;
  else
    why = "Halide: " + halideWhy + "; LLVM: " + llvmWhy;
  return mlir::failure();
}

/// Where a value's bytes come from, shared by a value and its views.
struct Storage {
  enum Kind { Input, Constant, Intermediate } kind = Intermediate;
  unsigned input = 0;
  mlir::Operation *constOp = nullptr;
  int weight = -1; // blob of the (unpacked) constant, once needed
  uint64_t bytes = 0;
  int64_t first = 0, last = 0; // live steps (intermediates)
  int output = -1;             // bound to this caller output
  unsigned result = 0;         // which result of step `first` (intermediates)
  uint64_t offset = 0;         // in the arena, once planned
};

class Builder {
public:
  Builder(mlir::func::FuncOp fn, Backend choice) : fn(fn), choice(choice) {}
  llvm::FailureOr<Program> build();

private:
  mlir::LogicalResult checkSignature();
  mlir::LogicalResult findNeededOps();
  mlir::LogicalResult addStep(mlir::Operation *op);
  mlir::FailureOr<unsigned> storageOf(mlir::Value v, mlir::Operation *user);
  mlir::FailureOr<unsigned> weightOf(Storage &s);
  unsigned addWeight(ref::Tensor t);
  mlir::LogicalResult bindOutputs();
  void planArena();
  Place placeOf(unsigned storage) const;

  mlir::func::FuncOp fn;
  Backend choice;
  Program prog;
  llvm::DenseMap<mlir::Operation *, KernelChoice> chosen;
  std::vector<Storage> storages;
  llvm::DenseMap<mlir::Value, unsigned> storageIds;
  llvm::DenseSet<mlir::Operation *> needed;
  std::map<std::string, unsigned> kernelIds;
  std::vector<std::vector<unsigned>> stepArgStorage; // per step, per arg
  std::multimap<uint64_t, unsigned> weightsByHash;
  std::map<std::pair<mlir::Operation *, unsigned>, unsigned> packedIds;
  std::vector<std::pair<unsigned, int>> outputSources; // storage, output
};

std::string dimNameOf(mlir::ArrayAttr dims, unsigned d) {
  if (!dims || d >= dims.size())
    return "";
  if (auto s = mlir::dyn_cast<mlir::StringAttr>(dims[d]))
    return s.str();
  return "";
}

mlir::LogicalResult Builder::checkSignature() {
  auto fnType = fn.getFunctionType();
  bool ok = true;
  auto describe = [&](mlir::Type t, bool isResult, unsigned i,
                      IOTensor &io) -> bool {
    auto rt = mlir::dyn_cast<mlir::RankedTensorType>(t);
    mlir::Location loc = isResult ? fn.getLoc() : fn.getArgument(i).getLoc();
    const char *kind = isResult ? "output" : "input";
    if (!rt) {
      mlir::emitError(loc) << kind << " '" << io.name << "' has type " << t
                           << "; a native library needs ranked tensors";
      return false;
    }
    std::optional<ref::DType> dt = kiln::tryToDType(rt.getElementType());
    if (!dt) {
      mlir::emitError(loc) << kind << " '" << io.name << "' has element type "
                           << rt.getElementType()
                           << ", which kiln libraries do not support";
      return false;
    }
    io.dtype = *dt;
    mlir::ArrayAttr dims =
        isResult ? fn.getResultAttrOfType<mlir::ArrayAttr>(i, "kiln.dims")
                 : fn.getArgAttrOfType<mlir::ArrayAttr>(i, "kiln.dims");
    for (unsigned d = 0; d < rt.getRank(); ++d)
      io.dimNames.push_back(dimNameOf(dims, d));
    if (!rt.hasStaticShape()) {
      auto diag = mlir::emitError(loc);
      diag << kind << " '" << io.name << "' has a dynamic shape (" << t
           << "); a native library needs static shapes: pass --shape "
           << io.name << "=";
      for (unsigned d = 0; d < rt.getRank(); ++d)
        diag << (d ? "x" : "")
             << (rt.isDynamicDim(d) ? std::string("N")
                                    : std::to_string(rt.getDimSize(d)));
      std::vector<std::string> symbolic;
      for (unsigned d = 0; d < rt.getRank(); ++d)
        if (rt.isDynamicDim(d) && !io.dimNames[d].empty())
          symbolic.push_back(io.dimNames[d]);
      if (!symbolic.empty()) {
        diag << " or";
        for (const std::string &s : symbolic)
          diag << " --dim " << s << "=N";
      }
      return false;
    }
    io.shape.assign(rt.getShape().begin(), rt.getShape().end());
    io.bytes = uint64_t(ref::numElements(io.shape)) * ref::dtypeSize(io.dtype);
    return true;
  };
  for (unsigned i = 0; i < fnType.getNumInputs(); ++i) {
    IOTensor io;
    auto n = fn.getArgAttrOfType<mlir::StringAttr>(i, "kiln.name");
    io.name = n ? n.str() : "input_" + std::to_string(i);
    ok &= describe(fnType.getInput(i), false, i, io);
    prog.inputs.push_back(std::move(io));
  }
  for (unsigned i = 0; i < fnType.getNumResults(); ++i) {
    IOTensor io;
    auto n = fn.getResultAttrOfType<mlir::StringAttr>(i, "kiln.name");
    io.name = n ? n.str() : "output_" + std::to_string(i);
    ok &= describe(fnType.getResult(i), true, i, io);
    prog.outputs.push_back(std::move(io));
  }
  return mlir::success(ok);
}

/// Marks the ops the outputs depend on (walking backwards); checks that
/// each is static and supported, reporting every unsupported op.
mlir::LogicalResult Builder::findNeededOps() {
  mlir::Block &body = fn.getBody().front();
  llvm::DenseSet<mlir::Value> wanted;
  std::vector<mlir::Operation *> unsupportedOps;
  llvm::MapVector<llvm::StringRef, unsigned> unsupportedCount;
  bool ok = true;
  for (mlir::Operation &op : llvm::reverse(body)) {
    if (mlir::isa<mlir::func::ReturnOp>(op)) {
      for (mlir::Value v : op.getOperands())
        wanted.insert(v);
      continue;
    }
    if (!llvm::any_of(op.getResults(),
                      [&](mlir::Value r) { return wanted.contains(r); }))
      continue;
    needed.insert(&op);
    if (mlir::isa<kiln::ConstantOp>(op))
      continue;
    bool dynamic = false;
    for (mlir::Value r : op.getResults()) {
      auto rt = mlir::dyn_cast<mlir::RankedTensorType>(r.getType());
      if (!rt || !rt.hasStaticShape()) {
        op.emitOpError() << "result has type " << r.getType()
                         << "; a native library needs static shapes (pin the "
                            "inputs with --shape / --dim)";
        dynamic = true;
      }
    }
    if (dynamic) {
      ok = false;
      for (mlir::Value v : op.getOperands())
        wanted.insert(v);
      continue;
    }
    if (isView(&op)) {
      wanted.insert(op.getOperand(0));
      continue;
    }
    std::string why;
    mlir::FailureOr<KernelChoice> k = chooseKernel(&op, choice, why);
    if (succeeded(k)) {
      for (const halide::KernelArg &a : k->args)
        if (!a.isOutput)
          wanted.insert(op.getOperand(a.index));
      chosen[&op] = std::move(*k);
      continue;
    }
    if (why.empty())
      return mlir::failure(); // a diagnostic was emitted
    op.emitOpError() << "cannot be compiled: " << why;
    unsupportedOps.push_back(&op);
    ++unsupportedCount[op.getName().getStringRef()];
    for (mlir::Value v : op.getOperands())
      wanted.insert(v);
  }
  if (!unsupportedOps.empty()) {
    const char *by = choice == Backend::Halide ? " by the Halide backend"
                     : choice == Backend::LLVM ? " by the LLVM backend"
                                               : "";
    auto diag = fn.emitError() << unsupportedOps.size()
                               << " op(s) cannot be compiled to a native "
                                  "library"
                               << by << ":";
    for (auto &[name, count] : unsupportedCount)
      diag << " " << name << " x" << count;
    ok = false;
  }
  return mlir::success(ok);
}

unsigned Builder::addWeight(ref::Tensor t) {
  uint64_t hash = llvm::xxh3_64bits(llvm::ArrayRef<uint8_t>(
      static_cast<const uint8_t *>(t.raw()), t.bytes()));
  auto range = weightsByHash.equal_range(hash);
  for (auto it = range.first; it != range.second; ++it) {
    const ref::Tensor &o = prog.weights[it->second].data;
    if (o.bytes() == t.bytes() && std::memcmp(o.raw(), t.raw(), t.bytes()) == 0)
      return it->second;
  }
  WeightBlob blob;
  blob.offset = prog.weightBytes;
  prog.weightBytes = alignUp(prog.weightBytes + t.bytes());
  blob.data = std::move(t);
  prog.weights.push_back(std::move(blob));
  weightsByHash.emplace(hash, prog.weights.size() - 1);
  return prog.weights.size() - 1;
}

mlir::FailureOr<unsigned> Builder::weightOf(Storage &s) {
  if (s.weight >= 0)
    return s.weight;
  try {
    auto c = mlir::cast<kiln::ConstantOp>(s.constOp);
    s.weight = addWeight(kiln::toTensor(c.getValue()));
  } catch (const ref::Error &e) {
    return s.constOp->emitOpError() << "cannot read the constant: " << e.what();
  }
  return s.weight;
}

mlir::FailureOr<unsigned> Builder::storageOf(mlir::Value v,
                                             mlir::Operation *user) {
  auto it = storageIds.find(v);
  if (it != storageIds.end())
    return it->second;
  Storage s;
  if (auto arg = mlir::dyn_cast<mlir::BlockArgument>(v)) {
    s.kind = Storage::Input;
    s.input = arg.getArgNumber();
    s.bytes = prog.inputs[s.input].bytes;
  } else if (auto c = v.getDefiningOp<kiln::ConstantOp>()) {
    s.kind = Storage::Constant;
    s.constOp = c;
  } else {
    return user->emitOpError()
           << "internal error: operand produced by "
           << v.getDefiningOp()->getName() << " was not computed before use";
  }
  storages.push_back(s);
  storageIds[v] = storages.size() - 1;
  return storages.size() - 1;
}

uint64_t valueBytes(mlir::Value v) {
  auto t = mlir::cast<mlir::RankedTensorType>(v.getType());
  return uint64_t(t.getNumElements()) * ref::dtypeSize(kiln::toDType(t));
}

mlir::LogicalResult Builder::addStep(mlir::Operation *op) {
  int64_t index = prog.steps.size();
  const KernelChoice &kc = chosen.find(op)->second;
  const std::string &key = kc.key;
  const std::vector<halide::KernelArg> *args = &kc.args;
  auto [kit, fresh] = kernelIds.try_emplace(key, prog.kernels.size());
  if (fresh) {
    Kernel k;
    k.key = key;
    k.backend = kc.backend;
    k.op = op;
    prog.kernels.push_back(std::move(k));
  }
  prog.kernels[kit->second].uses++;
  Step step;
  step.op = op;
  step.kernel = kit->second;
  std::string where = locationName(op->getLoc());
  step.name = (where.empty() ? "" : where + " ") + "(" +
              op->getName().getStringRef().str() + ")";
  std::vector<unsigned> argStorage;
  for (const halide::KernelArg &a : *args) {
    uint64_t argBytes =
        uint64_t(ref::numElements(a.shape)) * ref::dtypeSize(a.dtype);
    if (a.isOutput) {
      mlir::Value r = op->getResult(a.index);
      if (valueBytes(r) != argBytes)
        return op->emitOpError()
               << "internal error: kernel output " << a.index << " has "
               << argBytes << " bytes, the result " << valueBytes(r);
      Storage s;
      s.kind = Storage::Intermediate;
      s.bytes = argBytes;
      s.first = s.last = index;
      s.result = a.index;
      storages.push_back(s);
      storageIds[r] = storages.size() - 1;
      argStorage.push_back(storages.size() - 1);
      continue;
    }
    mlir::Value v = op->getOperand(a.index);
    if (a.packed) {
      auto c = v.getDefiningOp<kiln::ConstantOp>();
      if (!c)
        return op->emitOpError() << "internal error: packed operand " << a.index
                                 << " is not a constant";
      auto [pit, isNew] = packedIds.try_emplace({op, a.index}, 0);
      if (isNew) {
        try {
          ref::Tensor packed =
              halide::packWeights(op, kiln::toTensor(c.getValue()), a.index);
          if (packed.bytes() != argBytes)
            return op->emitOpError()
                   << "internal error: packed weight has " << packed.bytes()
                   << " bytes, the kernel expects " << argBytes;
          Storage s;
          s.kind = Storage::Constant;
          s.constOp = c;
          s.weight = addWeight(std::move(packed));
          storages.push_back(s);
          pit->second = storages.size() - 1;
        } catch (const ref::Error &e) {
          return op->emitOpError() << "cannot pack weight operand " << a.index
                                   << ": " << e.what();
        }
      }
      argStorage.push_back(pit->second);
      continue;
    }
    if (valueBytes(v) != argBytes)
      return op->emitOpError()
             << "internal error: kernel input " << a.index << " has "
             << argBytes << " bytes, the operand " << valueBytes(v);
    mlir::FailureOr<unsigned> sid = storageOf(v, op);
    if (failed(sid))
      return mlir::failure();
    Storage &s = storages[*sid];
    if (s.kind == Storage::Constant && failed(weightOf(s)))
      return mlir::failure();
    s.last = index;
    argStorage.push_back(*sid);
  }
  step.args.reserve(args->size());
  for (const halide::KernelArg &a : *args)
    step.args.push_back({a, Place()});
  prog.steps.push_back(std::move(step));
  stepArgStorage.push_back(std::move(argStorage));
  return mlir::success();
}

/// The first output returning an intermediate gets it written in place;
/// every other output is a copy made after the last step.
mlir::LogicalResult Builder::bindOutputs() {
  auto ret = mlir::cast<mlir::func::ReturnOp>(fn.getBody().front().back());
  int64_t end = prog.steps.size();
  for (auto [k, v] : llvm::enumerate(ret.getOperands())) {
    mlir::FailureOr<unsigned> sid = storageOf(v, ret);
    if (failed(sid))
      return mlir::failure();
    Storage &s = storages[*sid];
    if (s.kind == Storage::Intermediate && s.output < 0) {
      s.output = k;
      continue;
    }
    OutputCopy copy;
    copy.output = k;
    copy.bytes = prog.outputs[k].bytes;
    outputSources.push_back({*sid, (int)k});
    if (s.kind == Storage::Constant && failed(weightOf(s)))
      return mlir::failure();
    if (s.kind == Storage::Intermediate && s.output < 0)
      s.last = end; // read by the copy after the last step
    prog.copies.push_back(copy);
  }
  return mlir::success();
}

void Builder::planArena() {
  std::vector<BufferLife> lives;
  std::vector<unsigned> ids;
  for (auto [i, s] : llvm::enumerate(storages))
    if (s.kind == Storage::Intermediate && s.output < 0) {
      lives.push_back({s.bytes, s.first, s.last});
      ids.push_back(i);
    }
  MemoryPlan plan = planMemory(lives, kAlign);
  for (auto [j, id] : llvm::enumerate(ids)) {
    Storage &s = storages[id];
    s.offset = plan.offsets[j];
    prog.arenaBuffers.push_back({s.first, s.last, s.result, s.bytes, s.offset});
  }
  prog.arenaBytes = plan.arenaBytes;
  prog.intermediateBytes = plan.totalBytes;
}

Place Builder::placeOf(unsigned id) const {
  const Storage &s = storages[id];
  Place p;
  switch (s.kind) {
  case Storage::Input:
    p.root = Root::Input;
    p.index = s.input;
    break;
  case Storage::Constant:
    p.root = Root::Weights;
    p.offset = prog.weights[s.weight].offset;
    break;
  case Storage::Intermediate:
    if (s.output >= 0) {
      p.root = Root::Output;
      p.index = s.output;
    } else {
      p.root = Root::Arena;
      p.offset = s.offset;
    }
    break;
  }
  return p;
}

llvm::FailureOr<Program> Builder::build() {
  if (!fn.getBody().hasOneBlock())
    return fn.emitError() << "a native library needs a single-block @main";
  if (failed(checkSignature()) || failed(findNeededOps()))
    return mlir::failure();
  for (mlir::Operation &op : fn.getBody().front()) {
    if (!needed.contains(&op) || mlir::isa<kiln::ConstantOp>(op))
      continue;
    if (isView(&op)) {
      mlir::FailureOr<unsigned> sid = storageOf(op.getOperand(0), &op);
      if (failed(sid))
        return mlir::failure();
      if (valueBytes(op.getResult(0)) != valueBytes(op.getOperand(0)))
        return op.emitOpError() << "changes the number of bytes; it cannot be "
                                   "a view";
      storageIds[op.getResult(0)] = *sid;
      prog.aliases++;
      continue;
    }
    if (failed(addStep(&op)))
      return mlir::failure();
  }
  if (failed(bindOutputs()))
    return mlir::failure();
  planArena();
  for (auto [i, step] : llvm::enumerate(prog.steps))
    for (auto [j, a] : llvm::enumerate(step.args))
      a.place = placeOf(stepArgStorage[i][j]);
  for (auto [c, src] : llvm::zip(prog.copies, outputSources))
    c.src = placeOf(src.first);
  return std::move(prog);
}

} // namespace

llvm::FailureOr<Program> buildProgram(mlir::func::FuncOp fn, Backend choice) {
  try {
    return Builder(fn, choice).build();
  } catch (const ref::Error &e) {
    return fn.emitError() << e.what();
  }
}

} // namespace kiln::library

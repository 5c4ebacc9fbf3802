// LoadedModel: opens a kiln-generated libN.so with dlopen and runs it on
// ref::Tensor inputs through its C API (for `kiln run`, `kiln bench`, tests).
#include "kiln/Codegen/Library.h"
#include "kiln/kiln_model_types.h"

#include "llvm/Support/Path.h"

#include <dlfcn.h>

namespace kiln::library {

struct LoadedModel::Api {
  int (*create)(void **, int, const char *);
  void (*destroy)(void *);
  const char *(*lastError)(const void *);
  int (*numThreads)(const void *);
  const char *(*target)(const void *); // NULL in libraries before variants
  int (*numIO[2])();
  const char *(*ioName[2])(int);
  int (*ioDtype[2])(int);
  int (*ioRank[2])(int);
  const int64_t *(*ioShape[2])(int);
  const char *(*ioDimName[2])(int, int);
  int (*runTensors)(void *, const kiln_tensor *, int, const kiln_tensor *, int);
  int (*setProfiling)(void *, int);
  int (*numSteps)();
  const char *(*stepName)(int);
  int (*stepStats)(const void *, int, double *, int64_t *);
};

static llvm::Error error(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

void *LoadedModel::symbol(llvm::StringRef suffix) const {
  return dlsym(handle_, (name_ + "_" + suffix).str().c_str());
}

llvm::Expected<std::unique_ptr<LoadedModel>>
LoadedModel::open(llvm::StringRef path, int threads, llvm::StringRef name,
                  llvm::StringRef weightsPath) {
  std::unique_ptr<LoadedModel> m(new LoadedModel());
  if (name.empty()) {
    llvm::StringRef file = llvm::sys::path::filename(path);
    if (!file.consume_front("lib") || !file.consume_back(".so") || file.empty())
      return error("cannot tell the model name from '" + path +
                   "' (expected OUTDIR/libNAME.so)");
    name = file;
  }
  m->name_ = name.str();
  // A path without '/' would make dlopen search the library path instead.
  std::string file = path.contains('/') ? path.str() : "./" + path.str();
  m->handle_ = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m->handle_)
    return error("cannot load '" + path + "': " + dlerror());
  auto api = std::make_unique<Api>();
  std::string missing;
  auto get = [&](auto &fp, const char *suffix) {
    fp = reinterpret_cast<std::remove_reference_t<decltype(fp)>>(
        m->symbol(suffix));
    if (!fp)
      missing +=
          std::string(missing.empty() ? "" : ", ") + m->name_ + "_" + suffix;
  };
  get(api->create, "create_with_weights");
  get(api->destroy, "destroy");
  get(api->lastError, "last_error");
  get(api->numThreads, "num_threads");
  const char *kinds[2] = {"input", "output"};
  for (int k = 0; k < 2; ++k) {
    std::string p = kinds[k];
    get(api->numIO[k], ("num_" + p + "s").c_str());
    get(api->ioName[k], (p + "_name").c_str());
    get(api->ioDtype[k], (p + "_dtype").c_str());
    get(api->ioRank[k], (p + "_rank").c_str());
    get(api->ioShape[k], (p + "_shape").c_str());
    get(api->ioDimName[k], (p + "_dim_name").c_str());
  }
  api->target =
      reinterpret_cast<const char *(*)(const void *)>(m->symbol("target"));
  get(api->runTensors, "run_tensors");
  get(api->setProfiling, "set_profiling");
  get(api->numSteps, "num_steps");
  get(api->stepName, "step_name");
  get(api->stepStats, "step_stats");
  if (!missing.empty())
    return error("'" + path + "' is not a kiln model library named '" +
                 m->name_ + "' (missing " + missing + ")");
  m->api_ = std::move(api);
  const Api &a = *m->api_;
  for (int k = 0; k < 2; ++k) {
    auto &list = k ? m->outputs_ : m->inputs_;
    for (int i = 0, n = a.numIO[k](); i < n; ++i) {
      TensorInfo t;
      t.name = a.ioName[k](i);
      int dt = a.ioDtype[k](i);
      if (dt < 0 || dt > KILN_BOOL)
        return error("'" + path + "' reports an unknown dtype " +
                     llvm::Twine(dt) + " for " + t.name);
      t.dtype = static_cast<ref::DType>(dt); // same order as kiln_dtype
      int rank = a.ioRank[k](i);
      const int64_t *shape = a.ioShape[k](i);
      t.shape.assign(shape, shape + rank);
      for (int d = 0; d < rank; ++d)
        t.dimNames.push_back(a.ioDimName[k](i, d));
      list.push_back(std::move(t));
    }
  }
  std::string wp = weightsPath.str();
  int rc = a.create(&m->instance_, threads, wp.empty() ? nullptr : wp.c_str());
  if (rc != KILN_OK)
    return error("cannot create an instance of '" + path +
                 "': " + a.lastError(nullptr));
  return std::move(m);
}

LoadedModel::~LoadedModel() {
  if (instance_)
    api_->destroy(instance_);
  if (handle_)
    dlclose(handle_);
}

int LoadedModel::threads() const { return api_->numThreads(instance_); }

std::string LoadedModel::target() const {
  return api_->target ? api_->target(instance_) : "";
}

/// The C API's view of a tensor (the library checks dtype and shape).
static kiln_tensor view(const ref::Tensor &t) {
  static char empty; // a zero-element tensor may have no storage
  kiln_tensor k;
  k.data = t.raw() ? const_cast<void *>(t.raw()) : &empty;
  k.dtype = static_cast<kiln_dtype>(t.dtype());
  k.rank = t.rank();
  k.shape = t.shape().data();
  return k;
}

llvm::Error LoadedModel::runInto(llvm::ArrayRef<ref::Tensor> inputs,
                                 llvm::MutableArrayRef<ref::Tensor> outputs) {
  kiln_tensor small[16];
  std::vector<kiln_tensor> big;
  size_t n = inputs.size() + outputs.size();
  kiln_tensor *all = small;
  if (n > 16) {
    big.resize(n);
    all = big.data();
  }
  for (size_t i = 0; i < inputs.size(); ++i)
    all[i] = view(inputs[i]);
  for (size_t i = 0; i < outputs.size(); ++i)
    all[inputs.size() + i] = view(outputs[i]);
  int rc = api_->runTensors(instance_, all, inputs.size(), all + inputs.size(),
                            outputs.size());
  if (rc != KILN_OK)
    return error(llvm::Twine(name_) + ": " + api_->lastError(instance_));
  return llvm::Error::success();
}

llvm::Expected<std::vector<ref::Tensor>>
LoadedModel::run(llvm::ArrayRef<ref::Tensor> inputs) {
  std::vector<ref::Tensor> results;
  results.reserve(outputs_.size());
  for (const TensorInfo &o : outputs_)
    results.emplace_back(o.dtype, o.shape);
  if (llvm::Error e = runInto(inputs, results))
    return std::move(e);
  return std::move(results);
}

void LoadedModel::setProfiling(bool enable) {
  api_->setProfiling(instance_, enable);
}

std::vector<LoadedModel::StepTime> LoadedModel::stepTimes() const {
  std::vector<StepTime> out;
  for (int s = 0, n = api_->numSteps(); s < n; ++s) {
    StepTime t;
    t.name = api_->stepName(s);
    api_->stepStats(instance_, s, &t.seconds, &t.calls);
    out.push_back(std::move(t));
  }
  return out;
}

} // namespace kiln::library

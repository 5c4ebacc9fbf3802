// Reading and writing the tuning database (JSON lines, one kernel a line).
#include "TuningDb.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <unistd.h>

namespace kiln::library {

std::string TuningDb::defaultPath() {
  if (const char *d = std::getenv("KILN_TUNING_DB"); d && *d)
    return d;
  if (const char *x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return std::string(x) + "/kiln/tuning.json";
  if (const char *h = std::getenv("HOME"); h && *h)
    return std::string(h) + "/.cache/kiln/tuning.json";
  return "/tmp/kiln-cache/tuning.json";
}

namespace {
/// Parses one line; "" on success, else what is wrong.
std::string parseEntry(llvm::StringRef line, TuningEntry &e) {
  llvm::Expected<llvm::json::Value> v = llvm::json::parse(line);
  if (!v)
    return "not JSON (" + llvm::toString(v.takeError()) + ")";
  const llvm::json::Object *o = v->getAsObject();
  if (!o)
    return "not a JSON object";
  auto key = o->getString("key"), target = o->getString("target");
  auto threads = o->getInteger("threads");
  if (!key || !target || !threads)
    return "missing \"key\", \"target\" or \"threads\"";
  e.key = key->str();
  e.target = target->str();
  e.threads = (int)*threads;
  if (auto s = o->getString("scheduler"))
    e.scheduler = s->str();
  if (e.scheduler != "manual" && e.scheduler != "adams2019")
    return "unknown scheduler '" + e.scheduler + "'";
  if (const llvm::json::Value *p = o->get("params")) {
    const llvm::json::Object *po = p->getAsObject();
    if (!po)
      return "\"params\" is not an object";
    for (const auto &kv : *po) {
      std::optional<int64_t> n = kv.second.getAsInteger();
      if (!n)
        return "parameter '" + kv.first.str() + "' is not an integer";
      e.params[kv.first.str()] = *n;
    }
  }
  if (auto s = o->getString("op"))
    e.op = s->str();
  if (auto s = o->getString("tuned"))
    e.tuned = s->str();
  e.defaultUs = o->getNumber("default_us").value_or(-1);
  e.manualUs = o->getNumber("manual_us").value_or(-1);
  e.adamsUs = o->getNumber("adams2019_us").value_or(-1);
  return "";
}

void writeEntry(const TuningEntry &e, llvm::raw_ostream &os) {
  llvm::json::Object params;
  for (const auto &kv : e.params)
    params[kv.first] = kv.second;
  auto us = [](double v) -> llvm::json::Value {
    if (v < 0)
      return nullptr;
    return std::round(v * 1000) / 1000;
  };
  // Written field by field so the order stays readable.
  llvm::json::OStream j(os);
  j.object([&] {
    j.attribute("key", e.key);
    j.attribute("target", e.target);
    j.attribute("threads", e.threads);
    j.attribute("scheduler", e.scheduler);
    j.attribute("params", llvm::json::Value(std::move(params)));
    j.attribute("op", e.op);
    j.attribute("default_us", us(e.defaultUs));
    j.attribute("manual_us", us(e.manualUs));
    j.attribute("adams2019_us", us(e.adamsUs));
    j.attribute("tuned", e.tuned);
  });
  os << "\n";
}
} // namespace

void TuningDb::load(const std::string &path,
                    std::vector<std::string> &warnings) {
  path_ = path;
  entries_.clear();
  index_.clear();
  if (!llvm::sys::fs::exists(path))
    return;
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buf =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf) {
    warnings.push_back("cannot read the tuning database '" + path + "': " +
                       buf.getError().message() + "; using default schedules");
    return;
  }
  llvm::SmallVector<llvm::StringRef> lines;
  (*buf)->getBuffer().split(lines, '\n');
  unsigned bad = 0;
  for (auto [i, raw] : llvm::enumerate(lines)) {
    llvm::StringRef line = raw.trim();
    if (line.empty() || line.starts_with("#"))
      continue;
    TuningEntry e;
    std::string why = parseEntry(line, e);
    if (!why.empty()) {
      if (bad++ == 0)
        warnings.push_back("tuning database '" + path + "' line " +
                           std::to_string(i + 1) + ": " + why +
                           "; skipping it");
      continue;
    }
    put(e);
  }
  if (bad > 1)
    warnings.push_back("tuning database '" + path + "': " +
                       std::to_string(bad) + " unreadable lines skipped");
}

const TuningEntry *TuningDb::lookup(const std::string &key,
                                    const std::string &target,
                                    int threads) const {
  auto it = index_.find(Id(key, target, threads));
  return it == index_.end() ? nullptr : &entries_[it->second];
}

void TuningDb::put(const TuningEntry &e) {
  Id id(e.key, e.target, e.threads);
  auto it = index_.find(id);
  if (it != index_.end()) {
    entries_[it->second] = e;
    return;
  }
  index_[id] = entries_.size();
  entries_.push_back(e);
}

bool TuningDb::save(std::string &error) const {
  llvm::StringRef dir = llvm::sys::path::parent_path(path_);
  if (!dir.empty())
    if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
      error = "cannot create '" + dir.str() + "': " + ec.message();
      return false;
    }
  std::string tmp = path_ + ".tmp." + std::to_string(::getpid());
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(tmp, ec);
    if (ec) {
      error = "cannot write '" + tmp + "': " + ec.message();
      return false;
    }
    os << "# kiln tuning database: one JSON object per line (docs/tuning.md)\n";
    for (const TuningEntry &e : entries_)
      writeEntry(e, os);
    os.close();
    if (os.has_error()) {
      error = "cannot write '" + tmp + "': " + os.error().message();
      os.clear_error();
      llvm::sys::fs::remove(tmp);
      return false;
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmp, path_)) {
    error = "cannot write '" + path_ + "': " + ec.message();
    llvm::sys::fs::remove(tmp);
    return false;
  }
  return true;
}

} // namespace kiln::library

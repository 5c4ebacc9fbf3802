// The tuning database: the schedule that won `kiln compile --tune` for each
// kernel, keyed by kernel key + target + threads, stored as JSON lines.
#ifndef KILN_CODEGEN_LIBRARY_TUNINGDB_H
#define KILN_CODEGEN_LIBRARY_TUNINGDB_H

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace kiln::library {

/// One tuned kernel (one line of the file; see docs/tuning.md).
struct TuningEntry {
  std::string key;                       // halide::kernelKey(op)
  std::string target;                    // resolved Halide target string
  int threads = 1;                       // threads the kernel runs on
  std::string scheduler = "manual";      // "manual" (params) or "adams2019"
  std::map<std::string, int64_t> params; // manual schedule parameters
  // Informational: what the tune measured (microseconds per call; < 0: not
  // measured), the op, and when.
  std::string op;
  double defaultUs = -1, manualUs = -1, adamsUs = -1;
  std::string tuned;
};

class TuningDb {
public:
  /// $KILN_TUNING_DB, else $XDG_CACHE_HOME/kiln/tuning.json, else
  /// ~/.cache/kiln/tuning.json.
  static std::string defaultPath();

  /// Reads `path`. A missing file is an empty database. Unreadable files and
  /// malformed lines add a message to `warnings` and are skipped.
  void load(const std::string &path, std::vector<std::string> &warnings);
  const std::string &path() const { return path_; }
  size_t size() const { return entries_.size(); }

  const TuningEntry *lookup(const std::string &key, const std::string &target,
                            int threads) const;
  /// Adds or replaces the entry with the same key, target and threads.
  void put(const TuningEntry &e);
  /// Writes every entry (atomically: a temporary file renamed into place),
  /// creating the directory. Sets `error` and returns false on failure.
  bool save(std::string &error) const;

private:
  using Id = std::tuple<std::string, std::string, int>;
  std::string path_;
  std::vector<TuningEntry> entries_;
  std::map<Id, size_t> index_;
};

} // namespace kiln::library

#endif // KILN_CODEGEN_LIBRARY_TUNINGDB_H

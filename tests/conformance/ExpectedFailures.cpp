// Parsing the conformance runner's expected-failures list (see
// ExpectedFailures.h).
#include "ExpectedFailures.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <set>

using namespace kiln::test;

bool ExpectedFailures::read(const std::string &path, std::string &error) {
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf) {
    error = path + ": " + buf.getError().message();
    return false;
  }
  llvm::StringRef rest = (*buf)->getBuffer();
  for (unsigned lineNo = 1; !rest.empty(); ++lineNo) {
    auto [line, tail] = rest.split('\n');
    rest = tail;
    line = line.trim();
    if (line.empty() || line.starts_with("#"))
      continue;
    size_t gap = line.find_first_of(" \t");
    llvm::StringRef name = line.substr(0, gap);
    llvm::StringRef why = line.substr(std::min(gap, line.size())).trim();
    if (!name.starts_with("test_") || why.empty()) {
      error = path + ":" + std::to_string(lineNo) +
              ": expected 'test_name reason', got '" + line.str() + "'";
      return false;
    }
    if (!reasons.emplace(name.str(), why.str()).second) {
      error = path + ":" + std::to_string(lineNo) + ": " + name.str() +
              " is listed twice";
      return false;
    }
  }
  return true;
}

const std::string *ExpectedFailures::reason(const std::string &test) const {
  auto it = reasons.find(test);
  return it == reasons.end() ? nullptr : &it->second;
}

std::vector<std::string>
ExpectedFailures::unknown(const std::vector<std::string> &existing) const {
  std::set<std::string> have(existing.begin(), existing.end());
  std::vector<std::string> r;
  for (const auto &[name, why] : reasons)
    if (!have.count(name))
      r.push_back(name);
  return r;
}

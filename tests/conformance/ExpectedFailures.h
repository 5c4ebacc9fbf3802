// The committed list of conformance tests known to fail, one "test_name reason"
// a line.
#ifndef KILN_TESTS_CONFORMANCE_EXPECTEDFAILURES_H
#define KILN_TESTS_CONFORMANCE_EXPECTEDFAILURES_H

#include <map>
#include <string>
#include <vector>

namespace kiln::test {

/// Lines are `test_name  reason...`; blank lines and lines starting with '#'
/// are skipped. Every entry must give a reason.
class ExpectedFailures {
public:
  /// Reads `path`; on a malformed line or unreadable file returns false with
  /// `error`.
  bool read(const std::string &path, std::string &error);
  /// The reason `test` is listed, or null when it is not.
  const std::string *reason(const std::string &test) const;
  /// Listed names that are not among `existing`, sorted.
  std::vector<std::string>
  unknown(const std::vector<std::string> &existing) const;

private:
  std::map<std::string, std::string> reasons;
};

} // namespace kiln::test

#endif // KILN_TESTS_CONFORMANCE_EXPECTEDFAILURES_H

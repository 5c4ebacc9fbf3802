// Replays inputs through LLVMFuzzerTestOneInput without libFuzzer (any
// compiler): each argument is a file or a folder of files. Used by ctest to
// re-run the committed crash reproducers in tests/fuzz/regressions. A
// reproducer FILE may come with FILE.expect: lines that must each appear in
// what the importer said (its diagnostics, "imported", "pipeline failed").
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *kilnFuzzLastOutcome(); // ImporterFuzzer.cpp

namespace fs = std::filesystem;

static bool replay(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "kiln-fuzz-replay: cannot read %s\n",
                 path.string().c_str());
    return false;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  std::fprintf(stderr, "replaying %s (%zu bytes)\n", path.string().c_str(),
               bytes.size());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(bytes.data()),
                         bytes.size());
  std::ifstream expect(path.string() + ".expect");
  std::string outcome = kilnFuzzLastOutcome(), line;
  bool ok = true;
  while (std::getline(expect, line)) {
    if (line.empty() || outcome.find(line) != std::string::npos)
      continue;
    std::fprintf(stderr, "  expected \"%s\" in:\n%s\n", line.c_str(),
                 outcome.c_str());
    ok = false;
  }
  return ok;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: kiln-fuzz-replay FILE|DIR...\n");
    return 2;
  }
  int count = 0, failed = 0;
  for (int i = 1; i < argc; ++i) {
    fs::path arg(argv[i]);
    std::vector<fs::path> files;
    if (fs::is_directory(arg)) {
      for (const fs::directory_entry &e : fs::directory_iterator(arg))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.' &&
            e.path().extension() != ".md" && e.path().extension() != ".expect")
          files.push_back(e.path());
    } else {
      files.push_back(arg);
    }
    std::sort(files.begin(), files.end());
    for (const fs::path &f : files) {
      failed += !replay(f);
      ++count;
    }
  }
  std::fprintf(stderr,
               "kiln-fuzz-replay: %d inputs, no crash, %d unexpected "
               "outcomes\n",
               count, failed);
  return failed ? 1 : 0;
}

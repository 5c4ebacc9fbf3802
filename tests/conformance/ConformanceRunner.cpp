// kiln-conformance: runs ONNX's backend node tests (model.onnx +
// test_data_set_*/*.pb) through kiln backends (interpreter, native libraries),
// one forked child per test, and counts passed/failed/unsupported.
#include "Backend.h"
#include "Compare.h"
#include "ExpectedFailures.h"

#include "kiln/Frontend/OnnxImporter.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "onnx/onnx_pb.h"

using namespace kiln;
using namespace kiln::test;
namespace cl = llvm::cl;
namespace fs = llvm::sys::fs;
namespace path = llvm::sys::path;

static cl::opt<std::string>
    dataDir("data-dir", cl::init("/usr/share/libonnx-testdata/data/node"),
            cl::desc("folder of ONNX backend tests (one folder per test)"));
static cl::list<std::string> backendList(
    "backend", cl::CommaSeparated,
    cl::desc("how to run the models: interpreter (default), native (Halide "
             "where supported, else LLVM), llvm, halide; several "
             "(--backend=interpreter,native) run one after the other"));
static cl::opt<std::string> filter("filter",
                                   cl::desc("run only tests matching REGEX"));
static cl::opt<bool> listFailures(
    "list-failures",
    cl::desc(
        "print the failing tests at the end, in --expected-failures format"));
static cl::opt<bool>
    listUnsupported("list-unsupported",
                    cl::desc("print each unsupported test with its reason"));
static cl::opt<bool> verbose("v", cl::desc("print every test's result"));
static cl::list<std::string> expectedFiles(
    "expected-failures",
    cl::desc("[BACKEND=]FILE of known failures ('test_name reason'): only "
             "other failures fail the run (no BACKEND=: every backend)"));
static cl::list<std::string> minPassedList(
    "min-passed",
    cl::desc("[BACKEND=]N: fail the run when fewer tests pass (guards against "
             "a frontend that calls everything unsupported)"));
static cl::opt<std::string>
    shard("shard", cl::desc("I/N: run only the tests whose index in the sorted "
                            "(filtered) list is I modulo N"));
static cl::opt<unsigned> jobs("j", cl::init(2),
                              cl::desc("tests run at once (forked children)"));
static cl::opt<unsigned> timeoutSec(
    "timeout", cl::init(30),
    cl::desc("seconds per test before it is killed (native backends: 4x, "
             "they compile)"));
static cl::opt<bool>
    noFork("no-fork", cl::desc("run tests in this process (for debuggers)"));
static cl::opt<double> relTol("rtol", cl::init(1e-3),
                              cl::desc("relative tolerance"));
static cl::opt<double> absTol("atol", cl::init(1e-5),
                              cl::desc("absolute tolerance"));

namespace {

/// UnsupportedNative: the frontend imports the model but no allowed kernel
/// backend compiles one of its ops (emitLibrary says so).
enum class Outcome { Passed, Failed, Unsupported, UnsupportedNative };

/// The backend the children run, and the settings of the native ones (the
/// parent sets both before forking).
std::string backendName;
BackendOptions backendOptions;

struct Result {
  Outcome outcome = Outcome::Failed;
  std::string message;
};

std::string join(llvm::StringRef a, llvm::StringRef b) {
  llvm::SmallString<256> p(a);
  path::append(p, b);
  return std::string(p);
}

/// Files dir/prefix0.pb, dir/prefix1.pb, ... while they exist.
std::vector<std::string> numberedFiles(const std::string &dir,
                                       const char *prefix) {
  std::vector<std::string> r;
  for (int i = 0;; ++i) {
    std::string f = join(dir, prefix + std::to_string(i) + ".pb");
    if (!fs::exists(f))
      return r;
    r.push_back(f);
  }
}

std::vector<std::string> dataSets(const std::string &testDir) {
  std::vector<std::string> r;
  std::error_code ec;
  for (fs::directory_iterator it(testDir, ec), end; it != end && !ec;
       it.increment(ec))
    if (path::filename(it->path()).starts_with("test_data_set_"))
      r.push_back(it->path());
  std::sort(r.begin(), r.end());
  return r;
}

/// Reads a TensorProto file. Test data of an element type kiln lacks makes
/// the test unsupported (bfloat16 data is stored as UINT16 in ONNX's tests).
bool readPb(const std::string &file, ref::Tensor &t, Result &r) {
  try {
    t = readOnnxTensorFile(file);
    return true;
  } catch (const std::exception &e) {
    r.outcome = Outcome::Failed;
    r.message = path::filename(file).str() + ": " + e.what();
  }
  auto buf = llvm::MemoryBuffer::getFile(file, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  onnx::TensorProto proto;
  if (buf &&
      proto.ParseFromArray((*buf)->getBufferStart(),
                           (int)(*buf)->getBufferSize()) &&
      onnx::TensorProto::DataType_IsValid(proto.data_type()) &&
      !isSupportedOnnxElementType(proto.data_type())) {
    r.outcome = Outcome::Unsupported;
    r.message = path::filename(file).str() + ": unsupported element type " +
                onnx::TensorProto::DataType_Name(
                    (onnx::TensorProto::DataType)proto.data_type()) +
                " in the test data";
  }
  return false;
}

/// A test is unsupported when kiln::findUnsupportedOnnxFeatures finds
/// something in its model; then the message lists what.
std::optional<Result> classifyModel(const std::string &modelPath) {
  auto buf = llvm::MemoryBuffer::getFile(modelPath, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  onnx::ModelProto model;
  if (!buf || !model.ParseFromArray((*buf)->getBufferStart(),
                                    (int)(*buf)->getBufferSize()))
    return Result{Outcome::Failed, "cannot read or parse " + modelPath};
  std::vector<std::string> problems = findUnsupportedOnnxFeatures(model);
  if (problems.empty())
    return std::nullopt;
  return Result{Outcome::Unsupported, llvm::join(problems, "; ")};
}

/// Imports, runs and checks one test (every data set). Runs in the child.
Result runTest(const std::string &testDir) {
  Result r;
  std::string error;
  std::unique_ptr<Backend> backend =
      createBackend(backendName, error, backendOptions);
  if (!backend)
    return {Outcome::Failed, error};
  std::string modelPath = join(testDir, "model.onnx");
  if (std::optional<Result> unsupported = classifyModel(modelPath))
    return *unsupported;
  // Every other import failure is a failure, whatever its message says.
  Status st = backend->load(modelPath);
  if (!st.ok())
    return {Outcome::Failed, "import: " + st.message};
  std::vector<std::string> sets = dataSets(testDir);
  if (sets.empty())
    return {Outcome::Failed, "no test_data_set_* folder"};
  for (const std::string &set : sets) {
    std::string setName = path::filename(set).str();
    std::vector<ref::Tensor> inputs, outputs, expected;
    for (const std::string &f : numberedFiles(set, "input_")) {
      inputs.emplace_back();
      if (!readPb(f, inputs.back(), r))
        return r;
    }
    for (const std::string &f : numberedFiles(set, "output_")) {
      expected.emplace_back();
      if (!readPb(f, expected.back(), r))
        return r;
    }
    if (expected.empty())
      return {Outcome::Failed, setName + ": no output_0.pb"};
    if (inputs.size() != backend->inputNames().size())
      return {Outcome::Failed,
              setName + ": " + std::to_string(inputs.size()) +
                  " input files for a model with " +
                  std::to_string(backend->inputNames().size()) + " inputs"};
    st = backend->run(inputs, outputs);
    if (st.kind == FailureKind::Unsupported)
      return {Outcome::UnsupportedNative, st.message};
    if (!st.ok())
      return {Outcome::Failed, "run: " + st.message};
    if (outputs.size() < expected.size())
      return {Outcome::Failed,
              setName + ": model produced " + std::to_string(outputs.size()) +
                  " outputs, " + std::to_string(expected.size()) + " expected"};
    for (size_t i = 0; i < expected.size(); ++i) {
      Comparison c = compareAllClose(outputs[i], expected[i], relTol, absTol);
      if (!c.ok)
        return {Outcome::Failed, setName + ": output " + std::to_string(i) +
                                     " '" + backend->outputNames()[i] +
                                     "': " + c.detail};
    }
  }
  return {Outcome::Passed, ""};
}

Result runTestGuarded(const std::string &testDir) {
  try {
    return runTest(testDir);
  } catch (const std::exception &e) {
    return {Outcome::Failed, std::string("exception: ") + e.what()};
  }
}

// ---- forked execution ----

struct Child {
  pid_t pid;
  size_t test;
  int resultFd, logFd;
  std::string result, log;
  std::chrono::steady_clock::time_point start;
  bool killed = false;
};

bool writeAll(int fd, const std::string &s) {
  for (size_t done = 0; done < s.size();) {
    ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n <= 0)
      return false;
    done += n;
  }
  return true;
}

/// Forks a child that runs one test and writes "<P|F|U|N><message>" to a pipe;
/// its stdout/stderr go to a second pipe, kept for crash reports.
bool startChild(const std::string &testDir, size_t index, Child &c) {
  int res[2], log[2];
  if (pipe(res) != 0)
    return false;
  if (pipe(log) != 0) {
    close(res[0]);
    close(res[1]);
    return false;
  }
  llvm::outs().flush();
  llvm::errs().flush();
  pid_t pid = fork();
  if (pid < 0) {
    for (int fd : {res[0], res[1], log[0], log[1]})
      close(fd);
    return false;
  }
  if (pid == 0) {
    close(res[0]);
    close(log[0]);
    dup2(log[1], 1);
    dup2(log[1], 2);
#ifndef __SANITIZE_ADDRESS__ // ASan's shadow memory alone is over the limit
    struct rlimit lim = {8ull << 30,
                         8ull << 30}; // a runaway allocation fails, not OOM
    setrlimit(RLIMIT_AS, &lim);
#endif
    Result r = runTestGuarded(testDir);
    const char kind = r.outcome == Outcome::Passed              ? 'P'
                      : r.outcome == Outcome::Unsupported       ? 'U'
                      : r.outcome == Outcome::UnsupportedNative ? 'N'
                                                                : 'F';
    writeAll(res[1], std::string(1, kind) + r.message);
    _exit(0);
  }
  close(res[1]);
  close(log[1]);
  c = Child{
      pid, index, res[0], log[0], "", "", std::chrono::steady_clock::now()};
  return true;
}

std::string signalText(int sig) {
  const char *s = strsignal(sig);
  return "crashed with signal " + std::to_string(sig) + " (" + (s ? s : "?") +
         ")";
}

/// Seconds a child may run (set per backend).
unsigned limitSec = 30;

/// The child's verdict once it has exited with `status`.
Result finishChild(const Child &c, int status) {
  std::string tail =
      c.log.size() > 600 ? c.log.substr(c.log.size() - 600) : c.log;
  tail = llvm::StringRef(tail).trim().str();
  auto withLog = [&](std::string m) {
    return tail.empty() ? m : m + "; output: " + tail;
  };
  if (c.killed)
    return {Outcome::Failed,
            withLog("timed out after " + std::to_string(limitSec) + " s")};
  if (WIFSIGNALED(status))
    return {Outcome::Failed, withLog(signalText(WTERMSIG(status)))};
  if (c.result.empty())
    return {Outcome::Failed,
            withLog("exited with status " +
                    std::to_string(WEXITSTATUS(status)) + " without a result")};
  Result r;
  r.outcome = c.result[0] == 'P'   ? Outcome::Passed
              : c.result[0] == 'U' ? Outcome::Unsupported
              : c.result[0] == 'N' ? Outcome::UnsupportedNative
                                   : Outcome::Failed;
  r.message = c.result.substr(1);
  return r;
}

/// Runs every test, at most `jobs` children at once.
std::vector<Result> runForked(const std::vector<std::string> &dirs) {
  std::vector<Result> results(dirs.size());
  std::vector<Child> running;
  size_t next = 0;
  unsigned width = std::max(1u, (unsigned)jobs);
  while (next < dirs.size() || !running.empty()) {
    while (next < dirs.size() && running.size() < width) {
      Child c;
      if (!startChild(dirs[next], next, c)) {
        results[next] = {Outcome::Failed,
                         "cannot fork: " + std::string(strerror(errno))};
      } else {
        running.push_back(std::move(c));
      }
      ++next;
    }
    std::vector<pollfd> fds;
    for (Child &c : running) {
      fds.push_back({c.resultFd, POLLIN, 0});
      fds.push_back({c.logFd, POLLIN, 0});
    }
    poll(fds.data(), fds.size(), 100);
    auto now = std::chrono::steady_clock::now();
    for (size_t i = 0; i < running.size();) {
      Child &c = running[i];
      char buf[4096];
      for (int *fd : {&c.resultFd, &c.logFd}) {
        if (*fd < 0 ||
            !(fds[2 * i + (fd == &c.logFd)].revents & (POLLIN | POLLHUP)))
          continue;
        ssize_t n = read(*fd, buf, sizeof buf);
        if (n > 0) {
          (fd == &c.resultFd ? c.result : c.log).append(buf, n);
          if (c.log.size() > (1 << 16))
            c.log.erase(0, c.log.size() - (1 << 15));
        } else {
          close(*fd);
          *fd = -1;
        }
      }
      if (!c.killed && now - c.start > std::chrono::seconds(limitSec)) {
        kill(c.pid, SIGKILL);
        c.killed = true;
      }
      int status = 0;
      if (c.resultFd < 0 && c.logFd < 0 &&
          waitpid(c.pid, &status, 0) == c.pid) {
        results[c.test] = finishChild(c, status);
        running.erase(running.begin() + i);
        fds.erase(fds.begin() + 2 * i, fds.begin() + 2 * i + 2);
        continue;
      }
      ++i;
    }
  }
  return results;
}

/// The summary line of each backend run, repeated at the end.
std::vector<std::string> summaries;

/// The first line of a message, shortened for one-line reports.
std::string firstLine(const std::string &m, size_t max = 240) {
  std::string s = llvm::StringRef(m).trim().split('\n').first.str();
  return s.size() > max ? s.substr(0, max) + "..." : s;
}

/// The value of a `[BACKEND=]VALUE` list for `backend`: its own entry, else
/// one without a backend, else "".
std::string forBackend(const cl::list<std::string> &list,
                       const std::string &backend) {
  std::string plain;
  for (const std::string &e : list) {
    auto [b, v] = llvm::StringRef(e).split('=');
    if (v.empty() && !llvm::StringRef(e).contains('='))
      plain = e;
    else if (b == backend)
      return v.str();
  }
  return plain;
}

/// Runs `dirs` on backendName and prints its results and the summary line;
/// returns false when the run fails (unexpected failures, too few passed).
bool runBackend(const std::vector<std::string> &names,
                const std::vector<std::string> &dirs,
                const std::vector<std::string> &allNames) {
  std::string err;
  std::string expectedFile = forBackend(expectedFiles, backendName);
  ExpectedFailures expected;
  if (!expectedFile.empty() && !expected.read(expectedFile, err)) {
    llvm::errs() << "kiln-conformance: " << err << "\n";
    return false;
  }
  unsigned minPassed = 0;
  std::string minText = forBackend(minPassedList, backendName);
  if (!minText.empty() &&
      llvm::StringRef(minText).getAsInteger(10, minPassed)) {
    llvm::errs() << "kiln-conformance: bad --min-passed '" << minText << "'\n";
    return false;
  }
  bool native = backendName != "interpreter";
  limitSec = native ? 4 * timeoutSec : unsigned(timeoutSec);

  auto t0 = std::chrono::steady_clock::now();
  std::vector<Result> results;
  if (noFork) {
    for (const std::string &d : dirs)
      results.push_back(runTestGuarded(d));
  } else {
    results = runForked(dirs);
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();

  unsigned passed = 0, failed = 0, unsupported = 0, unsupportedNative = 0,
           unexpected = 0;
  std::vector<std::string> fixed, nowUnsupported;
  for (size_t i = 0; i < names.size(); ++i) {
    const Result &r = results[i];
    const std::string *reason = expected.reason(names[i]);
    switch (r.outcome) {
    case Outcome::Passed:
      ++passed;
      if (reason)
        fixed.push_back(names[i]);
      if (verbose)
        llvm::outs() << "PASS " << names[i] << "\n";
      break;
    case Outcome::Unsupported:
    case Outcome::UnsupportedNative:
      ++unsupported;
      if (r.outcome == Outcome::UnsupportedNative)
        ++unsupportedNative;
      if (reason)
        nowUnsupported.push_back(names[i]);
      if (verbose || listUnsupported)
        llvm::outs() << (r.outcome == Outcome::UnsupportedNative
                             ? "UNSUPPORTED (" + backendName + ") "
                             : std::string("UNSUPPORTED "))
                     << names[i] << ": " << firstLine(r.message) << "\n";
      break;
    case Outcome::Failed:
      ++failed;
      if (!reason)
        ++unexpected;
      llvm::outs() << (reason ? "XFAIL " : "FAIL ") << names[i] << ": "
                   << firstLine(r.message) << "\n";
      break;
    }
  }
  if (listFailures) {
    llvm::outs() << "# failing tests on " << backendName
                 << " (--expected-failures format):\n";
    for (size_t i = 0; i < names.size(); ++i)
      if (results[i].outcome == Outcome::Failed)
        llvm::outs() << names[i] << "  " << firstLine(results[i].message, 160)
                     << "\n";
  }
  for (const std::string &n : fixed)
    llvm::outs() << "FIXED " << n << ": passes now; remove it from "
                 << expectedFile << "\n";
  for (const std::string &n : nowUnsupported)
    llvm::outs() << "NOTE " << n << ": listed as failing but now unsupported\n";
  for (const std::string &n : expected.unknown(allNames))
    llvm::outs() << "NOTE " << n << ": in " << expectedFile
                 << " but no such test in " << dataDir << "\n";

  std::string line;
  llvm::raw_string_ostream os(line);
  os << "conformance (" << backendName << "): " << passed << " passed, "
     << failed << " failed, " << unsupported << " unsupported";
  if (native)
    os << " (" << unsupportedNative << " by the " << backendName
       << " kernel backends)";
  if (!expectedFile.empty())
    os << " (" << failed - unexpected << " expected failures, " << unexpected
       << " unexpected, " << fixed.size() << " fixed)";
  os << llvm::format(" in %.0f s", seconds);
  summaries.push_back(line);
  llvm::outs() << line << "\n";
  if (passed < minPassed) {
    llvm::outs() << "conformance (" << backendName << "): only " << passed
                 << " passed, --min-passed is " << minPassed << "\n";
    return false;
  }
  return unexpected == 0;
}

} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(
      argc, argv, "kiln-conformance: ONNX backend node tests on kiln\n");
  if (!fs::is_directory(dataDir)) {
    llvm::errs() << "kiln-conformance: no test data at " << dataDir
                 << " (install libonnx-testdata); skipping\n";
    return 77; // ctest SKIP_RETURN_CODE
  }
  std::vector<std::string> backends(backendList.begin(), backendList.end());
  if (backends.empty())
    backends.push_back("interpreter");
  std::string err;
  for (const std::string &b : backends)
    if (!createBackend(b, err)) {
      llvm::errs() << "kiln-conformance: " << err << "\n";
      return 2;
    }
  llvm::Regex re(filter.empty() ? std::string(".*") : std::string(filter));
  if (!re.isValid(err)) {
    llvm::errs() << "kiln-conformance: bad --filter: " << err << "\n";
    return 2;
  }
  unsigned shardIndex = 0, shardCount = 1;
  if (!shard.empty()) {
    auto [i, n] = llvm::StringRef(shard).split('/');
    if (i.getAsInteger(10, shardIndex) || n.getAsInteger(10, shardCount) ||
        shardCount == 0 || shardIndex >= shardCount) {
      llvm::errs() << "kiln-conformance: bad --shard '" << shard
                   << "' (expected I/N with I < N)\n";
      return 2;
    }
  }

  std::vector<std::string> names, dirs, allNames;
  std::error_code ec;
  for (fs::directory_iterator it(dataDir, ec), end; it != end && !ec;
       it.increment(ec)) {
    std::string name = path::filename(it->path()).str();
    if (!fs::exists(join(it->path(), "model.onnx")))
      continue;
    allNames.push_back(name);
    if (re.match(name))
      names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  if (shardCount > 1) {
    std::vector<std::string> picked;
    for (size_t i = 0; i < names.size(); ++i)
      if (i % shardCount == shardIndex)
        picked.push_back(names[i]);
    names = std::move(picked);
  }
  for (const std::string &n : names)
    dirs.push_back(join(dataDir, n));

  // Native backends build in one temporary folder per run (libraries and,
  // unless $KILN_CACHE_DIR is set, an empty kernel cache shared by the
  // children), removed at the end even when children crash.
  llvm::SmallString<128> workDir;
  bool anyNative = llvm::any_of(
      backends, [](const std::string &b) { return b != "interpreter"; });
  if (anyNative) {
    if (std::error_code e =
            fs::createUniqueDirectory("kiln-conformance", workDir)) {
      llvm::errs() << "kiln-conformance: cannot make a temporary folder: "
                   << e.message() << "\n";
      return 2;
    }
    backendOptions.workDir = std::string(workDir);
    backendOptions.compileJobs = 1; // the children already run in parallel
  }

  bool ok = true;
  for (const std::string &b : backends) {
    backendName = b;
    ok &= runBackend(names, dirs, allNames);
  }
  if (backends.size() > 1)
    for (const std::string &line : summaries)
      llvm::outs() << line << "\n";
  if (anyNative && !std::getenv("KILN_TEST_KEEP"))
    fs::remove_directories(workDir);
  return ok ? 0 : 1;
}

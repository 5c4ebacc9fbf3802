// Harness of LLVMBackendTest: builds one-op kiln modules, compiles the op
// with the LLVM backend, runs it from a shared library and checks it
// against the interpreter. Included by LLVMBackendTest.cpp only.
#ifndef KILN_TESTS_UNIT_LLVMBACKENDTESTHARNESS_H
#define KILN_TESTS_UNIT_LLVMBACKENDTESTHARNESS_H

#include "KilnIRTest.h"
#include "kiln/Codegen/LLVMBackend.h"
#include "kiln/IR/Interpreter.h"
#include "kiln/IR/KilnDialect.h"
#include "kiln/IR/TensorConversion.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <dlfcn.h>
#include <random>
#include <set>

namespace llvm_backend_test {

using namespace kiln;
using ref::DType;
using ref::Tensor;

/// How inputs are drawn and results compared (chained setters).
struct Opts {
  double tol = 2e-5;
  double lo = -2, hi = 2;       // float inputs
  int64_t ilo = -5, ihi = 5;    // integer inputs
  bool nonzero = false;         // no zero integers (divisors)
  std::vector<unsigned> consts; // function args made kiln.constant
  /// Per-arg integer ranges (e.g. indices in [-dim, dim)).
  std::vector<std::pair<unsigned, std::pair<int64_t, int64_t>>> ranges;

  Opts &tolerance(double t) {
    tol = t;
    return *this;
  }
  Opts &floats(double l, double h) {
    lo = l;
    hi = h;
    return *this;
  }
  Opts &ints(int64_t l, int64_t h) {
    ilo = l;
    ihi = h;
    return *this;
  }
  Opts &nonzeroInts() {
    nonzero = true;
    return *this;
  }
  Opts &constArgs(std::vector<unsigned> c) {
    consts = std::move(c);
    return *this;
  }
  Opts &argRange(unsigned arg, int64_t l, int64_t h) {
    ranges.push_back({arg, {l, h}});
    return *this;
  }
};

std::string tt(const std::string &shape, const std::string &elem) {
  return "tensor<" + (shape.empty() ? "" : shape + "x") + elem + ">";
}

/// A module whose @main takes `args` and returns %r (or %r0, %r1, ...).
std::string module(const std::vector<std::string> &args,
                   const std::string &body,
                   const std::vector<std::string> &results) {
  std::string s = "func.func @main(";
  for (size_t i = 0; i < args.size(); ++i)
    s += (i ? ", " : "") + ("%a" + std::to_string(i)) + ": " + args[i];
  s += ") -> (";
  std::string names, types;
  for (size_t i = 0; i < results.size(); ++i) {
    s += (i ? ", " : "") + results[i];
    names += (i ? ", " : "") + (results.size() == 1 ? std::string("%r")
                                                    : "%r" + std::to_string(i));
    types += (i ? ", " : "") + results[i];
  }
  return s + ") {\n" + body + "\n  return " + names + " : " + types + "\n}\n";
}

/// One op on all function args: %r = kiln.NAME %a0, ... {attrs} : (...) -> R.
std::string op(const std::string &name, const std::vector<std::string> &args,
               const std::string &result, const std::string &attrs = "") {
  std::string s = "  %r = kiln." + name + " ";
  for (size_t i = 0; i < args.size(); ++i)
    s += (i ? ", " : "") + ("%a" + std::to_string(i));
  if (!attrs.empty())
    s += " {" + attrs + "}";
  s += " : (";
  for (size_t i = 0; i < args.size(); ++i)
    s += (i ? ", " : "") + args[i];
  s += ") -> " + result;
  return module(args, s, {result});
}

class LLVMBackendTest : public KilnIRTest {
protected:
  static void SetUpTestSuite() {
    llvm::SmallString<128> d;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("kiln-llvm-test", d));
    dir = std::string(d);
  }
  static void TearDownTestSuite() { llvm::sys::fs::remove_directories(dir); }


  Tensor randomTensor(mlir::RankedTensorType type, const Opts &o,
                      unsigned arg) {
    DType dt = toDType(type.getElementType());
    Tensor t(dt, ref::Shape(type.getShape().begin(), type.getShape().end()));
    int64_t ilo = o.ilo, ihi = o.ihi;
    for (auto &[a, r] : o.ranges)
      if (a == arg)
        std::tie(ilo, ihi) = r;
    std::uniform_real_distribution<double> uf(o.lo, o.hi);
    std::uniform_int_distribution<int64_t> ui(ilo, ihi);
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (dt == DType::Bool) {
        t.setInt(i, rng() & 1);
      } else if (ref::isFloat(dt)) {
        t.setDouble(i, uf(rng));
      } else {
        int64_t v = ui(rng);
        t.setInt(i, o.nonzero && v == 0 ? 1 : v);
      }
    }
    return t;
  }

  /// Compiles `op`, links it into a shared library and runs it.
  std::vector<Tensor> runCompiled(mlir::Operation *op,
                                  const std::vector<Tensor> &operands) {
    std::string name = "kiln_k" + std::to_string(counter++);
    std::string obj = dir + "/" + name + ".o", so = dir + "/" + name + ".so";
    bool compiled =
        llvm::succeeded(llvmgen::compileKernelToObject(op, name, obj));
    EXPECT_TRUE(compiled) << diagnostics;
    if (!compiled)
      return {};
    checkSymbols(obj, name);
    static auto cc = llvm::sys::findProgramByName("cc");
    EXPECT_TRUE((bool)cc);
    std::string err;
    int rc =
        llvm::sys::ExecuteAndWait(*cc, {*cc, "-shared", "-o", so, obj, "-lm"},
                                  std::nullopt, {}, 0, 0, &err);
    EXPECT_EQ(rc, 0) << err;
    if (rc != 0)
      return {};
    void *lib = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    EXPECT_NE(lib, nullptr) << dlerror();
    if (!lib)
      return {};
    void *fn = dlsym(lib, name.c_str());
    EXPECT_NE(fn, nullptr);
    // Outputs live in buffers with guard bytes, pre-filled with 0xFF (NaN).
    const size_t guard = 64;
    std::vector<Tensor> results;
    std::vector<std::vector<unsigned char>> buffers;
    std::vector<void *> args;
    for (const Tensor &t : operands)
      args.push_back(const_cast<void *>(t.raw()));
    for (mlir::Value r : op->getResults()) {
      auto type = mlir::cast<mlir::RankedTensorType>(r.getType());
      results.emplace_back(
          toDType(type.getElementType()),
          ref::Shape(type.getShape().begin(), type.getShape().end()));
      buffers.emplace_back(results.back().bytes() + 2 * guard, 0xFF);
      args.push_back(buffers.back().data() + guard);
    }
    call(fn, args);
    for (size_t i = 0; i < results.size(); ++i) {
      const std::vector<unsigned char> &b = buffers[i];
      for (size_t g = 0; g < guard; ++g) {
        EXPECT_EQ(b[g], 0xFF) << "kernel wrote before output " << i;
        EXPECT_EQ(b[b.size() - 1 - g], 0xFF)
            << "kernel wrote past output " << i;
      }
      if (results[i].bytes()) // raw() is null when empty (UBSan)
        std::memcpy(results[i].raw(), b.data() + guard, results[i].bytes());
    }
    dlclose(lib);
    return results;
  }

  /// The object defines only `name` and needs nothing beyond libc/libm.
  static void checkSymbols(const std::string &obj, const std::string &name) {
    static const std::set<std::string> allowed = {
        "malloc", "free", "memset", "memcpy", "memmove", "powf",   "pow",
        "fmodf",  "fmod", "sinf",   "cosf",   "sin",     "cos",    "erf",
        "tanh",   "exp",  "log",    "expf",   "logf",    "floorf", "ceilf"};
    auto file = llvm::object::ObjectFile::createObjectFile(obj);
    ASSERT_TRUE((bool)file) << llvm::toString(file.takeError());
    for (const llvm::object::SymbolRef &sym : file->getBinary()->symbols()) {
      auto flags = sym.getFlags();
      auto symName = sym.getName();
      ASSERT_TRUE(flags && symName);
      std::string n = symName->str();
      if (n.empty() || !(*flags & llvm::object::SymbolRef::SF_Global))
        continue;
      if (*flags & llvm::object::SymbolRef::SF_Undefined)
        EXPECT_TRUE(allowed.count(n)) << obj << " needs " << n;
      else
        EXPECT_EQ(n, name) << obj << " defines " << n;
    }
  }

  static void call(void *fn, std::vector<void *> &a) {
    using P = void *;
    switch (a.size()) {
    case 1:
      return ((void (*)(P))fn)(a[0]);
    case 2:
      return ((void (*)(P, P))fn)(a[0], a[1]);
    case 3:
      return ((void (*)(P, P, P))fn)(a[0], a[1], a[2]);
    case 4:
      return ((void (*)(P, P, P, P))fn)(a[0], a[1], a[2], a[3]);
    case 5:
      return ((void (*)(P, P, P, P, P))fn)(a[0], a[1], a[2], a[3], a[4]);
    case 6:
      return ((void (*)(P, P, P, P, P, P))fn)(a[0], a[1], a[2], a[3], a[4],
                                              a[5]);
    case 7:
      return ((void (*)(P, P, P, P, P, P, P))fn)(a[0], a[1], a[2], a[3], a[4],
                                                 a[5], a[6]);
    case 8:
      return ((void (*)(P, P, P, P, P, P, P, P))fn)(a[0], a[1], a[2], a[3],
                                                    a[4], a[5], a[6], a[7]);
    default:
      ADD_FAILURE() << "too many kernel arguments: " << a.size();
    }
  }

  /// Parses `src`, finds its one non-constant op, runs it compiled and in
  /// the interpreter, and compares every result.
  void check(const std::string &src, Opts o = {}) {
    SCOPED_TRACE(src);
    diagnostics.clear();
    mlir::OwningOpRef<mlir::ModuleOp> m =
        mlir::parseSourceString<mlir::ModuleOp>(src, &ctx);
    ASSERT_TRUE(m) << diagnostics;
    auto fn = m->lookupSymbol<mlir::func::FuncOp>("main");
    ASSERT_TRUE(fn);
    std::vector<Tensor> args;
    for (auto [i, a] : llvm::enumerate(fn.getArguments()))
      args.push_back(
          randomTensor(mlir::cast<mlir::RankedTensorType>(a.getType()), o, i));
    makeArgsConstant(fn, o.consts, args);
    mlir::Operation *target = nullptr;
    for (mlir::Operation &x : fn.getBody().front())
      if (!mlir::isa<mlir::func::ReturnOp>(x) &&
          (!mlir::isa<kiln::ConstantOp>(x) ||
           x.getNextNode() == fn.getBody().front().getTerminator()))
        target = &x;
    ASSERT_NE(target, nullptr);
    std::vector<Tensor> operands;
    for (mlir::Value v : target->getOperands()) {
      if (auto arg = mlir::dyn_cast<mlir::BlockArgument>(v))
        operands.push_back(args[arg.getArgNumber()]);
      else
        operands.push_back(toTensor(getConstantValue(v)));
    }
    std::string why;
    ASSERT_TRUE(llvmgen::isSupported(target, &why)) << why;
    EXPECT_FALSE(llvmgen::kernelKey(target).empty());
    auto expect = evaluateOp(target, operands);
    ASSERT_TRUE(llvm::succeeded(expect)) << diagnostics;
    std::vector<Tensor> got = runCompiled(target, operands);
    ASSERT_EQ(got.size(), expect->size());
    for (size_t i = 0; i < got.size(); ++i) {
      const Tensor &g = got[i], &e = (*expect)[i];
      ASSERT_EQ(g.dtype(), e.dtype()) << "result " << i;
      ASSERT_EQ(g.shape(), e.shape()) << "result " << i;
      if (ref::isFloat(e.dtype())) {
        EXPECT_LE(ref::relativeError(g, e), o.tol)
            << "result " << i << " of "
            << target->getName().getStringRef().str();
      } else {
        EXPECT_EQ(std::memcmp(g.raw(), e.raw(), e.bytes()), 0)
            << "result " << i << " of "
            << target->getName().getStringRef().str();
      }
    }
  }

  inline static std::string dir;
  inline static int counter = 0;
  std::mt19937_64 rng{12345};
};

} // namespace llvm_backend_test

#endif // KILN_TESTS_UNIT_LLVMBACKENDTESTHARNESS_H

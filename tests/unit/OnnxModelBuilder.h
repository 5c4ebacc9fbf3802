// Helpers for the ONNX importer's unit tests: a builder of small ModelProtos
// and a fixture that imports them and captures IR and diagnostics.
#ifndef KILN_TESTS_UNIT_ONNXMODELBUILDER_H
#define KILN_TESTS_UNIT_ONNXMODELBUILDER_H

#include "kiln/Frontend/OnnxImporter.h"
#include "kiln/IR/Interpreter.h"
#include "kiln/IR/KilnDialect.h"
#include "kiln/IR/TensorConversion.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include "onnx/onnx_pb.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

namespace kiln::testing {

using namespace mlir;

/// A dim of a graph input: a size, or a symbolic name.
struct Dim {
  Dim(int64_t v) : value(v) {}
  Dim(const char *p) : param(p) {}
  int64_t value = -1;
  std::string param;
};

/// Builds small ONNX models.
class Model {
public:
  explicit Model(int64_t opset = 17) {
    proto.set_ir_version(8);
    auto *imp = proto.add_opset_import();
    imp->set_domain("");
    imp->set_version(opset);
    proto.mutable_graph()->set_name("test");
  }
  onnx::GraphProto &graph() { return *proto.mutable_graph(); }

  void input(const std::string &name, std::vector<Dim> dims,
             int type = onnx::TensorProto::FLOAT) {
    auto *tt = graph().add_input()->mutable_type()->mutable_tensor_type();
    graph().mutable_input(graph().input_size() - 1)->set_name(name);
    tt->set_elem_type(type);
    auto *shape = tt->mutable_shape();
    for (const Dim &d : dims) {
      auto *dim = shape->add_dim();
      if (!d.param.empty())
        dim->set_dim_param(d.param);
      else if (d.value >= 0)
        dim->set_dim_value(d.value);
    }
  }
  void output(const std::string &name) { graph().add_output()->set_name(name); }

  onnx::NodeProto &node(const std::string &op, std::vector<std::string> ins,
                        std::vector<std::string> outs,
                        const std::string &name = "") {
    onnx::NodeProto *n = graph().add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (auto &i : ins)
      n->add_input(i);
    for (auto &o : outs)
      n->add_output(o);
    return *n;
  }

  static onnx::TensorProto tensorF32(const std::string &name,
                                     std::vector<int64_t> dims,
                                     std::vector<float> values) {
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims)
      t.add_dims(d);
    t.set_raw_data(std::string((const char *)values.data(), values.size() * 4));
    return t;
  }
  static onnx::TensorProto tensorI64(const std::string &name,
                                     std::vector<int64_t> dims,
                                     std::vector<int64_t> values) {
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims)
      t.add_dims(d);
    for (int64_t v : values)
      t.add_int64_data(v);
    return t;
  }
  void initF32(const std::string &name, std::vector<int64_t> dims,
               std::vector<float> values) {
    *graph().add_initializer() = tensorF32(name, dims, values);
  }
  void initI64(const std::string &name, std::vector<int64_t> values) {
    *graph().add_initializer() =
        tensorI64(name, {(int64_t)values.size()}, values);
  }

  onnx::ModelProto proto;
};

inline void attrInt(onnx::NodeProto &n, const std::string &name, int64_t v) {
  auto *a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
inline void attrInts(onnx::NodeProto &n, const std::string &name,
                     std::vector<int64_t> v) {
  auto *a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v)
    a->add_ints(x);
}
inline void attrFloat(onnx::NodeProto &n, const std::string &name, float v) {
  auto *a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
inline void attrString(onnx::NodeProto &n, const std::string &name,
                       const std::string &v) {
  auto *a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}
inline void attrTensor(onnx::NodeProto &n, const std::string &name,
                       const onnx::TensorProto &t) {
  auto *a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::TENSOR);
  *a->mutable_t() = t;
}

/// The result of an import: the module (null on failure), its printed IR and
/// every diagnostic as "location: message" lines.
struct Imported {
  OwningOpRef<ModuleOp> module;
  std::string ir;
  std::string diags;
  func::FuncOp main() {
    return module ? module->lookupSymbol<func::FuncOp>("main") : nullptr;
  }
  template <typename OpT> int count() {
    int n = 0;
    if (module)
      module->walk([&](OpT) { ++n; });
    return n;
  }
};

class OnnxImporterTest : public ::testing::Test {
protected:
  Imported run(const std::function<OwningOpRef<ModuleOp>()> &import) {
    Imported r;
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      llvm::raw_string_ostream os(r.diags);
      os << d.getLocation() << ": " << d.str() << "\n";
      return success();
    });
    r.module = import();
    if (r.module) {
      llvm::raw_string_ostream os(r.ir);
      r.module->print(os);
    }
    return r;
  }
  Imported import(const Model &m, OnnxImportOptions opts = {},
                  const std::string &baseDir = ".") {
    return run([&] {
      return importOnnxModel(m.proto, baseDir, "model.onnx", ctx, opts);
    });
  }
  Imported importFile(const std::string &path, OnnxImportOptions opts = {}) {
    return run([&] { return importOnnxFile(path, ctx, opts); });
  }
  std::string tempDir() {
    llvm::SmallString<128> dir;
    EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory("kiln-onnx-test", dir));
    return dir.str().str();
  }
  MLIRContext ctx;
};

#define EXPECT_CONTAINS(haystack, needle)                                      \
  EXPECT_NE((haystack).find(needle), std::string::npos)                        \
      << "expected to find: " << (needle) << "\nin:\n"                         \
      << (haystack)

/// Runs an imported model's @main on the reference interpreter; empty (with a
/// test failure) when it fails.
inline std::vector<ref::Tensor> runMain(Imported &r,
                                        std::vector<ref::Tensor> inputs) {
  if (!r.module) {
    ADD_FAILURE() << "no module: " << r.diags;
    return {};
  }
  FailureOr<std::vector<ref::Tensor>> out = interpret(r.main(), inputs);
  EXPECT_TRUE(succeeded(out)) << r.ir;
  return succeeded(out) ? std::move(*out) : std::vector<ref::Tensor>();
}

inline ref::Tensor f32(ref::Shape shape, std::vector<float> v) {
  return ref::Tensor::of(ref::DType::F32, std::move(shape), std::move(v));
}
inline ref::Tensor i64(ref::Shape shape, std::vector<int64_t> v) {
  return ref::Tensor::of(ref::DType::I64, std::move(shape), std::move(v));
}
/// All elements as doubles.
inline std::vector<double> doubles(const ref::Tensor &t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t.numel(); ++i)
    v.push_back(t.getDouble(i));
  return v;
}
/// Checks `got` against `want` elementwise (and the shape).
inline void expectNear(const ref::Tensor &got, ref::Shape shape,
                       std::vector<double> want, double tol = 1e-5) {
  EXPECT_EQ(got.shape(), shape);
  std::vector<double> v = doubles(got);
  ASSERT_EQ(v.size(), want.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (std::isinf(want[i]) || std::isnan(want[i]))
      EXPECT_TRUE(std::isnan(want[i]) ? std::isnan(v[i]) : v[i] == want[i])
          << "element " << i << ": " << v[i] << " vs " << want[i];
    else
      EXPECT_NEAR(v[i], want[i], tol) << "element " << i;
  }
}

/// The integers of the constant feeding operand `i` of the first OpT.
template <typename OpT>
std::vector<int64_t> constOperand(Imported &r, unsigned i) {
  std::vector<int64_t> out;
  r.module->walk([&](OpT op) {
    if (out.empty())
      if (ElementsAttr a = getConstantValue(op->getOperand(i)))
        out = toTensor(a).toInts();
  });
  return out;
}

} // namespace kiln::testing

#endif // KILN_TESTS_UNIT_ONNXMODELBUILDER_H

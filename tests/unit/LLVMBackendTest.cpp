// Tests of the LLVM backend: every kiln op kind is compiled to an object,
// linked into a shared library, loaded and run on random inputs, and its
// results compared with the reference interpreter on several shapes.
#include "LLVMBackendTestHarness.h"

#include <thread>

using namespace kiln;
using namespace llvm_backend_test;

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

TEST_F(LLVMBackendTest, UnaryFloat) {
  const char *names[] = {"neg", "abs", "erf",   "tanh", "relu",     "sigmoid",
                         "sin", "cos", "floor", "ceil", "identity", "exp"};
  for (const char *n : names)
    for (const char *s : {"2x3x17", ""})
      check(op(n, {tt(s, "f32")}, tt(s, "f32")), Opts().floats(-4, 4));
  for (const char *n : {"sqrt", "log", "reciprocal"})
    check(op(n, {tt("5x33", "f32")}, tt("5x33", "f32")),
          Opts().floats(0.05, 20));
  check(op("exp", {tt("64", "f32")}, tt("64", "f32")), Opts().floats(-80, 80));
  check(op("tanh", {tt("64", "f64")}, tt("64", "f64")),
        Opts().tolerance(1e-12));
  check(op("erf", {tt("9", "f64")}, tt("9", "f64")), Opts().tolerance(1e-12));
}

TEST_F(LLVMBackendTest, UnaryIntAndBool) {
  for (const char *e : {"i64", "i32"})
    for (const char *n : {"neg", "abs", "relu", "identity"})
      check(op(n, {tt("4x7", e)}, tt("4x7", e)));
  check(op("not", {tt("3x11", "i1")}, tt("3x11", "i1")));
  check(op("identity", {tt("13", "i1")}, tt("13", "i1")));
}

TEST_F(LLVMBackendTest, Gelu) {
  for (const char *a : {"none", "tanh"})
    check(op("gelu", {tt("3x37", "f32")}, tt("3x37", "f32"),
             std::string("approximate = \"") + a + "\""),
          Opts().floats(-6, 6));
}

TEST_F(LLVMBackendTest, Cast) {
  struct C {
    const char *from, *to;
    double lo, hi;
  };
  C cases[] = {{"f32", "i64", -1e20, 1e20}, {"f32", "i32", -1e3, 1e3},
               {"f32", "i1", -1, 1},        {"i64", "f32", 0, 0},
               {"i1", "f32", 0, 0},         {"i32", "i64", 0, 0},
               {"i64", "i32", 0, 0},        {"i1", "i64", 0, 0},
               {"i64", "i1", 0, 0},         {"f32", "f64", -3, 3},
               {"f64", "f32", -3, 3},       {"i32", "f32", 0, 0},
               {"f32", "f32", -3, 3}};
  for (const C &c : cases) {
    Opts o;
    if (c.lo != c.hi) {
      o.lo = c.lo;
      o.hi = c.hi;
    }
    o.ilo = -1000000;
    o.ihi = 1000000;
    check(op("cast", {tt("5x9", c.from)}, tt("5x9", c.to),
             std::string("to = ") + c.to),
          o);
  }
}

TEST_F(LLVMBackendTest, BinaryFloatBroadcast) {
  struct S {
    const char *a, *b, *out;
  };
  S shapes[] = {{"3x1x5", "4x5", "3x4x5"},
                {"7", "1", "7"},
                {"", "2x3", "2x3"},
                {"2x17", "2x17", "2x17"}};
  for (const char *n : {"add", "sub", "mul", "div", "max", "min", "mod"})
    for (const S &s : shapes)
      check(op(n, {tt(s.a, "f32"), tt(s.b, "f32")}, tt(s.out, "f32")));
  check(op("mod", {tt("4x6", "f32"), tt("6", "f32")}, tt("4x6", "f32"),
           "fmod = 1"));
  check(op("pow", {tt("4x6", "f32"), tt("6", "f32")}, tt("4x6", "f32")),
        Opts().floats(0.1, 3));
  check(op("pow", {tt("4x6", "f32"), tt("", "i64")}, tt("4x6", "f32")),
        Opts().ints(-3, 3));
}

TEST_F(LLVMBackendTest, BinaryInt) {
  for (const char *e : {"i64", "i32"}) {
    for (const char *n : {"add", "sub", "mul", "max", "min"})
      check(op(n, {tt("3x1x5", e), tt("4x5", e)}, tt("3x4x5", e)));
    for (const char *n : {"div", "mod"})
      check(op(n, {tt("6x7", e), tt("7", e)}, tt("6x7", e)),
            Opts().ints(-20, 20).nonzeroInts());
    check(op("mod", {tt("6x7", e), tt("7", e)}, tt("6x7", e), "fmod = 1"),
          Opts().ints(-20, 20).nonzeroInts());
    check(op("pow", {tt("6x7", e), tt("7", e)}, tt("6x7", e)),
          Opts().ints(-3, 6));
  }
  check(op("pow", {tt("9", "i64"), tt("9", "f32")}, tt("9", "i64")),
        Opts().floats(0, 3));
}

TEST_F(LLVMBackendTest, CompareAndLogical) {
  for (const char *n :
       {"equal", "less", "less_or_equal", "greater", "greater_or_equal"}) {
    check(op(n, {tt("3x1x5", "f32"), tt("4x5", "f32")}, tt("3x4x5", "i1")));
    check(op(n, {tt("2x9", "i64"), tt("9", "i64")}, tt("2x9", "i1")),
          Opts().ints(-2, 2));
  }
  check(op("equal", {tt("2x9", "i1"), tt("9", "i1")}, tt("2x9", "i1")));
  for (const char *n : {"and", "or", "xor"})
    check(op(n, {tt("5x1", "i1"), tt("1x6", "i1")}, tt("5x6", "i1")));
}

TEST_F(LLVMBackendTest, Where) {
  check(op("where", {tt("3x1", "i1"), tt("3x4", "f32"), tt("4", "f32")},
           tt("3x4", "f32")));
  check(op("where", {tt("2x5", "i1"), tt("", "i64"), tt("2x5", "i64")},
           tt("2x5", "i64")));
  check(op("where", {tt("7", "i1"), tt("7", "i1"), tt("7", "i1")},
           tt("7", "i1")));
}

//===----------------------------------------------------------------------===//
// Linear algebra
//===----------------------------------------------------------------------===//

TEST_F(LLVMBackendTest, MatMul) {
  struct S {
    const char *a, *b, *out;
  };
  S shapes[] = {{"13x17", "17x9", "13x9"},
                {"2x1x5x7", "3x7x4", "2x3x5x4"},
                {"7", "7x3", "3"},
                {"2x3x7", "7", "2x3"},
                {"4x33x65", "65x31", "4x33x31"},
                {"1x1", "1x1", "1x1"}};
  for (const S &s : shapes)
    check(op("matmul", {tt(s.a, "f32"), tt(s.b, "f32")}, tt(s.out, "f32")),
          Opts().tolerance(1e-5).constArgs({1}));
  check(op("matmul", {tt("5x6", "i64"), tt("6x3", "i64")}, tt("5x3", "i64")));
  check(
      op("matmul", {tt("5x6", "i32"), tt("2x6x3", "i32")}, tt("2x5x3", "i32")));
}

TEST_F(LLVMBackendTest, Gemm) {
  check(op("gemm", {tt("5x7", "f32"), tt("7x3", "f32")}, tt("5x3", "f32")));
  check(op(
      "gemm", {tt("7x5", "f32"), tt("3x7", "f32"), tt("3", "f32")},
      tt("5x3", "f32"),
      "alpha = 0.5 : f32, beta = 2.0 : f32, trans_a = true, trans_b = true"));
  check(op("gemm", {tt("4x9", "f32"), tt("3x9", "f32"), tt("4x1", "f32")},
           tt("4x3", "f32"), "trans_b = true, beta = -1.0 : f32"));
}

TEST_F(LLVMBackendTest, FusedMatMul) {
  for (const char *act : {"none", "relu", "gelu", "gelu_tanh", "tanh"})
    check(op("fused_matmul",
             {tt("2x5x24", "f32"), tt("24x19", "f32"), tt("19", "f32")},
             tt("2x5x19", "f32"), std::string("activation = \"") + act + "\""),
          Opts().tolerance(1e-5).constArgs({1, 2}));
  check(op("fused_matmul", {tt("6x8", "f32"), tt("5x8", "f32")},
           tt("6x5", "f32"), "trans_b = true, alpha = 0.25 : f32"));
  check(op("fused_matmul",
           {tt("2x3x6x8", "f32"), tt("2x3x8x4", "f32"), tt("4", "f32")},
           tt("2x3x6x4", "f32"), "activation = \"relu\""));
}

TEST_F(LLVMBackendTest, Einsum) {
  struct E {
    const char *eq;
    std::vector<std::string> in;
    const char *out;
  };
  E cases[] = {
      {"bij,bjk->bik", {"2x3x4", "2x4x5"}, "2x3x5"},
      {"ij,jk", {"3x4", "4x5"}, "3x5"},
      {"bhqd,bhkd->bhqk", {"1x2x5x8", "1x2x7x8"}, "1x2x5x7"},
      {"ii->i", {"4x4"}, "4"},
      {"ij->", {"3x5"}, ""},
      {"i,j->ij", {"3", "4"}, "3x4"},
      {"bsd,dh->bsh", {"2x3x4", "4x6"}, "2x3x6"},
  };
  for (const E &e : cases) {
    std::vector<std::string> args;
    for (const std::string &s : e.in)
      args.push_back(tt(s, "f32"));
    check(op("einsum", args, tt(e.out, "f32"),
             std::string("equation = \"") + e.eq + "\""));
  }
  check(op("einsum", {tt("3x4", "i64"), tt("4x2", "i64")}, tt("3x2", "i64"),
           "equation = \"ij,jk->ik\""));
}

//===----------------------------------------------------------------------===//
// Data movement and shapes
//===----------------------------------------------------------------------===//

TEST_F(LLVMBackendTest, Transpose) {
  check(op("transpose", {tt("2x3x5", "f32")}, tt("5x2x3", "f32"),
           "perm = array<i64: 2, 0, 1>"));
  check(op("transpose", {tt("3x7", "i64")}, tt("7x3", "i64"),
           "perm = array<i64: 1, 0>"));
  check(op("transpose", {tt("2x3x4x5", "i1")}, tt("2x4x3x5", "i1"),
           "perm = array<i64: 0, 2, 1, 3>"));
}

TEST_F(LLVMBackendTest, ReshapeFamily) {
  std::string shape = "  %s = kiln.constant dense<[6, -1]> : tensor<2xi64>\n"
                      "  %r = kiln.reshape %a0, %s : (tensor<2x3x4xf32>, "
                      "tensor<2xi64>) -> tensor<6x4xf32>";
  check(module({tt("2x3x4", "f32")}, shape, {tt("6x4", "f32")}));
  check(op("flatten", {tt("2x3x4", "i64")}, tt("2x12", "i64"), "axis = 1"));
  check(op("squeeze", {tt("1x3x1x4", "f32")}, tt("3x4", "f32"),
           "axes = array<i64>"));
  check(op("unsqueeze", {tt("3x4", "i1")}, tt("1x3x4x1", "i1"),
           "axes = array<i64: 0, 3>"));
  check(
      op("unsqueeze", {tt("", "f32")}, tt("1", "f32"), "axes = array<i64: 0>"));
}

TEST_F(LLVMBackendTest, ConcatAndSplit) {
  check(op("concat",
           {tt("2x3x4", "f32"), tt("2x5x4", "f32"), tt("2x1x4", "f32")},
           tt("2x9x4", "f32"), "axis = 1"));
  check(op("concat", {tt("3", "i64"), tt("4", "i64")}, tt("7", "i64"),
           "axis = 0"));
  check(op("concat", {tt("2x3", "i1"), tt("2x2", "i1")}, tt("2x5", "i1"),
           "axis = -1"));
  std::string split =
      "  %r0, %r1, %r2 = kiln.split %a0 {axis = -1, sizes = "
      "array<i64: 2, 5, 1>} : (tensor<3x8xf32>) -> (tensor<3x2xf32>, "
      "tensor<3x5xf32>, tensor<3x1xf32>)";
  check(module({tt("3x8", "f32")}, split,
               {tt("3x2", "f32"), tt("3x5", "f32"), tt("3x1", "f32")}));
}

TEST_F(LLVMBackendTest, Slice) {
  auto slice = [](const std::string &in, const std::string &out,
                  const std::string &starts, const std::string &ends,
                  const std::string &axes, const std::string &steps, int n) {
    std::string ty = "tensor<" + std::to_string(n) + "xi64>";
    std::string body =
        "  %s = kiln.constant dense<" + starts + "> : " + ty + "\n" +
        "  %e = kiln.constant dense<" + ends + "> : " + ty + "\n" +
        "  %x = kiln.constant dense<" + axes + "> : " + ty + "\n" +
        "  %p = kiln.constant dense<" + steps + "> : " + ty + "\n" +
        "  %r = kiln.slice %a0, %s, %e, %x, %p : (" + in + ", " + ty + ", " +
        ty + ", " + ty + ", " + ty + ") -> " + out;
    return module({in}, body, {out});
  };
  check(slice(tt("3x5x10", "f32"), tt("3x2x5", "f32"), "[1, -1]", "[100, -100]",
              "[1, 2]", "[3, -2]", 2));
  check(slice(tt("6x7", "i64"), tt("2x7", "i64"), "[-3]", "[-1]", "[0]", "[1]",
              1));
  check(slice(tt("9", "i1"), tt("3", "i1"), "[0]", "[9]", "[0]", "[3]", 1));
}

TEST_F(LLVMBackendTest, Gather) {
  check(op("gather", {tt("5x4", "f32"), tt("2x3", "i64")}, tt("2x3x4", "f32"),
           "axis = 0"),
        Opts().argRange(1, -5, 4));
  check(op("gather", {tt("3x7x2", "i64"), tt("4", "i32")}, tt("3x4x2", "i64"),
           "axis = 1"),
        Opts().argRange(1, -7, 6));
  check(
      op("gather", {tt("6", "f32"), tt("", "i64")}, tt("", "f32"), "axis = 0"),
      Opts().argRange(1, -6, 5));
  check(op("gather_elements", {tt("4x5", "f32"), tt("4x3", "i64")},
           tt("4x3", "f32"), "axis = 1"),
        Opts().argRange(1, -5, 4));
  check(op("gather_elements", {tt("4x5", "i1"), tt("2x5", "i64")},
           tt("2x5", "i1"), "axis = 0"),
        Opts().argRange(1, -4, 3));
}

TEST_F(LLVMBackendTest, ScatterElements) {
  for (const char *red : {"none", "add", "mul", "max", "min"}) {
    check(op("scatter_elements",
             {tt("4x5", "f32"), tt("3x5", "i64"), tt("3x5", "f32")},
             tt("4x5", "f32"),
             std::string("axis = 0, reduction = \"") + red + "\""),
          Opts().argRange(1, -4, 3));
    check(op("scatter_elements",
             {tt("3x6", "i64"), tt("3x4", "i64"), tt("3x4", "i64")},
             tt("3x6", "i64"),
             std::string("axis = -1, reduction = \"") + red + "\""),
          Opts().argRange(1, -6, 5));
  }
}

TEST_F(LLVMBackendTest, ShapeExpandTile) {
  check(op("shape", {tt("2x3x5", "f32")}, tt("3", "i64")));
  check(op("shape", {tt("2x3x5x7", "i1")}, tt("2", "i64"),
           "start = 1, end = -1"));
  std::string expand = "  %s = kiln.constant dense<[2, 1, 4]> : tensor<3xi64>\n"
                       "  %r = kiln.expand %a0, %s : (tensor<3x1xf32>, "
                       "tensor<3xi64>) -> tensor<2x3x4xf32>";
  check(module({tt("3x1", "f32")}, expand, {tt("2x3x4", "f32")}));
  std::string tile = "  %s = kiln.constant dense<[2, 3]> : tensor<2xi64>\n"
                     "  %r = kiln.tile %a0, %s : (tensor<3x5xi64>, "
                     "tensor<2xi64>) -> tensor<6x15xi64>";
  check(module({tt("3x5", "i64")}, tile, {tt("6x15", "i64")}));
}

TEST_F(LLVMBackendTest, ConstantOfShapeRangeTrilu) {
  std::string body = "  %s = kiln.constant dense<[3, 4]> : tensor<2xi64>\n"
                     "  %r = kiln.constant_of_shape %s {value = VALUE} : "
                     "(tensor<2xi64>) -> tensor<3x4xTYPE>";
  for (auto [v, t] : {std::pair{"1.5 : f32", "f32"},
                      {"-7 : i64", "i64"},
                      {"true", "i1"},
                      {"dense<3> : tensor<1xi32>", "i32"}}) {
    std::string s = body;
    s.replace(s.find("VALUE"), 5, v);
    s.replace(s.find("TYPE"), 4, t);
    check(module({}, s, {tt("3x4", t)}));
  }
  std::string range =
      "  %s = kiln.constant dense<1.5> : tensor<f32>\n"
      "  %l = kiln.constant dense<9.0> : tensor<f32>\n"
      "  %d = kiln.constant dense<0.75> : tensor<f32>\n"
      "  %r = kiln.range %s, %l, %d : (tensor<f32>, tensor<f32>, "
      "tensor<f32>) -> tensor<10xf32>";
  check(module({}, range, {tt("10", "f32")}));
  std::string irange =
      "  %s = kiln.constant dense<10> : tensor<i64>\n"
      "  %l = kiln.constant dense<-3> : tensor<i64>\n"
      "  %d = kiln.constant dense<-4> : tensor<i64>\n"
      "  %r = kiln.range %s, %l, %d : (tensor<i64>, tensor<i64>, "
      "tensor<i64>) -> tensor<4xi64>";
  check(module({}, irange, {tt("4", "i64")}));
  for (const char *attrs :
       {"upper = true, k = 0", "upper = false, k = -1", "upper = true, k = 2"})
    check(op("trilu", {tt("2x5x7", "f32")}, tt("2x5x7", "f32"), attrs));
  check(op("trilu", {tt("4x4", "i1")}, tt("4x4", "i1"), "upper = false"));
}

TEST_F(LLVMBackendTest, Constant) {
  check(module({},
               "  %r = kiln.constant dense<[[1.0, 2.5], [-3.0, 4.0]]> : "
               "tensor<2x2xf32>",
               {tt("2x2", "f32")}));
  check(module({},
               "  %r = kiln.constant dense<[true, false, true]> : tensor<3xi1>",
               {tt("3", "i1")}));
}

//===----------------------------------------------------------------------===//
// Reductions and normalizations
//===----------------------------------------------------------------------===//

TEST_F(LLVMBackendTest, Softmax) {
  for (int axis : {-1, 0, 1}) {
    std::string a = "axis = " + std::to_string(axis);
    check(op("softmax", {tt("3x17x5", "f32")}, tt("3x17x5", "f32"), a),
          Opts().floats(-10, 10));
    check(op("log_softmax", {tt("3x17x5", "f32")}, tt("3x17x5", "f32"), a),
          Opts().floats(-10, 10));
  }
}

TEST_F(LLVMBackendTest, Reduce) {
  struct R {
    const char *axes;
    bool keep;
    const char *out;
  };
  R cases[] = {{"1", true, "3x1x5"},
               {"0, 2", false, "4"},
               {"", true, "1x1x1"},
               {"-1", false, "3x4"}};
  for (const char *n :
       {"reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod"})
    for (const R &r : cases)
      check(op(n, {tt("3x4x5", "f32")}, tt(r.out, "f32"),
               std::string("axes = array<i64") + (*r.axes ? ": " : "") +
                   r.axes + ">, keepdims = " + (r.keep ? "true" : "false")),
            Opts().floats(0.5, 1.5));
  for (const char *n :
       {"reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_mean"})
    check(op(n, {tt("3x4", "i64")}, tt("3", "i64"),
             "axes = array<i64: 1>, keepdims = false"));
  check(op("reduce_sum", {tt("3x4", "i32")}, tt("3x4", "i32"),
           "axes = array<i64>, noop_with_empty_axes = true"));
}

TEST_F(LLVMBackendTest, ArgMaxTopKCumSum) {
  for (bool last : {false, true}) {
    std::string a =
        std::string("select_last_index = ") + (last ? "true" : "false");
    check(op("argmax", {tt("3x7x5", "f32")}, tt("3x1x5", "i64"),
             "axis = 1, " + a));
    check(op("argmax", {tt("4x9", "i64")}, tt("4", "i64"),
             "axis = -1, keepdims = false, " + a),
          Opts().ints(0, 3));
  }
  check(module({tt("3x11", "f32")},
               "  %r0, %r1 = kiln.topk %a0 {k = 4} : (tensor<3x11xf32>) -> "
               "(tensor<3x4xf32>, tensor<3x4xi64>)",
               {tt("3x4", "f32"), tt("3x4", "i64")}));
  for (bool largest : {true, false})
    check(module({tt("4x6x3", "i64")},
                 std::string("  %r0, %r1 = kiln.topk %a0 {k = 3, axis = 1, "
                             "largest = ") +
                     (largest ? "true" : "false") +
                     "} : (tensor<4x6x3xi64>) -> (tensor<4x3x3xi64>, "
                     "tensor<4x3x3xi64>)",
                 {tt("4x3x3", "i64"), tt("4x3x3", "i64")}),
          Opts().ints(0, 3));
  for (const char *attrs :
       {"axis = 1", "axis = 0, exclusive = true", "axis = -1, reverse = true",
        "axis = 1, exclusive = true, reverse = true"}) {
    check(op("cumsum", {tt("3x6", "f32")}, tt("3x6", "f32"), attrs));
    check(op("cumsum", {tt("3x6", "i32")}, tt("3x6", "i32"), attrs));
  }
}

TEST_F(LLVMBackendTest, LayerNorms) {
  check(op("layer_normalization",
           {tt("3x5x16", "f32"), tt("16", "f32"), tt("16", "f32")},
           tt("3x5x16", "f32"), "axis = -1, epsilon = 1.0e-05 : f32"));
  check(op("layer_normalization", {tt("3x5x6", "f32"), tt("1x6", "f32")},
           tt("3x5x6", "f32"), "axis = 1"));
  check(op("batch_normalization",
           {tt("2x3x5x4", "f32"), tt("3", "f32"), tt("3", "f32"),
            tt("3", "f32"), tt("3", "f32")},
           tt("2x3x5x4", "f32")),
        Opts().floats(0.1, 2));
  check(op("layer_norm", {tt("4x33", "f32"), tt("33", "f32"), tt("33", "f32")},
           tt("4x33", "f32")));
  check(op("layer_norm", {tt("2x3x20", "f32"), tt("20", "f32")},
           tt("2x3x20", "f32"), "rms = true, epsilon = 1.0e-06 : f32"));
  std::string skip =
      "  %r0, %r1 = kiln.skip_layer_norm %a0, %a1, %a2 beta(%a3) "
      "bias(%a4) : (tensor<2x5x24xf32>, tensor<5x24xf32>, "
      "tensor<24xf32>, tensor<24xf32>, tensor<24xf32>) -> "
      "(tensor<2x5x24xf32>, tensor<2x5x24xf32>)";
  check(module({tt("2x5x24", "f32"), tt("5x24", "f32"), tt("24", "f32"),
                tt("24", "f32"), tt("24", "f32")},
               skip, {tt("2x5x24", "f32"), tt("2x5x24", "f32")}));
  std::string skip2 =
      "  %r = kiln.skip_layer_norm %a0, %a1, %a2 {rms = true} : "
      "(tensor<3x10xf32>, tensor<3x10xf32>, tensor<10xf32>) -> "
      "tensor<3x10xf32>";
  check(module({tt("3x10", "f32"), tt("3x10", "f32"), tt("10", "f32")}, skip2,
               {tt("3x10", "f32")}));
}

TEST_F(LLVMBackendTest, Attention) {
  // bhsd, no mask.
  check(op("attention",
           {tt("2x3x5x8", "f32"), tt("2x3x7x8", "f32"), tt("2x3x7x6", "f32")},
           tt("2x3x5x6", "f32"), "scale = 0.35 : f32"));
  // bhsd, causal, k transposed, bool mask broadcast over heads and queries.
  check(op("attention",
           {tt("1x2x6x4", "f32"), tt("1x2x4x9", "f32"), tt("1x2x9x4", "f32"),
            tt("1x1x1x9", "i1")},
           tt("1x2x6x4", "f32"),
           "scale = 0.5 : f32, causal = true, k_transposed = true"));
  // bsd with heads split in the op, additive mask.
  check(op("attention",
           {tt("2x5x12", "f32"), tt("2x5x12", "f32"), tt("2x5x12", "f32"),
            tt("2x1x5x5", "f32")},
           tt("2x5x12", "f32"),
           "scale = 0.5 : f32, num_heads = 3, layout = \"bsd\""));
  // bsd, causal, more keys than queries.
  check(op(
      "attention", {tt("1x3x8", "f32"), tt("1x5x8", "f32"), tt("1x5x8", "f32")},
      tt("1x3x8", "f32"),
      "scale = 0.7 : f32, num_heads = 2, layout = \"bsd\", causal = true"));
}

//===----------------------------------------------------------------------===//
// API behaviour
//===----------------------------------------------------------------------===//

TEST_F(LLVMBackendTest, KeysAndSupport) {
  auto m = mlir::parseSourceString<mlir::ModuleOp>(
      module({tt("3x4", "f32"), tt("3x4", "f32"), tt("?x4", "f32"),
              tt("3x4", "f16")},
             "  %x = kiln.add %a0, %a1 : (tensor<3x4xf32>, tensor<3x4xf32>) -> "
             "tensor<3x4xf32>\n"
             "  %y = kiln.add %a1, %a0 : (tensor<3x4xf32>, tensor<3x4xf32>) -> "
             "tensor<3x4xf32>\n"
             "  %z = kiln.sub %a0, %a1 : (tensor<3x4xf32>, tensor<3x4xf32>) -> "
             "tensor<3x4xf32>\n"
             "  %d = kiln.add %a2, %a2 : (tensor<?x4xf32>, tensor<?x4xf32>) -> "
             "tensor<?x4xf32>\n"
             "  %h = kiln.add %a3, %a3 : (tensor<3x4xf16>, tensor<3x4xf16>) -> "
             "tensor<3x4xf16>\n"
             "  %r = kiln.add %x, %z : (tensor<3x4xf32>, tensor<3x4xf32>) -> "
             "tensor<3x4xf32>",
             {tt("3x4", "f32")}),
      &ctx);
  ASSERT_TRUE(m) << diagnostics;
  std::vector<mlir::Operation *> ops;
  m->walk([&](mlir::Operation *o) {
    if (o->getDialect() && o->getDialect()->getNamespace() == "kiln")
      ops.push_back(o);
  });
  ASSERT_EQ(ops.size(), 6u);
  EXPECT_EQ(llvmgen::kernelKey(ops[0]), llvmgen::kernelKey(ops[1]));
  EXPECT_NE(llvmgen::kernelKey(ops[0]), llvmgen::kernelKey(ops[2]));
  std::string why;
  EXPECT_FALSE(llvmgen::isSupported(ops[3], &why));
  EXPECT_NE(why.find("static"), std::string::npos) << why;
  EXPECT_TRUE(llvmgen::kernelKey(ops[3]).empty());
  EXPECT_FALSE(llvmgen::isSupported(ops[4], &why));
  EXPECT_NE(why.find("f16"), std::string::npos) << why;
  EXPECT_EQ(llvmgen::kernelArgCount(ops[0]), 3u);
  // Unsupported ops are a diagnostic, not a crash.
  diagnostics.clear();
  EXPECT_TRUE(llvm::failed(
      llvmgen::compileKernelToObject(ops[3], "k", dir + "/never.o")));
  EXPECT_NE(diagnostics.find("static shapes"), std::string::npos)
      << diagnostics;
}

TEST_F(LLVMBackendTest, OtherDTypes) {
  check(op("softmax", {tt("3x7", "f64")}, tt("3x7", "f64")),
        Opts().tolerance(1e-12));
  check(op("matmul", {tt("5x9", "f64"), tt("9x4", "f64")}, tt("5x4", "f64")),
        Opts().tolerance(1e-12));
  check(op("add", {tt("4x5", "i8"), tt("5", "i8")}, tt("4x5", "i8")),
        Opts().ints(-100, 100));
  check(op("cast", {tt("11", "f32")}, tt("11", "i8"), "to = i8"),
        Opts().floats(-300, 300));
  check(op("reduce_mean", {tt("3x4", "i32")}, tt("1x4", "i32"),
           "axes = array<i64: 0>"));
}

TEST_F(LLVMBackendTest, ZeroSized) {
  check(op("add", {tt("0x3", "f32"), tt("3", "f32")}, tt("0x3", "f32")));
  check(op("concat", {tt("2x0", "f32"), tt("2x3", "f32")}, tt("2x3", "f32"),
           "axis = 1"));
  check(op("reduce_sum", {tt("0x4", "f32")}, tt("4", "f32"),
           "axes = array<i64: 0>, keepdims = false"));
  check(op("matmul", {tt("3x0", "f32"), tt("0x2", "f32")}, tt("3x2", "f32")));
}

TEST_F(LLVMBackendTest, CompilesInParallel) {
  // Kernels compile in private contexts: two threads at once must work.
  auto m = mlir::parseSourceString<mlir::ModuleOp>(
      module(
          {tt("8x16", "f32"), tt("16x4", "f32")},
          "  %x = kiln.matmul %a0, %a1 : (tensor<8x16xf32>, tensor<16x4xf32>) "
          "-> tensor<8x4xf32>\n"
          "  %r = kiln.softmax %x : (tensor<8x4xf32>) -> tensor<8x4xf32>",
          {tt("8x4", "f32")}),
      &ctx);
  ASSERT_TRUE(m) << diagnostics;
  std::vector<mlir::Operation *> ops;
  m->walk([&](mlir::Operation *o) {
    if (mlir::isa<kiln::MatMulOp, kiln::SoftmaxOp>(o))
      ops.push_back(o);
  });
  ASSERT_EQ(ops.size(), 2u);
  bool ok[4] = {false, false, false, false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      std::string obj = dir + "/par" + std::to_string(i) + ".o";
      ok[i] = llvm::succeeded(llvmgen::compileKernelToObject(
          ops[i % 2], "par" + std::to_string(i), obj));
    });
  for (std::thread &t : threads)
    t.join();
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(ok[i]) << "thread " << i;
}

TEST_F(LLVMBackendTest, MoreShapes) {
  // Representative ops on sizes around and off the vector width.
  for (std::vector<int64_t> dims :
       {std::vector<int64_t>{1}, {17}, {3, 31}, {2, 3, 65}, {1, 16, 16}}) {
    std::string s, last = std::to_string(dims.back());
    for (size_t i = 0; i < dims.size(); ++i)
      s += (i ? "x" : "") + std::to_string(dims[i]);
    std::string f = tt(s, "f32");
    check(op("add", {f, tt(last, "f32")}, f));
    check(op("gelu", {f}, f));
    check(op("softmax", {f}, f));
    check(op("layer_norm", {f, tt(last, "f32"), tt(last, "f32")}, f));
    check(op("cumsum", {f}, f, "axis = -1, reverse = true"));
    std::string red;
    for (size_t i = 0; i + 1 < dims.size(); ++i)
      red += (i ? "x" : "") + std::to_string(dims[i]);
    check(op("reduce_sum", {f}, tt(red, "f32"),
             "axes = array<i64: -1>, keepdims = false"));
    check(op("argmax", {f}, tt(red, "i64"), "axis = -1, keepdims = false"));
    if (dims.size() >= 2) {
      std::string rev, perm;
      for (size_t i = 0; i < dims.size(); ++i) {
        rev += (i ? "x" : "") + std::to_string(dims[dims.size() - 1 - i]);
        perm += (i ? ", " : "") + std::to_string(dims.size() - 1 - i);
      }
      check(op("transpose", {f}, tt(rev, "f32"),
               "perm = array<i64: " + perm + ">"));
      check(op("trilu", {f}, f, "upper = false, k = 1"));
      check(op("matmul", {f, tt(last + "x7", "f32")}, tt(red + "x7", "f32")));
    }
  }
}

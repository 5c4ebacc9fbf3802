// A GoogleTest fixture with an MLIR context that knows the kiln dialect and
// collects diagnostics as text, shared by the tests that parse kiln IR.
#ifndef KILN_TESTS_UNIT_KILNIRTEST_H
#define KILN_TESTS_UNIT_KILNIRTEST_H

#include "kiln/IR/KilnDialect.h"
#include "kiln/IR/TensorConversion.h"
#include "kiln/Reference/Tensor.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>
#include <optional>
#include <string>

class KilnIRTest : public ::testing::Test {
protected:
  KilnIRTest() {
    mlir::DialectRegistry registry;
    registry.insert<kiln::KilnDialect, mlir::func::FuncDialect>();
    ctx.appendDialectRegistry(registry);
    ctx.loadAllAvailableDialects();
    handler.emplace(&ctx, [this](mlir::Diagnostic &d) {
      std::string s;
      llvm::raw_string_ostream os(s);
      os << d.getLocation() << ": " << d.str();
      diagnostics += s + "\n";
      return mlir::success();
    });
  }

  /// Replaces the arguments of `fn` numbered in `which` by kiln.constant ops
  /// holding `values[i]` (weights, as the importer would make them).
  void makeArgsConstant(mlir::func::FuncOp fn, llvm::ArrayRef<unsigned> which,
                        llvm::ArrayRef<kiln::ref::Tensor> values) {
    mlir::OpBuilder b(&ctx);
    b.setInsertionPointToStart(&fn.getBody().front());
    for (unsigned c : which) {
      mlir::BlockArgument a = fn.getArgument(c);
      auto cst = kiln::ConstantOp::create(b, fn.getLoc(), a.getType(),
                                          kiln::toElementsAttr(values[c], &ctx, "w"));
      a.replaceAllUsesWith(cst);
    }
  }

  mlir::MLIRContext ctx;
  std::optional<mlir::ScopedDiagnosticHandler> handler;
  std::string diagnostics; // every diagnostic emitted so far, one per line
};

#endif // KILN_TESTS_UNIT_KILNIRTEST_H

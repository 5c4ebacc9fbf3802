// Tuning in library builds: `--tune` and the tuning database (Tuner.cpp).
#ifndef KILN_CODEGEN_LIBRARY_TUNER_H
#define KILN_CODEGEN_LIBRARY_TUNER_H

#include "Program.h"

namespace kiln::library {

/// Reads the tuning database (warnings for unreadable ones), tunes the Halide
/// kernels first when opts.tune (saving the winners), and sets each Halide
/// kernel's params / autoscheduler from its entry for this target and thread
/// count. Fills report.tuning*, tunedKernels.
mlir::LogicalResult applyTuning(Program &prog, const LibraryOptions &opts,
                                LibraryReport &report, mlir::Location loc);

} // namespace kiln::library

#endif // KILN_CODEGEN_LIBRARY_TUNER_H

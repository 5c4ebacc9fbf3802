// The memory planner: places every intermediate buffer of a model in one
// arena so that buffers alive at the same time never overlap (greedy by size,
// best fit). Plain C++, no MLIR; the library emitter supplies live ranges.
#ifndef KILN_CODEGEN_LIBRARY_MEMORYPLANNER_H
#define KILN_CODEGEN_LIBRARY_MEMORYPLANNER_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::library {

/// A buffer's size and the steps during which it is alive: written by step
/// `first`, last read by step `last` (inclusive, first <= last). A buffer is
/// alive at both ends, so a step's outputs never share memory with its inputs.
struct BufferLife {
  uint64_t bytes = 0;
  int64_t first = 0;
  int64_t last = 0;
};

struct MemoryPlan {
  std::vector<uint64_t> offsets; // one per buffer, multiples of the alignment
  uint64_t arenaBytes = 0;       // the arena the plan needs
  uint64_t totalBytes = 0;       // sum of all buffers (aligned): no reuse
};

/// Places `buffers`: largest first, each at the lowest-waste gap among the
/// buffers already placed whose live ranges overlap its own, or past them.
/// Zero-byte buffers get offset 0 and take no space.
MemoryPlan planMemory(llvm::ArrayRef<BufferLife> buffers,
                      uint64_t alignment = 64);

/// Checks a plan: one offset per buffer, aligned, inside the arena, and no two
/// buffers that are alive at the same step overlap in memory. Returns the
/// first violation found, or "" when the plan is valid.
std::string verifyPlan(llvm::ArrayRef<BufferLife> buffers,
                       const MemoryPlan &plan, uint64_t alignment = 64);

} // namespace kiln::library

#endif // KILN_CODEGEN_LIBRARY_MEMORYPLANNER_H

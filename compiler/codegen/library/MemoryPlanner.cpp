// Greedy-by-size, best-fit placement of intermediate buffers in one arena.
#include "MemoryPlanner.h"

#include <algorithm>
#include <numeric>

namespace kiln::library {

static uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static bool liveTogether(const BufferLife &a, const BufferLife &b) {
  return a.first <= b.last && b.first <= a.last;
}

MemoryPlan planMemory(llvm::ArrayRef<BufferLife> buffers, uint64_t alignment) {
  MemoryPlan plan;
  plan.offsets.assign(buffers.size(), 0);
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), 0);
  // Largest first; among equal sizes, earlier first (deterministic).
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (buffers[a].bytes != buffers[b].bytes)
      return buffers[a].bytes > buffers[b].bytes;
    return buffers[a].first < buffers[b].first;
  });
  struct Placed {
    uint64_t begin, end;
  };
  std::vector<size_t> placed;
  std::vector<Placed> conflicts;
  for (size_t id : order) {
    const BufferLife &b = buffers[id];
    uint64_t size = alignUp(b.bytes, alignment);
    plan.totalBytes += size;
    if (size == 0)
      continue;
    conflicts.clear();
    for (size_t other : placed)
      if (liveTogether(b, buffers[other]))
        conflicts.push_back(
            {plan.offsets[other],
             plan.offsets[other] + alignUp(buffers[other].bytes, alignment)});
    std::sort(
        conflicts.begin(), conflicts.end(),
        [](const Placed &x, const Placed &y) { return x.begin < y.begin; });
    // Best fit: the smallest gap between conflicting buffers that holds it.
    uint64_t best = UINT64_MAX, bestGap = UINT64_MAX, cursor = 0;
    for (const Placed &c : conflicts) {
      if (c.begin > cursor && c.begin - cursor >= size &&
          c.begin - cursor < bestGap) {
        best = cursor;
        bestGap = c.begin - cursor;
      }
      cursor = std::max(cursor, c.end);
    }
    plan.offsets[id] = best != UINT64_MAX ? best : cursor;
    plan.arenaBytes = std::max(plan.arenaBytes, plan.offsets[id] + size);
    placed.push_back(id);
  }
  return plan;
}

std::string verifyPlan(llvm::ArrayRef<BufferLife> buffers,
                       const MemoryPlan &plan, uint64_t alignment) {
  if (plan.offsets.size() != buffers.size())
    return "the plan has " + std::to_string(plan.offsets.size()) +
           " offsets for " + std::to_string(buffers.size()) + " buffers";
  for (size_t i = 0; i < buffers.size(); ++i) {
    if (buffers[i].first > buffers[i].last)
      return "buffer " + std::to_string(i) + " has an empty live range";
    if (plan.offsets[i] % alignment != 0)
      return "buffer " + std::to_string(i) + " is not aligned";
    if (plan.offsets[i] + buffers[i].bytes > plan.arenaBytes)
      return "buffer " + std::to_string(i) + " ends past the arena";
  }
  for (size_t i = 0; i < buffers.size(); ++i)
    for (size_t j = i + 1; j < buffers.size(); ++j) {
      if (!buffers[i].bytes || !buffers[j].bytes ||
          !liveTogether(buffers[i], buffers[j]))
        continue;
      uint64_t a0 = plan.offsets[i], a1 = a0 + buffers[i].bytes;
      uint64_t b0 = plan.offsets[j], b1 = b0 + buffers[j].bytes;
      if (a0 < b1 && b0 < a1)
        return "buffers " + std::to_string(i) + " and " + std::to_string(j) +
               " are alive together and overlap";
    }
  return "";
}

} // namespace kiln::library

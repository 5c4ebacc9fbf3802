// Tests of the library memory planner on synthetic live ranges: no two live
// buffers overlap, reuse happens where it can, and the checker catches bad
// plans.
#include "MemoryPlanner.h"

#include <gtest/gtest.h>

#include <random>

using namespace kiln::library;

TEST(MemoryPlanner, ChainReusesMemory) {
  // a -> b -> c -> d: each buffer only lives with its neighbours.
  std::vector<BufferLife> bufs = {
      {1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}, {1000, 3, 4}};
  MemoryPlan plan = planMemory(bufs);
  EXPECT_EQ(verifyPlan(bufs, plan), "");
  EXPECT_EQ(plan.totalBytes, 4 * 1024u);
  EXPECT_EQ(plan.arenaBytes, 2 * 1024u); // two live at a time, 64-aligned
}

TEST(MemoryPlanner, AllLiveTogetherNeedsTheSum) {
  std::vector<BufferLife> bufs = {{100, 0, 5}, {200, 1, 5}, {300, 2, 5}};
  MemoryPlan plan = planMemory(bufs);
  EXPECT_EQ(verifyPlan(bufs, plan), "");
  EXPECT_EQ(plan.arenaBytes, 128u + 256u + 320u);
  EXPECT_EQ(plan.arenaBytes, plan.totalBytes);
}

TEST(MemoryPlanner, BestFitPicksTheSmallestGap) {
  // Long-lived A, Y, V leave two holes once the short-lived X and Z die:
  // 2048 bytes at 4096 and 512 bytes at 7168. W (256 bytes, steps 5-6) goes
  // to the smaller hole (first fit would take the larger one).
  std::vector<BufferLife> bufs = {
      {4096, 0, 10}, // A at 0
      {2048, 0, 1},  // X at 4096
      {1024, 0, 10}, // Y at 6144
      {512, 0, 1},   // Z at 7168
      {448, 0, 10},  // V at 7680
      {256, 5, 6},   // W
  };
  MemoryPlan plan = planMemory(bufs);
  EXPECT_EQ(verifyPlan(bufs, plan), "");
  EXPECT_EQ(plan.offsets[1], 4096u);
  EXPECT_EQ(plan.offsets[3], 7168u);
  EXPECT_EQ(plan.offsets[5], 7168u);
  EXPECT_EQ(plan.arenaBytes, 8128u);
}

TEST(MemoryPlanner, ZeroByteBuffersTakeNoSpace) {
  std::vector<BufferLife> bufs = {{0, 0, 3}, {64, 0, 3}, {0, 1, 2}};
  MemoryPlan plan = planMemory(bufs);
  EXPECT_EQ(verifyPlan(bufs, plan), "");
  EXPECT_EQ(plan.arenaBytes, 64u);
}

TEST(MemoryPlanner, AlignmentIsRespected) {
  std::vector<BufferLife> bufs = {{3, 0, 2}, {5, 1, 2}, {7, 2, 2}};
  MemoryPlan plan = planMemory(bufs, 64);
  EXPECT_EQ(verifyPlan(bufs, plan, 64), "");
  for (uint64_t off : plan.offsets)
    EXPECT_EQ(off % 64, 0u);
  EXPECT_EQ(plan.arenaBytes, 3 * 64u);
}

TEST(MemoryPlanner, RandomRangesNeverOverlap) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<BufferLife> bufs;
    int n = 1 + rng() % 60, steps = 1 + rng() % 40;
    for (int i = 0; i < n; ++i) {
      int64_t a = rng() % steps, b = a + rng() % (steps - a);
      bufs.push_back({1 + rng() % 100000, a, b});
    }
    MemoryPlan plan = planMemory(bufs);
    ASSERT_EQ(verifyPlan(bufs, plan), "") << "trial " << trial;
    EXPECT_LE(plan.arenaBytes, plan.totalBytes);
    // The arena is at least the largest set of buffers alive at one step.
    uint64_t peak = 0;
    for (int s = 0; s < steps; ++s) {
      uint64_t live = 0;
      for (const BufferLife &b : bufs)
        if (b.first <= s && s <= b.last)
          live += (b.bytes + 63) / 64 * 64;
      peak = std::max(peak, live);
    }
    EXPECT_GE(plan.arenaBytes, peak);
  }
}

TEST(MemoryPlanner, VerifierCatchesOverlaps) {
  std::vector<BufferLife> bufs = {{128, 0, 2}, {128, 1, 3}};
  MemoryPlan bad;
  bad.offsets = {0, 64}; // both alive at steps 1-2 and overlapping
  bad.arenaBytes = 192;
  EXPECT_NE(verifyPlan(bufs, bad).find("overlap"), std::string::npos);
  bad.offsets = {0, 32};
  EXPECT_NE(verifyPlan(bufs, bad).find("aligned"), std::string::npos);
  bad.offsets = {0, 128};
  bad.arenaBytes = 200;
  EXPECT_NE(verifyPlan(bufs, bad).find("past the arena"), std::string::npos);
  // Disjoint lifetimes may share memory.
  std::vector<BufferLife> apart = {{128, 0, 1}, {128, 2, 3}};
  MemoryPlan shared;
  shared.offsets = {0, 0};
  shared.arenaBytes = 128;
  EXPECT_EQ(verifyPlan(apart, shared), "");
}

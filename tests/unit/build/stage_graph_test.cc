// Stage dependencies: order, waves of independent stages, --target pruning, cycles.
#include <gtest/gtest.h>

#include "build/stage_graph.h"

namespace berth::build {
namespace {

StageGraph G(const std::string& text, std::string_view target = "",
             std::map<std::string, std::string> args = {}) {
  ResolveOptions o;
  o.build_args = std::move(args);
  return BuildStageGraph(Resolve(ParseDockerfile(text), o), target);
}

std::vector<int> Deps(const StageGraph& g, int s) {
  std::vector<int> out;
  for (const StageEdge& e : g.deps[static_cast<size_t>(s)]) out.push_back(e.to);
  return out;
}

using V = std::vector<int>;
using W = std::vector<std::vector<int>>;

TEST(StageGraph, SingleStage) {
  StageGraph g = G("FROM a\nRUN x\n");
  EXPECT_EQ(g.target, 0);
  EXPECT_EQ(g.order, V{0});
  EXPECT_EQ(g.waves, W{{0}});
}

TEST(StageGraph, FromCopyAndMountEdges) {
  StageGraph g =
      G("FROM a AS base\nFROM base AS deps\nFROM a AS tools\n"
        "FROM a AS final\nCOPY --from=deps /x /x\nRUN --mount=type=bind,from=tools,target=/t y\n"
        "COPY --from=0 /b /b\nCOPY --from=busybox:1 /bin/sh /sh\n");
  EXPECT_EQ(Deps(g, 1), V{0});
  EXPECT_EQ(Deps(g, 3), (V{0, 1, 2}));
  EXPECT_EQ(g.external_images[3], std::vector<std::string>{"busybox:1"});
  EXPECT_EQ(g.target, 3);
  EXPECT_EQ(g.order, (V{0, 1, 2, 3}));
  // base and tools need nothing: they build side by side; deps waits for base.
  EXPECT_EQ(g.waves, (W{{0, 2}, {1}, {3}}));
  EXPECT_EQ(g.deps[3][0].via, "COPY --from");
  EXPECT_EQ(g.deps[3][0].pos, (Position{7, 6}));
}

TEST(StageGraph, TargetPrunes) {
  const char* df =
      "FROM a AS base\nRUN 1\nFROM base AS test\nRUN 2\nFROM a AS docs\nRUN 3\n"
      "FROM base AS release\nCOPY --from=docs / /\n";
  StageGraph g = G(df, "test");
  EXPECT_EQ(g.target, 1);
  EXPECT_EQ(g.order, (V{0, 1}));
  EXPECT_TRUE(g.Needed(0));
  EXPECT_FALSE(g.Needed(2));
  EXPECT_FALSE(g.Needed(3));
  g = G(df, "RELEASE");
  EXPECT_EQ(g.order, (V{0, 2, 3}));
  EXPECT_EQ(g.waves, (W{{0, 2}, {3}}));
  g = G(df, "2");
  EXPECT_EQ(g.order, V{2});
  g = G(df);
  EXPECT_EQ(g.target, 3);
}

TEST(StageGraph, UnknownTarget) {
  try {
    G("FROM a AS x\n", "y");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "target stage \"y\" could not be found in Dockerfile");
  }
}

TEST(StageGraph, ForwardReferenceIsFine) {
  // COPY --from may name a later stage as long as there is no cycle.
  StageGraph g = G("FROM a AS one\nCOPY --from=two /x /x\nFROM a AS two\nRUN y\n", "one");
  EXPECT_EQ(g.order, (V{1, 0}));
  EXPECT_EQ(g.waves, (W{{1}, {0}}));
}

TEST(StageGraph, VariableInFrom) {
  StageGraph g = G("FROM a AS builder\nFROM a\nARG SRC=builder\nCOPY --from=$SRC /x /x\n");
  EXPECT_EQ(Deps(g, 1), V{0});
}

struct CycleCase {
  const char* text;
  const char* want;
};

// The position is the edge that closes the cycle, walking from the target.
class Cycles : public ::testing::TestWithParam<CycleCase> {};

TEST_P(Cycles, Named) {
  try {
    G(GetParam().text);
    FAIL() << GetParam().text;
  } catch (const SyntaxError& e) {
    EXPECT_STREQ(e.what(), GetParam().want);
  }
}

// clang-format off
const CycleCase kCycles[] = {
  {"FROM a AS x\nCOPY --from=x /a /a\n", "Dockerfile:2:6: circular dependency between stages: x -> x"},
  {"FROM a\nCOPY --from=0 /a /a\n", "Dockerfile:2:6: circular dependency between stages: stage 0 -> stage 0"},
  {"FROM a AS one\nCOPY --from=two /a /a\nFROM a AS two\nCOPY --from=one /b /b\n",
   "Dockerfile:2:6: circular dependency between stages: two -> one -> two"},
  {"FROM a AS p\nRUN --mount=from=r,target=/r x\nFROM a AS q\nCOPY --from=p / /\nFROM a AS r\nCOPY --from=q / /\n",
   "Dockerfile:2:5: circular dependency between stages: r -> q -> p -> r"},
  {"FROM a AS p\nCOPY --from=q / /\nFROM p AS q\n", "Dockerfile:2:6: circular dependency between stages: q -> p -> q"},
  {"FROM a\nCOPY --from=5 /a /a\n", "Dockerfile:2:6: COPY --from=5: there is no stage 5 (1 stages)"},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Table, Cycles, ::testing::ValuesIn(kCycles));

}  // namespace
}  // namespace berth::build

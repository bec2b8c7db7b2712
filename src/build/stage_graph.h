#pragma once

#include <optional>
#include <string>
#include <vector>

#include "build/resolve.h"

// Which stage needs which: FROM <stage>, COPY --from=<stage|index>, RUN --mount=from=<stage>.
// Dependency order, cycles (an error naming the cycle), --target pruning and the stages that
// can be built side by side.

namespace berth::build {

struct StageEdge {
  int to = 0;       // the stage depended on
  Position pos;     // the instruction that makes the dependency
  std::string via;  // "FROM", "COPY --from", "RUN --mount from"
};

struct StageGraph {
  // Per stage: the stages it needs (sorted, unique by `to`).
  std::vector<std::vector<StageEdge>> deps;
  // Per stage: images named by COPY --from / --mount from that are not stages.
  std::vector<std::vector<std::string>> external_images;
  int target = 0;
  // The stages the target needs (it included), dependencies first; unneeded stages pruned.
  std::vector<int> order;
  // `order` in waves: every stage of a wave depends only on earlier waves, so the stages of
  // one wave can be built in parallel.
  std::vector<std::vector<int>> waves;

  bool Needed(int stage) const;
};

// Builds the graph of `build` for `target` (a stage name or index; "" is the last stage).
// Throws SyntaxError for an unknown target, a --from index out of range or a cycle
// ("circular dependency between stages: a -> b -> a").
StageGraph BuildStageGraph(const ResolvedBuild& build, std::string_view target = "");

}  // namespace berth::build

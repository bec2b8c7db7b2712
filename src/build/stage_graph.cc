#include "build/stage_graph.h"

#include <algorithm>
#include <cctype>

namespace berth::build {
namespace {

std::string StageLabel(const ResolvedBuild& b, int i) {
  const ResolvedStage& s = b.stages[static_cast<size_t>(i)];
  return s.name.empty() ? "stage " + std::to_string(i) : s.name;
}

bool IsIndex(std::string_view s) {
  return !s.empty() && s.size() < 9 && std::all_of(s.begin(), s.end(), ::isdigit);
}

void AddRef(const ResolvedBuild& b, StageGraph& g, int from, const std::string& ref, Position pos,
            const std::string& via) {
  if (ref.empty()) return;
  std::optional<int> to = b.FindStage(ref);
  if (IsIndex(ref) && !to) {
    throw SyntaxError(b.file, pos,
                      via + "=" + ref + ": there is no stage " + ref + " (" +
                          std::to_string(b.stages.size()) + " stages)");
  }
  if (!to) {
    auto& ext = g.external_images[static_cast<size_t>(from)];
    if (std::find(ext.begin(), ext.end(), ref) == ext.end()) ext.push_back(ref);
    return;
  }
  auto& deps = g.deps[static_cast<size_t>(from)];
  for (const StageEdge& e : deps) {
    if (e.to == *to) return;
  }
  deps.push_back({*to, pos, via});
}

}  // namespace

bool StageGraph::Needed(int stage) const {
  return std::find(order.begin(), order.end(), stage) != order.end();
}

StageGraph BuildStageGraph(const ResolvedBuild& b, std::string_view target) {
  StageGraph g;
  size_t n = b.stages.size();
  g.deps.resize(n);
  g.external_images.resize(n);
  for (const ResolvedStage& s : b.stages) {
    if (s.base_stage) {
      AddRef(b, g, s.index, std::to_string(*s.base_stage), s.pos, "FROM");
    }
    for (const ResolvedStep& step : s.steps) {
      const Instruction& inst = step.inst;
      if (inst.command == Command::kCopy) {
        if (const Flag* f = inst.FindFlag("from")) {
          AddRef(b, g, s.index, f->value, f->pos, "COPY --from");
        }
      } else if (inst.command == Command::kRun) {
        for (const Mount& m : inst.mounts) {
          AddRef(b, g, s.index, m.from, m.pos, "RUN --mount from");
        }
      } else if (inst.command == Command::kOnbuild) {
        // Triggers run in the images built FROM this one, not here.
      }
    }
    std::sort(g.deps[s.index].begin(), g.deps[s.index].end(),
              [](const StageEdge& x, const StageEdge& y) { return x.to < y.to; });
  }
  if (n == 0) return g;

  if (target.empty()) {
    g.target = static_cast<int>(n) - 1;
  } else {
    std::optional<int> t = b.FindStage(target);
    if (!t) {
      throw Error(Kind::kInvalidArgument,
                  "target stage \"" + std::string(target) + "\" could not be found in " + b.file);
    }
    g.target = *t;
  }

  // Depth-first from the target: post-order is a dependency order; a grey node met again
  // closes a cycle.
  std::vector<int> color(n, 0);  // 0 white, 1 grey, 2 black
  std::vector<int> path;
  std::vector<int> depth(n, 0);
  struct Frame {
    int node;
    size_t next;
  };
  std::vector<Frame> stack{{g.target, 0}};
  color[static_cast<size_t>(g.target)] = 1;
  path.push_back(g.target);
  while (!stack.empty()) {
    Frame& f = stack.back();
    const auto& deps = g.deps[static_cast<size_t>(f.node)];
    if (f.next < deps.size()) {
      const StageEdge& e = deps[f.next++];
      int c = color[static_cast<size_t>(e.to)];
      if (c == 1) {
        auto start = std::find(path.begin(), path.end(), e.to);
        std::string cycle;
        for (auto it = start; it != path.end(); ++it) cycle += StageLabel(b, *it) + " -> ";
        cycle += StageLabel(b, e.to);
        throw SyntaxError(b.file, e.pos, "circular dependency between stages: " + cycle);
      }
      if (c == 0) {
        color[static_cast<size_t>(e.to)] = 1;
        path.push_back(e.to);
        stack.push_back({e.to, 0});
      }
      continue;
    }
    int node = f.node;
    int d = 0;
    for (const StageEdge& e : deps) d = std::max(d, depth[static_cast<size_t>(e.to)] + 1);
    depth[static_cast<size_t>(node)] = d;
    color[static_cast<size_t>(node)] = 2;
    g.order.push_back(node);
    path.pop_back();
    stack.pop_back();
  }
  int max_depth = 0;
  for (int s : g.order) max_depth = std::max(max_depth, depth[static_cast<size_t>(s)]);
  g.waves.resize(static_cast<size_t>(max_depth) + 1);
  std::vector<int> sorted = g.order;
  std::sort(sorted.begin(), sorted.end());
  for (int s : sorted) g.waves[static_cast<size_t>(depth[static_cast<size_t>(s)])].push_back(s);
  return g;
}

}  // namespace berth::build

// Dockerfiles come from users (and, through POST /build, from any API client): parse,
// substitute and build the stage graph, or refuse with berth::Error. The same bytes also go
// through the shell lexer and, as a .dockerignore, through the pattern matcher.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/error.h"
#include "build/cache_key.h"
#include "build/dockerfile.h"
#include "build/dockerignore.h"
#include "build/resolve.h"
#include "build/shell_lex.h"
#include "build/stage_graph.h"

namespace {

void CheckPosition(const berth::build::Position& p, int lines) {
  if (p.line < 1 || p.line > lines + 1 || p.column < 1) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  int lines = 1;
  for (char c : text) lines += c == '\n';
  using namespace berth::build;

  try {
    Dockerfile df = ParseDockerfile(text);
    for (const Stage& st : df.stages) {
      CheckPosition(st.from.pos, lines);
      for (const Instruction& in : st.commands) {
        CheckPosition(in.pos, lines);
        for (const Flag& f : in.flags) CheckPosition(f.pos, lines);
      }
    }
    ResolveOptions opts;
    opts.build_args = {{"A", "1"}, {"HTTP_PROXY", "p"}};
    ResolvedBuild b = Resolve(df, opts);
    std::string parent = "parent";
    for (const ResolvedStage& st : b.stages) {
      for (const ResolvedStep& step : st.steps) {
        if (step.inst.command == Command::kRun) {
          (void)step.Env();  // what an executor asks for each RUN
          parent = StepCacheKey(parent, step, "");
        }
      }
    }
    for (size_t i = 0; i < b.stages.size(); i += 1 + b.stages.size() / 8) {
      const ResolvedStage& st = b.stages[i];
      StageGraph g = BuildStageGraph(b, st.name.empty() ? std::to_string(st.index) : st.name);
      if (g.order.empty() || g.order.back() != st.index) abort();
    }
  } catch (const berth::build::SyntaxError& e) {
    CheckPosition(e.position(), lines);
  } catch (const berth::Error&) {
  }

  // `commit --change` / `import --change` lines come from API clients.
  try {
    std::string_view first = text.substr(0, text.find('\n'));
    (void)ParseInstruction(first);
  } catch (const berth::Error&) {
  }

  try {
    ShellLex lex(size > 0 && data[0] == '`' ? '`' : '\\');
    Lookup env = [](std::string_view n) -> std::optional<std::string> {
      if (n == "A") return "a b";
      return std::nullopt;
    };
    (void)lex.ProcessWord(text, env);
    (void)lex.ProcessWords(text, env);
    (void)lex.ProcessHeredoc(text, env);
  } catch (const berth::Error&) {
  }

  try {
    IgnoreMatcher m(ParseDockerignore(text));
    (void)m.Excluded("a/b/c.txt");
    (void)m.Excluded("Dockerfile");
    (void)m.MayReinclude("a");
    // Patterns and paths are short in practice (the matcher's memo is their product).
    std::string_view head = text.substr(0, std::min<size_t>(size, 512));
    size_t half = head.size() / 2;
    (void)PatternMatch(head.substr(0, half), head.substr(half));
  } catch (const berth::Error&) {
  }
  return 0;
}

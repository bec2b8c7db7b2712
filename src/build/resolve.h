#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "build/dockerfile.h"

// What the Dockerfile means once variables are known: each stage's base, each instruction
// with its variables substituted (for the instructions Docker substitutes in), the
// environment and the build args in scope at every step, and the warnings (UndefinedVar).

namespace berth::build {

struct Platform {
  std::string os = "linux";
  std::string arch = "amd64";
  std::string variant;
  std::string String() const { return os + "/" + arch + (variant.empty() ? "" : "/" + variant); }
};

// The platform berth runs on (linux and the machine's architecture in OCI names).
Platform HostPlatform();

struct ResolveOptions {
  std::map<std::string, std::string> build_args;  // --build-arg
  Platform target = HostPlatform();
  Platform build = HostPlatform();
  // The Env ("KEY=VALUE") of an image a stage starts from; nullptr or nullopt: none known.
  std::function<std::optional<std::vector<std::string>>(const std::string& image)> image_env;
};

// What ENV and ARG assigned in a stage, in order (the base's environment first); each step
// names how much of it was in effect after it, so a stage holds its environment once, not
// once per step.
struct StageLog {
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::pair<std::string, std::string>> args;
};

struct ResolvedStep {
  Instruction inst;  // args, pairs, flag and mount values substituted where Docker does
  std::shared_ptr<const StageLog> log;
  size_t env_len = 0;
  size_t args_len = 0;
  std::shared_ptr<const std::string> workdir;
  std::shared_ptr<const std::vector<std::string>> shell;

  // The stage's environment after this step (ENV), "KEY=VALUE" in definition order.
  std::vector<std::string> Env() const;
  // Build args declared in the stage so far with their values; what a RUN step sees in its
  // environment besides Env(), and what its cache key includes.
  std::map<std::string, std::string> Args() const;
  const std::string& Workdir() const { return *workdir; }           // after this step
  const std::vector<std::string>& Shell() const { return *shell; }  // after this step
};

struct ResolvedStage {
  int index = 0;
  std::string name;
  Position pos;
  std::string base;               // the image or stage name FROM names, substituted
  std::optional<int> base_stage;  // when `base` names a stage
  std::string platform;           // --platform, substituted ("" when absent)
  std::vector<ResolvedStep> steps;
};

struct ResolvedBuild {
  std::string file;
  char escape = '\\';
  std::vector<ResolvedStage> stages;
  std::vector<Diagnostic> warnings;
  std::vector<std::string> unused_build_args;  // --build-arg values no ARG consumed
  // The stage a name or index refers to ("0", "builder"), case-insensitively.
  std::optional<int> FindStage(std::string_view ref) const;
};

// The proxy args usable without ARG (passed to RUN, never substituted in the Dockerfile).
const std::vector<std::string>& PredefinedProxyArgs();

// Substitutes `df` under `opts`. Throws SyntaxError on a substitution error (an unterminated
// quote, ${v:?msg} with v unset, a bad EXPOSE port...), and on the first warning when the
// Dockerfile says `# check=error=true`.
ResolvedBuild Resolve(const Dockerfile& df, const ResolveOptions& opts = {});

}  // namespace berth::build

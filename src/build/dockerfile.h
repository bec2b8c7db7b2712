#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/error.h"

// The Dockerfile as written: directives, instructions with their flags and arguments, each
// with its line and column (1-based, columns count bytes). Nothing is substituted here; see
// resolve.h for what variables expand to.

namespace berth::build {

struct Position {
  int line = 0;
  int column = 0;
  bool operator==(const Position&) const = default;
};

// A syntax or semantic error in a Dockerfile: what() reads "Dockerfile:12:5: message".
class SyntaxError : public Error {
 public:
  SyntaxError(const std::string& file, Position pos, const std::string& message);
  Position position() const { return pos_; }
  const std::string& message() const { return message_; }

 private:
  Position pos_;
  std::string message_;
};

// A warning (BuildKit's lint rules where one exists: UndefinedVar, NoEmptyContinuation...).
struct Diagnostic {
  std::string rule;
  Position pos;
  std::string message;
  std::string String(const std::string& file) const;  // "Dockerfile:3:1: UndefinedVar: ..."
};

enum class Command {
  kFrom,
  kRun,
  kCmd,
  kLabel,
  kExpose,
  kEnv,
  kAdd,
  kCopy,
  kEntrypoint,
  kVolume,
  kUser,
  kWorkdir,
  kArg,
  kOnbuild,
  kStopsignal,
  kHealthcheck,
  kShell,
  kMaintainer,
};
std::string_view CommandName(Command c);  // "FROM", "RUN", ...

struct Flag {
  std::string name;   // without "--"
  std::string value;  // quotes removed; "" when has_value is false
  bool has_value = false;
  Position pos;
};

struct Heredoc {
  std::string name;     // the delimiter, quotes removed
  std::string content;  // the body, each line ending in '\n'; tabs stripped for <<-
  bool expand = true;   // false when the delimiter was quoted
  bool chomp = false;   // <<-
  int fd = -1;          // "3<<EOF" gives 3
  Position pos;         // of the "<<"
};

struct KeyValue {
  std::string key;    // raw, as written (quotes kept: resolve removes them)
  std::string value;  // raw
  bool has_value = false;
  Position pos;
};

enum class MountType { kBind, kCache, kTmpfs, kSecret, kSsh };
enum class Sharing { kShared, kPrivate, kLocked };

// RUN --mount=..., validated; values are raw (resolve.h expands them).
struct Mount {
  MountType type = MountType::kBind;
  std::string target, source, from, id, env;
  bool readonly = false;  // bind mounts default to read-only, others to read-write
  Sharing sharing = Sharing::kShared;
  std::optional<uint32_t> mode, uid, gid;
  std::optional<uint64_t> size;  // tmpfs, bytes
  bool required = false;
  Position pos;
};

struct Healthcheck {
  bool none = false;
  std::vector<std::string> test;  // {"CMD", args...} or {"CMD-SHELL", command}
  int64_t interval_ns = 0, timeout_ns = 0, start_period_ns = 0, start_interval_ns = 0;
  int retries = 0;
};

struct Instruction {
  Command command = Command::kRun;
  std::string keyword;  // as written ("run")
  Position pos;         // of the keyword
  std::string text;     // the logical line, continuations joined, flags included
  std::vector<Flag> flags;
  std::string rest;  // the arguments after the flags, raw
  Position rest_pos;

  // Exec (JSON) form for RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK CMD/VOLUME/COPY/ADD.
  bool json = false;
  // The arguments as a list: JSON elements, or words split at whitespace for FROM, EXPOSE,
  // VOLUME, COPY, ADD; the single shell command for RUN/CMD/ENTRYPOINT shell form; the
  // whole string for USER, WORKDIR, STOPSIGNAL, MAINTAINER.
  std::vector<std::string> args;
  std::vector<Position> arg_pos;  // one per arg where known
  std::vector<KeyValue> pairs;    // ENV, LABEL, ARG
  std::vector<Heredoc> heredocs;  // RUN, COPY, ADD

  // FROM
  std::string image;       // raw
  std::string stage_name;  // lowercased, "" without AS
  // RUN
  std::vector<Mount> mounts;
  std::string network;   // "", "none", "default", "host"
  std::string security;  // "", "sandbox", "insecure"
  // HEALTHCHECK
  Healthcheck health;
  // ONBUILD: the trigger (exactly one element)
  std::vector<Instruction> trigger;

  // The value of flag `name`, if given (the last one for repeatable flags).
  const Flag* FindFlag(std::string_view name) const;
  std::vector<std::string> FlagValues(std::string_view name) const;
};

struct CheckDirective {
  std::set<std::string> skip;  // rule names, or "all"
  bool error = false;
};

struct Directives {
  std::string syntax;
  char escape = '\\';
  std::string check_raw;
  CheckDirective check;
};

struct Stage {
  int index = 0;
  std::string name;  // lowercased, "" when unnamed
  Instruction from;
  std::vector<Instruction> commands;
};

struct Dockerfile {
  std::string file = "Dockerfile";
  Directives directives;
  std::vector<Instruction> global_args;  // ARG instructions before the first FROM
  std::vector<Stage> stages;
  std::vector<Diagnostic> warnings;
};

// Parses `text`. `file` names it in errors. Throws SyntaxError.
Dockerfile ParseDockerfile(std::string_view text, const std::string& file = "Dockerfile");

// Parses one instruction line on its own (no heredocs), as `commit --change` and
// `import --change` take them. Throws SyntaxError with line 1.
Instruction ParseInstruction(std::string_view line, char escape = '\\',
                             const std::string& file = "change");

// Parses a Go duration ("1m30s", "1.5h", "300ms"); nullopt when malformed.
std::optional<int64_t> ParseGoDuration(std::string_view s);

}  // namespace berth::build

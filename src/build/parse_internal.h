#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "build/dockerfile.h"

// Shared between parser.cc (lines, directives, heredocs) and instructions.cc (arguments).

namespace berth::build::internal {

// A logical line: its text and the source position of every byte (continuations joined).
struct Line {
  std::string text;
  std::vector<Position> pos;  // pos.size() == text.size()
  Position end;               // where the line ends (for errors at the end)

  Position At(size_t i) const { return i < pos.size() ? pos[i] : end; }
};

struct Context {
  std::string file;
  char escape = '\\';
};

[[noreturn]] void Fail(const Context& ctx, Position pos, const std::string& message);

// Parses the instruction in `line` (leading whitespace allowed). Heredoc bodies are attached
// by the caller; this only finds the markers.
Instruction ParseLine(const Context& ctx, const Line& line);

// The heredoc markers in the arguments of a RUN/COPY/ADD line, in order, bodies empty.
std::vector<Heredoc> FindHeredocs(const Context& ctx, const Line& line, size_t args_begin);

bool IsSpace(char c);

std::string Lower(std::string_view s);
std::string Upper(std::string_view s);
size_t SkipSpace(const std::string& s, size_t i);
std::optional<bool> ParseBool(std::string_view v);  // true/false/1/0/t/f, any case
std::optional<uint64_t> ParseUnsigned(std::string_view s, int base);

// The JSON (exec) form: an array of strings; nullopt when `rest` is not a JSON array (the
// shell form then). A JSON array of anything but strings is an error, as in BuildKit.
std::optional<std::vector<std::string>> JsonForm(const Context& ctx, const std::string& rest,
                                                 Position pos);

// RUN --mount=VALUE, validated (options.cc).
Mount ParseMount(const Context& ctx, const Flag& flag);

// HEALTHCHECK's arguments from byte `i` of `line` and its flags (options.cc).
void ParseHealthcheck(const Context& ctx, const Line& line, size_t i, Instruction& inst);

// Edit distance with adjacent transpositions counted once ("FORM" is 1 from "FROM").
size_t EditDistance(std::string_view a, std::string_view b);

}  // namespace berth::build::internal

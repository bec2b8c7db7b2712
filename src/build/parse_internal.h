#pragma once

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

// Edit distance with adjacent transpositions counted once ("FORM" is 1 from "FROM").
size_t EditDistance(std::string_view a, std::string_view b);

}  // namespace berth::build::internal

#pragma once

// The parse tree of cli/go_template.h, shared by the parser and the executor. Modelled on Go's
// text/template/parse nodes; positions are byte offsets into the template text.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cli/go_template.h"

namespace berth::cli::internal {

constexpr int kMaxDepth = 100;

struct Pipe;

struct Operand {
  enum class Kind { kDot, kNil, kBool, kNumber, kString, kField, kVariable, kFunction, kPipe };
  Kind kind;
  size_t pos = 0;
  std::string text;  // the source text of a literal, a function's or a variable's name
  std::string str;   // kString: the unquoted value
  bool boolean = false;
  // kNumber: Go's ideal constant. A number with '.', 'e' or 'p' (not hex int) is a float.
  bool is_float = false;
  int64_t integer = 0;
  double floating = 0;
  std::vector<std::string> fields;  // kField: .A.B; kVariable: $x.A; kPipe: (...).A
  std::shared_ptr<Pipe> pipe;       // kPipe
};

struct Command {
  size_t pos = 0;
  std::vector<Operand> args;
};

struct Pipe {
  size_t pos = 0;
  bool is_assign = false;
  std::vector<std::string> decl;
  std::vector<Command> cmds;
};

struct Node {
  enum class Kind { kText, kAction, kIf, kRange, kWith, kBreak, kContinue };
  Kind kind;
  size_t pos = 0;
  std::string text;  // kText
  std::shared_ptr<Pipe> pipe;
  std::vector<Node> list;
  std::vector<Node> else_list;
};

std::string PipeString(const Pipe& pipe);
std::string CommandString(const Command& cmd);
std::string OperandString(const Operand& op);

}  // namespace berth::cli::internal

namespace berth::cli {

struct Template::Tree {
  std::string text;
  std::vector<internal::Node> root;
};

}  // namespace berth::cli

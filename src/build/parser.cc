#include "build/dockerfile.h"

#include <algorithm>
#include <cctype>

#include "build/parse_internal.h"

namespace berth::build {

using internal::Context;
using internal::Fail;
using internal::Line;

SyntaxError::SyntaxError(const std::string& file, Position pos, const std::string& message)
    : Error(Kind::kInvalidArgument, file + ":" + std::to_string(pos.line) + ":" +
                                        std::to_string(pos.column) + ": " + message),
      pos_(pos),
      message_(message) {}

std::string Diagnostic::String(const std::string& file) const {
  return file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": " + rule +
         ": " + message;
}

const Flag* Instruction::FindFlag(std::string_view name) const {
  const Flag* found = nullptr;
  for (const Flag& f : flags) {
    if (f.name == name) found = &f;
  }
  return found;
}

std::vector<std::string> Instruction::FlagValues(std::string_view name) const {
  std::vector<std::string> out;
  for (const Flag& f : flags) {
    if (f.name == name) out.push_back(f.value);
  }
  return out;
}

namespace internal {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

void Fail(const Context& ctx, Position pos, const std::string& message) {
  throw SyntaxError(ctx.file, pos, message);
}

}  // namespace internal

namespace {

struct PhysicalLine {
  std::string_view text;  // without the newline (and a trailing '\r')
  int number;
};

std::vector<PhysicalLine> SplitLines(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") {
    text.remove_prefix(3);
  }
  std::vector<PhysicalLine> lines;
  int n = 1;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view l = text.substr(0, nl);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    lines.push_back({l, n++});
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

size_t FirstNonSpace(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && internal::IsSpace(s[i])) ++i;
  return i;
}

bool IsBlank(std::string_view s) { return FirstNonSpace(s) == s.size(); }
bool IsComment(std::string_view s) {
  size_t i = FirstNonSpace(s);
  return i < s.size() && s[i] == '#';
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "# key = value" at the top of the file; nullopt when the line is not of that form.
std::optional<std::pair<std::string, std::string>> Directive(std::string_view l) {
  if (l.empty() || l[0] != '#') return std::nullopt;
  size_t i = 1;
  while (i < l.size() && internal::IsSpace(l[i])) ++i;
  size_t k = i;
  if (k >= l.size() || !std::isalpha(static_cast<unsigned char>(l[k]))) return std::nullopt;
  while (i < l.size() && std::isalnum(static_cast<unsigned char>(l[i]))) ++i;
  std::string key = Lower(l.substr(k, i - k));
  while (i < l.size() && internal::IsSpace(l[i])) ++i;
  if (i >= l.size() || l[i] != '=') return std::nullopt;
  ++i;
  while (i < l.size() && internal::IsSpace(l[i])) ++i;
  std::string_view value = l.substr(i);
  while (!value.empty() && internal::IsSpace(value.back())) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  return std::make_pair(key, std::string(value));
}

CheckDirective ParseCheck(const Context& ctx, Position pos, const std::string& raw) {
  CheckDirective check;
  size_t start = 0;
  while (start <= raw.size()) {
    size_t semi = raw.find(';', start);
    std::string part =
        raw.substr(start, semi == std::string::npos ? std::string::npos : semi - start);
    start = semi == std::string::npos ? raw.size() + 1 : semi + 1;
    size_t b = FirstNonSpace(part);
    part = part.substr(b);
    while (!part.empty() && internal::IsSpace(part.back())) part.pop_back();
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string::npos) {
      Fail(ctx, pos, "invalid check directive \"" + part + "\": want skip=RULE,... or error=BOOL");
    }
    std::string key = Lower(part.substr(0, eq));
    std::string value = part.substr(eq + 1);
    if (key == "skip") {
      size_t s = 0;
      while (s <= value.size()) {
        size_t comma = value.find(',', s);
        std::string rule =
            value.substr(s, comma == std::string::npos ? std::string::npos : comma - s);
        s = comma == std::string::npos ? value.size() + 1 : comma + 1;
        if (!rule.empty()) check.skip.insert(Lower(rule) == "all" ? "all" : rule);
      }
    } else if (key == "error") {
      std::string v = Lower(value);
      if (v != "true" && v != "false") {
        Fail(ctx, pos,
             "invalid check directive: error must be true or false, not \"" + value + "\"");
      }
      check.error = v == "true";
    } else {
      Fail(ctx, pos, "invalid check directive: unknown key \"" + key + "\"");
    }
  }
  return check;
}

// Removes the escape character (and trailing blanks after it) that ends `l`; true if it did.
// An escaped escape character ("echo \\\\") is not a continuation, as in BuildKit.
bool TrimContinuation(std::string_view& l, char escape) {
  size_t e = l.size();
  while (e > 0 && (l[e - 1] == ' ' || l[e - 1] == '\t')) --e;
  if (e == 0 || l[e - 1] != escape) return false;
  if (e >= 2 && l[e - 2] == escape) return false;
  l = l.substr(0, e - 1);
  return true;
}

// Where the heredoc bodies after `inst` go: RUN, COPY and ADD in shell form, and an ONBUILD
// whose trigger is one of them; nullptr when the line takes none.
std::vector<Heredoc>* HeredocsOf(Instruction& inst) {
  if (inst.command == Command::kOnbuild && !inst.trigger.empty()) {
    return HeredocsOf(inst.trigger.front());
  }
  bool allowed = inst.command == Command::kRun || inst.command == Command::kCopy ||
                 inst.command == Command::kAdd;
  return allowed && !inst.json && !inst.heredocs.empty() ? &inst.heredocs : nullptr;
}

}  // namespace

Dockerfile ParseDockerfile(std::string_view text, const std::string& file) {
  Dockerfile df;
  df.file = file;
  Context ctx{file, '\\'};
  std::vector<PhysicalLine> lines = SplitLines(text);

  // Parser directives: consecutive "# key=value" lines at the very top.
  std::set<std::string> seen;
  size_t i = 0;
  for (; i < lines.size(); ++i) {
    auto d = Directive(lines[i].text);
    if (!d || (d->first != "syntax" && d->first != "escape" && d->first != "check")) break;
    Position pos{lines[i].number, 1};
    if (!seen.insert(d->first).second) {
      Fail(ctx, pos, "only one " + d->first + " parser directive can be used");
    }
    if (d->first == "syntax") {
      df.directives.syntax = d->second;
    } else if (d->first == "escape") {
      if (d->second != "`" && d->second != "\\") {
        Fail(ctx, pos, "invalid escape token '" + d->second + "' does not match ` or \\");
      }
      df.directives.escape = d->second[0];
      ctx.escape = d->second[0];
    } else {
      df.directives.check_raw = d->second;
      df.directives.check = ParseCheck(ctx, pos, d->second);
    }
  }

  std::vector<Instruction> all;
  i = 0;
  while (i < lines.size()) {
    const PhysicalLine& first = lines[i];
    if (IsBlank(first.text) || IsComment(first.text)) {
      ++i;
      continue;
    }
    // One logical line, continuations joined; comment and blank lines inside are skipped.
    Line line;
    size_t start = FirstNonSpace(first.text);
    std::string_view part = first.text.substr(start);
    int col = static_cast<int>(start) + 1;
    int line_no = first.number;
    ++i;
    for (;;) {
      bool more = TrimContinuation(part, ctx.escape);
      for (size_t k = 0; k < part.size(); ++k) {
        line.text += part[k];
        line.pos.push_back({line_no, col + static_cast<int>(k)});
      }
      line.end = {line_no, col + static_cast<int>(part.size())};
      if (!more) break;
      bool found = false;
      while (i < lines.size()) {
        const PhysicalLine& next = lines[i++];
        if (IsComment(next.text)) continue;
        if (IsBlank(next.text)) {
          df.warnings.push_back({"NoEmptyContinuation",
                                 {next.number, 1},
                                 "Empty continuation line found in the instruction starting "
                                 "at line " +
                                     std::to_string(first.number)});
          continue;
        }
        part = next.text;
        col = 1;
        line_no = next.number;
        found = true;
        break;
      }
      if (!found) break;  // the file ended inside a continuation: the line ends here
    }

    if (line.text.find_first_not_of(" \t\r\f\v") == std::string::npos) {
      continue;  // only continuation characters (and blanks): no instruction
    }
    Instruction inst = internal::ParseLine(ctx, line);
    if (std::vector<Heredoc>* docs = HeredocsOf(inst)) {
      for (Heredoc& h : *docs) {
        bool terminated = false;
        while (i < lines.size()) {
          std::string_view body = lines[i++].text;
          if (h.chomp) {
            size_t t = 0;
            while (t < body.size() && body[t] == '\t') ++t;
            body.remove_prefix(t);
          }
          if (body == h.name) {
            terminated = true;
            break;
          }
          h.content.append(body);
          h.content += '\n';
        }
        if (!terminated) {
          Fail(ctx, h.pos, "unterminated heredoc " + h.name + " (no line \"" + h.name + "\")");
        }
      }
    }
    all.push_back(std::move(inst));
  }

  if (all.empty()) {
    Fail(ctx, {1, 1}, "the Dockerfile has no instructions");
  }
  for (Instruction& inst : all) {
    if (inst.command == Command::kFrom) {
      Stage st;
      st.index = static_cast<int>(df.stages.size());
      st.name = inst.stage_name;
      for (const Stage& other : df.stages) {
        if (!st.name.empty() && other.name == st.name) {
          Fail(ctx, inst.pos,
               "duplicate stage name \"" + st.name + "\" (first at line " +
                   std::to_string(other.from.pos.line) + ")");
        }
      }
      st.from = std::move(inst);
      df.stages.push_back(std::move(st));
    } else if (df.stages.empty()) {
      if (inst.command != Command::kArg) {
        Fail(ctx, inst.pos,
             std::string(CommandName(inst.command)) +
                 " before the first FROM: only ARG may come before FROM (no build stage yet)");
      }
      df.global_args.push_back(std::move(inst));
    } else {
      df.stages.back().commands.push_back(std::move(inst));
    }
  }
  if (df.stages.empty()) {
    Fail(ctx, df.global_args.back().pos, "the Dockerfile has no FROM: no build stage");
  }
  return df;
}

Instruction ParseInstruction(std::string_view text, char escape, const std::string& file) {
  Context ctx{file, escape};
  Line line;
  size_t start = FirstNonSpace(text);
  for (size_t k = start; k < text.size(); ++k) {
    char c = text[k];
    if (c == '\n' || c == '\r') c = ' ';
    line.text += c;
    line.pos.push_back({1, static_cast<int>(k) + 1});
  }
  line.end = {1, static_cast<int>(text.size()) + 1};
  while (!line.text.empty() && internal::IsSpace(line.text.back())) {
    line.text.pop_back();
    line.pos.pop_back();
  }
  if (line.text.empty()) {
    Fail(ctx, {1, 1}, "empty instruction");
  }
  Instruction inst = internal::ParseLine(ctx, line);
  // A single line has no bodies: the markers are plain words.
  inst.heredocs.clear();
  for (Instruction& t : inst.trigger) t.heredocs.clear();
  return inst;
}

}  // namespace berth::build

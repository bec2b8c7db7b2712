// The arguments of each instruction: flags, JSON or shell form, words, key=value pairs,
// ONBUILD's trigger, heredoc markers (RUN --mount and HEALTHCHECK options: options.cc).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "build/dockerfile.h"
#include "build/parse_internal.h"

namespace berth::build {

using internal::Context;
using internal::EditDistance;
using internal::Fail;
using internal::IsSpace;
using internal::JsonForm;
using internal::Line;
using internal::Lower;
using internal::ParseBool;
using internal::ParseUnsigned;
using internal::SkipSpace;
using internal::Upper;

namespace {

struct CommandInfo {
  std::string_view name;
  Command command;
};

constexpr CommandInfo kCommands[] = {
    {"FROM", Command::kFrom},
    {"RUN", Command::kRun},
    {"CMD", Command::kCmd},
    {"LABEL", Command::kLabel},
    {"EXPOSE", Command::kExpose},
    {"ENV", Command::kEnv},
    {"ADD", Command::kAdd},
    {"COPY", Command::kCopy},
    {"ENTRYPOINT", Command::kEntrypoint},
    {"VOLUME", Command::kVolume},
    {"USER", Command::kUser},
    {"WORKDIR", Command::kWorkdir},
    {"ARG", Command::kArg},
    {"ONBUILD", Command::kOnbuild},
    {"STOPSIGNAL", Command::kStopsignal},
    {"HEALTHCHECK", Command::kHealthcheck},
    {"SHELL", Command::kShell},
    {"MAINTAINER", Command::kMaintainer},
};

enum class FlagType { kString, kBool, kList };

const std::map<std::string, FlagType>& AllowedFlags(Command c) {
  static const std::map<std::string, FlagType> kNone;
  static const std::map<std::string, FlagType> kFrom{{"platform", FlagType::kString}};
  static const std::map<std::string, FlagType> kRun{
      {"mount", FlagType::kList}, {"network", FlagType::kString}, {"security", FlagType::kString}};
  static const std::map<std::string, FlagType> kCopy{
      {"from", FlagType::kString}, {"chown", FlagType::kString}, {"chmod", FlagType::kString},
      {"link", FlagType::kBool},   {"parents", FlagType::kBool}, {"exclude", FlagType::kList}};
  static const std::map<std::string, FlagType> kAdd{
      {"chown", FlagType::kString},    {"chmod", FlagType::kString},
      {"link", FlagType::kBool},       {"keep-git-dir", FlagType::kBool},
      {"checksum", FlagType::kString}, {"exclude", FlagType::kList}};
  static const std::map<std::string, FlagType> kHealth{{"interval", FlagType::kString},
                                                       {"timeout", FlagType::kString},
                                                       {"start-period", FlagType::kString},
                                                       {"start-interval", FlagType::kString},
                                                       {"retries", FlagType::kString}};
  switch (c) {
    case Command::kFrom:
      return kFrom;
    case Command::kRun:
      return kRun;
    case Command::kCopy:
      return kCopy;
    case Command::kAdd:
      return kAdd;
    case Command::kHealthcheck:
      return kHealth;
    default:
      return kNone;
  }
}

// Leading "--name[=value]" words; quotes in a flag are removed, a backslash escapes.
// Returns the index where the arguments begin. A lone "--" ends the flags.
size_t ExtractFlags(const Context& ctx, const Line& line, size_t i, std::vector<Flag>& flags) {
  const std::string& s = line.text;
  for (;;) {
    i = SkipSpace(s, i);
    if (i + 1 >= s.size() || s[i] != '-' || s[i + 1] != '-') return i;
    size_t start = i;
    std::string word;
    char quote = 0;
    for (; i < s.size(); ++i) {
      char c = s[i];
      if (quote != 0) {
        if (c == quote) {
          quote = 0;
        } else if (c == '\\' && i + 1 < s.size()) {
          word += s[++i];
        } else {
          word += c;
        }
        continue;
      }
      if (IsSpace(c)) break;
      if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '\\' && i + 1 < s.size()) {
        word += s[++i];
      } else {
        word += c;
      }
    }
    if (quote != 0) {
      Fail(ctx, line.At(start), "unterminated quote in flag " + word.substr(0, word.find('=')));
    }
    if (word == "--") return SkipSpace(s, i);
    Flag f;
    f.pos = line.At(start);
    std::string body = word.substr(2);
    size_t eq = body.find('=');
    f.name = body.substr(0, eq);
    if (eq != std::string::npos) {
      f.value = body.substr(eq + 1);
      f.has_value = true;
    }
    flags.push_back(std::move(f));
  }
}

void CheckFlags(const Context& ctx, Instruction& inst) {
  const auto& allowed = AllowedFlags(inst.command);
  std::set<std::string> seen;
  for (Flag& f : inst.flags) {
    auto it = allowed.find(f.name);
    std::string name(CommandName(inst.command));
    if (f.name.empty()) {
      Fail(ctx, f.pos, "empty flag name in " + name);
    }
    if (it == allowed.end()) {
      Fail(ctx, f.pos, "unknown flag: --" + f.name + " (" + name + " takes " +
                           (allowed.empty() ? std::string("no flags") : [&] {
                             std::string list;
                             for (const auto& kv : allowed) {
                               list += (list.empty() ? "--" : ", --") + kv.first;
                             }
                             return list;
                           }()) +
                           ")");
    }
    if (it->second != FlagType::kList && !seen.insert(f.name).second) {
      Fail(ctx, f.pos, "duplicate flag specified: --" + f.name);
    }
    if (it->second == FlagType::kBool) {
      if (f.has_value) {
        auto b = ParseBool(f.value);
        if (!b) {
          Fail(ctx, f.pos,
               "expecting a boolean value for flag --" + f.name + ", not \"" + f.value + "\"");
        }
        f.value = *b ? "true" : "false";
      } else {
        f.value = "true";
      }
    } else if (!f.has_value) {
      Fail(ctx, f.pos, "missing a value on flag --" + f.name + " (--" + f.name + "=VALUE)");
    }
  }
}

// Words split at whitespace, nothing else (FROM, EXPOSE, VOLUME, COPY and ADD sources).
void SplitFields(const Line& line, size_t i, std::vector<std::string>& out,
                 std::vector<Position>& pos) {
  const std::string& s = line.text;
  for (;;) {
    i = SkipSpace(s, i);
    if (i >= s.size()) return;
    size_t b = i;
    while (i < s.size() && !IsSpace(s[i])) ++i;
    out.push_back(s.substr(b, i - b));
    pos.push_back(line.At(b));
  }
}

// Words split at unquoted whitespace, quotes and escapes kept for resolve (ENV, LABEL, ARG).
struct RawWord {
  std::string text;
  Position pos;
};
// With `lenient`, an unterminated quote ends the list instead of failing (heredoc markers are
// looked for in RUN lines whose quotes are the shell's business).
std::vector<RawWord> RawWords(const Context& ctx, const Line& line, size_t i,
                              bool lenient = false) {
  std::vector<RawWord> out;
  const std::string& s = line.text;
  for (;;) {
    i = SkipSpace(s, i);
    if (i >= s.size()) return out;
    RawWord w{{}, line.At(i)};
    char quote = 0;
    size_t qpos = 0;
    for (; i < s.size(); ++i) {
      char c = s[i];
      if (quote == 0 && IsSpace(c)) break;
      if (c == ctx.escape && quote != '\'' && i + 1 < s.size()) {
        w.text += c;
        w.text += s[++i];
        continue;
      }
      if (quote == 0 && (c == '"' || c == '\'')) {
        quote = c;
        qpos = i;
      } else if (c == quote) {
        quote = 0;
      }
      w.text += c;
    }
    if (quote != 0 && lenient) return out;
    if (quote != 0) {
      Fail(ctx, line.At(qpos),
           std::string("unterminated ") + (quote == '"' ? "double" : "single") + " quote");
    }
    out.push_back(std::move(w));
  }
}

void Require(const Context& ctx, const Instruction& inst, bool ok, const std::string& what) {
  if (!ok) {
    Fail(ctx, inst.pos, std::string(CommandName(inst.command)) + " " + what);
  }
}

void MaybeJson(const Context& ctx, Instruction& inst) {
  if (auto json = JsonForm(ctx, inst.rest, inst.rest_pos)) {
    inst.json = true;
    inst.args = std::move(*json);
    return;
  }
  if (!inst.rest.empty()) {
    inst.args.push_back(inst.rest);
    inst.arg_pos.push_back(inst.rest_pos);
  }
}

void ParseKeyValues(const Context& ctx, const Line& line, size_t i, Instruction& inst) {
  std::vector<RawWord> words = RawWords(ctx, line, i);
  std::string name(CommandName(inst.command));
  Require(ctx, inst, !words.empty(), "requires at least one argument");
  if (inst.command != Command::kArg && words[0].text.find('=') == std::string::npos) {
    // The old form: "ENV key value with spaces" — one pair, the value is the rest.
    size_t k = SkipSpace(line.text, i);
    size_t e = k;
    while (e < line.text.size() && !IsSpace(line.text[e])) ++e;
    size_t v = SkipSpace(line.text, e);
    if (v >= line.text.size()) {
      Fail(ctx, inst.pos,
           name + " " + words[0].text + " has no value (" + name + " KEY=VALUE or " + name +
               " KEY VALUE)");
    }
    std::string value = line.text.substr(v);
    while (!value.empty() && IsSpace(value.back())) value.pop_back();
    inst.pairs.push_back({words[0].text, value, true, words[0].pos});
    return;
  }
  for (RawWord& w : words) {
    size_t eq = w.text.find('=');
    KeyValue kv;
    kv.pos = w.pos;
    if (eq == std::string::npos) {
      if (inst.command != Command::kArg) {
        Fail(ctx, w.pos,
             "syntax error: can't find = in \"" + w.text + "\"; it must be of the form name=value");
      }
      kv.key = w.text;
    } else {
      kv.key = w.text.substr(0, eq);
      kv.value = w.text.substr(eq + 1);
      kv.has_value = true;
    }
    if (kv.key.empty()) {
      Fail(ctx, w.pos, name + " names can not be blank");
    }
    inst.pairs.push_back(std::move(kv));
  }
}

bool ValidStageName(const std::string& n) {
  if (n.empty() || n[0] < 'a' || n[0] > 'z') return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

}  // namespace

std::string_view CommandName(Command c) {
  for (const CommandInfo& info : kCommands) {
    if (info.command == c) return info.name;
  }
  return "?";
}

namespace internal {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

size_t SkipSpace(const std::string& s, size_t i) {
  while (i < s.size() && IsSpace(s[i])) ++i;
  return i;
}

std::optional<bool> ParseBool(std::string_view v) {
  std::string l = Lower(v);
  if (l == "true" || l == "1" || l == "t") return true;
  if (l == "false" || l == "0" || l == "f") return false;
  return std::nullopt;
}

std::optional<uint64_t> ParseUnsigned(std::string_view s, int base) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d = c - '0';
    if (d < 0 || d >= base) return std::nullopt;
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  return v;
}

// The JSON (exec) form: an array of strings; nullopt when `rest` is not a JSON array (the
// shell form then). A JSON array of anything but strings is an error, as in BuildKit.
std::optional<std::vector<std::string>> JsonForm(const Context& ctx, const std::string& rest,
                                                 Position pos) {
  std::string_view r = rest;
  while (!r.empty() && IsSpace(r.back())) r.remove_suffix(1);
  if (r.size() < 2 || r.front() != '[' || r.back() != ']') return std::nullopt;
  nlohmann::json doc = nlohmann::json::parse(r, nullptr, false);
  if (!doc.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& v : doc) {
    if (!v.is_string()) {
      Fail(ctx, pos, "when using JSON array syntax, arrays must be comprised of strings only");
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

// Edit distance with adjacent transpositions counted once ("FORM" is 1 from "FROM").
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min(
          {d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1] ? 1 : 0)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::vector<Heredoc> FindHeredocs(const Context& ctx, const Line& line, size_t i) {
  std::vector<Heredoc> out;
  for (RawWord& w : RawWords(ctx, line, i, true)) {
    const std::string& t = w.text;
    size_t k = 0;
    while (k < t.size() && std::isdigit(static_cast<unsigned char>(t[k]))) ++k;
    if (t.compare(k, 2, "<<") != 0) continue;
    Heredoc h;
    h.pos = w.pos;
    if (k > 0) h.fd = std::stoi(t.substr(0, std::min<size_t>(k, 4)));
    size_t n = k + 2;
    if (n < t.size() && t[n] == '-') {
      h.chomp = true;
      ++n;
    }
    std::string raw = t.substr(n);
    if (raw.empty() || raw.find('<') != std::string::npos) continue;
    // Quote removal; any quote disables expansion of the body.
    std::string name;
    char quote = 0;
    for (size_t j = 0; j < raw.size(); ++j) {
      char c = raw[j];
      if (quote != 0) {
        if (c == quote)
          quote = 0;
        else
          name += c;
      } else if (c == '"' || c == '\'') {
        quote = c;
        h.expand = false;
      } else if (c == ctx.escape && j + 1 < raw.size()) {
        name += raw[++j];
        h.expand = false;
      } else {
        name += c;
      }
    }
    if (name.empty()) Fail(ctx, w.pos, "empty heredoc delimiter");
    h.name = name;
    out.push_back(std::move(h));
  }
  return out;
}

Instruction ParseLine(const Context& ctx, const Line& line) {
  const std::string& s = line.text;
  Instruction inst;
  size_t b = SkipSpace(s, 0);
  size_t e = b;
  while (e < s.size() && !IsSpace(s[e])) ++e;
  inst.keyword = s.substr(b, e - b);
  inst.pos = line.At(b);
  inst.text = s.substr(b);
  std::string upper = Upper(inst.keyword);
  bool known = false;
  for (const CommandInfo& info : kCommands) {
    if (info.name == upper) {
      inst.command = info.command;
      known = true;
    }
  }
  if (!known) {
    std::string msg = "unknown instruction: " + inst.keyword;
    size_t best = upper.size() <= 4 ? 2 : 3;  // suggest within 1 edit, or 2 for long words
    std::string_view suggestion;
    for (const CommandInfo& info : kCommands) {
      size_t d = EditDistance(upper, info.name);
      if (d < best) {
        best = d;
        suggestion = info.name;
      }
    }
    if (!suggestion.empty()) {
      msg += " (did you mean " + std::string(suggestion) + "?)";
    }
    Fail(ctx, inst.pos, msg);
  }
  size_t args = ExtractFlags(ctx, line, e, inst.flags);
  inst.rest = s.substr(args);
  while (!inst.rest.empty() && IsSpace(inst.rest.back())) inst.rest.pop_back();
  inst.rest_pos = line.At(args);
  CheckFlags(ctx, inst);
  std::string name(CommandName(inst.command));

  switch (inst.command) {
    case Command::kFrom: {
      SplitFields(line, args, inst.args, inst.arg_pos);
      if (inst.args.size() != 1 && inst.args.size() != 3) {
        Fail(ctx, inst.pos, "FROM requires either one or three arguments (FROM image [AS name])");
      }
      inst.image = inst.args[0];
      if (inst.args.size() == 3) {
        if (Lower(inst.args[1]) != "as") {
          Fail(ctx, inst.arg_pos[1], "FROM: expected AS, got \"" + inst.args[1] + "\"");
        }
        inst.stage_name = Lower(inst.args[2]);
        if (!ValidStageName(inst.stage_name)) {
          Fail(ctx, inst.arg_pos[2],
               "invalid name for build stage: \"" + inst.args[2] +
                   "\", name can't start with a number or contain symbols");
        }
      }
      break;
    }
    case Command::kRun:
    case Command::kCmd:
    case Command::kEntrypoint:
      MaybeJson(ctx, inst);
      if (!inst.json) {
        Require(ctx, inst, !inst.rest.empty(), "requires at least one argument");
      }
      if (inst.command == Command::kRun) {
        if (!inst.json) inst.heredocs = FindHeredocs(ctx, line, args);
        for (const Flag& f : inst.flags) {
          if (f.name == "mount") {
            inst.mounts.push_back(ParseMount(ctx, f));
          } else if (f.name == "network") {
            if (f.value != "none" && f.value != "default" && f.value != "host") {
              Fail(ctx, f.pos,
                   "unsupported network mode \"" + f.value + "\" (none, default or host)");
            }
            inst.network = f.value;
          } else if (f.name == "security") {
            if (f.value != "sandbox" && f.value != "insecure") {
              Fail(ctx, f.pos,
                   "unsupported security mode \"" + f.value + "\" (sandbox or insecure)");
            }
            inst.security = f.value;
          }
        }
      }
      break;
    case Command::kLabel:
    case Command::kEnv:
    case Command::kArg:
      ParseKeyValues(ctx, line, args, inst);
      break;
    case Command::kExpose:
      SplitFields(line, args, inst.args, inst.arg_pos);
      Require(ctx, inst, !inst.args.empty(), "requires at least one argument");
      break;
    case Command::kAdd:
    case Command::kCopy:
      if (auto json = JsonForm(ctx, inst.rest, inst.rest_pos)) {
        inst.json = true;
        inst.args = std::move(*json);
      } else {
        SplitFields(line, args, inst.args, inst.arg_pos);
        inst.heredocs = FindHeredocs(ctx, line, args);
      }
      Require(ctx, inst, inst.args.size() >= 2,
              "requires at least two arguments: a source and a destination");
      if (const Flag* f = inst.FindFlag("checksum")) {
        std::string_view v = f->value;
        size_t colon = v.find(':');
        std::string algo(v.substr(0, colon));
        size_t want = algo == "sha256" ? 64 : algo == "sha384" ? 96 : algo == "sha512" ? 128 : 0;
        std::string_view hex = colon == std::string_view::npos ? "" : v.substr(colon + 1);
        if (v.find('$') == std::string_view::npos &&
            (want == 0 || hex.size() != want || !std::all_of(hex.begin(), hex.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
             }))) {
          Fail(ctx, f->pos,
               "--checksum: invalid digest \"" + f->value +
                   "\" (sha256:<64 hex>, sha384:… or sha512:…)");
        }
      }
      if (const Flag* f = inst.FindFlag("chmod")) {
        if (f->value.find('$') == std::string::npos) {
          auto v = ParseUnsigned(f->value, 8);
          if (!v || *v > 07777) {
            Fail(ctx, f->pos, "--chmod: invalid mode \"" + f->value + "\" (octal, at most 7777)");
          }
        }
      }
      if (const Flag* f = inst.FindFlag("chown")) {
        if (f->value.empty()) Fail(ctx, f->pos, "--chown: empty user");
      }
      break;
    case Command::kVolume:
      if (auto json = JsonForm(ctx, inst.rest, inst.rest_pos)) {
        inst.json = true;
        inst.args = std::move(*json);
      } else {
        SplitFields(line, args, inst.args, inst.arg_pos);
      }
      Require(ctx, inst, !inst.args.empty(), "requires at least one argument");
      for (const std::string& v : inst.args) {
        if (v.empty()) Fail(ctx, inst.pos, "VOLUME specified can not be an empty string");
      }
      break;
    case Command::kUser:
    case Command::kWorkdir:
    case Command::kStopsignal:
    case Command::kMaintainer:
      Require(ctx, inst, !inst.rest.empty(), "requires exactly one argument");
      inst.args = {inst.rest};
      inst.arg_pos = {inst.rest_pos};
      break;
    case Command::kShell: {
      auto json = JsonForm(ctx, inst.rest, inst.rest_pos);
      if (!json) {
        Fail(ctx, inst.pos,
             "SHELL requires the arguments to be in JSON form "
             "(SHELL [\"executable\", \"parameters\"])");
      }
      Require(ctx, inst, !json->empty(), "requires at least one argument");
      inst.json = true;
      inst.args = std::move(*json);
      break;
    }
    case Command::kHealthcheck:
      ParseHealthcheck(ctx, line, args, inst);
      break;
    case Command::kOnbuild: {
      Require(ctx, inst, !inst.rest.empty(), "requires at least one argument");
      Line sub;
      sub.text = s.substr(args);
      sub.pos.assign(line.pos.begin() + static_cast<std::ptrdiff_t>(args), line.pos.end());
      sub.end = line.end;
      Instruction trigger = ParseLine(ctx, sub);
      if (trigger.command == Command::kOnbuild) {
        Fail(ctx, trigger.pos, "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      }
      if (trigger.command == Command::kFrom || trigger.command == Command::kMaintainer) {
        Fail(ctx, trigger.pos,
             std::string(CommandName(trigger.command)) + " isn't allowed as an ONBUILD trigger");
      }
      inst.args = {inst.rest};
      inst.trigger.push_back(std::move(trigger));
      break;
    }
  }
  return inst;
}

}  // namespace internal

}  // namespace berth::build

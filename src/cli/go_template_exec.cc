// Execution of cli/go_template.h: Go's text/template/exec.go over JSON values, with Go's
// builtins and docker's template functions (docker/cli templates/templates.go).
#include <algorithm>
#include <cctype>
#include <optional>

#include "base/error.h"
#include "cli/go_template_internal.h"
#include "cli/go_value.h"

namespace berth::cli {
namespace {

using internal::Command;
using internal::Node;
using internal::Operand;
using internal::Pipe;
using nlohmann::json;

constexpr size_t kMaxOutput = 16u << 20;
constexpr size_t kMaxSteps = 10'000'000;

// A value as Go's reflect.Value sees it: invalid (no value), or a JSON value that lives in
// `owner` (a computed value) or in the caller's dot. `boxed`: reached through interface{}.
struct Value {
  std::shared_ptr<const json> owner;
  const json* ptr = nullptr;
  bool boxed = false;
};

Value Own(json j) {
  auto p = std::make_shared<const json>(std::move(j));
  return Value{p, p.get(), false};
}
Value Sub(const Value& parent, const json& child) { return Value{parent.owner, &child, true}; }
const json& Nil() {
  static const json kNil;
  return kNil;
}
const json& J(const Value& v) { return v.ptr != nullptr ? *v.ptr : Nil(); }

bool Truth(const Value& v) {
  if (v.ptr == nullptr) {
    return false;
  }
  const json& j = *v.ptr;
  switch (j.type()) {
    case json::value_t::boolean:
      return j.get<bool>();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return j.get<double>() != 0;
    case json::value_t::string:
      return !j.get_ref<const std::string&>().empty();
    case json::value_t::array:
    case json::value_t::object:
      return !j.empty();
    default:
      return false;
  }
}

struct Stop {};  // unwinds {{break}}/{{continue}} and errors carry their text in berth::Error

class Exec {
 public:
  Exec(const Template::Tree& tree, const ExecuteOptions& options, std::string& out)
      : tree_(tree), options_(options), out_(out) {}

  void Run(const json& dot) {
    Value d{nullptr, &dot, false};
    vars_.push_back({"$", d});
    Walk(d, tree_.root);
  }

 private:
  enum class Ctl { kNone, kBreak, kContinue };

  [[noreturn]] void Errorf(const std::string& msg) {
    const std::string_view text = tree_.text;
    const size_t pos = std::min(at_pos_, text.size());
    const size_t nl = text.rfind('\n', pos == 0 ? 0 : pos - 1);
    const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + pos, '\n'));
    const size_t col = nl == std::string_view::npos || pos == 0 ? pos : pos - nl - 1;
    std::string ctx = at_ctx_;
    if (ctx.size() > 20) {
      ctx = ctx.substr(0, 20) + "...";
    }
    ThrowInvalid("template: :" + std::to_string(line) + ":" + std::to_string(col) +
                 ": executing \"\" at <" + ctx + ">: " + msg);
  }
  void At(size_t pos, std::string ctx) {
    at_pos_ = pos;
    at_ctx_ = std::move(ctx);
  }
  void Step() {
    if (++steps_ > kMaxSteps) {
      ThrowInvalid("template: execution exceeds " + std::to_string(kMaxSteps) + " steps");
    }
  }
  void Write(std::string_view s) {
    if (out_.size() + s.size() > kMaxOutput) {
      ThrowInvalid("template: output exceeds 16 MiB");
    }
    out_.append(s);
  }

  Ctl Walk(const Value& dot, const std::vector<Node>& list) {
    for (const Node& n : list) {
      const Ctl c = WalkNode(dot, n);
      if (c != Ctl::kNone) {
        return c;
      }
    }
    return Ctl::kNone;
  }

  Ctl WalkNode(const Value& dot, const Node& n) {
    Step();
    switch (n.kind) {
      case Node::Kind::kText:
        Write(n.text);
        return Ctl::kNone;
      case Node::Kind::kAction: {
        const Value v = EvalPipeline(dot, *n.pipe);
        if (n.pipe->decl.empty()) {
          Write(v.ptr == nullptr ? "<no value>" : internal::GoPrint(*v.ptr));
        }
        return Ctl::kNone;
      }
      case Node::Kind::kBreak:
        return Ctl::kBreak;
      case Node::Kind::kContinue:
        return Ctl::kContinue;
      case Node::Kind::kIf:
      case Node::Kind::kWith: {
        const size_t mark = vars_.size();
        const Value v = EvalPipeline(dot, *n.pipe);
        Ctl c = Ctl::kNone;
        if (Truth(v)) {
          c = Walk(n.kind == Node::Kind::kWith ? v : dot, n.list);
        } else {
          c = Walk(dot, n.else_list);
        }
        vars_.resize(mark);
        return c;
      }
      case Node::Kind::kRange:
        return WalkRange(dot, n);
    }
    return Ctl::kNone;
  }

  Ctl WalkRange(const Value& dot, const Node& n) {
    const size_t outer = vars_.size();
    const Value val = EvalPipeline(dot, *n.pipe);
    const size_t mark = vars_.size();
    const Pipe& pipe = *n.pipe;
    bool iterated = false;
    auto one = [&](const Value& index, const Value& elem) {
      iterated = true;
      if (!pipe.decl.empty()) {
        SetVar(pipe.is_assign ? pipe.decl[0] : "",
               pipe.decl.size() > 1 && pipe.is_assign ? index : elem, 1);
      }
      if (pipe.decl.size() > 1) {
        if (pipe.is_assign) {
          SetVar(pipe.decl[1], elem, 0);
        } else {
          SetVar("", index, 2);
        }
      }
      const Ctl c = Walk(elem, n.list);
      vars_.resize(mark);
      return c != Ctl::kBreak;
    };
    const json& j = J(val);
    if (val.ptr != nullptr && j.is_array()) {
      for (size_t i = 0; i < j.size(); ++i) {
        if (!one(Own(json(i)), Sub(val, j[i]))) {
          break;
        }
      }
    } else if (val.ptr != nullptr && j.is_object()) {
      for (const auto& [k, e] : j.items()) {
        if (!one(Own(json(k)), Sub(val, e))) {
          break;
        }
      }
    } else if (val.ptr != nullptr && j.is_number_integer()) {
      // Go 1.22: range over an integer counts from 0.
      const int64_t count = j.get<int64_t>();
      for (int64_t i = 0; i < count; ++i) {
        Step();
        const Value iv = Own(json(i));
        if (!one(iv, iv)) {
          break;
        }
      }
    } else if (val.ptr != nullptr) {
      Errorf("range can't iterate over " + internal::GoPrint(j));
    }
    Ctl c = Ctl::kNone;
    if (!iterated) {
      c = Walk(dot, n.else_list);
    }
    vars_.resize(outer);
    return c;
  }

  // name empty: Go's setTopVar(n); otherwise setVar(name).
  void SetVar(const std::string& name, const Value& v, size_t top) {
    if (name.empty()) {
      vars_[vars_.size() - top].second = v;
      return;
    }
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
      if (it->first == name) {
        it->second = v;
        return;
      }
    }
    Errorf("undefined variable: " + name);
  }

  Value VarValue(const std::string& name) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
      if (it->first == name) {
        return it->second;
      }
    }
    Errorf("undefined variable: " + name);
  }

  Value EvalPipeline(const Value& dot, const Pipe& pipe) {
    At(pipe.pos, internal::PipeString(pipe));
    std::optional<Value> value;
    for (const Command& cmd : pipe.cmds) {
      Value v = EvalCommand(dot, cmd, value);
      // interface{} is unwrapped: a nil interface becomes an invalid value.
      v.boxed = false;
      if (v.ptr != nullptr && v.ptr->is_null()) {
        v.ptr = nullptr;
      }
      value = v;
    }
    for (const std::string& name : pipe.decl) {
      if (pipe.is_assign) {
        SetVar(name, *value, 0);
      } else {
        vars_.push_back({name, *value});
      }
    }
    return *value;
  }

  void NotAFunction(const Command& cmd, const std::optional<Value>& final_value) {
    if (cmd.args.size() > 1 || final_value) {
      Errorf("can't give argument to non-function " + internal::OperandString(cmd.args[0]));
    }
  }

  Value EvalCommand(const Value& dot, const Command& cmd, const std::optional<Value>& final_value) {
    Step();
    const Operand& first = cmd.args[0];
    switch (first.kind) {
      case Operand::Kind::kField:
        return EvalFieldChain(dot, dot, first, first.fields, &cmd, final_value);
      case Operand::Kind::kPipe:
        if (first.fields.empty()) {
          NotAFunction(cmd, final_value);
          return EvalPipeline(dot, *first.pipe);
        }
        return EvalFieldChain(dot, EvalPipeline(dot, *first.pipe), first, first.fields, &cmd,
                              final_value);
      case Operand::Kind::kFunction:
        return EvalFunction(dot, first, &cmd, final_value);
      case Operand::Kind::kVariable: {
        Value v = VarValue(first.text);
        if (first.fields.empty()) {
          NotAFunction(cmd, final_value);
          return v;
        }
        return EvalFieldChain(dot, v, first, first.fields, &cmd, final_value);
      }
      default:
        break;
    }
    At(first.pos, internal::OperandString(first));
    NotAFunction(cmd, final_value);
    return Literal(dot, first);
  }

  Value Literal(const Value& dot, const Operand& op) {
    switch (op.kind) {
      case Operand::Kind::kBool:
        return Own(json(op.boolean));
      case Operand::Kind::kDot:
        return dot;
      case Operand::Kind::kNil:
        Errorf("nil is not a command");
      case Operand::Kind::kNumber:
        return op.is_float ? Own(json(op.floating)) : Own(json(op.integer));
      default:
        return Own(json(op.str));
    }
  }

  Value EvalArg(const Value& dot, const Operand& op) {
    At(op.pos, internal::OperandString(op));
    switch (op.kind) {
      case Operand::Kind::kNil:
        return Own(json());
      case Operand::Kind::kField:
        return EvalFieldChain(dot, dot, op, op.fields, nullptr, std::nullopt);
      case Operand::Kind::kVariable: {
        Value v = VarValue(op.text);
        return op.fields.empty() ? v : EvalFieldChain(dot, v, op, op.fields, nullptr, std::nullopt);
      }
      case Operand::Kind::kPipe: {
        Value v = EvalPipeline(dot, *op.pipe);
        return op.fields.empty() ? v : EvalFieldChain(dot, v, op, op.fields, nullptr, std::nullopt);
      }
      case Operand::Kind::kFunction:
        return EvalFunction(dot, op, nullptr, std::nullopt);
      default:
        return Literal(dot, op);
    }
  }

  Value EvalFieldChain(const Value& dot, Value receiver, const Operand& node,
                       const std::vector<std::string>& fields, const Command* cmd,
                       const std::optional<Value>& final_value) {
    (void)dot;
    At(node.pos, internal::OperandString(node));
    for (size_t i = 0; i < fields.size(); ++i) {
      const bool last = i + 1 == fields.size();
      const bool has_args = last && ((cmd != nullptr && cmd->args.size() > 1) || final_value);
      receiver = EvalField(fields[i], receiver, has_args);
    }
    return receiver;
  }

  Value EvalField(const std::string& name, const Value& receiver, bool has_args) {
    if (receiver.ptr == nullptr) {
      if (options_.missing_key == MissingKey::kError) {
        Errorf("nil data; no entry for key \"" + name + "\"");
      }
      return Value{};
    }
    const json& j = *receiver.ptr;
    if (j.is_null()) {
      Errorf("nil pointer evaluating interface {}." + name);
    }
    if (j.is_object()) {
      if (has_args) {
        Errorf(name + " is not a method but has arguments");
      }
      const auto it = j.find(name);
      if (it == j.end()) {
        if (options_.missing_key == MissingKey::kError) {
          Errorf("map has no entry for key \"" + name + "\"");
        }
        return Value{};
      }
      return Sub(receiver, *it);
    }
    Errorf("can't evaluate field " + name + " in type " +
           (receiver.boxed ? "interface {}" : internal::GoTypeName(j)));
  }

  Value EvalFunction(const Value& dot, const Operand& fn, const Command* cmd,
                     const std::optional<Value>& final_value);

  const Template::Tree& tree_;
  const ExecuteOptions& options_;
  std::string& out_;
  std::vector<std::pair<std::string, Value>> vars_;
  size_t steps_ = 0;
  size_t at_pos_ = 0;
  std::string at_ctx_;
};

}  // namespace
}  // namespace berth::cli

namespace berth::cli {
namespace {

Value Exec::EvalFunction(const Value& dot, const Operand& fn, const Command* cmd,
                         const std::optional<Value>& final_value) {
  At(fn.pos, fn.text);
  const std::string& name = fn.text;
  std::vector<const Operand*> arg_nodes;
  if (cmd != nullptr) {
    for (size_t i = 1; i < cmd->args.size(); ++i) {
      arg_nodes.push_back(&cmd->args[i]);
    }
  }
  const size_t argc = arg_nodes.size() + (final_value ? 1 : 0);
  auto want = [&](size_t n, bool at_least = false) {
    if (at_least ? argc < n : argc != n) {
      Errorf("wrong number of args for " + name + ": want " + (at_least ? "at least " : "") +
             std::to_string(n) + " got " + std::to_string(argc));
    }
  };
  const std::string cmd_ctx = cmd != nullptr ? internal::CommandString(*cmd) : name;
  const size_t cmd_pos = cmd != nullptr ? cmd->pos : fn.pos;
  auto fail = [&](const std::string& msg) {
    At(cmd_pos, cmd_ctx);
    Errorf("error calling " + name + ": " + msg);
  };
  if (name == "and" || name == "or") {
    want(1, true);
    Value v;
    for (const Operand* a : arg_nodes) {
      v = EvalArg(dot, *a);
      if (Truth(v) == (name == "or")) {
        return v;
      }
    }
    return final_value ? *final_value : v;
  }
  std::vector<Value> args;
  for (const Operand* a : arg_nodes) {
    args.push_back(EvalArg(dot, *a));
  }
  if (final_value) {
    args.push_back(*final_value);
  }
  auto str = [&](size_t i) -> std::string {
    const json& j = J(args[i]);
    if (!j.is_string()) {
      At(cmd_pos, cmd_ctx);
      Errorf("wrong type for value; expected string; got " +
             (j.is_null() ? std::string("<nil>") : internal::GoTypeName(j)));
    }
    return j.get<std::string>();
  };
  auto integer = [&](size_t i) -> int64_t {
    const json& j = J(args[i]);
    if (!j.is_number_integer()) {
      At(cmd_pos, cmd_ctx);
      Errorf("wrong type for value; expected int; got " +
             (j.is_null() ? std::string("<nil>") : internal::GoTypeName(j)));
    }
    return j.is_number_unsigned()
               ? static_cast<int64_t>(std::min<uint64_t>(j.get<uint64_t>(), INT64_MAX))
               : j.get<int64_t>();
  };
  const bool header = options_.header_functions;
  if (name == "not") {
    want(1);
    return Own(json(!Truth(args[0])));
  }
  if (name == "len") {
    want(1);
    const json& j = J(args[0]);
    if (j.is_string() || j.is_array() || j.is_object()) {
      return Own(json(j.is_string() ? j.get_ref<const std::string&>().size() : j.size()));
    }
    fail(j.is_null() ? "len of nil pointer" : "len of type " + internal::GoTypeName(j));
  }
  if (name == "index") {
    want(1, true);
    Value item = args[0];
    for (size_t i = 1; i < args.size(); ++i) {
      const json& j = J(item);
      const json& ix = J(args[i]);
      if (j.is_array() || j.is_string()) {
        if (!ix.is_number_integer()) {
          fail(ix.is_null() ? "cannot index slice/array with nil"
                            : "cannot index slice/array with type " + internal::GoTypeName(ix));
        }
        const int64_t k = ix.is_number_unsigned() ? INT64_MAX : ix.get<int64_t>();
        const size_t len = j.is_string() ? j.get_ref<const std::string&>().size() : j.size();
        if (k < 0 || static_cast<uint64_t>(k) >= len) {
          fail("index out of range: " + std::to_string(k));
        }
        item = j.is_string() ? Own(json(static_cast<uint8_t>(j.get_ref<const std::string&>()[k])))
                             : Sub(item, j[static_cast<size_t>(k)]);
      } else if (j.is_object()) {
        if (!ix.is_string()) {
          fail("value has type " + internal::GoTypeName(ix) + "; should be string");
        }
        const auto it = j.find(ix.get<std::string>());
        item = it == j.end() ? Own(json()) : Sub(item, *it);
      } else if (j.is_null()) {
        fail("index of untyped nil");
      } else {
        fail("can't index item of type " + internal::GoTypeName(j));
      }
    }
    return item;
  }
  if (name == "slice") {
    want(1, true);
    const json& j = J(args[0]);
    if (!j.is_array() && !j.is_string()) {
      fail(j.is_null() ? "slice of untyped nil"
                       : "can't slice item of type " + internal::GoTypeName(j));
    }
    if (args.size() > 4 || (j.is_string() && args.size() > 3)) {
      fail(j.is_string() ? "cannot 3-index slice a string"
                         : "too many slice indexes: " + std::to_string(args.size() - 1));
    }
    const size_t len = j.is_string() ? j.get_ref<const std::string&>().size() : j.size();
    std::vector<int64_t> idx = {0, static_cast<int64_t>(len)};
    for (size_t i = 1; i < args.size() && i <= 2; ++i) {
      const json& ix = J(args[i]);
      if (!ix.is_number_integer()) {
        fail("cannot index slice/array with type " + internal::GoTypeName(ix));
      }
      const int64_t k = ix.is_number_unsigned() ? INT64_MAX : ix.get<int64_t>();
      if (k < 0 || static_cast<uint64_t>(k) > len) {
        fail("index out of range: " + std::to_string(k));
      }
      idx[i - 1] = k;
    }
    if (idx[0] > idx[1]) {
      fail("invalid slice index: " + std::to_string(idx[0]) + " > " + std::to_string(idx[1]));
    }
    if (j.is_string()) {
      return Own(json(j.get_ref<const std::string&>().substr(
          static_cast<size_t>(idx[0]), static_cast<size_t>(idx[1] - idx[0]))));
    }
    return Own(json(std::vector<json>(j.begin() + idx[0], j.begin() + idx[1])));
  }
  if (name == "eq" || name == "ne" || name == "lt" || name == "le" || name == "gt" ||
      name == "ge") {
    // 0: equal, <0 / >0: ordered, throws for incomparable values.
    auto compare = [&](const json& a, const json& b, bool ordered) -> int {
      if (a.is_null() || b.is_null()) {
        if (ordered) {
          fail("invalid type for comparison");
        }
        return a.is_null() && b.is_null() ? 0 : 1;
      }
      if (a.is_number() && b.is_number()) {
        if (a.is_number_integer() && b.is_number_integer() && !a.is_number_unsigned() &&
            !b.is_number_unsigned()) {
          const int64_t x = a.get<int64_t>();
          const int64_t y = b.get<int64_t>();
          return x < y ? -1 : x > y ? 1 : 0;
        }
        const double x = a.get<double>();
        const double y = b.get<double>();
        return x < y ? -1 : x > y ? 1 : 0;
      }
      if (a.type() != b.type()) {
        fail("incompatible types for comparison");
      }
      if (a.is_string()) {
        const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
        return c < 0 ? -1 : c > 0 ? 1 : 0;
      }
      if (a.is_boolean()) {
        if (ordered) {
          fail("invalid type for comparison");
        }
        return a == b ? 0 : 1;
      }
      fail("non-comparable type " + internal::GoPrint(a) + ": " + internal::GoTypeName(a));
      return 1;
    };
    if (name == "eq") {
      want(1, true);
      if (args.size() < 2) {
        fail("missing argument for comparison");
      }
      for (size_t i = 1; i < args.size(); ++i) {
        if (compare(J(args[0]), J(args[i]), false) == 0) {
          return Own(json(true));
        }
      }
      return Own(json(false));
    }
    want(2);
    const bool ordered = name != "ne";
    const int c = compare(J(args[0]), J(args[1]), ordered);
    const bool r = name == "ne"   ? c != 0
                   : name == "lt" ? c < 0
                   : name == "le" ? c <= 0
                   : name == "gt" ? c > 0
                                  : c >= 0;
    return Own(json(r));
  }
  if (name == "print" || name == "println") {
    std::string s;
    for (size_t i = 0; i < args.size(); ++i) {
      // Sprint puts a space between operands when neither is a string; Sprintln always.
      if (i > 0 &&
          (name == "println" || (!J(args[i - 1]).is_string() && !J(args[i]).is_string()))) {
        s.push_back(' ');
      }
      s += internal::GoPrint(J(args[i]));
    }
    if (name == "println") {
      s.push_back('\n');
    }
    return Own(json(std::move(s)));
  }
  if (name == "printf") {
    want(1, true);
    const std::string format = str(0);
    std::vector<json> rest;
    for (size_t i = 1; i < args.size(); ++i) {
      rest.push_back(J(args[i]));
    }
    std::string s = internal::GoSprintf(format, rest);
    if (s.size() > kMaxOutput) {
      ThrowInvalid("template: output exceeds 16 MiB");
    }
    return Own(json(std::move(s)));
  }
  // Docker's functions; in a table header each returns its first argument unchanged.
  if (name == "json") {
    want(1);
    if (header) {
      return args[0];
    }
    return Own(json(internal::GoJson(J(args[0]))));
  }
  if (name == "upper" || name == "lower" || name == "title") {
    want(1);
    std::string s = str(0);
    if (header) {
      return Own(json(s));
    }
    bool word_start = true;
    for (char& c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (name == "upper" || (name == "title" && word_start)) {
        c = static_cast<char>(std::toupper(u));
      } else if (name == "lower") {
        c = static_cast<char>(std::tolower(u));
      }
      // strings.Title: letters, digits, '_' and non-ASCII continue a word.
      word_start = !(std::isalnum(u) || u == '_' || u == '\'' || u >= 0x80);
    }
    return Own(json(std::move(s)));
  }
  if (name == "split") {
    want(2);
    const std::string s = str(0);
    const std::string sep = str(1);
    if (header) {
      return Own(json(s));
    }
    json parts = json::array();
    if (sep.empty()) {
      for (size_t i = 0; i < s.size();) {
        size_t len = 1;
        while (i + len < s.size() && (static_cast<unsigned char>(s[i + len]) & 0xC0) == 0x80 &&
               len < 4) {
          ++len;
        }
        parts.push_back(s.substr(i, len));
        i += len;
      }
    } else {
      size_t start = 0;
      for (size_t p; (p = s.find(sep, start)) != std::string::npos; start = p + sep.size()) {
        parts.push_back(s.substr(start, p - start));
      }
      parts.push_back(s.substr(start));
    }
    return Own(std::move(parts));
  }
  if (name == "join") {
    want(2);
    const json& list = J(args[0]);
    const std::string sep = str(1);
    if (header) {
      return args[0];
    }
    if (!list.is_array()) {
      At(cmd_pos, cmd_ctx);
      Errorf("wrong type for value; expected []string; got " +
             (list.is_null() ? std::string("<nil>") : internal::GoTypeName(list)));
    }
    std::string s;
    for (size_t i = 0; i < list.size(); ++i) {
      if (i > 0) {
        s += sep;
      }
      s += internal::GoPrint(list[i]);
      if (s.size() > kMaxOutput) {
        ThrowInvalid("template: output exceeds 16 MiB");
      }
    }
    return Own(json(std::move(s)));
  }
  if (name == "pad") {
    want(3);
    const std::string s = str(0);
    const int64_t prefix = integer(1);
    const int64_t suffix = integer(2);
    if (header || s.empty()) {
      return Own(json(s));
    }
    if (prefix < 0 || suffix < 0) {
      fail("strings: negative Repeat count");
    }
    if (static_cast<uint64_t>(prefix) + static_cast<uint64_t>(suffix) > kMaxOutput) {
      ThrowInvalid("template: output exceeds 16 MiB");
    }
    return Own(json(std::string(static_cast<size_t>(prefix), ' ') + s +
                    std::string(static_cast<size_t>(suffix), ' ')));
  }
  if (name == "truncate") {
    want(2);
    const std::string s = str(0);
    const int64_t length = integer(1);
    if (header || static_cast<int64_t>(s.size()) < length) {
      return Own(json(s));
    }
    if (length < 0) {
      fail("runtime error: slice bounds out of range [:" + std::to_string(length) + "]");
    }
    return Own(json(s.substr(0, static_cast<size_t>(length))));
  }
  Errorf("function " + name + " not defined");
}

}  // namespace

std::string Template::Execute(const nlohmann::json& dot, const ExecuteOptions& options) const {
  std::string out;
  Exec(*tree_, options, out).Run(dot);
  return out;
}

std::string Template::ExecutePartial(const nlohmann::json& dot,
                                     const ExecuteOptions& options) const {
  std::string out;
  try {
    Exec(*tree_, options, out).Run(dot);
  } catch (const Error&) {
  }
  return out;
}

}  // namespace berth::cli

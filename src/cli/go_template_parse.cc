// Lexer and parser of cli/go_template.h: a transcription of Go's text/template/parse lex.go
// and parse.go for the supported subset, keeping Go's error messages.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>

#include "base/error.h"
#include "cli/go_template_internal.h"

namespace berth::cli {
namespace {

using internal::Command;
using internal::kMaxDepth;
using internal::Node;
using internal::Operand;
using internal::Pipe;

enum class Tok {
  kError,
  kEof,
  kText,
  kLeftDelim,
  kRightDelim,
  kSpace,
  kAssign,
  kDeclare,
  kPipe,
  kString,
  kRawString,
  kCharConstant,
  kNumber,
  kVariable,
  kField,
  kDot,
  kIdentifier,
  kBool,
  kNil,
  kLeftParen,
  kRightParen,
  kChar,
  // keywords
  kBlock,
  kBreak,
  kContinue,
  kDefine,
  kElse,
  kEnd,
  kIf,
  kRange,
  kTemplate,
  kWith,
};

struct Item {
  Tok tok;
  size_t pos;
  std::string val;
};

bool IsSpace(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
// unicode.IsLetter/IsDigit: any non-ASCII byte is taken as part of a letter.
bool IsAlnum(int c) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c >= 0x80;
}

std::string QuoteGo(std::string_view s);

class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  std::vector<Item> Run() {
    while (!done_) {
      if (inside_) {
        LexInsideAction();
      } else {
        LexText();
      }
    }
    return std::move(items_);
  }

 private:
  int Peek(size_t off = 0) const {
    return pos_ + off < in_.size() ? static_cast<unsigned char>(in_[pos_ + off]) : -1;
  }
  bool HasPrefix(size_t at, std::string_view p) const {
    return at <= in_.size() && in_.substr(at).substr(0, p.size()) == p;
  }
  void Emit(Tok tok) {
    items_.push_back({tok, start_, std::string(in_.substr(start_, pos_ - start_))});
    start_ = pos_;
  }
  void Error(std::string msg) {
    items_.push_back({Tok::kError, start_, std::move(msg)});
    done_ = true;
  }
  bool HasLeftTrim(size_t at) const {
    return at + 1 < in_.size() && in_[at] == '-' && IsSpace(in_[at + 1]);
  }
  bool HasRightTrim(size_t at) const {
    return at + 1 < in_.size() && IsSpace(in_[at]) && in_[at + 1] == '-';
  }
  // (delim, trim)
  std::pair<bool, bool> AtRightDelim() const {
    if (HasRightTrim(pos_) && HasPrefix(pos_ + 2, "}}")) {
      return {true, true};
    }
    return {HasPrefix(pos_, "}}"), false};
  }
  void SkipLeadingSpace() {
    while (pos_ < in_.size() && IsSpace(in_[pos_])) {
      ++pos_;
    }
    start_ = pos_;
  }
  bool AtTerminator() const {
    const int c = Peek();
    if (IsSpace(c)) {
      return true;
    }
    switch (c) {
      case -1:
      case '.':
      case ',':
      case '|':
      case ':':
      case ')':
      case '(':
        return true;
      default:
        return HasPrefix(pos_, "}}");
    }
  }
  static std::string CharName(int c) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "U+%04X '%c'", c, c);
    return buf;
  }

  void LexText() {
    const size_t x = in_.find("{{", pos_);
    if (x == std::string_view::npos) {
      pos_ = in_.size();
      if (pos_ > start_) {
        Emit(Tok::kText);
      }
      Emit(Tok::kEof);
      done_ = true;
      return;
    }
    size_t text_end = x;
    if (HasLeftTrim(x + 2)) {
      while (text_end > start_ && IsSpace(in_[text_end - 1])) {
        --text_end;
      }
    }
    if (text_end > start_) {
      pos_ = text_end;
      Emit(Tok::kText);
    }
    pos_ = x;
    start_ = x;
    // lexLeftDelim
    pos_ += 2;
    const size_t after_marker = HasLeftTrim(pos_) ? 2 : 0;
    if (HasPrefix(pos_ + after_marker, "/*")) {
      pos_ += after_marker;
      start_ = pos_;
      LexComment();
      return;
    }
    Emit(Tok::kLeftDelim);
    pos_ += after_marker;
    start_ = pos_;
    inside_ = true;
    paren_depth_ = 0;
  }

  void LexComment() {
    pos_ += 2;
    const size_t x = in_.find("*/", pos_);
    if (x == std::string_view::npos) {
      return Error("unclosed comment");
    }
    pos_ = x + 2;
    const auto [delim, trim] = AtRightDelim();
    if (!delim) {
      return Error("comment ends before closing delimiter");
    }
    pos_ += (trim ? 2 : 0) + 2;
    start_ = pos_;
    if (trim) {
      SkipLeadingSpace();
    }
  }

  void LexRightDelim() {
    const auto [delim, trim] = AtRightDelim();
    (void)delim;
    if (trim) {
      pos_ += 2;
      start_ = pos_;
    }
    pos_ += 2;
    Emit(Tok::kRightDelim);
    if (trim) {
      SkipLeadingSpace();
    }
    inside_ = false;
  }

  void LexInsideAction() {
    if (AtRightDelim().first) {
      if (paren_depth_ == 0) {
        return LexRightDelim();
      }
      return Error("unclosed left paren");
    }
    const int c = Peek();
    if (c == -1) {
      return Error("unclosed action");
    }
    if (IsSpace(c)) {
      return LexSpace();
    }
    ++pos_;
    switch (c) {
      case '=':
        return Emit(Tok::kAssign);
      case ':':
        if (Peek() != '=') {
          return Error("expected :=");
        }
        ++pos_;
        return Emit(Tok::kDeclare);
      case '|':
        return Emit(Tok::kPipe);
      case '"':
        return LexQuote('"', Tok::kString, "unterminated quoted string");
      case '\'':
        return LexQuote('\'', Tok::kCharConstant, "unterminated character constant");
      case '`': {
        const size_t end = in_.find('`', pos_);
        if (end == std::string_view::npos) {
          return Error("unterminated raw quoted string");
        }
        pos_ = end + 1;
        return Emit(Tok::kRawString);
      }
      case '$':
        return LexFieldOrVariable(Tok::kVariable);
      case '(':
        ++paren_depth_;
        return Emit(Tok::kLeftParen);
      case ')':
        if (--paren_depth_ < 0) {
          return Error("unexpected right paren");
        }
        return Emit(Tok::kRightParen);
      default:
        break;
    }
    if (c == '.' && !(Peek() >= '0' && Peek() <= '9')) {
      return LexFieldOrVariable(Tok::kField);
    }
    if (c == '.' || c == '+' || c == '-' || (c >= '0' && c <= '9')) {
      --pos_;
      return LexNumber();
    }
    if (IsAlnum(c)) {
      --pos_;
      return LexIdentifier();
    }
    if (c < 0x80 && c >= 0x20 && c != 0x7f) {
      return Emit(Tok::kChar);
    }
    char buf[48];
    std::snprintf(buf, sizeof(buf), "U+%04X", c);
    return Error(std::string("unrecognized character in action: ") + buf);
  }

  void LexSpace() {
    size_t n = 0;
    while (IsSpace(Peek())) {
      ++pos_;
      ++n;
    }
    if (HasRightTrim(pos_ - 1) && HasPrefix(pos_ + 1, "}}")) {
      --pos_;
      if (n == 1) {
        return LexRightDelim();
      }
    }
    Emit(Tok::kSpace);
  }

  void LexQuote(char quote, Tok tok, const char* unterminated) {
    for (;;) {
      int c = Peek();
      ++pos_;
      if (c == '\\') {
        c = Peek();
        ++pos_;
        if (c != -1 && c != '\n') {
          continue;
        }
      }
      if (c == -1 || c == '\n') {
        return Error(unterminated);
      }
      if (c == quote) {
        return Emit(tok);
      }
    }
  }

  void LexFieldOrVariable(Tok tok) {
    if (AtTerminator()) {
      return Emit(tok == Tok::kVariable ? Tok::kVariable : Tok::kDot);
    }
    while (IsAlnum(Peek())) {
      ++pos_;
    }
    if (!AtTerminator()) {
      return Error("bad character " + CharName(Peek()));
    }
    Emit(tok);
  }

  void LexIdentifier() {
    while (IsAlnum(Peek())) {
      ++pos_;
    }
    if (!AtTerminator()) {
      return Error("bad character " + CharName(Peek()));
    }
    static const std::pair<std::string_view, Tok> kKeywords[] = {{"block", Tok::kBlock},
                                                                 {"break", Tok::kBreak},
                                                                 {"continue", Tok::kContinue},
                                                                 {"define", Tok::kDefine},
                                                                 {"else", Tok::kElse},
                                                                 {"end", Tok::kEnd},
                                                                 {"if", Tok::kIf},
                                                                 {"range", Tok::kRange},
                                                                 {"nil", Tok::kNil},
                                                                 {"template", Tok::kTemplate},
                                                                 {"with", Tok::kWith},
                                                                 {"true", Tok::kBool},
                                                                 {"false", Tok::kBool}};
    const std::string_view word = in_.substr(start_, pos_ - start_);
    for (const auto& [name, tok] : kKeywords) {
      if (word == name) {
        return Emit(tok);
      }
    }
    Emit(Tok::kIdentifier);
  }

  void LexNumber() {
    auto accept = [&](std::string_view valid) {
      if (Peek() != -1 && valid.find(static_cast<char>(Peek())) != std::string_view::npos) {
        ++pos_;
        return true;
      }
      return false;
    };
    auto accept_run = [&](std::string_view valid) {
      while (accept(valid)) {
      }
    };
    accept("+-");
    std::string_view digits = "0123456789_";
    if (accept("0")) {
      if (accept("xX")) {
        digits = "0123456789abcdefABCDEF_";
      } else if (accept("oO")) {
        digits = "01234567_";
      } else if (accept("bB")) {
        digits = "01_";
      }
    }
    accept_run(digits);
    if (accept(".")) {
      accept_run(digits);
    }
    if (digits.size() == 11 && accept("eE")) {
      accept("+-");
      accept_run("0123456789_");
    }
    if (digits.size() == 23 && accept("pP")) {
      accept("+-");
      accept_run("0123456789_");
    }
    accept("i");
    if (IsAlnum(Peek())) {
      ++pos_;
      return Error("bad number syntax: " + QuoteGo(in_.substr(start_, pos_ - start_)));
    }
    Emit(Tok::kNumber);
  }

  std::string_view in_;
  size_t pos_ = 0;
  size_t start_ = 0;
  bool inside_ = false;
  bool done_ = false;
  int paren_depth_ = 0;
  std::vector<Item> items_;
};

// strconv.Quote for the ASCII-printable text parse errors show; other bytes as \x escapes.
std::string QuoteGo(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
  return out;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    cp = 0xFFFD;
  }
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// strconv.Unquote of a "..." or '...' body; false on invalid syntax. A single quote may not be
// escaped in a string, nor a double quote in a character constant.
bool Unquote(std::string_view body, char quote, std::string& out) {
  for (size_t i = 0; i < body.size();) {
    const char c = body[i++];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (i >= body.size()) {
      return false;
    }
    const char e = body[i++];
    auto hex = [&](size_t n) -> bool {
      if (i + n > body.size()) {
        return false;
      }
      uint32_t v = 0;
      for (size_t k = 0; k < n; ++k) {
        const char h = body[i + k];
        const int d = h >= '0' && h <= '9'   ? h - '0'
                      : h >= 'a' && h <= 'f' ? h - 'a' + 10
                      : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                             : -1;
        if (d < 0) {
          return false;
        }
        v = v * 16 + static_cast<uint32_t>(d);
      }
      i += n;
      if (n == 2) {
        out.push_back(static_cast<char>(v));
        return true;
      }
      if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        return false;
      }
      AppendUtf8(out, v);
      return true;
    };
    switch (e) {
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case 'x':
        if (!hex(2)) {
          return false;
        }
        break;
      case 'u':
        if (!hex(4)) {
          return false;
        }
        break;
      case 'U':
        if (!hex(8)) {
          return false;
        }
        break;
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7': {
        if (i + 2 > body.size()) {
          return false;
        }
        uint32_t v = static_cast<uint32_t>(e - '0');
        for (size_t k = 0; k < 2; ++k) {
          const char o = body[i + k];
          if (o < '0' || o > '7') {
            return false;
          }
          v = v * 8 + static_cast<uint32_t>(o - '0');
        }
        if (v > 255) {
          return false;
        }
        i += 2;
        out.push_back(static_cast<char>(v));
        break;
      }
      default:
        if (e != quote) {
          return false;
        }
        out.push_back(e);
    }
  }
  return true;
}

class Parser {
 public:
  Parser(std::string_view text, std::vector<Item> items) : text_(text), items_(std::move(items)) {
    vars_.push_back("$");
  }

  std::vector<Node> Parse() {
    std::vector<Node> root;
    while (PeekTok() != Tok::kEof) {
      Node n;
      const NodeEnd end = TextOrAction(n);
      if (end != NodeEnd::kNone) {
        Errorf(std::string("unexpected ") + (end == NodeEnd::kEnd ? "{{end}}" : "{{else}}"));
      }
      root.push_back(std::move(n));
    }
    return root;
  }

 private:
  enum class NodeEnd { kNone, kEnd, kElse };

  // --- token stream (Go's next/backup/peek over a fully lexed item list) ---
  const Item& Next() {
    cur_ = std::min(next_, items_.size() - 1);
    next_ = cur_ + 1;
    return items_[cur_];
  }
  void Backup() { next_ = cur_; }
  const Item& PeekItem() const { return items_[std::min(next_, items_.size() - 1)]; }
  Tok PeekTok() const { return PeekItem().tok; }
  const Item& NextNonSpace() {
    const Item* it = &Next();
    while (it->tok == Tok::kSpace) {
      it = &Next();
    }
    return *it;
  }
  const Item& PeekNonSpace() {
    const Item& it = NextNonSpace();
    Backup();
    return it;
  }

  size_t LineOf(size_t pos) const {
    return 1 + static_cast<size_t>(
                   std::count(text_.begin(), text_.begin() + std::min(pos, text_.size()), '\n'));
  }
  [[noreturn]] void Errorf(const std::string& msg) {
    ThrowInvalid("template: :" + std::to_string(LineOf(items_[cur_].pos)) + ": " + msg);
  }
  static std::string Describe(const Item& it) {
    switch (it.tok) {
      case Tok::kEof:
        return "EOF";
      case Tok::kError:
        return it.val;
      case Tok::kBlock:
      case Tok::kBreak:
      case Tok::kContinue:
      case Tok::kDefine:
      case Tok::kElse:
      case Tok::kEnd:
      case Tok::kIf:
      case Tok::kRange:
      case Tok::kTemplate:
      case Tok::kWith:
      case Tok::kNil:
        return "<" + it.val + ">";
      default:
        break;
    }
    if (it.val.size() > 10) {
      // fmt "%.10q...": the first ten bytes, quoted.
      return QuoteGo(it.val.substr(0, 10)) + "...";
    }
    return QuoteGo(it.val);
  }
  [[noreturn]] void Unexpected(const Item& it, std::string_view context) {
    if (it.tok == Tok::kError) {
      Errorf(it.val);
    }
    Errorf("unexpected " + Describe(it) + " in " + std::string(context));
  }
  const Item& Expect(Tok tok, std::string_view context) {
    const Item& it = NextNonSpace();
    if (it.tok != tok) {
      Unexpected(it, context);
    }
    return it;
  }
  void Enter() {
    if (++depth_ > kMaxDepth) {
      Errorf("max expression depth exceeded");
    }
  }

  NodeEnd TextOrAction(Node& out) {
    const Item& it = NextNonSpace();
    if (it.tok == Tok::kText) {
      out.kind = Node::Kind::kText;
      out.pos = it.pos;
      out.text = it.val;
      return NodeEnd::kNone;
    }
    if (it.tok == Tok::kLeftDelim) {
      return Action(out);
    }
    Unexpected(it, "input");
  }

  NodeEnd Action(Node& out) {
    const Item& it = NextNonSpace();
    switch (it.tok) {
      case Tok::kBlock:
      case Tok::kDefine:
      case Tok::kTemplate:
        Errorf("{{" + it.val + "}} is not supported");
      case Tok::kBreak:
      case Tok::kContinue: {
        const bool is_break = it.tok == Tok::kBreak;
        const size_t pos = it.pos;
        const Item& close = NextNonSpace();
        const std::string what = is_break ? "{{break}}" : "{{continue}}";
        if (close.tok != Tok::kRightDelim) {
          Unexpected(close, what);
        }
        if (range_depth_ == 0) {
          Errorf(what + " outside {{range}}");
        }
        out.kind = is_break ? Node::Kind::kBreak : Node::Kind::kContinue;
        out.pos = pos;
        return NodeEnd::kNone;
      }
      case Tok::kElse: {
        const Item& peek = PeekNonSpace();
        if (peek.tok != Tok::kIf && peek.tok != Tok::kWith) {
          Expect(Tok::kRightDelim, "else");
        }
        return NodeEnd::kElse;
      }
      case Tok::kEnd:
        Expect(Tok::kRightDelim, "end");
        return NodeEnd::kEnd;
      case Tok::kIf:
        Control(out, Node::Kind::kIf, "if");
        return NodeEnd::kNone;
      case Tok::kRange:
        Control(out, Node::Kind::kRange, "range");
        return NodeEnd::kNone;
      case Tok::kWith:
        Control(out, Node::Kind::kWith, "with");
        return NodeEnd::kNone;
      default:
        break;
    }
    Backup();
    out.kind = Node::Kind::kAction;
    out.pos = PeekItem().pos;
    out.pipe = ParsePipeline("command", Tok::kRightDelim);
    return NodeEnd::kNone;
  }

  // Returns the nodes up to {{end}} or {{else}}, and which one ended them.
  NodeEnd ItemList(std::vector<Node>& list) {
    while (PeekNonSpace().tok != Tok::kEof) {
      Node n;
      const NodeEnd end = TextOrAction(n);
      if (end != NodeEnd::kNone) {
        return end;
      }
      list.push_back(std::move(n));
    }
    Errorf("unexpected EOF");
  }

  void Control(Node& out, Node::Kind kind, std::string_view context) {
    Enter();
    const size_t var_mark = vars_.size();
    out.kind = kind;
    out.pos = items_[cur_].pos;
    out.pipe = ParsePipeline(context, Tok::kRightDelim);
    if (kind == Node::Kind::kRange) {
      ++range_depth_;
    }
    NodeEnd end = ItemList(out.list);
    if (kind == Node::Kind::kRange) {
      --range_depth_;
    }
    if (end == NodeEnd::kElse) {
      const Tok peek = PeekNonSpace().tok;
      if ((kind == Node::Kind::kIf && peek == Tok::kIf) ||
          (kind == Node::Kind::kWith && peek == Tok::kWith)) {
        // "{{else if ...}}" is "{{else}}{{if ...}}...{{end}}{{end}}" with one shared {{end}}.
        NextNonSpace();
        Node nested;
        Control(nested, kind, context);
        out.else_list.push_back(std::move(nested));
      } else {
        end = ItemList(out.else_list);
        if (end != NodeEnd::kEnd) {
          Errorf("expected end; found {{else}}");
        }
      }
    }
    vars_.resize(var_mark);
    --depth_;
  }

  std::shared_ptr<Pipe> ParsePipeline(std::string_view context, Tok end) {
    auto pipe = std::make_shared<Pipe>();
    pipe->pos = PeekNonSpace().pos;
    for (;;) {
      const Item& v = PeekNonSpace();
      if (v.tok != Tok::kVariable) {
        break;
      }
      NextNonSpace();
      const size_t var_index = cur_;
      const Tok after = PeekTok();
      const Item& next = PeekNonSpace();
      if (next.tok == Tok::kAssign || next.tok == Tok::kDeclare) {
        pipe->is_assign = next.tok == Tok::kAssign;
        NextNonSpace();
        pipe->decl.push_back(items_[var_index].val);
        vars_.push_back(items_[var_index].val);
        break;
      }
      if (next.tok == Tok::kChar && next.val == ",") {
        NextNonSpace();
        pipe->decl.push_back(items_[var_index].val);
        vars_.push_back(items_[var_index].val);
        if (context == "range" && pipe->decl.size() < 2) {
          const Tok t = PeekNonSpace().tok;
          if (t == Tok::kVariable || t == Tok::kRightDelim || t == Tok::kRightParen) {
            continue;
          }
          Errorf("range can only initialize variables");
        }
        Errorf("too many declarations in " + std::string(context));
      }
      // Not a declaration: put the variable back.
      (void)after;
      next_ = var_index;
      break;
    }
    for (;;) {
      const Item& it = NextNonSpace();
      if (it.tok == end) {
        if (pipe->cmds.empty()) {
          Errorf("missing value for " + std::string(context));
        }
        for (size_t i = 1; i < pipe->cmds.size(); ++i) {
          switch (pipe->cmds[i].args[0].kind) {
            case Operand::Kind::kBool:
            case Operand::Kind::kDot:
            case Operand::Kind::kNil:
            case Operand::Kind::kNumber:
            case Operand::Kind::kString:
              Errorf("non executable command in pipeline stage " + std::to_string(i + 1));
            default:
              break;
          }
        }
        return pipe;
      }
      switch (it.tok) {
        case Tok::kBool:
        case Tok::kCharConstant:
        case Tok::kDot:
        case Tok::kField:
        case Tok::kIdentifier:
        case Tok::kNumber:
        case Tok::kNil:
        case Tok::kRawString:
        case Tok::kString:
        case Tok::kVariable:
        case Tok::kLeftParen:
          Backup();
          pipe->cmds.push_back(ParseCommand());
          break;
        default:
          Unexpected(it, context);
      }
    }
  }

  Command ParseCommand() {
    Command cmd;
    cmd.pos = PeekNonSpace().pos;
    for (;;) {
      PeekNonSpace();
      Operand op;
      if (ParseOperand(op)) {
        cmd.args.push_back(std::move(op));
      }
      const Item& it = Next();
      if (it.tok == Tok::kSpace) {
        continue;
      }
      if (it.tok == Tok::kRightDelim || it.tok == Tok::kRightParen) {
        Backup();
      } else if (it.tok != Tok::kPipe) {
        Unexpected(it, "operand");
      }
      break;
    }
    if (cmd.args.empty()) {
      Errorf("empty command");
    }
    return cmd;
  }

  bool ParseOperand(Operand& op) {
    if (!ParseTerm(op)) {
      return false;
    }
    if (PeekTok() == Tok::kField) {
      const size_t chain_pos = PeekItem().pos;
      std::vector<std::string> more;
      while (PeekTok() == Tok::kField) {
        const std::string& f = Next().val;
        more.push_back(f.substr(1));
      }
      switch (op.kind) {
        case Operand::Kind::kField:
        case Operand::Kind::kVariable:
        case Operand::Kind::kPipe:
          break;
        default:
          Errorf("unexpected . after term " + QuoteGo(internal::OperandString(op)));
      }
      op.fields.insert(op.fields.end(), more.begin(), more.end());
      op.pos = chain_pos;
    }
    return true;
  }

  bool ParseTerm(Operand& op) {
    const Item& it = NextNonSpace();
    op.pos = it.pos;
    op.text = it.val;
    switch (it.tok) {
      case Tok::kIdentifier:
        if (!IsFunction(it.val)) {
          Errorf("function " + QuoteGo(it.val) + " not defined");
        }
        op.kind = Operand::Kind::kFunction;
        return true;
      case Tok::kDot:
        op.kind = Operand::Kind::kDot;
        return true;
      case Tok::kNil:
        op.kind = Operand::Kind::kNil;
        return true;
      case Tok::kVariable: {
        if (std::find(vars_.rbegin(), vars_.rend(), it.val) == vars_.rend()) {
          Errorf("undefined variable " + QuoteGo(it.val));
        }
        op.kind = Operand::Kind::kVariable;
        return true;
      }
      case Tok::kField:
        op.kind = Operand::Kind::kField;
        op.fields.push_back(it.val.substr(1));
        return true;
      case Tok::kBool:
        op.kind = Operand::Kind::kBool;
        op.boolean = it.val == "true";
        return true;
      case Tok::kNumber:
      case Tok::kCharConstant:
        op.kind = Operand::Kind::kNumber;
        ParseNumber(it, op);
        return true;
      case Tok::kLeftParen: {
        Enter();
        op.kind = Operand::Kind::kPipe;
        op.pipe = ParsePipeline("parenthesized pipeline", Tok::kRightParen);
        --depth_;
        return true;
      }
      case Tok::kString:
      case Tok::kRawString:
        op.kind = Operand::Kind::kString;
        if (it.tok == Tok::kRawString) {
          for (char c : std::string_view(it.val).substr(1, it.val.size() - 2)) {
            if (c != '\r') {
              op.str.push_back(c);
            }
          }
        } else if (!Unquote(std::string_view(it.val).substr(1, it.val.size() - 2), '"', op.str)) {
          Errorf("invalid syntax");
        }
        return true;
      default:
        Backup();
        return false;
    }
  }

  void ParseNumber(const Item& it, Operand& op) {
    if (it.tok == Tok::kCharConstant) {
      std::string s;
      if (!Unquote(std::string_view(it.val).substr(1, it.val.size() - 2), '\'', s) || s.empty()) {
        Errorf("invalid syntax");
      }
      // One rune: decode it.
      const auto c0 = static_cast<unsigned char>(s[0]);
      const size_t len = c0 < 0x80 ? 1 : (c0 >> 5) == 6 ? 2 : (c0 >> 4) == 14 ? 3 : 4;
      if (s.size() != len) {
        Errorf("malformed character constant: " + it.val);
      }
      uint32_t cp = len == 1 ? c0 : c0 & (0x7F >> len);
      for (size_t k = 1; k < len; ++k) {
        cp = (cp << 6) | (static_cast<unsigned char>(s[k]) & 0x3F);
      }
      op.integer = cp;
      op.floating = cp;
      return;
    }
    const std::string& text = it.val;
    std::string clean;
    for (char c : text) {
      if (c != '_') {
        clean.push_back(c);
      }
    }
    const bool hex = clean.find("0x") != std::string::npos || clean.find("0X") != std::string::npos;
    op.is_float = clean.find_first_of(hex ? ".pP" : ".eEpP") != std::string::npos;
    const auto illegal = [&]() { Errorf("illegal number syntax: " + QuoteGo(text)); };
    if (clean.empty() || clean.back() == 'i' || clean.find("__") != std::string::npos) {
      illegal();
    }
    if (op.is_float) {
      char* end = nullptr;
      op.floating = std::strtod(clean.c_str(), &end);
      if (end == clean.c_str() || *end != '\0') {
        illegal();
      }
      return;
    }
    size_t i = 0;
    const bool neg = clean[0] == '-';
    if (clean[0] == '+' || clean[0] == '-') {
      i = 1;
    }
    int base = 10;
    if (clean.size() > i + 1 && clean[i] == '0') {
      const char p = clean[i + 1];
      if (p == 'x' || p == 'X') {
        base = 16;
        i += 2;
      } else if (p == 'o' || p == 'O') {
        base = 8;
        i += 2;
      } else if (p == 'b' || p == 'B') {
        base = 2;
        i += 2;
      } else {
        base = 8;
        i += 1;
      }
    }
    const std::string digits = clean.substr(i);
    if (digits.empty() || digits[0] == '+' || digits[0] == '-') {
      illegal();
    }
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(digits.c_str(), &end, base);
    if (*end != '\0') {
      illegal();
    }
    if (errno == ERANGE || v > (neg ? 0x8000000000000000ULL : 0x7fffffffffffffffULL)) {
      Errorf(text + " overflows int");
    }
    op.integer = neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
    op.floating = static_cast<double>(op.integer);
  }

  static bool IsFunction(std::string_view name) {
    static const std::set<std::string_view> kFunctions = {
        "and",  "or",    "not",   "len",   "index", "slice",    "eq",      "ne",
        "lt",   "le",    "gt",    "ge",    "print", "printf",   "println", "json",
        "join", "split", "upper", "lower", "title", "truncate", "pad"};
    return kFunctions.count(name) != 0;
  }

  std::string_view text_;
  std::vector<Item> items_;
  size_t next_ = 0;
  size_t cur_ = 0;
  int depth_ = 0;
  int range_depth_ = 0;
  std::vector<std::string> vars_;
};

void CollectFields(const std::vector<Node>& nodes, std::vector<std::string>& out);

void CollectPipe(const Pipe* pipe, std::vector<std::string>& out) {
  if (pipe == nullptr) {
    return;
  }
  for (const Command& cmd : pipe->cmds) {
    for (const Operand& op : cmd.args) {
      if (op.kind == Operand::Kind::kField &&
          std::find(out.begin(), out.end(), op.fields[0]) == out.end()) {
        out.push_back(op.fields[0]);
      }
      CollectPipe(op.pipe.get(), out);
    }
  }
}

void CollectFields(const std::vector<Node>& nodes, std::vector<std::string>& out) {
  for (const Node& n : nodes) {
    CollectPipe(n.pipe.get(), out);
    CollectFields(n.list, out);
    CollectFields(n.else_list, out);
  }
}

}  // namespace

namespace internal {

std::string OperandString(const Operand& op) {
  std::string s;
  switch (op.kind) {
    case Operand::Kind::kDot:
      return ".";
    case Operand::Kind::kNil:
      return "nil";
    case Operand::Kind::kBool:
      return op.boolean ? "true" : "false";
    case Operand::Kind::kNumber:
    case Operand::Kind::kString:
    case Operand::Kind::kFunction:
      return op.text;
    case Operand::Kind::kField:
      break;
    case Operand::Kind::kVariable:
      s = op.text;
      break;
    case Operand::Kind::kPipe:
      s = "(" + PipeString(*op.pipe) + ")";
      break;
  }
  for (const std::string& f : op.fields) {
    s += "." + f;
  }
  return s;
}

std::string CommandString(const Command& cmd) {
  std::string s;
  for (size_t i = 0; i < cmd.args.size(); ++i) {
    if (i > 0) {
      s += " ";
    }
    s += OperandString(cmd.args[i]);
  }
  return s;
}

std::string PipeString(const Pipe& pipe) {
  std::string s;
  for (size_t i = 0; i < pipe.decl.size(); ++i) {
    s += (i > 0 ? ", " : "") + pipe.decl[i];
  }
  if (!pipe.decl.empty()) {
    s += pipe.is_assign ? " = " : " := ";
  }
  for (size_t i = 0; i < pipe.cmds.size(); ++i) {
    s += (i > 0 ? " | " : "") + CommandString(pipe.cmds[i]);
  }
  return s;
}

}  // namespace internal

Template Template::Parse(std::string_view text) {
  auto tree = std::make_shared<Tree>();
  tree->text = std::string(text);
  Parser parser(tree->text, Lexer(tree->text).Run());
  tree->root = parser.Parse();
  return Template(std::move(tree));
}

std::vector<std::string> Template::FieldNames() const {
  std::vector<std::string> out;
  CollectFields(tree_->root, out);
  return out;
}

}  // namespace berth::cli

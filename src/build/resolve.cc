#include "build/resolve.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "build/parse_internal.h"
#include "build/shell_lex.h"

namespace berth::build {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "/a/./b/../c/" -> "/a/c".
std::string CleanAbs(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    std::string part = path.substr(i, slash == std::string::npos ? std::string::npos : slash - i);
    i = slash == std::string::npos ? path.size() + 1 : slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (const std::string& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

bool ValidPort(const std::string& spec) {
  std::string port = spec;
  size_t slash = spec.find('/');
  if (slash != std::string::npos) {
    std::string proto = Lower(spec.substr(slash + 1));
    if (proto != "tcp" && proto != "udp" && proto != "sctp") return false;
    port = spec.substr(0, slash);
  }
  auto number = [](const std::string& p) {
    if (p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), ::isdigit)) return -1;
    int v = std::stoi(p);
    return v <= 65535 ? v : -1;
  };
  size_t dash = port.find('-');
  if (dash == std::string::npos) return number(port) >= 0;
  int lo = number(port.substr(0, dash)), hi = number(port.substr(dash + 1));
  return lo >= 0 && hi >= lo;
}

// The variables of the stage being resolved; every assignment also goes to the stage's log.
class StageScope {
 public:
  explicit StageScope(std::shared_ptr<StageLog> log) : log_(std::move(log)) {}

  std::map<std::string, std::string> env;
  std::map<std::string, std::string> args;
  std::set<std::string> declared_args;

  std::optional<std::string> Get(std::string_view name) const {
    auto e = env.find(std::string(name));
    if (e != env.end()) return e->second;
    auto a = args.find(std::string(name));
    if (a != args.end()) return a->second;
    return std::nullopt;
  }
  void SetEnv(const std::string& key, const std::string& value) {
    env[key] = value;
    log_->env.emplace_back(key, value);
  }
  void SetArg(const std::string& key, const std::string& value) {
    args[key] = value;
    log_->args.emplace_back(key, value);
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> out;
    for (const auto& kv : env) out.push_back(kv.first);
    for (const auto& kv : args) out.push_back(kv.first);
    return out;
  }

 private:
  std::shared_ptr<StageLog> log_;
};

class Resolver {
 public:
  Resolver(const Dockerfile& df, const ResolveOptions& opts)
      : df_(df), opts_(opts), lex_(df.directives.escape) {}

  ResolvedBuild Run() {
    out_.file = df_.file;
    out_.escape = df_.directives.escape;
    out_.warnings = df_.warnings;
    PlatformArgs();
    Globals();
    for (const Stage& st : df_.stages) {
      DoStage(st);
    }
    for (const auto& kv : opts_.build_args) {
      const auto& proxy = PredefinedProxyArgs();
      if (!consumed_.count(kv.first) &&
          std::find(proxy.begin(), proxy.end(), kv.first) == proxy.end()) {
        out_.unused_build_args.push_back(kv.first);
      }
    }
    const CheckDirective& check = df_.directives.check;
    if (check.skip.count("all")) {
      out_.warnings.clear();
    } else {
      std::erase_if(out_.warnings,
                    [&](const Diagnostic& d) { return check.skip.count(d.rule) != 0; });
    }
    if (check.error && !out_.warnings.empty()) {
      const Diagnostic& d = out_.warnings.front();
      throw SyntaxError(df_.file, d.pos,
                        d.rule + ": " + d.message + " (the Dockerfile sets check=error=true)");
    }
    return std::move(out_);
  }

 private:
  void PlatformArgs() {
    const Platform& t = opts_.target;
    const Platform& b = opts_.build;
    platform_ = {{"TARGETPLATFORM", t.String()}, {"TARGETOS", t.os},
                 {"TARGETARCH", t.arch},         {"TARGETVARIANT", t.variant},
                 {"BUILDPLATFORM", b.String()},  {"BUILDOS", b.os},
                 {"BUILDARCH", b.arch},          {"BUILDVARIANT", b.variant}};
  }

  Lookup GlobalLookup() const {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto g = global_.find(std::string(name));
      if (g != global_.end()) return g->second;
      auto p = platform_.find(std::string(name));
      if (p != platform_.end()) return p->second;
      return std::nullopt;
    };
  }

  std::string Expand(const Instruction& inst, Position pos, const std::string& word,
                     const Lookup& env, ExpandStats& stats) {
    try {
      return lex_.ProcessWord(word, env, &stats);
    } catch (const SyntaxError&) {
      throw;
    } catch (const Error& e) {
      throw SyntaxError(df_.file, pos.line != 0 ? pos : inst.pos,
                        std::string(CommandName(inst.command)) + ": " + e.what());
    }
  }

  // An ARG's value in a stage: --build-arg, else its default, else (without a default) the
  // global ARG's or the platform ARG's value.
  std::optional<std::string> ArgValue(const std::string& key, const std::optional<std::string>& def,
                                      bool has_default) {
    auto ba = opts_.build_args.find(key);
    if (ba != opts_.build_args.end()) {
      consumed_.insert(key);
      return ba->second;
    }
    if (has_default) return def;
    auto g = global_.find(key);
    if (g != global_.end()) return g->second;
    auto p = platform_.find(key);
    if (p != platform_.end()) return p->second;
    return std::nullopt;
  }

  void Globals() {
    // Global ARGs are declared pair by pair (unlike a stage's ARG line), and a --build-arg
    // replaces a default without substituting it, as in BuildKit.
    for (const Instruction& inst : df_.global_args) {
      ExpandStats stats;
      for (const KeyValue& kv : inst.pairs) {
        std::optional<std::string> value;
        auto ba = opts_.build_args.find(kv.key);
        if (ba != opts_.build_args.end()) {
          value = ba->second;
          consumed_.insert(kv.key);
        } else if (kv.has_value) {
          value = Expand(inst, kv.pos, kv.value, GlobalLookup(), stats);
        }
        global_declared_.insert(kv.key);
        if (value) {
          global_[kv.key] = *value;
        } else {
          global_.erase(kv.key);
        }
      }
      std::erase_if(stats.unmatched,
                    [&](const std::string& n) { return global_declared_.count(n) != 0; });
      Warn(inst, stats, nullptr, -1);
    }
  }

  void Warn(const Instruction& inst, const ExpandStats& stats, const Stage* stage, int at,
            const StageScope* scope = nullptr) {
    for (const std::string& name : stats.unmatched) {
      std::string msg = "Usage of undefined variable '$" + name + "'";
      // A likely typo: the closest name in scope, within 2 edits (1 for short names).
      std::vector<std::string> known;
      if (scope != nullptr) {
        known = scope->Names();
      } else {
        for (const auto& kv : global_) known.push_back(kv.first);
      }
      std::string hint;
      size_t best = name.size() < 3 ? 0 : name.size() <= 4 ? 2 : 3;
      for (const std::string& k : known) {
        size_t d = internal::EditDistance(name, k);
        if (d < best) {
          best = d;
          hint = k;
        }
      }
      std::optional<int> later;
      if (stage != nullptr) {
        for (size_t k = static_cast<size_t>(at) + 1; k < stage->commands.size(); ++k) {
          const Instruction& c = stage->commands[k];
          if (c.command != Command::kArg) continue;
          for (const KeyValue& kv : c.pairs) {
            if (kv.key == name && !later) later = c.pos.line;
          }
        }
      }
      if (later) {
        msg += " (ARG " + name + " is declared later, on line " + std::to_string(*later) +
               "; a variable is empty before its ARG)";
      } else if (stage != nullptr && global_declared_.count(name) != 0) {
        msg += " (the global ARG " + name + " is only visible in FROM lines: add `ARG " + name +
               "` to this stage)";
      } else if (!hint.empty()) {
        msg += " (did you mean $" + hint + "?)";
      }
      out_.warnings.push_back({"UndefinedVar", inst.pos, msg});
    }
  }

  void DoStage(const Stage& st) {
    ResolvedStage rs;
    rs.index = st.index;
    rs.name = st.name;
    rs.pos = st.from.pos;
    const Instruction& from = st.from;
    ExpandStats fstats;
    rs.base = Expand(from, from.arg_pos.empty() ? from.pos : from.arg_pos[0], from.image,
                     GlobalLookup(), fstats);
    if (const Flag* p = from.FindFlag("platform")) {
      rs.platform = Expand(from, p->pos, p->value, GlobalLookup(), fstats);
    }
    if (rs.base.empty()) {
      throw SyntaxError(df_.file, from.pos, "base name (" + from.image + ") should not be blank");
    }
    std::erase_if(fstats.unmatched,
                  [&](const std::string& n) { return global_declared_.count(n) != 0; });
    Warn(from, fstats, nullptr, -1);
    auto log = std::make_shared<StageLog>();
    StageScope scope(log);
    auto workdir = std::make_shared<const std::string>("/");
    auto shell =
        std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"/bin/sh", "-c"});
    std::vector<std::string> base_env;
    std::string lowered = Lower(rs.base);
    for (const ResolvedStage& prev : out_.stages) {
      if (!prev.name.empty() && prev.name == lowered) {
        rs.base_stage = prev.index;
        base_env = final_env_[static_cast<size_t>(prev.index)];
        workdir = final_workdir_[static_cast<size_t>(prev.index)];
        shell = final_shell_[static_cast<size_t>(prev.index)];
      }
    }
    if (!rs.base_stage && opts_.image_env) {
      if (auto env = opts_.image_env(rs.base)) base_env = *env;
    }
    for (const std::string& e : base_env) {
      size_t eq = e.find('=');
      scope.SetEnv(e.substr(0, eq), eq == std::string::npos ? "" : e.substr(eq + 1));
    }
    Lookup env = [&scope](std::string_view name) { return scope.Get(name); };

    for (size_t k = 0; k < st.commands.size(); ++k) {
      const Instruction& src = st.commands[k];
      ResolvedStep step;
      std::vector<std::pair<std::string, std::string>> pending_env;
      std::vector<std::pair<std::string, std::optional<std::string>>> pending_args;
      step.inst = src;
      Instruction& inst = step.inst;
      ExpandStats stats;
      switch (inst.command) {
        case Command::kEnv:
        case Command::kLabel: {
          for (KeyValue& kv : inst.pairs) {
            kv.key = Expand(inst, kv.pos, kv.key, env, stats);
            kv.value = Expand(inst, kv.pos, kv.value, env, stats);
            if (kv.key.empty()) {
              throw SyntaxError(df_.file, kv.pos,
                                std::string(CommandName(inst.command)) + " names can not be blank");
            }
          }
          if (inst.command == Command::kEnv) {
            // Applied after the warnings, which look for typos among the names before it.
            for (const KeyValue& kv : inst.pairs) pending_env.emplace_back(kv.key, kv.value);
          }
          break;
        }
        case Command::kArg:
          // Like ENV, every default on the line sees the variables before the line.
          for (KeyValue& kv : inst.pairs) {
            std::optional<std::string> value;
            kv.key = Expand(inst, kv.pos, kv.key, env, stats);
            if (kv.has_value) {
              kv.value = Expand(inst, kv.pos, kv.value, env, stats);
              value = kv.value;
            }
            pending_args.emplace_back(kv.key, ArgValue(kv.key, value, kv.has_value));
          }
          break;
        case Command::kAdd:
        case Command::kCopy:
          for (size_t a = 0; a < inst.args.size(); ++a) {
            Position pos = a < inst.arg_pos.size() ? inst.arg_pos[a] : inst.pos;
            inst.args[a] = Expand(inst, pos, inst.args[a], env, stats);
          }
          // Heredoc files are written by the builder, so it expands them (unless quoted);
          // RUN heredocs go to the shell, which does.
          for (Heredoc& h : inst.heredocs) {
            if (!h.expand) continue;
            try {
              h.content = lex_.ProcessHeredoc(h.content, env, &stats);
            } catch (const Error& e) {
              throw SyntaxError(df_.file, h.pos,
                                std::string(CommandName(inst.command)) + ": " + e.what());
            }
          }
          for (Flag& f : inst.flags) {
            if (f.name != "link" && f.name != "parents" && f.name != "keep-git-dir") {
              f.value = Expand(inst, f.pos, f.value, env, stats);
            }
          }
          break;
        case Command::kRun:
          for (Mount& m : inst.mounts) {
            for (std::string* s : {&m.target, &m.source, &m.from, &m.id, &m.env}) {
              *s = Expand(inst, m.pos, *s, env, stats);
            }
          }
          break;
        case Command::kExpose: {
          std::vector<std::string> ports;
          for (size_t a = 0; a < inst.args.size(); ++a) {
            Position pos = a < inst.arg_pos.size() ? inst.arg_pos[a] : inst.pos;
            try {
              for (std::string& p : lex_.ProcessWords(inst.args[a], env, &stats)) {
                if (!ValidPort(p)) {
                  throw SyntaxError(
                      df_.file, pos,
                      "EXPOSE: invalid port \"" + p + "\" (PORT, PORT/PROTO or FROM-TO/PROTO)");
                }
                ports.push_back(std::move(p));
              }
            } catch (const SyntaxError&) {
              throw;
            } catch (const Error& e) {
              throw SyntaxError(df_.file, pos, std::string("EXPOSE: ") + e.what());
            }
          }
          inst.args = std::move(ports);
          break;
        }
        case Command::kUser:
        case Command::kWorkdir:
        case Command::kStopsignal:
        case Command::kVolume:
          for (size_t a = 0; a < inst.args.size(); ++a) {
            Position pos = a < inst.arg_pos.size() ? inst.arg_pos[a] : inst.pos;
            inst.args[a] = Expand(inst, pos, inst.args[a], env, stats);
          }
          if (inst.command == Command::kWorkdir) {
            const std::string& dir = inst.args[0];
            workdir = std::make_shared<const std::string>(
                CleanAbs(!dir.empty() && dir[0] == '/' ? dir : *workdir + "/" + dir));
          }
          break;
        case Command::kShell:
          shell = std::make_shared<const std::vector<std::string>>(inst.args);
          break;
        default:
          break;  // RUN/CMD/ENTRYPOINT go to the shell as written; ONBUILD waits for its child
      }
      std::erase_if(stats.unmatched,
                    [&](const std::string& n) { return scope.declared_args.count(n) != 0; });
      Warn(src, stats, &st, static_cast<int>(k), &scope);
      for (const auto& kv : pending_env) scope.SetEnv(kv.first, kv.second);
      for (const auto& kv : pending_args) {
        scope.declared_args.insert(kv.first);
        if (kv.second) scope.SetArg(kv.first, *kv.second);
      }
      step.log = log;
      step.env_len = log->env.size();
      step.args_len = log->args.size();
      step.workdir = workdir;
      step.shell = shell;
      rs.steps.push_back(std::move(step));
    }
    ResolvedStep end;
    end.log = log;
    end.env_len = log->env.size();
    final_env_.push_back(end.Env());
    final_workdir_.push_back(workdir);
    final_shell_.push_back(shell);
    out_.stages.push_back(std::move(rs));
  }

  const Dockerfile& df_;
  const ResolveOptions& opts_;
  ShellLex lex_;
  ResolvedBuild out_;
  std::map<std::string, std::string> platform_;
  std::map<std::string, std::string> global_;
  std::set<std::string> global_declared_;
  std::set<std::string> consumed_;
  // Per stage already resolved: what a stage built FROM it starts with.
  std::vector<std::vector<std::string>> final_env_;
  std::vector<std::shared_ptr<const std::string>> final_workdir_;
  std::vector<std::shared_ptr<const std::vector<std::string>>> final_shell_;
};

}  // namespace

Platform HostPlatform() {
  Platform p;
  struct utsname u {};
  uname(&u);
  std::string m = u.machine;
  if (m == "x86_64")
    p.arch = "amd64";
  else if (m == "aarch64" || m == "arm64")
    p.arch = "arm64";
  else if (m == "i386" || m == "i686")
    p.arch = "386";
  else if (m.rfind("armv7", 0) == 0) {
    p.arch = "arm";
    p.variant = "v7";
  } else if (m.rfind("armv6", 0) == 0) {
    p.arch = "arm";
    p.variant = "v6";
  } else if (m == "ppc64le" || m == "s390x" || m == "riscv64")
    p.arch = m;
  else
    p.arch = m;
  return p;
}

std::vector<std::string> ResolvedStep::Env() const {
  std::vector<std::string> out;
  if (!log) return out;
  std::map<std::string, size_t> at;
  for (size_t i = 0; i < env_len && i < log->env.size(); ++i) {
    const auto& kv = log->env[i];
    auto it = at.find(kv.first);
    if (it == at.end()) {
      at.emplace(kv.first, out.size());
      out.push_back(kv.first + "=" + kv.second);
    } else {
      out[it->second] = kv.first + "=" + kv.second;
    }
  }
  return out;
}

std::map<std::string, std::string> ResolvedStep::Args() const {
  std::map<std::string, std::string> out;
  if (!log) return out;
  for (size_t i = 0; i < args_len && i < log->args.size(); ++i) {
    out[log->args[i].first] = log->args[i].second;
  }
  return out;
}

const std::vector<std::string>& PredefinedProxyArgs() {
  static const std::vector<std::string> kArgs = {
      "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
      "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy"};
  return kArgs;
}

std::optional<int> ResolvedBuild::FindStage(std::string_view ref) const {
  if (!ref.empty() && std::all_of(ref.begin(), ref.end(), ::isdigit) && ref.size() < 9) {
    int i = std::stoi(std::string(ref));
    if (i < static_cast<int>(stages.size())) return i;
    return std::nullopt;
  }
  std::string l = Lower(ref);
  for (const ResolvedStage& s : stages) {
    if (!s.name.empty() && s.name == l) return s.index;
  }
  return std::nullopt;
}

ResolvedBuild Resolve(const Dockerfile& df, const ResolveOptions& opts) {
  return Resolver(df, opts).Run();
}

}  // namespace berth::build

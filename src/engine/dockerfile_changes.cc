#include "engine/dockerfile_changes.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "base/error.h"
#include "build/dockerfile.h"
#include "build/shell_lex.h"

namespace berth::engine {
namespace {

using nlohmann::json;

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) {
    return {};
  }
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// The value of `name` in the config's Env, for substitution as a Dockerfile does it.
build::Lookup EnvOf(const json& config) {
  return [&config](std::string_view name) -> std::optional<std::string> {
    if (!config.contains("Env") || !config["Env"].is_array()) return std::nullopt;
    std::optional<std::string> found;
    for (const json& e : config["Env"]) {
      if (!e.is_string()) continue;
      const std::string& s = e.get_ref<const std::string&>();
      if (s.size() > name.size() && s.compare(0, name.size(), name) == 0 && s[name.size()] == '=') {
        found = s.substr(name.size() + 1);
      }
    }
    return found;
  };
}

std::vector<std::string> CommandOf(const build::Instruction& inst) {
  if (inst.json) {
    return inst.args;
  }
  return {"/bin/sh", "-c", inst.rest};
}

json& Object(json& config, const char* key) {
  if (!config.contains(key) || !config[key].is_object()) {
    config[key] = json::object();
  }
  return config[key];
}

std::string Port(const std::string& spec) {
  std::string port = spec, proto = "tcp";
  size_t slash = spec.find('/');
  if (slash != std::string::npos) {
    port = spec.substr(0, slash);
    proto = spec.substr(slash + 1);
  }
  std::transform(proto.begin(), proto.end(), proto.begin(), ::tolower);
  if (port.empty() || !std::all_of(port.begin(), port.end(), ::isdigit) || port.size() > 5 ||
      std::stoi(port) > 65535 || (proto != "tcp" && proto != "udp" && proto != "sctp")) {
    ThrowInvalid("EXPOSE: invalid port \"" + spec + "\"");
  }
  return port + "/" + proto;
}

}  // namespace

void ApplyInstruction(json& config, const build::Instruction& inst) {
  switch (inst.command) {
    case build::Command::kCmd:
      config["Cmd"] = CommandOf(inst);
      break;
    case build::Command::kEntrypoint:
      config["Entrypoint"] = CommandOf(inst);
      // As in a Dockerfile: a new entrypoint drops the image's command.
      config["Cmd"] = nullptr;
      break;
    case build::Command::kEnv:
      if (!config.contains("Env") || !config["Env"].is_array()) {
        config["Env"] = json::array();
      }
      for (const build::KeyValue& kv : inst.pairs) {
        json& env_list = config["Env"];
        std::string prefix = kv.key + "=";
        std::string entry = prefix + kv.value;
        auto same = std::find_if(env_list.begin(), env_list.end(), [&](const json& e) {
          return e.is_string() && e.get<std::string>().rfind(prefix, 0) == 0;
        });
        if (same != env_list.end()) {
          *same = entry;
        } else {
          env_list.push_back(entry);
        }
      }
      break;
    case build::Command::kLabel:
      for (const build::KeyValue& kv : inst.pairs) {
        Object(config, "Labels")[kv.key] = kv.value;
      }
      break;
    case build::Command::kExpose:
      for (const std::string& w : inst.args) {
        Object(config, "ExposedPorts")[Port(w)] = json::object();
      }
      break;
    case build::Command::kVolume:
      for (const std::string& p : inst.args) {
        if (p.empty()) {
          ThrowInvalid("VOLUME: empty path");
        }
        Object(config, "Volumes")[p] = json::object();
      }
      break;
    case build::Command::kWorkdir: {
      std::string dir = inst.args.at(0);
      if (dir.empty() || dir.front() != '/') {
        std::string base = config.contains("WorkingDir") && config["WorkingDir"].is_string()
                               ? config["WorkingDir"].get<std::string>()
                               : "/";
        dir = (base.empty() || base.back() != '/' ? base + "/" : base) + dir;
      }
      config["WorkingDir"] = dir;
      break;
    }
    case build::Command::kUser:
      config["User"] = inst.args.at(0);
      break;
    case build::Command::kStopsignal:
      config["StopSignal"] = inst.args.at(0);
      break;
    case build::Command::kOnbuild:
      if (!config.contains("OnBuild") || !config["OnBuild"].is_array()) {
        config["OnBuild"] = json::array();
      }
      config["OnBuild"].push_back(inst.rest);
      break;
    case build::Command::kShell:
      config["Shell"] = inst.args;
      break;
    case build::Command::kHealthcheck: {
      const build::Healthcheck& h = inst.health;
      json hc = {{"Test", h.none ? std::vector<std::string>{"NONE"} : h.test}};
      if (h.interval_ns) hc["Interval"] = h.interval_ns;
      if (h.timeout_ns) hc["Timeout"] = h.timeout_ns;
      if (h.start_period_ns) hc["StartPeriod"] = h.start_period_ns;
      if (h.start_interval_ns) hc["StartInterval"] = h.start_interval_ns;
      if (h.retries) hc["Retries"] = h.retries;
      config["Healthcheck"] = hc;
      break;
    }
    default:
      ThrowInvalid(std::string(build::CommandName(inst.command)) +
                   " does not change an image's config");
  }
}

json ApplyChanges(json config, const std::vector<std::string>& changes) {
  if (!config.is_object()) {
    config = json::object();
  }
  static const std::set<std::string> kAllowed = {"CMD",    "ENTRYPOINT", "ENV",        "EXPOSE",
                                                 "LABEL",  "ONBUILD",    "STOPSIGNAL", "USER",
                                                 "VOLUME", "WORKDIR"};
  for (const std::string& change : changes) {
    std::string line = Trim(change);
    if (line.empty()) {
      continue;
    }
    std::string word = line.substr(0, line.find_first_of(" \t"));
    std::string upper = word;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    if (kAllowed.count(upper) == 0) {
      ThrowInvalid(word + " is not a valid change command");
    }
    // The one Dockerfile parser (src/build) reads the line; substitution uses the config's Env.
    build::Instruction inst;
    std::vector<std::string> words;
    build::ShellLex lex;
    build::Lookup env = EnvOf(config);
    auto expand = [&](const std::string& w) { return lex.ProcessWord(w, env); };
    try {
      inst = build::ParseInstruction(line, '\\', "change");
      switch (inst.command) {
        case build::Command::kEnv:
        case build::Command::kLabel:
          for (build::KeyValue& kv : inst.pairs) {
            kv.key = expand(kv.key);
            kv.value = expand(kv.value);
          }
          break;
        case build::Command::kExpose:
          for (const std::string& a : inst.args) {
            for (std::string& w : lex.ProcessWords(a, env)) words.push_back(std::move(w));
          }
          break;
        case build::Command::kVolume:
        case build::Command::kWorkdir:
        case build::Command::kUser:
        case build::Command::kStopsignal:
          for (const std::string& a : inst.args) words.push_back(expand(a));
          break;
        default:
          break;
      }
    } catch (const build::SyntaxError& e) {
      ThrowInvalid(upper + ": " + e.message());
    } catch (const Error& e) {
      ThrowInvalid(upper + ": " + e.what());
    }
    switch (inst.command) {
      case build::Command::kExpose:
      case build::Command::kVolume:
      case build::Command::kWorkdir:
      case build::Command::kUser:
      case build::Command::kStopsignal:
        inst.args = words;
        break;
      default:
        break;
    }
    ApplyInstruction(config, inst);
  }
  return config;
}

}  // namespace berth::engine

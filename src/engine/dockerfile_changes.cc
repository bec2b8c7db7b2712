#include "engine/dockerfile_changes.h"

#include <algorithm>
#include <cctype>

#include "base/error.h"

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

// Shell-like words: quotes group and are removed, a backslash escapes the next character.
std::vector<std::string> Words(std::string_view text, const std::string& instruction) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < text.size()) {
        word += text[++i];
      } else {
        word += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
      in_word = true;
    } else if (isspace(static_cast<unsigned char>(c))) {
      if (in_word) {
        words.push_back(std::move(word));
        word.clear();
        in_word = false;
      }
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0) {
    ThrowInvalid(instruction + ": unterminated quote in \"" + std::string(text) + "\"");
  }
  if (in_word) {
    words.push_back(std::move(word));
  }
  return words;
}

// The exec form (a JSON array of strings), if `rest` is one.
std::optional<std::vector<std::string>> ExecForm(const std::string& rest) {
  if (rest.empty() || rest.front() != '[') {
    return std::nullopt;
  }
  json doc = json::parse(rest, nullptr, false);
  if (!doc.is_array() ||
      !std::all_of(doc.begin(), doc.end(), [](const json& v) { return v.is_string(); })) {
    return std::nullopt;  // Docker runs it as a shell command then
  }
  return doc.get<std::vector<std::string>>();
}

std::vector<std::string> CommandOf(const std::string& rest) {
  if (auto exec = ExecForm(rest)) {
    return *exec;
  }
  return {"/bin/sh", "-c", rest};
}

// KEY=VALUE pairs, or the old form "KEY VALUE WITH SPACES".
std::vector<std::pair<std::string, std::string>> Pairs(const std::string& rest,
                                                       const std::string& instruction) {
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<std::string> words = Words(rest, instruction);
  if (words.empty()) {
    ThrowInvalid(instruction + " requires at least one argument");
  }
  if (words.front().find('=') == std::string::npos) {
    size_t space = rest.find_first_of(" \t");
    if (space == std::string::npos) {
      ThrowInvalid(instruction + " " + rest + ": needs a value (" + instruction + " KEY=VALUE)");
    }
    std::vector<std::string> value = Words(rest.substr(space), instruction);
    std::string joined;
    for (const std::string& v : value) {
      joined += (joined.empty() ? "" : " ") + v;
    }
    out.emplace_back(words.front(), joined);
    return out;
  }
  for (const std::string& w : words) {
    size_t eq = w.find('=');
    if (eq == std::string::npos || eq == 0) {
      ThrowInvalid(instruction + ": \"" + w + "\" is not KEY=VALUE");
    }
    out.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  return out;
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

json ApplyChanges(json config, const std::vector<std::string>& changes) {
  if (!config.is_object()) {
    config = json::object();
  }
  for (const std::string& change : changes) {
    std::string line = Trim(change);
    size_t space = line.find_first_of(" \t");
    std::string word = line.substr(0, space);
    std::string rest = space == std::string::npos ? std::string() : Trim(line.substr(space));
    std::string instruction = word;
    std::transform(instruction.begin(), instruction.end(), instruction.begin(), ::toupper);
    if (instruction.empty()) {
      continue;
    }
    if (instruction != "ONBUILD" && instruction != "CMD" && instruction != "ENTRYPOINT" &&
        rest.empty()) {
      ThrowInvalid(instruction + " requires at least one argument");
    }
    if (instruction == "CMD") {
      config["Cmd"] = rest.empty() ? json(nullptr) : json(CommandOf(rest));
    } else if (instruction == "ENTRYPOINT") {
      config["Entrypoint"] = rest.empty() ? json(nullptr) : json(CommandOf(rest));
      // As in a Dockerfile: a new entrypoint drops the image's command.
      config["Cmd"] = nullptr;
    } else if (instruction == "ENV") {
      if (!config.contains("Env") || !config["Env"].is_array()) {
        config["Env"] = json::array();
      }
      for (const auto& [key, value] : Pairs(rest, instruction)) {
        json& env = config["Env"];
        std::string prefix = key + "=";  // (clang 14 cannot capture a structured binding)
        std::string entry = prefix + value;
        auto same = std::find_if(env.begin(), env.end(), [&](const json& e) {
          return e.is_string() && e.get<std::string>().rfind(prefix, 0) == 0;
        });
        if (same != env.end()) {
          *same = entry;
        } else {
          env.push_back(entry);
        }
      }
    } else if (instruction == "LABEL") {
      for (const auto& [key, value] : Pairs(rest, instruction)) {
        Object(config, "Labels")[key] = value;
      }
    } else if (instruction == "EXPOSE") {
      for (const std::string& w : Words(rest, instruction)) {
        Object(config, "ExposedPorts")[Port(w)] = json::object();
      }
    } else if (instruction == "VOLUME") {
      std::vector<std::string> paths;
      if (auto exec = ExecForm(rest)) {
        paths = *exec;
      } else {
        paths = Words(rest, instruction);
      }
      for (const std::string& p : paths) {
        if (p.empty()) {
          ThrowInvalid("VOLUME: empty path");
        }
        Object(config, "Volumes")[p] = json::object();
      }
    } else if (instruction == "WORKDIR") {
      std::string dir = Words(rest, instruction).empty() ? rest : Words(rest, instruction)[0];
      if (dir.front() != '/') {
        std::string base = config.contains("WorkingDir") && config["WorkingDir"].is_string()
                               ? config["WorkingDir"].get<std::string>()
                               : "/";
        dir = (base.empty() || base.back() != '/' ? base + "/" : base) + dir;
      }
      config["WorkingDir"] = dir;
    } else if (instruction == "USER") {
      config["User"] = rest;
    } else if (instruction == "STOPSIGNAL") {
      config["StopSignal"] = rest;
    } else if (instruction == "ONBUILD") {
      if (!config.contains("OnBuild") || !config["OnBuild"].is_array()) {
        config["OnBuild"] = json::array();
      }
      config["OnBuild"].push_back(rest);
    } else {
      ThrowInvalid(word + " is not a valid change command");
    }
  }
  return config;
}

}  // namespace berth::engine

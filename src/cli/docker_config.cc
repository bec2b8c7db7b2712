#include "cli/docker_config.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>

#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "registry/base64.h"

extern char** environ;

namespace berth::cli {

using nlohmann::json;

std::string RegistryOfImage(const std::string& image) {
  size_t slash = image.find('/');
  if (slash == std::string::npos) {
    return "docker.io";
  }
  std::string first = image.substr(0, slash);
  bool is_host = first == "localhost" || first.find('.') != std::string::npos ||
                 first.find(':') != std::string::npos ||
                 std::any_of(first.begin(), first.end(), [](char c) { return isupper(c); });
  if (!is_host || first == "index.docker.io") {
    return "docker.io";
  }
  return first;
}

std::string DockerConfig::DefaultPath() {
  if (const char* dir = getenv("DOCKER_CONFIG"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/config.json";
  }
  const char* home = getenv("HOME");
  return std::string(home != nullptr ? home : "/root") + "/.docker/config.json";
}

DockerConfig::DockerConfig(std::string path) : path_(std::move(path)), doc_(json::object()) {
  std::optional<std::string> text = ReadFileIfExists(path_);
  if (text && !text->empty()) {
    doc_ = json::parse(*text, nullptr, false);
    if (doc_.is_discarded() || !doc_.is_object()) {
      ThrowInvalid(path_ + ": not a JSON object");
    }
  }
}

std::string DockerConfig::HelperFor(const std::string& server) const {
  auto helpers = doc_.find("credHelpers");
  if (helpers != doc_.end() && helpers->is_object()) {
    auto it = helpers->find(server);
    if (it != helpers->end() && it->is_string()) {
      return it->get<std::string>();
    }
  }
  auto store = doc_.find("credsStore");
  return store != doc_.end() && store->is_string() ? store->get<std::string>() : "";
}

namespace {

// The entry of `auths` for `server`: its key as given, or written as a URL.
const json* AuthsEntry(const json& doc, const std::string& server) {
  auto auths = doc.find("auths");
  if (auths == doc.end() || !auths->is_object()) {
    return nullptr;
  }
  for (const auto& item : auths->items()) {
    if (registry::NormalizeServer(item.key()) == server) {
      return &item.value();
    }
  }
  return nullptr;
}

}  // namespace

std::optional<registry::AuthConfig> DockerConfig::Get(const std::string& server) const {
  registry::AuthConfig auth;
  auth.server_address = server;
  std::string helper = HelperFor(server);
  if (!helper.empty()) {
    std::string out;
    try {
      out = RunCredentialHelper(helper, "get", server);
    } catch (const Error&) {
      return std::nullopt;  // "credentials not found in native keychain"
    }
    json j = json::parse(out, nullptr, false);
    if (!j.is_object()) {
      return std::nullopt;
    }
    auth.username = j.value("Username", "");
    if (auth.username == "<token>") {
      auth.username.clear();
      auth.identity_token = j.value("Secret", "");
    } else {
      auth.password = j.value("Secret", "");
    }
    return auth.empty() ? std::nullopt : std::optional(auth);
  }
  const json* entry = AuthsEntry(doc_, server);
  if (entry == nullptr || !entry->is_object()) {
    return std::nullopt;
  }
  std::string encoded = entry->value("auth", "");
  if (!encoded.empty()) {
    std::optional<std::string> decoded = registry::Base64Decode(encoded);
    size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon != std::string::npos) {
      auth.username = decoded->substr(0, colon);
      auth.password = decoded->substr(colon + 1);
    }
  }
  if (auth.username.empty()) {
    auth.username = entry->value("username", "");
    auth.password = entry->value("password", "");
  }
  auth.identity_token = entry->value("identitytoken", "");
  auth.registry_token = entry->value("registrytoken", "");
  return auth.empty() ? std::nullopt : std::optional(auth);
}

std::map<std::string, registry::AuthConfig> DockerConfig::GetAll() const {
  std::set<std::string> servers;
  for (const char* section : {"auths", "credHelpers"}) {
    if (doc_.contains(section) && doc_[section].is_object()) {
      for (const auto& item : doc_[section].items()) {
        servers.insert(registry::NormalizeServer(item.key()));
      }
    }
  }
  if (doc_.contains("credsStore") && doc_["credsStore"].is_string()) {
    try {
      json listed = json::parse(
          RunCredentialHelper(doc_["credsStore"].get<std::string>(), "list", ""), nullptr, false);
      if (listed.is_object()) {
        for (const auto& item : listed.items()) {
          servers.insert(registry::NormalizeServer(item.key()));
        }
      }
    } catch (const Error&) {
      // No list from the store: the registries named in the file are still sent.
    }
  }
  std::map<std::string, registry::AuthConfig> out;
  for (const std::string& server : servers) {
    try {
      if (std::optional<registry::AuthConfig> auth = Get(server)) {
        auth->server_address = server;
        out[server] = *auth;
      }
    } catch (const Error&) {
      // A helper that fails for one registry does not keep the build from the others.
    }
  }
  return out;
}

void DockerConfig::Store(const std::string& server, const registry::AuthConfig& auth) {
  std::string helper = HelperFor(server);
  if (!helper.empty()) {
    bool token = !auth.identity_token.empty();
    json in = {{"ServerURL", server},
               {"Username", token ? "<token>" : auth.username},
               {"Secret", token ? auth.identity_token : auth.password}};
    RunCredentialHelper(helper, "store", in.dump());
    // The docker CLI keeps an empty entry naming the registry.
    doc_["auths"][server] = json::object();
  } else {
    json entry = json::object();
    entry["auth"] = registry::Base64Encode(auth.username + ":" + auth.password);
    if (!auth.identity_token.empty()) {
      entry["identitytoken"] = auth.identity_token;
    }
    if (!doc_.contains("auths") || !doc_["auths"].is_object()) {
      doc_["auths"] = json::object();
    }
    for (auto it = doc_["auths"].begin(); it != doc_["auths"].end();) {
      it = registry::NormalizeServer(it.key()) == server ? doc_["auths"].erase(it) : std::next(it);
    }
    doc_["auths"][server] = entry;
  }
  Save();
}

bool DockerConfig::Erase(const std::string& server) {
  bool found = false;
  std::string helper = HelperFor(server);
  if (!helper.empty()) {
    try {
      RunCredentialHelper(helper, "erase", server);
      found = true;
    } catch (const Error&) {
    }
  }
  if (doc_.contains("auths") && doc_["auths"].is_object()) {
    for (auto it = doc_["auths"].begin(); it != doc_["auths"].end();) {
      if (registry::NormalizeServer(it.key()) == server) {
        it = doc_["auths"].erase(it);
        found = true;
      } else {
        ++it;
      }
    }
  }
  if (found) {
    Save();
  }
  return found;
}

void DockerConfig::Save() const {
  std::string dir = path_.substr(0, path_.rfind('/'));
  if (!dir.empty()) {
    MkdirAll(dir, 0700);
  }
  WriteFileAtomic(path_, doc_.dump(1, '\t') + "\n", 0600);
}

std::string RunCredentialHelper(const std::string& helper, const std::string& action,
                                const std::string& input) {
  std::string program = "docker-credential-" + helper;
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
    ThrowErrno("pipe for " + program);
  }
  UniqueFd in_w(in[1]), out_r(out[0]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  const char* argv[] = {program.c_str(), action.c_str(), nullptr};
  pid_t pid = 0;
  int rc =
      posix_spawnp(&pid, program.c_str(), &actions, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  if (rc != 0) {
    throw Error(Kind::kUnavailable, "credential helper " + program + ": " + strerror(rc), rc);
  }
  // The helpers read all their input before they answer: write, close, then read.
  size_t done = 0;
  while (done < input.size()) {
    ssize_t n = write(in_w.get(), input.data() + done, input.size() - done);
    if (n <= 0 && errno != EINTR) {
      break;
    }
    done += n > 0 ? static_cast<size_t>(n) : 0;
  }
  in_w.Reset();
  std::string output;
  char buf[4096];
  for (;;) {
    ssize_t n = read(out_r.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    output.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) {
      output.pop_back();
    }
    throw Error(Kind::kUnavailable, "credential helper " + program + " " + action + ": " +
                                        (output.empty() ? "failed" : output));
  }
  return output;
}

}  // namespace berth::cli

#pragma once

#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "registry/auth_config.h"

// The docker CLI's config.json ($DOCKER_CONFIG/config.json, else ~/.docker/config.json): where
// `berth login` keeps credentials so that berth and docker share them. `auths` holds
// base64("user:password") per registry; `credsStore` (every registry) and `credHelpers`
// (per registry) name a docker-credential-<helper> program that keeps them instead, driven
// with get/store/erase over stdin/stdout as the docker CLI does. Keys this code does not know
// are kept as they were.

namespace berth::cli {

// The registry part of an image name ("127.0.0.1:5000/app:1" → "127.0.0.1:5000"; a name
// without a registry → "docker.io"); a login argument's is registry::NormalizeServer.
std::string RegistryOfImage(const std::string& image);

class DockerConfig {
 public:
  // $DOCKER_CONFIG/config.json or ~/.docker/config.json.
  static std::string DefaultPath();
  // Reads `path` (absent: empty); malformed JSON is kInvalidArgument naming the file.
  explicit DockerConfig(std::string path = DefaultPath());

  // The helper for `server` (credHelpers, else credsStore), "" for the file itself.
  std::string HelperFor(const std::string& server) const;
  // The stored credentials for `server`, if any (from the helper or `auths`).
  std::optional<registry::AuthConfig> Get(const std::string& server) const;
  // Every registry's credentials, by normalized server (`auths`, `credHelpers` and what the
  // `credsStore` helper lists), for X-Registry-Config; a helper that fails is passed over.
  std::map<std::string, registry::AuthConfig> GetAll() const;
  // Stores them (through the helper, else in `auths`) and writes the file.
  void Store(const std::string& server, const registry::AuthConfig& auth);
  // Removes them; false when there were none.
  bool Erase(const std::string& server);

  const nlohmann::json& document() const { return doc_; }
  const std::string& path() const { return path_; }

 private:
  void Save() const;
  std::string path_;
  nlohmann::json doc_;
};

// Runs docker-credential-<helper> <action> with `input` on stdin; returns its stdout.
// Throws kUnavailable with its output when it fails (exit status ≠ 0).
std::string RunCredentialHelper(const std::string& helper, const std::string& action,
                                const std::string& input);

}  // namespace berth::cli

#include "registry/auth_config.h"

#include <cstring>
#include <optional>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "registry/base64.h"

namespace berth::registry {

using nlohmann::json;

namespace {

// base64 JSON, both headers' form: nullopt for empty; kInvalidArgument naming `what` when it
// does not decode.
std::optional<json> DecodeHeader(std::string_view header, const char* what) {
  while (!header.empty() && (header.back() == ' ' || header.back() == '\r')) {
    header.remove_suffix(1);
  }
  if (header.empty()) {
    return std::nullopt;
  }
  std::optional<std::string> text = Base64Decode(header);
  json j = text ? json::parse(*text, nullptr, false) : json();
  if (!text || j.is_discarded() || !(j.is_object() || j.is_null())) {
    ThrowInvalid(std::string(what) + ": not base64-encoded JSON credentials");
  }
  if (j.is_null()) {
    return std::nullopt;
  }
  return j;
}

AuthConfig FromJson(const json& j) {
  AuthConfig out;
  auto field = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  out.username = field("username");
  out.password = field("password");
  out.server_address = field("serveraddress");
  out.identity_token = field("identitytoken");
  out.registry_token = field("registrytoken");
  // config.json's form: base64("user:password").
  if (out.username.empty() && out.password.empty()) {
    std::optional<std::string> pair = Base64Decode(field("auth"));
    if (pair && pair->find(':') != std::string::npos) {
      out.username = pair->substr(0, pair->find(':'));
      out.password = pair->substr(pair->find(':') + 1);
    }
  }
  return out;
}

}  // namespace

AuthConfig DecodeRegistryAuth(std::string_view header) {
  std::optional<json> j = DecodeHeader(header, "X-Registry-Auth");
  return j ? FromJson(*j) : AuthConfig();
}

std::map<std::string, AuthConfig> DecodeRegistryConfig(std::string_view header) {
  std::map<std::string, AuthConfig> out;
  std::optional<json> j = DecodeHeader(header, "X-Registry-Config");
  if (!j) {
    return out;
  }
  for (const auto& [key, value] : j->items()) {
    if (!value.is_object()) {
      ThrowInvalid("X-Registry-Config: the credentials for \"" + key + "\" are not an object");
    }
    AuthConfig auth = FromJson(value);
    if (!auth.empty()) {
      out[NormalizeServer(key)] = auth;
    }
  }
  return out;
}

std::string NormalizeServer(const std::string& server) {
  std::string s = server;
  for (const char* prefix : {"https://", "http://"}) {
    if (s.rfind(prefix, 0) == 0) {
      s = s.substr(strlen(prefix));
    }
  }
  s = s.substr(0, s.find('/'));
  if (s == "index.docker.io") {
    s = "docker.io";
  }
  return s;
}

namespace {

json ToJson(const AuthConfig& auth) {
  json j = json::object();
  if (!auth.username.empty()) j["username"] = auth.username;
  if (!auth.password.empty()) j["password"] = auth.password;
  if (!auth.server_address.empty()) j["serveraddress"] = auth.server_address;
  if (!auth.identity_token.empty()) j["identitytoken"] = auth.identity_token;
  if (!auth.registry_token.empty()) j["registrytoken"] = auth.registry_token;
  return j;
}

}  // namespace

std::string EncodeRegistryAuth(const AuthConfig& auth) {
  return Base64Encode(ToJson(auth).dump(), /*url=*/true);
}

std::string EncodeRegistryConfig(const std::map<std::string, AuthConfig>& auths) {
  json j = json::object();
  for (const auto& [server, auth] : auths) {
    j[server] = ToJson(auth);
  }
  return Base64Encode(j.dump(), /*url=*/true);
}

}  // namespace berth::registry

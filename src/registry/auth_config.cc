#include "registry/auth_config.h"

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "registry/base64.h"

namespace berth::registry {

using nlohmann::json;

AuthConfig DecodeRegistryAuth(std::string_view header) {
  AuthConfig out;
  while (!header.empty() && (header.back() == ' ' || header.back() == '\r')) {
    header.remove_suffix(1);
  }
  if (header.empty()) {
    return out;
  }
  std::optional<std::string> text = Base64Decode(header);
  json j = text ? json::parse(*text, nullptr, false) : json();
  if (!text || j.is_discarded() || !(j.is_object() || j.is_null())) {
    ThrowInvalid("X-Registry-Auth: not base64-encoded JSON credentials");
  }
  if (j.is_null()) {
    return out;
  }
  auto field = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  out.username = field("username");
  out.password = field("password");
  out.server_address = field("serveraddress");
  out.identity_token = field("identitytoken");
  out.registry_token = field("registrytoken");
  return out;
}

std::string EncodeRegistryAuth(const AuthConfig& auth) {
  json j = json::object();
  if (!auth.username.empty()) j["username"] = auth.username;
  if (!auth.password.empty()) j["password"] = auth.password;
  if (!auth.server_address.empty()) j["serveraddress"] = auth.server_address;
  if (!auth.identity_token.empty()) j["identitytoken"] = auth.identity_token;
  if (!auth.registry_token.empty()) j["registrytoken"] = auth.registry_token;
  return Base64Encode(j.dump(), /*url=*/true);
}

}  // namespace berth::registry

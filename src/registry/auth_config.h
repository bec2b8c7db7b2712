#pragma once

#include <map>
#include <string>
#include <string_view>

// Registry credentials as Docker passes them around: the X-Registry-Auth header of the Engine
// API and the body of POST /auth. No HTTP here: the berth CLI links this alone.

namespace berth::registry {

// What the docker CLI sends in X-Registry-Auth and what config.json keeps.
struct AuthConfig {
  std::string username;
  std::string password;
  std::string identity_token;  // a refresh token: used as the password of a token request
  std::string registry_token;  // a bearer token sent as is
  std::string server_address;
  bool empty() const {
    return username.empty() && password.empty() && identity_token.empty() && registry_token.empty();
  }
};
// X-Registry-Auth: base64 (URL or standard alphabet, padding optional) of
// {"username","password","serveraddress","identitytoken","registrytoken"}. Empty or "{}" is no
// credentials; anything that does not decode is kInvalidArgument.
AuthConfig DecodeRegistryAuth(std::string_view header);
std::string EncodeRegistryAuth(const AuthConfig& auth);

// A registry as config.json and the docker CLI name it, reduced to the host[:port] Berth
// compares: "https://reg:5000/v2/" → "reg:5000", "https://index.docker.io/v1/" → "docker.io".
std::string NormalizeServer(const std::string& server);

// X-Registry-Config (POST /build): base64 (either alphabet) of a JSON object from registry
// (as config.json keys them) to credentials, every one the CLI has; keys are normalized
// (NormalizeServer). Empty, "{}" or "null" is none; anything that does not decode is
// kInvalidArgument.
std::map<std::string, AuthConfig> DecodeRegistryConfig(std::string_view header);
std::string EncodeRegistryConfig(const std::map<std::string, AuthConfig>& auths);

}  // namespace berth::registry

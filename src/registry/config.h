#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "registry/auth.h"

// berth-registry's settings: a JSON file (--config) overlaid by the command line's flags.
// docs/registry.md lists every key; the shape:
//   {"addr": "127.0.0.1:5000", "root": "/var/lib/berth-registry",
//    "tls": {"cert": "server.pem", "key": "server.key"},
//    "auth": {"htpasswd": "users.htpasswd",
//             "token": {"realm": "https://host:5000/token", "service": "berth-registry",
//                       "issuer": "berth-registry", "ttl": 300},
//             "access": [{"user": "alice", "repository": "alice/*", "actions": ["pull","push"]}]},
//    "storage": {"delete": true, "upload_expiry": 86400, "upload_purge_interval": 3600,
//                "max_uploads": 1000, "gc_on_start": false},
//    "proxy": {"remote": "http://127.0.0.1:5001", "username": "u", "password": "p"},
//    "log": {"requests": true, "debug": false}}

namespace berth::registry {

enum class AuthMode { kNone, kHtpasswd, kToken };

struct Config {
  std::string addr = "127.0.0.1:5000";
  std::string root = "/var/lib/berth-registry";
  std::string tls_cert;
  std::string tls_key;

  std::string htpasswd;  // users; auth is on when set
  bool token_auth = false;
  std::string token_realm;  // empty: <scheme>://<Host of the request>/token
  std::string token_service = "berth-registry";
  std::string token_issuer = "berth-registry";
  int64_t token_ttl = 300;
  std::vector<AccessRule> access;

  bool delete_enabled = true;
  int64_t upload_expiry = 24 * 3600;  // seconds an upload may stay idle
  int64_t upload_purge_interval = 3600;
  size_t max_uploads = 1000;
  bool gc_on_start = false;

  std::string proxy_remote;  // pull-through cache of this registry when set
  std::string proxy_username;
  std::string proxy_password;

  bool log_requests = true;
  bool debug = false;

  AuthMode auth_mode() const {
    return htpasswd.empty() ? AuthMode::kNone : token_auth ? AuthMode::kToken : AuthMode::kHtpasswd;
  }
};

// Reads a config file over `config`'s values; throws kInvalidArgument naming the key for an
// unknown key or a value of the wrong type.
void LoadConfigFile(const std::string& path, Config& config);

}  // namespace berth::registry

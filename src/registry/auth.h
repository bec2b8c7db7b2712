#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "registry/base64.h"

// Who a request comes from and what it may do: Basic credentials checked against an htpasswd
// file (bcrypt, as distribution's), bearer tokens the registry issues itself (HS256 JWTs over a
// key kept under the root) carrying per-repository scopes, and the access rules that decide
// which scopes a user is granted.

namespace berth::registry {

struct Credentials {
  std::string user;
  std::string password;
};

// "Basic base64(user:password)"; nullopt when absent or malformed.
std::optional<Credentials> ParseBasic(std::string_view authorization);
// "Bearer TOKEN"; nullopt otherwise.
std::optional<std::string> ParseBearer(std::string_view authorization);

// "repository:library/busybox:pull,push", "registry:catalog:*". The name is everything between
// the first and the last colon (names may carry a host:port).
struct Scope {
  std::string type;
  std::string name;
  std::set<std::string> actions;

  std::string String() const;  // back to "type:name:a,b"
  bool operator==(const Scope&) const = default;
};
std::optional<Scope> ParseScope(std::string_view text);
// The scope query values of a token request (each may hold several, space-separated);
// malformed ones are skipped, as distribution's token servers do.
std::vector<Scope> ParseScopes(const std::vector<std::string>& values);

// An htpasswd file: "user:hash" lines; hashes crypt(3) knows ($2y$/$2b$/$2a$ bcrypt, and
// $5$/$6$/$y$). Plain-text and {SHA} lines are refused at load.
class Htpasswd {
 public:
  static Htpasswd Load(const std::string& path);
  static Htpasswd Parse(std::string_view text, const std::string& origin = "htpasswd");
  bool Verify(std::string_view user, std::string_view password) const;
  bool empty() const { return users_.empty(); }

 private:
  std::map<std::string, std::string, std::less<>> users_;
};

// One access rule of the config: users (a name, "*" for any authenticated user, "anonymous"
// for requests without credentials) get actions on repositories matching a pattern (an exact
// name, or a prefix ending in "*": "team/*", "*").
struct AccessRule {
  std::string user;
  std::string repository;
  std::set<std::string> actions;  // pull, push, delete, "*"
};

class AccessPolicy {
 public:
  AccessPolicy() = default;
  explicit AccessPolicy(std::vector<AccessRule> rules) : rules_(std::move(rules)) {}
  // With no rules: authenticated users may do everything, anonymous nothing.
  // `user` empty: anonymous.
  std::set<std::string> Allowed(std::string_view user, const Scope& scope) const;
  // The requested scope cut down to what `user` may do (actions may come out empty).
  Scope Grant(std::string_view user, const Scope& requested) const;

 private:
  std::vector<AccessRule> rules_;
};

struct TokenClaims {
  std::string subject;  // the user ("" anonymous)
  std::string audience;
  int64_t expires = 0;
  std::vector<Scope> access;

  // Whether the token grants `action` on `type:name`.
  bool Allows(std::string_view type, std::string_view name, std::string_view action) const;
};

// HS256 JSON Web Tokens, as distribution's token auth shapes them (iss, sub, aud, exp, nbf,
// iat, jti, access[{type,name,actions}]): clients treat them as opaque strings.
class TokenIssuer {
 public:
  TokenIssuer(std::string key, std::string issuer, std::string service, int64_t ttl_seconds);
  std::string Issue(std::string_view user, const std::vector<Scope>& access, int64_t now) const;
  // nullopt when the signature, the audience or the time window is wrong.
  std::optional<TokenClaims> Verify(std::string_view token, int64_t now) const;
  const std::string& service() const { return service_; }
  int64_t ttl() const { return ttl_; }

 private:
  std::string Sign(std::string_view data) const;
  std::string key_, issuer_, service_;
  int64_t ttl_;
};

// The key tokens are signed with, made (32 random bytes, mode 0600) at first use.
std::string LoadOrCreateTokenKey(const std::string& path);

}  // namespace berth::registry

#include "registry/auth.h"

#include <crypt.h>
#include <fcntl.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <sys/random.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/file_util.h"

namespace berth::registry {

namespace {

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// "Scheme rest" with a case-insensitive scheme.
std::optional<std::string_view> AfterScheme(std::string_view header, std::string_view scheme) {
  header = TrimSpace(header);
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') {
    return std::nullopt;
  }
  for (size_t i = 0; i < scheme.size(); ++i) {
    if (tolower(static_cast<unsigned char>(header[i])) != tolower(scheme[i])) {
      return std::nullopt;
    }
  }
  std::string_view rest = TrimSpace(header.substr(scheme.size() + 1));
  if (rest.empty()) {
    return std::nullopt;
  }
  return rest;
}

bool PatternMatches(std::string_view pattern, std::string_view name) {
  if (!pattern.empty() && pattern.back() == '*') {
    pattern.remove_suffix(1);
    return name.substr(0, pattern.size()) == pattern;
  }
  return pattern == name;
}

}  // namespace

std::optional<Credentials> ParseBasic(std::string_view authorization) {
  std::optional<std::string_view> rest = AfterScheme(authorization, "Basic");
  if (!rest) {
    return std::nullopt;
  }
  std::optional<std::string> decoded = Base64Decode(*rest);
  if (!decoded) {
    return std::nullopt;
  }
  size_t colon = decoded->find(':');
  if (colon == std::string::npos || colon == 0) {
    return std::nullopt;
  }
  return Credentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

std::optional<std::string> ParseBearer(std::string_view authorization) {
  std::optional<std::string_view> rest = AfterScheme(authorization, "Bearer");
  if (!rest || rest->find(' ') != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(*rest);
}

std::string Scope::String() const {
  std::string out = type + ":" + name + ":";
  bool first = true;
  for (const std::string& a : actions) {
    out += (first ? "" : ",") + a;
    first = false;
  }
  return out;
}

std::optional<Scope> ParseScope(std::string_view text) {
  size_t first = text.find(':');
  size_t last = text.rfind(':');
  if (first == std::string_view::npos || first == last || first == 0 || last == first + 1) {
    return std::nullopt;
  }
  Scope s;
  s.type = std::string(text.substr(0, first));
  s.name = std::string(text.substr(first + 1, last - first - 1));
  std::string_view actions = text.substr(last + 1);
  while (!actions.empty()) {
    size_t comma = actions.find(',');
    std::string_view a = actions.substr(0, comma);
    if (!a.empty()) {
      s.actions.insert(std::string(a));
    }
    actions = comma == std::string_view::npos ? std::string_view() : actions.substr(comma + 1);
  }
  if (s.actions.empty()) {
    return std::nullopt;
  }
  return s;
}

std::vector<Scope> ParseScopes(const std::vector<std::string>& values) {
  std::vector<Scope> out;
  for (const std::string& v : values) {
    size_t pos = 0;
    while (pos < v.size()) {
      size_t sp = v.find(' ', pos);
      if (sp == std::string::npos) {
        sp = v.size();
      }
      if (std::optional<Scope> s = ParseScope(std::string_view(v).substr(pos, sp - pos))) {
        // Two requests for one resource merge their actions.
        bool merged = false;
        for (Scope& have : out) {
          if (have.type == s->type && have.name == s->name) {
            have.actions.insert(s->actions.begin(), s->actions.end());
            merged = true;
          }
        }
        if (!merged) {
          out.push_back(std::move(*s));
        }
      }
      pos = sp + 1;
    }
  }
  return out;
}

Htpasswd Htpasswd::Load(const std::string& path) { return Parse(ReadFile(path), path); }

Htpasswd Htpasswd::Parse(std::string_view text, const std::string& origin) {
  Htpasswd h;
  int line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = TrimSpace(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') {
      continue;
    }
    size_t colon = line.find(':');
    std::string_view hash = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    bool known = hash.substr(0, 2) == "$2" || hash.substr(0, 3) == "$5$" ||
                 hash.substr(0, 3) == "$6$" || hash.substr(0, 3) == "$y$";
    if (colon == 0 || !known) {
      ThrowInvalid(origin + " line " + std::to_string(line_no) +
                   ": expected user:hash with a bcrypt ($2y$) hash (htpasswd -B)");
    }
    h.users_[std::string(line.substr(0, colon))] = std::string(hash);
  }
  return h;
}

bool Htpasswd::Verify(std::string_view user, std::string_view password) const {
  auto it = users_.find(user);
  // An unknown user costs a hash too, so timing does not tell which users exist.
  static const std::string kDummy = "$2y$10$.qCmVneYqWasAmCLAZenYOxOEJLawf.yqu34FO8s5OQPrwYdHvlOa";
  const std::string& hash = it == users_.end() ? kDummy : it->second;
  struct crypt_data data;
  memset(&data, 0, sizeof(data));
  std::string pw(password);
  const char* out = crypt_r(pw.c_str(), hash.c_str(), &data);
  if (out == nullptr || out[0] == '*' || strlen(out) != hash.size()) {
    return false;
  }
  return it != users_.end() && memeql_sec(out, hash.data(), hash.size());
}

std::set<std::string> AccessPolicy::Allowed(std::string_view user, const Scope& scope) const {
  std::set<std::string> out;
  if (rules_.empty()) {
    if (!user.empty()) {
      out = {"pull", "push", "delete", "*"};
    }
    return out;
  }
  for (const AccessRule& r : rules_) {
    bool who = user.empty() ? r.user == "anonymous" : (r.user == "*" || r.user == user);
    if (!who || !PatternMatches(r.repository, scope.name)) {
      continue;
    }
    out.insert(r.actions.begin(), r.actions.end());
  }
  if (out.count("*")) {
    out.insert({"pull", "push", "delete"});
  }
  return out;
}

Scope AccessPolicy::Grant(std::string_view user, const Scope& requested) const {
  Scope granted{requested.type, requested.name, {}};
  std::set<std::string> allowed = Allowed(user, requested);
  for (const std::string& a : requested.actions) {
    if (allowed.count(a) || allowed.count("*")) {
      granted.actions.insert(a);
    }
  }
  return granted;
}

bool TokenClaims::Allows(std::string_view type, std::string_view name,
                         std::string_view action) const {
  for (const Scope& s : access) {
    if (s.type == type && s.name == name &&
        (s.actions.count(std::string(action)) || s.actions.count("*"))) {
      return true;
    }
  }
  return false;
}

TokenIssuer::TokenIssuer(std::string key, std::string issuer, std::string service,
                         int64_t ttl_seconds)
    : key_(std::move(key)),
      issuer_(std::move(issuer)),
      service_(std::move(service)),
      ttl_(ttl_seconds) {}

std::string TokenIssuer::Sign(std::string_view data) const {
  hmac_sha256_ctx ctx;
  hmac_sha256_set_key(&ctx, key_.size(), reinterpret_cast<const uint8_t*>(key_.data()));
  hmac_sha256_update(&ctx, data.size(), reinterpret_cast<const uint8_t*>(data.data()));
  uint8_t mac[SHA256_DIGEST_SIZE];
  hmac_sha256_digest(&ctx, sizeof(mac), mac);
  return std::string(reinterpret_cast<const char*>(mac), sizeof(mac));
}

std::string TokenIssuer::Issue(std::string_view user, const std::vector<Scope>& access,
                               int64_t now) const {
  nlohmann::json header = {{"alg", "HS256"}, {"typ", "JWT"}};
  nlohmann::json grants = nlohmann::json::array();
  for (const Scope& s : access) {
    grants.push_back({{"type", s.type}, {"name", s.name}, {"actions", s.actions}});
  }
  uint8_t jti[12];
  if (getrandom(jti, sizeof(jti), 0) != static_cast<ssize_t>(sizeof(jti))) {
    ThrowErrno("getrandom");
  }
  nlohmann::json claims = {
      {"iss", issuer_},
      {"sub", std::string(user)},
      {"aud", service_},
      {"exp", now + ttl_},
      {"nbf", now - 10},
      {"iat", now},
      {"jti", Base64Encode(std::string_view(reinterpret_cast<char*>(jti), sizeof(jti)), true)},
      {"access", grants}};
  std::string signing_input =
      Base64Encode(header.dump(), true) + "." + Base64Encode(claims.dump(), true);
  return signing_input + "." + Base64Encode(Sign(signing_input), true);
}

std::optional<TokenClaims> TokenIssuer::Verify(std::string_view token, int64_t now) const {
  size_t dot1 = token.find('.');
  size_t dot2 = token.rfind('.');
  if (dot1 == std::string_view::npos || dot1 == dot2) {
    return std::nullopt;
  }
  std::optional<std::string> sig = Base64Decode(token.substr(dot2 + 1));
  std::string expected = Sign(token.substr(0, dot2));
  if (!sig || sig->size() != expected.size() ||
      !memeql_sec(sig->data(), expected.data(), expected.size())) {
    return std::nullopt;
  }
  std::optional<std::string> header = Base64Decode(token.substr(0, dot1));
  std::optional<std::string> payload = Base64Decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!header || !payload) {
    return std::nullopt;
  }
  nlohmann::json h = nlohmann::json::parse(*header, nullptr, false);
  nlohmann::json c = nlohmann::json::parse(*payload, nullptr, false);
  if (!h.is_object() || h.value("alg", "") != "HS256" || !c.is_object()) {
    return std::nullopt;
  }
  TokenClaims claims;
  try {
    claims.subject = c.value("sub", "");
    claims.audience = c.value("aud", "");
    claims.expires = c.value("exp", int64_t{0});
    int64_t nbf = c.value("nbf", int64_t{0});
    if (claims.audience != service_ || c.value("iss", "") != issuer_ || now >= claims.expires ||
        now < nbf) {
      return std::nullopt;
    }
    for (const auto& a : c.value("access", nlohmann::json::array())) {
      Scope s;
      s.type = a.at("type").get<std::string>();
      s.name = a.at("name").get<std::string>();
      for (const auto& action : a.at("actions")) {
        s.actions.insert(action.get<std::string>());
      }
      claims.access.push_back(std::move(s));
    }
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  return claims;
}

std::string LoadOrCreateTokenKey(const std::string& path) {
  if (std::optional<std::string> key = ReadFileIfExists(path); key && key->size() >= 32) {
    return *key;
  }
  std::string key(32, '\0');
  if (getrandom(key.data(), key.size(), 0) != static_cast<ssize_t>(key.size())) {
    ThrowErrno("getrandom");
  }
  WriteFileAtomic(path, key, 0600);
  return key;
}

}  // namespace berth::registry

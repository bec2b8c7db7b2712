#include "registry/registry.h"

#include <algorithm>
#include <chrono>

#include "base/log.h"
#include "registry/proxy.h"

namespace berth::registry {

namespace {

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "\"";
}

std::string ActionOf(const HttpRequest& req) {
  if (req.method() == "GET" || req.method() == "HEAD") {
    return "pull";
  }
  if (req.method() == "DELETE") {
    return "delete";
  }
  return "push";
}

}  // namespace

Registry::Registry(const Config& config, const Storage& storage, Uploads& uploads,
                   std::unique_ptr<Upstream> upstream)
    : config_(config),
      storage_(storage),
      uploads_(uploads),
      upstream_(std::move(upstream)),
      policy_(config.access) {
  if (config.auth_mode() != AuthMode::kNone) {
    htpasswd_ = Htpasswd::Load(config.htpasswd);
  }
  if (config.auth_mode() == AuthMode::kToken) {
    tokens_.emplace(LoadOrCreateTokenKey(storage.root() + "/token.key"), config.token_issuer,
                    config.token_service, config.token_ttl);
  }
}

Registry::~Registry() = default;

std::vector<std::string> Page(const std::vector<std::string>& items,
                              const std::optional<std::string>& last, std::optional<size_t> n,
                              bool* more) {
  auto begin = last ? std::upper_bound(items.begin(), items.end(), *last) : items.begin();
  size_t left = static_cast<size_t>(items.end() - begin);
  size_t take = n ? std::min(*n, left) : left;
  *more = take < left && n && *n > 0;
  return std::vector<std::string>(begin, begin + static_cast<std::ptrdiff_t>(take));
}

std::optional<size_t> PageSize(const std::optional<std::string>& n) {
  if (!n) {
    return std::nullopt;
  }
  if (n->empty() || n->size() > 9 ||
      !std::all_of(n->begin(), n->end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    throw ApiError(Code::kPaginationNumberInvalid, "", nlohmann::json{{"n", *n}});
  }
  return static_cast<size_t>(std::stoul(*n));
}

std::string Registry::Realm(const HttpRequest& req) const {
  if (!config_.token_realm.empty()) {
    return config_.token_realm;
  }
  std::string host = req.Header("Host");
  if (host.empty()) {
    host = config_.addr;
  }
  return std::string(req.tls() ? "https" : "http") + "://" + host + "/token";
}

void Registry::Handle(HttpRequest& req, HttpResponse& res) {
  auto start = std::chrono::steady_clock::now();
  Call c{req, res, {}, {}, {}};
  try {
    if (req.path() == "/token" && tokens_) {
      Token(req, res);
    } else {
      c.route = ParseRoute(req.path());
      Dispatch(c);
    }
  } catch (const std::exception& e) {
    if (res.started()) {
      log::Warn(req.method() + " " + req.target() + ": " + e.what());
    } else {
      WriteError(c, ToApiError(e));
    }
  }
  if (config_.log_requests) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    char ms[32];
    snprintf(ms, sizeof(ms), "%.3f", static_cast<double>(us) / 1000.0);
    log::Info(req.remote() + " \"" + req.method() + " " + req.target() + "\" " +
              std::to_string(res.status()) + " " + std::to_string(res.body_bytes()) + " " + ms +
              "ms user=" + (c.user.empty() ? "-" : c.user));
  }
}

void Registry::WriteError(Call& c, const ApiError& e) {
  if (e.status() == 401 && !c.challenge.empty()) {
    c.res.SetHeader("WWW-Authenticate", c.challenge);
  }
  if (e.status() >= 500) {
    log::Warn(c.req.method() + " " + c.req.target() + ": " + e.what());
  }
  c.res.Send(e.status(), e.Body().dump() + "\n", "application/json; charset=utf-8");
}

void Registry::Authorize(Call& c) {
  AuthMode mode = config_.auth_mode();
  if (mode == AuthMode::kNone) {
    return;
  }
  std::string authorization = c.req.Header("Authorization");
  std::optional<Scope> needed;
  if (c.route.kind == Route::Kind::kCatalog) {
    needed = Scope{"registry", "catalog", {"*"}};
  } else if (c.route.kind != Route::Kind::kPing) {
    needed = Scope{"repository", c.route.name, {ActionOf(c.req)}};
    if (c.route.kind == Route::Kind::kUploadStart) {
      needed->actions = {"pull", "push"};  // what docker asks for, so one token serves both
    }
  }
  if (mode == AuthMode::kHtpasswd) {
    std::optional<Credentials> creds = ParseBasic(authorization);
    if (!creds || !htpasswd_->Verify(creds->user, creds->password)) {
      c.challenge = "Basic realm=\"berth-registry\"";
      throw ApiError(Code::kUnauthorized);
    }
    c.user = creds->user;
    if (needed) {
      std::set<std::string> allowed = policy_.Allowed(c.user, *needed);
      for (const std::string& a : needed->actions) {
        if (!allowed.count(a) && !allowed.count("*")) {
          throw ApiError(Code::kDenied, "", nlohmann::json{{"scope", needed->String()}});
        }
      }
    }
    return;
  }
  // Bearer tokens from our own token endpoint.
  std::string challenge =
      "Bearer realm=" + Quote(Realm(c.req)) + ",service=" + Quote(config_.token_service);
  if (needed) {
    challenge += ",scope=" + Quote(needed->String());
  }
  std::optional<std::string> bearer = ParseBearer(authorization);
  std::optional<TokenClaims> claims;
  if (bearer) {
    claims = tokens_->Verify(*bearer, time(nullptr));
  }
  if (!claims) {
    c.challenge = challenge + (bearer ? ",error=\"invalid_token\"" : "");
    throw ApiError(Code::kUnauthorized);
  }
  c.user = claims->subject;
  if (needed) {
    for (const std::string& a : needed->actions) {
      if (!claims->Allows(needed->type, needed->name, a)) {
        c.challenge = challenge + ",error=\"insufficient_scope\"";
        throw ApiError(Code::kUnauthorized,
                       "authentication required: the token does not grant " + needed->String(),
                       nlohmann::json::array(
                           {{{"Type", needed->type}, {"Name", needed->name}, {"Action", a}}}));
      }
    }
  }
}

bool Registry::Allowed(Call& c, const std::string& repo, const std::string& action) {
  switch (config_.auth_mode()) {
    case AuthMode::kNone:
      return true;
    case AuthMode::kHtpasswd:
      return policy_.Allowed(c.user, Scope{"repository", repo, {action}}).count(action) > 0;
    case AuthMode::kToken: {
      std::optional<std::string> bearer = ParseBearer(c.req.Header("Authorization"));
      std::optional<TokenClaims> claims =
          bearer ? tokens_->Verify(*bearer, time(nullptr)) : std::nullopt;
      return claims && claims->Allows("repository", repo, action);
    }
  }
  return false;
}

void Registry::Token(HttpRequest& req, HttpResponse& res) {
  if (req.method() != "GET") {
    throw ApiError(Code::kUnsupported, "the token endpoint answers GET (Basic credentials)");
  }
  std::string user;
  std::string authorization = req.Header("Authorization");
  if (!authorization.empty()) {
    std::optional<Credentials> creds = ParseBasic(authorization);
    if (!creds || !htpasswd_->Verify(creds->user, creds->password)) {
      res.SetHeader("WWW-Authenticate", "Basic realm=\"berth-registry\"");
      throw ApiError(Code::kUnauthorized, "invalid username or password");
    }
    user = creds->user;
  }
  std::optional<std::string> service = req.Query("service");
  if (service && *service != config_.token_service) {
    throw ApiError(Code::kDenied, "unknown service \"" + *service + "\"");
  }
  std::vector<Scope> granted;
  for (const Scope& want : ParseScopes(req.QueryAll("scope"))) {
    bool repo = want.type == "repository" && ValidRepositoryName(want.name);
    bool catalog = want.type == "registry" && want.name == "catalog";
    if (!repo && !catalog) {
      continue;
    }
    Scope g = policy_.Grant(user, want);
    if (!g.actions.empty()) {
      granted.push_back(std::move(g));
    }
  }
  int64_t now = time(nullptr);
  std::string token = tokens_->Issue(user, granted, now);
  char issued[64];
  struct tm tm;
  time_t t = static_cast<time_t>(now);
  gmtime_r(&t, &tm);
  strftime(issued, sizeof(issued), "%Y-%m-%dT%H:%M:%SZ", &tm);
  nlohmann::json body = {{"token", token},
                         {"access_token", token},
                         {"expires_in", tokens_->ttl()},
                         {"issued_at", issued}};
  res.SetHeader("Cache-Control", "no-store");
  res.Send(200, body.dump() + "\n", "application/json");
}

void Registry::Dispatch(Call& c) {
  using K = Route::Kind;
  const std::string& m = c.req.method();
  if (c.route.kind == K::kNone) {
    throw ApiError(Code::kUnsupported, "no such endpoint: " + m + " " + c.req.path(), nullptr, 404);
  }
  Authorize(c);
  if (upstream_ && m != "GET" && m != "HEAD") {
    throw ApiError(Code::kUnsupported, "a pull-through cache takes no pushes or deletions");
  }
  auto unsupported = [&]() {
    throw ApiError(Code::kUnsupported, "method " + m + " is not supported here", nullptr, 405);
  };
  switch (c.route.kind) {
    case K::kPing:
      if (m != "GET" && m != "HEAD") {
        unsupported();
      }
      c.res.Send(200, "{}", "application/json");
      return;
    case K::kCatalog:
      return m == "GET" ? Catalog(c) : unsupported();
    case K::kTags:
      return m == "GET" ? ListTags(c) : unsupported();
    case K::kReferrers:
      return m == "GET" ? Referrers(c) : unsupported();
    case K::kManifest:
      if (m == "GET" || m == "HEAD") {
        return GetManifest(c);
      }
      if (m == "PUT") {
        return PutManifest(c);
      }
      return m == "DELETE" ? DeleteManifest(c) : unsupported();
    case K::kBlob:
      if (m == "GET" || m == "HEAD") {
        return GetBlob(c);
      }
      return m == "DELETE" ? DeleteBlob(c) : unsupported();
    case K::kUploadStart:
      return m == "POST" ? StartUpload(c) : unsupported();
    case K::kUpload:
      if (m == "GET") {
        return UploadStatus(c);
      }
      if (m == "PATCH") {
        return PatchUpload(c);
      }
      if (m == "PUT") {
        return PutUpload(c);
      }
      return m == "DELETE" ? CancelUpload(c) : unsupported();
    case K::kNone:
      break;
  }
  unsupported();
}

}  // namespace berth::registry

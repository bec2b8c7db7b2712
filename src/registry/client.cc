#include "registry/client.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/digest.h"
#include "base/error.h"
#include "registry/base64.h"

namespace berth::registry {

namespace {

using nlohmann::json;

constexpr const char* kManifestAccept =
    "Accept: application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

// "host:port" → host without port or brackets.
std::string HostOnly(const std::string& host) {
  if (!host.empty() && host.front() == '[') {
    size_t end = host.find(']');
    return host.substr(1, end == std::string::npos ? std::string::npos : end - 1);
  }
  size_t colon = host.rfind(':');
  if (colon != std::string::npos && host.find(':') == colon) {
    return host.substr(0, colon);
  }
  return host;
}

std::string StatusText(long status) {
  switch (status) {
    case 400:
      return "400 Bad Request";
    case 401:
      return "401 Unauthorized";
    case 403:
      return "403 Forbidden";
    case 404:
      return "404 Not Found";
    case 405:
      return "405 Method Not Allowed";
    case 416:
      return "416 Requested Range Not Satisfiable";
    case 429:
      return "429 Too Many Requests";
    case 500:
      return "500 Internal Server Error";
    case 503:
      return "503 Service Unavailable";
    default:
      return std::to_string(status);
  }
}

Kind KindOf(long status) {
  switch (status) {
    case 400:
      return Kind::kInvalidArgument;
    case 401:
    case 403:
      return Kind::kPermissionDenied;
    case 404:
      return Kind::kNotFound;
    case 405:
      return Kind::kNotImplemented;
    default:
      return Kind::kUnavailable;
  }
}

}  // namespace

std::string RegistryErrorText(const ClientReply& reply) {
  json j = json::parse(reply.body, nullptr, false);
  if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty() &&
      j["errors"][0].is_object()) {
    const json& e = j["errors"][0];
    std::string code = e.value("code", "");
    std::string message =
        e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
    std::string out;
    for (char c : code) {
      out += c == '_' ? ' ' : static_cast<char>(tolower(static_cast<unsigned char>(c)));
    }
    return out + (message.empty() ? "" : ": " + message);
  }
  return "HTTP " + StatusText(reply.status);
}

bool AllowsPlainHttp(const std::string& host, const std::vector<std::string>& insecure) {
  std::string name = HostOnly(host);
  if (name == "localhost" || name == "::1" || name.rfind("127.", 0) == 0) {
    in_addr a{};
    if (name == "localhost" || name == "::1" || inet_pton(AF_INET, name.c_str(), &a) == 1) {
      return true;
    }
  }
  for (const std::string& entry : insecure) {
    if (entry == host || entry == name) {
      return true;
    }
    size_t slash = entry.find('/');
    in_addr net{}, addr{};
    if (slash != std::string::npos &&
        inet_pton(AF_INET, entry.substr(0, slash).c_str(), &net) == 1 &&
        inet_pton(AF_INET, name.c_str(), &addr) == 1) {
      int bits = atoi(entry.c_str() + slash + 1);
      if (bits < 0 || bits > 32) {
        continue;
      }
      uint32_t mask = bits == 0 ? 0 : htonl(~uint32_t{0} << (32 - bits));
      if ((net.s_addr & mask) == (addr.s_addr & mask)) {
        return true;
      }
    }
  }
  return false;
}

std::string RepositoryScope(const std::string& repo, bool push) {
  return "repository:" + repo + (push ? ":pull,push" : ":pull");
}

DistributionClient::DistributionClient(std::string host, bool allow_plain_http, AuthConfig auth)
    : host_(std::move(host)), allow_plain_http_(allow_plain_http), auth_(std::move(auth)) {
  if (!auth_.registry_token.empty()) {
    auth_header_ = "Authorization: Bearer " + auth_.registry_token;
  }
}

void DistributionClient::AddScope(const std::string& scope) {
  std::lock_guard lock(mu_);
  scopes_.insert(scope);
}

void DistributionClient::SettleScheme() {
  {
    std::lock_guard lock(mu_);
    if (!base_.empty()) {
      return;
    }
  }
  ClientRequest req;
  req.url = "https://" + host_ + "/v2/";
  req.verify_tls = !allow_plain_http_;
  req.stall_seconds = 30;
  std::string base = "https://" + host_;
  try {
    Perform(req);
  } catch (const Error& e) {
    if (!allow_plain_http_) {
      throw Error(Kind::kUnavailable, std::string("registry ") + host_ + ": " + e.what());
    }
    req.url = "http://" + host_ + "/v2/";
    try {
      Perform(req);
    } catch (const Error& e2) {
      throw Error(Kind::kUnavailable, std::string("registry ") + host_ + ": " + e2.what());
    }
    base = "http://" + host_;
  }
  std::lock_guard lock(mu_);
  base_ = base;
}

std::string DistributionClient::BaseUrl() {
  SettleScheme();
  std::lock_guard lock(mu_);
  return base_;
}

std::string DistributionClient::AuthHeader() {
  std::lock_guard lock(mu_);
  return auth_header_;
}

void DistributionClient::Authenticate(const std::string& www_authenticate) {
  std::optional<Challenge> ch = ParseChallenge(www_authenticate);
  if (!ch) {
    throw Error(Kind::kPermissionDenied, "registry " + host_ + ": unauthorized");
  }
  if (ch->scheme == "basic") {
    if (auth_.username.empty()) {
      throw Error(Kind::kPermissionDenied,
                  "registry " + host_ + " requires credentials: no basic auth credentials");
    }
    std::lock_guard lock(mu_);
    auth_header_ = "Authorization: Basic " + Base64Encode(auth_.username + ":" + auth_.password);
    return;
  }
  if (ch->scheme != "bearer") {
    throw Error(Kind::kPermissionDenied,
                "registry " + host_ + ": unsupported auth scheme " + ch->scheme);
  }
  std::string realm = ch->Param("realm");
  if (realm.empty()) {
    throw Error(Kind::kPermissionDenied, "registry " + host_ + ": bearer challenge without realm");
  }
  std::set<std::string> scopes;
  {
    std::lock_guard lock(mu_);
    scopes = scopes_;
  }
  if (!ch->Param("scope").empty()) {
    scopes.insert(ch->Param("scope"));
  }
  std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
  url += "service=" + UrlEscape(ch->Param("service"));
  for (const std::string& scope : scopes) {
    url += "&scope=" + UrlEscape(scope);
  }
  ClientRequest req;
  req.url = url;
  req.verify_tls = !allow_plain_http_;
  req.body_limit = 1 << 20;
  std::string secret = auth_.identity_token.empty() ? auth_.password : auth_.identity_token;
  if (!auth_.username.empty()) {
    req.headers.push_back("Authorization: Basic " + Base64Encode(auth_.username + ":" + secret));
  }
  ClientReply reply = Perform(req);
  json j = json::parse(reply.body, nullptr, false);
  if (reply.status == 401 || reply.status == 403) {
    throw Error(Kind::kPermissionDenied, "get token from " + realm + ": " +
                                             RegistryErrorText(reply) +
                                             ": incorrect username or password");
  }
  if (reply.status != 200 || !j.is_object()) {
    throw Error(Kind::kUnavailable,
                "get token from " + realm + ": HTTP " + StatusText(reply.status));
  }
  std::string token = j.value("token", "");
  if (token.empty()) {
    token = j.value("access_token", "");
  }
  if (token.empty()) {
    throw Error(Kind::kUnavailable, "get token from " + realm + ": no token in the answer");
  }
  std::lock_guard lock(mu_);
  auth_header_ = "Authorization: Bearer " + token;
}

ClientReply DistributionClient::Do(ClientRequest req) {
  SettleScheme();
  req.verify_tls = !allow_plain_http_;
  std::vector<std::string> base_headers = req.headers;
  for (int attempt = 0;; ++attempt) {
    req.headers = base_headers;
    std::string auth = AuthHeader();
    if (!auth.empty()) {
      req.headers.push_back(auth);
    }
    ClientReply reply = Perform(req);
    if (reply.status == 401 && req.read && attempt == 0) {
      // A streamed body is gone: authenticate for the caller's next attempt (a token that
      // expired during a long push) and let it send again.
      Authenticate(reply.Header("www-authenticate"));
      return reply;
    }
    if (reply.status != 401 || attempt == 1 || req.read) {
      return reply;
    }
    Authenticate(reply.Header("www-authenticate"));
  }
}

void DistributionClient::Fail(const std::string& what, const ClientReply& reply) {
  throw Error(KindOf(reply.status), what + ": " + RegistryErrorText(reply));
}

void DistributionClient::Login() {
  SettleScheme();
  ClientRequest req;
  req.url = BaseUrl() + "/v2/";
  ClientReply reply = Do(req);
  if (reply.status == 401 || reply.status == 403) {
    throw Error(Kind::kPermissionDenied,
                "login attempt to " + req.url + " failed with status: " + StatusText(reply.status));
  }
  if (reply.status != 200) {
    Fail("ping " + req.url, reply);
  }
}

FetchedManifest DistributionClient::GetManifest(const std::string& repo,
                                                const std::string& reference) {
  ClientRequest req;
  req.url = BaseUrl() + "/v2/" + repo + "/manifests/" + reference;
  req.headers.push_back(kManifestAccept);
  req.body_limit = 4 << 20;
  ClientReply reply = Do(req);
  if (reply.status == 404) {
    throw Error(Kind::kNotFound, "manifest for " + host_ + "/" + repo +
                                     (reference.rfind("sha256:", 0) == 0 ? "@" : ":") + reference +
                                     " not found: " + RegistryErrorText(reply));
  }
  if (reply.status == 401 || reply.status == 403) {
    throw Error(Kind::kPermissionDenied,
                "pull access denied for " + host_ + "/" + repo +
                    ", repository does not exist or may require 'docker login': " +
                    RegistryErrorText(reply));
  }
  if (reply.status != 200) {
    Fail("manifest " + repo + ":" + reference, reply);
  }
  FetchedManifest out;
  out.bytes = std::move(reply.body);
  out.media_type = reply.Header("content-type");
  size_t semi = out.media_type.find(';');
  if (semi != std::string::npos) {
    out.media_type.resize(semi);
  }
  out.digest = Sha256Digest(out.bytes);
  if (reference.rfind("sha256:", 0) == 0 && out.digest != reference) {
    throw Error(Kind::kDataLoss, "manifest " + repo + "@" + reference + ": the registry sent " +
                                     "bytes of digest " + out.digest);
  }
  std::string claimed = reply.Header("docker-content-digest");
  if (reference.rfind("sha256:", 0) != 0 && claimed.rfind("sha256:", 0) == 0 &&
      claimed != out.digest) {
    throw Error(Kind::kDataLoss, "manifest " + repo + ":" + reference + ": Docker-Content-Digest " +
                                     claimed + " but the bytes hash to " + out.digest);
  }
  return out;
}

void DistributionClient::GetBlob(const std::string& repo, const std::string& digest,
                                 const std::function<bool(const char*, size_t)>& on_data,
                                 int attempts) {
  std::string url = BaseUrl() + "/v2/" + repo + "/blobs/" + digest;
  uint64_t delivered = 0;
  for (int attempt = 1;; ++attempt) {
    uint64_t start = delivered;
    uint64_t skip = 0;
    bool consumer_stopped = false;
    ClientRequest req;
    req.url = url;
    if (start > 0) {
      req.headers.push_back("Range: bytes=" + std::to_string(start) + "-");
    }
    req.on_response = [&](long status, const std::map<std::string, std::string>&) {
      skip = status == 200 ? start : 0;  // the Range was ignored: the whole blob again
    };
    req.on_data = [&](const char* data, size_t len) {
      if (skip > 0) {
        size_t drop = static_cast<size_t>(std::min<uint64_t>(skip, len));
        skip -= drop;
        data += drop;
        len -= drop;
        if (len == 0) {
          return true;
        }
      }
      if (!on_data(data, len)) {
        consumer_stopped = true;
        return false;
      }
      delivered += len;
      return true;
    };
    ClientReply reply;
    try {
      reply = Do(req);
    } catch (const Error& e) {
      if (consumer_stopped || e.kind() != Kind::kUnavailable || attempt >= attempts) {
        if (consumer_stopped) {
          throw;
        }
        throw Error(Kind::kUnavailable, "blob " + digest + ": " + e.what() + " (after " +
                                            std::to_string(delivered) + " bytes, " +
                                            std::to_string(attempt) + " attempts)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
      continue;
    }
    if (reply.status == 200 || reply.status == 206) {
      return;
    }
    if (reply.status == 404) {
      throw Error(Kind::kNotFound,
                  "blob " + digest + " of " + host_ + "/" + repo + ": " + RegistryErrorText(reply));
    }
    if (reply.status >= 500 && attempt < attempts) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
      continue;
    }
    Fail("blob " + digest, reply);
  }
}

bool DistributionClient::HasBlob(const std::string& repo, const std::string& digest) {
  ClientRequest req;
  req.method = "HEAD";
  req.url = BaseUrl() + "/v2/" + repo + "/blobs/" + digest;
  ClientReply reply = Do(req);
  if (reply.status == 200) {
    return true;
  }
  if (reply.status == 404) {
    return false;
  }
  throw Error(KindOf(reply.status), "blob " + digest + " of " + host_ + "/" + repo + ": HTTP " +
                                        StatusText(reply.status));
}

bool DistributionClient::MountBlob(const std::string& repo, const std::string& digest,
                                   const std::string& from) {
  ClientRequest req;
  req.method = "POST";
  req.url = BaseUrl() + "/v2/" + repo + "/blobs/uploads/?mount=" + UrlEscape(digest) +
            "&from=" + UrlEscape(from);
  ClientReply reply = Do(req);
  if (reply.status == 201) {
    return true;
  }
  if (reply.status == 202) {
    // An upload was started instead: cancel it (the caller uploads afresh).
    std::string location = reply.Header("location");
    if (!location.empty()) {
      ClientRequest cancel;
      cancel.method = "DELETE";
      cancel.url = ResolveUrl(req.url, location);
      try {
        Do(cancel);
      } catch (const Error&) {
      }
    }
    return false;
  }
  return false;
}

void DistributionClient::PushBlob(const std::string& repo, const std::string& digest, uint64_t size,
                                  int fd, uint64_t chunk_size,
                                  const std::function<void(uint64_t)>& progress) {
  std::string base = BaseUrl();
  for (int attempt = 1;; ++attempt) {
    try {
      ClientRequest start;
      start.method = "POST";
      start.url = base + "/v2/" + repo + "/blobs/uploads/";
      ClientReply reply = Do(start);
      if (reply.status != 202 || reply.Header("location").empty()) {
        Fail("start upload of " + digest + " to " + host_ + "/" + repo, reply);
      }
      std::string location = ResolveUrl(start.url, reply.Header("location"));
      uint64_t sent = 0;
      auto reader = [&](uint64_t end) {
        return [&, end](char* buf, size_t want) -> size_t {
          size_t n = static_cast<size_t>(std::min<uint64_t>(want, end - sent));
          if (n == 0) {
            return 0;
          }
          ssize_t r = pread(fd, buf, n, static_cast<off_t>(sent));
          if (r <= 0) {
            return kReadAbort;
          }
          sent += static_cast<uint64_t>(r);
          if (progress) {
            progress(sent);
          }
          return static_cast<size_t>(r);
        };
      };
      if (chunk_size > 0) {
        while (sent < size) {
          uint64_t end = std::min(size, sent + chunk_size);
          ClientRequest patch;
          patch.method = "PATCH";
          patch.url = location;
          patch.headers = {
              "Content-Type: application/octet-stream",
              "Content-Range: " + std::to_string(sent) + "-" + std::to_string(end - 1)};
          patch.read = reader(end);
          patch.read_size = static_cast<int64_t>(end - sent);
          reply = Do(patch);
          if (reply.status == 401) {
            throw Error(Kind::kUnavailable, "upload chunk of " + digest + ": unauthorized");
          }
          if (reply.status != 202) {
            Fail("upload chunk of " + digest + " to " + host_ + "/" + repo, reply);
          }
          if (!reply.Header("location").empty()) {
            location = ResolveUrl(location, reply.Header("location"));
          }
        }
      }
      ClientRequest put;
      put.method = "PUT";
      put.url = location + (location.find('?') == std::string::npos ? "?" : "&") +
                "digest=" + UrlEscape(digest);
      put.headers = {"Content-Type: application/octet-stream"};
      if (sent < size) {
        put.read = reader(size);
        put.read_size = static_cast<int64_t>(size - sent);
      }
      reply = Do(put);
      if (reply.status == 401) {
        throw Error(Kind::kUnavailable, "upload of " + digest + ": unauthorized");
      }
      if (reply.status != 201) {
        Fail("upload of " + digest + " to " + host_ + "/" + repo, reply);
      }
      return;
    } catch (const Error& e) {
      if (e.kind() != Kind::kUnavailable || attempt >= 3) {
        throw;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
    }
  }
}

std::string DistributionClient::PutManifest(const std::string& repo, const std::string& reference,
                                            const std::string& bytes,
                                            const std::string& media_type) {
  ClientRequest req;
  req.method = "PUT";
  req.url = BaseUrl() + "/v2/" + repo + "/manifests/" + reference;
  req.headers = {"Content-Type: " + media_type};
  req.body = bytes;
  ClientReply reply = Do(req);
  if (reply.status != 201 && reply.status != 200) {
    Fail("put manifest " + repo + ":" + reference, reply);
  }
  return Sha256Digest(bytes);
}

std::vector<std::string> DistributionClient::ListTags(const std::string& repo) {
  std::vector<std::string> tags;
  std::string url = BaseUrl() + "/v2/" + repo + "/tags/list";
  for (int page = 0; page < 10000 && !url.empty(); ++page) {
    ClientRequest req;
    req.url = url;
    ClientReply reply = Do(req);
    if (reply.status != 200) {
      if (reply.status == 404) {
        throw Error(Kind::kNotFound,
                    "repository " + host_ + "/" + repo + " not found: " + RegistryErrorText(reply));
      }
      Fail("tags of " + repo, reply);
    }
    json j = json::parse(reply.body, nullptr, false);
    if (j.is_object() && j.contains("tags") && j["tags"].is_array()) {
      for (const json& t : j["tags"]) {
        if (t.is_string()) {
          tags.push_back(t.get<std::string>());
        }
      }
    }
    std::string link = reply.Header("link");
    url.clear();
    size_t lt = link.find('<'), gt = link.find('>');
    if (lt != std::string::npos && gt != std::string::npos && gt > lt &&
        link.find("rel=\"next\"") != std::string::npos) {
      url = ResolveUrl(req.url, link.substr(lt + 1, gt - lt - 1));
    }
  }
  return tags;
}

}  // namespace berth::registry

#include "registry/proxy.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <mutex>

#include "base/digest.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/log.h"
#include "registry/auth.h"
#include "registry/errors.h"
#include "registry/manifest_check.h"
#include "registry/names.h"
#include "registry/uploads.h"

namespace berth::registry {

std::optional<Challenge> ParseChallenge(std::string_view h) {
  size_t sp = h.find(' ');
  if (sp == std::string_view::npos || sp == 0) {
    return std::nullopt;
  }
  Challenge c;
  for (char ch : h.substr(0, sp)) {
    c.scheme += static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  }
  std::string_view rest = h.substr(sp + 1);
  while (!rest.empty()) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == ',')) {
      rest.remove_prefix(1);
    }
    size_t eq = rest.find('=');
    if (eq == std::string_view::npos) {
      break;
    }
    std::string key(rest.substr(0, eq));
    for (char& ch : key) {
      ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    }
    rest.remove_prefix(eq + 1);
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      rest.remove_prefix(1);
      while (!rest.empty() && rest.front() != '"') {
        if (rest.front() == '\\' && rest.size() > 1) {
          rest.remove_prefix(1);
        }
        value += rest.front();
        rest.remove_prefix(1);
      }
      if (!rest.empty()) {
        rest.remove_prefix(1);
      }
    } else {
      size_t comma = rest.find(',');
      value = std::string(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma);
    }
    c.params[key] = value;
  }
  return c;
}

namespace {

struct Reply {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

size_t HeaderCb(char* data, size_t size, size_t n, void* user) {
  auto* reply = static_cast<Reply*>(user);
  std::string line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& ch : name) {
      ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    }
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t\r\n") + 1);
    reply->headers[name] = value;
  } else if (line.rfind("HTTP/", 0) == 0) {
    reply->headers.clear();  // a new response (after a redirect)
  }
  return size * n;
}

// The body sink: a string (manifests, token answers) or a file being hashed (blobs).
struct Sink {
  std::string* text = nullptr;
  size_t limit = 0;
  int fd = -1;
  Sha256* hash = nullptr;
  bool failed = false;
};

size_t BodyCb(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t len = size * n;
  if (sink->text) {
    if (sink->text->size() + len > sink->limit) {
      return 0;
    }
    sink->text->append(data, len);
    return len;
  }
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(sink->fd, data + done, len - done);
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w <= 0) {
      sink->failed = true;
      return 0;
    }
    done += static_cast<size_t>(w);
  }
  sink->hash->Update(data, len);
  return len;
}

class CurlUpstream : public Upstream {
 public:
  CurlUpstream(const Config& config, const Storage& storage)
      : config_(config), storage_(storage), remote_(config.proxy_remote) {
    while (!remote_.empty() && remote_.back() == '/') {
      remote_.pop_back();
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
  }

  std::optional<ManifestRecord> FetchManifest(const std::string& repo,
                                              const std::string& reference) override {
    std::string body;
    Sink sink;
    sink.text = &body;
    sink.limit = kMaxManifestSize;
    std::string accept =
        "Accept: application/vnd.oci.image.index.v1+json, "
        "application/vnd.oci.image.manifest.v1+json, "
        "application/vnd.docker.distribution.manifest.list.v2+json, "
        "application/vnd.docker.distribution.manifest.v2+json";
    Reply reply = Get(repo, "/v2/" + repo + "/manifests/" + reference, accept, sink);
    if (reply.status == 404) {
      return std::nullopt;
    }
    if (reply.status != 200) {
      throw Error(Kind::kUnavailable, "upstream " + remote_ + ": manifest " + repo + ":" +
                                          reference + ": HTTP " + std::to_string(reply.status));
    }
    std::string digest = Sha256Digest(body);
    if (ValidDigest(reference) && digest != reference) {
      throw Error(Kind::kUnavailable,
                  "upstream " + remote_ + ": manifest " + reference + " hashes to " + digest);
    }
    ManifestInfo info = CheckManifest(body, reply.headers["content-type"]);
    storage_.PutBlob(body);
    storage_.LinkManifest(repo, digest, info.media_type);
    if (!ValidDigest(reference)) {
      storage_.Tag(repo, reference, digest);
    }
    return ManifestRecord{digest, info.media_type, body.size()};
  }

  bool FetchBlob(const std::string& repo, const std::string& digest) override {
    std::string tmp = storage_.UploadsDir() + "/proxy-" + NewUploadId();
    UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) {
      ThrowErrno("create " + tmp);
    }
    Sha256 hash;
    Sink sink;
    sink.fd = fd.get();
    sink.hash = &hash;
    Reply reply;
    try {
      reply = Get(repo, "/v2/" + repo + "/blobs/" + digest, "", sink);
    } catch (...) {
      unlink(tmp.c_str());
      throw;
    }
    fd.Reset();
    if (reply.status != 200 || sink.failed || hash.Digest() != digest) {
      unlink(tmp.c_str());
      if (reply.status == 404) {
        return false;
      }
      throw Error(
          Kind::kUnavailable,
          "upstream " + remote_ + ": blob " + digest + ": " +
              (reply.status == 200 ? "wrong digest" : "HTTP " + std::to_string(reply.status)));
    }
    storage_.CommitBlob(tmp, digest);
    storage_.LinkBlob(repo, digest);
    return true;
  }

 private:
  // GET with the auth dance: on a 401, a token (Bearer) or the credentials (Basic), once.
  Reply Get(const std::string& repo, const std::string& path, const std::string& accept,
            Sink& sink) {
    std::string auth;
    {
      std::lock_guard lock(mu_);
      auto it = tokens_.find(repo);
      if (it != tokens_.end()) {
        auth = it->second;
      }
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      Reply reply = Perform(remote_ + path, accept, auth, sink, /*body_on_error=*/false);
      if (reply.status != 401 || attempt == 1) {
        return reply;
      }
      std::optional<Challenge> ch = ParseChallenge(reply.headers["www-authenticate"]);
      if (!ch) {
        return reply;
      }
      if (ch->scheme == "basic") {
        auth = "Authorization: Basic " +
               Base64Encode(config_.proxy_username + ":" + config_.proxy_password);
      } else if (ch->scheme == "bearer") {
        auth = "Authorization: Bearer " + FetchToken(*ch, repo);
      } else {
        return reply;
      }
      std::lock_guard lock(mu_);
      tokens_[repo] = auth;
    }
    return Reply{};
  }

  std::string FetchToken(const Challenge& ch, const std::string& repo) {
    auto param = [&](const char* k) {
      auto it = ch.params.find(k);
      return it == ch.params.end() ? std::string() : it->second;
    };
    CURL* h = curl_easy_init();
    std::string url = param("realm");
    char* service = curl_easy_escape(h, param("service").c_str(), 0);
    std::string scope_text = "repository:" + repo + ":pull";
    char* scope = curl_easy_escape(h, scope_text.c_str(), 0);
    url += (url.find('?') == std::string::npos ? "?" : "&") + std::string("service=") + service +
           "&scope=" + scope;
    curl_free(service);
    curl_free(scope);
    curl_easy_cleanup(h);
    std::string auth;
    if (!config_.proxy_username.empty()) {
      auth = "Authorization: Basic " +
             Base64Encode(config_.proxy_username + ":" + config_.proxy_password);
    }
    std::string body;
    Sink sink;
    sink.text = &body;
    sink.limit = 1 << 20;
    Reply reply = Perform(url, "", auth, sink, true);
    nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    if (reply.status != 200 || !j.is_object()) {
      throw Error(Kind::kUnavailable, "upstream token from " + param("realm") + ": HTTP " +
                                          std::to_string(reply.status));
    }
    std::string token = j.value("token", "");
    return token.empty() ? j.value("access_token", "") : token;
  }

  Reply Perform(const std::string& url, const std::string& accept, const std::string& auth,
                Sink& sink, bool body_on_error) {
    Reply reply;
    CURL* h = curl_easy_init();
    if (h == nullptr) {
      throw Error(Kind::kInternal, "curl_easy_init failed");
    }
    struct curl_slist* headers = nullptr;
    if (!accept.empty()) {
      headers = curl_slist_append(headers, accept.c_str());
    }
    if (!auth.empty()) {
      headers = curl_slist_append(headers, auth.c_str());
    }
    // Error bodies are discarded (a 401's body must not land in a blob file).
    std::string discard;
    Sink error_sink;
    error_sink.text = &discard;
    error_sink.limit = 1 << 20;
    struct Ctx {
      Reply* reply;
      Sink* sink;
      Sink* error_sink;
      CURL* h;
      bool body_on_error;
    } ctx{&reply, &sink, &error_sink, h, body_on_error};
    auto write = +[](char* data, size_t size, size_t n, void* user) -> size_t {
      auto* c = static_cast<Ctx*>(user);
      long status = 0;
      curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
      bool ok = status == 200 || c->body_on_error;
      return BodyCb(data, size, n, ok ? c->sink : c->error_sink);
    };
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, HeaderCb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &reply);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &ctx);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
      throw Error(Kind::kUnavailable, "upstream " + url + ": " + curl_easy_strerror(rc));
    }
    return reply;
  }

  const Config& config_;
  const Storage& storage_;
  std::string remote_;
  std::mutex mu_;
  std::map<std::string, std::string> tokens_;  // repo -> Authorization header line
};

}  // namespace

std::unique_ptr<Upstream> Upstream::Create(const Config& config, const Storage& storage) {
  if (config.proxy_remote.empty()) {
    return nullptr;
  }
  return std::make_unique<CurlUpstream>(config, storage);
}

}  // namespace berth::registry

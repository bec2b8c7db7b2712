#include "registry/proxy.h"

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

namespace {

bool WriteAll(int fd, const char* data, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(fd, data + done, len - done);
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w <= 0) {
      return false;
    }
    done += static_cast<size_t>(w);
  }
  return true;
}

class CurlUpstream : public Upstream {
 public:
  CurlUpstream(const Config& config, const Storage& storage)
      : config_(config), storage_(storage), remote_(config.proxy_remote) {
    while (!remote_.empty() && remote_.back() == '/') {
      remote_.pop_back();
    }
  }

  std::optional<ManifestRecord> FetchManifest(const std::string& repo,
                                              const std::string& reference) override {
    std::string accept =
        "Accept: application/vnd.oci.image.index.v1+json, "
        "application/vnd.oci.image.manifest.v1+json, "
        "application/vnd.docker.distribution.manifest.list.v2+json, "
        "application/vnd.docker.distribution.manifest.v2+json";
    ClientReply reply = Get(repo, "/v2/" + repo + "/manifests/" + reference, accept, {});
    const std::string& body = reply.body;
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
    bool failed = false;
    auto sink = [&](const char* data, size_t len) {
      hash.Update(data, len);
      if (!WriteAll(fd.get(), data, len)) {
        failed = true;
        return false;
      }
      return true;
    };
    ClientReply reply;
    try {
      reply = Get(repo, "/v2/" + repo + "/blobs/" + digest, "", sink);
    } catch (...) {
      unlink(tmp.c_str());
      throw;
    }
    fd.Reset();
    if (reply.status != 200 || failed || hash.Digest() != digest) {
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
  ClientReply Get(const std::string& repo, const std::string& path, const std::string& accept,
                  const std::function<bool(const char*, size_t)>& sink) {
    std::string auth;
    {
      std::lock_guard lock(mu_);
      auto it = tokens_.find(repo);
      if (it != tokens_.end()) {
        auth = it->second;
      }
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      ClientRequest req;
      req.url = remote_ + path;
      if (!accept.empty()) {
        req.headers.push_back(accept);
      }
      if (!auth.empty()) {
        req.headers.push_back(auth);
      }
      req.on_data = sink;
      req.body_limit = kMaxManifestSize;
      ClientReply reply = Perform(req);
      if (reply.status != 401 || attempt == 1) {
        return reply;
      }
      std::optional<Challenge> ch = ParseChallenge(reply.Header("www-authenticate"));
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
    return ClientReply{};
  }

  std::string FetchToken(const Challenge& ch, const std::string& repo) {
    std::string url = ch.Param("realm");
    url += (url.find('?') == std::string::npos ? "?" : "&") + std::string("service=") +
           UrlEscape(ch.Param("service")) + "&scope=" + UrlEscape("repository:" + repo + ":pull");
    ClientRequest req;
    req.url = url;
    if (!config_.proxy_username.empty()) {
      req.headers.push_back("Authorization: Basic " +
                            Base64Encode(config_.proxy_username + ":" + config_.proxy_password));
    }
    req.body_limit = 1 << 20;
    ClientReply reply = Perform(req);
    nlohmann::json j = nlohmann::json::parse(reply.body, nullptr, false);
    if (reply.status != 200 || !j.is_object()) {
      throw Error(Kind::kUnavailable, "upstream token from " + ch.Param("realm") + ": HTTP " +
                                          std::to_string(reply.status));
    }
    std::string token = j.value("token", "");
    return token.empty() ? j.value("access_token", "") : token;
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

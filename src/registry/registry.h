#pragma once

#include <memory>
#include <optional>
#include <string>

#include "registry/auth.h"
#include "registry/config.h"
#include "registry/errors.h"
#include "registry/http_server.h"
#include "registry/names.h"
#include "registry/storage.h"
#include "registry/uploads.h"

// The distribution API over Storage and Uploads: routing, authentication and authorization,
// the handlers, the error bodies and one log line per request. Handlers are in
// registry_blobs.cc (blobs, uploads, mounts) and registry_manifests.cc (manifests, tags,
// catalog, referrers); this file has the dispatch, auth and the token endpoint.

namespace berth::registry {

class Upstream;  // proxy.h

class Registry {
 public:
  // `upstream` may be null (no pull-through cache).
  Registry(const Config& config, const Storage& storage, Uploads& uploads,
           std::unique_ptr<Upstream> upstream = nullptr);
  ~Registry();

  // The HttpServer's handler.
  void Handle(HttpRequest& req, HttpResponse& res);

 private:
  struct Call {
    HttpRequest& req;
    HttpResponse& res;
    Route route;
    std::string user;       // who, once authenticated ("" anonymous)
    std::string challenge;  // WWW-Authenticate for a 401
  };

  void Dispatch(Call& c);
  void Authorize(Call& c);
  // Whether the caller may do `action` on `repo` (for mount's `from`, checked in place).
  bool Allowed(Call& c, const std::string& repo, const std::string& action);
  void WriteError(Call& c, const ApiError& e);
  void Token(HttpRequest& req, HttpResponse& res);
  std::string Realm(const HttpRequest& req) const;

  // registry_blobs.cc
  void GetBlob(Call& c);
  void DeleteBlob(Call& c);
  void StartUpload(Call& c);
  void UploadStatus(Call& c);
  void PatchUpload(Call& c);
  void PutUpload(Call& c);
  void CancelUpload(Call& c);

  // registry_manifests.cc
  void GetManifest(Call& c);
  void PutManifest(Call& c);
  void DeleteManifest(Call& c);
  void ListTags(Call& c);
  void Catalog(Call& c);
  void Referrers(Call& c);

  const Config& config_;
  const Storage& storage_;
  Uploads& uploads_;
  std::unique_ptr<Upstream> upstream_;
  std::optional<Htpasswd> htpasswd_;
  std::optional<TokenIssuer> tokens_;
  AccessPolicy policy_;
};

// Paginated listing shared by tags and the catalog: the sorted `items` after `last`, at most
// `n` of them; `more` is set when items remain.
std::vector<std::string> Page(const std::vector<std::string>& items,
                              const std::optional<std::string>& last, std::optional<size_t> n,
                              bool* more);
// `n` of a listing request: nullopt when absent; PAGINATION_NUMBER_INVALID when not a number.
std::optional<size_t> PageSize(const std::optional<std::string>& n);

}  // namespace berth::registry

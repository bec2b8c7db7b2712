#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "registry/auth_config.h"
#include "registry/http_client.h"

// The distribution client: what berthd needs of a registry to pull, push and log in. Auth is
// discovered from the WWW-Authenticate of a 401 (Basic: the credentials; Bearer: a token from
// the realm, for the scopes this client works under, with the credentials or anonymously).
// Plain HTTP only where allowed (loopback, insecure-registries): HTTPS is tried first there
// and HTTP when TLS fails, as dockerd does.

namespace berth::registry {

// Whether `host` ("127.0.0.1:5000", "localhost", "[::1]:5000", "reg.lan") may be reached over
// plain HTTP: loopback names and addresses, and entries of `insecure` (a host, host:port, or an
// IPv4 CIDR such as 10.0.0.0/8).
bool AllowsPlainHttp(const std::string& host, const std::vector<std::string>& insecure);

// The scope a token is asked for: "repository:team/app:pull,push".
std::string RepositoryScope(const std::string& repo, bool push);

struct FetchedManifest {
  std::string bytes;
  std::string media_type;  // the answer's Content-Type
  std::string digest;      // sha256 of the bytes (checked against a requested digest)
};

class DistributionClient {
 public:
  DistributionClient(std::string host, bool allow_plain_http, AuthConfig auth);

  // Token scopes this client asks for (besides what a challenge names).
  void AddScope(const std::string& scope);
  // GET /v2/ with the credentials: the scheme settled and, where the registry wants auth, the
  // credentials accepted (Bearer: a token issued). kPermissionDenied when refused.
  void Login();

  // The manifest or index `reference` (tag or digest) names. kNotFound when the registry has
  // none; a digest reference is checked against the bytes.
  FetchedManifest GetManifest(const std::string& repo, const std::string& reference);
  // The blob's bytes in order, each exactly once, to `on_data` (false from it aborts). A
  // connection that breaks is resumed with a Range request (up to `attempts` times in all);
  // a registry that ignores the Range is read from the start again with the bytes already
  // delivered skipped.
  void GetBlob(const std::string& repo, const std::string& digest,
               const std::function<bool(const char*, size_t)>& on_data, int attempts = 5);
  // Whether the repository has the blob (HEAD).
  bool HasBlob(const std::string& repo, const std::string& digest);
  // Cross-repository mount; true when the registry mounted it.
  bool MountBlob(const std::string& repo, const std::string& digest, const std::string& from);
  // Uploads `size` bytes read from `fd` (with pread: a failed upload starts over, up to 3
  // times). chunk_size 0: one PUT with the whole body (POST, then PUT); otherwise PATCH chunks
  // of that size with Content-Range, then PUT. `progress` gets the bytes sent so far.
  void PushBlob(const std::string& repo, const std::string& digest, uint64_t size, int fd,
                uint64_t chunk_size = 0, const std::function<void(uint64_t)>& progress = {});
  // PUT of a manifest; returns its digest.
  std::string PutManifest(const std::string& repo, const std::string& reference,
                          const std::string& bytes, const std::string& media_type);
  // Every tag of the repository (following the Link pagination).
  std::vector<std::string> ListTags(const std::string& repo);

  const std::string& host() const { return host_; }
  // "https://host" or "http://host" once settled.
  std::string BaseUrl();

 private:
  // A request with the current Authorization; on a 401 authenticates once and sends it again
  // (a streamed body is not re-sent: callers authenticate first with a bodiless request).
  ClientReply Do(ClientRequest req);
  void Authenticate(const std::string& www_authenticate);
  std::string AuthHeader();
  void SettleScheme();
  [[noreturn]] void Fail(const std::string& what, const ClientReply& reply);

  std::string host_;
  bool allow_plain_http_;
  AuthConfig auth_;
  std::mutex mu_;
  std::string base_;         // settled scheme + host
  std::string auth_header_;  // "Authorization: …"
  std::set<std::string> scopes_;
};

// The distribution error body's first error as "code: message" in lower case, as dockerd
// prints them ("manifest unknown: manifest unknown"); the HTTP status line when there is none.
std::string RegistryErrorText(const ClientReply& reply);

}  // namespace berth::registry

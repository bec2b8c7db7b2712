#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// HTTP for the registry's client side (berthd's pull/push/login and berth-registry's
// pull-through cache), over libcurl. One curl handle per thread is reused, so requests to one
// registry share a kept-alive connection. What a request means to the distribution API (auth,
// retries) is the caller's business: this layer only moves bytes.

namespace berth::registry {

// A WWW-Authenticate challenge taken apart: scheme ("bearer", lower case) and parameters.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
  std::string Param(const std::string& key) const {
    auto it = params.find(key);
    return it == params.end() ? std::string() : it->second;
  }
};
std::optional<Challenge> ParseChallenge(std::string_view header);

struct ClientReply {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  // The body when no sink took it: error answers (always, up to 1 MiB), documents.
  std::string body;
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// What a request body's `read` returns to abort the transfer (libcurl's CURL_READFUNC_ABORT).
inline constexpr size_t kReadAbort = 0x10000000;

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // The request body: `body` as is, or streamed from `read` (0 at its end) of `read_size`
  // bytes (-1: unknown, sent chunked).
  std::string_view body;
  std::function<size_t(char* buf, size_t size)> read;
  int64_t read_size = -1;
  // A 2xx answer's body goes to `on_data` when set (returning false aborts the transfer),
  // else to the reply, up to `body_limit` bytes (more is an error).
  std::function<bool(const char* data, size_t size)> on_data;
  // Called once the status and headers are in, before the first byte of a body.
  std::function<void(long status, const std::map<std::string, std::string>& headers)> on_response;
  size_t body_limit = 4 << 20;
  bool verify_tls = true;
  // Abort when less than a byte a second arrives for this long (a stalled connection).
  long stall_seconds = 60;
};

// Performs the request. A transport failure (refused, reset, cut mid-body, TLS) throws
// berth::Error kUnavailable naming the method and URL; any HTTP status is returned.
ClientReply Perform(const ClientRequest& request);

// `location` (a Location header, possibly relative) resolved against `base` (an absolute URL).
std::string ResolveUrl(const std::string& base, const std::string& location);
// Percent-encoding for a query value.
std::string UrlEscape(std::string_view text);

}  // namespace berth::registry

#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"

// One HTTP exchange on berthd's side: the request as handlers read it (query, headers, a
// body streamed in whatever framing the client chose) and the response they write (JSON,
// empty, or a chunked stream flushed message by message). The wire rules are Docker's, as
// ../shared/reference/engine-api.md records them.

namespace berth::api {

inline constexpr const char* kApiVersion = "1.41";
inline constexpr const char* kMinApiVersion = "1.24";
// The highest /v1.xx prefix served (as 1.41): clients newer than the server that did not
// negotiate down (a pinned DOCKER_API_VERSION) still work for what 1.41 has.
inline constexpr const char* kMaxServedApiVersion = "1.50";

using Filters = std::map<std::string, std::vector<std::string>>;

// Docker's boolean rule for query values: false iff empty, "0", "no", "false" or "none"
// (trimmed, any case).
bool ParseBool(std::string_view value);
// The `filters` query value in both shapes clients send: {"k":{"v":true}} (the CLI) and
// {"k":["v"]} (docker-py). kInvalidArgument otherwise.
Filters ParseFilters(std::string_view json);
// %XX decoding; `plus_is_space` for query strings (form encoding).
std::string UrlDecode(std::string_view text, bool plus_is_space);
std::multimap<std::string, std::string> ParseQuery(std::string_view query);
// "1.41" -> 141 (major*100+minor); nullopt if not "<digits>.<digits>".
std::optional<int> ParseApiVersion(std::string_view text);

class Connection;

class Request {
 public:
  const std::string& method() const { return method_; }
  // Percent-decoded, without the /v1.xx prefix.
  const std::string& path() const { return path_; }
  const std::string& target() const { return target_; }
  const std::string& api_version() const { return api_version_; }

  std::optional<std::string> Query(std::string_view name) const;
  std::vector<std::string> QueryAll(std::string_view name) const;
  // "" when absent; names are case-insensitive.
  std::string Header(std::string_view name) const;
  // A route parameter ("{name}").
  const std::string& Param(const std::string& name) const;

  // Up to `size` bytes of the body (Content-Length or chunked); 0 at its end.
  size_t ReadBody(void* buf, size_t size);
  // The whole body; kInvalidArgument if it is longer than `limit`.
  std::string ReadAllBody(size_t limit);
  // The body as JSON (null when empty).
  nlohmann::json ReadJson(size_t limit = 4 << 20);

 private:
  friend class Connection;
  friend class Router;
  explicit Request(Connection* conn) : conn_(conn) {}
  Connection* conn_;
  std::string method_, path_, target_, api_version_;
  std::multimap<std::string, std::string> query_;
  std::map<std::string, std::string> params_;
};

class Response {
 public:
  void Json(int status, const nlohmann::json& body);
  // Keys in the document's own order (inspect: the docker CLI prints them as they come).
  void OrderedJson(int status, const nlohmann::ordered_json& body);
  void Empty(int status);
  void Bytes(int status, std::string_view content_type, std::string_view body);
  // Docker's error body, with the status the error's kind maps to.
  void Error(const berth::Error& error);

  // A chunked response, written chunk by chunk. An empty content_type sends none.
  void BeginStream(int status, std::string_view content_type);
  void Write(std::string_view data);
  void EndStream();

  bool started() const { return started_; }
  bool streaming() const { return streaming_; }
  // A write failed: the client is gone.
  bool client_gone() const { return gone_; }
  // Whether the client hung up (or half-closed), without reading from the socket: for a
  // handler that waits long before it writes (wait, events).
  bool ClientClosed();

  // Takes the connection's socket: the handler writes and reads raw bytes on it (attach,
  // exec). Bytes the client sent behind the request that the server already read (stdin a
  // client wrote at once) go to `buffered`. The server closes the socket when the handler
  // returns.
  int Hijack(std::string* buffered);

  // Extra headers for the next Json/Empty/Bytes/BeginStream.
  void SetHeader(std::string name, std::string value);

 private:
  friend class Connection;
  explicit Response(Connection* conn) : conn_(conn) {}
  Connection* conn_;
  bool started_ = false, streaming_ = false, gone_ = false, hijacked_ = false;
  std::vector<std::pair<std::string, std::string>> extra_;
};

// The status an error kind answers with (in one place).
int StatusOf(Kind kind);

}  // namespace berth::api

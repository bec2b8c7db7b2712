#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The registry's HTTP/1.1 server: TCP (HOST:PORT), optionally TLS, one thread per connection,
// keep-alive. Request headers are parsed by Beast's parser (as berthd's), and chunked bodies;
// a body with a Content-Length is read straight from the socket. Responses are written here,
// blobs with sendfile(2) to remote peers on plain connections (with read + send to peers on
// this host: http_server.cc says why). berthd's server (src/api) speaks Docker's dialect over
// unix sockets; this one speaks the distribution spec's over TCP and shares only the parser and
// the query decoding with it.

namespace berth::registry {

// One connection's byte stream: a plain socket or a TLS session over one.
class Transport {
 public:
  virtual ~Transport() = default;
  // Bytes read (> 0), 0 at the end of the stream, -1 on an error or timeout.
  virtual ssize_t Read(void* buf, size_t size) = 0;
  // Writes everything; false when the peer is gone. `more`: more bytes follow at once.
  virtual bool Write(const void* data, size_t size, bool more) = 0;
  // Writes `length` bytes of file `fd` from `offset`.
  virtual bool SendFile(int fd, uint64_t offset, uint64_t length) = 0;
};

// A server certificate and key (PEM files) for TLS.
class TlsContext {
 public:
  static std::unique_ptr<TlsContext> Load(const std::string& cert_file,
                                          const std::string& key_file);
  ~TlsContext();
  // The TLS session over an accepted socket (handshake done), or nullptr if it failed.
  std::unique_ptr<Transport> Accept(int fd, std::string* error) const;

 private:
  TlsContext() = default;
  void* ctx_ = nullptr;  // SSL_CTX
};

class Connection;

class HttpRequest {
 public:
  const std::string& method() const { return method_; }
  const std::string& target() const { return target_; }
  // Percent-decoded, without the query.
  const std::string& path() const { return path_; }
  const std::string& remote() const { return remote_; }
  bool tls() const { return tls_; }

  std::optional<std::string> Query(std::string_view name) const;
  std::vector<std::string> QueryAll(std::string_view name) const;
  // "" when absent; names are case-insensitive.
  std::string Header(std::string_view name) const;
  // The Content-Length header, if the request has one (not with chunked framing).
  std::optional<uint64_t> content_length() const { return content_length_; }
  // Whether the request has a body at all (a Content-Length above 0 or chunked framing).
  bool has_body() const { return has_body_; }

  // Up to `size` bytes of the body; 0 at its end. Throws berth::Error when the client breaks
  // off or the framing is wrong.
  size_t ReadBody(void* buf, size_t size);
  // The whole body; nullopt when it is longer than `limit` (the rest is not read).
  std::optional<std::string> ReadAllBody(size_t limit);

 private:
  friend class Connection;
  explicit HttpRequest(Connection* conn) : conn_(conn) {}
  Connection* conn_;
  std::string method_, target_, path_, remote_;
  bool tls_ = false;
  std::multimap<std::string, std::string> query_;
  std::optional<uint64_t> content_length_;
  bool has_body_ = false;
};

class HttpResponse {
 public:
  // Headers for the response (before Send*).
  void SetHeader(std::string name, std::string value);
  // A whole response. For a HEAD request only the headers go out (with the body's length).
  void Send(int status, std::string_view body, std::string_view content_type = {});
  // Only headers, with this Content-Length (HEAD of a blob).
  void SendHeaders(int status, uint64_t content_length, std::string_view content_type);
  // `length` bytes of file `fd` from `offset` as the body.
  void SendFile(int status, int fd, uint64_t offset, uint64_t length,
                std::string_view content_type);

  bool started() const { return started_; }
  int status() const { return status_; }
  uint64_t body_bytes() const { return body_bytes_; }

 private:
  friend class Connection;
  explicit HttpResponse(Connection* conn) : conn_(conn) {}
  std::string Head(int status, uint64_t length, std::string_view content_type);
  Connection* conn_;
  bool started_ = false;
  int status_ = 0;
  uint64_t body_bytes_ = 0;
  std::vector<std::pair<std::string, std::string>> headers_;
};

using HttpHandler = std::function<void(HttpRequest&, HttpResponse&)>;

class HttpServer {
 public:
  // `tls` may be null (plain HTTP); it must outlive the server.
  HttpServer(HttpHandler handler, const TlsContext* tls);
  ~HttpServer();
  // "HOST:PORT" (IPv4, [IPv6] or a name; port 0 picks a free one). Returns the address bound,
  // "127.0.0.1:40123".
  std::string Listen(const std::string& addr);
  // Accepts until Stop(); returns when every connection has ended.
  void Run();
  void Stop();
  // Idle keep-alive connections are closed after this long (and a stalled body read fails).
  void set_idle_timeout(int seconds) { idle_timeout_ = seconds; }

 private:
  void Serve(int fd, std::string remote, bool same_host);

  HttpHandler handler_;
  const TlsContext* tls_;
  std::vector<int> listeners_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable idle_;
  std::set<int> connections_;
  int active_ = 0;
  int idle_timeout_ = 300;
};

// "Not Found" for 404, ...
std::string_view ReasonPhrase(int status);

}  // namespace berth::registry

#include "registry/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <thread>

#include "api/http.h"
#include "base/error.h"
#include "base/log.h"

namespace berth::registry {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;

namespace {

// Whether the peer is on this host (loopback, or one of our own addresses, which the kernel
// also routes over loopback).
bool SameHost(int fd, const struct sockaddr_storage& peer) {
  struct sockaddr_storage local;
  socklen_t len = sizeof(local);
  if (getsockname(fd, reinterpret_cast<struct sockaddr*>(&local), &len) < 0 ||
      local.ss_family != peer.ss_family) {
    return false;
  }
  if (peer.ss_family == AF_INET) {
    const auto& p = reinterpret_cast<const struct sockaddr_in&>(peer).sin_addr;
    const auto& l = reinterpret_cast<const struct sockaddr_in&>(local).sin_addr;
    return (ntohl(p.s_addr) >> 24) == 127 || p.s_addr == l.s_addr;
  }
  if (peer.ss_family == AF_INET6) {
    const auto& p = reinterpret_cast<const struct sockaddr_in6&>(peer).sin6_addr;
    const auto& l = reinterpret_cast<const struct sockaddr_in6&>(local).sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&p) || std::memcmp(&p, &l, sizeof(p)) == 0 ||
           (IN6_IS_ADDR_V4MAPPED(&p) && p.s6_addr[12] == 127);
  }
  return false;
}

class PlainTransport : public Transport {
 public:
  // `same_host`: the peer is on this machine (see SendFile).
  PlainTransport(int fd, bool same_host) : fd_(fd), same_host_(same_host) {}
  ssize_t Read(void* buf, size_t size) override {
    while (true) {
      ssize_t n = recv(fd_, buf, size, 0);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return n;
    }
  }
  bool Write(const void* data, size_t size, bool more) override {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t n = send(fd_, p, size, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return false;
      }
      p += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }
  bool SendFile(int fd, uint64_t offset, uint64_t length) override {
    if (same_host_) {
      return CopyFile(fd, offset, length);
    }
    off_t off = static_cast<off_t>(offset);
    while (length > 0) {
      ssize_t n = sendfile(fd_, fd, &off, std::min<uint64_t>(length, 1 << 30));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return false;
      }
      length -= static_cast<uint64_t>(n);
    }
    return true;
  }

 private:
  // sendfile saves us a copy when a network card sends the file's pages. Over loopback there
  // is no card: the client's recv copies straight from the page cache, cold, and the queued
  // pages are pushed out by the client's own ACKs, in its time slice. Read and sent in 64 KiB
  // pieces, the data reaches the client hot in the cache and the transmit work is ours: skopeo
  // pulls a 170 MB image ~10% faster (bench/README.md, registry.sh), for ~15 ms more of our CPU.
  bool CopyFile(int fd, uint64_t offset, uint64_t length) {
    char buf[64 << 10];
    while (length > 0) {
      ssize_t n =
          pread(fd, buf, std::min<uint64_t>(length, sizeof(buf)), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0 || !Write(buf, static_cast<size_t>(n), false)) {
        return false;
      }
      offset += static_cast<uint64_t>(n);
      length -= static_cast<uint64_t>(n);
    }
    return true;
  }

  int fd_;
  bool same_host_;
};

class TlsTransport : public Transport {
 public:
  explicit TlsTransport(SSL* ssl) : ssl_(ssl) {}
  ~TlsTransport() override {
    SSL_shutdown(ssl_);
    SSL_free(ssl_);
  }
  ssize_t Read(void* buf, size_t size) override {
    size_t got = 0;
    int rc = SSL_read_ex(ssl_, buf, size, &got);
    if (rc == 1) {
      return static_cast<ssize_t>(got);
    }
    return SSL_get_error(ssl_, rc) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
  }
  bool Write(const void* data, size_t size, bool) override {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      size_t n = 0;
      if (SSL_write_ex(ssl_, p, size, &n) != 1) {
        return false;
      }
      p += n;
      size -= n;
    }
    return true;
  }
  bool SendFile(int fd, uint64_t offset, uint64_t length) override {
    std::unique_ptr<char[]> buf(new char[kChunk]);
    while (length > 0) {
      ssize_t n =
          pread(fd, buf.get(), std::min<uint64_t>(length, kChunk), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0 || !Write(buf.get(), static_cast<size_t>(n), false)) {
        return false;
      }
      offset += static_cast<uint64_t>(n);
      length -= static_cast<uint64_t>(n);
    }
    return true;
  }

 private:
  static constexpr size_t kChunk = 256 << 10;
  SSL* ssl_;
};

// Beast's SyncReadStream/SyncWriteStream over a Transport.
class Stream {
 public:
  explicit Stream(Transport& t) : t_(t) {}
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    ec = {};
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
         ++it) {
      net::mutable_buffer b = *it;
      if (b.size() == 0) {
        continue;
      }
      ssize_t n = t_.Read(b.data(), b.size());
      if (n == 0) {
        ec = net::error::eof;
        return 0;
      }
      if (n < 0) {
        ec = net::error::connection_reset;
        return 0;
      }
      return static_cast<size_t>(n);
    }
    return 0;
  }
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    boost::system::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) {
      throw boost::system::system_error(ec);
    }
    return n;
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
    ec = {};
    size_t total = 0;
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
         ++it) {
      net::const_buffer b = *it;
      if (!t_.Write(b.data(), b.size(), false)) {
        ec = net::error::broken_pipe;
        return total;
      }
      total += b.size();
    }
    return total;
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers) {
    boost::system::error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) {
      throw boost::system::system_error(ec);
    }
    return n;
  }

 private:
  Transport& t_;
};

std::string HttpDate() {
  char buf[64];
  time_t now = time(nullptr);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// Bodies a handler left unread up to this size are read and dropped to keep the connection.
constexpr uint64_t kDrainLimit = 1 << 20;

// The read buffer of a connection (Beast's flat_buffer).
constexpr size_t kReadBuffer = 128 << 10;

// Coalescing of body reads (Connection::ReadDirect): after a read of less than kCoalesceBelow
// bytes, wait kCoalesceMicros before the next, unless at most kCoalesceAbove bytes are left.
constexpr size_t kCoalesceBelow = 64 << 10;
constexpr int kCoalesceMicros = 1000;
constexpr uint64_t kCoalesceAbove = 1 << 20;

// Half-closes, then reads and drops what the client still sends (at most 64 MiB or 2 s), so
// that our close does not reset the connection under the answer already written.
void LingeringClose(int fd) {
  shutdown(fd, SHUT_WR);
  struct timeval tv = {0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buf[64 << 10];
  uint64_t total = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (total < (64u << 20) && std::chrono::steady_clock::now() < deadline) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0 && !(n < 0 && errno == EINTR)) {
      break;
    }
    total += n > 0 ? static_cast<uint64_t>(n) : 0;
  }
}

}  // namespace

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 307:
      return "Temporary Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
  }
  return "Unknown";
}

class Connection {
 public:
  Connection(const HttpHandler& handler, Transport& t, std::string remote, bool tls)
      : handler_(handler), transport_(t), stream_(t), remote_(std::move(remote)), tls_(tls) {
    // Beast reads at most the buffer's free capacity (at least 512 bytes): left at its initial
    // size, a 100 MB body arrives in 200 000 reads of 512 bytes (3x slower than the network).
    buffer_.reserve(kReadBuffer);
  }

  void Serve() {
    while (ServeOne()) {
    }
  }

  // Whether the connection ends with request bytes unread (an early error answer to a large
  // upload): the socket must then linger, or the client's unsent bytes turn our close into a
  // reset that may destroy the answer before the client reads it.
  bool unread_body() const { return parser_ && !body_done(); }

  size_t ReadBody(void* buf, size_t size) {
    if (expect_continue_) {
      expect_continue_ = false;
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      if (!transport_.Write(kContinue.data(), kContinue.size(), false)) {
        keep_alive_ = false;
        throw Error(Kind::kInvalidArgument, "read request body: the client is gone");
      }
    }
    if (direct_left_) {
      return ReadDirect(buf, size);
    }
    while (!parser_->is_done()) {
      auto& body = parser_->get().body();
      body.data = buf;
      body.size = size;
      beast::error_code ec;
      http::read_some(stream_, buffer_, *parser_, ec);
      if (ec == http::error::need_buffer) {
        ec = {};
      }
      if (ec) {
        keep_alive_ = false;
        throw Error(Kind::kInvalidArgument, "read request body: " + ec.message());
      }
      size_t got = size - parser_->get().body().size;
      if (got > 0) {
        return got;
      }
    }
    return 0;
  }

  std::string Header(std::string_view name) const {
    // Several fields of one name are one comma-separated list (docker sends one Accept
    // field per media type).
    const auto& msg = parser_->get();
    std::string out;
    auto range = msg.equal_range(beast::string_view(name.data(), name.size()));
    for (auto it = range.first; it != range.second; ++it) {
      out += (out.empty() ? "" : ", ") + std::string(it->value());
    }
    return out;
  }

  bool head() const { return head_; }
  bool keep_alive() const { return keep_alive_; }

  // Decides, before the response goes out, whether the connection survives it: a body the
  // handler did not read must be skippable (small, and not held back by Expect: 100-continue).
  void SettleBody() {
    if (body_done()) {
      return;
    }
    if (expect_continue_) {
      keep_alive_ = false;  // the client waits for our word before sending: it never will
      return;
    }
    auto length = parser_->content_length();
    if (!length || *length > kDrainLimit) {
      keep_alive_ = false;
    }
  }

  bool WriteRaw(std::string_view data, bool more) {
    if (!transport_.Write(data.data(), data.size(), more)) {
      keep_alive_ = false;
      return false;
    }
    return true;
  }
  bool SendFile(int fd, uint64_t offset, uint64_t length) {
    if (!transport_.SendFile(fd, offset, length)) {
      keep_alive_ = false;
      return false;
    }
    return true;
  }

 private:
  bool ServeOne() {
    parser_.emplace();
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_->header_limit(64 << 10);
    beast::error_code ec;
    http::read_header(stream_, buffer_, *parser_, ec);
    if (ec) {
      if (ec != http::error::end_of_stream && ec != net::error::eof &&
          ec != net::error::connection_reset) {
        std::string msg = "400 Bad Request: " + ec.message();
        std::string head =
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
            "Connection: close\r\nContent-Length: " +
            std::to_string(msg.size()) + "\r\n\r\n";
        WriteRaw(head + msg, false);
      }
      return false;
    }
    const auto& msg = parser_->get();
    keep_alive_ = msg.keep_alive();
    head_ = msg.method() == http::verb::head;
    expect_continue_ = beast::iequals(msg[http::field::expect], "100-continue");
    HttpRequest req(this);
    HttpResponse res(this);
    req.method_ = std::string(msg.method_string());
    req.target_ = std::string(msg.target());
    req.remote_ = remote_;
    req.tls_ = tls_;
    size_t q = req.target_.find('?');
    req.path_ = api::UrlDecode(std::string_view(req.target_).substr(0, q), false);
    if (q != std::string::npos) {
      req.query_ = api::ParseQuery(std::string_view(req.target_).substr(q + 1));
    }
    direct_left_.reset();
    drained_ = false;
    if (auto len = parser_->content_length()) {
      req.content_length_ = *len;
      req.has_body_ = *len > 0;
      direct_left_ = *len;
    } else {
      req.has_body_ = parser_->chunked();
    }
    try {
      handler_(req, res);
    } catch (const std::exception& e) {
      log::Warn(req.method_ + " " + req.target_ + ": " + e.what());
    }
    if (!res.started_) {
      res.Send(500, "internal error: no answer\n", "text/plain");
    }
    if (!keep_alive_) {
      return false;
    }
    if (!body_done()) {
      char scratch[64 << 10];
      try {
        while (ReadBody(scratch, sizeof(scratch)) > 0) {
        }
      } catch (const Error&) {
        return false;
      }
    }
    return keep_alive_;
  }

  bool body_done() const { return direct_left_ ? *direct_left_ == 0 : parser_->is_done(); }

  // A body of known length is read past Beast's parser: first what the header's read left in
  // the buffer, then straight from the transport into the caller's buffer. Through the parser
  // every byte was copied once more, and each read was only as large as the parser buffer's
  // free space (a 120 MB upload: ~12% less of our CPU this way).
  //
  // Reads of a large body are coalesced: after a read that found the socket nearly drained,
  // we wait kCoalesceMicros before the next instead of sleeping on the socket. A client that
  // sends slower than we write and hash (skopeo: ~400 MB/s, 32 KiB writes) otherwise wakes us
  // for every write it makes, and pays for each wake-up in its own time slice (~4% of skopeo's
  // CPU on a 120 MB push). At most one wait per kCoalesceMicros, so a fast client loses
  // nothing (the socket buffer holds far more than it sends in that time), and none in the
  // last kCoalesceAbove bytes, so a body's end is not delayed. SO_RCVLOWAT would be the
  // kernel's way; set per read to min(mark, bytes left) it still stalled skopeo's uploads for
  // good on Linux 6.18, at random points.
  size_t ReadDirect(void* buf, size_t size) {
    uint64_t& left = *direct_left_;
    size = static_cast<size_t>(std::min<uint64_t>(size, left));
    if (size == 0) {
      return 0;
    }
    if (buffer_.size() > 0) {
      size_t n = std::min(size, buffer_.size());
      std::memcpy(buf, buffer_.data().data(), n);
      buffer_.consume(n);
      left -= n;
      return n;
    }
    if (drained_ && left > kCoalesceAbove) {
      usleep(kCoalesceMicros);
    }
    ssize_t n = transport_.Read(buf, size);
    // (A TLS read returns one record at most, whatever the socket holds: not a sign.)
    drained_ = !tls_ && n > 0 && static_cast<size_t>(n) < std::min<size_t>(size, kCoalesceBelow);
    if (n <= 0) {
      keep_alive_ = false;
      throw Error(Kind::kInvalidArgument, n == 0 ? "read request body: partial message"
                                                 : "read request body: connection reset");
    }
    left -= static_cast<uint64_t>(n);
    return static_cast<size_t>(n);
  }

  const HttpHandler& handler_;
  Transport& transport_;
  Stream stream_;
  std::string remote_;
  bool tls_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::buffer_body>> parser_;
  // The bytes of a Content-Length body not yet read (ReadDirect); unset with chunked framing.
  std::optional<uint64_t> direct_left_;
  bool drained_ = false;  // the last read left the socket (nearly) empty
  bool keep_alive_ = true;
  bool head_ = false;
  bool expect_continue_ = false;
};

std::optional<std::string> HttpRequest::Query(std::string_view name) const {
  auto it = query_.find(std::string(name));
  if (it == query_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::vector<std::string> HttpRequest::QueryAll(std::string_view name) const {
  std::vector<std::string> out;
  auto range = query_.equal_range(std::string(name));
  for (auto it = range.first; it != range.second; ++it) {
    out.push_back(it->second);
  }
  return out;
}

std::string HttpRequest::Header(std::string_view name) const { return conn_->Header(name); }

size_t HttpRequest::ReadBody(void* buf, size_t size) { return conn_->ReadBody(buf, size); }

std::optional<std::string> HttpRequest::ReadAllBody(size_t limit) {
  if (content_length_ && *content_length_ > limit) {
    return std::nullopt;
  }
  std::string body;
  char buf[64 << 10];
  while (size_t n = ReadBody(buf, sizeof(buf))) {
    if (body.size() + n > limit) {
      return std::nullopt;
    }
    body.append(buf, n);
  }
  return body;
}

void HttpResponse::SetHeader(std::string name, std::string value) {
  headers_.emplace_back(std::move(name), std::move(value));
}

std::string HttpResponse::Head(int status, uint64_t length, std::string_view content_type) {
  started_ = true;
  status_ = status;
  conn_->SettleBody();
  std::string h =
      "HTTP/1.1 " + std::to_string(status) + " " + std::string(ReasonPhrase(status)) + "\r\n";
  h += "Date: " + HttpDate() + "\r\n";
  h += "Docker-Distribution-Api-Version: registry/2.0\r\n";
  if (!content_type.empty()) {
    h += "Content-Type: " + std::string(content_type) + "\r\n";
  }
  h += "Content-Length: " + std::to_string(length) + "\r\n";
  for (const auto& [name, value] : headers_) {
    h += name + ": " + value + "\r\n";
  }
  if (!conn_->keep_alive()) {
    h += "Connection: close\r\n";
  }
  h += "\r\n";
  return h;
}

void HttpResponse::Send(int status, std::string_view body, std::string_view content_type) {
  std::string out = Head(status, body.size(), content_type);
  if (!conn_->head()) {
    out += body;
    body_bytes_ = body.size();
  }
  conn_->WriteRaw(out, false);
}

void HttpResponse::SendHeaders(int status, uint64_t content_length, std::string_view content_type) {
  conn_->WriteRaw(Head(status, content_length, content_type), false);
}

void HttpResponse::SendFile(int status, int fd, uint64_t offset, uint64_t length,
                            std::string_view content_type) {
  std::string head = Head(status, length, content_type);
  if (conn_->head()) {
    conn_->WriteRaw(head, false);
    return;
  }
  if (conn_->WriteRaw(head, length > 0) && conn_->SendFile(fd, offset, length)) {
    body_bytes_ = length;
  }
}

std::unique_ptr<TlsContext> TlsContext::Load(const std::string& cert_file,
                                             const std::string& key_file) {
  std::unique_ptr<TlsContext> t(new TlsContext());
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    throw Error(Kind::kInternal, "TLS: cannot make a context");
  }
  t->ctx_ = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  auto fail = [](const std::string& what) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    ThrowInvalid(what + ": " + buf);
  };
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    fail("TLS certificate " + cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    fail("TLS key " + key_file);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    fail("TLS key " + key_file + " does not match " + cert_file);
  }
  return t;
}

TlsContext::~TlsContext() { SSL_CTX_free(static_cast<SSL_CTX*>(ctx_)); }

std::unique_ptr<Transport> TlsContext::Accept(int fd, std::string* error) const {
  SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ctx_));
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    *error = "TLS: cannot make a session";
    return nullptr;
  }
  if (SSL_accept(ssl) != 1) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    *error = std::string("TLS handshake: ") + buf;
    SSL_free(ssl);
    return nullptr;
  }
  return std::make_unique<TlsTransport>(ssl);
}

HttpServer::HttpServer(HttpHandler handler, const TlsContext* tls)
    : handler_(std::move(handler)), tls_(tls) {}

HttpServer::~HttpServer() {
  for (int fd : listeners_) {
    close(fd);
  }
}

std::string HttpServer::Listen(const std::string& addr) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) {
    ThrowInvalid("address \"" + addr + "\": expected HOST:PORT");
  }
  std::string host = addr.substr(0, colon);
  std::string port = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  struct addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  struct addrinfo* res = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    ThrowInvalid("address \"" + addr + "\": " + gai_strerror(rc));
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    ThrowErrno("socket");
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 512) < 0) {
    int err = errno;
    freeaddrinfo(res);
    close(fd);
    throw SysError("listen on " + addr, err);
  }
  freeaddrinfo(res);
  listeners_.push_back(fd);
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<struct sockaddr*>(&ss), &len);
  char ip[INET6_ADDRSTRLEN] = "";
  int bound_port = 0;
  if (ss.ss_family == AF_INET) {
    auto* sin = reinterpret_cast<struct sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
    bound_port = ntohs(sin->sin_port);
    return std::string(ip) + ":" + std::to_string(bound_port);
  }
  auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
  bound_port = ntohs(sin6->sin6_port);
  return "[" + std::string(ip) + "]:" + std::to_string(bound_port);
}

void HttpServer::Run() {
  std::vector<std::thread> threads;
  for (int listener : listeners_) {
    threads.emplace_back([this, listener] {
      while (!stopping_) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(listener, reinterpret_cast<struct sockaddr*>(&ss), &len, SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EINTR || errno == ECONNABORTED) {
            continue;
          }
          if (errno == EMFILE || errno == ENFILE) {
            usleep(10000);
            continue;
          }
          break;
        }
        char ip[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
          auto* sin = reinterpret_cast<struct sockaddr_in*>(&ss);
          inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
          port = ntohs(sin->sin_port);
        } else if (ss.ss_family == AF_INET6) {
          auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(&ss);
          inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
          port = ntohs(sin6->sin6_port);
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct timeval tv = {idle_timeout_, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        std::lock_guard lock(mu_);
        if (stopping_) {
          close(fd);
          break;
        }
        connections_.insert(fd);
        ++active_;
        std::string remote = std::string(ip) + ":" + std::to_string(port);
        bool same_host = SameHost(fd, ss);
        std::thread([this, fd, remote, same_host] { Serve(fd, remote, same_host); }).detach();
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return active_ == 0; });
}

void HttpServer::Stop() {
  stopping_ = true;
  std::lock_guard lock(mu_);
  for (int fd : listeners_) {
    shutdown(fd, SHUT_RDWR);
  }
  for (int fd : connections_) {
    shutdown(fd, SHUT_RDWR);
  }
}

void HttpServer::Serve(int fd, std::string remote, bool same_host) {
  try {
    std::unique_ptr<Transport> transport;
    std::string error;
    if (tls_ != nullptr) {
      transport = tls_->Accept(fd, &error);
    } else {
      transport = std::make_unique<PlainTransport>(fd, same_host);
    }
    if (transport) {
      Connection conn(handler_, *transport, remote, tls_ != nullptr);
      conn.Serve();
      if (conn.unread_body() && tls_ == nullptr) {
        LingeringClose(fd);
      }
    } else {
      log::Debug(remote + ": " + error);
    }
  } catch (const std::exception& e) {
    log::Warn(remote + ": " + e.what());
  }
  // OpenSSL's state for this thread (TLS, the pull-through cache's libcurl) goes now: it is
  // otherwise freed at thread exit, which a detached thread may not reach before the process
  // ends once Run has seen the last connection go.
  OPENSSL_thread_stop();
  std::lock_guard lock(mu_);
  connections_.erase(fd);
  close(fd);
  --active_;
  idle_.notify_all();
}

}  // namespace berth::registry

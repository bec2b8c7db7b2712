#include "api/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <limits>

#include "api/connection.h"
#include "base/file_util.h"
#include "base/log.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

namespace berth::api {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;

namespace {

asio::io_context& Io() {
  // Only synchronous operations run on it: it never needs run().
  static asio::io_context io;
  return io;
}

std::string HttpDate() {
  char buf[64];
  time_t now = time(nullptr);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) {
      slash = path.size();
    }
    if (slash > pos) {
      out.push_back(path.substr(pos, slash - pos));
    }
    pos = slash + 1;
  }
  return out;
}

// Matches pattern segments [pi..] against path segments [si..], filling params.
bool MatchFrom(const std::vector<std::string>& pattern, size_t pi,
               const std::vector<std::string>& path, size_t si,
               std::map<std::string, std::string>& params) {
  if (pi == pattern.size()) {
    return si == path.size();
  }
  const std::string& seg = pattern[pi];
  if (seg.size() > 3 && seg.front() == '{' && seg.compare(seg.size() - 2, 2, "*}") == 0) {
    std::string name = seg.substr(1, seg.size() - 3);
    // Longest first: "/images/a/json/json" names the image "a/json".
    for (size_t end = path.size(); end > si; --end) {
      if (MatchFrom(pattern, pi + 1, path, end, params)) {
        std::string joined;
        for (size_t i = si; i < end; ++i) {
          joined += (i > si ? "/" : "") + path[i];
        }
        params[name] = joined;
        return true;
      }
    }
    return false;
  }
  if (si == path.size()) {
    return false;
  }
  if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
    if (MatchFrom(pattern, pi + 1, path, si + 1, params)) {
      params[seg.substr(1, seg.size() - 2)] = path[si];
      return true;
    }
    return false;
  }
  return seg == path[si] && MatchFrom(pattern, pi + 1, path, si + 1, params);
}

}  // namespace

Headers StandardHeaders() {
  return {{"Api-Version", kApiVersion},
          {"Docker-Experimental", "false"},
          {"Ostype", "linux"},
          {"Server", std::string("Berth/") + BERTH_VERSION + " (linux)"},
          {"Date", HttpDate()}};
}

void Router::Add(std::string method, std::string pattern, Handler handler) {
  routes_.push_back({std::move(method), Split(pattern), std::move(handler)});
}

const Handler* Router::Match(Request& req) const {
  std::vector<std::string> path = Split(req.path_);
  for (const Route& route : routes_) {
    if (route.method != req.method_) {
      continue;
    }
    std::map<std::string, std::string> params;
    if (MatchFrom(route.segments, 0, path, 0, params)) {
      req.params_ = std::move(params);
      return &route.handler;
    }
  }
  return nullptr;
}

Connection::Connection(const Router& router, asio::io_context& io, int fd)
    : router_(router), socket_(io) {
  socket_.assign(asio::local::stream_protocol(), fd);
}

void Connection::Serve() {
  while (ServeOne()) {
  }
}

std::string Connection::Header(std::string_view name) const {
  const auto& msg = parser_->get();
  auto it = msg.find(beast::string_view(name.data(), name.size()));
  return it == msg.end() ? std::string() : std::string(it->value());
}

size_t Connection::ReadBody(void* buf, size_t size) {
  // Beast reads as much as the buffer has room for: from its small default, large bodies
  // (image loads, build contexts) would come ~512 bytes per read.
  if (buffer_.capacity() < kBodyReadSize) buffer_.reserve(kBodyReadSize);
  while (!parser_->is_done()) {
    auto& body = parser_->get().body();
    body.data = buf;
    body.size = size;
    beast::error_code ec;
    http::read_some(socket_, buffer_, *parser_, ec);
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

std::string Connection::TakeBuffered() {
  // The parser may hold body bytes of its own; a hijacked request has no body (Docker's
  // attach and exec start send Content-Length: 0 or a small JSON the handler read already).
  auto data = buffer_.data();
  std::string out(static_cast<const char*>(data.data()), data.size());
  buffer_.consume(buffer_.size());
  return out;
}

bool Connection::WriteWhole(int status, const Headers& headers, std::string_view body) {
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  for (const auto& [name, value] : headers) {
    res.set(name, value);
  }
  res.keep_alive(keep_alive_);
  beast::error_code ec;
  if (head_) {
    res.content_length(body.size());
    http::response_serializer<http::string_body> sr{res};
    http::write_header(socket_, sr, ec);
  } else {
    res.body() = std::string(body);
    res.prepare_payload();
    http::write(socket_, res, ec);
  }
  return !ec;
}

bool Connection::WriteStreamHeader(int status, const Headers& headers) {
  http::response<http::empty_body> res{static_cast<http::status>(status), 11};
  for (const auto& [name, value] : headers) {
    res.set(name, value);
  }
  res.keep_alive(keep_alive_);
  res.chunked(true);
  http::response_serializer<http::empty_body> sr{res};
  beast::error_code ec;
  http::write_header(socket_, sr, ec);
  return !ec;
}

bool Connection::WriteChunk(std::string_view data) {
  beast::error_code ec;
  asio::write(socket_, http::make_chunk(asio::buffer(data.data(), data.size())), ec);
  return !ec;
}

bool Connection::WriteLastChunk() {
  beast::error_code ec;
  asio::write(socket_, http::make_chunk_last(), ec);
  return !ec;
}

bool Connection::ServeOne() {
  parser_.emplace();
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());  // not none: Beast 1.74 compares
  // a Content-Length against an empty optional as if it were exceeded
  parser_->header_limit(1 << 20);
  beast::error_code ec;
  http::read_header(socket_, buffer_, *parser_, ec);
  if (ec) {
    if (ec != http::error::end_of_stream && ec != asio::error::eof &&
        ec != asio::error::connection_reset) {
      // Not HTTP: say so if the socket still listens, then hang up.
      http::response<http::string_body> res{http::status::bad_request, 11};
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = "400 Bad Request: " + ec.message();
      res.keep_alive(false);
      res.prepare_payload();
      beast::error_code ignored;
      http::write(socket_, res, ignored);
    }
    return false;
  }
  const auto& msg = parser_->get();
  keep_alive_ = msg.keep_alive();
  head_ = msg.method() == http::verb::head;
  if (beast::iequals(msg[http::field::expect], "100-continue")) {
    // curl asks before it sends a large body (`curl -T image.tar`).
    http::response<http::empty_body> cont{http::status::continue_, 11};
    http::write(socket_, cont, ec);
    if (ec) {
      return false;
    }
  }
  Request req(this);
  Response res(this);
  req.method_ = std::string(msg.method_string());
  req.target_ = std::string(msg.target());
  Route(req, res);
  if (res.hijacked_) {
    return false;
  }
  if (res.streaming_) {
    res.EndStream();
  }
  if (!res.started_) {
    res.Json(500, {{"message", "internal error: the handler gave no answer"}});
  }
  if (res.gone_) {
    return false;
  }
  if (!parser_->is_done()) {
    // The handler left part of the body unread: skip it, within reason, to keep the
    // connection; a huge remainder is cheaper to drop with the connection.
    char scratch[64 << 10];
    uint64_t skipped = 0;
    try {
      while (size_t n = ReadBody(scratch, sizeof(scratch))) {
        skipped += n;
        if (skipped > (16u << 20)) {
          return false;
        }
      }
    } catch (const Error&) {
      return false;
    }
  }
  return keep_alive_;
}

void Connection::Route(Request& req, Response& res) {
  std::string target = req.target_;
  size_t q = target.find('?');
  std::string raw_path = target.substr(0, q);
  if (q != std::string::npos) {
    req.query_ = ParseQuery(target.substr(q + 1));
  }
  std::string path = UrlDecode(raw_path, false);
  req.api_version_ = kApiVersion;
  std::optional<int> version;
  if (path.rfind("/v", 0) == 0) {
    size_t slash = path.find('/', 2);
    std::string candidate = path.substr(2, slash == std::string::npos ? slash : slash - 2);
    if (std::optional<int> v = ParseApiVersion(candidate); v) {
      version = v;
      req.api_version_ = candidate;
      path = slash == std::string::npos ? "/" : path.substr(slash);
    }
  }
  req.path_ = path;
  log::Debug(req.method_ + " " + req.target_);
  try {
    if (req.method_ == "OPTIONS") {
      res.Empty(200);
      return;
    }
    if (version && *version < *ParseApiVersion(kMinApiVersion)) {
      ThrowInvalid("client version " + req.api_version_ +
                   " is too old. Minimum supported API version is " + kMinApiVersion +
                   ", please upgrade your client to a newer version");
    }
    if (version && *version > *ParseApiVersion(kMaxServedApiVersion)) {
      ThrowInvalid("client version " + req.api_version_ +
                   " is too new. Maximum supported API version is " + kApiVersion);
    }
    if (path == "/_ping" && (req.method_ == "GET" || req.method_ == "HEAD")) {
      res.SetHeader("Cache-Control", "no-cache, no-store, must-revalidate");
      res.SetHeader("Pragma", "no-cache");
      res.SetHeader("Builder-Version", "1");
      // Docker answers HEAD with Content-Length: 0, GET with "OK".
      res.Bytes(200, "text/plain; charset=utf-8", req.method_ == "HEAD" ? "" : "OK");
      return;
    }
    const Handler* handler = router_.Match(req);
    if (handler == nullptr) {
      ThrowNotFound("page not found");
    }
    (*handler)(req, res);
  } catch (const Error& e) {
    if (res.hijacked_) {
      log::Warn(req.method_ + " " + req.target_ + ": " + e.what());
    } else if (res.streaming_) {
      // The status line went out already: the error travels in the stream, as Docker's.
      nlohmann::json in_band = {{"errorDetail", {{"message", e.what()}}}, {"error", e.what()}};
      res.Write(in_band.dump() + "\r\n");
    } else if (!res.started_) {
      res.Error(e);
    }
  } catch (const std::exception& e) {
    if (!res.started_) {
      res.Error(Error(Kind::kInternal, e.what()));
    } else if (res.streaming_) {
      nlohmann::json in_band = {{"errorDetail", {{"message", e.what()}}}, {"error", e.what()}};
      res.Write(in_band.dump() + "\r\n");
    }
  }
}

Server::Server(const Router& router) : router_(router) {}

Server::~Server() {
  for (int fd : listeners_) {
    close(fd);
  }
  for (const std::string& path : paths_) {
    unlink(path.c_str());
  }
}

void Server::Listen(const std::string& host) {
  constexpr std::string_view kUnix = "unix://";
  if (host.rfind(kUnix, 0) != 0) {
    ThrowInvalid("unsupported host \"" + host + "\": berthd listens on unix:///path sockets");
  }
  std::string path = host.substr(kUnix.size());
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    ThrowInvalid("socket path \"" + path + "\" is empty or too long");
  }
  memcpy(addr.sun_path, path.c_str(), path.size());
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    MkdirAll(path.substr(0, slash), 0755);
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ThrowErrno("socket");
  }
  auto* sa = reinterpret_cast<struct sockaddr*>(&addr);
  if (bind(fd, sa, sizeof(addr)) < 0) {
    if (errno != EADDRINUSE) {
      int err = errno;
      close(fd);
      throw SysError("bind " + path, err);
    }
    // A live server answers; a stale socket file from a crash does not.
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool live = probe >= 0 && connect(probe, sa, sizeof(addr)) == 0;
    if (probe >= 0) {
      close(probe);
    }
    if (live) {
      close(fd);
      ThrowConflict("another daemon is already listening on " + path);
    }
    unlink(path.c_str());
    if (bind(fd, sa, sizeof(addr)) < 0) {
      int err = errno;
      close(fd);
      throw SysError("bind " + path, err);
    }
  }
  if (chmod(path.c_str(), 0660) < 0 || listen(fd, 128) < 0) {
    int err = errno;
    close(fd);
    throw SysError("listen on " + path, err);
  }
  listeners_.push_back(fd);
  paths_.push_back(path);
}

void Server::Run() {
  std::vector<std::thread> threads;
  for (int fd : listeners_) {
    threads.emplace_back([this, fd] { Accept(fd); });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return active_ == 0; });
}

void Server::Stop() {
  stopping_ = true;
  std::lock_guard lock(mu_);
  for (int fd : listeners_) {
    shutdown(fd, SHUT_RDWR);  // wakes the blocked accept
  }
  for (int fd : connections_) {
    shutdown(fd, SHUT_RDWR);
  }
}

void Server::Accept(int listener) {
  while (!stopping_) {
    int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
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
    std::lock_guard lock(mu_);
    if (stopping_) {
      close(fd);
      break;
    }
    connections_.insert(fd);
    ++active_;
    std::thread([this, fd] { Serve(fd); }).detach();
  }
}

void Server::Serve(int fd) {
  // The fd leaves the set before the socket closes (its number may be reused at once, and Stop
  // must not shut another socket down); the thread counts as active until the connection,
  // which uses the server's io_context, is destroyed, so Run() cannot return before.
  auto forget = [this, fd] {
    std::lock_guard lock(mu_);
    connections_.erase(fd);
  };
  try {
    Connection conn(router_, Io(), fd);
    try {
      conn.Serve();
    } catch (const std::exception& e) {
      log::Warn(std::string("connection: ") + e.what());
    }
    forget();
  } catch (const std::exception& e) {
    log::Warn(std::string("connection: ") + e.what());
    forget();
  }
  // The hook runs while this thread still counts as active, so Run() cannot return (and the
  // server go) under it.
  bool last;
  {
    std::lock_guard lock(mu_);
    last = active_ == 1;
  }
  if (last && idle_hook_ && !stopping_) idle_hook_();
  std::lock_guard lock(mu_);
  --active_;
  idle_.notify_all();
}

}  // namespace berth::api

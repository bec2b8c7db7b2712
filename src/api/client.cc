#include "api/client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <limits>
#include <optional>

#include "api/http.h"
#include "base/error.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.0.0"
#endif

namespace berth::api {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;

namespace {

constexpr size_t kChunk = 256 << 10;

Kind KindOf(int status) {
  switch (status) {
    case 400:
      return Kind::kInvalidArgument;
    case 403:
      return Kind::kPermissionDenied;
    case 404:
      return Kind::kNotFound;
    case 409:
      return Kind::kConflict;
    case 501:
      return Kind::kNotImplemented;
    case 503:
      return Kind::kUnavailable;
    default:
      return Kind::kInternal;
  }
}

[[noreturn]] void ThrowReply(const Reply& reply) {
  std::string message;
  nlohmann::json doc = nlohmann::json::parse(reply.body, nullptr, false);
  if (doc.is_object() && doc.contains("message") && doc["message"].is_string()) {
    message = doc["message"].get<std::string>();
  } else if (!reply.body.empty()) {
    message = reply.body;
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
      message.pop_back();
    }
  } else {
    message = "request returned " + std::to_string(reply.status);
  }
  throw Error(KindOf(reply.status), message);
}

}  // namespace

std::string DefaultHost() {
  for (const char* name : {"BERTH_HOST", "DOCKER_HOST"}) {
    const char* v = getenv(name);
    if (v != nullptr && *v != '\0') {
      return v;
    }
  }
  return "unix:///run/berth/berth.sock";
}

struct Client::Impl {
  asio::io_context io;
  asio::local::stream_protocol::socket socket{io};
  beast::flat_buffer buffer;
  bool connected = false;
  // The answer being read (between Begin and the end of ReadBody).
  std::optional<http::response_parser<http::buffer_body>> parser;
  Reply reply;
};

namespace {

std::string SocketPath(const std::string& host) {
  constexpr std::string_view kUnix = "unix://";
  if (host.rfind(kUnix, 0) != 0) {
    ThrowInvalid("unsupported host \"" + host + "\": use unix:///path/to/berth.sock");
  }
  return host.substr(kUnix.size());
}

void ConnectSocket(asio::local::stream_protocol::socket& socket, const std::string& host) {
  beast::error_code ec;
  socket.connect(asio::local::stream_protocol::endpoint(SocketPath(host)), ec);
  if (ec) {
    throw Error(Kind::kUnavailable, "Cannot connect to the Berth daemon at " + host + ": " +
                                        ec.message() + ". Is berthd running?");
  }
}

std::string VersionedPath(std::string_view target) {
  return target.rfind("/_ping", 0) == 0 ? std::string(target)
                                        : "/v" + std::string(kApiVersion) + std::string(target);
}

template <class Body>
void SetCommonFields(http::request<Body>& req, std::string_view content_type,
                     const std::map<std::string, std::string>& extra = {}) {
  for (const auto& [name, value] : extra) {
    req.set(name, value);
  }
  req.set(http::field::host, "berth");
  req.set(http::field::user_agent, std::string("Berth-Client/") + BERTH_VERSION);
  if (!content_type.empty()) {
    req.set(http::field::content_type, std::string(content_type));
  }
}

}  // namespace

Client::Client(std::string host) : host_(std::move(host)), impl_(std::make_unique<Impl>()) {}

Client::~Client() = default;

void Client::Connect() {
  impl_->socket = asio::local::stream_protocol::socket(impl_->io);
  impl_->buffer.clear();
  ConnectSocket(impl_->socket, host_);
  impl_->connected = true;
}

Reply Client::Do(std::string_view method, std::string_view target, std::string_view body,
                 std::string_view content_type) {
  std::string data;
  Reply reply = Begin(method, target, body, content_type);
  ReadBody([&](std::string_view d) { data.append(d); });
  reply.body = std::move(data);
  return reply;
}

nlohmann::json Client::Json(std::string_view method, std::string_view target,
                            const nlohmann::json* body) {
  std::string text = body != nullptr ? body->dump() : std::string();
  Reply reply = Do(method, target, text, body != nullptr ? "application/json" : "");
  if (reply.body.empty()) {
    return nullptr;
  }
  nlohmann::json doc = nlohmann::json::parse(reply.body, nullptr, false);
  if (doc.is_discarded()) {
    throw Error(Kind::kInternal, "the daemon's answer to " + std::string(target) + " is not JSON");
  }
  return doc;
}

Reply Client::Stream(std::string_view method, std::string_view target, const ReadFn* read,
                     std::string_view content_type, const DataFn& on_data) {
  if (!impl_->connected) {
    Connect();
  }
  Send(method, target, read, content_type, {});
  Reply reply = ReadHeaders();
  ReadBody(on_data);
  return reply;
}

Reply Client::Begin(std::string_view method, std::string_view target, std::string_view body,
                    std::string_view content_type) {
  if (!impl_->connected) {
    Connect();
  }
  Send(method, target, nullptr, content_type, body);
  return ReadHeaders();
}

void Client::Send(std::string_view method, std::string_view target, const ReadFn* read,
                  std::string_view content_type, std::string_view body) {
  std::string path = VersionedPath(target);
  http::verb verb = http::string_to_verb(beast::string_view(method.data(), method.size()));
  beast::error_code ec;
  auto fail = [&] {
    impl_->connected = false;
    throw Error(Kind::kUnavailable, "send to " + host_ + ": " + ec.message());
  };
  // The daemon may have answered before it read the whole body (a 400 about a query
  // parameter, with a large build context still on its way) and hung up: its answer says
  // more than the broken pipe, so it is read if it came.
  auto answer_or_fail = [&] {
    beast::error_code read_ec;
    impl_->parser.emplace();
    impl_->parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    http::read_header(impl_->socket, impl_->buffer, *impl_->parser, read_ec);
    if (!read_ec &&
        (impl_->parser->get().result_int() < 200 || impl_->parser->get().result_int() >= 300)) {
      Reply reply;
      reply.status = static_cast<int>(impl_->parser->get().result_int());
      try {
        ReadBody([&](std::string_view d) { reply.body.append(d); });
      } catch (const Error&) {
        // what arrived of the body is the message
      }
      impl_->connected = false;
      ThrowReply(reply);
    }
    impl_->parser.reset();
    fail();
  };
  if (read != nullptr) {
    http::request<http::empty_body> req{verb, path, 11};
    SetCommonFields(req, content_type, headers_);
    req.chunked(true);
    http::request_serializer<http::empty_body> sr{req};
    http::write_header(impl_->socket, sr, ec);
    if (ec) fail();
    std::vector<char> buf(kChunk);
    while (size_t n = (*read)(buf.data(), buf.size())) {
      asio::write(impl_->socket, http::make_chunk(asio::buffer(buf.data(), n)), ec);
      if (ec) answer_or_fail();
    }
    asio::write(impl_->socket, http::make_chunk_last(), ec);
    if (ec) answer_or_fail();
  } else {
    http::request<http::string_body> req{verb, path, 11};
    SetCommonFields(req, content_type, headers_);
    req.body() = std::string(body);
    req.prepare_payload();
    http::write(impl_->socket, req, ec);
    if (ec) fail();
  }
  impl_->parser.emplace();
  // Not none: Beast 1.74 compares a Content-Length against an empty optional as if it were
  // exceeded.
  impl_->parser->body_limit(std::numeric_limits<std::uint64_t>::max());
  impl_->parser->skip(verb == http::verb::head);
}

Reply Client::ReadHeaders() {
  auto& parser = *impl_->parser;
  beast::error_code ec;
  http::read_header(impl_->socket, impl_->buffer, parser, ec);
  if (ec) {
    impl_->connected = false;
    impl_->parser.reset();
    throw Error(Kind::kUnavailable, "read from " + host_ + ": " + ec.message());
  }
  Reply reply;
  reply.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    for (char& c : name) {
      c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    }
    reply.headers[name] = std::string(field.value());
  }
  if (reply.status < 200 || reply.status >= 300) {
    ReadBody([&](std::string_view d) { reply.body.append(d); });
    ThrowReply(reply);
  }
  return reply;
}

void Client::ReadBody(const DataFn& on_data) {
  if (!impl_->parser) {
    return;
  }
  auto& parser = *impl_->parser;
  beast::error_code ec;
  std::vector<char> buf(kChunk);
  // Beast reads as much as the buffer has room for: from its small default, a large body
  // (cp's tar, export, save) would come ~512 bytes per read (as the server's ReadBody notes).
  if (impl_->buffer.capacity() < kChunk) impl_->buffer.reserve(kChunk);
  while (!parser.is_done()) {
    parser.get().body().data = buf.data();
    parser.get().body().size = buf.size();
    http::read_some(impl_->socket, impl_->buffer, parser, ec);
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    if (ec) {
      impl_->connected = false;
      impl_->parser.reset();
      throw Error(Kind::kUnavailable, "read from " + host_ + ": " + ec.message());
    }
    size_t got = buf.size() - parser.get().body().size;
    if (got > 0) {
      on_data(std::string_view(buf.data(), got));
    }
  }
  if (!parser.get().keep_alive()) {
    impl_->connected = false;
  }
  impl_->parser.reset();
}

Client::Hijacked Client::Hijack(std::string_view method, std::string_view target,
                                std::string_view body, std::string_view content_type) {
  asio::local::stream_protocol::socket socket(impl_->io);
  ConnectSocket(socket, host_);
  http::request<http::string_body> req{
      http::string_to_verb(beast::string_view(method.data(), method.size())), VersionedPath(target),
      11};
  SetCommonFields(req, content_type.empty() ? "text/plain" : content_type);
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::upgrade, "tcp");
  req.body() = std::string(body);
  req.prepare_payload();
  beast::error_code ec;
  http::write(socket, req, ec);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  if (!ec) {
    http::read_header(socket, buffer, parser, ec);
  }
  if (ec) {
    throw Error(Kind::kUnavailable, "attach to " + host_ + ": " + ec.message());
  }
  int status = static_cast<int>(parser.get().result_int());
  if (status == 101 || status == 200) {
    Hijacked out;
    auto data = buffer.data();
    out.pending.assign(static_cast<const char*>(data.data()), data.size());
    out.fd = UniqueFd(socket.release());
    return out;
  }
  Reply reply;
  reply.status = status;
  if (status >= 200 && status < 300) {
    throw Error(Kind::kInternal, "unable to upgrade to tcp, received " + std::to_string(status));
  }
  http::read(socket, buffer, parser, ec);
  reply.body = parser.get().body();
  ThrowReply(reply);
}

void JsonStreamSplitter::Feed(std::string_view data) {
  pending_.append(data);
  size_t start = 0;
  while (true) {
    size_t nl = pending_.find('\n', start);
    if (nl == std::string::npos) {
      break;
    }
    std::string_view line(pending_.data() + start, nl - start);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (!line.empty()) {
      nlohmann::json message = nlohmann::json::parse(line, nullptr, false);
      if (message.is_discarded()) {
        throw Error(Kind::kInternal, "malformed message in the daemon's stream");
      }
      on_message_(message);
    }
    start = nl + 1;
  }
  pending_.erase(0, start);
}

}  // namespace berth::api

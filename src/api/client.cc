#include "api/client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <limits>

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
};

Client::Client(std::string host) : host_(std::move(host)), impl_(std::make_unique<Impl>()) {}

Client::~Client() = default;

void Client::Connect() {
  constexpr std::string_view kUnix = "unix://";
  if (host_.rfind(kUnix, 0) != 0) {
    ThrowInvalid("unsupported host \"" + host_ + "\": use unix:///path/to/berth.sock");
  }
  impl_->socket = asio::local::stream_protocol::socket(impl_->io);
  impl_->buffer.clear();
  beast::error_code ec;
  impl_->socket.connect(asio::local::stream_protocol::endpoint(host_.substr(kUnix.size())), ec);
  if (ec) {
    throw Error(Kind::kUnavailable, "Cannot connect to the Berth daemon at " + host_ + ": " +
                                        ec.message() + ". Is berthd running?");
  }
  impl_->connected = true;
}

Reply Client::Do(std::string_view method, std::string_view target, std::string_view body,
                 std::string_view content_type) {
  std::string data;
  Reply reply = Stream(
      method, target, nullptr, content_type, [&](std::string_view d) { data.append(d); }, body);
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
  return Stream(method, target, read, content_type, on_data, {});
}

Reply Client::Stream(std::string_view method, std::string_view target, const ReadFn* read,
                     std::string_view content_type, const DataFn& on_data, std::string_view body) {
  if (!impl_->connected) {
    Connect();
  }
  std::string path = target.rfind("/_ping", 0) == 0
                         ? std::string(target)
                         : "/v" + std::string(kApiVersion) + std::string(target);
  http::verb verb = http::string_to_verb(beast::string_view(method.data(), method.size()));
  beast::error_code ec;
  auto fail = [&](const std::string& what) {
    impl_->connected = false;
    throw Error(Kind::kUnavailable, what + " " + host_ + ": " + ec.message());
  };
  if (read != nullptr) {
    http::request<http::empty_body> req{verb, path, 11};
    req.set(http::field::host, "berth");
    req.set(http::field::user_agent, std::string("Berth-Client/") + BERTH_VERSION);
    if (!content_type.empty()) {
      req.set(http::field::content_type, std::string(content_type));
    }
    req.chunked(true);
    http::request_serializer<http::empty_body> sr{req};
    http::write_header(impl_->socket, sr, ec);
    if (ec) fail("send to");
    std::vector<char> buf(kChunk);
    while (size_t n = (*read)(buf.data(), buf.size())) {
      asio::write(impl_->socket, http::make_chunk(asio::buffer(buf.data(), n)), ec);
      if (ec) fail("send to");
    }
    asio::write(impl_->socket, http::make_chunk_last(), ec);
    if (ec) fail("send to");
  } else {
    http::request<http::string_body> req{verb, path, 11};
    req.set(http::field::host, "berth");
    req.set(http::field::user_agent, std::string("Berth-Client/") + BERTH_VERSION);
    if (!content_type.empty()) {
      req.set(http::field::content_type, std::string(content_type));
    }
    req.body() = std::string(body);
    req.prepare_payload();
    http::write(impl_->socket, req, ec);
    if (ec) fail("send to");
  }

  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // not none: Beast 1.74 compares
  // a Content-Length against an empty optional as if it were exceeded
  parser.skip(verb == http::verb::head);
  http::read_header(impl_->socket, impl_->buffer, parser, ec);
  if (ec) fail("read from");
  Reply reply;
  reply.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) {
    std::string name(field.name_string());
    for (char& c : name) {
      c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    }
    reply.headers[name] = std::string(field.value());
  }
  bool ok = reply.status >= 200 && reply.status < 300;
  std::vector<char> buf(kChunk);
  while (!parser.is_done()) {
    parser.get().body().data = buf.data();
    parser.get().body().size = buf.size();
    http::read_some(impl_->socket, impl_->buffer, parser, ec);
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    if (ec) fail("read from");
    size_t got = buf.size() - parser.get().body().size;
    if (got == 0) {
      continue;
    }
    if (ok) {
      on_data(std::string_view(buf.data(), got));
    } else {
      reply.body.append(buf.data(), got);
    }
  }
  if (!parser.get().keep_alive()) {
    impl_->connected = false;
  }
  if (!ok) {
    ThrowReply(reply);
  }
  return reply;
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

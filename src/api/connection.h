#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/server.h"

// One client connection of the server: requests read one after another (keep-alive), each
// routed to a handler. Internal to src/api.

namespace berth::api {

using Headers = std::vector<std::pair<std::string, std::string>>;

class Connection {
 public:
  Connection(const Router& router, boost::asio::io_context& io, int fd);
  void Serve();

  // For Request.
  size_t ReadBody(void* buf, size_t size);
  std::string Header(std::string_view name) const;

  // For Response: false when the client is gone.
  bool WriteWhole(int status, const Headers& headers, std::string_view body);
  bool WriteStreamHeader(int status, const Headers& headers);
  bool WriteChunk(std::string_view data);
  bool WriteLastChunk();
  int native_handle() { return socket_.native_handle(); }
  // What was read from the socket but not parsed yet (for a hijack).
  std::string TakeBuffered();
  bool head_request() const { return head_; }

 private:
  bool ServeOne();
  void Route(Request& req, Response& res);

  const Router& router_;
  boost::asio::local::stream_protocol::socket socket_;
  static constexpr size_t kBodyReadSize = 128 * 1024;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::buffer_body>> parser_;
  bool keep_alive_ = true;
  bool head_ = false;
};

// The headers every response carries.
Headers StandardHeaders();

}  // namespace berth::api

#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

// The Engine API client the `berth` CLI speaks through (it has no other way to the engine).
// One connection, kept alive across requests; every path gets the /v1.41 prefix.

namespace berth::api {

// BERTH_HOST, else DOCKER_HOST, else unix:///run/berth/berth.sock.
std::string DefaultHost();

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

class Client {
 public:
  explicit Client(std::string host);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // A request with an optional body. Non-2xx answers throw berth::Error with the daemon's
  // message and the kind its status maps back to.
  Reply Do(std::string_view method, std::string_view target, std::string_view body = {},
           std::string_view content_type = {});
  nlohmann::json Json(std::string_view method, std::string_view target,
                      const nlohmann::json* body = nullptr);

  // Streams both ways: the request body comes from `read` (sent chunked) when given, and
  // the response body goes to `on_data` piece by piece as it arrives.
  using ReadFn = std::function<size_t(void* buf, size_t size)>;
  using DataFn = std::function<void(std::string_view data)>;
  Reply Stream(std::string_view method, std::string_view target, const ReadFn* read,
               std::string_view content_type, const DataFn& on_data);

  const std::string& host() const { return host_; }

 private:
  void Connect();
  Reply Stream(std::string_view method, std::string_view target, const ReadFn* read,
               std::string_view content_type, const DataFn& on_data, std::string_view body);
  struct Impl;
  std::string host_;
  std::unique_ptr<Impl> impl_;
};

// Each JSON message of a Docker progress stream (objects one after another, "\r\n" or "\n"
// between them), as the bytes arrive.
class JsonStreamSplitter {
 public:
  explicit JsonStreamSplitter(std::function<void(const nlohmann::json&)> on_message)
      : on_message_(std::move(on_message)) {}
  void Feed(std::string_view data);

 private:
  std::function<void(const nlohmann::json&)> on_message_;
  std::string pending_;
};

}  // namespace berth::api

#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/fd.h"

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

  // A request whose answer is read in two steps: Begin sends it and returns once the status
  // and headers are in (non-2xx throws as Do does); ReadBody reads the body later. This is
  // how `run` waits: Docker flushes a wait's headers at once and its body when the
  // container exits, and start must only go out once those headers have arrived. No other
  // request may use this client in between.
  Reply Begin(std::string_view method, std::string_view target, std::string_view body = {},
              std::string_view content_type = {});
  void ReadBody(const DataFn& on_data);

  // The hijack of attach and exec start, on a connection of its own: the request goes out
  // with `Connection: Upgrade` and `Upgrade: tcp`; once answered 101 (or 200 with a raw
  // stream, as old daemons do), the connection is a raw byte stream in both directions.
  // Returns it with the bytes already read past the headers. Non-2xx answers throw.
  struct Hijacked {
    UniqueFd fd;
    std::string pending;
  };
  Hijacked Hijack(std::string_view method, std::string_view target, std::string_view body = {},
                  std::string_view content_type = {});

  const std::string& host() const { return host_; }
  // A header sent with every later request on this client (X-Registry-Auth); an empty value
  // stops sending it.
  void SetHeader(const std::string& name, const std::string& value) {
    if (value.empty()) {
      headers_.erase(name);
    } else {
      headers_[name] = value;
    }
  }

 private:
  void Connect();
  void Send(std::string_view method, std::string_view target, const ReadFn* read,
            std::string_view content_type, std::string_view body);
  Reply ReadHeaders();
  struct Impl;
  std::string host_;
  std::map<std::string, std::string> headers_;
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

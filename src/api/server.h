#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/http.h"

// berthd's HTTP server: unix sockets, one thread per connection (handlers do blocking disk
// work, and attach needs a plain blocking socket), keep-alive, Docker's version prefix and
// /_ping, and errors turned into Docker's JSON bodies.

namespace berth::api {

using Handler = std::function<void(Request&, Response&)>;

class Router {
 public:
  // `pattern`: "/images/{name}/json"; a "{name*}" segment matches one or more segments, so
  // image names keep their "/" ("/images/127.0.0.1:5001/rs/busybox/push"). Routes are
  // tried in the order they were added.
  void Add(std::string method, std::string pattern, Handler handler);
  // The handler for `req` (filling its params), or nullptr.
  const Handler* Match(Request& req) const;
  // Whether any route has this path under another method.
  bool PathKnown(const Request& req) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

class Server {
 public:
  explicit Server(const Router& router);
  ~Server();
  // "unix:///run/berth/berth.sock". Throws if the address is in use by a live server.
  void Listen(const std::string& host);
  // Serves until Stop(); returns when every listener is closed and connections ended.
  void Run();
  // From any thread (not from a signal handler).
  void Stop();
  // Called (from the connection's thread, no lock held) each time the last open connection
  // ends: berthd gives freed memory back then. Set before Run.
  void SetIdleHook(std::function<void()> hook) { idle_hook_ = std::move(hook); }

 private:
  friend class Connection;
  void Accept(int listener);
  void Serve(int fd);

  const Router& router_;
  std::vector<int> listeners_;
  std::vector<std::string> paths_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable idle_;
  std::set<int> connections_;
  int active_ = 0;  // connection threads still running (guarded by mu_)
  std::function<void()> idle_hook_;
};

}  // namespace berth::api

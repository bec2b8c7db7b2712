// berthd's HTTP layer on a real unix socket: the ping, versions, errors, chunked bodies both
// ways, keep-alive, concurrent connections, streaming and stopping, checked with raw bytes
// and with the client the CLI uses.

#include "api/server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <future>
#include <thread>

#include "api/client.h"
#include "base/digest.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"

namespace berth::api {
namespace {

using nlohmann::json;

// Waits for a condition with a deadline, so a broken server fails the test instead of
// hanging it (the deadline is a safety net, not a measurement).
constexpr auto kDeadline = std::chrono::seconds(10);

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-api.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    sock_ = dir_ + "/api.sock";
    host_ = "unix://" + sock_;
    router_.Add("GET", "/hello", [](Request& req, Response& res) {
      res.Json(200, {{"version", req.api_version()}, {"q", req.Query("q").value_or("")}});
    });
    router_.Add("GET", "/images/{name*}/json", [](Request& req, Response& res) {
      res.Json(200, {{"name", req.Param("name")}});
    });
    router_.Add("DELETE", "/images/{name*}", [](Request& req, Response& res) {
      res.Json(200, {{"deleted", req.Param("name")}});
    });
    router_.Add("POST", "/hash", [](Request& req, Response& res) {
      Sha256 hash;
      char buf[100000];
      uint64_t total = 0;
      while (size_t n = req.ReadBody(buf, sizeof(buf))) {
        hash.Update(buf, n);
        total += n;
      }
      res.Json(200, {{"digest", hash.Digest()},
                     {"size", total},
                     {"chunked", req.Header("transfer-encoding")}});
    });
    router_.Add("GET", "/missing", [](Request&, Response&) { ThrowNotFound("No such thing: x"); });
    router_.Add("GET", "/crash",
                [](Request&, Response&) { throw std::runtime_error("something broke"); });
    router_.Add("GET", "/stream", [this](Request&, Response& res) {
      res.BeginStream(200, "application/json");
      res.Write("{\"n\":1}\r\n");
      // The second message waits until the client has seen the first: proof that each
      // message is flushed on its own, not buffered until the end.
      std::unique_lock lock(mu_);
      bool seen = cv_.wait_for(lock, kDeadline, [this] { return first_seen_; });
      res.Write(seen ? "{\"n\":2}\r\n" : "{\"n\":\"timeout\"}\r\n");
      lock.unlock();
      throw Error(Kind::kInvalidArgument, "failed half way");
    });
    router_.Add("GET", "/block", [this](Request&, Response& res) {
      std::unique_lock lock(mu_);
      bool released = cv_.wait_for(lock, kDeadline, [this] { return released_; });
      res.Json(200, {{"released", released}});
    });
    router_.Add("GET", "/release", [this](Request&, Response& res) {
      {
        std::lock_guard lock(mu_);
        released_ = true;
      }
      cv_.notify_all();
      res.Empty(204);
    });
    router_.Add("POST", "/hijack", [](Request&, Response& res) {
      std::string buffered;
      int fd = res.Hijack(&buffered);
      std::string head = "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
      std::string echo = head + "[" + buffered;
      char buf[256];
      // Echo what arrives until the client half-closes, then end the stream.
      while (true) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0) break;
        echo.append(buf, static_cast<size_t>(n));
      }
      echo += "]";
      EXPECT_EQ(write(fd, echo.data(), echo.size()), static_cast<ssize_t>(echo.size()));
    });
    server_ = std::make_unique<Server>(router_);
    server_->Listen(host_);
    thread_ = std::thread([this] { server_->Run(); });
  }

  void TearDown() override {
    server_->Stop();
    thread_.join();
    server_.reset();
    EXPECT_FALSE(Exists(sock_)) << "the socket file goes with the server";
    RemoveAll(dir_);
  }

  static bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

  UniqueFd Connect() {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, sock_.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  }

  static void Send(int fd, const std::string& bytes) {
    ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }

  // Reads one response: headers, then Content-Length bytes (or until `until` shows up).
  static std::string ReadResponse(int fd, const std::string& until = "") {
    std::string data;
    char buf[65536];
    while (true) {
      size_t end = data.find("\r\n\r\n");
      if (end != std::string::npos) {
        if (!until.empty()) {
          if (data.find(until) != std::string::npos) return data;
        } else {
          size_t cl = data.find("Content-Length: ");
          size_t want = cl == std::string::npos || cl > end ? 0 : std::stoul(data.substr(cl + 16));
          if (data.size() >= end + 4 + want) return data;
        }
      }
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) return data;
      data.append(buf, static_cast<size_t>(n));
    }
  }

  std::string dir_, sock_, host_;
  Router router_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool first_seen_ = false, released_ = false;
};

TEST_F(ServerTest, PingAnswersLikeDockerd) {
  UniqueFd fd = Connect();
  Send(fd.get(), "HEAD /_ping HTTP/1.1\r\nHost: docker\r\n\r\n");
  std::string head = ReadResponse(fd.get());
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  for (const char* h : {"Api-Version: 1.41", "Docker-Experimental: false", "Ostype: linux",
                        "Cache-Control: no-cache, no-store, must-revalidate", "Pragma: no-cache",
                        "Content-Type: text/plain; charset=utf-8", "Content-Length: 0",
                        "Server: Berth/", "Builder-Version: 1", "Date: "}) {
    EXPECT_NE(head.find(h), std::string::npos) << h << " missing in\n" << head;
  }
  // Same connection (keep-alive), versioned, GET, empty Host as the CLI's hijacked requests.
  Send(fd.get(), "GET /v1.41/_ping HTTP/1.1\r\nHost: \r\n\r\n");
  std::string get = ReadResponse(fd.get());
  EXPECT_EQ(get.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << get;
  EXPECT_EQ(get.substr(get.size() - 2), "OK");
}

TEST_F(ServerTest, VersionsAndUnknownRoutes) {
  Client client(host_);
  EXPECT_EQ(client.Json("GET", "/hello?q=a+b")["version"], "1.41");
  UniqueFd fd = Connect();
  Send(fd.get(), "GET /v1.24/hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(ReadResponse(fd.get()).find("\"version\":\"1.24\""), std::string::npos);
  Send(fd.get(), "GET /hello?q=x%2By HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(ReadResponse(fd.get()).find("\"q\":\"x+y\""), std::string::npos);
  // Prefixes up to /v1.50 are served (as 1.41): a docker 28 CLI pinned to its own version.
  Send(fd.get(), "GET /v1.50/hello HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string pinned = ReadResponse(fd.get());
  EXPECT_NE(pinned.find("\"version\":\"1.50\""), std::string::npos) << pinned;
  EXPECT_NE(pinned.find("Api-Version: 1.41"), std::string::npos) << pinned;
  Send(fd.get(), "GET /v1.51/hello HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string too_new = ReadResponse(fd.get());
  EXPECT_EQ(too_new.rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_NE(too_new.find("client version 1.51 is too new. Maximum supported API version is 1.41"),
            std::string::npos)
      << too_new;
  Send(fd.get(), "GET /v1.12/hello HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string too_old = ReadResponse(fd.get());
  EXPECT_NE(too_old.find("client version 1.12 is too old. Minimum supported API version is 1.24"),
            std::string::npos);
  Send(fd.get(), "GET /v1.41/nothing/here HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string missing = ReadResponse(fd.get());
  EXPECT_EQ(missing.rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_NE(missing.find("Content-Type: application/json"), std::string::npos);
  EXPECT_NE(missing.find("{\"message\":\"page not found\"}\n"), std::string::npos);
  Send(fd.get(), "OPTIONS /v1.41/anything HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(ReadResponse(fd.get()).rfind("HTTP/1.1 200", 0), 0u);
}

TEST_F(ServerTest, ImageNamesKeepTheirSlashesAndColons) {
  Client client(host_);
  EXPECT_EQ(client.Json("GET", "/images/127.0.0.1:5001/rs/busybox:1/json")["name"],
            "127.0.0.1:5001/rs/busybox:1");
  EXPECT_EQ(client.Json("GET", "/images/a/json/json")["name"], "a/json");
  EXPECT_EQ(client.Json("DELETE", "/images/rs/t:x")["deleted"], "rs/t:x");
}

TEST_F(ServerTest, ErrorsBecomeDockersJsonAndClientErrors) {
  Client client(host_);
  try {
    client.Json("GET", "/missing");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kNotFound);
    EXPECT_STREQ(e.what(), "No such thing: x");
  }
  try {
    client.Json("GET", "/crash");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInternal);
    EXPECT_STREQ(e.what(), "something broke");
  }
  // The connection survives errors: the same client goes on.
  EXPECT_EQ(client.Json("GET", "/hello")["version"], "1.41");
}

TEST_F(ServerTest, ChunkedAndSizedBodiesStreamToTheHandler) {
  std::string body(6 << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7 + i / 4096);
  // Chunked, as the CLI sends load/import/build bodies.
  Client client(host_);
  size_t pos = 0;
  Client::ReadFn read = [&](void* buf, size_t size) {
    size_t n = std::min<size_t>(std::min<size_t>(size, 300000), body.size() - pos);
    memcpy(buf, body.data() + pos, n);
    pos += n;
    return n;
  };
  std::string answer;
  client.Stream("POST", "/hash", &read, "application/x-tar",
                [&](std::string_view d) { answer.append(d); });
  json doc = json::parse(answer);
  EXPECT_EQ(doc["digest"], Sha256Digest(body));
  EXPECT_EQ(doc["size"], body.size());
  EXPECT_EQ(doc["chunked"], "chunked");
  // With a Content-Length; then a POST with no body at all, as docker-py sends.
  EXPECT_EQ(client.Do("POST", "/hash", body.substr(0, 1000), "application/octet-stream").status,
            200);
  json empty = client.Json("POST", "/hash");
  EXPECT_EQ(empty["size"], 0);
}

TEST_F(ServerTest, ConnectionsAreServedConcurrently) {
  // The first request blocks in its handler until a second connection releases it.
  auto blocked = std::async(std::launch::async, [this] {
    Client client(host_);
    return client.Json("GET", "/block");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Client other(host_);
  other.Do("GET", "/release");
  ASSERT_EQ(blocked.wait_for(kDeadline), std::future_status::ready);
  EXPECT_EQ(blocked.get()["released"], true);
}

TEST_F(ServerTest, StreamsFlushEachMessageAndCarryLateErrorsInBand) {
  Client client(host_);
  std::vector<json> messages;
  JsonStreamSplitter split([&](const json& m) {
    messages.push_back(m);
    if (messages.size() == 1) {
      {
        std::lock_guard lock(mu_);
        first_seen_ = true;
      }
      cv_.notify_all();
    }
  });
  client.Stream("GET", "/stream", nullptr, "", [&](std::string_view d) { split.Feed(d); });
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[1]["n"], 2) << "the first message reached the client before the second";
  EXPECT_EQ(messages[2]["error"], "failed half way");
  EXPECT_EQ(messages[2]["errorDetail"]["message"], "failed half way");
}

TEST_F(ServerTest, HijackKeepsTheBytesSentBehindTheRequest) {
  UniqueFd fd = Connect();
  // The request and the first stdin bytes in one write, as a client typing ahead does.
  Send(fd.get(),
       "POST /v1.41/hijack HTTP/1.1\r\nHost: \r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
       "Content-Length: 0\r\n\r\nfirst ");
  Send(fd.get(), "second");
  shutdown(fd.get(), SHUT_WR);
  std::string answer = ReadResponse(fd.get(), "]");
  EXPECT_EQ(answer.rfind("HTTP/1.1 101 UPGRADED\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("[first second]"), std::string::npos) << answer;
}

TEST_F(ServerTest, ExpectContinueIsAnswered) {
  UniqueFd fd = Connect();
  Send(fd.get(),
       "POST /hash HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  std::string cont = ReadResponse(fd.get(), "100 Continue\r\n\r\n");
  EXPECT_EQ(cont, "HTTP/1.1 100 Continue\r\n\r\n");
  Send(fd.get(), "abc");
  EXPECT_NE(ReadResponse(fd.get(), "}").find(Sha256Digest(std::string("abc"))), std::string::npos);
}

TEST_F(ServerTest, GarbageGetsA400AndTheConnectionCloses) {
  UniqueFd fd = Connect();
  Send(fd.get(), "THIS IS NOT HTTP\r\n\r\n");
  std::string answer = ReadResponse(fd.get(), "Bad Request");
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  char c;
  EXPECT_EQ(read(fd.get(), &c, 1), 0) << "closed after";
}

TEST_F(ServerTest, ASecondServerOnALiveSocketIsRefusedAStaleOneReplaced) {
  Server second(router_);
  try {
    second.Listen(host_);
    ADD_FAILURE() << "two servers on one socket";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kConflict);
  }
  // A socket file nobody listens on (a crashed daemon's) is replaced.
  std::string stale = dir_ + "/stale.sock";
  {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM, 0));
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, stale.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  Server third(router_);
  third.Listen("unix://" + stale);
  EXPECT_THROW(third.Listen("tcp://127.0.0.1:2375"), Error);
}

TEST(ClientTest, NoDaemonIsAClearError) {
  Client client("unix:///tmp/berth-no-such-dir/berth.sock");
  try {
    client.Json("GET", "/version");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kUnavailable);
    EXPECT_NE(std::string(e.what()).find("Cannot connect to the Berth daemon at "
                                         "unix:///tmp/berth-no-such-dir/berth.sock"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace berth::api

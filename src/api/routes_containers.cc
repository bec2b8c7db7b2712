// /containers/... and /exec/...: the container lifecycle, attach, logs and exec, as the docker
// CLI and docker-py speak them (engine-api.md §2.1-2.9, §2.20).

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "api/routes.h"
#include "base/error.h"
#include "base/fd.h"
#include "shim/detach_keys.h"
#include "shim/logfile.h"

namespace berth::api {
namespace {

using nlohmann::json;

int IntQuery(const Request& req, const char* name, int fallback) {
  std::optional<std::string> v = req.Query(name);
  if (!v || v->empty()) return fallback;
  try {
    size_t end = 0;
    int n = std::stoi(*v, &end);
    if (end == v->size()) return n;
  } catch (const std::exception&) {
  }
  ThrowInvalid("invalid value for " + std::string(name) + ": \"" + *v + "\"");
}

// since/until of logs: unix seconds with an optional fraction ("1700000000.5"), as the CLI
// converts its flags; 0 means unset.
std::optional<int64_t> UnixNanos(const Request& req, const char* name) {
  std::optional<std::string> v = req.Query(name);
  if (!v || v->empty() || *v == "0") return std::nullopt;
  size_t dot = v->find('.');
  try {
    int64_t sec = std::stoll(v->substr(0, dot));
    int64_t ns = 0;
    if (dot != std::string::npos) {
      std::string frac = v->substr(dot + 1, 9);
      frac.resize(9, '0');
      ns = std::stoll(frac);
    }
    return sec * 1000000000 + ns;
  } catch (const std::exception&) {
    ThrowInvalid("invalid value for " + std::string(name) + ": \"" + *v + "\"");
  }
}

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(Kind::kUnavailable, "the client went away");
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// The hijack answer, written by hand as Docker does (engine-api.md §2.2).
int Upgrade(Request& req, Response& res, std::string* buffered) {
  bool upgrade = !req.Header("Upgrade").empty();
  int fd = res.Hijack(buffered);
  WriteAll(fd, upgrade ? "HTTP/1.1 101 UPGRADED\r\n"
                         "Content-Type: application/vnd.docker.raw-stream\r\n"
                         "Connection: Upgrade\r\n"
                         "Upgrade: tcp\r\n\r\n"
                       : "HTTP/1.1 200 OK\r\n"
                         "Content-Type: application/vnd.docker.raw-stream\r\n\r\n");
  return fd;
}

// The log as attach?logs=1 and GET …/logs send it: frames, or raw bytes with a TTY.
void SendLog(engine::ContainerService& containers, const std::string& id,
             const shim::LogReadOptions& options, const std::function<void(std::string_view)>& out,
             const shim::FollowControl& control) {
  std::pair<std::string, bool> info = containers.LogInfo(id);
  bool tty = info.second;
  shim::LogReader(info.first)
      .Read(
          options,
          [&](shim::Stream stream, std::string_view text, int64_t) {
            out(tty ? std::string(text) : shim::FrameMessage(stream, text));
          },
          control);
}

engine::WaitCondition ParseCondition(const std::string& text) {
  if (text.empty() || text == "not-running") return engine::WaitCondition::kNotRunning;
  if (text == "next-exit") return engine::WaitCondition::kNextExit;
  if (text == "removed") return engine::WaitCondition::kRemoved;
  ThrowInvalid("invalid condition: \"" + text + "\"");
}

}  // namespace

void AddContainerRoutes(Router& router, engine::ContainerService& containers) {
  engine::ContainerService& c = containers;

  router.Add("POST", "/containers/create", [&c](Request& req, Response& res) {
    json body = req.ReadJson();
    if (body.is_null()) ThrowInvalid("config cannot be empty in order to create a container");
    engine::CreateResult r = c.Create(req.Query("name").value_or(""), body);
    res.Json(201, {{"Id", r.id}, {"Warnings", r.warnings}});
  });

  router.Add("GET", "/containers/json", [&c](Request& req, Response& res) {
    int limit = IntQuery(req, "limit", -1);
    bool all = Flag(req, "all") || limit > 0 || req.Query("since") || req.Query("before");
    res.Json(200, c.List(all, limit, Flag(req, "size"), FiltersOf(req)));
  });

  router.Add("GET", "/containers/{id}/json", [&c](Request& req, Response& res) {
    res.OrderedJson(200, c.Inspect(req.Param("id")));
  });

  router.Add("POST", "/containers/{id}/start", [&c](Request& req, Response& res) {
    res.Empty(c.Start(req.Param("id")) ? 204 : 304);
  });

  router.Add("POST", "/containers/{id}/stop", [&c](Request& req, Response& res) {
    res.Empty(c.Stop(req.Param("id"), IntQuery(req, "t", -1)) ? 204 : 304);
  });

  router.Add("POST", "/containers/{id}/restart", [&c](Request& req, Response& res) {
    c.Restart(req.Param("id"), IntQuery(req, "t", -1));
    res.Empty(204);
  });

  router.Add("POST", "/containers/{id}/kill", [&c](Request& req, Response& res) {
    c.Kill(req.Param("id"), req.Query("signal").value_or(""));
    res.Empty(204);
  });

  router.Add("POST", "/containers/{id}/wait", [&c](Request& req, Response& res) {
    engine::WaitCondition condition = ParseCondition(req.Query("condition").value_or(""));
    std::string id = c.ResolveId(req.Param("id"));
    // Headers at once (the CLI sends start only after them), the body at the exit.
    res.BeginStream(200, "application/json");
    engine::WaitResult r = c.WaitFor(id, condition, [&res] { return res.ClientClosed(); });
    json error = r.error.empty() ? json() : json{{"Message", r.error}};
    res.Write(json{{"Error", error}, {"StatusCode", r.status_code}}.dump() + "\n");
    res.EndStream();
  });

  router.Add("DELETE", "/containers/{id}", [&c](Request& req, Response& res) {
    c.Remove(req.Param("id"), Flag(req, "force"), Flag(req, "v"));
    res.Empty(204);
  });

  router.Add("POST", "/containers/{id}/rename", [&c](Request& req, Response& res) {
    c.Rename(req.Param("id"), req.Query("name").value_or(""));
    res.Empty(204);
  });

  router.Add("POST", "/containers/{id}/pause", [&c](Request& req, Response& res) {
    c.Pause(req.Param("id"));
    res.Empty(204);
  });

  router.Add("POST", "/containers/{id}/unpause", [&c](Request& req, Response& res) {
    c.Unpause(req.Param("id"));
    res.Empty(204);
  });

  router.Add("POST", "/containers/{id}/update", [&c](Request& req, Response& res) {
    res.Json(200, c.Update(req.Param("id"), req.ReadJson()));
  });

  router.Add("POST", "/containers/{id}/resize", [&c](Request& req, Response& res) {
    c.Resize(req.Param("id"), IntQuery(req, "h", 0), IntQuery(req, "w", 0));
    res.Empty(200);
  });

  router.Add("GET", "/containers/{id}/top", [&c](Request& req, Response& res) {
    res.Json(200, c.Top(req.Param("id"), req.Query("ps_args").value_or("")));
  });

  router.Add("GET", "/containers/{id}/changes",
             [&c](Request& req, Response& res) { res.Json(200, c.Changes(req.Param("id"))); });

  router.Add("GET", "/containers/{id}/export", [&c](Request& req, Response& res) {
    // The tar is written into a pipe by a thread of its own and copied into the response.
    std::string id = c.ResolveId(req.Param("id"));
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) ThrowErrno("export: pipe");
    UniqueFd read_end(fds[0]);
    std::string error;
    std::thread writer([&c, &error, id, w = fds[1]] {
      try {
        c.Export(id, w);
      } catch (const std::exception& e) {
        error = e.what();
      }
      close(w);
    });
    std::vector<char> buf(1 << 16);
    ssize_t n;
    while ((n = read(read_end.get(), buf.data(), buf.size())) > 0 || (n < 0 && errno == EINTR)) {
      if (n <= 0) continue;
      if (!res.started()) res.BeginStream(200, "application/x-tar");
      res.Write(std::string_view(buf.data(), static_cast<size_t>(n)));
      if (res.client_gone()) break;
    }
    read_end.Reset();  // a writer still writing gets EPIPE and ends
    writer.join();
    if (!res.started()) {
      if (!error.empty()) throw Error(Kind::kInternal, "export " + id + ": " + error);
      res.BeginStream(200, "application/x-tar");
    }
    res.EndStream();
  });

  router.Add("POST", "/commit", [&c](Request& req, Response& res) {
    std::optional<std::string> container = req.Query("container");
    if (!container || container->empty()) ThrowInvalid("container name or ID is required");
    engine::CommitOptions o;
    o.repo = req.Query("repo").value_or("");
    o.tag = req.Query("tag").value_or("");
    o.comment = req.Query("comment").value_or("");
    o.author = req.Query("author").value_or("");
    o.changes = req.QueryAll("changes");
    std::optional<std::string> pause = req.Query("pause");
    bool do_pause = !pause || pause->empty() || ParseBool(*pause);  // Docker pauses by default
    std::string id = c.Commit(*container, req.ReadJson(), do_pause, o);
    res.Json(201, {{"Id", id}});
  });

  router.Add("GET", "/containers/{id}/stats", [&c](Request& req, Response& res) {
    std::optional<std::string> stream = req.Query("stream");
    bool streaming = !stream || ParseBool(*stream);  // Docker streams unless told not to
    bool started = false;
    c.Stats(req.Param("id"), streaming, Flag(req, "one-shot"), [&](std::string_view doc) {
      if (!started) {
        res.BeginStream(200, "application/json");
        started = true;
      }
      res.Write(doc);
      return !res.client_gone() && !(streaming && res.ClientClosed());
    });
    if (started) res.EndStream();
  });

  router.Add("POST", "/containers/prune",
             [&c](Request& req, Response& res) { res.Json(200, c.Prune(FiltersOf(req))); });

  router.Add("GET", "/containers/{id}/logs", [&c](Request& req, Response& res) {
    std::string id = c.ResolveId(req.Param("id"));
    shim::LogReadOptions o;
    o.stdout = Flag(req, "stdout");
    o.stderr = Flag(req, "stderr");
    if (!o.stdout && !o.stderr) {
      ThrowInvalid("Bad parameters: you must choose at least one stream");
    }
    o.timestamps = Flag(req, "timestamps");
    o.follow = Flag(req, "follow");
    o.since_ns = UnixNanos(req, "since");
    o.until_ns = UnixNanos(req, "until");
    std::string tail = req.Query("tail").value_or("all");
    if (!tail.empty() && tail != "all") {
      try {
        long long n = std::stoll(tail);
        if (n >= 0) o.tail = static_cast<size_t>(n);
      } catch (const std::exception&) {
        ThrowInvalid("invalid value for tail: \"" + tail + "\"");
      }
    }
    // 1.41 sends no Content-Type here (engine-api.md §2.7).
    res.BeginStream(200, "");
    shim::FollowControl control;
    control.should_stop = [&] { return res.client_gone() || res.ClientClosed() || !c.Running(id); };
    SendLog(
        c, id, o, [&res](std::string_view data) { res.Write(data); }, control);
    res.EndStream();
  });

  router.Add("POST", "/containers/{id}/attach", [&c](Request& req, Response& res) {
    std::string id = c.ResolveId(req.Param("id"));
    engine::AttachRequest a;
    a.stdin = Flag(req, "stdin");
    a.stdout = Flag(req, "stdout");
    a.stderr = Flag(req, "stderr");
    a.detach_keys = req.Query("detachKeys").value_or("");
    shim::ParseDetachKeys(a.detach_keys);  // a 400 before the hijack
    bool logs = Flag(req, "logs");
    int fd = -1;
    try {
      c.Attach(id, Flag(req, "stream"), a, [&](std::string* buffered) {
        fd = Upgrade(req, res, buffered);
        if (logs) {
          shim::LogReadOptions o;
          o.stdout = a.stdout;
          o.stderr = a.stderr;
          SendLog(c, id, o, [&](std::string_view data) { WriteAll(fd, data); }, {});
        }
        return fd;
      });
    } catch (const Error& e) {
      if (fd < 0) throw;  // not hijacked yet: a JSON error
      // After the 101 an error can only be told in-band (Docker writes it as text).
      std::string text = std::string(e.what()) + "\r\n";
      send(fd, text.data(), text.size(), MSG_NOSIGNAL);
    }
  });

  router.Add("POST", "/containers/{id}/exec", [&c](Request& req, Response& res) {
    res.Json(201, {{"Id", c.ExecCreate(req.Param("id"), req.ReadJson())}});
  });

  router.Add("POST", "/exec/{id}/start", [&c](Request& req, Response& res) {
    json body = req.ReadJson();
    bool detach = body.is_object() && body.value("Detach", false);
    std::string exec_id = req.Param("id");
    c.ExecTty(exec_id);  // 404 before anything is written
    if (detach) {
      c.ExecStart(exec_id, -1, "", true);
      res.Empty(200);
      return;
    }
    std::string buffered;
    int fd = Upgrade(req, res, &buffered);
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) ThrowErrno("dup");
    try {
      c.ExecStart(exec_id, copy, buffered, false);
    } catch (const Error& e) {
      std::string text = std::string(e.what()) + "\r\n";
      send(fd, text.data(), text.size(), MSG_NOSIGNAL);
    }
  });

  router.Add("POST", "/exec/{id}/resize", [&c](Request& req, Response& res) {
    c.ExecResize(req.Param("id"), IntQuery(req, "h", 0), IntQuery(req, "w", 0));
    res.Empty(200);
  });

  router.Add("GET", "/exec/{id}/json",
             [&c](Request& req, Response& res) { res.Json(200, c.ExecInspect(req.Param("id"))); });
}

}  // namespace berth::api

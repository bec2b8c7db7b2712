#include "shim/shim.h"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "base/error.h"
#include "base/fd.h"
#include "base/fd_passing.h"
#include "base/file_util.h"
#include "base/log.h"
#include "runtime/container.h"
#include "runtime/foreground.h"
#include "runtime/terminal.h"
#include "shim/attach.h"
#include "shim/client.h"
#include "shim/logfile.h"

namespace berth::shim {
namespace {

// After a process exits, output its other processes still write (a container sharing the
// host's pid namespace has no one to kill them) is read until the pipes close or stay quiet
// this long.
constexpr int64_t kDrainQuietMs = 500;
// Clients get this long to take the last output once it ended; then they are dropped.
constexpr int64_t kFinishFlushMs = 5000;
// How long a resize waits for its exec to exist (the docker CLI sends it right after start).
constexpr int64_t kExecResizeWaitMs = 10000;
// Execs outlive the init only outside its pid namespace; they are killed this long after it.
constexpr int64_t kExecGraceMs = 1000;

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

timespec Now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

std::string Base64Decode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else if (c == '=') {
      break;
    } else {
      ThrowInvalid("initial_stdin: invalid base64");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

void Dup2OrThrow(int from, int to) {
  if (dup2(from, to) < 0) {
    ThrowErrno("dup2");
  }
}

struct Pipe {
  UniqueFd r, w;
};

Pipe MakePipe() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    ThrowErrno("pipe");
  }
  return Pipe{UniqueFd(p[0]), UniqueFd(p[1])};
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

UniqueFd ListenUnix(const std::string& path, int type) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    ThrowInvalid("socket path too long: " + path);
  }
  memcpy(addr.sun_path, path.c_str(), path.size());
  UniqueFd fd(socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    ThrowErrno("socket");
  }
  unlink(path.c_str());
  mode_t old = umask(0177);  // 0600 from the start: no window for others to connect
  int rc = bind(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  umask(old);
  if (rc < 0) {
    throw SysError("bind " + path, err);
  }
  if (listen(fd.get(), 64) < 0) {
    ThrowErrno("listen on " + path);
  }
  return fd;
}

// One output descriptor of a process: a pipe, or the pty master (read as stdout).
struct Output {
  UniqueFd fd;
  Stream stream = Stream::kStdout;
};

// Reads what `out` has; false at its end (EOF, or EIO from a pty whose slave closed).
bool ReadOutput(Output& out, const std::function<void(Stream, std::string_view)>& sink) {
  char buf[65536];
  for (int i = 0; i < 16; ++i) {  // bounded: other streams get their turn
    ssize_t n = read(out.fd.get(), buf, sizeof(buf));
    if (n > 0) {
      sink(out.stream, std::string_view(buf, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      return true;
    }
    out.fd.Reset();
    return false;
  }
  return true;
}

struct Exec {
  std::string id;
  pid_t pid = -1;
  bool tty = false;
  Output out[2];
  UniqueFd master;
  Input input;
  std::unique_ptr<Attachment> attach;
  int conn = -1;  // where {"exit_code"} goes
  int exit_code = -1;
  bool killed = false;  // outlived the init (no pid namespace of the container's)
  int64_t reaped_ms = 0;
  int64_t last_output_ms = 0;
  bool output_done = false;
  int64_t finish_deadline = 0;
};

struct Conn {
  UniqueFd fd;
  nlohmann::json waiting;  // a resize waiting for its exec (null: none)
  int64_t wait_deadline = 0;
};

class Server {
 public:
  Server(const ShimOptions& o, runtime::Runtime& rt, LogWriter& log, bool tty)
      : o_(o), rt_(rt), log_(log), tty_(tty) {}

  void set_init(pid_t pid) { pid_ = pid; }
  bool init_reaped() const { return code_ >= 0; }

  // The container's stdio, as created.
  Output out_[2];
  UniqueFd master_;
  Input input_;
  UniqueFd listen_;
  UniqueFd signals_;
  UniqueFd null_;

  // Serves until the container ended and everything is delivered; returns the exit code to
  // record. When the start failed, returns at once with its text in `*start_error` (and the
  // code Docker records for it).
  int Serve(std::string* start_error);

 private:
  using Handler = std::function<void(short)>;

  void Poll();
  void OnSignal();
  void Accept();
  void OnRequest(int conn_id);
  nlohmann::json Handle(int conn_id, const nlohmann::json& req, UniqueFd fd);
  nlohmann::json Attach(const nlohmann::json& req, UniqueFd fd);
  nlohmann::json Start();
  nlohmann::json Resize(int conn_id, const nlohmann::json& req);
  nlohmann::json ResizeExec(const nlohmann::json& req, bool* wait);
  nlohmann::json StartExec(int conn_id, const nlohmann::json& req, UniqueFd fd);
  oci::Process ExecProcess(const nlohmann::json& overrides) const;
  void Reply(int conn_id, const nlohmann::json& reply);
  void ContainerOutput(Stream stream, std::string_view bytes);
  void Advance();
  bool Finished() const;
  int64_t NextDeadline() const;

  const ShimOptions& o_;
  runtime::Runtime& rt_;
  LogWriter& log_;
  pid_t pid_ = -1;
  bool tty_;

  bool started_ = false;
  bool log_failed_ = false;
  std::string start_error_;
  int code_ = -1;
  int64_t reaped_ms_ = 0;
  int64_t last_output_ms_ = 0;
  bool output_done_ = false;
  int64_t finish_deadline_ = 0;
  std::list<std::unique_ptr<Attachment>> attaches_;
  std::map<std::string, std::unique_ptr<Exec>> execs_;
  std::set<std::string> finished_execs_;
  std::map<int, Conn> conns_;
  int next_conn_ = 0;
};

int Server::Serve(std::string* start_error) {
  last_output_ms_ = NowMs();
  while (!Finished()) {
    Poll();
    Advance();
    if (!start_error_.empty()) {
      *start_error = start_error_;
      return StartFailureExitCode(start_error_);
    }
  }
  return code_;
}

bool Server::Finished() const {
  return code_ >= 0 && output_done_ && attaches_.empty() && execs_.empty();
}

int64_t Server::NextDeadline() const {
  int64_t next = INT64_MAX;
  if (code_ >= 0 && !output_done_) {
    next = std::min(next, last_output_ms_ + kDrainQuietMs);
  }
  if (output_done_ && !attaches_.empty()) {
    next = std::min(next, finish_deadline_);
  }
  for (const auto& [id, e] : execs_) {
    if (e->exit_code >= 0 && !e->output_done) {
      next = std::min(next, e->last_output_ms + kDrainQuietMs);
    }
    if (e->output_done && e->attach) {
      next = std::min(next, e->finish_deadline);
    }
    if (e->exit_code < 0 && !e->killed && code_ >= 0) {
      next = std::min(next, reaped_ms_ + kExecGraceMs);
    }
  }
  for (const auto& [id, c] : conns_) {
    if (!c.waiting.is_null()) {
      next = std::min(next, c.wait_deadline);
    }
  }
  return next;
}

void Server::Poll() {
  std::vector<struct pollfd> fds;
  std::vector<Handler> handlers;
  auto add = [&](int fd, short events, Handler h) {
    if (fd >= 0 && events != 0) {
      fds.push_back({fd, events, 0});
      handlers.push_back(std::move(h));
    }
  };
  add(signals_.get(), POLLIN, [this](short) { OnSignal(); });
  add(listen_.get(), POLLIN, [this](short) { Accept(); });
  for (auto& [id, c] : conns_) {
    if (c.waiting.is_null()) {
      int conn_id = id;
      add(c.fd.get(), POLLIN, [this, conn_id](short) { OnRequest(conn_id); });
    }
  }
  for (auto& out : out_) {
    add(out.fd.get(), POLLIN, [this, &out](short) {
      last_output_ms_ = NowMs();
      ReadOutput(out, [this](Stream s, std::string_view b) { ContainerOutput(s, b); });
    });
  }
  if (input_.wants_write()) {
    add(input_.fd(), POLLOUT, [this](short) { input_.OnWritable(); });
  }
  for (auto& a : attaches_) {
    Attachment* p = a.get();
    add(p->fd(), p->PollEvents(), [p](short revents) { p->OnEvents(revents); });
  }
  for (auto& [id, e] : execs_) {
    Exec* x = e.get();
    for (auto& out : x->out) {
      add(out.fd.get(), POLLIN, [x, &out](short) {
        x->last_output_ms = NowMs();
        ReadOutput(out, [x](Stream s, std::string_view b) {
          if (x->attach) {
            x->attach->Output(s, b);
          }
        });
      });
    }
    if (x->input.wants_write()) {
      add(x->input.fd(), POLLOUT, [x](short) { x->input.OnWritable(); });
    }
    if (x->attach) {
      Attachment* p = x->attach.get();
      add(p->fd(), p->PollEvents(), [p](short revents) { p->OnEvents(revents); });
    }
  }
  int64_t deadline = NextDeadline();
  int timeout = -1;
  if (deadline != INT64_MAX) {
    timeout = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(deadline - NowMs(), 60000)));
  }
  int n = poll(fds.data(), fds.size(), timeout);
  if (n < 0) {
    if (errno != EINTR) {
      ThrowErrno("poll");
    }
    return;
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents != 0) {
      handlers[i](fds[i].revents);
    }
  }
}

// Moves every stream along its life: drains end, clients finish, execs report, timeouts fire.
void Server::Advance() {
  int64_t now = NowMs();
  bool outputs_open = out_[0].fd || out_[1].fd;
  if (!output_done_ && (!outputs_open || (code_ >= 0 && now >= last_output_ms_ + kDrainQuietMs))) {
    output_done_ = true;
    out_[0].fd.Reset();
    out_[1].fd.Reset();
    try {
      log_.Flush();
    } catch (const Error& e) {
      log::Error("shim: write the log of " + o_.id + ": " + e.what());
    }
    finish_deadline_ = now + kFinishFlushMs;
    for (auto& a : attaches_) {
      a->FinishOutput();
    }
  }
  if (output_done_ && now >= finish_deadline_) {
    for (auto& a : attaches_) {
      a->Drop();
    }
  }
  attaches_.remove_if([](const auto& a) { return a->done(); });

  for (auto it = execs_.begin(); it != execs_.end();) {
    Exec& e = *it->second;
    if (e.exit_code < 0 && !e.killed && code_ >= 0 && now >= reaped_ms_ + kExecGraceMs) {
      kill(e.pid, SIGKILL);  // our unreaped child: the pid cannot have been reused
      e.killed = true;
    }
    bool open = e.out[0].fd || e.out[1].fd;
    if (!e.output_done &&
        (!open || (e.exit_code >= 0 && now >= e.last_output_ms + kDrainQuietMs))) {
      e.output_done = true;
      e.out[0].fd.Reset();
      e.out[1].fd.Reset();
      e.finish_deadline = now + kFinishFlushMs;
      if (e.attach) {
        e.attach->FinishOutput();
      }
    }
    if (e.attach && e.output_done && now >= e.finish_deadline) {
      e.attach->Drop();
    }
    if (e.attach && e.attach->done()) {
      e.attach.reset();
    }
    if (e.exit_code >= 0 && e.output_done && !e.attach) {
      Reply(e.conn, {{"exit_code", e.exit_code}});
      finished_execs_.insert(e.id);
      it = execs_.erase(it);
    } else {
      ++it;
    }
  }

  for (auto& [id, c] : conns_) {
    if (!c.waiting.is_null() && now >= c.wait_deadline) {
      nlohmann::json req = std::move(c.waiting);
      c.waiting = nullptr;
      Reply(id, {{"error", "no such exec: " + req.value("exec_id", "")}});
    }
  }
  std::erase_if(conns_, [](const auto& kv) { return !kv.second.fd; });
}

void Server::OnSignal() {
  struct signalfd_siginfo si;
  while (read(signals_.get(), &si, sizeof(si)) == sizeof(si)) {
  }
  int status;
  pid_t r;
  while ((r = waitpid(-1, &status, WNOHANG)) > 0) {
    if (r == pid_) {
      code_ = runtime::internal::ExitCode(status);
      reaped_ms_ = NowMs();
      continue;
    }
    for (auto& [id, e] : execs_) {
      if (e->pid == r) {
        e->exit_code = runtime::internal::ExitCode(status);
        e->reaped_ms = NowMs();
        e->last_output_ms = std::max(e->last_output_ms, e->reaped_ms);
      }
    }
  }
}

void Server::Accept() {
  while (true) {
    int fd = accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      return;  // EAGAIN, or a connection that went away
    }
    conns_[next_conn_++].fd.Reset(fd);
  }
}

void Server::Reply(int conn_id, const nlohmann::json& reply) {
  auto it = conns_.find(conn_id);
  if (it == conns_.end() || !it->second.fd) {
    return;
  }
  std::string text = reply.dump();
  // A peer that does not read its replies loses its connection rather than stall the shim.
  if (send(it->second.fd.get(), text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
    it->second.fd.Reset();
  }
}

void Server::OnRequest(int conn_id) {
  Conn& c = conns_[conn_id];
  std::string buf(kMaxMessage, '\0');
  int fd = -1;
  ssize_t n = RecvWithFd(c.fd.get(), buf.data(), buf.size(), &fd);
  UniqueFd passed(fd);
  if (n <= 0) {
    c.fd.Reset();  // the peer closed (an exec's {"exit_code"} then has nowhere to go)
    return;
  }
  buf.resize(static_cast<size_t>(n));
  nlohmann::json reply;
  try {
    nlohmann::json req = nlohmann::json::parse(buf);
    if (!req.is_object()) {
      ThrowInvalid("request is not a JSON object");
    }
    reply = Handle(conn_id, req, std::move(passed));
  } catch (const nlohmann::json::exception& e) {
    reply = {{"error", std::string("bad request: ") + e.what()}};
  } catch (const Error& e) {
    reply = {{"error", e.what()}};
  }
  if (!reply.is_null()) {
    Reply(conn_id, reply);
  }
}

nlohmann::json Server::Handle(int conn_id, const nlohmann::json& req, UniqueFd fd) {
  std::string op = req.value("op", "");
  if (op == "attach") {
    return Attach(req, std::move(fd));
  }
  if (op == "start") {
    return Start();
  }
  if (op == "resize") {
    return Resize(conn_id, req);
  }
  if (op == "exec") {
    return StartExec(conn_id, req, std::move(fd));
  }
  if (op == "kill") {
    rt_.Kill(o_.id, req.value("signal", SIGTERM), req.value("all", false));
    return {{"ok", true}};
  }
  ThrowInvalid("unknown op \"" + op + "\"");
}

nlohmann::json Server::Attach(const nlohmann::json& req, UniqueFd fd) {
  if (!fd) {
    ThrowInvalid("attach: no connection descriptor came with the request");
  }
  if (output_done_) {
    ThrowConflict("attach: container " + o_.id + " has exited");
  }
  AttachConfig config;
  config.tty = tty_;
  config.stdout = req.value("stdout", true);
  config.stderr = req.value("stderr", true);
  config.detach_keys = ParseDetachKeys(req.value("detach_keys", ""));
  if (req.value("stdin", false) && input_.open()) {
    config.input = &input_;
    config.close_input_on_eof = o_.stdin_once && !tty_;
  }
  std::string initial = Base64Decode(req.value("initial_stdin", ""));
  attaches_.push_back(std::make_unique<Attachment>(std::move(fd), std::move(config)));
  attaches_.back()->FeedStdin(initial);
  return {{"ok", true}};
}

nlohmann::json Server::Start() {
  if (started_) {
    ThrowConflict("container " + o_.id + " is already started");
  }
  started_ = true;
  try {
    rt_.Start(o_.id);
  } catch (const Error& e) {
    start_error_ = e.what();
    return {{"error", start_error_}};
  }
  // Creating the container (spec parsing, seccomp compilation, mount plans) left freed heap
  // behind; the shim lives as long as the container, so give it back now.
  malloc_trim(0);
  return {{"ok", true}};
}

nlohmann::json Server::Resize(int conn_id, const nlohmann::json& req) {
  struct winsize ws;
  memset(&ws, 0, sizeof(ws));
  ws.ws_col = static_cast<unsigned short>(req.value("width", 0));
  ws.ws_row = static_cast<unsigned short>(req.value("height", 0));
  int master = master_.get();
  std::string what = "container " + o_.id;
  if (req.contains("exec_id")) {
    std::string id = req["exec_id"].get<std::string>();
    auto it = execs_.find(id);
    if (it == execs_.end()) {
      if (finished_execs_.count(id) != 0) {
        ThrowConflict("resize: exec " + id + " has exited");
      }
      Conn& c = conns_[conn_id];  // wait for it (no further requests read meanwhile)
      c.waiting = req;
      c.wait_deadline = NowMs() + kExecResizeWaitMs;
      return nullptr;
    }
    master = it->second->master.get();
    what = "exec " + id;
  }
  if (master < 0) {
    ThrowConflict("resize: " + what + " has no terminal");
  }
  if (ioctl(master, TIOCSWINSZ, &ws) < 0) {
    ThrowErrno("resize " + what);
  }
  return {{"ok", true}};
}

oci::Process Server::ExecProcess(const nlohmann::json& overrides) const {
  if (!overrides.is_object()) {
    ThrowInvalid("exec: process must be an object");
  }
  nlohmann::json base = nlohmann::json::object();
  nlohmann::json config = nlohmann::json::parse(ReadFile(o_.bundle + "/config.json"));
  if (config.contains("process")) {
    base = config["process"];
  }
  base.erase("consoleSize");
  base["terminal"] = false;
  for (const auto& [key, value] : overrides.items()) {
    base[key] = value;
  }
  return oci::ParseProcess(base.dump());
}

nlohmann::json Server::StartExec(int conn_id, const nlohmann::json& req, UniqueFd fd) {
  std::string id = req.value("exec_id", "");
  if (id.empty()) {
    ThrowInvalid("exec: exec_id is required");
  }
  if (!started_ || code_ >= 0) {
    ThrowConflict("exec: container " + o_.id + " is not running");
  }
  if (execs_.count(id) != 0 || finished_execs_.count(id) != 0) {
    throw Error(Kind::kAlreadyExists, "exec: " + id + " exists already");
  }
  oci::Process proc = ExecProcess(req.value("process", nlohmann::json::object()));
  auto e = std::make_unique<Exec>();
  e->id = id;
  e->tty = proc.terminal;
  e->conn = conn_id;
  bool want_stdin = req.value("stdin", false) && fd;
  AttachConfig config;
  config.tty = e->tty;
  config.stdout = req.value("stdout", true);
  config.stderr = req.value("stderr", true);
  config.detach_keys = ParseDetachKeys(req.value("detach_keys", ""));
  runtime::ExecStarted started;
  if (e->tty) {
    started = rt_.StartExec(o_.id, proc);
    e->master = std::move(started.master);
    SetNonBlocking(e->master.get());
    e->out[0].fd.Reset(fcntl(e->master.get(), F_DUPFD_CLOEXEC, 3));
    if (want_stdin) {
      e->input = Input(UniqueFd(fcntl(e->master.get(), F_DUPFD_CLOEXEC, 3)), false);
    }
  } else {
    // Like the init, the process inherits our fds 0-2 for the exec, and only it keeps them.
    Pipe out = MakePipe(), err = MakePipe();
    Pipe in;
    if (want_stdin) {
      in = MakePipe();
    }
    try {
      Dup2OrThrow(want_stdin ? in.r.get() : null_.get(), STDIN_FILENO);
      Dup2OrThrow(out.w.get(), STDOUT_FILENO);
      Dup2OrThrow(err.w.get(), STDERR_FILENO);
      started = rt_.StartExec(o_.id, proc);
    } catch (...) {
      for (int i = 0; i < 3; ++i) {
        dup2(null_.get(), i);
      }
      throw;
    }
    for (int i = 0; i < 3; ++i) {
      Dup2OrThrow(null_.get(), i);
    }
    SetNonBlocking(out.r.get());
    SetNonBlocking(err.r.get());
    e->out[0] = Output{std::move(out.r), Stream::kStdout};
    e->out[1] = Output{std::move(err.r), Stream::kStderr};
    if (want_stdin) {
      SetNonBlocking(in.w.get());
      e->input = Input(std::move(in.w), true);
    }
  }
  e->pid = started.pid;
  e->last_output_ms = NowMs();
  if (fd) {
    config.input = want_stdin ? &e->input : nullptr;
    config.close_input_on_eof = !e->tty;  // as Docker: an exec's stdin ends with its client's
    e->attach = std::make_unique<Attachment>(std::move(fd), std::move(config));
    e->attach->FeedStdin(Base64Decode(req.value("initial_stdin", "")));
  }
  pid_t pid = e->pid;
  execs_[id] = std::move(e);
  // Resizes that waited for this exec.
  for (auto& [cid, c] : conns_) {
    if (!c.waiting.is_null() && c.waiting.value("exec_id", "") == id) {
      nlohmann::json waiting = std::move(c.waiting);
      c.waiting = nullptr;
      nlohmann::json reply;
      try {
        reply = Resize(cid, waiting);
      } catch (const Error& err) {
        reply = {{"error", err.what()}};
      }
      Reply(cid, reply);
    }
  }
  return {{"ok", true}, {"pid", pid}};
}

void Server::ContainerOutput(Stream stream, std::string_view bytes) {
  try {
    log_.Write(stream, bytes, Now());
  } catch (const Error& e) {
    // A full disk must not take the shim (and with it the exit record) down: attaches still
    // get the output.
    if (!log_failed_) {
      log::Error("shim: write the log of " + o_.id + ": " + e.what());
      log_failed_ = true;
    }
  }
  for (auto& a : attaches_) {
    a->Output(stream, bytes);
  }
}

void Report(int fd, const nlohmann::json& line) {
  if (fd >= 0) {
    std::string text = line.dump() + "\n";
    ssize_t ignored = write(fd, text.data(), text.size());
    (void)ignored;
  }
}

void WriteExitRecord(const std::string& path, int code, pid_t pid) {
  timespec end = Now();
  char when[64];
  struct tm tm;
  gmtime_r(&end.tv_sec, &tm);
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
  char nanos[16];
  snprintf(nanos, sizeof(nanos), ".%09ldZ", end.tv_nsec);
  nlohmann::json record = {
      {"ExitCode", code}, {"Pid", pid}, {"FinishedAt", std::string(when) + nanos}};
  WriteFileAtomic(path, record.dump() + "\n", 0644);
}

bool WantsTerminal(const std::string& bundle) {
  try {
    nlohmann::json config = nlohmann::json::parse(ReadFile(bundle + "/config.json"));
    return config.contains("process") && config["process"].value("terminal", false);
  } catch (const std::exception&) {
    return false;  // the create reports what is wrong with it
  }
}

void DeleteQuietly(runtime::Runtime& rt, const std::string& id) {
  try {
    rt.Delete(id, /*force=*/true);
  } catch (const Error& e) {
    log::Warn(std::string("shim: delete ") + id + ": " + e.what());
  }
}

}  // namespace

// The runtime's create, in a child that exits when it is done, as runc's create does under
// conmon: the container's init then becomes ours (we are its subreaper), and the runtime code
// and memory the create touches (spec parsing, seccomp compilation, mount plans) are the
// child's, not the long-lived shim's resident set. Throws berth::Error with the child's text.
void CreateInChild(runtime::Runtime& rt, const runtime::CreateOptions& create) {
  Pipe report = MakePipe();
  pid_t child = fork();
  if (child < 0) {
    ThrowErrno("fork for the container's create");
  }
  if (child == 0) {
    report.r.Reset();
    std::string text;
    try {
      rt.Create(create);
      _exit(0);
    } catch (const std::exception& e) {
      text = e.what();
    }
    ssize_t ignored = write(report.w.get(), text.data(), text.size());
    (void)ignored;
    _exit(1);
  }
  report.w.Reset();
  // The exit first, then what the pipe holds: the container's init inherited the write end
  // (it execs only at start), so the pipe does not reach EOF now.
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  SetNonBlocking(report.r.get());
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(report.r.get(), buf, sizeof(buf))) > 0) {
    text.append(buf, static_cast<size_t>(n));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error(Kind::kInternal, text.empty() ? "the container's create failed" : text);
  }
}

int RunContainer(const ShimOptions& o) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
    ThrowErrno("become a child subreaper");
  }
  // SIGCHLD through a signalfd; the container's processes reset their mask before exec.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hung up is an EPIPE, not the shim's death
  UniqueFd sig(signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
  UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!sig || !null) {
    ThrowErrno("shim: set up signals and stdio");
  }
  bool tty = WantsTerminal(o.bundle);
  LogWriter writer(o.log_path, o.log_max_size, o.log_max_file);
  runtime::Runtime rt(o.runtime_root);
  Server server(o, rt, writer, tty);
  std::string console_path = o.socket_path + ".console";
  pid_t pid = -1;
  try {
    runtime::CreateOptions create;
    create.id = o.id;
    create.bundle = o.bundle;
    UniqueFd console;
    Pipe out, err, in;
    if (tty) {
      // The init sends the pty master over this socket (runc's --console-socket).
      console = ListenUnix(console_path, SOCK_STREAM);
      create.console_socket = console_path;
    } else {
      out = MakePipe();
      err = MakePipe();
      if (o.stdin_open) {
        in = MakePipe();
      }
    }
    // The container's init inherits the creator's fds 0-2 (as under runc): make them the
    // pipes for the create, then give the shim's own back /dev/null, so only the container
    // holds its ends and they close when it is gone.
    try {
      Dup2OrThrow(in.r ? in.r.get() : null.get(), STDIN_FILENO);
      Dup2OrThrow(out.w ? out.w.get() : null.get(), STDOUT_FILENO);
      Dup2OrThrow(err.w ? err.w.get() : null.get(), STDERR_FILENO);
      CreateInChild(rt, create);
    } catch (...) {
      for (int i = 0; i < 3; ++i) {
        dup2(null.get(), i);
      }
      unlink(console_path.c_str());
      throw;
    }
    for (int i = 0; i < 3; ++i) {
      Dup2OrThrow(null.get(), i);
    }
    pid = rt.Info(o.id).state.pid;
    if (tty) {
      // The create connected and sent before it returned: the message waits in the backlog.
      UniqueFd peer(accept4(console.get(), nullptr, nullptr, SOCK_CLOEXEC));
      unlink(console_path.c_str());
      if (!peer) {
        ThrowErrno("accept on console socket " + console_path);
      }
      server.master_ = runtime::RecvFd(peer.get());
      SetNonBlocking(server.master_.get());
      server.out_[0].fd.Reset(fcntl(server.master_.get(), F_DUPFD_CLOEXEC, 3));
      if (o.stdin_open) {
        server.input_ = Input(UniqueFd(fcntl(server.master_.get(), F_DUPFD_CLOEXEC, 3)), false);
      }
    } else {
      SetNonBlocking(out.r.get());
      SetNonBlocking(err.r.get());
      server.out_[0] = Output{std::move(out.r), Stream::kStdout};
      server.out_[1] = Output{std::move(err.r), Stream::kStderr};
      if (in.w) {
        SetNonBlocking(in.w.get());
        server.input_ = Input(std::move(in.w), true);
      }
    }
    server.listen_ = ListenUnix(o.socket_path, SOCK_SEQPACKET);
  } catch (const Error& e) {
    if (pid > 0) {
      DeleteQuietly(rt, o.id);
    }
    // The failure is the start's, as far as berthd's caller can tell: record its code too.
    WriteExitRecord(o.exit_path, StartFailureExitCode(e.what()), 0);
    Report(o.ready_fd, {{"error", e.what()}});
    throw;
  }
  Report(o.ready_fd, {{"created", true}, {"pid", pid}, {"shim_pid", getpid()}});
  if (o.ready_fd >= 0) {
    close(o.ready_fd);
  }

  server.signals_ = std::move(sig);
  server.null_ = std::move(null);
  server.set_init(pid);
  std::string start_error;
  int code = server.Serve(&start_error);
  if (!start_error.empty()) {
    log::Error("shim: start " + o.id + ": " + start_error);
    if (!server.init_reaped()) {
      kill(pid, SIGKILL);  // our unreaped child: the pid cannot have been reused
      waitpid(pid, nullptr, 0);
    }
  }
  WriteExitRecord(o.exit_path, code, pid);
  DeleteQuietly(rt, o.id);
  unlink(o.socket_path.c_str());
  return start_error.empty() ? code : 125;
}

}  // namespace berth::shim

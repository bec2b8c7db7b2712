#include "shim/client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <vector>

#include "base/error.h"
#include "base/fd_passing.h"

namespace berth::shim {
namespace {

// How long Spawn waits for the ready line: a create with hooks or a large seccomp profile is
// slow, but a shim stuck for longer than this is broken.
constexpr int kReadyTimeoutMs = 120 * 1000;

std::string Base64(std::string_view in) {
  static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out += kChars[(v >> 18) & 63];
    out += kChars[(v >> 12) & 63];
    out += kChars[(v >> 6) & 63];
    out += kChars[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) {
      v |= static_cast<uint8_t>(in[i + 1]) << 8;
    }
    out += kChars[(v >> 18) & 63];
    out += kChars[(v >> 12) & 63];
    out += i + 1 < in.size() ? kChars[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Reads the shim's one ready line (up to '\n' or EOF).
std::string ReadReadyLine(int fd) {
  std::string line;
  char buf[4096];
  while (line.find('\n') == std::string::npos) {
    struct pollfd p = {fd, POLLIN, 0};
    int n = poll(&p, 1, kReadyTimeoutMs);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n == 0) {
      throw Error(Kind::kUnavailable, "berth-shim: no ready line after " +
                                          std::to_string(kReadyTimeoutMs / 1000) + " s");
    }
    ssize_t got = read(fd, buf, sizeof(buf));
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      break;
    }
    line.append(buf, static_cast<size_t>(got));
  }
  return line.substr(0, line.find('\n'));
}

}  // namespace

int StartFailureExitCode(std::string_view error_text) {
  std::string text(error_text);  // strerror's "Permission denied" as well as Go's lowercase
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (text.find("no such file or directory") != std::string::npos ||
      text.find("not found") != std::string::npos) {
    return 127;
  }
  if (text.find("permission denied") != std::string::npos) {
    return 126;
  }
  return 125;
}

Spawned Spawn(const SpawnOptions& o) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    ThrowErrno("berth-shim: ready pipe");
  }
  UniqueFd ready_r(p[0]), ready_w(p[1]);
  if (ready_w.get() <= 3) {  // dup2 onto itself would keep close-on-exec
    ready_w.Reset(fcntl(ready_w.get(), F_DUPFD_CLOEXEC, 10));
    if (!ready_w) {
      ThrowErrno("berth-shim: ready pipe");
    }
  }
  std::vector<std::string> args = {o.shim_binary,
                                   "--id",
                                   o.id,
                                   "--bundle",
                                   o.bundle,
                                   "--runtime-root",
                                   o.runtime_root,
                                   "--log",
                                   o.log_path,
                                   "--exit-file",
                                   o.exit_path,
                                   "--socket",
                                   o.socket_path,
                                   "--ready-fd",
                                   "3",
                                   "--log-max-size",
                                   std::to_string(o.log_max_size),
                                   "--log-max-file",
                                   std::to_string(o.log_max_file),
                                   "--detach"};
  if (!o.shim_log.empty()) {
    args.insert(args.end(), {"--shim-log", o.shim_log});
  }
  if (o.shim_fd >= 0) {
    args.insert(args.end(), {"--exe-fd", "4"});  // run from fd 4 (below); the shim closes it
  }
  if (o.stdin_open) {
    args.push_back("--stdin");
  }
  if (o.stdin_once) {
    args.push_back("--stdin-once");
  }
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  for (int i = 0; i < 3; ++i) {
    posix_spawn_file_actions_addopen(&fa, i, "/dev/null", O_RDWR, 0);
  }
  posix_spawn_file_actions_adddup2(&fa, ready_w.get(), 3);
  // The shim binary, when the caller holds a read-only view of it: executed as fd 4 (a number
  // above the ones set up here, so no dup2 above can clobber it first).
  UniqueFd exe;
  std::string path = o.shim_binary;
  if (o.shim_fd >= 0) {
    exe.Reset(fcntl(o.shim_fd, F_DUPFD_CLOEXEC, 10));
    if (!exe) {
      ThrowErrno("berth-shim: duplicate the binary's descriptor");
    }
    posix_spawn_file_actions_adddup2(&fa, exe.get(), 4);
    path = "/proc/self/fd/4";
  }
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
  // The shim lives as long as its container: no descriptor of the daemon's may ride along.
  posix_spawn_file_actions_addclosefrom_np(&fa, o.shim_fd >= 0 ? 5 : 4);
#endif
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The shim must not inherit a blocked or ignored signal set from a daemon thread.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  int rc = posix_spawn(&pid, path.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    throw SysError("run " + o.shim_binary, rc);
  }
  ready_w.Reset();
  // With --detach the first process exits at once; the shim lives on in its child.
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string line = ReadReadyLine(ready_r.get());
  if (line.empty()) {
    std::string how =
        WIFEXITED(status) ? "exited " + std::to_string(WEXITSTATUS(status)) : "was killed";
    throw Error(Kind::kInternal, "berth-shim " + how + " before it was ready" +
                                     (o.shim_log.empty() ? "" : " (see " + o.shim_log + ")"));
  }
  nlohmann::json ready;
  try {
    ready = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    throw Error(Kind::kInternal, "berth-shim: malformed ready line: " + line);
  }
  if (ready.contains("error")) {
    std::string text = ready["error"].is_string() ? ready["error"].get<std::string>() : line;
    Kind kind = StartFailureExitCode(text) == 125 ? Kind::kInternal : Kind::kInvalidArgument;
    throw Error(kind, text);
  }
  return Spawned{ready.value("pid", -1), ready.value("shim_pid", -1)};
}

Client Client::Connect(const std::string& path) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    ThrowInvalid("shim socket path too long: " + path);
  }
  memcpy(addr.sun_path, path.c_str(), path.size());
  UniqueFd fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) {
    ThrowErrno("socket");
  }
  if (connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) < 0) {
    ThrowErrno("connect to shim socket " + path);
  }
  return Client(std::move(fd));
}

nlohmann::json Client::Receive() {
  std::string buf(kMaxMessage, '\0');
  ssize_t n;
  do {
    n = recv(sock_.get(), buf.data(), buf.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    ThrowErrno("receive from shim");
  }
  if (n == 0) {
    throw Error(Kind::kUnavailable, "shim closed the connection");
  }
  buf.resize(static_cast<size_t>(n));
  nlohmann::json reply;
  try {
    reply = nlohmann::json::parse(buf);
  } catch (const nlohmann::json::exception&) {
    throw Error(Kind::kInternal, "shim: malformed reply: " + buf);
  }
  if (reply.contains("error")) {
    std::string text = reply["error"].is_string() ? reply["error"].get<std::string>() : buf;
    throw Error(Kind::kInternal, text);
  }
  return reply;
}

nlohmann::json Client::Call(const nlohmann::json& request, int fd) {
  std::string text = request.dump();
  if (text.size() > kMaxMessage) {
    ThrowInvalid("shim request too large (" + std::to_string(text.size()) + " bytes)");
  }
  ssize_t n;
  if (fd >= 0) {
    n = SendWithFd(sock_.get(), text.data(), text.size(), fd);
    if (n < 0) {
      throw SysError("send to shim", static_cast<int>(-n));
    }
  } else {
    do {
      n = send(sock_.get(), text.data(), text.size(), MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      ThrowErrno("send to shim");
    }
  }
  return Receive();
}

void Client::Attach(int fd, const AttachOptions& o, std::string_view initial_stdin) {
  nlohmann::json req = {{"op", "attach"},
                        {"stdin", o.stdin},
                        {"stdout", o.stdout},
                        {"stderr", o.stderr},
                        {"detach_keys", o.detach_keys}};
  if (!initial_stdin.empty()) {
    req["initial_stdin"] = Base64(initial_stdin);
  }
  Call(req, fd);
}

void Client::Start() {
  try {
    Call({{"op", "start"}});
  } catch (const Error& e) {
    // As Docker: a missing or forbidden executable is the request's fault (HTTP 400).
    if (e.kind() == Kind::kInternal && StartFailureExitCode(e.what()) != 125) {
      throw Error(Kind::kInvalidArgument, e.what());
    }
    throw;
  }
}

void Client::Resize(int width, int height, const std::string& exec_id) {
  nlohmann::json req = {{"op", "resize"}, {"width", width}, {"height", height}};
  if (!exec_id.empty()) {
    req["exec_id"] = exec_id;
  }
  Call(req);
}

pid_t Client::Exec(const ExecRequest& r, int fd) {
  nlohmann::json req = {{"op", "exec"},
                        {"exec_id", r.exec_id},
                        {"process", r.process},
                        {"stdin", r.stdin},
                        {"stdout", r.stdout},
                        {"stderr", r.stderr},
                        {"detach_keys", r.detach_keys}};
  if (!r.initial_stdin.empty()) {
    req["initial_stdin"] = Base64(r.initial_stdin);
  }
  return Call(req, fd).value("pid", -1);
}

int Client::WaitExecExit() { return Receive().value("exit_code", -1); }

void Client::Kill(int signal, bool all) {
  Call({{"op", "kill"}, {"signal", signal}, {"all", all}});
}

}  // namespace berth::shim

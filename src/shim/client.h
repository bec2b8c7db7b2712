#pragma once

// berthd's side of berth-shim: spawning a shim for a container, and its control socket.
// Links only berth_base, so the daemon does not pull the runtime in.
//
// Protocol (docs/containers.md, "berth-shim"): the socket is AF_UNIX SOCK_SEQPACKET; each
// message is one JSON object of at most kMaxMessage bytes, descriptors ride along with
// SCM_RIGHTS. Every request gets one reply, {"ok":true,...} or {"error":"text"}; an exec's
// connection later gets a second message, {"exit_code":N}.

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/fd.h"

namespace berth::shim {

inline constexpr size_t kMaxMessage = 64 * 1024;

struct SpawnOptions {
  std::string shim_binary;   // path of berth-shim
  std::string id;            // container id
  std::string bundle;        // OCI bundle (config.json, rootfs)
  std::string runtime_root;  // the runtime's state directory
  std::string log_path;      // json-file log of the container's output
  std::string exit_path;     // exit record {"ExitCode","Pid","FinishedAt"}
  std::string socket_path;   // the shim's control socket
  std::string shim_log;      // the shim's own log ("" = none)
  uint64_t log_max_size = 0;
  int log_max_file = 1;
  // A read-only view of shim_binary opened once (runtime::OpenReadOnlyView), or -1: the shim
  // then runs from it and needs no protected copy of its own (one exec per start saved).
  int shim_fd = -1;
  bool stdin_open = false;  // Config.OpenStdin: the container's stdin is a pipe the shim feeds
  bool stdin_once = false;  // Config.StdinOnce: the first attach's stdin EOF closes it
};

struct Spawned {
  pid_t pid = -1;       // the container's init, on the host
  pid_t shim_pid = -1;  // the detached shim (not the caller's child: watch it with a pidfd)
};

// Runs berth-shim --detach and waits for its ready line: the container is created and the
// socket listens. Throws berth::Error with the shim's text when it could not create the
// container; the shim then exited, and wrote the exit record with the code Docker gives the
// failure (127 not found, 126 permission denied, else 125).
Spawned Spawn(const SpawnOptions& options);

struct AttachOptions {
  bool stdin = false;
  bool stdout = true;
  bool stderr = true;
  std::string detach_keys;  // Docker syntax; "" = ctrl-p,ctrl-q
};

struct ExecRequest {
  std::string exec_id;
  // An OCI process object (args, env, cwd, user{uid,gid,additionalGids}, terminal, ...). Keys
  // left out come from the container's process (capabilities, rlimits, apparmor, ...).
  nlohmann::json process;
  bool stdin = false;
  bool stdout = true;
  bool stderr = true;
  std::string detach_keys;
  std::string initial_stdin;  // bytes already read past the HTTP headers
};

// One connection to a shim. Requests are synchronous; each method throws berth::Error with the
// shim's text when it answers an error, or when the shim is gone.
class Client {
 public:
  static Client Connect(const std::string& socket_path);

  // Hands over a hijacked client connection (berthd already wrote the 101): the shim streams
  // the container's output to it (8-byte frames without a TTY, raw with one) and feeds its
  // bytes to the container's stdin when options.stdin. `initial_stdin`: bytes already read past
  // the HTTP headers. The caller should close its copy of `fd` afterwards.
  void Attach(int fd, const AttachOptions& options, std::string_view initial_stdin = {});
  // Starts the container's process; throws with the runtime's text when that fails (the shim
  // then writes the exit record, 127/126/125 as for Spawn, and exits).
  void Start();
  // The container's pty, or with `exec_id` that exec's (waiting up to 10 s for the exec to
  // exist).
  void Resize(int width, int height, const std::string& exec_id = "");
  // Runs a process in the container; `fd` is the hijacked client connection, or -1 (exec -d,
  // output discarded). Returns its host pid. Afterwards use this connection only for
  // WaitExecExit (open one Client per exec).
  pid_t Exec(const ExecRequest& request, int fd);
  // Blocks until the exec's process ended and its output was delivered; returns its exit
  // code (128+signal when killed). Poll fd() for readability to wait without blocking.
  int WaitExecExit();
  void Kill(int signal, bool all);

  // The connection, to poll in an event loop.
  int fd() const { return sock_.get(); }

 private:
  explicit Client(UniqueFd sock) : sock_(std::move(sock)) {}
  nlohmann::json Call(const nlohmann::json& request, int fd = -1);
  nlohmann::json Receive();

  UniqueFd sock_;
};

// The exit code Docker records for a start failure with this text: 127 for "no such file or
// directory" / "not found", 126 for "permission denied", else 125.
int StartFailureExitCode(std::string_view error_text);

}  // namespace berth::shim

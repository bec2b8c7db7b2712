#include "runtime/launch.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "base/file_util.h"
#include "base/log.h"
#include "runtime/idmap.h"
#include "runtime/state.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"

namespace berth::runtime::internal {
void WritePidFile(const std::string& path, pid_t pid) {
  if (!path.empty()) {
    WriteFileAtomic(path, std::to_string(pid), 0644, Durability::kVolatile);
  }
}

bool SignalProcess(pid_t pid, unsigned long long start_time, int sig) {
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd || !ProcessAlive(pid, start_time)) {
    return false;
  }
  if (syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0) < 0) {
    ThrowErrno("send signal " + std::to_string(sig) + " to pid " + std::to_string(pid));
  }
  return true;
}

ConsoleEnds SetUpConsole(const std::string& socket_path, bool can_proxy, const char* refusal,
                         InitPlan& plan) {
  ConsoleEnds ends;
  if (!socket_path.empty()) {
    ends.child = ConnectUnixSocket(socket_path);
  } else if (can_proxy) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
      ThrowErrno("create the console socket pair");
    }
    ends.child.Reset(sv[1]);
    ends.peer.Reset(sv[0]);
    plan.parent_fds.push_back(sv[0]);
  } else {
    ThrowInvalid(refusal);
  }
  plan.console_fd = ends.child.get();
  return ends;
}

pid_t SpawnInit(InitPlan& plan, const std::vector<oci::IdMapping>* uid_maps,
                const std::vector<oci::IdMapping>* gid_maps, UniqueFd& sync) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    ThrowErrno("create the sync socket");
  }
  sync.Reset(sv[0]);
  UniqueFd child_end(sv[1]);
  plan.sync_fd = sv[1];
  plan.parent_fds.push_back(sv[0]);
  pid_t stage1 = -1;
  plan.started_in_cgroup = false;
  if (plan.cgroup_fd >= 0) {
    // Like fork, but the child starts in the container's cgroup: no cgroup.procs write (and
    // no wait for the RCU grace period a migration can cost) for the cgroup2 tree.
    struct clone_args args;
    memset(&args, 0, sizeof(args));
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<uint64_t>(plan.cgroup_fd);
    stage1 = static_cast<pid_t>(syscall(SYS_clone3, &args, sizeof(args)));
    if (stage1 > 0) {
      plan.started_in_cgroup = true;
      log::Debug("setup process cloned into the container's cgroup (CLONE_INTO_CGROUP)");
    } else if (stage1 < 0) {
      log::Debug(std::string("clone3 into the cgroup: ") + strerror(errno) + "; fork instead");
    }
  }
  if (stage1 < 0) {
    stage1 = fork();
  }
  if (stage1 < 0) {
    ThrowErrno("fork");
  }
  if (stage1 == 0) {
    sync.Release();  // the child must not close the parent's end through RAII
    RunStage1(plan);
  }
  child_end.Reset();
  auto reap = [&] {
    int status;
    while (waitpid(stage1, &status, 0) < 0 && errno == EINTR) {
    }
  };
  try {
    SyncMsg msg;
    if (!SyncRecv(sync.get(), &msg)) {
      throw Error(Kind::kInternal, "container setup process exited early");
    }
    if (msg.type == SyncType::kWriteIdMaps) {
      std::string base = "/proc/" + std::to_string(stage1);
      WriteFileOrThrow(base + "/uid_map", MappingText(*uid_maps));
      if (geteuid() != 0) {
        // An unprivileged user may map its own gid only once setgroups is off for good.
        WriteFileOrThrow(base + "/setgroups", "deny");
      }
      WriteFileOrThrow(base + "/gid_map", MappingText(*gid_maps));
      SyncSend(sync.get(), SyncType::kIdMapsWritten);
      if (!SyncRecv(sync.get(), &msg)) {
        throw Error(Kind::kInternal, "container setup process exited early");
      }
    }
    if (msg.type == SyncType::kError) {
      throw msg.err ? SysError(msg.text, msg.err) : Error(Kind::kInvalidArgument, msg.text);
    }
    if (msg.type != SyncType::kInitPid) {
      throw Error(Kind::kInternal, "unexpected message from the setup process");
    }
    reap();
    return static_cast<pid_t>(msg.value);
  } catch (...) {
    kill(stage1, SIGKILL);
    reap();
    throw;
  }
}

oci::Spec LoadSavedSpec(const StateStore& store, const std::string& id) {
  auto text = ReadFileIfExists(store.ConfigPath(id));
  if (!text) {
    return oci::Spec{};
  }
  return oci::ParseSpec(*text);
}

void ForwardSeccompListener(int sync, const SeccompProgram& program, pid_t pid,
                            const std::string& state_json) {
  SyncMsg msg;
  int fd = -1;
  if (!SyncRecvFd(sync, &msg, &fd)) {
    throw Error(Kind::kInternal, "container setup process exited before its seccomp listener");
  }
  UniqueFd listener(fd);
  if (msg.type == SyncType::kError) {
    throw msg.err ? SysError(msg.text, msg.err) : Error(Kind::kInvalidArgument, msg.text);
  }
  if (msg.type != SyncType::kSeccompFd || !listener) {
    throw Error(Kind::kInternal, "expected the seccomp listener descriptor");
  }
  nlohmann::json process_state = {
      {"ociVersion", "1.1.0"},
      {"fds", {"seccompFd"}},
      {"pid", pid},
      {"metadata", program.listener_metadata},
      {"state", nlohmann::json::parse(state_json)},
  };
  UniqueFd sock;
  try {
    sock = ConnectUnixSocket(program.listener_path);
  } catch (const Error& e) {
    throw e.WithContext("linux.seccomp.listenerPath");
  }
  if (!SendFd(sock.get(), listener.get(), process_state.dump().c_str())) {
    ThrowErrno("send the seccomp listener to " + program.listener_path);
  }
}

}  // namespace berth::runtime::internal

// exec: a new process in a running container's namespaces and cgroup.

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "runtime/cgroups.h"
#include "runtime/container.h"
#include "runtime/credentials.h"
#include "runtime/foreground.h"
#include "runtime/init.h"
#include "runtime/launch.h"
#include "runtime/lsm.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"

namespace berth::runtime {

using internal::BlockSignals;
using internal::ConsoleEnds;
using internal::LoadSavedSpec;
using internal::SetUpConsole;
using internal::SpawnInit;
using internal::WaitForeground;
using internal::WritePidFile;

namespace {

oci::Process BuildExecProcess(const ExecOptions& o, const oci::Spec& spec) {
  if (!o.process_file.empty()) {
    try {
      return oci::ParseProcess(ReadFile(o.process_file));
    } catch (const Error& e) {
      throw e.WithContext("load " + o.process_file);
    }
  }
  if (o.args.empty()) {
    ThrowInvalid("exec: a command or --process is required");
  }
  oci::Process p = spec.process.value_or(oci::Process{});
  p.args = o.args;
  p.terminal = o.tty;
  p.console_size.reset();
  for (const auto& e : o.env) {
    if (e.find('=') == std::string::npos) {
      ThrowInvalid("exec: --env \"" + e + "\" must have the form KEY=value");
    }
    std::string key = e.substr(0, e.find('=') + 1);
    std::erase_if(p.env, [&](const std::string& x) { return x.rfind(key, 0) == 0; });
    p.env.push_back(e);
  }
  if (!o.cwd.empty()) {
    if (o.cwd[0] != '/') {
      ThrowInvalid("exec: --cwd must be an absolute path");
    }
    p.cwd = o.cwd;
  }
  if (!o.user.empty()) {
    try {
      size_t colon = o.user.find(':');
      p.user.uid = static_cast<uint32_t>(std::stoul(o.user.substr(0, colon)));
      p.user.gid = colon == std::string::npos
                       ? 0
                       : static_cast<uint32_t>(std::stoul(o.user.substr(colon + 1)));
    } catch (const std::exception&) {
      ThrowInvalid("exec: --user \"" + o.user + "\" must be uid[:gid]");
    }
  }
  return p;
}

}  // namespace

namespace {

struct Spawned {
  pid_t pid = -1;
  UniqueFd master;
};

// Starts `proc` in the namespaces and cgroup of container `id`; the caller reaps the pid.
// `console_socket`/`can_proxy` as SetUpConsole; `preserve_fds`, `pid_file` as the options.
Spawned SpawnExec(StateStore& store, const std::string& id, const ContainerInfo& info,
                  const oci::Spec& spec, const oci::Process& proc,
                  const std::string& console_socket, bool can_proxy, int preserve_fds,
                  const std::string& pid_file) {
  ValidateCapabilitiesForKernel(proc);
  ValidateLsm(proc, nullptr);

  InitPlan plan;
  plan.process = &proc;
  // The container's filter confines exec'd processes too, as runc does.
  SeccompProgram seccomp;
  if (spec.linux) {
    seccomp = CompileSeccompCached(spec.linux->seccomp, store.root() + "/.seccomp-cache");
  }
  plan.seccomp = seccomp.empty() ? nullptr : &seccomp;
  // ForTest: keeps the exec'd process in the container before its execve, so the
  // CVE-2019-5736 test can attack it from inside deterministically.
  if (const char* delay = getenv("BERTH_RUNTIME_TEST_EXEC_DELAY_MS")) {
    plan.test_exec_delay_ms = atoi(delay);
  }
  std::vector<UniqueFd> ns_fds;
  // Join every namespace of the init that differs from ours, user first; mount last so the
  // other /proc paths are still reachable when they are opened.
  static const std::pair<const char*, int> kNs[] = {
      {"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
      {"net", CLONE_NEWNET},   {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP},
      {"time", CLONE_NEWTIME}, {"mnt", CLONE_NEWNS},
  };
  std::string base = "/proc/" + std::to_string(info.state.pid) + "/ns/";
  for (const auto& [name, flag] : kNs) {
    struct stat theirs, ours;
    if (stat((base + name).c_str(), &theirs) < 0) {
      continue;
    }
    if (stat((std::string("/proc/self/ns/") + name).c_str(), &ours) == 0 &&
        theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev) {
      continue;
    }
    UniqueFd fd(open((base + name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      ThrowErrno("open " + base + name);
    }
    plan.joins.emplace_back(flag, fd.get());
    ns_fds.push_back(std::move(fd));
  }
  if (!ProcessAlive(info.state.pid, info.state.pid_start_time)) {
    ThrowConflict("cannot exec in container " + id + ": it stopped");
  }
  for (int i = 0; i < preserve_fds; ++i) {
    plan.keep_fds.push_back(3 + i);
  }
  ConsoleEnds console;
  Spawned result;
  if (proc.terminal) {
    console = SetUpConsole(console_socket, can_proxy,
                           "exec: --tty with --detach needs --console-socket", plan);
  }
  UniqueFd sync;
  UniqueFd cgroup_fd;
  if (!info.state.cgroup_path.empty()) {
    cgroup_fd = Cgroup(DetectCgroupLayout(), info.state.cgroup_path).OpenV2Dir();
    plan.cgroup_fd = cgroup_fd.get();
  }
  pid_t pid = SpawnInit(plan, nullptr, nullptr, sync);
  try {
    console.child.Reset();
    if (!info.state.cgroup_path.empty()) {  // a rootless container may have none
      Cgroup(DetectCgroupLayout(), info.state.cgroup_path).AddProcess(pid, plan.started_in_cgroup);
    }
    SyncSend(sync.get(), SyncType::kCgroupJoined);
    if (console.peer) {
      result.master = RecvFd(console.peer.get());
    }
    if (!seccomp.listener_path.empty()) {
      internal::ForwardSeccompListener(sync.get(), seccomp, pid,
                                       runtime::StateJson(info.state, info.status));
    }
    SyncExpect(sync.get(), SyncType::kReady, "set up the exec process");
  } catch (...) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    throw;
  }
  WritePidFile(pid_file, pid);
  SyncSend(sync.get(), SyncType::kStart);
  result.pid = pid;
  return result;
}

ContainerInfo ExecTarget(const Runtime& rt, const std::string& id) {
  ContainerInfo info = rt.Info(id);
  if (info.status != Status::kRunning && info.status != Status::kCreated) {
    ThrowConflict("cannot exec in container " + id + ": it is " + StatusName(info.status));
  }
  return info;
}

}  // namespace

int Runtime::Exec(const ExecOptions& o) {
  ContainerInfo info = ExecTarget(*this, o.id);
  oci::Spec spec = LoadSavedSpec(store_, o.id);
  oci::Process proc = BuildExecProcess(o, spec);
  std::optional<BlockSignals> blocked;
  if (!o.detach) {
    blocked.emplace();
  }
  Spawned s = SpawnExec(store_, o.id, info, spec, proc, o.console_socket,
                        /*can_proxy=*/!o.detach, o.preserve_fds, o.pid_file);
  if (o.detach) {
    return 0;
  }
  return WaitForeground(s.pid, s.master.get());
}

ExecStarted Runtime::StartExec(const std::string& id, const oci::Process& process) {
  ContainerInfo info = ExecTarget(*this, id);
  oci::Spec spec = LoadSavedSpec(store_, id);
  Spawned s = SpawnExec(store_, id, info, spec, process, "", /*can_proxy=*/true, 0, "");
  return ExecStarted{s.pid, std::move(s.master)};
}

}  // namespace berth::runtime

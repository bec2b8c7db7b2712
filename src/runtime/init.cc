#include "runtime/init.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <linux/close_range.h>
#include <linux/keyctl.h>

#include "runtime/credentials.h"
#include "runtime/hooks.h"
#include "runtime/lsm.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"

namespace berth::runtime {
namespace {

[[noreturn]] void Die(const InitPlan& plan, const ChildError& error) {
  SyncSendError(plan.sync_fd, error.err, error.text);
  _exit(1);
}

bool WriteProcFile(const char* path, const char* data, ChildError* error) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return error->Fail(errno, "open %s", path);
  }
  ssize_t n = write(fd, data, strlen(data));
  int err = errno;
  close(fd);
  if (n < 0) {
    return error->Fail(err, "write %s", path);
  }
  return true;
}

// Finds the program as execvp would, but inside the container and before the user switch,
// so that "executable file not found" is an error of create, not a silent exit later.
bool ResolveExecutable(InitPlan& plan, ChildError* error) {
  const std::string& arg0 = plan.process->args[0];
  if (arg0.find('/') != std::string::npos) {
    struct stat st;
    if (stat(arg0.c_str(), &st) < 0) {
      return error->Fail(errno, "exec %s", arg0.c_str());
    }
    // As Go's exec.LookPath (runc): a directory or a file without any x bit is refused here.
    if (S_ISDIR(st.st_mode) || (st.st_mode & 0111) == 0) {
      return error->Fail(EACCES, "exec %s", arg0.c_str());
    }
    plan.resolved_exe = arg0;
    return true;
  }
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : plan.process->env) {
    if (e.rfind("PATH=", 0) == 0) {
      path = e.substr(5);
    }
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) {
      end = path.size();
    }
    std::string dir = path.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + arg0;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
      plan.resolved_exe = candidate;
      return true;
    }
    start = end + 1;
  }
  return error->Fail(ENOENT, "exec %s: executable file not found in $PATH", arg0.c_str());
}

std::string ReadAllFd(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Marks every descriptor above stdio and the --preserve-fds range close-on-exec, so nothing
// of the runtime leaks into the container (the classic /proc/self/fd escape). The sync
// socket and the fifo stay usable until execve.
bool CloseExtraFds(const InitPlan& plan, ChildError* error) {
  unsigned first = 3 + static_cast<unsigned>(plan.keep_fds.size());
  for (int fd : plan.keep_fds) {
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0) {
      fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
  }
  if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) {
    return true;
  }
  if (errno != ENOSYS && errno != EINVAL) {
    return error->Fail(errno, "close_range");
  }
  for (int fd = static_cast<int>(first); fd < 4096; ++fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0) {
      fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
  }
  return true;
}

bool WaitForStart(const InitPlan& plan, ChildError* error) {
  if (plan.fifo_fd >= 0) {
    struct pollfd pfd = {plan.fifo_fd, POLLIN, 0};
    while (true) {
      int rc = poll(&pfd, 1, -1);
      if (rc < 0 && errno == EINTR) {
        continue;
      }
      if (rc < 0) {
        return error->Fail(errno, "wait on the exec fifo");
      }
      char c;
      if (read(plan.fifo_fd, &c, 1) == 1) {
        return true;
      }
      if (errno != EAGAIN && errno != EINTR) {
        return error->Fail(errno, "read the exec fifo");
      }
    }
  }
  SyncMsg msg;
  if (!SyncRecv(plan.sync_fd, &msg) || msg.type != SyncType::kStart) {
    return error->Fail(EPIPE, "wait for start: the runtime went away");
  }
  return true;
}

// The home directory of `uid` in the container's /etc/passwd, "/" if it has none (what runc
// sets HOME to when the config does not).
std::string HomeFor(uint32_t uid) {
  FILE* f = fopen("/etc/passwd", "re");
  if (f == nullptr) {
    return "/";
  }
  char line[1024];
  std::string home = "/";
  while (fgets(line, sizeof(line), f) != nullptr) {
    // name:x:uid:gid:gecos:home:shell
    char* fields[7] = {nullptr};
    int n = 0;
    for (char* p = line; n < 7 && p != nullptr; ++n) {
      fields[n] = p;
      p = strchr(p, ':');
      if (p != nullptr) {
        *p++ = '\0';
      }
    }
    if (n >= 6 && fields[2] != nullptr && strtoul(fields[2], nullptr, 10) == uid &&
        fields[5][0] != '\0') {
      home = fields[5];
      break;
    }
  }
  fclose(f);
  return home;
}

// Waits until the runtime has put us in our cgroup, then enters a new cgroup namespace (so
// the container sees its cgroup as "/") and reads the state for in-container hooks. Runs
// once: before the first cgroup mount, or after the mounts at the latest.
bool JoinCgroup(void* arg, ChildError* error) {
  InitPlan& plan = *static_cast<InitPlan*>(arg);
  if (plan.cgroup_joined) {
    return true;
  }
  SyncMsg msg;
  if (!SyncRecv(plan.sync_fd, &msg) || msg.type != SyncType::kCgroupJoined) {
    return error->Fail(EPIPE, "wait to join the cgroup: the runtime went away");
  }
  if (plan.hook_state_fd >= 0) {
    plan.hook_state = ReadAllFd(plan.hook_state_fd);
    close(plan.hook_state_fd);
  }
  if ((plan.create_flags & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0) {
    return error->Fail(errno, "unshare the cgroup namespace");
  }
  plan.cgroup_joined = true;
  return true;
}

[[noreturn]] void RunInit(InitPlan& plan) noexcept {
  ChildError error;
  SyncMsg msg;
  plan.rootfs.join_cgroup = &JoinCgroup;
  plan.rootfs.join_cgroup_arg = &plan;
  // Without our own mounts to make there is nothing to overlap with the cgroup attach.
  if (!(plan.spec != nullptr && plan.setup_rootfs) && !JoinCgroup(&plan, &error)) {
    Die(plan, error);
  }
  const std::string& hook_state = plan.hook_state;
  if ((plan.spec != nullptr || plan.console_fd >= 0) && setsid() < 0) {
    error.Fail(errno, "setsid");
    Die(plan, error);
  }
  if (plan.spec != nullptr) {
    const oci::Spec& spec = *plan.spec;
    if (plan.setup_rootfs && !PrepareRootfs(plan.rootfs, &error)) {
      Die(plan, error);
    }
    if (!JoinCgroup(&plan, &error)) {
      Die(plan, error);
    }
    if (plan.mounts_done_sync) {
      SyncSend(plan.sync_fd, SyncType::kMountsDone);
      if (!SyncRecv(plan.sync_fd, &msg) || msg.type != SyncType::kHooksDone) {
        _exit(1);
      }
    }
    if (!RunHooks(spec.hooks.create_container, "createContainer", hook_state, &error)) {
      Die(plan, error);
    }
    if (plan.setup_rootfs && !PivotRoot(plan.rootfs, &error)) {
      Die(plan, error);
    }
    if (plan.console_fd >= 0 &&
        !SetupConsole(plan.console_fd, *plan.process, /*bind_console=*/true, &error)) {
      Die(plan, error);
    }
    // Before the read-only paths: /proc/sys is one of them.
    if (spec.linux) {
      for (const auto& [key, value] : spec.linux->sysctl) {
        // "net.ipv4.conf.eth0/1.forwarding" is /proc/sys/net/ipv4/conf/eth0.1/forwarding.
        std::string path = "/proc/sys/" + key;
        for (size_t i = 10; i < path.size(); ++i) {
          path[i] = path[i] == '.' ? '/' : path[i] == '/' ? '.' : path[i];
        }
        if (!WriteProcFile(path.c_str(), value.c_str(), &error)) {
          Die(plan, error);
        }
      }
    }
    if (plan.setup_rootfs && !FinishRootfs(plan.rootfs, &error)) {
      Die(plan, error);
    }
    // A session keyring of its own: the container must not see or use the caller's keys.
    if (plan.new_session_keyring &&
        syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, nullptr, 0, 0, 0) < 0 && errno != ENOSYS) {
      error.Fail(errno, "join a new session keyring");
      Die(plan, error);
    }
    if (!spec.hostname.empty() && sethostname(spec.hostname.data(), spec.hostname.size()) < 0) {
      error.Fail(errno, "sethostname %s", spec.hostname.c_str());
      Die(plan, error);
    }
    if (!spec.domainname.empty() &&
        setdomainname(spec.domainname.data(), spec.domainname.size()) < 0) {
      error.Fail(errno, "setdomainname %s", spec.domainname.c_str());
      Die(plan, error);
    }
  } else if (plan.console_fd >= 0 &&
             !SetupConsole(plan.console_fd, *plan.process, /*bind_console=*/false, &error)) {
    Die(plan, error);
  }
  const oci::Process& proc = *plan.process;
  std::vector<std::string> env = proc.env;
  if (std::none_of(env.begin(), env.end(),
                   [](const std::string& e) { return e.rfind("HOME=", 0) == 0; })) {
    env.push_back("HOME=" + HomeFor(proc.user.uid));
  }
  bool cwd_ok = chdir(proc.cwd.c_str()) == 0;
  if (!ResolveExecutable(plan, &error)) {
    Die(plan, error);
  }
  if (!ApplyExecLabels(proc, &error)) {
    Die(plan, error);
  }
  if (plan.spec != nullptr && plan.spec->linux && plan.spec->linux->personality &&
      personality(*plan.spec->linux->personality) < 0) {
    error.Fail(errno, "set personality");
    Die(plan, error);
  }
  // Without no_new_privs installing a filter needs CAP_SYS_ADMIN: do it while we have it.
  // With it, the filter goes on last, right before execve, so it only has to allow execve.
  // A notify listener must reach the runtime before `create` returns, so such a filter
  // goes on here too, and its descriptor goes up the sync socket.
  bool seccomp_early =
      plan.seccomp != nullptr && (!proc.no_new_privileges || !plan.seccomp->listener_path.empty());
  if (seccomp_early) {
    int listener = -1;
    if (!InstallSeccomp(*plan.seccomp, &listener, &error)) {
      Die(plan, error);
    }
    if (listener >= 0) {
      SyncSendFd(plan.sync_fd, SyncType::kSeccompFd, listener);
      close(listener);
    }
  }
  if (!ApplyUserAndCapabilities(proc, &error)) {
    Die(plan, error);
  }
  if (!cwd_ok && chdir(proc.cwd.c_str()) < 0) {
    error.Fail(errno, "chdir to %s", proc.cwd.c_str());
    Die(plan, error);
  }
  if (!CloseExtraFds(plan, &error)) {
    Die(plan, error);
  }
  // From here the container outlives `create`.
  prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  SyncSend(plan.sync_fd, SyncType::kReady);
  if (!WaitForStart(plan, &error)) {
    _exit(1);
  }
  // The sync socket and the fifo stay open (close-on-exec) until execve: the runtime sees them
  // close when the process is executed, which is when poststart hooks may run.
  if (plan.spec != nullptr &&
      !RunHooks(plan.spec->hooks.start_container, "startContainer", hook_state, &error)) {
    dprintf(2, "berth-runtime: %s\n", error.text);
    _exit(1);
  }
  if (plan.test_exec_delay_ms > 0) {
    usleep(static_cast<useconds_t>(plan.test_exec_delay_ms) * 1000);
  }
  umask(proc.user.umask.value_or(022));
  std::vector<char*> argv;
  for (const auto& a : proc.args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) {
    envp.push_back(const_cast<char*>(e.c_str()));
  }
  envp.push_back(nullptr);
  // Reset what the runtime changed for itself before handing the process over.
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    signal(sig, SIG_DFL);
  }
  int no_listener;
  if (plan.seccomp != nullptr && !seccomp_early &&
      !InstallSeccomp(*plan.seccomp, &no_listener, &error)) {
    dprintf(2, "berth-runtime: %s\n", error.text);
    _exit(1);
  }
  execve(plan.resolved_exe.c_str(), argv.data(), envp.data());
  dprintf(2, "berth-runtime: exec %s: %s\n", plan.resolved_exe.c_str(), strerror(errno));
  _exit(127);
}

}  // namespace

void RunStage1(InitPlan& plan) noexcept {
  ChildError error;
  // Until the container is ready, it dies with the runtime: an interrupted create leaves no
  // process waiting forever.
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  // Non-dumpable until execve resets it: processes of the container (which this one joins)
  // cannot open our /proc/<pid>/exe, fds or memory (CVE-2019-5736, CVE-2016-9962).
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
    error.Fail(errno, "prctl PR_SET_DUMPABLE");
    Die(plan, error);
  }
  for (int fd : plan.parent_fds) {
    close(fd);
  }
  // Directories and files the runtime makes do not depend on the caller's umask.
  umask(022);
  // Both are inherited by the init, and both need the host's privileges: a user namespace
  // cannot raise a hard limit, nor open our /proc files (non-dumpable: owned by host root).
  const oci::Process& proc = *plan.process;
  if (proc.oom_score_adj) {
    char value[16];
    snprintf(value, sizeof(value), "%d", *proc.oom_score_adj);
    if (!WriteProcFile("/proc/self/oom_score_adj", value, &error)) {
      Die(plan, error);
    }
  }
  if (!ApplyRlimits(proc, &error)) {
    Die(plan, error);
  }
  for (const auto& [flag, fd] : plan.joins) {
    if (flag == CLONE_NEWUSER && setns(fd, CLONE_NEWUSER) < 0) {
      error.Fail(errno, "join the user namespace");
      Die(plan, error);
    }
  }
  for (const auto& [flag, fd] : plan.joins) {
    if (flag != CLONE_NEWUSER && setns(fd, flag) < 0) {
      error.Fail(errno, "join namespace (flag 0x%x)", flag);
      Die(plan, error);
    }
  }
  for (const auto& [flag, fd] : plan.joins) {
    close(fd);  // joined: nothing of the runtime's view stays open in the container
  }
  if (plan.create_flags & CLONE_NEWUSER) {
    if (unshare(CLONE_NEWUSER) < 0) {
      error.Fail(errno, "unshare the user namespace");
      Die(plan, error);
    }
    // Rootless, the runtime is an ordinary user, who may write our maps only while we are
    // dumpable (our /proc files are its own then). Nothing else runs in the new user
    // namespace yet that could use the window.
    bool rootless = geteuid() != 0;
    if (rootless) {
      prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    }
    SyncMsg msg;
    SyncSend(plan.sync_fd, SyncType::kWriteIdMaps);
    if (!SyncRecv(plan.sync_fd, &msg) || msg.type != SyncType::kIdMapsWritten) {
      _exit(1);
    }
    if (rootless) {
      prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
  }
  int rest = plan.create_flags & ~(CLONE_NEWUSER | CLONE_NEWCGROUP);
  if (rest != 0 && unshare(rest) < 0) {
    error.Fail(errno, "unshare namespaces (flags 0x%x)", rest);
    Die(plan, error);
  }
  // Still host root by uid (the owner of our non-dumpable /proc files and of directories
  // only host root may enter), with every capability in the new user namespace, which owns
  // the new time and mount namespaces.
  if (!plan.time_offsets.empty() &&
      !WriteProcFile("/proc/self/timens_offsets", plan.time_offsets.c_str(), &error)) {
    Die(plan, error);
  }
  if (plan.setup_rootfs && plan.rootfs.rootfs_tree_fd >= 0) {
    plan.rootfs.rootfs_dir_fd =
        open(plan.rootfs.rootfs.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (plan.rootfs.rootfs_dir_fd < 0) {
      error.Fail(errno, "open rootfs %s", plan.rootfs.rootfs.c_str());
      Die(plan, error);
    }
  }
  if ((plan.create_flags & CLONE_NEWUSER) && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
    error.Fail(errno, "become root in the new user namespace");
    Die(plan, error);
  }
  // CLONE_PARENT: the init becomes the runtime's child, so `run` can wait for it.
  pid_t pid = static_cast<pid_t>(syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0));
  if (pid < 0) {
    error.Fail(errno, "clone the container init");
    Die(plan, error);
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() == 1) {
      _exit(1);  // the runtime died before we could ask to die with it
    }
    RunInit(plan);
  }
  SyncSend(plan.sync_fd, SyncType::kInitPid, pid);
  _exit(0);
}

}  // namespace berth::runtime

#include "runtime/container.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <optional>
#include <thread>

#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "base/log.h"
#include "oci/runtime_spec.h"
#include "runtime/cgroups.h"
#include "runtime/hooks.h"
#include "runtime/init.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"

namespace berth::runtime {
namespace {

constexpr const char* kDefaultCgroupParent = "/berth";

std::string AbsolutePath(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.empty() ? "." : path.c_str(), buf) == nullptr) {
    ThrowErrno("resolve path " + (path.empty() ? std::string(".") : path));
  }
  return buf;
}

std::string MappingText(const std::vector<oci::IdMapping>& maps) {
  std::string out;
  for (const auto& m : maps) {
    out += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " +
           std::to_string(m.size) + "\n";
  }
  return out;
}

std::string CgroupPathFor(const oci::Spec& spec, const std::string& id, bool* owned) {
  if (spec.linux && !spec.linux->cgroups_path.empty()) {
    *owned = false;
    return spec.linux->cgroups_path;
  }
  *owned = true;
  return std::string(kDefaultCgroupParent) + "/" + id;
}

Status DeriveStatus(const StateStore& store, const ContainerState& s) {
  if (s.pid == 0 || !ProcessAlive(s.pid, s.pid_start_time)) {
    return Status::kStopped;
  }
  struct stat st;
  if (stat(store.FifoPath(s.id).c_str(), &st) == 0) {
    return Status::kCreated;
  }
  if (!s.cgroup_path.empty() && Cgroup(DetectCgroupLayout(), s.cgroup_path).Frozen()) {
    return Status::kPaused;
  }
  return Status::kRunning;
}

void WritePidFile(const std::string& path, pid_t pid) {
  if (!path.empty()) {
    WriteFileAtomic(path, std::to_string(pid), 0644, Durability::kVolatile);
  }
}

// Signals `pid` through a pidfd, after checking it is still the process we started.
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

int ExitCode(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return 255;
}

// The runtime side of one container being set up: owns what must be undone if creation
// fails before it is committed.
class Launch {
 public:
  Launch(StateStore& store, std::string id) : store_(store), id_(std::move(id)) {}
  ~Launch() {
    if (committed_) {
      return;
    }
    if (init_pid_ > 0) {
      kill(init_pid_, SIGKILL);
      waitpid(init_pid_, nullptr, 0);
    }
    if (cgroup_) {
      cgroup_->SignalAll(SIGKILL);
      cgroup_->Destroy();
      if (cgroup_owned_) {
        Cgroup(DetectCgroupLayout(), kDefaultCgroupParent).Destroy(/*wait=*/false);
      }
    }
    if (reserved_) {
      store_.Remove(id_);
    }
  }

  StateStore& store_;
  std::string id_;
  bool reserved_ = false;
  bool committed_ = false;
  pid_t init_pid_ = 0;
  std::optional<Cgroup> cgroup_;
  bool cgroup_owned_ = false;
  UniqueFd sync_;
  UniqueFd console_master_;
  ContainerState state_;
};

// Starts the stage-1 child for `plan` and runs the parent side of the handshake up to the
// init's pid. Returns the pid; `sync` is the parent's end.
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
  pid_t stage1 = fork();
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

// Forwards signals to `pid` and, with a terminal, copies between our stdio and the pty
// master until `pid` exits. Returns its exit status. Signals must already be blocked.
int WaitForeground(pid_t pid, int master) {
  sigset_t mask;
  sigfillset(&mask);
  UniqueFd sfd(signalfd(-1, &mask, SFD_CLOEXEC));
  if (!sfd) {
    ThrowErrno("signalfd");
  }
  struct termios saved;
  bool raw = false;
  if (master >= 0 && isatty(0) && tcgetattr(0, &saved) == 0) {
    struct termios t = saved;
    cfmakeraw(&t);
    raw = tcsetattr(0, TCSANOW, &t) == 0;
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0) {
      ioctl(master, TIOCSWINSZ, &ws);
    }
  }
  bool stdin_open = master >= 0;
  int result = -1;
  auto copy = [](int from, int to) {
    char buf[8192];
    ssize_t n = read(from, buf, sizeof(buf));
    if (n <= 0) {
      return false;
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(to, buf + off, static_cast<size_t>(n - off));
      if (w <= 0) {
        return false;
      }
      off += w;
    }
    return true;
  };
  while (result < 0) {
    struct pollfd fds[3] = {
        {sfd.get(), POLLIN, 0}, {master, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    if (fds[1].revents & (POLLIN | POLLHUP)) {
      if (!copy(master, 1)) {
        fds[1].fd = -1;
        master = -1;
      }
    }
    if (fds[2].revents & (POLLIN | POLLHUP)) {
      if (!copy(0, master)) {
        stdin_open = false;
      }
    }
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd.get(), &si, sizeof(si)) != sizeof(si)) {
        continue;
      }
      int sig = static_cast<int>(si.ssi_signo);
      if (sig == SIGCHLD) {
        int status;
        pid_t r;
        while ((r = waitpid(-1, &status, WNOHANG)) > 0) {
          if (r == pid) {
            result = ExitCode(status);
          }
        }
      } else if (sig == SIGWINCH && master >= 0) {
        struct winsize ws;
        if (ioctl(0, TIOCGWINSZ, &ws) == 0) {
          ioctl(master, TIOCSWINSZ, &ws);
        }
      } else {
        kill(pid, sig);
      }
    }
  }
  if (master >= 0) {
    // Drain what the process wrote before it exited.
    int flags = fcntl(master, F_GETFL);
    fcntl(master, F_SETFL, flags | O_NONBLOCK);
    while (copy(master, 1)) {
    }
  }
  if (raw) {
    tcsetattr(0, TCSANOW, &saved);
  }
  return result;
}

class BlockSignals {
 public:
  BlockSignals() {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old_);
  }
  ~BlockSignals() { sigprocmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_;
};

struct Prepared {
  oci::Spec spec;
  std::unique_ptr<Launch> launch;
};

// create, and the first half of run: everything up to the container waiting for start.
// fifo_mode: the init waits on the exec fifo (create); else on the sync socket (run).
Prepared Prepare(StateStore& store, const CreateOptions& opts, bool fifo_mode) {
  auto launch = std::make_unique<Launch>(store, opts.id);
  store.Reserve(opts.id);
  launch->reserved_ = true;

  std::string bundle = AbsolutePath(opts.bundle);
  std::string config_text = ReadFile(bundle + "/config.json");
  oci::Spec spec;
  try {
    spec = oci::ParseSpec(config_text);
  } catch (const Error& e) {
    throw e.WithContext("load " + bundle + "/config.json");
  }
  if (!spec.process) {
    ThrowInvalid("load " + bundle + "/config.json: process: is required to create a container");
  }
  if (!spec.linux) {
    ThrowInvalid("load " + bundle + "/config.json: linux: is required on Linux");
  }
  std::string rootfs = spec.root_path[0] == '/' ? spec.root_path : bundle + "/" + spec.root_path;
  rootfs = AbsolutePath(rootfs);
  struct stat st;
  if (stat(rootfs.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) {
    throw Error(Kind::kInvalidArgument, "root.path: " + rootfs + " is not a directory");
  }
  WriteFileAtomic(store.ConfigPath(opts.id), config_text, 0600, Durability::kVolatile);
  if (chdir(bundle.c_str()) < 0) {
    ThrowErrno("chdir to bundle " + bundle);
  }
  if (!spec.linux->seccomp.is_null()) {
    log::Warn("linux.seccomp is not applied by this build of berth-runtime yet");
  }

  // Namespaces: open the ones to join now, so a bad path fails before anything runs.
  InitPlan plan;
  plan.spec = &spec;
  plan.process = &*spec.process;
  std::vector<UniqueFd> ns_fds;
  bool have_mount_ns = false;
  for (const auto& ns : spec.linux->namespaces) {
    int flag = oci::NamespaceCloneFlag(ns.type);
    if (ns.type == oci::NamespaceType::kMount) {
      have_mount_ns = true;
    }
    if (ns.path.empty()) {
      plan.create_flags |= flag;
      continue;
    }
    UniqueFd fd(open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      ThrowErrno("open " + std::string(oci::NamespaceTypeName(ns.type)) + " namespace " + ns.path);
    }
    plan.joins.emplace_back(flag, fd.get());
    ns_fds.push_back(std::move(fd));
  }
  if (!have_mount_ns) {
    ThrowInvalid("linux.namespaces: a mount namespace is required");
  }
  std::stable_sort(plan.joins.begin(), plan.joins.end(), [](const auto& a, const auto& b) {
    return (a.first == CLONE_NEWUSER) > (b.first == CLONE_NEWUSER);
  });
  for (const auto& [clock, off] : spec.linux->time_offsets) {
    plan.time_offsets +=
        clock + " " + std::to_string(off.secs) + " " + std::to_string(off.nanosecs) + "\n";
  }
  plan.setup_rootfs = plan.create_flags & CLONE_NEWNS;
  plan.rootfs.spec = &spec;
  plan.rootfs.rootfs = rootfs;
  plan.rootfs.in_user_ns = plan.create_flags & CLONE_NEWUSER;
  plan.rootfs.new_net_ns = plan.create_flags & CLONE_NEWNET;
  plan.rootfs.new_cgroup_ns = plan.create_flags & CLONE_NEWCGROUP;
  plan.rootfs.no_pivot = opts.no_pivot;
  plan.new_session_keyring = !opts.no_new_keyring;
  for (int i = 0; i < opts.preserve_fds; ++i) {
    plan.keep_fds.push_back(3 + i);
  }

  // The cgroup exists before the init does, so nothing of it runs outside its limits.
  bool owned = false;
  std::string cg_path = CgroupPathFor(spec, opts.id, &owned);
  launch->cgroup_.emplace(DetectCgroupLayout(), cg_path);
  launch->cgroup_owned_ = owned;
  launch->cgroup_->Create();
  launch->cgroup_->ApplyResources(spec.linux->resources);
  plan.rootfs.cgroup_path = launch->cgroup_->path();

  UniqueFd fifo;
  if (fifo_mode) {
    std::string path = store.FifoPath(opts.id);
    if (mkfifo(path.c_str(), 0622) < 0) {
      ThrowErrno("create exec fifo " + path);
    }
    fifo.Reset(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fifo) {
      ThrowErrno("open exec fifo " + path);
    }
    plan.fifo_fd = fifo.get();
  }

  UniqueFd console, console_peer;
  if (spec.process->terminal) {
    if (!opts.console_socket.empty()) {
      console = ConnectUnixSocket(opts.console_socket);
    } else if (!fifo_mode) {
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        ThrowErrno("create the console socket pair");
      }
      console.Reset(sv[1]);
      console_peer.Reset(sv[0]);
      plan.parent_fds.push_back(sv[0]);
    } else {
      ThrowInvalid(
          "process.terminal is true but no --console-socket was given to receive the terminal");
    }
    plan.console_fd = console.get();
  }

  UniqueFd hook_r, hook_w;
  bool inner_hooks = !spec.hooks.create_container.empty() || !spec.hooks.start_container.empty();
  if (inner_hooks) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
      ThrowErrno("pipe");
    }
    hook_r.Reset(p[0]);
    hook_w.Reset(p[1]);
    plan.hook_state_fd = p[0];
    plan.parent_fds.push_back(p[1]);
  }
  plan.mounts_done_sync = !spec.hooks.prestart.empty() || !spec.hooks.create_runtime.empty();

  ContainerState& state = launch->state_;
  state.id = opts.id;
  state.bundle = bundle;
  state.rootfs = rootfs;
  state.created = NowRfc3339();
  state.cgroup_path = launch->cgroup_->path();
  state.cgroup_owned = owned;
  state.annotations = spec.annotations;
  state.oci_version = spec.oci_version;

  // Saved before anything runs, so that `delete` finds the cgroup of an interrupted create.
  store.Save(state);
  pid_t pid = SpawnInit(plan, &spec.linux->uid_mappings, &spec.linux->gid_mappings, launch->sync_);
  launch->init_pid_ = pid;
  state.pid = pid;
  state.pid_start_time = ProcessStartTime(pid);
  console.Reset();
  hook_r.Reset();
  launch->cgroup_->AddProcess(pid);
  SyncSend(launch->sync_.get(), SyncType::kCgroupJoined);
  std::string creating = runtime::StateJson(state, Status::kCreating);
  if (inner_hooks) {
    ssize_t n = write(hook_w.get(), creating.data(), creating.size());
    (void)n;
    hook_w.Reset();
  }
  if (plan.mounts_done_sync) {
    SyncExpect(launch->sync_.get(), SyncType::kMountsDone, "set up the container's mounts");
    RunHooksOrThrow(spec.hooks.prestart, "prestart", creating);
    RunHooksOrThrow(spec.hooks.create_runtime, "createRuntime", creating);
    SyncSend(launch->sync_.get(), SyncType::kHooksDone);
  }
  if (console_peer) {
    launch->console_master_ = RecvFd(console_peer.get());
  }
  SyncExpect(launch->sync_.get(), SyncType::kReady, "set up the container");
  store.Save(state);
  WritePidFile(opts.pid_file, pid);
  return Prepared{std::move(spec), std::move(launch)};
}

oci::Spec LoadSavedSpec(const StateStore& store, const std::string& id) {
  auto text = ReadFileIfExists(store.ConfigPath(id));
  if (!text) {
    return oci::Spec{};
  }
  return oci::ParseSpec(*text);
}

void RunPoststart(const oci::Spec& spec, const ContainerState& state) {
  if (spec.hooks.poststart.empty()) {
    return;
  }
  ChildError error;
  if (!RunHooks(spec.hooks.poststart, "poststart", runtime::StateJson(state, Status::kRunning),
                &error)) {
    log::Warn(error.text);
  }
}

}  // namespace

Runtime::Runtime(std::string root) : store_(std::move(root)) {}

void Runtime::Create(const CreateOptions& options) {
  Prepared p = Prepare(store_, options, /*fifo_mode=*/true);
  p.launch->committed_ = true;
}

void Runtime::Start(const std::string& id) {
  ContainerState state = store_.Load(id);
  Status status = DeriveStatus(store_, state);
  if (status != Status::kCreated) {
    ThrowConflict(std::string("cannot start container ") + id + ": it is " + StatusName(status));
  }
  std::string fifo = store_.FifoPath(id);
  UniqueFd fd(open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    if (errno == ENXIO) {
      throw Error(Kind::kConflict, "cannot start container " + id + ": its init is not waiting");
    }
    ThrowErrno("open exec fifo " + fifo);
  }
  if (write(fd.get(), "0", 1) != 1) {
    ThrowErrno("write exec fifo " + fifo);
  }
  fd.Reset();
  unlink(fifo.c_str());
  RunPoststart(LoadSavedSpec(store_, id), state);
}

int Runtime::Run(const CreateOptions& options, bool detach) {
  if (detach) {
    Create(options);
    Start(options.id);
    return 0;
  }
  BlockSignals blocked;
  Prepared p = Prepare(store_, options, /*fifo_mode=*/false);
  p.launch->committed_ = true;
  SyncSend(p.launch->sync_.get(), SyncType::kStart);
  p.launch->sync_.Reset();
  RunPoststart(p.spec, p.launch->state_);
  int code = WaitForeground(p.launch->state_.pid, p.launch->console_master_.get());
  Delete(options.id, /*force=*/true);
  return code;
}

ContainerInfo Runtime::Info(const std::string& id) const {
  ContainerState state = store_.Load(id);
  return ContainerInfo{state, DeriveStatus(store_, state)};
}

std::string Runtime::StateJson(const std::string& id) const {
  ContainerInfo info = Info(id);
  return runtime::StateJson(info.state, info.status);
}

std::vector<ContainerInfo> Runtime::List() const {
  std::vector<ContainerInfo> out;
  for (const auto& id : store_.List()) {
    try {
      out.push_back(Info(id));
    } catch (const Error& e) {
      log::Warn(e.what());
    }
  }
  return out;
}

void Runtime::Kill(const std::string& id, int signal, bool all) {
  ContainerInfo info = Info(id);
  if (info.status == Status::kStopped) {
    ThrowConflict("cannot kill container " + id + ": it is not running");
  }
  Cgroup cg(DetectCgroupLayout(), info.state.cgroup_path);
  if (all) {
    cg.SignalAll(signal);
  } else if (!SignalProcess(info.state.pid, info.state.pid_start_time, signal)) {
    ThrowConflict("cannot kill container " + id + ": it is not running");
  }
  if (info.status == Status::kPaused && signal == SIGKILL) {
    cg.SetFrozen(false);  // a frozen task cannot die
  }
}

void Runtime::Delete(const std::string& id, bool force) {
  ContainerInfo info = Info(id);
  const ContainerState& s = info.state;
  if ((info.status == Status::kRunning || info.status == Status::kPaused) && !force) {
    ThrowConflict("cannot delete container " + id + " that is not stopped: it is " +
                  StatusName(info.status) + " (use --force)");
  }
  if (!s.cgroup_path.empty()) {
    Cgroup cg(DetectCgroupLayout(), s.cgroup_path);
    if (info.status != Status::kStopped) {
      SignalProcess(s.pid, s.pid_start_time, SIGKILL);
    }
    // Without a pid namespace the init's children outlive it: end everything in the cgroup.
    for (int i = 0; i < 400; ++i) {
      std::vector<pid_t> pids = cg.Pids();
      if (pids.empty()) {
        break;
      }
      cg.SignalAll(SIGKILL);
      if (cg.Frozen()) {
        cg.SetFrozen(false);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!cg.Destroy()) {
      log::Warn("delete " + id + ": cgroup " + s.cgroup_path + " could not be removed");
    }
    if (s.cgroup_owned) {
      Cgroup parent(DetectCgroupLayout(), kDefaultCgroupParent);
      parent.Destroy(/*wait=*/false);  // fails harmlessly while other containers live there
    }
  }
  // Wait for the init to be gone, so `delete` returning means the container is gone.
  for (int i = 0; i < 400 && s.pid > 0 && ProcessAlive(s.pid, s.pid_start_time); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  oci::Spec spec;
  try {
    spec = LoadSavedSpec(store_, id);
  } catch (const Error& e) {
    log::Warn(e.what());
  }
  store_.Remove(id);
  if (!spec.hooks.poststop.empty()) {
    ChildError error;
    if (!RunHooks(spec.hooks.poststop, "poststop", runtime::StateJson(s, Status::kStopped),
                  &error)) {
      log::Warn(error.text);
    }
  }
}

void Runtime::Pause(const std::string& id) {
  ContainerInfo info = Info(id);
  if (info.status != Status::kRunning && info.status != Status::kCreated) {
    ThrowConflict("cannot pause container " + id + ": it is " + StatusName(info.status));
  }
  Cgroup(DetectCgroupLayout(), info.state.cgroup_path).SetFrozen(true);
}

void Runtime::Resume(const std::string& id) {
  ContainerInfo info = Info(id);
  if (info.status != Status::kPaused) {
    ThrowConflict("cannot resume container " + id + ": it is " + StatusName(info.status));
  }
  Cgroup(DetectCgroupLayout(), info.state.cgroup_path).SetFrozen(false);
}

std::vector<pid_t> Runtime::Pids(const std::string& id) const {
  ContainerInfo info = Info(id);
  return Cgroup(DetectCgroupLayout(), info.state.cgroup_path).Pids();
}

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

int Runtime::Exec(const ExecOptions& o) {
  ContainerInfo info = Info(o.id);
  if (info.status != Status::kRunning && info.status != Status::kCreated) {
    ThrowConflict("cannot exec in container " + o.id + ": it is " + StatusName(info.status));
  }
  oci::Spec spec = LoadSavedSpec(store_, o.id);
  oci::Process proc = BuildExecProcess(o, spec);

  InitPlan plan;
  plan.process = &proc;
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
    ThrowConflict("cannot exec in container " + o.id + ": it stopped");
  }
  for (int i = 0; i < o.preserve_fds; ++i) {
    plan.keep_fds.push_back(3 + i);
  }
  UniqueFd console, console_peer, master;
  if (proc.terminal) {
    if (!o.console_socket.empty()) {
      console = ConnectUnixSocket(o.console_socket);
    } else if (!o.detach) {
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        ThrowErrno("create the console socket pair");
      }
      console.Reset(sv[1]);
      console_peer.Reset(sv[0]);
      plan.parent_fds.push_back(sv[0]);
    } else {
      ThrowInvalid("exec: --tty with --detach needs --console-socket");
    }
    plan.console_fd = console.get();
  }
  std::optional<BlockSignals> blocked;
  if (!o.detach) {
    blocked.emplace();
  }
  UniqueFd sync;
  pid_t pid = SpawnInit(plan, nullptr, nullptr, sync);
  try {
    console.Reset();
    Cgroup(DetectCgroupLayout(), info.state.cgroup_path).AddProcess(pid);
    SyncSend(sync.get(), SyncType::kCgroupJoined);
    if (console_peer) {
      master = RecvFd(console_peer.get());
    }
    SyncExpect(sync.get(), SyncType::kReady, "set up the exec process");
  } catch (...) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    throw;
  }
  WritePidFile(o.pid_file, pid);
  SyncSend(sync.get(), SyncType::kStart);
  sync.Reset();
  if (o.detach) {
    return 0;
  }
  return WaitForeground(pid, master.get());
}

int ParseSignal(const std::string& name) {
  if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) {
    int n = std::stoi(name);
    if (n > 0 && n < NSIG) {
      return n;
    }
    ThrowInvalid("invalid signal \"" + name + "\"");
  }
  std::string n = name;
  for (auto& c : n) {
    c = static_cast<char>(toupper(c));
  }
  if (n.rfind("SIG", 0) == 0) {
    n = n.substr(3);
  }
  static const std::pair<const char*, int> kSignals[] = {
      {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
      {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
      {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
      {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
      {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
      {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
      {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
      {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
      {"SYS", SIGSYS},
  };
  for (const auto& [sname, num] : kSignals) {
    if (n == sname) {
      return num;
    }
  }
  if (n.rfind("RTMIN", 0) == 0 || n.rfind("RTMAX", 0) == 0) {
    bool min = n.rfind("RTMIN", 0) == 0;
    int off = n.size() > 5 ? std::stoi(n.substr(5)) : 0;
    int sig = min ? SIGRTMIN + off : SIGRTMAX + off;
    if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
      return sig;
    }
  }
  ThrowInvalid("unknown signal \"" + name + "\"");
}

}  // namespace berth::runtime

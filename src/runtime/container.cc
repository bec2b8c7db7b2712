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
#include "runtime/cgroup_stats.h"
#include "runtime/cgroups.h"
#include "runtime/credentials.h"
#include "runtime/foreground.h"
#include "runtime/hooks.h"
#include "runtime/idmap.h"
#include "runtime/init.h"
#include "runtime/launch.h"
#include "runtime/lsm.h"
#include "runtime/seccomp.h"
#include "runtime/sync.h"
#include "runtime/sysctl.h"
#include "runtime/terminal.h"

namespace berth::runtime {

using internal::BlockSignals;
using internal::ConsoleEnds;
using internal::LoadSavedSpec;
using internal::SetUpConsole;
using internal::SignalProcess;
using internal::SpawnInit;
using internal::WaitForeground;
using internal::WritePidFile;

namespace {

std::string AbsolutePath(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.empty() ? "." : path.c_str(), buf) == nullptr) {
    ThrowErrno("resolve path " + (path.empty() ? std::string(".") : path));
  }
  return buf;
}

// Whether linux.resources sets a pids limit lower than `n` (and above 0, which is no limit).
bool PidsLimitBelow(const nlohmann::json& resources, int64_t n) {
  if (!resources.is_object() || !resources.contains("pids") || !resources["pids"].is_object() ||
      !resources["pids"].contains("limit") || !resources["pids"]["limit"].is_number_integer()) {
    return false;
  }
  int64_t limit = resources["pids"]["limit"].get<int64_t>();
  return limit > 0 && limit < n;
}

// The container's cgroup: linux.cgroupsPath, else "/berth-<id>" at the top of each
// hierarchy (runc and crun use "/<id>"; the prefix tells whose it is). Flat on purpose: no
// shared parent that concurrent creates and deletes would race to make and remove.
std::string CgroupPathFor(const oci::Spec& spec, const std::string& id) {
  if (spec.linux && !spec.linux->cgroups_path.empty()) {
    return spec.linux->cgroups_path;
  }
  return "/berth-" + id;
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
  UniqueFd sync_;
  UniqueFd console_master_;
  ContainerState state_;
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
  SeccompProgram seccomp;
  try {
    ValidateCapabilitiesForKernel(*spec.process);
    ValidateSysctls(*spec.linux);
    ValidateLsm(*spec.process, &*spec.linux);
    seccomp = CompileSeccompCached(spec.linux->seccomp, store.root() + "/.seccomp-cache");
  } catch (const Error& e) {
    throw e.WithContext("load " + bundle + "/config.json");
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
  int joined_userns = -1;
  for (const auto& [flag, fd] : plan.joins) {
    if (flag == CLONE_NEWUSER) {
      joined_userns = fd;
    }
  }
  DetachedTrees trees = PrepareDetachedTrees(spec, rootfs, joined_userns);
  plan.rootfs.rootfs_tree_fd = trees.rootfs.get();
  plan.rootfs.mount_tree_fds = trees.mount_fds.empty() ? nullptr : &trees.mount_fds;
  plan.new_session_keyring = !opts.no_new_keyring;
  plan.seccomp = seccomp.empty() ? nullptr : &seccomp;
  for (int i = 0; i < opts.preserve_fds; ++i) {
    plan.keep_fds.push_back(3 + i);
  }

  // The cgroup exists before the init does, so nothing of it runs outside its limits.
  std::string cg_path = CgroupPathFor(spec, opts.id);
  launch->cgroup_.emplace(DetectCgroupLayout(), cg_path);
  try {
    launch->cgroup_->Create();
    launch->cgroup_->ApplyResources(spec.linux->resources);
  } catch (const Error& e) {
    // Rootless without a delegated cgroup: nothing to limit means nothing is lost (as runc).
    bool no_limits = spec.linux->resources.is_null() || spec.linux->resources.empty();
    if (geteuid() == 0 || !no_limits ||
        (e.err() != EACCES && e.err() != EPERM && e.err() != EROFS)) {
      throw;
    }
    log::Debug("rootless: running without a cgroup: " + std::string(e.what()));
    launch->cgroup_->Destroy();
    launch->cgroup_.reset();
  }
  plan.rootfs.cgroup_path = launch->cgroup_ ? launch->cgroup_->path() : "";
  UniqueFd cgroup_fd;
  if (launch->cgroup_ && !PidsLimitBelow(spec.linux->resources, 2)) {
    // (Started in its cgroup, stage 1 briefly counts as a second task there.)
    cgroup_fd = launch->cgroup_->OpenV2Dir();
    plan.cgroup_fd = cgroup_fd.get();
  }

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

  ConsoleEnds console;
  if (spec.process->terminal) {
    console = SetUpConsole(opts.console_socket, /*can_proxy=*/!fifo_mode,
                           "process.terminal is true but no --console-socket was given to "
                           "receive the terminal",
                           plan);
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
  state.cgroup_path = launch->cgroup_ ? launch->cgroup_->path() : "";
  state.annotations = spec.annotations;
  state.oci_version = spec.oci_version;

  // Saved before anything runs, so that `delete` finds the cgroup of an interrupted create.
  store.Save(state);
  pid_t pid = SpawnInit(plan, &spec.linux->uid_mappings, &spec.linux->gid_mappings, launch->sync_);
  launch->init_pid_ = pid;
  state.pid = pid;
  state.pid_start_time = ProcessStartTime(pid);
  console.child.Reset();
  hook_r.Reset();
  if (launch->cgroup_) {
    launch->cgroup_->AddProcess(pid, plan.started_in_cgroup);
  }
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
  if (console.peer) {
    launch->console_master_ = RecvFd(console.peer.get());
  }
  if (!seccomp.listener_path.empty()) {
    internal::ForwardSeccompListener(launch->sync_.get(), seccomp, pid, creating);
  }
  SyncExpect(launch->sync_.get(), SyncType::kReady, "set up the container");
  store.Save(state);
  WritePidFile(opts.pid_file, pid);
  return Prepared{std::move(spec), std::move(launch)};
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

// The container's cgroup, for a command that needs one; a rootless container may have none.
Cgroup ContainerCgroup(const ContainerInfo& info, const char* what) {
  if (info.state.cgroup_path.empty()) {
    throw Error(Kind::kNotImplemented,
                std::string("cannot ") + what + " container " + info.state.id +
                    ": it has no cgroup (rootless, without a delegated cgroup)");
  }
  return Cgroup(DetectCgroupLayout(), info.state.cgroup_path);
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
  unlink(fifo.c_str());
  oci::Spec spec = LoadSavedSpec(store_, id);
  if (!spec.hooks.poststart.empty()) {
    // poststart runs after the process is executed: the init's end of the fifo closes on
    // execve, which a writer sees as POLLERR.
    struct pollfd p = {fd.get(), 0, 0};
    poll(&p, 1, 30000);
  }
  fd.Reset();
  RunPoststart(spec, state);
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
  if (!p.spec.hooks.poststart.empty()) {
    // The init's end of the sync socket closes on execve: then the process runs.
    SyncMsg ignored;
    SyncRecv(p.launch->sync_.get(), &ignored);
  }
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
  if (all && !info.state.cgroup_path.empty()) {
    ContainerCgroup(info, "kill").SignalAll(signal);
  } else if (!SignalProcess(info.state.pid, info.state.pid_start_time, signal)) {
    ThrowConflict("cannot kill container " + id + ": it is not running");
  }
  if (info.status == Status::kPaused && signal == SIGKILL) {
    ContainerCgroup(info, "kill").SetFrozen(false);  // a frozen task cannot die
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
  ContainerCgroup(info, "pause").SetFrozen(true);
}

void Runtime::Resume(const std::string& id) {
  ContainerInfo info = Info(id);
  if (info.status != Status::kPaused) {
    ThrowConflict("cannot resume container " + id + ": it is " + StatusName(info.status));
  }
  ContainerCgroup(info, "resume").SetFrozen(false);
}

void Runtime::Events(const std::string& id, int interval_ms, bool stats_only,
                     const std::function<void(const nlohmann::json&)>& emit) {
  ContainerInfo info = Info(id);
  if (info.status == Status::kStopped) {
    ThrowConflict("cannot read events of container " + id + ": it is stopped");
  }
  Cgroup cg = ContainerCgroup(info, "read events of");
  auto stats = [&] { emit({{"type", "stats"}, {"id", id}, {"data", ReadCgroupStats(cg)}}); };
  if (stats_only) {
    stats();
    return;
  }
  // The OOM counter is polled at 100 ms: prompt enough for a human and for containerd, and
  // the same code on v1 and v2.
  constexpr int kStepMs = 100;
  uint64_t ooms = OomKillCount(cg);
  int since_stats = interval_ms;
  while (ProcessAlive(info.state.pid, info.state.pid_start_time)) {
    uint64_t now = OomKillCount(cg);
    for (; ooms < now; ++ooms) {
      emit({{"type", "oom"}, {"id", id}});
    }
    if (since_stats >= interval_ms) {
      stats();
      since_stats = 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kStepMs));
    since_stats += kStepMs;
  }
  for (uint64_t now = OomKillCount(cg); ooms < now; ++ooms) {
    emit({{"type", "oom"}, {"id", id}});
  }
}

void Runtime::Update(const std::string& id, const nlohmann::json& resources) {
  ContainerInfo info = Info(id);
  if (info.status == Status::kStopped) {
    ThrowConflict("cannot update container " + id + ": it is stopped");
  }
  ContainerCgroup(info, "update").ApplyResources(resources);
}

std::vector<pid_t> Runtime::Pids(const std::string& id) const {
  ContainerInfo info = Info(id);
  if (info.state.cgroup_path.empty()) {
    // No cgroup (rootless): the init is all we can name; its pid namespace holds the rest.
    if (info.status == Status::kStopped) {
      return {};
    }
    return {info.state.pid};
  }
  return ContainerCgroup(info, "list the processes of").Pids();
}

}  // namespace berth::runtime

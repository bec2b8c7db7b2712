#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "engine/container.h"
#include "engine/db.h"
#include "engine/events.h"
#include "engine/image_service.h"
#include "engine/network_service.h"
#include "engine/volume_service.h"

// The daemon's containers: create them from an image, start each under a berth-shim of its
// own (which outlives berthd), follow them to their exit through the shim's pidfd, and find
// them again after berthd restarts (live restore). The records live in SQLite next to the
// images; the bundle, the rootfs mount and the log under <root>/containers/<id>.
// docs/containers.md has the layout and the lifecycle.

namespace berth::runtime {
class CgroupPrimer;
}

namespace berth::engine {

struct ContainerPaths {
  std::string root;         // berthd's --root
  std::string state;        // berthd's --state
  std::string shim_binary;  // berth-shim
  std::string init_binary;  // what HostConfig.Init runs as pid 1 ("" = refused)
};

struct CreateResult {
  std::string id;
  std::vector<std::string> warnings;
};

enum class WaitCondition { kNotRunning, kNextExit, kRemoved };

struct WaitResult {
  int64_t status_code = 0;
  std::string error;  // "" = none
};

struct AttachRequest {
  bool stdin = false, stdout = false, stderr = false;
  std::string detach_keys;  // "" = ctrl-p,ctrl-q
};

struct ExecInfo;

// What HEAD /containers/{id}/archive reports of a path (X-Docker-Container-Path-Stat).
struct PathStat {
  std::string name;  // the path's base name
  int64_t size = 0;
  uint32_t mode = 0;        // Go's os.FileMode: permission bits | ModeDir, ModeSymlink, …
  std::string mtime;        // RFC 3339 with nanoseconds
  std::string link_target;  // a symlink's target resolved inside the container, else ""
};

struct ContainerCounts {
  int64_t total = 0, running = 0, paused = 0;
};

class ContainerService {
 public:
  // `events` (may be null) gets the containers' lifecycle events; `volumes` (may be null:
  // then only binds and tmpfs mounts work) makes and mounts the containers' volumes;
  // `networks` (may be null: every container then starts with an empty network namespace)
  // owns bridges and addresses.
  ContainerService(ContainerPaths paths, ImageService& images, EventBus* events = nullptr,
                   VolumeService* volumes = nullptr, NetworkService* networks = nullptr);
  ~ContainerService();
  ContainerService(const ContainerService&) = delete;
  ContainerService& operator=(const ContainerService&) = delete;

  // `name` "" = a generated one. Throws kNotFound "No such image: …" for an unknown image,
  // kConflict for a name in use, kInvalidArgument naming a bad field.
  CreateResult Create(const std::string& name, const nlohmann::json& body);
  // Returns false when the container was running already (304).
  bool Start(const std::string& ref);
  // Returns false when it was not running (304). timeout < 0: the container's StopTimeout.
  bool Stop(const std::string& ref, int timeout);
  void Restart(const std::string& ref, int timeout);
  // `signal` as the API has it: "", "KILL", "SIGKILL", "9".
  void Kill(const std::string& ref, const std::string& signal);
  void Remove(const std::string& ref, bool force, bool volumes);
  void Rename(const std::string& ref, const std::string& new_name);
  void Pause(const std::string& ref);
  void Unpause(const std::string& ref);
  nlohmann::json Update(const std::string& ref, const nlohmann::json& body);
  void Resize(const std::string& ref, int height, int width);

  // Resolves `ref` (name, full or short id) now, so a missing container is a 404 before the
  // caller answers 200; then WaitFor blocks. `gone` is polled about once a second: true
  // ends the wait (the client hung up).
  std::string ResolveId(const std::string& ref);
  WaitResult WaitFor(const std::string& id, WaitCondition condition,
                     const std::function<bool()>& gone);

  // Attaches a client: `upgrade` writes the 101 (and any log replay) and returns the hijacked
  // socket and the bytes already read behind the request. It runs under the container's
  // operation lock, after the checks (a stopped container is a 409 before anything is written)
  // and before start can run, so output starts no earlier than the attach is in place. Before
  // start the socket waits in berthd; after it, it goes to the shim. The caller keeps its own
  // descriptor.
  using UpgradeFn = std::function<int(std::string* buffered)>;
  void Attach(const std::string& ref, bool stream, const AttachRequest& request,
              const UpgradeFn& upgrade);

  nlohmann::ordered_json Inspect(const std::string& ref);
  nlohmann::json List(bool all, int limit, bool size, const Filters& filters);
  nlohmann::json Top(const std::string& ref, const std::string& ps_args);
  // What the container changed against its image: [{"Path": …, "Kind": 0|1|2}] (null when
  // nothing, as Docker answers).
  nlohmann::json Changes(const std::string& ref);
  // The container's filesystem as a tar written to `out_fd` (its rootfs mounted for the
  // while when it is not running); ids as the container sees them.
  void Export(const std::string& ref, int out_fd);
  // A new image from the container's changes (paused meanwhile when running and `pause`);
  // `config` overrides the container's Config fields it sets. Returns the image ID.
  std::string Commit(const std::string& ref, const nlohmann::json& config, bool pause,
                     CommitOptions options);
  // The ids of `user` and `group` ("" = the user's primary group) in the container's
  // /etc/passwd and /etc/group (numbers pass); kInvalidArgument naming what is not there.
  std::pair<uint32_t, uint32_t> LookupOwner(const std::string& ref, const std::string& user,
                                            const std::string& group);
  // Takes `path` out of a stopped container's changes when it is what a mount point the runtime
  // made looks like there (an empty directory that is not opaque, an empty file): a build
  // step's mount targets leave no trace in its layer. Anything else stays.
  void RemoveMountPoint(const std::string& ref, const std::string& path);
  // A stopped (or never started) container's changes as an uncompressed layer tar, ids as
  // the container saw them: a build step's layer.
  void WriteChanges(const std::string& ref, const image::WriteFn& out);
  // Docker's stats documents (container_stats.h), each one line of JSON ending in "\n", to
  // `emit`, which returns false when the client is gone. `stream`: one a second until then or
  // the daemon stops. Else one: after a second reading a second later for precpu_stats,
  // unless `one_shot`. A container that is not running gets Docker's zero document.
  void Stats(const std::string& ref, bool stream, bool one_shot,
             const std::function<bool(std::string_view)>& emit);
  nlohmann::json Prune(const Filters& filters);
  // The container's log and whether it has a TTY (logs are raw then).
  std::pair<std::string, bool> LogInfo(const std::string& ref);
  bool Running(const std::string& id);
  ContainerCounts Counts();

  // Exec: create returns the exec id; start hands `fd` (-1: detached) to the shim and, when
  // attached, blocks until the process ended.
  std::string ExecCreate(const std::string& ref, const nlohmann::json& body);
  void ExecStart(const std::string& exec_id, int fd, const std::string& initial_stdin, bool detach);
  void ExecResize(const std::string& exec_id, int height, int width);
  nlohmann::json ExecInspect(const std::string& exec_id);
  // Whether the exec is attached with a TTY (raw stream) — the caller frames accordingly.
  bool ExecTty(const std::string& exec_id);

  // cp (container_archive.cc): paths resolved inside the container's root filesystem
  // (openat2 RESOLVE_IN_ROOT), running or stopped. StatPath: kNotFound "Could not find the
  // file …". ArchivePath calls `begin` with the stat, then streams a tar of the path (named
  // by its base name) to `out`. ExtractToPath unpacks a tar read from `in` into the directory
  // `path`; an entry that would land outside the root, a device node or a malformed tar is a
  // kInvalidArgument before anything is written. Owners are the container's ids (root, or the
  // tar's with `copy_uid_gid`).
  PathStat StatPath(const std::string& ref, const std::string& path);
  void ArchivePath(const std::string& ref, const std::string& path,
                   const std::function<void(const PathStat&)>& begin,
                   const std::function<void(const void*, size_t)>& out);
  void ExtractToPath(const std::string& ref, const std::string& path,
                     const std::function<size_t(void*, size_t)>& in, bool no_overwrite_dir_non_dir,
                     bool copy_uid_gid);
  // POST /networks/{id}/connect and /disconnect (container_network.cc).
  void ConnectNetwork(const std::string& ref, const std::string& network,
                      const EndpointRequest& request);
  void DisconnectNetwork(const std::string& ref, const std::string& network, bool force);

  // The image IDs and chain IDs containers use (image GC and rmi must keep them).
  std::vector<std::string> ImagesInUse();

  // Wakes every WaitFor (daemon shutdown).
  void Shutdown();

 private:
  struct Entry;
  struct Pending {
    int fd;
    AttachRequest request;
    std::string initial;
  };

  std::shared_ptr<Entry> Find(const std::string& ref);
  // A copy of the container's record, under its operation lock (the caller holds it), when it
  // is not running (kConflict) and not removed (kNotFound).
  Container Stopped(Entry& e, const std::string& ref);
  std::shared_ptr<Entry> FindExec(const std::string& exec_id, std::shared_ptr<ExecInfo>* exec);
  void Save(const Container& c);
  void Save(Entry& e);  // a consistent copy, taken under mu_
  std::string Dir(const std::string& id) const;
  std::string SocketPath(const std::string& id) const;
  std::string RuntimeRoot() const;
  uint64_t AllocateUsernsBase();
  nlohmann::json FinalSpec(Entry& e);
  void StartLocked(Entry& e);
  void Exited(const std::string& id, int pidfd);
  void Watch(const std::string& id, int shim_pid);
  void MonitorLoop();
  void Restore();
  void RemoveLocked(Entry& e, bool volumes = false);
  void KillLocked(Entry& e, int signal);
  void Notify();
  // Reads an exec's exit code from its shim connection (blocks until the process ended).
  void FinishExec(ExecInfo& x);
  void Emit(const Container& c, const std::string& action,
            const std::map<std::string, std::string>& extra = {});

  // container_volumes.cc: the mounts of a container being created (mu_ held; volumes made
  // or referenced, undone on failure), the volumes' part of a start and an exit, and what
  // a removal releases.
  std::vector<MountPoint> ResolveMountsLocked(const Container& c);
  std::vector<MountPoint> PrepareMounts(Entry& e);
  void CopyUpVolumes(Entry& e, const std::string& rootfs);
  void UnmountVolumes(const Container& c);
  void DropVolumes(const Container& c, bool remove_anonymous);
  void RestoreVolumes(const Container& c);

  // container_archive.cc: the rootfs of `e` mounted for cp (op held); true when this call
  // mounted it (the caller unmounts).
  bool MountRootfsForArchive(Entry& e);

  // container_restart.cc: restart policies (mu_ held unless said otherwise).
  bool PlanRestartLocked(Entry& e);     // after an exit: schedules a restart, or not
  bool CancelRestartLocked(Entry& e);   // a user's stop/kill/rm while restarting
  void ResetRestartLocked(Entry& e);    // a user's start
  bool RestartAtDaemonStart(Entry& e);  // Restore: schedules what the policy starts again
  void RestartLoop();                   // the restarter thread
  void RestartNow(const std::string& id);
  // Networking of a container (container_network.cc): the endpoints asked for at create,
  // addresses and /etc files before the shim runs, the veths once the init's namespace
  // exists, and all of it undone at the exit or a failed start.
  void DeclareNetworks(const Container& c, const nlohmann::json& body);
  void PrepareNetwork(Entry& e, nlohmann::json& spec);
  void AttachNetwork(Entry& e, int64_t init_pid);
  void ReleaseNetwork(const std::string& id, bool exited = false);
  nlohmann::json PortsJson(const Container& c, bool list);

  ContainerPaths paths_;
  ImageService& images_;
  EventBus* events_;
  VolumeService* volumes_;
  NetworkService* networks_;
  std::mutex db_mu_;
  Db db_;

  std::mutex mu_;  // entries_, execs_, the wait state; never held across a slow step
  std::condition_variable changed_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  std::map<std::string, std::shared_ptr<ExecInfo>> execs_;
  bool shutting_down_ = false;

  // berth-shim through a read-only view, opened once: shims run from it without protecting a
  // copy of themselves each (invalid where berthd may not mount, or the path is not absolute).
  UniqueFd shim_exe_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread monitor_;
  // Restarts due (container id -> when), guarded by mu_; the restarter thread waits on
  // changed_ for the earliest.
  std::map<std::string, std::chrono::steady_clock::time_point> restart_due_;
  std::thread restarter_;
  // Starts the grace period a cgroup v1 migration waits for while a start does its other work.
  std::unique_ptr<runtime::CgroupPrimer> primer_;

  // Health checks (container_health.cc): one scheduler thread; each probe runs on a thread
  // of its own (an exec through the shim) and is killed when it outlives its timeout.
  struct HealthWatch;
  void WatchHealth(const Container& c, bool restart_status);  // under mu_
  void HealthLoop();
  void RunProbe(const std::string& id, int64_t started_ns);
  std::map<std::string, std::shared_ptr<HealthWatch>> health_;  // under mu_, by container id
  std::condition_variable health_changed_;
  int probes_running_ = 0;  // under mu_
  std::thread health_thread_;
};

}  // namespace berth::engine

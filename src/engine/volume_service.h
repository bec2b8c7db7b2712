#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/container_filters.h"
#include "engine/db.h"
#include "engine/events.h"

// The daemon's volumes: Docker's local driver. A volume is a row in <root>/volumes.db and a
// directory <root>/volumes/<name>/_data; one with options (type, device, o: a tmpfs, a bind of
// a host directory, any file system mount(8) knows) has that mounted on _data while a
// container using it runs. Containers reference the volumes they were created with (a
// volume in use cannot be removed); they see _data through an id-mapped bind mount, so the
// data stays owned by the container's own ids on disk and nothing is ever chowned.
// docs/volumes.md has the rules and where they differ from Docker's.

namespace berth::engine {

class VolumeService {
 public:
  // `root` is berthd's --root; `events` (may be null) gets Docker's volume events: create,
  // destroy, and mount/unmount as containers start and stop.
  explicit VolumeService(std::string root, EventBus* events = nullptr);
  VolumeService(const VolumeService&) = delete;
  VolumeService& operator=(const VolumeService&) = delete;

  // POST /volumes/create: {Name, Driver, DriverOpts, Labels}. An existing name returns that
  // volume unchanged (as Docker). Throws kInvalidArgument for a bad name or option, kNotFound
  // for a driver other than "local".
  nlohmann::json Create(const nlohmann::json& body);
  // Docker's Volume object; kNotFound "get <name>: no such volume".
  nlohmann::json Inspect(const std::string& name);
  // {"Volumes":[…],"Warnings":null}; filters: dangling, driver, label, name.
  nlohmann::json List(const Filters& filters);
  // kConflict when a container uses it ("remove <name>: volume is in use - [<id>]");
  // kNotFound unless `force`.
  void Remove(const std::string& name, bool force);
  // Removes the volumes no container uses; filters: label, label!, all (false: anonymous
  // volumes only; default true, API 1.41's rule). {"VolumesDeleted":[…],"SpaceReclaimed":n}.
  nlohmann::json Prune(const Filters& filters);

  // For containers. Gets the volume `name`, creating it (with `labels`, `options`) when it
  // does not exist; "" makes a new anonymous one. Adds `container_id` as a user. Returns
  // the volume's name; `created` tells whether this call made it.
  std::string Acquire(const std::string& name, const std::string& container_id,
                      const nlohmann::json& labels, const nlohmann::json& options,
                      bool* created = nullptr);
  // A container restored from the database uses `name` (no check that it exists).
  void AddUser(const std::string& name, const std::string& container_id);
  // The container is gone: it no longer uses `name`.
  void Release(const std::string& name, const std::string& container_id);
  // Removes `name` if no container uses it (rm -v); false otherwise.
  bool RemoveIfUnused(const std::string& name);
  // Where a container binds the volume from: <root>/volumes/<name>/_data.
  std::string DataPath(const std::string& name) const;

  // A container using `name` starts: a volume with options is mounted on _data first (once,
  // for every container using it). Unmount: that container stopped; the mount goes with the
  // last one. Both are idempotent per container.
  void Mount(const std::string& name, const std::string& container_id);
  void Unmount(const std::string& name, const std::string& container_id);
  // After a daemon restart, once the running containers were Mount()ed again: mounts that
  // no running container needs are unmounted.
  void SweepMounts();
  // A container started (`mount`) or stopped (`unmount`) with the volume at `destination`.
  void EmitMountEvent(const std::string& action, const std::string& name,
                      const std::string& container_id, const std::string& destination, bool rw,
                      const std::string& propagation);

  // Copies the directory `source_dir` (an fd of a directory in a container's mounted rootfs)
  // into the volume when the volume is empty (Docker's copy-up rule): files, directories,
  // symlinks and fifos with their modes and times; owners as the container sees them (host
  // ids shifted down by `userns_base`, 0 for none), which the id-mapped mount shows back as
  // the same ids. Returns whether anything was copied.
  bool CopyUp(const std::string& name, int source_dir, uint64_t userns_base);

 private:
  struct Volume {
    std::string name;
    std::string driver = "local";
    std::string created_at;
    nlohmann::json labels;   // null or an object
    nlohmann::json options;  // null or an object
  };
  Volume Load(const std::string& name);  // mu_ held; kNotFound
  bool Exists(const std::string& name);  // mu_ held
  Volume CreateLocked(const std::string& name, const nlohmann::json& labels,
                      const nlohmann::json& options);
  void RemoveLocked(const Volume& v);
  std::vector<Volume> All();  // mu_ held
  nlohmann::json ToApi(const Volume& v) const;
  std::string Dir(const std::string& name) const;

  void Emit(const std::string& action, const std::string& name,
            std::map<std::string, std::string> attributes = {});

  std::string root_;  // <root>/volumes
  EventBus* events_;
  std::mutex mu_;
  Db db_;
  std::map<std::string, std::set<std::string>> users_;    // volume -> containers
  std::map<std::string, std::set<std::string>> mounted_;  // volume -> running containers
};

}  // namespace berth::engine

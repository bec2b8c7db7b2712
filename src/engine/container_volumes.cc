// The volumes' part of a container's life: create resolves its mounts (volumes-from, then
// -v/--mount over them, then the image's VOLUMEs where nothing else is mounted), making the
// volumes it names or needs; start mounts volumes with options, makes missing -v host
// directories and copies the image's content into new empty volumes; the exit unmounts;
// rm releases the volumes and, with -v, removes the anonymous ones.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "base/log.h"
#include "base/path_in_root.h"
#include "engine/container_service.h"
#include "engine/container_service_internal.h"
#include "engine/mount_point.h"

namespace berth::engine {

namespace {

// A record from before mounts were resolved: its binds, the only mounts it could have.
std::vector<MountPoint> LegacyMounts(const Container& c) {
  std::vector<MountPoint> out;
  try {
    for (MountPoint& m : ParseMountRequests(c.host_config, nlohmann::json()).mounts) {
      if (m.type != "volume") out.push_back(std::move(m));
    }
  } catch (const Error&) {
  }
  return out;
}

}  // namespace

std::vector<MountPoint> ContainerService::ResolveMountsLocked(const Container& c) {
  MountRequests requests =
      ParseMountRequests(c.host_config, c.config.value("Volumes", nlohmann::json()));
  std::map<std::string, MountPoint> by_destination;
  for (const VolumesFrom& from : requests.volumes_from) {
    // mu_ is held: the lookup Find does, by name, id or unique prefix.
    const Container* other = nullptr;
    std::string name = from.container[0] == '/' ? from.container : "/" + from.container;
    for (auto& item : entries_) {
      const Container& x = item.second->c;
      if (x.id == from.container || x.name == name) {
        other = &x;
        break;
      }
      if (x.id.compare(0, from.container.size(), from.container) == 0) {
        if (other) ThrowInvalid("multiple IDs found with provided prefix: " + from.container);
        other = &x;
      }
    }
    if (!other) ThrowNotFound("No such container: " + from.container);
    for (MountPoint m : other->mounts ? *other->mounts : LegacyMounts(*other)) {
      m.anonymous = false;  // the other container's: its own rm -v removes it
      m.copy_data = false;
      if (from.rw) m.rw = m.rw && *from.rw;
      by_destination[m.destination] = std::move(m);
    }
  }
  for (MountPoint& m : requests.mounts) by_destination[m.destination] = std::move(m);
  for (MountPoint& m : requests.image_volumes) {
    by_destination.emplace(m.destination, std::move(m));  // only where nothing else is
  }

  std::vector<MountPoint> out;
  std::vector<std::string> acquired, created;
  try {
    for (auto& item : by_destination) {
      MountPoint& m = item.second;
      if (m.type == "volume") {
        if (!volumes_) throw Error(Kind::kNotImplemented, "volumes: no volume service");
        bool made = false;
        m.name = volumes_->Acquire(m.name, c.id, m.volume_labels, m.volume_options, &made);
        acquired.push_back(m.name);
        if (made) created.push_back(m.name);
        m.source = volumes_->DataPath(m.name);
      } else if (m.type == "bind" && !m.create_source) {
        struct stat st;
        if (stat(m.source.c_str(), &st) < 0) {
          ThrowInvalid(
              "HostConfig.Mounts: invalid mount config for type \"bind\": bind source "
              "path does not exist: " +
              m.source);
        }
      }
      out.push_back(std::move(m));
    }
  } catch (...) {
    for (const std::string& n : acquired) volumes_->Release(n, c.id);
    for (const std::string& n : created) volumes_->RemoveIfUnused(n);
    throw;
  }
  return out;
}

std::vector<MountPoint> ContainerService::PrepareMounts(Entry& e) {
  std::vector<MountPoint> mounts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    mounts = *e.c.mounts;
  }
  for (MountPoint& m : mounts) {
    if (m.type == "volume") {
      if (!volumes_) throw Error(Kind::kNotImplemented, "volumes: no volume service");
      volumes_->Mount(m.name, e.c.id);
      m.source = volumes_->DataPath(m.name);
      volumes_->EmitMountEvent("mount", m.name, e.c.id, m.destination, m.rw, m.propagation);
    } else if (m.type == "bind") {
      struct stat st;
      if (stat(m.source.c_str(), &st) == 0) continue;
      if (!m.create_source) {
        ThrowInvalid("invalid mount config for type \"bind\": bind source path does not exist: " +
                     m.source);
      }
      // -v creates what is missing (Docker's rule), owned by host root: the id-mapped
      // mount shows it as the container's root.
      MkdirAll(m.source, 0755);
    }
  }
  return mounts;
}

void ContainerService::CopyUpVolumes(Entry& e, const std::string& rootfs) {
  std::vector<MountPoint> mounts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!e.c.mounts) return;
    mounts = *e.c.mounts;
  }
  bool changed = false;
  UniqueFd root;
  for (MountPoint& m : mounts) {
    if (m.type != "volume" || !m.copy_data || !volumes_) continue;
    if (!root) {
      root = UniqueFd(open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!root) ThrowErrno("open rootfs " + rootfs);
    }
    // Resolved inside the rootfs: a link in the image cannot point the copy elsewhere.
    UniqueFd dir(OpenInRoot(root.get(), m.destination, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir) volumes_->CopyUp(m.name, dir.get(), e.c.userns_base);
    m.copy_data = false;  // once, at the first start, as Docker copies once at create
    changed = true;
  }
  if (!changed) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    e.c.mounts = mounts;
  }
  Save(e);
}

void ContainerService::UnmountVolumes(const Container& c) {
  if (!volumes_ || !c.mounts) return;
  for (const MountPoint& m : *c.mounts) {
    if (m.type != "volume") continue;
    volumes_->Unmount(m.name, c.id);
    volumes_->EmitMountEvent("unmount", m.name, c.id, m.destination, m.rw, m.propagation);
  }
}

void ContainerService::DropVolumes(const Container& c, bool remove_anonymous) {
  if (!volumes_ || !c.mounts) return;
  for (const MountPoint& m : *c.mounts) {
    if (m.type != "volume" || m.name.empty()) continue;
    volumes_->Unmount(m.name, c.id);
    volumes_->Release(m.name, c.id);
    if (remove_anonymous && m.anonymous) {
      try {
        volumes_->RemoveIfUnused(m.name);  // another container using it keeps it
      } catch (const Error& err) {
        log::Warn("remove volume " + m.name + ": " + err.what());
      }
    }
  }
}

void ContainerService::RestoreVolumes(const Container& c) {
  if (!volumes_ || !c.mounts) return;
  bool running = c.Running() && c.state.status != ContainerStatus::kRestarting;
  for (const MountPoint& m : *c.mounts) {
    if (m.type != "volume" || m.name.empty()) continue;
    volumes_->AddUser(m.name, c.id);
    if (running) {
      try {
        volumes_->Mount(m.name, c.id);  // mounted still: only counted again
      } catch (const Error& err) {
        log::Warn("restore volume " + m.name + " of " + c.id + ": " + err.what());
      }
    }
  }
}

}  // namespace berth::engine

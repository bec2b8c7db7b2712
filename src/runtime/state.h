#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::runtime {

// What berth-runtime keeps about one container in <root>/<id>/state.json. Written once by
// create (atomically) and read by every other command; the status is not stored but derived
// from the process and the exec fifo, so a crash can never leave it stale.
struct ContainerState {
  std::string id;
  pid_t pid = 0;
  unsigned long long pid_start_time = 0;  // field 22 of /proc/<pid>/stat: guards pid reuse
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339 with nanoseconds, UTC
  std::string cgroup_path;
  std::map<std::string, std::string> annotations;
  std::string oci_version;
};

enum class Status { kCreating, kCreated, kRunning, kPaused, kStopped };
const char* StatusName(Status status);

class StateStore {
 public:
  explicit StateStore(std::string root);

  const std::string& root() const { return root_; }
  std::string Dir(const std::string& id) const;
  std::string FifoPath(const std::string& id) const { return Dir(id) + "/exec.fifo"; }
  std::string ConfigPath(const std::string& id) const { return Dir(id) + "/config.json"; }

  // Validates the id and creates its directory; kAlreadyExists if it is taken.
  void Reserve(const std::string& id);
  void Save(const ContainerState& state);
  // kNotFound ("container c1 does not exist") when there is no such container.
  ContainerState Load(const std::string& id) const;
  std::vector<std::string> List() const;
  void Remove(const std::string& id) noexcept;

 private:
  std::string root_;
};

// Refuses ids that are empty, "." / "..", or contain anything but [A-Za-z0-9_.+-].
void ValidateId(const std::string& id);

// Whether `pid` is still the process that was started (same start time, not a zombie).
bool ProcessAlive(pid_t pid, unsigned long long start_time);
unsigned long long ProcessStartTime(pid_t pid);

std::string NowRfc3339();

std::string StateJson(const ContainerState& state, Status status);

}  // namespace berth::runtime

#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

// The data model of the OCI runtime spec (config.json), version 1.x, Linux parts.
// Parse() validates types and the rules the runtime relies on, and every error names the
// field: "process.user.uid: expected an unsigned integer, got string".
namespace berth::oci {

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
};

struct Rlimit {
  int resource = 0;  // RLIMIT_* value
  std::string type;  // "RLIMIT_NOFILE"
  uint64_t hard = 0;
  uint64_t soft = 0;
};

struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

struct ConsoleSize {
  unsigned height = 0;
  unsigned width = 0;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
  std::string apparmor_profile;
  std::string selinux_label;
};

struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;  // seconds
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart,
      poststop;
};

enum class NamespaceType { kPid, kNetwork, kMount, kIpc, kUts, kUser, kCgroup, kTime };

struct Namespace {
  NamespaceType type;
  std::string path;  // empty: create a new one
};

struct Device {
  char type = 'c';  // c, b, u or p
  std::string path;
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};

struct TimeOffset {
  int64_t secs = 0;
  uint32_t nanosecs = 0;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  std::map<std::string, TimeOffset> time_offsets;  // "monotonic", "boottime"
  std::vector<Device> devices;
  std::string cgroups_path;
  nlohmann::json resources;  // linux.resources, applied by the cgroup managers
  std::string rootfs_propagation;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::map<std::string, std::string> sysctl;
  nlohmann::json seccomp;  // linux.seccomp, compiled by the seccomp module
  std::string mount_label;
  std::optional<unsigned long> personality;  // PER_LINUX or PER_LINUX32

  const Namespace* Find(NamespaceType type) const;
};

struct Spec {
  std::string oci_version;
  std::string root_path;
  bool root_readonly = false;
  std::vector<Mount> mounts;
  std::optional<Process> process;
  std::string hostname;
  std::string domainname;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  std::optional<Linux> linux;
};

// Parses and validates a config.json document. Throws berth::Error (kInvalidArgument) naming
// the offending field.
Spec ParseSpec(std::string_view json_text);

// Parses a process object alone (process.json of `exec`), with the same rules.
Process ParseProcess(std::string_view json_text);

std::string_view NamespaceTypeName(NamespaceType type);
int NamespaceCloneFlag(NamespaceType type);

// The capability names this build knows ("CAP_CHOWN" ... "CAP_CHECKPOINT_RESTORE"), in
// kernel number order; returns -1 for an unknown name.
int CapabilityNumber(std::string_view name);
const std::vector<std::string>& KnownCapabilities();

// The rlimit names of the runtime spec; returns -1 for an unknown name.
int RlimitNumber(std::string_view name);

}  // namespace berth::oci

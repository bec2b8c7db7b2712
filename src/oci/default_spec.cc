#include "oci/default_spec.h"

#include <algorithm>
#include <string>
#include <vector>

#include "oci/default_seccomp.h"
#include "oci/runtime_spec.h"

namespace berth::oci {

using nlohmann::json;

namespace {

// Docker's default capability set minus CAP_NET_RAW (ICMP/ARP spoofing from inside the
// container), CAP_MKNOD (device nodes are the runtime's job, and the device cgroup denies them
// anyway) and CAP_AUDIT_WRITE (writing to the host's audit log). Podman and Kubernetes' restricted
// profile drop the same ones.
const std::vector<std::string> kDefaultCapabilities = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_SETGID", "CAP_SETUID",       "CAP_SETFCAP",          "CAP_SETPCAP",
    "CAP_KILL",   "CAP_SYS_CHROOT",   "CAP_NET_BIND_SERVICE",
};

// The first host id of the default mapping: above the subordinate ranges useradd hands out
// (SUB_UID_MAX is 600100000 by default) and far from system and login users, so the
// container's ids belong to nobody else on the host.
constexpr uint32_t kDefaultHostIdBase = 1000000000;
constexpr uint32_t kDefaultIdCount = 65536;

json IdMappingJson() {
  return {{"containerID", 0}, {"hostID", kDefaultHostIdBase}, {"size", kDefaultIdCount}};
}

json MountJson(const char* destination, const char* type, const char* source,
               std::vector<std::string> options) {
  json m = {{"destination", destination}, {"type", type}, {"source", source}};
  if (!options.empty()) {
    m["options"] = std::move(options);
  }
  return m;
}

}  // namespace

json DefaultSpec() {
  json process = {
      // Like `runc spec`: the usual interactive `run` wants a terminal.
      {"terminal", true},
      {"user", {{"uid", 0}, {"gid", 0}}},
      {"args", json::array({"sh"})},
      {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
      {"cwd", "/"},
      // No inheritable or ambient set: an exec'd non-root program gains nothing.
      {"capabilities",
       {{"bounding", kDefaultCapabilities},
        {"effective", kDefaultCapabilities},
        {"permitted", kDefaultCapabilities}}},
      // A bounded descriptor table, as runc spec has.
      {"rlimits", json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
      // setuid binaries and file capabilities inside the image cannot raise privileges.
      {"noNewPrivileges", true},
  };

  json mounts = json::array_t{
      MountJson("/proc", "proc", "proc", {}),
      MountJson("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      MountJson("/dev/pts", "devpts", "devpts",
                {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      MountJson("/dev/shm", "tmpfs", "shm",
                {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      MountJson("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      // Read-only /sys and cgroupfs: the container must not reconfigure the host's devices
      // or its own limits.
      MountJson("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      MountJson("/sys/fs/cgroup", "cgroup", "cgroup",
                {"nosuid", "noexec", "nodev", "relatime", "ro"}),
  };

  json linux = {
      {"resources",
       {
           // Deny every device by default; the runtime allows the standard /dev nodes itself.
           {"devices", json::array({{{"allow", false}, {"access", "rwm"}}})},
           // A fork bomb stops at 4096 tasks instead of exhausting the host's pid space.
           {"pids", {{"limit", 4096}}},
       }},
      // Every namespace: the container sees its own processes, network, IPC, hostname, mounts
      // and cgroup tree, and its root is an unprivileged user on the host.
      {"namespaces", json::array({{{"type", "pid"}},
                                  {{"type", "network"}},
                                  {{"type", "ipc"}},
                                  {{"type", "uts"}},
                                  {{"type", "mount"}},
                                  {{"type", "cgroup"}},
                                  {{"type", "user"}}})},
      // Container ids 0-65535 are host ids kDefaultHostIdBase.. (see below): a process that
      // escapes owns nothing on the host, not even the image files it ran from.
      {"uidMappings", json::array({IdMappingJson()})},
      {"gidMappings", json::array({IdMappingJson()})},
      // Docker's defaults: /proc and /sys files that leak host information (kernel memory,
      // keys, timers, scheduler state) or drive hardware are hidden; and /proc/kallsyms,
      // whose kernel addresses defeat KASLR on hosts whose kptr_restrict lets root see them.
      {"maskedPaths",
       {"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/kallsyms", "/proc/keys",
        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
        "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"}},
      // ... and the /proc knobs that change the host kernel are read-only.
      {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
      // An allowlist of system calls for this capability set (seccomp_default.json says why
      // each group is there).
      {"seccomp", DefaultSeccomp(kDefaultCapabilities)},
  };

  return json{
      {"ociVersion", "1.1.0"},
      {"process", std::move(process)},
      // A read-only root: the image cannot be modified, writes go to explicit mounts.
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "berth"},
      // The image rootfs stays owned by host root on disk; Berth shows it to the container
      // through an id-mapped mount, so no chown and one rootfs for many containers.
      {"annotations", {{"org.berth.rootfs.idmap", "true"}}},
      {"mounts", std::move(mounts)},
      {"linux", std::move(linux)},
  };
}

json RootlessSpec(uint32_t uid, uint32_t gid) {
  json spec = DefaultSpec();
  spec["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", uid}, {"size", 1}}};
  spec["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", gid}, {"size", 1}}};
  spec.erase("annotations");
  spec["linux"].erase("resources");
  json mounts = json::array();
  for (auto& m : spec["mounts"]) {
    if (m["type"] == "cgroup") {
      continue;
    }
    if (m["type"] == "devpts") {
      // gid 5 (tty) is not mapped: the pty belongs to the only group there is.
      auto& o = m["options"];
      o.erase(std::remove(o.begin(), o.end(), "gid=5"), o.end());
    }
    mounts.push_back(std::move(m));
  }
  spec["mounts"] = std::move(mounts);
  return spec;
}

json FeaturesJson() {
  json linux = {
      {"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}},
      {"capabilities", KnownCapabilities()},
      {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
      // What src/runtime/seccomp.cc compiles.
      {"seccomp",
       {{"enabled", true},
        {"actions",
         {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
          "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
          "SCMP_ACT_TRAP"}},
        {"operators",
         {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
          "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
        {"archs",
         {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
          "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE",
          "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_X32",
          "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"}},
        {"knownFlags",
         {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
          "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}},
        {"supportedFlags",
         {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
          "SECCOMP_FILTER_FLAG_SPEC_ALLOW"}}}},
      {"apparmor", {{"enabled", false}}},
      {"selinux", {{"enabled", false}}},
      {"intelRdt", {{"enabled", false}}},
  };
  return json{
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.1.0"},
      {"hooks",
       {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      // Every option runtime/mount_options.cc understands, sorted.
      {"mountOptions",
       {"async",       "atime",        "bind",       "defaults",      "dev",         "diratime",
        "dirsync",     "exec",         "idmap",      "iversion",      "lazytime",    "loud",
        "mand",        "noatime",      "nodev",      "nodiratime",    "noexec",      "noiversion",
        "nolazytime",  "nomand",       "norelatime", "nostrictatime", "nosuid",      "nosymfollow",
        "private",     "rbind",        "rdev",       "rdiratime",     "relatime",    "remount",
        "rexec",       "ridmap",       "rnoatime",   "rnodev",        "rnodiratime", "rnoexec",
        "rnosuid",     "rnosymfollow", "ro",         "rprivate",      "rrelatime",   "rro",
        "rrw",         "rshared",      "rslave",     "rstrictatime",  "rsuid",       "rsymfollow",
        "runbindable", "rw",           "shared",     "silent",        "slave",       "strictatime",
        "suid",        "symfollow",    "sync",       "unbindable"}},
      {"linux", std::move(linux)},
      {"annotations", {{"org.opencontainers.runtime-spec.features.runtime", "berth-runtime"}}},
  };
}

}  // namespace berth::oci

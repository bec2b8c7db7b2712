#include "oci/default_spec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "oci/runtime_spec.h"
#include "runtime/mount_options.h"

namespace berth::oci {
namespace {

using nlohmann::json;

TEST(DefaultSpecTest, ParsesWithParseSpec) {
  Spec spec = ParseSpec(DefaultSpec().dump());
  EXPECT_EQ(spec.oci_version, "1.1.0");
  EXPECT_EQ(spec.root_path, "rootfs");
  EXPECT_TRUE(spec.root_readonly);
  EXPECT_EQ(spec.hostname, "berth");
  ASSERT_TRUE(spec.process.has_value());
  ASSERT_TRUE(spec.linux.has_value());
}

TEST(DefaultSpecTest, PrettyPrintedFormParsesToo) {
  // `berth-runtime spec` writes the indented form.
  EXPECT_NO_THROW(ParseSpec(DefaultSpec().dump(4)));
}

TEST(DefaultSpecTest, Process) {
  Process p = *ParseSpec(DefaultSpec().dump()).process;
  EXPECT_TRUE(p.terminal);
  EXPECT_EQ(p.user.uid, 0u);
  EXPECT_EQ(p.user.gid, 0u);
  EXPECT_EQ(p.args, std::vector<std::string>{"sh"});
  EXPECT_EQ(p.env, (std::vector<std::string>{
                       "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                       "TERM=xterm"}));
  EXPECT_EQ(p.cwd, "/");
  EXPECT_TRUE(p.no_new_privileges);
  ASSERT_EQ(p.rlimits.size(), 1u);
  EXPECT_EQ(p.rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(p.rlimits[0].hard, 1024u);
  EXPECT_EQ(p.rlimits[0].soft, 1024u);
}

TEST(DefaultSpecTest, CapabilitiesAreDockersMinusRawMknodAuditWrite) {
  Process p = *ParseSpec(DefaultSpec().dump()).process;
  ASSERT_TRUE(p.capabilities.has_value());
  const std::set<std::string> want = {"CAP_CHOWN",      "CAP_DAC_OVERRIDE",    "CAP_FSETID",
                                      "CAP_FOWNER",     "CAP_SETGID",          "CAP_SETUID",
                                      "CAP_SETFCAP",    "CAP_SETPCAP",         "CAP_KILL",
                                      "CAP_SYS_CHROOT", "CAP_NET_BIND_SERVICE"};
  for (const auto* set :
       {&p.capabilities->bounding, &p.capabilities->effective, &p.capabilities->permitted}) {
    EXPECT_EQ(std::set<std::string>(set->begin(), set->end()), want);
    EXPECT_EQ(set->size(), want.size()) << "duplicates";
  }
  EXPECT_TRUE(p.capabilities->inheritable.empty());
  EXPECT_TRUE(p.capabilities->ambient.empty());
  for (const char* dropped : {"CAP_NET_RAW", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SYS_ADMIN"}) {
    EXPECT_EQ(want.count(dropped), 0u) << dropped;
  }
}

TEST(DefaultSpecTest, MountsLikeRuncSpec) {
  Spec spec = ParseSpec(DefaultSpec().dump());
  struct Want {
    const char* destination;
    const char* type;
    const char* source;
    std::vector<std::string> options;
  };
  const std::vector<Want> want = {
      {"/proc", "proc", "proc", {}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts",
       "devpts",
       "devpts",
       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
      {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
  };
  ASSERT_EQ(spec.mounts.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(spec.mounts[i].destination, want[i].destination) << i;
    EXPECT_EQ(spec.mounts[i].type, want[i].type) << i;
    EXPECT_EQ(spec.mounts[i].source, want[i].source) << i;
    EXPECT_EQ(spec.mounts[i].options, want[i].options) << i;
  }
}

TEST(DefaultSpecTest, Linux) {
  Spec spec = ParseSpec(DefaultSpec().dump());
  const Linux& l = *spec.linux;
  std::vector<NamespaceType> types;
  for (const auto& ns : l.namespaces) {
    EXPECT_TRUE(ns.path.empty());
    types.push_back(ns.type);
  }
  std::sort(types.begin(), types.end());
  std::vector<NamespaceType> want = {
      NamespaceType::kPid,   NamespaceType::kNetwork, NamespaceType::kIpc, NamespaceType::kUts,
      NamespaceType::kMount, NamespaceType::kCgroup,  NamespaceType::kUser};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(types, want);
  // Container root is an unprivileged host id, far from login users' and subordinate ids.
  for (const auto* maps : {&l.uid_mappings, &l.gid_mappings}) {
    ASSERT_EQ(maps->size(), 1u);
    EXPECT_EQ((*maps)[0].container_id, 0u);
    EXPECT_GT((*maps)[0].host_id, 600100000u);
    EXPECT_EQ((*maps)[0].size, 65536u);
  }
  EXPECT_EQ(spec.annotations.at("org.berth.rootfs.idmap"), "true");

  EXPECT_EQ(l.resources["devices"], json::parse(R"([{"allow": false, "access": "rwm"}])"));
  EXPECT_EQ(l.resources["pids"]["limit"], 4096);

  EXPECT_EQ(l.masked_paths,
            (std::vector<std::string>{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/kallsyms",
                                      "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                                      "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                                      "/sys/firmware", "/sys/devices/virtual/powercap"}));
  EXPECT_EQ(l.readonly_paths, (std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq",
                                                        "/proc/sys", "/proc/sysrq-trigger"}));
}

TEST(DefaultSpecTest, JsonShape) {
  json j = DefaultSpec();
  EXPECT_TRUE(j["process"]["args"].is_array());
  EXPECT_TRUE(j["process"]["rlimits"].is_array());
  EXPECT_TRUE(j["linux"]["namespaces"].is_array());
  EXPECT_TRUE(j["linux"]["resources"]["devices"].is_array());
  EXPECT_TRUE(j["linux"]["resources"]["pids"].is_object());
  EXPECT_FALSE(j["mounts"][0].contains("options"));  // like runc spec's /proc
  EXPECT_FALSE(j["process"]["capabilities"].contains("inheritable"));
  EXPECT_FALSE(j["process"]["capabilities"].contains("ambient"));
}

TEST(FeaturesJsonTest, Versions) {
  json f = FeaturesJson();
  EXPECT_EQ(f["ociVersionMin"], "1.0.0");
  EXPECT_EQ(f["ociVersionMax"], "1.1.0");
}

TEST(FeaturesJsonTest, Hooks) {
  EXPECT_EQ(FeaturesJson()["hooks"],
            json::parse(R"(["prestart", "createRuntime", "createContainer", "startContainer",
                            "poststart", "poststop"])"));
}

TEST(FeaturesJsonTest, MountOptionsSortedUniqueAndComplete) {
  auto opts = FeaturesJson()["mountOptions"].get<std::vector<std::string>>();
  EXPECT_TRUE(std::is_sorted(opts.begin(), opts.end()));
  EXPECT_EQ(std::adjacent_find(opts.begin(), opts.end()), opts.end()) << "duplicate";
  for (const char* o : {"async",         "atime",       "bind",        "defaults",     "dev",
                        "diratime",      "dirsync",     "exec",        "iversion",     "lazytime",
                        "loud",          "mand",        "noatime",     "nodev",        "nodiratime",
                        "noexec",        "noiversion",  "nolazytime",  "nomand",       "norelatime",
                        "nostrictatime", "nosuid",      "nosymfollow", "private",      "rbind",
                        "relatime",      "remount",     "ro",          "rprivate",     "rshared",
                        "rslave",        "runbindable", "rw",          "shared",       "silent",
                        "slave",         "strictatime", "suid",        "symfollow",    "sync",
                        "unbindable",    "rro",         "rrw",         "rnosuid",      "rnodev",
                        "rnoexec",       "rnoatime",    "rnodiratime", "rnosymfollow", "rsuid",
                        "rdev",          "rexec",       "rdiratime",   "rsymfollow",   "rrelatime",
                        "rstrictatime"}) {
    EXPECT_TRUE(std::binary_search(opts.begin(), opts.end(), std::string(o))) << o;
  }
}

TEST(FeaturesJsonTest, Linux) {
  json l = FeaturesJson()["linux"];
  auto ns = l["namespaces"].get<std::vector<std::string>>();
  std::sort(ns.begin(), ns.end());
  EXPECT_EQ(ns, (std::vector<std::string>{"cgroup", "ipc", "mount", "network", "pid", "time",
                                          "user", "uts"}));
  EXPECT_EQ(l["capabilities"].get<std::vector<std::string>>(), KnownCapabilities());
  EXPECT_EQ(l["cgroup"], json::parse(R"({"v1": true, "v2": true, "systemd": false,
                                         "systemdUser": false})"));
  EXPECT_TRUE(l["seccomp"]["enabled"].get<bool>());
  auto known = l["seccomp"]["knownFlags"].get<std::vector<std::string>>();
  for (const auto& flag : l["seccomp"]["supportedFlags"]) {
    EXPECT_NE(std::find(known.begin(), known.end(), flag.get<std::string>()), known.end()) << flag;
  }
  for (const char* k : {"apparmor", "selinux", "intelRdt"}) {
    EXPECT_EQ(l[k], json::parse(R"({"enabled": false})")) << k;
  }
}

TEST(FeaturesJsonTest, EveryMountOptionIsUnderstoodByTheRuntime) {
  // An option the runtime does not know would be passed to the filesystem as data.
  const json features = FeaturesJson();  // a range-for over a temporary's member dangles
  for (const auto& o : features["mountOptions"]) {
    runtime::MountOptions parsed = runtime::ParseMountOptions({o.get<std::string>()});
    EXPECT_EQ(parsed.data, "") << o;
  }
}

TEST(FeaturesJsonTest, NamespaceNamesAreTheParsersNames) {
  // Every advertised namespace is one ParseSpec accepts.
  const json features = FeaturesJson();
  for (const auto& name : features["linux"]["namespaces"]) {
    bool found = false;
    for (auto t : {NamespaceType::kPid, NamespaceType::kNetwork, NamespaceType::kMount,
                   NamespaceType::kIpc, NamespaceType::kUts, NamespaceType::kUser,
                   NamespaceType::kCgroup, NamespaceType::kTime}) {
      found = found || NamespaceTypeName(t) == name.get<std::string>();
    }
    EXPECT_TRUE(found) << name;
  }
}

TEST(FeaturesJsonTest, Annotations) {
  EXPECT_EQ(FeaturesJson()["annotations"],
            json::parse(R"({"org.opencontainers.runtime-spec.features.runtime":
                            "berth-runtime"})"));
}

TEST(DefaultSpecTest, RootlessMapsOnlyTheCallerAndAsksForNoCgroup) {
  json j = RootlessSpec(1234, 5678);
  Spec spec = ParseSpec(j.dump());
  const Linux& l = *spec.linux;
  ASSERT_NE(l.Find(NamespaceType::kUser), nullptr);
  ASSERT_EQ(l.uid_mappings.size(), 1u);
  EXPECT_EQ(l.uid_mappings[0].host_id, 1234u);
  EXPECT_EQ(l.uid_mappings[0].size, 1u);
  ASSERT_EQ(l.gid_mappings.size(), 1u);
  EXPECT_EQ(l.gid_mappings[0].host_id, 5678u);
  EXPECT_TRUE(l.resources.is_null() || l.resources.empty()) << l.resources;
  EXPECT_EQ(spec.annotations.count("org.berth.rootfs.idmap"), 0u);
  for (const auto& m : spec.mounts) {
    EXPECT_NE(m.type, "cgroup") << "no cgroup of its own to mount";
    for (const auto& o : m.options) {
      EXPECT_NE(o, "gid=5") << m.destination << ": gid 5 is not mapped";
    }
  }
  // The rest of the hardening stays.
  EXPECT_TRUE(spec.process->no_new_privileges);
  EXPECT_EQ(spec.process->capabilities->bounding,
            ParseSpec(DefaultSpec().dump()).process->capabilities->bounding);
  EXPECT_EQ(l.masked_paths, ParseSpec(DefaultSpec().dump()).linux->masked_paths);
}

}  // namespace
}  // namespace berth::oci

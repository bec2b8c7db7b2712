#include "oci/runtime_spec.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/resource.h>

#include "base/error.h"
#include "oci/default_spec.h"

namespace berth::oci {
namespace {

using nlohmann::json;

json Minimal() {
  return {{"ociVersion", "1.1.0"},
          {"root", {{"path", "rootfs"}}},
          {"process", {{"args", {"sh"}}, {"cwd", "/"}}},
          {"linux", {{"namespaces", {{{"type", "mount"}}}}}}};
}

// Expects ParseSpec to refuse `j` with an InvalidArgument naming `needle`.
void ExpectRefused(const json& j, const std::string& needle) {
  try {
    ParseSpec(j.dump());
    ADD_FAILURE() << "accepted, expected an error naming " << needle << ":\n" << j.dump(2);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "error \"" << e.what() << "\" does not name " << needle;
  }
}

TEST(RuntimeSpecTest, ParsesEveryField) {
  json j = Minimal();
  j["root"]["readonly"] = true;
  j["hostname"] = "h";
  j["domainname"] = "d";
  j["annotations"] = {{"a", "b"}};
  j["mounts"] = {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
                 {{"destination", "/data"},
                  {"type", "bind"},
                  {"source", "/srv"},
                  {"options", {"rbind", "ro"}},
                  {"uidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 10}}}},
                  {"gidMappings", {{{"containerID", 0}, {"hostID", 1000}, {"size", 10}}}}}};
  j["process"] = {{"terminal", true},
                  {"consoleSize", {{"height", 24}, {"width", 80}}},
                  {"user", {{"uid", 1}, {"gid", 2}, {"umask", 18}, {"additionalGids", {3, 4}}}},
                  {"args", {"sh", "-c", "true"}},
                  {"env", {"A=1", "B="}},
                  {"cwd", "/tmp"},
                  {"capabilities", {{"bounding", {"CAP_CHOWN"}}, {"ambient", {"CAP_KILL"}}}},
                  {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 10}, {"soft", 5}}}},
                  {"noNewPrivileges", true},
                  {"oomScoreAdj", -500}};
  json hook = {{"path", "/bin/true"}, {"args", {"true", "x"}}, {"env", {"K=V"}}, {"timeout", 3}};
  j["hooks"] = {{"prestart", {hook}},       {"createRuntime", {hook}}, {"createContainer", {hook}},
                {"startContainer", {hook}}, {"poststart", {hook}},     {"poststop", {hook, hook}}};
  j["linux"] = {{"namespaces",
                 {{{"type", "mount"}},
                  {{"type", "uts"}},
                  {{"type", "network"}, {"path", "/run/netns/x"}},
                  {{"type", "user"}},
                  {{"type", "time"}}}},
                {"uidMappings", {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}}},
                {"gidMappings", {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}}},
                {"timeOffsets", {{"boottime", {{"secs", 10}, {"nanosecs", 5}}}}},
                {"devices",
                 {{{"type", "c"},
                   {"path", "/dev/fuse"},
                   {"major", 10},
                   {"minor", 229},
                   {"fileMode", 438},
                   {"uid", 0},
                   {"gid", 0}},
                  {{"type", "p"}, {"path", "/dev/fifo"}}}},
                {"cgroupsPath", "/x/y"},
                {"resources", {{"pids", {{"limit", 10}}}}},
                {"rootfsPropagation", "rslave"},
                {"maskedPaths", {"/proc/kcore"}},
                {"readonlyPaths", {"/proc/sys"}},
                {"sysctl", {{"net.ipv4.ip_forward", "1"}}},
                {"seccomp", {{"defaultAction", "SCMP_ACT_ALLOW"}}},
                {"mountLabel", "l"}};
  Spec s = ParseSpec(j.dump());
  EXPECT_EQ(s.oci_version, "1.1.0");
  EXPECT_EQ(s.root_path, "rootfs");
  EXPECT_TRUE(s.root_readonly);
  EXPECT_EQ(s.hostname, "h");
  EXPECT_EQ(s.domainname, "d");
  EXPECT_EQ(s.annotations.at("a"), "b");
  ASSERT_EQ(s.mounts.size(), 2u);
  EXPECT_EQ(s.mounts[1].options, (std::vector<std::string>{"rbind", "ro"}));
  EXPECT_EQ(s.mounts[1].uid_mappings[0].host_id, 1000u);
  ASSERT_TRUE(s.process);
  const Process& p = *s.process;
  EXPECT_TRUE(p.terminal);
  EXPECT_EQ(p.console_size->width, 80u);
  EXPECT_EQ(p.user.uid, 1u);
  EXPECT_EQ(p.user.gid, 2u);
  EXPECT_EQ(*p.user.umask, 18u);
  EXPECT_EQ(p.user.additional_gids, (std::vector<uint32_t>{3, 4}));
  EXPECT_EQ(p.args.size(), 3u);
  EXPECT_EQ(p.env[1], "B=");
  EXPECT_EQ(p.cwd, "/tmp");
  EXPECT_EQ(p.capabilities->bounding, std::vector<std::string>{"CAP_CHOWN"});
  EXPECT_EQ(p.capabilities->ambient, std::vector<std::string>{"CAP_KILL"});
  ASSERT_EQ(p.rlimits.size(), 1u);
  EXPECT_EQ(p.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(p.rlimits[0].soft, 5u);
  EXPECT_TRUE(p.no_new_privileges);
  EXPECT_EQ(*p.oom_score_adj, -500);
  EXPECT_EQ(s.hooks.prestart.size(), 1u);
  EXPECT_EQ(s.hooks.create_runtime.size(), 1u);
  EXPECT_EQ(s.hooks.create_container.size(), 1u);
  EXPECT_EQ(s.hooks.start_container.size(), 1u);
  EXPECT_EQ(s.hooks.poststart.size(), 1u);
  EXPECT_EQ(s.hooks.poststop.size(), 2u);
  EXPECT_EQ(*s.hooks.prestart[0].timeout, 3);
  EXPECT_EQ(s.hooks.prestart[0].env[0], "K=V");
  ASSERT_TRUE(s.linux);
  const Linux& l = *s.linux;
  EXPECT_EQ(l.namespaces.size(), 5u);
  EXPECT_EQ(l.Find(NamespaceType::kNetwork)->path, "/run/netns/x");
  EXPECT_TRUE(l.Find(NamespaceType::kUser)->path.empty());
  EXPECT_EQ(l.Find(NamespaceType::kPid), nullptr);
  EXPECT_EQ(l.uid_mappings[0].size, 65536u);
  EXPECT_EQ(l.time_offsets.at("boottime").secs, 10);
  EXPECT_EQ(l.devices[0].major, 10);
  EXPECT_EQ(*l.devices[0].file_mode, 438u);
  EXPECT_EQ(l.devices[1].type, 'p');
  EXPECT_EQ(l.cgroups_path, "/x/y");
  EXPECT_EQ(l.resources["pids"]["limit"], 10);
  EXPECT_EQ(l.rootfs_propagation, "rslave");
  EXPECT_EQ(l.masked_paths[0], "/proc/kcore");
  EXPECT_EQ(l.readonly_paths[0], "/proc/sys");
  EXPECT_EQ(l.sysctl.at("net.ipv4.ip_forward"), "1");
  EXPECT_EQ(l.seccomp["defaultAction"], "SCMP_ACT_ALLOW");
  EXPECT_EQ(l.mount_label, "l");
}

TEST(RuntimeSpecTest, DefaultSpecParses) {
  Spec s = ParseSpec(DefaultSpec().dump());
  ASSERT_TRUE(s.process);
  EXPECT_TRUE(s.process->no_new_privileges);
  EXPECT_TRUE(s.root_readonly);
  // Hardened: no NET_RAW, MKNOD or AUDIT_WRITE.
  for (const char* cap : {"CAP_NET_RAW", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SYS_ADMIN"}) {
    const auto& b = s.process->capabilities->bounding;
    EXPECT_EQ(std::find(b.begin(), b.end(), cap), b.end()) << cap;
  }
  EXPECT_FALSE(s.linux->masked_paths.empty());
  EXPECT_FALSE(s.linux->readonly_paths.empty());
  EXPECT_GT(s.linux->resources["pids"]["limit"].get<int>(), 0);
}

TEST(RuntimeSpecTest, FeaturesNameEveryNamespaceAndCapability) {
  json f = FeaturesJson();
  EXPECT_EQ(f["ociVersionMin"], "1.0.0");
  EXPECT_EQ(f["linux"]["namespaces"].size(), 8u);
  EXPECT_EQ(f["linux"]["capabilities"].size(), KnownCapabilities().size());
  EXPECT_EQ(f["hooks"].size(), 6u);
  EXPECT_TRUE(f["linux"]["seccomp"]["enabled"].get<bool>());
}

TEST(RuntimeSpecTest, MalformedJson) { EXPECT_THROW(ParseSpec("{\"ociVersion\": "), Error); }

TEST(RuntimeSpecTest, RefusesWrongTypes) {
  json j = Minimal();
  j["process"]["user"] = {{"uid", "root"}};
  ExpectRefused(j, "process.user.uid: expected an unsigned integer, got string");
  j = Minimal();
  j["process"]["user"] = {{"uid", -1}};
  ExpectRefused(j, "process.user.uid: must not be negative");
  j = Minimal();
  j["process"]["args"] = "sh";
  ExpectRefused(j, "process.args: expected an array of strings, got string");
  j = Minimal();
  j["process"]["args"] = {"sh", 1};
  ExpectRefused(j, "process.args[1]");
  j = Minimal();
  j["root"]["readonly"] = "yes";
  ExpectRefused(j, "root.readonly: expected a boolean");
  j = Minimal();
  j["mounts"] = {{{"destination", "/x"}, {"options", "ro"}}};
  ExpectRefused(j, "mounts[0].options");
  j = Minimal();
  j["process"]["user"] = {{"uid", 4294967296}};
  ExpectRefused(j, "process.user.uid: value 4294967296 out of range");
}

TEST(RuntimeSpecTest, IdMappedMountsMustBeBindsWithBothMappings) {
  json map = json::array({{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}});
  json j = Minimal();
  j["mounts"] = {
      {{"destination", "/x"}, {"type", "tmpfs"}, {"uidMappings", map}, {"gidMappings", map}}};
  ExpectRefused(j, "mounts[0].uidMappings: only bind mounts can be id-mapped");
  j = Minimal();
  j["mounts"] = {{{"destination", "/x"}, {"type", "bind"}, {"source", "/s"}, {"uidMappings", map}}};
  ExpectRefused(j,
                "mounts[0].uidMappings: an id-mapped mount needs both uidMappings and gidMappings");
  j = Minimal();
  j["mounts"] = {{{"destination", "/x"},
                  {"source", "/s"},
                  {"options", {"rbind"}},
                  {"uidMappings", map},
                  {"gidMappings", map}}};
  Spec s = ParseSpec(j.dump());
  ASSERT_EQ(s.mounts[0].uid_mappings.size(), 1u);
  EXPECT_EQ(s.mounts[0].uid_mappings[0].host_id, 1000u);
}

TEST(RuntimeSpecTest, RefusesMissingRequiredFields) {
  json j = Minimal();
  j.erase("root");
  ExpectRefused(j, "root: is required");
  j = Minimal();
  j["root"].erase("path");
  ExpectRefused(j, "root.path: is required");
  j = Minimal();
  j.erase("ociVersion");
  ExpectRefused(j, "ociVersion: is required");
  j = Minimal();
  j["ociVersion"] = "2.0.0";
  ExpectRefused(j, "ociVersion: unsupported version \"2.0.0\"");
  j = Minimal();
  j["process"].erase("cwd");
  ExpectRefused(j, "process.cwd: is required");
  j = Minimal();
  j["process"]["args"] = json::array();
  ExpectRefused(j, "process.args: must name the program");
}

TEST(RuntimeSpecTest, RefusesBadNamespaces) {
  json j = Minimal();
  j["linux"]["namespaces"] = {{{"type", "mount"}}, {{"type", "telepathy"}}};
  ExpectRefused(j, "linux.namespaces[1].type: unknown namespace type \"telepathy\"");
  j["linux"]["namespaces"] = {{{"type", "mount"}}, {{"type", "mount"}}};
  ExpectRefused(j, "linux.namespaces[1].type: duplicate namespace \"mount\"");
  j["linux"]["namespaces"] = {{{"type", "network"}, {"path", "run/netns/x"}}};
  ExpectRefused(j, "linux.namespaces[0].path: must be an absolute path");
}

TEST(RuntimeSpecTest, RefusesRelativePaths) {
  json j = Minimal();
  j["mounts"] = {{{"destination", "proc"}, {"type", "proc"}}};
  ExpectRefused(j, "mounts[0].destination: must be an absolute path, got \"proc\"");
  j = Minimal();
  j["process"]["cwd"] = "tmp";
  ExpectRefused(j, "process.cwd: must be an absolute path");
  j = Minimal();
  j["hooks"] = {{"prestart", {{{"path", "bin/hook"}}}}};
  ExpectRefused(j, "hooks.prestart[0].path: must be an absolute path");
  j = Minimal();
  j["linux"]["maskedPaths"] = {"proc/kcore"};
  ExpectRefused(j, "linux.maskedPaths[0]");
  j = Minimal();
  j["linux"]["devices"] = {{{"type", "c"}, {"path", "dev/x"}, {"major", 1}, {"minor", 1}}};
  ExpectRefused(j, "linux.devices[0].path");
}

TEST(RuntimeSpecTest, RefusesInconsistentValues) {
  json j = Minimal();
  j["hooks"] = {{"poststop", {{{"path", "/bin/x"}, {"timeout", 0}}}}};
  ExpectRefused(j, "hooks.poststop[0].timeout: must be greater than zero");
  j = Minimal();
  j["process"]["capabilities"] = {{"bounding", {"CAP_FLY"}}};
  ExpectRefused(j, "process.capabilities.bounding[0]: unknown capability \"CAP_FLY\"");
  j = Minimal();
  j["process"]["rlimits"] = {{{"type", "RLIMIT_FUN"}, {"hard", 1}, {"soft", 1}}};
  ExpectRefused(j, "process.rlimits[0].type: unknown rlimit \"RLIMIT_FUN\"");
  j = Minimal();
  j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"hard", 1}, {"soft", 2}}};
  ExpectRefused(j, "process.rlimits[0]: soft limit 2 exceeds hard limit 1");
  j = Minimal();
  j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1}, {"size", 1}}};
  ExpectRefused(j, "mappings need a user namespace");
  j = Minimal();
  j["linux"]["namespaces"].push_back({{"type", "user"}});
  ExpectRefused(j, "a new user namespace needs uidMappings and gidMappings");
  j = Minimal();
  j["hostname"] = "h";
  ExpectRefused(j, "hostname: needs a new uts namespace");
  j = Minimal();
  j["process"]["env"] = {"NOEQUALS"};
  ExpectRefused(j, "process.env[0]: must have the form KEY=value");
  j = Minimal();
  j["linux"]["devices"] = {{{"type", "x"}, {"path", "/dev/x"}}};
  ExpectRefused(j, "linux.devices[0].type: must be one of c, b, u, p");
  j = Minimal();
  j["linux"]["devices"] = {{{"type", "c"}, {"path", "/dev/x"}}};
  ExpectRefused(j, "major and minor are required");
  j = Minimal();
  j["process"]["oomScoreAdj"] = 5000;
  ExpectRefused(j, "process.oomScoreAdj: must be between -1000 and 1000");
  j = Minimal();
  j["linux"]["timeOffsets"] = {{"boottime", {{"secs", 1}}}};
  ExpectRefused(j, "linux.timeOffsets: needs a new time namespace");
  j = Minimal();
  j["linux"]["rootfsPropagation"] = "sideways";
  ExpectRefused(j, "linux.rootfsPropagation: unknown propagation \"sideways\"");
  j = Minimal();
  j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1}, {"size", 0}}};
  j["linux"]["namespaces"].push_back({{"type", "user"}});
  ExpectRefused(j, "linux.uidMappings[0].size: must be a positive integer");
}

TEST(RuntimeSpecTest, HostnameWithoutALinuxSectionIsRefused) {
  // Without a uts namespace of its own the container would set the host's hostname.
  json j = Minimal();
  j.erase("linux");
  j["hostname"] = "pwned";
  ExpectRefused(j, "hostname: needs a new uts namespace");
}

TEST(RuntimeSpecTest, HugeNumbersDoNotWrapIntoSignedFields) {
  json j = Minimal();
  j["process"]["oomScoreAdj"] = 18446744073709551615ULL;
  ExpectRefused(j, "process.oomScoreAdj: value 18446744073709551615 out of range");
  j = Minimal();
  j["linux"]["devices"] = {
      {{"type", "c"}, {"path", "/dev/x"}, {"major", 18446744073709551615ULL}, {"minor", 1}}};
  ExpectRefused(j, "linux.devices[0].major: value 18446744073709551615 out of range");
}

TEST(RuntimeSpecTest, RlimitsNeedBothLimits) {
  json j = Minimal();
  j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 10}}};
  ExpectRefused(j, "process.rlimits[0].hard: is required");
}

TEST(RuntimeSpecTest, TimeOffsetsAreChecked) {
  json j = Minimal();
  j["linux"]["namespaces"].push_back({{"type", "time"}});
  j["linux"]["timeOffsets"] = {{"boottime", {{"secs", 1}, {"nanosecs", 1000000000}}}};
  ExpectRefused(j, "linux.timeOffsets.boottime.nanosecs: must be below 1000000000");
  j["linux"]["timeOffsets"] = {{"realtime", {{"secs", 1}}}};
  ExpectRefused(j, "linux.timeOffsets.realtime: unknown clock");
}

TEST(RuntimeSpecTest, Personality) {
  json j = Minimal();
  j["linux"]["personality"] = {{"domain", "LINUX32"}};
  EXPECT_EQ(*ParseSpec(j.dump()).linux->personality, static_cast<unsigned long>(PER_LINUX32));
  j["linux"]["personality"] = {{"domain", "WINDOWS"}};
  ExpectRefused(j, "linux.personality.domain: must be LINUX or LINUX32");
  j["linux"]["personality"] = {{"domain", "LINUX"}, {"flags", {"X"}}};
  ExpectRefused(j, "linux.personality.flags");
}

TEST(RuntimeSpecTest, ProcessJsonForExec) {
  Process p = ParseProcess(R"({"args": ["ls"], "cwd": "/", "env": ["A=b"]})");
  EXPECT_EQ(p.args[0], "ls");
  try {
    ParseProcess(R"({"args": ["ls"], "cwd": "rel"})");
    ADD_FAILURE() << "relative cwd accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("process.cwd"), std::string::npos) << e.what();
  }
}

TEST(RuntimeSpecTest, NamesAndNumbers) {
  EXPECT_EQ(CapabilityNumber("CAP_CHOWN"), 0);
  EXPECT_EQ(CapabilityNumber("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(CapabilityNumber("CAP_CHECKPOINT_RESTORE"), 40);
  EXPECT_EQ(CapabilityNumber("chown"), -1);
  EXPECT_EQ(RlimitNumber("RLIMIT_NPROC"), RLIMIT_NPROC);
  EXPECT_EQ(RlimitNumber("NOFILE"), -1);
  EXPECT_EQ(NamespaceCloneFlag(NamespaceType::kTime), CLONE_NEWTIME);
  EXPECT_EQ(NamespaceTypeName(NamespaceType::kNetwork), "network");
}

}  // namespace
}  // namespace berth::oci

// Namespaces created and joined by path, user namespace id mappings, time offsets, cgroup
// namespace, hostname and domainname.

#include <unistd.h>

#include <sstream>

#include "base/file_util.h"
#include "harness.h"

namespace berth::testing {
namespace {

std::string HostNs(const std::string& type) {
  char buf[128];
  ssize_t n = readlink(("/proc/self/ns/" + type).c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

class NamespacesTest : public RuntimeTest {
 protected:
  void SetNamespace(const std::string& type, const std::string& path) {
    auto& ns = config_["linux"]["namespaces"];
    ns.erase(std::remove_if(ns.begin(), ns.end(), [&](const auto& n) { return n["type"] == type; }),
             ns.end());
    nlohmann::json entry = {{"type", type}};
    if (!path.empty()) {
      entry["path"] = path;
    }
    ns.push_back(entry);
  }
};

TEST_F(NamespacesTest, NewNamespacesDifferFromTheHost) {
  SetNamespace("time", "");
  Result r = RunContainer(
      "for n in pid net ipc uts mnt cgroup time user; do echo $n $(readlink /proc/self/ns/$n); "
      "done");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::string type, link;
  int seen = 0;
  while (in >> type >> link) {
    ++seen;
    EXPECT_NE(link, HostNs(type)) << type << " namespace is the host's";
  }
  EXPECT_EQ(seen, 8) << r.out;
  // Without a user namespace in the config, it is the host's.
  RemoveNamespace("user");
  r = RunContainer("readlink /proc/self/ns/user");
  EXPECT_EQ(Trim(r.out), HostNs("user"));
}

TEST_F(NamespacesTest, PidNamespaceMakesTheProcessPidOne) {
  Result r = RunContainer("echo $$");
  EXPECT_EQ(Trim(r.out), "1") << r.err;
}

TEST_F(NamespacesTest, HostnameAndDomainname) {
  config_["hostname"] = "berth-test-host";
  config_["domainname"] = "example.test";
  Result r = RunContainer("hostname; cat /proc/sys/kernel/domainname");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "berth-test-host\nexample.test\n");
}

TEST_F(NamespacesTest, JoinNamespacesByPath) {
  config_["hostname"] = "first";
  SetScript("exec sleep 100");
  std::string first = NewId();
  ASSERT_EQ(Rt({"run", "--detach", "--bundle", bundle_, first}).exit_code, 0);
  int pid = nlohmann::json::parse(Rt({"state", first}).out)["pid"];
  std::string proc = "/proc/" + std::to_string(pid) + "/ns/";
  char buf[128];
  ssize_t n = readlink((proc + "net").c_str(), buf, sizeof(buf));
  ASSERT_GT(n, 0);
  std::string first_net(buf, static_cast<size_t>(n));

  config_.erase("hostname");
  SetNamespace("uts", proc + "uts");
  SetNamespace("network", proc + "net");
  Result r = RunContainer("hostname; readlink /proc/self/ns/net");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "first\n" + first_net + "\n");
}

TEST_F(NamespacesTest, JoiningAMissingNamespacePathFailsCleanly) {
  SetNamespace("network", "/proc/999999999/ns/net");
  std::string id = NewId();
  SetScript("true");
  Result r = Rt({"run", "--bundle", bundle_, id});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/proc/999999999/ns/net"), std::string::npos) << r.err;
  EXPECT_FALSE(FileExists(state_ + "/" + id));
}

TEST_F(NamespacesTest, UserNamespaceWithMappings) {
  SetNamespace("user", "");
  config_["annotations"].erase("org.berth.rootfs.idmap");
  config_["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  config_["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
  Result r = RunContainer(
      "cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c %u /bin/busybox; "
      "readlink /proc/self/ns/user; ls -l /dev/null | cut -c1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) {
    lines.push_back(l);
  }
  ASSERT_EQ(lines.size(), 6u) << r.out;
  std::istringstream uid(lines[0]);
  long c, h, s;
  uid >> c >> h >> s;
  EXPECT_EQ(c, 0);
  EXPECT_EQ(h, 100000);
  EXPECT_EQ(s, 65536);
  EXPECT_EQ(lines[2], "0") << "the process is root inside its user namespace";
  EXPECT_EQ(lines[3], "65534") << "host root owns the rootfs and is unmapped inside";
  EXPECT_NE(lines[4], HostNs("user"));
  EXPECT_EQ(lines[5], "c") << "/dev/null is a character device (bind-mounted from the host)";
}

TEST_F(NamespacesTest, TimeNamespaceOffsets) {
  SetNamespace("time", "");
  config_["linux"]["timeOffsets"] = {{"boottime", {{"secs", 315360000}, {"nanosecs", 0}}},
                                     {"monotonic", {{"secs", 86400}, {"nanosecs", 0}}}};
  Result r = RunContainer("cut -d. -f1 /proc/uptime");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(std::stol(Trim(r.out)), 315360000L) << "boottime offset not applied";
}

TEST_F(NamespacesTest, CgroupNamespaceHidesTheHostPath) {
  Result r = RunContainer("cat /proc/self/cgroup");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  int lines = 0;
  for (std::string l; std::getline(in, l);) {
    ++lines;
    EXPECT_EQ(l.substr(l.rfind(':')), ":/") << "cgroup path visible: " << l;
  }
  EXPECT_GT(lines, 0);
}

TEST_F(NamespacesTest, SysctlsInTheContainersOwnNamespaces) {
  config_["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmni", "1234"}};
  // /proc/sys is read-only in the default spec: the runtime writes before that applies.
  Result r = RunContainer("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1\n1234\n");
  EXPECT_NE(Trim(ReadFile("/proc/sys/kernel/shmmni")), "1234") << "the host's value changed";
}

TEST_F(NamespacesTest, HostGlobalSysctlIsRefused) {
  config_["linux"]["sysctl"] = {{"kernel.panic", "5"}};
  std::string id = NewId();
  SetScript("true");
  Result r = Rt({"create", "--bundle", bundle_, id});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("linux.sysctl.kernel.panic: not namespaced"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace berth::testing

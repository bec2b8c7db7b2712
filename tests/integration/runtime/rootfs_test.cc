// The root filesystem: read-only root, every mount kind, destinations resolved inside the
// rootfs (no symlink escape), devices and /dev links, masked and read-only paths, pivot_root
// and --no-pivot, rootfsPropagation.

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "base/file_util.h"
#include "harness.h"

namespace berth::testing {
namespace {

using RootfsTest = RuntimeTest;

nlohmann::json MountEntry(const std::string& dest, const std::string& type,
                          const std::string& source, std::vector<std::string> options) {
  return {{"destination", dest}, {"type", type}, {"source", source}, {"options", options}};
}

TEST_F(RootfsTest, ReadonlyRootRefusesWrites) {
  Result r = RunContainer("touch /newfile 2>&1; echo rc=$?");
  EXPECT_NE(r.out.find("Read-only file system"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out;
}

TEST_F(RootfsTest, WritableRootKeepsChanges) {
  UseRootfsCopy();
  config_["root"]["readonly"] = false;
  Result r = RunContainer("echo data > /newfile");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(rootfs_ + "/newfile"), "data\n");
}

TEST_F(RootfsTest, TmpfsMountWithOptions) {
  config_["mounts"].push_back(
      MountEntry("/data/deep", "tmpfs", "tmpfs", {"nosuid", "nodev", "mode=0710", "size=1m"}));
  Result r = RunContainer("stat -c %a /data/deep; grep ' /data/deep ' /proc/self/mounts");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 4), "710\n");
  EXPECT_NE(r.out.find("nosuid"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nodev"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("size=1024k"), std::string::npos) << r.out;
}

TEST_F(RootfsTest, ReadOnlyBindMountOfAHostDirectory) {
  std::string host = dir_ + "/shared";
  MkdirAll(host);
  std::ofstream(host + "/hello.txt") << "from the host";
  config_["mounts"].push_back(MountEntry("/mnt/shared", "bind", host, {"rbind", "ro"}));
  Result r = RunContainer(
      "cat /mnt/shared/hello.txt; echo; touch /mnt/shared/x 2>/dev/null; "
      "echo rc=$?");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "from the host\nrc=1\n");
  EXPECT_FALSE(FileExists(host + "/x"));
}

TEST_F(RootfsTest, BindMountOfAFileCreatesTheTarget) {
  std::string host = dir_ + "/single.conf";
  std::ofstream(host) << "k=v\n";
  config_["mounts"].push_back(MountEntry("/etc/single.conf", "bind", host, {"bind", "ro"}));
  Result r = RunContainer("cat /etc/single.conf");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "k=v\n");
}

TEST_F(RootfsTest, RecursiveReadOnlyReachesSubmounts) {
  std::string host = dir_ + "/tree";
  MkdirAll(host + "/sub");
  ASSERT_EQ(mount("tmpfs", (host + "/sub").c_str(), "tmpfs", 0, "size=1m"), 0);
  config_["mounts"].push_back(MountEntry("/tree", "bind", host, {"rbind", "rro"}));
  Result r = RunContainer("touch /tree/sub/x 2>/dev/null; echo rc=$?");
  umount2((host + "/sub").c_str(), MNT_DETACH);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "rc=1\n") << "rro did not make the submount read-only";
}

TEST_F(RootfsTest, MountDestinationCannotEscapeThroughSymlinks) {
  UseRootfsCopy();
  std::string victim = dir_ + "/victim";
  MkdirAll(victim);
  // An absolute symlink naming a host path, and a relative one climbing out.
  ASSERT_EQ(symlink(victim.c_str(), (rootfs_ + "/abs-escape").c_str()), 0);
  ASSERT_EQ(symlink("../../../../../../..", (rootfs_ + "/rel-escape").c_str()), 0);
  config_["mounts"].push_back(MountEntry("/abs-escape/sub", "tmpfs", "tmpfs", {}));
  config_["mounts"].push_back(MountEntry("/rel-escape/relsub", "tmpfs", "tmpfs", {}));
  Result r = RunContainer("grep -c -E ' (/abs-escape|" + victim +
                          ")/sub | /relsub ' "
                          "/proc/self/mounts");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(FileExists(victim + "/sub")) << "a mount point was created on the host";
  EXPECT_FALSE(FileExists("/relsub")) << "a mount point was created at the host's /";
  EXPECT_TRUE(FileExists(rootfs_ + victim + "/sub")) << "the mount was not kept in the rootfs";
  EXPECT_TRUE(FileExists(rootfs_ + "/relsub"));
  EXPECT_EQ(Trim(r.out), "2") << "both tmpfs mounts are inside the container";
}

TEST_F(RootfsTest, DefaultDevicesAndLinks) {
  Result r = RunContainer(
      "for d in null zero full random urandom tty; do stat -c '%n %F %t:%T' /dev/$d; done; "
      "for l in fd stdin stdout stderr ptmx; do echo $l $(readlink /dev/$l); done; "
      "echo x > /dev/null && head -c 3 /dev/zero | wc -c");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* want :
       {"/dev/null character special file 1:3", "/dev/zero character special file 1:5",
        "/dev/full character special file 1:7", "/dev/random character special file 1:8",
        "/dev/urandom character special file 1:9", "/dev/tty character special file 5:0",
        "fd /proc/self/fd", "stdin /proc/self/fd/0", "stdout /proc/self/fd/1",
        "stderr /proc/self/fd/2", "ptmx pts/ptmx"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << " missing in:\n" << r.out;
  }
  EXPECT_EQ(r.out.substr(r.out.size() - 2), "3\n");
}

TEST_F(RootfsTest, ConfiguredDevices) {
  config_["linux"]["devices"] = {{{"type", "c"},
                                  {"path", "/dev/fuse"},
                                  {"major", 10},
                                  {"minor", 229},
                                  {"fileMode", 0640},
                                  {"uid", 12},
                                  {"gid", 34}},
                                 {{"type", "p"}, {"path", "/dev/myfifo"}}};
  std::string script = "stat -c '%n %F %t:%T %a %u %g' /dev/fuse; stat -c '%F' /dev/myfifo";
  // In a user namespace mknod is refused: the host's node is bound, with its own owner.
  Result r = RunContainer(script);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("/dev/fuse character special file a:e5 ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\nfifo\n"), std::string::npos) << r.out;
  // Without one, the node is made as configured.
  RemoveNamespace("user");
  r = RunContainer(script);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "/dev/fuse character special file a:e5 640 12 34\nfifo\n");
}

TEST_F(RootfsTest, MaskedAndReadonlyPaths) {
  Result r = RunContainer(
      "wc -c < /proc/keys; ls /sys/firmware | wc -l; "
      "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null; echo rc=$?; "
      "grep -c ' /proc/sys .*ro,' /proc/self/mounts");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "0\n0\nrc=1\n1\n");
}

TEST_F(RootfsTest, StandardMounts) {
  Result r = RunContainer(
      "for m in /proc /dev /dev/pts /dev/shm /dev/mqueue /sys /sys/fs/cgroup; do "
      "grep -q \" $m \" /proc/self/mounts && echo ok $m; done; ls /sys/fs/cgroup | grep -c .");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* m :
       {"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"}) {
    EXPECT_NE(r.out.find(std::string("ok ") + m + "\n"), std::string::npos) << m << "\n" << r.out;
  }
}

TEST_F(RootfsTest, PivotRootHidesTheHost) {
  Result r =
      RunContainer("cat /etc/berth-image; ls / | grep -c work; grep -c ' / ' /proc/self/mounts");
  EXPECT_EQ(r.out.rfind("berth-busybox", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\n0\n1\n"), std::string::npos) << "host paths or the old root visible:\n"
                                                       << r.out;
}

TEST_F(RootfsTest, NoPivotUsesChroot) {
  SetScript("cat /etc/berth-image");
  Result r = Rt({"run", "--no-pivot", "--bundle", bundle_, NewId()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("berth-busybox", 0), 0u);
}

TEST_F(RootfsTest, RootfsPropagationPrivate) {
  config_["linux"]["rootfsPropagation"] = "private";
  Result r = RunContainer("awk '$5 == \"/\"' /proc/self/mountinfo");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("shared:"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("master:"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace berth::testing

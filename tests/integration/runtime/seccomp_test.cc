// linux.seccomp applied to the container's process and to exec'd processes, on both install
// paths (with no_new_privs: last before execve; without: before capabilities are dropped).

#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <thread>

#include "base/fd.h"
#include "base/file_util.h"
#include "harness.h"
#include "runtime/terminal.h"

namespace berth::testing {
namespace {

class SeccompTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    config_["mounts"].push_back(
        {{"destination", "/scratch"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
    config_["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}},
        {"syscalls",
         {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 13}},
          {{"names", {"chmod"}},
           {"action", "SCMP_ACT_ERRNO"},
           {"args", {{{"index", 1}, {"value", 0777}, {"op", "SCMP_CMP_EQ"}}}}},
          {{"names", {"fchmodat"}},
           {"action", "SCMP_ACT_ERRNO"},
           {"args", {{{"index", 2}, {"value", 0777}, {"op", "SCMP_CMP_EQ"}}}}},
          {{"names", {"sethostname"}}, {"action", "SCMP_ACT_KILL_PROCESS"}}}}};
  }
  static constexpr const char* kProbe =
      "grep '^Seccomp:' /proc/self/status; mkdir /scratch/d 2>/dev/null; echo mkdir=$?; "
      "touch /scratch/f; chmod 644 /scratch/f; echo chmod644=$?; chmod 777 /scratch/f "
      "2>/dev/null; echo chmod777=$?; sh -c 'hostname other'; echo sethostname=$?";
  static constexpr const char* kExpected =
      "Seccomp:\t2\nmkdir=1\nchmod644=0\nchmod777=1\nsethostname=159\n";
};

TEST_F(SeccompTest, FilterAppliesWithNoNewPrivileges) {
  ASSERT_TRUE(config_["process"]["noNewPrivileges"].get<bool>());
  Result r = RunContainer(kProbe);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kExpected);
}

TEST_F(SeccompTest, FilterAppliesWithoutNoNewPrivileges) {
  config_["process"]["noNewPrivileges"] = false;
  Result r = RunContainer(kProbe);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kExpected);
}

TEST_F(SeccompTest, ExecdProcessesAreConfinedToo) {
  SetScript("exec sleep 100");
  std::string id = NewId();
  ASSERT_EQ(Rt({"run", "--detach", "--bundle", bundle_, id}).exit_code, 0);
  Result r = Rt({"exec", id, "sh", "-c", kProbe});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kExpected);
}

TEST_F(SeccompTest, BadProfileIsRefusedNamingTheField) {
  config_["linux"]["seccomp"]["syscalls"][0]["names"][0] = "no_such_call";
  SetScript("true");
  ExpectCreateFails("linux.seccomp.syscalls[0].names[0]: unknown syscall");
}

TEST_F(SeccompTest, NotifyListenerGetsTheFdAndAnswersTheSyscall) {
  // A listener like a seccomp agent: receives the notify fd with the container process state,
  // then answers every mkdir of the container with EXDEV.
  std::string sock_path = dir_ + "/notify.sock";
  UniqueFd server(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, sock_path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(server.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(server.get(), 1), 0);
  config_["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"listenerPath", sock_path},
      {"listenerMetadata", "agent-metadata"},
      {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
  ShareTestDir("/out");
  SetScript("mkdir /scratch/x 2>/out/mkdir.err; echo rc=$? > /out/result");
  std::string id = NewId();

  std::string state_text;
  int answered = 0;
  std::thread agent([&] {
    UniqueFd conn(accept4(server.get(), nullptr, nullptr, SOCK_CLOEXEC));
    struct msghdr mh = {};
    char payload[8192] = {0};
    struct iovec iov = {payload, sizeof(payload) - 1};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof(control);
    if (recvmsg(conn.get(), &mh, MSG_CMSG_CLOEXEC) <= 0 || CMSG_FIRSTHDR(&mh) == nullptr) {
      return;
    }
    state_text = payload;
    int fd;
    memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
    UniqueFd notify(fd);
    struct seccomp_notif req;
    struct seccomp_notif_resp resp;
    memset(&req, 0, sizeof(req));
    if (ioctl(notify.get(), SECCOMP_IOCTL_NOTIF_RECV, &req) == 0) {
      memset(&resp, 0, sizeof(resp));
      resp.id = req.id;
      resp.error = -EXDEV;
      if (ioctl(notify.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0) {
        ++answered;
      }
    }
  });
  Result r = Rt({"create", "--bundle", bundle_, id});
  if (r.exit_code != 0) {
    shutdown(server.get(), SHUT_RDWR);
  }
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int init_pid = nlohmann::json::parse(Rt({"state", id}).out)["pid"];
  ASSERT_EQ(Rt({"start", id}).exit_code, 0);
  for (int i = 0; i < 300 && !FileExists(dir_ + "/result"); ++i) {
    usleep(10000);
  }
  agent.join();
  EXPECT_EQ(answered, 1);
  auto state = nlohmann::json::parse(state_text);
  EXPECT_EQ(state["fds"], nlohmann::json({"seccompFd"}));
  EXPECT_EQ(state["metadata"], "agent-metadata");
  EXPECT_EQ(state["state"]["id"], id);
  EXPECT_EQ(state["pid"], init_pid);
  EXPECT_EQ(ReadFile(dir_ + "/result"), "rc=1\n");
  EXPECT_NE(ReadFile(dir_ + "/mkdir.err").find("cross-device"), std::string::npos)
      << ReadFile(dir_ + "/mkdir.err");
}

}  // namespace
}  // namespace berth::testing

// exec into a running container: args, env, cwd, user, process.json, detach with pid file,
// and the terminal path (console socket) for create and exec.

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>

#include "base/file_util.h"
#include "harness.h"
#include "runtime/terminal.h"

namespace berth::testing {
namespace {

class ExecTest : public RuntimeTest {
 protected:
  std::string StartSleeper() {
    config_["hostname"] = "sleeper";
    SetScript("exec sleep 100");
    std::string id = NewId();
    Result r = Rt({"run", "--detach", "--bundle", bundle_, id});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return id;
  }
};

TEST_F(ExecTest, RunsInTheContainersNamespaces) {
  std::string id = StartSleeper();
  int pid = nlohmann::json::parse(Rt({"state", id}).out)["pid"];
  Result r = Rt({"exec", id, "sh", "-c",
                 "hostname; readlink /proc/self/ns/mnt; readlink /proc/self/ns/pid; "
                 "cat /etc/berth-image | cut -d' ' -f1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string proc = "/proc/" + std::to_string(pid) + "/ns/";
  char mnt[128], pidns[128];
  ssize_t a = readlink((proc + "mnt").c_str(), mnt, sizeof(mnt));
  ssize_t b = readlink((proc + "pid").c_str(), pidns, sizeof(pidns));
  EXPECT_EQ(r.out, "sleeper\n" + std::string(mnt, static_cast<size_t>(a)) + "\n" +
                       std::string(pidns, static_cast<size_t>(b)) + "\nberth-busybox\n");
}

TEST_F(ExecTest, EnvCwdUserAndExitCode) {
  std::string id = StartSleeper();
  Result r = Rt({"exec", "--env", "FOO=bar", "--cwd", "/tmp", "--user", "1234:5678", id, "sh", "-c",
                 "echo $FOO; pwd; id -u; id -g; exit 9"});
  EXPECT_EQ(r.exit_code, 9) << r.err;
  EXPECT_EQ(r.out, "bar\n/tmp\n1234\n5678\n");
}

TEST_F(ExecTest, ProcessJson) {
  std::string id = StartSleeper();
  nlohmann::json p = {{"args", {"sh", "-c", "echo $MODE in $(pwd)"}},
                      {"env", {"PATH=/bin", "MODE=json"}},
                      {"cwd", "/etc"},
                      {"user", {{"uid", 0}, {"gid", 0}}}};
  std::ofstream(dir_ + "/process.json") << p.dump();
  Result r = Rt({"exec", "--process", dir_ + "/process.json", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "json in /etc\n");
}

TEST_F(ExecTest, BadProcessJsonNamesTheField) {
  std::string id = StartSleeper();
  std::ofstream(dir_ + "/process.json") << R"({"args": "not-an-array", "cwd": "/"})";
  Result r = Rt({"exec", "--process", dir_ + "/process.json", id});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("process.args"), std::string::npos) << r.err;
}

TEST_F(ExecTest, DetachWritesThePidFile) {
  std::string id = StartSleeper();
  std::string pid_file = dir_ + "/exec.pid";
  Result r = Rt({"exec", "--detach", "--pid-file", pid_file, id, "sleep", "50"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int pid = std::stoi(ReadFile(pid_file));
  auto pids = nlohmann::json::parse(Rt({"ps", "--format", "json", id}).out);
  EXPECT_NE(std::find(pids.begin(), pids.end(), pid), pids.end())
      << "exec'd pid " << pid << " is not in the container's cgroup";
}

TEST_F(ExecTest, ExecIntoAStoppedContainerFails) {
  SetScript("true");
  std::string id = NewId();
  ASSERT_EQ(Rt({"run", "--detach", "--bundle", bundle_, id}).exit_code, 0);
  for (int i = 0; i < 200 && Rt({"state", id}).out.find("stopped") == std::string::npos; ++i) {
    usleep(10000);
  }
  Result r = Rt({"exec", id, "true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("stopped"), std::string::npos) << r.err;
}

TEST_F(ExecTest, ForegroundTtyExec) {
  std::string id = StartSleeper();
  Result r = Rt({"exec", "--tty", id, "sh", "-c", "tty; test -t 0 && echo stdin-is-tty"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("/dev/pts/"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stdin-is-tty"), std::string::npos) << r.out;
}

// A console socket server, as containerd-shim or conmon run one: receives the pty master.
class ConsoleServer {
 public:
  explicit ConsoleServer(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
  }
  ~ConsoleServer() { close(fd_); }
  UniqueFd Receive() {
    UniqueFd conn(accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC));
    return runtime::RecvFd(conn.get());
  }

 private:
  std::string path_;
  int fd_;
};

std::string ReadFor(int fd, int ms, const std::string& until) {
  std::string out;
  for (int waited = 0; waited < ms && out.find(until) == std::string::npos; waited += 20) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 20) > 0) {
      char buf[1024];
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) {
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
  }
  return out;
}

TEST_F(ExecTest, CreateWithTerminalSendsTheMasterOverTheConsoleSocket) {
  config_["process"]["terminal"] = true;
  config_["process"]["consoleSize"] = {{"height", 33}, {"width", 101}};
  SetScript("tty; stty size; ls -l /dev/console | cut -c1; read line; echo got:$line");
  std::string sock = dir_ + "/console.sock";
  ConsoleServer server(sock);
  std::string id = NewId();
  Result r = Rt({"create", "--console-socket", sock, "--bundle", bundle_, id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  UniqueFd master = server.Receive();
  ASSERT_TRUE(master.valid());
  ASSERT_EQ(Rt({"start", id}).exit_code, 0);
  std::string out = ReadFor(master.get(), 5000, "c\r\n");
  EXPECT_NE(out.find("/dev/pts/0"), std::string::npos) << out;
  EXPECT_NE(out.find("33 101"), std::string::npos) << out;
  ASSERT_EQ(write(master.get(), "typed\n", 6), 6);
  out = ReadFor(master.get(), 5000, "got:typed");
  EXPECT_NE(out.find("got:typed"), std::string::npos) << out;
}

TEST_F(ExecTest, TerminalWithoutConsoleSocketIsRefusedForCreate) {
  config_["process"]["terminal"] = true;
  SetScript("true");
  ExpectCreateFails("console-socket");
}

}  // namespace
}  // namespace berth::testing

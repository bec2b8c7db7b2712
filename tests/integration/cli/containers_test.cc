// `berth` container commands end to end against a daemon that speaks the Engine API.
//
// CliAgainstDaemon runs against the daemon at $BERTH_CLI_TEST_HOST (unix:///path) when set,
// which must then have busybox:latest or accept `berth load`. Otherwise it starts a private
// berthd — or, with BERTH_CLI_TEST_DAEMON=dockerd, a private containerd + dockerd (no bridge,
// no iptables), to show the CLI speaks Docker's API and not only Berth's — in a temp dir
// (own root, state, sockets), loads the busybox image into it, and stops it by pid and
// removes the dir at the end. Skipped, with the reason, when that is not possible.

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "base/file_util.h"
#include "harness.h"

namespace berth::testing {
namespace {

std::string Berth() { return BERTH_TEST_BERTH; }

bool Executable(const char* path) { return access(path, X_OK) == 0; }

pid_t SpawnDaemon(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

void StopDaemon(pid_t pid) {
  if (pid <= 0) {
    return;
  }
  kill(pid, SIGTERM);
  for (int i = 0; i < 300; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

// Detaches whatever the daemons left mounted under `dir` (deepest first).
void UnmountUnder(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> points;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point.rfind(dir + "/", 0) == 0) {
      points.push_back(point);
    }
  }
  std::sort(points.rbegin(), points.rend());
  for (const std::string& p : points) {
    umount2(p.c_str(), MNT_DETACH);
  }
}

class CliAgainstDaemon : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    if (const char* host = getenv("BERTH_CLI_TEST_HOST"); host != nullptr && *host != '\0') {
      host_ = host;
    } else if (geteuid() != 0) {
      skip_ = "needs root to run a private daemon (or BERTH_CLI_TEST_HOST)";
      return;
    } else if (const char* d = getenv("BERTH_CLI_TEST_DAEMON");
               d == nullptr || *d == '\0' || std::string(d) == "berthd") {
      StartBerthd();
      if (!skip_.empty()) {
        return;
      }
    } else if (!Executable("/usr/sbin/dockerd") || !Executable("/usr/bin/containerd")) {
      skip_ = "dockerd or containerd is not installed (apt-get install docker.io)";
      return;
    } else {
      StartDockerd();
      if (!skip_.empty()) {
        return;
      }
    }
    Result load =
        RunProgram({Berth(), "-H", host_, "load", "-i", BERTH_TEST_BUSYBOX_IMAGE}, "", 120);
    if (load.exit_code != 0) {
      setup_error_ = "berth load: " + load.err;
    }
  }

  static void TearDownTestSuite() {
    StopDaemon(berthd_);
    if (!net_tag_.empty()) {
      // berthd leaves its bridges (as dockerd does): this instance's go with the test.
      std::string links = RunProgram({"/usr/sbin/ip", "-o", "link", "show"}).out;
      std::istringstream lines(links);
      for (std::string line; std::getline(lines, line);) {
        size_t at = line.find(": bc" + net_tag_ + "-");
        if (at == std::string::npos) continue;
        std::string name = line.substr(at + 2, line.find_first_of(":@", at + 2) - at - 2);
        RunProgram({"/usr/sbin/ip", "link", "del", name});
      }
      RunProgram({"/usr/sbin/nft", "delete", "table", "inet", "berthcli" + net_tag_});
      RunProgram({"/usr/sbin/nft", "delete", "table", "bridge", "berthcli" + net_tag_});
      net_tag_.clear();
    }
    StopDaemon(dockerd_);
    StopDaemon(containerd_);
    dockerd_ = containerd_ = berthd_ = 0;
    for (const std::string& d : made_run_dirs_) {
      // Only while empty: a daemon someone else started meanwhile keeps its files.
      std::error_code ec;
      for (const char* sub : {"/plugins", "/s"}) std::filesystem::remove(d + sub, ec);
      std::filesystem::remove(d, ec);
    }
    made_run_dirs_.clear();
    if (!dir_.empty()) {
      UnmountUnder(dir_);
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      dir_.clear();
    }
  }

 protected:
  void SetUp() override {
    if (!skip_.empty()) {
      GTEST_SKIP() << skip_;
    }
    ASSERT_EQ(setup_error_, "");
  }

  void TearDown() override {
    for (const std::string& name : names_) {
      RunProgram({Berth(), "-H", host_, "rm", "-f", name});
    }
  }

  // A container name unique to this run, removed at the end of the test.
  std::string Name() {
    names_.push_back("berthcli-" + std::to_string(getpid()) + "-" + std::to_string(names_.size()));
    return names_.back();
  }

  Result B(std::vector<std::string> args, const std::string& input = "", int timeout_s = 60) {
    args.insert(args.begin(), {Berth(), "-H", host_});
    return RunProgram(args, input, timeout_s);
  }

  static void StartBerthd() {
    char tmpl[] = "/tmp/berth-cli-berthd-XXXXXX";
    dir_ = mkdtemp(tmpl);
    host_ = "unix://" + dir_ + "/berth.sock";
    // Networking of its own (never the installation's berth0 or nftables table): a bridge
    // and table named after this process, subnets in 198.18.0.0/15 no host route uses.
    std::string routes = RunProgram({"/usr/sbin/ip", "-4", "route", "show", "table", "all"}).out;
    int third = -1;
    for (int i = 0; i < 256 && third < 0; ++i) {
      int candidate = (getpid() + i) % 256;
      if (routes.find("198.18." + std::to_string(candidate) + ".") == std::string::npos) {
        third = candidate;
      }
    }
    int pool = -1;
    for (int i = 0; i < 16 && pool < 0; ++i) {
      int candidate = ((getpid() + i) % 16) * 16;
      bool used = false;
      for (int k = 0; k < 16; ++k) {
        used = used ||
               routes.find("198.19." + std::to_string(candidate + k) + ".") != std::string::npos;
      }
      if (!used) pool = candidate;
    }
    net_tag_ = std::to_string(getpid() % 100000);
    std::ofstream(dir_ + "/daemon.json")
        << "{\"bridge\":\"bc" << net_tag_ << "-0\",\"bridge-prefix\":\"bc" << net_tag_
        << "-\",\"default-subnet\":\"198.18." << third << ".0/24\",\"nftables-table\":"
        << "\"berthcli" << net_tag_ << "\",\"default-address-pools\":[{\"base\":\"198.19." << pool
        << ".0/20\",\"size\":24}]}";
    berthd_ = SpawnDaemon({BERTH_TEST_BERTHD, "--root", dir_ + "/root", "--state", dir_ + "/state",
                           "-H", host_, "--config-file", dir_ + "/daemon.json"},
                          dir_ + "/berthd.log");
    WaitForDaemon("berthd");
  }

  static void WaitForDaemon(const std::string& what) {
    for (int i = 0; i < 120; ++i) {
      if (RunProgram({Berth(), "-H", host_, "version"}, "", 10).exit_code == 0) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    setup_error_ = what + " did not answer on " + host_ + " (log in " + dir_ + ")";
  }

  static void StartDockerd() {
    // dockerd and containerd make /run/docker/plugins and /run/containerd/s whatever their
    // roots; what this test made goes again at its end.
    for (const char* d : {"/run/docker", "/run/containerd"}) {
      if (!FileExists(d)) made_run_dirs_.push_back(d);
    }
    char tmpl[] = "/tmp/berth-cli-dockerd-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::ofstream(dir_ + "/containerd.toml")
        << "version = 2\nroot = \"" << dir_ << "/containerd-root\"\nstate = \"" << dir_
        << "/containerd-state\"\n[grpc]\n  address = \"" << dir_ << "/containerd.sock\"\n"
        << "[ttrpc]\n  address = \"" << dir_ << "/containerd.sock.ttrpc\"\n[debug]\n"
        << "  address = \"\"\n[plugins]\n  [plugins.\"io.containerd.internal.v1.opt\"]\n"
        << "    path = \"" << dir_ << "/containerd-opt\"\n";
    containerd_ = SpawnDaemon({"/usr/bin/containerd", "--config", dir_ + "/containerd.toml"},
                              dir_ + "/containerd.log");
    host_ = "unix://" + dir_ + "/docker.sock";
    for (int i = 0; i < 300 && !FileExists(dir_ + "/containerd.sock"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    dockerd_ =
        SpawnDaemon({"/usr/sbin/dockerd", "--containerd=" + dir_ + "/containerd.sock",
                     "--data-root", dir_ + "/data", "--exec-root", dir_ + "/exec", "--pidfile",
                     dir_ + "/dockerd.pid", "-H", host_, "--bridge=none", "--iptables=false"},
                    dir_ + "/dockerd.log");
    WaitForDaemon("dockerd");
  }

  static inline std::string host_, dir_, skip_, setup_error_, net_tag_;
  static inline pid_t containerd_ = 0, dockerd_ = 0, berthd_ = 0;
  static inline std::vector<std::string> made_run_dirs_;
  std::vector<std::string> names_;
};

TEST_F(CliAgainstDaemon, RunRmGivesOutputAndExitCodeAndLeavesNothing) {
  std::string name = Name();
  Result r = B({"run", "--rm", "--name", name, "--network", "none", "busybox", "sh", "-c",
                "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  Result ps = B({"ps", "-a", "-q", "--filter", "name=" + name});
  EXPECT_EQ(ps.exit_code, 0) << ps.err;
  EXPECT_EQ(ps.out, "");
}

TEST_F(CliAgainstDaemon, RunStartFailureExitCodes) {
  Result missing = B({"run", "--rm", "--network", "none", "busybox", "/nonexistent"});
  EXPECT_EQ(missing.exit_code, 127) << missing.err;
  Result denied = B({"run", "--rm", "--network", "none", "busybox", "/etc/passwd"});
  EXPECT_EQ(denied.exit_code, 126) << denied.err;
  Result bad = B({"run", "--rm", "--network", "none", "-m", "lots", "busybox", "true"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_NE(bad.err.find("invalid size: 'lots'"), std::string::npos) << bad.err;
}

TEST_F(CliAgainstDaemon, DetachedLogsExecPsRm) {
  std::string name = Name();
  Result run = B({"run", "-d", "--name", name, "--network", "none", "-e", "FOO=bar", "busybox",
                  "sh", "-c", "echo started; echo warn >&2; exec sleep 1000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(run.out.size(), 65u) << run.out;  // the id and a newline
  std::string id = run.out.substr(0, 64);

  Result logs;
  for (int i = 0; i < 50; ++i) {
    logs = B({"logs", name});
    if (logs.out == "started\n" && logs.err == "warn\n") {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(logs.out, "started\n");  // stdout and stderr demultiplexed
  EXPECT_EQ(logs.err, "warn\n");
  Result stamped = B({"logs", "-t", "--since", "10m", name});
  EXPECT_EQ(stamped.out.substr(stamped.out.size() - 9), " started\n") << stamped.out;

  Result exec = B({"exec", "-w", "/tmp", name, "sh", "-c", "echo $FOO $(pwd); exit 4"});
  EXPECT_EQ(exec.exit_code, 4) << exec.err;
  EXPECT_EQ(exec.out, "bar /tmp\n");
  Result exec_in = B({"exec", "-i", name, "cat"}, "to exec\n");
  EXPECT_EQ(exec_in.out, "to exec\n") << exec_in.err;

  Result ps = B({"ps", "--filter", "name=" + name});
  EXPECT_EQ(ps.exit_code, 0) << ps.err;
  EXPECT_EQ(ps.out.rfind("CONTAINER ID   IMAGE     COMMAND ", 0), 0u) << ps.out;
  EXPECT_NE(ps.out.find(id.substr(0, 12) + "   busybox   \"sh -c 'echo started…\"   "),
            std::string::npos)
      << ps.out;
  EXPECT_NE(ps.out.find(" Up "), std::string::npos) << ps.out;
  Result fmt = B({"ps", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}}", "--filter",
                  "name=" + name});
  EXPECT_EQ(fmt.out, id + " " + name + " running\n");
  Result inspect = B({"inspect", "-f", "{{.Config.Tty}} {{.State.Running}}", name});
  EXPECT_EQ(inspect.out, "false true\n");

  Result rm = B({"rm", "-f", name, "berthcli-no-such-container"});
  EXPECT_EQ(rm.exit_code, 1);
  EXPECT_EQ(rm.out, name + "\n");
  EXPECT_NE(rm.err.find("No such container: berthcli-no-such-container"), std::string::npos)
      << rm.err;
  EXPECT_NE(B({"inspect", "--type", "container", name}).exit_code, 0);
}

// berth network create/ls/inspect/connect/disconnect/rm, run -p and port. Against berthd only:
// the dockerd of this test runs without a bridge.
TEST_F(CliAgainstDaemon, NetworksPublishAndPort) {
  if (net_tag_.empty()) {
    GTEST_SKIP() << "the daemon under test has no bridge networking";
  }
  std::string net = "berthcli-net-" + std::to_string(getpid());
  std::string web = Name(), other = Name();
  Result created = B({"network", "create", "--label", "k=v", net});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string id = created.out.substr(0, 64);
  Result ls = B({"network", "ls", "--filter", "label=k=v", "--format", "{{.Name}} {{.Driver}}"});
  EXPECT_EQ(ls.out, net + " bridge\n") << ls.err;
  Result run = B({"run", "-d", "--name", web, "--network", net, "--network-alias", "site", "-p",
                  "127.0.0.1::80", "busybox", "sh", "-c",
                  "mkdir /www && echo hi > /www/index.html && exec httpd -f -p 80 -h /www"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  Result port = B({"port", web});
  EXPECT_EQ(port.out.rfind("80/tcp -> 127.0.0.1:", 0), 0u) << port.out << port.err;
  EXPECT_EQ(B({"port", web, "81"}).exit_code, 1);
  Result peer = B({"run", "--rm", "--network", net, "busybox", "sh", "-c",
                   "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 site 80"});
  EXPECT_NE(peer.out.find("\r\n\r\nhi\n"), std::string::npos) << peer.out << peer.err;
  ASSERT_EQ(
      B({"run", "-d", "--name", other, "--network", "none", "busybox", "sleep", "100"}).exit_code,
      0);
  Result connect = B({"network", "connect", net, other});
  EXPECT_EQ(connect.exit_code, 1) << "a container on --network none cannot join";
  Result inspect = B({"network", "inspect", "-f", "{{.Id}} {{len .Containers}}", net});
  EXPECT_EQ(inspect.out, id + " 1\n") << inspect.err;
  Result busy = B({"network", "rm", net});
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_NE(busy.err.find("active endpoints"), std::string::npos) << busy.err;
  EXPECT_EQ(B({"rm", "-f", web}).exit_code, 0);
  Result rm = B({"network", "rm", net});
  EXPECT_EQ(rm.out, net + "\n") << rm.err;
  EXPECT_NE(B({"network", "inspect", net}).exit_code, 0);
}

TEST_F(CliAgainstDaemon, StatsNoStreamTableAndFormat) {
  std::string name = Name();
  ASSERT_EQ(
      B({"run", "-d", "--name", name, "--network", "none", "-m", "32m", "busybox", "sleep", "1000"})
          .exit_code,
      0);
  Result table = B({"stats", "--no-stream", name});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out.rfind("CONTAINER ID   NAME", 0), 0u) << table.out;
  EXPECT_NE(table.out.find("CPU %"), std::string::npos) << table.out;
  Result fmt = B({"stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}", name});
  EXPECT_EQ(fmt.exit_code, 0) << fmt.err;
  EXPECT_EQ(fmt.out.rfind(name + " 1 ", 0), 0u) << fmt.out;
  EXPECT_NE(fmt.out.find(" / 32MiB\n"), std::string::npos) << fmt.out;
  Result missing = B({"stats", "--no-stream", "berthcli-no-such-container"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("No such container"), std::string::npos) << missing.err;
  B({"rm", "-f", name});
}

TEST_F(CliAgainstDaemon, DiffCommitExport) {
  std::string name = Name();
  ASSERT_EQ(B({"run", "-d", "--name", name, "--network", "none", "busybox", "sh", "-c",
               "echo hi > /root/f; rm /bin/vi; sleep 1000"})
                .exit_code,
            0);
  Result diff;
  for (int i = 0; i < 50; ++i) {
    diff = B({"diff", name});
    if (diff.out.find("D /bin/vi") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(diff.out.find("C /bin\nD /bin/vi\n"), std::string::npos) << diff.out << diff.err;
  EXPECT_NE(diff.out.find("A /root/f\n"), std::string::npos) << diff.out;
  std::string image = name + "-img:1";
  Result commit = B({"commit", "-m", "msg", "-c", "CMD cat /root/f", name, image});
  EXPECT_EQ(commit.exit_code, 0) << commit.err;
  EXPECT_EQ(commit.out.rfind("sha256:", 0), 0u) << commit.out;
  Result run = B({"run", "--rm", "--network", "none", image});
  EXPECT_EQ(run.out, "hi\n") << run.err;
  Result exported = B({"export", name});
  EXPECT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.out.find("root/f"), std::string::npos);  // a tar with the file in it
  B({"rm", "-f", name});
  B({"rmi", image});
}

TEST_F(CliAgainstDaemon, SystemDfAndPrune) {
  std::string name = Name();
  ASSERT_EQ(B({"run", "--name", name, "--network", "none", "busybox", "sh", "-c",
               "head -c 200000 /dev/zero > /f"})
                .exit_code,
            0);
  Result df = B({"system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Reclaimable}}"});
  EXPECT_EQ(df.exit_code, 0) << df.err;
  EXPECT_NE(df.out.find("Containers 1 "), std::string::npos) << df.out;
  EXPECT_EQ(df.out.find("Containers 1 0B"), std::string::npos) << df.out;  // it wrote 200 kB
  Result verbose = B({"system", "df", "-v"});
  EXPECT_NE(verbose.out.find("Containers space usage:"), std::string::npos) << verbose.out;
  EXPECT_NE(verbose.out.find(name), std::string::npos) << verbose.out;
  Result prune = B({"system", "prune", "-f"});
  EXPECT_EQ(prune.exit_code, 0) << prune.err;
  EXPECT_NE(prune.out.find("Deleted Containers:"), std::string::npos) << prune.out;
  EXPECT_NE(prune.out.find("Total reclaimed space:"), std::string::npos) << prune.out;
  EXPECT_NE(B({"inspect", "--type", "container", name}).exit_code, 0);
  EXPECT_EQ(B({"image", "inspect", "busybox"}).exit_code, 0);  // in use? no, but not dangling
}

TEST_F(CliAgainstDaemon, CpBothWaysWithAbsoluteHostPaths) {
  std::string name = Name();
  ASSERT_EQ(
      B({"run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "1000"}).exit_code,
      0);
  char tmpl[] = "/tmp/berth-cli-cp.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string tmp = tmpl;
  MkdirAll(tmp + "/src/sub", 0755);
  WriteFileAtomic(tmp + "/src/sub/f", "into\n", 0644);
  Result in = B({"cp", tmp + "/src", name + ":/tmp/"});
  EXPECT_EQ(in.exit_code, 0) << in.err;
  EXPECT_EQ(B({"exec", name, "cat", "/tmp/src/sub/f"}).out, "into\n");
  // Out to an absolute path that does not exist: the directory gets that name.
  Result out = B({"cp", name + ":/tmp/src", tmp + "/out"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(ReadFile(tmp + "/out/sub/f"), "into\n");
  // "SRC/." into a new directory: the content, not SRC itself.
  Result dot = B({"cp", name + ":/tmp/src/.", tmp + "/dot"});
  EXPECT_EQ(dot.exit_code, 0) << dot.err;
  EXPECT_EQ(ReadFile(tmp + "/dot/sub/f"), "into\n");
  RemoveAll(tmp);
  B({"rm", "-f", name});
}

// cp streams the tar (made on one thread while the other sends it; unpacked while it
// arrives): more than the pieces it holds in flight, both ways, through stdin and stdout, and
// an unpacking that fails early ends the copy instead of leaving it waiting.
TEST_F(CliAgainstDaemon, CpStreamsLargeTreesBothWaysAndThroughStdio) {
  std::string name = Name();
  ASSERT_EQ(
      B({"run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "1000"}).exit_code,
      0);
  char tmpl[] = "/tmp/berth-cli-cp.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string tmp = tmpl;
  struct Cleanup {  // also when an assertion ends the test early
    std::function<void()> run;
    ~Cleanup() { run(); }
  } cleanup{[&] {
    RemoveAll(tmp);
    B({"rm", "-f", name});
  }};
  MkdirAll(tmp + "/src/sub", 0755);
  std::vector<std::string> content;
  for (int i = 0; i < 10; ++i) {
    std::string data;
    for (int j = 0; data.size() < size_t{1 << 20} + 333 * static_cast<size_t>(i); ++j) {
      data += std::to_string(i) + ":" + std::to_string(j) + "\n";
    }
    content.push_back(data);
    WriteFileAtomic(tmp + "/src/sub/f" + std::to_string(i), data, 0640);
  }
  ASSERT_EQ(symlink("sub/f3", (tmp + "/src/link").c_str()), 0);
  Result in = B({"cp", tmp + "/src", name + ":/tmp/"});
  ASSERT_EQ(in.exit_code, 0) << in.err;
  Result out = B({"cp", name + ":/tmp/src", tmp + "/back"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(ReadFile(tmp + "/back/sub/f" + std::to_string(i)), content[i]) << i;
  }
  struct stat st;
  ASSERT_EQ(stat((tmp + "/back/sub/f0").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  char link[64] = {};
  EXPECT_EQ(readlink((tmp + "/back/link").c_str(), link, sizeof(link) - 1), 6);
  EXPECT_STREQ(link, "sub/f3");
  // A tar to stdout, and that tar back in through stdin.
  Result tar = B({"cp", name + ":/tmp/src", "-"});
  ASSERT_EQ(tar.exit_code, 0) << tar.err;
  EXPECT_GT(tar.out.size(), size_t{10} << 20);
  EXPECT_NE(tar.out.find("src/sub/f9"), std::string::npos);
  ASSERT_EQ(B({"exec", name, "mkdir", "/tmp/again"}).exit_code, 0);
  Result piped = B({"cp", "-", name + ":/tmp/again"}, tar.out);
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(B({"exec", name, "head", "-c", "8", "/tmp/again/src/sub/f7"}).out, "7:0\n7:1\n");
  // A directory in the way of the first file: the copy fails at once, with the reason.
  MkdirAll(tmp + "/clash/src/link/x", 0755);
  Result clash = B({"cp", name + ":/tmp/src", tmp + "/clash"}, "", 30);
  EXPECT_NE(clash.exit_code, 0);
  EXPECT_NE(clash.err.find("directory"), std::string::npos) << clash.err;
}

TEST_F(CliAgainstDaemon, WaitPrintsTheExitCode) {
  std::string name = Name();
  ASSERT_EQ(B({"run", "-d", "--name", name, "--network", "none", "busybox", "sh", "-c",
               "sleep 0.3; exit 5"})
                .exit_code,
            0);
  Result wait = B({"wait", name});
  EXPECT_EQ(wait.exit_code, 0) << wait.err;
  EXPECT_EQ(wait.out, "5\n");
}

TEST_F(CliAgainstDaemon, RunInteractiveCopiesPipedStdin) {
  std::string input;
  for (int i = 0; i < 2000; ++i) {
    input += "line " + std::to_string(i) + "\n";
  }
  Result r = B({"run", "-i", "--rm", "--network", "none", "busybox", "cat"}, input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, input);
  Result wc = B({"run", "-i", "--rm", "--network", "none", "busybox", "wc", "-l"}, "a\nb\n");
  EXPECT_EQ(wc.out, "2\n");
}

// berth build on a multi-stage context in a temp dir: the tagged image runs, --iidfile and -q
// give its ID, a second build marks every step the cache gave, -f - and a Dockerfile outside
// the context go in hidden from COPY, a failing RUN's code is the exit status, a parse error
// and a missing context exit 1. RUN without a network: the dockerd of this test has no bridge.
TEST_F(CliAgainstDaemon, BuildTagsCachesAndFails) {
  char tmpl[] = "/tmp/berth-cli-build.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string ctx = dir + "/ctx";
  MkdirAll(ctx + "/sub", 0755);
  WriteFileAtomic(
      ctx + "/Dockerfile",
      "FROM busybox AS base\nCOPY a /a\nRUN cp /a /built\n\nFROM busybox\n"
      "ARG WORD=default\nCOPY --from=base /built /built\nCOPY sub/ /sub/\n"
      "RUN echo \"$WORD\" > /word\nCMD [\"sh\", \"-c\", \"cat /built /word; ls /sub\"]\n",
      0644);
  WriteFileAtomic(ctx + "/a", "A\n", 0644);
  WriteFileAtomic(ctx + "/sub/f", "F\n", 0644);
  WriteFileAtomic(ctx + "/sub/ignored", "no\n", 0644);
  WriteFileAtomic(ctx + "/.dockerignore", "sub/ignored\n", 0644);
  std::string image = "berthcli-build-" + std::to_string(getpid()) + ":1";
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };

  Result first = B({"build", "--no-cache", "--network", "none", "-t", image, "--build-arg",
                    "WORD=hi", "--iidfile", dir + "/iid", ctx},
                   "", 120);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_EQ(first.out.rfind("Sending build context to Docker daemon ", 0), 0u) << first.out;
  EXPECT_NE(first.out.find("Step 3/9 : RUN cp /a /built\n"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("\n => 3/9 DONE "), std::string::npos) << first.out;
  EXPECT_EQ(count(first.out, " DONE "), 9u) << first.out;
  EXPECT_EQ(count(first.out, "CACHED"), 0u) << first.out;
  std::string iid = ReadFile(dir + "/iid");
  ASSERT_EQ(iid.size(), 71u) << iid;
  EXPECT_EQ(iid.rfind("sha256:", 0), 0u) << iid;
  EXPECT_NE(first.out.find(" => 9/9 DONE "), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("s\nSuccessfully built " + iid.substr(7, 12) + "\n"), std::string::npos)
      << first.out;
  EXPECT_NE(first.out.find("Successfully tagged " + image + "\n"), std::string::npos);
  Result run = B({"run", "--rm", "--network", "none", image});
  EXPECT_EQ(run.out, "A\nhi\nf\n") << run.err;

  Result again = B({"build", "--network", "none", "-t", image, "--build-arg", "WORD=hi", ctx});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("Step 3/9 : RUN cp /a /built\n ---> Using cache\n ---> "),
            std::string::npos)
      << again.out;
  EXPECT_NE(again.out.find("\n => 3/9 CACHED "), std::string::npos) << again.out;
  EXPECT_EQ(count(again.out, " CACHED "), 7u) << again.out;  // all but the two FROMs
  EXPECT_EQ(count(again.out, " DONE "), 2u) << again.out;
  Result quiet = B({"build", "-q", "--network", "none", "--build-arg", "WORD=hi", ctx});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.out, iid + "\n");

  // A Dockerfile from stdin, and one outside the context: COPY . sees neither.
  const std::string listing = "FROM busybox\nCOPY . /ctx/\nCMD [\"sh\", \"-c\", \"ls -A /ctx\"]\n";
  Result from_stdin = B({"build", "-q", "--network", "none", "-f", "-", ctx}, listing);
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  Result ls = B({"run", "--rm", "--network", "none", from_stdin.out.substr(0, 71)});
  EXPECT_EQ(ls.out, ".dockerignore\nDockerfile\na\nsub\n") << ls.err;
  WriteFileAtomic(dir + "/Elsewhere", listing, 0644);
  Result outside = B({"build", "-q", "--network", "none", "-f", dir + "/Elsewhere", ctx});
  ASSERT_EQ(outside.exit_code, 0) << outside.err;
  ls = B({"run", "--rm", "--network", "none", outside.out.substr(0, 71)});
  EXPECT_EQ(ls.out, ".dockerignore\nDockerfile\na\nsub\n") << ls.err;

  Result fail = B({"build", "--network", "none", "--iidfile", dir + "/iid", "-"},
                  "FROM busybox\nRUN echo doing; exit 3\n");
  EXPECT_EQ(fail.exit_code, 3) << fail.out << fail.err;
  EXPECT_NE(fail.out.find("doing\n => 2/2 ERROR "), std::string::npos) << fail.out;
  EXPECT_NE(fail.err.find("returned a non-zero code: 3"), std::string::npos) << fail.err;
  EXPECT_FALSE(FileExists(dir + "/iid")) << "the last build's ID is gone";
  Result bad = B({"build", "-"}, "FORM busybox\n");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("FORM"), std::string::npos) << bad.err;
  Result missing = B({"build", dir + "/nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "Error: unable to prepare context: path \"" + dir + "/nope\" not found\n");

  Result prune = B({"builder", "prune", "-a", "-f"});
  EXPECT_EQ(prune.exit_code, 0) << prune.err;
  EXPECT_NE(prune.out.find("Total reclaimed space: "), std::string::npos) << prune.out;

  for (const std::string& id : {from_stdin.out.substr(0, 71), outside.out.substr(0, 71)}) {
    B({"rmi", "-f", id});
  }
  B({"rmi", image});
  RemoveAll(dir);
}

}  // namespace
}  // namespace berth::testing

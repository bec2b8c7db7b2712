// berth-shim keeps a container under the hardened default spec, driven the way berthd drives
// it (shim/client.h): spawned detached, attaches handed over as raw sockets, then start;
// output in the json-file log, the exit record, the runtime state removed.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "harness.h"
#include "shim/client.h"
#include "shim/logfile.h"

namespace berth::testing {
namespace {

std::string ShimPath() {
  const char* env = getenv("BERTH_SHIM");
  return env != nullptr ? env : BERTH_TEST_SHIM;
}

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// Reads until EOF or `timeout_ms` passed.
std::string ReadAll(int fd, int timeout_ms = 20000) {
  std::string data;
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[65536];
  while (true) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    end - std::chrono::steady_clock::now())
                                    .count());
    struct pollfd p = {fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, left) <= 0) {
      ADD_FAILURE() << "no EOF within " << timeout_ms << " ms; got: " << data;
      return data;
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) {
      return data;
    }
    data.append(buf, static_cast<size_t>(n));
  }
}

// Reads until `needle` appeared (or the timeout); returns everything read.
std::string ReadUntil(int fd, const std::string& needle, int timeout_ms = 10000) {
  std::string data;
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[4096];
  while (data.find(needle) == std::string::npos) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    end - std::chrono::steady_clock::now())
                                    .count());
    struct pollfd p = {fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, left) <= 0) {
      ADD_FAILURE() << "\"" << needle << "\" did not arrive; got: " << data;
      break;
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) {
      ADD_FAILURE() << "EOF before \"" << needle << "\"; got: " << data;
      break;
    }
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    ASSERT_GT(n, 0) << strerror(errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string Frame(int stream, const std::string& payload) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(stream);
  uint32_t n = static_cast<uint32_t>(payload.size());
  f[4] = static_cast<char>(n >> 24);
  f[5] = static_cast<char>(n >> 16);
  f[6] = static_cast<char>(n >> 8);
  f[7] = static_cast<char>(n);
  return f + payload;
}

// The frames of a stream merged per stream, in order: a process may write a line in pieces.
std::string Merged(const std::string& framed) {
  std::string out;
  int last = -1;
  for (size_t at = 0; at + 8 <= framed.size();) {
    int stream = static_cast<unsigned char>(framed[at]);
    size_t n = (static_cast<size_t>(static_cast<unsigned char>(framed[at + 4])) << 24) |
               (static_cast<size_t>(static_cast<unsigned char>(framed[at + 5])) << 16) |
               (static_cast<size_t>(static_cast<unsigned char>(framed[at + 6])) << 8) |
               static_cast<size_t>(static_cast<unsigned char>(framed[at + 7]));
    if (stream != last) {
      out += "[" + std::to_string(stream) + "]";
      last = stream;
    }
    out += framed.substr(at + 8, n);
    at += 8 + n;
  }
  return out;
}

// Splits Docker's 8-byte framed stream into stdout and stderr text.
std::map<int, std::string> Deframe(const std::string& data) {
  std::map<int, std::string> by_stream;
  size_t i = 0;
  while (i + 8 <= data.size()) {
    uint32_t n = (static_cast<uint8_t>(data[i + 4]) << 24) |
                 (static_cast<uint8_t>(data[i + 5]) << 16) |
                 (static_cast<uint8_t>(data[i + 6]) << 8) | static_cast<uint8_t>(data[i + 7]);
    EXPECT_TRUE(data[i + 1] == 0 && data[i + 2] == 0 && data[i + 3] == 0);
    EXPECT_LE(i + 8 + n, data.size()) << "a truncated frame";
    by_stream[data[i]] += data.substr(i + 8, n);
    i += 8 + n;
  }
  EXPECT_EQ(i, data.size()) << "trailing bytes that are no frame";
  return by_stream;
}

// A client connection: `theirs` goes to the shim, the test talks on `ours`.
struct Conn {
  UniqueFd ours, theirs;
};

Conn SocketPair() {
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  return Conn{UniqueFd(sv[0]), UniqueFd(sv[1])};
}

class ShimTest : public RuntimeTest {
 protected:
  void TearDown() override {
    // A shim still running (a failed test) is killed by its pidfd; the harness then removes
    // the container and checks that nothing was left.
    for (auto& [pid, fd] : shims_) {
      struct pollfd p = {fd.get(), POLLIN, 0};
      if (poll(&p, 1, 0) == 0) {
        syscall(SYS_pidfd_send_signal, fd.get(), SIGKILL, nullptr, 0);
        poll(&p, 1, 5000);
      }
    }
    RuntimeTest::TearDown();
  }

  shim::SpawnOptions Options(const std::string& id) {
    shim::SpawnOptions o;
    o.shim_binary = ShimPath();
    o.id = id;
    o.bundle = bundle_;
    o.runtime_root = state_;
    o.log_path = dir_ + "/ctr.log";
    o.exit_path = dir_ + "/exit.json";
    o.socket_path = dir_ + "/shim.sock";
    o.shim_log = dir_ + "/shim.log";
    return o;
  }

  // Spawns a detached shim for the current config and remembers it (a pidfd) for cleanup.
  shim::Spawned Spawn(const shim::SpawnOptions& o) {
    shim::Spawned s = shim::Spawn(o);
    int fd = PidfdOpen(s.shim_pid);
    EXPECT_GE(fd, 0) << strerror(errno);
    shims_.emplace_back(s.shim_pid, UniqueFd(fd));
    return s;
  }
  shim::Spawned Spawn(const std::string& id) { return Spawn(Options(id)); }

  shim::Client Connect() { return shim::Client::Connect(dir_ + "/shim.sock"); }

  // Waits for the last spawned shim to exit.
  bool WaitShim(int timeout_ms = 20000) {
    struct pollfd p = {shims_.back().second.get(), POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1;
  }

  bool ShimRunning() {
    struct pollfd p = {shims_.back().second.get(), POLLIN, 0};
    return poll(&p, 1, 0) == 0;
  }

  nlohmann::json ExitRecord() { return nlohmann::json::parse(ReadFile(dir_ + "/exit.json")); }

  std::vector<nlohmann::json> LogLines() {
    std::vector<nlohmann::json> lines;
    std::istringstream in(ReadFile(dir_ + "/ctr.log"));
    std::string line;
    while (std::getline(in, line)) {
      lines.push_back(nlohmann::json::parse(line));
    }
    return lines;
  }

  std::string ShimLog() { return ReadFile(dir_ + "/shim.log"); }

  std::vector<std::pair<pid_t, UniqueFd>> shims_;
};

TEST_F(ShimTest, RunsTheContainerToItsEnd) {
  SetScript("echo out1; echo err1 >&2; printf 'no newline'; exit 3");
  std::string id = NewId();
  shim::Spawned s = Spawn(id);
  EXPECT_GT(s.pid, 1);
  Connect().Start();
  ASSERT_TRUE(WaitShim()) << ShimLog();
  std::vector<nlohmann::json> lines = LogLines();
  ASSERT_EQ(lines.size(), 3u) << ReadFile(dir_ + "/ctr.log");
  std::map<std::string, std::string> by_text;
  for (const auto& l : lines) by_text[l["log"]] = l["stream"];
  EXPECT_EQ(by_text["out1\n"], "stdout");
  EXPECT_EQ(by_text["err1\n"], "stderr");
  EXPECT_EQ(by_text["no newline"], "stdout") << "the last partial line is flushed";
  nlohmann::json exit = ExitRecord();
  EXPECT_EQ(exit["ExitCode"], 3);
  EXPECT_EQ(exit["Pid"], s.pid);
  EXPECT_EQ(exit["FinishedAt"].get<std::string>().back(), 'Z');
  EXPECT_FALSE(FileExists(state_ + "/" + id)) << "the runtime state is removed";
  EXPECT_FALSE(FileExists(dir_ + "/shim.sock")) << "the socket is removed";
}

TEST_F(ShimTest, EveryLineArrivesInOrder) {
  // More than a pipe buffer holds, written right before the exit: nothing may be lost when
  // the init is reaped before its pipes are drained.
  SetScript("seq 1 20000");
  Spawn(NewId());
  Connect().Start();
  ASSERT_TRUE(WaitShim()) << ShimLog();
  EXPECT_EQ(ExitRecord()["ExitCode"], 0);
  std::vector<nlohmann::json> lines = LogLines();
  ASSERT_EQ(lines.size(), 20000u);
  for (size_t i = 0; i < lines.size(); i += 997) {
    EXPECT_EQ(lines[i]["log"], std::to_string(i + 1) + "\n");
  }
  EXPECT_EQ(lines.back()["log"], "20000\n");
}

TEST_F(ShimTest, AttachBeforeStartGetsAllOutputFramed) {
  SetScript("echo hi; sleep 0.2; echo err >&2; sleep 0.2; printf 'x'");
  Spawn(NewId());
  shim::Client c = Connect();
  Conn both = SocketPair(), out_only = SocketPair();
  c.Attach(both.theirs.get(), {});
  both.theirs.Reset();
  shim::AttachOptions o;
  o.stderr = false;
  c.Attach(out_only.theirs.get(), o);
  out_only.theirs.Reset();
  shutdown(both.ours.get(), SHUT_WR);  // the CLI half-closes without stdin: output goes on
  c.Start();
  EXPECT_EQ(ReadAll(both.ours.get()), Frame(1, "hi\n") + Frame(2, "err\n") + Frame(1, "x"));
  EXPECT_EQ(ReadAll(out_only.ours.get()), Frame(1, "hi\n") + Frame(1, "x"));
  ASSERT_TRUE(WaitShim()) << ShimLog();
  EXPECT_EQ(LogLines().size(), 3u) << "the log has the output regardless of attaches";
}

TEST_F(ShimTest, StdinWrittenAndClosedBeforeStartReachesCat) {
  SetScript("cat; echo done");
  shim::SpawnOptions so = Options(NewId());
  so.stdin_open = true;
  so.stdin_once = true;
  Spawn(so);
  shim::Client c = Connect();
  Conn conn = SocketPair();
  shim::AttachOptions o;
  o.stdin = true;
  c.Attach(conn.theirs.get(), o, "piped ");  // bytes berthd read past the HTTP headers
  conn.theirs.Reset();
  WriteAll(conn.ours.get(), "input\n");
  shutdown(conn.ours.get(), SHUT_WR);
  c.Start();
  // "piped " and "input\n" reach cat in one read or two: compare the bytes, not the frames.
  EXPECT_EQ(Merged(ReadAll(conn.ours.get())), "[1]piped input\ndone\n");
  ASSERT_TRUE(WaitShim()) << ShimLog();
  EXPECT_EQ(ExitRecord()["ExitCode"], 0);
}

TEST_F(ShimTest, TerminalEchoesAndResizes) {
  config_["process"]["terminal"] = true;
  SetScript("read a; stty size; read b; echo \"[$b]\"; exit 4");
  shim::SpawnOptions so = Options(NewId());
  so.stdin_open = true;
  so.stdin_once = true;
  Spawn(so);
  shim::Client c = Connect();
  Conn conn = SocketPair();
  shim::AttachOptions o;
  o.stdin = true;
  c.Attach(conn.theirs.get(), o);
  conn.theirs.Reset();
  c.Start();
  c.Resize(123, 45);
  WriteAll(conn.ours.get(), "go\n");
  std::string got = ReadUntil(conn.ours.get(), "45 123");
  EXPECT_NE(got.find("go\r\n"), std::string::npos) << "the pty echoes, raw: " << got;
  WriteAll(conn.ours.get(), "hello\n");
  got += ReadAll(conn.ours.get());
  EXPECT_NE(got.find("[hello]\r\n"), std::string::npos) << got;
  EXPECT_EQ(got.find('\x01'), std::string::npos) << "no frames with a TTY";
  ASSERT_TRUE(WaitShim()) << ShimLog();
  EXPECT_EQ(ExitRecord()["ExitCode"], 4);
  bool logged = false;
  for (const auto& l : LogLines()) {
    logged = logged || (l["log"] == "[hello]\r\n" && l["stream"] == "stdout");
  }
  EXPECT_TRUE(logged) << ReadFile(dir_ + "/ctr.log");
}

TEST_F(ShimTest, ResizeWithoutTerminalIsAnError) {
  SetScript("sleep 30");
  Spawn(NewId());
  shim::Client c = Connect();
  c.Start();
  try {
    c.Resize(80, 24);
    ADD_FAILURE() << "resize without a terminal succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no terminal"), std::string::npos) << e.what();
  }
  c.Kill(SIGKILL, false);
  ASSERT_TRUE(WaitShim()) << ShimLog();
  EXPECT_EQ(ExitRecord()["ExitCode"], 137);
}

TEST_F(ShimTest, DetachKeysEndTheAttachAndTheContainerGoesOn) {
  SetScript("cat");
  shim::SpawnOptions so = Options(NewId());
  so.stdin_open = true;
  Spawn(so);
  shim::Client c = Connect();
  Conn first = SocketPair();
  shim::AttachOptions o;
  o.stdin = true;
  c.Attach(first.theirs.get(), o);
  first.theirs.Reset();
  c.Start();
  WriteAll(first.ours.get(), "one\n");
  EXPECT_EQ(ReadUntil(first.ours.get(), "one\n"), Frame(1, "one\n"));
  WriteAll(first.ours.get(), "\x10x\n");  // a partial match is forwarded once it fails
  EXPECT_EQ(ReadUntil(first.ours.get(), "x\n"), Frame(1, "\x10x\n"));
  WriteAll(first.ours.get(),
           "\x10\x11"
           "dropped\n");
  EXPECT_EQ(ReadAll(first.ours.get()), "") << "the attach ends at the detach keys";
  EXPECT_TRUE(ShimRunning());

  Conn second = SocketPair();
  o.detach_keys = "ctrl-a";
  c.Attach(second.theirs.get(), o);
  second.theirs.Reset();
  WriteAll(second.ours.get(), "two\n");
  EXPECT_EQ(ReadUntil(second.ours.get(), "two\n"), Frame(1, "two\n"));
  WriteAll(second.ours.get(), "\x01");
  EXPECT_EQ(ReadAll(second.ours.get()), "");
  EXPECT_TRUE(ShimRunning());

  c.Kill(SIGKILL, false);
  ASSERT_TRUE(WaitShim()) << ShimLog();
  EXPECT_EQ(ExitRecord()["ExitCode"], 137);
  std::string log = ReadFile(dir_ + "/ctr.log");
  EXPECT_NE(log.find("two"), std::string::npos);
  EXPECT_EQ(log.find("dropped"), std::string::npos) << "bytes after the keys are not stdin";
}

TEST_F(ShimTest, ExecGivesItsOutputAndExitCode) {
  SetScript("sleep 30");
  Spawn(NewId());
  Connect().Start();

  shim::Client c = Connect();
  Conn conn = SocketPair();
  shim::ExecRequest r;
  r.exec_id = "e1";
  r.process = {{"args", {"sh", "-c", "echo out; echo err >&2; exit 5"}}};
  pid_t pid = c.Exec(r, conn.theirs.get());
  conn.theirs.Reset();
  EXPECT_GT(pid, 1);
  std::map<int, std::string> got = Deframe(ReadAll(conn.ours.get()));
  EXPECT_EQ(got[1], "out\n");
  EXPECT_EQ(got[2], "err\n");
  EXPECT_EQ(c.WaitExecExit(), 5);

  // stdin through the exec's pipe, closed by the client's EOF; environment and cwd given.
  shim::Client c2 = Connect();
  Conn conn2 = SocketPair();
  r.exec_id = "e2";
  r.stdin = true;
  r.process = {{"args", {"sh", "-c", "cat; echo $FOO; pwd"}},
               {"env", {"PATH=/bin:/usr/bin", "FOO=bar"}},
               {"cwd", "/tmp"}};
  c2.Exec(r, conn2.theirs.get());
  conn2.theirs.Reset();
  WriteAll(conn2.ours.get(), "abc\n");
  shutdown(conn2.ours.get(), SHUT_WR);
  EXPECT_EQ(Deframe(ReadAll(conn2.ours.get()))[1], "abc\nbar\n/tmp\n");
  EXPECT_EQ(c2.WaitExecExit(), 0);

  // exec -d: no client.
  shim::Client c3 = Connect();
  r.exec_id = "e3";
  r.process = {{"args", {"sh", "-c", "exit 7"}}};
  c3.Exec(r, -1);
  EXPECT_EQ(c3.WaitExecExit(), 7);

  shim::Client c4 = Connect();
  r.exec_id = "e4";
  r.process = {{"args", {"/no/such/tool"}}};
  try {
    c4.Exec(r, -1);
    ADD_FAILURE() << "exec of a missing executable succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/tool"), std::string::npos) << e.what();
  }

  EXPECT_EQ(LogLines().size(), 0u) << "exec output is not the container's log";
  c.Kill(SIGKILL, false);
  ASSERT_TRUE(WaitShim()) << ShimLog();
}

TEST_F(ShimTest, ExecResizeWaitsForTheExec) {
  SetScript("sleep 30");
  Spawn(NewId());
  Connect().Start();
  auto begin = std::chrono::steady_clock::now();
  auto resized = std::async(std::launch::async, [this] {
    shim::Client c = Connect();
    c.Resize(77, 22, "t1");
    return std::chrono::steady_clock::now();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  shim::Client c = Connect();
  Conn conn = SocketPair();
  shim::ExecRequest r;
  r.exec_id = "t1";
  r.process = {{"args", {"sh", "-c", "sleep 0.5; stty size"}}, {"terminal", true}};
  c.Exec(r, conn.theirs.get());
  conn.theirs.Reset();
  ASSERT_EQ(resized.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_GE(resized.get() - begin, std::chrono::milliseconds(400)) << "it waited for the exec";
  std::string out = ReadAll(conn.ours.get());
  EXPECT_EQ(out, "22 77\r\n") << "raw TTY output";
  EXPECT_EQ(c.WaitExecExit(), 0);
  shim::Client k = Connect();
  try {
    k.Resize(80, 24, "t1");
    ADD_FAILURE() << "resize of an exited exec succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("exited"), std::string::npos) << e.what();
  }
  k.Kill(SIGKILL, false);
  ASSERT_TRUE(WaitShim()) << ShimLog();
}

TEST_F(ShimTest, AClientThatHangsUpOrStallsDoesNotStopTheContainer) {
  SetScript("seq 1 100000; echo end");
  Spawn(NewId());
  shim::Client c = Connect();
  Conn gone = SocketPair(), stalled = SocketPair();
  c.Attach(gone.theirs.get(), {});
  gone.theirs.Reset();
  c.Attach(stalled.theirs.get(), {});  // never read
  stalled.theirs.Reset();
  c.Start();
  char buf[100];
  EXPECT_GT(read(gone.ours.get(), buf, sizeof(buf)), 0);
  gone.ours.Reset();  // hangs up mid-stream
  ASSERT_TRUE(WaitShim(30000)) << ShimLog();
  EXPECT_EQ(ExitRecord()["ExitCode"], 0);
  std::vector<nlohmann::json> lines = LogLines();
  ASSERT_EQ(lines.size(), 100001u);
  EXPECT_EQ(lines.back()["log"], "end\n");
}

TEST_F(ShimTest, AMissingExecutableIsReportedWithExitCode127) {
  config_["process"]["args"] = {"/no/such/binary"};
  WriteConfig();
  std::string id = NewId();
  try {
    shim::Spawn(Options(id));
    ADD_FAILURE() << "spawn succeeded";
  } catch (const Error& e) {
    std::string text = e.what();
    EXPECT_NE(text.find("/no/such/binary"), std::string::npos) << text;
    EXPECT_EQ(shim::StartFailureExitCode(text), 127) << text;
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
  }
  EXPECT_EQ(ExitRecord()["ExitCode"], 127);
  EXPECT_FALSE(FileExists(state_ + "/" + id));
  EXPECT_FALSE(FileExists(dir_ + "/shim.sock"));
}

TEST_F(ShimTest, TheShimIsDetachedFromItsCaller) {
  SetScript("sleep 1; echo survived");
  std::string id = NewId();
  shim::SpawnOptions so = Options(id);
  // The caller (berthd's stand-in) spawns the shim and dies.
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t caller = fork();
  ASSERT_GE(caller, 0);
  if (caller == 0) {
    close(p[0]);
    try {
      shim::Spawned s = shim::Spawn(so);
      ssize_t n = write(p[1], &s.shim_pid, sizeof(s.shim_pid));
      (void)n;
    } catch (...) {
    }
    _exit(0);
  }
  close(p[1]);
  pid_t shim_pid = -1;
  ssize_t n = read(p[0], &shim_pid, sizeof(shim_pid));
  close(p[0]);
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof(shim_pid))) << ShimLog();
  int fd = PidfdOpen(shim_pid);
  ASSERT_GE(fd, 0);
  shims_.emplace_back(shim_pid, UniqueFd(fd));
  int status;
  ASSERT_EQ(waitpid(caller, &status, 0), caller);
  std::string st = ReadFile("/proc/" + std::to_string(shim_pid) + "/status");
  EXPECT_EQ(st.find("\nPPid:\t" + std::to_string(caller) + "\n"), std::string::npos) << st;
  EXPECT_EQ(st.find("\nPPid:\t" + std::to_string(getpid()) + "\n"), std::string::npos) << st;
  EXPECT_TRUE(ShimRunning()) << "the shim outlives its caller";
  Connect().Start();
  ASSERT_TRUE(WaitShim()) << ShimLog();
  EXPECT_EQ(ExitRecord()["ExitCode"], 0);
  EXPECT_EQ(LogLines().at(0)["log"], "survived\n");
}

}  // namespace
}  // namespace berth::testing

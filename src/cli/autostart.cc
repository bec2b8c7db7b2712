// Starting berthd on demand (autostart.h).

#include "cli/autostart.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "api/client.h"
#include "base/error.h"
#include "base/fd.h"

namespace berth::cli {
namespace {

std::string LastLine(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) {
      last = line;
    }
  }
  return last;
}

}  // namespace

bool SocketAnswers(const std::string& path) {
  struct sockaddr_un addr {};
  if (path.size() >= sizeof(addr.sun_path)) {
    return false;
  }
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return false;
  }
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) == 0;
}

std::string FindBerthd() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    std::filesystem::path beside = self.parent_path() / "berthd";
    if (access(beside.c_str(), X_OK) == 0) {
      return beside;
    }
  }
  const char* path = getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t colon = dirs.find(':', start);
    std::string dir = dirs.substr(start, colon - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/berthd";
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string::npos) {
      break;
    }
    start = colon + 1;
  }
  return "";
}

pid_t StartDaemon(const AutostartPlan& plan) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(plan.log).parent_path(), ec);
  UniqueFd log(open(plan.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log) {
    ThrowErrno("open " + plan.log);
  }
  UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  std::vector<std::string> args = {plan.berthd, "-H", "unix://" + plan.socket};
  args.insert(args.end(), plan.extra_args.begin(), plan.extra_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    ThrowErrno("fork for berthd");
  }
  if (pid == 0) {
    // The daemon outlives this berth: its own session, no terminal, output to the log.
    setsid();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    dup2(null.get(), STDIN_FILENO);
    dup2(log.get(), STDOUT_FILENO);
    dup2(log.get(), STDERR_FILENO);
    execv(argv[0], argv.data());
    dprintf(STDERR_FILENO, "berth: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(plan.timeout_ms);
  while (true) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      throw Error(Kind::kUnavailable, "berthd (" + plan.berthd + ") exited at start: " +
                                          LastLine(plan.log) + " (log in " + plan.log + ")");
    }
    if (SocketAnswers(plan.socket)) {
      try {
        api::Client("unix://" + plan.socket).Do("GET", "/_ping");
        return pid;
      } catch (const Error&) {
        // not serving yet
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
      throw Error(Kind::kUnavailable,
                  "berthd (" + plan.berthd + ") did not answer on " + plan.socket + " within " +
                      std::to_string(plan.timeout_ms / 1000) + " s (log in " + plan.log + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace berth::cli

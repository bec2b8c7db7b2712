#include "shim/shim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "base/log.h"
#include "runtime/container.h"
#include "runtime/foreground.h"
#include "shim/logfile.h"

namespace berth::shim {
namespace {

// After the container's init exits, output its other processes still write (a container
// sharing the host's pid namespace has no one to kill them) is read until the pipes close or
// stay quiet this long.
constexpr int kDrainQuietMs = 500;

timespec Now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

void Report(int fd, const std::string& text) {
  if (fd >= 0) {
    ssize_t ignored = write(fd, text.data(), text.size());
    (void)ignored;
  }
}

void Dup2OrThrow(int from, int to) {
  if (dup2(from, to) < 0) {
    ThrowErrno("dup2");
  }
}

}  // namespace

int RunContainer(const ShimOptions& o) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
    ThrowErrno("become a child subreaper");
  }
  // SIGCHLD through a signalfd; the container's init resets its mask before it execs.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  UniqueFd sig(signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
  UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
  int out[2], err[2];
  if (!sig || !null || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
    ThrowErrno("shim: set up stdio");
  }
  UniqueFd out_r(out[0]), out_w(out[1]), err_r(err[0]), err_w(err[1]);
  LogWriter writer(o.log_path, o.log_max_size, o.log_max_file);

  runtime::Runtime rt(o.runtime_root);
  pid_t pid = -1;
  try {
    // The container's init inherits the creator's fds 0-2 (as under runc): make them the
    // pipes for the create, then give the shim's own back /dev/null, so only the container
    // holds the write ends and they close when it is gone.
    Dup2OrThrow(null.get(), STDIN_FILENO);
    Dup2OrThrow(out_w.get(), STDOUT_FILENO);
    Dup2OrThrow(err_w.get(), STDERR_FILENO);
    runtime::CreateOptions create;
    create.id = o.id;
    create.bundle = o.bundle;
    try {
      rt.Create(create);
    } catch (...) {
      Dup2OrThrow(null.get(), STDOUT_FILENO);
      Dup2OrThrow(null.get(), STDERR_FILENO);
      throw;
    }
    Dup2OrThrow(null.get(), STDOUT_FILENO);
    Dup2OrThrow(null.get(), STDERR_FILENO);
    out_w.Reset();
    err_w.Reset();
    pid = rt.Info(o.id).state.pid;
    rt.Start(o.id);
  } catch (const Error& e) {
    Report(o.ready_fd, std::string(e.what()) + "\n");
    try {
      rt.Delete(o.id, /*force=*/true);
    } catch (const Error&) {
    }
    throw;
  }
  Report(o.ready_fd, "ok\n");

  int code = -1;
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open || code < 0) {
    struct pollfd fds[3] = {{out_open ? out_r.get() : -1, POLLIN, 0},
                            {err_open ? err_r.get() : -1, POLLIN, 0},
                            {sig.get(), POLLIN, 0}};
    int n = poll(fds, 3, code < 0 ? -1 : kDrainQuietMs);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n == 0) {
      break;  // exited, and the pipes are quiet: held open by processes outside our reach
    }
    for (int i = 0; i < 2; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      ssize_t got = read(fds[i].fd, buf, sizeof(buf));
      if (got > 0) {
        writer.Write(i == 0 ? Stream::kStdout : Stream::kStderr,
                     std::string_view(buf, static_cast<size_t>(got)), Now());
      } else if (got == 0 || errno != EINTR) {
        (i == 0 ? out_open : err_open) = false;
      }
    }
    if (fds[2].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sig.get(), &si, sizeof(si)) == sizeof(si)) {
      }
      int status;
      pid_t r;
      while ((r = waitpid(-1, &status, WNOHANG)) > 0) {
        if (r == pid) {
          code = runtime::internal::ExitCode(status);
        }
      }
    }
  }
  writer.Flush();
  timespec end = Now();
  char when[64];
  struct tm tm;
  gmtime_r(&end.tv_sec, &tm);
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
  char nanos[16];
  snprintf(nanos, sizeof(nanos), ".%09ldZ", end.tv_nsec);
  nlohmann::json record = {
      {"ExitCode", code}, {"Pid", pid}, {"FinishedAt", std::string(when) + nanos}};
  WriteFileAtomic(o.exit_path, record.dump() + "\n", 0644);
  try {
    rt.Delete(o.id, /*force=*/true);
  } catch (const Error& e) {
    log::Warn(std::string("shim: delete ") + o.id + ": " + e.what());
  }
  return code;
}

}  // namespace berth::shim

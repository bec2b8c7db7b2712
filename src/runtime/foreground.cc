#include "runtime/foreground.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fd.h"

namespace berth::runtime::internal {

int ExitCode(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return 255;
}

int WaitForeground(pid_t pid, int master) {
  sigset_t mask;
  sigfillset(&mask);
  UniqueFd sfd(signalfd(-1, &mask, SFD_CLOEXEC));
  if (!sfd) {
    ThrowErrno("signalfd");
  }
  struct termios saved;
  bool raw = false;
  if (master >= 0 && isatty(0) && tcgetattr(0, &saved) == 0) {
    struct termios t = saved;
    cfmakeraw(&t);
    raw = tcsetattr(0, TCSANOW, &t) == 0;
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0) {
      ioctl(master, TIOCSWINSZ, &ws);
    }
  }
  bool stdin_open = master >= 0;
  int result = -1;
  auto copy = [](int from, int to) {
    char buf[8192];
    ssize_t n = read(from, buf, sizeof(buf));
    if (n <= 0) {
      return false;
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(to, buf + off, static_cast<size_t>(n - off));
      if (w <= 0) {
        return false;
      }
      off += w;
    }
    return true;
  };
  while (result < 0) {
    struct pollfd fds[3] = {
        {sfd.get(), POLLIN, 0}, {master, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    if (fds[1].revents & (POLLIN | POLLHUP)) {
      if (!copy(master, 1)) {
        fds[1].fd = -1;
        master = -1;
      }
    }
    if (fds[2].revents & (POLLIN | POLLHUP)) {
      if (!copy(0, master)) {
        stdin_open = false;
      }
    }
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd.get(), &si, sizeof(si)) != sizeof(si)) {
        continue;
      }
      int sig = static_cast<int>(si.ssi_signo);
      if (sig == SIGCHLD) {
        int status;
        pid_t r;
        while ((r = waitpid(-1, &status, WNOHANG)) > 0) {
          if (r == pid) {
            result = ExitCode(status);
          }
        }
      } else if (sig == SIGWINCH && master >= 0) {
        struct winsize ws;
        if (ioctl(0, TIOCGWINSZ, &ws) == 0) {
          ioctl(master, TIOCSWINSZ, &ws);
        }
      } else {
        kill(pid, sig);
      }
    }
  }
  if (master >= 0) {
    // Drain what the process wrote before it exited.
    int flags = fcntl(master, F_GETFL);
    fcntl(master, F_SETFL, flags | O_NONBLOCK);
    while (copy(master, 1)) {
    }
  }
  if (raw) {
    tcsetattr(0, TCSANOW, &saved);
  }
  return result;
}

}  // namespace berth::runtime::internal

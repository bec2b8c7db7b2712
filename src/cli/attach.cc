// Streams of run/attach/exec/logs: frames, detach keys, raw terminal, the copy loop.

#include "cli/attach.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "cli/cli.h"

namespace berth::cli {
namespace {

struct NamedSignal {
  int number;
  const char* name;
};

constexpr NamedSignal kSignals[] = {
    {SIGHUP, "HUP"},       {SIGINT, "INT"},   {SIGQUIT, "QUIT"},   {SIGILL, "ILL"},
    {SIGTRAP, "TRAP"},     {SIGABRT, "ABRT"}, {SIGBUS, "BUS"},     {SIGFPE, "FPE"},
    {SIGKILL, "KILL"},     {SIGUSR1, "USR1"}, {SIGSEGV, "SEGV"},   {SIGUSR2, "USR2"},
    {SIGPIPE, "PIPE"},     {SIGALRM, "ALRM"}, {SIGTERM, "TERM"},   {SIGCHLD, "CHLD"},
    {SIGCONT, "CONT"},     {SIGSTOP, "STOP"}, {SIGTSTP, "TSTP"},   {SIGTTIN, "TTIN"},
    {SIGTTOU, "TTOU"},     {SIGURG, "URG"},   {SIGXCPU, "XCPU"},   {SIGXFSZ, "XFSZ"},
    {SIGVTALRM, "VTALRM"}, {SIGPROF, "PROF"}, {SIGWINCH, "WINCH"}, {SIGIO, "IO"},
    {SIGPWR, "PWR"},       {SIGSYS, "SYS"}};

// What the sig-proxy forwards (docker forwards all it can catch but CHLD, PIPE and URG; the
// job-control and fault signals stay berth's own here, so Ctrl-Z and crashes behave).
constexpr int kProxied[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGALRM};

}  // namespace

void FrameDemuxer::Feed(std::string_view data) {
  pending_.append(data);
  size_t pos = 0;
  while (pending_.size() - pos >= 8) {
    const auto* h = reinterpret_cast<const unsigned char*>(pending_.data() + pos);
    size_t size = (size_t{h[4]} << 24) | (size_t{h[5]} << 16) | (size_t{h[6]} << 8) | h[7];
    if (pending_.size() - pos - 8 < size) {
      break;
    }
    int stream = h[0];
    std::string_view payload(pending_.data() + pos + 8, size);
    if (stream == 3) {
      throw Error(Kind::kInternal, "Error from daemon in stream: " + std::string(payload));
    }
    if (stream > 3) {
      throw Error(Kind::kInternal, "Unrecognized input header: " + std::to_string(stream));
    }
    sink_(stream, payload);
    pos += 8 + size;
  }
  pending_.erase(0, pos);
}

RawTerminal::RawTerminal(int fd) : fd_(fd) {
  if (tcgetattr(fd, &saved_) < 0) {
    return;
  }
  struct termios raw = saved_;
  raw.c_iflag &=
      ~static_cast<tcflag_t>(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  raw.c_oflag &= ~static_cast<tcflag_t>(OPOST);
  raw.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  raw.c_cflag &= ~static_cast<tcflag_t>(CSIZE | PARENB);
  raw.c_cflag |= CS8;
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  active_ = tcsetattr(fd, TCSADRAIN, &raw) == 0;
}

RawTerminal::~RawTerminal() {
  if (active_) {
    tcsetattr(fd_, TCSADRAIN, &saved_);
  }
}

std::optional<std::pair<int, int>> TerminalSize() {
  struct winsize ws {};
  for (int fd : {STDOUT_FILENO, STDIN_FILENO}) {
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
      return std::pair{static_cast<int>(ws.ws_row), static_cast<int>(ws.ws_col)};
    }
  }
  return std::nullopt;
}

std::string SignalName(int sig) {
  for (const NamedSignal& s : kSignals) {
    if (s.number == sig) {
      return s.name;
    }
  }
  return "";
}

SignalWatch::SignalWatch(bool proxy, bool tty) : proxy_(proxy) {
  sigset_t set;
  sigemptyset(&set);
  if (proxy || tty) {
    for (int sig : kProxied) {
      sigaddset(&set, sig);
    }
  }
  if (tty) {
    sigaddset(&set, SIGWINCH);
  }
  if (sigisemptyset(&set)) {
    return;
  }
  sigprocmask(SIG_BLOCK, &set, &old_);
  fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd_ < 0) {
    sigprocmask(SIG_SETMASK, &old_, nullptr);
    ThrowErrno("signalfd");
  }
}

SignalWatch::~SignalWatch() {
  if (fd_ >= 0) {
    close(fd_);
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
}

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      ThrowErrno(fd == STDOUT_FILENO || fd == STDERR_FILENO ? "write output" : "write stream");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

StreamEnd PumpStreams(api::Client::Hijacked& conn, const StreamOptions& o) {
  int sock = conn.fd.get();
  FrameDemuxer demux([](int stream, std::string_view payload) {
    WriteAll(stream == 2 ? STDERR_FILENO : STDOUT_FILENO, payload);
  });
  auto output = [&](std::string_view data) {
    if (o.tty) {
      WriteAll(STDOUT_FILENO, data);
    } else {
      demux.Feed(data);
    }
  };
  if (!conn.pending.empty()) {
    output(conn.pending);
    conn.pending.clear();
  }
  bool stdin_open = o.stdin_open;
  if (!stdin_open) {
    shutdown(sock, SHUT_WR);
  }
  shim::DetachMatcher watch(o.tty ? o.detach_keys : std::string());
  int signal_fd = o.signals != nullptr ? o.signals->fd() : -1;
  std::string buf(64 << 10, '\0');
  while (true) {
    struct pollfd fds[3] = {
        {sock, POLLIN, 0}, {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}, {signal_fd, POLLIN, 0}};
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      ThrowErrno("poll");
    }
    if (fds[2].revents & POLLIN) {
      struct signalfd_siginfo info;
      while (read(signal_fd, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
        int sig = static_cast<int>(info.ssi_signo);
        if (sig == SIGWINCH) {
          if (o.signals->proxy() && o.send_signal) {
            o.send_signal("WINCH");
          }
          if (o.resize) {
            o.resize();
          }
        } else if (o.signals->proxy() && o.send_signal) {
          o.send_signal(SignalName(sig));
        } else {
          throw ExitStatus(128 + sig);
        }
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(sock, buf.data(), buf.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        continue;
      }
      if (n <= 0) {
        return StreamEnd::kClosed;  // the server ends the stream when the output ends
      }
      output(std::string_view(buf.data(), static_cast<size_t>(n)));
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(STDIN_FILENO, buf.data(), buf.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        continue;
      }
      if (n <= 0) {
        stdin_open = false;
        shutdown(sock, SHUT_WR);  // EOF for the container's stdin; output goes on
        continue;
      }
      std::string forward;
      bool detached = watch.Feed(std::string_view(buf.data(), static_cast<size_t>(n)), &forward);
      try {
        WriteAll(sock, forward);
      } catch (const Error& e) {
        if (e.err() != EPIPE && e.err() != ECONNRESET) {
          throw;
        }
        stdin_open = false;  // the container's stdin is gone; its output may not be
      }
      if (detached) {
        return StreamEnd::kDetached;
      }
    }
  }
}

}  // namespace berth::cli

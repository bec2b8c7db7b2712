#include "runtime/terminal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "base/error.h"
#include "base/fd_passing.h"

namespace berth::runtime {

bool SendFd(int sock, int fd, const char* name) noexcept {
  return SendWithFd(sock, name, strlen(name), fd) >= 0;
}

UniqueFd RecvFd(int sock) {
  char name[256];
  int fd;
  ssize_t n = RecvWithFd(sock, name, sizeof(name), &fd);
  if (n < 0) {
    throw SysError("receive terminal descriptor", static_cast<int>(-n));
  }
  if (fd < 0) {
    throw Error(Kind::kInternal, "receive terminal descriptor: no descriptor in the message");
  }
  return UniqueFd(fd);
}

UniqueFd ConnectUnixSocket(const std::string& path) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    ThrowInvalid("console socket path too long: " + path);
  }
  memcpy(addr.sun_path, path.c_str(), path.size());
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    ThrowErrno("socket");
  }
  if (connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) < 0) {
    ThrowErrno("connect to console socket " + path);
  }
  return fd;
}

bool SetupConsole(int console_socket, const oci::Process& process, bool bind_console,
                  ChildError* error) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) {
    return error->Fail(errno, "open /dev/ptmx");
  }
  if (unlockpt(master) < 0) {
    return error->Fail(errno, "unlockpt");
  }
  char name[128];
  if (ptsname_r(master, name, sizeof(name)) != 0) {
    return error->Fail(errno, "ptsname");
  }
  int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) {
    return error->Fail(errno, "open %s", name);
  }
  if (process.console_size) {
    struct winsize ws;
    memset(&ws, 0, sizeof(ws));
    ws.ws_row = static_cast<unsigned short>(process.console_size->height);
    ws.ws_col = static_cast<unsigned short>(process.console_size->width);
    ioctl(slave, TIOCSWINSZ, &ws);
  }
  if (bind_console && access("/dev/console", F_OK) == 0 &&
      mount(name, "/dev/console", nullptr, MS_BIND, nullptr) < 0) {
    return error->Fail(errno, "bind %s over /dev/console", name);
  }
  if (!SendFd(console_socket, master, name)) {
    return error->Fail(errno, "send the terminal over the console socket");
  }
  close(master);
  if (ioctl(slave, TIOCSCTTY, 0) < 0) {
    return error->Fail(errno, "make %s the controlling terminal", name);
  }
  for (int i = 0; i < 3; ++i) {
    if (dup3(slave, i, 0) < 0) {
      return error->Fail(errno, "dup terminal onto fd %d", i);
    }
  }
  close(slave);
  return true;
}

}  // namespace berth::runtime

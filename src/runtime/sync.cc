#include "runtime/sync.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/error.h"
#include "base/fd_passing.h"

namespace berth::runtime {

bool SyncSend(int fd, SyncType type, int64_t value) noexcept {
  SyncMsg msg;
  memset(&msg, 0, sizeof(msg));
  msg.type = type;
  msg.value = value;
  ssize_t n;
  do {
    n = send(fd, &msg, sizeof(msg), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof(msg));
}

bool SyncSendError(int fd, int err, const char* text) noexcept {
  SyncMsg msg;
  memset(&msg, 0, sizeof(msg));
  msg.type = SyncType::kError;
  msg.err = err;
  strncpy(msg.text, text, sizeof(msg.text) - 1);
  ssize_t n;
  do {
    n = send(fd, &msg, sizeof(msg), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof(msg));
}

bool SyncRecv(int fd, SyncMsg* msg) noexcept {
  ssize_t n;
  do {
    n = recv(fd, msg, sizeof(*msg), 0);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof(*msg))) {
    return false;
  }
  msg->text[sizeof(msg->text) - 1] = '\0';
  return true;
}

bool SyncSendFd(int fd, SyncType type, int passed_fd) noexcept {
  SyncMsg msg;
  memset(&msg, 0, sizeof(msg));
  msg.type = type;
  return SendWithFd(fd, &msg, sizeof(msg), passed_fd) == static_cast<ssize_t>(sizeof(msg));
}

bool SyncRecvFd(int fd, SyncMsg* msg, int* passed_fd) noexcept {
  if (RecvWithFd(fd, msg, sizeof(*msg), passed_fd) != static_cast<ssize_t>(sizeof(*msg))) {
    return false;
  }
  msg->text[sizeof(msg->text) - 1] = '\0';
  return true;
}

SyncMsg SyncExpect(int fd, SyncType want, const char* what) {
  SyncMsg msg;
  if (!SyncRecv(fd, &msg)) {
    throw Error(Kind::kInternal, std::string(what) + ": container setup process exited early");
  }
  if (msg.type == SyncType::kError) {
    if (msg.err != 0) {
      throw SysError(msg.text, msg.err);
    }
    throw Error(Kind::kInvalidArgument, msg.text);
  }
  if (msg.type != want) {
    throw Error(Kind::kInternal, std::string(what) + ": unexpected sync message " +
                                     std::to_string(static_cast<uint32_t>(msg.type)));
  }
  return msg;
}

}  // namespace berth::runtime

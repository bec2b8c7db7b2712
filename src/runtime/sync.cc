#include "runtime/sync.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/error.h"

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
  struct iovec iov = {&msg, sizeof(msg)};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof(control));
  struct msghdr mh;
  memset(&mh, 0, sizeof(mh));
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &passed_fd, sizeof(int));
  ssize_t n;
  do {
    n = sendmsg(fd, &mh, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof(msg));
}

bool SyncRecvFd(int fd, SyncMsg* msg, int* passed_fd) noexcept {
  *passed_fd = -1;
  struct iovec iov = {msg, sizeof(*msg)};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  struct msghdr mh;
  memset(&mh, 0, sizeof(mh));
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof(*msg))) {
    return false;
  }
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      memcpy(passed_fd, CMSG_DATA(c), sizeof(int));
    }
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

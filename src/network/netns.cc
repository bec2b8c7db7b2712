#include "network/netns.h"

#include <fcntl.h>
#include <sched.h>

#include <exception>
#include <string>
#include <thread>

#include "base/error.h"

namespace berth::network {

namespace {

void OnThread(const std::function<void()>& fn) {
  std::exception_ptr failure;
  std::thread t([&] {
    try {
      fn();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  t.join();
  if (failure) {
    std::rethrow_exception(failure);
  }
}

}  // namespace

UniqueFd OpenNetns(int pid) {
  std::string path =
      pid == 0 ? "/proc/thread-self/ns/net" : "/proc/" + std::to_string(pid) + "/ns/net";
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    ThrowErrno("open " + path);
  }
  return fd;
}

UniqueFd CreateNetns() {
  UniqueFd out;
  OnThread([&] {
    // The namespace is this thread's alone; the thread ends right after, and the namespace
    // lives on in `out`.
    if (unshare(CLONE_NEWNET) != 0) {
      ThrowErrno("unshare network namespace");
    }
    out = OpenNetns();
  });
  return out;
}

void RunInNetns(int netns_fd, const std::function<void()>& fn) {
  OnThread([&] {
    if (setns(netns_fd, CLONE_NEWNET) != 0) {
      ThrowErrno("join network namespace");
    }
    fn();
  });
}

}  // namespace berth::network

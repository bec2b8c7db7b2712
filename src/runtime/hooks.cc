#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "base/error.h"
#include "base/fd.h"

namespace berth::runtime {
namespace {

constexpr size_t kMaxArgs = 256;

}  // namespace

bool RunHook(const oci::Hook& hook, std::string_view state_json, ChildError* error) noexcept {
  const char* argv[kMaxArgs + 1];
  const char* envp[kMaxArgs + 1];
  size_t argc = 0;
  if (hook.args.empty()) {
    argv[argc++] = hook.path.c_str();
  }
  for (const auto& a : hook.args) {
    if (argc == kMaxArgs) {
      return error->Fail(E2BIG, "hook %s: too many arguments", hook.path.c_str());
    }
    argv[argc++] = a.c_str();
  }
  argv[argc] = nullptr;
  size_t envc = 0;
  for (const auto& e : hook.env) {
    if (envc == kMaxArgs) {
      return error->Fail(E2BIG, "hook %s: too many environment variables", hook.path.c_str());
    }
    envp[envc++] = e.c_str();
  }
  envp[envc] = nullptr;

  int in[2];
  if (pipe2(in, O_CLOEXEC) < 0) {
    return error->Fail(errno, "hook %s: pipe", hook.path.c_str());
  }
  UniqueFd in_r(in[0]), in_w(in[1]);
  pid_t pid = fork();
  if (pid < 0) {
    return error->Fail(errno, "hook %s: fork", hook.path.c_str());
  }
  if (pid == 0) {
    signal(SIGPIPE, SIG_DFL);
    dup2(in[0], 0);
    execve(hook.path.c_str(), const_cast<char* const*>(argv), const_cast<char* const*>(envp));
    _exit(127);
  }
  in_r.Reset();
  // The state goes on stdin; a hook that does not read it must not block us (the runtime
  // ignores SIGPIPE; a short write is fine).
  signal(SIGPIPE, SIG_IGN);
  const char* p = state_json.data();
  size_t left = state_json.size();
  while (left > 0) {
    ssize_t n = write(in_w.get(), p, left);
    if (n <= 0) {
      break;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  in_w.Reset();

  int status = 0;
  if (hook.timeout) {
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd >= 0) {
      struct pollfd pfd = {pidfd, POLLIN, 0};
      int rc;
      do {
        rc = poll(&pfd, 1, *hook.timeout * 1000);
      } while (rc < 0 && errno == EINTR);
      close(pidfd);
      if (rc == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return error->Fail(ETIMEDOUT, "hook %s: timed out after %d s", hook.path.c_str(),
                           *hook.timeout);
      }
    }
  }
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return error->Fail(errno, "hook %s: wait", hook.path.c_str());
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    return error->Fail(ENOENT, "hook %s: could not execute", hook.path.c_str());
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    return error->Fail(0, "hook %s: exited with status %d", hook.path.c_str(), WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return error->Fail(0, "hook %s: killed by signal %d", hook.path.c_str(), WTERMSIG(status));
  }
  return true;
}

bool RunHooks(const std::vector<oci::Hook>& hooks, const char* kind, std::string_view state_json,
              ChildError* error) noexcept {
  for (const auto& h : hooks) {
    if (!RunHook(h, state_json, error)) {
      error->Prefix(kind);
      return false;
    }
  }
  return true;
}

void RunHooksOrThrow(const std::vector<oci::Hook>& hooks, const char* kind,
                     std::string_view state_json) {
  ChildError error;
  if (!RunHooks(hooks, kind, state_json, &error)) {
    if (error.err != 0) {
      throw SysError(error.text, error.err);
    }
    throw Error(Kind::kInternal, error.text);
  }
}

}  // namespace berth::runtime

#pragma once

#include <signal.h>
#include <sys/types.h>

namespace berth::runtime::internal {

// A wait(2) status as a shell exit code: the code, or 128 + the signal.
int ExitCode(int status);

// Forwards signals to `pid` and, with a terminal (`master` >= 0), copies between our stdio and
// the pty master until `pid` exits. Returns its exit code. Signals must already be blocked
// (BlockSignals), from before `pid` was created, so no SIGCHLD is lost.
int WaitForeground(pid_t pid, int master);

// Blocks every signal for its lifetime (they are read from a signalfd instead).
class BlockSignals {
 public:
  BlockSignals() {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old_);
  }
  ~BlockSignals() { sigprocmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_;
};

}  // namespace berth::runtime::internal

#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

// `berth` starts berthd itself when nothing answers on the default socket (docs/cli.md):
// the berthd next to the berth binary, else the one in PATH, in a session of its own, its
// output in a log file.
namespace berth::cli {

struct AutostartPlan {
  std::string socket;                   // unix socket path berthd is to serve
  std::string berthd;                   // the binary
  std::string log;                      // its stdout and stderr (appended)
  std::vector<std::string> extra_args;  // after `-H unix://SOCKET`
  int timeout_ms = 5000;                // until /_ping answers
};

// True when something accepts connections on the unix socket at `path`.
bool SocketAnswers(const std::string& path);
// berthd next to the running berth binary, else the first in PATH; empty when there is none.
std::string FindBerthd();
// Starts the daemon (setsid, output appended to the log) and waits until GET /_ping answers.
// Returns its pid. Throws berth::Error kUnavailable naming the log when it exits first or does
// not answer in time (it is killed then).
pid_t StartDaemon(const AutostartPlan& plan);

}  // namespace berth::cli

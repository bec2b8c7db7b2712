#include "runtime/signals.h"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "base/error.h"

namespace berth::runtime {

int ParseSignal(const std::string& name) {
  if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) {
    int n = std::stoi(name);
    if (n > 0 && n < NSIG) {
      return n;
    }
    ThrowInvalid("invalid signal \"" + name + "\"");
  }
  std::string n = name;
  for (auto& c : n) {
    c = static_cast<char>(toupper(c));
  }
  if (n.rfind("SIG", 0) == 0) {
    n = n.substr(3);
  }
  static const std::pair<const char*, int> kSignals[] = {
      {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
      {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
      {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
      {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
      {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
      {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
      {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
      {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
      {"SYS", SIGSYS},
  };
  for (const auto& [sname, num] : kSignals) {
    if (n == sname) {
      return num;
    }
  }
  if (n.rfind("RTMIN", 0) == 0 || n.rfind("RTMAX", 0) == 0) {
    bool min = n.rfind("RTMIN", 0) == 0;
    int off = n.size() > 5 ? std::stoi(n.substr(5)) : 0;
    int sig = min ? SIGRTMIN + off : SIGRTMAX + off;
    if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
      return sig;
    }
  }
  ThrowInvalid("unknown signal \"" + name + "\"");
}

}  // namespace berth::runtime

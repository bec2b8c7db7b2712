// berth-runtime: an OCI runtime with the command line runc and crun share, so that anything
// that drives them (containerd, podman, conmon, tests) can drive it.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"
#include "base/file_util.h"
#include "base/log.h"
#include "oci/default_spec.h"
#include "runtime/cloned_binary.h"
#include "runtime/container.h"

namespace {

using berth::runtime::CreateOptions;
using berth::runtime::Runtime;

struct Globals {
  std::string root = "/run/berth-runtime";
  std::string log_path;
  std::string log_format = "text";
  bool debug = false;
  bool systemd_cgroup = false;
  bool rootless_flag = false;
  std::string criu;
};

void AddCreateFlags(CLI::App* cmd, CreateOptions& o) {
  cmd->add_option("-b,--bundle", o.bundle, "path to the bundle (default: current directory)");
  cmd->add_option("--pid-file", o.pid_file, "write the container's pid to this file");
  cmd->add_option("--console-socket", o.console_socket,
                  "unix socket that receives the terminal's master fd");
  cmd->add_option("--preserve-fds", o.preserve_fds, "pass fds 3..3+N-1 to the container");
  cmd->add_flag("--no-pivot", o.no_pivot, "use MS_MOVE and chroot instead of pivot_root");
  cmd->add_flag("--no-new-keyring", o.no_new_keyring, "keep the caller's session keyring");
  cmd->add_option("id", o.id, "container id")->required();
}

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) {
    s.append(width - s.size(), ' ');
  }
  return s;
}

// Like runc: runs ps(1) with the caller's options (no shell) and keeps the header and the
// rows whose PID column names a process of the container.
void PrintPsTable(const std::vector<pid_t>& pids, const std::vector<std::string>& options) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) < 0) {
    berth::ThrowErrno("pipe");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  // Select the container's processes too: without a selection option ps shows only those of
  // the caller's user and terminal, and a user-namespaced container runs as another user.
  std::string selected;
  for (pid_t pid : pids) {
    selected += (selected.empty() ? "" : ",") + std::to_string(pid);
  }
  std::vector<std::string> args = options;
  if (!selected.empty()) {
    args.push_back("-p");
    args.push_back(selected);
  }
  std::vector<char*> argv = {const_cast<char*>("ps")};
  for (const auto& o : args) {
    argv.push_back(const_cast<char*>(o.c_str()));
  }
  argv.push_back(nullptr);
  pid_t child;
  int rc = posix_spawnp(&child, "ps", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    throw berth::SysError("run ps", rc);
  }
  FILE* p = fdopen(out[0], "r");
  char line[4096];
  int pid_col = -1;
  bool header = true;
  while (p != nullptr && fgets(line, sizeof(line), p) != nullptr) {
    std::istringstream words(line);
    std::vector<std::string> cols;
    for (std::string w; words >> w;) {
      cols.push_back(w);
    }
    if (header) {
      auto it = std::find(cols.begin(), cols.end(), "PID");
      pid_col = it == cols.end() ? -1 : static_cast<int>(it - cols.begin());
      header = false;
      if (pid_col >= 0) {
        fputs(line, stdout);
      }
      continue;
    }
    if (pid_col >= 0 && static_cast<int>(cols.size()) > pid_col &&
        std::find(pids.begin(), pids.end(), std::atoi(cols[pid_col].c_str())) != pids.end()) {
      fputs(line, stdout);
    }
  }
  if (p != nullptr) {
    fclose(p);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (pid_col < 0) {
    berth::ThrowInvalid("ps: the output of ps has no PID column");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    berth::ThrowInvalid("ps: ps exited with status " + std::to_string(WEXITSTATUS(status)));
  }
}

// A byte count as docker and runc take it: "1048576", "512k", "64m", "1g"; -1 is unlimited.
int64_t ParseBytes(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    long long n = std::stoll(v, &used);
    std::string unit = v.substr(used);
    for (auto& c : unit) {
      c = static_cast<char>(tolower(c));
    }
    if (!unit.empty() && unit.back() == 'b') {
      unit.pop_back();
    }
    static const std::map<std::string, int64_t> kUnits = {
        {"", 1}, {"k", 1LL << 10}, {"m", 1LL << 20}, {"g", 1LL << 30}, {"t", 1LL << 40}};
    auto it = kUnits.find(unit);
    if (it != kUnits.end() && (n >= 0 || n == -1)) {
      return n * (n < 0 ? 1 : it->second);
    }
  } catch (const std::exception&) {
  }
  berth::ThrowInvalid("update: --" + flag + " \"" + v + "\" is not a byte count like 64m");
}

int64_t ParseNumber(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    long long n = std::stoll(v, &used);
    if (used == v.size()) {
      return n;
    }
  } catch (const std::exception&) {
  }
  berth::ThrowInvalid("update: --" + flag + " \"" + v + "\" is not a number");
}

// "5s", "500ms", "1m" or plain seconds, as runc's --interval takes them.
int ParseInterval(const std::string& v) {
  try {
    size_t used = 0;
    double n = std::stod(v, &used);
    std::string unit = v.substr(used);
    double ms = unit == "ms"                    ? n
                : unit == "m"                   ? n * 60000
                : (unit == "s" || unit.empty()) ? n * 1000
                                                : -1;
    if (ms >= 100) {
      return static_cast<int>(ms);
    }
  } catch (const std::exception&) {
  }
  berth::ThrowInvalid("events: --interval \"" + v + "\" is not a duration of at least 100ms");
}

// The linux.resources object of `update`: from -r (a file or - for stdin), then the flags.
nlohmann::json UpdateResources(const std::string& file,
                               const std::map<std::string, std::string>& flags) {
  nlohmann::json r = nlohmann::json::object();
  if (!file.empty()) {
    std::string text;
    if (file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      text = berth::ReadFile(file);
    }
    try {
      r = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      berth::ThrowInvalid("update: " + file + ": malformed JSON: " + e.what());
    }
  }
  auto set = [&](const char* flag, const char* section, const char* key, bool bytes) {
    auto it = flags.find(flag);
    if (it != flags.end()) {
      r[section][key] = bytes ? ParseBytes(flag, it->second) : ParseNumber(flag, it->second);
    }
  };
  set("memory", "memory", "limit", true);
  set("memory-swap", "memory", "swap", true);
  set("memory-reservation", "memory", "reservation", true);
  set("cpu-share", "cpu", "shares", false);
  set("cpu-quota", "cpu", "quota", false);
  set("cpu-period", "cpu", "period", false);
  set("cpu-rt-runtime", "cpu", "realtimeRuntime", false);
  set("cpu-rt-period", "cpu", "realtimePeriod", false);
  set("pids-limit", "pids", "limit", false);
  set("blkio-weight", "blockIO", "weight", false);
  for (const char* key : {"cpus", "mems"}) {
    auto it = flags.find(std::string("cpuset-") + key);
    if (it != flags.end()) {
      r["cpu"][key] = it->second;
    }
  }
  if (r.empty()) {
    berth::ThrowInvalid("update: give -r FILE or at least one resource flag");
  }
  return r;
}

int Main(int argc, char** argv) {
  // A peer that died must be an error we clean up after, not a SIGPIPE that kills us midway.
  // (The container's process and hooks get default dispositions back before execve.)
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{"berth-runtime: run OCI bundles (a runc/crun-compatible command line)",
               "berth-runtime"};
  app.require_subcommand(1);
  app.set_version_flag("-v,--version", "berth-runtime version 0.1.0\nspec: 1.1.0");
  Globals g;
  app.add_option("--root", g.root, "directory for container state")->capture_default_str();
  app.add_option("--log", g.log_path, "append log lines to this file");
  app.add_option("--log-format", g.log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--debug", g.debug, "log debug lines");
  app.add_flag("--systemd-cgroup", g.systemd_cgroup, "refused: no systemd cgroup driver");
  app.add_option("--rootless", g.rootless_flag, "accepted for compatibility")
      ->expected(0, 1)
      ->default_str("false");
  app.add_option("--criu", g.criu, "accepted for compatibility (no checkpoint support)");

  CreateOptions create_opts;
  auto* create = app.add_subcommand("create", "create a container (it waits for start)");
  AddCreateFlags(create, create_opts);

  std::string id;
  auto* start = app.add_subcommand("start", "start a created container");
  start->add_option("id", id)->required();

  auto* state = app.add_subcommand("state", "print the state of a container as JSON");
  state->add_option("id", id)->required();

  bool kill_all = false;
  std::string signal = "SIGTERM";
  auto* kill = app.add_subcommand("kill", "send a signal to the container's init");
  kill->add_flag("-a,--all", kill_all, "signal every process of the container");
  kill->add_option("id", id)->required();
  kill->add_option("signal", signal, "name or number (default SIGTERM)");

  bool force = false;
  auto* del = app.add_subcommand("delete", "delete a container and every trace of it");
  del->add_flag("-f,--force", force, "kill it first if it is running");
  del->add_option("id", id)->required();

  CreateOptions run_opts;
  bool detach = false;
  bool keep = false;
  auto* run = app.add_subcommand("run", "create and start a container");
  AddCreateFlags(run, run_opts);
  run->add_flag("-d,--detach", detach, "return once the container runs");
  run->add_flag("--keep", keep, "accepted for compatibility");

  berth::runtime::ExecOptions exec_opts;
  auto* exec = app.add_subcommand("exec", "run a process in a running container");
  exec->add_option("-p,--process", exec_opts.process_file, "process.json to run");
  exec->add_flag("-t,--tty", exec_opts.tty, "allocate a terminal");
  exec->add_flag("-d,--detach", exec_opts.detach, "do not wait for the process");
  exec->add_option("--cwd", exec_opts.cwd, "working directory in the container");
  exec->add_option("-e,--env", exec_opts.env, "KEY=value to add (repeatable)");
  exec->add_option("-u,--user", exec_opts.user, "uid[:gid]");
  exec->add_option("--pid-file", exec_opts.pid_file);
  exec->add_option("--console-socket", exec_opts.console_socket);
  exec->add_option("--preserve-fds", exec_opts.preserve_fds);
  exec->prefix_command();

  std::string ps_format = "table";
  auto* ps = app.add_subcommand("ps", "list the processes of a container");
  ps->add_option("-f,--format", ps_format)->check(CLI::IsMember({"table", "json"}));
  ps->prefix_command();

  std::string list_format = "table";
  bool quiet = false;
  auto* list = app.add_subcommand("list", "list containers");
  list->alias("ls");
  list->add_option("-f,--format", list_format)->check(CLI::IsMember({"table", "json"}));
  list->add_flag("-q,--quiet", quiet, "print ids only");

  auto* pause = app.add_subcommand("pause", "freeze every process of a container");
  pause->add_option("id", id)->required();
  auto* resume = app.add_subcommand("resume", "thaw a paused container");
  resume->add_option("id", id)->required();

  // update: runc's flags, each filling one field of a linux.resources object.
  std::string update_file;
  std::map<std::string, std::string> update_flags;
  auto* update = app.add_subcommand("update", "change the resource limits of a container");
  update->add_option("-r,--resources", update_file, "linux.resources JSON file, - for stdin");
  for (const char* flag : {"memory", "memory-swap", "memory-reservation", "cpu-share", "cpu-quota",
                           "cpu-period", "cpu-rt-runtime", "cpu-rt-period", "cpuset-cpus",
                           "cpuset-mems", "pids-limit", "blkio-weight"}) {
    update->add_option_function<std::string>(
        std::string("--") + flag,
        [&update_flags, flag](const std::string& v) { update_flags[flag] = v; });
  }
  update->add_option("id", id)->required();

  bool events_stats = false;
  std::string events_interval = "5s";
  auto* events = app.add_subcommand("events", "print stats and OOM events as JSON lines");
  events->add_flag("--stats", events_stats, "print the stats once and exit");
  events->add_option("--interval", events_interval, "stats interval (e.g. 5s, 500ms)")
      ->capture_default_str();
  events->add_option("id", id)->required();

  std::string spec_bundle;
  bool spec_rootless = false;
  auto* spec = app.add_subcommand("spec", "write a hardened default config.json");
  spec->add_option("-b,--bundle", spec_bundle, "directory to write it in");
  spec->add_flag("--rootless", spec_rootless, "the variant for an unprivileged user");

  auto* features = app.add_subcommand("features", "print the runtime's features as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (geteuid() != 0 && app.get_option("--root")->count() == 0) {
    // An unprivileged user cannot write /run: like runc, keep state in the user's runtime dir.
    const char* xdg = getenv("XDG_RUNTIME_DIR");
    g.root = xdg != nullptr && *xdg != '\0' ? std::string(xdg) + "/berth-runtime"
                                            : "/tmp/berth-runtime-" + std::to_string(geteuid());
  }

  int log_fd = 2;
  if (!g.log_path.empty()) {
    log_fd = open(g.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      fprintf(stderr, "berth-runtime: open log %s: %s\n", g.log_path.c_str(), strerror(errno));
      return 1;
    }
  }
  berth::log::Init(log_fd,
                   g.log_format == "json" ? berth::log::Format::kJson : berth::log::Format::kText,
                   g.debug);
  try {
    if (g.systemd_cgroup) {
      throw berth::Error(berth::Kind::kNotImplemented,
                         "--systemd-cgroup: the systemd cgroup driver is not supported");
    }
    if (*create || *run || *exec) {
      berth::runtime::EnsureClonedBinary(argv, environ, g.root);
    }
    Runtime rt(g.root);
    if (*create) {
      rt.Create(create_opts);
    } else if (*start) {
      rt.Start(id);
    } else if (*state) {
      std::cout << rt.StateJson(id) << "\n";
    } else if (*kill) {
      rt.Kill(id, berth::runtime::ParseSignal(signal), kill_all);
    } else if (*del) {
      rt.Delete(id, force);
    } else if (*run) {
      return rt.Run(run_opts, detach);
    } else if (*exec) {
      auto rest = exec->remaining();
      if (rest.empty()) {
        berth::ThrowInvalid("exec: a container id is required");
      }
      exec_opts.id = rest[0];
      exec_opts.args.assign(rest.begin() + 1, rest.end());
      return rt.Exec(exec_opts);
    } else if (*ps) {
      auto rest = ps->remaining();
      if (rest.empty()) {
        berth::ThrowInvalid("ps: a container id is required");
      }
      auto pids = rt.Pids(rest[0]);
      if (ps_format == "json") {
        std::cout << nlohmann::json(pids).dump() << "\n";
        return 0;
      }
      std::vector<std::string> options(rest.begin() + 1, rest.end());
      PrintPsTable(pids, options.empty() ? std::vector<std::string>{"-ef"} : options);
    } else if (*list) {
      auto all = rt.List();
      if (quiet) {
        for (const auto& c : all) {
          std::cout << c.state.id << "\n";
        }
      } else if (list_format == "json") {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& c : all) {
          arr.push_back(nlohmann::json::parse(berth::runtime::StateJson(c.state, c.status)));
        }
        std::cout << arr.dump() << "\n";
      } else {
        std::cout << Pad("ID", 12) << " " << Pad("PID", 8) << " " << Pad("STATUS", 10) << " "
                  << Pad("BUNDLE", 40) << " " << Pad("CREATED", 31) << " OWNER\n";
        for (const auto& c : all) {
          bool stopped = c.status == berth::runtime::Status::kStopped;
          std::cout << Pad(c.state.id, 12) << " "
                    << Pad(std::to_string(stopped ? 0 : c.state.pid), 8) << " "
                    << Pad(berth::runtime::StatusName(c.status), 10) << " "
                    << Pad(c.state.bundle, 40) << " " << Pad(c.state.created, 31) << " root\n";
        }
      }
    } else if (*events) {
      rt.Events(id, ParseInterval(events_interval), events_stats, [](const nlohmann::json& j) {
        std::cout << j.dump() << std::endl;  // one object per line, flushed: a stream
      });
    } else if (*update) {
      rt.Update(id, UpdateResources(update_file, update_flags));
    } else if (*pause) {
      rt.Pause(id);
    } else if (*resume) {
      rt.Resume(id);
    } else if (*spec) {
      std::string dir = spec_bundle.empty() ? "." : spec_bundle;
      std::string path = berth::JoinPath(dir, "config.json");
      if (access(path.c_str(), F_OK) == 0) {
        throw berth::Error(berth::Kind::kAlreadyExists,
                           "spec: " + path + " exists, remove it first");
      }
      nlohmann::json config = spec_rootless ? berth::oci::RootlessSpec(geteuid(), getegid())
                                            : berth::oci::DefaultSpec();
      berth::WriteFileAtomic(path, config.dump(2) + "\n", 0644);
    } else if (*features) {
      std::cout << berth::oci::FeaturesJson().dump(2) << "\n";
    }
    return 0;
  } catch (const berth::Error& e) {
    berth::log::Error(e.what());
    if (log_fd != 2) {
      fprintf(stderr, "berth-runtime: %s\n", e.what());
    }
    return 1;
  } catch (const std::exception& e) {
    berth::log::Error(std::string("internal error: ") + e.what());
    if (log_fd != 2) {
      fprintf(stderr, "berth-runtime: internal error: %s\n", e.what());
    }
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }

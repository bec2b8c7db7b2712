// berth run | create | start | stop | restart | kill | rm | ps | logs | exec | attach |
// inspect | wait | rename | pause | unpause | update | top | events | container prune, and
// their `container <sub>` forms: the docker CLI 20.10's requests (engine-api.md §2), flags
// and output.

#include <unistd.h>

#include <ctime>
#include <iostream>
#include <optional>

#include "base/error.h"
#include "cli/attach.h"
#include "cli/cli.h"
#include "cli/container_format.h"
#include "cli/container_opts.h"
#include "cli/go_template.h"
#include "cli/table.h"
#include "cli/units.h"

namespace berth::cli {
namespace {

using nlohmann::json;

std::string Path(const std::string& container) { return "/containers/" + QueryEscape(container); }

// docker run's exit status for a failed start, from the daemon's message (§2.1).
int StartFailureStatus(const std::string& message) {
  if (message.find("executable file not found") != std::string::npos ||
      message.find("no such file or directory") != std::string::npos) {
    return 127;
  }
  return message.find("permission denied") != std::string::npos ? 126 : 125;
}

// docker's reportError: "docker: <message>." plus, for usage errors, where to find help.
void Report(const std::string& command, std::string message, bool with_help) {
  if (message.empty() || message.back() != '.') {
    message += '.';
  }
  std::cout.flush();
  std::cerr << "berth: " << message << "\n";
  if (with_help) {
    std::cerr << "See 'berth " << command << " --help'.\n";
  }
}

// Runs `action` on each name, printing the name after each success (docker's stop, rm, kill,
// ...); each failure goes to stderr as docker prints it, and the command then exits 1.
void ForEach(const std::vector<std::string>& names,
             const std::function<void(const std::string&)>& action, bool print = true,
             const char* error_prefix = "Error response from daemon: ") {
  bool failed = false;
  for (const std::string& name : names) {
    try {
      action(name);
      if (print) {
        std::cout << name << std::endl;
      }
    } catch (const Error& e) {
      std::cerr << (e.kind() == Kind::kUnavailable ? "" : error_prefix) << e.what() << std::endl;
      failed = true;
    }
  }
  if (failed) {
    throw ExitStatus(1);
  }
}

std::string DaemonError(const Error& e) {
  return (e.kind() == Kind::kUnavailable ? "" : "Error response from daemon: ") +
         std::string(e.what());
}

// The progress goes to stderr, as docker's run shows it; credentials from config.json.
void Pull(Context& ctx, const std::string& image) { PullImage(ctx, image, std::cerr); }

// POST /containers/create; pulls once when the image is missing, as `docker run` does.
// Any failure is reported docker's way and ends the command with 125.
std::string Create(Context& ctx, const ContainerOptions& o, const std::vector<std::string>& args,
                   bool detach, const char* command) {
  json body;
  try {
    body = CreateBody(o, args, detach);
  } catch (const Error& e) {
    Report(command, e.what(), true);
    throw ExitStatus(125);
  }
  std::string target =
      "/containers/create" + (o.name.empty() ? "" : "?name=" + QueryEscape(o.name));
  json reply;
  try {
    try {
      reply = ctx.client().Json("POST", target, &body);
    } catch (const Error& e) {
      if (e.kind() != Kind::kNotFound || std::string(e.what()).find("image") == std::string::npos) {
        throw;
      }
      std::cerr << "Unable to find image '" << args[0] << "' locally" << std::endl;
      Pull(ctx, args[0]);
      reply = ctx.client().Json("POST", target, &body);
    }
  } catch (const Error& e) {
    Report(command, DaemonError(e), true);
    throw ExitStatus(125);
  }
  for (const json& w : reply.value("Warnings", json::array())) {
    if (w.is_string()) {
      std::cerr << "WARNING: " << w.get<std::string>() << "\n";
    }
  }
  return reply.value("Id", "");
}

void Resize(Context& ctx, const std::string& path) {
  if (auto size = TerminalSize()) {
    try {
      ctx.client().Do("POST", path + "/resize?h=" + std::to_string(size->first) +
                                  "&w=" + std::to_string(size->second));
    } catch (const Error&) {
      // the process may be gone already; docker ignores this too
    }
  }
}

// The exit status a finished wait body carries (125 when the wait itself failed).
int WaitStatus(api::Client& waiter) {
  std::string body;
  try {
    waiter.ReadBody([&](std::string_view d) { body.append(d); });
  } catch (const Error& e) {
    std::cerr << "berth: error waiting for container: " << e.what() << "\n";
    return 125;
  }
  json result = json::parse(body, nullptr, false);
  if (!result.is_object()) {
    return 125;
  }
  if (result.contains("Error") && result["Error"].is_object() &&
      !result["Error"].value("Message", "").empty()) {
    std::cerr << "berth: error waiting for container: "
              << result["Error"]["Message"].get<std::string>() << "\n";
    return 125;
  }
  return result.value("StatusCode", 125);
}

// What run, start -a, attach and exec share once the stream is hijacked and the process
// started: the terminal, resizes, the signal proxy and the copy loop.
StreamEnd Stream(Context& ctx, api::Client::Hijacked& conn, const std::string& path,
                 const std::string& kill_path, bool tty, bool stdin_open, bool sig_proxy,
                 const std::string& detach_keys, SignalWatch& signals) {
  std::optional<RawTerminal> raw;
  if (tty && stdin_open && isatty(STDIN_FILENO)) {
    raw.emplace(STDIN_FILENO);
  }
  StreamOptions so;
  so.tty = tty;
  so.stdin_open = stdin_open;
  so.detach_keys = detach_keys;
  so.signals = &signals;
  if (tty) {
    so.resize = [&] { Resize(ctx, path); };
    Resize(ctx, path);
  }
  if (sig_proxy && !kill_path.empty()) {
    so.send_signal = [&](const std::string& name) {
      try {
        ctx.client().Do("POST", kill_path + "/kill?signal=" + name);
      } catch (const Error&) {
        // the container may have exited meanwhile
      }
    };
  }
  return PumpStreams(conn, so);
}

void CheckTty(bool attach_stdin, bool tty) {
  if (tty && attach_stdin && !isatty(STDIN_FILENO)) {
    throw Error(Kind::kInvalidArgument, "the input device is not a TTY");
  }
}

struct RunFlags {
  ContainerOptions c;
  bool detach = false, sig_proxy = true;
  std::string detach_keys;
};

void Run(Context& ctx, const RunFlags& f, const std::vector<std::string>& args) {
  bool attach_stdin = f.c.interactive && !f.detach;
  if (!f.detach) {
    CheckTty(attach_stdin, f.c.tty);
  }
  std::string keys = shim::ParseDetachKeys(f.detach_keys);
  std::string id = Create(ctx, f.c, args, f.detach, "run");
  std::string path = Path(id);
  api::Client waiter(ctx.resolved_host());
  if (f.detach) {
    // Even detached, docker watches for an early exit; the answer is left unread.
    waiter.Begin("POST", path + "/wait?condition=next-exit");
    try {
      ctx.client().Do("POST", path + "/start");
    } catch (const Error& e) {
      Report("run", DaemonError(e), false);
      throw ExitStatus(StartFailureStatus(e.what()));
    }
    std::cout << id << std::endl;
    return;
  }
  std::string attach = path + "/attach?stderr=1" + (attach_stdin ? "&stdin=1" : "") +
                       "&stdout=1&stream=1" +
                       (f.detach_keys.empty() ? "" : "&detachKeys=" + QueryEscape(f.detach_keys));
  api::Client::Hijacked conn = ctx.client().Hijack("POST", attach);
  waiter.Begin("POST", path + "/wait?condition=" + (f.c.rm ? "removed" : "next-exit"));
  SignalWatch signals(f.sig_proxy, f.c.tty);
  try {
    ctx.client().Do("POST", path + "/start");
  } catch (const Error& e) {
    Report("run", DaemonError(e), false);
    if (f.c.rm) {
      WaitStatus(waiter);  // the daemon removes it; docker waits for that
    }
    throw ExitStatus(StartFailureStatus(e.what()));
  }
  if (Stream(ctx, conn, path, path, f.c.tty, attach_stdin, f.sig_proxy, keys, signals) ==
      StreamEnd::kDetached) {
    return;
  }
  if (int status = WaitStatus(waiter); status != 0) {
    throw ExitStatus(status);
  }
}

void AddRun(CLI::App* cmd, Context& ctx) {
  auto f = std::make_shared<RunFlags>();
  AddContainerFlags(cmd, f->c);
  cmd->add_flag("-d,--detach", f->detach, "Run container in background and print container ID");
  cmd->add_flag("--sig-proxy", f->sig_proxy, "Proxy received signals to the process")
      ->capture_default_str();
  cmd->add_option("--detach-keys", f->detach_keys, "Override the key sequence for detaching");
  cmd->callback([&ctx, f, cmd] { Run(ctx, *f, cmd->remaining()); });
}

void AddCreate(CLI::App* cmd, Context& ctx) {
  auto o = std::make_shared<ContainerOptions>();
  AddContainerFlags(cmd, *o);
  cmd->callback([&ctx, o, cmd] {
    std::cout << Create(ctx, *o, cmd->remaining(), false, "create") << std::endl;
  });
}

struct StartFlags {
  bool attach = false, interactive = false;
  std::string detach_keys;
  std::vector<std::string> names;
};

void Start(Context& ctx, const StartFlags& f) {
  if (!f.attach && !f.interactive) {
    std::string failed;
    for (const std::string& name : f.names) {
      try {
        ctx.client().Do("POST", Path(name) + "/start");
        std::cout << name << std::endl;
      } catch (const Error& e) {
        std::cerr << "Error response from daemon: " << e.what() << std::endl;
        failed += (failed.empty() ? "" : ", ") + name;
      }
    }
    if (!failed.empty()) {
      throw Error(Kind::kInvalidArgument, "failed to start containers: " + failed);
    }
    return;
  }
  if (f.names.size() > 1) {
    throw Error(Kind::kInvalidArgument, "you cannot start and attach multiple containers at once");
  }
  json c = ctx.client().Json("GET", Path(f.names[0]) + "/json");
  std::string path = Path(c.value("Id", f.names[0]));
  bool tty = c["Config"].value("Tty", false);
  bool stdin_open = f.interactive && c["Config"].value("OpenStdin", false);
  CheckTty(stdin_open, tty);
  std::string keys = shim::ParseDetachKeys(f.detach_keys);
  api::Client::Hijacked conn = ctx.client().Hijack(
      "POST", path + "/attach?stderr=1" + (stdin_open ? "&stdin=1" : "") + "&stdout=1&stream=1" +
                  (f.detach_keys.empty() ? "" : "&detachKeys=" + QueryEscape(f.detach_keys)));
  api::Client waiter(ctx.resolved_host());
  bool auto_remove = c.contains("HostConfig") && c["HostConfig"].value("AutoRemove", false);
  waiter.Begin("POST", path + "/wait?condition=" + (auto_remove ? "removed" : "next-exit"));
  SignalWatch signals(true, tty);
  ctx.client().Do("POST", path + "/start");
  if (Stream(ctx, conn, path, path, tty, stdin_open, true, keys, signals) == StreamEnd::kDetached) {
    return;
  }
  if (int status = WaitStatus(waiter); status != 0) {
    throw ExitStatus(status);
  }
}

struct AttachFlags {
  bool no_stdin = false, sig_proxy = true;
  std::string detach_keys, name;
};

void Attach(Context& ctx, const AttachFlags& f) {
  api::Client waiter(ctx.resolved_host());
  std::string path = Path(f.name);
  waiter.Begin("POST", path + "/wait");
  json c = ctx.client().Json("GET", path + "/json");
  const json state = c.value("State", json::object());
  if (!state.value("Running", false)) {
    throw Error(Kind::kConflict, "You cannot attach to a stopped container, start it first");
  }
  if (state.value("Paused", false)) {
    throw Error(Kind::kConflict, "You cannot attach to a paused container, unpause it first");
  }
  bool tty = c["Config"].value("Tty", false);
  bool stdin_open = !f.no_stdin && c["Config"].value("OpenStdin", false);
  CheckTty(stdin_open, tty);
  std::string keys = shim::ParseDetachKeys(f.detach_keys);
  api::Client::Hijacked conn = ctx.client().Hijack(
      "POST", path + "/attach?stderr=1" + (stdin_open ? "&stdin=1" : "") + "&stdout=1&stream=1" +
                  (f.detach_keys.empty() ? "" : "&detachKeys=" + QueryEscape(f.detach_keys)));
  SignalWatch signals(f.sig_proxy, tty);
  if (Stream(ctx, conn, path, path, tty, stdin_open, f.sig_proxy, keys, signals) ==
      StreamEnd::kDetached) {
    return;
  }
  if (int status = WaitStatus(waiter); status != 0) {
    throw ExitStatus(status);
  }
}

struct ExecFlags {
  bool interactive = false, tty = false, detach = false, privileged = false;
  std::vector<std::string> env;
  std::string user, workdir, detach_keys;
};

void Exec(Context& ctx, const ExecFlags& f, const std::vector<std::string>& args) {
  if (args.size() < 2) {
    throw Error(Kind::kInvalidArgument,
                "\"berth exec\" requires at least 2 arguments: CONTAINER COMMAND [ARG...]");
  }
  bool attach_stdin = f.interactive && !f.detach;
  if (!f.detach) {
    CheckTty(attach_stdin, f.tty);
  }
  std::string keys = shim::ParseDetachKeys(f.detach_keys);
  ctx.client().Json("GET", Path(args[0]) + "/json");
  std::vector<std::string> env;
  for (const std::string& e : f.env) {
    env.push_back(ExpandEnv(e));
  }
  json body = {{"User", f.user},
               {"Privileged", f.privileged},
               {"Tty", f.tty},
               {"AttachStdin", attach_stdin},
               {"AttachStderr", !f.detach},
               {"AttachStdout", !f.detach},
               {"Detach", f.detach},
               {"DetachKeys", f.detach_keys},
               {"Env", env.empty() ? json(nullptr) : json(env)},
               {"WorkingDir", f.workdir},
               {"Cmd", std::vector<std::string>(args.begin() + 1, args.end())}};
  std::string exec_id = ctx.client().Json("POST", Path(args[0]) + "/exec", &body).value("Id", "");
  std::string path = "/exec/" + exec_id;
  json start = {{"Detach", f.detach}, {"Tty", f.tty}};
  if (f.detach) {
    ctx.client().Do("POST", path + "/start", start.dump(), "application/json");
    return;
  }
  api::Client::Hijacked conn =
      ctx.client().Hijack("POST", path + "/start", start.dump(), "application/json");
  SignalWatch signals(false, f.tty);
  if (Stream(ctx, conn, path, "", f.tty, attach_stdin, false, keys, signals) ==
      StreamEnd::kDetached) {
    return;
  }
  json inspect = ctx.client().Json("GET", path + "/json");
  if (int status = inspect.value("ExitCode", 0); status != 0) {
    throw ExitStatus(status);
  }
}

struct LogsFlags {
  bool follow = false, timestamps = false, details = false;
  std::string tail, since, until, name;
};

void Logs(Context& ctx, const LogsFlags& f) {
  json c = ctx.client().Json("GET", Path(f.name) + "/json");
  bool tty = c["Config"].value("Tty", false);
  int64_t now = time(nullptr);
  std::string target = Path(c.value("Id", f.name)) + "/logs?stdout=1&stderr=1";
  if (f.follow) target += "&follow=1";
  if (f.timestamps) target += "&timestamps=1";
  if (f.details) target += "&details=1";
  if (!f.tail.empty()) target += "&tail=" + QueryEscape(f.tail);
  if (!f.since.empty()) target += "&since=" + ApiTimestamp(f.since, now);
  if (!f.until.empty()) target += "&until=" + ApiTimestamp(f.until, now);
  FrameDemuxer demux([](int stream, std::string_view payload) {
    WriteAll(stream == 2 ? STDERR_FILENO : STDOUT_FILENO, payload);
  });
  std::cout.flush();
  ctx.client().Stream("GET", target, nullptr, "", [&](std::string_view d) {
    if (tty) {
      WriteAll(STDOUT_FILENO, d);
    } else {
      demux.Feed(d);
    }
  });
}

struct PsFlags {
  bool all = false, quiet = false, latest = false, size = false, no_trunc = false;
  int last = -1;
  std::vector<std::string> filters;
  std::string format;
};

void Ps(Context& ctx, const PsFlags& f) {
  int limit = f.latest && f.last == -1 ? 1 : f.last;
  bool size = f.size || f.format.find(".Size") != std::string::npos;
  std::string target = std::string("/containers/json?") + (f.all ? "all=1&" : "") +
                       (limit != -1 ? "limit=" + std::to_string(limit) + "&" : "") +
                       (size ? "size=1&" : "");
  if (!f.filters.empty()) {
    target += "filters=" + QueryEscape(FiltersJson(f.filters));
  }
  if (target.back() == '&' || target.back() == '?') {
    target.pop_back();
  }
  json containers = ctx.client().Json("GET", target);
  if (f.quiet && f.format.empty()) {
    for (const json& c : containers) {
      std::string id = c.value("Id", "");
      std::cout << (f.no_trunc ? id : TruncateId(id)) << "\n";
    }
    return;
  }
  std::vector<json> rows;
  int64_t now = time(nullptr);
  for (const json& c : containers) {
    rows.push_back(PsRow(c, !f.no_trunc, now));
  }
  PrintList(f.format, PsDefaultFormat(f.size), rows, kPsHeaders);
}

void Inspect(Context& ctx, const std::vector<std::string>& names, const std::string& format,
             const std::string& type, bool size) {
  if (!type.empty() && type != "container" && type != "image") {
    throw Error(Kind::kInvalidArgument, "\"" + type + "\" is not a valid value for --type");
  }
  std::vector<json> items;
  std::string errors;
  for (const std::string& name : names) {
    std::optional<json> found;
    for (const char* kind : {"container", "image"}) {
      if (!type.empty() && type != kind) {
        continue;
      }
      std::string target = std::string(kind) == "container"
                               ? Path(name) + "/json" + (size ? "?size=1" : "")
                               : "/images/" + name + "/json";
      try {
        found = ctx.client().Json("GET", target);
        break;
      } catch (const Error& e) {
        if (e.kind() != Kind::kNotFound) {
          throw;
        }
      }
    }
    if (found) {
      items.push_back(*found);
    } else {
      errors += (errors.empty() ? "" : "\n") + std::string("No such ") +
                (type.empty() ? "object" : type) + ": " + name;
    }
  }
  PrintInspect(format, items);
  if (!errors.empty()) {
    throw Error(Kind::kNotFound, errors);
  }
}

void Top(Context& ctx, const std::vector<std::string>& args) {
  std::string target = Path(args[0]) + "/top";
  if (args.size() > 1) {
    std::string ps_args;
    for (size_t i = 1; i < args.size(); ++i) {
      ps_args += (i > 1 ? " " : "") + args[i];
    }
    target += "?ps_args=" + QueryEscape(ps_args);
  }
  json top = ctx.client().Json("GET", target);
  std::string text;
  auto line = [&](const json& cells) {
    std::string row;
    for (const json& cell : cells) {
      row += (row.empty() ? "" : "\t") + (cell.is_string() ? cell.get<std::string>() : cell.dump());
    }
    text += row + "\n";
  };
  line(top.value("Titles", json::array()));
  for (const json& p : top.value("Processes", json::array())) {
    line(p);
  }
  std::cout << TabAlign(text, 20, 3);
}

bool Confirm(const std::string& warning) {
  std::cerr << warning << "\nAre you sure you want to continue? [y/N] " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y";
}

void Prune(Context& ctx, bool force, const std::vector<std::string>& filters) {
  if (!force && !Confirm("WARNING! This will remove all stopped containers.")) {
    return;
  }
  json out = ctx.client().Json(
      "POST",
      "/containers/prune" +
          (filters.empty() ? std::string() : "?filters=" + QueryEscape(FiltersJson(filters))));
  const json deleted = out.value("ContainersDeleted", json::array());
  if (deleted.is_array() && !deleted.empty()) {
    std::cout << "Deleted Containers:\n";
    for (const json& id : deleted) {
      std::cout << id.get<std::string>() << "\n";
    }
    std::cout << "\n";
  }
  std::cout << "Total reclaimed space: " << HumanSize(out.value("SpaceReclaimed", 0.0)) << "\n";
}

void Events(Context& ctx, const std::string& since, const std::string& until,
            const std::vector<std::string>& filters, const std::string& format) {
  int64_t now = time(nullptr);
  std::string target = "/events?";
  if (!since.empty()) target += "since=" + ApiTimestamp(since, now) + "&";
  if (!until.empty()) target += "until=" + ApiTimestamp(until, now) + "&";
  if (!filters.empty()) target += "filters=" + QueryEscape(FiltersJson(filters)) + "&";
  target.pop_back();
  std::optional<Template> tmpl;
  if (!format.empty()) {
    tmpl = Template::Parse(format);
  }
  api::JsonStreamSplitter splitter([&](const json& event) {
    std::cout << (tmpl ? tmpl->Execute(event) : EventLine(event)) << std::endl;
  });
  ctx.client().Stream("GET", target, nullptr, "", [&](std::string_view d) { splitter.Feed(d); });
}

// Registers the commands that have a `container X` form and a top-level alias.
struct Commands {
  static void Start(CLI::App* cmd, Context& ctx) {
    auto f = std::make_shared<StartFlags>();
    cmd->add_flag("-a,--attach", f->attach, "Attach STDOUT/STDERR and forward signals");
    cmd->add_flag("-i,--interactive", f->interactive, "Attach container's STDIN");
    cmd->add_option("--detach-keys", f->detach_keys, "Override the key sequence for detaching");
    cmd->add_option("container", f->names, "CONTAINER")->required();
    cmd->callback([&ctx, f] { cli::Start(ctx, *f); });
  }
  // stop, restart: -t SECONDS.
  static void StopLike(CLI::App* cmd, Context& ctx, const char* action) {
    struct O {
      std::string time;
      std::vector<std::string> names;
    };
    auto o = std::make_shared<O>();
    cmd->add_option("-t,--time", o->time, "Seconds to wait for stop before killing it");
    cmd->add_option("container", o->names, "CONTAINER")->required();
    cmd->callback([&ctx, o, action] {
      std::string query = o->time.empty() ? "" : "?t=" + QueryEscape(o->time);
      ForEach(o->names, [&](const std::string& name) {
        ctx.client().Do("POST", Path(name) + "/" + action + query);
      });
    });
  }
  // pause, unpause: no flags.
  static void Simple(CLI::App* cmd, Context& ctx, const char* action) {
    auto names = std::make_shared<std::vector<std::string>>();
    cmd->add_option("container", *names, "CONTAINER")->required();
    cmd->callback([&ctx, names, action] {
      ForEach(*names,
              [&](const std::string& n) { ctx.client().Do("POST", Path(n) + "/" + action); });
    });
  }
  static void Kill(CLI::App* cmd, Context& ctx) {
    struct O {
      std::string signal = "KILL";
      std::vector<std::string> names;
    };
    auto o = std::make_shared<O>();
    cmd->add_option("-s,--signal", o->signal, "Signal to send to the container")
        ->capture_default_str();
    cmd->add_option("container", o->names, "CONTAINER")->required();
    cmd->callback([&ctx, o] {
      ForEach(o->names, [&](const std::string& name) {
        ctx.client().Do("POST", Path(name) + "/kill?signal=" + QueryEscape(o->signal));
      });
    });
  }
  static void Remove(CLI::App* cmd, Context& ctx) {
    struct O {
      bool force = false, volumes = false;
      std::vector<std::string> names;
    };
    auto o = std::make_shared<O>();
    cmd->add_flag("-f,--force", o->force, "Force the removal of a running container");
    cmd->add_flag("-v,--volumes", o->volumes, "Remove anonymous volumes of the container");
    cmd->add_option("container", o->names, "CONTAINER")->required();
    cmd->callback([&ctx, o] {
      std::string query = std::string(o->volumes ? "v=1&" : "") + (o->force ? "force=1&" : "");
      if (!query.empty()) {
        query = "?" + query.substr(0, query.size() - 1);
      }
      ForEach(
          o->names, [&](const std::string& name) { ctx.client().Do("DELETE", Path(name) + query); },
          true, "Error: ");
    });
  }
  static void List(CLI::App* cmd, Context& ctx) {
    auto f = std::make_shared<PsFlags>();
    cmd->add_flag("-a,--all", f->all, "Show all containers (default shows just running)");
    cmd->add_flag("-q,--quiet", f->quiet, "Only display container IDs");
    cmd->add_option("-n,--last", f->last, "Show n last created containers (includes all states)");
    cmd->add_flag("-l,--latest", f->latest, "Show the latest created container");
    cmd->add_flag("-s,--size", f->size, "Display total file sizes");
    cmd->add_option("-f,--filter", f->filters, "Filter output based on conditions provided")
        ->allow_extra_args(false);
    cmd->add_option("--format", f->format, "Pretty-print containers using a Go template");
    cmd->add_flag("--no-trunc", f->no_trunc, "Don't truncate output");
    cmd->callback([&ctx, f] { Ps(ctx, *f); });
  }
  static void Logs(CLI::App* cmd, Context& ctx) {
    auto f = std::make_shared<LogsFlags>();
    cmd->add_flag("-f,--follow", f->follow, "Follow log output");
    cmd->add_flag("-t,--timestamps", f->timestamps, "Show timestamps");
    cmd->add_flag("--details", f->details, "Show extra details provided to logs");
    cmd->add_option("-n,--tail", f->tail, "Number of lines to show from the end of the logs");
    cmd->add_option("--since", f->since,
                    "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)");
    cmd->add_option("--until", f->until,
                    "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative");
    cmd->add_option("container", f->name, "CONTAINER")->required();
    cmd->callback([&ctx, f] { cli::Logs(ctx, *f); });
  }
  static void Exec(CLI::App* cmd, Context& ctx) {
    auto f = std::make_shared<ExecFlags>();
    cmd->prefix_command();
    cmd->add_flag("-i,--interactive", f->interactive, "Keep STDIN open even if not attached");
    cmd->add_flag("-t,--tty", f->tty, "Allocate a pseudo-TTY");
    cmd->add_flag("-d,--detach", f->detach, "Detached mode: run command in the background");
    cmd->add_option("-e,--env", f->env, "Set environment variables")->allow_extra_args(false);
    cmd->add_option("-u,--user", f->user, "Username or UID (format: <name|uid>[:<group|gid>])");
    cmd->add_option("-w,--workdir", f->workdir, "Working directory inside the container");
    cmd->add_flag("--privileged", f->privileged, "Give extended privileges to the command");
    cmd->add_option("--detach-keys", f->detach_keys, "Override the key sequence for detaching");
    cmd->callback([&ctx, f, cmd] { cli::Exec(ctx, *f, cmd->remaining()); });
  }
  static void Attach(CLI::App* cmd, Context& ctx) {
    auto f = std::make_shared<AttachFlags>();
    cmd->add_flag("--no-stdin", f->no_stdin, "Do not attach STDIN");
    cmd->add_flag("--sig-proxy", f->sig_proxy, "Proxy all received signals to the process")
        ->capture_default_str();
    cmd->add_option("--detach-keys", f->detach_keys, "Override the key sequence for detaching");
    cmd->add_option("container", f->name, "CONTAINER")->required();
    cmd->callback([&ctx, f] { cli::Attach(ctx, *f); });
  }
  static void Inspect(CLI::App* cmd, Context& ctx, const char* fixed_type) {
    struct O {
      std::vector<std::string> names;
      std::string format, type;
      bool size = false;
    };
    auto o = std::make_shared<O>();
    o->type = fixed_type;
    cmd->add_option("name", o->names, "NAME|ID")->required();
    cmd->add_option("-f,--format", o->format, "Format the output using the given Go template");
    cmd->add_flag("-s,--size", o->size, "Display total file sizes if the type is container");
    if (o->type.empty()) {
      cmd->add_option("--type", o->type, "Return JSON for specified type");
    }
    cmd->callback([&ctx, o] { cli::Inspect(ctx, o->names, o->format, o->type, o->size); });
  }
  static void Wait(CLI::App* cmd, Context& ctx) {
    auto names = std::make_shared<std::vector<std::string>>();
    cmd->add_option("container", *names, "CONTAINER")->required();
    cmd->callback([&ctx, names] {
      ForEach(
          *names,
          [&](const std::string& name) {
            json r = ctx.client().Json("POST", Path(name) + "/wait");
            std::cout << r.value("StatusCode", -1) << std::endl;
          },
          false);
    });
  }
  static void Rename(CLI::App* cmd, Context& ctx) {
    auto args = std::make_shared<std::vector<std::string>>();
    cmd->add_option("names", *args, "CONTAINER NEW_NAME")->required()->expected(2);
    cmd->callback([&ctx, args] {
      ctx.client().Do("POST", Path((*args)[0]) + "/rename?name=" + QueryEscape((*args)[1]));
    });
  }
  static void Update(CLI::App* cmd, Context& ctx) {
    struct O {
      UpdateOptions u;
      std::vector<std::string> names;
    };
    auto o = std::make_shared<O>();
    AddUpdateFlags(cmd, o->u);
    cmd->add_option("container", o->names, "CONTAINER")->required();
    cmd->callback([&ctx, o] {
      json body = UpdateBody(o->u);
      ForEach(o->names, [&](const std::string& name) {
        json r = ctx.client().Json("POST", Path(name) + "/update", &body);
        for (const json& w : r.value("Warnings", json::array())) {
          std::cerr << "WARNING: " << w.get<std::string>() << "\n";
        }
      });
    });
  }
  static void Top(CLI::App* cmd, Context& ctx) {
    auto args = std::make_shared<std::vector<std::string>>();
    cmd->prefix_command();
    cmd->callback([&ctx, cmd] {
      std::vector<std::string> args = cmd->remaining();
      if (args.empty()) {
        throw Error(Kind::kInvalidArgument, "\"berth top\" requires at least 1 argument");
      }
      cli::Top(ctx, args);
    });
  }
  static void Prune(CLI::App* cmd, Context& ctx) {
    struct O {
      bool force = false;
      std::vector<std::string> filters;
    };
    auto o = std::make_shared<O>();
    cmd->add_flag("-f,--force", o->force, "Do not prompt for confirmation");
    cmd->add_option("--filter", o->filters, "Provide filter values (e.g. 'until=<timestamp>')")
        ->allow_extra_args(false);
    cmd->callback([&ctx, o] { cli::Prune(ctx, o->force, o->filters); });
  }
  static void Events(CLI::App* cmd, Context& ctx) {
    struct O {
      std::string since, until, format;
      std::vector<std::string> filters;
    };
    auto o = std::make_shared<O>();
    cmd->add_option("--since", o->since, "Show all events created since timestamp");
    cmd->add_option("--until", o->until, "Stream events until this timestamp");
    cmd->add_option("-f,--filter", o->filters, "Filter output based on conditions provided")
        ->allow_extra_args(false);
    cmd->add_option("--format", o->format, "Format the output using the given Go template");
    cmd->callback([&ctx, o] { cli::Events(ctx, o->since, o->until, o->filters, o->format); });
  }

  // Everything both `berth X` and `berth container X` have.
  static void Both(CLI::App* app, Context& ctx, bool container_group) {
    AddRun(app->add_subcommand("run", "Run a command in a new container"), ctx);
    AddCreate(app->add_subcommand("create", "Create a new container"), ctx);
    Start(app->add_subcommand("start", "Start one or more stopped containers"), ctx);
    StopLike(app->add_subcommand("stop", "Stop one or more running containers"), ctx, "stop");
    StopLike(app->add_subcommand("restart", "Restart one or more containers"), ctx, "restart");
    Kill(app->add_subcommand("kill", "Kill one or more running containers"), ctx);
    Simple(app->add_subcommand("pause", "Pause all processes within one or more containers"), ctx,
           "pause");
    Simple(app->add_subcommand("unpause", "Unpause all processes within one or more containers"),
           ctx, "unpause");
    Logs(app->add_subcommand("logs", "Fetch the logs of a container"), ctx);
    Exec(app->add_subcommand("exec", "Run a command in a running container"), ctx);
    Attach(app->add_subcommand("attach",
                               "Attach local standard input, output, and error streams "
                               "to a running container"),
           ctx);
    Wait(app->add_subcommand("wait",
                             "Block until one or more containers stop, then print their "
                             "exit codes"),
         ctx);
    Rename(app->add_subcommand("rename", "Rename a container"), ctx);
    Update(app->add_subcommand("update", "Update configuration of one or more containers"), ctx);
    Top(app->add_subcommand("top", "Display the running processes of a container"), ctx);
    AddDataCommands(*app, ctx);
    AddStatsCommand(app->add_subcommand("stats",
                                        "Display a live stream of container(s) resource usage "
                                        "statistics"),
                    ctx);
    if (container_group) {
      Remove(app->add_subcommand("rm", "Remove one or more containers")->alias("remove"), ctx);
      List(app->add_subcommand("ls", "List containers")->alias("ps")->alias("list"), ctx);
      Inspect(app->add_subcommand("inspect",
                                  "Display detailed information on one or more "
                                  "containers"),
              ctx, "container");
      Prune(app->add_subcommand("prune", "Remove all stopped containers"), ctx);
    } else {
      Remove(app->add_subcommand("rm", "Remove one or more containers"), ctx);
      List(app->add_subcommand("ps", "List containers"), ctx);
      Inspect(app->add_subcommand("inspect", "Return low-level information on Berth objects"), ctx,
              "");
      Events(app->add_subcommand("events", "Get real time events from the server"), ctx);
    }
  }
};

}  // namespace

void AddEventsCommand(CLI::App* cmd, Context& ctx) { Commands::Events(cmd, ctx); }

void AddContainerCommands(CLI::App& app, Context& ctx) {
  CLI::App* container = app.add_subcommand("container", "Manage containers");
  container->require_subcommand(1);
  Commands::Both(container, ctx, true);
  Commands::Both(&app, ctx, false);
}

}  // namespace berth::cli

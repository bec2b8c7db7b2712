// `run`/`create` flags -> the create body, as cli/command/container/opts.go maps them.

#include "cli/container_opts.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>

#include "base/error.h"
#include "cli/container_format.h"
#include "cli/units.h"

namespace berth::cli {
namespace {

using nlohmann::json;

// The 20.10 CLI's create body with every field at its zero value, as captured (engine-api.md
// §2.1): berthd sees exactly the shape docker's CLI sends.
constexpr const char* kSkeleton = R"({"Hostname":"","Domainname":"","User":"",
"AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,
"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":{},"WorkingDir":"",
"Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"",
"LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},
"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"",
"VolumesFrom":null,"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],
"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,
"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,
"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"ConsoleSize":[0,0],"Isolation":"",
"CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],
"BlkioDeviceReadBps":null,"BlkioDeviceWriteBps":null,"BlkioDeviceReadIOps":null,
"BlkioDeviceWriteIOps":null,"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,
"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,
"DeviceRequests":null,"KernelMemory":0,"KernelMemoryTCP":0,"MemoryReservation":0,
"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":null,
"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,
"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{}}})";

int64_t ParseInt(const std::string& text, const char* flag) {
  char* end = nullptr;
  errno = 0;
  long long v = strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0) {
    ThrowInvalid("invalid argument \"" + text + "\" for \"" + flag +
                 "\" flag: strconv.ParseInt: parsing \"" + text + "\": invalid syntax");
  }
  return v;
}

json NullIfEmpty(const std::vector<std::string>& v) { return v.empty() ? json(nullptr) : json(v); }

std::pair<std::string, std::string> SplitKeyValue(const std::string& text) {
  size_t eq = text.find('=');
  return eq == std::string::npos ? std::pair{text, std::string()}
                                 : std::pair{text.substr(0, eq), text.substr(eq + 1)};
}

json KeyValueMap(const std::vector<std::string>& items, const char* what) {
  json map = json::object();
  for (const std::string& item : items) {
    auto [key, value] = SplitKeyValue(item);
    if (key.empty() || (what != nullptr && item.find('=') == std::string::npos)) {
      ThrowInvalid(std::string("invalid ") + (what ? what : "key=value") + ": " + item);
    }
    map[key] = value;
  }
  return map;
}

std::vector<std::string> SecurityOpts(const std::vector<std::string>& opts) {
  std::vector<std::string> out;
  for (const std::string& opt : opts) {
    size_t sep = opt.find('=');
    if (sep == std::string::npos && opt != "no-new-privileges") {
      sep = opt.find(':');
      if (sep == std::string::npos) {
        ThrowInvalid("Invalid --security-opt: \"" + opt + "\"");
      }
    }
    if (sep != std::string::npos && opt.substr(0, sep) == "seccomp" &&
        opt.substr(sep + 1) != "unconfined") {
      // The profile travels inline: the daemon may not see the CLI's files.
      std::string path = opt.substr(sep + 1);
      std::ifstream in(path);
      if (!in) {
        ThrowInvalid("opening seccomp profile (" + path + ") failed: no such file or directory");
      }
      json profile = json::parse(in, nullptr, false);
      if (profile.is_discarded()) {
        ThrowInvalid("compacting json for seccomp profile (" + path + ") failed");
      }
      out.push_back("seccomp=" + profile.dump());
      continue;
    }
    out.push_back(opt);
  }
  return out;
}

}  // namespace

json RestartPolicy(const std::string& text) {
  json policy = {{"Name", "no"}, {"MaximumRetryCount", 0}};
  if (text.empty()) {
    return policy;
  }
  size_t colon = text.find(':');
  std::string name = text.substr(0, colon);
  if (name != "no" && name != "always" && name != "unless-stopped" && name != "on-failure") {
    ThrowInvalid("invalid restart policy " + name);
  }
  policy["Name"] = name;
  if (colon != std::string::npos) {
    if (name != "on-failure") {
      ThrowInvalid("maximum retry count cannot be used with restart policy '" + name + "'");
    }
    policy["MaximumRetryCount"] = ParseInt(text.substr(colon + 1), "--restart");
  }
  return policy;
}

namespace {

// The resource fields shared by create and update; only the flags given are set.
void SetResources(json& host, const ResourceOptions& r) {
  if (!r.memory.empty()) host["Memory"] = ParseSize(r.memory);
  if (!r.memory_swap.empty()) {
    host["MemorySwap"] = r.memory_swap == "-1" ? -1 : ParseSize(r.memory_swap);
  }
  if (!r.memory_reservation.empty()) host["MemoryReservation"] = ParseSize(r.memory_reservation);
  if (!r.cpus.empty()) host["NanoCpus"] = ParseCpus(r.cpus);
  if (!r.cpu_shares.empty()) host["CpuShares"] = ParseInt(r.cpu_shares, "--cpu-shares");
  if (!r.cpu_quota.empty()) host["CpuQuota"] = ParseInt(r.cpu_quota, "--cpu-quota");
  if (!r.cpu_period.empty()) host["CpuPeriod"] = ParseInt(r.cpu_period, "--cpu-period");
  if (!r.cpuset_cpus.empty()) host["CpusetCpus"] = r.cpuset_cpus;
  if (!r.cpuset_mems.empty()) host["CpusetMems"] = r.cpuset_mems;
  if (!r.pids_limit.empty()) host["PidsLimit"] = ParseInt(r.pids_limit, "--pids-limit");
}

// The resource flags of run/create and update.
void AddResourceFlags(CLI::App* cmd, ResourceOptions& r) {
  cmd->add_option("-m,--memory", r.memory, "Memory limit");
  cmd->add_option("--memory-swap", r.memory_swap,
                  "Swap limit equal to memory plus swap: '-1' to enable unlimited swap");
  cmd->add_option("--memory-reservation", r.memory_reservation, "Memory soft limit");
  cmd->add_option("--cpus", r.cpus, "Number of CPUs");
  cmd->add_option("-c,--cpu-shares", r.cpu_shares, "CPU shares (relative weight)");
  cmd->add_option("--cpu-quota", r.cpu_quota, "Limit CPU CFS (Completely Fair Scheduler) quota");
  cmd->add_option("--cpu-period", r.cpu_period, "Limit CPU CFS (Completely Fair Scheduler) period");
  cmd->add_option("--cpuset-cpus", r.cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)");
  cmd->add_option("--cpuset-mems", r.cpuset_mems, "MEMs in which to allow execution (0-3, 0,1)");
  cmd->add_option("--pids-limit", r.pids_limit, "Tune container pids limit (set -1 for unlimited)");
}

// CLI11: every occurrence takes one value; repeats accumulate.
CLI::Option* Repeated(CLI::App* cmd, const char* name, std::vector<std::string>& into,
                      const char* help) {
  return cmd->add_option(name, into, help)->allow_extra_args(false);
}

}  // namespace

std::string ExpandEnv(const std::string& value) {
  auto [key, rest] = SplitKeyValue(value);
  if (key.empty()) {
    ThrowInvalid("invalid environment variable: " + value);
  }
  if (value.find('=') != std::string::npos) {
    return value;
  }
  const char* v = getenv(key.c_str());
  return v != nullptr ? key + "=" + v : value;
}

std::vector<std::string> ReadKeyValueFile(const std::string& path, bool env) {
  std::ifstream in(path);
  if (!in) {
    ThrowInvalid("open " + path + ": no such file or directory");
  }
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') {
      continue;
    }
    line.erase(0, start);
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    auto [key, value] = SplitKeyValue(line);
    if (key.empty()) {
      ThrowInvalid("invalid variable in " + path + ": " + line);
    }
    if (key.find_first_of(" \t") != std::string::npos) {
      ThrowInvalid("variable '" + key + "' contains whitespaces");
    }
    if (line.find('=') != std::string::npos || !env) {
      out.push_back(line);
    } else if (const char* v = getenv(key.c_str())) {
      out.push_back(key + "=" + v);
    }
  }
  return out;
}

nlohmann::json ParseUlimit(std::string_view text) {
  static const std::set<std::string, std::less<>> kNames = {
      "as",   "core",   "cpu",   "data", "fsize",  "locks",  "memlock",    "msgqueue",
      "nice", "nofile", "nproc", "rss",  "rtprio", "rttime", "sigpending", "stack"};
  size_t eq = text.find('=');
  if (eq == std::string_view::npos) {
    ThrowInvalid("invalid ulimit argument: " + std::string(text));
  }
  std::string name(text.substr(0, eq));
  if (kNames.count(name) == 0) {
    ThrowInvalid("invalid ulimit type: " + name);
  }
  std::string limits(text.substr(eq + 1));
  size_t colon = limits.find(':');
  auto number = [&](const std::string& s) {
    char* end = nullptr;
    errno = 0;
    long long v = strtoll(s.c_str(), &end, 0);
    if (s.empty() || *end != '\0' || errno != 0) {
      ThrowInvalid("invalid ulimit argument: " + std::string(text));
    }
    return static_cast<int64_t>(v);
  };
  int64_t soft = number(limits.substr(0, colon));
  int64_t hard = colon == std::string::npos ? soft : number(limits.substr(colon + 1));
  if (soft > hard) {
    ThrowInvalid("ulimit soft limit must be less than or equal to hard limit: " +
                 std::to_string(soft) + " > " + std::to_string(hard));
  }
  return {{"Name", name}, {"Hard", hard}, {"Soft", soft}};
}

nlohmann::json ParseDevice(std::string_view text) {
  auto valid_mode = [](std::string_view mode) {
    if (mode.empty() || mode.size() > 3) {
      return false;
    }
    std::set<char> seen;
    for (char c : mode) {
      if ((c != 'r' && c != 'w' && c != 'm') || !seen.insert(c).second) {
        return false;
      }
    }
    return true;
  };
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t colon = text.find(':', start);
    parts.emplace_back(text.substr(start, colon - start));
    if (colon == std::string_view::npos) {
      break;
    }
    start = colon + 1;
  }
  if (parts.size() > 3) {
    ThrowInvalid("invalid device specification: " + std::string(text));
  }
  std::string src = parts[0], dst, permissions = "rwm";
  if (parts.size() == 3) {
    permissions = parts[2];
  }
  if (parts.size() >= 2) {
    if (valid_mode(parts[1])) {
      permissions = parts[1];
    } else {
      dst = parts[1];
    }
  }
  return {{"PathOnHost", src},
          {"PathInContainer", dst.empty() ? src : dst},
          {"CgroupPermissions", permissions}};
}

int64_t ParseCpus(std::string_view text) {
  std::string s(text);
  char* end = nullptr;
  double cpus = strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(cpus)) {
    ThrowInvalid("invalid argument \"" + s + "\" for \"--cpus\" flag: failed to parse " + s +
                 " as a rational number");
  }
  double nano = cpus * 1e9;
  if (std::fabs(nano - std::round(nano)) > 1e-3) {
    ThrowInvalid("invalid argument \"" + s + "\" for \"--cpus\" flag: value is too precise");
  }
  return static_cast<int64_t>(std::llround(nano));
}

void AddContainerFlags(CLI::App* cmd, ContainerOptions& o) {
  cmd->set_help_flag("--help", "Print usage");
  // Docker stops at the image: what follows is the container's command, flags included.
  cmd->prefix_command();
  cmd->add_flag("-i,--interactive", o.interactive, "Keep STDIN open even if not attached");
  cmd->add_flag("-t,--tty", o.tty, "Allocate a pseudo-TTY");
  cmd->add_flag("--rm", o.rm, "Automatically remove the container when it exits");
  cmd->add_option("--name", o.name, "Assign a name to the container");
  Repeated(cmd, "-e,--env", o.env, "Set environment variables");
  Repeated(cmd, "--env-file", o.env_files, "Read in a file of environment variables");
  cmd->add_option("-w,--workdir", o.workdir, "Working directory inside the container");
  cmd->add_option("-u,--user", o.user, "Username or UID (format: <name|uid>[:<group|gid>])");
  Repeated(cmd, "--entrypoint", o.entrypoint, "Overwrite the default ENTRYPOINT of the image");
  AddResourceFlags(cmd, o.resources);
  Repeated(cmd, "--cap-add", o.cap_add, "Add Linux capabilities");
  Repeated(cmd, "--cap-drop", o.cap_drop, "Drop Linux capabilities");
  Repeated(cmd, "--security-opt", o.security_opt, "Security Options");
  cmd->add_flag("--read-only", o.read_only, "Mount the container's root filesystem as read only");
  Repeated(cmd, "--tmpfs", o.tmpfs, "Mount a tmpfs directory");
  cmd->add_flag("--init", o.init, "Run an init inside the container");
  Repeated(cmd, "--ulimit", o.ulimits, "Ulimit options");
  Repeated(cmd, "--device", o.devices, "Add a host device to the container");
  cmd->add_option("-h,--hostname", o.hostname, "Container host name");
  cmd->add_option("--domainname", o.domainname, "Container NIS domain name");
  Repeated(cmd, "-l,--label", o.labels, "Set meta data on a container");
  Repeated(cmd, "--label-file", o.label_files, "Read in a line delimited file of labels");
  cmd->add_option("--log-driver", o.log_driver, "Logging driver for the container");
  Repeated(cmd, "--log-opt", o.log_opts, "Log driver options");
  cmd->add_option("--userns", o.userns, "User namespace to use");
  cmd->add_option("--pid", o.pid, "PID namespace to use");
  cmd->add_option("--ipc", o.ipc, "IPC mode to use");
  cmd->add_option("--uts", o.uts, "UTS namespace to use");
  cmd->add_option("--shm-size", o.shm_size, "Size of /dev/shm");
  Repeated(cmd, "--sysctl", o.sysctls, "Sysctl options");
  Repeated(cmd, "--group-add", o.group_add, "Add additional groups to join");
  cmd->add_option("--oom-score-adj", o.oom_score_adj,
                  "Tune host's OOM preferences (-1000 to 1000)");
  cmd->add_flag("--privileged", o.privileged, "Give extended privileges to this container");
  cmd->add_option("--network,--net", o.network, "Connect a container to a network");
  Repeated(cmd, "-p,--publish", o.publish, "Publish a container's port(s) to the host");
  cmd->add_flag("-P,--publish-all", o.publish_all, "Publish all exposed ports to random ports");
  Repeated(cmd, "--expose", o.expose, "Expose a port or a range of ports");
  cmd->add_option("--ip", o.ip, "IPv4 address (e.g., 172.30.100.104)");
  cmd->add_option("--ip6", o.ip6, "IPv6 address (e.g., 2001:db8::33)");
  Repeated(cmd, "--network-alias,--net-alias", o.network_aliases,
           "Add network-scoped alias for the container");
  Repeated(cmd, "--dns", o.dns, "Set custom DNS servers");
  Repeated(cmd, "--dns-search", o.dns_search, "Set custom DNS search domains");
  Repeated(cmd, "--dns-option,--dns-opt", o.dns_options, "Set DNS options");
  Repeated(cmd, "--add-host", o.add_hosts, "Add a custom host-to-IP mapping (host:ip)");
  cmd->add_option("--stop-signal", o.stop_signal, "Signal to stop a container");
  cmd->add_option("--stop-timeout", o.stop_timeout, "Timeout (in seconds) to stop a container");
  cmd->add_option("--restart", o.restart, "Restart policy to apply when a container exits");
  cmd->add_option("--health-cmd", o.health_cmd, "Command to run to check health");
  cmd->add_option("--health-interval", o.health_interval,
                  "Time between running the check (ms|s|m|h) (default 0s)");
  cmd->add_option("--health-timeout", o.health_timeout,
                  "Maximum time to allow one check to run (ms|s|m|h) (default 0s)");
  cmd->add_option("--health-start-period", o.health_start_period,
                  "Start period for the container to initialize before starting health-retries "
                  "countdown (ms|s|m|h) (default 0s)");
  cmd->add_option("--health-start-interval", o.health_start_interval,
                  "Time between running the check during the start period (ms|s|m|h) (default "
                  "0s)");
  cmd->add_option("--health-retries", o.health_retries,
                  "Consecutive failures needed to report unhealthy");
  cmd->add_flag("--no-healthcheck", o.no_healthcheck,
                "Disable any container-specified HEALTHCHECK");
  Repeated(cmd, "-v,--volume", o.volumes, "Bind mount a volume");
  Repeated(cmd, "--mount", o.mounts, "Attach a filesystem mount to the container");
  Repeated(cmd, "--volumes-from", o.volumes_from, "Mount volumes from the specified container(s)");
}

namespace {

// encoding/csv's Read of one line: fields split at commas, "…" quoting with "" for a quote.
std::vector<std::string> CsvFields(std::string_view text) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"' && out.back().empty()) {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  if (quoted) ThrowInvalid("extraneous or missing \" in quoted-field");
  return out;
}

// strconv.ParseBool.
std::optional<bool> GoBool(const std::string& v) {
  if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False") {
    return false;
  }
  return std::nullopt;
}

}  // namespace

json ParseMountOpt(std::string_view text) {
  auto fail = [&text](const std::string& why) -> void {
    ThrowInvalid("invalid argument \"" + std::string(text) + "\" for \"--mount\" flag: " + why);
  };
  json mount = {{"Type", "volume"}, {"Source", ""}, {"Target", ""}};
  json volume = json::object(), bind = json::object(), tmpfs = json::object();
  auto map_entry = [](json& map, const std::string& v) {
    size_t eq = v.find('=');
    map[v.substr(0, eq)] = eq == std::string::npos ? "" : v.substr(eq + 1);
  };
  for (const std::string& field : CsvFields(text)) {
    size_t eq = field.find('=');
    std::string key = field.substr(0, eq);
    std::transform(key.begin(), key.end(), key.begin(), ::tolower);
    if (eq == std::string::npos) {
      if (key == "readonly" || key == "ro") {
        mount["ReadOnly"] = true;
        continue;
      }
      if (key == "volume-nocopy") {
        volume["NoCopy"] = true;
        continue;
      }
      if (key == "bind-nonrecursive") {
        bind["NonRecursive"] = true;
        continue;
      }
      fail("invalid field '" + field + "' must be a key=value pair");
    }
    std::string value = field.substr(eq + 1);
    auto boolean = [&]() {
      std::optional<bool> b = GoBool(value);
      if (!b) fail("invalid value for " + key + ": " + value);
      return *b;
    };
    if (key == "type") {
      std::string t = value;
      std::transform(t.begin(), t.end(), t.begin(), ::tolower);
      mount["Type"] = t;
    } else if (key == "source" || key == "src") {
      if (value == "." || value.rfind("./", 0) == 0) {
        char cwd[4096];
        if (getcwd(cwd, sizeof(cwd)) != nullptr) {
          value = std::string(cwd) + (value == "." ? "" : value.substr(1));
        }
      }
      mount["Source"] = value;
    } else if (key == "target" || key == "dst" || key == "destination") {
      mount["Target"] = value;
    } else if (key == "readonly" || key == "ro") {
      mount["ReadOnly"] = boolean();
    } else if (key == "consistency") {
      mount["Consistency"] = value;
    } else if (key == "bind-propagation") {
      std::string p = value;
      std::transform(p.begin(), p.end(), p.begin(), ::tolower);
      bind["Propagation"] = p;
    } else if (key == "bind-nonrecursive") {
      bind["NonRecursive"] = boolean();
    } else if (key == "volume-driver") {
      volume["DriverConfig"]["Name"] = value;
    } else if (key == "volume-opt") {
      map_entry(volume["DriverConfig"]["Options"], value);
    } else if (key == "volume-label") {
      map_entry(volume["Labels"], value);
    } else if (key == "volume-nocopy") {
      volume["NoCopy"] = boolean();
    } else if (key == "tmpfs-size") {
      try {
        tmpfs["SizeBytes"] = ParseSize(value);
      } catch (const Error&) {
        fail("invalid value for " + key + ": " + value);
      }
    } else if (key == "tmpfs-mode") {
      char* end = nullptr;
      errno = 0;
      unsigned long mode = strtoul(value.c_str(), &end, 8);
      if (value.empty() || *end != '\0' || errno != 0 || mode > 0xffffffffUL) {
        fail("invalid value for " + key + ": " + value);
      }
      tmpfs["Mode"] = mode;
    } else {
      fail("unexpected key '" + key + "' in '" + field + "'");
    }
  }
  const std::string type = mount["Type"];
  if (type.empty()) fail("type is required");
  if (mount["Target"] == "") fail("target is required");
  if (!volume.empty() && type != "volume") {
    fail("cannot mix 'volume-*' options with mount type '" + type + "'");
  }
  if (!bind.empty() && type != "bind") {
    fail("cannot mix 'bind-*' options with mount type '" + type + "'");
  }
  if (!tmpfs.empty() && type != "tmpfs") {
    fail("cannot mix 'tmpfs-*' options with mount type '" + type + "'");
  }
  if (!volume.empty()) mount["VolumeOptions"] = volume;
  if (!bind.empty()) mount["BindOptions"] = bind;
  if (!tmpfs.empty()) mount["TmpfsOptions"] = tmpfs;
  return mount;
}

namespace {

// "80", "8000-8010": the ports of a range, as text.
std::vector<std::string> PortRange(const std::string& text, const std::string& spec) {
  size_t dash = text.find('-');
  auto num = [&](const std::string& t) {
    char* end = nullptr;
    long v = strtol(t.c_str(), &end, 10);
    if (t.empty() || *end != '\0' || v < 0 || v > 65535) {
      ThrowInvalid("invalid containerPort: " + spec);
    }
    return v;
  };
  if (dash == std::string::npos) return {std::to_string(num(text))};
  long first = num(text.substr(0, dash)), last = num(text.substr(dash + 1));
  if (last < first) ThrowInvalid("invalid range specified for container port: " + spec);
  std::vector<std::string> out;
  for (long p = first; p <= last; ++p) out.push_back(std::to_string(p));
  return out;
}

// `-p [ip:][host:]container[/proto]` into PortBindings and ExposedPorts, as the docker CLI
// sends them (nat.ParsePortSpecs); the daemon checks the values.
void AddPublish(json& bindings, json& exposed, const std::string& spec) {
  std::string rest = spec, proto = "tcp";
  size_t slash = rest.rfind('/');
  if (slash != std::string::npos && rest.find(':', slash) == std::string::npos) {
    proto = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  std::string ip;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) ThrowInvalid("invalid IP address: " + spec);
    ip = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest[0] == ':') rest.erase(0, 1);
  }
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t colon; (colon = rest.find(':', start)) != std::string::npos; start = colon + 1) {
    parts.push_back(rest.substr(start, colon - start));
  }
  parts.push_back(rest.substr(start));
  std::string host, container;
  if (parts.size() == 1) {
    container = parts[0];
  } else if (parts.size() == 2) {
    host = parts[0];
    container = parts[1];
  } else if (parts.size() == 3 && ip.empty()) {
    ip = parts[0];
    host = parts[1];
    container = parts[2];
  } else {
    ThrowInvalid("invalid port format: " + spec);
  }
  std::vector<std::string> ports = PortRange(container, spec);
  std::vector<std::string> hosts;
  if (!host.empty() && ports.size() > 1) {
    hosts = PortRange(host, spec);
    if (hosts.size() != ports.size()) {
      ThrowInvalid("invalid ranges specified for container and host Ports: " + container + " and " +
                   host);
    }
  }
  for (size_t i = 0; i < ports.size(); ++i) {
    std::string key = ports[i] + "/" + proto;
    exposed[key] = json::object();
    bindings[key].push_back({{"HostIp", ip}, {"HostPort", hosts.empty() ? host : hosts[i]}});
  }
}

void SetNetworking(json& body, const ContainerOptions& o) {
  json& host = body["HostConfig"];
  json bindings = json::object();
  json exposed = json::object();
  for (const std::string& p : o.publish) AddPublish(bindings, exposed, p);
  for (const std::string& e : o.expose) {
    std::string proto = "tcp", ports = e;
    size_t slash = e.find('/');
    if (slash != std::string::npos) {
      proto = e.substr(slash + 1);
      ports = e.substr(0, slash);
    }
    for (const std::string& port : PortRange(ports, e))
      exposed[port + "/" + proto] = json::object();
  }
  host["PortBindings"] = bindings;
  host["PublishAllPorts"] = o.publish_all;
  if (!exposed.empty()) body["ExposedPorts"] = exposed;
  host["Dns"] = o.dns;
  host["DnsSearch"] = o.dns_search;
  host["DnsOptions"] = o.dns_options;
  if (!o.add_hosts.empty()) host["ExtraHosts"] = o.add_hosts;
  json endpoint = json::object();
  if (!o.ip.empty()) endpoint["IPAMConfig"]["IPv4Address"] = o.ip;
  if (!o.ip6.empty()) endpoint["IPAMConfig"]["IPv6Address"] = o.ip6;
  if (!o.network_aliases.empty()) endpoint["Aliases"] = o.network_aliases;
  if (!endpoint.empty()) {
    if (o.network.empty() || o.network == "default") {
      ThrowInvalid(!o.ip.empty() || !o.ip6.empty()
                       ? "user specified IP address is supported on user defined networks only"
                       : "network-scoped alias is supported only for containers in user defined "
                         "networks");
    }
    body["NetworkingConfig"]["EndpointsConfig"][o.network] = endpoint;
  }
}

}  // namespace

nlohmann::json HealthcheckBody(const ContainerOptions& o) {
  bool any = !o.health_cmd.empty() || !o.health_interval.empty() || !o.health_timeout.empty() ||
             !o.health_start_period.empty() || !o.health_start_interval.empty() ||
             !o.health_retries.empty();
  if (o.no_healthcheck) {
    if (any) ThrowInvalid("--no-healthcheck conflicts with --health-* options");
    return {{"Test", {"NONE"}}};
  }
  if (!any) return nullptr;
  json hc = json::object();
  if (!o.health_cmd.empty()) hc["Test"] = {"CMD-SHELL", o.health_cmd};
  auto duration = [&hc](const std::string& text, const char* flag, const char* key) {
    if (text.empty()) return;
    std::optional<int64_t> ns = ParseGoDuration(text);
    if (!ns) {
      ThrowInvalid(std::string("invalid argument \"") + text + "\" for \"" + flag +
                   "\" flag: time: invalid duration \"" + text + "\"");
    }
    if (*ns < 0) ThrowInvalid(std::string(flag) + " cannot be negative");
    hc[key] = *ns;
  };
  duration(o.health_interval, "--health-interval", "Interval");
  duration(o.health_timeout, "--health-timeout", "Timeout");
  duration(o.health_start_period, "--health-start-period", "StartPeriod");
  duration(o.health_start_interval, "--health-start-interval", "StartInterval");
  if (!o.health_retries.empty()) {
    int64_t retries = ParseInt(o.health_retries, "--health-retries");
    if (retries < 0) ThrowInvalid("--health-retries cannot be negative");
    hc["Retries"] = retries;
  }
  return hc;
}

nlohmann::json CreateBody(const ContainerOptions& o, const std::vector<std::string>& args,
                          bool detach) {
  if (args.empty()) {
    ThrowInvalid("requires at least 1 argument: IMAGE [COMMAND] [ARG...]");
  }
  json body = json::parse(kSkeleton);
  json& host = body["HostConfig"];
  body["Image"] = args[0];
  body["Cmd"] = NullIfEmpty({args.begin() + 1, args.end()});
  if (!o.entrypoint.empty()) {
    body["Entrypoint"] = json::array({o.entrypoint.back()});
  }

  std::vector<std::string> env;
  for (const std::string& file : o.env_files) {
    for (std::string& line : ReadKeyValueFile(file, true)) {
      env.push_back(std::move(line));
    }
  }
  for (const std::string& e : o.env) {
    env.push_back(ExpandEnv(e));
  }
  body["Env"] = NullIfEmpty(env);

  std::vector<std::string> labels;
  for (const std::string& file : o.label_files) {
    for (std::string& line : ReadKeyValueFile(file, false)) {
      labels.push_back(std::move(line));
    }
  }
  labels.insert(labels.end(), o.labels.begin(), o.labels.end());
  body["Labels"] = KeyValueMap(labels, nullptr);

  body["Hostname"] = o.hostname;
  body["Domainname"] = o.domainname;
  body["User"] = o.user;
  body["WorkingDir"] = o.workdir;
  body["Tty"] = o.tty;
  body["OpenStdin"] = o.interactive;
  body["AttachStdin"] = o.interactive && !detach;
  body["AttachStdout"] = !detach;
  body["AttachStderr"] = !detach;
  // "When allocating stdin in attached mode, close stdin at client disconnect."
  body["StdinOnce"] = o.interactive && !detach;
  if (!o.stop_signal.empty()) body["StopSignal"] = o.stop_signal;
  if (!o.stop_timeout.empty()) body["StopTimeout"] = ParseInt(o.stop_timeout, "--stop-timeout");
  if (json hc = HealthcheckBody(o); !hc.is_null()) body["Healthcheck"] = hc;

  std::vector<std::string> binds;
  for (const std::string& v : o.volumes) {
    size_t colon = v.find(':');
    if (colon == std::string::npos) {
      body["Volumes"][v] = json::object();  // an anonymous volume
      continue;
    }
    std::string source = v.substr(0, colon);
    if (source == "." || source.rfind("./", 0) == 0) {
      char cwd[4096];
      if (getcwd(cwd, sizeof(cwd)) != nullptr) {
        source = std::string(cwd) + (source == "." ? "" : source.substr(1));
      }
    }
    binds.push_back(source + v.substr(colon));
  }
  host["Binds"] = NullIfEmpty(binds);
  host["VolumesFrom"] = NullIfEmpty(o.volumes_from);
  if (!o.mounts.empty()) {
    host["Mounts"] = json::array();
    for (const std::string& m : o.mounts) host["Mounts"].push_back(ParseMountOpt(m));
  }

  SetResources(host, o.resources);
  if (!o.shm_size.empty()) host["ShmSize"] = ParseSize(o.shm_size);
  if (!o.oom_score_adj.empty()) {
    int64_t adj = ParseInt(o.oom_score_adj, "--oom-score-adj");
    if (adj < -1000 || adj > 1000) {
      ThrowInvalid("--oom-score-adj should be between -1000 and 1000");
    }
    host["OomScoreAdj"] = adj;
  }
  host["AutoRemove"] = o.rm;
  if (o.rm && !o.restart.empty() && o.restart != "no") {
    ThrowInvalid("Conflicting options: --restart and --rm");
  }
  host["RestartPolicy"] = RestartPolicy(o.restart);
  host["NetworkMode"] = o.network;
  SetNetworking(body, o);
  host["CapAdd"] = NullIfEmpty(o.cap_add);
  host["CapDrop"] = NullIfEmpty(o.cap_drop);
  host["SecurityOpt"] = NullIfEmpty(SecurityOpts(o.security_opt));
  host["ReadonlyRootfs"] = o.read_only;
  host["Privileged"] = o.privileged;
  if (o.init) host["Init"] = true;
  if (!o.tmpfs.empty()) {
    json tmpfs = json::object();
    for (const std::string& t : o.tmpfs) {
      size_t colon = t.find(':');
      tmpfs[t.substr(0, colon)] = colon == std::string::npos ? "" : t.substr(colon + 1);
    }
    host["Tmpfs"] = tmpfs;
  }
  if (!o.ulimits.empty()) {
    host["Ulimits"] = json::array();
    for (const std::string& u : o.ulimits) {
      host["Ulimits"].push_back(ParseUlimit(u));
    }
  }
  for (const std::string& d : o.devices) {
    host["Devices"].push_back(ParseDevice(d));
  }
  host["LogConfig"] = {{"Type", o.log_driver}, {"Config", KeyValueMap(o.log_opts, "log-opt")}};
  host["UsernsMode"] = o.userns;
  host["PidMode"] = o.pid;
  host["IpcMode"] = o.ipc;
  host["UTSMode"] = o.uts;
  if (!o.sysctls.empty()) host["Sysctls"] = KeyValueMap(o.sysctls, "sysctl");
  host["GroupAdd"] = NullIfEmpty(o.group_add);
  return body;
}

void AddUpdateFlags(CLI::App* cmd, UpdateOptions& o) {
  AddResourceFlags(cmd, o.resources);
  cmd->add_option("--blkio-weight", o.blkio_weight, "Block IO (relative weight), 10 to 1000");
  cmd->add_option("--restart", o.restart, "Restart policy to apply when a container exits");
}

nlohmann::json UpdateBody(const UpdateOptions& o) {
  json body = json::object();
  SetResources(body, o.resources);
  if (!o.blkio_weight.empty()) body["BlkioWeight"] = ParseInt(o.blkio_weight, "--blkio-weight");
  if (!o.restart.empty()) body["RestartPolicy"] = RestartPolicy(o.restart);
  if (body.empty()) {
    ThrowInvalid("you must provide one or more flags when using this command");
  }
  return body;
}

}  // namespace berth::cli

#include "engine/container_spec.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "base/error.h"
#include "engine/container_spec_internal.h"
#include "oci/default_spec.h"
#include "oci/runtime_spec.h"

namespace berth::engine {

using nlohmann::json;
using namespace internal;  // NOLINT(google-build-using-namespace): this file's own helpers

namespace {

constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// The uid and gid a named user runs as until the caller resolves the name: never root.
constexpr uint32_t kNobody = 65534;
// The size of the default user namespace mapping (oci::DefaultSpec).
constexpr uint64_t kMappedIds = 65536;

std::string EnvKey(const std::string& entry) { return entry.substr(0, entry.find('=')); }

// Docker's ReplaceOrAppendEnvValues: an override replaces the entry with its key in place or is
// appended; an override without "=" removes the key.
void MergeEnv(std::vector<std::string>& env, const std::vector<std::string>& overrides) {
  for (const auto& o : overrides) {
    std::string key = EnvKey(o);
    auto it = std::find_if(env.begin(), env.end(),
                           [&](const std::string& e) { return EnvKey(e) == key; });
    if (o.find('=') == std::string::npos) {
      if (it != env.end()) {
        env.erase(it);
      }
    } else if (it != env.end()) {
      *it = o;
    } else {
      env.push_back(o);
    }
  }
}

json MergeObjects(const json& image, const json& create) {
  json out = image.is_object() ? image : json::object();
  if (create.is_object()) {
    for (auto it = create.begin(); it != create.end(); ++it) {
      out[it.key()] = it.value();
    }
  }
  return out;
}

std::optional<uint32_t> ParseId(const std::string& s) {
  if (s.empty() || s.size() > 10 ||
      !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return std::nullopt;
  }
  uint64_t v = std::stoull(s);
  if (v > std::numeric_limits<uint32_t>::max()) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(v);
}

// Healthcheck: the body's wins; its empty Test and zero durations come from the image's.
json MergeHealthcheck(const json& image, const json& create) {
  if (!create.is_object()) {
    return image.is_object() ? image : json();
  }
  json out = create;
  if (image.is_object()) {
    const json& test = out.contains("Test") ? out["Test"] : json();
    if (!test.is_array() || test.empty()) {
      out["Test"] = image.value("Test", json());
    }
    for (const char* k : {"Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"}) {
      if (!out.contains(k) || out[k].is_null() || out[k] == 0) {
        if (image.contains(k)) {
          out[k] = image[k];
        }
      }
    }
  }
  return out;
}

struct MergedConfig {
  json config;  // for inspect
  std::vector<std::string> args;
  std::vector<std::string> env;  // image env then body env
  std::string cwd;
  std::string user;
  std::string hostname;
  std::string domainname;
  bool tty = false;
};

MergedConfig MergeConfig(const ContainerSpecInput& in) {
  const json& c = in.create;
  const json image = in.image_config.is_object() ? in.image_config : json::object();
  MergedConfig m;

  // Cmd and Entrypoint, as daemon/commit.go's merge: a body Entrypoint (even an empty one, as
  // `--entrypoint ""` sends) replaces the image's and drops the image's Cmd.
  std::optional<std::vector<std::string>> body_entrypoint;
  if (Has(c, "Entrypoint")) {
    body_entrypoint = StrSlice(c, "Entrypoint", "Entrypoint");
    if (body_entrypoint->size() == 1 && body_entrypoint->front().empty()) {
      body_entrypoint->clear();
    }
  }
  std::vector<std::string> cmd = StrSlice(c, "Cmd", "Cmd");
  std::vector<std::string> entrypoint;
  if (body_entrypoint) {
    entrypoint = *body_entrypoint;
  } else {
    entrypoint = StrSlice(image, "Entrypoint", "image config Entrypoint");
    if (cmd.empty()) {
      cmd = StrSlice(image, "Cmd", "image config Cmd");
    }
  }
  m.args = entrypoint;
  m.args.insert(m.args.end(), cmd.begin(), cmd.end());
  if (m.args.empty()) {
    throw Error(Kind::kInvalidArgument, "No command specified");
  }

  // daemon/commit.go merge: the body's entries, then the image's whose key the body lacks. An
  // entry without "=" stays in Config.Env and unsets the key in the process (MergeEnv).
  m.env = StrList(c, "Env", "Env");
  for (const auto& e : StrList(image, "Env", "image config Env")) {
    std::string key = EnvKey(e);
    if (std::none_of(m.env.begin(), m.env.end(),
                     [&](const std::string& u) { return EnvKey(u) == key; })) {
      m.env.push_back(e);
    }
  }
  for (const auto& e : m.env) {
    if (EnvKey(e).empty()) {
      Bad("Env", "invalid environment variable: \"" + e + "\"");
    }
  }

  std::string cwd = Str(c, "WorkingDir", "WorkingDir");
  if (cwd.empty()) {
    cwd = Str(image, "WorkingDir", "image config WorkingDir");
  }
  if (!cwd.empty() && cwd.front() != '/') {
    Bad("WorkingDir",
        "the working directory '" + cwd + "' is invalid, it needs to be an absolute path");
  }
  m.cwd = cwd.empty() ? "/" : cwd;

  m.user = Str(c, "User", "User");
  if (m.user.empty()) {
    m.user = Str(image, "User", "image config User");
  }
  m.hostname = Str(c, "Hostname", "Hostname");
  m.domainname = Str(c, "Domainname", "Domainname");
  if (m.hostname.empty()) {
    m.hostname = in.hostname_default;
  }
  if (m.hostname.size() > 64) {
    Bad("Hostname", "longer than 64 characters");
  }
  m.tty = Bool(c, "Tty", "Tty");

  json labels = MergeObjects(image.value("Labels", json()), c.value("Labels", json()));
  json ports = MergeObjects(image.value("ExposedPorts", json()), c.value("ExposedPorts", json()));
  json volumes = MergeObjects(image.value("Volumes", json()), c.value("Volumes", json()));
  std::string stop_signal = Str(c, "StopSignal", "StopSignal");
  if (stop_signal.empty()) {
    stop_signal = Str(image, "StopSignal", "image config StopSignal");
  }

  auto slice_or_null = [](const std::vector<std::string>& v, bool present) {
    return present ? json(v) : json();
  };
  json& out = m.config;
  out = {
      {"Hostname", m.hostname},
      {"Domainname", m.domainname},
      {"User", m.user},
      {"AttachStdin", Bool(c, "AttachStdin", "AttachStdin")},
      {"AttachStdout", Bool(c, "AttachStdout", "AttachStdout")},
      {"AttachStderr", Bool(c, "AttachStderr", "AttachStderr")},
      {"Tty", m.tty},
      {"OpenStdin", Bool(c, "OpenStdin", "OpenStdin")},
      {"StdinOnce", Bool(c, "StdinOnce", "StdinOnce")},
      {"Env", m.env},
      {"Cmd", slice_or_null(cmd, !cmd.empty())},
      {"Image", Str(c, "Image", "Image")},
      {"Volumes", volumes.empty() ? json() : volumes},
      {"WorkingDir", cwd},
      {"Entrypoint", slice_or_null(entrypoint, !entrypoint.empty())},
      {"OnBuild", c.value("OnBuild", json())},
      {"Labels", labels},
  };
  if (!ports.empty()) {
    out["ExposedPorts"] = ports;
  }
  if (!stop_signal.empty()) {
    out["StopSignal"] = stop_signal;
  }
  if (Has(c, "StopTimeout")) {
    out["StopTimeout"] = Int(c, "StopTimeout", "StopTimeout");
  }
  json health =
      MergeHealthcheck(image.value("Healthcheck", json()), c.value("Healthcheck", json()));
  if (!health.is_null()) {
    out["Healthcheck"] = health;
  }
  if (Bool(c, "NetworkDisabled", "NetworkDisabled")) {
    out["NetworkDisabled"] = true;
  }
  return m;
}

// User ("uid[:gid]" or names) and GroupAdd into process.user, or a lookup for the caller.
void ApplyUser(const std::string& user, const json& hc, bool userns, ContainerSpec& out) {
  std::string u = user;
  std::string g;
  bool has_group = false;
  if (auto colon = user.find(':'); colon != std::string::npos) {
    u = user.substr(0, colon);
    g = user.substr(colon + 1);
    has_group = true;
  }
  auto uid = u.empty() ? std::optional<uint32_t>(0) : ParseId(u);
  auto gid = g.empty() ? std::optional<uint32_t>(0) : ParseId(g);
  auto check_mapped = [&](std::optional<uint32_t> id, const char* what) {
    if (userns && id && *id >= kMappedIds) {
      Bad("User", std::string(what) + " " + std::to_string(*id) +
                      " is outside the container's user namespace (0-65535)");
    }
  };
  check_mapped(uid, "uid");
  check_mapped(gid, "gid");

  std::vector<uint32_t> additional;
  bool group_names = false;
  const std::vector<std::string> group_add = StrList(hc, "GroupAdd", "HostConfig.GroupAdd");
  for (const auto& group : group_add) {
    if (auto id = ParseId(group)) {
      if (userns && *id >= kMappedIds) {
        Bad("HostConfig.GroupAdd", "gid " + group + " is outside the container's user namespace");
      }
      additional.push_back(*id);
    } else if (group.empty()) {
      Bad("HostConfig.GroupAdd", "empty group name");
    } else {
      group_names = true;
    }
  }

  bool named = !uid || !gid;
  out.needs_user_lookup = named || (!u.empty() && !has_group) || group_names;
  if (out.needs_user_lookup) {
    // Every GroupAdd entry, numbers too: ApplyResolvedUser replaces the whole user.
    out.user_lookup = {u, g, group_add};
  }
  if (named) {
    ApplyResolvedUser(out.spec, kNobody, kNobody, {});
  } else {
    ApplyResolvedUser(out.spec, *uid, *gid, additional);
  }
}

}  // namespace

void ApplyResolvedUser(json& spec, uint32_t uid, uint32_t gid,
                       const std::vector<uint32_t>& additional_gids) {
  json& u = spec["process"]["user"];
  u = {{"uid", uid}, {"gid", gid}};
  if (!additional_gids.empty()) {
    u["additionalGids"] = additional_gids;
  }
}

ContainerSpec BuildContainerSpec(const ContainerSpecInput& in) {
  if (!in.create.is_object()) {
    ThrowInvalid("container create body: expected a JSON object");
  }
  if (in.rootfs.empty() || in.rootfs.front() != '/') {
    ThrowInvalid("rootfs: \"" + in.rootfs + "\" is not an absolute path");
  }
  const json hc_in = in.create.contains("HostConfig") && in.create["HostConfig"].is_object()
                         ? in.create["HostConfig"]
                         : json::object();
  if (in.create.contains("HostConfig") && !in.create["HostConfig"].is_null() &&
      !in.create["HostConfig"].is_object()) {
    ThrowInvalid("HostConfig: expected an object");
  }

  ContainerSpec out;
  out.spec = oci::DefaultSpec();
  json& spec = out.spec;
  MergedConfig merged = MergeConfig(in);
  out.config = std::move(merged.config);

  // Docker's CreateDaemonEnvironment: PATH, HOSTNAME and (with a TTY) TERM, then the config's.
  std::vector<std::string> env = {kDefaultPath, "HOSTNAME=" + merged.hostname};
  if (merged.tty) {
    env.push_back("TERM=xterm");
  }
  MergeEnv(env, merged.env);

  json& process = spec["process"];
  process["terminal"] = merged.tty;
  process["args"] = merged.args;
  process["env"] = env;
  process["cwd"] = merged.cwd;
  spec["root"] = {{"path", in.rootfs}, {"readonly", false}};
  spec["hostname"] = merged.hostname;
  if (!merged.domainname.empty()) {
    spec["domainname"] = merged.domainname;
  }

  HostOptions host =
      ApplyHostConfig(hc_in, !Str(in.create, "Hostname", "Hostname").empty(), in.mounts, out);
  ApplyUser(merged.user, hc_in, host.userns, out);
  if (host.host_uts) {
    // The container shares the host's hostname; HOSTNAME would name the wrong one. The caller
    // knows the host's and may add it (Docker does).
    json& e = process["env"];
    e.erase(std::remove(e.begin(), e.end(), json("HOSTNAME=" + merged.hostname)), e.end());
  }

  // The generated document must be one the runtime runs: a failure here is Berth's bug or a
  // combination the checks above missed, reported with the field the runtime names.
  try {
    oci::ParseSpec(spec.dump());
  } catch (const Error& e) {
    throw e.WithContext("container spec");
  }
  return out;
}

}  // namespace berth::engine

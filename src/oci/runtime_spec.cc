#include "oci/runtime_spec.h"

#include <sched.h>
#include <sys/personality.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <set>
#include <utility>

#include "base/error.h"

namespace berth::oci {

using nlohmann::json;

namespace {

const char* TypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    default:
      return "value";
  }
}

[[noreturn]] void Fail(const std::string& field, const std::string& what) {
  ThrowInvalid(field + ": " + what);
}

[[noreturn]] void WrongType(const std::string& field, const char* expected, const json& j) {
  Fail(field, std::string("expected ") + expected + ", got " + TypeName(j));
}

// A JSON object being read, with its dotted path for error messages. Unknown keys are allowed
// (the spec says so); present keys must have the right type.
class Obj {
 public:
  Obj(const json& j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j_.is_object()) {
      WrongType(path_.empty() ? "config" : path_, "an object", j_);
    }
  }

  std::string Field(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  const json* Get(std::string_view key) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      return nullptr;
    }
    return &*it;
  }
  bool Has(std::string_view key) const { return Get(key) != nullptr; }

  std::string Str(std::string_view key, bool required = false) const {
    const json* v = Get(key);
    if (v == nullptr) {
      if (required) {
        Fail(Field(key), "is required");
      }
      return {};
    }
    if (!v->is_string()) {
      WrongType(Field(key), "a string", *v);
    }
    return v->get<std::string>();
  }
  bool Bool(std::string_view key) const {
    const json* v = Get(key);
    if (v == nullptr) {
      return false;
    }
    if (!v->is_boolean()) {
      WrongType(Field(key), "a boolean", *v);
    }
    return v->get<bool>();
  }
  template <typename T>
  std::optional<T> Int(std::string_view key) const {
    const json* v = Get(key);
    if (v == nullptr) {
      return std::nullopt;
    }
    return IntValue<T>(*v, Field(key));
  }
  template <typename T>
  static T IntValue(const json& v, const std::string& field) {
    if (std::is_unsigned_v<T>) {
      if (!v.is_number_unsigned()) {
        if (v.is_number_integer()) {
          Fail(field, "must not be negative");
        }
        WrongType(field, "an unsigned integer", v);
      }
      uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        Fail(field, "value " + std::to_string(u) + " out of range");
      }
      return static_cast<T>(u);
    }
    if (!v.is_number_integer()) {
      WrongType(field, "an integer", v);
    }
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
      Fail(field, "value " + std::to_string(v.get<uint64_t>()) + " out of range");
    }
    int64_t s = v.get<int64_t>();
    if (s < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
        s > static_cast<int64_t>(std::numeric_limits<T>::max())) {
      Fail(field, "value " + std::to_string(s) + " out of range");
    }
    return static_cast<T>(s);
  }
  std::vector<std::string> Strings(std::string_view key) const {
    std::vector<std::string> out;
    const json* v = Get(key);
    if (v == nullptr) {
      return out;
    }
    if (!v->is_array()) {
      WrongType(Field(key), "an array of strings", *v);
    }
    for (size_t i = 0; i < v->size(); ++i) {
      const json& e = (*v)[i];
      if (!e.is_string()) {
        WrongType(Field(key) + "[" + std::to_string(i) + "]", "a string", e);
      }
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  std::map<std::string, std::string> StringMap(std::string_view key) const {
    std::map<std::string, std::string> out;
    const json* v = Get(key);
    if (v == nullptr) {
      return out;
    }
    if (!v->is_object()) {
      WrongType(Field(key), "an object of strings", *v);
    }
    for (auto& [k, e] : v->items()) {
      if (!e.is_string()) {
        WrongType(Field(key) + "." + k, "a string", e);
      }
      out[k] = e.get<std::string>();
    }
    return out;
  }
  // Calls fn(Obj, index) for each element of an array of objects.
  template <typename Fn>
  void EachObject(std::string_view key, Fn fn) const {
    const json* v = Get(key);
    if (v == nullptr) {
      return;
    }
    if (!v->is_array()) {
      WrongType(Field(key), "an array", *v);
    }
    for (size_t i = 0; i < v->size(); ++i) {
      fn(Obj((*v)[i], Field(key) + "[" + std::to_string(i) + "]"));
    }
  }
  std::optional<Obj> Child(std::string_view key) const {
    const json* v = Get(key);
    if (v == nullptr) {
      return std::nullopt;
    }
    return Obj(*v, Field(key));
  }
  const std::string& path() const { return path_; }

 private:
  const json& j_;
  std::string path_;
};

void RequireAbsolute(const std::string& field, const std::string& value) {
  if (value.empty() || value[0] != '/') {
    Fail(field, "must be an absolute path, got \"" + value + "\"");
  }
}

std::vector<IdMapping> ParseMappings(const Obj& o, std::string_view key) {
  std::vector<IdMapping> out;
  o.EachObject(key, [&](const Obj& m) {
    IdMapping im;
    im.container_id = m.Int<uint32_t>("containerID").value_or(0);
    im.host_id = m.Int<uint32_t>("hostID").value_or(0);
    auto size = m.Int<uint32_t>("size");
    if (!size || *size == 0) {
      Fail(m.Field("size"), "must be a positive integer");
    }
    im.size = *size;
    if (!m.Has("containerID") || !m.Has("hostID")) {
      Fail(m.path(), "containerID and hostID are required");
    }
    out.push_back(im);
  });
  return out;
}

std::vector<Hook> ParseHooks(const Obj& hooks, std::string_view key) {
  std::vector<Hook> out;
  hooks.EachObject(key, [&](const Obj& h) {
    Hook hook;
    hook.path = h.Str("path", true);
    RequireAbsolute(h.Field("path"), hook.path);
    hook.args = h.Strings("args");
    hook.env = h.Strings("env");
    hook.timeout = h.Int<int>("timeout");
    if (hook.timeout && *hook.timeout <= 0) {
      Fail(h.Field("timeout"), "must be greater than zero");
    }
    out.push_back(std::move(hook));
  });
  return out;
}

void ValidateEnv(const Obj& o, const std::vector<std::string>& env) {
  for (size_t i = 0; i < env.size(); ++i) {
    if (env[i].find('=') == std::string::npos || env[i][0] == '=') {
      Fail(o.Field("env") + "[" + std::to_string(i) + "]",
           "must have the form KEY=value, got \"" + env[i] + "\"");
    }
  }
}

std::vector<std::string> ParseCapabilitySet(const Obj& caps, std::string_view key) {
  std::vector<std::string> names = caps.Strings(key);
  for (size_t i = 0; i < names.size(); ++i) {
    if (CapabilityNumber(names[i]) < 0) {
      Fail(caps.Field(key) + "[" + std::to_string(i) + "]",
           "unknown capability \"" + names[i] + "\"");
    }
  }
  return names;
}

Process ParseProcessObj(const Obj& p) {
  Process proc;
  proc.terminal = p.Bool("terminal");
  if (auto cs = p.Child("consoleSize")) {
    proc.console_size = ConsoleSize{cs->Int<unsigned>("height").value_or(0),
                                    cs->Int<unsigned>("width").value_or(0)};
  }
  if (auto u = p.Child("user")) {
    proc.user.uid = u->Int<uint32_t>("uid").value_or(0);
    proc.user.gid = u->Int<uint32_t>("gid").value_or(0);
    proc.user.umask = u->Int<uint32_t>("umask");
    if (const json* g = u->Get("additionalGids")) {
      if (!g->is_array()) {
        WrongType(u->Field("additionalGids"), "an array of integers", *g);
      }
      for (size_t i = 0; i < g->size(); ++i) {
        proc.user.additional_gids.push_back(Obj::IntValue<uint32_t>(
            (*g)[i], u->Field("additionalGids") + "[" + std::to_string(i) + "]"));
      }
    }
  }
  proc.args = p.Strings("args");
  if (proc.args.empty()) {
    Fail(p.Field("args"), "must name the program to run");
  }
  proc.env = p.Strings("env");
  ValidateEnv(p, proc.env);
  proc.cwd = p.Str("cwd", true);
  RequireAbsolute(p.Field("cwd"), proc.cwd);
  if (auto caps = p.Child("capabilities")) {
    Capabilities c;
    c.bounding = ParseCapabilitySet(*caps, "bounding");
    c.effective = ParseCapabilitySet(*caps, "effective");
    c.inheritable = ParseCapabilitySet(*caps, "inheritable");
    c.permitted = ParseCapabilitySet(*caps, "permitted");
    c.ambient = ParseCapabilitySet(*caps, "ambient");
    proc.capabilities = std::move(c);
  }
  std::set<int> seen_rlimits;
  p.EachObject("rlimits", [&](const Obj& r) {
    Rlimit rl;
    rl.type = r.Str("type", true);
    rl.resource = RlimitNumber(rl.type);
    if (rl.resource < 0) {
      Fail(r.Field("type"), "unknown rlimit \"" + rl.type + "\"");
    }
    if (!seen_rlimits.insert(rl.resource).second) {
      Fail(r.Field("type"), "duplicate rlimit \"" + rl.type + "\"");
    }
    auto hard = r.Int<uint64_t>("hard");
    auto soft = r.Int<uint64_t>("soft");
    if (!hard || !soft) {
      Fail(r.Field(hard ? "soft" : "hard"), "is required");
    }
    rl.hard = *hard;
    rl.soft = *soft;
    if (rl.soft > rl.hard) {
      Fail(r.path(), "soft limit " + std::to_string(rl.soft) + " exceeds hard limit " +
                         std::to_string(rl.hard));
    }
    proc.rlimits.push_back(rl);
  });
  proc.no_new_privileges = p.Bool("noNewPrivileges");
  proc.oom_score_adj = p.Int<int>("oomScoreAdj");
  if (proc.oom_score_adj && (*proc.oom_score_adj < -1000 || *proc.oom_score_adj > 1000)) {
    Fail(p.Field("oomScoreAdj"), "must be between -1000 and 1000");
  }
  proc.apparmor_profile = p.Str("apparmorProfile");
  proc.selinux_label = p.Str("selinuxLabel");
  return proc;
}

constexpr std::array<std::pair<std::string_view, NamespaceType>, 8> kNamespaceNames = {{
    {"pid", NamespaceType::kPid},
    {"network", NamespaceType::kNetwork},
    {"mount", NamespaceType::kMount},
    {"ipc", NamespaceType::kIpc},
    {"uts", NamespaceType::kUts},
    {"user", NamespaceType::kUser},
    {"cgroup", NamespaceType::kCgroup},
    {"time", NamespaceType::kTime},
}};

Linux ParseLinux(const Obj& l) {
  Linux lx;
  std::set<NamespaceType> seen;
  l.EachObject("namespaces", [&](const Obj& n) {
    std::string type = n.Str("type", true);
    const auto* entry = std::find_if(kNamespaceNames.begin(), kNamespaceNames.end(),
                                     [&](const auto& e) { return e.first == type; });
    if (entry == kNamespaceNames.end()) {
      Fail(n.Field("type"), "unknown namespace type \"" + type + "\"");
    }
    if (!seen.insert(entry->second).second) {
      Fail(n.Field("type"), "duplicate namespace \"" + type + "\"");
    }
    Namespace ns{entry->second, n.Str("path")};
    if (!ns.path.empty()) {
      RequireAbsolute(n.Field("path"), ns.path);
    }
    lx.namespaces.push_back(std::move(ns));
  });
  lx.uid_mappings = ParseMappings(l, "uidMappings");
  lx.gid_mappings = ParseMappings(l, "gidMappings");
  const Namespace* user = lx.Find(NamespaceType::kUser);
  if ((!lx.uid_mappings.empty() || !lx.gid_mappings.empty()) && user == nullptr) {
    Fail(l.Field("uidMappings"), "mappings need a user namespace in linux.namespaces");
  }
  if (user != nullptr && user->path.empty() &&
      (lx.uid_mappings.empty() || lx.gid_mappings.empty())) {
    Fail(l.Field("uidMappings"), "a new user namespace needs uidMappings and gidMappings");
  }
  if (user != nullptr && !user->path.empty() &&
      (!lx.uid_mappings.empty() || !lx.gid_mappings.empty())) {
    Fail(l.Field("uidMappings"), "cannot be set when joining an existing user namespace");
  }
  if (auto t = l.Child("timeOffsets")) {
    const Namespace* time_ns = lx.Find(NamespaceType::kTime);
    if (time_ns == nullptr || !time_ns->path.empty()) {
      Fail(t->path(), "needs a new time namespace in linux.namespaces");
    }
    for (const auto& [clock, value] : l.Get("timeOffsets")->items()) {
      if (clock != "monotonic" && clock != "boottime") {
        Fail(t->Field(clock), "unknown clock (monotonic or boottime)");
      }
      Obj c(value, t->Field(clock));
      uint32_t nanos = c.Int<uint32_t>("nanosecs").value_or(0);
      if (nanos >= 1000000000) {
        Fail(c.Field("nanosecs"), "must be below 1000000000");
      }
      lx.time_offsets[clock] = TimeOffset{c.Int<int64_t>("secs").value_or(0), nanos};
    }
  }
  l.EachObject("devices", [&](const Obj& d) {
    Device dev;
    std::string type = d.Str("type", true);
    if (type.size() != 1 || std::string_view("cbup").find(type[0]) == std::string_view::npos) {
      Fail(d.Field("type"), "must be one of c, b, u, p; got \"" + type + "\"");
    }
    dev.type = type[0];
    dev.path = d.Str("path", true);
    RequireAbsolute(d.Field("path"), dev.path);
    if (dev.type != 'p') {
      auto major = d.Int<int64_t>("major");
      auto minor = d.Int<int64_t>("minor");
      if (!major || !minor) {
        Fail(d.path(), "major and minor are required for device type " + type);
      }
      dev.major = *major;
      dev.minor = *minor;
    }
    dev.file_mode = d.Int<uint32_t>("fileMode");
    dev.uid = d.Int<uint32_t>("uid");
    dev.gid = d.Int<uint32_t>("gid");
    lx.devices.push_back(std::move(dev));
  });
  lx.cgroups_path = l.Str("cgroupsPath");
  if (const json* r = l.Get("resources")) {
    if (!r->is_object()) {
      WrongType(l.Field("resources"), "an object", *r);
    }
    lx.resources = *r;
  }
  lx.rootfs_propagation = l.Str("rootfsPropagation");
  static const std::set<std::string> kPropagation = {"",        "shared",     "slave",
                                                     "private", "unbindable", "rshared",
                                                     "rslave",  "rprivate",   "runbindable"};
  if (!kPropagation.count(lx.rootfs_propagation)) {
    Fail(l.Field("rootfsPropagation"), "unknown propagation \"" + lx.rootfs_propagation + "\"");
  }
  lx.masked_paths = l.Strings("maskedPaths");
  lx.readonly_paths = l.Strings("readonlyPaths");
  for (size_t i = 0; i < lx.masked_paths.size(); ++i) {
    RequireAbsolute(l.Field("maskedPaths") + "[" + std::to_string(i) + "]", lx.masked_paths[i]);
  }
  for (size_t i = 0; i < lx.readonly_paths.size(); ++i) {
    RequireAbsolute(l.Field("readonlyPaths") + "[" + std::to_string(i) + "]", lx.readonly_paths[i]);
  }
  lx.sysctl = l.StringMap("sysctl");
  if (const json* s = l.Get("seccomp")) {
    if (!s->is_object()) {
      WrongType(l.Field("seccomp"), "an object", *s);
    }
    lx.seccomp = *s;
  }
  lx.mount_label = l.Str("mountLabel");
  if (auto p = l.Child("personality")) {
    std::string domain = p->Str("domain", true);
    if (domain == "LINUX") {
      lx.personality = PER_LINUX;
    } else if (domain == "LINUX32") {
      lx.personality = PER_LINUX32;
    } else {
      Fail(p->Field("domain"), "must be LINUX or LINUX32, got \"" + domain + "\"");
    }
    if (!p->Strings("flags").empty()) {
      Fail(p->Field("flags"), "no personality flags are defined by the runtime spec");
    }
  }
  return lx;
}

Spec ParseSpecObj(const Obj& o) {
  Spec spec;
  spec.oci_version = o.Str("ociVersion", true);
  if (spec.oci_version.rfind("1.", 0) != 0) {
    Fail("ociVersion", "unsupported version \"" + spec.oci_version + "\" (want 1.x)");
  }
  auto root = o.Child("root");
  if (!root) {
    Fail("root", "is required");
  }
  spec.root_path = root->Str("path", true);
  if (spec.root_path.empty()) {
    Fail("root.path", "must not be empty");
  }
  spec.root_readonly = root->Bool("readonly");
  o.EachObject("mounts", [&](const Obj& m) {
    Mount mount;
    mount.destination = m.Str("destination", true);
    RequireAbsolute(m.Field("destination"), mount.destination);
    mount.type = m.Str("type");
    mount.source = m.Str("source");
    mount.options = m.Strings("options");
    mount.uid_mappings = ParseMappings(m, "uidMappings");
    mount.gid_mappings = ParseMappings(m, "gidMappings");
    if (!mount.uid_mappings.empty() || !mount.gid_mappings.empty()) {
      if (mount.uid_mappings.empty() || mount.gid_mappings.empty()) {
        Fail(m.Field("uidMappings"), "an id-mapped mount needs both uidMappings and gidMappings");
      }
      bool bind = mount.type == "bind" ||
                  std::any_of(mount.options.begin(), mount.options.end(),
                              [](const std::string& o) { return o == "bind" || o == "rbind"; });
      if (!bind) {
        Fail(m.Field("uidMappings"), "only bind mounts can be id-mapped");
      }
    }
    spec.mounts.push_back(std::move(mount));
  });
  if (auto p = o.Child("process")) {
    spec.process = ParseProcessObj(*p);
  }
  spec.hostname = o.Str("hostname");
  spec.domainname = o.Str("domainname");
  if (auto h = o.Child("hooks")) {
    spec.hooks.prestart = ParseHooks(*h, "prestart");
    spec.hooks.create_runtime = ParseHooks(*h, "createRuntime");
    spec.hooks.create_container = ParseHooks(*h, "createContainer");
    spec.hooks.start_container = ParseHooks(*h, "startContainer");
    spec.hooks.poststart = ParseHooks(*h, "poststart");
    spec.hooks.poststop = ParseHooks(*h, "poststop");
  }
  spec.annotations = o.StringMap("annotations");
  if (auto l = o.Child("linux")) {
    spec.linux = ParseLinux(*l);
  }
  // Checked with or without a linux section: without a uts namespace of its own, setting
  // the hostname would set the host's.
  const Namespace* uts = spec.linux ? spec.linux->Find(NamespaceType::kUts) : nullptr;
  if ((!spec.hostname.empty() || !spec.domainname.empty()) &&
      (uts == nullptr || !uts->path.empty())) {
    Fail(spec.hostname.empty() ? "domainname" : "hostname",
         "needs a new uts namespace in linux.namespaces");
  }
  return spec;
}

json ParseJson(std::string_view text) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    ThrowInvalid(std::string("malformed JSON: ") + e.what());
  }
}

}  // namespace

const Namespace* Linux::Find(NamespaceType type) const {
  for (const auto& ns : namespaces) {
    if (ns.type == type) {
      return &ns;
    }
  }
  return nullptr;
}

Spec ParseSpec(std::string_view json_text) {
  json j = ParseJson(json_text);
  return ParseSpecObj(Obj(j, ""));
}

Process ParseProcess(std::string_view json_text) {
  json j = ParseJson(json_text);
  return ParseProcessObj(Obj(j, "process"));
}

std::string_view NamespaceTypeName(NamespaceType type) {
  for (const auto& [name, t] : kNamespaceNames) {
    if (t == type) {
      return name;
    }
  }
  return "unknown";
}

int NamespaceCloneFlag(NamespaceType type) {
  switch (type) {
    case NamespaceType::kPid:
      return CLONE_NEWPID;
    case NamespaceType::kNetwork:
      return CLONE_NEWNET;
    case NamespaceType::kMount:
      return CLONE_NEWNS;
    case NamespaceType::kIpc:
      return CLONE_NEWIPC;
    case NamespaceType::kUts:
      return CLONE_NEWUTS;
    case NamespaceType::kUser:
      return CLONE_NEWUSER;
    case NamespaceType::kCgroup:
      return CLONE_NEWCGROUP;
    case NamespaceType::kTime:
      return CLONE_NEWTIME;
  }
  return 0;
}

const std::vector<std::string>& KnownCapabilities() {
  static const std::vector<std::string> kCaps = {"CAP_CHOWN",
                                                 "CAP_DAC_OVERRIDE",
                                                 "CAP_DAC_READ_SEARCH",
                                                 "CAP_FOWNER",
                                                 "CAP_FSETID",
                                                 "CAP_KILL",
                                                 "CAP_SETGID",
                                                 "CAP_SETUID",
                                                 "CAP_SETPCAP",
                                                 "CAP_LINUX_IMMUTABLE",
                                                 "CAP_NET_BIND_SERVICE",
                                                 "CAP_NET_BROADCAST",
                                                 "CAP_NET_ADMIN",
                                                 "CAP_NET_RAW",
                                                 "CAP_IPC_LOCK",
                                                 "CAP_IPC_OWNER",
                                                 "CAP_SYS_MODULE",
                                                 "CAP_SYS_RAWIO",
                                                 "CAP_SYS_CHROOT",
                                                 "CAP_SYS_PTRACE",
                                                 "CAP_SYS_PACCT",
                                                 "CAP_SYS_ADMIN",
                                                 "CAP_SYS_BOOT",
                                                 "CAP_SYS_NICE",
                                                 "CAP_SYS_RESOURCE",
                                                 "CAP_SYS_TIME",
                                                 "CAP_SYS_TTY_CONFIG",
                                                 "CAP_MKNOD",
                                                 "CAP_LEASE",
                                                 "CAP_AUDIT_WRITE",
                                                 "CAP_AUDIT_CONTROL",
                                                 "CAP_SETFCAP",
                                                 "CAP_MAC_OVERRIDE",
                                                 "CAP_MAC_ADMIN",
                                                 "CAP_SYSLOG",
                                                 "CAP_WAKE_ALARM",
                                                 "CAP_BLOCK_SUSPEND",
                                                 "CAP_AUDIT_READ",
                                                 "CAP_PERFMON",
                                                 "CAP_BPF",
                                                 "CAP_CHECKPOINT_RESTORE"};
  return kCaps;
}

int CapabilityNumber(std::string_view name) {
  const auto& caps = KnownCapabilities();
  for (size_t i = 0; i < caps.size(); ++i) {
    if (caps[i] == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

int RlimitNumber(std::string_view name) {
  static const std::pair<std::string_view, int> kLimits[] = {
      {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
      {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
      {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
      {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
  };
  for (const auto& [n, v] : kLimits) {
    if (n == name) {
      return v;
    }
  }
  return -1;
}

}  // namespace berth::oci

#include "engine/mount_point.h"

#include <sys/mount.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "base/error.h"

namespace berth::engine {

using nlohmann::json;

namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos - start));
    if (pos == std::string::npos) return out;
    start = pos + 1;
  }
}

// filepath.Clean for absolute paths: no "//", no "." or ".." components, no trailing slash.
std::string CleanPath(const std::string& path) {
  if (path.empty() || path[0] != '/') return path;
  std::vector<std::string> parts;
  for (const std::string& p : Split(path, '/')) {
    if (p.empty() || p == ".") continue;
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(p);
  }
  std::string out;
  for (const std::string& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

const std::set<std::string>& Propagations() {
  static const std::set<std::string> k = {"private", "rprivate", "shared",
                                          "rshared", "slave",    "rslave"};
  return k;
}

[[noreturn]] void BadBind(const std::string& raw, const std::string& why) {
  ThrowInvalid("HostConfig.Binds: invalid mount config \"" + raw + "\": " + why);
}

[[noreturn]] void BadMount(const std::string& type, const std::string& why) {
  ThrowInvalid("HostConfig.Mounts: invalid mount config for type \"" + type + "\": " + why);
}

bool Given(const json& o, const char* key) {
  return o.is_object() && o.contains(key) && !o[key].is_null();
}

std::string Text(const json& o, const char* key, const std::string& type) {
  if (!Given(o, key)) return "";
  if (!o[key].is_string()) BadMount(type, std::string("field ") + key + " must be a string");
  return o[key].get<std::string>();
}

bool Flag(const json& o, const char* key, const std::string& type) {
  if (!Given(o, key)) return false;
  if (!o[key].is_boolean()) BadMount(type, std::string("field ") + key + " must be a boolean");
  return o[key].get<bool>();
}

json StringMap(const json& o, const char* key, const std::string& type) {
  if (!Given(o, key)) return json::object();
  if (!o[key].is_object()) BadMount(type, std::string("field ") + key + " must be an object");
  for (const auto& item : o[key].items()) {
    if (!item.value().is_string()) {
      BadMount(type, std::string("field ") + key + "." + item.key() + " must be a string");
    }
  }
  return o[key];
}

// A destination inside the container: absolute, not the root.
std::string Destination(const std::string& raw, const std::function<void(std::string)>& bad) {
  if (raw.empty() || raw[0] != '/') {
    bad("invalid mount path: '" + raw + "' mount path must be absolute");
  }
  std::string d = CleanPath(raw);
  if (d == "/") bad("invalid specification: destination can't be '/'");
  return d;
}

}  // namespace

json ToJson(const MountPoint& m) {
  return {{"Type", m.type},
          {"Name", m.name},
          {"Source", m.source},
          {"Destination", m.destination},
          {"Driver", m.driver},
          {"Mode", m.mode},
          {"RW", m.rw},
          {"Propagation", m.propagation},
          {"Anonymous", m.anonymous},
          {"CopyData", m.copy_data},
          {"CreateSource", m.create_source},
          {"NonRecursive", m.non_recursive},
          {"TmpfsOptions", m.tmpfs_options},
          {"VolumeLabels", m.volume_labels},
          {"VolumeOptions", m.volume_options}};
}

MountPoint MountPointFromJson(const json& j) {
  try {
    MountPoint m;
    m.type = j.at("Type").get<std::string>();
    m.name = j.value("Name", "");
    m.source = j.value("Source", "");
    m.destination = j.at("Destination").get<std::string>();
    m.driver = j.value("Driver", "");
    m.mode = j.value("Mode", "");
    m.rw = j.value("RW", true);
    m.propagation = j.value("Propagation", "");
    m.anonymous = j.value("Anonymous", false);
    m.copy_data = j.value("CopyData", false);
    m.create_source = j.value("CreateSource", false);
    m.non_recursive = j.value("NonRecursive", false);
    m.tmpfs_options = j.value("TmpfsOptions", "");
    m.volume_labels = j.value("VolumeLabels", json::object());
    m.volume_options = j.value("VolumeOptions", json::object());
    return m;
  } catch (const json::exception& e) {
    throw Error(Kind::kDataLoss, std::string("mount point record: ") + e.what());
  }
}

json InspectMountJson(const MountPoint& m) {
  json out = {{"Type", m.type}};
  if (m.type == "volume") out["Name"] = m.name;
  out["Source"] = m.source;
  out["Destination"] = m.destination;
  if (m.type == "volume") out["Driver"] = m.driver;
  out["Mode"] = m.mode;
  out["RW"] = m.rw;
  out["Propagation"] = m.propagation;
  return out;
}

bool IsValidVolumeName(std::string_view name) {
  if (name.size() < 2 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-';
  });
}

std::string InvalidVolumeNameText(std::string_view name) {
  return "\"" + std::string(name) +
         "\" includes invalid characters for a local volume name, only "
         "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, "
         "use absolute path";
}

MountPoint ParseBind(const std::string& raw) {
  std::vector<std::string> parts = Split(raw, ':');
  if (parts.size() > 3) BadBind(raw, "too many colons");
  auto bad = [&raw](const std::string& why) { BadBind(raw, why); };
  MountPoint m;
  if (parts.size() == 1) {
    // "/data": an anonymous volume.
    m.type = "volume";
    m.driver = "local";
    m.destination = Destination(parts[0], bad);
    m.anonymous = true;
    m.copy_data = true;
    return m;
  }
  const std::string& source = parts[0];
  if (source.empty()) bad("empty source");
  if (parts[1].empty() || parts[1][0] != '/') {
    bad("the destination must be an absolute path");
  }
  m.destination = CleanPath(parts[1]);
  if (m.destination == "/") bad("the destination can't be '/'");
  if (source[0] == '/') {
    m.type = "bind";
    m.source = CleanPath(source);
    m.create_source = true;
  } else {
    if (!IsValidVolumeName(source)) bad(InvalidVolumeNameText(source));
    m.type = "volume";
    m.name = source;
    m.driver = "local";
    m.copy_data = true;
  }
  std::string access, propagation, label;
  bool nocopy = false;
  if (parts.size() == 3) {
    m.mode = parts[2];
    static const std::set<std::string> kIgnored = {"cached", "delegated", "consistent"};
    for (const std::string& o : Split(parts[2], ',')) {
      std::string* slot = nullptr;
      if (o == "ro" || o == "rw") {
        slot = &access;
      } else if (o == "z" || o == "Z") {
        slot = &label;
      } else if (Propagations().count(o)) {
        slot = &propagation;
      } else if (o == "nocopy" && m.type == "volume") {
        if (nocopy) bad("invalid mode: " + parts[2]);
        nocopy = true;
        continue;
      } else if (kIgnored.count(o)) {
        continue;
      } else {
        bad("invalid mode: " + parts[2]);
      }
      if (!slot->empty()) bad("invalid mode: " + parts[2]);
      *slot = o;
    }
  }
  m.rw = access != "ro";
  if (m.type == "bind") m.propagation = propagation.empty() ? "rprivate" : propagation;
  if (nocopy) m.copy_data = false;
  return m;
}

MountPoint ParseMount(const json& spec) {
  if (!spec.is_object()) ThrowInvalid("HostConfig.Mounts: expected an array of objects");
  std::string type = Given(spec, "Type") && spec["Type"].is_string()
                         ? spec["Type"].get<std::string>()
                         : std::string();
  if (type != "bind" && type != "volume" && type != "tmpfs") {
    BadMount(type, "mount type unknown");
  }
  auto bad = [&type](const std::string& why) { BadMount(type, why); };
  MountPoint m;
  m.type = type;
  std::string target = Text(spec, "Target", type);
  if (target.empty()) bad("field Target must not be empty");
  m.destination = Destination(target, bad);
  m.rw = !Flag(spec, "ReadOnly", type);
  std::string source = Text(spec, "Source", type);
  for (const char* key : {"BindOptions", "VolumeOptions", "TmpfsOptions"}) {
    if (Given(spec, key) && !spec[key].is_object()) {
      bad(std::string("field ") + key + " must be an object");
    }
  }
  auto refuse = [&](const char* key) {
    if (Given(spec, key)) bad(std::string("field ") + key + " must not be specified");
  };
  if (type == "bind") {
    refuse("VolumeOptions");
    refuse("TmpfsOptions");
    if (source.empty()) bad("field Source must not be empty");
    if (source[0] != '/') bad("invalid mount path: '" + source + "' mount path must be absolute");
    m.source = CleanPath(source);
    const json bo = Given(spec, "BindOptions") ? spec["BindOptions"] : json::object();
    m.propagation = Text(bo, "Propagation", type);
    if (m.propagation.empty()) {
      m.propagation = "rprivate";
    } else if (!Propagations().count(m.propagation)) {
      bad("invalid propagation mode: " + m.propagation);
    }
    m.non_recursive = Flag(bo, "NonRecursive", type);
  } else if (type == "volume") {
    refuse("BindOptions");
    refuse("TmpfsOptions");
    m.driver = "local";
    if (source.empty()) {
      m.anonymous = true;
    } else if (!IsValidVolumeName(source)) {
      bad(InvalidVolumeNameText(source));
    }
    m.name = source;
    const json vo = Given(spec, "VolumeOptions") ? spec["VolumeOptions"] : json::object();
    m.copy_data = !Flag(vo, "NoCopy", type);
    m.volume_labels = StringMap(vo, "Labels", type);
    if (Given(vo, "DriverConfig")) {
      const json& dc = vo["DriverConfig"];
      if (!dc.is_object()) bad("field DriverConfig must be an object");
      std::string driver = Text(dc, "Name", type);
      if (!driver.empty() && driver != "local") {
        ThrowNotFound("error looking up volume plugin " + driver + ": plugin \"" + driver +
                      "\" not found");
      }
      m.volume_options = StringMap(dc, "Options", type);
      ValidateLocalVolumeOptions(m.volume_options);
    }
  } else {
    refuse("BindOptions");
    refuse("VolumeOptions");
    if (!source.empty()) bad("field Source must not be specified");
    const json to = Given(spec, "TmpfsOptions") ? spec["TmpfsOptions"] : json::object();
    std::vector<std::string> options;
    if (!m.rw) options.push_back("ro");
    for (const char* key : {"SizeBytes", "Mode"}) {
      if (!Given(to, key)) continue;
      if (!to[key].is_number_integer() || to[key].get<int64_t>() < 0) {
        bad(std::string("field TmpfsOptions.") + key + " must be a non-negative integer");
      }
      int64_t v = to[key].get<int64_t>();
      if (v == 0) continue;
      if (key == std::string("SizeBytes")) {
        options.push_back("size=" + std::to_string(v));
      } else {
        char text[32];
        snprintf(text, sizeof(text), "mode=%llo", static_cast<unsigned long long>(v & 07777));
        options.push_back(text);
      }
    }
    for (const std::string& o : options) {
      m.tmpfs_options += (m.tmpfs_options.empty() ? "" : ",") + o;
    }
  }
  return m;
}

VolumesFrom ParseVolumesFrom(const std::string& raw) {
  VolumesFrom v;
  size_t colon = raw.find(':');
  v.container = raw.substr(0, colon);
  if (colon != std::string::npos) {
    std::string mode = raw.substr(colon + 1);
    if (mode == "ro" || mode == "rw") {
      v.rw = mode == "rw";
    } else {
      ThrowInvalid("HostConfig.VolumesFrom: invalid mode for volumes-from: " + mode);
    }
  }
  if (v.container.empty()) {
    ThrowInvalid("HostConfig.VolumesFrom: malformed volumes-from specification: " + raw);
  }
  return v;
}

MountRequests ParseMountRequests(const json& hc, const json& config_volumes) {
  MountRequests out;
  std::set<std::string> destinations;
  auto add = [&](MountPoint m, const char* field) {
    if (!destinations.insert(m.destination).second) {
      ThrowInvalid(std::string(field) + ": Duplicate mount point: " + m.destination);
    }
    out.mounts.push_back(std::move(m));
  };
  auto list = [&hc](const char* key) -> json {
    if (!Given(hc, key)) return json::array();
    if (!hc[key].is_array()) ThrowInvalid(std::string("HostConfig.") + key + ": expected an array");
    return hc[key];
  };
  for (const json& b : list("Binds")) {
    if (!b.is_string()) ThrowInvalid("HostConfig.Binds: expected an array of strings");
    add(ParseBind(b.get<std::string>()), "HostConfig.Binds");
  }
  for (const json& m : list("Mounts")) {
    add(ParseMount(m), "HostConfig.Mounts");
  }
  for (const json& v : list("VolumesFrom")) {
    if (!v.is_string()) ThrowInvalid("HostConfig.VolumesFrom: expected an array of strings");
    out.volumes_from.push_back(ParseVolumesFrom(v.get<std::string>()));
  }
  if (Given(hc, "Tmpfs") && hc["Tmpfs"].is_object()) {
    for (const auto& item : hc["Tmpfs"].items()) {
      std::string d = CleanPath(item.key());
      if (destinations.count(d)) {
        ThrowInvalid("HostConfig.Tmpfs: Duplicate mount point: " + d);
      }
      destinations.insert(d);
    }
  }
  if (config_volumes.is_object()) {
    for (const auto& item : config_volumes.items()) {  // sorted by key
      std::string d = CleanPath(item.key());
      if (d.empty() || d[0] != '/' || d == "/" || destinations.count(d)) continue;
      MountPoint m;
      m.type = "volume";
      m.driver = "local";
      m.destination = d;
      m.anonymous = true;
      m.copy_data = true;
      destinations.insert(d);
      out.image_volumes.push_back(std::move(m));
    }
  }
  return out;
}

void ValidateLocalVolumeOptions(const json& options) {
  if (options.is_null()) return;
  if (!options.is_object()) ThrowInvalid("DriverOpts: expected an object of strings");
  static const std::set<std::string> kKeys = {"type", "device", "o"};
  for (const auto& item : options.items()) {
    if (!kKeys.count(item.key())) {
      ThrowInvalid("invalid option key: \"" + item.key() + "\"");
    }
    if (!item.value().is_string()) {
      ThrowInvalid("invalid option \"" + item.key() + "\": expected a string");
    }
  }
  if (options.empty()) return;
  for (const char* key : {"type", "device"}) {
    if (!options.contains(key) || options[key].get<std::string>().empty()) {
      ThrowInvalid(std::string("missing required option: \"") + key + "\"");
    }
  }
  MountFlags f = ParseMountFlags(options.value("o", ""));
  if ((f.flags & MS_BIND) != 0) {
    std::string device = options["device"].get<std::string>();
    if (device.empty() || device[0] != '/') {
      ThrowInvalid("invalid option \"device\": a bind needs an absolute host path, got \"" +
                   device + "\"");
    }
  }
}

MountFlags ParseMountFlags(const std::string& options) {
  struct Flag {
    bool clear;
    unsigned long bits;
  };
  static const std::map<std::string, Flag> kFlags = {
      {"defaults", {false, 0}},
      {"ro", {false, MS_RDONLY}},
      {"rw", {true, MS_RDONLY}},
      {"suid", {true, MS_NOSUID}},
      {"nosuid", {false, MS_NOSUID}},
      {"dev", {true, MS_NODEV}},
      {"nodev", {false, MS_NODEV}},
      {"exec", {true, MS_NOEXEC}},
      {"noexec", {false, MS_NOEXEC}},
      {"sync", {false, MS_SYNCHRONOUS}},
      {"async", {true, MS_SYNCHRONOUS}},
      {"dirsync", {false, MS_DIRSYNC}},
      {"mand", {false, MS_MANDLOCK}},
      {"nomand", {true, MS_MANDLOCK}},
      {"atime", {true, MS_NOATIME}},
      {"noatime", {false, MS_NOATIME}},
      {"diratime", {true, MS_NODIRATIME}},
      {"nodiratime", {false, MS_NODIRATIME}},
      {"bind", {false, MS_BIND}},
      {"rbind", {false, MS_BIND | MS_REC}},
      {"relatime", {false, MS_RELATIME}},
      {"norelatime", {true, MS_RELATIME}},
      {"strictatime", {false, MS_STRICTATIME}},
      {"nostrictatime", {true, MS_STRICTATIME}},
  };
  MountFlags out;
  if (options.empty()) return out;
  for (const std::string& o : Split(options, ',')) {
    auto it = kFlags.find(o);
    if (it == kFlags.end()) {
      if (!o.empty()) out.data += (out.data.empty() ? "" : ",") + o;
    } else if (it->second.clear) {
      out.flags &= ~it->second.bits;
    } else {
      out.flags |= it->second.bits;
    }
  }
  return out;
}

}  // namespace berth::engine

// HostConfig mounts: Binds, Tmpfs, and the bind mounts that stand in for kernel file systems
// a user namespace cannot mount.

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "base/error.h"
#include "engine/container_spec_internal.h"
#include "oci/runtime_spec.h"

namespace berth::engine::internal {

using nlohmann::json;

namespace {

// ---- mounts ----

// A volume name Docker's local driver accepts: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
bool IsVolumeName(const std::string& s) {
  if (s.empty() || !std::isalnum(static_cast<unsigned char>(s[0]))) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-';
  });
}

// "/host:/ctr[:opts]" (volume/mounts/linux_parser.go).
json ParseBind(const std::string& raw) {
  auto invalid = [&](const std::string& why) -> void {
    Bad("HostConfig.Binds", "invalid mount config \"" + raw + "\": " + why);
  };
  std::vector<std::string> parts = Split(raw, ':');
  if (parts.size() == 1) {
    throw Error(Kind::kNotImplemented,
                "HostConfig.Binds: anonymous volumes are not implemented yet (\"" + raw + "\")");
  }
  if (parts.size() > 3) {
    invalid("too many colons");
  }
  const std::string& source = parts[0];
  std::string destination = CleanDestination(parts[1]);
  if (source.empty()) {
    invalid("empty source");
  }
  if (destination.empty() || destination.front() != '/') {
    invalid("the destination must be an absolute path");
  }
  if (destination == "/") {
    invalid("the destination can't be '/'");
  }
  if (source.front() != '/') {
    if (!IsVolumeName(source)) {
      invalid("\"" + source +
              "\" includes invalid characters for a local volume name, only "
              "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host "
              "directory, use absolute path");
    }
    throw Error(Kind::kNotImplemented,
                "HostConfig.Binds: named volumes are not implemented yet (\"" + raw + "\")");
  }
  static const std::set<std::string> kPropagation = {"shared", "rshared", "slave",
                                                     "rslave", "private", "rprivate"};
  static const std::set<std::string> kIgnored = {"z", "Z", "cached", "delegated", "consistent"};
  std::string access;
  std::string propagation;
  if (parts.size() == 3) {
    for (const auto& o : Split(parts[2], ',')) {
      if (o == "ro" || o == "rw") {
        if (!access.empty()) {
          invalid("invalid mode: " + parts[2]);
        }
        access = o;
      } else if (kPropagation.count(o)) {
        if (!propagation.empty()) {
          invalid("invalid mode: " + parts[2]);
        }
        propagation = o;
      } else if (!kIgnored.count(o)) {
        invalid("invalid mode: " + parts[2]);
      }
    }
  }
  return {
      {"destination", destination},
      {"type", "bind"},
      {"source", source},
      {"options",
       {"rbind", access.empty() ? "rw" : access, propagation.empty() ? "rprivate" : propagation}}};
}

// pkg/mount MergeTmpfsOptions: of two opposite flags the later wins; key=value data, the last.
json TmpfsMount(const std::string& destination, const std::string& options) {
  std::string field = "HostConfig.Tmpfs." + destination;
  // Pairs of opposite flags; a flag replaces itself and its opposite.
  static const std::map<std::string, std::string> kOpposite = [] {
    std::map<std::string, std::string> m;
    for (auto [a, b] : {std::pair{"ro", "rw"},
                        {"exec", "noexec"},
                        {"suid", "nosuid"},
                        {"dev", "nodev"},
                        {"atime", "noatime"},
                        {"diratime", "nodiratime"},
                        {"relatime", "norelatime"},
                        {"strictatime", "nostrictatime"},
                        {"sync", "async"},
                        {"mand", "nomand"}}) {
      m[a] = b;
      m[b] = a;
    }
    m["dirsync"] = "";
    return m;
  }();
  static const std::set<std::string> kPropagation = {"shared", "rshared", "slave",
                                                     "rslave", "private", "rprivate"};
  static const std::set<std::string> kData = {"size",      "mode",      "uid", "gid",
                                              "nr_inodes", "nr_blocks", "mpol"};
  // Docker's defaults for a tmpfs, and its default propagation.
  std::vector<std::string> flags = {"noexec", "nosuid", "nodev", "rprivate"};
  std::map<std::string, std::string> data;
  std::vector<std::string> data_order;
  for (const auto& o : options.empty() ? std::vector<std::string>{} : Split(options, ',')) {
    if (auto eq = o.find('='); eq != std::string::npos) {
      std::string key = o.substr(0, eq);
      if (!kData.count(key)) {
        Bad(field, "invalid tmpfs option \"" + o + "\"");
      }
      if (!data.count(key)) {
        data_order.push_back(key);
      }
      data[key] = o;
      continue;
    }
    auto opp = kOpposite.find(o);
    bool propagation = kPropagation.count(o) > 0;
    if (opp == kOpposite.end() && !propagation) {
      Bad(field, "invalid tmpfs option \"" + o + "\"");
    }
    flags.erase(std::remove_if(flags.begin(), flags.end(),
                               [&](const std::string& f) {
                                 return f == o || (propagation ? kPropagation.count(f) > 0
                                                               : f == opp->second);
                               }),
                flags.end());
    flags.push_back(o);
  }
  for (const auto& k : data_order) {
    flags.push_back(data[k]);
  }
  return {{"destination", destination}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", flags}};
}

}  // namespace

json BindMount(const char* path, bool ro) {
  json options = {"rbind", "nosuid", "noexec", "nodev"};
  if (ro) {
    options.push_back("ro");
  }
  return {{"destination", path}, {"type", "bind"}, {"source", path}, {"options", options}};
}

json* FindMount(json& mounts, const std::string& destination) {
  for (auto& m : mounts) {
    if (m["destination"] == destination) {
      return &m;
    }
  }
  return nullptr;
}

void SetReadOnly(json& mount, bool ro) {
  json& options = mount["options"];
  json kept = json::array();
  for (const auto& o : options) {
    if (o != "ro" && o != "rw") {
      kept.push_back(o);
    }
  }
  kept.push_back(ro ? "ro" : "rw");
  options = std::move(kept);
}

namespace {

size_t Depth(const std::string& path) { return std::count(path.begin(), path.end(), '/'); }

}  // namespace

// Binds and Tmpfs, replacing a default mount with the same destination (as Docker lets
// `-v /x:/dev/shm` replace the container's shm), parents before children.
void ApplyUserMounts(const json& hc, json& spec) {
  std::vector<json> user;
  std::set<std::string> destinations;
  auto add = [&](json m, const std::string& field) {
    std::string d = m["destination"];
    if (!destinations.insert(d).second) {
      Bad(field, "Duplicate mount point: " + d);
    }
    user.push_back(std::move(m));
  };
  for (const auto& b : StrList(hc, "Binds", "HostConfig.Binds")) {
    add(ParseBind(b), "HostConfig.Binds");
  }
  if (Has(hc, "Tmpfs")) {
    if (!hc["Tmpfs"].is_object()) {
      Bad("HostConfig.Tmpfs", "expected an object of strings");
    }
    for (auto it = hc["Tmpfs"].begin(); it != hc["Tmpfs"].end(); ++it) {
      std::string d = CleanDestination(it.key());
      if (d.empty() || d.front() != '/' || d == "/") {
        Bad("HostConfig.Tmpfs", "invalid mount path \"" + it.key() + "\": must be absolute");
      }
      if (!it.value().is_string() && !it.value().is_null()) {
        Bad("HostConfig.Tmpfs." + d, "expected a string of options");
      }
      add(TmpfsMount(d, it.value().is_string() ? it.value().get<std::string>() : ""),
          "HostConfig.Tmpfs");
    }
  }
  std::stable_sort(user.begin(), user.end(), [](const json& a, const json& b) {
    return Depth(a["destination"]) < Depth(b["destination"]);
  });
  json mounts = json::array();
  for (auto& m : spec["mounts"]) {
    if (!destinations.count(m["destination"])) {
      mounts.push_back(std::move(m));
    }
  }
  for (auto& m : user) {
    mounts.push_back(std::move(m));
  }
  spec["mounts"] = std::move(mounts);
}

}  // namespace berth::engine::internal

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

json OciMount(const MountPoint& m, bool userns) {
  if (m.type == "tmpfs") {
    return TmpfsMount(m.destination, m.tmpfs_options);
  }
  json options = {m.non_recursive ? "bind" : "rbind", m.rw ? "rw" : "ro",
                  m.propagation.empty() ? "rprivate" : m.propagation};
  if (userns) {
    // The container's root sees the host's ids 0-65535 as its own: a volume's data stays
    // owned by the container's ids on disk and a host directory keeps its owners, as Docker
    // without a user namespace shows them. Nothing is chowned.
    options.push_back("idmap");
  }
  return {{"destination", m.destination},
          {"type", "bind"},
          {"source", m.source},
          {"options", std::move(options)}};
}

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

// Binds, Mounts, volumes and Tmpfs, replacing a default mount with the same destination (as
// Docker lets `-v /x:/dev/shm` replace the container's shm), parents before children.
void ApplyUserMounts(const json& hc, const std::vector<MountPoint>* resolved, bool userns,
                     json& spec) {
  MountRequests requests = ParseMountRequests(hc, json());  // validates every entry
  std::vector<json> user;
  std::set<std::string> destinations;
  auto add = [&](json m, const std::string& field) {
    std::string d = m["destination"];
    if (!destinations.insert(d).second) {
      Bad(field, "Duplicate mount point: " + d);
    }
    user.push_back(std::move(m));
  };
  for (const MountPoint& m : resolved ? *resolved : requests.mounts) {
    if (m.type == "volume" && m.source.empty()) {
      continue;  // the volume service names it at create
    }
    add(OciMount(m, userns), "HostConfig.Binds");
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

#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "engine/container_spec.h"
#include "engine/mount_point.h"

// Shared by container_spec.cc (Config) and container_host_config.cc (HostConfig): typed reads
// of the create body where null and absent mean the zero value, as Go's decoder has it, and
// every error names the field.
namespace berth::engine::internal {

[[noreturn]] inline void Bad(const std::string& field, const std::string& message) {
  ThrowInvalid(field + ": " + message);
}

inline bool Has(const nlohmann::json& o, const char* key) {
  return o.is_object() && o.contains(key) && !o[key].is_null();
}

inline std::string Str(const nlohmann::json& o, const char* key, const std::string& field) {
  if (!Has(o, key)) {
    return "";
  }
  if (!o[key].is_string()) {
    Bad(field, "expected a string, got " + std::string(o[key].type_name()));
  }
  return o[key].get<std::string>();
}

inline bool Bool(const nlohmann::json& o, const char* key, const std::string& field) {
  if (!Has(o, key)) {
    return false;
  }
  if (!o[key].is_boolean()) {
    Bad(field, "expected a boolean, got " + std::string(o[key].type_name()));
  }
  return o[key].get<bool>();
}

// Integers; a float with an integral value too (Python clients send 1.5e9 as 1500000000.0).
inline int64_t Int(const nlohmann::json& o, const char* key, const std::string& field) {
  if (!Has(o, key)) {
    return 0;
  }
  const nlohmann::json& v = o[key];
  if (v.is_number_integer()) {
    return v.get<int64_t>();
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::trunc(d) == d && std::abs(d) < 9.2e18) {
      return static_cast<int64_t>(d);
    }
  }
  Bad(field, "expected an integer, got " + v.dump());
}

inline std::vector<std::string> StrList(const nlohmann::json& o, const char* key,
                                        const std::string& field) {
  std::vector<std::string> out;
  if (!Has(o, key)) {
    return out;
  }
  if (!o[key].is_array()) {
    Bad(field, "expected an array of strings, got " + std::string(o[key].type_name()));
  }
  for (const auto& e : o[key]) {
    if (!e.is_string()) {
      Bad(field, "expected an array of strings, got an element " + e.dump());
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

// Docker's strslice: an array of strings, or one string standing for a one-element array.
inline std::vector<std::string> StrSlice(const nlohmann::json& o, const char* key,
                                         const std::string& field) {
  if (Has(o, key) && o[key].is_string()) {
    return {o[key].get<std::string>()};
  }
  return StrList(o, key, field);
}

inline bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

inline std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

inline std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos - start));
    if (pos == std::string::npos) {
      return out;
    }
    start = pos + 1;
  }
}

// "/a/b/" -> "/a/b"; relative paths are the caller's error.
inline std::string CleanDestination(std::string path) {
  while (path.size() > 1 && path.back() == '/') {
    path.pop_back();
  }
  return path;
}

// container_resources.cc
void ApplyResources(const nlohmann::json& hc, nlohmann::json& resources, nlohmann::json& hc_out,
                    ContainerSpec& out);
void ApplyUlimits(const nlohmann::json& hc, nlohmann::json& process);
void ApplySysctls(const nlohmann::json& hc, nlohmann::json& spec, nlohmann::json& hc_out);

// container_mounts.cc
nlohmann::json BindMount(const char* path, bool ro);  // an rbind of the host's `path`
nlohmann::json* FindMount(nlohmann::json& mounts, const std::string& destination);
void SetReadOnly(nlohmann::json& mount, bool ro);
// `resolved`: the container's mounts as create resolved them; null: the HostConfig's binds
// and tmpfs only (validating a body before its volumes exist).
void ApplyUserMounts(const nlohmann::json& hc, const std::vector<MountPoint>* resolved, bool userns,
                     nlohmann::json& spec);
// A HostConfig.Tmpfs entry as an OCI mount (Docker's defaults, then `options`).
nlohmann::json TmpfsMount(const std::string& destination, const std::string& options);
// A resolved mount point as an OCI mount; binds and volumes are id-mapped under `userns`.
nlohmann::json OciMount(const MountPoint& m, bool userns);

struct HostOptions {
  bool userns = true;     // the container has its own user namespace
  bool host_uts = false;  // UTSMode host: the host's hostname, which the caller knows
};

// Applies every HostConfig field to out.spec, fills out.host_config, out.devices,
// out.all_host_devices, out.init and out.warnings. `explicit_hostname`: the body set
// Hostname (which conflicts with UTSMode host).
HostOptions ApplyHostConfig(const nlohmann::json& hc, bool explicit_hostname,
                            const std::vector<MountPoint>* mounts, ContainerSpec& out);

}  // namespace berth::engine::internal

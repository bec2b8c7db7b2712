#include "oci/default_seccomp.h"

#include <seccomp.h>

#include <algorithm>
#include <set>

namespace berth::oci {

// Generated from seccomp_default.json at build time (src/oci/CMakeLists.txt).
extern const char kSeccompDefaultJson[];

namespace {

#if defined(__x86_64__)
constexpr const char* kArch = "x86_64";
#elif defined(__aarch64__)
constexpr const char* kArch = "aarch64";
#else
#error "the default seccomp profile has no architecture list for this target"
#endif

bool Holds(const std::vector<std::string>& capabilities, const nlohmann::json& cap) {
  return std::find(capabilities.begin(), capabilities.end(), cap.get<std::string>()) !=
         capabilities.end();
}

// Whether a group applies to this capability set and architecture.
bool Applies(const nlohmann::json& group, const std::vector<std::string>& capabilities) {
  if (group.contains("includes")) {
    for (const auto& cap : group["includes"]["caps"]) {
      if (!Holds(capabilities, cap)) {
        return false;
      }
    }
  }
  if (group.contains("excludes")) {
    for (const auto& cap : group["excludes"]["caps"]) {
      if (Holds(capabilities, cap)) {
        return false;
      }
    }
  }
  if (group.contains("arches")) {
    const auto& arches = group["arches"];
    return std::find(arches.begin(), arches.end(), kArch) != arches.end();
  }
  return true;
}

// libseccomp resolves every name it knows, for any architecture (a call another architecture
// lacks gets a pseudo number it translates per filter architecture); an unknown name is a
// call newer than the library.
bool KnownToLibseccomp(const std::string& name) {
  return seccomp_syscall_resolve_name(name.c_str()) != __NR_SCMP_ERROR;
}

}  // namespace

const nlohmann::json& DefaultSeccompProfile() {
  static const nlohmann::json profile = nlohmann::json::parse(kSeccompDefaultJson);
  return profile;
}

nlohmann::json DefaultSeccomp(const std::vector<std::string>& capabilities) {
  const nlohmann::json& profile = DefaultSeccompProfile();
  nlohmann::json syscalls = nlohmann::json::array();
  std::set<std::string> allowed;  // names already allowed without conditions
  for (const auto& group : profile["groups"]) {
    if (!Applies(group, capabilities)) {
      continue;
    }
    std::string action = group.value("action", "SCMP_ACT_ALLOW");
    bool plain_allow = action == "SCMP_ACT_ALLOW" && !group.contains("args");
    nlohmann::json names = nlohmann::json::array();
    for (const auto& n : group["names"]) {
      const std::string& name = n.get_ref<const std::string&>();
      if (!KnownToLibseccomp(name)) {
        continue;
      }
      // A name two applying groups allow outright needs one rule.
      if (plain_allow && !allowed.insert(name).second) {
        continue;
      }
      names.push_back(name);
    }
    if (names.empty()) {
      continue;
    }
    nlohmann::json entry = {{"names", std::move(names)}, {"action", action}};
    if (group.contains("args")) {
      entry["args"] = group["args"];
    }
    if (group.contains("errnoRet")) {
      entry["errnoRet"] = group["errnoRet"];
    }
    syscalls.push_back(std::move(entry));
  }
  return {
      {"defaultAction", profile["defaultAction"]},
      {"defaultErrnoRet", profile["defaultErrnoRet"]},
      {"architectures", profile["architectures"][kArch]},
      {"syscalls", std::move(syscalls)},
  };
}

}  // namespace berth::oci

#include "oci/default_seccomp.h"

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

bool HoldsAll(const nlohmann::json& group, const char* key,
              const std::vector<std::string>& capabilities, bool want) {
  if (!group.contains(key)) {
    return true;
  }
  for (const auto& cap : group[key]["caps"]) {
    bool held = std::find(capabilities.begin(), capabilities.end(), cap.get<std::string>()) !=
                capabilities.end();
    if (held != want) {
      return false;
    }
  }
  return true;
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
    if (!HoldsAll(group, "includes", capabilities, true) ||
        !HoldsAll(group, "excludes", capabilities, false)) {
      continue;
    }
    if (group.contains("arches") &&
        std::find(group["arches"].begin(), group["arches"].end(), kArch) == group["arches"].end()) {
      continue;
    }
    std::string action = group.value("action", "SCMP_ACT_ALLOW");
    bool plain_allow = action == "SCMP_ACT_ALLOW" && !group.contains("args");
    nlohmann::json names = nlohmann::json::array();
    for (const auto& n : group["names"]) {
      // A name two applying groups allow outright needs one rule.
      if (plain_allow && !allowed.insert(n.get<std::string>()).second) {
        continue;
      }
      names.push_back(n);
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

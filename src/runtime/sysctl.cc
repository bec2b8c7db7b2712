#include "runtime/sysctl.h"

#include <set>
#include <string>

#include "base/error.h"

namespace berth::runtime {
namespace {

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// The namespace that makes `key` the container's own, or nullopt for a host-global one.
std::optional<oci::NamespaceType> OwningNamespace(const std::string& key) {
  static const std::set<std::string> kIpc = {
      "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
      "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
  if (kIpc.count(key) || StartsWith(key, "fs.mqueue.")) {
    return oci::NamespaceType::kIpc;
  }
  if (StartsWith(key, "net.")) {
    return oci::NamespaceType::kNetwork;
  }
  if (key == "kernel.hostname" || key == "kernel.domainname") {
    return oci::NamespaceType::kUts;
  }
  return std::nullopt;
}

}  // namespace

void ValidateSysctls(const oci::Linux& linux) {
  for (const auto& [key, value] : linux.sysctl) {
    std::string field = "linux.sysctl." + key;
    // Keys become paths under /proc/sys ("." -> "/"); "/" stands for a "." inside a name
    // (net.ipv4.conf.eth0/1.forwarding). No empty or ".." component may appear.
    bool shape_ok = !key.empty() && key.front() != '.' && key.back() != '.' &&
                    key.find("..") == std::string::npos && key.find("//") == std::string::npos &&
                    key.front() != '/' && key.back() != '/';
    for (char c : key) {
      shape_ok = shape_ok && (isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                              c == '-' || c == '/');
    }
    if (!shape_ok) {
      ThrowInvalid(field + ": not a sysctl name");
    }
    if (value.find('\n') != std::string::npos) {
      ThrowInvalid(field + ": the value must be one line");
    }
    auto ns = OwningNamespace(key);
    if (!ns) {
      ThrowInvalid(field + ": not namespaced: it would change the host for everyone");
    }
    if (linux.Find(*ns) == nullptr) {
      ThrowInvalid(field + ": needs a " + std::string(oci::NamespaceTypeName(*ns)) +
                   " namespace in linux.namespaces");
    }
  }
}

}  // namespace berth::runtime

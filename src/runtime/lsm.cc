#include "runtime/lsm.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "base/error.h"
#include "base/file_util.h"

namespace berth::runtime {
namespace {

// Writes `value` to the first of `paths` that exists.
bool WriteAttr(const char* const* paths, const std::string& value, const char* what,
               ChildError* error) {
  for (const char* const* p = paths; *p != nullptr; ++p) {
    int fd = open(*p, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    ssize_t n = write(fd, value.data(), value.size());
    int err = errno;
    close(fd);
    if (n < 0) {
      return error->Fail(err, "set %s \"%s\"", what, value.c_str());
    }
    return true;
  }
  return error->Fail(ENOENT, "set %s: no attribute file", what);
}

}  // namespace

bool AppArmorEnabled() {
  auto v = ReadFileIfExists("/sys/module/apparmor/parameters/enabled");
  return v && !v->empty() && (*v)[0] == 'Y';
}

bool SELinuxEnabled() {
  struct stat st;
  return stat("/sys/fs/selinux/enforce", &st) == 0;
}

void ValidateLsm(const oci::Process& process, const oci::Linux* linux) {
  if (!process.apparmor_profile.empty() && !AppArmorEnabled()) {
    ThrowInvalid("process.apparmorProfile: AppArmor is not enabled on this host, so profile \"" +
                 process.apparmor_profile + "\" cannot confine the container");
  }
  if (!process.selinux_label.empty() && !SELinuxEnabled()) {
    ThrowInvalid("process.selinuxLabel: SELinux is not enabled on this host");
  }
  if (linux != nullptr && !linux->mount_label.empty() && !SELinuxEnabled()) {
    ThrowInvalid("linux.mountLabel: SELinux is not enabled on this host");
  }
}

bool ApplyExecLabels(const oci::Process& process, ChildError* error) {
  if (!process.apparmor_profile.empty()) {
    static const char* const kPaths[] = {"/proc/self/attr/apparmor/exec", "/proc/self/attr/exec",
                                         nullptr};
    if (!WriteAttr(kPaths, "exec " + process.apparmor_profile, "AppArmor profile", error)) {
      return false;
    }
  }
  if (!process.selinux_label.empty()) {
    static const char* const kPaths[] = {"/proc/self/attr/exec", nullptr};
    if (!WriteAttr(kPaths, process.selinux_label, "SELinux label", error)) {
      return false;
    }
  }
  return true;
}

}  // namespace berth::runtime

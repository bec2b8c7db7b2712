#include "runtime/cloned_binary.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"

namespace berth::runtime {
namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

// The bytes execve needs: up to the end of the last PT_LOAD segment. Section headers and
// debug information after it are not copied (a RelWithDebInfo binary is mostly debug info).
off_t LoadableSize(int fd, off_t file_size) {
  Elf64_Ehdr eh;
  if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
    return file_size;
  }
  off_t end = static_cast<off_t>(eh.e_phoff + eh.e_phnum * sizeof(Elf64_Phdr));
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (pread(fd, &ph, sizeof(ph), static_cast<off_t>(eh.e_phoff + i * sizeof(ph))) != sizeof(ph)) {
      return file_size;
    }
    off_t seg_end = static_cast<off_t>(ph.p_offset + ph.p_filesz);
    if (seg_end > end) {
      end = seg_end;
    }
  }
  return end < file_size ? end : file_size;
}

// Whether the file behind `fd` cannot be written through any path: a sealed memfd, or a file
// reached through a read-only mount (reopening /proc/<pid>/exe for writing gives EROFS).
bool Immutable(int fd) {
  int seals = fcntl(fd, F_GET_SEALS);
  if (seals >= 0 && (seals & kSeals) == kSeals) {
    return true;
  }
  struct statvfs sv;
  return fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

}  // namespace

UniqueFd OpenReadOnlyView(const std::string& file, const std::string& scratch_dir) {
  std::string target = scratch_dir + "/.exe-" + std::to_string(getpid());
  UniqueFd placeholder(open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!placeholder && errno == ENOENT) {
    // First use of this --root: make it (only here; the re-executed process finds it).
    try {
      MkdirAll(scratch_dir, 0711);
    } catch (const Error&) {
      return UniqueFd();
    }
    placeholder.Reset(open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  }
  if (!placeholder) {
    return UniqueFd();
  }
  placeholder.Reset();
  UniqueFd ro;
  if (mount(file.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) == 0) {
    if (mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) == 0) {
      ro.Reset(open(target.c_str(), O_RDONLY | O_CLOEXEC));
    }
    umount2(target.c_str(), MNT_DETACH);
  }
  unlink(target.c_str());
  if (ro && !Immutable(ro.get())) {
    ro.Reset();
  }
  return ro;
}

namespace {

// The cheap way, crun's: execute this binary through a read-only view of it (above). No bytes
// are copied, page cache is shared, and the mount never stays visible: nothing changes in any
// mount namespace, so hooks still run in the runtime's own. Returns only on failure (no
// CAP_SYS_ADMIN, say), having cleaned up.
void ExecThroughReadOnlyBind(char** argv, char** envp, const std::string& scratch_dir) {
  if (UniqueFd ro = OpenReadOnlyView("/proc/self/exe", scratch_dir)) {
    fexecve(ro.get(), argv, envp);
  }
}

}  // namespace

bool RunningFromClonedBinary() {
  UniqueFd self(open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  return self && Immutable(self.get());
}

void EnsureClonedBinary(char** argv, char** envp, const std::string& scratch_dir) {
  if (RunningFromClonedBinary()) {
    return;
  }
  ExecThroughReadOnlyBind(argv, envp, scratch_dir);
  // Fallback: a sealed memfd copy (runc's way), where this process may not mount.
  UniqueFd self(open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!self) {
    ThrowErrno("open /proc/self/exe to make a sealed copy of the runtime");
  }
  struct stat st;
  if (fstat(self.get(), &st) < 0) {
    ThrowErrno("stat /proc/self/exe");
  }
  UniqueFd copy(memfd_create("berth-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!copy) {
    ThrowErrno("memfd_create for a sealed copy of the runtime");
  }
  off_t size = LoadableSize(self.get(), st.st_size);
  off_t offset = 0;
  while (offset < size) {
    ssize_t n = sendfile(copy.get(), self.get(), &offset, static_cast<size_t>(size - offset));
    if (n <= 0) {
      throw SysError("copy the runtime binary into a memfd", n < 0 ? errno : EIO);
    }
  }
  if (fcntl(copy.get(), F_ADD_SEALS, kSeals) < 0) {
    ThrowErrno("seal the runtime's memfd copy");
  }
  fexecve(copy.get(), argv, envp);
  ThrowErrno("execute the sealed copy of the runtime");
}

}  // namespace berth::runtime

// berth-battery: escape attempts run inside a container. Each attempt is a real one that
// succeeds for an unconfined root process on the host, and prints one line:
//   <name> blocked <why>      or      <name> ESCAPED <what happened>
// Exit status 0 when every attempt was blocked, 1 otherwise.
//
// The host side (tests/compat/confinement_test.py) passes in the environment:
//   BATTERY_HOST_PID     pid (host view) of a host process named berth-battery-sleeper
//   BATTERY_MARKER       absolute host path of a file outside the container ...
//   BATTERY_MARKER_TEXT  ... and its content
//   BATTERY_SUID         a setuid-root copy of this program (default /battery-suid)
// The same program run unconfined on the host shows which attempts can succeed there at all.

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/keyctl.h>
#include <linux/reboot.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int escaped = 0;

void Blocked(const char* name, const std::string& why) {
  printf("%s blocked %s\n", name, why.c_str());
}

void Escaped(const char* name, const std::string& what) {
  printf("%s ESCAPED %s\n", name, what.c_str());
  ++escaped;
}

// "EPERM", "EROFS", ... for the verdict column.
std::string ErrName(int err) {
  const char* n = strerrorname_np(err);
  return n != nullptr ? n : std::to_string(err);
}

std::string ReadAll(const char* path, int* err = nullptr) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (err != nullptr) {
      *err = errno;
    }
    return "";
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0 && out.size() < (1 << 20)) {
    out.append(buf, static_cast<size_t>(n));
  }
  if (n < 0 && err != nullptr) {
    *err = errno;
  }
  close(fd);
  return out;
}

const char* Env(const char* name) {
  const char* v = getenv(name);
  return v != nullptr ? v : "";
}

void TryMount() {
  if (mount("none", "/dev/shm", "tmpfs", 0, "size=1m") == 0) {
    umount2("/dev/shm", MNT_DETACH);
    return Escaped("mount", "mounted a tmpfs");
  }
  int e1 = errno;
  if (mount("/", "/dev/shm", nullptr, MS_BIND | MS_REC, nullptr) == 0) {
    umount2("/dev/shm", MNT_DETACH);
    return Escaped("mount", "made a bind mount");
  }
  Blocked("mount", ErrName(e1) + "/" + ErrName(errno));
}

void TryModuleLoad() {
  // A few bytes that are not a module: the loader would refuse them (ENOEXEC), but only
  // after the permission checks, so anything but EPERM means the checks were passed.
  static const char junk[64] = "not an ELF module";
  if (syscall(SYS_init_module, junk, sizeof(junk), "") == 0) {
    return Escaped("module_load", "init_module succeeded");
  }
  int e1 = errno;
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  long rc = syscall(SYS_finit_module, fd, "", 0);
  int e2 = errno;
  close(fd);
  if (rc == 0 || (e1 != EPERM && e1 != ENOSYS) || (e2 != EPERM && e2 != ENOSYS)) {
    return Escaped("module_load", "reached the module loader: init_module " + ErrName(e1) +
                                      ", finit_module " + ErrName(e2));
  }
  Blocked("module_load", ErrName(e1) + "/" + ErrName(e2));
}

void TrySysrq() {
  int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return Blocked("sysrq_trigger", ErrName(errno));
  }
  // 'h' only prints the help text to the kernel log.
  ssize_t n = write(fd, "h", 1);
  int err = errno;
  close(fd);
  if (n == 1) {
    return Escaped("sysrq_trigger", "wrote to /proc/sysrq-trigger");
  }
  Blocked("sysrq_trigger", "open ok, write " + ErrName(err));
}

void TrySysWrite() {
  // Files host root may write. Opening one for writing is the escape; nothing is written.
  const char* candidates[] = {"/sys/kernel/uevent_helper",
                              "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/power/state",
                              "/sys/kernel/profiling"};
  for (const char* path : candidates) {
    if (access(path, F_OK) != 0) {
      continue;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      return Escaped("sys_write", std::string("opened ") + path + " for writing");
    }
    return Blocked("sys_write", std::string(path) + " " + ErrName(errno));
  }
  Blocked("sys_write", "no writable /sys file visible");
}

void TryRawSocket() {
  int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  if (s >= 0) {
    close(s);
    return Escaped("raw_socket", "AF_INET SOCK_RAW socket");
  }
  int e1 = errno;
  s = socket(AF_PACKET, SOCK_RAW, 0);
  if (s >= 0) {
    close(s);
    return Escaped("raw_socket", "AF_PACKET socket");
  }
  Blocked("raw_socket", ErrName(e1) + "/" + ErrName(errno));
}

void TryMknod() {
  const char* path = "/dev/battery-kmsg";
  // /dev/kmsg (1:11), which the container's device rules do not allow: making the node, then
  // opening it, are the two things that must fail.
  unlink(path);
  if (mknod(path, S_IFCHR | 0600, makedev(1, 11)) < 0) {
    return Blocked("mknod", ErrName(errno));
  }
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  int err = errno;
  unlink(path);
  if (fd >= 0) {
    close(fd);
    return Escaped("mknod", "made and opened a /dev/kmsg node");
  }
  Blocked("mknod", "node made, open " + ErrName(err));
}

// The host sleeper, seen from here, if the pid names it at all.
bool IsHostSleeper(pid_t pid) {
  std::string cmdline = ReadAll(("/proc/" + std::to_string(pid) + "/cmdline").c_str());
  return cmdline.find("berth-battery-sleeper") != std::string::npos;
}

void TryPtraceOutside() {
  pid_t pid = static_cast<pid_t>(atoi(Env("BATTERY_HOST_PID")));
  if (pid <= 0) {
    return Escaped("ptrace_outside", "BATTERY_HOST_PID not given: cannot judge");
  }
  if (IsHostSleeper(pid)) {
    return Escaped("ptrace_outside", "the host process is visible in /proc");
  }
  std::string why;
  if (ptrace(PTRACE_SEIZE, pid, nullptr, nullptr) == 0) {
    bool outside = IsHostSleeper(pid);
    ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
    if (outside) {
      return Escaped("ptrace_outside", "attached to the host process");
    }
    why = "attach reached another process";
  } else {
    why = "ptrace " + ErrName(errno);
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    close(pidfd);
    why += ", pidfd_open ok (a process inside)";
  } else {
    why += ", pidfd_open " + ErrName(errno);
  }
  char buf[16];
  struct iovec local = {buf, sizeof(buf)};
  struct iovec remote = {reinterpret_cast<void*>(0x400000), sizeof(buf)};
  if (process_vm_readv(pid, &local, 1, &remote, 1, 0) >= 0 && IsHostSleeper(pid)) {
    return Escaped("ptrace_outside", "read the host process's memory");
  }
  why += ", process_vm_readv " + ErrName(errno);
  Blocked("ptrace_outside", why);
}

void TryKeyctl() {
  long key = syscall(SYS_add_key, "user", "berth-battery", "x", 1, KEY_SPEC_SESSION_KEYRING);
  if (key >= 0) {
    syscall(SYS_keyctl, KEYCTL_INVALIDATE, key);
    return Escaped("keyctl", "added a key to the session keyring");
  }
  int e1 = errno;
  if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "berth-battery") >= 0) {
    return Escaped("keyctl", "joined a named session keyring");
  }
  Blocked("keyctl", ErrName(e1) + "/" + ErrName(errno));
}

// Re-exec'd through the setuid copy: report the effective uid on stdout.
int ReportEuid() {
  printf("%u\n", geteuid());
  return 0;
}

void TrySetuidEscalation() {
  const char* suid = *Env("BATTERY_SUID") != '\0' ? Env("BATTERY_SUID") : "/battery-suid";
  if (access(suid, X_OK) != 0) {
    return Escaped("setuid_nnp", std::string(suid) + " missing: cannot judge");
  }
  int p[2];
  if (pipe(p) < 0) {
    return Escaped("setuid_nnp", "pipe failed: cannot judge");
  }
  pid_t child = fork();
  if (child == 0) {
    dup2(p[1], 1);
    gid_t g = 1000;
    if (setgroups(1, &g) < 0 && errno != EPERM) {
      _exit(3);
    }
    if (setresgid(1000, 1000, 1000) < 0 || setresuid(1000, 1000, 1000) < 0) {
      _exit(2);
    }
    char arg0[] = "battery-suid";
    char arg1[] = "--report-euid";
    char* argv[] = {arg0, arg1, nullptr};
    execv(suid, argv);
    _exit(4);
  }
  close(p[1]);
  char buf[32] = {0};
  ssize_t n = read(p[0], buf, sizeof(buf) - 1);
  close(p[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
    return Escaped("setuid_nnp", "could not become uid 1000 to try: cannot judge");
  }
  if (n <= 0) {
    return Blocked("setuid_nnp", "exec of the setuid binary failed");
  }
  unsigned euid = static_cast<unsigned>(atoi(buf));
  if (euid == 0) {
    return Escaped("setuid_nnp", "a setuid-root binary ran as root for uid 1000");
  }
  Blocked("setuid_nnp", "euid stayed " + std::to_string(euid));
}

void TryMaskedPaths() {
  const char* files[] = {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                         "/proc/latency_stats"};
  std::string seen;
  for (const char* f : files) {
    int err = 0;
    std::string text = ReadAll(f, &err);
    if (!text.empty()) {
      return Escaped("masked_paths", std::string("read ") + f);
    }
    seen += std::string(seen.empty() ? "" : ",") + (err != 0 ? ErrName(err) : "empty");
  }
  DIR* d = opendir("/sys/firmware");
  if (d != nullptr) {
    struct dirent* e;
    while ((e = readdir(d)) != nullptr) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
        closedir(d);
        return Escaped("masked_paths", "listed /sys/firmware");
      }
    }
    closedir(d);
  }
  Blocked("masked_paths", seen);
}

void TrySysctl() {
  // vm.swappiness is not namespaced: writing it changes the host. Write back what is there.
  const char* path = "/proc/sys/vm/swappiness";
  std::string value = ReadAll(path);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return Blocked("sysctl_host", ErrName(errno));
  }
  ssize_t n = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  if (n > 0) {
    return Escaped("sysctl_host", "wrote vm.swappiness");
  }
  Blocked("sysctl_host", "open ok, write " + ErrName(err));
}

void TryProcSelfExe() {
  // CVE-2019-5736: overwrite the runtime through a /proc/PID/exe the container can see.
  DIR* d = opendir("/proc");
  if (d == nullptr) {
    return Escaped("proc_exe", "no /proc: cannot judge");
  }
  std::string why;
  struct dirent* e;
  while ((e = readdir(d)) != nullptr) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') {
      continue;
    }
    std::string exe = std::string("/proc/") + e->d_name + "/exe";
    int fd = open(exe.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      closedir(d);
      return Escaped("proc_exe", "opened " + exe + " for writing");
    }
    if (why.find(ErrName(errno)) == std::string::npos) {
      why += (why.empty() ? "" : ",") + ErrName(errno);
    }
  }
  closedir(d);
  Blocked("proc_exe", why);
}

void TrySymlinkEscape() {
  std::string marker = Env("BATTERY_MARKER");
  std::string text = Env("BATTERY_MARKER_TEXT");
  if (marker.empty() || text.empty()) {
    return Escaped("symlink_escape", "BATTERY_MARKER not given: cannot judge");
  }
  std::vector<std::string> tries = {
      marker,
      "/../../../../../../.." + marker,
      "/proc/1/root/../../../.." + marker,
      "/proc/self/root/../.." + marker,
      "/proc/self/cwd/../../../.." + marker,
  };
  unlink("/dev/battery-link");
  if (symlink(("../../../../../../.." + marker).c_str(), "/dev/battery-link") == 0) {
    tries.push_back("/dev/battery-link");
  }
  for (const auto& path : tries) {
    if (ReadAll(path.c_str()) == text) {
      unlink("/dev/battery-link");
      return Escaped("symlink_escape", "read the host file through " + path);
    }
  }
  unlink("/dev/battery-link");
  // The chroot-in-chroot trick: chroot into a subdirectory, then climb out.
  if (mkdir("/dev/battery-jail", 0700) == 0 || errno == EEXIST) {
    pid_t child = fork();
    if (child == 0) {
      int root = open("/", O_RDONLY | O_DIRECTORY);
      if (chroot("/dev/battery-jail") == 0 && fchdir(root) == 0) {
        for (int i = 0; i < 64; ++i) {
          if (chdir("..") < 0) {
            break;
          }
        }
        if (chroot(".") == 0 && ReadAll(marker.c_str()) == text) {
          _exit(42);
        }
      }
      _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    rmdir("/dev/battery-jail");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 42) {
      return Escaped("symlink_escape", "climbed out with chroot and ..");
    }
  }
  Blocked("symlink_escape", "host file not reachable");
}

void TryUserNamespace() {
  pid_t child = fork();
  if (child == 0) {
    _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : errno);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return Escaped("nested_userns", "created a user namespace");
  }
  Blocked("nested_userns", WIFEXITED(status) ? ErrName(WEXITSTATUS(status)) : "killed");
}

void TryDevMem() {
  int fd = open("/dev/mem", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    close(fd);
    return Escaped("dev_mem", "opened /dev/mem");
  }
  Blocked("dev_mem", ErrName(errno));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--report-euid") == 0) {
    return ReportEuid();
  }
  setvbuf(stdout, nullptr, _IOLBF, 0);
  TryMount();
  TryModuleLoad();
  TrySysrq();
  TrySysWrite();
  TryRawSocket();
  TryMknod();
  TryPtraceOutside();
  TryKeyctl();
  TrySetuidEscalation();
  TryMaskedPaths();
  TrySysctl();
  TryProcSelfExe();
  TrySymlinkEscape();
  TryUserNamespace();
  TryDevMem();
  return escaped == 0 ? 0 : 1;
}

// berth-battery: escape attempts run inside a container. Each attempt is a real one, which
// succeeds for an unconfined root process on the host, and prints one line:
//   <name> blocked <why>      or      <name> ESCAPED <what happened>
// Exit status 0 when every attempt was blocked, 1 otherwise. An attempt that cannot be made
// (an input missing, a helper step failing) says "ESCAPED cannot judge: ...", so a broken
// battery fails its test instead of passing it.
//
// The host side (tests/compat/confinement_test.py) passes in the environment:
//   BATTERY_HOST_PID       pid (host view) of a host process whose argv[0] is
//                          berth-battery-sleeper
//   BATTERY_HOST_ADDR      hex address of a readable mapping of that process
//   BATTERY_HOST_BINARIES  label=dev:ino,... of host executables (the runtimes, the sleeper's)
//   BATTERY_MARKER         absolute host path of a file outside the container ...
//   BATTERY_MARKER_TEXT    ... and its content
//   BATTERY_HANDLE         type:hex, that file's handle (name_to_handle_at, from --file-handle)
//   BATTERY_SUID           a setuid-root copy of this program (default /battery-suid)
//   BATTERY_SCRATCH        a writable directory for nodes and links (default /dev)
// Nothing the battery does changes the host when it gets through: sysctl and sysfs values
// are written back unchanged, sysrq gets 'h' (help), a key is invalidated, the traced host
// process is detached, nodes and links are removed.
//
// Other modes: --report-euid (run by the setuid copy: prints its effective uid and
// NoNewPrivs), --file-handle PATH (prints PATH's file handle as type:hex).

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/keyctl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
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
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int escaped_count = 0;

void Blocked(const char* name, const std::string& why) {
  printf("%s blocked %s\n", name, why.c_str());
}

void Escaped(const char* name, const std::string& what) {
  printf("%s ESCAPED %s\n", name, what.c_str());
  ++escaped_count;
}

void CannotJudge(const char* name, const std::string& why) {
  Escaped(name, "cannot judge: " + why);
}

// "EPERM", "EROFS", ... for the verdict column.
std::string ErrName(int err) {
  const char* n = strerrorname_np(err);
  return n != nullptr ? n : std::to_string(err);
}

// Appends "what ERRNO" to a comma-separated list of reasons.
void AddReason(std::string* why, const std::string& what) {
  if (!why->empty()) {
    *why += ", ";
  }
  *why += what;
}

std::string ReadAll(const std::string& path, int* err = nullptr, size_t limit = 1 << 20) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (err != nullptr) {
      *err = errno;
    }
    return "";
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while (out.size() < limit && (n = read(fd, buf, sizeof(buf))) > 0) {
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

std::string Scratch() { return *Env("BATTERY_SCRATCH") != '\0' ? Env("BATTERY_SCRATCH") : "/dev"; }

// Writes back what `path` holds, unchanged. Returns 0, or the errno of the open or write
// (with *step saying which failed).
int WriteBackSame(const char* path, std::string* step) {
  int err = 0;
  std::string value = ReadAll(path, &err);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    *step = "open";
    return errno;
  }
  if (value.empty()) {  // unreadable: opening it for writing was the escape; write nothing
    close(fd);
    return 0;
  }
  ssize_t n = write(fd, value.data(), value.size());
  err = errno;
  close(fd);
  *step = "write";
  return n >= 0 ? 0 : err;
}

// --- the attempts -------------------------------------------------------------------------

void TryMount() {
  if (mount("none", "/dev/shm", "tmpfs", 0, "size=1m") == 0) {
    umount2("/dev/shm", MNT_DETACH);
    return Escaped("mount", "mounted a tmpfs on /dev/shm");
  }
  int e1 = errno;
  if (mount("/", "/dev/shm", nullptr, MS_BIND | MS_REC, nullptr) == 0) {
    umount2("/dev/shm", MNT_DETACH);
    return Escaped("mount", "bind-mounted / on /dev/shm");
  }
  Blocked("mount", "tmpfs " + ErrName(e1) + ", bind " + ErrName(errno));
}

void TryModuleLoad() {
  // Bytes that are not a module: the loader refuses them (ENOEXEC, EINVAL, EBADMSG), but only
  // after the permission checks, so any error but EPERM (or ENOSYS: a kernel without module
  // support) means the checks were passed.
  static const char kJunk[64] = "not an ELF module";
  if (syscall(SYS_init_module, kJunk, sizeof(kJunk), "") == 0) {
    return Escaped("module_load", "init_module succeeded");
  }
  int e1 = errno;
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  long rc = syscall(SYS_finit_module, fd, "", 0);
  int e2 = errno;
  if (fd >= 0) {
    close(fd);
  }
  if (rc == 0 || (e1 != EPERM && e1 != ENOSYS) || (e2 != EPERM && e2 != ENOSYS && e2 != EBADF)) {
    return Escaped("module_load", "reached the module loader: init_module " + ErrName(e1) +
                                      ", finit_module " + ErrName(e2));
  }
  Blocked("module_load", "init_module " + ErrName(e1) + ", finit_module " + ErrName(e2));
}

void TrySysrq() {
  int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return Blocked("sysrq_trigger", "open " + ErrName(errno));
  }
  ssize_t n = write(fd, "h", 1);  // 'h' only prints the help text to the kernel log
  int err = errno;
  close(fd);
  if (n == 1) {
    return Escaped("sysrq_trigger", "wrote 'h' to /proc/sysrq-trigger");
  }
  Blocked("sysrq_trigger", "open ok, write " + ErrName(err));
}

void TrySysWrite() {
  // Kernel knobs host root may write; the value read is written back.
  for (const char* path : {"/sys/kernel/rcu_expedited", "/sys/kernel/rcu_normal"}) {
    if (access(path, F_OK) != 0) {
      continue;
    }
    std::string step;
    int err = WriteBackSame(path, &step);
    if (err == 0) {
      return Escaped("sys_write", std::string("wrote ") + path);
    }
    return Blocked("sys_write", std::string(path) + " " + step + " " + ErrName(err));
  }
  // Without those: opening this one for writing is the escape; nothing is written.
  const char* thp = "/sys/kernel/mm/transparent_hugepage/enabled";
  int fd = open(thp, O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    close(fd);
    return Escaped("sys_write", std::string("opened ") + thp + " for writing");
  }
  Blocked("sys_write", std::string(thp) + " open " + ErrName(errno));
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
  Blocked("raw_socket", "AF_INET " + ErrName(e1) + ", AF_PACKET " + ErrName(errno));
}

void TryMknod() {
  // /dev/kmsg (1:11), which the container's device rules do not allow (1:3, /dev/null, would
  // be allowed): making the node, then opening it, are the two things that must fail.
  std::string path = Scratch() + "/battery-kmsg";
  unlink(path.c_str());
  if (mknod(path.c_str(), S_IFCHR | 0600, makedev(1, 11)) < 0) {
    return Blocked("mknod", "mknod c 1:11 " + ErrName(errno));
  }
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  int err = errno;
  unlink(path.c_str());
  if (fd >= 0) {
    close(fd);
    return Escaped("mknod", "made and opened a /dev/kmsg node (c 1:11)");
  }
  Blocked("mknod", "node made, open " + ErrName(err));
}

// The host process, as seen from here, if the pid names it at all.
bool IsHostSleeper(pid_t pid) {
  std::string cmdline = ReadAll("/proc/" + std::to_string(pid) + "/cmdline");
  return cmdline.rfind("berth-battery-sleeper", 0) == 0;
}

void TryPtraceOutside() {
  pid_t pid = static_cast<pid_t>(atoi(Env("BATTERY_HOST_PID")));
  uintptr_t addr = static_cast<uintptr_t>(strtoull(Env("BATTERY_HOST_ADDR"), nullptr, 16));
  if (pid <= 0 || addr == 0) {
    return CannotJudge("ptrace_outside", "BATTERY_HOST_PID or BATTERY_HOST_ADDR not given");
  }
  std::vector<std::string> got;  // what worked on the host process
  std::string why;
  auto outcome = [&](const char* what, bool ok, int err) {
    if (!ok) {
      AddReason(&why, std::string(what) + " " + ErrName(err));
    } else if (IsHostSleeper(pid)) {
      got.push_back(what);
    } else {
      AddReason(&why, std::string(what) + " reached pid " + std::to_string(pid) +
                          " of the container, not the host process");
    }
  };
  if (IsHostSleeper(pid)) {
    AddReason(&why, "host process visible in /proc");
  }

  bool ok = ptrace(PTRACE_SEIZE, pid, nullptr, nullptr) == 0;
  outcome("ptrace", ok, errno);
  if (ok) {  // stop it, so that it can be detached (exiting would detach it too)
    int status;
    if (ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr) == 0) {
      waitpid(pid, &status, __WALL);
    }
    ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
  }

  char buf[16];
  struct iovec local = {buf, sizeof(buf)};
  struct iovec remote = {reinterpret_cast<void*>(addr), sizeof(buf)};
  ok = process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(sizeof(buf));
  outcome("process_vm_readv", ok, errno);

  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    ok = syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) == 0;
    outcome("pidfd_send_signal", ok, errno);
    close(pidfd);
  } else {
    outcome("pidfd_open", false, errno);
  }

  ok = kill(pid, 0) == 0;
  outcome("kill", ok, errno);

  if (!got.empty()) {
    std::string what;
    for (const auto& g : got) {
      AddReason(&what, g);
    }
    return Escaped("ptrace_outside", "on the host process: " + what);
  }
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
  Blocked("keyctl", "add_key " + ErrName(e1) + ", join keyring " + ErrName(errno));
}

// Run through the setuid copy: report the effective uid and NoNewPrivs on stdout.
int ReportEuid() {
  std::string nnp = "?";
  std::string status = ReadAll("/proc/self/status");
  size_t at = status.find("NoNewPrivs:");
  if (at != std::string::npos) {
    size_t v = status.find_first_not_of(" \t", at + 11);
    nnp = status.substr(v, status.find('\n', v) - v);
  }
  printf("euid=%u nnp=%s\n", geteuid(), nnp.c_str());
  return 0;
}

void TrySetuidEscalation() {
  const char* suid = *Env("BATTERY_SUID") != '\0' ? Env("BATTERY_SUID") : "/battery-suid";
  struct stat st;
  if (stat(suid, &st) < 0 || (st.st_mode & S_ISUID) == 0) {
    return CannotJudge("setuid_nnp", std::string(suid) + " missing or not setuid");
  }
  int p[2];
  if (pipe(p) < 0) {
    return CannotJudge("setuid_nnp", "pipe " + ErrName(errno));
  }
  pid_t child = fork();
  if (child == 0) {
    dup2(p[1], 1);
    gid_t g = 1000;
    if ((setgroups(1, &g) < 0 && errno != EPERM) || setresgid(1000, 1000, 1000) < 0 ||
        setresuid(1000, 1000, 1000) < 0) {
      dprintf(1, "setresuid-failed %s\n", ErrName(errno).c_str());
      _exit(2);
    }
    char arg0[] = "battery-suid";
    char arg1[] = "--report-euid";
    char* argv[] = {arg0, arg1, nullptr};
    execv(suid, argv);
    dprintf(1, "exec-failed %s\n", ErrName(errno).c_str());
    _exit(4);
  }
  close(p[1]);
  char buf[64] = {0};
  ssize_t n = read(p[0], buf, sizeof(buf) - 1);
  close(p[0]);
  waitpid(child, nullptr, 0);
  std::string out = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  while (!out.empty() && out.back() == '\n') {
    out.pop_back();
  }
  unsigned euid = 0;
  char nnp[8] = "?";
  if (sscanf(out.c_str(), "euid=%u nnp=%7s", &euid, nnp) != 2) {
    return CannotJudge("setuid_nnp", "as uid 1000: " + (out.empty() ? "no answer" : out));
  }
  std::string seen =
      "NoNewPrivs " + std::string(nnp) + ", file owner uid " + std::to_string(st.st_uid) + " here";
  if (euid == 0) {
    return Escaped("setuid_nnp", "uid 1000 ran a setuid-root binary as euid 0 (" + seen + ")");
  }
  Blocked("setuid_nnp", "euid stayed " + std::to_string(euid) + " (" + seen + ")");
}

void TryMaskedPaths() {
  std::string why;
  for (const char* f : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                        "/proc/latency_stats"}) {
    int err = 0;
    std::string text = ReadAll(f, &err, 4096);
    if (!text.empty()) {
      return Escaped("masked_paths", std::string("read ") + f);
    }
    AddReason(&why, std::string(f + 6) + " " + (err != 0 ? ErrName(err) : "empty"));
  }
  for (const char* dir : {"/sys/firmware", "/sys/devices/virtual/powercap"}) {
    DIR* d = opendir(dir);
    if (d == nullptr) {
      AddReason(&why, std::string(dir + 5) + " " + ErrName(errno));
      continue;
    }
    struct dirent* e;
    while ((e = readdir(d)) != nullptr) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
        closedir(d);
        return Escaped("masked_paths", std::string("listed ") + dir);
      }
    }
    closedir(d);
    AddReason(&why, std::string(dir + 5) + " empty");
  }
  Blocked("masked_paths", why);
}

void TrySysctl() {
  // vm.swappiness is not namespaced: writing it changes the host. What is there is written
  // back, so getting through changes nothing.
  std::string step;
  int err = WriteBackSame("/proc/sys/vm/swappiness", &step);
  if (err == 0) {
    return Escaped("sysctl_host", "wrote vm.swappiness");
  }
  Blocked("sysctl_host", "vm.swappiness " + step + " " + ErrName(err));
}

struct HostBinary {
  std::string label;
  dev_t dev;
  ino_t ino;
};

std::vector<HostBinary> HostBinaries() {
  std::vector<HostBinary> out;
  std::string list = Env("BATTERY_HOST_BINARIES");
  size_t pos = 0;
  while (pos < list.size()) {
    size_t end = list.find(',', pos);
    std::string item = list.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? list.size() : end + 1;
    size_t eq = item.find('=');
    uintmax_t dev, ino;
    if (eq != std::string::npos &&
        sscanf(item.c_str() + eq + 1, "%" SCNuMAX ":%" SCNuMAX, &dev, &ino) == 2) {
      out.push_back({item.substr(0, eq), static_cast<dev_t>(dev), static_cast<ino_t>(ino)});
    }
  }
  return out;
}

void TryProcExe() {
  // CVE-2019-5736 and kin: a /proc/PID/exe or /proc/PID/map_files link the container can
  // follow to a host executable (a runtime's binary, a host process's), which it could then
  // read and, once that program exits, open for writing.
  std::vector<HostBinary> host = HostBinaries();
  if (host.empty()) {
    return CannotJudge("proc_exe", "BATTERY_HOST_BINARIES not given");
  }
  DIR* d = opendir("/proc");
  if (d == nullptr) {
    return CannotJudge("proc_exe", "opendir /proc " + ErrName(errno));
  }
  int links = 0;
  std::string found;
  struct dirent* e;
  while (found.empty() && (e = readdir(d)) != nullptr) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') {
      continue;
    }
    std::string dir = std::string("/proc/") + e->d_name;
    std::vector<std::string> candidates = {dir + "/exe"};
    if (DIR* m = opendir((dir + "/map_files").c_str())) {
      while (struct dirent* f = readdir(m)) {
        if (f->d_name[0] != '.') {
          candidates.push_back(dir + "/map_files/" + f->d_name);
        }
      }
      closedir(m);
    }
    for (const auto& link : candidates) {
      struct stat st;
      if (stat(link.c_str(), &st) < 0) {
        continue;
      }
      ++links;
      for (const auto& h : host) {
        if (st.st_dev == h.dev && st.st_ino == h.ino) {
          int fd = open(link.c_str(), O_RDWR | O_CLOEXEC);
          std::string w = fd >= 0 ? "opened for writing" : "open O_RDWR " + ErrName(errno);
          if (fd >= 0) {
            close(fd);
          }
          found = "reached host binary " + h.label + " through " + link + " (" + w + ")";
          break;
        }
      }
      if (!found.empty()) {
        break;
      }
    }
  }
  closedir(d);
  if (!found.empty()) {
    return Escaped("proc_exe", found);
  }
  // Its own executable, running, is never writable (ETXTBSY), wherever it lives.
  int fd = open("/proc/self/exe", O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    close(fd);
    return Escaped("proc_exe", "opened /proc/self/exe for writing");
  }
  std::string self = ErrName(errno);
  Blocked("proc_exe", "no host binary among " + std::to_string(links) +
                          " exe/map_files links; /proc/self/exe O_RDWR " + self);
}

void TrySymlinkEscape() {
  std::string marker = Env("BATTERY_MARKER");
  std::string text = Env("BATTERY_MARKER_TEXT");
  if (marker.empty() || marker[0] != '/' || text.empty()) {
    return CannotJudge("symlink_escape", "BATTERY_MARKER(_TEXT) not given");
  }
  std::string up = "../../../../../../../../..";
  std::string rel_link = Scratch() + "/battery-rel-link";
  std::string abs_link = Scratch() + "/battery-abs-link";
  std::vector<std::string> tries = {
      marker,
      "/" + up + marker,
      "/proc/1/root/" + up + marker,
      "/proc/self/root/" + up + marker,
      "/proc/self/cwd/" + up + marker,
  };
  unlink(rel_link.c_str());
  unlink(abs_link.c_str());
  std::string why;
  if (symlink((up + marker).c_str(), rel_link.c_str()) == 0) {
    tries.push_back(rel_link);
  } else {
    AddReason(&why, "symlink " + ErrName(errno));
  }
  if (symlink(marker.c_str(), abs_link.c_str()) == 0) {
    tries.push_back(abs_link);
  }
  std::string got;
  for (const auto& path : tries) {
    if (ReadAll(path) == text) {
      got = path;
      break;
    }
  }
  unlink(rel_link.c_str());
  unlink(abs_link.c_str());
  if (!got.empty()) {
    return Escaped("symlink_escape", "read the host file through " + got);
  }
  AddReason(&why, std::to_string(tries.size()) + " paths miss it");
  // The chroot-in-chroot climb: chroot into a subdirectory, keep a directory outside it as the
  // working directory, walk up with .., and chroot there.
  std::string jail = Scratch() + "/battery-jail";
  if (mkdir(jail.c_str(), 0700) == 0 || errno == EEXIST) {
    pid_t child = fork();
    if (child == 0) {
      int root = open("/", O_RDONLY | O_DIRECTORY);
      if (chroot(jail.c_str()) < 0) {
        _exit(1);
      }
      if (fchdir(root) == 0) {
        for (int i = 0; i < 64 && chdir("..") == 0; ++i) {
        }
        if (chroot(".") == 0 && ReadAll(marker) == text) {
          _exit(42);
        }
      }
      _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    rmdir(jail.c_str());
    if (WIFEXITED(status) && WEXITSTATUS(status) == 42) {
      return Escaped("symlink_escape", "climbed out with chroot, fchdir and ..");
    }
    AddReason(&why, WIFEXITED(status) && WEXITSTATUS(status) == 1 ? "chroot refused"
                                                                  : "chroot climb misses it");
  }
  Blocked("symlink_escape", why);
}

void TryOpenByHandle() {
  // The "shocker" escape: open a host inode by its file handle on the filesystem the rootfs
  // lives on (the marker sits on the same one, next to the bundle).
  std::string handle = Env("BATTERY_HANDLE");
  std::string text = Env("BATTERY_MARKER_TEXT");
  int type = 0;
  size_t colon = handle.find(':');
  if (colon == std::string::npos || sscanf(handle.c_str(), "%d", &type) != 1 || text.empty()) {
    return CannotJudge("open_by_handle", "BATTERY_HANDLE not given");
  }
  std::string hex = handle.substr(colon + 1);
  std::vector<unsigned char> fh(sizeof(struct file_handle) + hex.size() / 2);
  auto* h = reinterpret_cast<struct file_handle*>(fh.data());
  h->handle_bytes = static_cast<unsigned>(hex.size() / 2);
  h->handle_type = type;
  for (size_t i = 0; i < h->handle_bytes; ++i) {
    h->f_handle[i] = static_cast<unsigned char>(strtoul(hex.substr(2 * i, 2).c_str(), nullptr, 16));
  }
  int mount_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int fd = open_by_handle_at(mount_fd, h, O_RDONLY | O_CLOEXEC);
  int err = errno;
  close(mount_fd);
  if (fd < 0) {
    return Blocked("open_by_handle", ErrName(err));
  }
  char buf[256] = {0};
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  bool same = n > 0 && text == std::string(buf, static_cast<size_t>(n));
  Escaped("open_by_handle",
          same ? "read the host file by its handle" : "opened an inode by handle");
}

// --file-handle PATH: PATH's handle, for BATTERY_HANDLE.
int PrintFileHandle(const char* path) {
  std::vector<unsigned char> fh(sizeof(struct file_handle) + MAX_HANDLE_SZ);
  auto* h = reinterpret_cast<struct file_handle*>(fh.data());
  h->handle_bytes = MAX_HANDLE_SZ;
  int mount_id;
  if (name_to_handle_at(AT_FDCWD, path, h, &mount_id, 0) < 0) {
    fprintf(stderr, "name_to_handle_at %s: %s\n", path, strerror(errno));
    return 1;
  }
  printf("%d:", h->handle_type);
  for (unsigned i = 0; i < h->handle_bytes; ++i) {
    printf("%02x", h->f_handle[i]);
  }
  printf("\n");
  return 0;
}

void TryUserNamespace() {
  pid_t child = fork();
  if (child == 0) {
    _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : errno);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return Escaped("nested_userns", "unshare(CLONE_NEWUSER) made a user namespace");
  }
  Blocked("nested_userns",
          WIFEXITED(status) ? "unshare " + ErrName(WEXITSTATUS(status)) : std::string("killed"));
}

void TryKallsyms() {
  int err = 0;
  std::string text = ReadAll("/proc/kallsyms", &err, 64 * 1024);
  if (text.empty()) {
    return Blocked("kallsyms", err != 0 ? "read " + ErrName(err) : "empty");
  }
  size_t line = 0;
  while (line < text.size()) {
    unsigned long long addr = strtoull(text.c_str() + line, nullptr, 16);
    if (addr != 0) {
      char hex[32];
      snprintf(hex, sizeof(hex), "%llx", addr);
      return Escaped("kallsyms", std::string("kernel addresses visible (") + hex + ")");
    }
    size_t nl = text.find('\n', line);
    if (nl == std::string::npos) {
      break;
    }
    line = nl + 1;
  }
  Blocked("kallsyms", "addresses read as 0");
}

void TryDevMem() {
  int fd = open("/dev/mem", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    close(fd);
    return Escaped("dev_mem", "opened /dev/mem");
  }
  Blocked("dev_mem", "open " + ErrName(errno));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--report-euid") == 0) {
    return ReportEuid();
  }
  if (argc > 2 && strcmp(argv[1], "--file-handle") == 0) {
    return PrintFileHandle(argv[2]);
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
  TryProcExe();
  TrySymlinkEscape();
  TryOpenByHandle();
  TryUserNamespace();
  TryKallsyms();
  TryDevMem();
  return escaped_count == 0 ? 0 : 1;
}

#include "runtime/seccomp.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "base/log.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

namespace berth::runtime {
namespace {

using nlohmann::json;

[[noreturn]] void Fail(const std::string& field, const std::string& what) {
  ThrowInvalid("linux.seccomp." + field + ": " + what);
}

std::string Str(const json& j, const std::string& field) {
  if (!j.is_string()) {
    Fail(field, "expected a string");
  }
  return j.get<std::string>();
}

uint64_t U64(const json& j, const std::string& field) {
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<int64_t>() >= 0)) {
    Fail(field, "expected an unsigned integer");
  }
  return j.get<uint64_t>();
}

// The libseccomp action for an OCI action name; errno_ret is used by ERRNO and TRACE.
uint32_t Action(const std::string& name, uint32_t errno_ret, const std::string& field) {
  static const std::map<std::string, uint32_t> kFixed = {
      {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD},
      {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
      {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
      {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
      {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
      {"SCMP_ACT_LOG", SCMP_ACT_LOG},
  };
  if (name == "SCMP_ACT_ERRNO") {
    return SCMP_ACT_ERRNO(errno_ret);
  }
  if (name == "SCMP_ACT_TRACE") {
    return SCMP_ACT_TRACE(errno_ret);
  }
  if (name == "SCMP_ACT_NOTIFY") {
    return SCMP_ACT_NOTIFY;
  }
  auto it = kFixed.find(name);
  if (it == kFixed.end()) {
    Fail(field, "unknown action \"" + name + "\"");
  }
  return it->second;
}

scmp_compare Operator(const std::string& name, const std::string& field) {
  static const std::map<std::string, scmp_compare> kOps = {
      {"SCMP_CMP_NE", SCMP_CMP_NE},
      {"SCMP_CMP_LT", SCMP_CMP_LT},
      {"SCMP_CMP_LE", SCMP_CMP_LE},
      {"SCMP_CMP_EQ", SCMP_CMP_EQ},
      {"SCMP_CMP_GE", SCMP_CMP_GE},
      {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
  };
  auto it = kOps.find(name);
  if (it == kOps.end()) {
    Fail(field, "unknown operator \"" + name + "\"");
  }
  return it->second;
}

unsigned int Flag(const std::string& name, const std::string& field) {
  static const std::map<std::string, unsigned int> kFlags = {
      {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
      {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
      {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
      {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
  };
  auto it = kFlags.find(name);
  if (it == kFlags.end()) {
    Fail(field, "unknown flag \"" + name + "\"");
  }
  return it->second;
}

// "SCMP_ARCH_X86_64" -> libseccomp's token, 0 if unknown.
uint32_t Arch(const std::string& name) {
  if (name.rfind("SCMP_ARCH_", 0) != 0) {
    return 0;
  }
  std::string lower = name.substr(10);
  for (auto& c : lower) {
    c = static_cast<char>(tolower(c));
  }
  return seccomp_arch_resolve_name(lower.c_str());
}

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

}  // namespace

SeccompProgram CompileSeccomp(const json& s) {
  SeccompProgram program;
  if (s.is_null()) {
    return program;
  }
  if (!s.is_object()) {
    ThrowInvalid("linux.seccomp: expected an object");
  }
  if (s.contains("listenerPath") && !s["listenerPath"].is_null()) {
    program.listener_path = Str(s["listenerPath"], "listenerPath");
    if (program.listener_path.empty() || program.listener_path[0] != '/') {
      Fail("listenerPath", "must be an absolute path");
    }
    if (s.contains("listenerMetadata")) {
      program.listener_metadata = Str(s["listenerMetadata"], "listenerMetadata");
    }
  }
  uint32_t default_errno = EPERM;
  if (s.contains("defaultErrnoRet")) {
    default_errno = static_cast<uint32_t>(U64(s["defaultErrnoRet"], "defaultErrnoRet"));
  }
  if (!s.contains("defaultAction")) {
    Fail("defaultAction", "is required");
  }
  uint32_t default_action =
      Action(Str(s["defaultAction"], "defaultAction"), default_errno, "defaultAction");
  std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(default_action));
  if (!ctx) {
    throw Error(Kind::kInternal, "linux.seccomp: seccomp_init failed");
  }
  // The runtime sets no_new_privs itself (process.noNewPrivileges).
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  if (s.contains("architectures")) {
    const json& archs = s["architectures"];
    for (size_t i = 0; i < archs.size(); ++i) {
      std::string field = "architectures[" + std::to_string(i) + "]";
      std::string name = Str(archs[i], field);
      uint32_t arch = Arch(name);
      if (arch == 0) {
        Fail(field, "unknown architecture \"" + name + "\"");
      }
      int rc = seccomp_arch_add(ctx.get(), arch);
      if (rc < 0 && rc != -EEXIST) {
        throw SysError("linux.seccomp." + field + ": add architecture " + name, -rc);
      }
    }
  }
  if (s.contains("flags")) {
    const json& flags = s["flags"];
    for (size_t i = 0; i < flags.size(); ++i) {
      std::string field = "flags[" + std::to_string(i) + "]";
      program.flags |= Flag(Str(flags[i], field), field);
    }
  }
  const json empty = json::array();
  const json& syscalls = s.contains("syscalls") ? s["syscalls"] : empty;
  if (!syscalls.is_array()) {
    Fail("syscalls", "expected an array");
  }
  for (size_t i = 0; i < syscalls.size(); ++i) {
    const json& rule = syscalls[i];
    std::string field = "syscalls[" + std::to_string(i) + "]";
    if (!rule.is_object() || !rule.contains("names") || !rule["names"].is_array()) {
      Fail(field, "needs \"names\", an array of syscall names");
    }
    uint32_t errno_ret = EPERM;
    if (rule.contains("errnoRet")) {
      errno_ret = static_cast<uint32_t>(U64(rule["errnoRet"], field + ".errnoRet"));
    }
    if (!rule.contains("action")) {
      Fail(field + ".action", "is required");
    }
    uint32_t action = Action(Str(rule["action"], field + ".action"), errno_ret, field + ".action");
    if (action == SCMP_ACT_NOTIFY && program.listener_path.empty()) {
      Fail(field + ".action", "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
    }
    std::vector<scmp_arg_cmp> args;
    std::set<unsigned> indexes;
    bool repeated_index = false;
    if (rule.contains("args")) {
      const json& a = rule["args"];
      for (size_t k = 0; k < a.size(); ++k) {
        std::string af = field + ".args[" + std::to_string(k) + "]";
        if (!a[k].is_object() || !a[k].contains("index") || !a[k].contains("op")) {
          Fail(af, "needs index and op");
        }
        uint64_t index = U64(a[k]["index"], af + ".index");
        if (index > 5) {
          Fail(af + ".index", "must be 0 to 5, got " + std::to_string(index));
        }
        scmp_arg_cmp cmp = {};
        cmp.arg = static_cast<unsigned>(index);
        cmp.op = Operator(Str(a[k]["op"], af + ".op"), af + ".op");
        cmp.datum_a = a[k].contains("value") ? U64(a[k]["value"], af + ".value") : 0;
        cmp.datum_b = a[k].contains("valueTwo") ? U64(a[k]["valueTwo"], af + ".valueTwo") : 0;
        repeated_index = repeated_index || !indexes.insert(cmp.arg).second;
        args.push_back(cmp);
      }
    }
    if (action == default_action) {
      continue;  // libseccomp refuses a rule that repeats the default; it changes nothing
    }
    const json& names = rule["names"];
    for (size_t n = 0; n < names.size(); ++n) {
      std::string nf = field + ".names[" + std::to_string(n) + "]";
      std::string name = Str(names[n], nf);
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) {
        Fail(nf, "unknown syscall \"" + name + "\"");
      }
      int rc;
      if (repeated_index) {
        // Two comparisons of one argument cannot be ANDed by libseccomp: like runc, each
        // becomes its own rule (any of them matches).
        rc = 0;
        for (const auto& cmp : args) {
          rc = seccomp_rule_add_array(ctx.get(), action, nr, 1, &cmp);
          if (rc < 0) {
            break;
          }
        }
      } else {
        rc = seccomp_rule_add_array(ctx.get(), action, nr, static_cast<unsigned>(args.size()),
                                    args.empty() ? nullptr : args.data());
      }
      if (rc < 0) {
        throw SysError("linux.seccomp." + nf + ": add rule for " + name, -rc);
      }
    }
  }
  // libseccomp 2.5 exports to a descriptor only: a memfd, read back.
  UniqueFd mem(memfd_create("berth-seccomp", MFD_CLOEXEC));
  if (!mem) {
    ThrowErrno("memfd_create for the seccomp program");
  }
  int rc = seccomp_export_bpf(ctx.get(), mem.get());
  if (rc < 0) {
    throw SysError("linux.seccomp: export the filter", -rc);
  }
  off_t size = lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(struct sock_filter) != 0) {
    throw Error(Kind::kInternal, "linux.seccomp: exported filter has a bad size");
  }
  program.filter.resize(static_cast<size_t>(size) / sizeof(struct sock_filter));
  if (pread(mem.get(), program.filter.data(), static_cast<size_t>(size), 0) != size) {
    ThrowErrno("linux.seccomp: read the exported filter");
  }
  return program;
}

SeccompProgram CompileSeccompCached(const json& seccomp, const std::string& cache_dir) {
  if (seccomp.is_null() || (seccomp.is_object() && seccomp.contains("listenerPath"))) {
    return CompileSeccomp(seccomp);
  }
  // The key: everything the filter depends on. nlohmann::json keeps object keys sorted, so
  // the same object always dumps to the same text.
  const scmp_version* v = seccomp_version();
  std::string key = "berth-seccomp-cache 1 libseccomp " + std::to_string(v->major) + "." +
                    std::to_string(v->minor) + "." + std::to_string(v->micro) + " arch " +
                    std::to_string(seccomp_arch_native()) + "\n" + seccomp.dump() + "\n";
  uint64_t hash = 1469598103934665603ull;  // FNV-1a: names the file; the key decides
  for (unsigned char c : key) {
    hash = (hash ^ c) * 1099511628211ull;
  }
  char name[32];
  snprintf(name, sizeof(name), "/%016llx", static_cast<unsigned long long>(hash));
  std::string path = cache_dir + name;
  if (auto cached = ReadFileIfExists(path);
      cached && cached->size() > key.size() + 12 && cached->compare(0, key.size(), key) == 0) {
    size_t pos = key.size();
    size_t nl = cached->find('\n', pos);
    size_t bytes = nl == std::string::npos ? 0 : cached->size() - nl - 1;
    if (nl != std::string::npos && bytes > 0 && bytes % sizeof(struct sock_filter) == 0 &&
        bytes / sizeof(struct sock_filter) <= BPF_MAXINSNS) {
      SeccompProgram program;
      program.flags = static_cast<unsigned>(std::stoul(cached->substr(pos, nl - pos)));
      program.filter.resize(bytes / sizeof(struct sock_filter));
      memcpy(program.filter.data(), cached->data() + nl + 1, bytes);
      return program;
    }
  }
  SeccompProgram program = CompileSeccomp(seccomp);
  if (program.empty()) {
    return program;
  }
  try {
    MkdirAll(cache_dir, 0700);
    std::string entry = key + std::to_string(program.flags) + "\n";
    entry.append(reinterpret_cast<const char*>(program.filter.data()),
                 program.filter.size() * sizeof(struct sock_filter));
    WriteFileAtomic(path, entry, 0600, Durability::kVolatile);
  } catch (const Error& e) {
    log::Debug("seccomp cache: " + std::string(e.what()));
  }
  return program;
}

bool InstallSeccomp(const SeccompProgram& program, int* listener_fd, ChildError* error) noexcept {
  *listener_fd = -1;
  if (program.filter.empty()) {
    return true;
  }
  struct sock_fprog prog;
  prog.len = static_cast<unsigned short>(program.filter.size());
  prog.filter = const_cast<struct sock_filter*>(program.filter.data());
  unsigned int flags = program.flags;
  if (!program.listener_path.empty()) {
    flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  }
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc < 0) {
    return error->Fail(errno, "install the seccomp filter");
  }
  if (!program.listener_path.empty()) {
    *listener_fd = static_cast<int>(rc);
  }
  return true;
}

}  // namespace berth::runtime

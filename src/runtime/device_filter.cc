#include "runtime/device_filter.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "base/error.h"

namespace berth::runtime {
namespace {

using nlohmann::json;

// The devices every container may use (runc's AllowedDevices): mknod of anything (using the
// node is what the rules decide), the standard nodes and the pts range.
const DeviceRule kStandard[] = {
    {true, 'c', -1, -1, kDevMknod}, {true, 'b', -1, -1, kDevMknod}, {true, 'c', 1, 3, 7},
    {true, 'c', 1, 5, 7},           {true, 'c', 1, 7, 7},           {true, 'c', 1, 8, 7},
    {true, 'c', 1, 9, 7},           {true, 'c', 5, 0, 7},           {true, 'c', 5, 1, 7},
    {true, 'c', 5, 2, 7},           {true, 'c', 136, -1, 7},
};

[[noreturn]] void Fail(const std::string& field, const std::string& what) {
  ThrowInvalid(field + ": " + what);
}

bool IsDenyAll(const DeviceRule& r) { return !r.allow && r.type == 'a'; }

DeviceRule ParseRule(const json& d, const std::string& f) {
  if (!d.is_object()) {
    Fail(f, "expected an object");
  }
  DeviceRule r;
  if (!d.contains("allow") || !d["allow"].is_boolean()) {
    Fail(f + ".allow", "is required (true or false)");
  }
  r.allow = d["allow"].get<bool>();
  if (d.contains("type") && !d["type"].is_null()) {
    std::string t = d["type"].is_string() ? d["type"].get<std::string>() : "";
    if (t != "a" && t != "b" && t != "c") {
      Fail(f + ".type", "must be a, b or c, got " + d["type"].dump());
    }
    r.type = t[0];
  }
  if (d.contains("access") && !d["access"].is_null()) {
    std::string a = d["access"].is_string() ? d["access"].get<std::string>() : "";
    if (a.empty() || a.find_first_not_of("rwm") != std::string::npos) {
      Fail(f + ".access", "must be made of r, w and m, got " + d["access"].dump());
    }
    r.access = (a.find('r') != std::string::npos ? kDevRead : 0) |
               (a.find('w') != std::string::npos ? kDevWrite : 0) |
               (a.find('m') != std::string::npos ? kDevMknod : 0);
  }
  for (const char* key : {"major", "minor"}) {
    if (!d.contains(key) || d[key].is_null()) {
      continue;
    }
    if (!d[key].is_number_integer()) {
      Fail(f + "." + key, "expected an integer, got " + d[key].dump());
    }
    int64_t v = d[key].get<int64_t>();
    if (v > 0xfffff) {
      Fail(f + "." + key, "value " + std::to_string(v) + " out of range");
    }
    (std::string(key) == "major" ? r.major : r.minor) = v < 0 ? -1 : v;
  }
  if (r.type == 'a') {
    r.major = r.minor = -1;  // "a" means every device, whatever the numbers say
  }
  return r;
}

bool Covers(const DeviceRule& e, char type, uint32_t major, uint32_t minor) {
  return e.type == type && (e.major < 0 || e.major == major) && (e.minor < 0 || e.minor == minor);
}

// Instruction encoders (the uapi header has the opcodes, not the kernel's macros).
bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i;
  memset(&i, 0, sizeof(i));
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn LoadCtxWord(uint8_t dst, int16_t off) {
  return Insn(BPF_LDX | BPF_MEM | BPF_W, dst, BPF_REG_1, off, 0);
}
bpf_insn AluImm(uint8_t op, uint8_t dst, int32_t imm) {
  return Insn(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn MovReg(uint8_t dst, uint8_t src) {
  return Insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
}
bpf_insn JumpImm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) {
  return Insn(BPF_JMP | op | BPF_K, dst, 0, off, imm);
}
bpf_insn Exit() { return Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// bpf(2): its result (an fd, 0, or -1) and errno.
struct BpfResult {
  long value;
  int err;
};
BpfResult Bpf(int cmd, union bpf_attr* attr) {
  long rc = syscall(SYS_bpf, cmd, attr, sizeof(*attr));
  return {rc, rc < 0 ? errno : 0};
}

uint64_t Ptr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// The last `n` non-empty lines of a verifier log: where it says why it refused.
std::string LogTail(const std::string& log, int n) {
  std::string text = log.substr(0, log.find('\0'));
  while (!text.empty() && text.back() == '\n') {
    text.pop_back();
  }
  size_t start = text.size();
  for (int i = 0; i < n && start != std::string::npos && start > 0; ++i) {
    start = text.rfind('\n', start - 1);
  }
  std::string tail = start == std::string::npos ? text : text.substr(start + 1);
  for (char& c : tail) {
    if (c == '\n') {
      c = ';';
    }
  }
  return tail;
}

}  // namespace

std::string DeviceRule::V1Line() const {
  auto num = [](int64_t v) { return v < 0 ? std::string("*") : std::to_string(v); };
  std::string acc;
  if (access & kDevRead) acc += 'r';
  if (access & kDevWrite) acc += 'w';
  if (access & kDevMknod) acc += 'm';
  if (type == 'a') {
    return "a *:* " + acc;
  }
  return std::string(1, type) + " " + num(major) + ":" + num(minor) + " " + acc;
}

std::vector<DeviceRule> EffectiveDeviceRules(const json& list, const std::string& field) {
  if (!list.is_array()) {
    Fail(field, "expected an array");
  }
  std::vector<DeviceRule> out;
  auto add_standard = [&] { out.insert(out.end(), std::begin(kStandard), std::end(kStandard)); };
  std::vector<DeviceRule> rules;
  for (size_t i = 0; i < list.size(); ++i) {
    rules.push_back(ParseRule(list[i], field + "[" + std::to_string(i) + "]"));
  }
  if (rules.empty() || !IsDenyAll(rules[0])) {
    out.push_back(DeviceRule{false, 'a', -1, -1, 7});
    add_standard();
  }
  for (const auto& r : rules) {
    out.push_back(r);
    if (IsDenyAll(r)) {
      add_standard();  // "deny all" must not take the standard nodes away
    }
  }
  return out;
}

DeviceState EmulateV1Devices(const std::vector<DeviceRule>& rules) {
  DeviceState state;
  for (const auto& r : rules) {
    if (r.type == 'a') {
      state.default_allow = r.allow;
      state.exceptions.clear();
      continue;
    }
    auto same = [&](const DeviceRule& e) {
      return e.type == r.type && e.major == r.major && e.minor == r.minor;
    };
    auto it = std::find_if(state.exceptions.begin(), state.exceptions.end(), same);
    if (r.allow != state.default_allow) {
      // An exception to the default: added, or merged into the one for these numbers.
      if (it != state.exceptions.end()) {
        it->access |= r.access;
      } else {
        state.exceptions.push_back(r);
      }
    } else if (it != state.exceptions.end()) {
      // Back towards the default: the access goes from that exception only.
      it->access &= ~r.access;
      if (it->access == 0) {
        state.exceptions.erase(it);
      }
    }
  }
  return state;
}

bool DeviceAllowed(const DeviceState& state, char type, uint32_t major, uint32_t minor,
                   uint32_t access) {
  for (const auto& e : state.exceptions) {
    if (!Covers(e, type, major, minor)) {
      continue;
    }
    if (state.default_allow && (access & e.access) != 0) {
      return false;
    }
    if (!state.default_allow && (access & ~e.access) == 0) {
      return true;
    }
  }
  return state.default_allow;
}

std::vector<bpf_insn> CompileDeviceFilter(const DeviceState& state) {
  // r2 = device type, r3 = requested access, r4 = major, r5 = minor; r0 = verdict. Tests are
  // made on a scratch r1 (the context pointer is dead once read) that an XOR has unlinked from
  // its source: the verifier learns a register's value from a branch on it (or on a plain copy
  // of it), and a value learnt in one block and carried into the next gives that block's start
  // a different state per path, which defeats the verifier's pruning (its work then grows
  // quadratically with the rules and a few hundred rules exceed its limit).
  std::vector<bpf_insn> prog = {
      LoadCtxWord(BPF_REG_2, offsetof(bpf_cgroup_dev_ctx, access_type)),
      MovReg(BPF_REG_3, BPF_REG_2),
      AluImm(BPF_AND, BPF_REG_2, 0xffff),
      AluImm(BPF_RSH, BPF_REG_3, 16),
      LoadCtxWord(BPF_REG_4, offsetof(bpf_cgroup_dev_ctx, major)),
      LoadCtxWord(BPF_REG_5, offsetof(bpf_cgroup_dev_ctx, minor)),
  };
  // One block per exception; the first that applies returns the opposite of the default.
  for (const auto& e : state.exceptions) {
    std::vector<bpf_insn> block;
    // Each test jumps past the block when the exception does not apply; offsets are patched
    // once the block's length is known (off = -1 marks them).
    auto unless_equal = [&](uint8_t reg, int32_t value) {
      block.push_back(MovReg(BPF_REG_1, reg));
      block.push_back(AluImm(BPF_XOR, BPF_REG_1, value));
      block.push_back(JumpImm(BPF_JNE, BPF_REG_1, 0, -1));
    };
    unless_equal(BPF_REG_2, e.type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK);
    if (e.major >= 0) {
      unless_equal(BPF_REG_4, static_cast<int32_t>(e.major));
    }
    if (e.minor >= 0) {
      unless_equal(BPF_REG_5, static_cast<int32_t>(e.minor));
    }
    if (!state.default_allow && e.access != 7) {
      // Allowing: every requested bit must be in the exception.
      block.push_back(MovReg(BPF_REG_1, BPF_REG_3));
      block.push_back(AluImm(BPF_AND, BPF_REG_1, static_cast<int32_t>(~e.access & 7)));
      block.push_back(JumpImm(BPF_JNE, BPF_REG_1, 0, -1));
    } else if (state.default_allow && e.access != 7) {
      // Denying: any requested bit in the exception.
      block.push_back(MovReg(BPF_REG_1, BPF_REG_3));
      block.push_back(AluImm(BPF_AND, BPF_REG_1, static_cast<int32_t>(e.access)));
      block.push_back(JumpImm(BPF_JEQ, BPF_REG_1, 0, -1));
    }
    block.push_back(
        Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, state.default_allow ? 0 : 1));
    block.push_back(Exit());
    for (size_t i = 0; i < block.size(); ++i) {
      if (block[i].off == -1 && BPF_CLASS(block[i].code) == BPF_JMP) {
        block[i].off = static_cast<int16_t>(block.size() - i - 1);
      }
    }
    prog.insert(prog.end(), block.begin(), block.end());
  }
  prog.push_back(Insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, state.default_allow ? 1 : 0));
  prog.push_back(Exit());
  return prog;
}

UniqueFd LoadDeviceProgram(const std::vector<bpf_insn>& program, const char* name) {
  static const char kLicense[] = "GPL";
  union bpf_attr attr;
  auto load = [&](std::string* log) {
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.expected_attach_type = BPF_CGROUP_DEVICE;
    attr.insns = Ptr(program.data());
    attr.insn_cnt = static_cast<uint32_t>(program.size());
    attr.license = Ptr(kLicense);
    memcpy(attr.prog_name, name, strnlen(name, sizeof(attr.prog_name) - 1));
    if (log != nullptr) {
      attr.log_level = 1;
      attr.log_buf = Ptr(log->data());
      attr.log_size = static_cast<uint32_t>(log->size());
    }
    return Bpf(BPF_PROG_LOAD, &attr);
  };
  BpfResult r = load(nullptr);
  if (r.value >= 0) {
    return UniqueFd(static_cast<int>(r.value));
  }
  std::string what = "load the device program";
  if (r.err != EPERM) {
    // Ask again with the verifier's log, 1 MiB (kernels before 6.4 keep the head of a log
    // that does not fit, later ones its tail, where the verifier says why).
    std::string log(1 << 20, '\0');
    BpfResult again = load(&log);
    if (again.value >= 0) {
      return UniqueFd(static_cast<int>(again.value));
    }
    std::string tail = LogTail(log, 4);
    if (!tail.empty()) {
      what += " (verifier: " + tail + ")";
    }
  }
  throw SysError(what, r.err);
}

std::vector<AttachedProgram> AttachedDevicePrograms(int cgroup_fd) {
  std::vector<uint32_t> ids(8);
  union bpf_attr attr;
  for (;;) {
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = static_cast<uint32_t>(cgroup_fd);
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = Ptr(ids.data());
    attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
    BpfResult r = Bpf(BPF_PROG_QUERY, &attr);
    if (r.value == 0) {
      break;
    }
    if (r.err != ENOSPC) {
      throw SysError("list the device programs of a cgroup", r.err);
    }
    ids.resize(attr.query.prog_cnt + 8);  // more were attached meanwhile: ask again
  }
  std::vector<AttachedProgram> out;
  for (uint32_t i = 0; i < attr.query.prog_cnt && i < ids.size(); ++i) {
    AttachedProgram p{ids[i], ""};
    union bpf_attr get;
    memset(&get, 0, sizeof(get));
    get.prog_id = ids[i];
    BpfResult fd = Bpf(BPF_PROG_GET_FD_BY_ID, &get);
    if (fd.value >= 0) {
      UniqueFd prog(static_cast<int>(fd.value));
      bpf_prog_info info;
      memset(&info, 0, sizeof(info));
      memset(&get, 0, sizeof(get));
      get.info.bpf_fd = static_cast<uint32_t>(prog.get());
      get.info.info_len = sizeof(info);
      get.info.info = Ptr(&info);
      if (Bpf(BPF_OBJ_GET_INFO_BY_FD, &get).value == 0) {
        p.name.assign(info.name, strnlen(info.name, sizeof(info.name)));
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

void AttachDeviceFilter(int cgroup_fd, const std::vector<bpf_insn>& program,
                        const std::string& cgroup_dir) {
  UniqueFd prog;
  try {
    prog = LoadDeviceProgram(program);
  } catch (const Error& e) {
    throw e.WithContext("cgroup " + cgroup_dir);
  }
  // The programs Berth attached before (by name): the first is replaced in place, any other
  // detached once the new one is on.
  std::vector<UniqueFd> old;
  std::vector<AttachedProgram> attached;
  try {
    attached = AttachedDevicePrograms(cgroup_fd);
  } catch (const Error& e) {
    throw e.WithContext("cgroup " + cgroup_dir);
  }
  for (const auto& p : attached) {
    if (p.name != kDeviceProgramName) {
      continue;
    }
    union bpf_attr get;
    memset(&get, 0, sizeof(get));
    get.prog_id = p.id;
    BpfResult fd = Bpf(BPF_PROG_GET_FD_BY_ID, &get);
    if (fd.value >= 0) {
      old.emplace_back(static_cast<int>(fd.value));
    }
  }
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.target_fd = static_cast<uint32_t>(cgroup_fd);
  attr.attach_bpf_fd = static_cast<uint32_t>(prog.get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (!old.empty()) {
    attr.attach_flags |= BPF_F_REPLACE;
    attr.replace_bpf_fd = static_cast<uint32_t>(old.front().get());
  }
  if (BpfResult r = Bpf(BPF_PROG_ATTACH, &attr); r.value < 0) {
    throw SysError("attach the device program to cgroup " + cgroup_dir, r.err);
  }
  for (size_t i = 1; i < old.size(); ++i) {
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = static_cast<uint32_t>(cgroup_fd);
    attr.attach_bpf_fd = static_cast<uint32_t>(old[i].get());
    attr.attach_type = BPF_CGROUP_DEVICE;
    if (BpfResult r = Bpf(BPF_PROG_DETACH, &attr); r.value < 0 && r.err != ENOENT) {
      throw SysError("detach an old device program from cgroup " + cgroup_dir, r.err);
    }
  }
}

}  // namespace berth::runtime

#include "runtime/device_filter.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
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

long Bpf(int cmd, union bpf_attr* attr) { return syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

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
  // r2 = device type, r3 = requested access, r4 = major, r5 = minor; r0 = verdict.
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
    block.push_back(
        JumpImm(BPF_JNE, BPF_REG_2, e.type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, -1));
    if (e.major >= 0) {
      block.push_back(JumpImm(BPF_JNE, BPF_REG_4, static_cast<int32_t>(e.major), -1));
    }
    if (e.minor >= 0) {
      block.push_back(JumpImm(BPF_JNE, BPF_REG_5, static_cast<int32_t>(e.minor), -1));
    }
    if (!state.default_allow && e.access != 7) {
      // Allowing: every requested bit must be in the exception.
      block.push_back(MovReg(BPF_REG_6, BPF_REG_3));
      block.push_back(AluImm(BPF_AND, BPF_REG_6, static_cast<int32_t>(~e.access & 7)));
      block.push_back(JumpImm(BPF_JNE, BPF_REG_6, 0, -1));
    } else if (state.default_allow && e.access != 7) {
      // Denying: any requested bit in the exception.
      block.push_back(MovReg(BPF_REG_6, BPF_REG_3));
      block.push_back(AluImm(BPF_AND, BPF_REG_6, static_cast<int32_t>(e.access)));
      block.push_back(JumpImm(BPF_JEQ, BPF_REG_6, 0, -1));
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

void AttachDeviceFilter(int cgroup_fd, const std::vector<bpf_insn>& program,
                        const std::string& cgroup_dir) {
  static char log[16384];
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = reinterpret_cast<uint64_t>(program.data());
  attr.insn_cnt = static_cast<uint32_t>(program.size());
  attr.license = reinterpret_cast<uint64_t>("GPL");
  attr.log_buf = reinterpret_cast<uint64_t>(log);
  attr.log_size = sizeof(log);
  attr.log_level = 1;
  log[0] = '\0';
  UniqueFd prog(static_cast<int>(Bpf(BPF_PROG_LOAD, &attr)));
  if (!prog) {
    int err = errno;
    std::string text = "load the device filter for " + cgroup_dir;
    if (log[0] != '\0') {
      text += " (verifier: " + std::string(log, strnlen(log, 400)) + ")";
    }
    throw SysError(text, err);
  }

  // The program Berth attached before (a cgroup of Berth's has no other), to replace.
  uint32_t ids[8] = {0};
  memset(&attr, 0, sizeof(attr));
  attr.query.target_fd = static_cast<uint32_t>(cgroup_fd);
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = reinterpret_cast<uint64_t>(ids);
  attr.query.prog_cnt = 8;
  UniqueFd old;
  if (Bpf(BPF_PROG_QUERY, &attr) == 0 && attr.query.prog_cnt > 0) {
    union bpf_attr get;
    memset(&get, 0, sizeof(get));
    get.prog_id = ids[0];
    old.Reset(static_cast<int>(Bpf(BPF_PROG_GET_FD_BY_ID, &get)));
  }

  memset(&attr, 0, sizeof(attr));
  attr.target_fd = static_cast<uint32_t>(cgroup_fd);
  attr.attach_bpf_fd = static_cast<uint32_t>(prog.get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (old) {
    attr.attach_flags |= BPF_F_REPLACE;
    attr.replace_bpf_fd = static_cast<uint32_t>(old.get());
  }
  if (Bpf(BPF_PROG_ATTACH, &attr) < 0) {
    ThrowErrno("attach the device filter to " + cgroup_dir);
  }
}

}  // namespace berth::runtime

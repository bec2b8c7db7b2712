#include "runtime/device_filter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <random>

#include "base/error.h"

namespace berth::runtime {
namespace {

using nlohmann::json;

// Runs a device program on one access (a kernel-free check of CompileDeviceFilter's encoding
// and jump offsets), for the instructions it may emit and with a few of the verifier's rules:
// a register is read only after it is written, the context only through r1 while r1 still
// points at it (u32 loads at the offsets of access_type, major and minor), every jump goes
// forward and lands inside the program, r0 is set at exit, and the program ends in an exit.
int RunProgram(const std::vector<bpf_insn>& prog, char type, uint32_t major, uint32_t minor,
               uint32_t access) {
  uint64_t reg[11] = {0};
  bool set[11] = {false};
  set[BPF_REG_1] = true;
  bool r1_is_ctx = true;
  const uint32_t ctx[3] = {
      (access << 16) | (type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK), major, minor};
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const bpf_insn& i = prog[pc];
    const uint64_t imm = static_cast<uint64_t>(static_cast<int64_t>(i.imm));  // sign-extended
    auto fail = [&](const std::string& what) {
      ADD_FAILURE() << what << " at " << pc << " (opcode 0x" << std::hex << int(i.code) << ")";
      return -1;
    };
    if (i.dst_reg > BPF_REG_10 || i.src_reg > BPF_REG_10) {
      return fail("bad register");
    }
    auto write = [&](uint64_t v) {
      reg[i.dst_reg] = v;
      set[i.dst_reg] = true;
      if (i.dst_reg == BPF_REG_1) {
        r1_is_ctx = false;
      }
    };
    auto jump = [&](bool taken) {
      if (i.off < 0 || pc + 1 + static_cast<size_t>(i.off) >= prog.size()) {
        return false;
      }
      if (taken) {
        pc += static_cast<size_t>(i.off);
      }
      return true;
    };
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W:
        if (i.src_reg != BPF_REG_1 || !r1_is_ctx || i.off < 0 || i.off > 8 || i.off % 4 != 0) {
          return fail("load outside the context");
        }
        write(ctx[i.off / 4]);
        break;
      case BPF_ALU64 | BPF_MOV | BPF_X:
        if (!set[i.src_reg]) {
          return fail("read of an unset register");
        }
        write(reg[i.src_reg]);
        break;
      case BPF_ALU64 | BPF_MOV | BPF_K:
        write(imm);
        break;
      case BPF_ALU64 | BPF_AND | BPF_K:
      case BPF_ALU64 | BPF_XOR | BPF_K:
      case BPF_ALU64 | BPF_RSH | BPF_K:
        if (!set[i.dst_reg] || (i.dst_reg == BPF_REG_1 && r1_is_ctx)) {
          return fail("arithmetic on an unset register or the context pointer");
        }
        if (BPF_OP(i.code) == BPF_AND) {
          write(reg[i.dst_reg] & imm);
        } else if (BPF_OP(i.code) == BPF_XOR) {
          write(reg[i.dst_reg] ^ imm);
        } else if (i.imm < 0 || i.imm > 63) {
          return fail("bad shift");
        } else {
          write(reg[i.dst_reg] >> i.imm);
        }
        break;
      case BPF_JMP | BPF_JNE | BPF_K:
      case BPF_JMP | BPF_JEQ | BPF_K: {
        if (!set[i.dst_reg]) {
          return fail("compare of an unset register");
        }
        bool equal = reg[i.dst_reg] == imm;
        if (!jump(BPF_OP(i.code) == BPF_JEQ ? equal : !equal)) {
          return fail("jump backwards or out of the program");
        }
        break;
      }
      case BPF_JMP | BPF_JA:
        if (!jump(true)) {
          return fail("jump backwards or out of the program");
        }
        break;
      case BPF_JMP | BPF_EXIT:
        if (!set[BPF_REG_0]) {
          return fail("exit without a verdict in r0");
        }
        return static_cast<int>(reg[BPF_REG_0]);
      default:
        return fail("unexpected instruction");
    }
  }
  ADD_FAILURE() << "ran off the end of the program";
  return -1;
}

// The reference: the v1 devices cgroup's algorithm (security/device_cgroup.c) replayed
// literally over the rule list for one question, independent of EmulateV1Devices. A new
// cgroup below the root starts allowing everything with no exceptions; "a" resets; a b/c rule
// against the default adds an exception or merges its bits into the one with the same type and
// numbers; a rule agreeing with the default takes its bits from every exception with the same
// type and numbers. Then: default deny needs one exception granting every requested bit; default
// allow refuses when any exception shares a requested bit.
bool ReferenceAllowed(const std::vector<DeviceRule>& rules, char type, uint32_t major,
                      uint32_t minor, uint32_t access) {
  struct Exception {
    char type;
    int64_t major, minor;
    uint32_t access;
  };
  bool allow_all = true;
  std::list<Exception> exceptions;
  for (const DeviceRule& r : rules) {
    if (r.type == 'a') {
      allow_all = r.allow;
      exceptions.clear();
      continue;
    }
    auto same = [&](const Exception& e) {
      return e.type == r.type && e.major == r.major && e.minor == r.minor;
    };
    if (r.allow != allow_all) {  // dev_exception_add
      auto it = std::find_if(exceptions.begin(), exceptions.end(), same);
      if (it != exceptions.end()) {
        it->access |= r.access;
      } else {
        exceptions.push_back({r.type, r.major, r.minor, r.access});
      }
    } else {  // dev_exception_rm
      for (auto it = exceptions.begin(); it != exceptions.end();) {
        if (same(*it)) {
          it->access &= ~r.access;
        }
        it = it->access == 0 ? exceptions.erase(it) : std::next(it);
      }
    }
  }
  for (const Exception& e : exceptions) {
    bool covers = e.type == type && (e.major == -1 || e.major == major) &&
                  (e.minor == -1 || e.minor == minor);
    if (covers && allow_all && (access & e.access) != 0) {
      return false;
    }
    if (covers && !allow_all && (access & ~e.access) == 0) {
      return true;
    }
  }
  return allow_all;
}

std::vector<DeviceRule> Rules(const json& list) {
  return EffectiveDeviceRules(list, "linux.resources.devices");
}

TEST(DeviceFilterTest, V1ModelOfTheDefaultSpec) {
  // The default spec's deny-all: only the standard nodes, and mknod of any char/block node.
  DeviceState s = EmulateV1Devices(Rules(json::parse(R"([{"allow": false, "access": "rwm"}])")));
  EXPECT_FALSE(s.default_allow);
  EXPECT_TRUE(DeviceAllowed(s, 'c', 1, 3, kDevRead | kDevWrite));    // /dev/null
  EXPECT_TRUE(DeviceAllowed(s, 'c', 136, 7, kDevRead | kDevWrite));  // a pts
  EXPECT_FALSE(DeviceAllowed(s, 'c', 1, 1, kDevRead));               // /dev/mem
  EXPECT_FALSE(DeviceAllowed(s, 'b', 8, 0, kDevRead));               // a disk
  EXPECT_TRUE(DeviceAllowed(s, 'b', 8, 0, kDevMknod));               // the node, not its use
  EXPECT_FALSE(DeviceAllowed(s, 'c', 1, 11, kDevRead | kDevMknod));  // kmsg
}

TEST(DeviceFilterTest, V1ExceptionsMergeAndShrinkForExactNumbersOnly) {
  DeviceState s = EmulateV1Devices(Rules(json::parse(R"([
      {"allow": false, "access": "rwm"},
      {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "r"},
      {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "w"},
      {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"}])")));
  // r and w merged into one exception: rw is allowed, as the kernel does.
  EXPECT_TRUE(DeviceAllowed(s, 'c', 10, 229, kDevRead | kDevWrite));
  EXPECT_FALSE(DeviceAllowed(s, 'c', 10, 229, kDevMknod | kDevRead));
  // The deny of 1:3 removes its exception, not the "c *:* m" one.
  EXPECT_FALSE(DeviceAllowed(s, 'c', 1, 3, kDevRead));
  EXPECT_TRUE(DeviceAllowed(s, 'c', 1, 3, kDevMknod));
  // An allow-all resets to "everything" and a later deny is an exception.
  s = EmulateV1Devices(Rules(json::parse(R"([
      {"allow": true, "access": "rwm"},
      {"allow": false, "type": "b", "major": 8, "access": "w"}])")));
  EXPECT_TRUE(s.default_allow);
  EXPECT_TRUE(DeviceAllowed(s, 'b', 8, 1, kDevRead));
  EXPECT_FALSE(DeviceAllowed(s, 'b', 8, 1, kDevRead | kDevWrite));
  EXPECT_TRUE(DeviceAllowed(s, 'c', 8, 1, kDevWrite));
}

TEST(DeviceFilterTest, BadRulesNameTheField) {
  try {
    Rules(json::parse(R"([{"allow": true, "type": "x"}])"));
    FAIL() << "accepted type x";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "linux.resources.devices[0].type: must be a, b or c, got \"x\"");
  }
  EXPECT_THROW(Rules(json::parse(R"([{"type": "c"}])")), Error);
  EXPECT_THROW(Rules(json::parse(R"([{"allow": true, "access": "rx"}])")), Error);
  EXPECT_THROW(Rules(json::parse(R"([{"allow": true, "type": "c", "major": "1"}])")), Error);
  EXPECT_THROW(Rules(json::parse(R"({"allow": true})")), Error);
}

TEST(DeviceFilterTest, ProgramModelAndReferenceAgreeOnRandomRules) {
  std::mt19937 rng(20261128);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const char* accesses[] = {"r", "w", "m", "rw", "rm", "wm", "rwm"};
  // Few distinct numbers, so rules often meet; the largest ones check the immediates' encoding.
  const uint32_t numbers[] = {0, 1, 3, 0xfff, 0xfffff};
  for (int round = 0; round < 400; ++round) {
    json list = json::array();
    int n = pick(10);
    for (int i = 0; i < n; ++i) {
      json r = {{"allow", pick(2) == 0}, {"access", accesses[pick(7)]}};
      int t = pick(6);
      r["type"] = t == 0 ? "a" : t < 4 ? "c" : "b";
      if (pick(3) != 0) r["major"] = numbers[pick(5)];
      if (pick(3) != 0) r["minor"] = numbers[pick(5)];
      if (t == 5) r.erase("type");  // absent: "a"
      list.push_back(r);
    }
    std::vector<DeviceRule> rules = Rules(list);
    DeviceState state = EmulateV1Devices(rules);
    std::vector<bpf_insn> prog = CompileDeviceFilter(state);
    for (char type : {'b', 'c'}) {
      for (uint32_t major : {0u, 1u, 3u, 4u, 0xfffu, 0xfffffu, 0xffffffffu}) {
        for (uint32_t minor : {0u, 1u, 3u, 5u, 0xfffffu}) {
          for (uint32_t access = 1; access <= 7; ++access) {
            bool want = ReferenceAllowed(rules, type, major, minor, access);
            ASSERT_EQ(DeviceAllowed(state, type, major, minor, access), want)
                << "model: " << list.dump() << " " << type << " " << major << ":" << minor
                << " access " << access;
            ASSERT_EQ(RunProgram(prog, type, major, minor, access), want ? 1 : 0)
                << "program: " << list.dump() << " " << type << " " << major << ":" << minor
                << " access " << access;
          }
        }
      }
    }
  }
}

// Hand-checked verdicts of the compiled program for the rule lists containers actually use.
TEST(DeviceFilterTest, ProgramVerdictsForTypicalRules) {
  struct Case {
    const char* rules;
    char type;
    uint32_t major, minor, access;
    bool allowed;
  };
  const uint32_t r = kDevRead, w = kDevWrite, m = kDevMknod;
  const char* deny_all = R"([{"allow": false, "access": "rwm"}])";
  const char* fuse_r = R"([{"allow": false, "access": "rwm"},
      {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "r"}])";
  const char* no_null = R"([{"allow": false, "access": "rwm"},
      {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"}])";
  const char* privileged = R"([{"allow": true, "access": "rwm"}])";
  const char* no_disk_writes = R"([{"allow": true, "access": "rwm"},
      {"allow": false, "type": "b", "major": 8, "access": "w"}])";
  const Case cases[] = {
      // The default spec: the standard nodes and mknod of anything, nothing else.
      {deny_all, 'c', 1, 3, r | w, true},     // /dev/null
      {deny_all, 'c', 1, 5, r, true},         // /dev/zero
      {deny_all, 'c', 1, 9, r, true},         // /dev/urandom
      {deny_all, 'c', 5, 2, r | w, true},     // /dev/ptmx
      {deny_all, 'c', 136, 42, r | w, true},  // a pts
      {deny_all, 'c', 137, 0, r, false},      // beyond the pts range
      {deny_all, 'c', 1, 1, r, false},        // /dev/mem
      {deny_all, 'c', 10, 229, r, false},     // /dev/fuse
      {deny_all, 'b', 8, 0, r, false},        // a disk
      {deny_all, 'b', 8, 0, m, true},         // its node may be made, not used
      {deny_all, 'c', 1, 1, r | m, false},    // mknod alone is not read
      // An allow of "r" does not grant "rw" (one exception must cover the whole request).
      {fuse_r, 'c', 10, 229, r, true},
      {fuse_r, 'c', 10, 229, r | w, false},
      {fuse_r, 'c', 10, 229, w, false},
      {fuse_r, 'b', 10, 229, r, false},  // the type matters
      // A deny of a standard node after the deny-all takes it away (not its mknod: that is
      // "c *:* m", a different exception).
      {no_null, 'c', 1, 3, r, false},
      {no_null, 'c', 1, 3, m, true},
      {no_null, 'c', 1, 5, r, true},
      // Allow-all, and allow-all with an exception.
      {privileged, 'b', 8, 0, r | w | m, true},
      {privileged, 'c', 1, 1, r, true},
      {no_disk_writes, 'b', 8, 1, r, true},
      {no_disk_writes, 'b', 8, 1, r | w, false},  // any denied bit refuses the request
      {no_disk_writes, 'c', 8, 1, w, true},
  };
  for (const Case& c : cases) {
    std::vector<bpf_insn> prog = CompileDeviceFilter(EmulateV1Devices(Rules(json::parse(c.rules))));
    EXPECT_EQ(RunProgram(prog, c.type, c.major, c.minor, c.access), c.allowed ? 1 : 0)
        << c.rules << " " << c.type << " " << c.major << ":" << c.minor << " access " << c.access;
  }
}

TEST(DeviceFilterTest, NoRuleAtAllIsNotAList) {
  // An absent linux.resources.devices attaches nothing (the cgroup keeps its parent's
  // behaviour, allow-all under the root, as a v1 cgroup does); an empty list is "the standard
  // nodes only", like the default spec's deny-all.
  DeviceState empty = EmulateV1Devices(Rules(json::array()));
  EXPECT_FALSE(empty.default_allow);
  EXPECT_TRUE(DeviceAllowed(empty, 'c', 1, 3, kDevRead));
  EXPECT_FALSE(DeviceAllowed(empty, 'c', 1, 1, kDevRead));
  EXPECT_TRUE(EmulateV1Devices({}).default_allow);
  EXPECT_EQ(RunProgram(CompileDeviceFilter(EmulateV1Devices({})), 'b', 8, 0, kDevWrite), 1);
}

TEST(DeviceFilterTest, V1LinesRoundTrip) {
  EXPECT_EQ((DeviceRule{true, 'c', 1, 3, 7}).V1Line(), "c 1:3 rwm");
  EXPECT_EQ((DeviceRule{false, 'b', 8, -1, kDevWrite}).V1Line(), "b 8:* w");
  EXPECT_EQ((DeviceRule{false, 'a', -1, -1, 7}).V1Line(), "a *:* rwm");
}

}  // namespace
}  // namespace berth::runtime

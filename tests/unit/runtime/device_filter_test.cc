#include "runtime/device_filter.h"

#include <gtest/gtest.h>

#include <random>

#include "base/error.h"

namespace berth::runtime {
namespace {

using nlohmann::json;

// Runs a device program on one access, for the few instructions CompileDeviceFilter emits
// (so a wrong encoding or jump offset shows up here, not only in the kernel).
int RunProgram(const std::vector<bpf_insn>& prog, char type, uint32_t major, uint32_t minor,
               uint32_t access) {
  uint64_t reg[11] = {0};
  uint32_t ctx[3] = {(access << 16) | (type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK),
                     major, minor};
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const bpf_insn& i = prog[pc];
    uint64_t imm = static_cast<uint64_t>(static_cast<int64_t>(i.imm));
    switch (i.code) {
      case BPF_LDX | BPF_MEM | BPF_W:
        EXPECT_EQ(i.src_reg, BPF_REG_1);
        reg[i.dst_reg] = ctx[i.off / 4];
        break;
      case BPF_ALU64 | BPF_MOV | BPF_X:
        reg[i.dst_reg] = reg[i.src_reg];
        break;
      case BPF_ALU64 | BPF_MOV | BPF_K:
        reg[i.dst_reg] = imm;
        break;
      case BPF_ALU64 | BPF_AND | BPF_K:
        reg[i.dst_reg] &= imm;
        break;
      case BPF_ALU64 | BPF_RSH | BPF_K:
        reg[i.dst_reg] >>= i.imm;
        break;
      case BPF_JMP | BPF_JNE | BPF_K:
        if (reg[i.dst_reg] != imm) pc += static_cast<size_t>(i.off);
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        if (reg[i.dst_reg] == imm) pc += static_cast<size_t>(i.off);
        break;
      case BPF_JMP | BPF_EXIT:
        return static_cast<int>(reg[BPF_REG_0]);
      default:
        ADD_FAILURE() << "unexpected opcode " << int(i.code) << " at " << pc;
        return -1;
    }
  }
  ADD_FAILURE() << "ran off the end of the program";
  return -1;
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

TEST(DeviceFilterTest, ProgramDecidesLikeTheV1ModelOnRandomRules) {
  std::mt19937 rng(20261128);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const char* accesses[] = {"r", "w", "m", "rw", "rm", "wm", "rwm"};
  for (int round = 0; round < 300; ++round) {
    json list = json::array();
    int n = pick(8);
    for (int i = 0; i < n; ++i) {
      json r = {{"allow", pick(2) == 0}, {"access", accesses[pick(7)]}};
      int t = pick(5);
      r["type"] = t == 0 ? "a" : t < 3 ? "c" : "b";
      if (pick(3) != 0) r["major"] = pick(4);
      if (pick(3) != 0) r["minor"] = pick(4);
      list.push_back(r);
    }
    DeviceState state = EmulateV1Devices(Rules(list));
    std::vector<bpf_insn> prog = CompileDeviceFilter(state);
    for (char type : {'b', 'c'}) {
      for (uint32_t major = 0; major < 5; ++major) {
        for (uint32_t minor = 0; minor < 5; ++minor) {
          for (uint32_t access = 1; access <= 7; ++access) {
            ASSERT_EQ(RunProgram(prog, type, major, minor, access),
                      DeviceAllowed(state, type, major, minor, access) ? 1 : 0)
                << list.dump() << " " << type << " " << major << ":" << minor << " " << access;
          }
        }
      }
    }
  }
}

TEST(DeviceFilterTest, V1LinesRoundTrip) {
  EXPECT_EQ((DeviceRule{true, 'c', 1, 3, 7}).V1Line(), "c 1:3 rwm");
  EXPECT_EQ((DeviceRule{false, 'b', 8, -1, kDevWrite}).V1Line(), "b 8:* w");
  EXPECT_EQ((DeviceRule{false, 'a', -1, -1, 7}).V1Line(), "a *:* rwm");
}

}  // namespace
}  // namespace berth::runtime

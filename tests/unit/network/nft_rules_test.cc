#include "network/nft_rules.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace berth::network {
namespace {

bool Has(const std::string& script, const std::string& line) {
  return script.find(line) != std::string::npos;
}

NftState TwoBridges() {
  NftState s;
  s.bridges.push_back({"berth0", {*IpPrefix::Parse("172.17.0.0/16")}, false, true, true});
  s.bridges.push_back({"br-1234",
                       {*IpPrefix::Parse("172.18.0.0/16"), *IpPrefix::Parse("fd00:18::/64")},
                       false,
                       true,
                       true});
  return s;
}

TEST(NftRules, RecreatesOnlyItsOwnTablesInOneScript) {
  std::string s = RenderRuleset(TwoBridges());
  // Delete-then-create in the same script: one transaction, and it works whether or not
  // the tables exist (the reconciliation at daemon start).
  EXPECT_EQ(s.rfind("add table inet berth\ndelete table inet berth\n", 0), 0u);
  EXPECT_TRUE(Has(s, "add table bridge berth\ndelete table bridge berth\n"));
  EXPECT_TRUE(Has(s, "table inet berth {\n"));
  EXPECT_FALSE(Has(s, "table ip "));
  EXPECT_FALSE(Has(s, "table bridge berth {"));  // no bridge hook without icc=false
}

TEST(NftRules, MasqueradeForEachSubnet) {
  std::string s = RenderRuleset(TwoBridges());
  EXPECT_TRUE(Has(s, "ip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade\n"));
  EXPECT_TRUE(Has(s, "ip saddr 172.18.0.0/16 oifname != \"br-1234\" masquerade\n"));
  // IPv6 leaves the host unNATed (Docker 20.10); only the hairpin is masqueraded.
  EXPECT_FALSE(Has(s, "ip6 saddr fd00:18::/64 oifname != \"br-1234\" masquerade"));
  EXPECT_TRUE(Has(s, "oifname \"br-1234\" ct status dnat ip6 saddr fd00:18::/64 masquerade\n"));
  EXPECT_TRUE(Has(s, "oifname \"berth0\" ct status dnat ip saddr 172.17.0.0/16 masquerade\n"));
  EXPECT_TRUE(Has(s, "oifname \"berth0\" ip saddr 127.0.0.0/8 masquerade\n"));
}

TEST(NftRules, IsolationBetweenBridges) {
  std::string s = RenderRuleset(TwoBridges());
  EXPECT_TRUE(Has(s, "iifname \"berth0\" oifname \"br-1234\" drop\n"));
  EXPECT_TRUE(Has(s, "iifname \"br-1234\" oifname \"berth0\" drop\n"));
  // Published ports and replies pass before isolation.
  EXPECT_LT(s.find("ct status dnat accept"), s.find("iifname \"berth0\" oifname \"br-1234\""));
  EXPECT_TRUE(Has(s, "iifname { \"berth0\", \"br-1234\" } ip daddr 127.0.0.0/8 drop\n"));
}

TEST(NftRules, InternalHasNoWayOut) {
  NftState st = TwoBridges();
  st.bridges[1].internal = true;
  std::string s = RenderRuleset(st);
  EXPECT_FALSE(Has(s, "oifname != \"br-1234\" masquerade"));
  EXPECT_TRUE(Has(s, "iifname \"br-1234\" oifname != \"br-1234\" drop\n"));
  EXPECT_TRUE(Has(s, "oifname \"br-1234\" iifname != \"br-1234\" drop\n"));
  // Before the established/dnat accepts: nothing gets past.
  EXPECT_LT(s.find("iifname \"br-1234\" oifname != \"br-1234\" drop"),
            s.find("ct state established,related accept"));
}

TEST(NftRules, NoIccDropsBridgedFrames) {
  NftState st = TwoBridges();
  st.bridges[0].icc = false;
  std::string s = RenderRuleset(st);
  EXPECT_FALSE(Has(s, "table bridge berth {\n"));  // no ports yet
  EXPECT_TRUE(Has(s, "iifname \"berth0\" oifname \"berth0\" drop\n"));
  st.bridges[0].ports = {"veth1", "veth2"};
  st.bridges[1].ports = {"veth3"};
  s = RenderRuleset(st);
  EXPECT_TRUE(Has(s, "table bridge berth {\n"));
  EXPECT_TRUE(Has(s, "iifname { \"veth1\", \"veth2\" } drop\n"));
  EXPECT_FALSE(Has(s, "veth3"));
}

TEST(NftRules, PublishedPorts) {
  NftState st = TwoBridges();
  st.published.push_back(
      {{Proto::kTcp, std::nullopt, 8080, 80}, *IpAddress::Parse("172.17.0.2"), "berth0"});
  st.published.push_back({{Proto::kUdp, IpAddress::Parse("127.0.0.1"), 5353, 53},
                          *IpAddress::Parse("172.17.0.2"),
                          "berth0"});
  st.published.push_back(
      {{Proto::kTcp, std::nullopt, 8443, 443}, *IpAddress::Parse("fd00:18::2"), "br-1234"});
  // A v6 host address for a v4 container: no rule.
  st.published.push_back({{Proto::kTcp, IpAddress::Parse("::1"), 9000, 90},
                          *IpAddress::Parse("172.17.0.3"),
                          "berth0"});
  st.published.push_back({{Proto::kTcp, IpAddress::Parse("::1"), 9001, 91},
                          *IpAddress::Parse("fd00:18::3"),
                          "br-1234"});
  st.published.push_back({{Proto::kTcp, IpAddress::Parse("fd00:18::1"), 9002, 92},
                          *IpAddress::Parse("fd00:18::3"),
                          "br-1234"});
  std::string s = RenderRuleset(st);
  EXPECT_FALSE(Has(s, "dport 9001"));
  EXPECT_TRUE(Has(s, "ip6 daddr fd00:18::1 tcp dport 9002 dnat ip6 to [fd00:18::3]:92\n"));
  EXPECT_TRUE(Has(s, "meta nfproto ipv4 tcp dport 8080 dnat ip to 172.17.0.2:80\n"));
  EXPECT_TRUE(Has(s, "ip daddr 127.0.0.1 udp dport 5353 dnat ip to 172.17.0.2:53\n"));
  // Every v6 address but ::1, whose replies the kernel would drop: berthd's socket takes it.
  EXPECT_TRUE(Has(s, "ip6 daddr != ::1 tcp dport 8443 dnat ip6 to [fd00:18::2]:443\n"));
  EXPECT_FALSE(Has(s, "dport 9000"));
  EXPECT_TRUE(Has(s, "fib daddr type local jump publish"));
  EXPECT_TRUE(Has(s, "type nat hook output priority -100"));
}

TEST(NftRules, RefusesNamesThatCouldInjectSyntax) {
  NftState st;
  st.bridges.push_back({"br\" accept;", {}, false, true, true});
  EXPECT_THROW(RenderRuleset(st), Error);
  st.bridges.clear();
  st.table = "berth; flush ruleset";
  EXPECT_THROW(RenderRuleset(st), Error);
  EXPECT_THROW(RenderDelete("Berth"), Error);
  EXPECT_EQ(RenderDelete("berth-test-1"),
            "add table inet berth-test-1\ndelete table inet berth-test-1\n"
            "add table bridge berth-test-1\ndelete table bridge berth-test-1\n");
}

}  // namespace
}  // namespace berth::network

#include "network/ipam.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace berth::network {
namespace {

IpAddress A(const char* s) { return *IpAddress::Parse(s); }
IpPrefix P(const char* s) { return *IpPrefix::Parse(s); }

TEST(IpAddress, ParsesAndPrints) {
  EXPECT_EQ(A("10.1.2.3").String(), "10.1.2.3");
  EXPECT_EQ(A("fd00:0::1").String(), "fd00::1");
  EXPECT_FALSE(IpAddress::Parse("10.1.2"));
  EXPECT_FALSE(IpAddress::Parse(""));
  EXPECT_FALSE(IpAddress::Parse("10.0.0.1/8"));
  EXPECT_TRUE(A("127.0.0.53").IsLoopback());
  EXPECT_TRUE(A("::1").IsLoopback());
  EXPECT_FALSE(A("::2").IsLoopback());
  EXPECT_LT(A("255.255.255.255"), A("::"));
}

TEST(IpAddress, Arithmetic) {
  EXPECT_EQ(A("10.0.0.255").Plus(1), A("10.0.1.0"));
  EXPECT_EQ(A("10.0.1.0").Plus(-1), A("10.0.0.255"));
  EXPECT_EQ(A("255.255.255.255").Plus(1), A("0.0.0.0"));
  EXPECT_EQ(A("fd00::ffff:ffff:ffff:ffff").Plus(1), A("fd00:0:0:1::"));
  EXPECT_EQ(A("fd00:0:0:1::").Plus(-1), A("fd00::ffff:ffff:ffff:ffff"));
  EXPECT_EQ(A("10.0.1.0").Minus(A("10.0.0.0")), 256);
  EXPECT_EQ(A("10.0.0.0").Minus(A("10.0.1.0")), -256);
  EXPECT_EQ(A("fd01::").Minus(A("fd00::")), INT64_MAX);
}

TEST(IpPrefix, ContainsAndOverlaps) {
  EXPECT_EQ(P("10.88.3.4/16").Network(), A("10.88.0.0"));
  EXPECT_EQ(P("10.88.0.0/16").LastAddress(), A("10.88.255.255"));
  EXPECT_EQ(P("10.88.0.0/20").Netmask(), "255.255.240.0");
  EXPECT_TRUE(P("10.88.0.0/16").Contains(A("10.88.200.1")));
  EXPECT_FALSE(P("10.88.0.0/16").Contains(A("10.89.0.1")));
  EXPECT_FALSE(P("10.88.0.0/16").Contains(A("fd00::1")));
  EXPECT_TRUE(P("10.0.0.0/8").Overlaps(P("10.88.0.0/16")));
  EXPECT_TRUE(P("10.88.0.0/16").Overlaps(P("10.0.0.0/8")));
  EXPECT_FALSE(P("10.88.0.0/16").Overlaps(P("10.89.0.0/16")));
  EXPECT_FALSE(IpPrefix::Parse("10.0.0.0/33"));
  EXPECT_FALSE(IpPrefix::Parse("10.0.0.0/"));
  EXPECT_FALSE(IpPrefix::Parse("10.0.0.0/8x"));
  EXPECT_EQ(P("10.0.0.1").length(), 32);
  EXPECT_EQ(P("fd00::/64").LastAddress(), A("fd00::ffff:ffff:ffff:ffff"));
}

TEST(AddressPool, DefaultsAndOrder) {
  AddressPool pool({P("172.30.0.0/16"), std::nullopt, std::nullopt});
  EXPECT_EQ(pool.gateway(), A("172.30.0.1"));
  EXPECT_EQ(pool.Allocate(), A("172.30.0.2"));
  EXPECT_EQ(pool.Allocate(), A("172.30.0.3"));
}

TEST(AddressPool, HostBitsInSubnetAreIgnored) {
  AddressPool pool({P("172.30.5.7/16"), std::nullopt, std::nullopt});
  EXPECT_EQ(pool.subnet().String(), "172.30.0.0/16");
}

TEST(AddressPool, ReleasedAddressIsNotReusedAtOnce) {
  AddressPool pool({P("10.0.0.0/24"), std::nullopt, std::nullopt});
  IpAddress a = pool.Allocate();
  IpAddress b = pool.Allocate();
  EXPECT_TRUE(pool.Release(a));
  EXPECT_FALSE(pool.Release(a));
  EXPECT_EQ(pool.Allocate(), b.Plus(1));
}

TEST(AddressPool, SmallSubnetExhaustsAndWraps) {
  AddressPool pool({P("10.0.0.0/29"), std::nullopt, std::nullopt});  // .1 gateway, .7 broadcast
  std::vector<IpAddress> got;
  for (int i = 0; i < 5; ++i) {
    got.push_back(pool.Allocate());
  }
  EXPECT_EQ(got.front(), A("10.0.0.2"));
  EXPECT_EQ(got.back(), A("10.0.0.6"));
  try {
    pool.Allocate();
    FAIL() << "a full pool must refuse";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kUnavailable);
  }
  pool.Release(A("10.0.0.3"));
  EXPECT_EQ(pool.Allocate(), A("10.0.0.3"));  // wraps past the end to the free one
}

TEST(AddressPool, GatewayAndRange) {
  AddressPool pool({P("10.5.0.0/16"), A("10.5.0.254"), P("10.5.1.0/24")});
  EXPECT_EQ(pool.gateway(), A("10.5.0.254"));
  EXPECT_EQ(pool.Allocate(), A("10.5.1.0"));  // v4: only the subnet's own edges are reserved
  pool.AllocateSpecific(A("10.5.0.9"));       // outside the range, inside the subnet: allowed
  EXPECT_THROW(pool.AllocateSpecific(A("10.5.0.9")), Error);
  try {
    pool.AllocateSpecific(A("10.6.0.9"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
  }
  try {
    pool.AllocateSpecific(A("10.5.0.254"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
  }
}

TEST(AddressPool, RefusesBadConfig) {
  EXPECT_THROW(AddressPool({P("10.0.0.0/24"), A("10.0.1.1"), std::nullopt}), Error);
  EXPECT_THROW(AddressPool({P("10.0.0.0/24"), A("10.0.0.0"), std::nullopt}), Error);
  EXPECT_THROW(AddressPool({P("10.0.0.0/24"), A("10.0.0.255"), std::nullopt}), Error);
  EXPECT_THROW(AddressPool({P("10.0.0.0/24"), std::nullopt, P("10.0.0.0/23")}), Error);
  EXPECT_THROW(AddressPool({P("10.0.0.0/31"), std::nullopt, std::nullopt}), Error);
}

TEST(AddressPool, Ipv6) {
  AddressPool pool({P("fd00:1::/64"), std::nullopt, std::nullopt});
  EXPECT_EQ(pool.gateway(), A("fd00:1::1"));
  EXPECT_EQ(pool.Allocate(), A("fd00:1::2"));
  pool.AllocateSpecific(A("fd00:1::3"));
  EXPECT_EQ(pool.Allocate(), A("fd00:1::4"));
}

TEST(AddressPool, JsonRoundTrip) {
  AddressPool pool({P("10.7.0.0/24"), std::nullopt, std::nullopt});
  pool.Allocate();
  pool.Allocate();
  pool.AllocateSpecific(A("10.7.0.100"));
  pool.Release(A("10.7.0.2"));
  nlohmann::json j = pool.ToJson();
  EXPECT_EQ(j["Subnet"], "10.7.0.0/24");
  EXPECT_EQ(j["Gateway"], "10.7.0.1");
  AddressPool back = AddressPool::FromJson(j);
  EXPECT_EQ(back.ToJson(), j);
  EXPECT_TRUE(back.IsAllocated(A("10.7.0.100")));
  EXPECT_EQ(back.Allocate(), A("10.7.0.4"));  // resumes after the last one handed out
}

TEST(PoolConfig, FromDockerJson) {
  auto c = PoolConfigFromJson({{"Subnet", "10.9.0.0/16"}, {"Gateway", ""}, {"IPRange", ""}});
  EXPECT_EQ(c.subnet, P("10.9.0.0/16"));
  EXPECT_FALSE(c.gateway);
  EXPECT_THROW(PoolConfigFromJson({{"Gateway", "10.9.0.1"}}), Error);
  EXPECT_THROW(PoolConfigFromJson({{"Subnet", "10.9.0.0/99"}}), Error);
}

TEST(Overlap, DetectsAcrossAndWithin) {
  EXPECT_NO_THROW(CheckNoOverlap({P("10.1.0.0/16")}, {P("10.2.0.0/16"), P("fd00::/64")}));
  try {
    CheckNoOverlap({P("10.1.0.0/16")}, {P("10.1.128.0/17")});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kConflict);
    EXPECT_NE(std::string(e.what()).find("10.1.0.0/16"), std::string::npos);
  }
  EXPECT_THROW(CheckNoOverlap({}, {P("10.1.0.0/16"), P("10.1.2.0/24")}), Error);
}

TEST(PickSubnet, SkipsTakenAndHostRoutes) {
  auto pools = DefaultSubnetPools();
  EXPECT_EQ(PickSubnet(pools, {}), P("172.17.0.0/16"));
  EXPECT_EQ(PickSubnet(pools, {P("0.0.0.0/0"), P("172.17.0.0/16"), P("172.18.5.0/24")}),
            P("172.19.0.0/16"));
  std::vector<IpPrefix> all = {P("172.16.0.0/12")};
  EXPECT_EQ(PickSubnet(pools, all), P("192.168.0.0/20"));
  all.push_back(P("192.168.0.0/16"));
  EXPECT_FALSE(PickSubnet(pools, all));
}

}  // namespace
}  // namespace berth::network

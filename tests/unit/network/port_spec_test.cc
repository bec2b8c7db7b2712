#include "network/port_spec.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace berth::network {
namespace {

PortBinding B(Proto proto, uint16_t cport, std::string ip, uint16_t first, uint16_t last) {
  return {proto, cport, std::move(ip), first, last};
}

TEST(ParsePortSpec, DockerForms) {
  EXPECT_EQ(ParsePortSpec("80"), std::vector{B(Proto::kTcp, 80, "", 0, 0)});
  EXPECT_EQ(ParsePortSpec("8080:80"), std::vector{B(Proto::kTcp, 80, "", 8080, 8080)});
  EXPECT_EQ(ParsePortSpec("127.0.0.1:8080:80/udp"),
            std::vector{B(Proto::kUdp, 80, "127.0.0.1", 8080, 8080)});
  EXPECT_EQ(ParsePortSpec("127.0.0.1::80"), std::vector{B(Proto::kTcp, 80, "127.0.0.1", 0, 0)});
  EXPECT_EQ(ParsePortSpec("[::1]:8080:80/SCTP"),
            std::vector{B(Proto::kSctp, 80, "::1", 8080, 8080)});
  EXPECT_EQ(ParsePortSpec("::1:8080:80"), std::vector{B(Proto::kTcp, 80, "::1", 8080, 8080)});
  EXPECT_EQ(ParsePortSpec("8000-8001:80-81"),
            (std::vector{B(Proto::kTcp, 80, "", 8000, 8000), B(Proto::kTcp, 81, "", 8001, 8001)}));
  // One container port, a host range: any free port of the range.
  EXPECT_EQ(ParsePortSpec("8000-8010:80"), std::vector{B(Proto::kTcp, 80, "", 8000, 8010)});
  EXPECT_EQ(ParsePortSpec("80-82").size(), 3u);
  EXPECT_EQ(ParsePortSpec("80-82")[2], B(Proto::kTcp, 82, "", 0, 0));
}

void ExpectInvalid(const char* spec, const char* message) {
  try {
    ParsePortSpec(spec);
    ADD_FAILURE() << spec << " parsed";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument) << spec;
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
  }
}

TEST(ParsePortSpec, BadInput) {
  ExpectInvalid("", "no port specified");
  ExpectInvalid("8080:", "no port specified");
  ExpectInvalid("8080:0", "invalid containerPort: 0");
  ExpectInvalid("8080:70000", "invalid containerPort");
  ExpectInvalid("x:80", "invalid hostPort: x");
  ExpectInvalid("80/icmp", "invalid proto: icmp");
  ExpectInvalid("1.2.3:80:80", "invalid IP address: 1.2.3");
  ExpectInvalid("8000-8002:80-81", "invalid ranges specified");
  ExpectInvalid("90-80", "invalid containerPort");
  ExpectInvalid("[::1:80:80", "invalid IP address");
}

TEST(PortKey, ParsesAndPrints) {
  EXPECT_EQ(PortKey(Proto::kUdp, 53), "53/udp");
  EXPECT_EQ(ParsePortKey("80"), std::pair(Proto::kTcp, uint16_t{80}));
  EXPECT_EQ(ParsePortKey("53/udp"), std::pair(Proto::kUdp, uint16_t{53}));
  EXPECT_THROW(ParsePortKey("0/tcp"), Error);
  EXPECT_THROW(ParsePortKey("80/xyz"), Error);
}

TEST(PublishAll, EveryExposedPortEphemeral) {
  auto b = PublishAll({"80/tcp", "53/udp", "8000-8001/tcp"});
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[1], B(Proto::kUdp, 53, "", 0, 0));
  EXPECT_EQ(b[3], B(Proto::kTcp, 8001, "", 0, 0));
}

TEST(PortBindingsJson, RoundTrip) {
  nlohmann::json j = {{"80/tcp", {{{"HostIp", ""}, {"HostPort", "8080"}}}},
                      {"53/udp", {{{"HostIp", "127.0.0.1"}, {"HostPort", ""}}}},
                      {"81/tcp", {{{"HostIp", ""}, {"HostPort", "9000-9010"}}}}};
  auto b = PortBindingsFromJson(j);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(PortBindingsToJson(b), j);
  EXPECT_TRUE(PortBindingsFromJson(nullptr).empty());
  EXPECT_THROW(PortBindingsFromJson({{"80/tcp", {{{"HostPort", "x"}}}}}), Error);
  EXPECT_THROW(PortBindingsFromJson({{"80/tcp", {{{"HostIp", "nope"}}}}}), Error);
}

TEST(PortAllocator, FixedPortsConflict) {
  PortAllocator ports(50000, 50010);
  auto p = ports.Allocate(ParsePortSpec("8080:80"));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].host_port, 8080);
  EXPECT_FALSE(p[0].host_ip);
  try {
    ports.Allocate(ParsePortSpec("127.0.0.1:8080:81"));
    FAIL() << "0.0.0.0:8080 covers 127.0.0.1:8080";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kConflict);
    EXPECT_NE(std::string(e.what()).find("port is already allocated"), std::string::npos);
  }
  // Another protocol, or another port: fine.
  EXPECT_NO_THROW(ports.Allocate(ParsePortSpec("8080:80/udp")));
  ports.Release(p);
  EXPECT_NO_THROW(ports.Allocate(ParsePortSpec("127.0.0.1:8080:81")));
  EXPECT_NO_THROW(ports.Allocate(ParsePortSpec("127.0.0.2:8080:81")));
  EXPECT_THROW(ports.Allocate(ParsePortSpec("8080:81")), Error);  // any address vs one
}

TEST(PortAllocator, EphemeralRoundRobinAndExhaustion) {
  PortAllocator ports(50000, 50002);
  auto a = ports.Allocate(PublishAll({"80", "81"}));
  EXPECT_EQ(a[0].host_port, 50000);
  EXPECT_EQ(a[1].host_port, 50001);
  ports.Release({a[0]});
  EXPECT_EQ(ports.Allocate(PublishAll({"82"}))[0].host_port, 50002);
  EXPECT_EQ(ports.Allocate(PublishAll({"83"}))[0].host_port, 50000);  // wrapped
  try {
    ports.Allocate(PublishAll({"84"}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kUnavailable);
  }
}

TEST(PortAllocator, AllOrNothing) {
  PortAllocator ports(50000, 50010);
  ports.Allocate(ParsePortSpec("9001:80"));
  EXPECT_THROW(ports.Allocate(ParsePortSpec("9000-9001:80-81")), Error);
  // 9000 was taken by the failed call and given back.
  EXPECT_EQ(ports.Allocate(ParsePortSpec("9000:80"))[0].host_port, 9000);
}

TEST(PortAllocator, HostRangePicksAFreePort) {
  PortAllocator ports;
  ports.Allocate(ParsePortSpec("7000:80"));
  EXPECT_EQ(ports.Allocate(ParsePortSpec("7000-7002:80"))[0].host_port, 7001);
}

TEST(PortAllocator, ReserveAfterRestart) {
  PortAllocator ports;
  PublishedPort p{Proto::kTcp, std::nullopt, 8080, 80};
  ports.Reserve({p});
  EXPECT_THROW(ports.Reserve({p}), Error);
  EXPECT_THROW(ports.Allocate(ParsePortSpec("8080:80")), Error);
}

TEST(PortsToJson, DockerShape) {
  std::vector<PublishedPort> pub = {{Proto::kTcp, std::nullopt, 8080, 80},
                                    {Proto::kTcp, IpAddress::Parse("127.0.0.1"), 8081, 80}};
  nlohmann::json j = PortsToJson(pub, {"80/tcp", "443/tcp"});
  EXPECT_EQ(j["443/tcp"], nullptr);
  ASSERT_EQ(j["80/tcp"].size(), 2u);
  EXPECT_EQ(j["80/tcp"][0]["HostIp"], "0.0.0.0");
  EXPECT_EQ(j["80/tcp"][1]["HostPort"], "8081");
}

}  // namespace
}  // namespace berth::network

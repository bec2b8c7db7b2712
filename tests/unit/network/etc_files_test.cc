#include "network/etc_files.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace berth::network {
namespace {

IpAddress A(const char* s) { return *IpAddress::Parse(s); }

TEST(EtcFiles, Hostname) { EXPECT_EQ(GenerateHostname("abc"), "abc\n"); }

TEST(EtcFiles, HostsLikeDocker) {
  HostsOptions o;
  o.hostname = "web";
  o.domainname = "example.com";
  o.addresses = {A("172.17.0.2"), A("fd00::2")};
  o.aliases = {"web", "db"};
  o.extra_hosts = {{"gw", A("172.17.0.1")}};
  EXPECT_EQ(GenerateHosts(o),
            "127.0.0.1\tlocalhost\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\n"
            "ff00::0\tip6-mcastprefix\n"
            "ff02::1\tip6-allnodes\n"
            "ff02::2\tip6-allrouters\n"
            "172.17.0.1\tgw\n"
            "172.17.0.2\tweb.example.com web db\n"
            "fd00::2\tweb.example.com web db\n");
  o.ipv6 = false;
  o.domainname.clear();
  o.aliases.clear();
  std::string h = GenerateHosts(o);
  EXPECT_EQ(h.find("::1"), std::string::npos);
  EXPECT_NE(h.find("172.17.0.2\tweb\n"), std::string::npos);
  EXPECT_EQ(h.find("fd00::2"), std::string::npos);
}

TEST(EtcFiles, ExtraHost) {
  auto h = ParseExtraHost("db:10.0.0.5", std::nullopt);
  EXPECT_EQ(h.name, "db");
  EXPECT_EQ(h.address, A("10.0.0.5"));
  EXPECT_EQ(ParseExtraHost("v6:fd00::5", std::nullopt).address, A("fd00::5"));
  EXPECT_EQ(ParseExtraHost("v6=[fd00::5]", std::nullopt).address, A("fd00::5"));
  EXPECT_EQ(ParseExtraHost("host.docker.internal:host-gateway", A("172.17.0.1")).address,
            A("172.17.0.1"));
  EXPECT_THROW(ParseExtraHost("x:host-gateway", std::nullopt), Error);
  EXPECT_THROW(ParseExtraHost("nocolon", std::nullopt), Error);
  EXPECT_THROW(ParseExtraHost(":1.2.3.4", std::nullopt), Error);
  EXPECT_THROW(ParseExtraHost("x:1.2.3", std::nullopt), Error);
}

const char* kHost =
    "# generated\n"
    "nameserver 127.0.0.53\n"
    "nameserver 10.0.0.2 # office\n"
    "nameserver fd00::53\n"
    "nameserver fe80::1%eth0\n"
    "nameserver bogus\n"
    "domain old.example\n"
    "search corp.example example.com\n"
    "options edns0 trust-ad\n";

TEST(ResolvConf, Parse) {
  ResolvConf rc = ParseResolvConf(kHost);
  ASSERT_EQ(rc.nameservers.size(), 4u);
  EXPECT_EQ(rc.nameservers[0], A("127.0.0.53"));
  EXPECT_EQ(rc.nameservers[3], A("fe80::1"));
  EXPECT_EQ(rc.search, (std::vector<std::string>{"corp.example", "example.com"}));
  EXPECT_EQ(rc.options, (std::vector<std::string>{"edns0", "trust-ad"}));
}

TEST(ResolvConf, HostResolversMinusLoopbackAndV6) {
  ResolvConf host = ParseResolvConf(kHost);
  EXPECT_EQ(GenerateResolvConf(host, {}),
            "nameserver 10.0.0.2\n"
            "search corp.example example.com\n"
            "options edns0 trust-ad\n");
  ResolvOptions v6;
  v6.ipv6 = true;
  EXPECT_NE(GenerateResolvConf(host, v6).find("nameserver fd00::53\n"), std::string::npos);
}

TEST(ResolvConf, FlagsReplaceTheHostsParts) {
  ResolvConf host = ParseResolvConf(kHost);
  ResolvOptions o;
  o.dns = {"1.1.1.1"};
  o.dns_search = {"."};
  o.dns_options = {"ndots:2"};
  EXPECT_EQ(GenerateResolvConf(host, o), "nameserver 1.1.1.1\noptions ndots:2\n");
  o.dns = {"not-an-ip"};
  EXPECT_THROW(GenerateResolvConf(host, o), Error);
}

TEST(ResolvConf, FallbackWhenOnlyLoopbackResolvers) {
  ResolvConf host = ParseResolvConf("nameserver 127.0.0.53\n");
  ResolvOptions o;
  o.fallback = {A("172.17.0.1")};
  EXPECT_EQ(GenerateResolvConf(host, o), "nameserver 172.17.0.1\n");
}

TEST(ResolvConf, EmbeddedDns) {
  ResolvConf host = ParseResolvConf(kHost);
  ResolvOptions o;
  o.embedded_dns = A("172.18.0.1");
  EXPECT_EQ(GenerateResolvConf(host, o),
            "nameserver 172.18.0.1\n"
            "search corp.example example.com\n"
            "options edns0 trust-ad ndots:0\n");
  // The embedded server forwards to every host resolver, loopback ones included (it runs in
  // the host's namespace), or to --dns.
  EXPECT_EQ(ForwardServers(host, o).size(), 4u);
  o.dns = {"9.9.9.9"};
  EXPECT_EQ(ForwardServers(host, o), std::vector{A("9.9.9.9")});
  o.dns_options = {"ndots:3"};
  EXPECT_EQ(GenerateResolvConf(host, o).find("ndots:0"), std::string::npos);
}

}  // namespace
}  // namespace berth::network

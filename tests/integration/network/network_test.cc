// The network library against the real kernel: links, namespaces, nftables and the DNS
// server. Each test makes its own uniquely named bridges, namespaces (held by fd, never
// named) and nftables tables, and its guards remove them also when it fails.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "base/error.h"
#include "base/file_util.h"
#include "net_fixture.h"
#include "network/bridge.h"
#include "network/dns_message.h"
#include "network/dns_server.h"
#include "network/netns.h"
#include "network/nft_rules.h"
#include "network/nftables.h"

namespace berth::network::testing {
namespace {

using namespace std::string_literals;

TEST(NetworkLinks, VethIntoNetnsWithAddressesAndRoute) {
  BERTH_NET_REQUIRE_ROOT();
  TestBridge bridge(/*v6=*/true);
  IpAddress addr = bridge.subnet.Network().Plus(2);
  IpAddress addr6 = bridge.subnet6->Network().Plus(2);
  TestNetns ns(bridge, addr, addr6);

  Netlink host;
  auto veth = host.GetLink(ns.host_veth.name());
  ASSERT_TRUE(veth);
  EXPECT_EQ(veth->master, bridge.index);
  EXPECT_TRUE(veth->up);
  EXPECT_EQ(veth->mtu, 1450);
  EXPECT_FALSE(host.GetLink("eth0") && host.GetLink("eth0")->master == bridge.index);

  Netlink inside = Netlink::InNetns(ns.fd.get());
  auto eth0 = inside.GetLink("eth0");
  ASSERT_TRUE(eth0);
  EXPECT_TRUE(eth0->up);
  EXPECT_EQ(eth0->mtu, 1450);
  auto addrs = inside.Addresses(eth0->index);
  EXPECT_NE(std::find(addrs.begin(), addrs.end(), IpPrefix(addr, 24)), addrs.end());
  EXPECT_NE(std::find(addrs.begin(), addrs.end(), IpPrefix(addr6, 64)), addrs.end());
  auto routes = inside.RouteDestinations(IpAddress::Family::kV4);
  EXPECT_NE(std::find(routes.begin(), routes.end(), *IpPrefix::Parse("0.0.0.0/0")), routes.end());

  // MTU and down/up on an existing link, and a link moved into the namespace by fd.
  Netlink::Batch(inside).SetMtu("eth0", 1400).SetUp("eth0", false).Commit();
  EXPECT_EQ(inside.GetLink("eth0")->mtu, 1400);
  EXPECT_FALSE(inside.GetLink("eth0")->up);
  LinkGuard extra(UniqueName('v'));
  std::string peer = UniqueName('p');
  LinkGuard extra_peer(peer);
  Netlink::Batch(host).CreateVeth(extra.name(), peer).Commit();
  Netlink::Batch(host).MoveToNetns(peer, ns.fd.get(), "eth1").Commit();
  EXPECT_FALSE(host.LinkIndex(peer));
  EXPECT_TRUE(inside.LinkIndex("eth1"));

  // Errors name the operation and the object.
  try {
    Netlink::Batch(inside).AddAddress(eth0->index, IpPrefix(addr, 24)).Commit();
    FAIL() << "a duplicate address must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("add address " + addr.String()), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(host.DeleteLinkIfExists(UniqueName('x')));
}

TEST(NetworkLinks, TwoNamespacesOnABridgeTalk) {
  BERTH_NET_REQUIRE_ROOT();
  TestBridge bridge;
  TestNetns a(bridge, bridge.subnet.Network().Plus(2));
  TestNetns b(bridge, bridge.subnet.Network().Plus(3));

  UniqueFd listener = ListenTcp(a.fd.get(), a.address, 8080);
  std::string peer;
  std::thread server([&] { AcceptEcho(listener.get(), 4, "pong", 5000, &peer); });
  auto got = ConnectSend(b.fd.get(), a.address, 8080, "ping", 5000);
  server.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "pong");
  EXPECT_EQ(peer, b.address.String());

  // And the host reaches a namespace through the bridge's gateway address.
  std::thread server2([&] { AcceptEcho(listener.get(), 2, "ok", 5000, &peer); });
  got = ConnectSend(-1, a.address, 8080, "hi", 5000);
  server2.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "ok");
  EXPECT_EQ(peer, bridge.gateway.String());

  // icc=false: the two namespaces no longer reach each other; the host still does.
  NftGuard guard(UniqueName('t'));
  Nftables nft;
  NftState state;
  state.table = guard.table();
  state.bridges.push_back({bridge.guard.name(),
                           {bridge.subnet},
                           false,
                           false,
                           true,
                           {a.host_veth.name(), b.host_veth.name()}});
  nft.Run(RenderRuleset(state));
  EXPECT_FALSE(ConnectSend(b.fd.get(), a.address, 8080, "ping", 1000));
  std::thread server3([&] { AcceptEcho(listener.get(), 2, "ok", 5000, &peer); });
  got = ConnectSend(-1, a.address, 8080, "hi", 5000);
  server3.join();
  EXPECT_TRUE(got);
}

TEST(NetworkBridge, EnsureBridgeAndAttachEndpoints) {
  BERTH_NET_REQUIRE_ROOT();
  LinkGuard bridge_guard(UniqueName('b'));
  IpPrefix subnet = UniqueSubnet();
  IpAddress gateway = subnet.Network().Plus(1);
  Netlink host;
  BridgeConfig bc{bridge_guard.name(), {IpPrefix(gateway, subnet.length())}, 1400};
  int index = EnsureBridge(host, bc);
  EXPECT_EQ(EnsureBridge(host, bc), index);  // idempotent: the daemon restarting
  auto addrs = host.Addresses(index);
  EXPECT_EQ(std::count_if(addrs.begin(), addrs.end(),
                          [](const IpPrefix& p) { return p.address().is_v4(); }),
            1);
  EXPECT_EQ(host.GetLink(bc.name)->mtu, 1400);

  UniqueFd ns1 = CreateNetns(), ns2 = CreateNetns();
  EndpointConfig ec;
  ec.bridge_index = index;
  ec.mtu = 1400;
  ec.gateway4 = gateway;
  ec.addresses = {IpPrefix(subnet.Network().Plus(2), subnet.length())};
  std::string veth1 = AttachEndpoint(host, ns1.get(), ec);
  LinkGuard veth1_guard(veth1);
  EXPECT_EQ(veth1.rfind("veth", 0), 0u);
  EXPECT_EQ(veth1.size(), 11u);
  ec.addresses = {IpPrefix(subnet.Network().Plus(3), subnet.length())};
  // Informational (benchmarks live in bench/): the second attach, past first-use costs.
  auto start = std::chrono::steady_clock::now();
  LinkGuard veth2_guard(AttachEndpoint(host, ns2.get(), ec));
  std::fprintf(
      stderr, "AttachEndpoint: %.0f us\n",
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());

  UniqueFd listener = ListenTcp(ns1.get(), subnet.Network().Plus(2), 7000);
  std::thread server([&] { AcceptEcho(listener.get(), 1, "b", 5000); });
  auto got = ConnectSend(ns2.get(), subnet.Network().Plus(2), 7000, "a", 5000);
  server.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "b");

  // A failure halfway (a gateway no route reaches) leaves no veth behind.
  UniqueFd ns3 = CreateNetns();
  ec.host_veth = UniqueName('v');
  LinkGuard veth3_guard(ec.host_veth);
  ec.gateway4 = *IpAddress::Parse("203.0.113.1");
  EXPECT_THROW(AttachEndpoint(host, ns3.get(), ec), Error);
  EXPECT_FALSE(host.LinkIndex(ec.host_veth));

  EXPECT_TRUE(DetachEndpoint(host, veth1));
  EXPECT_FALSE(DetachEndpoint(host, veth1));
}

NftState StateFor(const std::string& table, const std::vector<const TestBridge*>& bridges) {
  NftState s;
  s.table = table;
  for (const auto* b : bridges) {
    s.bridges.push_back({b->guard.name(), {b->subnet}, false, true, true});
  }
  return s;
}

TEST(NetworkNftables, RulesetInstalledReplacedAndRemoved) {
  BERTH_NET_REQUIRE_ROOT();
  TestBridge bridge;
  NftGuard guard(UniqueName('t'));
  Nftables nft;
  NftState state = StateFor(guard.table(), {&bridge});
  state.bridges[0].icc = false;
  state.bridges[0].ports = {"veth-test"};  // need not exist
  nft.Run(RenderRuleset(state));
  EXPECT_TRUE(nft.HasTable("inet", guard.table()));
  EXPECT_TRUE(nft.HasTable("bridge", guard.table()));
  std::string listed = nft.Output("list table inet " + guard.table());
  EXPECT_NE(listed.find("ip saddr " + bridge.subnet.String() + " oifname != \"" +
                        bridge.guard.name() + "\" masquerade"),
            std::string::npos)
      << listed;

  // Applying again is the reconciliation: the same state, not twice the rules.
  nft.Run(RenderRuleset(state));
  EXPECT_EQ(nft.Output("list table inet " + guard.table()), listed);

  // A changed state replaces the old one; the bridge table goes with icc back on.
  state.bridges[0].icc = true;
  state.published.push_back({{Proto::kTcp, std::nullopt, 18080, 80},
                             bridge.subnet.Network().Plus(2),
                             bridge.guard.name()});
  nft.Run(RenderRuleset(state));
  EXPECT_FALSE(nft.HasTable("bridge", guard.table()));
  EXPECT_NE(nft.Output("list table inet " + guard.table()).find("dport 18080"), std::string::npos);

  // A bad script changes nothing (one transaction).
  EXPECT_THROW(
      nft.Run(RenderRuleset(state) + "add rule inet " + guard.table() + " forward bogus\n"), Error);
  EXPECT_NE(nft.Output("list table inet " + guard.table()).find("dport 18080"), std::string::npos);

  nft.Run(RenderDelete(guard.table()));
  EXPECT_FALSE(nft.HasTable("inet", guard.table()));
  nft.Run(RenderDelete(guard.table()));  // removing what is not there is fine
}

TEST(NetworkNftables, PublishedPortFromHostLoopbackAndHairpin) {
  BERTH_NET_REQUIRE_ROOT();
  TestBridge bridge;
  TestNetns web(bridge, bridge.subnet.Network().Plus(2));
  TestNetns client(bridge, bridge.subnet.Network().Plus(3));
  NftGuard guard(UniqueName('t'));
  Nftables nft;
  uint16_t host_port = static_cast<uint16_t>(20000 + getpid() % 20000);
  IpAddress loopback = *IpAddress::Parse("127.0.0.1");

  UniqueFd listener = ListenTcp(web.fd.get(), web.address, 80);
  // Without the rules nothing listens on the host's port: the test can fail.
  EXPECT_FALSE(ConnectSend(-1, loopback, host_port, "x", 1000));

  NftState state = StateFor(guard.table(), {&bridge});
  state.published.push_back(
      {{Proto::kTcp, loopback, host_port, 80}, web.address, bridge.guard.name()});
  state.published.push_back(
      {{Proto::kTcp, bridge.gateway, host_port, 80}, web.address, bridge.guard.name()});
  nft.Run(RenderRuleset(state));

  std::string peer;
  std::thread server([&] { AcceptEcho(listener.get(), 3, "web", 5000, &peer); });
  auto got = ConnectSend(-1, loopback, host_port, "GET", 5000);
  server.join();
  ASSERT_TRUE(got) << "127.0.0.1:" << host_port << " was not forwarded";
  EXPECT_EQ(*got, "web");
  EXPECT_EQ(peer, bridge.gateway.String());  // masqueraded: the container can answer it

  // Hairpin: a container on the same bridge through the published address.
  std::thread server2([&] { AcceptEcho(listener.get(), 3, "web", 5000, &peer); });
  got = ConnectSend(client.fd.get(), bridge.gateway, host_port, "GET", 5000);
  server2.join();
  ASSERT_TRUE(got) << "hairpin to " << bridge.gateway.String() << ":" << host_port;
  EXPECT_EQ(*got, "web");
  EXPECT_EQ(peer, bridge.gateway.String());

  // Containers cannot use route_localnet to reach the host's loopback.
  UniqueFd host_listener = ListenTcp(-1, loopback, static_cast<uint16_t>(host_port + 1));
  EXPECT_FALSE(ConnectSend(client.fd.get(), loopback, host_port + 1, "x", 500));

  nft.Run(RenderDelete(guard.table()));
  EXPECT_FALSE(ConnectSend(-1, loopback, host_port, "GET", 1000));
}

TEST(NetworkNftables, BridgesAreIsolatedAndInternalHasNoWayOut) {
  BERTH_NET_REQUIRE_ROOT();
  std::string forward = berth::ReadFile("/proc/sys/net/ipv4/ip_forward");
  if (forward.rfind("1", 0) != 0) {
    GTEST_SKIP() << "needs net.ipv4.ip_forward=1 (routing between bridges)";
  }
  TestBridge one, two;
  TestNetns a(one, one.subnet.Network().Plus(2));
  TestNetns b(two, two.subnet.Network().Plus(2));
  UniqueFd listener = ListenTcp(b.fd.get(), b.address, 80);

  // Routed between the two bridges before any rule: the test can fail.
  std::thread server([&] { AcceptEcho(listener.get(), 1, "y", 5000); });
  auto got = ConnectSend(a.fd.get(), b.address, 80, "x", 5000);
  server.join();
  ASSERT_TRUE(got) << "no route between the test bridges; cannot test isolation";

  NftGuard guard(UniqueName('t'));
  Nftables nft;
  nft.Run(RenderRuleset(StateFor(guard.table(), {&one, &two})));
  EXPECT_FALSE(ConnectSend(a.fd.get(), b.address, 80, "x", 1000));

  // An internal bridge reaches nothing beyond itself, not even a bridge without rules of its
  // own (here: `two` is left out of the state).
  NftState internal = StateFor(guard.table(), {&one});
  internal.bridges[0].internal = true;
  nft.Run(RenderRuleset(internal));
  EXPECT_FALSE(ConnectSend(a.fd.get(), b.address, 80, "x", 1000));
  // ... while the same state without `internal` lets it through.
  internal.bridges[0].internal = false;
  nft.Run(RenderRuleset(internal));
  std::thread server2([&] { AcceptEcho(listener.get(), 1, "y", 5000); });
  got = ConnectSend(a.fd.get(), b.address, 80, "x", 5000);
  server2.join();
  EXPECT_TRUE(got);
}

std::string Query(const std::string& name, uint16_t type, uint16_t id) {
  dns::Message m;
  m.id = id;
  m.rd = true;
  m.questions.push_back({name, type, dns::kIn});
  return dns::Encode(m);
}

TEST(NetworkDns, ServerAnswersPeersAndForwardsTheRest) {
  BERTH_NET_REQUIRE_ROOT();
  TestBridge bridge;
  TestNetns a(bridge, bridge.subnet.Network().Plus(2));
  IpAddress peer_addr = bridge.subnet.Network().Plus(3);

  // A fake upstream resolver on the host's loopback.
  IpAddress loopback = *IpAddress::Parse("127.0.0.1");
  UniqueFd upstream(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(upstream.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  socklen_t sin_len = sizeof sin;
  getsockname(upstream.get(), reinterpret_cast<sockaddr*>(&sin), &sin_len);
  std::thread fake([&] {
    pollfd p{upstream.get(), POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) {
      return;
    }
    char buf[512];
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    ssize_t n =
        recvfrom(upstream.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n <= 0) {
      return;
    }
    dns::Message q = dns::Parse(std::string_view(buf, size_t(n)));
    dns::Message r = dns::MakeResponse(q, dns::kNoError);
    uint8_t ip[4] = {192, 0, 2, 77};
    r.answers.push_back({q.questions[0].name, dns::kA, dns::kIn, 30, dns::AddressRdata(ip, 4)});
    std::string wire = dns::Encode(r);
    sendto(upstream.get(), wire.data(), wire.size(), 0, reinterpret_cast<sockaddr*>(&from),
           from_len);
  });

  DnsTable table;
  table.Upsert("n/a", {"n", {"client"}, {a.address}, {}});
  table.Upsert("n/db", {"n", {"db", "database"}, {peer_addr}, {}});
  DnsServer::Options opts;
  opts.upstreams = {loopback};
  opts.upstream_port = ntohs(sin.sin_port);
  opts.upstream_timeout_ms = 3000;
  DnsServer server(table, opts);
  server.Listen(bridge.gateway, 0);
  uint16_t port = server.BoundPort(bridge.gateway);
  ASSERT_NE(port, 0);

  // UDP from inside the namespace.
  auto reply = UdpExchange(a.fd.get(), bridge.gateway, port, Query("Database", dns::kA, 7), 3000);
  ASSERT_TRUE(reply);
  dns::Message r = dns::Parse(*reply);
  EXPECT_EQ(r.id, 7);
  EXPECT_EQ(r.rcode, dns::kNoError);
  ASSERT_EQ(r.answers.size(), 1u);
  EXPECT_EQ(r.answers[0].rdata, std::string(reinterpret_cast<const char*>(peer_addr.data()), 4));

  // TCP (length-prefixed).
  std::string q = Query("db", dns::kA, 8);
  std::string framed = std::string(1, char(q.size() >> 8)) + char(q.size() & 0xff) + q;
  auto tcp = ConnectSend(a.fd.get(), bridge.gateway, port, framed, 3000);
  ASSERT_TRUE(tcp);
  ASSERT_GT(tcp->size(), 2u);
  r = dns::Parse(tcp->substr(2));
  EXPECT_EQ(r.id, 8);
  ASSERT_EQ(r.answers.size(), 1u);

  // Not a peer: forwarded to the upstream, its answer relayed.
  reply = UdpExchange(a.fd.get(), bridge.gateway, port, Query("example.test", dns::kA, 9), 5000);
  fake.join();
  ASSERT_TRUE(reply);
  r = dns::Parse(*reply);
  EXPECT_EQ(r.id, 9);
  ASSERT_EQ(r.answers.size(), 1u);
  EXPECT_EQ(r.answers[0].rdata, "\xc0\x00\x02\x4d"s);

  // The host is no container: refused.
  reply = UdpExchange(-1, bridge.gateway, port, Query("db", dns::kA, 10), 3000);
  ASSERT_TRUE(reply);
  EXPECT_EQ(dns::Parse(*reply).rcode, dns::kRefused);

  server.StopListening(bridge.gateway);
  EXPECT_EQ(server.BoundPort(bridge.gateway), 0);
}

}  // namespace
}  // namespace berth::network::testing

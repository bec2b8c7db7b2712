#include "network/bridge.h"

#include <unistd.h>

#include <cstdio>
#include <random>

#include "base/error.h"
#include "network/netns.h"

namespace berth::network {

int EnsureBridge(Netlink& host, const BridgeConfig& config) {
  auto link = host.GetLink(config.name);
  if (!link) {
    Netlink::Batch(host).CreateBridge(config.name, config.mtu).Commit();
    link = host.GetLink(config.name);
    if (!link) {
      throw Error(Kind::kInternal, "bridge " + config.name + " vanished after its creation");
    }
  } else if (!link->up) {
    Netlink::Batch(host).SetUp(config.name).Commit();
  }
  std::vector<IpPrefix> have = host.Addresses(link->index);
  Netlink::Batch batch(host);
  for (const auto& g : config.gateways) {
    bool present = false;
    for (const auto& h : have) {
      present = present || h == g;
    }
    if (!present) {
      batch.AddAddress(link->index, g);
    }
  }
  batch.Commit();
  WriteSysctl("net/ipv4/conf/" + config.name + "/route_localnet", "1");
  return link->index;
}

std::array<uint8_t, 6> MacForAddress(const IpAddress& v4) {
  const uint8_t* b = v4.data();
  return {0x02, 0x42, b[0], b[1], b[2], b[3]};
}

std::string MacString(const std::array<uint8_t, 6>& mac) {
  char buf[18];
  snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
           mac[4], mac[5]);
  return buf;
}

std::string RandomVethName() {
  static thread_local std::mt19937 rng(std::random_device{}());
  static const char kHex[] = "0123456789abcdef";
  std::string name = "veth";
  for (int i = 0; i < 7; ++i) {
    name += kHex[rng() % 16];
  }
  return name;
}

std::string AttachEndpoint(Netlink& host, int netns_fd, const EndpointConfig& config) {
  std::string veth = config.host_veth.empty() ? RandomVethName() : config.host_veth;
  Netlink::Batch(host)
      .CreateVeth(veth, config.ifname, config.mtu, netns_fd, config.bridge_index, config.mac)
      .Commit();
  try {
    // Before the addresses: a disabled interface refuses IPv6 ones.
    std::string key = "net/ipv6/conf/" + config.ifname + "/disable_ipv6";
    RunInNetns(netns_fd, [&] {
      if (config.ipv6 || access(("/proc/sys/" + key).c_str(), F_OK) == 0) {
        WriteSysctl(key, config.ipv6 ? "0" : "1");  // absent: a kernel without IPv6
      }
    });
    Netlink ns = Netlink::InNetns(netns_fd);
    int index = ns.LinkIndexOrThrow(config.ifname);
    Netlink::Batch b(ns);
    b.SetUp("lo").SetUp(config.ifname);
    for (const auto& a : config.addresses) {
      b.AddAddress(index, a);
    }
    if (config.gateway4) {
      b.AddRoute(IpPrefix(IpAddress::V4(0), 0), *config.gateway4, index);
    }
    if (config.gateway6) {
      b.AddRoute(IpPrefix(*IpAddress::Parse("::"), 0), *config.gateway6, index);
    }
    b.Commit();
  } catch (const Error& e) {
    try {
      host.DeleteLinkIfExists(veth);
    } catch (const Error&) {
      // The first failure is the one to report.
    }
    throw e.WithContext("configure " + config.ifname + " in the container");
  }
  return veth;
}

bool DetachEndpoint(Netlink& host, const std::string& host_veth) {
  return host.DeleteLinkIfExists(host_veth);
}

}  // namespace berth::network

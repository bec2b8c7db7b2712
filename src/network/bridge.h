#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "network/ip_address.h"
#include "network/netlink.h"

namespace berth::network {

// The host side of a bridge network and a container's place on it: what berthd does at
// network create and container start, in as few netlink round trips as the kernel allows.

struct BridgeConfig {
  std::string name;                // "berth0", "br-<id12>"
  std::vector<IpPrefix> gateways;  // the gateway address with the subnet's length, per family
  int mtu = 0;                     // 0: the kernel's default (1500)
};

// Creates the bridge when missing and adds whichever gateway addresses it lacks; up, with
// route_localnet on (published ports reachable from 127.0.0.1; the nftables guard chain keeps
// containers off the host's loopback). Idempotent: a daemon restart calls it again. Returns
// the bridge's index.
int EnsureBridge(Netlink& host, const BridgeConfig& config);

struct EndpointConfig {
  int bridge_index = 0;
  std::string host_veth;  // empty: a random "veth" + 7 hex digits, as Docker names them
  std::string ifname = "eth0";
  std::vector<IpPrefix> addresses;  // each with its subnet's length
  // Default routes; none on an --internal network.
  std::optional<IpAddress> gateway4, gateway6;
  int mtu = 0;
  std::optional<std::array<uint8_t, 6>> mac;  // the container end's; nullopt: the kernel's
  // The kernel's IPv6 on the container end (net.ipv6.conf.<ifname>.disable_ipv6): on only on
  // an IPv6 network, as Docker does (an IPv4-only endpoint would otherwise join IPv6
  // multicast groups and accept router advertisements from its peers).
  bool ipv6 = false;
};

// Docker's MAC address for a container's IPv4 address: 02:42 and the four address bytes.
std::array<uint8_t, 6> MacForAddress(const IpAddress& v4);
std::string MacString(const std::array<uint8_t, 6>& mac);

// Creates a veth pair whose container end is born inside `netns_fd` (no move, no rename), and
// configures it there: one round trip on the host, a link lookup and one batch in the
// namespace. Returns the host end's name. On failure the pair is gone again.
std::string AttachEndpoint(Netlink& host, int netns_fd, const EndpointConfig& config);

// Removes the host end (and so the pair); false when it was already gone (the namespace died
// with the container, taking the pair with it).
bool DetachEndpoint(Netlink& host, const std::string& host_veth);

std::string RandomVethName();

}  // namespace berth::network

#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "network/ip_address.h"
#include "network/port_spec.h"

namespace berth::network {

// What Berth's nftables tables must hold, as data. RenderRuleset turns it into one nft script
// that drops and recreates Berth's tables in a single transaction, so applying it is both the
// per-change update and the reconciliation at daemon start: whatever a crashed daemon left,
// the kernel ends up holding exactly this state, and other tables are never touched.

struct NftBridge {
  std::string name;               // the bridge interface
  std::vector<IpPrefix> subnets;  // v4 and v6
  bool internal = false;          // no traffic in or out of the bridge, no masquerade
  bool icc = true;                // containers of this bridge reach each other
  bool masquerade = true;         // outbound traffic leaves with the host's address
  // The host ends of the containers' veth pairs: with icc=false, frames the bridge forwards
  // from one of them are dropped (a `meta ibrname` match would need a kernel feature
  // (nft_meta_bridge) that not every kernel has).
  std::vector<std::string> ports;
};

struct NftPublish {
  PublishedPort port;
  IpAddress container_ip;  // its family selects the ip or ip6 rule
  std::string bridge;
};

struct NftState {
  std::string table = "berth";  // tests use their own name
  std::vector<NftBridge> bridges;
  std::vector<NftPublish> published;
};

// The script for libnftables (nft's text syntax). Tables: `inet <table>` (NAT for published
// ports and masquerade, the forward filter, loopback guards) and, when some bridge has
// icc=false and ports, `bridge <table>` (drops frames between that bridge's ports).
std::string RenderRuleset(const NftState& state);

// A script that removes Berth's tables of that name (whether or not they exist).
std::string RenderDelete(std::string_view table);

// Quotes an interface name for nft ("br-1" -> "\"br-1\""); kInvalidArgument on characters an
// interface name cannot hold.
std::string NftQuote(std::string_view name);

}  // namespace berth::network

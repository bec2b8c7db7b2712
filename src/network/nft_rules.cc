#include "network/nft_rules.h"

#include "base/error.h"

namespace berth::network {

std::string NftQuote(std::string_view name) {
  if (name.empty() || name.size() > 15) {
    ThrowInvalid("invalid interface name: \"" + std::string(name) + "\"");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) {
      ThrowInvalid("invalid interface name: \"" + std::string(name) + "\"");
    }
  }
  return "\"" + std::string(name) + "\"";
}

namespace {

void CheckTableName(std::string_view table) {
  if (table.empty() || table.size() > 64) {
    ThrowInvalid("invalid nftables table name");
  }
  for (char c : table) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
      ThrowInvalid("invalid nftables table name: \"" + std::string(table) + "\"");
    }
  }
}

std::string Family(const IpAddress& a) { return a.is_v4() ? "ip" : "ip6"; }
std::string Family(const IpPrefix& p) { return Family(p.address()); }

std::string Set(const std::vector<std::string>& names) {
  if (names.size() == 1) {
    return names[0];
  }
  std::string s = "{ ";
  for (size_t i = 0; i < names.size(); ++i) {
    s += (i ? ", " : "") + names[i];
  }
  return s + " }";
}

std::string PublishRule(const NftPublish& p) {
  std::string rule;
  const std::string fam = Family(p.container_ip);
  if (p.port.host_ip) {
    if (p.port.host_ip->family() != p.container_ip.family()) {
      return "";
    }
    if (p.port.host_ip->is_v6() && p.port.host_ip->IsLoopback()) {
      return "";  // ::1 cannot be NATed to a bridge (see below)
    }
    rule = fam + " daddr " + p.port.host_ip->String() + " ";
  } else if (p.container_ip.is_v4()) {
    rule = "meta nfproto ipv4 ";
  } else {
    // A reply to ::1 coming back from a bridge is dropped by the kernel's input route lookup
    // (loopback destinations must match the loopback device; IPv6 has no route_localnet), so
    // connections to ::1 are left to the socket berthd holds on the port.
    rule = "ip6 daddr != ::1 ";
  }
  std::string proto(ProtoName(p.port.proto));
  rule += proto + " dport " + std::to_string(p.port.host_port) + " dnat " + fam + " to ";
  std::string to =
      p.container_ip.is_v4() ? p.container_ip.String() : "[" + p.container_ip.String() + "]";
  return rule + to + ":" + std::to_string(p.port.container_port);
}

}  // namespace

std::string RenderDelete(std::string_view table) {
  CheckTableName(table);
  std::string t(table);
  // `add` then `delete`: deleting a table that does not exist would fail the transaction.
  return "add table inet " + t + "\ndelete table inet " + t + "\nadd table bridge " + t +
         "\ndelete table bridge " + t + "\n";
}

std::string RenderRuleset(const NftState& state) {
  std::string out = RenderDelete(state.table);
  std::vector<std::string> all_bridges;
  for (const auto& b : state.bridges) {
    all_bridges.push_back(NftQuote(b.name));
  }

  out += "table inet " + state.table + " {\n";
  // DNAT for published ports, for packets addressed to the host itself: from outside and from
  // containers (prerouting; the hairpin case) and from the host's own processes (output, which
  // covers 127.0.0.1 together with route_localnet on the bridge).
  out +=
      "  chain prerouting {\n"
      "    type nat hook prerouting priority dstnat; policy accept;\n"
      "    fib daddr type local jump publish\n"
      "  }\n"
      "  chain output {\n"
      "    type nat hook output priority -100; policy accept;\n"
      "    fib daddr type local jump publish\n"
      "  }\n"
      "  chain publish {\n";
  for (const auto& p : state.published) {
    std::string rule = PublishRule(p);
    if (!rule.empty()) {
      out += "    " + rule + "\n";
    }
  }
  out += "  }\n";

  out +=
      "  chain postrouting {\n"
      "    type nat hook postrouting priority srcnat; policy accept;\n";
  for (const auto& b : state.bridges) {
    const std::string br = NftQuote(b.name);
    // The host's loopback reaching a published port: the container cannot answer 127.0.0.1.
    out += "    oifname " + br + " ip saddr 127.0.0.0/8 masquerade\n";
    for (const auto& s : b.subnets) {
      const std::string fam = Family(s);
      const std::string net = s.Masked().String();
      // Hairpin: a container reaching a published port of its own bridge must see the answer
      // come back through the host, or it would come straight from the peer's address.
      out += "    oifname " + br + " ct status dnat " + fam + " saddr " + net + " masquerade\n";
      // IPv6 leaves unNATed, as in Docker 20.10: the subnet is meant to be routed to the host.
      if (!b.internal && b.masquerade && s.address().is_v4()) {
        out += "    " + fam + " saddr " + net + " oifname != " + br + " masquerade\n";
      }
    }
  }
  out += "  }\n";

  // route_localnet on a bridge lets 127/8 addresses be routed there; containers must not use
  // that to reach the host's loopback services.
  out +=
      "  chain guard {\n"
      "    type filter hook prerouting priority raw; policy accept;\n";
  if (!all_bridges.empty()) {
    out += "    iifname " + Set(all_bridges) + " ip daddr 127.0.0.0/8 drop\n";
    out += "    iifname " + Set(all_bridges) + " ip saddr 127.0.0.0/8 drop\n";
  }
  out += "  }\n";

  out +=
      "  chain forward {\n"
      "    type filter hook forward priority filter; policy accept;\n";
  for (const auto& b : state.bridges) {
    const std::string br = NftQuote(b.name);
    if (b.internal) {
      out += "    iifname " + br + " oifname != " + br + " drop\n";
      out += "    oifname " + br + " iifname != " + br + " drop\n";
    }
  }
  // Replies, and published ports (DNAT was asked for), pass the isolation below.
  out += "    ct state established,related accept\n";
  out += "    ct status dnat accept\n";
  for (const auto& b : state.bridges) {
    if (!b.icc) {
      // Seen here when br_netfilter passes bridged frames through the IP hooks; the bridge
      // table below covers hosts without it.
      const std::string br = NftQuote(b.name);
      out += "    iifname " + br + " oifname " + br + " drop\n";
    }
    std::vector<std::string> others;
    for (const auto& o : state.bridges) {
      if (o.name != b.name) {
        others.push_back(NftQuote(o.name));
      }
    }
    if (!others.empty()) {
      out += "    iifname " + NftQuote(b.name) + " oifname " + Set(others) + " drop\n";
    }
  }
  out += "  }\n}\n";

  std::vector<std::string> isolated_ports;
  for (const auto& b : state.bridges) {
    if (!b.icc) {
      for (const auto& p : b.ports) {
        isolated_ports.push_back(NftQuote(p));
      }
    }
  }
  if (!isolated_ports.empty()) {
    // The bridge's forward hook sees only frames going from one port to another (frames for
    // the host take the input hook), so this drops exactly container-to-container traffic.
    out += "table bridge " + state.table +
           " {\n"
           "  chain forward {\n"
           "    type filter hook forward priority filter; policy accept;\n"
           "    iifname " +
           Set(isolated_ports) +
           " drop\n"
           "  }\n"
           "}\n";
  }
  return out;
}

}  // namespace berth::network

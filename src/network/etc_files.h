#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "network/ip_address.h"

namespace berth::network {

// The content of a container's /etc/hostname, /etc/hosts and /etc/resolv.conf, as Docker
// writes them. Pure text in, text out: berthd writes the results under
// /var/lib/berth/containers/<id>/ and binds them into the container.

std::string GenerateHostname(std::string_view hostname);

struct ExtraHost {
  std::string name;
  IpAddress address;
};

// `--add-host name:ip` (also "name=ip", and "[::1]" brackets); "host-gateway" as the address
// means `host_gateway` (nullopt: kInvalidArgument, as Docker without a host-gateway-ip).
ExtraHost ParseExtraHost(std::string_view spec, const std::optional<IpAddress>& host_gateway);

struct HostsOptions {
  std::string hostname;
  std::string domainname;
  std::vector<IpAddress> addresses;  // the container's own, one line each
  std::vector<std::string> aliases;  // extra names on the container's own lines
  std::vector<ExtraHost> extra_hosts;
  bool ipv6 = true;  // the ::1 and ip6-* lines
};
std::string GenerateHosts(const HostsOptions& opts);

struct ResolvConf {
  std::vector<IpAddress> nameservers;
  std::vector<std::string> search;
  std::vector<std::string> options;
};

// Reads resolv.conf text: nameserver, search/domain (the last one wins, as in glibc) and
// options lines; comments and unknown lines are skipped, bad addresses ignored.
ResolvConf ParseResolvConf(std::string_view text);

struct ResolvOptions {
  std::vector<std::string> dns;          // --dns (addresses; replace the host's)
  std::vector<std::string> dns_search;   // --dns-search ("." alone: no search at all)
  std::vector<std::string> dns_options;  // --dns-option
  bool ipv6 = false;                     // keep IPv6 nameservers
  // The embedded DNS server the container queries; when set it is the only nameserver and
  // the others become its upstreams (ForwardServers).
  std::optional<IpAddress> embedded_dns;
  // When no usable nameserver is left (a host with only loopback resolvers): Docker uses
  // Google's public servers; berthd passes the bridge gateway's forwarder instead.
  std::vector<IpAddress> fallback;
};

// The container's resolv.conf: --dns or the host's nameservers minus loopback ones (and
// minus IPv6 ones without ipv6), the search list and options from the flags or the host.
std::string GenerateResolvConf(const ResolvConf& host, const ResolvOptions& opts);

// Where the embedded DNS server forwards what it cannot answer for this container: --dns when
// given, else every host nameserver (it runs in the host's network namespace, so loopback
// resolvers such as systemd-resolved's 127.0.0.53 work there).
std::vector<IpAddress> ForwardServers(const ResolvConf& host, const ResolvOptions& opts);

}  // namespace berth::network

#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "network/ip_address.h"

namespace berth::network {

enum class Proto : uint8_t { kTcp, kUdp, kSctp };
std::string_view ProtoName(Proto p);                     // "tcp", "udp", "sctp"
std::optional<Proto> ParseProto(std::string_view name);  // case-insensitive

// One container port published on the host, as asked: Docker's PortBindings entry
// {"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}]}. host_port_first == 0 asks for an
// ephemeral port; first < last asks for any free port of that range.
struct PortBinding {
  Proto proto = Proto::kTcp;
  uint16_t container_port = 0;
  std::string host_ip;  // "" = every host address
  uint16_t host_port_first = 0;
  uint16_t host_port_last = 0;

  bool operator==(const PortBinding&) const = default;
};

// `-p [ip:][host[-range]:]container[-range][/tcp|udp|sctp]`, Docker's nat.ParsePortSpec: one
// binding per container port; "[::1]:80:80" for IPv6 host addresses; a host range with one
// container port publishes on one free port of that range. kInvalidArgument with Docker's
// messages ("invalid containerPort: x", "invalid proto: x", "invalid ranges specified for
// container and host Ports: …").
std::vector<PortBinding> ParsePortSpec(std::string_view spec);

// `-P`: every exposed port ("80/tcp", "53/udp", or "80" for tcp; ExposedPorts' keys) on an
// ephemeral host port.
std::vector<PortBinding> PublishAll(const std::vector<std::string>& exposed);

// The container port key Docker uses: "80/tcp".
std::string PortKey(Proto proto, uint16_t container_port);
// Parses "80/tcp", "80" (tcp), "53/udp"; kInvalidArgument otherwise.
std::pair<Proto, uint16_t> ParsePortKey(std::string_view key);

// HostConfig.PortBindings <-> bindings ("HostPort":"" or "0" is ephemeral; "8000-8010" a range).
std::vector<PortBinding> PortBindingsFromJson(const nlohmann::json& port_bindings);
nlohmann::json PortBindingsToJson(const std::vector<PortBinding>& bindings);

// A binding with its host port decided: what the nftables rules and NetworkSettings.Ports show.
struct PublishedPort {
  Proto proto = Proto::kTcp;
  std::optional<IpAddress> host_ip;  // nullopt: every host address
  uint16_t host_port = 0;
  uint16_t container_port = 0;

  bool operator==(const PublishedPort&) const = default;
};

// NetworkSettings.Ports: {"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}, …], "81/tcp":null}
// for every exposed key, published or not.
nlohmann::json PortsToJson(const std::vector<PublishedPort>& published,
                           const std::vector<std::string>& exposed);

// The host ports in use, per protocol and host address; hands out ephemeral ports. A port on
// "every address" conflicts with the same port on any one address, as a bind would.
class PortAllocator {
 public:
  explicit PortAllocator(uint16_t ephemeral_first = 49153, uint16_t ephemeral_last = 65535);

  // Decides the host port of each binding, all or none: kConflict ("Bind for 0.0.0.0:8080
  // failed: port is already allocated") or kUnavailable when a range is exhausted, with
  // nothing taken.
  std::vector<PublishedPort> Allocate(const std::vector<PortBinding>& bindings);
  // Marks ports taken (a daemon restart re-reading its containers); kConflict on a clash.
  void Reserve(const std::vector<PublishedPort>& ports);
  void Release(const std::vector<PublishedPort>& ports);

 private:
  using Key = std::tuple<Proto, uint16_t, std::optional<IpAddress>>;
  bool Free(Proto proto, uint16_t port, const std::optional<IpAddress>& ip) const;
  void Take(const PublishedPort& p);

  uint16_t first_, last_;
  uint16_t next_;  // where the next ephemeral search starts
  std::set<Key> used_;
};

}  // namespace berth::network

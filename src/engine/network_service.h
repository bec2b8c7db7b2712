#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "engine/container_filters.h"
#include "engine/db.h"
#include "engine/events.h"
#include "network/ip_address.h"
#include "network/port_spec.h"

// The daemon's networks (issue 7): the default bridge `bridge`, the predefined `host` and
// `none`, and user-defined bridge networks, persisted in SQLite with their IPAM state; each
// container's endpoints on them (address, veth, published ports, DNS names), persisted with
// the network's address pool in one transaction. The kernel state (bridges, nftables rules,
// the DNS table) is derived from these records: rebuilt whole at daemon start and after every
// change, so nothing a crash left behind survives. docs/network.md, "In berthd".

namespace berth::network {
struct SubnetPool;
class DnsServer;
class DnsTable;
class Netlink;
class PortProxy;
}  // namespace berth::network

namespace berth::engine {

struct NetworkDaemonConfig {
  std::string bridge_name = "berth0";  // the default network's bridge (daemon.json "bridge")
  std::string bridge_subnet;           // "bip"-like: "" = the first free of Docker's pools
  std::string nft_table = "berth";     // Berth's nftables tables (tests use their own)
  // User-defined bridges: the prefix and the id's first hex digits, 15 characters in all.
  std::string user_bridge_prefix = "br-";
  // Where networks created without --subnet get theirs (daemon.json "default-address-pools");
  // empty: Docker's defaults.
  std::vector<std::pair<std::string, int>> address_pools;
  int mtu = 0;
  bool dns = true;  // run the embedded DNS server on the gateways
};

// What one container asks of one network (NetworkingConfig.EndpointsConfig, connect).
struct EndpointRequest {
  std::string network;  // name, id or id prefix
  std::vector<std::string> aliases;
  std::string ipv4;  // IPAMConfig.IPv4Address; "" = dynamic
  std::string ipv6;  // IPAMConfig.IPv6Address (--ip6); only on an IPv6 network
};

// One endpoint, ready for the container's start: what AttachEndpoint and the /etc files need.
struct EndpointLease {
  std::string network_id;
  std::string network_name;
  std::string bridge;
  network::IpPrefix address;  // with the subnet's length
  network::IpAddress gateway;
  // On an IPv6 network (--ipv6) also its IPv6 address and gateway.
  std::optional<network::IpPrefix> address6;
  std::optional<network::IpAddress> gateway6;
  bool internal = false;
  bool user_defined = false;  // names resolve through the embedded DNS server
  int mtu = 0;
  std::vector<std::string> aliases;
};

class NetworkService {
 public:
  NetworkService(const std::string& root, NetworkDaemonConfig config, EventBus* events = nullptr);
  ~NetworkService();
  NetworkService(const NetworkService&) = delete;
  NetworkService& operator=(const NetworkService&) = delete;

  // /networks: Docker's shapes (types.NetworkResource, NetworkCreateResponse).
  nlohmann::json Create(const nlohmann::json& body);
  void Remove(const std::string& ref);
  nlohmann::json Inspect(const std::string& ref, bool verbose);
  nlohmann::json List(const Filters& filters);
  nlohmann::json Prune(const Filters& filters);
  // The network's id; kNotFound "network X not found".
  std::string ResolveId(const std::string& ref);
  std::string NameOf(const std::string& id);

  // Container side. Declare records what a container asks for (create, connect) after
  // checking each network exists; Forget drops the container (rm).
  void Declare(const std::string& container_id, const std::vector<EndpointRequest>& requests);
  void Undeclare(const std::string& container_id, const std::string& network_id);
  void Forget(const std::string& container_id);
  // A running container's DNS name follows a rename.
  void Renamed(const std::string& container_id, const std::string& new_name);
  // The networks the container is declared on, in declaration order (ids).
  std::vector<std::string> DeclaredNetworks(const std::string& container_id);

  // Start: addresses for every declared endpoint (or only `only_network`) and the host ports
  // of `ports` (on the first endpoint), persisted. All or nothing.
  std::vector<EndpointLease> Allocate(const std::string& container_id,
                                      const std::string& container_name,
                                      const std::vector<network::PortBinding>& ports,
                                      const std::vector<network::IpAddress>& upstreams,
                                      const std::string& only_network = "");
  // Creates each allocated endpoint's veth inside `netns_fd`, then the DNS entries and the
  // rules. Throws after undoing what it did for the failed endpoint; the caller Releases.
  void Attach(const std::string& container_id, int netns_fd, const std::string& only_network = "");
  // Undoes Allocate and Attach (veths, addresses, ports, DNS names, rules). Idempotent.
  // `namespace_gone`: the container's network namespace died with it (its exit), taking the
  // veths along; deleting them here would only wait for the kernel's teardown.
  void Release(const std::string& container_id, bool namespace_gone = false);

  // Daemon start, after the containers were restored: the endpoints of containers that are not
  // in `running` are released, then bridges, DNS and nftables are rebuilt from the records.
  void Reconcile(const std::vector<std::string>& running);

  // NetworkSettings.Networks / Ports of a container (null when nothing is declared).
  nlohmann::json ContainerNetworks(const std::string& container_id);
  std::vector<network::PublishedPort> PublishedPorts(const std::string& container_id);

  // The upstream resolvers the host uses (its resolv.conf), for the /etc files.
  std::string HostResolvConf() const;

 private:
  struct Net;
  struct Endpoint;

  Net& FindLocked(const std::string& ref);
  Net* FindByIdLocked(const std::string& id);
  void SaveNet(const Net& n);
  void SaveEndpoint(const Endpoint& ep);
  void DeleteEndpoint(const std::string& container_id, const std::string& network_id);
  void EnsureBridgeLocked(Net& n);
  void ApplyRulesLocked();
  // Binds the container's published host ports (held_) and relays ::1 to its IPv6 address.
  void HoldLocked(const std::string& container_id, const std::vector<network::PublishedPort>& ports,
                  const std::optional<network::IpAddress>& address6);
  void UpdateDnsLocked(const Endpoint& ep);
  void RefreshDnsLocked(const std::string& container_id);
  void ReleaseLocked(const std::string& container_id, const std::string& only_network,
                     bool namespace_gone);
  nlohmann::json NetJson(const Net& n, bool with_containers);
  void CreateDefaults();
  std::vector<network::SubnetPool> Pools() const;
  void Emit(const Net& n, const std::string& action, const std::string& container = "");

  std::string root_;
  NetworkDaemonConfig config_;
  EventBus* events_;
  std::mutex mu_;
  Db db_;
  std::vector<std::unique_ptr<Net>> nets_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::unique_ptr<network::PortAllocator> ports_;
  std::string applied_rules_;  // the last script applied: the kernel holds exactly that
  // Per container, a socket bound to each host port it publishes (tcp, udp): a host process
  // cannot take the port meanwhile, and one that has it already makes the start fail.
  std::map<std::string, std::vector<UniqueFd>> held_;
  std::unique_ptr<network::PortProxy> proxy_;  // ::1 on IPv6 networks (port_proxy.h)
  std::unique_ptr<network::DnsTable> dns_table_;
  std::unique_ptr<network::DnsServer> dns_;
};

}  // namespace berth::engine

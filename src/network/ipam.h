#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "network/ip_address.h"

namespace berth::network {

// What a user asks for one subnet of a network (`--subnet`, `--gateway`, `--ip-range`, or
// Docker's IPAM.Config entry).
struct PoolConfig {
  IpPrefix subnet;
  std::optional<IpAddress> gateway;  // default: the first host address
  std::optional<IpPrefix> ip_range;  // where dynamic addresses come from; default: subnet
};

// Parses Docker's IPAM.Config entry {"Subnet","Gateway","IPRange"} (empty strings are unset).
PoolConfig PoolConfigFromJson(const nlohmann::json& j);

// The addresses of one subnet: which are taken, and which comes next. Plain data, serialized
// with ToJson/FromJson so the engine can persist it in its database with the network.
//
// Dynamic allocation walks the ip-range round robin from the last address handed out, as
// Docker's bit sequence does, so a released address is not reused at once (a peer's ARP or
// DNS cache may still point at it). The network address, the v4 broadcast and the gateway are
// never handed out.
class AddressPool {
 public:
  // Validates the config: the gateway and range inside the subnet, a subnet with room for at
  // least one host, host bits in the subnet ignored as Docker does.
  explicit AddressPool(PoolConfig config);

  const IpPrefix& subnet() const { return subnet_; }
  const IpAddress& gateway() const { return gateway_; }
  const IpPrefix& range() const { return range_; }
  IpAddress::Family family() const { return subnet_.family(); }

  // The next free address in the range; kUnavailable when the range is full.
  IpAddress Allocate();
  // A caller's choice (`--ip`): kInvalidArgument outside the subnet or on a reserved address,
  // kConflict when taken. Addresses outside the ip-range but inside the subnet are allowed,
  // as in Docker.
  void AllocateSpecific(const IpAddress& address);
  // False when the address was not allocated.
  bool Release(const IpAddress& address);
  bool IsAllocated(const IpAddress& address) const { return allocated_.count(address) != 0; }
  size_t allocated_count() const { return allocated_.size(); }

  nlohmann::json ToJson() const;
  static AddressPool FromJson(const nlohmann::json& j);

 private:
  bool Reserved(const IpAddress& a) const;

  IpPrefix subnet_;
  IpAddress gateway_;
  IpPrefix range_;
  std::set<IpAddress> allocated_;
  std::optional<IpAddress> last_;  // the last dynamic allocation: the walk resumes after it
};

// kConflict naming both subnets when any two of `subnets` overlap (within one network, or a
// new network's against the existing ones: pass them all).
void CheckNoOverlap(const std::vector<IpPrefix>& existing, const std::vector<IpPrefix>& added);

// A base range carved into subnets of one size: Docker's default-address-pools entry.
struct SubnetPool {
  IpPrefix base;
  int size;  // prefix length of each subnet
};

// Docker's defaults: 172.17.0.0/16 .. 172.31.0.0/16, then 192.168.0.0/20 .. 192.168.240.0/20.
std::vector<SubnetPool> DefaultSubnetPools();

// The first subnet from `pools` that overlaps none of `in_use` (other networks' subnets and the
// host's routes; default routes, /0, are ignored); nullopt when every one is taken.
std::optional<IpPrefix> PickSubnet(const std::vector<SubnetPool>& pools,
                                   const std::vector<IpPrefix>& in_use);

}  // namespace berth::network

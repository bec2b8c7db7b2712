#include "network/ipam.h"

#include "base/error.h"

namespace berth::network {

namespace {

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return "";
  }
  if (!it->is_string()) {
    ThrowInvalid(std::string("IPAM config: ") + key + " must be a string");
  }
  return it->get<std::string>();
}

}  // namespace

PoolConfig PoolConfigFromJson(const nlohmann::json& j) {
  if (!j.is_object()) {
    ThrowInvalid("IPAM config: an entry must be an object");
  }
  PoolConfig c;
  std::string subnet = Str(j, "Subnet");
  if (subnet.empty()) {
    ThrowInvalid("IPAM config: Subnet is required");
  }
  c.subnet = IpPrefix::ParseOrThrow(subnet, "subnet");
  if (auto g = Str(j, "Gateway"); !g.empty()) {
    c.gateway = IpAddress::ParseOrThrow(g, "gateway");
  }
  if (auto r = Str(j, "IPRange"); !r.empty()) {
    c.ip_range = IpPrefix::ParseOrThrow(r, "ip-range");
  }
  return c;
}

AddressPool::AddressPool(PoolConfig config) : subnet_(config.subnet.Masked()) {
  const std::string s = subnet_.String();
  int host_bits = subnet_.address().bits() - subnet_.length();
  if (host_bits < (subnet_.address().is_v4() ? 2 : 1)) {
    ThrowInvalid("subnet " + s + " has no room for a gateway and a container");
  }
  range_ = config.ip_range ? config.ip_range->Masked() : subnet_;
  if (!subnet_.Contains(range_)) {
    ThrowInvalid("ip-range " + range_.String() + " is not inside subnet " + s);
  }
  if (config.gateway) {
    if (!subnet_.Contains(*config.gateway)) {
      ThrowInvalid("gateway " + config.gateway->String() + " is not inside subnet " + s);
    }
    gateway_ = *config.gateway;
    if (gateway_ == subnet_.Network() ||
        (subnet_.address().is_v4() && gateway_ == subnet_.LastAddress())) {
      ThrowInvalid("gateway " + gateway_.String() + " is the network or broadcast address of " + s);
    }
  } else {
    gateway_ = subnet_.Network().Plus(1);
  }
}

bool AddressPool::Reserved(const IpAddress& a) const {
  if (a == gateway_ || a == subnet_.Network()) {
    return true;
  }
  return a.is_v4() && a == subnet_.LastAddress();
}

IpAddress AddressPool::Allocate() {
  IpAddress first = range_.Network();
  IpAddress last = range_.LastAddress();
  // The walk visits at most every allocated address and the three reserved ones before it
  // meets a free one, or the whole range when it is small.
  int64_t range_size = last.Minus(first);  // saturates for huge v6 ranges
  int64_t bound = std::min<int64_t>(range_size, static_cast<int64_t>(allocated_.size()) + 3);
  IpAddress a = last_ && range_.Contains(*last_) ? last_->Plus(1) : first;
  for (int64_t i = 0; i <= bound; ++i) {
    if (!range_.Contains(a)) {
      a = first;
    }
    if (!Reserved(a) && allocated_.count(a) == 0) {
      allocated_.insert(a);
      last_ = a;
      return a;
    }
    a = a.Plus(1);
  }
  throw Error(Kind::kUnavailable, "no available IP addresses in " + range_.String() + " (subnet " +
                                      subnet_.String() + ")");
}

void AddressPool::AllocateSpecific(const IpAddress& address) {
  if (!subnet_.Contains(address)) {
    ThrowInvalid("address " + address.String() + " is not inside subnet " + subnet_.String());
  }
  if (Reserved(address)) {
    ThrowInvalid("address " + address.String() + " is reserved in subnet " + subnet_.String());
  }
  if (!allocated_.insert(address).second) {
    ThrowConflict("Address already in use: " + address.String());
  }
}

bool AddressPool::Release(const IpAddress& address) { return allocated_.erase(address) != 0; }

nlohmann::json AddressPool::ToJson() const {
  nlohmann::json j = {{"Subnet", subnet_.String()},
                      {"Gateway", gateway_.String()},
                      {"IPRange", range_.String()},
                      {"Allocated", nlohmann::json::array()}};
  for (const auto& a : allocated_) {
    j["Allocated"].push_back(a.String());
  }
  if (last_) {
    j["Last"] = last_->String();
  }
  return j;
}

AddressPool AddressPool::FromJson(const nlohmann::json& j) {
  AddressPool p(PoolConfigFromJson(j));
  if (auto it = j.find("Allocated"); it != j.end() && it->is_array()) {
    for (const auto& a : *it) {
      if (a.is_string()) {
        p.AllocateSpecific(IpAddress::ParseOrThrow(a.get<std::string>()));
      }
    }
  }
  if (auto l = Str(j, "Last"); !l.empty()) {
    p.last_ = IpAddress::ParseOrThrow(l);
  }
  return p;
}

void CheckNoOverlap(const std::vector<IpPrefix>& existing, const std::vector<IpPrefix>& added) {
  for (size_t i = 0; i < added.size(); ++i) {
    for (const auto& e : existing) {
      if (added[i].Overlaps(e)) {
        ThrowConflict("Pool overlaps with other one on this address space: " +
                      added[i].Masked().String() + " overlaps " + e.Masked().String());
      }
    }
    for (size_t k = 0; k < i; ++k) {
      if (added[i].Overlaps(added[k])) {
        ThrowInvalid("subnets " + added[k].Masked().String() + " and " +
                     added[i].Masked().String() + " overlap");
      }
    }
  }
}

std::vector<SubnetPool> DefaultSubnetPools() {
  return {{*IpPrefix::Parse("172.17.0.0/16"), 16},
          {*IpPrefix::Parse("172.18.0.0/15"), 16},
          {*IpPrefix::Parse("172.20.0.0/14"), 16},
          {*IpPrefix::Parse("172.24.0.0/13"), 16},
          {*IpPrefix::Parse("192.168.0.0/16"), 20}};
}

std::optional<IpPrefix> PickSubnet(const std::vector<SubnetPool>& pools,
                                   const std::vector<IpPrefix>& in_use) {
  for (const auto& pool : pools) {
    if (pool.size < pool.base.length() || pool.size > pool.base.address().bits()) {
      continue;
    }
    int step_bits = pool.base.address().bits() - pool.size;
    int count_bits = pool.size - pool.base.length();
    if (step_bits >= 63 || count_bits > 16) {
      continue;  // v6 pools and absurd splits: not carved
    }
    int64_t count = int64_t{1} << count_bits;
    for (int64_t i = 0; i < count; ++i) {
      IpPrefix candidate(pool.base.Network().Plus(i << step_bits), pool.size);
      bool taken = false;
      for (const auto& u : in_use) {
        if (u.length() > 0 && candidate.Overlaps(u)) {
          taken = true;
          break;
        }
      }
      if (!taken) {
        return candidate;
      }
    }
  }
  return std::nullopt;
}

}  // namespace berth::network

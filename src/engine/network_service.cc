#include "engine/network_service.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <regex>
#include <set>

#include "base/error.h"
#include "base/file_util.h"
#include "base/log.h"
#include "network/bridge.h"
#include "network/dns_server.h"
#include "network/etc_files.h"
#include "network/ipam.h"
#include "network/netlink.h"
#include "network/nft_rules.h"
#include "network/nftables.h"
#include "network/port_proxy.h"
#include "shim/logfile.h"

namespace berth::engine {

using network::AddressPool;
using network::IpAddress;
using network::IpPrefix;
using nlohmann::json;

namespace {

// Ephemeral host ports tried for a container before a bind that keeps failing is reported.
constexpr int kBindAttempts = 16;
constexpr const char* kBridgeNameOpt = "com.docker.network.bridge.name";
constexpr const char* kIccOpt = "com.docker.network.bridge.enable_icc";
constexpr const char* kMasqOpt = "com.docker.network.bridge.enable_ip_masquerade";
constexpr const char* kMtuOpt = "com.docker.network.driver.mtu";
constexpr const char* kDefaultBridgeOpt = "com.docker.network.bridge.default_bridge";

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (getrandom(raw.data(), raw.size(), 0) != static_cast<ssize_t>(raw.size())) {
    ThrowErrno("getrandom");
  }
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : raw) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string Now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return shim::FormatJsonTime(static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec);
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// Binds every published host port, tcp ones listening (with SO_REUSEADDR, so only another
// listener is a clash, not a connection that happens to use the port; and a listener is what
// keeps other binds out). The DNAT rules take the traffic before it could reach these
// sockets; they only hold the ports. sctp ports are not held. `dual`: the container is on an
// IPv6 network, so a port on every address is held on [::] as well (IPV6_V6ONLY, beside the
// 0.0.0.0 one), as Docker's -p 8080:80 listens on both. `v6_tcp` gets the index of each
// IPv6 tcp socket with its container port: on ::1 those get the connections no DNAT takes.
std::vector<UniqueFd> HoldPorts(const std::vector<network::PublishedPort>& ports, bool dual,
                                std::vector<std::pair<size_t, uint16_t>>* v6_tcp) {
  std::vector<UniqueFd> held;
  std::vector<std::pair<network::PublishedPort, bool>> wanted;  // the port, on [::]
  for (const auto& p : ports) {
    wanted.emplace_back(p, p.host_ip && p.host_ip->is_v6());
    if (dual && !p.host_ip) wanted.emplace_back(p, true);
  }
  for (const auto& [p, v6] : wanted) {
    if (p.proto == network::Proto::kSctp) continue;
    int type = p.proto == network::Proto::kTcp ? SOCK_STREAM : SOCK_DGRAM;
    UniqueFd fd(socket(v6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0));
    if (!fd) ThrowErrno("socket for a published port");
    int one = 1;
    if (type == SOCK_STREAM) setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (v6) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    sockaddr_storage ss{};
    socklen_t len;
    if (v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(p.host_port);
      if (p.host_ip) memcpy(&a->sin6_addr, p.host_ip->data(), 16);  // else [::]
      len = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(p.host_port);
      if (p.host_ip) memcpy(&a->sin_addr, p.host_ip->data(), 4);
      len = sizeof(*a);
    }
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0 ||
        (type == SOCK_STREAM && listen(fd.get(), 1) < 0)) {
      int err = errno;
      std::string any = v6 ? "[::]" : "0.0.0.0";
      std::string host = !p.host_ip ? any
                         : v6       ? "[" + p.host_ip->String() + "]"
                                    : p.host_ip->String();
      throw Error(Kind::kConflict,
                  "Bind for " + host + ":" + std::to_string(p.host_port) + " failed: " +
                      (err == EADDRINUSE ? "address already in use" : std::string(strerror(err))));
    }
    if (v6 && type == SOCK_STREAM) v6_tcp->emplace_back(held.size(), p.container_port);
    held.push_back(std::move(fd));
  }
  return held;
}

// As dockerd does for an IPv6 network: containers' IPv6 traffic leaving their bridge is routed
// by the host. A host that learns its own IPv6 route from router advertisements needs
// accept_ra=2 on that interface once forwarding is on (dockerd has the same requirement).
void EnableIpv6Forwarding() {
  try {
    network::WriteSysctl("net/ipv6/conf/all/forwarding", "1");
  } catch (const Error& e) {
    log::Warn(std::string("IPv6 forwarding: ") + e.what());
  }
}

bool Truthy(const std::string& v) { return v == "true" || v == "1" || v == "True"; }

bool Bool(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

json StringMap(const json& j, const char* what) {
  if (j.is_null()) return json::object();
  if (!j.is_object()) ThrowInvalid(std::string(what) + " must be an object");
  for (const auto& item : j.items()) {
    if (!item.value().is_string()) {
      ThrowInvalid(std::string(what) + ": \"" + item.key() + "\" must be a string");
    }
  }
  return j;
}

}  // namespace

struct NetworkService::Net {
  std::string id, name, driver, created;
  bool internal = false, attachable = false, icc = true, masquerade = true;
  bool ipv6 = false;  // EnableIPv6: pools holds an IPv6 subnet after the IPv4 one
  json labels = json::object();
  json options = json::object();
  std::string bridge;
  int mtu = 0;
  std::vector<AddressPool> pools;

  bool is_bridge() const { return driver == "bridge"; }
  bool predefined() const { return name == "bridge" || name == "host" || name == "none"; }
  bool user_defined() const { return is_bridge() && name != "bridge"; }
  // pools[0] is the IPv4 subnet; an IPv6 network's v6 subnet follows it.
  AddressPool* pool6() {
    for (AddressPool& p : pools) {
      if (p.family() == IpAddress::Family::kV6) return &p;
    }
    return nullptr;
  }

  json ToDoc() const {
    json pj = json::array();
    for (const AddressPool& p : pools) pj.push_back(p.ToJson());
    return {{"Id", id},
            {"Name", name},
            {"Driver", driver},
            {"Created", created},
            {"Internal", internal},
            {"EnableIPv6", ipv6},
            {"Attachable", attachable},
            {"ICC", icc},
            {"Masquerade", masquerade},
            {"Labels", labels},
            {"Options", options},
            {"Bridge", bridge},
            {"MTU", mtu},
            {"Pools", pj}};
  }
  static std::unique_ptr<Net> FromDoc(const json& d) {
    auto n = std::make_unique<Net>();
    n->id = Str(d, "Id");
    n->name = Str(d, "Name");
    n->driver = Str(d, "Driver");
    n->created = Str(d, "Created");
    n->internal = d.value("Internal", false);
    n->ipv6 = d.value("EnableIPv6", false);
    n->attachable = d.value("Attachable", false);
    n->icc = d.value("ICC", true);
    n->masquerade = d.value("Masquerade", true);
    n->labels = d.value("Labels", json::object());
    n->options = d.value("Options", json::object());
    n->bridge = Str(d, "Bridge");
    n->mtu = d.value("MTU", 0);
    for (const auto& p : d.value("Pools", json::array())) {
      n->pools.push_back(AddressPool::FromJson(p));
    }
    return n;
  }
};

struct NetworkService::Endpoint {
  std::string container_id, network_id;
  int64_t seq = 0;  // declaration order
  std::vector<std::string> aliases;
  std::string static_ipv4;
  std::string static_ipv6;
  // While the container runs (Allocate .. Release):
  std::string container_name;
  std::string endpoint_id;
  std::optional<IpPrefix> address;
  std::optional<IpPrefix> address6;  // on an IPv6 network
  std::string host_veth;
  std::string mac;
  bool attached = false;
  std::vector<network::PublishedPort> ports;
  std::vector<IpAddress> upstreams;

  json ToDoc() const {
    json ports_json = json::array();
    for (const auto& p : ports) {
      ports_json.push_back({{"Proto", network::ProtoName(p.proto)},
                            {"HostIp", p.host_ip ? p.host_ip->String() : ""},
                            {"HostPort", p.host_port},
                            {"ContainerPort", p.container_port}});
    }
    json up = json::array();
    for (const auto& u : upstreams) up.push_back(u.String());
    return {{"Aliases", aliases},
            {"StaticIPv4", static_ipv4},
            {"StaticIPv6", static_ipv6},
            {"Name", container_name},
            {"EndpointID", endpoint_id},
            {"Address", address ? address->String() : ""},
            {"Address6", address6 ? address6->String() : ""},
            {"HostVeth", host_veth},
            {"MacAddress", mac},
            {"Attached", attached},
            {"Ports", ports_json},
            {"Upstreams", up}};
  }
  void FromDoc(const json& d) {
    aliases = d.value("Aliases", std::vector<std::string>{});
    static_ipv4 = Str(d, "StaticIPv4");
    static_ipv6 = Str(d, "StaticIPv6");
    container_name = Str(d, "Name");
    endpoint_id = Str(d, "EndpointID");
    std::string a = Str(d, "Address");
    if (!a.empty()) address = IpPrefix::ParseOrThrow(a);
    std::string a6 = Str(d, "Address6");
    if (!a6.empty()) address6 = IpPrefix::ParseOrThrow(a6);
    host_veth = Str(d, "HostVeth");
    mac = Str(d, "MacAddress");
    attached = d.value("Attached", false);
    for (const auto& p : d.value("Ports", json::array())) {
      network::PublishedPort pp;
      pp.proto = network::ParseProto(Str(p, "Proto")).value_or(network::Proto::kTcp);
      std::string hip = Str(p, "HostIp");
      if (!hip.empty()) pp.host_ip = IpAddress::ParseOrThrow(hip);
      pp.host_port = p.value("HostPort", uint16_t{0});
      pp.container_port = p.value("ContainerPort", uint16_t{0});
      ports.push_back(pp);
    }
    for (const auto& u : d.value("Upstreams", std::vector<std::string>{})) {
      upstreams.push_back(IpAddress::ParseOrThrow(u));
    }
  }
  bool allocated() const { return address.has_value(); }
};

NetworkService::NetworkService(const std::string& root, NetworkDaemonConfig config,
                               EventBus* events)
    : root_(root),
      config_(std::move(config)),
      events_(events),
      db_(JoinPath(root, "networks.db")),
      ports_(std::make_unique<network::PortAllocator>()),
      proxy_(std::make_unique<network::PortProxy>()),
      dns_table_(std::make_unique<network::DnsTable>()) {
  // WAL without an fsync per commit: a power loss may cost the last endpoint changes, but
  // nothing runs after one and Reconcile rebuilds the endpoints from the running containers;
  // the networks themselves are written once. It keeps 3-4 fsyncs off every container start.
  db_.Exec("PRAGMA synchronous=NORMAL");
  db_.Exec(R"(
CREATE TABLE IF NOT EXISTS networks (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS endpoints (
  container_id TEXT NOT NULL,
  network_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  doc TEXT NOT NULL,
  PRIMARY KEY (container_id, network_id)
);)");
  {
    Statement s = db_.Prepare("SELECT doc FROM networks");
    while (s.Step()) {
      try {
        nets_.push_back(Net::FromDoc(json::parse(s.Text(0))));
      } catch (const std::exception& e) {
        log::Error(std::string("network record skipped: ") + e.what());
      }
    }
  }
  {
    Statement s = db_.Prepare("SELECT container_id, network_id, seq, doc FROM endpoints");
    while (s.Step()) {
      auto ep = std::make_unique<Endpoint>();
      ep->container_id = s.Text(0);
      ep->network_id = s.Text(1);
      ep->seq = s.Int(2);
      try {
        ep->FromDoc(json::parse(s.Text(3)));
      } catch (const std::exception& e) {
        log::Error(std::string("endpoint record skipped: ") + e.what());
        continue;
      }
      endpoints_.push_back(std::move(ep));
    }
  }
  CreateDefaults();
  if (config_.dns) {
    network::DnsServer::Options o;
    network::ResolvConf host = network::ParseResolvConf(HostResolvConf());
    o.upstreams = host.nameservers;
    dns_ = std::make_unique<network::DnsServer>(*dns_table_, o);
  }
}

NetworkService::~NetworkService() = default;

std::vector<network::SubnetPool> NetworkService::Pools() const {
  if (config_.address_pools.empty()) return network::DefaultSubnetPools();
  std::vector<network::SubnetPool> out;
  for (const auto& p : config_.address_pools) {
    out.push_back({IpPrefix::ParseOrThrow(p.first, "default-address-pools base"), p.second});
  }
  return out;
}

std::string NetworkService::HostResolvConf() const {
  return ReadFileIfExists("/etc/resolv.conf").value_or("");
}

void NetworkService::CreateDefaults() {
  auto has = [this](const std::string& name) {
    for (auto& n : nets_) {
      if (n->name == name) return true;
    }
    return false;
  };
  for (const char* driver : {"host", "null"}) {
    std::string name = std::string(driver) == "null" ? "none" : driver;
    if (has(name)) continue;
    auto n = std::make_unique<Net>();
    n->id = RandomHex(32);
    n->name = name;
    n->driver = driver;
    n->created = Now();
    SaveNet(*n);
    nets_.push_back(std::move(n));
  }
  Net* bridge = nullptr;
  for (auto& n : nets_) {
    if (n->name == "bridge") bridge = n.get();
  }
  std::optional<IpPrefix> want;
  if (!config_.bridge_subnet.empty()) {
    want = IpPrefix::ParseOrThrow(config_.bridge_subnet, "default bridge subnet");
  }
  if (bridge) {
    // The daemon config may have changed since: the bridge's name and subnet follow it (no
    // container can be on it now, before Reconcile restored the running ones... but running
    // containers keep their addresses, so a changed subnet only applies when none is there).
    bool busy = false;
    for (auto& ep : endpoints_) busy = busy || (ep->network_id == bridge->id && ep->allocated());
    if (!busy && (bridge->bridge != config_.bridge_name ||
                  (want && bridge->pools.at(0).subnet() != want->Masked()))) {
      if (bridge->bridge != config_.bridge_name) {
        network::Netlink nl;
        nl.DeleteLinkIfExists(bridge->bridge);
      }
      bridge->bridge = config_.bridge_name;
      bridge->options[kBridgeNameOpt] = config_.bridge_name;
      if (want) {
        network::PoolConfig pc;
        pc.subnet = *want;
        if (!want->IsNetwork()) pc.gateway = want->address();
        bridge->pools = {AddressPool(pc)};
      }
      SaveNet(*bridge);
    }
    return;
  }
  auto n = std::make_unique<Net>();
  n->id = RandomHex(32);
  n->name = "bridge";
  n->driver = "bridge";
  n->created = Now();
  n->bridge = config_.bridge_name;
  n->mtu = config_.mtu;
  n->options = {{kDefaultBridgeOpt, "true"},
                {kIccOpt, "true"},
                {kMasqOpt, "true"},
                {"com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"},
                {kBridgeNameOpt, config_.bridge_name},
                {kMtuOpt, std::to_string(config_.mtu ? config_.mtu : 1500)}};
  network::PoolConfig pc;
  if (want) {
    pc.subnet = *want;
    if (!want->IsNetwork()) pc.gateway = want->address();  // "bip": 172.17.0.1/16
  } else {
    std::vector<IpPrefix> in_use;
    for (auto& o : nets_) {
      for (auto& p : o->pools) in_use.push_back(p.subnet());
    }
    network::Netlink nl;
    for (const IpPrefix& r : nl.RouteDestinations(IpAddress::Family::kV4)) in_use.push_back(r);
    auto picked = network::PickSubnet(Pools(), in_use);
    if (!picked) throw Error(Kind::kUnavailable, "no free subnet for the default bridge");
    pc.subnet = *picked;
  }
  n->pools.emplace_back(pc);
  SaveNet(*n);
  nets_.push_back(std::move(n));
}

void NetworkService::SaveNet(const Net& n) {
  db_.Prepare("INSERT OR REPLACE INTO networks (id, name, doc) VALUES (?1, ?2, ?3)")
      .Bind(1, n.id)
      .Bind(2, n.name)
      .Bind(3, n.ToDoc().dump())
      .Run();
}

void NetworkService::SaveEndpoint(const Endpoint& ep) {
  db_.Prepare(
         "INSERT OR REPLACE INTO endpoints (container_id, network_id, seq, doc) VALUES (?1, ?2, "
         "?3, ?4)")
      .Bind(1, ep.container_id)
      .Bind(2, ep.network_id)
      .Bind(3, ep.seq)
      .Bind(4, ep.ToDoc().dump())
      .Run();
}

void NetworkService::DeleteEndpoint(const std::string& container_id,
                                    const std::string& network_id) {
  db_.Prepare("DELETE FROM endpoints WHERE container_id = ?1 AND network_id = ?2")
      .Bind(1, container_id)
      .Bind(2, network_id)
      .Run();
}

void NetworkService::Emit(const Net& n, const std::string& action, const std::string& container) {
  if (!events_) return;
  Event e;
  e.type = "network";
  e.action = action;
  e.actor.id = n.id;
  e.actor.attributes = {{"name", n.name}, {"type", n.driver}};
  if (!container.empty()) e.actor.attributes["container"] = container;
  events_->Publish(std::move(e));
}

NetworkService::Net* NetworkService::FindByIdLocked(const std::string& id) {
  for (auto& n : nets_) {
    if (n->id == id) return n.get();
  }
  return nullptr;
}

NetworkService::Net& NetworkService::FindLocked(const std::string& ref) {
  if (!ref.empty()) {
    for (auto& n : nets_) {
      if (n->id == ref) return *n;
    }
    for (auto& n : nets_) {
      if (n->name == ref) return *n;
    }
    Net* found = nullptr;
    for (auto& n : nets_) {
      if (n->id.compare(0, ref.size(), ref) == 0) {
        if (found) {
          ThrowInvalid("network " + ref + " is ambiguous (" + std::to_string(2) +
                       " matches found based on ID prefix)");
        }
        found = n.get();
      }
    }
    if (found) return *found;
  }
  ThrowNotFound("network " + ref + " not found");
}

std::string NetworkService::ResolveId(const std::string& ref) {
  std::lock_guard<std::mutex> lock(mu_);
  return FindLocked(ref).id;
}

std::string NetworkService::NameOf(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Net* n = FindByIdLocked(id);
  return n ? n->name : "";
}

void NetworkService::EnsureBridgeLocked(Net& n) {
  network::BridgeConfig bc;
  bc.name = n.bridge;
  bc.mtu = n.mtu;
  for (const AddressPool& p : n.pools) {
    bc.gateways.emplace_back(p.gateway(), p.subnet().length());
  }
  network::Netlink nl;
  network::EnsureBridge(nl, bc);
  if (dns_) {
    for (const AddressPool& p : n.pools) {
      try {
        dns_->Listen(p.gateway());
      } catch (const Error& e) {
        log::Warn("embedded DNS on " + p.gateway().String() + ": " + e.what());
      }
    }
  }
}

void NetworkService::HoldLocked(const std::string& container_id,
                                const std::vector<network::PublishedPort>& ports,
                                const std::optional<IpAddress>& address6) {
  std::vector<std::pair<size_t, uint16_t>> v6_tcp;
  std::vector<UniqueFd> fds = HoldPorts(ports, address6.has_value(), &v6_tcp);
  if (address6) {
    // Connections to ::1 reach these sockets (no DNAT can serve them): relayed to the
    // container's IPv6 address, as Docker's userland proxy does.
    for (const auto& [index, container_port] : v6_tcp) {
      UniqueFd copy(fcntl(fds[index].get(), F_DUPFD_CLOEXEC, 0));
      if (!copy) ThrowErrno("dup a published port's socket");
      proxy_->Add(container_id, std::move(copy), *address6, container_port);
    }
  }
  held_[container_id] = std::move(fds);
}

void NetworkService::ApplyRulesLocked() {
  network::NftState state;
  state.table = config_.nft_table;
  for (auto& n : nets_) {
    if (!n->is_bridge()) continue;
    network::NftBridge b;
    b.name = n->bridge;
    for (const AddressPool& p : n->pools) b.subnets.push_back(p.subnet());
    b.internal = n->internal;
    b.icc = n->icc;
    b.masquerade = n->masquerade;
    for (auto& ep : endpoints_) {
      if (ep->network_id != n->id || !ep->attached) continue;
      if (!n->icc && !ep->host_veth.empty()) b.ports.push_back(ep->host_veth);
      for (const auto& p : ep->ports) {
        state.published.push_back({p, ep->address->address(), n->bridge});
        if (ep->address6) state.published.push_back({p, ep->address6->address(), n->bridge});
      }
    }
    state.bridges.push_back(std::move(b));
  }
  // The whole state is one script; a change that leaves it as it was (a container without
  // published ports on a bridge with icc on) costs no nftables transaction at all.
  std::string script = network::RenderRuleset(state);
  if (script == applied_rules_) return;
  applied_rules_.clear();  // unknown until the new script went in
  network::Nftables().Run(script);
  applied_rules_ = std::move(script);
}

void NetworkService::UpdateDnsLocked(const Endpoint& ep) {
  Net* n = FindByIdLocked(ep.network_id);
  if (!n || !ep.address) return;
  network::DnsEndpoint d;
  d.network = n->id;
  if (n->user_defined()) {
    std::string name = ep.container_name;
    if (!name.empty() && name[0] == '/') name.erase(0, 1);
    if (!name.empty()) d.names.push_back(name);
    for (const auto& a : ep.aliases) d.names.push_back(a);
    d.names.push_back(ep.container_id.substr(0, 12));
  }
  d.addresses = {ep.address->address()};
  if (ep.address6) d.addresses.push_back(ep.address6->address());  // AAAA
  d.upstreams = ep.upstreams;
  for (auto& other : endpoints_) {
    if (other->container_id == ep.container_id && other.get() != &ep && other->attached) {
      d.sources.push_back(other->address->address());
      if (other->address6) d.sources.push_back(other->address6->address());
    }
  }
  dns_table_->Upsert(ep.network_id + "/" + ep.container_id, std::move(d));
}

void NetworkService::RefreshDnsLocked(const std::string& container_id) {
  for (auto& ep : endpoints_) {
    if (ep->container_id == container_id && ep->attached) UpdateDnsLocked(*ep);
  }
}

// ---- /networks ------------------------------------------------------------------------

json NetworkService::Create(const json& body) {
  if (!body.is_object()) ThrowInvalid("network create: the body must be a JSON object");
  std::string name = Str(body, "Name");
  static const std::regex kName("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$");
  if (name.empty()) ThrowInvalid("network name must not be empty");
  if (!std::regex_match(name, kName)) {
    ThrowInvalid("invalid network name \"" + name +
                 "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  }
  std::string driver = Str(body, "Driver");
  if (driver.empty()) driver = "bridge";
  if (driver == "host" || driver == "null") {
    throw Error(Kind::kPermissionDenied,
                "only one instance of \"" + driver + "\" network is allowed");
  }
  if (driver != "bridge") ThrowNotFound("plugin \"" + driver + "\" not found");
  auto n = std::make_unique<Net>();
  n->ipv6 = Bool(body, "EnableIPv6");
  n->name = name;
  n->driver = driver;
  n->internal = body.value("Internal", false);
  n->attachable = body.value("Attachable", false);
  n->labels = StringMap(body.value("Labels", json()), "Labels");
  n->options = StringMap(body.value("Options", json()), "Options");
  for (const auto& item : n->options.items()) {
    const std::string v = item.value().get<std::string>();
    if (item.key() == kBridgeNameOpt) {
      n->bridge = v;
      network::NftQuote(v);  // validates the characters
      if (v.empty() || v.size() > 15) ThrowInvalid("invalid bridge name \"" + v + "\"");
    } else if (item.key() == kIccOpt) {
      n->icc = Truthy(v);
    } else if (item.key() == kMasqOpt) {
      n->masquerade = Truthy(v);
    } else if (item.key() == kMtuOpt) {
      try {
        n->mtu = std::stoi(v);
      } catch (const std::exception&) {
        ThrowInvalid("invalid MTU \"" + v + "\"");
      }
      if (n->mtu < 68 || n->mtu > 65535) ThrowInvalid("invalid MTU \"" + v + "\"");
    }
  }
  std::vector<network::PoolConfig> configs;
  json ipam = body.value("IPAM", json::object());
  if (!ipam.is_object()) ipam = json::object();
  std::string ipam_driver = Str(ipam, "Driver");
  if (!ipam_driver.empty() && ipam_driver != "default") {
    ThrowNotFound("plugin \"" + ipam_driver + "\" not found");
  }
  std::optional<network::PoolConfig> config6;
  json ipam_config = ipam.value("Config", json::array());
  if (!ipam_config.is_array()) ipam_config = json::array();
  for (const auto& c : ipam_config) {
    network::PoolConfig pc = network::PoolConfigFromJson(c);
    bool v6 = pc.subnet.family() == IpAddress::Family::kV6;
    if (v6 && !n->ipv6) {
      // Docker 20.10 ignores such an entry silently; a subnet that is asked for and then not
      // there is a surprise, so Berth refuses it (docs/network.md, IPv6).
      ThrowInvalid("invalid subnet " + pc.subnet.String() + ": IPv6 has not been enabled");
    }
    if (v6 ? config6.has_value() : !configs.empty()) {
      throw Error(Kind::kNotImplemented, std::string("more than one ") + (v6 ? "IPv6" : "IPv4") +
                                             " subnet per network is not supported");
    }
    if (v6) {
      config6 = pc;
    } else {
      configs.push_back(pc);
    }
  }
  if (n->ipv6 && !config6) {
    // API 1.41 (Docker 20.10): no default IPv6 pools, --ipv6 needs --subnet.
    ThrowInvalid(
        "could not find an available, non-overlapping IPv6 address pool among the defaults to "
        "assign to the network");
  }

  std::lock_guard<std::mutex> lock(mu_);
  for (auto& o : nets_) {
    if (o->name == name) {
      ThrowConflict("network with name " + name + " already exists");
    }
    if (!n->bridge.empty() && o->bridge == n->bridge) {
      ThrowConflict("bridge name " + n->bridge + " is used by network " + o->name);
    }
  }
  std::vector<IpPrefix> existing;
  for (auto& o : nets_) {
    for (auto& p : o->pools) existing.push_back(p.subnet());
  }
  if (configs.empty()) {
    std::vector<IpPrefix> in_use = existing;
    network::Netlink nl;
    for (const IpPrefix& r : nl.RouteDestinations(IpAddress::Family::kV4)) in_use.push_back(r);
    auto picked = network::PickSubnet(Pools(), in_use);
    if (!picked) {
      throw Error(Kind::kUnavailable,
                  "could not find an available, non-overlapping IPv4 address pool among the "
                  "defaults to assign to the network");
    }
    network::PoolConfig pc;
    pc.subnet = *picked;
    configs.push_back(pc);
  }
  std::vector<IpPrefix> asked;
  for (const auto& pc : configs) asked.push_back(pc.subnet.Masked());
  if (config6) asked.push_back(config6->subnet.Masked());
  try {
    network::CheckNoOverlap(existing, asked);
  } catch (const Error& e) {
    if (e.kind() != Kind::kConflict) throw;
    // libnetwork's ipamapi.ErrPoolOverlap is a ForbiddenError: 403.
    throw Error(Kind::kPermissionDenied, "Pool overlaps with other one on this address space");
  }
  for (const auto& pc : configs) n->pools.emplace_back(pc);
  if (config6) n->pools.emplace_back(*config6);  // validated here: gateway, range
  n->id = RandomHex(32);
  n->created = Now();
  if (n->bridge.empty()) {
    size_t room =
        config_.user_bridge_prefix.size() < 15 ? 15 - config_.user_bridge_prefix.size() : 0;
    n->bridge = config_.user_bridge_prefix + n->id.substr(0, std::min<size_t>(12, room));
  }
  try {
    EnsureBridgeLocked(*n);
  } catch (...) {
    if (n->options.find(kBridgeNameOpt) == n->options.end()) {
      network::Netlink nl;
      nl.DeleteLinkIfExists(n->bridge);
    }
    throw;
  }
  SaveNet(*n);
  if (n->ipv6 && !n->internal) EnableIpv6Forwarding();
  Net& added = *n;
  nets_.push_back(std::move(n));
  try {
    ApplyRulesLocked();
  } catch (const Error& e) {
    log::Error("network create " + name + ": nftables: " + e.what());
  }
  Emit(added, "create");
  return {{"Id", added.id}, {"Warning", ""}};
}

void NetworkService::Remove(const std::string& ref) {
  std::lock_guard<std::mutex> lock(mu_);
  Net& n = FindLocked(ref);
  if (n.predefined()) {
    throw Error(Kind::kPermissionDenied,
                n.name + " is a pre-defined network and cannot be removed");
  }
  for (auto& ep : endpoints_) {
    if (ep->network_id == n.id && ep->allocated()) {
      throw Error(Kind::kPermissionDenied, "error while removing network: network " + n.name +
                                               " id " + n.id + " has active endpoints");
    }
  }
  if (dns_) {
    for (const AddressPool& p : n.pools) dns_->StopListening(p.gateway());
  }
  network::Netlink nl;
  nl.DeleteLinkIfExists(n.bridge);
  db_.Prepare("DELETE FROM networks WHERE id = ?1").Bind(1, n.id).Run();
  Net gone = n;
  std::string id = n.id;
  nets_.erase(std::remove_if(nets_.begin(), nets_.end(), [&](auto& x) { return x->id == id; }),
              nets_.end());
  try {
    ApplyRulesLocked();
  } catch (const Error& e) {
    log::Error("network rm " + gone.name + ": nftables: " + e.what());
  }
  Emit(gone, "destroy");
}

json NetworkService::NetJson(const Net& n, bool with_containers) {
  json config = json::array();
  for (const AddressPool& p : n.pools) {
    json c = {{"Subnet", p.subnet().String()}, {"Gateway", p.gateway().String()}};
    if (p.range() != p.subnet()) c["IPRange"] = p.range().String();
    config.push_back(c);
  }
  json containers = json::object();
  if (with_containers) {
    for (auto& ep : endpoints_) {
      if (ep->network_id != n.id || !ep->attached) continue;
      std::string cname = ep->container_name;
      if (!cname.empty() && cname[0] == '/') cname.erase(0, 1);
      containers[ep->container_id] = {{"Name", cname},
                                      {"EndpointID", ep->endpoint_id},
                                      {"MacAddress", ep->mac},
                                      {"IPv4Address", ep->address->String()},
                                      {"IPv6Address", ep->address6 ? ep->address6->String() : ""}};
    }
  }
  return {{"Name", n.name},
          {"Id", n.id},
          {"Created", n.created},
          {"Scope", "local"},
          {"Driver", n.driver},
          {"EnableIPv6", n.ipv6},
          {"IPAM", {{"Driver", "default"}, {"Options", nullptr}, {"Config", config}}},
          {"Internal", n.internal},
          {"Attachable", n.attachable},
          {"Ingress", false},
          {"ConfigFrom", {{"Network", ""}}},
          {"ConfigOnly", false},
          {"Containers", containers},
          {"Options", n.options},
          {"Labels", n.labels}};
}

json NetworkService::Inspect(const std::string& ref, bool /*verbose*/) {
  std::lock_guard<std::mutex> lock(mu_);
  return NetJson(FindLocked(ref), true);
}

namespace {

bool LabelsMatch(const json& labels, const std::vector<std::string>& wanted) {
  for (const std::string& w : wanted) {
    size_t eq = w.find('=');
    std::string key = w.substr(0, eq);
    auto it = labels.find(key);
    if (it == labels.end()) return false;
    if (eq != std::string::npos && *it != w.substr(eq + 1)) return false;
  }
  return true;
}

}  // namespace

json NetworkService::List(const Filters& filters) {
  static const std::set<std::string> kKnown = {"name",  "id",   "driver",  "label",
                                               "scope", "type", "dangling"};
  for (const auto& f : filters) {
    if (!kKnown.count(f.first)) ThrowInvalid("invalid filter '" + f.first + "'");
  }
  auto values = [&](const char* key) {
    auto it = filters.find(key);
    return it == filters.end() ? std::vector<std::string>{} : it->second;
  };
  for (const std::string& t : values("type")) {
    if (t != "custom" && t != "builtin") ThrowInvalid("invalid filter: 'type'='" + t + "'");
  }
  std::lock_guard<std::mutex> lock(mu_);
  json out = json::array();
  for (auto& n : nets_) {
    auto any = [&](const char* key, auto pred) {
      std::vector<std::string> v = values(key);
      if (v.empty()) return true;
      return std::any_of(v.begin(), v.end(), pred);
    };
    if (!any("name", [&](const std::string& s) { return n->name.find(s) != std::string::npos; }))
      continue;
    if (!any("id", [&](const std::string& s) { return n->id.compare(0, s.size(), s) == 0; }))
      continue;
    if (!any("driver", [&](const std::string& s) { return n->driver == s; })) continue;
    if (!any("scope", [&](const std::string& s) { return s == "local"; })) continue;
    if (!any("type", [&](const std::string& s) { return (s == "builtin") == n->predefined(); }))
      continue;
    if (!LabelsMatch(n->labels, values("label"))) continue;
    std::vector<std::string> dangling = values("dangling");
    if (!dangling.empty()) {
      bool used = n->predefined();
      for (auto& ep : endpoints_) used = used || ep->network_id == n->id;
      bool want = Truthy(dangling[0]);
      if (want == used) continue;
    }
    out.push_back(NetJson(*n, true));
  }
  return out;
}

json NetworkService::Prune(const Filters& filters) {
  for (const auto& f : filters) {
    if (f.first != "label" && f.first != "until" && f.first != "label!") {
      ThrowInvalid("invalid filter '" + f.first + "'");
    }
  }
  std::vector<std::string> candidates;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = filters.find("label");
    for (auto& n : nets_) {
      if (n->predefined()) continue;
      if (it != filters.end() && !LabelsMatch(n->labels, it->second)) continue;
      bool used = false;
      for (auto& ep : endpoints_) used = used || (ep->network_id == n->id && ep->allocated());
      if (!used) candidates.push_back(n->name);
    }
  }
  json deleted = json::array();
  for (const std::string& name : candidates) {
    try {
      Remove(name);
      deleted.push_back(name);
    } catch (const Error& e) {
      log::Warn("network prune " + name + ": " + e.what());
    }
  }
  return {{"NetworksDeleted", deleted}};
}

// ---- containers ------------------------------------------------------------------------

void NetworkService::Declare(const std::string& container_id,
                             const std::vector<EndpointRequest>& requests) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::unique_ptr<Endpoint>> added;
  int64_t seq = 0;
  for (auto& ep : endpoints_) {
    if (ep->container_id == container_id) seq = std::max(seq, ep->seq + 1);
  }
  for (const EndpointRequest& r : requests) {
    Net& n = FindLocked(r.network);
    if (!n.is_bridge()) {
      ThrowInvalid("container cannot be connected to network " + n.name + " (driver " + n.driver +
                   ")");
    }
    for (auto& ep : endpoints_) {
      if (ep->container_id == container_id && ep->network_id == n.id) {
        throw Error(Kind::kPermissionDenied, "endpoint with name " + container_id.substr(0, 12) +
                                                 " already exists in network " + n.name);
      }
    }
    if (!n.user_defined() && !r.aliases.empty()) {
      ThrowInvalid(
          "network-scoped alias is supported only for containers in user defined "
          "networks");
    }
    if (!r.ipv4.empty()) {
      if (!n.user_defined()) {
        ThrowInvalid("user specified IP address is supported on user defined networks only");
      }
      IpAddress a = IpAddress::ParseOrThrow(r.ipv4, "IPv4 address");
      if (!n.pools.at(0).subnet().Contains(a)) {
        ThrowInvalid("Address " + r.ipv4 + " does not belong to any of the network's subnets (" +
                     n.pools[0].subnet().String() + ")");
      }
    }
    if (!r.ipv6.empty()) {
      if (!n.user_defined()) {
        ThrowInvalid("user specified IP address is supported on user defined networks only");
      }
      IpAddress a = IpAddress::ParseOrThrow(r.ipv6, "IPv6 address");
      AddressPool* p6 = n.pool6();
      if (!a.is_v6() || !p6 || !p6->subnet().Contains(a)) {
        ThrowInvalid("Address " + r.ipv6 + " does not belong to any of the network's subnets" +
                     (p6 ? " (" + p6->subnet().String() + ")" : std::string(" (no IPv6 subnet)")));
      }
    }
    auto ep = std::make_unique<Endpoint>();
    ep->container_id = container_id;
    ep->network_id = n.id;
    ep->seq = seq++;
    ep->aliases = r.aliases;
    ep->static_ipv4 = r.ipv4;
    ep->static_ipv6 = r.ipv6;
    added.push_back(std::move(ep));
  }
  Transaction tx(db_);
  for (auto& ep : added) SaveEndpoint(*ep);
  tx.Commit();
  for (auto& ep : added) endpoints_.push_back(std::move(ep));
}

void NetworkService::Undeclare(const std::string& container_id, const std::string& network_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ReleaseLocked(container_id, network_id, false);
  DeleteEndpoint(container_id, network_id);
  endpoints_.erase(std::remove_if(endpoints_.begin(), endpoints_.end(),
                                  [&](auto& ep) {
                                    return ep->container_id == container_id &&
                                           ep->network_id == network_id;
                                  }),
                   endpoints_.end());
}

void NetworkService::Forget(const std::string& container_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ReleaseLocked(container_id, "", false);
  db_.Prepare("DELETE FROM endpoints WHERE container_id = ?1").Bind(1, container_id).Run();
  endpoints_.erase(std::remove_if(endpoints_.begin(), endpoints_.end(),
                                  [&](auto& ep) { return ep->container_id == container_id; }),
                   endpoints_.end());
}

void NetworkService::Renamed(const std::string& container_id, const std::string& new_name) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& ep : endpoints_) {
    if (ep->container_id != container_id || !ep->allocated()) continue;
    ep->container_name = new_name;
    SaveEndpoint(*ep);
  }
  RefreshDnsLocked(container_id);
}

std::vector<std::string> NetworkService::DeclaredNetworks(const std::string& container_id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<int64_t, std::string>> found;
  for (auto& ep : endpoints_) {
    if (ep->container_id == container_id) found.emplace_back(ep->seq, ep->network_id);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

std::vector<EndpointLease> NetworkService::Allocate(
    const std::string& container_id, const std::string& container_name,
    const std::vector<network::PortBinding>& bindings,
    const std::vector<network::IpAddress>& upstreams, const std::string& only_network) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Endpoint*> mine;
  for (auto& ep : endpoints_) {
    if (ep->container_id != container_id) continue;
    if (!only_network.empty() && ep->network_id != only_network) continue;
    mine.push_back(ep.get());
  }
  std::sort(mine.begin(), mine.end(), [](Endpoint* a, Endpoint* b) { return a->seq < b->seq; });
  std::vector<EndpointLease> leases;
  std::vector<std::pair<AddressPool*, IpAddress>> taken;
  std::vector<Net*> nets;
  std::vector<network::PublishedPort> published;
  try {
    for (Endpoint* ep : mine) {
      if (ep->allocated()) {
        ThrowConflict("endpoint of " + container_id.substr(0, 12) + " on network " +
                      ep->network_id.substr(0, 12) + " is allocated already");
      }
      Net* n = FindByIdLocked(ep->network_id);
      if (!n) ThrowNotFound("network " + ep->network_id + " not found");
      AddressPool& pool = n->pools.at(0);
      IpAddress a;
      if (!ep->static_ipv4.empty()) {
        a = IpAddress::ParseOrThrow(ep->static_ipv4);
        pool.AllocateSpecific(a);
      } else {
        a = pool.Allocate();
      }
      taken.emplace_back(&pool, a);
      nets.push_back(n);
      EndpointLease l;
      l.network_id = n->id;
      l.network_name = n->name;
      l.bridge = n->bridge;
      l.address = IpPrefix(a, pool.subnet().length());
      l.gateway = pool.gateway();
      l.internal = n->internal;
      l.user_defined = n->user_defined();
      l.mtu = n->mtu;
      l.aliases = ep->aliases;
      if (AddressPool* p6 = n->ipv6 ? n->pool6() : nullptr) {
        IpAddress a6;
        if (!ep->static_ipv6.empty()) {
          a6 = IpAddress::ParseOrThrow(ep->static_ipv6);
          p6->AllocateSpecific(a6);
        } else {
          a6 = p6->Allocate();
        }
        taken.emplace_back(p6, a6);
        l.address6 = IpPrefix(a6, p6->subnet().length());
        l.gateway6 = p6->gateway();
      }
      leases.push_back(l);
    }
    if (!mine.empty() && only_network.empty() && !bindings.empty()) {
      // A port picked from the ephemeral range may be held by another process (a client's
      // own ephemeral port, another daemon): the allocator's round robin offers the next.
      bool ephemeral =
          std::any_of(bindings.begin(), bindings.end(),
                      [](const network::PortBinding& b) { return b.host_port_first == 0; });
      for (int attempt = 1;; ++attempt) {
        published = ports_->Allocate(bindings);
        try {
          HoldLocked(
              container_id, published,
              leases[0].address6 ? std::optional(leases[0].address6->address()) : std::nullopt);
          break;
        } catch (const Error& e) {
          proxy_->Remove(container_id);
          ports_->Release(published);
          if (e.kind() == Kind::kConflict && ephemeral && attempt < kBindAttempts) {
            continue;
          }
          throw;
        } catch (...) {
          proxy_->Remove(container_id);
          ports_->Release(published);
          throw;
        }
      }
    }
  } catch (...) {
    for (auto& t : taken) t.first->Release(t.second);
    throw;
  }
  Transaction tx(db_);
  for (size_t i = 0; i < mine.size(); ++i) {
    Endpoint* ep = mine[i];
    ep->container_name = container_name;
    ep->endpoint_id = RandomHex(32);
    ep->address = leases[i].address;
    ep->address6 = leases[i].address6;
    ep->attached = false;
    ep->host_veth.clear();
    ep->upstreams = upstreams;
    ep->ports = i == 0 ? published : std::vector<network::PublishedPort>{};
    SaveEndpoint(*ep);
    SaveNet(*nets[i]);
  }
  tx.Commit();
  return leases;
}

void NetworkService::Attach(const std::string& container_id, int netns_fd,
                            const std::string& only_network) {
  std::lock_guard<std::mutex> lock(mu_);
  network::Netlink nl;
  for (auto& ep : endpoints_) {
    if (ep->container_id != container_id || !ep->allocated() || ep->attached) continue;
    if (!only_network.empty() && ep->network_id != only_network) continue;
    Net* n = FindByIdLocked(ep->network_id);
    if (!n) ThrowNotFound("network " + ep->network_id + " not found");
    network::EndpointConfig cfg;
    cfg.bridge_index = nl.LinkIndexOrThrow(n->bridge);
    cfg.addresses = {*ep->address};
    if (ep->address6) cfg.addresses.push_back(*ep->address6);
    cfg.ipv6 = ep->address6.has_value();
    cfg.mtu = n->mtu;
    // eth0, eth1, … in the order the container joined its networks; the default route goes
    // through the first one that is not --internal (one default route per namespace).
    int index = 0;
    bool routed = false;
    for (auto& other : endpoints_) {
      if (other->container_id != container_id || !other->attached) continue;
      ++index;
      Net* on = FindByIdLocked(other->network_id);
      routed = routed || (on && !on->internal);
    }
    if (!n->internal && !routed) {
      cfg.gateway4 = n->pools.at(0).gateway();
      if (ep->address6 && n->pool6()) cfg.gateway6 = n->pool6()->gateway();
    }
    cfg.ifname = "eth" + std::to_string(index);
    // Docker's MAC for the address (02:42:…), set at creation: no read-back needed.
    cfg.mac = network::MacForAddress(ep->address->address());
    ep->host_veth = network::AttachEndpoint(nl, netns_fd, cfg);
    ep->attached = true;
    ep->mac = network::MacString(*cfg.mac);
    SaveEndpoint(*ep);
    Emit(*n, "connect", container_id);
  }
  RefreshDnsLocked(container_id);
  ApplyRulesLocked();
}

void NetworkService::ReleaseLocked(const std::string& container_id, const std::string& only_network,
                                   bool namespace_gone) {
  bool changed = false;
  for (auto& ep : endpoints_) {
    if (ep->container_id != container_id || !ep->allocated()) continue;
    if (!only_network.empty() && ep->network_id != only_network) continue;
    Net* n = FindByIdLocked(ep->network_id);
    if (!ep->host_veth.empty() && !namespace_gone) {
      try {
        network::Netlink nl;
        network::DetachEndpoint(nl, ep->host_veth);
      } catch (const Error& e) {
        log::Warn("detach " + ep->host_veth + ": " + e.what());
      }
    }
    if (n) n->pools.at(0).Release(ep->address->address());
    if (n && ep->address6 && n->pool6()) n->pool6()->Release(ep->address6->address());
    ports_->Release(ep->ports);
    if (!ep->ports.empty()) {
      proxy_->Remove(container_id);
      held_.erase(container_id);
    }
    dns_table_->Remove(ep->network_id + "/" + ep->container_id);
    if (ep->attached && n) Emit(*n, "disconnect", container_id);
    ep->address.reset();
    ep->address6.reset();
    ep->host_veth.clear();
    ep->mac.clear();
    ep->attached = false;
    ep->ports.clear();
    ep->endpoint_id.clear();
    Transaction tx(db_);
    SaveEndpoint(*ep);
    if (n) SaveNet(*n);
    tx.Commit();
    changed = true;
  }
  if (changed) {
    RefreshDnsLocked(container_id);
    try {
      ApplyRulesLocked();
    } catch (const Error& e) {
      log::Error(std::string("nftables: ") + e.what());
    }
  }
}

void NetworkService::Release(const std::string& container_id, bool namespace_gone) {
  std::lock_guard<std::mutex> lock(mu_);
  ReleaseLocked(container_id, "", namespace_gone);
}

void NetworkService::Reconcile(const std::vector<std::string>& running) {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> alive(running.begin(), running.end());
  std::set<std::string> stale;
  for (auto& ep : endpoints_) {
    if (ep->allocated() && !alive.count(ep->container_id)) stale.insert(ep->container_id);
  }
  for (const std::string& id : stale) ReleaseLocked(id, "", true);
  bool forward = false, forward6 = false;
  for (auto& n : nets_) {
    if (!n->is_bridge()) continue;
    forward = forward || !n->internal;
    forward6 = forward6 || (!n->internal && n->ipv6);
    try {
      EnsureBridgeLocked(*n);
    } catch (const Error& e) {
      log::Error("network " + n->name + ": bridge " + n->bridge + ": " + e.what());
    }
  }
  for (auto& ep : endpoints_) {
    if (!ep->allocated()) continue;
    try {
      ports_->Reserve(ep->ports);
      if (!ep->ports.empty()) {
        HoldLocked(ep->container_id, ep->ports,
                   ep->address6 ? std::optional(ep->address6->address()) : std::nullopt);
      }
    } catch (const Error& e) {
      log::Warn("container " + ep->container_id.substr(0, 12) + ": " + e.what());
    }
    if (ep->attached) UpdateDnsLocked(*ep);
  }
  if (forward) {
    try {
      network::WriteSysctl("net/ipv4/ip_forward", "1");
    } catch (const Error& e) {
      log::Warn(std::string("ip_forward: ") + e.what());
    }
  }
  if (forward6) EnableIpv6Forwarding();
  try {
    ApplyRulesLocked();
  } catch (const Error& e) {
    log::Error(std::string("nftables: ") + e.what());
  }
}

json NetworkService::ContainerNetworks(const std::string& container_id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Endpoint*> mine;
  for (auto& ep : endpoints_) {
    if (ep->container_id == container_id) mine.push_back(ep.get());
  }
  if (mine.empty()) return nullptr;
  std::sort(mine.begin(), mine.end(), [](Endpoint* a, Endpoint* b) { return a->seq < b->seq; });
  json out = json::object();
  for (Endpoint* ep : mine) {
    Net* n = FindByIdLocked(ep->network_id);
    std::string name = n ? n->name : ep->network_id;
    json aliases = nullptr;
    if (n && n->user_defined()) {
      aliases = ep->aliases;
      aliases.push_back(container_id.substr(0, 12));
    }
    bool on = ep->attached && ep->address;
    bool on6 = on && ep->address6 && n && n->pool6();
    json ipam = nullptr;
    if (!ep->static_ipv4.empty()) ipam["IPv4Address"] = ep->static_ipv4;
    if (!ep->static_ipv6.empty()) ipam["IPv6Address"] = ep->static_ipv6;
    out[name] = {{"IPAMConfig", ipam},
                 {"Links", nullptr},
                 {"Aliases", aliases},
                 {"NetworkID", ep->network_id},
                 {"EndpointID", on ? ep->endpoint_id : ""},
                 {"Gateway", on && n ? n->pools.at(0).gateway().String() : ""},
                 {"IPAddress", on ? ep->address->address().String() : ""},
                 {"IPPrefixLen", on ? ep->address->length() : 0},
                 {"IPv6Gateway", on6 ? n->pool6()->gateway().String() : ""},
                 {"GlobalIPv6Address", on6 ? ep->address6->address().String() : ""},
                 {"GlobalIPv6PrefixLen", on6 ? ep->address6->length() : 0},
                 {"MacAddress", on ? ep->mac : ""},
                 {"DriverOpts", nullptr}};
  }
  return out;
}

std::vector<network::PublishedPort> NetworkService::PublishedPorts(
    const std::string& container_id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<network::PublishedPort> out;
  for (auto& ep : endpoints_) {
    if (ep->container_id != container_id || !ep->attached) continue;
    for (const auto& p : ep->ports) {
      out.push_back(p);
      if (!p.host_ip && ep->address6) {
        // Held and DNATed on IPv6 as well: Docker lists it twice, 0.0.0.0 and ::.
        network::PublishedPort any6 = p;
        any6.host_ip = IpAddress::Parse("::");
        out.push_back(any6);
      }
    }
  }
  return out;
}

}  // namespace berth::engine

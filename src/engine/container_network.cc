// A container's networking, as ContainerService drives it (docs/network.md, "In berthd"):
//
//   create  DeclareNetworks: the endpoints it asks for (NetworkMode, EndpointsConfig), checked
//   start   PrepareNetwork: addresses and host ports (NetworkService::Allocate), /etc/hostname,
//           /etc/hosts and /etc/resolv.conf under containers/<id>/, bound into the spec
//           (before the shim runs)
//           AttachNetwork: once the runtime created the init (and with it the network
//           namespace) and before the container's process starts: veths, DNS names, rules
//   exit    ReleaseNetwork, also after a failed start; idempotent
//
// `--network container:<id>` joins the other container's namespace through the spec's
// namespace path and shares its /etc files; `none` and `host` change nothing here.

#include <fcntl.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "base/log.h"
#include "engine/container_service.h"
#include "engine/container_service_internal.h"
#include "network/etc_files.h"
#include "network/port_spec.h"
#include "runtime/container.h"

namespace berth::engine {

using nlohmann::json;

namespace {

std::string Str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::vector<std::string> Strings(const json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.is_object()) return out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

bool Bridged(const std::string& mode) {
  return mode != "none" && mode != "host" && mode.rfind("container:", 0) != 0;
}

EndpointRequest RequestFrom(const std::string& network, const json& settings) {
  EndpointRequest r;
  r.network = network;
  r.aliases = Strings(settings, "Aliases");
  if (settings.is_object()) {
    r.ipv4 = Str(settings.value("IPAMConfig", json()), "IPv4Address");
    r.ipv6 = Str(settings.value("IPAMConfig", json()), "IPv6Address");
  }
  return r;
}

std::vector<std::string> ExposedKeys(const Container& c) {
  std::vector<std::string> keys;
  json exposed = c.config.is_object() ? c.config.value("ExposedPorts", json()) : json();
  if (exposed.is_object()) {
    for (const auto& item : exposed.items()) keys.push_back(item.key());
  }
  return keys;
}

std::vector<network::PortBinding> Bindings(const Container& c) {
  std::vector<network::PortBinding> out;
  json pb = c.host_config.value("PortBindings", json());
  if (pb.is_object()) out = network::PortBindingsFromJson(pb);
  if (c.host_config.value("PublishAllPorts", false)) {
    std::vector<std::string> exposed;
    for (const std::string& key : ExposedKeys(c)) {
      auto [proto, port] = network::ParsePortKey(key);
      bool bound = false;
      for (const auto& b : out) bound = bound || (b.proto == proto && b.container_port == port);
      if (!bound) exposed.push_back(key);
    }
    for (auto& b : network::PublishAll(exposed)) out.push_back(b);
  }
  return out;
}

void BindFile(json& spec, const std::string& source, const std::string& destination) {
  json& mounts = spec["mounts"];
  for (auto it = mounts.begin(); it != mounts.end(); ++it) {
    if ((*it).value("destination", "") == destination) {
      mounts.erase(it);
      break;
    }
  }
  mounts.push_back({{"destination", destination},
                    {"type", "bind"},
                    {"source", source},
                    {"options", {"rbind", "rprivate"}}});
}

// The container's own copy: written before the bind (a rename after it would not be seen),
// owned by the container's root so it can edit it as in Docker.
void WriteEtcFile(const std::string& path, const std::string& text, uint64_t owner) {
  WriteFileAtomic(path, text, 0644, Durability::kVolatile);
  if (owner != 0 && chown(path.c_str(), static_cast<uid_t>(owner), static_cast<gid_t>(owner)) < 0) {
    ThrowErrno("chown " + path);
  }
}

}  // namespace

void ContainerService::DeclareNetworks(const Container& c, const json& body) {
  // Checked here so that a bad -p is a 400 at create rather than at start.
  Bindings(c);
  if (!networks_) return;
  std::string mode = c.host_config.value("NetworkMode", "default");
  if (!Bridged(mode)) return;
  std::string primary = mode == "default" ? "bridge" : mode;
  json endpoints = json::object();
  if (body.contains("NetworkingConfig") && body["NetworkingConfig"].is_object()) {
    endpoints = body["NetworkingConfig"].value("EndpointsConfig", json::object());
    if (!endpoints.is_object()) endpoints = json::object();
  }
  std::string primary_id = networks_->ResolveId(primary);
  std::vector<EndpointRequest> requests;
  json primary_settings;
  std::vector<std::pair<std::string, json>> others;
  for (const auto& item : endpoints.items()) {
    std::string id = networks_->ResolveId(item.key());
    if (id == primary_id) {
      primary_settings = item.value();
    } else {
      others.emplace_back(item.key(), item.value());
    }
  }
  requests.push_back(RequestFrom(primary, primary_settings));
  for (auto& o : others) requests.push_back(RequestFrom(o.first, o.second));
  networks_->Declare(c.id, requests);
}

void ContainerService::PrepareNetwork(Entry& e, json& spec) {
  Container c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    c = e.c;
  }
  std::string mode = c.host_config.value("NetworkMode", "default");
  if (mode.rfind("container:", 0) == 0) {
    std::shared_ptr<Entry> other = Find(mode.substr(10));
    int64_t pid;
    std::string other_id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pid = other->c.Running() ? other->c.state.pid : 0;
      other_id = other->c.id;
    }
    if (other_id == c.id) ThrowInvalid("cannot join own network");
    if (pid == 0) ThrowConflict("cannot join network of a non running container: " + other_id);
    for (auto& ns : spec["linux"]["namespaces"]) {
      if (ns.value("type", "") == "network")
        ns["path"] = "/proc/" + std::to_string(pid) + "/ns/net";
    }
    std::string other_dir = Dir(other_id);
    for (const char* f : {"hosts", "hostname", "resolv.conf"}) {
      std::string path = JoinPath(other_dir, f);
      if (access(path.c_str(), F_OK) == 0) BindFile(spec, path, std::string("/etc/") + f);
    }
    return;
  }
  if (!networks_ || !Bridged(mode)) return;

  network::ResolvOptions ro;
  ro.dns = Strings(c.host_config, "Dns");
  ro.dns_search = Strings(c.host_config, "DnsSearch");
  ro.dns_options = Strings(c.host_config, "DnsOptions");
  std::vector<network::IpAddress> upstreams;
  for (const std::string& d : ro.dns) {
    upstreams.push_back(network::IpAddress::ParseOrThrow(d, "DNS server"));
  }
  std::vector<EndpointLease> leases = networks_->Allocate(c.id, c.name, Bindings(c), upstreams);
  if (leases.empty()) return;  // declared on no network (a record from before networking)
  try {
    std::string dir = Dir(c.id);
    std::string hostname = Str(c.config, "Hostname");
    if (hostname.empty()) hostname = c.id.substr(0, 12);
    network::HostsOptions ho;
    ho.hostname = hostname;
    ho.domainname = Str(c.config, "Domainname");
    for (const EndpointLease& l : leases) ho.addresses.push_back(l.address.address());
    for (const EndpointLease& l : leases) {
      if (l.address6) ho.addresses.push_back(l.address6->address());
    }
    for (const std::string& h : Strings(c.host_config, "ExtraHosts")) {
      ho.extra_hosts.push_back(network::ParseExtraHost(h, leases[0].gateway));
    }
    const EndpointLease& primary = leases[0];
    network::ResolvConf host = network::ParseResolvConf(networks_->HostResolvConf());
    if (primary.user_defined) {
      ro.embedded_dns = primary.gateway;
    } else {
      ro.fallback = {primary.gateway};
    }
    uint64_t owner = c.userns_base;
    WriteEtcFile(JoinPath(dir, "hostname"), network::GenerateHostname(hostname), owner);
    WriteEtcFile(JoinPath(dir, "hosts"), network::GenerateHosts(ho), owner);
    WriteEtcFile(JoinPath(dir, "resolv.conf"), network::GenerateResolvConf(host, ro), owner);
    BindFile(spec, JoinPath(dir, "hostname"), "/etc/hostname");
    BindFile(spec, JoinPath(dir, "hosts"), "/etc/hosts");
    BindFile(spec, JoinPath(dir, "resolv.conf"), "/etc/resolv.conf");
  } catch (...) {
    networks_->Release(c.id);
    throw;
  }
}

void ContainerService::AttachNetwork(Entry& e, int64_t init_pid) {
  if (!networks_) return;
  std::string id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = e.c.id;
  }
  if (networks_->DeclaredNetworks(id).empty()) return;
  std::string path = "/proc/" + std::to_string(init_pid) + "/ns/net";
  UniqueFd ns(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) ThrowErrno("open " + path);
  networks_->Attach(id, ns.get());
}

void ContainerService::ReleaseNetwork(const std::string& id, bool exited) {
  if (!networks_) return;
  // After the exit the namespace is gone with the init, unless a running container joined it.
  bool gone = exited;
  if (gone) {
    std::lock_guard<std::mutex> lock(mu_);
    auto self = entries_.find(id);
    std::string name = self != entries_.end() ? self->second->c.name : "";
    for (auto& item : entries_) {
      const Container& o = item.second->c;
      std::string mode = o.host_config.value("NetworkMode", "");
      if (!o.Running() || mode.rfind("container:", 0) != 0) continue;
      std::string ref = mode.substr(10);
      if (id.rfind(ref, 0) == 0 || "/" + ref == name || ref == name) gone = false;
    }
  }
  try {
    networks_->Release(id, gone);
  } catch (const Error& err) {
    log::Warn("release the network of " + id + ": " + err.what());
  }
}

json ContainerService::PortsJson(const Container& c, bool list) {
  std::vector<network::PublishedPort> published;
  if (networks_) published = networks_->PublishedPorts(c.id);
  std::vector<std::string> exposed = ExposedKeys(c);
  if (!list) {
    return c.Running() ? network::PortsToJson(published, exposed) : json::object();
  }
  json out = json::array();
  for (const auto& p : published) {
    out.push_back({{"IP", p.host_ip ? p.host_ip->String() : "0.0.0.0"},
                   {"PrivatePort", p.container_port},
                   {"PublicPort", p.host_port},
                   {"Type", network::ProtoName(p.proto)}});
  }
  for (const std::string& key : exposed) {
    auto [proto, port] = network::ParsePortKey(key);
    bool done = false;
    for (const auto& p : published) done = done || (p.proto == proto && p.container_port == port);
    if (!done) out.push_back({{"PrivatePort", port}, {"Type", network::ProtoName(proto)}});
  }
  return out;
}

void ContainerService::ConnectNetwork(const std::string& ref, const std::string& network,
                                      const EndpointRequest& request) {
  if (!networks_) throw Error(Kind::kNotImplemented, "networking is not enabled");
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> op(e->op);
  Container c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    c = e->c;
  }
  std::string mode = c.host_config.value("NetworkMode", "default");
  if (!Bridged(mode)) {
    throw Error(Kind::kPermissionDenied,
                "container sharing network namespace with another container or host cannot be "
                "connected to any other network");
  }
  std::string net_id = networks_->ResolveId(network);
  EndpointRequest r = request;
  r.network = net_id;
  networks_->Declare(c.id, {r});
  if (!c.Running()) return;
  try {
    std::vector<network::IpAddress> upstreams;
    for (const std::string& d : Strings(c.host_config, "Dns")) {
      upstreams.push_back(network::IpAddress::ParseOrThrow(d, "DNS server"));
    }
    networks_->Allocate(c.id, c.name, {}, upstreams, net_id);
    std::string path = "/proc/" + std::to_string(c.state.pid) + "/ns/net";
    UniqueFd ns(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) ThrowErrno("open " + path);
    networks_->Attach(c.id, ns.get(), net_id);
  } catch (...) {
    networks_->Undeclare(c.id, net_id);
    throw;
  }
}

void ContainerService::DisconnectNetwork(const std::string& ref, const std::string& network,
                                         bool /*force*/) {
  if (!networks_) throw Error(Kind::kNotImplemented, "networking is not enabled");
  std::shared_ptr<Entry> e = Find(ref);
  std::lock_guard<std::mutex> op(e->op);
  std::string id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = e->c.id;
  }
  std::string net_id = networks_->ResolveId(network);
  std::vector<std::string> declared = networks_->DeclaredNetworks(id);
  if (std::find(declared.begin(), declared.end(), net_id) == declared.end()) {
    ThrowInvalid("container " + id + " is not connected to network " + network);
  }
  networks_->Undeclare(id, net_id);
}

}  // namespace berth::engine

#include "network/port_spec.h"

#include <charconv>

#include "base/error.h"

namespace berth::network {

std::string_view ProtoName(Proto p) {
  switch (p) {
    case Proto::kTcp:
      return "tcp";
    case Proto::kUdp:
      return "udp";
    case Proto::kSctp:
      return "sctp";
  }
  return "tcp";
}

std::optional<Proto> ParseProto(std::string_view name) {
  std::string lower;
  for (char c : name) {
    lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  if (lower == "tcp") {
    return Proto::kTcp;
  }
  if (lower == "udp") {
    return Proto::kUdp;
  }
  if (lower == "sctp") {
    return Proto::kSctp;
  }
  return std::nullopt;
}

namespace {

std::optional<uint16_t> ParsePort(std::string_view s) {
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || v > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(v);
}

// "80" or "80-90"; nullopt when malformed or reversed.
std::optional<std::pair<uint16_t, uint16_t>> ParseRange(std::string_view s) {
  auto dash = s.find('-');
  if (dash == std::string_view::npos) {
    auto p = ParsePort(s);
    if (!p) {
      return std::nullopt;
    }
    return std::pair{*p, *p};
  }
  auto a = ParsePort(s.substr(0, dash));
  auto b = ParsePort(s.substr(dash + 1));
  if (!a || !b || *b < *a) {
    return std::nullopt;
  }
  return std::pair{*a, *b};
}

}  // namespace

std::vector<PortBinding> ParsePortSpec(std::string_view spec) {
  // Docker's splitParts: the last two colon-separated parts are host and container port, what
  // precedes them (colons and all, for IPv6) the address.
  std::string_view ip, host, container = spec;
  auto last = spec.rfind(':');
  if (last != std::string_view::npos) {
    container = spec.substr(last + 1);
    std::string_view rest = spec.substr(0, last);
    auto second = rest.rfind(':');
    if (second == std::string_view::npos) {
      host = rest;
    } else {
      host = rest.substr(second + 1);
      ip = rest.substr(0, second);
    }
  }
  std::string_view proto_name = "tcp";
  if (auto slash = container.find('/'); slash != std::string_view::npos) {
    proto_name = container.substr(slash + 1);
    container = container.substr(0, slash);
  }
  std::string host_ip(ip);
  if (!host_ip.empty() && host_ip.front() == '[') {
    if (host_ip.back() != ']') {
      ThrowInvalid("invalid IP address: " + host_ip);
    }
    host_ip = host_ip.substr(1, host_ip.size() - 2);
  }
  if (!host_ip.empty() && !IpAddress::Parse(host_ip)) {
    ThrowInvalid("invalid IP address: " + host_ip);
  }
  if (container.empty()) {
    ThrowInvalid("no port specified: " + std::string(spec) + "<empty>");
  }
  auto cr = ParseRange(container);
  if (!cr || cr->first == 0) {
    ThrowInvalid("invalid containerPort: " + std::string(container));
  }
  std::pair<uint16_t, uint16_t> hr{0, 0};
  if (!host.empty()) {
    auto h = ParseRange(host);
    if (!h) {
      ThrowInvalid("invalid hostPort: " + std::string(host));
    }
    hr = *h;
    if (hr.second - hr.first != cr->second - cr->first && cr->first != cr->second) {
      ThrowInvalid("invalid ranges specified for container and host Ports: " +
                   std::string(container) + " and " + std::string(host));
    }
  }
  auto proto = ParseProto(proto_name);
  if (!proto) {
    ThrowInvalid("invalid proto: " + std::string(proto_name));
  }
  std::vector<PortBinding> out;
  for (unsigned i = 0; i <= unsigned(cr->second - cr->first); ++i) {
    PortBinding b;
    b.proto = *proto;
    b.container_port = static_cast<uint16_t>(cr->first + i);
    b.host_ip = host_ip;
    if (cr->first == cr->second) {
      b.host_port_first = hr.first;  // a host range (or one port) for one container port
      b.host_port_last = hr.second;
    } else if (!host.empty()) {
      b.host_port_first = b.host_port_last = static_cast<uint16_t>(hr.first + i);
    }
    out.push_back(b);
  }
  return out;
}

std::string PortKey(Proto proto, uint16_t container_port) {
  return std::to_string(container_port) + "/" + std::string(ProtoName(proto));
}

std::pair<Proto, uint16_t> ParsePortKey(std::string_view key) {
  std::string_view port = key, proto_name = "tcp";
  if (auto slash = key.find('/'); slash != std::string_view::npos) {
    port = key.substr(0, slash);
    proto_name = key.substr(slash + 1);
  }
  auto p = ParsePort(port);
  auto proto = ParseProto(proto_name);
  if (!p || *p == 0 || !proto) {
    ThrowInvalid("invalid port: \"" + std::string(key) + "\"");
  }
  return {*proto, *p};
}

std::vector<PortBinding> PublishAll(const std::vector<std::string>& exposed) {
  std::vector<PortBinding> out;
  for (const auto& key : exposed) {
    // EXPOSE 8000-8010 arrives as one key per port; tolerate a range anyway.
    std::string_view k = key;
    std::string_view proto_part;
    if (auto slash = k.find('/'); slash != std::string_view::npos) {
      proto_part = k.substr(slash);
      k = k.substr(0, slash);
    }
    auto r = ParseRange(k);
    if (!r || r->first == 0) {
      ThrowInvalid("invalid exposed port: \"" + key + "\"");
    }
    for (unsigned p = r->first; p <= r->second; ++p) {
      auto [proto, port] = ParsePortKey(std::to_string(p) + std::string(proto_part));
      PortBinding b;
      b.proto = proto;
      b.container_port = port;
      out.push_back(b);
    }
  }
  return out;
}

std::vector<PortBinding> PortBindingsFromJson(const nlohmann::json& port_bindings) {
  std::vector<PortBinding> out;
  if (port_bindings.is_null()) {
    return out;
  }
  if (!port_bindings.is_object()) {
    ThrowInvalid("HostConfig.PortBindings must be an object");
  }
  for (const auto& [key, list] : port_bindings.items()) {
    auto [proto, port] = ParsePortKey(key);
    if (list.is_null()) {
      continue;
    }
    if (!list.is_array()) {
      ThrowInvalid("HostConfig.PortBindings[\"" + key + "\"] must be an array");
    }
    for (const auto& entry : list) {
      PortBinding b;
      b.proto = proto;
      b.container_port = port;
      if (!entry.is_object()) {
        ThrowInvalid("HostConfig.PortBindings[\"" + key + "\"]: an entry must be an object");
      }
      if (auto ip = entry.find("HostIp"); ip != entry.end() && ip->is_string()) {
        b.host_ip = ip->get<std::string>();
        if (!b.host_ip.empty() && !IpAddress::Parse(b.host_ip)) {
          ThrowInvalid("invalid IP address: " + b.host_ip);
        }
      }
      if (auto hp = entry.find("HostPort"); hp != entry.end() && hp->is_string()) {
        std::string text = hp->get<std::string>();
        if (!text.empty()) {
          auto r = ParseRange(text);
          if (!r) {
            ThrowInvalid("invalid hostPort: " + text);
          }
          b.host_port_first = r->first;
          b.host_port_last = r->second;
        }
      }
      out.push_back(b);
    }
  }
  return out;
}

nlohmann::json PortBindingsToJson(const std::vector<PortBinding>& bindings) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& b : bindings) {
    std::string host_port;
    if (b.host_port_first != 0) {
      host_port = std::to_string(b.host_port_first);
      if (b.host_port_last != b.host_port_first) {
        host_port += "-" + std::to_string(b.host_port_last);
      }
    }
    j[PortKey(b.proto, b.container_port)].push_back(
        {{"HostIp", b.host_ip}, {"HostPort", host_port}});
  }
  return j;
}

nlohmann::json PortsToJson(const std::vector<PublishedPort>& published,
                           const std::vector<std::string>& exposed) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& key : exposed) {
    auto [proto, port] = ParsePortKey(key);
    j[PortKey(proto, port)] = nullptr;
  }
  for (const auto& p : published) {
    auto& list = j[PortKey(p.proto, p.container_port)];
    if (list.is_null()) {
      list = nlohmann::json::array();
    }
    list.push_back({{"HostIp", p.host_ip ? p.host_ip->String() : "0.0.0.0"},
                    {"HostPort", std::to_string(p.host_port)}});
  }
  return j;
}

PortAllocator::PortAllocator(uint16_t ephemeral_first, uint16_t ephemeral_last)
    : first_(ephemeral_first), last_(ephemeral_last), next_(ephemeral_first) {
  if (first_ == 0 || last_ < first_) {
    ThrowInvalid("invalid ephemeral port range " + std::to_string(first_) + "-" +
                 std::to_string(last_));
  }
}

bool PortAllocator::Free(Proto proto, uint16_t port, const std::optional<IpAddress>& ip) const {
  if (used_.count({proto, port, ip}) || used_.count({proto, port, std::nullopt})) {
    return false;
  }
  if (!ip) {
    // Every address: clashes with any specific one.
    auto it = used_.lower_bound({proto, port, std::nullopt});
    return it == used_.end() || std::get<0>(*it) != proto || std::get<1>(*it) != port;
  }
  return true;
}

void PortAllocator::Take(const PublishedPort& p) {
  used_.insert({p.proto, p.host_port, p.host_ip});
}

std::vector<PublishedPort> PortAllocator::Allocate(const std::vector<PortBinding>& bindings) {
  std::vector<PublishedPort> out;
  try {
    for (const auto& b : bindings) {
      PublishedPort p;
      p.proto = b.proto;
      p.container_port = b.container_port;
      if (!b.host_ip.empty()) {
        auto ip = IpAddress::ParseOrThrow(b.host_ip);
        if (!ip.IsUnspecified()) {
          p.host_ip = ip;
        }
      }
      uint16_t lo = b.host_port_first, hi = b.host_port_last;
      bool ephemeral = lo == 0;
      if (ephemeral) {
        lo = first_;
        hi = last_;
      }
      if (!ephemeral && lo == hi) {
        if (!Free(p.proto, lo, p.host_ip)) {
          ThrowConflict("Bind for " + (p.host_ip ? p.host_ip->String() : "0.0.0.0") + ":" +
                        std::to_string(lo) + " failed: port is already allocated");
        }
        p.host_port = lo;
      } else {
        // Round robin from next_ in the ephemeral range, from the start in a given range.
        uint32_t span = uint32_t(hi) - lo + 1;
        uint32_t start = ephemeral && next_ >= lo && next_ <= hi ? next_ - lo : 0;
        bool found = false;
        for (uint32_t i = 0; i < span; ++i) {
          auto port = static_cast<uint16_t>(lo + (start + i) % span);
          if (Free(p.proto, port, p.host_ip)) {
            p.host_port = port;
            found = true;
            if (ephemeral) {
              next_ = port == last_ ? first_ : static_cast<uint16_t>(port + 1);
            }
            break;
          }
        }
        if (!found) {
          throw Error(Kind::kUnavailable, "no free host port in " + std::to_string(lo) + "-" +
                                              std::to_string(hi) + "/" +
                                              std::string(ProtoName(p.proto)));
        }
      }
      Take(p);
      out.push_back(p);
    }
  } catch (...) {
    Release(out);
    throw;
  }
  return out;
}

void PortAllocator::Reserve(const std::vector<PublishedPort>& ports) {
  std::vector<PublishedPort> done;
  for (const auto& p : ports) {
    if (!Free(p.proto, p.host_port, p.host_ip)) {
      Release(done);
      ThrowConflict("Bind for " + (p.host_ip ? p.host_ip->String() : "0.0.0.0") + ":" +
                    std::to_string(p.host_port) + " failed: port is already allocated");
    }
    Take(p);
    done.push_back(p);
  }
}

void PortAllocator::Release(const std::vector<PublishedPort>& ports) {
  for (const auto& p : ports) {
    used_.erase({p.proto, p.host_port, p.host_ip});
  }
}

}  // namespace berth::network

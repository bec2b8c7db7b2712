#include "network/etc_files.h"

#include "base/error.h"

namespace berth::network {

std::string GenerateHostname(std::string_view hostname) { return std::string(hostname) + "\n"; }

ExtraHost ParseExtraHost(std::string_view spec, const std::optional<IpAddress>& host_gateway) {
  // Docker splits at the first ':' (or '='), the address keeping its own colons.
  auto sep = spec.find_first_of(":=");
  if (sep == std::string_view::npos || sep == 0) {
    ThrowInvalid("invalid extra host: \"" + std::string(spec) + "\" (want host:ip)");
  }
  ExtraHost h;
  h.name = std::string(spec.substr(0, sep));
  std::string addr(spec.substr(sep + 1));
  if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') {
    addr = addr.substr(1, addr.size() - 2);
  }
  if (addr == "host-gateway") {
    if (!host_gateway) {
      ThrowInvalid("unable to derive the IP value for host-gateway");
    }
    h.address = *host_gateway;
    return h;
  }
  auto a = IpAddress::Parse(addr);
  if (!a) {
    ThrowInvalid("invalid IP address in add-host: \"" + addr + "\"");
  }
  h.address = *a;
  return h;
}

std::string GenerateHosts(const HostsOptions& opts) {
  std::string out = "127.0.0.1\tlocalhost\n";
  if (opts.ipv6) {
    out +=
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "ff00::0\tip6-mcastprefix\n"
        "ff02::1\tip6-allnodes\n"
        "ff02::2\tip6-allrouters\n";
  }
  for (const auto& h : opts.extra_hosts) {
    out += h.address.String() + "\t" + h.name + "\n";
  }
  std::string names;
  if (!opts.hostname.empty()) {
    names = opts.domainname.empty() ? opts.hostname
                                    : opts.hostname + "." + opts.domainname + " " + opts.hostname;
  }
  for (const auto& a : opts.aliases) {
    if (a != opts.hostname) {
      names += (names.empty() ? "" : " ") + a;
    }
  }
  if (!names.empty()) {
    for (const auto& a : opts.addresses) {
      if (a.is_v6() && !opts.ipv6) {
        continue;
      }
      out += a.String() + "\t" + names + "\n";
    }
  }
  return out;
}

namespace {

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> f;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) {
      ++i;
    }
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
      ++i;
    }
    if (i > start) {
      f.push_back(line.substr(start, i - start));
    }
  }
  return f;
}

}  // namespace

ResolvConf ParseResolvConf(std::string_view text) {
  ResolvConf rc;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (auto hash = line.find_first_of("#;"); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    auto f = Fields(line);
    if (f.empty()) {
      continue;
    }
    if (f[0] == "nameserver" && f.size() >= 2) {
      std::string_view addr = f[1];
      if (auto pct = addr.find('%'); pct != std::string_view::npos) {
        addr = addr.substr(0, pct);  // fe80::1%eth0: the zone does not travel into a netns
      }
      if (auto a = IpAddress::Parse(addr)) {
        rc.nameservers.push_back(*a);
      }
    } else if ((f[0] == "search" || f[0] == "domain") && f.size() >= 2) {
      rc.search.assign(f.begin() + 1, f.end());
    } else if (f[0] == "options") {
      for (size_t i = 1; i < f.size(); ++i) {
        rc.options.emplace_back(f[i]);
      }
    }
  }
  return rc;
}

namespace {

std::vector<IpAddress> ParseServers(const std::vector<std::string>& dns) {
  std::vector<IpAddress> out;
  for (const auto& d : dns) {
    out.push_back(IpAddress::ParseOrThrow(d, "DNS server address"));
  }
  return out;
}

}  // namespace

std::vector<IpAddress> ForwardServers(const ResolvConf& host, const ResolvOptions& opts) {
  if (!opts.dns.empty()) {
    return ParseServers(opts.dns);
  }
  return host.nameservers;
}

std::string GenerateResolvConf(const ResolvConf& host, const ResolvOptions& opts) {
  std::vector<IpAddress> servers;
  if (opts.embedded_dns) {
    servers.push_back(*opts.embedded_dns);
  } else {
    for (const auto& a : opts.dns.empty() ? host.nameservers : ParseServers(opts.dns)) {
      if (a.IsLoopback() || (a.is_v6() && !opts.ipv6)) {
        continue;
      }
      servers.push_back(a);
    }
    if (servers.empty()) {
      servers = opts.fallback;
    }
  }
  std::vector<std::string> search = host.search;
  if (!opts.dns_search.empty()) {
    search.clear();
    for (const auto& s : opts.dns_search) {
      if (s != ".") {
        search.push_back(s);
      }
    }
  }
  std::vector<std::string> options = opts.dns_options.empty() ? host.options : opts.dns_options;
  if (opts.embedded_dns) {
    // Docker's: names without dots go to the embedded server first, not through the search
    // list (which would send "db" to the host's resolvers as "db.example.com" first).
    bool has_ndots = false;
    for (const auto& o : options) {
      has_ndots = has_ndots || o.rfind("ndots:", 0) == 0;
    }
    if (!has_ndots) {
      options.push_back("ndots:0");
    }
  }
  std::string out;
  for (const auto& a : servers) {
    out += "nameserver " + a.String() + "\n";
  }
  if (!search.empty()) {
    out += "search";
    for (const auto& s : search) {
      out += " " + s;
    }
    out += "\n";
  }
  if (!options.empty()) {
    out += "options";
    for (const auto& o : options) {
      out += " " + o;
    }
    out += "\n";
  }
  return out;
}

}  // namespace berth::network

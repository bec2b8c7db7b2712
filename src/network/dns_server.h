#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "network/ip_address.h"

namespace berth::network {

// One container's presence on one network, as the embedded DNS server sees it.
struct DnsEndpoint {
  std::string network;             // network ID: names resolve only within shared networks
  std::vector<std::string> names;  // container name, --network-alias, short ID
  std::vector<IpAddress> addresses;
  std::vector<IpAddress> upstreams;  // --dns; empty: the server's defaults
  // The container's addresses on its other networks: a query from one of them is the same
  // container asking (it resolves names of every network it is on), never an answer.
  std::vector<IpAddress> sources;
};

// Who is who, shared between the engine (writer) and the DNS server thread (reader).
class DnsTable {
 public:
  struct Answer {
    bool known_source = false;  // the query came from a container Berth knows
    bool name_found = false;    // the name is a peer's (NODATA rather than forwarding)
    std::vector<IpAddress> addresses;
    std::vector<IpAddress> upstreams;
  };

  // `key` identifies the endpoint for Remove (e.g. "<network>/<container>").
  void Upsert(const std::string& key, DnsEndpoint endpoint);
  void Remove(const std::string& key);
  // The addresses of `name` (case-insensitive) in the family of `want_v6`, among the
  // networks that the container at `source` is attached to.
  Answer Lookup(const IpAddress& source, const std::string& name, bool want_v6) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, DnsEndpoint> endpoints_;
};

// The embedded DNS server: UDP and TCP on each address given to Listen (berthd: every bridge
// gateway), answering A/AAAA for peers from the DnsTable and forwarding every other query to
// an upstream resolver. Queries from addresses that are no container's are REFUSED, so the
// gateway address is no open resolver. One thread; poll-driven; no allocation per idle tick.
class DnsServer {
 public:
  struct Options {
    std::vector<IpAddress> upstreams;  // default forwarders (the host's resolv.conf)
    uint16_t upstream_port = 53;       // tests point this at a fake upstream
    int upstream_timeout_ms = 2000;    // per upstream, then the next one, then SERVFAIL
    uint32_t ttl = 600;                // Docker's TTL for container records
  };

  DnsServer(const DnsTable& table, Options options);
  ~DnsServer();  // stops the thread
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  // Binds UDP and TCP sockets on address:port (port 0: any, for tests; see BoundPort) and
  // serves them; idempotent per address. Throws naming the address on a bind failure.
  void Listen(const IpAddress& address, uint16_t port = 53);
  void StopListening(const IpAddress& address);
  // The UDP port actually bound on `address` (0 when not listening).
  uint16_t BoundPort(const IpAddress& address) const;
  void SetUpstreams(std::vector<IpAddress> upstreams);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Answers one query (wire format) from `source`: the reply, or nullopt when the query must
// be forwarded (then `upstreams` lists where). Exposed for unit tests; the server calls it.
std::optional<std::string> AnswerLocally(const DnsTable& table, const IpAddress& source,
                                         std::string_view query, uint32_t ttl,
                                         std::vector<IpAddress>* upstreams);

}  // namespace berth::network

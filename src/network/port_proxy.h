#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/fd.h"
#include "network/ip_address.h"

namespace berth::network {

// Relays the TCP connections accepted on a listening socket to a container's address: the
// published ports on ::1, which no DNAT can serve (a reply un-NATed to ::1 on a bridge fails
// the kernel's input route check, and IPv6 has no route_localnet; nft_rules.cc). Docker's
// userland proxy does the same there.
//
// A thread per listener (blocking accept) and one per connection (poll on both ends): ::1 is
// the host's own traffic, a handful of connections, so plain threads beat an event loop for
// readability. Remove() shuts the listener and every relayed connection down, which wakes and
// ends their threads; the threads own nothing else, so none outlives its sockets' use.
class PortProxy {
 public:
  PortProxy();
  ~PortProxy();  // Remove()s everything
  PortProxy(const PortProxy&) = delete;
  PortProxy& operator=(const PortProxy&) = delete;

  // Accepts on `listener` (a listening TCP socket, any family; the proxy keeps it open) and
  // relays each connection to `target`:`port`, until Remove(owner).
  void Add(const std::string& owner, UniqueFd listener, const IpAddress& target, uint16_t port);
  // Stops the owner's listeners and cuts its connections. Idempotent.
  void Remove(const std::string& owner);

  struct State;  // shared with the threads

 private:
  std::shared_ptr<State> state_;
};

}  // namespace berth::network

#pragma once

// Shared scaffolding of the network integration tests: unique names and subnets, guards that
// remove every link and nftables table the test made (also when it fails), and sockets inside
// a namespace. Traffic goes only to 127.0.0.0/8 and to addresses of the test's own bridges
// and namespaces; every wait is bounded.

#include <gtest/gtest.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "base/fd.h"
#include "network/ip_address.h"
#include "network/netlink.h"

namespace berth::network::testing {

#define BERTH_NET_REQUIRE_ROOT()                                \
  do {                                                          \
    if (geteuid() != 0) {                                       \
      GTEST_SKIP() << "needs root (network namespaces, links)"; \
    }                                                           \
  } while (0)

// "bn<pid><letter><n>": unique per process and call, at most 15 bytes.
std::string UniqueName(char kind);

// A /24 in 198.18.0.0/15 (RFC 2544, benchmarking) that no host route overlaps.
IpPrefix UniqueSubnet();

// Deletes the link on destruction if it still exists (in the host's namespace).
class LinkGuard {
 public:
  explicit LinkGuard(std::string name) : name_(std::move(name)) {}
  ~LinkGuard();
  LinkGuard(const LinkGuard&) = delete;
  LinkGuard& operator=(const LinkGuard&) = delete;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// Removes Berth's nftables tables of that name on destruction.
class NftGuard {
 public:
  explicit NftGuard(std::string table) : table_(std::move(table)) {}
  ~NftGuard();
  NftGuard(const NftGuard&) = delete;
  NftGuard& operator=(const NftGuard&) = delete;
  const std::string& table() const { return table_; }

 private:
  std::string table_;
};

// A bridge with the subnet's first address as gateway, up, route_localnet on; removed with
// the guard.
struct TestBridge {
  explicit TestBridge(bool v6 = false);
  LinkGuard guard;
  IpPrefix subnet;
  IpAddress gateway;
  std::optional<IpPrefix> subnet6;
  int index = 0;
};

// A namespace with lo up and eth0 (a veth whose host end is on `bridge`) at `address`, with a
// default route via the bridge's gateway. The namespace goes away with the fd; its veth with it.
struct TestNetns {
  TestNetns(const TestBridge& bridge, IpAddress address, std::optional<IpAddress> address6 = {});
  UniqueFd fd;
  LinkGuard host_veth;
  IpAddress address;
};

// A listening TCP socket at address:port inside the namespace (-1: the host's).
UniqueFd ListenTcp(int netns, const IpAddress& address, uint16_t port);
// Accepts one connection within `timeout_ms`, reads until `expect` bytes arrived, answers
// `reply`; returns what it read and, in *peer, who connected.
std::string AcceptEcho(int listen_fd, size_t expect, const std::string& reply, int timeout_ms,
                       std::string* peer = nullptr);
// Connects from the namespace (-1: the host) within `timeout_ms`, sends `data`, reads the
// reply; nullopt when the connection could not be made.
std::optional<std::string> ConnectSend(int netns, const IpAddress& address, uint16_t port,
                                       const std::string& data, int timeout_ms);

// Sends one UDP datagram from the namespace and waits for one answer.
std::optional<std::string> UdpExchange(int netns, const IpAddress& address, uint16_t port,
                                       const std::string& data, int timeout_ms);

}  // namespace berth::network::testing

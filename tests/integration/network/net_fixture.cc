#include "net_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "base/error.h"
#include "network/netns.h"
#include "network/nft_rules.h"
#include "network/nftables.h"

namespace berth::network::testing {

std::string UniqueName(char kind) {
  static std::atomic<int> n{0};
  return "bn" + std::to_string(getpid() % 100000) + kind + std::to_string(n++);
}

IpPrefix UniqueSubnet() {
  static std::atomic<int> n{0};
  std::vector<IpPrefix> routes = Netlink().RouteDestinations(IpAddress::Family::kV4);
  std::mt19937 rng(static_cast<unsigned>(getpid() * 7919 + n++));
  for (int attempt = 0; attempt < 64; ++attempt) {
    uint32_t base = (198u << 24) | (18u << 16) | ((rng() % 512) << 8);
    IpPrefix p(IpAddress::V4(base), 24);
    bool taken = false;
    for (const auto& r : routes) {
      taken = taken || (r.length() > 0 && r.Overlaps(p));
    }
    if (!taken) {
      return p;
    }
  }
  throw Error(Kind::kUnavailable, "no free /24 in 198.18.0.0/15");
}

LinkGuard::~LinkGuard() {
  try {
    Netlink().DeleteLinkIfExists(name_);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cleanup of link " << name_ << ": " << e.what();
  }
}

NftGuard::~NftGuard() {
  try {
    Nftables().Run(RenderDelete(table_));
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cleanup of nftables table " << table_ << ": " << e.what();
  }
}

TestBridge::TestBridge(bool v6) : guard(UniqueName('b')), subnet(UniqueSubnet()) {
  gateway = subnet.Network().Plus(1);
  Netlink nl;
  Netlink::Batch(nl).CreateBridge(guard.name()).Commit();
  index = nl.LinkIndexOrThrow(guard.name());
  Netlink::Batch b(nl);
  b.AddAddress(index, IpPrefix(gateway, subnet.length()));
  if (v6) {
    subnet6 =
        IpPrefix(IpAddress::ParseOrThrow("fd42:" + std::to_string(getpid() % 10000) + "::"), 64);
    b.AddAddress(index, IpPrefix(subnet6->Network().Plus(1), 64));
  }
  b.Commit();
  WriteSysctl("net/ipv4/conf/" + guard.name() + "/route_localnet", "1");
}

TestNetns::TestNetns(const TestBridge& bridge, IpAddress addr, std::optional<IpAddress> addr6)
    : fd(CreateNetns()), host_veth(UniqueName('v')), address(addr) {
  Netlink host;
  Netlink::Batch(host).CreateVeth(host_veth.name(), "eth0", 1450, fd.get(), bridge.index).Commit();
  Netlink ns = Netlink::InNetns(fd.get());
  int eth0 = ns.LinkIndexOrThrow("eth0");
  Netlink::Batch b(ns);
  b.SetUp("lo").SetUp("eth0").AddAddress(eth0, IpPrefix(addr, bridge.subnet.length()));
  if (addr6) {
    b.AddAddress(eth0, IpPrefix(*addr6, 64));
  }
  b.AddRoute(*IpPrefix::Parse("0.0.0.0/0"), bridge.gateway, eth0);
  b.Commit();
}

namespace {

sockaddr_storage Addr(const IpAddress& a, uint16_t port, socklen_t* len) {
  sockaddr_storage ss{};
  if (a.is_v4()) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    std::memcpy(&s->sin_addr, a.data(), 4);
    *len = sizeof(sockaddr_in);
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    std::memcpy(&s->sin6_addr, a.data(), 16);
    *len = sizeof(sockaddr_in6);
  }
  return ss;
}

UniqueFd SocketIn(int netns, int family, int type) {
  UniqueFd fd;
  auto make = [&] { fd.Reset(socket(family, type | SOCK_CLOEXEC, 0)); };
  if (netns >= 0) {
    RunInNetns(netns, make);
  } else {
    make();
  }
  if (!fd) {
    ThrowErrno("socket");
  }
  return fd;
}

bool WaitFor(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  return poll(&p, 1, timeout_ms) == 1 && (p.revents & events);
}

std::optional<std::string> ReadSome(int fd, int timeout_ms) {
  if (!WaitFor(fd, POLLIN, timeout_ms)) {
    return std::nullopt;
  }
  char buf[4096];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  if (n < 0) {
    return std::nullopt;
  }
  return std::string(buf, size_t(n));
}

}  // namespace

UniqueFd ListenTcp(int netns, const IpAddress& address, uint16_t port) {
  UniqueFd fd = SocketIn(netns, address.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM);
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t len;
  sockaddr_storage ss = Addr(address, port, &len);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd.get(), 4) != 0) {
    ThrowErrno("listen on " + address.String() + ":" + std::to_string(port));
  }
  return fd;
}

std::string AcceptEcho(int listen_fd, size_t expect, const std::string& reply, int timeout_ms,
                       std::string* peer) {
  if (!WaitFor(listen_fd, POLLIN, timeout_ms)) {
    return "";
  }
  sockaddr_storage from{};
  socklen_t from_len = sizeof from;
  UniqueFd c(accept4(listen_fd, reinterpret_cast<sockaddr*>(&from), &from_len, SOCK_CLOEXEC));
  if (!c) {
    return "";
  }
  if (peer) {
    char buf[INET6_ADDRSTRLEN] = "";
    if (from.ss_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&from)->sin_addr, buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&from)->sin6_addr, buf, sizeof buf);
    }
    *peer = buf;
  }
  std::string got;
  for (int i = 0; i < 16 && got.size() < expect; ++i) {
    auto s = ReadSome(c.get(), timeout_ms);
    if (!s || s->empty()) {
      break;
    }
    got += *s;
  }
  [[maybe_unused]] ssize_t n = send(c.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
  return got;
}

std::optional<std::string> ConnectSend(int netns, const IpAddress& address, uint16_t port,
                                       const std::string& data, int timeout_ms) {
  UniqueFd fd = SocketIn(netns, address.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK);
  socklen_t len;
  sockaddr_storage ss = Addr(address, port, &len);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    return std::nullopt;
  }
  if (!WaitFor(fd.get(), POLLOUT, timeout_ms)) {
    return std::nullopt;
  }
  int err = 0;
  socklen_t err_len = sizeof err;
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &err_len);
  if (err != 0) {
    return std::nullopt;
  }
  if (send(fd.get(), data.data(), data.size(), MSG_NOSIGNAL) != ssize_t(data.size())) {
    return std::nullopt;
  }
  std::string got;
  for (int i = 0; i < 16; ++i) {
    auto s = ReadSome(fd.get(), timeout_ms);
    if (!s || s->empty()) {
      break;
    }
    got += *s;
  }
  return got;
}

std::optional<std::string> UdpExchange(int netns, const IpAddress& address, uint16_t port,
                                       const std::string& data, int timeout_ms) {
  UniqueFd fd = SocketIn(netns, address.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM);
  socklen_t len;
  sockaddr_storage ss = Addr(address, port, &len);
  if (sendto(fd.get(), data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
    return std::nullopt;
  }
  return ReadSome(fd.get(), timeout_ms);
}

}  // namespace berth::network::testing

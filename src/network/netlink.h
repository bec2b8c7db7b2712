#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "network/ip_address.h"

struct mnl_socket;
struct nlmsghdr;

namespace berth::network {

// rtnetlink through libmnl: links (bridge, veth), addresses and routes, in the network
// namespace the socket was opened in. Every change goes through a Batch: its requests leave
// in one sendmsg and their acks come back together, so configuring a container's interface
// costs one round trip, not one per attribute. Errors name the operation and the object
// ("add address 10.0.0.2/16 to eth0: File exists").
class Netlink {
 public:
  Netlink();  // in the calling thread's network namespace
  // A socket in the namespace `netns_fd` (opened from a thread that joined it).
  static Netlink InNetns(int netns_fd);
  ~Netlink();
  Netlink(Netlink&& other) noexcept;
  Netlink& operator=(Netlink&&) = delete;
  Netlink(const Netlink&) = delete;

  class Batch {
   public:
    explicit Batch(Netlink& nl);
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

    // `up`: also bring it up. mtu 0: the kernel's default.
    Batch& CreateBridge(const std::string& name, int mtu = 0, bool up = true);
    // A veth pair: `name` here (enslaved to `master` when given, and up), `peer` created
    // directly in the namespace `peer_netns_fd` (-1: here), down, with the MAC address
    // `peer_mac` when given (else the kernel's random one).
    Batch& CreateVeth(const std::string& name, const std::string& peer, int mtu = 0,
                      int peer_netns_fd = -1, std::optional<int> master_index = std::nullopt,
                      const std::optional<std::array<uint8_t, 6>>& peer_mac = std::nullopt);
    Batch& DeleteLink(const std::string& name);
    Batch& SetUp(const std::string& name, bool up = true);
    Batch& SetMtu(const std::string& name, int mtu);
    Batch& SetMaster(const std::string& name, int master_index);
    // Moves the link into another namespace, renamed when `new_name` is not empty.
    Batch& MoveToNetns(const std::string& name, int netns_fd, const std::string& new_name = "");
    // IPv6 addresses skip duplicate address detection (Berth's IPAM already made them unique).
    Batch& AddAddress(int ifindex, const IpPrefix& address);
    Batch& DelAddress(int ifindex, const IpPrefix& address);
    // A route to `dst` (0.0.0.0/0 or ::/0 for the default) via `gateway` (or on-link) out of
    // `ifindex`.
    Batch& AddRoute(const IpPrefix& dst, std::optional<IpAddress> gateway, int ifindex);

    // Sends everything; throws the first failure (all requests were still processed by the
    // kernel up to and after it, as netlink does not roll back).
    void Commit();

   private:
    nlmsghdr* Begin(uint16_t type, uint16_t flags, std::string what);

    Netlink& nl_;
    std::vector<char> buf_;
    struct Op {
      uint32_t seq;
      std::string what;
    };
    std::vector<Op> ops_;
    size_t used_ = 0;
  };

  // The link's index, nullopt when there is none of that name.
  std::optional<int> LinkIndex(const std::string& name);
  // Throws kNotFound naming the link.
  int LinkIndexOrThrow(const std::string& name);
  // Removes the link; false when it did not exist.
  bool DeleteLinkIfExists(const std::string& name);

  struct LinkInfo {
    int index = 0;
    std::string name;
    bool up = false;
    int mtu = 0;
    int master = 0;  // index of the bridge it is enslaved to
  };
  std::optional<LinkInfo> GetLink(const std::string& name);
  std::vector<IpPrefix> Addresses(int ifindex);
  // Destinations of the main table's routes in `family` (for picking free subnets).
  std::vector<IpPrefix> RouteDestinations(IpAddress::Family family);

 private:
  explicit Netlink(mnl_socket* sock);
  // Sends one request and collects its replies (dumps included) through `cb`.
  void Query(nlmsghdr* request, const std::string& what, int (*cb)(const nlmsghdr*, void*),
             void* data);
  uint32_t NextSeq() { return seq_++; }

  mnl_socket* sock_;
  uint32_t portid_ = 0;
  uint32_t seq_;
};

// Writes a /proc/sys knob of this thread's network namespace (e.g. route_localnet of a
// bridge: "net/ipv4/conf/berth0/route_localnet"); throws naming the key.
void WriteSysctl(const std::string& key, const std::string& value);

}  // namespace berth::network

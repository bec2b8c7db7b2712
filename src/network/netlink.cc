#include "network/netlink.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>
#include <time.h>

#include <cstring>

#include "base/error.h"
#include "base/file_util.h"
#include "network/netns.h"

namespace berth::network {

namespace {

int Af(IpAddress::Family f) { return f == IpAddress::Family::kV4 ? AF_INET : AF_INET6; }

// Appends a struct at the tail of a nested attribute (a veth peer's ifinfomsg).
void PutRaw(nlmsghdr* nlh, const void* data, size_t len) {
  void* tail = mnl_nlmsg_get_payload_tail(nlh);
  std::memset(tail, 0, MNL_ALIGN(len));
  std::memcpy(tail, data, len);
  nlh->nlmsg_len += MNL_ALIGN(len);
}

void CheckName(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    ThrowInvalid("invalid interface name: \"" + name + "\"");
  }
}

}  // namespace

Netlink::Netlink(mnl_socket* sock) : sock_(sock) {
  if (sock_ == nullptr) {
    ThrowErrno("netlink: open socket");
  }
  if (mnl_socket_bind(sock_, 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    mnl_socket_close(sock_);
    throw SysError("netlink: bind", err);
  }
  portid_ = mnl_socket_get_portid(sock_);
  seq_ = static_cast<uint32_t>(time(nullptr));
  // Reports of failed requests without their payload: a batch's acks stay small.
  int one = 1;
  mnl_socket_setsockopt(sock_, NETLINK_CAP_ACK, &one, sizeof one);
  mnl_socket_setsockopt(sock_, NETLINK_EXT_ACK, &one, sizeof one);
}

Netlink::Netlink() : Netlink(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC)) {}

Netlink Netlink::InNetns(int netns_fd) {
  mnl_socket* sock = nullptr;
  int err = 0;
  RunInNetns(netns_fd, [&] {
    sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    err = errno;
  });
  if (sock == nullptr) {
    throw SysError("netlink: open socket in a network namespace", err);
  }
  return Netlink(sock);
}

Netlink::Netlink(Netlink&& other) noexcept
    : sock_(std::exchange(other.sock_, nullptr)), portid_(other.portid_), seq_(other.seq_) {}

Netlink::~Netlink() {
  if (sock_ != nullptr) {
    mnl_socket_close(sock_);
  }
}

// --- Batch -------------------------------------------------------------------------------

Netlink::Batch::Batch(Netlink& nl) : nl_(nl), buf_(MNL_SOCKET_BUFFER_SIZE) {}
Netlink::Batch::~Batch() = default;

nlmsghdr* Netlink::Batch::Begin(uint16_t type, uint16_t flags, std::string what) {
  // Room for the largest request we build; grow the buffer (messages are position-free).
  if (buf_.size() - used_ < 1024) {
    buf_.resize(buf_.size() * 2);
  }
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf_.data() + used_);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  nlh->nlmsg_seq = nl_.NextSeq();
  ops_.push_back({nlh->nlmsg_seq, std::move(what)});
  return nlh;
}

namespace {

// Closes the message started at `nlh` inside the batch buffer.
struct MsgEnd {
  size_t* used;
  nlmsghdr* nlh;
  ~MsgEnd() { *used += MNL_ALIGN(nlh->nlmsg_len); }
};

ifinfomsg* LinkHeader(nlmsghdr* nlh) {
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  return ifm;
}

}  // namespace

Netlink::Batch& Netlink::Batch::CreateBridge(const std::string& name, int mtu, bool up) {
  CheckName(name);
  nlmsghdr* nlh = Begin(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, "create bridge " + name);
  MsgEnd end{&used_, nlh};
  ifinfomsg* ifm = LinkHeader(nlh);
  if (up) {
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
  }
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  if (mtu > 0) {
    mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  }
  nlattr* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(nlh, info);
  return *this;
}

Netlink::Batch& Netlink::Batch::CreateVeth(const std::string& name, const std::string& peer,
                                           int mtu, int peer_netns_fd,
                                           std::optional<int> master_index,
                                           const std::optional<std::array<uint8_t, 6>>& peer_mac) {
  CheckName(name);
  CheckName(peer);
  nlmsghdr* nlh =
      Begin(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, "create veth pair " + name + "/" + peer);
  MsgEnd end{&used_, nlh};
  ifinfomsg* ifm = LinkHeader(nlh);
  if (master_index) {
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
  }
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  if (mtu > 0) {
    mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  }
  if (master_index) {
    mnl_attr_put_u32(nlh, IFLA_MASTER, static_cast<uint32_t>(*master_index));
  }
  nlattr* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  nlattr* peer_attr = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  ifinfomsg peer_ifm{};
  peer_ifm.ifi_family = AF_UNSPEC;
  PutRaw(nlh, &peer_ifm, sizeof peer_ifm);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, peer.c_str());
  if (mtu > 0) {
    mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  }
  if (peer_netns_fd >= 0) {
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
  }
  if (peer_mac) {
    mnl_attr_put(nlh, IFLA_ADDRESS, peer_mac->size(), peer_mac->data());
  }
  mnl_attr_nest_end(nlh, peer_attr);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, info);
  return *this;
}

Netlink::Batch& Netlink::Batch::DeleteLink(const std::string& name) {
  CheckName(name);
  nlmsghdr* nlh = Begin(RTM_DELLINK, 0, "delete link " + name);
  MsgEnd end{&used_, nlh};
  LinkHeader(nlh);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  return *this;
}

Netlink::Batch& Netlink::Batch::SetUp(const std::string& name, bool up) {
  CheckName(name);
  nlmsghdr* nlh = Begin(RTM_NEWLINK, 0, std::string(up ? "bring up " : "bring down ") + name);
  MsgEnd end{&used_, nlh};
  ifinfomsg* ifm = LinkHeader(nlh);
  ifm->ifi_flags = up ? IFF_UP : 0;
  ifm->ifi_change = IFF_UP;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  return *this;
}

Netlink::Batch& Netlink::Batch::SetMtu(const std::string& name, int mtu) {
  CheckName(name);
  nlmsghdr* nlh = Begin(RTM_NEWLINK, 0, "set MTU " + std::to_string(mtu) + " on " + name);
  MsgEnd end{&used_, nlh};
  LinkHeader(nlh);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  return *this;
}

Netlink::Batch& Netlink::Batch::SetMaster(const std::string& name, int master_index) {
  CheckName(name);
  nlmsghdr* nlh = Begin(RTM_NEWLINK, 0, "attach " + name + " to a bridge");
  MsgEnd end{&used_, nlh};
  LinkHeader(nlh);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  mnl_attr_put_u32(nlh, IFLA_MASTER, static_cast<uint32_t>(master_index));
  return *this;
}

Netlink::Batch& Netlink::Batch::MoveToNetns(const std::string& name, int netns_fd,
                                            const std::string& new_name) {
  CheckName(name);
  nlmsghdr* nlh = Begin(RTM_NEWLINK, 0, "move " + name + " into a network namespace");
  MsgEnd end{&used_, nlh};
  LinkHeader(nlh);
  if (new_name.empty()) {
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  } else {
    // Found by its old name (IFLA_ALT_IFNAME lookup needs 5.5+; the index is portable).
    CheckName(new_name);
    int index = nl_.LinkIndexOrThrow(name);
    reinterpret_cast<ifinfomsg*>(mnl_nlmsg_get_payload(nlh))->ifi_index = index;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, new_name.c_str());
  }
  mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(netns_fd));
  return *this;
}

namespace {

void PutAddress(nlmsghdr* nlh, int ifindex, const IpPrefix& address) {
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  const IpAddress& a = address.address();
  ifa->ifa_family = static_cast<uint8_t>(Af(a.family()));
  ifa->ifa_prefixlen = static_cast<uint8_t>(address.length());
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  mnl_attr_put(nlh, IFA_LOCAL, a.size(), a.data());
  mnl_attr_put(nlh, IFA_ADDRESS, a.size(), a.data());
  if (a.is_v4() && address.length() < 31) {
    IpAddress brd = address.LastAddress();
    mnl_attr_put(nlh, IFA_BROADCAST, 4, brd.data());
  }
  if (a.is_v6()) {
    mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
  }
}

}  // namespace

Netlink::Batch& Netlink::Batch::AddAddress(int ifindex, const IpPrefix& address) {
  nlmsghdr* nlh = Begin(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
                        "add address " + address.String() + " to link " + std::to_string(ifindex));
  MsgEnd end{&used_, nlh};
  PutAddress(nlh, ifindex, address);
  return *this;
}

Netlink::Batch& Netlink::Batch::DelAddress(int ifindex, const IpPrefix& address) {
  nlmsghdr* nlh =
      Begin(RTM_DELADDR, 0,
            "remove address " + address.String() + " from link " + std::to_string(ifindex));
  MsgEnd end{&used_, nlh};
  PutAddress(nlh, ifindex, address);
  return *this;
}

Netlink::Batch& Netlink::Batch::AddRoute(const IpPrefix& dst, std::optional<IpAddress> gateway,
                                         int ifindex) {
  nlmsghdr* nlh = Begin(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
                        "add route " + dst.Masked().String() +
                            (gateway ? " via " + gateway->String() : std::string()));
  MsgEnd end{&used_, nlh};
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(Af(dst.family()));
  rtm->rtm_dst_len = static_cast<uint8_t>(dst.length());
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  if (dst.length() > 0) {
    IpAddress net = dst.Network();
    mnl_attr_put(nlh, RTA_DST, net.size(), net.data());
  }
  if (gateway) {
    mnl_attr_put(nlh, RTA_GATEWAY, gateway->size(), gateway->data());
  }
  mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(ifindex));
  return *this;
}

void Netlink::Batch::Commit() {
  if (ops_.empty()) {
    return;
  }
  if (mnl_socket_sendto(nl_.sock_, buf_.data(), used_) < 0) {
    ThrowErrno("netlink: send " + ops_.front().what);
  }
  size_t acked = 0;
  std::optional<Error> first;
  std::vector<char> rbuf(MNL_SOCKET_BUFFER_SIZE);
  // Every request carries NLM_F_ACK: exactly one NLMSG_ERROR (0 = success) per request.
  while (acked < ops_.size()) {
    ssize_t n = mnl_socket_recvfrom(nl_.sock_, rbuf.data(), rbuf.size());
    if (n < 0) {
      ThrowErrno("netlink: receive the acks of " + ops_.front().what);
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(rbuf.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != nl_.portid_) {
        continue;
      }
      auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      for (const auto& op : ops_) {
        if (op.seq == nlh->nlmsg_seq) {
          ++acked;
          if (err->error != 0 && !first) {
            first = SysError(op.what, -err->error);
          }
          break;
        }
      }
    }
  }
  ops_.clear();
  used_ = 0;
  if (first) {
    throw *first;
  }
}

// --- Queries -----------------------------------------------------------------------------

void Netlink::Query(nlmsghdr* request, const std::string& what, int (*cb)(const nlmsghdr*, void*),
                    void* data) {
  request->nlmsg_seq = NextSeq();
  request->nlmsg_pid = 0;
  if (mnl_socket_sendto(sock_, request, request->nlmsg_len) < 0) {
    ThrowErrno("netlink: " + what);
  }
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
    if (n < 0) {
      ThrowErrno("netlink: " + what);
    }
    int rc = mnl_cb_run(buf.data(), static_cast<size_t>(n), request->nlmsg_seq, portid_, cb, data);
    if (rc < 0) {
      ThrowErrno(what);
    }
    if (rc == MNL_CB_STOP) {
      return;
    }
  }
}

namespace {

struct LinkQuery {
  Netlink::LinkInfo info;
  bool found = false;
};

int LinkAttr(const nlattr* attr, void* data) {
  auto* q = static_cast<LinkQuery*>(data);
  switch (mnl_attr_get_type(attr)) {
    case IFLA_IFNAME:
      q->info.name = mnl_attr_get_str(attr);
      break;
    case IFLA_MTU:
      q->info.mtu = static_cast<int>(mnl_attr_get_u32(attr));
      break;
    case IFLA_MASTER:
      q->info.master = static_cast<int>(mnl_attr_get_u32(attr));
      break;
  }
  return MNL_CB_OK;
}

int LinkCb(const nlmsghdr* nlh, void* data) {
  auto* q = static_cast<LinkQuery*>(data);
  auto* ifm = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  q->found = true;
  q->info.index = ifm->ifi_index;
  q->info.up = ifm->ifi_flags & IFF_UP;
  mnl_attr_parse(nlh, sizeof(*ifm), LinkAttr, data);
  return MNL_CB_OK;
}

}  // namespace

std::optional<Netlink::LinkInfo> Netlink::GetLink(const std::string& name) {
  CheckName(name);
  char buf[512];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETLINK;
  // The ack ends the reply (a dump ends with NLMSG_DONE instead).
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  LinkHeader(nlh);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  LinkQuery q;
  try {
    Query(nlh, "look up link " + name, LinkCb, &q);
  } catch (const Error& e) {
    if (e.err() == ENODEV) {
      return std::nullopt;
    }
    throw;
  }
  if (!q.found) {
    return std::nullopt;
  }
  return q.info;
}

std::optional<int> Netlink::LinkIndex(const std::string& name) {
  auto l = GetLink(name);
  if (!l) {
    return std::nullopt;
  }
  return l->index;
}

int Netlink::LinkIndexOrThrow(const std::string& name) {
  auto i = LinkIndex(name);
  if (!i) {
    ThrowNotFound("no network link named " + name);
  }
  return *i;
}

bool Netlink::DeleteLinkIfExists(const std::string& name) {
  try {
    Batch(*this).DeleteLink(name).Commit();
    return true;
  } catch (const Error& e) {
    if (e.err() == ENODEV) {
      return false;
    }
    throw;
  }
}

namespace {

// The attributes of a message by type (the last of each type wins).
struct AttrTable {
  const nlattr* attrs[64] = {};
  const nlattr* Get(unsigned type) const { return type < 64 ? attrs[type] : nullptr; }
};

int CollectAttr(const nlattr* attr, void* data) {
  auto* tb = static_cast<AttrTable*>(data);
  unsigned type = mnl_attr_get_type(attr);
  if (type < 64) {
    tb->attrs[type] = attr;
  }
  return MNL_CB_OK;
}

struct AddrQuery {
  int ifindex;
  std::vector<IpPrefix> out;
};

int AddrCb(const nlmsghdr* nlh, void* data) {
  auto* q = static_cast<AddrQuery*>(data);
  auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
  if (static_cast<int>(ifa->ifa_index) != q->ifindex) {
    return MNL_CB_OK;
  }
  AttrTable tb;
  mnl_attr_parse(nlh, sizeof(*ifa), CollectAttr, &tb);
  const nlattr* a = tb.Get(IFA_LOCAL) ? tb.Get(IFA_LOCAL) : tb.Get(IFA_ADDRESS);
  auto family = ifa->ifa_family == AF_INET ? IpAddress::Family::kV4 : IpAddress::Family::kV6;
  size_t want = family == IpAddress::Family::kV4 ? 4 : 16;
  if (a && mnl_attr_get_payload_len(a) == want) {
    q->out.emplace_back(
        IpAddress::FromBytes(family, static_cast<const uint8_t*>(mnl_attr_get_payload(a))),
        ifa->ifa_prefixlen);
  }
  return MNL_CB_OK;
}

struct RouteQuery {
  IpAddress::Family family;
  std::vector<IpPrefix> out;
};

int RouteCb(const nlmsghdr* nlh, void* data) {
  auto* q = static_cast<RouteQuery*>(data);
  auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  if (rtm->rtm_table != RT_TABLE_MAIN || rtm->rtm_type != RTN_UNICAST) {
    return MNL_CB_OK;
  }
  uint8_t zero[16] = {};
  const uint8_t* dst = zero;
  AttrTable tb;
  mnl_attr_parse(nlh, sizeof(*rtm), CollectAttr, &tb);
  const nlattr* attr = tb.Get(RTA_DST);
  if (attr && mnl_attr_get_payload_len(attr) == (q->family == IpAddress::Family::kV4 ? 4u : 16u)) {
    dst = static_cast<const uint8_t*>(mnl_attr_get_payload(attr));
  }
  q->out.emplace_back(IpAddress::FromBytes(q->family, dst), rtm->rtm_dst_len);
  return MNL_CB_OK;
}

}  // namespace

std::vector<IpPrefix> Netlink::Addresses(int ifindex) {
  char buf[256];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETADDR;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_UNSPEC;
  AddrQuery q{ifindex, {}};
  Query(nlh, "list addresses", AddrCb, &q);
  return q.out;
}

std::vector<IpPrefix> Netlink::RouteDestinations(IpAddress::Family family) {
  char buf[256];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(Af(family));
  RouteQuery q{family, {}};
  Query(nlh, "list routes", RouteCb, &q);
  return q.out;
}

void WriteSysctl(const std::string& key, const std::string& value) {
  WriteFileOrThrow("/proc/sys/" + key, value);
}

}  // namespace berth::network

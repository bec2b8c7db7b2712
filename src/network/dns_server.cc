#include "network/dns_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <list>

#include "base/error.h"
#include "base/log.h"
#include "network/dns_message.h"

namespace berth::network {

void DnsTable::Upsert(const std::string& key, DnsEndpoint endpoint) {
  for (auto& n : endpoint.names) {
    n = dns::Lower(n);
  }
  std::lock_guard lock(mu_);
  endpoints_[key] = std::move(endpoint);
}

void DnsTable::Remove(const std::string& key) {
  std::lock_guard lock(mu_);
  endpoints_.erase(key);
}

DnsTable::Answer DnsTable::Lookup(const IpAddress& source, const std::string& name,
                                  bool want_v6) const {
  Answer a;
  std::string lower = dns::Lower(name);
  if (!lower.empty() && lower.back() == '.') {
    lower.pop_back();
  }
  std::lock_guard lock(mu_);
  std::set<std::string> networks;
  for (const auto& [key, e] : endpoints_) {
    std::vector<IpAddress> from = e.addresses;
    from.insert(from.end(), e.sources.begin(), e.sources.end());
    for (const auto& addr : from) {
      if (addr == source) {
        networks.insert(e.network);
        if (a.upstreams.empty()) {
          a.upstreams = e.upstreams;
        }
      }
    }
  }
  a.known_source = !networks.empty();
  if (!a.known_source) {
    return a;
  }
  for (const auto& [key, e] : endpoints_) {
    if (!networks.count(e.network)) {
      continue;
    }
    bool match = false;
    for (const auto& n : e.names) {
      match = match || n == lower;
    }
    if (!match) {
      continue;
    }
    a.name_found = true;
    for (const auto& addr : e.addresses) {
      if (addr.is_v6() == want_v6 &&
          std::find(a.addresses.begin(), a.addresses.end(), addr) == a.addresses.end()) {
        a.addresses.push_back(addr);
      }
    }
  }
  return a;
}

std::optional<std::string> AnswerLocally(const DnsTable& table, const IpAddress& source,
                                         std::string_view query, uint32_t ttl,
                                         std::vector<IpAddress>* upstreams) {
  dns::Message q;
  try {
    q = dns::Parse(query);
  } catch (const Error&) {
    uint16_t id;
    if (!dns::PeekId(query, &id)) {
      return std::string();  // not even a header: drop
    }
    dns::Message r;
    r.id = id;
    r.qr = true;
    r.rcode = dns::kFormErr;
    return dns::Encode(r);
  }
  if (q.qr) {
    return std::string();  // a response sent to us: drop
  }
  if (q.opcode != 0 || q.questions.size() != 1) {
    return dns::Encode(dns::MakeResponse(q, q.opcode != 0 ? dns::kNotImp : dns::kFormErr));
  }
  const dns::Question& question = q.questions[0];
  bool want_v6 = question.type == dns::kAaaa;
  DnsTable::Answer a = table.Lookup(source, question.name, want_v6);
  if (!a.known_source) {
    return dns::Encode(dns::MakeResponse(q, dns::kRefused));
  }
  if (!a.name_found) {
    *upstreams = a.upstreams;
    return std::nullopt;
  }
  dns::Message r = dns::MakeResponse(q, dns::kNoError);
  r.aa = true;
  if (question.klass == dns::kIn && (question.type == dns::kA || question.type == dns::kAaaa)) {
    for (const auto& addr : a.addresses) {
      r.answers.push_back({question.name, question.type, dns::kIn, ttl,
                           dns::AddressRdata(addr.data(), addr.size())});
    }
  }
  // Another type for a peer's name: NODATA (no answers, NOERROR), as Docker.
  return dns::Encode(r);
}

namespace {

using Clock = std::chrono::steady_clock;

sockaddr_storage SockAddr(const IpAddress& a, uint16_t port, socklen_t* len) {
  sockaddr_storage ss{};
  if (a.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, a.data(), 4);
    *len = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, a.data(), 16);
    *len = sizeof(sockaddr_in6);
  }
  return ss;
}

std::optional<IpAddress> FromSockAddr(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    return IpAddress::FromBytes(IpAddress::Family::kV4,
                                reinterpret_cast<const uint8_t*>(&sin->sin_addr));
  }
  if (ss.ss_family == AF_INET6) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    auto a = IpAddress::FromBytes(IpAddress::Family::kV6,
                                  reinterpret_cast<const uint8_t*>(&sin6->sin6_addr));
    // A v4-mapped source on a v6 socket.
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a.data(), kMapped, 12) == 0) {
      return IpAddress::FromBytes(IpAddress::Family::kV4, a.data() + 12);
    }
    return a;
  }
  return std::nullopt;
}

UniqueFd BoundSocket(const IpAddress& a, uint16_t port, int type) {
  UniqueFd fd(socket(a.is_v4() ? AF_INET : AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    ThrowErrno("dns: socket");
  }
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // The gateway address may be added to the bridge a moment later.
  setsockopt(fd.get(), SOL_IP, IP_FREEBIND, &one, sizeof one);
  if (a.is_v6()) {
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  socklen_t len;
  sockaddr_storage ss = SockAddr(a, port, &len);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    ThrowErrno("dns: bind " + a.String() + ":" + std::to_string(port));
  }
  if (type == SOCK_STREAM && listen(fd.get(), 64) != 0) {
    ThrowErrno("dns: listen on " + a.String() + ":" + std::to_string(port));
  }
  return fd;
}

constexpr size_t kMaxPending = 256;
constexpr size_t kMaxTcpConnections = 64;
constexpr auto kTcpIdle = std::chrono::seconds(10);

}  // namespace

struct DnsServer::Impl {
  struct Listener {
    UniqueFd udp, tcp;
    uint16_t port = 0;
  };
  // A TCP client: reads one length-prefixed query at a time.
  struct TcpConn {
    UniqueFd fd;
    IpAddress peer;
    std::string in;
    Clock::time_point deadline;
    bool busy = false;  // a forwarded query is pending
  };
  // A query sent upstream, waiting for its answer.
  struct Pending {
    UniqueFd fd;
    std::string query;
    std::vector<IpAddress> upstreams;
    size_t next = 0;  // the upstream to try after the current one
    Clock::time_point deadline;
    int reply_fd = -1;  // UDP listener, or the TCP connection
    bool tcp = false;
    sockaddr_storage client{};
    socklen_t client_len = 0;
  };

  const DnsTable& table;
  Options options;
  UniqueFd wake;
  std::thread thread;
  std::atomic<bool> stop{false};

  mutable std::mutex mu;  // guards listeners and options.upstreams between API and loop
  std::map<IpAddress, Listener> listeners;
  std::vector<Listener> retired;  // closed by the loop
  // Loop-only state.
  std::list<TcpConn> conns;
  std::list<Pending> pending;

  Impl(const DnsTable& t, Options o) : table(t), options(std::move(o)) {
    wake.Reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!wake) {
      ThrowErrno("dns: eventfd");
    }
  }

  void Wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake.get(), &one, sizeof one);
  }

  void Reply(int fd, bool tcp, const sockaddr_storage* to, socklen_t to_len,
             const std::string& msg) {
    if (msg.empty()) {
      return;
    }
    if (tcp) {
      std::string framed;
      framed += static_cast<char>(msg.size() >> 8);
      framed += static_cast<char>(msg.size() & 0xff);
      framed += msg;
      // Small answers fit the socket buffer; a client that does not read loses its answer.
      [[maybe_unused]] ssize_t n = send(fd, framed.data(), framed.size(), MSG_NOSIGNAL);
    } else {
      [[maybe_unused]] ssize_t n =
          sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<const sockaddr*>(to), to_len);
    }
  }

  std::string ServFail(std::string_view query) {
    uint16_t id;
    if (!dns::PeekId(query, &id)) {
      return "";
    }
    try {
      return dns::Encode(dns::MakeResponse(dns::Parse(query), dns::kServFail));
    } catch (const Error&) {
      return "";
    }
  }

  // Sends `p.query` to its next upstream; false when none is left.
  bool SendUpstream(Pending& p) {
    while (p.next < p.upstreams.size()) {
      const IpAddress& up = p.upstreams[p.next++];
      UniqueFd fd(
          socket(up.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!fd) {
        continue;
      }
      socklen_t len;
      sockaddr_storage ss = SockAddr(up, options.upstream_port, &len);
      if (connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
          send(fd.get(), p.query.data(), p.query.size(), 0) < 0) {
        continue;
      }
      p.fd = std::move(fd);
      p.deadline = Clock::now() + std::chrono::milliseconds(options.upstream_timeout_ms);
      return true;
    }
    return false;
  }

  void Handle(int reply_fd, bool tcp, const IpAddress& source, const sockaddr_storage* from,
              socklen_t from_len, std::string_view query, TcpConn* conn) {
    std::vector<IpAddress> upstreams;
    std::optional<std::string> local;
    try {
      local = AnswerLocally(table, source, query, options.ttl, &upstreams);
    } catch (const Error& e) {
      local = ServFail(query);
    }
    if (local) {
      Reply(reply_fd, tcp, from, from_len, *local);
      return;
    }
    if (upstreams.empty()) {
      std::lock_guard lock(mu);
      upstreams = options.upstreams;
    }
    if (pending.size() >= kMaxPending) {
      Reply(reply_fd, tcp, from, from_len, ServFail(query));
      return;
    }
    Pending p;
    p.query = std::string(query);
    p.upstreams = std::move(upstreams);
    p.reply_fd = reply_fd;
    p.tcp = tcp;
    if (from) {
      p.client = *from;
      p.client_len = from_len;
    }
    if (!SendUpstream(p)) {
      Reply(reply_fd, tcp, from, from_len, ServFail(query));
      return;
    }
    if (conn) {
      conn->busy = true;
    }
    pending.push_back(std::move(p));
  }

  void ReadUdp(int fd) {
    char buf[4096];
    for (int i = 0; i < 64; ++i) {  // bounded: other sockets get their turn
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 0) {
        return;
      }
      auto source = FromSockAddr(from);
      if (source) {
        Handle(fd, false, *source, &from, from_len, std::string_view(buf, size_t(n)), nullptr);
      }
    }
  }

  void Accept(int fd) {
    for (int i = 0; i < 16; ++i) {
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      UniqueFd c(
          accept4(fd, reinterpret_cast<sockaddr*>(&from), &from_len, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!c) {
        return;
      }
      auto source = FromSockAddr(from);
      if (!source || conns.size() >= kMaxTcpConnections) {
        continue;
      }
      conns.push_back({std::move(c), *source, "", Clock::now() + kTcpIdle, false});
    }
  }

  // False when the connection is done.
  bool ReadTcp(TcpConn& c) {
    char buf[4096];
    ssize_t n = recv(c.fd.get(), buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      return false;
    }
    if (n > 0) {
      c.in.append(buf, size_t(n));
      if (c.in.size() > 65537 + 2) {
        return false;
      }
      c.deadline = Clock::now() + kTcpIdle;
    }
    ReadTcpBuffered(c);
    return true;
  }

  void Loop() {
    std::vector<pollfd> fds;
    enum Kind { kWake, kUdp, kTcpListen, kConn, kPending };
    std::vector<std::pair<Kind, void*>> what;
    while (!stop.load()) {
      std::vector<Listener> gone;
      {
        std::lock_guard lock(mu);
        gone.swap(retired);
      }
      for (auto& l : gone) {
        DropPendingFor(l.udp.get(), false);
      }
      gone.clear();
      fds.clear();
      what.clear();
      fds.push_back({wake.get(), POLLIN, 0});
      what.push_back({kWake, nullptr});
      {
        std::lock_guard lock(mu);
        for (auto& [addr, l] : listeners) {
          fds.push_back({l.udp.get(), POLLIN, 0});
          what.push_back({kUdp, nullptr});
          fds.push_back({l.tcp.get(), POLLIN, 0});
          what.push_back({kTcpListen, nullptr});
        }
      }
      for (auto& c : conns) {
        fds.push_back({c.fd.get(), POLLIN, 0});
        what.push_back({kConn, &c});
      }
      for (auto& p : pending) {
        fds.push_back({p.fd.get(), POLLIN, 0});
        what.push_back({kPending, &p});
      }
      auto now = Clock::now();
      auto next = now + std::chrono::seconds(5);
      for (auto& p : pending) {
        next = std::min(next, p.deadline);
      }
      for (auto& c : conns) {
        next = std::min(next, c.deadline);
      }
      int timeout = static_cast<int>(std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1));
      int n = poll(fds.data(), fds.size(), timeout);
      if (n < 0 && errno != EINTR) {
        log::Error(std::string("dns: poll: ") + strerror(errno));
        return;
      }
      std::set<const void*> closed_conns;
      std::vector<Pending*> done_pending;
      for (size_t i = 0; n > 0 && i < fds.size(); ++i) {
        if (fds[i].revents == 0) {
          continue;
        }
        switch (what[i].first) {
          case kWake: {
            uint64_t v;
            [[maybe_unused]] ssize_t r = read(wake.get(), &v, sizeof v);
            break;
          }
          case kUdp:
            ReadUdp(fds[i].fd);
            break;
          case kTcpListen:
            Accept(fds[i].fd);
            break;
          case kConn: {
            auto* c = static_cast<TcpConn*>(what[i].second);
            if (!ReadTcp(*c)) {
              closed_conns.insert(c);
            }
            break;
          }
          case kPending: {
            auto* p = static_cast<Pending*>(what[i].second);
            char buf[65536];
            ssize_t r = recv(p->fd.get(), buf, sizeof buf, 0);
            uint16_t want, got;
            if (r > 0 && dns::PeekId(std::string_view(buf, size_t(r)), &got) &&
                dns::PeekId(p->query, &want) && got == want) {
              if (!closed_conns.count(FindConn(p))) {
                Reply(p->reply_fd, p->tcp, &p->client, p->client_len, std::string(buf, size_t(r)));
              }
              done_pending.push_back(p);
            } else if (r < 0 && errno != EAGAIN) {
              // ICMP unreachable from this upstream: the next one, at once.
              p->deadline = Clock::now();
            }
            break;
          }
        }
      }
      now = Clock::now();
      for (auto& p : pending) {
        if (std::find(done_pending.begin(), done_pending.end(), &p) == done_pending.end() &&
            p.deadline <= now && !SendUpstream(p)) {
          if (!closed_conns.count(FindConn(&p))) {
            Reply(p.reply_fd, p.tcp, &p.client, p.client_len, ServFail(p.query));
          }
          done_pending.push_back(&p);
        }
      }
      for (auto it = pending.begin(); it != pending.end();) {
        if (std::find(done_pending.begin(), done_pending.end(), &*it) != done_pending.end()) {
          if (TcpConn* c = FindConn(&*it)) {
            c->busy = false;
          }
          it = pending.erase(it);
        } else {
          ++it;
        }
      }
      for (auto it = conns.begin(); it != conns.end();) {
        bool idle = !it->busy && it->deadline <= now;
        if (closed_conns.count(&*it) || idle) {
          DropPendingFor(it->fd.get(), true);
          it = conns.erase(it);
        } else {
          ++it;
        }
      }
      // A connection freed from a pending query may hold the next one already.
      for (auto& c : conns) {
        if (!c.busy && c.in.size() >= 2) {
          ReadTcpBuffered(c);
        }
      }
    }
  }

  void ReadTcpBuffered(TcpConn& c) {
    while (!c.busy && c.in.size() >= 2) {
      size_t len = static_cast<uint8_t>(c.in[0]) << 8 | static_cast<uint8_t>(c.in[1]);
      if (c.in.size() < 2 + len) {
        break;
      }
      std::string query = c.in.substr(2, len);
      c.in.erase(0, 2 + len);
      Handle(c.fd.get(), true, c.peer, nullptr, 0, query, &c);
    }
  }

  TcpConn* FindConn(const Pending* p) {
    if (!p->tcp) {
      return nullptr;
    }
    for (auto& c : conns) {
      if (c.fd.get() == p->reply_fd) {
        return &c;
      }
    }
    return nullptr;
  }

  void DropPendingFor(int fd, bool tcp) {
    for (auto it = pending.begin(); it != pending.end();) {
      it = it->tcp == tcp && it->reply_fd == fd ? pending.erase(it) : std::next(it);
    }
  }
};

DnsServer::DnsServer(const DnsTable& table, Options options)
    : impl_(std::make_unique<Impl>(table, std::move(options))) {
  impl_->thread = std::thread([this] { impl_->Loop(); });
}

DnsServer::~DnsServer() {
  impl_->stop = true;
  impl_->Wake();
  impl_->thread.join();
}

void DnsServer::Listen(const IpAddress& address, uint16_t port) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->listeners.count(address)) {
      return;
    }
  }
  Impl::Listener l;
  l.udp = BoundSocket(address, port, SOCK_DGRAM);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(l.udp.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  l.port = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  l.tcp = BoundSocket(address, l.port, SOCK_STREAM);
  {
    std::lock_guard lock(impl_->mu);
    impl_->listeners.emplace(address, std::move(l));
  }
  impl_->Wake();
}

void DnsServer::StopListening(const IpAddress& address) {
  // The loop may be using the sockets: it closes them itself, so their numbers cannot be
  // reused under it. A reply still pending for this listener is dropped.
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->listeners.find(address);
    if (it == impl_->listeners.end()) {
      return;
    }
    impl_->retired.push_back(std::move(it->second));
    impl_->listeners.erase(it);
  }
  impl_->Wake();
}

uint16_t DnsServer::BoundPort(const IpAddress& address) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->listeners.find(address);
  return it == impl_->listeners.end() ? 0 : it->second.port;
}

void DnsServer::SetUpstreams(std::vector<IpAddress> upstreams) {
  std::lock_guard lock(impl_->mu);
  impl_->options.upstreams = std::move(upstreams);
}

}  // namespace berth::network

#include "network/port_proxy.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

namespace berth::network {

// Every socket a thread works on is registered under its owner until the thread is done with
// it: Remove() shuts them down under the lock, and a thread unregisters (under the lock)
// before it closes, so Remove never touches a descriptor number that was closed and reused.
struct PortProxy::State {
  std::mutex mu;
  std::map<std::string, std::set<int>> fds;  // owner -> sockets in use; absent: removed

  bool Register(const std::string& owner, std::initializer_list<int> list) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = fds.find(owner);
    if (it == fds.end()) {
      return false;
    }
    it->second.insert(list);
    return true;
  }
  void Unregister(const std::string& owner, std::initializer_list<int> list) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = fds.find(owner);
    if (it != fds.end()) {
      for (int fd : list) {
        it->second.erase(fd);
      }
    }
  }
};

namespace {

sockaddr_storage Address(const IpAddress& ip, uint16_t port, socklen_t* len) {
  sockaddr_storage ss{};
  if (ip.is_v6()) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    memcpy(&a->sin6_addr, ip.data(), 16);
    *len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    memcpy(&a->sin_addr, ip.data(), 4);
    *len = sizeof(*a);
  }
  return ss;
}

bool WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w <= 0) {
      return false;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Copies both ways until both directions ended (a half close is passed on) or either failed.
void Relay(int a, int b) {
  char buf[16384];
  bool open_ab = true, open_ba = true;
  while (open_ab || open_ba) {
    pollfd p[2] = {{a, static_cast<short>(open_ab ? POLLIN : 0), 0},
                   {b, static_cast<short>(open_ba ? POLLIN : 0), 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    for (int i = 0; i < 2; ++i) {
      bool& open = i == 0 ? open_ab : open_ba;
      int from = i == 0 ? a : b, to = i == 0 ? b : a;
      if (!open || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        continue;
      }
      ssize_t r = recv(from, buf, sizeof(buf), 0);
      if (r < 0 && errno == EINTR) {
        continue;
      }
      if (r < 0) {
        return;
      }
      if (r == 0) {
        open = false;
        shutdown(to, SHUT_WR);
        continue;
      }
      if (!WriteAll(to, buf, static_cast<size_t>(r))) {
        return;
      }
    }
  }
}

void Connection(std::shared_ptr<PortProxy::State> state, std::string owner, UniqueFd client,
                IpAddress target, uint16_t port) {
  UniqueFd upstream(socket(target.is_v6() ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!upstream || !state->Register(owner, {upstream.get()})) {
    state->Unregister(owner, {client.get()});
    return;
  }
  timeval tv{5, 0};  // bounds connect(); a container that does not answer is not waited for
  setsockopt(upstream.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  socklen_t len;
  sockaddr_storage ss = Address(target, port, &len);
  if (connect(upstream.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    timeval none{0, 0};
    setsockopt(upstream.get(), SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
    Relay(client.get(), upstream.get());
  }
  state->Unregister(owner, {client.get(), upstream.get()});
}

void Listener(std::shared_ptr<PortProxy::State> state, std::string owner, UniqueFd listener,
              IpAddress target, uint16_t port) {
  for (;;) {
    int c = accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      break;  // EINVAL: Remove() shut the listener down
    }
    UniqueFd client(c);
    if (!state->Register(owner, {client.get()})) {
      break;
    }
    std::thread(Connection, state, owner, std::move(client), target, port).detach();
  }
  state->Unregister(owner, {listener.get()});
}

}  // namespace

PortProxy::PortProxy() : state_(std::make_shared<State>()) {}

PortProxy::~PortProxy() {
  std::vector<std::string> owners;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (auto& item : state_->fds) {
      owners.push_back(item.first);
    }
  }
  for (const auto& o : owners) {
    Remove(o);
  }
}

void PortProxy::Add(const std::string& owner, UniqueFd listener, const IpAddress& target,
                    uint16_t port) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->fds[owner].insert(listener.get());
  }
  std::thread(Listener, state_, owner, std::move(listener), target, port).detach();
}

void PortProxy::Remove(const std::string& owner) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->fds.find(owner);
  if (it == state_->fds.end()) {
    return;
  }
  for (int fd : it->second) {
    shutdown(fd, SHUT_RDWR);  // wakes accept(), poll() and recv() in the owner's threads
  }
  state_->fds.erase(it);
}

}  // namespace berth::network

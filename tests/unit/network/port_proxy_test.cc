#include "network/port_proxy.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

namespace berth::network {
namespace {

// A listening TCP socket on 127.0.0.1, any port.
UniqueFd Listen(uint16_t* port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(listen(fd.get(), 8), 0);
  socklen_t len = sizeof(a);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

UniqueFd Connect(uint16_t port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

// Reads until EOF or 2 s without data.
std::string ReadAll(int fd) {
  std::string out;
  char buf[256];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 2000) <= 0) return out + "<timeout>";
    ssize_t r = recv(fd, buf, sizeof(buf), 0);
    if (r <= 0) return out;
    out.append(buf, static_cast<size_t>(r));
  }
}

TEST(PortProxy, RelaysBothWaysWithHalfClose) {
  uint16_t target_port, front_port;
  UniqueFd target = Listen(&target_port);
  UniqueFd front = Listen(&front_port);
  PortProxy proxy;
  proxy.Add("c1", std::move(front), *IpAddress::Parse("127.0.0.1"), target_port);

  UniqueFd client = Connect(front_port);
  ASSERT_EQ(send(client.get(), "ping", 4, 0), 4);
  shutdown(client.get(), SHUT_WR);  // the half close reaches the target as EOF
  UniqueFd server(accept(target.get(), nullptr, nullptr));
  ASSERT_TRUE(server);
  EXPECT_EQ(ReadAll(server.get()), "ping");
  ASSERT_EQ(send(server.get(), "pong", 4, 0), 4);
  server.Reset();
  EXPECT_EQ(ReadAll(client.get()), "pong");
}

TEST(PortProxy, RemoveCutsConnectionsAndStopsAccepting) {
  uint16_t target_port, front_port;
  UniqueFd target = Listen(&target_port);
  UniqueFd front = Listen(&front_port);
  PortProxy proxy;
  proxy.Add("c1", std::move(front), *IpAddress::Parse("127.0.0.1"), target_port);
  UniqueFd client = Connect(front_port);
  UniqueFd server(accept(target.get(), nullptr, nullptr));
  ASSERT_TRUE(server);
  proxy.Remove("c1");
  EXPECT_EQ(ReadAll(client.get()), "");  // EOF, not a timeout
  EXPECT_EQ(ReadAll(server.get()), "");
  proxy.Remove("c1");  // idempotent
  proxy.Remove("unknown");
}

TEST(PortProxy, TargetRefusingClosesTheClient) {
  uint16_t closed_port, front_port;
  { UniqueFd gone = Listen(&closed_port); }  // nothing listens there any more
  UniqueFd front = Listen(&front_port);
  PortProxy proxy;
  proxy.Add("c1", std::move(front), *IpAddress::Parse("127.0.0.1"), closed_port);
  UniqueFd client = Connect(front_port);
  EXPECT_EQ(ReadAll(client.get()), "");
}

}  // namespace
}  // namespace berth::network

#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace berth::network {

// An IPv4 or IPv6 address as plain data: 4 or 16 bytes in network order. Ordered, so it can
// key sets (IPAM's allocations) and compare across families (every v4 sorts before every v6).
class IpAddress {
 public:
  enum class Family : uint8_t { kV4, kV6 };

  IpAddress() = default;
  static IpAddress V4(uint32_t host_order);
  static IpAddress FromBytes(Family family, const uint8_t* bytes);
  // "10.0.0.1", "fd00::1"; nullopt when it is neither.
  static std::optional<IpAddress> Parse(std::string_view text);
  // As Parse, throwing kInvalidArgument naming `what` ("invalid IP address: \"x\"").
  static IpAddress ParseOrThrow(std::string_view text, std::string_view what = "IP address");

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::kV4; }
  bool is_v6() const { return family_ == Family::kV6; }
  int bits() const { return is_v4() ? 32 : 128; }
  size_t size() const { return is_v4() ? 4 : 16; }
  const uint8_t* data() const { return bytes_.data(); }
  uint32_t v4() const;  // host order; only for v4
  bool IsLoopback() const;
  bool IsUnspecified() const;

  // The address `n` further on (wrapping within the family); n may be negative.
  IpAddress Plus(int64_t n) const;
  // this - other, saturated to int64 (both the same family).
  int64_t Minus(const IpAddress& other) const;

  std::string String() const;

  auto operator<=>(const IpAddress&) const = default;
  bool operator==(const IpAddress&) const = default;

 private:
  Family family_ = Family::kV4;
  std::array<uint8_t, 16> bytes_{};
};

// An address with a prefix length: a subnet ("10.88.0.0/16") or an interface address
// ("10.88.0.1/16", where address() keeps the host bits).
class IpPrefix {
 public:
  IpPrefix() = default;
  IpPrefix(IpAddress address, int length);
  // "10.88.0.0/16", "fd00:1::/64"; a bare address is a host prefix (/32, /128).
  static std::optional<IpPrefix> Parse(std::string_view text);
  static IpPrefix ParseOrThrow(std::string_view text, std::string_view what = "subnet");

  const IpAddress& address() const { return address_; }
  int length() const { return length_; }
  IpAddress::Family family() const { return address_.family(); }
  IpAddress Network() const;      // host bits cleared
  IpAddress LastAddress() const;  // host bits set (the v4 broadcast)
  IpPrefix Masked() const { return IpPrefix(Network(), length_); }
  bool IsNetwork() const { return Network() == address_; }  // no host bits set
  bool Contains(const IpAddress& a) const;
  bool Contains(const IpPrefix& p) const;  // p is inside this
  bool Overlaps(const IpPrefix& p) const;
  std::string Netmask() const;  // v4 only: "255.255.0.0"

  std::string String() const;  // address()/length

  auto operator<=>(const IpPrefix&) const = default;
  bool operator==(const IpPrefix&) const = default;

 private:
  IpAddress address_;
  int length_ = 0;
};

}  // namespace berth::network

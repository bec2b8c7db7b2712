#include "network/ip_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include "base/error.h"

namespace berth::network {

IpAddress IpAddress::V4(uint32_t host_order) {
  IpAddress a;
  a.family_ = Family::kV4;
  uint32_t n = htonl(host_order);
  std::memcpy(a.bytes_.data(), &n, 4);
  return a;
}

IpAddress IpAddress::FromBytes(Family family, const uint8_t* bytes) {
  IpAddress a;
  a.family_ = family;
  std::memcpy(a.bytes_.data(), bytes, family == Family::kV4 ? 4 : 16);
  return a;
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) {
    return std::nullopt;
  }
  std::string s(text);
  uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    return FromBytes(Family::kV4, buf);
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    return FromBytes(Family::kV6, buf);
  }
  return std::nullopt;
}

IpAddress IpAddress::ParseOrThrow(std::string_view text, std::string_view what) {
  auto a = Parse(text);
  if (!a) {
    ThrowInvalid("invalid " + std::string(what) + ": \"" + std::string(text) + "\"");
  }
  return *a;
}

uint32_t IpAddress::v4() const {
  uint32_t n;
  std::memcpy(&n, bytes_.data(), 4);
  return ntohl(n);
}

bool IpAddress::IsLoopback() const {
  if (is_v4()) {
    return bytes_[0] == 127;
  }
  static const uint8_t kLoop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(bytes_.data(), kLoop, 16) == 0;
}

bool IpAddress::IsUnspecified() const {
  for (size_t i = 0; i < size(); ++i) {
    if (bytes_[i] != 0) {
      return false;
    }
  }
  return true;
}

IpAddress IpAddress::Plus(int64_t n) const {
  IpAddress r = *this;
  // Add a two's-complement 128-bit value byte by byte from the end.
  int len = static_cast<int>(size());
  uint64_t carry_in = static_cast<uint64_t>(n);
  bool negative = n < 0;
  unsigned carry = 0;
  for (int i = len - 1; i >= 0; --i) {
    int shift = (len - 1 - i) * 8;
    unsigned addend =
        shift < 64 ? static_cast<unsigned>((carry_in >> shift) & 0xff) : (negative ? 0xffu : 0u);
    unsigned sum = r.bytes_[i] + addend + carry;
    r.bytes_[i] = static_cast<uint8_t>(sum & 0xff);
    carry = sum >> 8;
  }
  return r;
}

int64_t IpAddress::Minus(const IpAddress& other) const {
  // Difference of the low 8 bytes if the high bytes match; else saturate.
  int len = static_cast<int>(size());
  int high = len - 8;
  for (int i = 0; i < high; ++i) {
    if (bytes_[i] != other.bytes_[i]) {
      return bytes_[i] > other.bytes_[i] ? INT64_MAX : INT64_MIN;
    }
  }
  uint64_t a = 0, b = 0;
  for (int i = std::max(0, high); i < len; ++i) {
    a = (a << 8) | bytes_[i];
    b = (b << 8) | other.bytes_[i];
  }
  if (a >= b) {
    uint64_t d = a - b;
    return d > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(d);
  }
  uint64_t d = b - a;
  return d > static_cast<uint64_t>(INT64_MAX) ? INT64_MIN : -static_cast<int64_t>(d);
}

std::string IpAddress::String() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

IpPrefix::IpPrefix(IpAddress address, int length) : address_(address), length_(length) {
  if (length < 0 || length > address.bits()) {
    ThrowInvalid("invalid prefix length " + std::to_string(length) + " for " + address.String());
  }
}

std::optional<IpPrefix> IpPrefix::Parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = IpAddress::Parse(text.substr(0, slash));
  if (!addr) {
    return std::nullopt;
  }
  if (slash == std::string_view::npos) {
    return IpPrefix(*addr, addr->bits());
  }
  std::string_view len_text = text.substr(slash + 1);
  int len = -1;
  auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (ec != std::errc() || ptr != len_text.data() + len_text.size() || len_text.empty() ||
      len < 0 || len > addr->bits()) {
    return std::nullopt;
  }
  return IpPrefix(*addr, len);
}

IpPrefix IpPrefix::ParseOrThrow(std::string_view text, std::string_view what) {
  auto p = Parse(text);
  if (!p) {
    ThrowInvalid("invalid " + std::string(what) + ": \"" + std::string(text) + "\"");
  }
  return *p;
}

namespace {

std::array<uint8_t, 16> Mask(int bits, int length) {
  std::array<uint8_t, 16> m{};
  for (int i = 0; i < bits / 8; ++i) {
    int from = i * 8;
    if (length >= from + 8) {
      m[i] = 0xff;
    } else if (length > from) {
      m[i] = static_cast<uint8_t>(0xff << (8 - (length - from)));
    }
  }
  return m;
}

}  // namespace

IpAddress IpPrefix::Network() const {
  auto m = Mask(address_.bits(), length_);
  uint8_t b[16];
  for (size_t i = 0; i < address_.size(); ++i) {
    b[i] = address_.data()[i] & m[i];
  }
  return IpAddress::FromBytes(address_.family(), b);
}

IpAddress IpPrefix::LastAddress() const {
  auto m = Mask(address_.bits(), length_);
  uint8_t b[16];
  for (size_t i = 0; i < address_.size(); ++i) {
    b[i] = address_.data()[i] | static_cast<uint8_t>(~m[i]);
  }
  return IpAddress::FromBytes(address_.family(), b);
}

bool IpPrefix::Contains(const IpAddress& a) const {
  return a.family() == family() && IpPrefix(a, length_).Network() == Network();
}

bool IpPrefix::Contains(const IpPrefix& p) const {
  return p.family() == family() && p.length_ >= length_ && Contains(p.address_);
}

bool IpPrefix::Overlaps(const IpPrefix& p) const { return Contains(p) || p.Contains(*this); }

std::string IpPrefix::Netmask() const {
  auto m = Mask(32, length_);
  return IpAddress::FromBytes(IpAddress::Family::kV4, m.data()).String();
}

std::string IpPrefix::String() const { return address_.String() + "/" + std::to_string(length_); }

}  // namespace berth::network

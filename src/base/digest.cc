#include "base/digest.h"

#include <sys/random.h>

#include "base/error.h"

namespace berth {

Sha256::Sha256() { sha256_init(&ctx_); }

void Sha256::Update(const void* data, size_t size) {
  sha256_update(&ctx_, size, static_cast<const uint8_t*>(data));
}

std::string Sha256::Digest() const {
  // nettle's digest resets its context: finalise a copy, so that hashing can continue.
  sha256_ctx copy = ctx_;
  uint8_t md[SHA256_DIGEST_SIZE];
  sha256_digest(&copy, sizeof(md), md);
  static const char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (uint8_t b : md) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string Sha256Digest(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Digest();
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (getrandom(raw.data(), raw.size(), 0) != static_cast<ssize_t>(raw.size())) {
    ThrowErrno("getrandom");
  }
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : raw) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace berth

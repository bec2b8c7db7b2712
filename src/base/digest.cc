#include "base/digest.h"

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

}  // namespace berth

#include "base/digest.h"

#include "base/error.h"

namespace berth {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
    throw Error(Kind::kInternal, "sha256: cannot initialise OpenSSL's digest");
  }
}

void Sha256::Update(const void* data, size_t size) {
  if (size != 0 && EVP_DigestUpdate(ctx_.get(), data, size) != 1) {
    throw Error(Kind::kInternal, "sha256: digest update failed");
  }
}

std::string Sha256::Digest() const {
  // Finalise a copy, so that hashing can continue.
  std::unique_ptr<EVP_MD_CTX, Free> copy(EVP_MD_CTX_new());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!copy || EVP_MD_CTX_copy_ex(copy.get(), ctx_.get()) != 1 ||
      EVP_DigestFinal_ex(copy.get(), md, &len) != 1) {
    throw Error(Kind::kInternal, "sha256: digest finalisation failed");
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string Sha256Digest(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Digest();
}

}  // namespace berth

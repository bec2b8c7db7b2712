#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

namespace berth {

// Streaming SHA-256 (OpenSSL's EVP): feed bytes as they arrive, then take the digest in the
// OCI form "sha256:<64 lowercase hex>".
class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // The digest of everything fed so far ("sha256:…"); the hasher can go on afterwards.
  std::string Digest() const;

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// The digest of `data` in one call.
std::string Sha256Digest(std::string_view data);

}  // namespace berth

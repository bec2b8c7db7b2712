#pragma once

#include <nettle/sha2.h>

#include <string>
#include <string_view>

namespace berth {

// Streaming SHA-256 (nettle's, with the CPU's SHA instructions where it has them): feed bytes
// as they arrive, then take the digest in the OCI form "sha256:<64 lowercase hex>". nettle
// rather than OpenSSL: libarchive maps it anyway, and libcrypto alone costs berthd 3.4 MB of
// resident memory at rest.
class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // The digest of everything fed so far ("sha256:…"); the hasher can go on afterwards.
  std::string Digest() const;

 private:
  sha256_ctx ctx_;
};

// The digest of `data` in one call.
std::string Sha256Digest(std::string_view data);

// `bytes` random bytes (getrandom) as lowercase hex: container, exec and volume IDs.
std::string RandomHex(size_t bytes);

}  // namespace berth

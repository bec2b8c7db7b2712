#pragma once

#include <nettle/sha2.h>
#include <openssl/sha.h>

#include <string>
#include <string_view>

namespace berth {

// Streaming SHA-256: feed bytes as they arrive, then take the digest in the OCI form
// "sha256:<64 lowercase hex>". nettle's (with the CPU's SHA instructions where it has them)
// rather than OpenSSL's by default: libarchive maps nettle anyway, and linking libcrypto
// costs berthd 3.4 MB of resident memory at rest. When the process has libcrypto mapped
// already (berthd once libcurl is loaded for a pull or push; berth-registry, which links it
// for TLS), its SHA-256 is used instead: 10-15% faster on the same instructions, and at
// those moments the hashing of every byte pulled or pushed is a third of the work.
class Sha256 {
 public:
  Sha256();

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // The digest of everything fed so far ("sha256:…"); the hasher can go on afterwards.
  std::string Digest() const;
  // Whether OpenSSL's SHA-256 does the work (see above).
  bool openssl() const { return openssl_; }

 private:
  // OpenSSL's low-level SHA-256 (its EVP layer would allocate, fetch the algorithm and keep
  // per-thread error state for every hasher), when libcrypto was there at construction.
  bool openssl_ = false;
  union {
    sha256_ctx nettle_;
    SHA256_CTX ossl_;
  };
};

// The digest of `data` in one call.
std::string Sha256Digest(std::string_view data);

// `bytes` random bytes (getrandom) as lowercase hex: container, exec and volume IDs.
std::string RandomHex(size_t bytes);

}  // namespace berth

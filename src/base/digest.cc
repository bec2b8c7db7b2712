#include "base/digest.h"

#include <dlfcn.h>
#include <sys/random.h>

#include <atomic>
#include <mutex>
#include <type_traits>

#include "base/error.h"

namespace berth {

namespace {

// OpenSSL's SHA-256 calls, bound once libcrypto is found mapped in the process.
struct OpenSsl {
  int (*init)(SHA256_CTX*);
  int (*update)(SHA256_CTX*, const void*, size_t);
  int (*final)(unsigned char*, SHA256_CTX*);
};

// nullptr until libcrypto is mapped; never loads it. The handle taken is never closed.
const OpenSsl* FindOpenSsl() {
  static std::atomic<const OpenSsl*> bound{nullptr};
  static std::mutex mu;
  if (const OpenSsl* o = bound.load(std::memory_order_acquire)) {
    return o;
  }
  std::lock_guard lock(mu);
  if (const OpenSsl* o = bound.load(std::memory_order_acquire)) {
    return o;
  }
  void* h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_NOLOAD);
  if (h == nullptr) {
    return nullptr;
  }
  static OpenSsl fns;
  auto bind = [h](const char* name, auto& fn) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(h, name));
    return fn != nullptr;
  };
  if (!bind("SHA256_Init", fns.init) || !bind("SHA256_Update", fns.update) ||
      !bind("SHA256_Final", fns.final)) {
    dlclose(h);
    return nullptr;
  }
  bound.store(&fns, std::memory_order_release);
  return &fns;
}

std::string Hex(const uint8_t* md, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (size_t i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace

Sha256::Sha256() {
  if (const OpenSsl* o = FindOpenSsl()) {
    openssl_ = true;
    o->init(&ossl_);
  } else {
    sha256_init(&nettle_);
  }
}

void Sha256::Update(const void* data, size_t size) {
  if (openssl_) {
    FindOpenSsl()->update(&ossl_, data, size);
  } else {
    sha256_update(&nettle_, size, static_cast<const uint8_t*>(data));
  }
}

std::string Sha256::Digest() const {
  // Both finalise their context: finalise a copy, so that hashing can continue.
  uint8_t md[SHA256_DIGEST_SIZE];
  if (openssl_) {
    SHA256_CTX copy = ossl_;
    FindOpenSsl()->final(md, &copy);
  } else {
    sha256_ctx copy = nettle_;
    sha256_digest(&copy, sizeof(md), md);
  }
  return Hex(md, sizeof(md));
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

#include "base/digest.h"

#include <dlfcn.h>
#include <sys/random.h>

#include <atomic>
#include <mutex>
#include <type_traits>

#include "base/error.h"

namespace berth {

namespace {

// OpenSSL's EVP digest calls, bound once libcrypto is found mapped in the process.
struct Evp {
  void* (*ctx_new)();
  void (*ctx_free)(void*);
  int (*ctx_copy)(void*, const void*);
  const void* (*sha256)();
  int (*init)(void*, const void*, void*);
  int (*update)(void*, const void*, size_t);
  int (*final)(void*, unsigned char*, unsigned int*);
};

// nullptr until libcrypto is mapped; never loads it. The handle taken is never closed, so the
// library stays while any context lives.
const Evp* FindEvp() {
  static std::atomic<const Evp*> bound{nullptr};
  static std::mutex mu;
  if (const Evp* e = bound.load(std::memory_order_acquire)) {
    return e;
  }
  std::lock_guard lock(mu);
  if (const Evp* e = bound.load(std::memory_order_acquire)) {
    return e;
  }
  void* h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_NOLOAD);
  if (h == nullptr) {
    return nullptr;
  }
  static Evp evp;
  auto bind = [h](const char* name, auto& fn) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(h, name));
    return fn != nullptr;
  };
  if (!bind("EVP_MD_CTX_new", evp.ctx_new) || !bind("EVP_MD_CTX_free", evp.ctx_free) ||
      !bind("EVP_MD_CTX_copy_ex", evp.ctx_copy) || !bind("EVP_sha256", evp.sha256) ||
      !bind("EVP_DigestInit_ex", evp.init) || !bind("EVP_DigestUpdate", evp.update) ||
      !bind("EVP_DigestFinal_ex", evp.final)) {
    dlclose(h);
    return nullptr;
  }
  bound.store(&evp, std::memory_order_release);
  return &evp;
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
  if (const Evp* e = FindEvp()) {
    evp_ = e->ctx_new();
    if (evp_ != nullptr && e->init(evp_, e->sha256(), nullptr) == 1) {
      return;
    }
    e->ctx_free(evp_);
    evp_ = nullptr;
  }
  sha256_init(&ctx_);
}

Sha256::~Sha256() {
  if (evp_ != nullptr) {
    FindEvp()->ctx_free(evp_);
  }
}

Sha256::Sha256(Sha256&& other) noexcept : ctx_(other.ctx_), evp_(other.evp_) {
  other.evp_ = nullptr;
}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
  if (this != &other) {
    if (evp_ != nullptr) {
      FindEvp()->ctx_free(evp_);
    }
    ctx_ = other.ctx_;
    evp_ = other.evp_;
    other.evp_ = nullptr;
  }
  return *this;
}

void Sha256::Update(const void* data, size_t size) {
  if (evp_ != nullptr) {
    FindEvp()->update(evp_, data, size);
    return;
  }
  sha256_update(&ctx_, size, static_cast<const uint8_t*>(data));
}

std::string Sha256::Digest() const {
  uint8_t md[SHA256_DIGEST_SIZE];
  // Both finalise their context: finalise a copy, so that hashing can continue.
  if (evp_ != nullptr) {
    const Evp* e = FindEvp();
    void* copy = e->ctx_new();
    unsigned int n = 0;
    bool ok = copy != nullptr && e->ctx_copy(copy, evp_) == 1 && e->final(copy, md, &n) == 1 &&
              n == sizeof(md);
    e->ctx_free(copy);
    if (!ok) {
      throw Error(Kind::kInternal, "sha256: OpenSSL failed to finish a digest");
    }
    return Hex(md, sizeof(md));
  }
  sha256_ctx copy = ctx_;
  sha256_digest(&copy, sizeof(md), md);
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

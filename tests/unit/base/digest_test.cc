#include "base/digest.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <string>

namespace berth {
namespace {

// nettle's digest of `data`, fed in pieces of `step` bytes through whichever code Sha256
// picked, and against nettle called directly.
void ExpectSameDigests(const std::string& data, bool want_openssl) {
  for (size_t step : {1ul, 63ul, 64ul, 4096ul, 1ul << 20}) {
    Sha256 h;
    EXPECT_EQ(h.openssl(), want_openssl);
    for (size_t at = 0; at < data.size(); at += step) {
      h.Update(data.data() + at, std::min(step, data.size() - at));
    }
    sha256_ctx ref;
    sha256_init(&ref);
    sha256_update(&ref, data.size(), reinterpret_cast<const uint8_t*>(data.data()));
    uint8_t md[SHA256_DIGEST_SIZE];
    sha256_digest(&ref, sizeof(md), md);
    std::string want = "sha256:";
    for (uint8_t b : md) {
      want += "0123456789abcdef"[b >> 4];
      want += "0123456789abcdef"[b & 15];
    }
    EXPECT_EQ(h.Digest(), want) << step;
    EXPECT_EQ(h.Digest(), want) << "taking the digest leaves the hasher as it was";
    Sha256 moved = std::move(h);
    moved.Update("x", 1);
    EXPECT_EQ(moved.Digest(), Sha256Digest(data + "x")) << "a moved hasher goes on";
  }
}

TEST(Sha256, KnownDigestsWithNettleThenWithOpenSsl) {
  EXPECT_EQ(Sha256Digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Digest("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>(i * 131 + (i >> 9));
  }
  // This binary does not link libcrypto; another test may have loaded it (libcurl does).
  bool mapped = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_NOLOAD) != nullptr;
  ExpectSameDigests(data, mapped);
  ASSERT_NE(dlopen("libcrypto.so.3", RTLD_NOW), nullptr) << dlerror();  // kept open
  ExpectSameDigests(data, true);
  EXPECT_EQ(Sha256Digest("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace berth

#include "registry/names.h"

#include <gtest/gtest.h>

#include "registry/errors.h"

namespace berth::registry {
namespace {

TEST(RegistryNames, RepositoryNamesFollowTheSpecGrammar) {
  for (const char* ok : {"a", "busybox", "library/busybox", "a/b/c", "my-app", "my--app", "my_app",
                         "my__app", "my.app", "a0/b1.c2_d3-e4", "x/y/z/w/v"}) {
    EXPECT_TRUE(ValidRepositoryName(ok)) << ok;
  }
  for (const char* bad :
       {"",      "A",    "Busybox", "a/",    "/a",   "a//b",  "..",  "../a",      "a/../b",
        "a/./b", "a/..", ".a",      "a.",    "a..b", "a___b", "_a",  "a_",        "-a",
        "a-",    "a/b/", "a b",     "a%2fb", "a\\b", "a:b",   "a@b", "a/_layers", "\xc3\xa9"}) {
    EXPECT_FALSE(ValidRepositoryName(bad)) << bad;
  }
  EXPECT_TRUE(ValidRepositoryName(std::string(255, 'a')));
  EXPECT_FALSE(ValidRepositoryName(std::string(256, 'a')));
}

TEST(RegistryNames, Tags) {
  for (const char* ok : {"latest", "1", "v1.2.3", "_x", "A-b_c.d", "1.0-rc1"}) {
    EXPECT_TRUE(ValidTag(ok)) << ok;
  }
  for (const char* bad : {"", ".x", "-x", "..", "a/b", "a:b", "a b", "a%b"}) {
    EXPECT_FALSE(ValidTag(bad)) << bad;
  }
  EXPECT_TRUE(ValidTag(std::string(128, 'a')));
  EXPECT_FALSE(ValidTag(std::string(129, 'a')));
}

TEST(RegistryNames, Digests) {
  std::string hex(64, 'a');
  EXPECT_TRUE(ValidDigest("sha256:" + hex));
  EXPECT_FALSE(ValidDigest("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(ValidDigest("sha256:" + hex.substr(1)));
  EXPECT_FALSE(ValidDigest("sha256:" + hex + "0"));
  EXPECT_FALSE(ValidDigest("sha512:" + hex + hex));
  EXPECT_FALSE(ValidDigest("sha256:../../" + hex.substr(6)));
  EXPECT_TRUE(LooksLikeDigest("sha512:" + hex + hex));
  EXPECT_TRUE(LooksLikeDigest("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"));
  EXPECT_FALSE(LooksLikeDigest("latest"));
  EXPECT_FALSE(LooksLikeDigest("sha256:"));
  EXPECT_FALSE(LooksLikeDigest(":abc"));
  EXPECT_FALSE(LooksLikeDigest("sha256:a/b"));
}

TEST(RegistryNames, Routes) {
  using K = Route::Kind;
  EXPECT_EQ(ParseRoute("/v2/").kind, K::kPing);
  EXPECT_EQ(ParseRoute("/v2").kind, K::kPing);
  EXPECT_EQ(ParseRoute("/v2/_catalog").kind, K::kCatalog);
  EXPECT_EQ(ParseRoute("/v1/x").kind, K::kNone);
  EXPECT_EQ(ParseRoute("/v2/a/b/unknown/x").kind, K::kNone);

  Route r = ParseRoute("/v2/library/busybox/manifests/latest");
  EXPECT_EQ(r.kind, K::kManifest);
  EXPECT_EQ(r.name, "library/busybox");
  EXPECT_EQ(r.reference, "latest");

  r = ParseRoute("/v2/a/blobs/sha256:abc");
  EXPECT_EQ(r.kind, K::kBlob);
  EXPECT_EQ(r.name, "a");
  EXPECT_EQ(r.reference, "sha256:abc");

  r = ParseRoute("/v2/x/y/blobs/uploads/");
  EXPECT_EQ(r.kind, K::kUploadStart);
  EXPECT_EQ(r.name, "x/y");
  EXPECT_EQ(ParseRoute("/v2/x/y/blobs/uploads").kind, K::kUploadStart);

  r = ParseRoute("/v2/x/blobs/uploads/1234");
  EXPECT_EQ(r.kind, K::kUpload);
  EXPECT_EQ(r.name, "x");
  EXPECT_EQ(r.reference, "1234");

  r = ParseRoute("/v2/x/tags/list");
  EXPECT_EQ(r.kind, K::kTags);
  EXPECT_EQ(r.name, "x");

  r = ParseRoute("/v2/x/referrers/sha256:abc");
  EXPECT_EQ(r.kind, K::kReferrers);
  EXPECT_EQ(r.reference, "sha256:abc");

  // A name that is a path trick never reaches the disk.
  for (const char* bad : {"/v2/../etc/manifests/x", "/v2/a/../../b/blobs/sha256:x",
                          "/v2/A/tags/list", "/v2//manifests/x", "/v2/a//b/tags/list"}) {
    try {
      ParseRoute(bad);
      ADD_FAILURE() << bad << " parsed";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.code(), Code::kNameInvalid) << bad;
      EXPECT_EQ(e.status(), 400);
    }
  }
}

}  // namespace
}  // namespace berth::registry

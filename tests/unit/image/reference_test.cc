#include "image/reference.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace berth::image {
namespace {

const std::string kHex(64, 'a');

struct Case {
  const char* in;
  const char* domain;
  const char* path;
  const char* tag;
  const char* digest;
  const char* familiar;
};

TEST(ReferenceTest, NormalizesLikeDocker) {
  const std::string dig = "sha256:" + kHex;
  const Case cases[] = {
      {"busybox", "docker.io", "library/busybox", "", "", "busybox"},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "busybox:1.36"},
      {"library/busybox", "docker.io", "library/busybox", "", "", "busybox"},
      {"docker.io/busybox", "docker.io", "library/busybox", "", "", "busybox"},
      {"index.docker.io/library/busybox", "docker.io", "library/busybox", "", "", "busybox"},
      {"user/app:v2", "docker.io", "user/app", "v2", "", "user/app:v2"},
      {"docker.io/user/sub/app", "docker.io", "user/sub/app", "", "", "user/sub/app"},
      {"localhost/app", "localhost", "app", "", "", "localhost/app"},
      {"localhost:5000/team/app:1.0", "localhost:5000", "team/app", "1.0", "",
       "localhost:5000/team/app:1.0"},
      {"registry.example:443/a_b/c__d/e-f/g.h:t_1.2-3", "registry.example:443", "a_b/c__d/e-f/g.h",
       "t_1.2-3", "", "registry.example:443/a_b/c__d/e-f/g.h:t_1.2-3"},
      {"[::1]:5000/app", "[::1]:5000", "app", "", "", "[::1]:5000/app"},
      {"127.0.0.1:5000/app", "127.0.0.1:5000", "app", "", "", "127.0.0.1:5000/app"},
      {"Example/app", "Example", "app", "", "", "Example/app"},
      {"a---b", "docker.io", "library/a---b", "", "", "a---b"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in);
    Reference r = ParseReference(c.in);
    EXPECT_EQ(r.domain, c.domain);
    EXPECT_EQ(r.path, c.path);
    EXPECT_EQ(r.tag, c.tag);
    EXPECT_EQ(r.digest, c.digest);
    EXPECT_EQ(r.Familiar(), c.familiar);
    EXPECT_EQ(ParseReference(r.String()), r) << "the normalized form parses to itself";
  }
  Reference d = ParseReference("busybox@" + dig);
  EXPECT_EQ(d.digest, dig);
  EXPECT_EQ(d.String(), "docker.io/library/busybox@" + dig);
  Reference td = ParseReference("localhost:5000/app:1@" + dig);
  EXPECT_EQ(td.tag, "1");
  EXPECT_EQ(td.digest, dig);
}

TEST(ReferenceTest, DefaultTagOnlyWithoutTagOrDigest) {
  EXPECT_EQ(ParseReferenceWithDefaultTag("busybox").String(), "docker.io/library/busybox:latest");
  EXPECT_EQ(ParseReferenceWithDefaultTag("busybox:1").tag, "1");
  EXPECT_EQ(ParseReferenceWithDefaultTag("busybox@sha256:" + kHex).tag, "");
}

void ExpectRefused(const std::string& in, const std::string& message) {
  try {
    ParseReference(in);
    ADD_FAILURE() << in << " was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument) << in;
    EXPECT_EQ(std::string(e.what()), message) << in;
  }
}

TEST(ReferenceTest, RefusesWhatTheGrammarRefuses) {
  const std::string bad = "invalid reference format";
  ExpectRefused("", bad);
  ExpectRefused("Busybox", bad + ": repository name (library/Busybox) must be lowercase");
  ExpectRefused("user/App", bad + ": repository name (user/App) must be lowercase");
  ExpectRefused("busybox:", bad + ": invalid tag \"\"");
  ExpectRefused("busybox:-x", bad + ": invalid tag \"-x\"");
  ExpectRefused("busybox:" + std::string(129, 'a'),
                bad + ": invalid tag \"" + std::string(129, 'a') + "\"");
  ExpectRefused("busybox@sha256:abc", bad + ": invalid digest \"sha256:abc\"");
  ExpectRefused("busybox@md5:" + std::string(32, 'a'),
                bad + ": invalid digest \"md5:" + std::string(32, 'a') + "\"");
  ExpectRefused("busybox@sha256:" + std::string(64, 'A'),
                bad + ": invalid digest \"sha256:" + std::string(64, 'A') + "\"");
  for (const char* s : {"-busybox", "busybox-", "bu..sy", "a/", "/a", "a//b", "a___b", "a:b:c",
                        "a b", "localhost:/app", "loc@lhost/app", "-host.example/app",
                        "host.example:50x0/app", ":tag", "a/b/", "[::1/app", "[zz]:1/app"}) {
    SCOPED_TRACE(s);
    EXPECT_THROW(ParseReference(s), Error);
  }
  ExpectRefused(
      kHex, "invalid repository name (" + kHex + "), cannot specify 64-byte hexadecimal strings");
  EXPECT_NO_THROW(ParseReference(kHex + ":tag"));
  // ... but as a library image it is a name, and its short form keeps it one.
  Reference lib = ParseReference("library/" + kHex);
  EXPECT_EQ(lib.Familiar(), "library/" + kHex);
  EXPECT_EQ(ParseReference(lib.Familiar()), lib);
  // A Docker Hub path whose first component looks like a host keeps its domain.
  Reference dotted = ParseReference("docker.io/my.org/app");
  EXPECT_EQ(dotted.Familiar(), "docker.io/my.org/app");
  EXPECT_EQ(ParseReference(dotted.Familiar()), dotted);
  ExpectRefused("example.com/" + std::string(250, 'a'),
                bad + ": repository name must not be more than 255 characters");
}

TEST(ReferenceTest, TagAndDigestPieces) {
  EXPECT_TRUE(IsValidTag("latest"));
  EXPECT_TRUE(IsValidTag("_x.Y-1"));
  EXPECT_TRUE(IsValidTag(std::string(128, 'a')));
  EXPECT_FALSE(IsValidTag(".x"));
  EXPECT_FALSE(IsValidTag("a/b"));
  EXPECT_TRUE(IsValidDigest("sha256:" + kHex));
  EXPECT_TRUE(IsValidDigest("sha512:" + std::string(128, '0')));
  EXPECT_FALSE(IsValidDigest("sha256:" + kHex + "0"));
  EXPECT_FALSE(IsValidDigest("sha256" + kHex));
}

}  // namespace
}  // namespace berth::image

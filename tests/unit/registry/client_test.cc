#include "registry/client.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "registry/base64.h"

namespace berth::registry {
namespace {

TEST(ChallengeTest, BearerWithQuotedParameters) {
  auto c = ParseChallenge(
      R"(Bearer realm="http://127.0.0.1:5000/token",service="berth-registry",scope="repository:a/b:pull,push")");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->Param("realm"), "http://127.0.0.1:5000/token");
  EXPECT_EQ(c->Param("service"), "berth-registry");
  // The comma inside the quotes belongs to the scope.
  EXPECT_EQ(c->Param("scope"), "repository:a/b:pull,push");
  EXPECT_EQ(c->Param("missing"), "");
}

TEST(ChallengeTest, BasicSpacesUnquotedAndEscapes) {
  auto c = ParseChallenge(R"(  BASIC realm = "a \"b\"", charset=UTF-8 )");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scheme, "basic");
  EXPECT_EQ(c->Param("realm"), "a \"b\"");
  EXPECT_EQ(c->Param("charset"), "UTF-8");
  auto bare = ParseChallenge("Basic");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->scheme, "basic");
  EXPECT_TRUE(bare->params.empty());
  EXPECT_FALSE(ParseChallenge(""));
}

TEST(RegistryAuthTest, DecodesWhatTheDockerCliSends) {
  // The docker CLI: base64url with padding of {"username","password","serveraddress"}.
  std::string json =
      R"({"username":"alice","password":"s3cr?t>","serveraddress":"127.0.0.1:5000"})";
  std::string std_b64 = Base64Encode(json);
  std::string url = std_b64;
  for (char& c : url) {
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  for (const std::string& header : {std_b64, url, Base64Encode(json, true)}) {
    AuthConfig a = DecodeRegistryAuth(header);
    EXPECT_EQ(a.username, "alice");
    EXPECT_EQ(a.password, "s3cr?t>");
    EXPECT_EQ(a.server_address, "127.0.0.1:5000");
  }
  EXPECT_TRUE(DecodeRegistryAuth("").empty());
  EXPECT_TRUE(DecodeRegistryAuth("e30=").empty());      // {}
  EXPECT_TRUE(DecodeRegistryAuth("bnVsbA==").empty());  // null
  AuthConfig t = DecodeRegistryAuth(Base64Encode(R"({"identitytoken":"tok"})"));
  EXPECT_EQ(t.identity_token, "tok");
  EXPECT_FALSE(t.empty());
  EXPECT_THROW(DecodeRegistryAuth("!!!"), Error);
  EXPECT_THROW(DecodeRegistryAuth(Base64Encode("not json")), Error);
  EXPECT_THROW(DecodeRegistryAuth(Base64Encode("[1]")), Error);
}

TEST(RegistryAuthTest, BuildsRegistryConfigEveryCredentialPerRegistry) {
  // docker build: every credential the CLI has, keyed as config.json keys them; a key may
  // carry only config.json's "auth" (base64 of user:password).
  std::string json = R"({"https://index.docker.io/v1/":{"username":"hub","password":"h"},)"
                     R"("127.0.0.1:5000":{"auth":")" +
                     Base64Encode("alice:pa:ss") +
                     R"("},"http://reg.lan:5001/v2/":{"identitytoken":"tok"},)"
                     R"("empty.lan":{}})";
  std::map<std::string, AuthConfig> m = DecodeRegistryConfig(Base64Encode(json, true));
  ASSERT_EQ(m.size(), 3u) << "an entry without credentials is none";
  EXPECT_EQ(m["docker.io"].username, "hub");
  EXPECT_EQ(m["127.0.0.1:5000"].username, "alice");
  EXPECT_EQ(m["127.0.0.1:5000"].password, "pa:ss");
  EXPECT_EQ(m["reg.lan:5001"].identity_token, "tok");
  EXPECT_TRUE(DecodeRegistryConfig("").empty());
  EXPECT_TRUE(DecodeRegistryConfig("e30=").empty());      // {}
  EXPECT_TRUE(DecodeRegistryConfig("bnVsbA==").empty());  // null: what a 20.10 CLI sends
  EXPECT_THROW(DecodeRegistryConfig(Base64Encode(R"({"a":"b"})")), Error);
  EXPECT_THROW(DecodeRegistryConfig("!!!"), Error);
}

TEST(RegistryAuthTest, EncodeRoundTrips) {
  AuthConfig a;
  a.username = "u";
  a.password = "p:w";
  a.server_address = "reg:5000";
  AuthConfig b = DecodeRegistryAuth(EncodeRegistryAuth(a));
  EXPECT_EQ(b.username, "u");
  EXPECT_EQ(b.password, "p:w");
  EXPECT_EQ(b.server_address, "reg:5000");
  EXPECT_EQ(EncodeRegistryAuth(AuthConfig{}), Base64Encode("{}", true));
}

TEST(PlainHttpTest, LoopbackAndInsecureRegistries) {
  EXPECT_TRUE(AllowsPlainHttp("localhost", {}));
  EXPECT_TRUE(AllowsPlainHttp("localhost:5000", {}));
  EXPECT_TRUE(AllowsPlainHttp("127.0.0.1:5000", {}));
  EXPECT_TRUE(AllowsPlainHttp("127.3.4.5", {}));
  EXPECT_TRUE(AllowsPlainHttp("[::1]:5000", {}));
  EXPECT_FALSE(AllowsPlainHttp("127.example:5000", {}));  // a name, not an address
  EXPECT_FALSE(AllowsPlainHttp("10.1.2.3:5000", {}));
  EXPECT_FALSE(AllowsPlainHttp("reg.lan:5000", {}));
  EXPECT_TRUE(AllowsPlainHttp("reg.lan:5000", {"reg.lan:5000"}));
  EXPECT_TRUE(AllowsPlainHttp("reg.lan:5000", {"reg.lan"}));
  EXPECT_FALSE(AllowsPlainHttp("reg.lan:5001", {"reg.lan:5000"}));
  EXPECT_TRUE(AllowsPlainHttp("10.1.2.3:5000", {"10.0.0.0/8"}));
  EXPECT_FALSE(AllowsPlainHttp("11.1.2.3:5000", {"10.0.0.0/8"}));
  EXPECT_FALSE(AllowsPlainHttp("10.1.2.3:5000", {"10.0.0.0/99"}));
}

TEST(ClientTest, ScopesErrorsAndUrls) {
  EXPECT_EQ(RepositoryScope("team/app", false), "repository:team/app:pull");
  EXPECT_EQ(RepositoryScope("team/app", true), "repository:team/app:pull,push");
  ClientReply r;
  r.status = 404;
  r.body = R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})";
  EXPECT_EQ(RegistryErrorText(r), "manifest unknown: manifest unknown");
  r.body = "<html>";
  EXPECT_EQ(RegistryErrorText(r), "HTTP 404 Not Found");
  EXPECT_EQ(ResolveUrl("http://h:1/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/x?s=1"),
            "http://h:1/v2/a/blobs/uploads/x?s=1");
  EXPECT_EQ(ResolveUrl("http://h:1/v2/a/blobs/uploads/", "https://o/x"), "https://o/x");
  EXPECT_EQ(ResolveUrl("http://h:1/v2/a/blobs/uploads/", "x"), "http://h:1/v2/a/blobs/uploads/x");
  EXPECT_EQ(UrlEscape("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
}

}  // namespace
}  // namespace berth::registry

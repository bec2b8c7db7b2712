#include "registry/auth.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace berth::registry {
namespace {

// htpasswd -nbB -C 5 alice secret (crypt(3) writes $2b$; htpasswd writes $2y$: the same hash).
constexpr const char* kAliceHash = "$2b$05$w5FR90M0ByTEZ/fqlqnu6upTuq7xbzUOR7dQ/xLpvCt.G1hDczxVi";

TEST(RegistryAuth, BasicHeader) {
  auto c = ParseBasic("Basic " + Base64Encode("alice:se:cret"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "alice");
  EXPECT_EQ(c->password, "se:cret");  // the password may hold colons
  EXPECT_TRUE(ParseBasic("basic " + Base64Encode("a:b")));
  EXPECT_FALSE(ParseBasic("Bearer " + Base64Encode("a:b")));
  EXPECT_FALSE(ParseBasic("Basic " + Base64Encode("nocolon")));
  EXPECT_FALSE(ParseBasic("Basic " + Base64Encode(":pw")));
  EXPECT_FALSE(ParseBasic("Basic !!!"));
  EXPECT_FALSE(ParseBasic("Basic"));
  EXPECT_FALSE(ParseBasic(""));
}

TEST(RegistryAuth, BearerHeader) {
  EXPECT_EQ(ParseBearer("Bearer abc.def.ghi"), "abc.def.ghi");
  EXPECT_EQ(ParseBearer("bearer x"), "x");
  EXPECT_FALSE(ParseBearer("Bearer"));
  EXPECT_FALSE(ParseBearer("Bearer a b"));
  EXPECT_FALSE(ParseBearer("Basic abc"));
}

TEST(RegistryAuth, Base64) {
  for (const char* s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
    EXPECT_EQ(Base64Decode(Base64Encode(s, true)), s);
  }
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("fo", true), "Zm8");
  EXPECT_FALSE(Base64Decode("Zm9v!"));
  EXPECT_FALSE(Base64Decode("Z"));
}

TEST(RegistryAuth, Scopes) {
  auto s = ParseScope("repository:library/busybox:pull,push");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->type, "repository");
  EXPECT_EQ(s->name, "library/busybox");
  EXPECT_EQ(s->actions, (std::set<std::string>{"pull", "push"}));
  EXPECT_EQ(s->String(), "repository:library/busybox:pull,push");
  s = ParseScope("repository:127.0.0.1:5000/x:pull");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->name, "127.0.0.1:5000/x");
  EXPECT_TRUE(ParseScope("registry:catalog:*"));
  EXPECT_FALSE(ParseScope("repository:x:"));
  EXPECT_FALSE(ParseScope("repository::pull"));
  EXPECT_FALSE(ParseScope("pull"));

  std::vector<Scope> all =
      ParseScopes({"repository:a:pull repository:b:push", "repository:a:push", "junk"});
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "a");
  EXPECT_EQ(all[0].actions, (std::set<std::string>{"pull", "push"}));
  EXPECT_EQ(all[1].name, "b");
}

TEST(RegistryAuth, HtpasswdBcrypt) {
  std::string y = kAliceHash;
  y[2] = 'y';
  Htpasswd h = Htpasswd::Parse(std::string("# users\nalice:") + kAliceHash + "\nbob:" + y + "\n");
  EXPECT_TRUE(h.Verify("alice", "secret"));
  EXPECT_TRUE(h.Verify("bob", "secret"));  // $2y$ is bcrypt too
  EXPECT_FALSE(h.Verify("alice", "Secret"));
  EXPECT_FALSE(h.Verify("alice", ""));
  EXPECT_FALSE(h.Verify("carol", "secret"));
  EXPECT_FALSE(h.Verify("", ""));
  // Plain text and SHA-1 lines are refused rather than silently never matching.
  EXPECT_THROW(Htpasswd::Parse("alice:secret\n"), Error);
  EXPECT_THROW(Htpasswd::Parse("alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n"), Error);
}

TEST(RegistryAuth, AccessPolicy) {
  AccessPolicy open;
  Scope s{"repository", "x", {"pull", "push"}};
  EXPECT_EQ(open.Grant("alice", s).actions, (std::set<std::string>{"pull", "push"}));
  EXPECT_TRUE(open.Grant("", s).actions.empty());

  AccessPolicy p({{"alice", "alice/*", {"pull", "push"}},
                  {"*", "public/*", {"pull"}},
                  {"anonymous", "public/*", {"pull"}},
                  {"admin", "*", {"*"}}});
  EXPECT_EQ(p.Grant("alice", {"repository", "alice/app", {"pull", "push", "delete"}}).actions,
            (std::set<std::string>{"pull", "push"}));
  EXPECT_TRUE(p.Grant("alice", {"repository", "bob/app", {"pull"}}).actions.empty());
  EXPECT_EQ(p.Grant("bob", {"repository", "public/x", {"pull", "push"}}).actions,
            (std::set<std::string>{"pull"}));
  EXPECT_EQ(p.Grant("", {"repository", "public/x", {"pull", "push"}}).actions,
            (std::set<std::string>{"pull"}));
  EXPECT_TRUE(p.Grant("", {"repository", "alice/app", {"pull"}}).actions.empty());
  EXPECT_EQ(p.Grant("admin", {"repository", "any", {"delete"}}).actions,
            (std::set<std::string>{"delete"}));
}

TEST(RegistryAuth, Tokens) {
  TokenIssuer issuer(std::string(32, 'k'), "berth-registry", "svc", 300);
  std::vector<Scope> access = {{"repository", "a/b", {"pull"}}};
  std::string token = issuer.Issue("alice", access, 1000);
  auto claims = issuer.Verify(token, 1100);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->subject, "alice");
  EXPECT_TRUE(claims->Allows("repository", "a/b", "pull"));
  EXPECT_FALSE(claims->Allows("repository", "a/b", "push"));
  EXPECT_FALSE(claims->Allows("repository", "a/c", "pull"));
  // Expired, not yet valid, wrong key, wrong audience, tampered claims.
  EXPECT_FALSE(issuer.Verify(token, 1300));
  EXPECT_FALSE(issuer.Verify(token, 900));
  EXPECT_FALSE(TokenIssuer(std::string(32, 'x'), "berth-registry", "svc", 300).Verify(token, 1100));
  EXPECT_FALSE(
      TokenIssuer(std::string(32, 'k'), "berth-registry", "other", 300).Verify(token, 1100));
  size_t dot1 = token.find('.'), dot2 = token.rfind('.');
  std::string forged_claims = Base64Encode(
      R"({"iss":"berth-registry","sub":"alice","aud":"svc","exp":99999,"nbf":0,"access":[{"type":"repository","name":"a/b","actions":["push"]}]})",
      true);
  std::string forged = token.substr(0, dot1 + 1) + forged_claims + token.substr(dot2);
  EXPECT_FALSE(issuer.Verify(forged, 1100));
  EXPECT_FALSE(issuer.Verify("garbage", 1100));
  EXPECT_FALSE(issuer.Verify("", 1100));
}

}  // namespace
}  // namespace berth::registry

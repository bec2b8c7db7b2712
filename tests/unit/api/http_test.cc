// The wire rules of the Engine API that need no socket: Docker's boolean rule, both filter
// shapes, form decoding, API versions, the error-kind-to-status map, and the JSON message
// stream splitter the CLI reads progress with.

#include "api/http.h"

#include <gtest/gtest.h>

#include "api/client.h"

namespace berth::api {
namespace {

TEST(ParseBool, DockersRule) {
  for (const char* f : {"", "0", "no", "false", "False", "FALSE", " none ", "No"}) {
    EXPECT_FALSE(ParseBool(f)) << f;
  }
  for (const char* t : {"1", "true", "True", "yes", "on", "anything"}) {
    EXPECT_TRUE(ParseBool(t)) << t;
  }
}

TEST(ParseFilters, BothShapes) {
  Filters cli = ParseFilters(R"({"dangling":{"true":true},"label":{"a=b":true,"c":false}})");
  EXPECT_EQ(cli["dangling"], std::vector<std::string>{"true"});
  EXPECT_EQ(cli["label"], std::vector<std::string>{"a=b"}) << "a false entry is not a value";
  Filters py = ParseFilters(R"({"label":["com.docker.compose.project=p","x"]})");
  EXPECT_EQ(py["label"], (std::vector<std::string>{"com.docker.compose.project=p", "x"}));
  EXPECT_TRUE(ParseFilters("{}").empty());
}

TEST(ParseFilters, RefusesOtherShapes) {
  for (const char* bad : {"", "[]", "{", R"({"a":"b"})", R"({"a":[1]})", R"({"a":{"b":1}})"}) {
    try {
      ParseFilters(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
    }
  }
}

TEST(Query, FormDecoding) {
  auto q = ParseQuery("filters=%7B%22label%22%3A+%5B%22a%3Db%22%5D%7D&t=1&t=2&empty&x=a+b%2Fc");
  EXPECT_EQ(q.find("filters")->second, R"({"label": ["a=b"]})") << "+ is a space (docker-py)";
  EXPECT_EQ(q.count("t"), 2u);
  EXPECT_EQ(q.find("empty")->second, "");
  EXPECT_EQ(q.find("x")->second, "a b/c");
  EXPECT_EQ(UrlDecode("a+b%3a%zz%", false), "a+b:%zz%") << "path: + stays, bad escapes stay";
}

TEST(ApiVersion, Parses) {
  EXPECT_EQ(ParseApiVersion("1.41"), 141);
  EXPECT_EQ(ParseApiVersion("1.24"), 124);
  EXPECT_EQ(ParseApiVersion("1.9"), 109);
  EXPECT_FALSE(ParseApiVersion("1"));
  EXPECT_FALSE(ParseApiVersion("v1.41"));
  EXPECT_FALSE(ParseApiVersion("1.x"));
  EXPECT_FALSE(ParseApiVersion(".41"));
  EXPECT_FALSE(ParseApiVersion("1.41.2"));
}

TEST(StatusOf, DockersMapping) {
  EXPECT_EQ(StatusOf(Kind::kNotFound), 404);
  EXPECT_EQ(StatusOf(Kind::kConflict), 409);
  EXPECT_EQ(StatusOf(Kind::kAlreadyExists), 409);
  EXPECT_EQ(StatusOf(Kind::kInvalidArgument), 400);
  EXPECT_EQ(StatusOf(Kind::kPermissionDenied), 403);
  EXPECT_EQ(StatusOf(Kind::kUnavailable), 503);
  EXPECT_EQ(StatusOf(Kind::kNotImplemented), 501);
  EXPECT_EQ(StatusOf(Kind::kInternal), 500);
  EXPECT_EQ(StatusOf(Kind::kDataLoss), 500);
}

TEST(JsonStreamSplitter, MessagesAcrossPieces) {
  std::vector<nlohmann::json> got;
  JsonStreamSplitter split([&](const nlohmann::json& m) { got.push_back(m); });
  split.Feed("{\"status\":\"a\"}\r\n{\"sta");
  EXPECT_EQ(got.size(), 1u);
  split.Feed("tus\":\"b\"}\n\r\n{\"stream\":\"c\\n\"}\r\n");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1]["status"], "b");
  EXPECT_EQ(got[2]["stream"], "c\n");
  EXPECT_THROW(split.Feed("{broken\n"), Error);
}

TEST(DefaultHost, Environment) {
  unsetenv("BERTH_HOST");
  setenv("DOCKER_HOST", "unix:///tmp/d.sock", 1);
  EXPECT_EQ(DefaultHost(), "unix:///tmp/d.sock");
  setenv("BERTH_HOST", "unix:///tmp/b.sock", 1);
  EXPECT_EQ(DefaultHost(), "unix:///tmp/b.sock");
  unsetenv("BERTH_HOST");
  unsetenv("DOCKER_HOST");
  EXPECT_EQ(DefaultHost(), "unix:///run/berth/berth.sock");
}

}  // namespace
}  // namespace berth::api

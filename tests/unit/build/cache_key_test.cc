// Cache keys: same inputs, same key; each input changes it.
#include <gtest/gtest.h>

#include <fstream>

#include "build/cache_key.h"
#include "temp_dir_test.h"

namespace berth::build {
namespace {

ResolvedBuild R(const std::string& text, std::map<std::string, std::string> args = {}) {
  ResolveOptions o;
  o.build_args = std::move(args);
  return Resolve(ParseDockerfile(text), o);
}

std::string Key(const std::string& text, size_t step = 0,
                std::map<std::string, std::string> args = {}, const std::string& parent = "p",
                const std::string& files = "") {
  ResolvedBuild b = R(text, std::move(args));
  return StepCacheKey(parent, b.stages[0].steps.at(step), files);
}

TEST(CacheKey, Stable) {
  std::string k = Key("FROM a\nRUN make\n");
  EXPECT_EQ(k, Key("FROM a\nRUN make\n"));
  EXPECT_EQ(k.rfind("sha256:", 0), 0u);
  EXPECT_EQ(k.size(), 7u + 64u);
  // Layout does not matter, only meaning: case, continuations, comments.
  EXPECT_EQ(k, Key("from a\n# hi\nrun \\\nmake\n"));
}

TEST(CacheKey, EachInputChangesIt) {
  std::string k = Key("FROM a\nRUN make\n");
  EXPECT_NE(k, Key("FROM a\nRUN make all\n"));
  EXPECT_NE(k, Key("FROM a\nRUN [\"make\"]\n"));
  EXPECT_NE(k, Key("FROM a\nRUN --network=none make\n"));
  EXPECT_NE(k, Key("FROM a\nRUN --mount=type=cache,target=/c make\n"));
  EXPECT_NE(k, Key("FROM a\nRUN make\n", 0, {}, "other-parent"));
  EXPECT_NE(k, Key("FROM a\nRUN make\n", 0, {}, "p", "sha256:files"));
  ResolvedBuild b = R("FROM a\nRUN make\n");
  EXPECT_NE(k, StepCacheKey("p", b.stages[0].steps[0], "", "linux/arm64"));
}

TEST(CacheKey, BuildArgsInScope) {
  const char* df = "FROM a\nARG V=1\nRUN make\n";
  std::string k = Key(df, 1);
  EXPECT_EQ(k, Key(df, 1, {{"V", "1"}}));  // the same value from --build-arg
  EXPECT_NE(k, Key(df, 1, {{"V", "2"}}));
  // An undeclared build arg is not in scope and does not change the key.
  EXPECT_EQ(k, Key(df, 1, {{"OTHER", "x"}}));
}

TEST(CacheKey, SubstitutedText) {
  const char* df = "FROM a\nARG D=/app\nWORKDIR $D\n";
  EXPECT_NE(Key(df, 1), Key(df, 1, {{"D", "/srv"}}));
  // The same substituted text and args give the same key whatever the spelling.
  EXPECT_EQ(Key("FROM a\nENV X=1\n"), Key("FROM a\nENV X=\"1\"\n"));
}

TEST(CacheKey, HeredocBodies) {
  EXPECT_NE(Key("FROM a\nRUN <<EOF\necho 1\nEOF\n"), Key("FROM a\nRUN <<EOF\necho 2\nEOF\n"));
  EXPECT_NE(Key("FROM a\nCOPY <<EOF /x\n1\nEOF\n"), Key("FROM a\nCOPY <<'EOF' /x\n1\nEOF\n"));
}

TEST(CacheKey, NotUtf8) {
  std::string k = Key("FROM a\nRUN echo \xff\n");
  EXPECT_NE(k, Key("FROM a\nRUN echo \xfe\n"));
  EXPECT_EQ(k, Key("FROM a\nRUN echo \xff\n"));
}

TEST(CacheKey, FieldsDoNotRunTogether) {
  StepKeyInput a{"p", "ab", {}, "", ""};
  StepKeyInput b{"pa", "b", {}, "", ""};
  EXPECT_NE(StepCacheKey(a), StepCacheKey(b));
  StepKeyInput c{"p", "i", {{"A", "BC"}}, "", ""};
  StepKeyInput d{"p", "i", {{"AB", "C"}}, "", ""};
  EXPECT_NE(StepCacheKey(c), StepCacheKey(d));
}

TEST(CacheKey, CanonicalInstructionIsJson) {
  ResolvedBuild b = R("FROM a\nCOPY --from=x --chmod=644 a b /d/\n");
  std::string text = CanonicalInstruction(b.stages[0].steps[0].inst);
  EXPECT_NE(text.find("\"command\":\"COPY\""), std::string::npos) << text;
  EXPECT_NE(text.find("[\"chmod\",\"644\"]"), std::string::npos) << text;
}

class FilesDigest : public berth::testing::TempDirTest {
 protected:
  void Write(const std::string& rel, const std::string& content) {
    std::ofstream(dir_ + "/" + rel) << content;
  }
  std::string Digest(const std::string& dockerfile) {
    ResolvedBuild b = R(dockerfile);
    ContextIndex idx(dir_, WalkContext(dir_, IgnoreMatcher()));
    return StepFilesDigest(idx, b.stages[0].steps.back());
  }
};

TEST_F(FilesDigest, SourcesOnly) {
  Write("a.txt", "a");
  Write("b.md", "b");
  std::string a = Digest("FROM x\nCOPY a.txt /dst/\n");
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, Digest("FROM x\nCOPY a.txt /elsewhere\n"));  // the destination is in the text
  EXPECT_EQ(a, Digest("FROM x\nARG F=a.txt\nCOPY $F /dst/\n"));
  EXPECT_NE(Digest("FROM x\nCOPY . /dst/\n"), Digest("FROM x\nCOPY --exclude=*.md . /dst/\n"));
  EXPECT_EQ(Digest("FROM x\nCOPY --from=build /a /b\n"), "");
  EXPECT_EQ(Digest("FROM x\nRUN a\n"), "");
  EXPECT_EQ(Digest("FROM x\nCOPY <<EOF /f\nhi\nEOF\n"), "");
  EXPECT_EQ(Digest("FROM x\nADD https://example.com/x /f\n"), "");
  Write("a.txt", "changed");
  EXPECT_NE(Digest("FROM x\nCOPY a.txt /dst/\n"), a);
}

}  // namespace
}  // namespace berth::build

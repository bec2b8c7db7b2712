// .dockerignore patterns as Docker (moby/patternmatcher) reads and matches them.
#include <gtest/gtest.h>

#include "base/error.h"
#include "build/dockerignore.h"

namespace berth::build {
namespace {

struct MatchCase {
  const char* pattern;
  const char* path;
  bool want;
};

class Match : public ::testing::TestWithParam<MatchCase> {};

TEST_P(Match, Pattern) {
  const MatchCase& c = GetParam();
  EXPECT_EQ(PatternMatch(c.pattern, c.path), c.want) << c.pattern << " vs " << c.path;
}

// clang-format off
const MatchCase kMatches[] = {
  {"a", "a", true},
  {"a", "b", false},
  {"a", "a/b", false},  // parents are the matcher's business, not the pattern's
  {"*", "abc", true},
  {"*", "a/b", false},
  {"*.go", "main.go", true},
  {"*.go", "cmd/main.go", false},
  {"*/*.go", "cmd/main.go", true},
  {"a?c", "abc", true},
  {"a?c", "a/c", false},
  {"a?c", "ac", false},
  {"**", "a/b/c", true},
  {"**", "", true},
  {"**/*.go", "main.go", true},
  {"**/*.go", "a/b/main.go", true},
  {"**/*.go", "a/b/main.c", false},
  {"a/**", "a/b", true},
  {"a/**", "a/b/c", true},
  {"a/**/b", "a/b", true},
  {"a/**/b", "a/x/y/b", true},
  {"a/**/b", "a/x/y/bc", false},
  {"**/node_modules", "node_modules", true},
  {"**/node_modules", "web/app/node_modules", true},
  {"a**b", "a/x/b", true},
  {"a**b", "ab", true},
  {"a**b", "axb", false},  // "**" inside a pattern spans whole elements only
  {"**foo", "barfoo", true},  // ... but a leading "**" before plain text is a suffix
  {"**foo", "a/b/foo", true},
  {"**.go", "a/b.go", true},
  {"**x*", "ax1", false},
  {"**x*", "a/x1", true},
  {"**/x*", "x1", true},
  {"abc**", "abcdef/x", true},
  {"[abc].txt", "b.txt", true},
  {"[abc].txt", "d.txt", false},
  {"[a-c].txt", "c.txt", true},
  {"[^a-c].txt", "d.txt", true},
  {"[^a-c].txt", "a.txt", false},
  {"[]].txt", "].txt", true},
  {"x[/]y", "x/y", false},
  {"\\*", "*", true},
  {"\\*", "a", false},
  {"a\\?", "a?", true},
  {"file.txt", "file_txt", false},
  {".git", ".git", true},
  {"*.md", ".md", true},
  {"Dockerfile*", "Dockerfile.dev", true},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Table, Match, ::testing::ValuesIn(kMatches));

TEST(Dockerignore, ReadCleansAndComments) {
  auto p = ParseDockerignore(
      "\xEF\xBB\xBF# comment\n  \n /abs/path/ \n./a/../b\n!  keep.md\n  # not a comment\n"
      "a//b/./c\n!/x\n");
  std::vector<std::string> got;
  for (const IgnorePattern& i : p) got.push_back((i.exception ? "!" : "") + i.pattern);
  EXPECT_EQ(got, (std::vector<std::string>{"abs/path", "b", "!keep.md", "# not a comment", "a/b/c",
                                           "!x"}));
  EXPECT_EQ(p[1].line, 4);
}

TEST(Dockerignore, CleanPath) {
  EXPECT_EQ(CleanPath(""), ".");
  EXPECT_EQ(CleanPath("./"), ".");
  EXPECT_EQ(CleanPath("a/"), "a");
  EXPECT_EQ(CleanPath("a/../.."), "..");
  EXPECT_EQ(CleanPath("../a"), "../a");
  EXPECT_EQ(CleanPath("/../a"), "/a");
  EXPECT_EQ(CleanPath("/"), "/");
  EXPECT_EQ(CleanPath("a//b///c/."), "a/b/c");
}

TEST(Dockerignore, BadPattern) {
  try {
    ParseDockerignore("ok\n[abc\n");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 ".dockerignore:2: bad pattern \"[abc\": unterminated '[' character class");
  }
  EXPECT_THROW(ParseDockerignore("abc\\"), Error);
  try {
    ParseDockerignore("a\n! \n");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), ".dockerignore:2: illegal exclusion pattern: \"!\"");
  }
}

struct ExcludeCase {
  const char* patterns;
  const char* path;
  bool excluded;
};

class Exclude : public ::testing::TestWithParam<ExcludeCase> {};

TEST_P(Exclude, LastMatchWins) {
  const ExcludeCase& c = GetParam();
  IgnoreMatcher m(ParseDockerignore(c.patterns));
  EXPECT_EQ(m.Excluded(c.path), c.excluded) << c.patterns << " / " << c.path;
}

// clang-format off
const ExcludeCase kExcludes[] = {
  {"", "a", false},
  {"a", "a", true},
  {"a", "a/b/c", true},  // a parent matches
  {"a", "ab", false},
  {"a/", "a/b", true},
  {"/a", "a/b", true},
  {"*.md", "README.md", true},
  {"*.md", "docs/x.md", false},
  {"**/*.md", "docs/x.md", true},
  {"*.md\n!README.md", "README.md", false},
  {"*.md\n!README.md", "CHANGES.md", true},
  {"!README.md\n*.md", "README.md", true},  // order matters: the later pattern wins
  {"docs\n!docs/keep", "docs/keep", false},
  {"docs\n!docs/keep", "docs/keep/inner", false},
  {"docs\n!docs/keep", "docs/other", true},
  {"docs\n!docs/keep\ndocs/keep/secret", "docs/keep/secret", true},
  {"**\n!src\n!Dockerfile", "src/main.c", false},
  {"**\n!src\n!Dockerfile", "lib/x.c", true},
  {"**\n!src\n!Dockerfile", "Dockerfile", false},
  {"*\n!*.go\ntest_*.go", "main.go", false},
  {"*\n!*.go\ntest_*.go", "test_main.go", true},
  {"node_modules\n**/node_modules", "web/node_modules/x/y.js", true},
  {".git", ".git/HEAD", true},
  {".git", ".github/x", false},
  {"./a/../b", "b/c", true},
  {"tmp*", "tmpdir/file", true},
  {"a/*/c", "a/b/c/d", true},
  {"a/*/c", "a/b/x/c", false},
  {"!a", "a", false},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Table, Exclude, ::testing::ValuesIn(kExcludes));

TEST(Dockerignore, MayReinclude) {
  IgnoreMatcher m(ParseDockerignore("docs\n!docs/keep\n"));
  EXPECT_TRUE(m.MayReinclude("docs"));
  EXPECT_FALSE(m.MayReinclude("other"));
  IgnoreMatcher w(ParseDockerignore("*\n!*.go\n"));
  EXPECT_TRUE(w.MayReinclude("pkg"));
  IgnoreMatcher none(ParseDockerignore("build\n"));
  EXPECT_FALSE(none.MayReinclude("build"));
}

}  // namespace
}  // namespace berth::build

// Variable substitution, case by case from the documented behaviour of BuildKit's shell
// lexer (the Dockerfile reference's "Environment replacement" and the shell rules it
// follows).
#include <gtest/gtest.h>

#include <map>

#include "base/error.h"
#include "build/shell_lex.h"

namespace berth::build {
namespace {

const std::map<std::string, std::string, std::less<>> kEnv = {{"PWD", "/home"},
                                                              {"SHELL", "bash"},
                                                              {"KOREAN", "한국어"},
                                                              {"EMPTY", ""},
                                                              {"SPACED", "a  b"},
                                                              {"PATH", "/usr/local/bin:/usr/bin"},
                                                              {"FILE", "archive.tar.gz"},
                                                              {"_under", "u"},
                                                              {"X1", "x1"}};

Lookup Env() {
  return [](std::string_view name) -> std::optional<std::string> {
    auto it = kEnv.find(name);
    if (it == kEnv.end()) return std::nullopt;
    return it->second;
  };
}

struct WordCase {
  const char* in;
  const char* want;
};

class Word : public ::testing::TestWithParam<WordCase> {};

TEST_P(Word, Expands) {
  ShellLex lex;
  EXPECT_EQ(lex.ProcessWord(GetParam().in, Env()), GetParam().want) << GetParam().in;
}

// clang-format off
const WordCase kWords[] = {
  {"hello", "hello"},
  {"he'l'lo", "hello"},
  {"he\"l\"lo", "hello"},
  {"he'l\"l'o", "hel\"lo"},
  {"he\"l'l\"o", "hel'lo"},
  {"hello world", "hello world"},
  {"  spaced  ", "  spaced  "},
  {"$PWD", "/home"},
  {"${PWD}", "/home"},
  {"$PWD/x", "/home/x"},
  {"${PWD}x", "/homex"},
  {"$PWDx", ""},
  {"x$PWD", "x/home"},
  {"$_under", "u"},
  {"$X1", "x1"},
  {"$X1y", ""},
  {"'$PWD'", "$PWD"},
  {"\"$PWD\"", "/home"},
  {"\"'$PWD'\"", "'/home'"},
  {"'\"$PWD\"'", "\"$PWD\""},
  {"\\$PWD", "$PWD"},
  {"\\${PWD}", "${PWD}"},
  {"\"\\$PWD\"", "$PWD"},
  {"\\\\$PWD", "\\/home"},
  {"\"\\\\\"", "\\"},
  {"\"\\a\"", "\\a"},
  {"\\a", "a"},
  {"a\\ b", "a b"},
  {"abc\\", "abc"},
  {"\"\\\"\"", "\""},
  {"'\\'", "\\"},
  {"$", "$"},
  {"a$", "a$"},
  {"$ x", "$ x"},
  {"$.", "$."},
  {"$/", "$/"},
  {"$@", ""},
  {"$1", ""},
  {"$UNSET", ""},
  {"${UNSET}", ""},
  {"${EMPTY}", ""},
  {"${PWD:-def}", "/home"},
  {"${UNSET:-def}", "def"},
  {"${EMPTY:-def}", "def"},
  {"${EMPTY-def}", ""},
  {"${UNSET-def}", "def"},
  {"${PWD-def}", "/home"},
  {"${PWD:+alt}", "alt"},
  {"${EMPTY:+alt}", ""},
  {"${EMPTY+alt}", "alt"},
  {"${UNSET+alt}", ""},
  {"${UNSET:+alt}", ""},
  {"${UNSET:-$PWD}", "/home"},
  {"${UNSET:-${SHELL}}", "bash"},
  {"${UNSET:-${ALSO:-deep}}", "deep"},
  {"${UNSET:-a b}", "a b"},
  {"${UNSET:-'q}'}", "q}"},
  {"${UNSET:-\"$PWD x\"}", "/home x"},
  {"${UNSET:-}", ""},
  {"${PWD:?no}", "/home"},
  {"${EMPTY?no}", ""},
  {"${FILE#*.}", "tar.gz"},
  {"${FILE##*.}", "gz"},
  {"${FILE%.*}", "archive.tar"},
  {"${FILE%%.*}", "archive"},
  {"${FILE#nomatch}", "archive.tar.gz"},
  {"${PATH%%:*}", "/usr/local/bin"},
  {"${UNSET#x}", ""},
  {"$KOREAN", "한국어"},
  {"한국어$PWD", "한국어/home"},
  {"\"$SPACED\"", "a  b"},
  {"$SPACED", "a  b"},
  {"${SHELL}${PWD}", "bash/home"},
  {"\"\"", ""},
  {"''", ""},
  {"a\"\"b", "ab"},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Table, Word, ::testing::ValuesIn(kWords));

TEST(ShellLex, BacktickEscape) {
  ShellLex lex('`');
  EXPECT_EQ(lex.ProcessWord("`$PWD", Env()), "$PWD");
  EXPECT_EQ(lex.ProcessWord("c:\\dir", Env()), "c:\\dir");
  EXPECT_EQ(lex.ProcessWord("\"`\"\"", Env()), "\"");
  EXPECT_EQ(lex.ProcessWord("\"\\x\"", Env()), "\\x");
  EXPECT_EQ(lex.ProcessWord("a` b", Env()), "a b");
}

struct WordsCase {
  const char* in;
  std::vector<std::string> want;
};

class Words : public ::testing::TestWithParam<WordsCase> {};

TEST_P(Words, Split) {
  ShellLex lex;
  EXPECT_EQ(lex.ProcessWords(GetParam().in, Env()), GetParam().want) << GetParam().in;
}

// clang-format off
const WordsCase kWordsCases[] = {
  {"a b c", {"a", "b", "c"}},
  {"  a   b  ", {"a", "b"}},
  {"", {}},
  {"   ", {}},
  {"'a b' c", {"a b", "c"}},
  {"\"a b\"c d", {"a bc", "d"}},
  {"a\\ b c", {"a b", "c"}},
  {"$SPACED", {"a", "b"}},
  {"\"$SPACED\"", {"a  b"}},
  {"x$SPACED", {"xa", "b"}},
  {"\"\" a", {"", "a"}},
  {"'' ''", {"", ""}},
  {"$EMPTY a", {"a"}},
  {"\"$EMPTY\" a", {"", "a"}},
  {"80 ${PORT:-443}/tcp", {"80", "443/tcp"}},
  {"a\tb\nc", {"a", "b", "c"}},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Table, Words, ::testing::ValuesIn(kWordsCases));

struct ErrorCase {
  const char* in;
  const char* want;
};

class Errors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(Errors, Throws) {
  ShellLex lex;
  try {
    lex.ProcessWord(GetParam().in, Env());
    FAIL() << GetParam().in << " expanded";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), GetParam().want) << GetParam().in;
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
  }
}

// clang-format off
const ErrorCase kErrors[] = {
  {"'abc", "unexpected end of statement while looking for matching single-quote"},
  {"\"abc", "unexpected end of statement while looking for matching double-quote"},
  {"\"abc\\\"", "unexpected end of statement while looking for matching double-quote"},
  {"${PWD", "missing '}' in substitution"},
  {"${", "missing '}' in substitution"},
  {"${UNSET:-abc", "missing '}' in substitution"},
  {"${}", "bad substitution"},
  {"${:-x}", "bad substitution"},
  {"${PWD:", "missing '}' in substitution"},
  {"${PWD:x}", "unsupported modifier (x) in substitution of PWD"},
  {"${PWD/a/b}", "unsupported modifier (/) in substitution of PWD"},
  {"${UNSET:?it must be set}", "UNSET: it must be set"},
  {"${EMPTY:?}", "EMPTY: is not allowed to be unset"},
  {"${UNSET?}", "UNSET: is not allowed to be unset"},
  {"${UNSET:-'x}", "unexpected end of statement while looking for matching single-quote"},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Table, Errors, ::testing::ValuesIn(kErrors));

TEST(ShellLex, Stats) {
  ShellLex lex;
  ExpandStats stats;
  lex.ProcessWord("$PWD ${NOPE} ${GONE:-x} $1 $@ ${EMPTY} '$QUOTED' \"$DQ\"", Env(), &stats);
  EXPECT_EQ(stats.matched, (std::set<std::string>{"EMPTY", "PWD"}));
  // Only plain uses of unset names count: a default means the author expected it unset.
  EXPECT_EQ(stats.unmatched, (std::set<std::string>{"DQ", "NOPE"}));
}

TEST(ShellLex, NoEnvironment) {
  ShellLex lex;
  EXPECT_EQ(lex.ProcessWord("a$B'c'", nullptr), "ac");
}

}  // namespace
}  // namespace berth::build

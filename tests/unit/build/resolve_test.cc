// Scopes and substitution over whole Dockerfiles: which instructions expand, ARG and ENV
// scopes, global ARGs, build args, platform args, warnings.
#include <gtest/gtest.h>

#include "build/resolve.h"

namespace berth::build {
namespace {

ResolveOptions Opts(std::map<std::string, std::string> args = {}) {
  ResolveOptions o;
  o.build_args = std::move(args);
  o.target = {"linux", "amd64", ""};
  o.build = {"linux", "arm64", "v8"};
  return o;
}

ResolvedBuild R(const std::string& text, const ResolveOptions& o = Opts()) {
  return Resolve(ParseDockerfile(text), o);
}

const ResolvedStep& Step(const ResolvedBuild& b, size_t stage, size_t step) {
  return b.stages.at(stage).steps.at(step);
}

std::string Pairs(const Instruction& in) {
  std::string out;
  for (const KeyValue& kv : in.pairs) out += "{" + kv.key + "=" + kv.value + "}";
  return out;
}

std::string Warnings(const ResolvedBuild& b) {
  std::string out;
  for (const Diagnostic& d : b.warnings) out += d.String(b.file) + "\n";
  return out;
}

TEST(Resolve, EnvQuoteRemovalAndExpansion) {
  auto b = R("FROM a\nENV A=\"x y\" B='$A' C=a\\ b\nENV D=$A E=\"${A}!\" F=${A:-no}\n");
  EXPECT_EQ(Pairs(Step(b, 0, 0).inst), "{A=x y}{B=$A}{C=a b}");
  EXPECT_EQ(Pairs(Step(b, 0, 1).inst), "{D=x y}{E=x y!}{F=x y}");
  EXPECT_EQ(Step(b, 0, 1).Env(),
            (std::vector<std::string>{"A=x y", "B=$A", "C=a b", "D=x y", "E=x y!", "F=x y"}));
}

TEST(Resolve, EnvOnOneLineSeesTheValuesBeforeIt) {
  // The Dockerfile reference's example: def is "hello", ghi is "bye".
  auto b = R("FROM a\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n");
  EXPECT_EQ(Pairs(Step(b, 0, 1).inst), "{abc=bye}{def=hello}");
  EXPECT_EQ(Pairs(Step(b, 0, 2).inst), "{ghi=bye}");
}

TEST(Resolve, EnvOldFormKeepsSpaces) {
  auto b = R("FROM a\nENV MSG hello   \"big\" $HOME world\n");
  EXPECT_EQ(Pairs(Step(b, 0, 0).inst), "{MSG=hello   big  world}");
}

TEST(Resolve, QuotesAndEscapesInArgAndEnv) {
  auto b = R("FROM a\nARG A=\"x y\" B='$A' C=\\$A\nENV D=\\$HOME E=\"a\\\"b\" F=${A}z\n");
  EXPECT_EQ(Step(b, 0, 0).Args(),
            (std::map<std::string, std::string>{{"A", "x y"}, {"B", "$A"}, {"C", "$A"}}));
  EXPECT_EQ(Pairs(Step(b, 0, 1).inst), "{D=$HOME}{E=a\"b}{F=x yz}");
}

TEST(Resolve, ArgsOnOneLineSeeTheVariablesBeforeIt) {
  // As with ENV, the defaults of one ARG line in a stage are substituted before any of it is
  // declared; global ARGs are declared pair by pair (BuildKit does both).
  auto b = R("ARG G=1 H=${G}x\nFROM a:$H\nARG A=1 B=${A}2\nARG C=${A}3\n");
  EXPECT_EQ(b.stages[0].base, "a:1x");
  EXPECT_EQ(Step(b, 0, 0).Args().at("B"), "2");
  EXPECT_EQ(Step(b, 0, 1).Args().at("C"), "13");
  EXPECT_EQ(Warnings(b), "Dockerfile:3:1: UndefinedVar: Usage of undefined variable '$A'\n");
  // A --build-arg replaces a global default without substituting it.
  EXPECT_EQ(R("ARG T=${NOPE:?unset}\nFROM a:$T\n", Opts({{"T", "9"}})).stages[0].base, "a:9");
}

TEST(Resolve, LabelExpands) {
  auto b = R("FROM a\nARG V=1.2\nLABEL version=$V \"com.x.name\"=\"n ${V}\"\n");
  EXPECT_EQ(Pairs(Step(b, 0, 1).inst), "{version=1.2}{com.x.name=n 1.2}");
}

TEST(Resolve, GlobalArgInFrom) {
  auto b = R("ARG TAG=3.18\nARG REPO=alpine\nFROM ${REPO}:$TAG AS x\n");
  EXPECT_EQ(b.stages[0].base, "alpine:3.18");
  EXPECT_TRUE(b.warnings.empty()) << Warnings(b);
}

TEST(Resolve, GlobalArgDefaultUsesEarlierGlobal) {
  auto b = R("ARG A=x\nARG B=$A-y\nFROM img:$B\n");
  EXPECT_EQ(b.stages[0].base, "img:x-y");
}

TEST(Resolve, BuildArgOverridesGlobalDefault) {
  auto b = R("ARG TAG=1\nFROM img:$TAG\n", Opts({{"TAG", "2"}}));
  EXPECT_EQ(b.stages[0].base, "img:2");
  EXPECT_TRUE(b.unused_build_args.empty());
}

TEST(Resolve, GlobalArgIsNotVisibleInAStage) {
  auto b = R("ARG V=1\nFROM a\nENV X=$V\n");
  EXPECT_EQ(Pairs(Step(b, 0, 0).inst), "{X=}");
  EXPECT_EQ(Warnings(b),
            "Dockerfile:3:1: UndefinedVar: Usage of undefined variable '$V' (the global ARG V "
            "is only visible in FROM lines: add `ARG V` to this stage)\n");
}

TEST(Resolve, RedeclaredGlobalArgTakesItsValue) {
  auto b = R("ARG V=1\nFROM a\nARG V\nENV X=$V\n", Opts());
  EXPECT_EQ(Pairs(Step(b, 0, 1).inst), "{X=1}");
  EXPECT_TRUE(b.warnings.empty());
  // ... or the build arg's.
  b = R("ARG V=1\nFROM a\nARG V\nENV X=$V\n", Opts({{"V", "9"}}));
  EXPECT_EQ(Pairs(Step(b, 0, 1).inst), "{X=9}");
}

TEST(Resolve, ArgUsedBeforeItsDefinition) {
  auto b = R("FROM a\nENV X=\"$V\"\nARG V=1\nENV Y=$V\n");
  EXPECT_EQ(Pairs(Step(b, 0, 0).inst), "{X=}");
  EXPECT_EQ(Pairs(Step(b, 0, 2).inst), "{Y=1}");
  EXPECT_EQ(Warnings(b),
            "Dockerfile:2:1: UndefinedVar: Usage of undefined variable '$V' (ARG V is declared "
            "later, on line 3; a variable is empty before its ARG)\n");
}

TEST(Resolve, UndefinedVarSuggestsATypoFix) {
  ResolveOptions o = Opts();
  o.image_env = [](const std::string&) -> std::optional<std::vector<std::string>> {
    return std::vector<std::string>{"PATH=/usr/bin"};
  };
  auto b =
      R("FROM alpine\nENV PATH=$PAHT:/app/bin\nARG VERSION=1\nLABEL v=$VERSOIN w=$NOTHINGLIKEIT\n",
        o);
  EXPECT_EQ(Warnings(b),
            "Dockerfile:2:1: UndefinedVar: Usage of undefined variable '$PAHT' (did you mean "
            "$PATH?)\n"
            "Dockerfile:4:1: UndefinedVar: Usage of undefined variable '$NOTHINGLIKEIT'\n"
            "Dockerfile:4:1: UndefinedVar: Usage of undefined variable '$VERSOIN' (did you mean "
            "$VERSION?)\n");
}

TEST(Resolve, DeclaredArgWithoutValueIsNotUndefined) {
  auto b = R("FROM a\nARG V\nWORKDIR /x$V\n");
  EXPECT_EQ(Step(b, 0, 1).inst.args[0], "/x");
  EXPECT_TRUE(b.warnings.empty()) << Warnings(b);
}

TEST(Resolve, DefaultsSilenceTheWarning) {
  auto b = R("FROM a\nWORKDIR ${D:-/srv}\n");
  EXPECT_EQ(Step(b, 0, 0).inst.args[0], "/srv");
  EXPECT_TRUE(b.warnings.empty());
}

TEST(Resolve, EnvOverridesArg) {
  auto b = R("FROM a\nARG A=1\nENV A=2\nENV B=$A\n", Opts({{"A", "3"}}));
  EXPECT_EQ(Pairs(Step(b, 0, 2).inst), "{B=2}");
  EXPECT_EQ(Step(b, 0, 2).Args().at("A"), "3");
}

TEST(Resolve, ArgsInScopePerStep) {
  auto b = R("FROM a\nRUN one\nARG A=1\nRUN two\nARG B\nRUN three\nFROM b\nRUN four\n",
             Opts({{"B", "x"}}));
  EXPECT_TRUE(Step(b, 0, 0).Args().empty());
  EXPECT_EQ(Step(b, 0, 2).Args(), (std::map<std::string, std::string>{{"A", "1"}}));
  EXPECT_EQ(Step(b, 0, 4).Args(), (std::map<std::string, std::string>{{"A", "1"}, {"B", "x"}}));
  EXPECT_TRUE(Step(b, 1, 0).Args().empty());  // args do not cross stages
}

TEST(Resolve, PlatformArgs) {
  auto b =
      R("FROM --platform=$BUILDPLATFORM a AS b\nARG TARGETARCH\nARG BUILDVARIANT\n"
        "RUN --mount=type=cache,target=/c,id=$TARGETARCH x\nENV T=$TARGETPLATFORM\n");
  EXPECT_EQ(b.stages[0].platform, "linux/arm64/v8");
  EXPECT_EQ(Step(b, 0, 2).inst.mounts[0].id, "amd64");
  EXPECT_EQ(Step(b, 0, 1).Args().at("BUILDVARIANT"), "v8");
  // Not declared in the stage: empty, with a warning.
  EXPECT_EQ(Pairs(Step(b, 0, 3).inst), "{T=}");
  ASSERT_EQ(b.warnings.size(), 1u);
  EXPECT_EQ(b.warnings[0].rule, "UndefinedVar");
}

TEST(Resolve, PlatformArgsInFrom) {
  auto b = R("FROM img-$TARGETOS-$TARGETARCH\n");
  EXPECT_EQ(b.stages[0].base, "img-linux-amd64");
}

TEST(Resolve, ProxyArgsAreNeitherUnusedNorSubstituted) {
  auto b = R("FROM a\nENV P=$HTTP_PROXY\n",
             Opts({{"HTTP_PROXY", "http://p:3128"}, {"no_proxy", "x"}, {"EXTRA", "1"}}));
  EXPECT_EQ(Pairs(Step(b, 0, 0).inst), "{P=}");
  EXPECT_EQ(b.unused_build_args, std::vector<std::string>{"EXTRA"});
}

TEST(Resolve, WhatIsNotSubstituted) {
  auto b =
      R("FROM a\nARG V=1\nRUN echo $V \"$V\" '$V'\nRUN [\"echo\", \"$V\"]\nCMD echo $V\n"
        "ENTRYPOINT [\"$V\"]\nSHELL [\"/bin/$V\"]\nONBUILD COPY $V /x\n"
        "HEALTHCHECK CMD echo $V\nMAINTAINER $V\n");
  EXPECT_EQ(Step(b, 0, 1).inst.args[0], "echo $V \"$V\" '$V'");
  EXPECT_EQ(Step(b, 0, 2).inst.args[1], "$V");
  EXPECT_EQ(Step(b, 0, 3).inst.args[0], "echo $V");
  EXPECT_EQ(Step(b, 0, 4).inst.args[0], "$V");
  EXPECT_EQ(Step(b, 0, 5).inst.args[0], "/bin/$V");
  EXPECT_EQ(Step(b, 0, 6).inst.trigger[0].args[0], "$V");
  EXPECT_EQ(Step(b, 0, 7).inst.health.test[1], "echo $V");
  EXPECT_EQ(Step(b, 0, 8).inst.args[0], "$V");
  EXPECT_EQ(Step(b, 0, 6).Shell(), (std::vector<std::string>{"/bin/$V"}));
}

TEST(Resolve, CopyAndAddExpand) {
  auto b =
      R("FROM a\nARG SRC=app DST=/opt U=1000 F=build\n"
        "COPY --from=$F --chown=$U:$U --chmod=0${M:-644} --exclude=*.$X $SRC/ \"$DST/\"\n"
        "ADD [\"$SRC.tar\", \"${DST}\"]\n");
  const Instruction& copy = Step(b, 0, 1).inst;
  EXPECT_EQ(copy.args, (std::vector<std::string>{"app/", "/opt/"}));
  EXPECT_EQ(copy.FindFlag("from")->value, "build");
  EXPECT_EQ(copy.FindFlag("chown")->value, "1000:1000");
  EXPECT_EQ(copy.FindFlag("chmod")->value, "0644");
  EXPECT_EQ(copy.FlagValues("exclude"), std::vector<std::string>{"*."});
  EXPECT_EQ(Step(b, 0, 2).inst.args, (std::vector<std::string>{"app.tar", "/opt"}));
  EXPECT_EQ(Warnings(b), "Dockerfile:3:1: UndefinedVar: Usage of undefined variable '$X'\n");
}

TEST(Resolve, CopyHeredocsExpandUnlessQuoted) {
  auto b =
      R("FROM a\nARG NAME=berth\nCOPY <<EOF <<'RAW' /etc/\nname='$NAME' \\$HOME \"${NAME}\"\nEOF\n"
        "$NAME\nRAW\nRUN <<EOF\necho $NAME\nEOF\n");
  const auto& h = Step(b, 0, 1).inst.heredocs;
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].content, "name='berth' $HOME \"berth\"\n");
  EXPECT_EQ(h[1].content, "$NAME\n");
  EXPECT_EQ(Step(b, 0, 2).inst.heredocs[0].content, "echo $NAME\n");  // the shell's job
}

TEST(Resolve, ExposeSplitsAndValidates) {
  auto b = R("FROM a\nARG P=\"80 443\"\nEXPOSE $P 53/udp 8000-8010/TCP\n");
  EXPECT_EQ(Step(b, 0, 1).inst.args,
            (std::vector<std::string>{"80", "443", "53/udp", "8000-8010/TCP"}));
  try {
    R("FROM a\nEXPOSE 80 http\n");
    FAIL();
  } catch (const SyntaxError& e) {
    EXPECT_STREQ(
        e.what(),
        "Dockerfile:2:11: EXPOSE: invalid port \"http\" (PORT, PORT/PROTO or FROM-TO/PROTO)");
  }
  EXPECT_THROW(R("FROM a\nEXPOSE 70000\n"), SyntaxError);
  EXPECT_THROW(R("FROM a\nEXPOSE 80/icmp\n"), SyntaxError);
  EXPECT_THROW(R("FROM a\nEXPOSE 90-80\n"), SyntaxError);
}

TEST(Resolve, WorkdirUserStopsignalVolume) {
  auto b =
      R("FROM a\nENV D=data U=app\nWORKDIR /srv\nWORKDIR $D/../x/./y\nUSER $U:$U\n"
        "STOPSIGNAL ${SIG:-SIGTERM}\nVOLUME /$D /e\n");
  EXPECT_EQ(Step(b, 0, 1).Workdir(), "/srv");
  EXPECT_EQ(Step(b, 0, 2).inst.args[0], "data/../x/./y");
  EXPECT_EQ(Step(b, 0, 2).Workdir(), "/srv/x/y");
  EXPECT_EQ(Step(b, 0, 3).inst.args[0], "app:app");
  EXPECT_EQ(Step(b, 0, 4).inst.args[0], "SIGTERM");
  EXPECT_EQ(Step(b, 0, 5).inst.args, (std::vector<std::string>{"/data", "/e"}));
  // Words of VOLUME, COPY and ADD split at whitespace before substitution, as in Docker: a
  // quoted path with a space needs the JSON form.
  EXPECT_THROW(R("FROM a\nVOLUME \"/b c\"\n"), SyntaxError);
  EXPECT_EQ(R("FROM a\nVOLUME [\"/b c\"]\n").stages[0].steps[0].inst.args[0], "/b c");
}

TEST(Resolve, StagesInheritEnvWorkdirAndShell) {
  auto b =
      R("FROM a AS base\nENV X=1\nWORKDIR /w\nSHELL [\"/bin/bash\", \"-c\"]\n"
        "FROM base AS next\nENV Y=$X\nFROM BASE\nRUN z\n");
  EXPECT_EQ(b.stages[1].base_stage, 0);
  EXPECT_EQ(Pairs(Step(b, 1, 0).inst), "{Y=1}");
  EXPECT_EQ(Step(b, 1, 0).Workdir(), "/w");
  EXPECT_EQ(Step(b, 1, 0).Shell(), (std::vector<std::string>{"/bin/bash", "-c"}));
  EXPECT_EQ(b.stages[2].base_stage, 0);  // stage names are case-insensitive
}

TEST(Resolve, StageNamedLikeItsImageIsNotItsOwnBase) {
  auto b = R("FROM alpine AS alpine\nRUN x\n");
  EXPECT_FALSE(b.stages[0].base_stage);
}

TEST(Resolve, ImageEnv) {
  ResolveOptions o = Opts();
  o.image_env = [](const std::string& image) -> std::optional<std::vector<std::string>> {
    if (image == "golang:1.22") return std::vector<std::string>{"GOPATH=/go", "PATH=/usr/bin"};
    return std::nullopt;
  };
  auto b = R("FROM golang:1.22\nENV PATH=$GOPATH/bin:$PATH\n", o);
  EXPECT_EQ(Step(b, 0, 0).Env(), (std::vector<std::string>{"GOPATH=/go", "PATH=/go/bin:/usr/bin"}));
}

TEST(Resolve, MountValuesExpand) {
  auto b =
      R("FROM a\nARG ID=pip T=/root/.cache\n"
        "RUN --mount=type=cache,id=$ID,target=$T --mount=type=bind,from=${F:-b},target=/b x\n");
  const auto& m = Step(b, 0, 1).inst.mounts;
  EXPECT_EQ(m[0].id, "pip");
  EXPECT_EQ(m[0].target, "/root/.cache");
  EXPECT_EQ(m[1].from, "b");
}

TEST(Resolve, BacktickEscape) {
  auto b = R("# escape=`\nFROM a\nENV A=c:\\dir B=`$A\n");
  EXPECT_EQ(Pairs(Step(b, 0, 0).inst), "{A=c:\\dir}{B=$A}");
}

struct ErrorCase {
  const char* text;
  const char* want;
};

class ResolveErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ResolveErrors, Exact) {
  try {
    R(GetParam().text);
    FAIL() << GetParam().text;
  } catch (const SyntaxError& e) {
    EXPECT_STREQ(e.what(), GetParam().want);
  }
}

// clang-format off
const ErrorCase kErrors[] = {
  {"FROM a\nENV A=\"${B:?B is required}\"\n", "Dockerfile:2:5: ENV: B: B is required"},
  {"FROM a\nENV A=1 \\\n  B=${C\n", "Dockerfile:3:3: ENV: missing '}' in substitution"},
  {"ARG IMG\nFROM $IMG\n", "Dockerfile:2:1: base name ($IMG) should not be blank"},
  {"FROM ${X:?unset}\n", "Dockerfile:1:6: FROM: X: unset"},
  {"FROM --platform=${P:?} a\n", "Dockerfile:1:6: FROM: P: is not allowed to be unset"},
  {"FROM a\nCOPY ${A:x} /b\n", "Dockerfile:2:6: COPY: unsupported modifier (x) in substitution of A"},
  {"FROM a\nCOPY --chown=${U:?who} a /b\n", "Dockerfile:2:6: COPY: U: who"},
  {"FROM a\nWORKDIR ${W:?}\n", "Dockerfile:2:9: WORKDIR: W: is not allowed to be unset"},
  {"FROM a\nUSER \"app\n", "Dockerfile:2:6: USER: unexpected end of statement while looking for matching double-quote"},
  {"FROM a\nCOPY 'a /b\n", "Dockerfile:2:6: COPY: unexpected end of statement while looking for matching single-quote"},
  {"FROM a\nRUN --mount=type=cache,target=${T:?} x\n", "Dockerfile:2:5: RUN: T: is not allowed to be unset"},
  {"# check=error=true\nFROM a\nENV A=$B\n", "Dockerfile:3:1: UndefinedVar: Usage of undefined variable '$B' (the Dockerfile sets check=error=true)"},
  {"# check=error=true\nFROM a\nRUN a \\\n\n b\n", "Dockerfile:4:1: NoEmptyContinuation: Empty continuation line found in the instruction starting at line 3 (the Dockerfile sets check=error=true)"},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Table, ResolveErrors, ::testing::ValuesIn(kErrors));

TEST(Resolve, CheckSkip) {
  EXPECT_TRUE(R("# check=skip=UndefinedVar;error=true\nFROM a\nENV A=$B\n").warnings.empty());
  EXPECT_TRUE(R("# check=skip=all\nFROM a\nENV A=$B\nRUN a \\\n\n b\n").warnings.empty());
  EXPECT_EQ(
      R("# check=skip=NoEmptyContinuation\nFROM a\nENV A=$B\nRUN a \\\n\n b\n").warnings.size(),
      1u);
}

TEST(Resolve, FindStage) {
  auto b = R("FROM a AS one\nFROM b AS Two\nFROM c\n");
  EXPECT_EQ(b.FindStage("one"), 0);
  EXPECT_EQ(b.FindStage("TWO"), 1);
  EXPECT_EQ(b.FindStage("2"), 2);
  EXPECT_FALSE(b.FindStage("3"));
  EXPECT_FALSE(b.FindStage("three"));
}

}  // namespace
}  // namespace berth::build

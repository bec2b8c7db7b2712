// The Dockerfile parser on a corpus of valid and invalid files: each valid case asserts a
// compact rendering of the AST (positions included), each invalid one the exact error.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "build/dockerfile.h"

namespace berth::build {
namespace {

std::string Pos(Position p) { return std::to_string(p.line) + ":" + std::to_string(p.column); }

std::string Render(const Instruction& in) {
  std::string out = Pos(in.pos) + " " + std::string(CommandName(in.command));
  for (const Flag& f : in.flags) {
    out += " --" + f.name + (f.has_value ? "=" + f.value : "") + "@" + Pos(f.pos);
  }
  if (in.json) out += " json";
  if (!in.args.empty()) {
    out += " [";
    for (size_t i = 0; i < in.args.size(); ++i) out += (i ? "|" : "") + in.args[i];
    out += "]";
  }
  for (const KeyValue& kv : in.pairs) {
    out += " {" + kv.key + (kv.has_value ? "=" + kv.value : "") + "}";
  }
  for (const Heredoc& h : in.heredocs) {
    out += " <<" + std::string(h.chomp ? "-" : "") + h.name + (h.expand ? "" : "(raw)") +
           (h.fd >= 0 ? "(fd" + std::to_string(h.fd) + ")" : "") + ":" + h.content;
  }
  if (!in.stage_name.empty()) out += " AS " + in.stage_name;
  for (const Instruction& t : in.trigger) out += " => " + Render(t);
  return out;
}

std::string Render(const Dockerfile& df) {
  std::string out;
  for (const Instruction& a : df.global_args) out += Render(a) + "\n";
  for (const Stage& s : df.stages) {
    out += Render(s.from) + "\n";
    for (const Instruction& c : s.commands) out += Render(c) + "\n";
  }
  return out;
}

struct Case {
  const char* name;
  const char* text;
  const char* want;  // the rendering, or the error message for bad cases
};

class ParseValid : public ::testing::TestWithParam<Case> {};

TEST_P(ParseValid, Ast) {
  const Case& c = GetParam();
  Dockerfile df;
  try {
    df = ParseDockerfile(c.text);
  } catch (const Error& e) {
    FAIL() << c.name << ": " << e.what();
  }
  EXPECT_EQ(Render(df), c.want) << c.name;
}

// clang-format off
const Case kValid[] = {
  {"minimal", "FROM busybox\n", "1:1 FROM [busybox]\n"},
  {"lowercase keywords", "from busybox\nrun echo hi\n", "1:1 FROM [busybox]\n2:1 RUN [echo hi]\n"},
  {"mixed case keyword", "FrOm busybox\n", "1:1 FROM [busybox]\n"},
  {"no trailing newline", "FROM a\nRUN x", "1:1 FROM [a]\n2:1 RUN [x]\n"},
  {"crlf", "FROM a\r\nRUN x\r\n", "1:1 FROM [a]\n2:1 RUN [x]\n"},
  {"bom", "\xEF\xBB\xBF" "FROM a\n", "1:1 FROM [a]\n"},
  {"leading whitespace", "  FROM a\n\tRUN x\n", "1:3 FROM [a]\n2:2 RUN [x]\n"},
  {"comments and blank lines", "# c\n\nFROM a\n  # indented comment\n\nRUN x\n", "3:1 FROM [a]\n6:1 RUN [x]\n"},
  {"from as", "FROM golang:1.22 AS Build\n", "1:1 FROM [golang:1.22|AS|Build] AS build\n"},
  {"from as lowercase", "FROM a as b\n", "1:1 FROM [a|as|b] AS b\n"},
  {"from platform", "FROM --platform=linux/arm64 a\n", "1:1 FROM --platform=linux/arm64@1:6 [a]\n"},
  {"from platform variable", "FROM --platform=$BUILDPLATFORM a AS b\n", "1:1 FROM --platform=$BUILDPLATFORM@1:6 [a|AS|b] AS b\n"},
  {"from stage name symbols", "FROM a AS my-stage_1.x\n", "1:1 FROM [a|AS|my-stage_1.x] AS my-stage_1.x\n"},
  {"from digest", "FROM a@sha256:abc\n", "1:1 FROM [a@sha256:abc]\n"},
  {"global args", "ARG V=1\nARG B\nFROM a:$V\n", "1:1 ARG {V=1}\n2:1 ARG {B}\n3:1 FROM [a:$V]\n"},
  {"several stages", "FROM a AS x\nRUN 1\nFROM x\nRUN 2\n", "1:1 FROM [a|AS|x] AS x\n2:1 RUN [1]\n3:1 FROM [x]\n4:1 RUN [2]\n"},
  {"run shell", "FROM a\nRUN echo \"$HOME\" 'x'\n", "1:1 FROM [a]\n2:1 RUN [echo \"$HOME\" 'x']\n"},
  {"run exec", "FROM a\nRUN [\"echo\", \"hi there\"]\n", "1:1 FROM [a]\n2:1 RUN json [echo|hi there]\n"},
  {"run exec unicode escape", "FROM a\nRUN [\"a\\u0041\"]\n", "1:1 FROM [a]\n2:1 RUN json [aA]\n"},
  {"run invalid json falls back to shell", "FROM a\nRUN [\"echo\", hi]\n", "1:1 FROM [a]\n2:1 RUN [[\"echo\", hi]]\n"},
  {"run json trailing garbage falls back", "FROM a\nRUN [\"echo\"] x\n", "1:1 FROM [a]\n2:1 RUN [[\"echo\"] x]\n"},
  {"run json single quotes is shell", "FROM a\nRUN ['echo']\n", "1:1 FROM [a]\n2:1 RUN [['echo']]\n"},
  {"run trailing spaces trimmed", "FROM a\nRUN x   \n", "1:1 FROM [a]\n2:1 RUN [x]\n"},
  {"continuation", "FROM a\nRUN echo a \\\n  b\n", "1:1 FROM [a]\n2:1 RUN [echo a   b]\n"},
  {"continuation trailing blanks", "FROM a\nRUN a \\  \n b\n", "1:1 FROM [a]\n2:1 RUN [a  b]\n"},
  {"continuation skips comments", "FROM a\nRUN a \\\n# note\n  && b\n", "1:1 FROM [a]\n2:1 RUN [a   && b]\n"},
  {"continuation skips indented comments", "FROM a\nRUN a \\\n    # note\n b\n", "1:1 FROM [a]\n2:1 RUN [a  b]\n"},
  {"continuation skips empty lines", "FROM a\nRUN a \\\n\n b\n", "1:1 FROM [a]\n2:1 RUN [a  b]\n"},
  {"escaped escape is not a continuation", "FROM a\nRUN echo a\\\\\nRUN b\n", "1:1 FROM [a]\n2:1 RUN [echo a\\\\]\n3:1 RUN [b]\n"},
  {"escape alone on a line continues", "FROM a\nRUN a \\\n\\\n b\n", "1:1 FROM [a]\n2:1 RUN [a  b]\n"},
  {"lone continuation lines", "\\\nFROM a\n  \\\n\n", "2:1 FROM [a]\n"},
  {"continuation at eof", "FROM a\nRUN a \\\n", "1:1 FROM [a]\n2:1 RUN [a]\n"},
  {"continuation of keyword line", "FROM \\\n a\n", "1:1 FROM [a]\n"},
  {"escaped escape is not continuation in json", "FROM a\nRUN [\"a\\\\\"]\n", "1:1 FROM [a]\n2:1 RUN json [a\\]\n"},
  {"escape directive backtick", "# escape=`\nFROM a\nRUN dir c:\\ `\n  && x\n", "2:1 FROM [a]\n3:1 RUN [dir c:\\   && x]\n"},
  {"escape directive backslash", "# escape=\\\nFROM a\n", "2:1 FROM [a]\n"},
  {"directive spacing and case", "#  ESCAPE =  `\nFROM a\nRUN b `\n c\n", "2:1 FROM [a]\n3:1 RUN [b  c]\n"},
  {"directive after comment is a comment", "# hello\n# escape=`\nFROM a\nRUN b \\\n c\n", "3:1 FROM [a]\n4:1 RUN [b  c]\n"},
  {"directive after blank line is a comment", "\n# escape=`\nFROM a\nRUN b \\\n c\n", "3:1 FROM [a]\n4:1 RUN [b  c]\n"},
  {"unknown directive ends directives", "# foo=bar\n# escape=`\nFROM a\nRUN b \\\n c\n", "3:1 FROM [a]\n4:1 RUN [b  c]\n"},
  {"syntax directive", "# syntax=docker/dockerfile:1\nFROM a\n", "2:1 FROM [a]\n"},
  {"cmd shell", "FROM a\nCMD echo hi\n", "1:1 FROM [a]\n2:1 CMD [echo hi]\n"},
  {"cmd exec", "FROM a\nCMD [\"a\",\"b\"]\n", "1:1 FROM [a]\n2:1 CMD json [a|b]\n"},
  {"cmd empty json", "FROM a\nCMD []\n", "1:1 FROM [a]\n2:1 CMD json\n"},
  {"entrypoint exec", "FROM a\nENTRYPOINT [\"/bin/x\"]\n", "1:1 FROM [a]\n2:1 ENTRYPOINT json [/bin/x]\n"},
  {"entrypoint shell", "FROM a\nENTRYPOINT exec x\n", "1:1 FROM [a]\n2:1 ENTRYPOINT [exec x]\n"},
  {"label pairs", "FROM a\nLABEL a=b \"c d\"=\"e f\" g='h'\n", "1:1 FROM [a]\n2:1 LABEL {a=b} {\"c d\"=\"e f\"} {g='h'}\n"},
  {"label old form", "FROM a\nLABEL version 1.0 beta\n", "1:1 FROM [a]\n2:1 LABEL {version=1.0 beta}\n"},
  {"label escaped space", "FROM a\nLABEL a=b\\ c\n", "1:1 FROM [a]\n2:1 LABEL {a=b\\ c}\n"},
  {"label multiline", "FROM a\nLABEL a=1 \\\n      b=2\n", "1:1 FROM [a]\n2:1 LABEL {a=1} {b=2}\n"},
  {"env new form", "FROM a\nENV A=1 B=\"x y\" C=\n", "1:1 FROM [a]\n2:1 ENV {A=1} {B=\"x y\"} {C=}\n"},
  {"env old form", "FROM a\nENV PATH /usr/bin:/bin  extra words\n", "1:1 FROM [a]\n2:1 ENV {PATH=/usr/bin:/bin  extra words}\n"},
  {"env value with equals", "FROM a\nENV A=b=c\n", "1:1 FROM [a]\n2:1 ENV {A=b=c}\n"},
  {"env positions", "FROM a\nENV A=1   B=2\n", "1:1 FROM [a]\n2:1 ENV {A=1} {B=2}\n"},
  {"expose", "FROM a\nEXPOSE 80 443/tcp 53/udp\n", "1:1 FROM [a]\n2:1 EXPOSE [80|443/tcp|53/udp]\n"},
  {"add flags", "FROM a\nADD --chown=1:2 --chmod=644 --link --keep-git-dir=true --checksum=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef --exclude=*.md x /y\n",
   "1:1 FROM [a]\n2:1 ADD --chown=1:2@2:5 --chmod=644@2:17 --link@2:29 --keep-git-dir=true@2:36 --checksum=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef@2:56 --exclude=*.md@2:139 [x|/y]\n"},
  {"copy flags", "FROM a\nCOPY --from=build --chown=app --chmod=0755 --link=false --parents --exclude=a --exclude=b s1 s2 /d/\n",
   "1:1 FROM [a]\n2:1 COPY --from=build@2:6 --chown=app@2:19 --chmod=0755@2:31 --link=false@2:44 --parents@2:57 --exclude=a@2:67 --exclude=b@2:79 [s1|s2|/d/]\n"},
  {"copy json", "FROM a\nCOPY [\"a b\", \"/c d/\"]\n", "1:1 FROM [a]\n2:1 COPY json [a b|/c d/]\n"},
  {"copy quoted flag", "FROM a\nCOPY --chown=\"app user\" x /y\n", "1:1 FROM [a]\n2:1 COPY --chown=app user@2:6 [x|/y]\n"},
  {"copy double dash ends flags", "FROM a\nCOPY -- --weird /y\n", "1:1 FROM [a]\n2:1 COPY [--weird|/y]\n"},
  {"volume json", "FROM a\nVOLUME [\"/data\", \"/logs\"]\n", "1:1 FROM [a]\n2:1 VOLUME json [/data|/logs]\n"},
  {"volume words", "FROM a\nVOLUME /data /logs\n", "1:1 FROM [a]\n2:1 VOLUME [/data|/logs]\n"},
  {"user", "FROM a\nUSER app:staff\n", "1:1 FROM [a]\n2:1 USER [app:staff]\n"},
  {"workdir keeps spaces", "FROM a\nWORKDIR /my dir\n", "1:1 FROM [a]\n2:1 WORKDIR [/my dir]\n"},
  {"arg forms", "FROM a\nARG A\nARG B=1 C=\"x y\" D\n", "1:1 FROM [a]\n2:1 ARG {A}\n3:1 ARG {B=1} {C=\"x y\"} {D}\n"},
  {"arg empty default", "FROM a\nARG A=\n", "1:1 FROM [a]\n2:1 ARG {A=}\n"},
  {"onbuild", "FROM a\nONBUILD RUN echo hi\n", "1:1 FROM [a]\n2:1 ONBUILD [RUN echo hi] => 2:9 RUN [echo hi]\n"},
  {"onbuild copy flags", "FROM a\nONBUILD COPY --chown=1 . /app\n", "1:1 FROM [a]\n2:1 ONBUILD [COPY --chown=1 . /app] => 2:9 COPY --chown=1@2:14 [.|/app]\n"},
  {"stopsignal", "FROM a\nSTOPSIGNAL SIGKILL\n", "1:1 FROM [a]\n2:1 STOPSIGNAL [SIGKILL]\n"},
  {"healthcheck none", "FROM a\nHEALTHCHECK NONE\n", "1:1 FROM [a]\n2:1 HEALTHCHECK [NONE]\n"},
  {"healthcheck cmd shell", "FROM a\nHEALTHCHECK --interval=5m --timeout=3s --retries=3 CMD curl -f http://x/ || exit 1\n",
   "1:1 FROM [a]\n2:1 HEALTHCHECK --interval=5m@2:13 --timeout=3s@2:27 --retries=3@2:40 [CMD-SHELL|curl -f http://x/ || exit 1]\n"},
  {"healthcheck cmd exec", "FROM a\nHEALTHCHECK --start-period=1m30s --start-interval=5s cmd [\"x\", \"y\"]\n",
   "1:1 FROM [a]\n2:1 HEALTHCHECK --start-period=1m30s@2:13 --start-interval=5s@2:34 json [CMD|x|y]\n"},
  {"shell", "FROM a\nSHELL [\"powershell\", \"-command\"]\n", "1:1 FROM [a]\n2:1 SHELL json [powershell|-command]\n"},
  {"maintainer", "FROM a\nMAINTAINER Jane <j@x>\n", "1:1 FROM [a]\n2:1 MAINTAINER [Jane <j@x>]\n"},
  {"run mount cache", "FROM a\nRUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0700,uid=1,gid=2 pip install x\n",
   "1:1 FROM [a]\n2:1 RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0700,uid=1,gid=2@2:5 [pip install x]\n"},
  {"run mounts and network", "FROM a\nRUN --mount=type=bind,from=build,source=/out,target=/in --mount=type=tmpfs,target=/t,size=64m --network=none --security=insecure make\n",
   "1:1 FROM [a]\n2:1 RUN --mount=type=bind,from=build,source=/out,target=/in@2:5 --mount=type=tmpfs,target=/t,size=64m@2:57 --network=none@2:95 --security=insecure@2:110 [make]\n"},
  {"run secret", "FROM a\nRUN --mount=type=secret,id=tok,required cat /run/secrets/tok\n",
   "1:1 FROM [a]\n2:1 RUN --mount=type=secret,id=tok,required@2:5 [cat /run/secrets/tok]\n"},
  {"heredoc run", "FROM a\nRUN <<EOF\necho hi\necho there\nEOF\nRUN x\n",
   "1:1 FROM [a]\n2:1 RUN [<<EOF] <<EOF:echo hi\necho there\n\n6:1 RUN [x]\n"},
  {"heredoc with command", "FROM a\nRUN python3 <<PY\nprint(1)\nPY\n", "1:1 FROM [a]\n2:1 RUN [python3 <<PY] <<PY:print(1)\n\n"},
  {"heredoc chomp", "FROM a\nRUN <<-EOF\n\techo hi\n\t\tindented\n\tEOF\n", "1:1 FROM [a]\n2:1 RUN [<<-EOF] <<-EOF:echo hi\nindented\n\n"},
  {"heredoc no chomp keeps tabs", "FROM a\nRUN <<EOF\n\techo\nEOF\n", "1:1 FROM [a]\n2:1 RUN [<<EOF] <<EOF:\techo\n\n"},
  {"heredoc double quoted", "FROM a\nRUN <<\"EOF\"\necho $HOME\nEOF\n", "1:1 FROM [a]\n2:1 RUN [<<\"EOF\"] <<EOF(raw):echo $HOME\n\n"},
  {"heredoc single quoted", "FROM a\nRUN <<'EOF'\nx\nEOF\n", "1:1 FROM [a]\n2:1 RUN [<<'EOF'] <<EOF(raw):x\n\n"},
  {"heredoc two", "FROM a\nRUN <<A cat /dev/stdin; cat 3<<B\na\nA\nb\nB\n",
   "1:1 FROM [a]\n2:1 RUN [<<A cat /dev/stdin; cat 3<<B] <<A:a\n <<B(fd3):b\n\n"},
  {"heredoc empty body", "FROM a\nRUN <<EOF\nEOF\n", "1:1 FROM [a]\n2:1 RUN [<<EOF] <<EOF:\n"},
  {"heredoc keeps comment-looking lines", "FROM a\nRUN <<EOF\n# not a comment\n\nEOF\n", "1:1 FROM [a]\n2:1 RUN [<<EOF] <<EOF:# not a comment\n\n\n"},
  {"heredoc copy", "FROM a\nCOPY <<EOF /etc/x.conf\nk=v\nEOF\n", "1:1 FROM [a]\n2:1 COPY [<<EOF|/etc/x.conf] <<EOF:k=v\n\n"},
  {"heredoc copy two files", "FROM a\nCOPY <<one <<two /dest/\n1\none\n2\ntwo\n",
   "1:1 FROM [a]\n2:1 COPY [<<one|<<two|/dest/] <<one:1\n <<two:2\n\n"},
  {"heredoc add", "FROM a\nADD <<EOF /x\ny\nEOF\n", "1:1 FROM [a]\n2:1 ADD [<<EOF|/x] <<EOF:y\n\n"},
  {"heredoc after continuation", "FROM a\nRUN <<EOF \\\n  bash\nset -e\nEOF\n", "1:1 FROM [a]\n2:1 RUN [<<EOF   bash] <<EOF:set -e\n\n"},
  {"heredoc not in quotes", "FROM a\nRUN echo \"<<EOF\"\n", "1:1 FROM [a]\n2:1 RUN [echo \"<<EOF\"]\n"},
  {"bitshift is not heredoc", "FROM a\nRUN echo $((1<<2))\n", "1:1 FROM [a]\n2:1 RUN [echo $((1<<2))]\n"},
  {"heredoc in onbuild", "FROM a\nONBUILD RUN <<EOF\nmake\nEOF\nRUN x\n", "1:1 FROM [a]\n2:1 ONBUILD [RUN <<EOF] => 2:9 RUN [<<EOF] <<EOF:make\n\n5:1 RUN [x]\n"},
  {"heredoc not in cmd", "FROM a\nCMD cat <<EOF\n", "1:1 FROM [a]\n2:1 CMD [cat <<EOF]\n"},
  {"run unterminated quote is the shell's business", "FROM a\nRUN echo 'oops\n", "1:1 FROM [a]\n2:1 RUN [echo 'oops]\n"},
  {"json run with heredoc marker text", "FROM a\nRUN [\"cat\", \"<<EOF\"]\n", "1:1 FROM [a]\n2:1 RUN json [cat|<<EOF]\n"},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Corpus, ParseValid, ::testing::ValuesIn(kValid),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string n;
                           for (const char* p = info.param.name; *p; ++p) {
                             n += isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
                           }
                           return n;
                         });

class ParseInvalid : public ::testing::TestWithParam<Case> {};

TEST_P(ParseInvalid, Error) {
  const Case& c = GetParam();
  try {
    Dockerfile df = ParseDockerfile(c.text);
    FAIL() << c.name << ": parsed, want error " << c.want << "\n" << Render(df);
  } catch (const SyntaxError& e) {
    EXPECT_EQ(std::string(e.what()), c.want) << c.name;
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
  }
}

// clang-format off
const Case kInvalid[] = {
  {"empty", "", "Dockerfile:1:1: the Dockerfile has no instructions"},
  {"only comments", "# a\n\n# b\n", "Dockerfile:1:1: the Dockerfile has no instructions"},
  {"unknown instruction", "FROM a\n\n\nRUN x\n\n\n\n\n\n\n\n    FORM b\n", "Dockerfile:12:5: unknown instruction: FORM (did you mean FROM?)"},
  {"unknown instruction no suggestion", "FROM a\nFOOBARBAZ x\n", "Dockerfile:2:1: unknown instruction: FOOBARBAZ"},
  {"unknown instruction lowercase", "FROM a\ncopi a b\n", "Dockerfile:2:1: unknown instruction: copi (did you mean COPY?)"},
  {"instruction before from", "RUN x\nFROM a\n", "Dockerfile:1:1: RUN before the first FROM: only ARG may come before FROM (no build stage yet)"},
  {"only args", "ARG A=1\n", "Dockerfile:1:1: the Dockerfile has no FROM: no build stage"},
  {"from no args", "FROM\n", "Dockerfile:1:1: FROM requires either one or three arguments (FROM image [AS name])"},
  {"from two args", "FROM a b\n", "Dockerfile:1:1: FROM requires either one or three arguments (FROM image [AS name])"},
  {"from four args", "FROM a AS b c\n", "Dockerfile:1:1: FROM requires either one or three arguments (FROM image [AS name])"},
  {"from not as", "FROM a IS b\n", "Dockerfile:1:8: FROM: expected AS, got \"IS\""},
  {"from bad stage name", "FROM a AS 1st\n", "Dockerfile:1:11: invalid name for build stage: \"1st\", name can't start with a number or contain symbols"},
  {"from stage name symbol", "FROM a AS b$c\n", "Dockerfile:1:11: invalid name for build stage: \"b$c\", name can't start with a number or contain symbols"},
  {"duplicate stage", "FROM a AS x\nFROM b AS X\n", "Dockerfile:2:1: duplicate stage name \"x\" (first at line 1)"},
  {"from unknown flag", "FROM --plat=x a\n", "Dockerfile:1:6: unknown flag: --plat (FROM takes --platform)"},
  {"from platform without value", "FROM --platform a\n", "Dockerfile:1:6: missing a value on flag --platform (--platform=VALUE)"},
  {"from duplicate flag", "FROM --platform=a --platform=b c\n", "Dockerfile:1:19: duplicate flag specified: --platform"},
  {"run no args", "FROM a\nRUN\n", "Dockerfile:2:1: RUN requires at least one argument"},
  {"run only flags", "FROM a\nRUN --network=none\n", "Dockerfile:2:1: RUN requires at least one argument"},
  {"run unknown flag", "FROM a\nRUN --mnt=type=cache x\n", "Dockerfile:2:5: unknown flag: --mnt (RUN takes --mount, --network, --security)"},
  {"run bad network", "FROM a\nRUN --network=bridge x\n", "Dockerfile:2:5: unsupported network mode \"bridge\" (none, default or host)"},
  {"run bad security", "FROM a\nRUN --security=root x\n", "Dockerfile:2:5: unsupported security mode \"root\" (sandbox or insecure)"},
  {"run mount bad type", "FROM a\nRUN --mount=type=volume,target=/x y\n", "Dockerfile:2:5: --mount=type=volume,target=/x: unsupported mount type \"volume\" (bind, cache, tmpfs, secret, ssh)"},
  {"run mount no target", "FROM a\nRUN --mount=type=cache x\n", "Dockerfile:2:5: --mount=type=cache: a target is required (target=/path)"},
  {"run mount unknown key", "FROM a\nRUN --mount=type=cache,target=/x,colour=red y\n", "Dockerfile:2:5: --mount=type=cache,target=/x,colour=red: unexpected key 'colour'"},
  {"run mount bad sharing", "FROM a\nRUN --mount=type=cache,target=/x,sharing=all y\n", "Dockerfile:2:5: --mount=type=cache,target=/x,sharing=all: unsupported sharing value \"all\" (shared, private, locked)"},
  {"run mount bad mode", "FROM a\nRUN --mount=type=cache,target=/x,mode=999 y\n", "Dockerfile:2:5: --mount=type=cache,target=/x,mode=999: invalid mode \"999\" (octal, at most 7777)"},
  {"run mount bad uid", "FROM a\nRUN --mount=type=cache,target=/x,uid=root y\n", "Dockerfile:2:5: --mount=type=cache,target=/x,uid=root: invalid uid \"root\""},
  {"run mount sharing on bind", "FROM a\nRUN --mount=type=bind,target=/x,sharing=locked y\n", "Dockerfile:2:5: --mount=type=bind,target=/x,sharing=locked: \"sharing\" is not allowed for this mount type"},
  {"run mount size on cache", "FROM a\nRUN --mount=type=cache,target=/x,size=1m y\n", "Dockerfile:2:5: --mount=type=cache,target=/x,size=1m: \"size\" is not allowed for this mount type"},
  {"run mount bad size", "FROM a\nRUN --mount=type=tmpfs,target=/x,size=lots y\n", "Dockerfile:2:5: --mount=type=tmpfs,target=/x,size=lots: invalid size \"lots\""},
  {"run mount from on tmpfs", "FROM a\nRUN --mount=type=tmpfs,target=/x,from=b y\n", "Dockerfile:2:5: --mount=type=tmpfs,target=/x,from=b: \"from\" is not allowed for this mount type"},
  {"run mount secret nothing", "FROM a\nRUN --mount=type=secret y\n", "Dockerfile:2:5: --mount=type=secret: a secret mount needs id=, target= or env="},
  {"run mount key without value", "FROM a\nRUN --mount=type=cache,target y\n", "Dockerfile:2:5: --mount=type=cache,target: \"target\" needs a value (target=...)"},
  {"run mount bad bool", "FROM a\nRUN --mount=type=bind,target=/x,ro=maybe y\n", "Dockerfile:2:5: --mount=type=bind,target=/x,ro=maybe: invalid value \"maybe\" for ro (true or false)"},
  {"flag unterminated quote", "FROM a\nCOPY --chown=\"app x /y\n", "Dockerfile:2:6: unterminated quote in flag --chown"},
  {"empty flag name", "FROM a\nCOPY --=x a b\n", "Dockerfile:2:6: empty flag name in COPY"},
  {"run json with a number", "FROM a\nRUN [\"echo\", 1]\n", "Dockerfile:2:5: when using JSON array syntax, arrays must be comprised of strings only"},
  {"cmd json with null", "FROM a\nCMD [null]\n", "Dockerfile:2:5: when using JSON array syntax, arrays must be comprised of strings only"},
  {"copy json with object", "FROM a\nCOPY [\"a\", {}]\n", "Dockerfile:2:6: when using JSON array syntax, arrays must be comprised of strings only"},
  {"healthcheck json with bool", "FROM a\nHEALTHCHECK CMD [true]\n", "Dockerfile:2:17: when using JSON array syntax, arrays must be comprised of strings only"},
  {"cmd no args", "FROM a\nCMD\n", "Dockerfile:2:1: CMD requires at least one argument"},
  {"cmd flag", "FROM a\nCMD --help\n", "Dockerfile:2:5: unknown flag: --help (CMD takes no flags)"},
  {"entrypoint no args", "FROM a\nENTRYPOINT\n", "Dockerfile:2:1: ENTRYPOINT requires at least one argument"},
  {"label no args", "FROM a\nLABEL\n", "Dockerfile:2:1: LABEL requires at least one argument"},
  {"label missing equals", "FROM a\nLABEL a=b c\n", "Dockerfile:2:11: syntax error: can't find = in \"c\"; it must be of the form name=value"},
  {"label blank name", "FROM a\nLABEL =x\n", "Dockerfile:2:7: LABEL names can not be blank"},
  {"label unterminated quote", "FROM a\nLABEL a=\"b\n", "Dockerfile:2:9: unterminated double quote"},
  {"label old form without value", "FROM a\nLABEL a\n", "Dockerfile:2:1: LABEL a has no value (LABEL KEY=VALUE or LABEL KEY VALUE)"},
  {"env no value", "FROM a\nENV A\n", "Dockerfile:2:1: ENV A has no value (ENV KEY=VALUE or ENV KEY VALUE)"},
  {"env missing equals", "FROM a\nENV A=1 B\n", "Dockerfile:2:9: syntax error: can't find = in \"B\"; it must be of the form name=value"},
  {"env blank name", "FROM a\nENV =1\n", "Dockerfile:2:5: ENV names can not be blank"},
  {"env unterminated single quote", "FROM a\nENV A='x\n", "Dockerfile:2:7: unterminated single quote"},
  {"env flag", "FROM a\nENV --x=1 A=1\n", "Dockerfile:2:5: unknown flag: --x (ENV takes no flags)"},
  {"expose no args", "FROM a\nEXPOSE\n", "Dockerfile:2:1: EXPOSE requires at least one argument"},
  {"add one arg", "FROM a\nADD x\n", "Dockerfile:2:1: ADD requires at least two arguments: a source and a destination"},
  {"copy one arg", "FROM a\nCOPY x\n", "Dockerfile:2:1: COPY requires at least two arguments: a source and a destination"},
  {"copy json one arg", "FROM a\nCOPY [\"x\"]\n", "Dockerfile:2:1: COPY requires at least two arguments: a source and a destination"},
  {"copy unknown flag", "FROM a\nCOPY --platform=x a b\n", "Dockerfile:2:6: unknown flag: --platform (COPY takes --chmod, --chown, --exclude, --from, --link, --parents)"},
  {"copy keep-git-dir", "FROM a\nCOPY --keep-git-dir a b\n", "Dockerfile:2:6: unknown flag: --keep-git-dir (COPY takes --chmod, --chown, --exclude, --from, --link, --parents)"},
  {"copy bad bool", "FROM a\nCOPY --link=yes a b\n", "Dockerfile:2:6: expecting a boolean value for flag --link, not \"yes\""},
  {"copy from without value", "FROM a\nCOPY --from a b\n", "Dockerfile:2:6: missing a value on flag --from (--from=VALUE)"},
  {"copy duplicate from", "FROM a\nCOPY --from=a --from=b a b\n", "Dockerfile:2:15: duplicate flag specified: --from"},
  {"copy bad chmod", "FROM a\nCOPY --chmod=rwx a b\n", "Dockerfile:2:6: --chmod: invalid mode \"rwx\" (octal, at most 7777)"},
  {"copy empty chown", "FROM a\nCOPY --chown= a b\n", "Dockerfile:2:6: --chown: empty user"},
  {"add bad checksum", "FROM a\nADD --checksum=md5:abc http://x /y\n", "Dockerfile:2:5: --checksum: invalid digest \"md5:abc\" (sha256:<64 hex>, sha384:… or sha512:…)"},
  {"add short checksum", "FROM a\nADD --checksum=sha256:abc http://x /y\n", "Dockerfile:2:5: --checksum: invalid digest \"sha256:abc\" (sha256:<64 hex>, sha384:… or sha512:…)"},
  {"add parents", "FROM a\nADD --parents a b\n", "Dockerfile:2:5: unknown flag: --parents (ADD takes --checksum, --chmod, --chown, --exclude, --keep-git-dir, --link)"},
  {"volume empty json", "FROM a\nVOLUME [\"\"]\n", "Dockerfile:2:1: VOLUME specified can not be an empty string"},
  {"volume no args", "FROM a\nVOLUME\n", "Dockerfile:2:1: VOLUME requires at least one argument"},
  {"user no args", "FROM a\nUSER\n", "Dockerfile:2:1: USER requires exactly one argument"},
  {"workdir no args", "FROM a\nWORKDIR   \n", "Dockerfile:2:1: WORKDIR requires exactly one argument"},
  {"stopsignal no args", "FROM a\nSTOPSIGNAL\n", "Dockerfile:2:1: STOPSIGNAL requires exactly one argument"},
  {"maintainer no args", "FROM a\nMAINTAINER\n", "Dockerfile:2:1: MAINTAINER requires exactly one argument"},
  {"arg no args", "FROM a\nARG\n", "Dockerfile:2:1: ARG requires at least one argument"},
  {"arg blank name", "FROM a\nARG =1\n", "Dockerfile:2:5: ARG names can not be blank"},
  {"onbuild no args", "FROM a\nONBUILD\n", "Dockerfile:2:1: ONBUILD requires at least one argument"},
  {"onbuild onbuild", "FROM a\nONBUILD ONBUILD RUN x\n", "Dockerfile:2:9: chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
  {"onbuild from", "FROM a\nONBUILD FROM b\n", "Dockerfile:2:9: FROM isn't allowed as an ONBUILD trigger"},
  {"onbuild maintainer", "FROM a\nONBUILD MAINTAINER me\n", "Dockerfile:2:9: MAINTAINER isn't allowed as an ONBUILD trigger"},
  {"onbuild unknown", "FROM a\nONBUILD FOO x\n", "Dockerfile:2:9: unknown instruction: FOO"},
  {"onbuild bad flag", "FROM a\nONBUILD COPY --frm=x a b\n", "Dockerfile:2:14: unknown flag: --frm (COPY takes --chmod, --chown, --exclude, --from, --link, --parents)"},
  {"healthcheck no args", "FROM a\nHEALTHCHECK\n", "Dockerfile:2:1: HEALTHCHECK requires an argument: NONE or CMD"},
  {"healthcheck bad type", "FROM a\nHEALTHCHECK RUN x\n", "Dockerfile:2:13: unknown type \"RUN\" in HEALTHCHECK (try CMD)"},
  {"healthcheck none args", "FROM a\nHEALTHCHECK NONE x\n", "Dockerfile:2:13: HEALTHCHECK NONE takes no arguments and no flags"},
  {"healthcheck none flags", "FROM a\nHEALTHCHECK --retries=1 NONE\n", "Dockerfile:2:25: HEALTHCHECK NONE takes no arguments and no flags"},
  {"healthcheck cmd empty", "FROM a\nHEALTHCHECK CMD\n", "Dockerfile:2:13: missing command after HEALTHCHECK CMD"},
  {"healthcheck bad duration", "FROM a\nHEALTHCHECK --interval=5 CMD x\n", "Dockerfile:2:13: --interval: invalid duration \"5\" (e.g. 30s, 1m30s)"},
  {"healthcheck negative", "FROM a\nHEALTHCHECK --timeout=-1s CMD x\n", "Dockerfile:2:13: --timeout cannot be negative (-1s)"},
  {"healthcheck too short", "FROM a\nHEALTHCHECK --interval=10us CMD x\n", "Dockerfile:2:13: --interval cannot be less than 1ms (10us)"},
  {"healthcheck negative retries", "FROM a\nHEALTHCHECK --retries=-2 CMD x\n", "Dockerfile:2:13: --retries cannot be negative (-2)"},
  {"healthcheck bad retries", "FROM a\nHEALTHCHECK --retries=x CMD x\n", "Dockerfile:2:13: --retries: invalid number \"x\""},
  {"healthcheck unknown flag", "FROM a\nHEALTHCHECK --every=1s CMD x\n", "Dockerfile:2:13: unknown flag: --every (HEALTHCHECK takes --interval, --retries, --start-interval, --start-period, --timeout)"},
  {"shell not json", "FROM a\nSHELL /bin/bash -c\n", "Dockerfile:2:1: SHELL requires the arguments to be in JSON form (SHELL [\"executable\", \"parameters\"])"},
  {"shell empty", "FROM a\nSHELL []\n", "Dockerfile:2:1: SHELL requires at least one argument"},
  {"heredoc unterminated", "FROM a\nRUN <<EOF\necho hi\n", "Dockerfile:2:5: unterminated heredoc EOF (no line \"EOF\")"},
  {"heredoc second unterminated", "FROM a\nRUN cat <<A <<B\na\nA\nb\n", "Dockerfile:2:13: unterminated heredoc B (no line \"B\")"},
  {"heredoc indented terminator without dash", "FROM a\nRUN <<EOF\nx\n  EOF\n", "Dockerfile:2:5: unterminated heredoc EOF (no line \"EOF\")"},
  {"heredoc empty quoted name", "FROM a\nRUN <<\"\"\nx\n", "Dockerfile:2:5: empty heredoc delimiter"},
  {"bad escape directive", "# escape=x\nFROM a\n", "Dockerfile:1:1: invalid escape token 'x' does not match ` or \\"},
  {"duplicate escape directive", "# escape=`\n# escape=\\\nFROM a\n", "Dockerfile:2:1: only one escape parser directive can be used"},
  {"duplicate syntax directive", "# syntax=a\n# syntax=b\nFROM a\n", "Dockerfile:2:1: only one syntax parser directive can be used"},
  {"bad check directive", "# check=skip\nFROM a\n", "Dockerfile:1:1: invalid check directive \"skip\": want skip=RULE,... or error=BOOL"},
  {"bad check error value", "# check=error=maybe\nFROM a\n", "Dockerfile:1:1: invalid check directive: error must be true or false, not \"maybe\""},
  {"bad check key", "# check=warn=all\nFROM a\n", "Dockerfile:1:1: invalid check directive: unknown key \"warn\""},
  {"error on continued line has its own line", "FROM a\nRUN x \\\n  --y\nCOPY --bad \\\n  a b\n", "Dockerfile:4:6: unknown flag: --bad (COPY takes --chmod, --chown, --exclude, --from, --link, --parents)"},
  {"flag on continuation line", "FROM a\nCOPY \\\n   --nope=1 a b\n", "Dockerfile:3:4: unknown flag: --nope (COPY takes --chmod, --chown, --exclude, --from, --link, --parents)"},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Corpus, ParseInvalid, ::testing::ValuesIn(kInvalid),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string n;
                           for (const char* p = info.param.name; *p; ++p) {
                             n += isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
                           }
                           return n;
                         });

TEST(Parse, DirectivesRecorded) {
  Dockerfile df = ParseDockerfile(
      "# syntax=docker/dockerfile:1.7\n# escape=`\n# check=skip=UndefinedVar,JSONArgs;error=true\n"
      "FROM a\n");
  EXPECT_EQ(df.directives.syntax, "docker/dockerfile:1.7");
  EXPECT_EQ(df.directives.escape, '`');
  EXPECT_TRUE(df.directives.check.error);
  EXPECT_EQ(df.directives.check.skip, (std::set<std::string>{"UndefinedVar", "JSONArgs"}));
}

TEST(Parse, StagesAndGlobalArgs) {
  Dockerfile df = ParseDockerfile("ARG A\nFROM a AS one\nRUN x\nFROM one\nCOPY a b\nRUN y\n");
  ASSERT_EQ(df.global_args.size(), 1u);
  ASSERT_EQ(df.stages.size(), 2u);
  EXPECT_EQ(df.stages[0].name, "one");
  EXPECT_EQ(df.stages[0].commands.size(), 1u);
  EXPECT_EQ(df.stages[1].index, 1);
  EXPECT_EQ(df.stages[1].name, "");
  EXPECT_EQ(df.stages[1].commands.size(), 2u);
  EXPECT_EQ(df.stages[1].from.image, "one");
}

TEST(Parse, MountDetails) {
  Dockerfile df = ParseDockerfile(
      "FROM a\nRUN --mount=type=cache,target=/c,id=x,sharing=private,mode=0750,uid=1000,gid=100 "
      "--mount=type=bind,from=b,src=/s,dst=/d,rw "
      "--mount=type=tmpfs,target=/t,size=2g "
      "--mount=type=secret,target=/etc/token,required=true,mode=0400 "
      "--mount=type=ssh "
      "--mount=\"type=bind,target=/q,source=a\" make\n");
  const auto& m = df.stages[0].commands[0].mounts;
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(m[0].type, MountType::kCache);
  EXPECT_EQ(m[0].id, "x");
  EXPECT_EQ(m[0].sharing, Sharing::kPrivate);
  EXPECT_EQ(m[0].mode, 0750u);
  EXPECT_EQ(m[0].uid, 1000u);
  EXPECT_EQ(m[0].gid, 100u);
  EXPECT_FALSE(m[0].readonly);
  EXPECT_EQ(m[1].type, MountType::kBind);
  EXPECT_EQ(m[1].from, "b");
  EXPECT_EQ(m[1].source, "/s");
  EXPECT_EQ(m[1].target, "/d");
  EXPECT_FALSE(m[1].readonly);
  EXPECT_EQ(m[2].size, 2ULL << 30);
  EXPECT_EQ(m[3].type, MountType::kSecret);
  EXPECT_EQ(m[3].id, "token");  // the target's base name
  EXPECT_TRUE(m[3].required);
  EXPECT_EQ(m[4].type, MountType::kSsh);
  EXPECT_EQ(m[4].id, "default");
  // The flag's quotes are removed.
  EXPECT_EQ(m[5].target, "/q");
  EXPECT_EQ(m[5].source, "a");
  EXPECT_TRUE(m[5].readonly);  // bind mounts are read-only unless rw
}

TEST(Parse, CsvQuotedMountField) {
  Dockerfile df = ParseDockerfile("FROM a\nRUN --mount='type=bind,\"source=a,b\",target=/x' y\n");
  ASSERT_EQ(df.stages[0].commands[0].mounts.size(), 1u);
  // A quoted CSV field keeps its comma (the shell-like quotes around the flag go first).
  EXPECT_EQ(df.stages[0].commands[0].mounts[0].source, "a,b");
}

TEST(Parse, HealthcheckDurations) {
  Dockerfile df = ParseDockerfile(
      "FROM a\nHEALTHCHECK --interval=1m30s --timeout=500ms --start-period=1.5s "
      "--start-interval=2s --retries=5 CMD [\"true\"]\n");
  const Healthcheck& h = df.stages[0].commands[0].health;
  EXPECT_EQ(h.interval_ns, 90'000'000'000LL);
  EXPECT_EQ(h.timeout_ns, 500'000'000LL);
  EXPECT_EQ(h.start_period_ns, 1'500'000'000LL);
  EXPECT_EQ(h.start_interval_ns, 2'000'000'000LL);
  EXPECT_EQ(h.retries, 5);
  EXPECT_EQ(h.test, (std::vector<std::string>{"CMD", "true"}));
  EXPECT_TRUE(ParseDockerfile("FROM a\nHEALTHCHECK none\n").stages[0].commands[0].health.none);
}

TEST(Parse, GoDurations) {
  EXPECT_EQ(ParseGoDuration("0"), 0);
  EXPECT_EQ(ParseGoDuration("1h"), 3600'000'000'000LL);
  EXPECT_EQ(ParseGoDuration("2h45m"), 9900'000'000'000LL);
  EXPECT_EQ(ParseGoDuration("1.5h"), 5400'000'000'000LL);
  EXPECT_EQ(ParseGoDuration("300ms"), 300'000'000LL);
  EXPECT_EQ(ParseGoDuration("-1s"), -1'000'000'000LL);
  EXPECT_EQ(ParseGoDuration("10us"), 10'000LL);
  EXPECT_EQ(ParseGoDuration("7ns"), 7LL);
  EXPECT_FALSE(ParseGoDuration(""));
  EXPECT_FALSE(ParseGoDuration("5"));
  EXPECT_FALSE(ParseGoDuration("s"));
  EXPECT_FALSE(ParseGoDuration("1d"));
  EXPECT_EQ(ParseGoDuration("1.s"), 1'000'000'000LL);  // as Go reads it
  EXPECT_FALSE(ParseGoDuration(".s"));
}

TEST(Parse, Warnings) {
  Dockerfile df = ParseDockerfile("FROM a\nRUN a \\\n\n  b\n");
  ASSERT_EQ(df.warnings.size(), 1u);
  EXPECT_EQ(df.warnings[0].rule, "NoEmptyContinuation");
  EXPECT_EQ(df.warnings[0].pos, (Position{3, 1}));
}

TEST(Parse, FileNameInErrors) {
  try {
    ParseDockerfile("FROM a\nNOPE\n", "build/Dockerfile.dev");
    FAIL();
  } catch (const SyntaxError& e) {
    EXPECT_STREQ(e.what(), "build/Dockerfile.dev:2:1: unknown instruction: NOPE");
    EXPECT_EQ(e.position(), (Position{2, 1}));
    EXPECT_EQ(e.message(), "unknown instruction: NOPE");
  }
}

TEST(Parse, TextKeepsTheLogicalLine) {
  Dockerfile df = ParseDockerfile("FROM a\n  RUN --network=none a \\\n b\n");
  EXPECT_EQ(df.stages[0].commands[0].text, "RUN --network=none a  b");
  EXPECT_EQ(df.stages[0].commands[0].rest, "a  b");
  EXPECT_EQ(df.stages[0].commands[0].rest_pos, (Position{2, 22}));
}

TEST(ParseInstruction, SingleLine) {
  Instruction i = ParseInstruction("ENV A=1 B=2");
  EXPECT_EQ(i.command, Command::kEnv);
  ASSERT_EQ(i.pairs.size(), 2u);
  EXPECT_EQ(ParseInstruction("cmd [\"a\"]").args, std::vector<std::string>{"a"});
  // A change line may not contain a heredoc body: the marker stays a word.
  EXPECT_TRUE(ParseInstruction("RUN cat <<EOF").heredocs.empty());
  try {
    ParseInstruction("  BOGUS x");
    FAIL();
  } catch (const SyntaxError& e) {
    EXPECT_STREQ(e.what(), "change:1:3: unknown instruction: BOGUS");
  }
}

}  // namespace
}  // namespace berth::build

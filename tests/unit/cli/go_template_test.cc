#include "cli/go_template.h"

#include <gtest/gtest.h>

#include "base/error.h"

// Expected strings are what Go's text/template (Go 1.22) prints for the same template executed
// against the same document decoded by json.Unmarshal into map[string]interface{}, plus docker's
// template functions (docker/cli templates/templates.go), as `docker inspect -f` does.
namespace berth::cli {
namespace {

const nlohmann::json kDoc = nlohmann::json::parse(R"({
  "Id": "abc", "Name": "/web", "Count": 3, "Zero": 0, "Ratio": 1.5, "Big": 1000000.0,
  "Empty": "", "Null": null, "On": true, "Off": false,
  "List": ["a", "b", "c"], "NoItems": [], "Map": {"z": 1, "a": "x"}, "NoMap": {},
  "State": {"Status": "running", "Pid": 42},
  "Html": "<a&b>"
})");

std::string Render(std::string_view text, const nlohmann::json& dot = kDoc,
                   ExecuteOptions options = {}) {
  return Template::Parse(text).Execute(dot, options);
}

std::string ParseError(std::string_view text) {
  try {
    Template::Parse(text);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
    return e.what();
  }
  return "no error";
}

std::string ExecError(std::string_view text, ExecuteOptions options = {}) {
  try {
    Render(text, kDoc, options);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
    return e.what();
  }
  return "no error";
}

TEST(GoTemplateTest, TextFieldsAndValues) {
  EXPECT_EQ(Render("plain"), "plain");
  EXPECT_EQ(Render("{{.Id}} {{.State.Status}} {{.State.Pid}}"), "abc running 42");
  EXPECT_EQ(Render("{{.Count}} {{.Ratio}} {{.Big}} {{.On}} {{.Off}}"), "3 1.5 1e+06 true false");
  EXPECT_EQ(Render("{{.List}}"), "[a b c]");
  EXPECT_EQ(Render("{{.Map}}"), "map[a:x z:1]");
  EXPECT_EQ(Render("{{.}}", nlohmann::json("s")), "s");
  // A missing key and a JSON null both print "<no value>" at the top of an action, and <nil>
  // when passed to a function (validateType gives a nil interface).
  EXPECT_EQ(Render("{{.Missing}}|{{.Null}}|{{print .Missing}}|{{print .Null}}"),
            "<no value>|<no value>|<nil>|<nil>");
  EXPECT_EQ(Render("{{.Missing.Deeper}}"), "<no value>");
  EXPECT_EQ(Render("{{1}} {{1.5}} {{1e3}} {{0x10}} {{'a'}} {{\"q\\n\"}} {{`raw`}} {{true}}"),
            "1 1.5 1000 16 97 q\n raw true");
  EXPECT_EQ(Render("{{/* a comment */}}x{{- /* trimmed */ -}}  y"), "xy");
}

TEST(GoTemplateTest, TrimMarkers) {
  EXPECT_EQ(Render("a  \n {{- .Id -}} \n  b"), "aabcb");
  EXPECT_EQ(Render("a {{-3}}"), "a -3");  // "{{-3" is a number, not a trim marker
}

TEST(GoTemplateTest, VariablesRangeIfWith) {
  EXPECT_EQ(Render("{{$x := .State}}{{$x.Status}}"), "running");
  EXPECT_EQ(Render("{{$x := 1}}{{$x = 2}}{{$x}}"), "2");
  EXPECT_EQ(Render("{{range $i, $e := .List}}{{$i}}={{$e}};{{end}}"), "0=a;1=b;2=c;");
  EXPECT_EQ(Render("{{range .List}}{{.}}{{$.Id}}{{end}}"), "aabcbabccabc");
  EXPECT_EQ(Render("{{range $k, $v := .Map}}{{$k}}:{{$v}} {{end}}"), "a:x z:1 ");
  EXPECT_EQ(Render("{{range .NoItems}}x{{else}}none{{end}}"), "none");
  EXPECT_EQ(Render("{{range .Missing}}x{{else}}none{{end}}"), "none");
  EXPECT_EQ(Render("{{range .List}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}"), "a");
  EXPECT_EQ(Render("{{range .List}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}"), "ac");
  EXPECT_EQ(Render("{{range 3}}{{.}}{{end}}"), "012");
  EXPECT_EQ(Render("{{if .Zero}}a{{else if .Empty}}b{{else if .List}}c{{else}}d{{end}}"), "c");
  for (const char* falsy : {".Off", ".Zero", ".Empty", ".Null", ".NoItems", ".NoMap", ".Missing"}) {
    EXPECT_EQ(Render(std::string("{{if ") + falsy + "}}t{{else}}f{{end}}"), "f") << falsy;
  }
  EXPECT_EQ(Render("{{with .State}}{{.Status}}{{end}}{{with .Empty}}x{{else}}y{{end}}"),
            "runningy");
}

TEST(GoTemplateTest, PipelinesAndBuiltins) {
  // The previous command's value is the last argument of the next.
  EXPECT_EQ(Render("{{.Id | printf \"%s-%d\" 7 | printf \"<%s>\"}}"),
            "<%!s(int=7)-%!d(string=abc)>");
  EXPECT_EQ(Render("{{printf \"%s-%d-%v-%q-%t-%x-%.2f-%5s|%-4d|\" .Id .Count .List .Id .On 255 "
                   ".Ratio \"r\" 7}}"),
            "abc-3-[a b c]-\"abc\"-true-ff-1.50-    r|7   |");
  EXPECT_EQ(Render("{{len .List}} {{len .Map}} {{len .Id}} {{index .List 1}} {{index .Map \"a\"}}"),
            "3 2 3 b x");
  EXPECT_EQ(Render("{{slice .List 1}} {{slice .Id 0 2}}"), "[b c] ab");
  EXPECT_EQ(Render("{{and 1 0 2}} {{or 0 \"\" \"x\"}} {{not .On}} {{and .On .Count}}"),
            "0 x false 3");
  EXPECT_EQ(Render("{{eq .Count 3}} {{eq .Id \"x\" \"abc\"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} "
                   "{{gt \"b\" \"a\"}} {{ge 1 2}}"),
            "true true true true true true false");
  EXPECT_EQ(Render("{{print 1 2 \"a\" \"b\" 3}}|{{println 1 \"a\"}}|"), "1 2ab3|1 a\n|");
  EXPECT_EQ(Render("{{(index .List 0)}}{{(.State).Status}}"), "arunning");
}

TEST(GoTemplateTest, DockerFunctions) {
  // json: encoding/json with SetEscapeHTML(false), sorted keys, no trailing newline.
  EXPECT_EQ(Render("{{json .State}} {{json .Html}} {{json .List}} {{json .Big}} {{json .Null}}"),
            R"({"Pid":42,"Status":"running"} "<a&b>" ["a","b","c"] 1000000 null)");
  EXPECT_EQ(Render("{{join .List \", \"}}"), "a, b, c");
  EXPECT_EQ(Render("{{split \"a:b:c\" \":\"}} {{index (split \"a:b\" \":\") 1}}"), "[a b c] b");
  EXPECT_EQ(Render("{{upper .Id}} {{lower \"ABC\"}} {{title \"hello wide world\"}}"),
            "ABC abc Hello Wide World");
  EXPECT_EQ(Render("{{truncate .Id 2}}|{{truncate .Id 10}}|{{pad .Id 1 2}}|{{pad \"\" 1 2}}|"),
            "ab|abc| abc  ||");
}

TEST(GoTemplateTest, ParseErrorsMatchGo) {
  EXPECT_EQ(ParseError("{{.Id"), "template: :1: unclosed action");
  EXPECT_EQ(ParseError("{{ } }}"), "template: :1: unexpected \"}\" in command");
  EXPECT_EQ(ParseError("{{print 1 } }}"), "template: :1: unexpected \"}\" in operand");
  EXPECT_EQ(ParseError("{{foo .Id}}"), "template: :1: function \"foo\" not defined");
  EXPECT_EQ(ParseError("a\n{{end}}"), "template: :2: unexpected {{end}}");
  EXPECT_EQ(ParseError("{{else}}"), "template: :1: unexpected {{else}}");
  EXPECT_EQ(ParseError("{{if .On}}x"), "template: :1: unexpected EOF");
  EXPECT_EQ(ParseError("{{range}}{{end}}"), "template: :1: missing value for range");
  EXPECT_EQ(ParseError("{{$x}}"), "template: :1: undefined variable \"$x\"");
  EXPECT_EQ(ParseError("{{\"abc}}"), "template: :1: unterminated quoted string");
  EXPECT_EQ(ParseError("{{/* x"), "template: :1: unclosed comment");
  EXPECT_EQ(ParseError("{{break}}"), "template: :1: {{break}} outside {{range}}");
  EXPECT_EQ(ParseError("{{.Id | 1}}"), "template: :1: non executable command in pipeline stage 2");
  EXPECT_EQ(ParseError("{{(.Id}}"), "template: :1: unclosed left paren");
  std::string deep;
  for (int i = 0; i < 150; ++i) {
    deep += "{{if 1}}";
  }
  EXPECT_EQ(ParseError(deep), "template: :1: max expression depth exceeded");
}

TEST(GoTemplateTest, ExecErrorsMatchGo) {
  EXPECT_EQ(ExecError("{{.Id.Foo}}"),
            "template: :1:5: executing \"\" at <.Id.Foo>: can't evaluate field Foo in type "
            "interface {}");
  EXPECT_EQ(ExecError("{{.Null.Foo}}"),
            "template: :1:7: executing \"\" at <.Null.Foo>: nil pointer evaluating interface "
            "{}.Foo");
  EXPECT_EQ(ExecError("{{len 3}}"),
            "template: :1:2: executing \"\" at <len 3>: error calling len: len of type int");
  EXPECT_EQ(ExecError("{{index .List 5}}"),
            "template: :1:2: executing \"\" at <index .List 5>: error calling index: index out "
            "of range: 5");
  EXPECT_EQ(ExecError("{{range .Id}}{{end}}"),
            "template: :1:8: executing \"\" at <.Id>: range can't iterate over abc");
  EXPECT_EQ(ExecError("{{nil}}"), "template: :1:2: executing \"\" at <nil>: nil is not a command");
  ExecuteOptions strict;
  strict.missing_key = MissingKey::kError;
  EXPECT_EQ(ExecError("{{.Nope}}", strict),
            "template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\"");
  EXPECT_EQ(Render("{{.Null}}", kDoc, strict), "<no value>");
}

TEST(GoTemplateTest, RefusesRunawayOutputAndWork) {
  EXPECT_THROW(Render("{{range 100000}}{{range 1000}}x{{end}}{{end}}"), Error);
  EXPECT_THROW(Render("{{range 100000}}{{range 100000}}{{end}}{{end}}"), Error);
  EXPECT_THROW(Render("{{pad \"x\" 100000000 0}}"), Error);
}

TEST(GoTemplateTest, FieldNames) {
  EXPECT_EQ(Template::Parse("{{.ID}}\t{{.Names}}{{if .Status}}{{.ID}}{{$.X}}{{end}}").FieldNames(),
            (std::vector<std::string>{"ID", "Names", "Status"}));
}

}  // namespace
}  // namespace berth::cli

#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

// The subset of Go's text/template that docker users write in `--format` and `inspect -f`,
// evaluated over a JSON value. docs/cli-format.md lists what is supported and where the
// behaviour deliberately differs from Go's.
namespace berth::cli {

// Go's Option("missingkey=..."): what a missing object key evaluates to.
enum class MissingKey {
  kNoValue,  // Go's default: an invalid value, printed as "<no value>"
  kError,    // "map has no entry for key "X"" — what `docker inspect -f` uses on raw JSON
};

struct ExecuteOptions {
  MissingKey missing_key = MissingKey::kNoValue;
  // Docker's HeaderFunctions: json, join, split, upper, lower, title, pad and truncate return
  // their first argument unchanged (used to render a table's header row).
  bool header_functions = false;
};

class Template {
 public:
  // Throws berth::Error kInvalidArgument with Go's message: "template: :1: unclosed action".
  // Nesting deeper than 100 levels is refused the same way.
  static Template Parse(std::string_view text);

  // Throws berth::Error kInvalidArgument with Go's message:
  // "template: :1:6: executing "" at <.Foo.Bar>: can't evaluate field Bar in type string".
  // Output over 16 MiB, or more than 10 million evaluation steps, is refused the same way.
  std::string Execute(const nlohmann::json& dot, const ExecuteOptions& options = {}) const;
  // Like Execute, but on an error returns what was written before it (as Go's Execute leaves it
  // in the writer).
  std::string ExecutePartial(const nlohmann::json& dot, const ExecuteOptions& options = {}) const;

  // The names of the fields the template reads from dot ("{{.Names}}" -> "Names"), first use
  // first, each once. Fields reached through $, variables or (pipelines) are not included.
  std::vector<std::string> FieldNames() const;

  struct Tree;

 private:
  explicit Template(std::shared_ptr<const Tree> tree) : tree_(std::move(tree)) {}
  std::shared_ptr<const Tree> tree_;
};

}  // namespace berth::cli

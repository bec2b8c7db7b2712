// `--format` and `inspect -f` text comes from users: parse and execute it against a fixed
// document. Anything may be refused with berth::Error, but nothing may crash, hang or grow
// without bound (the template refuses deep nesting, long runs and huge output itself).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/error.h"
#include "cli/go_template.h"

namespace {

const nlohmann::json& Doc() {
  static const nlohmann::json kDoc = nlohmann::json::parse(R"({
    "Id": "abc", "Count": 3, "Ratio": 1.5, "Null": null, "On": true, "Empty": "",
    "List": ["a", "b", "c"], "Map": {"z": 1, "a": "x"}, "State": {"Status": "up", "Pid": 42}
  })");
  return kDoc;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const berth::cli::Template tmpl = berth::cli::Template::Parse(text);
    (void)tmpl.Execute(Doc());
    berth::cli::ExecuteOptions options;
    options.missing_key = berth::cli::MissingKey::kError;
    options.header_functions = true;
    (void)tmpl.ExecutePartial(Doc(), options);
  } catch (const berth::Error&) {
  }
  return 0;
}

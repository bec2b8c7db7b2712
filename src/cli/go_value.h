#pragma once

// How Go's fmt and encoding/json print the values a template works on (JSON values decoded
// the way encoding/json decodes into interface{}), used by cli/go_template.
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace berth::cli::internal {

// fmt's %v: strings raw, null "<nil>", arrays "[a b]", objects "map[k:v]" (sorted keys),
// integers exact, floats as strconv 'g' with the shortest digits (1.5, 1e+06).
std::string GoPrint(const nlohmann::json& v);
// strconv.FormatFloat(v, 'g', -1, 64) with fmt's exponent rule (%e below 1e-4 or from 1e+06).
std::string GoFloat(double v);
// Docker's json func: json.Encoder with SetEscapeHTML(false), trailing newline trimmed.
std::string GoJson(const nlohmann::json& v);
// strconv.Quote.
std::string GoQuote(std::string_view s);
// The Go type a value has after json.Unmarshal into interface{} ("string", "float64", ...).
std::string GoTypeName(const nlohmann::json& v);
// fmt.Sprintf over JSON arguments; null arguments are Go's nil.
std::string GoSprintf(std::string_view format, const std::vector<nlohmann::json>& args);

}  // namespace berth::cli::internal

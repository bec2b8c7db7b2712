#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

// Table output the way the docker CLI renders `--format` for its list commands.
namespace berth::cli {

// Go's text/tabwriter as the docker CLI configures it: NewWriter(out, minwidth, tabwidth 1,
// padding, ' ', 0). Cells end at '\t' (or '\v'); a column is a block of consecutive lines that
// all have a cell in it; its width is max(minwidth, widest cell + padding), widths counted in
// UTF-8 code points (Go counts runes; an invalid byte counts as one). The last cell of a line
// is never padded and does not take part in alignment.
std::string TabAlign(std::string_view text, int minwidth = 10, int padding = 3);

// Renders `items` as the docker CLI's formatter does (cli/command/formatter.Context):
//  * a format starting with "table" drops that word, is trimmed, "\t" written as backslash-t
//    becomes a tab, and the output is a header row followed by one row per item, aligned with
//    TabAlign. The header is the same template executed against an object that maps each field
//    the template names to `headers[field]`, or by default to the field's name upper-cased with
//    CamelCase split into words ("CreatedSince" -> "CREATED SINCE"). Docker's json, join,
//    split, upper, lower, title, pad and truncate return their first argument unchanged there.
//  * any other format renders each item followed by a newline, without header or alignment.
// Throws berth::Error kInvalidArgument for a malformed template or an execution error.
std::string RenderList(std::string_view format, const std::vector<nlohmann::json>& items,
                       const std::map<std::string, std::string>& headers = {});

// "CreatedSince" -> "CREATED SINCE", "ID" -> "ID", "RunningFor" -> "RUNNING FOR".
std::string DefaultHeader(std::string_view field);

}  // namespace berth::cli

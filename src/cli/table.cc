#include "cli/table.h"

#include <cctype>

#include "cli/go_template.h"

namespace berth::cli {
namespace {

struct Cell {
  std::string_view text;
  size_t width;
};
using Line = std::vector<Cell>;

// utf8.RuneCount: a valid sequence is one rune, every byte of an invalid one is one rune.
size_t RuneCount(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len != 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    }
    if (ok && len > 1) {
      // Reject overlong forms, surrogates and values above U+10FFFF as Go does.
      uint32_t cp = c & (0x7F >> len);
      for (size_t k = 1; k < len; ++k) {
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      }
      static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    }
    i += ok ? len : 1;
  }
  return n;
}

class Aligner {
 public:
  Aligner(std::vector<Line> lines, bool last_has_newline, int minwidth, int padding)
      : lines_(std::move(lines)),
        last_has_newline_(last_has_newline),
        minwidth_(minwidth),
        padding_(padding) {}

  std::string Run() {
    Format(0, lines_.size());
    return std::move(out_);
  }

 private:
  // tabwriter.(*Writer).format: each recursion level fixes the width of one more column for a
  // block of lines that all have a (non-last) cell in that column.
  void Format(size_t line0, size_t line1) {
    const size_t column = widths_.size();
    for (size_t i = line0; i < line1; ++i) {
      if (column + 1 >= lines_[i].size()) {
        continue;
      }
      WriteLines(line0, i);
      line0 = i;
      size_t width = static_cast<size_t>(minwidth_);
      for (; i < line1 && column + 1 < lines_[i].size(); ++i) {
        width = std::max(width, lines_[i][column].width + static_cast<size_t>(padding_));
      }
      widths_.push_back(width);
      Format(line0, i);
      widths_.pop_back();
      line0 = i;
      // Line i (if any) has no cell in this column; Go's loop steps past it too.
    }
    WriteLines(line0, line1);
  }

  void WriteLines(size_t line0, size_t line1) {
    for (size_t i = line0; i < line1; ++i) {
      const Line& line = lines_[i];
      for (size_t j = 0; j < line.size(); ++j) {
        out_.append(line[j].text);
        if (j < widths_.size()) {
          out_.append(widths_[j] - std::min(widths_[j], line[j].width), ' ');
        }
      }
      if (i + 1 < lines_.size() || last_has_newline_) {
        out_.push_back('\n');
      }
    }
  }

  std::vector<Line> lines_;
  bool last_has_newline_;
  int minwidth_;
  int padding_;
  std::vector<size_t> widths_;
  std::string out_;
};

}  // namespace

std::string TabAlign(std::string_view text, int minwidth, int padding) {
  std::vector<Line> lines;
  bool last_has_newline = false;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find_first_of("\n\f", start);
    last_has_newline = end != std::string_view::npos;
    std::string_view line_text = text.substr(start, last_has_newline ? end - start : end);
    Line line;
    size_t cell_start = 0;
    for (size_t k = 0; k <= line_text.size(); ++k) {
      if (k == line_text.size() || line_text[k] == '\t' || line_text[k] == '\v') {
        std::string_view cell = line_text.substr(cell_start, k - cell_start);
        // An unterminated empty cell at the very end of the text is never created (Flush only
        // terminates a cell that holds bytes).
        if (k < line_text.size() || last_has_newline || !cell.empty()) {
          line.push_back({cell, RuneCount(cell)});
        }
        cell_start = k + 1;
      }
    }
    lines.push_back(std::move(line));
    start = last_has_newline ? end + 1 : text.size();
  }
  if (last_has_newline) {
    // The line after the final newline: empty, prints nothing.
    lines.emplace_back();
    last_has_newline = false;
  }
  return Aligner(std::move(lines), last_has_newline, minwidth, padding).Run();
}

std::string DefaultHeader(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    const auto c = static_cast<unsigned char>(field[i]);
    if (i > 0 && std::isupper(c)) {
      const auto prev = static_cast<unsigned char>(field[i - 1]);
      const bool next_lower =
          i + 1 < field.size() && std::islower(static_cast<unsigned char>(field[i + 1]));
      // A word starts at a capital after a lower-case letter or digit ("CreatedSince"), or at
      // the last capital of an acronym followed by lower case ("HTTPPort" -> "HTTP PORT").
      if (std::islower(prev) || std::isdigit(prev) || (std::isupper(prev) && next_lower)) {
        out.push_back(' ');
      }
    }
    out.push_back(static_cast<char>(std::toupper(c)));
  }
  return out;
}

std::string RenderList(std::string_view format, const std::vector<nlohmann::json>& items,
                       const std::map<std::string, std::string>& headers) {
  const bool table = format.substr(0, 5) == "table";
  std::string text(table ? format.substr(5) : format);
  // strings.TrimSpace, then the escaped tab users type in shells becomes a real one.
  const size_t first = text.find_first_not_of(" \t\n\r\v\f");
  text = first == std::string::npos
             ? std::string()
             : text.substr(first, text.find_last_not_of(" \t\n\r\v\f") - first + 1);
  std::string unescaped;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == 't') {
      unescaped.push_back('\t');
      ++i;
    } else {
      unescaped.push_back(text[i]);
    }
  }
  text = std::move(unescaped);
  const Template tmpl = Template::Parse(text);
  std::string rows;
  for (const nlohmann::json& item : items) {
    rows += tmpl.Execute(item);
    rows.push_back('\n');
  }
  if (!table) {
    return rows;
  }
  nlohmann::json header_dot = nlohmann::json::object();
  for (const std::string& field : tmpl.FieldNames()) {
    const auto it = headers.find(field);
    header_dot[field] = it != headers.end() ? it->second : DefaultHeader(field);
  }
  ExecuteOptions options;
  options.header_functions = true;
  // Docker ignores an error while rendering the header and prints what was written so far.
  std::string header = tmpl.ExecutePartial(header_dot, options);
  return TabAlign(header + "\n" + rows);
}

}  // namespace berth::cli

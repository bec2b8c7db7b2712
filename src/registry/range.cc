#include "registry/range.h"

namespace berth::registry {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Decimal digits only, no sign, no overflow.
std::optional<uint64_t> ParseNumber(std::string_view s) {
  s = Trim(s);
  if (s.empty() || s.size() > 19) {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// "A-B" -> range; "A-" and "-N" when `open` allows them (as nullopt ends).
bool SplitDash(std::string_view s, std::optional<uint64_t>* a, std::optional<uint64_t>* b) {
  size_t dash = s.find('-');
  if (dash == std::string_view::npos) {
    return false;
  }
  std::string_view left = Trim(s.substr(0, dash)), right = Trim(s.substr(dash + 1));
  if (!left.empty()) {
    *a = ParseNumber(left);
    if (!*a) {
      return false;
    }
  }
  if (!right.empty()) {
    *b = ParseNumber(right);
    if (!*b) {
      return false;
    }
  }
  return !left.empty() || !right.empty();
}

}  // namespace

RangeKind ParseRange(std::string_view header, uint64_t size, ByteRange* out) {
  header = Trim(header);
  constexpr std::string_view kBytes = "bytes=";
  if (header.substr(0, kBytes.size()) != kBytes) {
    return RangeKind::kWhole;
  }
  std::string_view spec = header.substr(kBytes.size());
  if (spec.find(',') != std::string_view::npos) {
    return RangeKind::kWhole;
  }
  std::optional<uint64_t> a, b;
  if (!SplitDash(spec, &a, &b)) {
    return RangeKind::kWhole;  // malformed: ignored, as the RFC says
  }
  if (!a) {  // suffix: the last N bytes
    if (*b == 0 || size == 0) {
      return RangeKind::kUnsatisfiable;
    }
    out->first = *b >= size ? 0 : size - *b;
    out->last = size - 1;
    return RangeKind::kPartial;
  }
  if (b && *b < *a) {
    return RangeKind::kWhole;
  }
  if (*a >= size) {
    return RangeKind::kUnsatisfiable;
  }
  out->first = *a;
  out->last = b && *b < size ? *b : size - 1;
  return RangeKind::kPartial;
}

std::optional<ByteRange> ParseContentRange(std::string_view header) {
  header = Trim(header);
  if (header.substr(0, 6) == "bytes=") {
    header.remove_prefix(6);
  } else if (header.substr(0, 6) == "bytes ") {
    header.remove_prefix(6);
  }
  size_t slash = header.find('/');
  if (slash != std::string_view::npos) {
    std::string_view total = Trim(header.substr(slash + 1));
    if (total != "*" && !ParseNumber(total)) {
      return std::nullopt;
    }
    header = header.substr(0, slash);
  }
  std::optional<uint64_t> a, b;
  if (!SplitDash(header, &a, &b) || !a || !b || *b < *a) {
    return std::nullopt;
  }
  return ByteRange{*a, *b};
}

ChunkCheck CheckChunk(const std::optional<ByteRange>& range, std::optional<uint64_t> content_length,
                      uint64_t offset) {
  if (!range) {
    return ChunkCheck::kOk;  // a streamed chunk: appended wherever the upload stands
  }
  if (range->first != offset) {
    return ChunkCheck::kOutOfOrder;
  }
  if (content_length && *content_length != range->length()) {
    return ChunkCheck::kLengthMismatch;
  }
  return ChunkCheck::kOk;
}

std::string UploadRange(uint64_t offset) {
  return "0-" + std::to_string(offset == 0 ? 0 : offset - 1);
}

}  // namespace berth::registry

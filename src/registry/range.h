#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// Byte ranges both ways: a client's Range on a blob GET, and the Content-Range of a chunked
// upload's PATCH (which must continue exactly where the upload stands).

namespace berth::registry {

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
  uint64_t length() const { return last - first + 1; }
};

enum class RangeKind {
  kWhole,          // no Range header, or one the server may ignore (not "bytes=", several ranges)
  kPartial,        // one satisfiable range: 206 with Content-Range
  kUnsatisfiable,  // 416 with "Content-Range: bytes */SIZE"
};

// Range: "bytes=A-B", "bytes=A-" or "bytes=-N" against a blob of `size` bytes (RFC 9110).
// Multiple ranges are answered whole, as the RFC allows.
RangeKind ParseRange(std::string_view header, uint64_t size, ByteRange* out);

// Content-Range of an upload PATCH: "A-B" (the distribution spec's form), "bytes A-B/*",
// "bytes A-B/TOTAL" or "bytes=A-B". nullopt when malformed or B < A.
std::optional<ByteRange> ParseContentRange(std::string_view header);

// What a PATCH chunk means for an upload at `offset` bytes.
enum class ChunkCheck {
  kOk,
  kOutOfOrder,      // does not start at `offset`: 416
  kLengthMismatch,  // Content-Range length and Content-Length disagree: 400 SIZE_INVALID
};
ChunkCheck CheckChunk(const std::optional<ByteRange>& range, std::optional<uint64_t> content_length,
                      uint64_t offset);

// The Range header of an upload's status: "0-<offset-1>", and "0-0" for an empty upload (the
// form docker and distribution use).
std::string UploadRange(uint64_t offset);

}  // namespace berth::registry

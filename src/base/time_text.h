#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// Times as Docker writes and humanises them, for the daemon's views and the CLI alike.
namespace berth {

// go-units HumanDuration of a duration in nanoseconds (Go's time.Duration): "Less than a second",
// "About a minute", "2 minutes", "About an hour", "3 hours", "2 days", "3 weeks", "4 months",
// "2 years". What `docker ps` shows after "Up " and before " ago".
std::string HumanDuration(int64_t nanoseconds);

// A date and time the RFC 3339 way, which may stop short as moby's GetTimestamp (the CLI's
// --since and --until) allows: "YYYY-MM-DD", then optionally "THH", ":MM", ":SS" and, after the
// seconds only, ".fraction" (any number of digits, the first nine kept, as Go's time.Parse),
// then optionally "Z" or "±HH:MM". 'T' and 'Z' may be lower case.
struct Rfc3339Time {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int64_t nanos = 0;
  int time_fields = 0;        // how many of hour, minute and second the text has (0 to 3)
  std::optional<int> offset;  // seconds east of UTC; nullopt when the text names no zone
  // Unix seconds: in the zone written, else in local time (Go's ParseInLocation(time.Local)).
  int64_t UnixSeconds() const;
};
// nullopt if `text` is not such a time or a field is out of Go's range (month 13, 30 February,
// hour 24, offset hour 25); second 60 is let through, as RFC 3339's leap second.
std::optional<Rfc3339Time> ParseRfc3339Fields(std::string_view text);

// Full RFC 3339 with optional fractional seconds ("2026-11-28T16:40:54.246968785Z",
// "…+02:00") to unix nanoseconds; nullopt if not. Docker's zero time
// ("0001-01-01T00:00:00Z") gives nullopt too: callers treat it as "never".
std::optional<int64_t> ParseRfc3339Nano(std::string_view text);

}  // namespace berth

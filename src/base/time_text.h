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

// RFC 3339 with optional fractional seconds ("2026-11-28T16:40:54.246968785Z", "…+02:00") to
// unix nanoseconds; nullopt if not. Docker's zero time ("0001-01-01T00:00:00Z") gives nullopt
// too: callers treat it as "never".
std::optional<int64_t> ParseRfc3339Nano(std::string_view text);

}  // namespace berth

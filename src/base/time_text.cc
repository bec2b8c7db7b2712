#include "base/time_text.h"

#include <cstdio>
#include <ctime>

namespace berth {

std::string HumanDuration(int64_t d) {
  constexpr int64_t kSecond = 1'000'000'000;
  constexpr int64_t kMinute = 60 * kSecond;
  constexpr int64_t kHour = 60 * kMinute;
  const int64_t seconds = d / kSecond;
  if (seconds < 1) {
    return "Less than a second";
  }
  if (seconds == 1) {
    return "1 second";
  }
  if (seconds < 60) {
    return std::to_string(seconds) + " seconds";
  }
  const int64_t minutes = d / kMinute;
  if (minutes == 1) {
    return "About a minute";
  }
  if (minutes < 60) {
    return std::to_string(minutes) + " minutes";
  }
  // d.Round(time.Hour).Hours(): halfway rounds up (d is positive here).
  const int64_t rem = d % kHour;
  const int64_t hours = (d - rem) / kHour + (rem + rem >= kHour ? 1 : 0);
  if (hours == 1) {
    return "About an hour";
  }
  if (hours < 48) {
    return std::to_string(hours) + " hours";
  }
  if (hours < 24 * 7 * 2) {
    return std::to_string(hours / 24) + " days";
  }
  if (hours < 24 * 30 * 2) {
    return std::to_string(hours / 24 / 7) + " weeks";
  }
  if (hours < 24 * 365 * 2) {
    return std::to_string(hours / 24 / 30) + " months";
  }
  return std::to_string(d / kHour / 24 / 365) + " years";
}

std::optional<int64_t> ParseRfc3339Nano(std::string_view text) {
  // "YYYY-MM-DDTHH:MM:SS" is 19 characters, then [.fraction] and Z or ±HH:MM.
  const std::string s(text);
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0, used = 0;
  if (s.size() < 20 ||
      std::sscanf(s.c_str(), "%4d-%2d-%2d%*1[Tt]%2d:%2d:%2d%n", &year, &mon, &day, &hour, &min,
                  &sec, &used) != 6 ||
      used != 19) {
    return std::nullopt;
  }
  size_t i = 19;
  int64_t nanos = 0;
  if (s[i] == '.') {
    int64_t scale = 100'000'000;
    size_t digits = 0;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) {
      nanos += (s[i] - '0') * scale;
      scale /= 10;
    }
    if (digits == 0 || digits > 9) {
      return std::nullopt;
    }
  }
  int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) {
      return std::nullopt;
    }
    offset = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size() || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 ||
      sec > 60 || year < 1) {
    return std::nullopt;
  }
  if (year == 1 && mon == 1 && day == 1 && hour == 0 && min == 0 && sec == 0 && nanos == 0) {
    return std::nullopt;  // Go's zero time
  }
  struct tm tm = {};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const int64_t seconds = static_cast<int64_t>(timegm(&tm)) - offset;
  return seconds * 1'000'000'000 + nanos;
}

}  // namespace berth

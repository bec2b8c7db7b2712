#include "base/time_text.h"

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

namespace {

// Exactly `n` digits at the front of `s`, consumed; nullopt (nothing consumed) if not.
std::optional<int> TakeDigits(std::string_view& s, size_t n) {
  if (s.size() < n) {
    return std::nullopt;
  }
  int value = 0;
  for (size_t i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return std::nullopt;
    }
    value = value * 10 + (s[i] - '0');
  }
  s.remove_prefix(n);
  return value;
}

// `s` starts with `c`, consumed.
bool Take(std::string_view& s, char c) {
  if (s.empty() || s[0] != c) {
    return false;
  }
  s.remove_prefix(1);
  return true;
}

int DaysIn(int month, int year) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

int64_t Rfc3339Time::UnixSeconds() const {
  struct tm tm = {};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  if (!offset) {
    tm.tm_isdst = -1;
    return static_cast<int64_t>(mktime(&tm));
  }
  return static_cast<int64_t>(timegm(&tm)) - *offset;
}

std::optional<Rfc3339Time> ParseRfc3339Fields(std::string_view s) {
  Rfc3339Time t;
  std::optional<int> year = TakeDigits(s, 4), month, day;
  if (!year || !Take(s, '-') || !(month = TakeDigits(s, 2)) || !Take(s, '-') ||
      !(day = TakeDigits(s, 2))) {
    return std::nullopt;
  }
  t.year = *year;
  t.month = *month;
  t.day = *day;
  if (Take(s, 'T') || Take(s, 't')) {
    int* fields[] = {&t.hour, &t.minute, &t.second};
    for (int* field : fields) {
      if (t.time_fields > 0 && !Take(s, ':')) {
        break;
      }
      const std::optional<int> v = TakeDigits(s, 2);
      if (!v) {
        return std::nullopt;
      }
      *field = *v;
      ++t.time_fields;
    }
    if (t.time_fields == 3 && Take(s, '.')) {
      int64_t scale = 100'000'000;
      size_t n = 0;
      for (; n < s.size() && s[n] >= '0' && s[n] <= '9'; ++n) {
        t.nanos += (s[n] - '0') * scale;
        scale /= 10;
      }
      if (n == 0) {
        return std::nullopt;
      }
      s.remove_prefix(n);
    }
  }
  if (Take(s, 'Z') || Take(s, 'z')) {
    t.offset = 0;
  } else if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    const int sign = s[0] == '+' ? 1 : -1;
    s.remove_prefix(1);
    std::optional<int> oh = TakeDigits(s, 2), om;
    if (!oh || !Take(s, ':') || !(om = TakeDigits(s, 2)) || *oh > 24 || *om > 60) {
      return std::nullopt;
    }
    t.offset = sign * (*oh * 3600 + *om * 60);
  }
  if (!s.empty() || t.month < 1 || t.month > 12 || t.day < 1 || t.day > DaysIn(t.month, t.year) ||
      t.hour > 23 || t.minute > 59 || t.second > 60) {
    return std::nullopt;
  }
  return t;
}

std::optional<int64_t> ParseRfc3339Nano(std::string_view text) {
  const std::optional<Rfc3339Time> t = ParseRfc3339Fields(text);
  if (!t || t->time_fields != 3 || !t->offset) {
    return std::nullopt;
  }
  if (t->year == 1 && t->month == 1 && t->day == 1 && t->hour == 0 && t->minute == 0 &&
      t->second == 0 && t->nanos == 0) {
    return std::nullopt;  // Go's zero time
  }
  return t->UnixSeconds() * 1'000'000'000 + t->nanos;
}

}  // namespace berth

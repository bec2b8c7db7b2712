#include "cli/units.h"

#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "base/error.h"

namespace berth::cli {
namespace {

constexpr std::array<const char*, 9> kDecimalUnits = {"B",  "kB", "MB", "GB", "TB",
                                                      "PB", "EB", "ZB", "YB"};
constexpr std::array<const char*, 9> kBinaryUnits = {"B",   "KiB", "MiB", "GiB", "TiB",
                                                     "PiB", "EiB", "ZiB", "YiB"};

// go-units getSizeAndUnit + fmt.Sprintf("%.*g%s"): C's %g and Go's %g agree for finite values
// (shortest form, trailing zeros dropped, two-digit exponent).
std::string SizeWithUnit(double size, double base, const std::array<const char*, 9>& units,
                         int precision) {
  size_t i = 0;
  while (size >= base && i < units.size() - 1) {
    size /= base;
    ++i;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g%s", precision, size, units[i]);
  return buf;
}

int64_t ParseSizeWith(std::string_view text, int64_t base) {
  const std::string str(text);
  const size_t sep = str.find_last_of("01234567890. ");
  if (sep == std::string::npos) {
    ThrowInvalid("invalid size: '" + str + "'");
  }
  std::string num = str[sep] != ' ' ? str.substr(0, sep + 1) : str.substr(0, sep);
  std::string sfx = str.substr(sep + 1);
  // strconv.ParseFloat: the whole number must parse; reject what strtod accepts but Go does
  // not (leading spaces, hex floats, inf/nan never reach here because of the digit scan).
  errno = 0;
  char* end = nullptr;
  const double parsed = num.empty() || std::isspace(static_cast<unsigned char>(num[0]))
                            ? 0
                            : std::strtod(num.c_str(), &end);
  if (end == nullptr || *end != '\0' || num.find_first_of("xXpP") != std::string::npos) {
    ThrowInvalid("strconv.ParseFloat: parsing \"" + num + "\": invalid syntax");
  }
  double size = parsed;
  if (size < 0) {
    ThrowInvalid("invalid size: '" + str + "'");
  }
  if (sfx.empty()) {
    return static_cast<int64_t>(size);
  }
  for (char& c : sfx) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  const auto bad_suffix = [&]() { ThrowInvalid("invalid suffix: '" + sfx + "'"); };
  if (sfx.size() > 3) {
    bad_suffix();
  }
  if (sfx[0] == 'b') {
    if (sfx.size() > 1) {
      bad_suffix();
    }
    return static_cast<int64_t>(size);
  }
  static constexpr std::string_view kPrefixes = "kmgtp";
  const size_t power = kPrefixes.find(sfx[0]);
  if (power == std::string_view::npos) {
    bad_suffix();
  }
  for (size_t i = 0; i <= power; ++i) {
    size *= static_cast<double>(base);
  }
  if ((sfx.size() == 2 && sfx[1] != 'b') || (sfx.size() == 3 && sfx.substr(1) != "ib")) {
    bad_suffix();
  }
  // Go's int64(float64) of an out-of-range value is implementation-defined; saturate.
  if (size >= 9.2233720368547758e18) {
    return INT64_MAX;
  }
  return static_cast<int64_t>(size);
}

}  // namespace

std::string HumanSizeWithPrecision(double size, int precision) {
  return SizeWithUnit(size, 1000.0, kDecimalUnits, precision);
}

std::string HumanSize(double size) { return HumanSizeWithPrecision(size, 4); }

std::string BytesSize(double size) { return SizeWithUnit(size, 1024.0, kBinaryUnits, 4); }

std::string TimeAgo(int64_t seconds) {
  constexpr int64_t kMaxSeconds = INT64_MAX / 1'000'000'000;
  if (seconds > kMaxSeconds) {
    seconds = kMaxSeconds;
  }
  return HumanDuration(seconds * 1'000'000'000) + " ago";
}

std::string GoTime(int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm;
  localtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z %Z", &tm);
  return buf;
}

std::string TruncateId(std::string_view id) {
  if (const size_t colon = id.find(':'); colon != std::string_view::npos) {
    id.remove_prefix(colon + 1);
  }
  return std::string(id.substr(0, 12));
}

int64_t ParseSize(std::string_view text) { return ParseSizeWith(text, 1024); }

int64_t ParseHumanSize(std::string_view text) { return ParseSizeWith(text, 1000); }

}  // namespace berth::cli

#include "cli/go_value.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>

namespace berth::cli::internal {
namespace {

// Shortest decimal digits that read back as `v` (v finite, > 0) and the decimal exponent of
// the first digit: 1234.5 -> ("12345", 3).
std::pair<std::string, int> ShortestDigits(double v) {
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
    if (std::strtod(buf, nullptr) == v || prec == 17) {
      break;
    }
  }
  std::string digits;
  const char* p = buf;
  for (; *p != 'e'; ++p) {
    if (*p != '.') {
      digits.push_back(*p);
    }
  }
  const int exp = std::atoi(p + 1);
  while (digits.size() > 1 && digits.back() == '0') {
    digits.pop_back();
  }
  return {digits, exp};
}

std::string FormatE(const std::string& digits, int exp) {
  std::string s = digits.substr(0, 1);
  if (digits.size() > 1) {
    s += "." + digits.substr(1);
  }
  char buf[16];
  std::snprintf(buf, sizeof(buf), "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
  return s + buf;
}

std::string FormatF(const std::string& digits, int exp) {
  if (exp < 0) {
    return "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  }
  const size_t int_len = static_cast<size_t>(exp) + 1;
  if (digits.size() <= int_len) {
    return digits + std::string(int_len - digits.size(), '0');
  }
  return digits.substr(0, int_len) + "." + digits.substr(int_len);
}

std::string SpecialFloat(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  return v > 0 ? "+Inf" : "-Inf";
}

struct Rune {
  uint32_t cp;
  size_t len;
};

// Go's utf8.DecodeRuneInString at s[i], a byte >= 0x80: the code point and its length, or
// nullopt where Go decodes RuneError of width 1 (a bad or cut sequence, an overlong form, a
// surrogate, beyond U+10FFFF).
std::optional<Rune> DecodeRune(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  bool ok = len != 0 && i + len <= s.size();
  uint32_t cp = ok ? c & (0x7F >> len) : 0;
  for (size_t k = 1; ok && k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    ok = (cc & 0xC0) == 0x80;
    cp = (cp << 6) | (cc & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  ok = ok && cp >= kMin[len] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
  if (!ok) {
    return std::nullopt;
  }
  return Rune{cp, len};
}

void AppendJsonString(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // A valid UTF-8 sequence is copied (U+2028/U+2029 escaped); an invalid byte is U+FFFD.
    const std::optional<Rune> r = DecodeRune(s, i);
    if (!r) {
      out += "\\ufffd";
      ++i;
    } else if (r->cp == 0x2028 || r->cp == 0x2029) {
      out += r->cp == 0x2028 ? "\\u2028" : "\\u2029";
      i += r->len;
    } else {
      out.append(s.substr(i, r->len));
      i += r->len;
    }
  }
  out.push_back('"');
}

void AppendJson(std::string& out, const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, e] : v.items()) {
        if (!first) {
          out.push_back(',');
        }
        first = false;
        AppendJsonString(out, k);
        out.push_back(':');
        AppendJson(out, e);
      }
      out.push_back('}');
      return;
    }
    case nlohmann::json::value_t::array: {
      out.push_back('[');
      for (size_t i = 0; i < v.size(); ++i) {
        if (i > 0) {
          out.push_back(',');
        }
        AppendJson(out, v[i]);
      }
      out.push_back(']');
      return;
    }
    case nlohmann::json::value_t::string:
      AppendJsonString(out, v.get_ref<const std::string&>());
      return;
    case nlohmann::json::value_t::number_float: {
      const double d = v.get<double>();
      if (!std::isfinite(d)) {
        out += "null";
        return;
      }
      if (d == 0) {
        out += std::signbit(d) ? "-0" : "0";
        return;
      }
      const double a = std::fabs(d);
      auto [digits, exp] = ShortestDigits(a);
      std::string s = (a < 1e-6 || a >= 1e21) ? FormatE(digits, exp) : FormatF(digits, exp);
      // encoding/json writes e-07 as e-7.
      const size_t e = s.find("e-0");
      if (e != std::string::npos && e + 4 == s.size()) {
        s.erase(e + 2, 1);
      }
      out += (d < 0 ? "-" : "") + s;
      return;
    }
    case nlohmann::json::value_t::discarded:
    case nlohmann::json::value_t::null:
      out += "null";
      return;
    default:
      out += v.dump();
  }
}

void AppendPrint(std::string& out, const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      out += "<nil>";
      return;
    case nlohmann::json::value_t::string:
      out += v.get_ref<const std::string&>();
      return;
    case nlohmann::json::value_t::number_float:
      out += GoFloat(v.get<double>());
      return;
    case nlohmann::json::value_t::array:
      out.push_back('[');
      for (size_t i = 0; i < v.size(); ++i) {
        if (i > 0) {
          out.push_back(' ');
        }
        AppendPrint(out, v[i]);
      }
      out.push_back(']');
      return;
    case nlohmann::json::value_t::object: {
      out += "map[";
      bool first = true;
      for (const auto& [k, e] : v.items()) {
        if (!first) {
          out.push_back(' ');
        }
        first = false;
        out += k;
        out.push_back(':');
        AppendPrint(out, e);
      }
      out.push_back(']');
      return;
    }
    default:
      out += v.dump();  // booleans and integers
  }
}

}  // namespace

std::string GoFloat(double v) {
  if (!std::isfinite(v)) {
    return SpecialFloat(v);
  }
  if (v == 0) {
    return std::signbit(v) ? "-0" : "0";
  }
  const auto [digits, exp] = ShortestDigits(std::fabs(v));
  return (v < 0 ? "-" : "") + (exp < -4 || exp >= 6 ? FormatE(digits, exp) : FormatF(digits, exp));
}

std::string GoPrint(const nlohmann::json& v) {
  std::string out;
  AppendPrint(out, v);
  return out;
}

std::string GoJson(const nlohmann::json& v) {
  std::string out;
  AppendJson(out, v);
  return out;
}

std::string GoQuote(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\a':
        out += "\\a";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\v':
        out += "\\v";
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else if (c >= 0x80) {
      // A valid sequence is copied, but for the C1 controls (\u0080..\u009f, as Go writes
      // them); each byte of an invalid one is \x escaped. Other runes Go's unicode.IsPrint
      // rejects (format characters, unassigned ones) are copied: that needs Unicode's tables.
      const std::optional<Rune> r = DecodeRune(s, i);
      if (!r) {
        out += "\\x";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      } else if (r->cp <= 0x9f) {
        out += "\\u00";
        out.push_back(kHex[r->cp >> 4]);
        out.push_back(kHex[r->cp & 15]);
        i += r->len - 1;
      } else {
        out.append(s.substr(i, r->len));
        i += r->len - 1;
      }
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

std::string GoTypeName(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object:
      return "map[string]interface {}";
    case nlohmann::json::value_t::array:
      return "[]interface {}";
    case nlohmann::json::value_t::string:
      return "string";
    case nlohmann::json::value_t::boolean:
      return "bool";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return "int";
    case nlohmann::json::value_t::number_float:
      return "float64";
    default:
      return "<nil>";
  }
}

std::string GoSprintf(std::string_view format, const std::vector<nlohmann::json>& args) {
  constexpr long kMaxWidth = 1 << 20;
  std::string out;
  size_t argi = 0;
  for (size_t i = 0; i < format.size();) {
    const char c = format[i++];
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    std::string flags;
    while (i < format.size() && std::string_view("+-# 0").find(format[i]) != std::string::npos) {
      flags.push_back(format[i++]);
    }
    auto number = [&](long& n) {
      bool any = false;
      n = 0;
      if (i < format.size() && format[i] == '*') {
        ++i;
        if (argi < args.size() && args[argi].is_number_integer()) {
          n = std::min<long>(std::labs(args[argi].get<long>()), kMaxWidth);
        }
        ++argi;
        return true;
      }
      while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
        n = std::min<long>(n * 10 + (format[i++] - '0'), kMaxWidth);
        any = true;
      }
      return any;
    };
    long width = 0;
    long prec = -1;
    const bool has_width = number(width);
    if (i < format.size() && format[i] == '.') {
      ++i;
      if (!number(prec)) {
        prec = 0;
      }
    }
    if (i >= format.size()) {
      out += "%!(NOVERB)";
      break;
    }
    const char verb = format[i++];
    if (verb == '%') {
      out.push_back('%');
      continue;
    }
    if (argi >= args.size()) {
      out += std::string("%!") + verb + "(MISSING)";
      continue;
    }
    const nlohmann::json& a = args[argi++];
    const bool left = flags.find('-') != std::string::npos;
    const bool zero = flags.find('0') != std::string::npos && !left;
    std::string s;
    bool numeric = false;
    auto bad = [&]() {
      s = std::string("%!") + verb + "(" +
          (a.is_null() ? "<nil>" : GoTypeName(a) + "=" + GoPrint(a)) + ")";
    };
    std::string cflags;
    for (char f : flags) {
      if (f != '#' || verb == 'x' || verb == 'X' || verb == 'o') {
        cflags.push_back(f);
      }
    }
    auto cfmt = [&](const char* conv, auto value) {
      std::string spec = "%" + cflags + (has_width ? std::to_string(width) : "") +
                         (prec >= 0 ? "." + std::to_string(prec) : "") + conv;
      const int n = std::snprintf(nullptr, 0, spec.c_str(), value);
      std::string r(static_cast<size_t>(std::max(n, 0)), '\0');
      std::snprintf(r.data(), r.size() + 1, spec.c_str(), value);
      return r;
    };
    const bool is_int = a.is_number_integer();
    switch (verb) {
      case 'v':
      case 's':
        if (verb == 's' && !a.is_string() && !a.is_array() && !a.is_object()) {
          bad();
          break;
        }
        s = GoPrint(a);
        if (prec >= 0 && verb == 's') {
          s = s.substr(0, static_cast<size_t>(prec));
        }
        break;
      case 'q':
        if (a.is_string()) {
          s = GoQuote(a.get_ref<const std::string&>());
        } else {
          bad();
        }
        break;
      case 't':
        if (a.is_boolean()) {
          s = a.get<bool>() ? "true" : "false";
        } else {
          bad();
        }
        break;
      case 'd':
      case 'x':
      case 'X':
      case 'o':
      case 'b':
      case 'c':
        if (is_int && verb != 'b' && verb != 'c') {
          const bool neg = a.is_number_integer() && !a.is_number_unsigned() && a.get<int64_t>() < 0;
          const char* conv = verb == 'd'   ? "llu"
                             : verb == 'x' ? "llx"
                             : verb == 'X' ? "llX"
                                           : "llo";
          unsigned long long mag =
              a.is_number_unsigned()
                  ? a.get<uint64_t>()
                  : (neg ? 0ULL - static_cast<unsigned long long>(a.get<int64_t>())
                         : static_cast<unsigned long long>(a.get<int64_t>()));
          s = cfmt(conv, mag);
          if (neg) {
            const size_t d = s.find_first_not_of(' ');
            s.insert(d == std::string::npos ? 0 : d, "-");
            if (zero && has_width && s.size() > static_cast<size_t>(width) && s[1] == '0') {
              s.erase(1, 1);
            } else if (!zero && s.size() > static_cast<size_t>(width) && s[0] == ' ') {
              s.erase(0, 1);
            }
          }
          numeric = true;
        } else if ((verb == 'x' || verb == 'X') && a.is_string()) {
          static const char kLower[] = "0123456789abcdef";
          static const char kUpper[] = "0123456789ABCDEF";
          const char* hex = verb == 'x' ? kLower : kUpper;
          for (const char ch : a.get_ref<const std::string&>()) {
            const auto u = static_cast<unsigned char>(ch);
            s.push_back(hex[u >> 4]);
            s.push_back(hex[u & 15]);
          }
        } else if (a.is_number_float() && (verb == 'x' || verb == 'X')) {
          s = cfmt(verb == 'x' ? "a" : "A", a.get<double>());
          numeric = true;
        } else {
          bad();
        }
        break;
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G':
        if (a.is_number_float() || (verb != 'g' && verb != 'G' && is_int)) {
          // Integers are accepted too: a JSON number is a float64 in Go.
          const double d = a.get<double>();
          if (!std::isfinite(d)) {
            s = SpecialFloat(d);
          } else if ((verb == 'g' || verb == 'G') && prec < 0) {
            s = GoFloat(d);
          } else {
            const char conv[2] = {verb, '\0'};
            if (prec < 0) {
              prec = 6;
            }
            s = cfmt(conv, d);
          }
          numeric = true;
        } else if (is_int) {
          s = GoFloat(a.get<double>());
        } else {
          bad();
        }
        break;
      default:
        bad();
    }
    if (!numeric && has_width && s.size() < static_cast<size_t>(width)) {
      const size_t pad = static_cast<size_t>(width) - s.size();
      s = left ? s + std::string(pad, ' ') : std::string(pad, zero ? '0' : ' ') + s;
    }
    out += s;
  }
  if (argi < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = argi; k < args.size(); ++k) {
      out +=
          (k > argi ? ", " : "") +
          (args[k].is_null() ? std::string("<nil>") : GoTypeName(args[k]) + "=" + GoPrint(args[k]));
    }
    out += ")";
  }
  return out;
}

}  // namespace berth::cli::internal

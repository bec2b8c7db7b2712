// The options of RUN --mount and HEALTHCHECK, and Go durations.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "build/dockerfile.h"
#include "build/parse_internal.h"

namespace berth::build {
namespace internal {
namespace {

std::optional<uint64_t> ParseSize(std::string_view s) {
  uint64_t mult = 1;
  if (!s.empty()) {
    switch (std::tolower(static_cast<unsigned char>(s.back()))) {
      case 'k':
        mult = 1ULL << 10;
        break;
      case 'm':
        mult = 1ULL << 20;
        break;
      case 'g':
        mult = 1ULL << 30;
        break;
      case 'b':
        mult = 1;
        break;
      default:
        mult = 0;
    }
    if (mult != 0) s.remove_suffix(1);
    if (mult == 0) mult = 1;
  }
  auto v = ParseUnsigned(s, 10);
  if (!v || *v > (UINT64_MAX / mult)) return std::nullopt;
  return *v * mult;
}

// Fields of a --mount value, split at commas; double quotes group (CSV).
std::vector<std::string> CsvFields(const std::string& value) {
  std::vector<std::string> out;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '"') {
      if (quoted && i + 1 < value.size() && value[i + 1] == '"') {
        field += '"';
        ++i;
      } else {
        quoted = !quoted;
      }
    } else if (c == ',' && !quoted) {
      out.push_back(std::move(field));
      field.clear();
    } else {
      field += c;
    }
  }
  out.push_back(std::move(field));
  return out;
}

}  // namespace

Mount ParseMount(const Context& ctx, const Flag& flag) {
  Mount m;
  m.pos = flag.pos;
  auto bad = [&](const std::string& msg) {
    Fail(ctx, flag.pos, "--mount=" + flag.value + ": " + msg);
  };
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<bool> has_value;
  for (const std::string& f : CsvFields(flag.value)) {
    if (f.empty()) continue;
    size_t eq = f.find('=');
    fields.emplace_back(Lower(f.substr(0, eq)), eq == std::string::npos ? "" : f.substr(eq + 1));
    has_value.push_back(eq != std::string::npos);
  }
  for (const auto& kv : fields) {
    if (kv.first == "type") {
      if (kv.second == "bind")
        m.type = MountType::kBind;
      else if (kv.second == "cache")
        m.type = MountType::kCache;
      else if (kv.second == "tmpfs")
        m.type = MountType::kTmpfs;
      else if (kv.second == "secret")
        m.type = MountType::kSecret;
      else if (kv.second == "ssh")
        m.type = MountType::kSsh;
      else
        bad("unsupported mount type \"" + kv.second + "\" (bind, cache, tmpfs, secret, ssh)");
    }
  }
  m.readonly = m.type == MountType::kBind;
  for (size_t k = 0; k < fields.size(); ++k) {
    const std::string& key = fields[k].first;
    const std::string& value = fields[k].second;
    bool bool_key =
        key == "readonly" || key == "ro" || key == "readwrite" || key == "rw" || key == "required";
    if (!has_value[k] && !bool_key) {
      bad("\"" + key + "\" needs a value (" + key + "=...)");
    }
    std::optional<bool> b = true;
    if (bool_key && has_value[k]) {
      b = ParseBool(value);
      if (!b) bad("invalid value \"" + value + "\" for " + key + " (true or false)");
    }
    auto only = [&](std::initializer_list<MountType> types) {
      if (std::find(types.begin(), types.end(), m.type) == types.end()) {
        bad("\"" + key + "\" is not allowed for this mount type");
      }
    };
    if (key == "type") {
    } else if (key == "target" || key == "dst" || key == "destination") {
      m.target = value;
    } else if (key == "source" || key == "src") {
      only({MountType::kBind, MountType::kCache, MountType::kTmpfs});
      m.source = value;
    } else if (key == "from") {
      only({MountType::kBind, MountType::kCache});
      m.from = value;
    } else if (key == "id") {
      only({MountType::kCache, MountType::kSecret, MountType::kSsh});
      m.id = value;
    } else if (key == "env") {
      only({MountType::kSecret});
      m.env = value;
    } else if (key == "readonly" || key == "ro") {
      m.readonly = *b;
    } else if (key == "readwrite" || key == "rw") {
      m.readonly = !*b;
    } else if (key == "required") {
      only({MountType::kSecret, MountType::kSsh});
      m.required = *b;
    } else if (key == "sharing") {
      only({MountType::kCache});
      if (value == "shared")
        m.sharing = Sharing::kShared;
      else if (value == "private")
        m.sharing = Sharing::kPrivate;
      else if (value == "locked")
        m.sharing = Sharing::kLocked;
      else
        bad("unsupported sharing value \"" + value + "\" (shared, private, locked)");
    } else if (key == "mode") {
      only({MountType::kCache, MountType::kSecret, MountType::kSsh});
      auto v = ParseUnsigned(value, 8);
      if (!v || *v > 07777) bad("invalid mode \"" + value + "\" (octal, at most 7777)");
      m.mode = static_cast<uint32_t>(*v);
    } else if (key == "uid" || key == "gid") {
      only({MountType::kCache, MountType::kSecret, MountType::kSsh});
      auto v = ParseUnsigned(value, 10);
      if (!v || *v > UINT32_MAX) bad("invalid " + key + " \"" + value + "\"");
      (key == "uid" ? m.uid : m.gid) = static_cast<uint32_t>(*v);
    } else if (key == "size") {
      only({MountType::kTmpfs});
      auto v = ParseSize(value);
      if (!v) bad("invalid size \"" + value + "\"");
      m.size = *v;
    } else {
      bad("unexpected key '" + key + "'");
    }
  }
  switch (m.type) {
    case MountType::kBind:
    case MountType::kCache:
    case MountType::kTmpfs:
      if (m.target.empty()) bad("a target is required (target=/path)");
      break;
    case MountType::kSecret:
      if (m.id.empty() && m.target.empty() && m.env.empty()) {
        bad("a secret mount needs id=, target= or env=");
      }
      if (m.id.empty() && !m.target.empty()) {
        m.id = m.target.substr(m.target.rfind('/') + 1);
      }
      if (m.target.empty() && m.env.empty()) m.target = "/run/secrets/" + m.id;
      break;
    case MountType::kSsh:
      if (m.id.empty()) m.id = "default";
      if (m.target.empty()) m.target = "/run/buildkit/ssh_agent.0";
      break;
  }
  return m;
}

namespace {

int64_t ParseInterval(const Context& ctx, const Flag& f) {
  auto d = ParseGoDuration(f.value);
  if (!d) {
    Fail(ctx, f.pos, "--" + f.name + ": invalid duration \"" + f.value + "\" (e.g. 30s, 1m30s)");
  }
  if (*d < 0) {
    Fail(ctx, f.pos, "--" + f.name + " cannot be negative (" + f.value + ")");
  }
  if (*d != 0 && *d < 1000000) {
    Fail(ctx, f.pos, "--" + f.name + " cannot be less than 1ms (" + f.value + ")");
  }
  return *d;
}

}  // namespace

void ParseHealthcheck(const Context& ctx, const Line& line, size_t i, Instruction& inst) {
  const std::string& s = line.text;
  size_t b = SkipSpace(s, i);
  size_t e = b;
  while (e < s.size() && !IsSpace(s[e])) ++e;
  std::string kind = Upper(s.substr(b, e - b));
  if (b >= s.size()) Fail(ctx, inst.pos, "HEALTHCHECK requires an argument: NONE or CMD");
  if (kind == "NONE") {
    if (SkipSpace(s, e) < s.size() || !inst.flags.empty()) {
      Fail(ctx, line.At(b), "HEALTHCHECK NONE takes no arguments and no flags");
    }
    inst.health.none = true;
    inst.args = {"NONE"};
    return;
  }
  if (kind != "CMD") {
    Fail(ctx, line.At(b), "unknown type \"" + s.substr(b, e - b) + "\" in HEALTHCHECK (try CMD)");
  }
  size_t c = SkipSpace(s, e);
  std::string cmd = s.substr(c);
  while (!cmd.empty() && IsSpace(cmd.back())) cmd.pop_back();
  if (cmd.empty()) Fail(ctx, line.At(b), "missing command after HEALTHCHECK CMD");
  if (auto json = JsonForm(ctx, cmd, line.At(c))) {
    inst.json = true;
    inst.health.test = {"CMD"};
    inst.health.test.insert(inst.health.test.end(), json->begin(), json->end());
  } else {
    inst.health.test = {"CMD-SHELL", cmd};
  }
  inst.args = inst.health.test;
  for (const Flag& f : inst.flags) {
    if (f.name == "retries") {
      bool neg = !f.value.empty() && f.value[0] == '-';
      auto v = ParseUnsigned(neg ? f.value.substr(1) : f.value, 10);
      if (!v || *v > INT32_MAX) Fail(ctx, f.pos, "--retries: invalid number \"" + f.value + "\"");
      if (neg && *v != 0) Fail(ctx, f.pos, "--retries cannot be negative (" + f.value + ")");
      inst.health.retries = static_cast<int>(*v);
    } else {
      int64_t d = ParseInterval(ctx, f);
      if (f.name == "interval")
        inst.health.interval_ns = d;
      else if (f.name == "timeout")
        inst.health.timeout_ns = d;
      else if (f.name == "start-period")
        inst.health.start_period_ns = d;
      else
        inst.health.start_interval_ns = d;
    }
  }
}

}  // namespace internal

std::optional<int64_t> ParseGoDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool neg = false;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return std::nullopt;
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    long double v = 0;
    bool digits = false;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      v = v * 10 + (s[i++] - '0');
      digits = true;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        v += (s[i++] - '0') * scale;
        scale /= 10;
        digits = true;
      }
    }
    if (!digits) return std::nullopt;
    size_t u = i;
    while (u < s.size() && !std::isdigit(static_cast<unsigned char>(s[u])) && s[u] != '.') ++u;
    std::string_view unit = s.substr(i, u - i);
    long double mult;
    if (unit == "ns")
      mult = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      mult = 1e3L;
    else if (unit == "ms")
      mult = 1e6L;
    else if (unit == "s")
      mult = 1e9L;
    else if (unit == "m")
      mult = 60e9L;
    else if (unit == "h")
      mult = 3600e9L;
    else
      return std::nullopt;
    total += v * mult;
    if (total > 9.2e18L) return std::nullopt;
    s.remove_prefix(u);
  }
  auto ns = static_cast<int64_t>(std::llround(total));
  return neg ? -ns : ns;
}

}  // namespace berth::build

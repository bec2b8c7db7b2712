// ps rows, event lines and --since/--until values, as the docker CLI renders and parses them.

#include "cli/container_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <set>
#include <vector>

#include "base/error.h"
#include "base/time_text.h"
#include "cli/go_value.h"
#include "cli/units.h"

namespace berth::cli {
namespace {

using nlohmann::json;

std::string Join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const std::string& p : parts) {
    out += (out.empty() ? "" : sep) + p;
  }
  return out;
}

std::string Str(const json& doc, const char* key) {
  return doc.is_object() && doc.contains(key) && doc[key].is_string() ? doc[key].get<std::string>()
                                                                      : "";
}

std::string Ports(const json& ports) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const json& p : ports.is_array() ? ports : json::array()) {
    std::string type = Str(p, "Type");
    std::string text = std::to_string(p.value("PrivatePort", 0)) + "/" + type;
    if (p.value("PublicPort", 0) != 0) {
      text = Str(p, "IP") + ":" + std::to_string(p.value("PublicPort", 0)) + "->" + text;
    }
    if (seen.insert(text).second) {
      out.push_back(text);
    }
  }
  return Join(out, ", ");
}

}  // namespace

std::string Ellipsis(std::string_view text, size_t width) {
  std::vector<size_t> starts;  // byte offset of each rune
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) {
      starts.push_back(i);
    }
  }
  if (starts.size() <= width) {
    return std::string(text);
  }
  if (width == 0) {
    return "";
  }
  return std::string(text.substr(0, starts[width - 1])) + "…";
}

const std::map<std::string, std::string> kPsHeaders = {
    {"ID", "CONTAINER ID"},    {"Image", "IMAGE"},
    {"Command", "COMMAND"},    {"CreatedAt", "CREATED AT"},
    {"RunningFor", "CREATED"}, {"Ports", "PORTS"},
    {"State", "STATE"},        {"Status", "STATUS"},
    {"Size", "SIZE"},          {"Names", "NAMES"},
    {"Labels", "LABELS"},      {"Mounts", "MOUNTS"},
    {"Networks", "NETWORKS"},  {"LocalVolumes", "LOCAL VOLUMES"}};

namespace {

std::string Percent(double v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.2f%%", v);
  return buf;
}

}  // namespace

const std::map<std::string, std::string> kStatsHeaders = {
    {"Container", "CONTAINER"}, {"Name", "NAME"},         {"ID", "CONTAINER ID"},
    {"CPUPerc", "CPU %"},       {"MemPerc", "MEM %"},     {"MemUsage", "MEM USAGE / LIMIT"},
    {"NetIO", "NET I/O"},       {"BlockIO", "BLOCK I/O"}, {"PIDs", "PIDS"}};

const char* const kStatsDefaultFormat =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t"
    "{{.BlockIO}}\t{{.PIDs}}";

namespace {

// nlohmann's SAX interface, keeping only StatsFigures' fields: the path to each value is a
// stack of the keys it sits under ("[]" for an array's elements), reused from one document
// to the next so that a steady stream allocates nothing.
class StatsScanner {
 public:
  using json = nlohmann::json;
  explicit StatsScanner(StatsFigures& out) : f_(out) {}

  bool null() { return Scalar(0, nullptr); }
  bool boolean(bool) { return Scalar(0, nullptr); }
  bool number_integer(json::number_integer_t v) { return Scalar(static_cast<double>(v), nullptr); }
  bool number_unsigned(json::number_unsigned_t v) {
    return Scalar(static_cast<double>(v), nullptr);
  }
  bool number_float(json::number_float_t v, const json::string_t&) { return Scalar(v, nullptr); }
  bool string(json::string_t& v) { return Scalar(0, &v); }
  bool binary(json::binary_t&) { return Scalar(0, nullptr); }
  bool start_object(size_t) { return Push(); }
  bool key(json::string_t& k) {
    if (depth_ <= kMaxDepth) keys_[depth_ - 1] = k;
    return true;
  }
  bool end_object() {
    // The end of one io_service_bytes_recursive entry: its value counts for its op.
    if (At({"blkio_stats", "io_service_bytes_recursive", "[]", "*"})) {
      if (entry_op_ == 'r') f_.blkio_read += entry_value_;
      if (entry_op_ == 'w') f_.blkio_write += entry_value_;
      entry_op_ = 0;
      entry_value_ = 0;
    }
    return Pop();
  }
  bool start_array(size_t) {
    if (At({"cpu_stats", "cpu_usage", "percpu_usage"})) f_.percpu_count = 0;
    Push();
    if (depth_ <= kMaxDepth) keys_[depth_ - 1] = "[]";
    return true;
  }
  bool end_array() { return Pop(); }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

 private:
  static constexpr size_t kMaxDepth = 8;  // deeper than any field read: skipped

  bool Push() {
    if (depth_ < kMaxDepth) keys_[depth_].clear();
    depth_++;
    return true;
  }
  bool Pop() {
    depth_--;
    return true;
  }
  // Whether the value now seen sits at `path` under the document's object ("*": any key of
  // an object, not an array's element).
  bool At(std::initializer_list<std::string_view> path) const {
    if (depth_ != path.size() || depth_ > kMaxDepth) return false;
    size_t i = 0;
    for (std::string_view k : path) {
      if (k == "*" ? keys_[i] == "[]" : keys_[i] != k) return false;
      i++;
    }
    return true;
  }
  bool Scalar(double v, const std::string* text) {
    if (depth_ == 1 && text != nullptr) {
      if (keys_[0] == "id") f_.id = *text;
      if (keys_[0] == "name") f_.name = *text;
    } else if (At({"cpu_stats", "cpu_usage", "total_usage"})) {
      f_.cpu_total = v;
    } else if (At({"precpu_stats", "cpu_usage", "total_usage"})) {
      f_.precpu_total = v;
    } else if (At({"cpu_stats", "system_cpu_usage"})) {
      f_.system = v;
    } else if (At({"precpu_stats", "system_cpu_usage"})) {
      f_.presystem = v;
    } else if (At({"cpu_stats", "online_cpus"})) {
      f_.online_cpus = v;
    } else if (At({"cpu_stats", "cpu_usage", "percpu_usage", "[]"})) {
      f_.percpu_count++;
    } else if (At({"memory_stats", "usage"})) {
      f_.mem_usage = v;
    } else if (At({"memory_stats", "limit"})) {
      f_.mem_limit = v;
    } else if (At({"memory_stats", "stats", "total_inactive_file"})) {
      f_.has_total_inactive_file = true;
      f_.total_inactive_file = v;
    } else if (At({"memory_stats", "stats", "inactive_file"})) {
      f_.inactive_file = v;
    } else if (At({"networks", "*", "rx_bytes"})) {
      f_.net_rx += v;
    } else if (At({"networks", "*", "tx_bytes"})) {
      f_.net_tx += v;
    } else if (At({"blkio_stats", "io_service_bytes_recursive", "[]", "op"})) {
      entry_op_ = text && !text->empty()
                      ? static_cast<char>(tolower(static_cast<unsigned char>((*text)[0])))
                      : 0;
    } else if (At({"blkio_stats", "io_service_bytes_recursive", "[]", "value"})) {
      entry_value_ = v;
    } else if (At({"pids_stats", "current"})) {
      f_.pids = v;
    }
    return true;
  }

  StatsFigures& f_;
  std::string keys_[kMaxDepth];  // keys_[i]: the current key of the object at depth i + 1
  size_t depth_ = 0;
  char entry_op_ = 0;
  double entry_value_ = 0;
};

}  // namespace

bool ParseStatsFigures(std::string_view doc, StatsFigures& out) {
  out = StatsFigures{std::move(out.id), std::move(out.name)};  // their buffers reused
  out.id.clear();
  out.name.clear();
  StatsScanner scanner(out);
  return nlohmann::json::sax_parse(doc.begin(), doc.end(), &scanner);
}

nlohmann::json StatsRow(const StatsFigures& s, const std::string& container, bool trunc) {
  double cpu_delta = s.cpu_total - s.precpu_total;
  double system_delta = s.system - s.presystem;
  double cpus = s.online_cpus == 0 ? s.percpu_count : s.online_cpus;
  double cpu = system_delta > 0 && cpu_delta > 0 ? cpu_delta / system_delta * cpus * 100 : 0;

  double usage = s.mem_usage;
  if (s.has_total_inactive_file && s.total_inactive_file < usage) {
    usage -= s.total_inactive_file;  // cgroup v1
  } else if (s.inactive_file < usage) {
    usage -= s.inactive_file;
  }
  double limit = s.mem_limit;
  std::string name = s.name;
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  return {
      {"Container", container},
      {"Name", name},
      {"ID", trunc ? TruncateId(s.id) : s.id},
      {"CPUPerc", Percent(cpu)},
      {"MemUsage", BytesSize(usage) + " / " + BytesSize(limit)},
      {"MemPerc", Percent(limit > 0 ? usage / limit * 100 : 0)},
      {"NetIO", HumanSizeWithPrecision(s.net_rx, 3) + " / " + HumanSizeWithPrecision(s.net_tx, 3)},
      {"BlockIO",
       HumanSizeWithPrecision(s.blkio_read, 3) + " / " + HumanSizeWithPrecision(s.blkio_write, 3)},
      {"PIDs", std::to_string(static_cast<uint64_t>(s.pids))}};
}

std::string PsDefaultFormat(bool size) {
  return std::string(
             "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t"
             "{{.Ports}}\t{{.Names}}") +
         (size ? "\t{{.Size}}" : "");
}

nlohmann::json PsRow(const nlohmann::json& c, bool trunc, int64_t now) {
  std::string id = Str(c, "Id");
  std::string image = Str(c, "Image");
  if (image.empty()) {
    image = "<no image>";
  } else if (trunc) {
    if (TruncateId(Str(c, "ImageID")) == TruncateId(image)) {
      image = TruncateId(image);
    } else if (size_t at = image.find('@'); at != std::string::npos) {
      image = image.substr(0, at);
    }
  }
  std::vector<std::string> names;
  for (const json& n : c.value("Names", json::array())) {
    std::string name = n.get<std::string>();
    if (!name.empty() && name[0] == '/') {
      name.erase(0, 1);
    }
    if (trunc && name.find('/') != std::string::npos) {
      continue;  // a link's name ("/other/alias")
    }
    names.push_back(name);
  }
  std::vector<std::string> labels;
  const json label_map = c.value("Labels", json::object());
  for (const auto& [k, v] : label_map.items()) {
    labels.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
  }
  std::sort(labels.begin(), labels.end());
  std::vector<std::string> mounts;
  int local_volumes = 0;
  for (const json& m : c.value("Mounts", json::array())) {
    std::string name = Str(m, "Name").empty() ? Str(m, "Source") : Str(m, "Name");
    mounts.push_back(trunc ? Ellipsis(name, 15) : name);
    local_volumes += Str(m, "Driver") == "local" ? 1 : 0;
  }
  std::vector<std::string> networks;
  if (c.contains("NetworkSettings") && c["NetworkSettings"].is_object()) {
    const json network_map = c["NetworkSettings"].value("Networks", json::object());
    for (const auto& [name, _] : network_map.items()) {
      networks.push_back(name);
    }
  }
  std::sort(networks.begin(), networks.end());
  int64_t created = c.value("Created", int64_t{0});
  std::string size = HumanSizeWithPrecision(static_cast<double>(c.value("SizeRw", 0.0)), 3);
  if (c.value("SizeRootFs", 0.0) > 0) {
    size += " (virtual " + HumanSizeWithPrecision(c.value("SizeRootFs", 0.0), 3) + ")";
  }
  std::string command = Str(c, "Command");
  return {{"ID", trunc ? TruncateId(id) : id},
          {"Image", image},
          {"Command", internal::GoQuote(trunc ? Ellipsis(command, 20) : command)},
          {"CreatedAt", GoTime(created)},
          {"RunningFor", TimeAgo(now - created)},
          {"Ports", Ports(c.value("Ports", json::array()))},
          {"State", Str(c, "State")},
          {"Status", Str(c, "Status")},
          {"Size", size},
          {"Names", Join(names, ",")},
          {"Labels", Join(labels, ",")},
          {"Mounts", Join(mounts, ",")},
          {"Networks", Join(networks, ",")},
          {"LocalVolumes", std::to_string(local_volumes)}};
}

std::optional<int64_t> ParseGoDuration(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    return 0;
  }
  if (s.empty()) {
    return std::nullopt;
  }
  static const std::pair<std::string_view, double> kUnits[] = {
      {"ns", 1},   {"us", 1e3}, {"µs", 1e3}, {"μs", 1e3},
      {"ms", 1e6}, {"s", 1e9},  {"m", 60e9}, {"h", 3600e9}};
  double total = 0;
  while (!s.empty()) {
    size_t n = 0;
    while (n < s.size() && (isdigit(static_cast<unsigned char>(s[n])) || s[n] == '.')) {
      ++n;
    }
    if (n == 0 || (n == 1 && s[0] == '.')) {
      return std::nullopt;
    }
    double value = strtod(std::string(s.substr(0, n)).c_str(), nullptr);
    s.remove_prefix(n);
    size_t u = 0;
    while (u < s.size() && !isdigit(static_cast<unsigned char>(s[u])) && s[u] != '.') {
      ++u;
    }
    std::string_view unit = s.substr(0, u);
    auto it = std::find_if(std::begin(kUnits), std::end(kUnits),
                           [&](const auto& k) { return k.first == unit; });
    if (it == std::end(kUnits)) {
      return std::nullopt;
    }
    total += value * it->second;
    s.remove_prefix(u);
  }
  if (!(total < 9.2e18)) {
    return std::nullopt;  // Go: "invalid duration" (overflows int64 nanoseconds)
  }
  return static_cast<int64_t>(negative ? -total : total);
}

std::string ApiTimestamp(std::string_view value, int64_t now) {
  std::string v(value);
  if (v != "0") {
    if (auto d = ParseGoDuration(v)) {
      return std::to_string(static_cast<int64_t>(
          std::floor((static_cast<double>(now) * 1e9 - static_cast<double>(*d)) / 1e9)));
    }
  }
  auto fail = [&] {
    if (v.find('-') != std::string::npos) {
      ThrowInvalid("parsing time \"" + v + "\": cannot parse as an RFC 3339 date");
    }
    ThrowInvalid("failed to parse value as time or duration: \"" + v + "\"");
  };
  if (v.find('-') == std::string::npos) {
    // Unix seconds, optionally with a fraction: passed on as they are.
    size_t dot = v.find('.');
    auto digits = [](std::string_view s) {
      return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return isdigit(c); });
    };
    if (!digits(std::string_view(v).substr(0, dot)) ||
        (dot != std::string::npos && !digits(std::string_view(v).substr(dot + 1)))) {
      fail();
    }
    return v;
  }
  // RFC 3339, or a date with its time cut short; no zone is local time, as docker reads it.
  const std::optional<Rfc3339Time> t = ParseRfc3339Fields(v);
  if (!t) {
    fail();
  }
  char buf[48];
  snprintf(buf, sizeof(buf), "%lld.%09lld", static_cast<long long>(t->UnixSeconds()),
           static_cast<long long>(t->nanos));
  return buf;
}

std::string EventLine(const nlohmann::json& e) {
  std::string out;
  int64_t nanos = e.value("timeNano", int64_t{0});
  if (nanos == 0) {
    nanos = e.value("time", int64_t{0}) * 1'000'000'000;
  }
  if (nanos != 0) {
    time_t t = static_cast<time_t>(nanos / 1'000'000'000);
    struct tm tm;
    localtime_r(&t, &tm);
    char date[32], zone[48];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    long off = tm.tm_gmtoff;
    if (off == 0) {
      snprintf(zone, sizeof(zone), "Z");
    } else {
      snprintf(zone, sizeof(zone), "%c%02ld:%02ld", off < 0 ? '-' : '+', labs(off) / 3600,
               labs(off) % 3600 / 60);
    }
    char frac[16];
    snprintf(frac, sizeof(frac), ".%09lld", static_cast<long long>(nanos % 1'000'000'000));
    out = std::string(date) + frac + zone + " ";
  }
  const json actor = e.value("Actor", json::object());
  out += Str(e, "Type") + " " + Str(e, "Action") + " " + Str(actor, "ID");
  std::vector<std::string> attrs;
  const json attributes = actor.value("Attributes", json::object());
  for (const auto& [k, v] : attributes.items()) {
    attrs.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
  }
  std::sort(attrs.begin(), attrs.end());
  if (!attrs.empty()) {
    out += " (" + Join(attrs, ", ") + ")";
  }
  return out;
}

}  // namespace berth::cli

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

double Num(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* v = &j;
  for (const char* key : path) {
    if (!v->is_object() || !v->contains(key)) return 0;
    v = &(*v)[key];
  }
  return v->is_number() ? v->get<double>() : 0;
}

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

nlohmann::json StatsRow(const nlohmann::json& s, const std::string& container, bool trunc) {
  double cpu_delta = Num(s, {"cpu_stats", "cpu_usage", "total_usage"}) -
                     Num(s, {"precpu_stats", "cpu_usage", "total_usage"});
  double system_delta =
      Num(s, {"cpu_stats", "system_cpu_usage"}) - Num(s, {"precpu_stats", "system_cpu_usage"});
  double cpus = Num(s, {"cpu_stats", "online_cpus"});
  if (cpus == 0 && s.contains("cpu_stats") && s["cpu_stats"].contains("cpu_usage") &&
      s["cpu_stats"]["cpu_usage"].contains("percpu_usage")) {
    cpus = static_cast<double>(s["cpu_stats"]["cpu_usage"]["percpu_usage"].size());
  }
  double cpu = system_delta > 0 && cpu_delta > 0 ? cpu_delta / system_delta * cpus * 100 : 0;

  double usage = Num(s, {"memory_stats", "usage"});
  const nlohmann::json& stats = s.contains("memory_stats") && s["memory_stats"].contains("stats")
                                    ? s["memory_stats"]["stats"]
                                    : nlohmann::json::object();
  if (stats.contains("total_inactive_file") && Num(stats, {"total_inactive_file"}) < usage) {
    usage -= Num(stats, {"total_inactive_file"});  // cgroup v1
  } else if (Num(stats, {"inactive_file"}) < usage) {
    usage -= Num(stats, {"inactive_file"});
  }
  double limit = Num(s, {"memory_stats", "limit"});

  double rx = 0, tx = 0;
  if (s.contains("networks") && s["networks"].is_object()) {
    for (const auto& item : s["networks"].items()) {
      rx += Num(item.value(), {"rx_bytes"});
      tx += Num(item.value(), {"tx_bytes"});
    }
  }
  double read = 0, write = 0;
  if (s.contains("blkio_stats") && s["blkio_stats"].contains("io_service_bytes_recursive") &&
      s["blkio_stats"]["io_service_bytes_recursive"].is_array()) {
    for (const nlohmann::json& e : s["blkio_stats"]["io_service_bytes_recursive"]) {
      std::string op = e.value("op", "");
      char c = op.empty() ? 0 : static_cast<char>(tolower(static_cast<unsigned char>(op[0])));
      if (c == 'r') read += Num(e, {"value"});
      if (c == 'w') write += Num(e, {"value"});
    }
  }
  std::string id = s.value("id", "");
  std::string name = s.value("name", "");
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  return {{"Container", container},
          {"Name", name},
          {"ID", trunc ? TruncateId(id) : id},
          {"CPUPerc", Percent(cpu)},
          {"MemUsage", BytesSize(usage) + " / " + BytesSize(limit)},
          {"MemPerc", Percent(limit > 0 ? usage / limit * 100 : 0)},
          {"NetIO", HumanSizeWithPrecision(rx, 3) + " / " + HumanSizeWithPrecision(tx, 3)},
          {"BlockIO", HumanSizeWithPrecision(read, 3) + " / " + HumanSizeWithPrecision(write, 3)},
          {"PIDs", std::to_string(static_cast<uint64_t>(Num(s, {"pids_stats", "current"})))}};
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

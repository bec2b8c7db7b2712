#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

// What the container commands print, the docker CLI's way (cli/command/formatter/container.go,
// cli/command/system/events.go), and the time values their flags take (moby api/types/time).
namespace berth::cli {

// formatter.Ellipsis: cuts to `width` runes, the last one an ellipsis ("…").
std::string Ellipsis(std::string_view text, size_t width);

// The `ps` columns of one GET /containers/json element, keyed by the field names docker's
// --format uses: ID, Image, Command, CreatedAt, RunningFor, Ports, State, Status, Size, Names,
// Labels, Mounts, Networks, LocalVolumes. `now` is the current unix time.
nlohmann::json PsRow(const nlohmann::json& container, bool trunc, int64_t now);
extern const std::map<std::string, std::string> kPsHeaders;
// `ps`'s default table (with SIZE for -s).
std::string PsDefaultFormat(bool size);

// What the `stats` columns are computed from, out of one stats document (GET
// /containers/{id}/stats): a stream brings one a second per container, so the document is
// scanned for these figures instead of being built into a DOM. A figure the document lacks
// (or holds as something other than a number) is 0.
struct StatsFigures {
  std::string id, name;
  double cpu_total = 0, precpu_total = 0;    // cpu_usage.total_usage
  double system = 0, presystem = 0;          // system_cpu_usage
  double online_cpus = 0, percpu_count = 0;  // cpu_stats' online_cpus, percpu_usage's length
  double mem_usage = 0, mem_limit = 0;
  bool has_total_inactive_file = false;  // cgroup v1's key
  double total_inactive_file = 0, inactive_file = 0;
  double net_rx = 0, net_tx = 0;           // summed over the devices
  double blkio_read = 0, blkio_write = 0;  // io_service_bytes_recursive, by op
  double pids = 0;
};
// false when `doc` is not one JSON value (`out` then holds what was read before the error).
bool ParseStatsFigures(std::string_view doc, StatsFigures& out);

// The `stats` columns of one document's figures, as docker's formatter computes them
// (cli/command/container/stats_helpers.go, formatter/stats.go): Container (`container` as
// the user named it), Name, ID, CPUPerc (the CPU time's share of the host's between this
// reading and the previous one, times the online CPUs), MemUsage (usage less inactive file
// pages, over the limit), MemPerc, NetIO, BlockIO, PIDs.
nlohmann::json StatsRow(const StatsFigures& stats, const std::string& container, bool trunc);
extern const std::map<std::string, std::string> kStatsHeaders;
extern const char* const kStatsDefaultFormat;

// api/types/time.GetTimestamp: what --since/--until become in the query. A Go duration
// ("10m", "1h30m") counts back from `now` (unix seconds); RFC 3339 and shorter dates
// ("2024-01-02", "2024-01-02T15:04", with or without a zone; local time without) become
// "seconds.nanoseconds"; unix seconds ("1700000000", "1700000000.5") pass as they are.
// Throws berth::Error kInvalidArgument otherwise.
std::string ApiTimestamp(std::string_view value, int64_t now);
// Go's time.ParseDuration in nanoseconds; nullopt when `text` is not one.
std::optional<int64_t> ParseGoDuration(std::string_view text);

// One `events` line: "2024-01-02T15:04:05.000000000+01:00 container start <id> (k=v, ...)".
std::string EventLine(const nlohmann::json& event);

}  // namespace berth::cli

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

// The `stats` columns of one stats document (GET /containers/{id}/stats), as docker's
// formatter computes them (cli/command/container/stats_helpers.go, formatter/stats.go):
// Container (`container` as the user named it), Name, ID, CPUPerc (the CPU time's share of
// the host's between this reading and the previous one, times the online CPUs), MemUsage
// (usage less inactive file pages, over the limit), MemPerc, NetIO, BlockIO, PIDs.
nlohmann::json StatsRow(const nlohmann::json& stats, const std::string& container, bool trunc);
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

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/container.h"

// Pure views of the container record (container.h) in Docker 20.10's shapes: the
// `GET /containers/{id}/json` document, one `GET /containers/json` element, and the status
// text `docker ps` prints. No file system and no clock: what the record does not hold comes
// in as data, and `now` as unix nanoseconds. docs/containers.md, "Views", has the decisions.

namespace berth::engine {

// What inspect shows that the record does not hold; the service knows it from the container's
// directory, its rootfs, its exec sessions and its network sandbox. Empty shows as "".
struct InspectExtras {
  std::string resolv_conf_path;  // containers/<id>/resolv.conf, once written
  std::string hostname_path;
  std::string hosts_path;
  // GraphDriver.Data: the overlay's directories (lower: colon-separated, top first).
  std::string lower_dir, upper_dir, work_dir, merged_dir;
  std::vector<std::string> exec_ids;    // live exec sessions; none shows null
  std::string sandbox_id, sandbox_key;  // the network namespace, while running
  // NetworkSettings.Networks as the network service reports them; null: one entry named
  // after HostConfig.NetworkMode ("none", "host", "bridge" for "default") with empty values.
  nlohmann::json networks;
  // NetworkSettings.Ports ({"80/tcp":[{"HostIp","HostPort"}]}); null shows as {}.
  nlohmann::json ports;
  std::optional<int64_t> size_rw, size_root_fs;  // `?size=1`
};

// The full inspect document, keys in Docker's order (Config and HostConfig fields too; an
// nlohmann::json copy sorts them, so write it with dump() to keep the order).
nlohmann::ordered_json InspectJson(const Container& c, const InspectExtras& x);

struct ListExtras {
  // The Image column: c.image while that name still refers to c.image_id, else the ID (what
  // Docker's refreshImage shows once the name moved or is gone). Empty: c.image.
  std::string image;
  nlohmann::json networks;  // as InspectExtras::networks
  nlohmann::json ports;     // the Ports column: [{IP, PrivatePort, PublicPort, Type}]; null: []
  std::optional<int64_t> size_rw, size_root_fs;  // `?size=1`
};

// One `GET /containers/json` element. A privileged container carries
// "HostConfig":{"NetworkMode":…,"Privileged":true}; Docker has no such field and its CLI
// ignores it.
nlohmann::json ListEntry(const Container& c, int64_t now_nanos, const ListExtras& x = {});

// Docker's State.String(): "Created", "Up 2 minutes", "Up Less than a second",
// "Up 2 minutes (Paused)", "Up 3 hours (healthy)", "Up 5 seconds (health: starting)",
// "Restarting (1) 5 seconds ago", "Exited (0) 3 minutes ago", "Removal In Progress", "Dead".
std::string StatusText(const Container& c, int64_t now_nanos);

// Docker's State.StateString(): the status name, except that an exited container that never
// started (a failed start) is "created", as Docker shows it.
std::string StateString(const Container& c);

// "none" without a health check (or before its first start), else the monitor's status
// ("starting" until it reported one).
std::string HealthStatus(const Container& c);

// ps' Command column: path and args, an arg with a space in single quotes (daemon/list.go).
std::string CommandText(const Container& c);

// The container's mounts as Docker reports them (MountPoint objects, sorted by destination):
// HostConfig.Binds and HostConfig.Mounts; HostConfig.Tmpfs is not listed (as Docker).
nlohmann::json MountPoints(const Container& c);

// NetworkSettings.Networks from HostConfig.NetworkMode alone: {"none"|"host"|"bridge"|<name>:
// an EndpointSettings with empty values}; {} for container:<id>.
nlohmann::json NetworksFromMode(const Container& c);

// Unix nanoseconds of c.created (0 if unparsable): the sort key of `docker ps`.
int64_t CreatedNanos(const Container& c);

// Docker's list order: newest first (ties by ID, so the order is total).
void SortNewestFirst(std::vector<const Container*>& containers);

}  // namespace berth::engine

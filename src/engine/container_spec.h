#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/mount_point.h"

// `POST /containers/create`: from the request body and the image's config to the OCI runtime
// spec (config.json) berthd hands to berth-runtime, plus the Config and HostConfig that
// `GET /containers/<id>/json` shows. Pure: no file system, no network, no clock. What needs
// the host or the rootfs (user names, device numbers, the init binary) comes back as data for
// the caller to finish. docs/containers.md has the field-by-field table and the decisions.

namespace berth::engine {

struct ContainerSpecInput {
  // The create body as received: Config fields at the top level, "HostConfig",
  // "NetworkingConfig". Nulls, zero values and absent fields all mean "the default".
  nlohmann::json create;
  // The image config's "config" object (Cmd, Entrypoint, Env, WorkingDir, User, ExposedPorts,
  // Volumes, StopSignal, Labels, Healthcheck); null or {} for an image without one.
  nlohmann::json image_config;
  std::string id;                // 64-hex container id
  std::string name;              // "/web"
  std::string rootfs;            // absolute path of the mounted (writable) rootfs
  std::string hostname_default;  // first 12 chars of id
  // The container's mounts as create resolved them (volumes named and with their host
  // directory); null: only HostConfig's binds and tmpfs are mounted, volumes are validated.
  const std::vector<MountPoint>* mounts = nullptr;
};

// A user or group the caller resolves against the rootfs's /etc/passwd and /etc/group (through
// path_in_root), then writes with ApplyResolvedUser.
struct UserLookup {
  std::string user;                 // "nginx", "1000" or "" (root)
  std::string group;                // "www-data", "33" or "" (the user's primary group)
  std::vector<std::string> groups;  // every HostConfig.GroupAdd entry, names and numbers
};

// A HostConfig.Devices entry: the caller stats `path_on_host` and calls AddDevice.
struct DeviceRequest {
  std::string path_on_host;
  std::string path_in_container;
  std::string permissions;  // subset of "rwm"
};

struct ContainerSpec {
  nlohmann::json spec;         // config.json; oci::ParseSpec accepts it
  nlohmann::json config;       // the merged Config, as inspect shows it
  nlohmann::json host_config;  // the normalized HostConfig, as inspect shows it
  std::vector<std::string> warnings;

  // Set when User or GroupAdd holds a name, or User is a bare uid (Docker takes the primary
  // gid and supplementary groups from /etc/passwd and /etc/group then). Until the caller
  // applies a lookup, a named user runs as 65534:65534 (nobody), never as root.
  bool needs_user_lookup = false;
  UserLookup user_lookup;
  std::vector<DeviceRequest> devices;  // HostConfig.Devices, validated
  bool all_host_devices = false;       // Privileged: the caller adds every /dev node
  bool init = false;                   // HostConfig.Init: the caller injects its init as pid 1
};

// Builds the container's spec. Throws berth::Error: kInvalidArgument naming the field for a
// malformed or contradictory body ("HostConfig.CapAdd: unknown capability: \"CAP_FOO\""),
// "No command specified" when neither the body nor the image has one, kNotImplemented for
// options Berth does not support yet (container:<id> namespaces).
ContainerSpec BuildContainerSpec(const ContainerSpecInput& in);

// Writes a resolved user into spec.process.user (and additionalGids).
void ApplyResolvedUser(nlohmann::json& spec, uint32_t uid, uint32_t gid,
                       const std::vector<uint32_t>& additional_gids);

// Adds a device node the caller stat'ed: linux.devices gets the node, the device cgroup
// allows it with `request.permissions`. `type` is 'c' or 'b'.
void AddDevice(nlohmann::json& spec, const DeviceRequest& request, char type, int64_t major,
               int64_t minor, uint32_t file_mode);

}  // namespace berth::engine

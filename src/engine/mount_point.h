#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

// A container's mounts as the user asks for them (HostConfig.Binds `-v`, HostConfig.Mounts
// `--mount`, HostConfig.VolumesFrom, the image's VOLUMEs) and as create resolves them (a
// volume name and its host directory). Pure: parsing and validation only, no file system.
// The rules and texts are moby 20.10's volume/mounts/linux_parser.go; docs/volumes.md lists
// where Berth differs.

namespace berth::engine {

// One mount of a container: Docker's MountPoint plus what create and start need.
struct MountPoint {
  std::string type;         // "bind", "volume" or "tmpfs"
  std::string name;         // volume: its name ("" until an anonymous one is made)
  std::string source;       // bind: the host path; volume: its _data ("" until resolved)
  std::string destination;  // absolute, cleaned
  std::string driver;       // volume: "local"
  std::string mode;         // -v's mode text as given ("ro,z"); inspect shows it
  bool rw = true;
  std::string propagation;  // bind: "rprivate" unless given; "" otherwise
  // Not shown by inspect:
  bool anonymous = false;      // made for this container: `rm -v` removes it
  bool copy_data = false;      // copy the image's content into the volume if it is empty
  bool create_source = false;  // a -v bind: a missing host directory is created
  bool non_recursive = false;  // --mount bind-nonrecursive: bind, not rbind
  std::string tmpfs_options;   // tmpfs: "size=…,mode=…" in HostConfig.Tmpfs's syntax
  nlohmann::json volume_labels = nlohmann::json::object();   // --mount volume-label
  nlohmann::json volume_options = nlohmann::json::object();  // --mount volume-opt

  bool operator==(const MountPoint&) const = default;
};

// The record berthd keeps (every field) and its reverse; FromJson throws kDataLoss.
nlohmann::json ToJson(const MountPoint& m);
MountPoint MountPointFromJson(const nlohmann::json& j);
// Docker's MountPoint as container inspect and ps show it: Type, Name (volumes), Source,
// Destination, Driver (volumes), Mode, RW, Propagation.
nlohmann::json InspectMountJson(const MountPoint& m);

// A name the local volume driver accepts: ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$ (so no slash, no
// ".." and at least two characters, as Docker).
bool IsValidVolumeName(std::string_view name);
// Docker's text for a bad name: "\"a/b\" includes invalid characters for a local volume
// name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host
// directory, use absolute path".
std::string InvalidVolumeNameText(std::string_view name);

// HostConfig.Binds entry: "/host:/ctr[:mode]" (a bind), "name:/ctr[:mode]" (a named
// volume), "/ctr" (an anonymous volume). Modes: ro|rw, z|Z, a propagation (binds only),
// nocopy (volumes only), cached|delegated|consistent. Throws kInvalidArgument naming
// HostConfig.Binds.
MountPoint ParseBind(const std::string& raw);

// HostConfig.Mounts entry ({Type, Source, Target, ReadOnly, Consistency, BindOptions,
// VolumeOptions, TmpfsOptions}). Throws kInvalidArgument: "HostConfig.Mounts: invalid mount
// config for type \"bind\": …".
MountPoint ParseMount(const nlohmann::json& m);

// HostConfig.VolumesFrom entry: "container[:ro|:rw]".
struct VolumesFrom {
  std::string container;
  std::optional<bool> rw;  // unset: each mount keeps its own
};
VolumesFrom ParseVolumesFrom(const std::string& raw);

// Everything one create body asks for, validated: Binds then Mounts (no two at one
// destination, and none at a HostConfig.Tmpfs destination), VolumesFrom, and the image's
// VOLUMEs that no user mount covers (anonymous volumes with copy-up).
struct MountRequests {
  std::vector<MountPoint> mounts;
  std::vector<VolumesFrom> volumes_from;
  std::vector<MountPoint> image_volumes;
};
// `hc` is HostConfig, `config_volumes` the merged Config.Volumes ({"/data":{}}).
MountRequests ParseMountRequests(const nlohmann::json& hc, const nlohmann::json& config_volumes);

// The local driver's options (DriverOpts): type, device, o. Throws kInvalidArgument with
// Docker's "invalid option key: \"x\"" or a missing type/device.
void ValidateLocalVolumeOptions(const nlohmann::json& options);

// mount(8)'s -o text split the way Docker's local driver (pkg/mount ParseOptions) does:
// known flags become MS_* bits, the rest is the data string for the file system.
struct MountFlags {
  unsigned long flags = 0;
  std::string data;
};
MountFlags ParseMountFlags(const std::string& options);

}  // namespace berth::engine

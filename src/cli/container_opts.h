#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

// The flags `berth run` and `berth create` share, and the POST /containers/create body they
// become — the docker CLI 20.10's mapping (cli/command/container/opts.go), field for field.
namespace berth::cli {

// The resource flags `run`/`create` and `update` share, as text (see ContainerOptions).
struct ResourceOptions {
  std::string memory, memory_swap, memory_reservation, cpus, cpu_shares, cpu_quota, cpu_period,
      cpuset_cpus, cpuset_mems, pids_limit;
};

struct ContainerOptions {
  bool interactive = false, tty = false, rm = false, read_only = false, init = false,
       privileged = false;
  std::string name, workdir, user, hostname, domainname, network = "default", log_driver, userns,
                                                         pid, ipc, uts, stop_signal, restart;
  // Numbers and sizes stay text until CreateBody, so that "unset" and docker's messages for
  // bad values come for free.
  ResourceOptions resources;
  std::string shm_size, oom_score_adj, stop_timeout;
  std::vector<std::string> entrypoint;  // empty: not given; {""}: --entrypoint= (reset)
  std::vector<std::string> env, env_files, labels, label_files, cap_add, cap_drop, security_opt,
      tmpfs, ulimits, devices, log_opts, sysctls, group_add, volumes, mounts, volumes_from;
  // Networking: -p, --expose, --network-alias, --dns*, --add-host; -P and --ip.
  bool publish_all = false;
  std::string ip, ip6;  // --ip, --ip6
  std::vector<std::string> publish, expose, network_aliases, dns, dns_search, dns_options,
      add_hosts;
  // --health-*: durations as Go writes them ("30s", "1m30s"), retries a count.
  std::string health_cmd, health_interval, health_timeout, health_start_period,
      health_start_interval, health_retries;
  bool no_healthcheck = false;
};

// Config.Healthcheck from the --health-* flags and --no-healthcheck (null: none given), with
// the docker CLI's messages for conflicting or negative values.
nlohmann::json HealthcheckBody(const ContainerOptions& o);

// Registers the shared flags on `run`/`create` (-h is --hostname there, as in docker).
void AddContainerFlags(CLI::App* cmd, ContainerOptions& o);

// The create body for IMAGE [COMMAND [ARG...]] (args[0] is the image), in the 20.10 CLI's
// shape (engine-api.md §2.1). `detach` clears the Attach* fields as `run -d` does. Reads
// --env-file, --label-file and seccomp profiles named by --security-opt. Throws berth::Error
// kInvalidArgument with docker's message for a bad value.
nlohmann::json CreateBody(const ContainerOptions& o, const std::vector<std::string>& args,
                          bool detach);

// The pieces, each as the docker CLI parses it.
// opts.ValidateEnv: "A=b" as is; "A" takes A's value from the environment when set.
std::string ExpandEnv(const std::string& value);
// opts.ParseEnvFile (env = true: a bare "A" is looked up, dropped when unset) and the label
// file's reader (env = false: "A" is kept as "A").
std::vector<std::string> ReadKeyValueFile(const std::string& path, bool env);
// go-units ParseUlimit: "nofile=10:20" -> {"Name":"nofile","Hard":20,"Soft":10}.
nlohmann::json ParseUlimit(std::string_view text);
// opts.ParseDevice: "/dev/x[:/dev/y][:rwm]".
nlohmann::json ParseDevice(std::string_view text);
// opts.ParseCPUs: "1.5" -> 1500000000 nano CPUs.
int64_t ParseCpus(std::string_view text);
// opts.MountOpt: "type=volume,src=v,dst=/d,readonly,volume-nocopy,tmpfs-size=64m,…" (a CSV
// line) -> a HostConfig.Mounts entry.
nlohmann::json ParseMountOpt(std::string_view text);
// --restart: "no", "always", "unless-stopped", "on-failure[:N]" -> HostConfig.RestartPolicy.
nlohmann::json RestartPolicy(const std::string& text);

// The updatable resources of `berth update` (POST /containers/{id}/update), from the same
// kind of text fields; only the flags given are sent.
struct UpdateOptions {
  ResourceOptions resources;
  std::string blkio_weight, restart;
};
void AddUpdateFlags(CLI::App* cmd, UpdateOptions& o);
nlohmann::json UpdateBody(const UpdateOptions& o);

}  // namespace berth::cli

// POST /containers/create body + image config -> config.json, Config and HostConfig.

#include "engine/container_spec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "base/error.h"
#include "oci/default_seccomp.h"
#include "oci/default_spec.h"
#include "oci/runtime_spec.h"

namespace berth::engine {
namespace {

using nlohmann::json;

// engine-api.md §2.1, exactly as the 20.10 CLI sends it for `docker run --rm busybox echo hi`.
constexpr const char* kCliBody =
    R"({"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["echo","hi"],"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"VolumeDriver":"","VolumesFrom":null,"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"ConsoleSize":[0,0],"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":null,"BlkioDeviceWriteBps":null,"BlkioDeviceReadIOps":null,"BlkioDeviceWriteIOps":null,"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"KernelMemory":0,"KernelMemoryTCP":0,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":null,"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{}}})";

const std::string kId(64, 'a');

ContainerSpecInput Input(json create, json image_config = json{{"Cmd", {"sh"}}}) {
  return ContainerSpecInput{std::move(create),
                            std::move(image_config),
                            kId,
                            "/web",
                            "/var/lib/berth/containers/" + kId + "/rootfs",
                            kId.substr(0, 12)};
}

// The CLI body with HostConfig fields changed.
ContainerSpec WithHost(const json& host_changes, json top_changes = json::object()) {
  json body = json::parse(kCliBody);
  if (host_changes.is_object()) {
    body["HostConfig"].update(host_changes);
  }
  body.update(top_changes);
  return BuildContainerSpec(Input(body));
}

bool HasNamespace(const json& spec, const std::string& type) {
  const auto& ns = spec["linux"]["namespaces"];
  return std::any_of(ns.begin(), ns.end(), [&](const json& n) { return n["type"] == type; });
}

const json* Mount(const json& spec, const std::string& destination) {
  for (const auto& m : spec["mounts"]) {
    if (m["destination"] == destination) {
      return &m;
    }
  }
  return nullptr;
}

std::string ErrorOf(const json& host_changes, json top = json::object()) {
  try {
    WithHost(host_changes, std::move(top));
  } catch (const Error& e) {
    return std::string(KindName(e.kind())) + ": " + e.what();
  }
  return "no error";
}

TEST(ContainerSpec, CliRunBodyKeepsHardenedDefaults) {
  json image = {{"Env", {"PATH=/usr/local/bin:/bin", "IMG=1"}}, {"Cmd", {"sh"}}};
  ContainerSpec cs = BuildContainerSpec(Input(json::parse(kCliBody), image));
  const json& s = cs.spec;
  EXPECT_EQ(s["process"]["args"], json({"echo", "hi"}));
  EXPECT_EQ(s["process"]["terminal"], false);
  EXPECT_EQ(s["process"]["env"],
            json({"PATH=/usr/local/bin:/bin", "HOSTNAME=aaaaaaaaaaaa", "IMG=1"}));
  EXPECT_EQ(s["process"]["cwd"], "/");
  EXPECT_EQ(s["process"]["user"], json({{"uid", 0}, {"gid", 0}}));
  EXPECT_EQ(s["hostname"], "aaaaaaaaaaaa");
  EXPECT_EQ(s["root"]["path"], "/var/lib/berth/containers/" + kId + "/rootfs");
  EXPECT_EQ(s["root"]["readonly"], false) << "docker run busybox touch /x must work";

  json def = oci::DefaultSpec();
  EXPECT_EQ(s["linux"]["uidMappings"], def["linux"]["uidMappings"]);
  EXPECT_EQ(s["annotations"]["org.berth.rootfs.idmap"], "true");
  EXPECT_EQ(s["linux"]["namespaces"], def["linux"]["namespaces"]);
  EXPECT_EQ(s["process"]["capabilities"], def["process"]["capabilities"]);
  EXPECT_EQ(s["linux"]["seccomp"], def["linux"]["seccomp"]);
  EXPECT_EQ(s["process"]["noNewPrivileges"], true);
  EXPECT_EQ(s["linux"]["maskedPaths"], def["linux"]["maskedPaths"]);
  EXPECT_EQ(s["linux"]["readonlyPaths"], def["linux"]["readonlyPaths"]);
  EXPECT_EQ(s["linux"]["resources"]["pids"]["limit"], 4096);
  EXPECT_EQ((*Mount(s, "/dev/shm"))["options"].back(), "size=67108864");
  EXPECT_TRUE(cs.warnings.empty());
  EXPECT_FALSE(cs.needs_user_lookup);
  EXPECT_NO_THROW(oci::ParseSpec(s.dump()));

  EXPECT_EQ(cs.config["Cmd"], json({"echo", "hi"}));
  EXPECT_TRUE(cs.config["Entrypoint"].is_null());
  EXPECT_EQ(cs.config["Image"], "busybox");
  EXPECT_EQ(cs.config["AttachStdout"], true);
  EXPECT_EQ(cs.host_config["NetworkMode"], "default");
  EXPECT_EQ(cs.host_config["ShmSize"], 67108864);
  EXPECT_EQ(cs.host_config["LogConfig"]["Type"], "json-file");
  EXPECT_EQ(cs.host_config["AutoRemove"], true);
}

TEST(ContainerSpec, DockerPyComposeBody) {
  json body = {
      {"Tty", false},
      {"OpenStdin", false},
      {"Env", {"DB_MODE=dev", "POSTGRES_PASSWORD=example"}},
      {"Cmd", {"sh", "-c", "sleep 1"}},
      {"Image", "busybox"},
      {"Volumes", {{"/data", json::object()}}},
      {"NetworkDisabled", false},
      {"ExposedPorts", {{"80/tcp", json::object()}}},
      {"Entrypoint", {"sh", "-c"}},
      {"HostConfig",
       {{"NetworkMode", "rsproj_backend"},
        {"RestartPolicy", {{"Name", "unless-stopped"}, {"MaximumRetryCount", 0}}},
        {"VolumesFrom", json::array()},
        {"Binds", {"/home/user/proj/app:/srv:ro"}},
        {"PortBindings", {{"80/tcp", {{{"HostIp", ""}, {"HostPort", "8081"}}}}}},
        {"Links", json::array()},
        {"LogConfig", {{"Type", ""}, {"Config", json::object()}}}}},
      {"NetworkingConfig", {{"EndpointsConfig", {{"rsproj_backend", {{"Aliases", {"db"}}}}}}}},
      {"Labels", {{"com.docker.compose.project", "rsproj"}}},
      {"Healthcheck",
       {{"Test", {"CMD", "test", "-f", "/data/ready"}},
        {"Interval", 1000000000},
        {"Timeout", 1000000000},
        {"Retries", 5},
        {"StartPeriod", nullptr}}}};
  json image = {{"Cmd", {"sh"}}, {"Labels", {{"maintainer", "x"}}}};
  ContainerSpec cs = BuildContainerSpec(Input(body, image));
  EXPECT_EQ(cs.spec["process"]["args"], json({"sh", "-c", "sh", "-c", "sleep 1"}));
  EXPECT_EQ(cs.config["Labels"],
            json({{"maintainer", "x"}, {"com.docker.compose.project", "rsproj"}}));
  EXPECT_EQ(cs.config["ExposedPorts"], json({{"80/tcp", json::object()}}));
  EXPECT_EQ(cs.config["Healthcheck"]["Retries"], 5);
  EXPECT_TRUE(HasNamespace(cs.spec, "network"));
  const json* srv = Mount(cs.spec, "/srv");
  ASSERT_NE(srv, nullptr);
  EXPECT_EQ((*srv)["source"], "/home/user/proj/app");
  EXPECT_EQ((*srv)["options"], json({"rbind", "ro", "rprivate", "idmap"}));
  EXPECT_EQ(cs.host_config["RestartPolicy"]["Name"], "unless-stopped");
  EXPECT_NO_THROW(oci::ParseSpec(cs.spec.dump()));
}

// docker-py's ContainerConfig sends every field it knows, unset ones as null.
TEST(ContainerSpec, DockerPyNulls) {
  json body = json::parse(R"({"Hostname": null, "Domainname": null, "ExposedPorts": null,
      "User": null, "Tty": false, "OpenStdin": false, "StdinOnce": false, "AttachStdin": false,
      "AttachStdout": false, "AttachStderr": false, "Env": null, "Cmd": ["echo", "hi"],
      "Image": "busybox", "Volumes": null, "NetworkDisabled": false, "Entrypoint": null,
      "WorkingDir": null, "MacAddress": null, "Labels": null,
      "StopSignal": null, "Healthcheck": null, "StopTimeout": null, "Runtime": null,
      "HostConfig": {"NetworkMode": "default"}, "NetworkingConfig": null})");
  ContainerSpec cs =
      BuildContainerSpec(Input(body, json{{"Cmd", {"sh"}}, {"StopSignal", "SIGQUIT"}}));
  EXPECT_EQ(cs.spec["process"]["args"], json({"echo", "hi"}));
  EXPECT_EQ(cs.config["StopSignal"], "SIGQUIT");
  EXPECT_FALSE(cs.config.contains("Healthcheck"));
  EXPECT_FALSE(cs.config.contains("StopTimeout"));
  EXPECT_EQ(cs.config["Labels"], json::object());
  EXPECT_EQ(cs.host_config["RestartPolicy"], json({{"Name", ""}, {"MaximumRetryCount", 0}}));
  EXPECT_NO_THROW(oci::ParseSpec(cs.spec.dump()));
  EXPECT_NO_THROW(BuildContainerSpec(Input({{"Cmd", {"true"}}, {"HostConfig", nullptr}})));
}

TEST(ContainerSpec, CmdEntrypointMerge) {
  json image = {{"Entrypoint", {"/entry.sh"}}, {"Cmd", {"serve"}}};
  auto args = [&](json body) {
    return BuildContainerSpec(Input(body, image)).spec["process"]["args"];
  };
  EXPECT_EQ(args(json::object()), json({"/entry.sh", "serve"}));
  EXPECT_EQ(args({{"Cmd", {"debug"}}}), json({"/entry.sh", "debug"}));
  EXPECT_EQ(args({{"Entrypoint", {"/bin/sh"}}}), json({"/bin/sh"})) << "image Cmd dropped";
  EXPECT_EQ(args({{"Entrypoint", {"/bin/sh"}}, {"Cmd", {"-c", "x"}}}),
            json({"/bin/sh", "-c", "x"}));
  EXPECT_EQ(args({{"Entrypoint", {""}}, {"Cmd", {"ls"}}}), json({"ls"}));
  EXPECT_EQ(args({{"Entrypoint", "/one"}}), json({"/one"})) << "a string is a one-element slice";
  try {
    BuildContainerSpec(Input({{"Entrypoint", {""}}}, image));
    FAIL() << "expected No command specified";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
    EXPECT_STREQ(e.what(), "No command specified");
  }
  EXPECT_THROW(BuildContainerSpec(Input(json::object(), json())), Error);
}

TEST(ContainerSpec, EnvWorkdirUserHostname) {
  json image = {{"Env", {"PATH=/img", "A=1", "B=2"}},
                {"Cmd", {"sh"}},
                {"WorkingDir", "/app"},
                {"User", "1000:1000"}};
  json body = {{"Env", {"A=override", "C=3", "B"}},
               {"Tty", true},
               {"Hostname", "web"},
               {"Domainname", "example.org"}};
  ContainerSpec cs = BuildContainerSpec(Input(body, image));
  EXPECT_EQ(cs.spec["process"]["env"],
            json({"PATH=/img", "HOSTNAME=web", "TERM=xterm", "A=override", "C=3"}));
  EXPECT_EQ(cs.config["Env"], json({"A=override", "C=3", "B", "PATH=/img"}))
      << "Docker's merge: the body's entries, then the image's the body does not name";
  EXPECT_EQ(cs.spec["process"]["cwd"], "/app");
  EXPECT_EQ(cs.spec["process"]["terminal"], true);
  EXPECT_EQ(cs.spec["process"]["user"], json({{"uid", 1000}, {"gid", 1000}}));
  EXPECT_EQ(cs.spec["hostname"], "web");
  EXPECT_EQ(cs.spec["domainname"], "example.org");
  EXPECT_FALSE(cs.needs_user_lookup);

  cs = BuildContainerSpec(Input({{"User", "nginx:www-data"}, {"WorkingDir", "/srv"}}, image));
  EXPECT_TRUE(cs.needs_user_lookup);
  EXPECT_EQ(cs.user_lookup.user, "nginx");
  EXPECT_EQ(cs.user_lookup.group, "www-data");
  EXPECT_EQ(cs.spec["process"]["user"]["uid"], 65534) << "an unresolved name is never root";
  EXPECT_EQ(cs.spec["process"]["cwd"], "/srv");
  ApplyResolvedUser(cs.spec, 101, 33, {4});
  EXPECT_EQ(cs.spec["process"]["user"], json({{"uid", 101}, {"gid", 33}, {"additionalGids", {4}}}));

  cs = WithHost({{"GroupAdd", {"10", "audio"}}}, {{"User", "1000"}});
  EXPECT_TRUE(cs.needs_user_lookup) << "a bare uid takes its gid from /etc/passwd";
  EXPECT_EQ(cs.user_lookup.groups, (std::vector<std::string>{"10", "audio"}));
  EXPECT_EQ(cs.spec["process"]["user"]["additionalGids"], json({10}));

  EXPECT_NE(ErrorOf({}, {{"User", "100000"}}).find("outside the container's user namespace"),
            std::string::npos);
  EXPECT_NE(ErrorOf({}, {{"WorkingDir", "rel"}}).find("WorkingDir"), std::string::npos);
}

TEST(ContainerSpec, MemoryAndCpu) {
  ContainerSpec cs = WithHost({{"Memory", 64 * 1024 * 1024},
                               {"MemoryReservation", 32 * 1024 * 1024},
                               {"NanoCpus", 1.5e9},
                               {"CpuShares", 512},
                               {"CpusetCpus", "0-1"}});
  const json& r = cs.spec["linux"]["resources"];
  EXPECT_EQ(r["memory"]["limit"], 64 * 1024 * 1024);
  EXPECT_EQ(r["memory"]["reservation"], 32 * 1024 * 1024);
  EXPECT_EQ(r["memory"]["swap"], 128 * 1024 * 1024) << "Docker's default swap = 2 x memory";
  EXPECT_EQ(r["cpu"]["quota"], 150000);
  EXPECT_EQ(r["cpu"]["period"], 100000);
  EXPECT_EQ(r["cpu"]["shares"], 512);
  EXPECT_EQ(r["cpu"]["cpus"], "0-1");

  cs = WithHost({{"Memory", 64 * 1024 * 1024},
                 {"MemorySwap", -1},
                 {"CpuQuota", 50000},
                 {"CpuPeriod", 100000}});
  EXPECT_EQ(cs.spec["linux"]["resources"]["memory"]["swap"], -1);
  EXPECT_EQ(cs.spec["linux"]["resources"]["cpu"]["quota"], 50000);
  EXPECT_NO_THROW(oci::ParseSpec(cs.spec.dump()));

  EXPECT_NE(ErrorOf({{"Memory", -1}}).find("HostConfig.Memory: must not be negative"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"Memory", 1024}}).find("Minimum memory limit"), std::string::npos);
  EXPECT_NE(ErrorOf({{"NanoCpus", 1e9}, {"CpuPeriod", 100000}}).find("Conflicting options"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"MemorySwap", 1 << 30}}).find("HostConfig.MemorySwap"), std::string::npos);
}

TEST(ContainerSpec, PidsLimit) {
  EXPECT_EQ(WithHost({{"PidsLimit", nullptr}}).spec["linux"]["resources"]["pids"]["limit"], 4096);
  EXPECT_EQ(WithHost({{"PidsLimit", 100}}).spec["linux"]["resources"]["pids"]["limit"], 100);
  EXPECT_FALSE(WithHost({{"PidsLimit", -1}}).spec["linux"]["resources"].contains("pids"));
}

std::vector<std::string> Caps(const ContainerSpec& cs) {
  return cs.spec["process"]["capabilities"]["bounding"];
}

TEST(ContainerSpec, Capabilities) {
  ContainerSpec cs = WithHost({{"CapDrop", {"ALL"}}, {"CapAdd", {"NET_BIND_SERVICE"}}});
  EXPECT_EQ(Caps(cs), std::vector<std::string>{"CAP_NET_BIND_SERVICE"});
  EXPECT_EQ(cs.spec["process"]["capabilities"]["effective"], json({"CAP_NET_BIND_SERVICE"}));
  EXPECT_EQ(cs.spec["linux"]["seccomp"], oci::DefaultSeccomp({"CAP_NET_BIND_SERVICE"}));

  cs = WithHost({{"CapAdd", {"cap_sys_ptrace", "NET_ADMIN"}}, {"CapDrop", {"CHOWN"}}});
  auto caps = Caps(cs);
  EXPECT_TRUE(std::count(caps.begin(), caps.end(), "CAP_SYS_PTRACE"));
  EXPECT_TRUE(std::count(caps.begin(), caps.end(), "CAP_NET_ADMIN"));
  EXPECT_FALSE(std::count(caps.begin(), caps.end(), "CAP_CHOWN"));
  EXPECT_TRUE(std::count(caps.begin(), caps.end(), "CAP_KILL"));
  EXPECT_EQ(cs.spec["linux"]["seccomp"], oci::DefaultSeccomp(caps))
      << "the seccomp profile follows the final capability set";

  cs = WithHost({{"CapAdd", {"ALL"}}, {"CapDrop", {"SYS_ADMIN"}}});
  EXPECT_EQ(Caps(cs).size(), oci::KnownCapabilities().size() - 1);

  EXPECT_EQ(ErrorOf({{"CapAdd", {"FOO"}}}),
            "invalid argument: HostConfig.CapAdd: unknown capability: \"CAP_FOO\"");
}

TEST(ContainerSpec, Privileged) {
  ContainerSpec cs = WithHost({{"Privileged", true}});
  const json& s = cs.spec;
  EXPECT_EQ(Caps(cs), oci::KnownCapabilities());
  EXPECT_FALSE(s["linux"].contains("seccomp"));
  EXPECT_TRUE(s["linux"]["maskedPaths"].empty());
  EXPECT_TRUE(s["linux"]["readonlyPaths"].empty());
  EXPECT_EQ(s["linux"]["resources"]["devices"], json({{{"allow", true}, {"access", "rwm"}}}));
  EXPECT_TRUE(cs.all_host_devices);
  EXPECT_EQ((*Mount(s, "/sys"))["options"].back(), "rw");
  EXPECT_TRUE(HasNamespace(s, "user")) << "privileged keeps the user namespace";
  EXPECT_EQ(cs.warnings.size(), 1u);
  EXPECT_NO_THROW(oci::ParseSpec(s.dump()));

  cs = WithHost({{"Privileged", true}, {"UsernsMode", "host"}});
  EXPECT_FALSE(HasNamespace(cs.spec, "user"));
  EXPECT_TRUE(cs.warnings.empty());
}

TEST(ContainerSpec, UsernsHostAndNamespaceModes) {
  ContainerSpec cs = WithHost({{"UsernsMode", "host"}});
  EXPECT_FALSE(HasNamespace(cs.spec, "user"));
  EXPECT_FALSE(cs.spec["linux"].contains("uidMappings"));
  EXPECT_FALSE(cs.spec.contains("annotations") &&
               cs.spec["annotations"].contains("org.berth.rootfs.idmap"));
  EXPECT_NO_THROW(oci::ParseSpec(cs.spec.dump()));

  cs = WithHost({{"NetworkMode", "host"}, {"IpcMode", "host"}, {"UTSMode", "host"}});
  EXPECT_FALSE(HasNamespace(cs.spec, "network"));
  EXPECT_FALSE(HasNamespace(cs.spec, "ipc"));
  EXPECT_FALSE(HasNamespace(cs.spec, "uts"));
  EXPECT_FALSE(cs.spec.contains("hostname"));
  for (const auto& e : cs.spec["process"]["env"]) {
    EXPECT_NE(e.get<std::string>().rfind("HOSTNAME=", 0), 0u) << "not the container's id";
  }
  EXPECT_EQ((*Mount(cs.spec, "/sys"))["type"], "bind");
  EXPECT_EQ((*Mount(cs.spec, "/dev/shm"))["source"], "/dev/shm");
  EXPECT_NO_THROW(oci::ParseSpec(cs.spec.dump()));

  EXPECT_TRUE(HasNamespace(WithHost({{"NetworkMode", "none"}}).spec, "network"));
  cs = WithHost({{"PidMode", "host"}, {"UsernsMode", "host"}});
  EXPECT_FALSE(HasNamespace(cs.spec, "pid"));
  EXPECT_NE(ErrorOf({{"PidMode", "host"}}).find("user namespaces"), std::string::npos);
  EXPECT_EQ(ErrorOf({{"PidMode", "container:abc"}}).rfind("not implemented", 0), 0u);
  EXPECT_NE(ErrorOf({{"UTSMode", "host"}}, {{"Hostname", "x"}}).find("HostConfig.UTSMode"),
            std::string::npos);
}

TEST(ContainerSpec, BindsTmpfsShm) {
  ContainerSpec cs =
      WithHost({{"Binds", {"/data:/data", "/etc/cfg:/cfg/:rw,rshared,z"}},
                {"Tmpfs", {{"/run", "rw,size=64m,exec"}, {"/mnt/a", "rshared,size=1m,size=2m"}}},
                {"ShmSize", 1 << 20}});
  const json& s = cs.spec;
  // Id-mapped under the container's user namespace: host ids show as they are on disk.
  EXPECT_EQ((*Mount(s, "/data"))["options"], json({"rbind", "rw", "rprivate", "idmap"}));
  EXPECT_EQ((*Mount(s, "/cfg"))["options"], json({"rbind", "rw", "rshared", "idmap"}));
  EXPECT_EQ((*Mount(s, "/run"))["options"],
            json({"nosuid", "nodev", "rprivate", "rw", "exec", "size=64m"}));
  EXPECT_EQ((*Mount(s, "/mnt/a"))["options"],
            json({"noexec", "nosuid", "nodev", "rshared", "size=2m"}));
  EXPECT_EQ((*Mount(s, "/dev/shm"))["options"].back(), "size=1048576");
  EXPECT_NO_THROW(oci::ParseSpec(s.dump()));

  cs = WithHost({{"Tmpfs", {{"/dev/shm", ""}}}});
  EXPECT_EQ((*Mount(cs.spec, "/dev/shm"))["options"],
            json({"noexec", "nosuid", "nodev", "rprivate"}))
      << "a user mount replaces the default one";

  EXPECT_NE(ErrorOf({{"Binds", {"/a:relative"}}}).find("invalid mount config"), std::string::npos);
  EXPECT_NE(ErrorOf({{"Binds", {"/a:/b:ro,rw"}}}).find("HostConfig.Binds"), std::string::npos);
  EXPECT_NE(ErrorOf({{"Binds", {"/a:/b:c:d"}}}).find("too many colons"), std::string::npos);
  EXPECT_NE(ErrorOf({{"Binds", {"/a:/x", "/b:/x"}}}).find("Duplicate mount point"),
            std::string::npos);
  // A volume is validated; it is mounted once the volume service has named it.
  EXPECT_EQ(Mount(WithHost({{"Binds", {"vol:/data:rw"}}}).spec, "/data"), nullptr);
  EXPECT_NE(ErrorOf({{"Binds", {"a/b:/data"}}}).find("invalid characters"), std::string::npos);
  EXPECT_NE(ErrorOf({{"Binds", {"/a:/x"}}, {"Tmpfs", {{"/x", ""}}}}).find("Duplicate mount point"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"Tmpfs", {{"/run", "bogus"}}}}).find("HostConfig.Tmpfs./run"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"ShmSize", -1}}).find("HostConfig.ShmSize"), std::string::npos);
}

TEST(ContainerSpec, UlimitsSysctlsOomReadonly) {
  ContainerSpec cs = WithHost({{"Ulimits",
                                {{{"Name", "nofile"}, {"Soft", 2048}, {"Hard", 4096}},
                                 {{"Name", "core"}, {"Soft", -1}, {"Hard", -1}}}},
                               {"Sysctls", {{"net.ipv4.ip_forward", "1"}}},
                               {"OomScoreAdj", 500},
                               {"ReadonlyRootfs", true}});
  const json& s = cs.spec;
  EXPECT_EQ(s["process"]["rlimits"][0],
            json({{"type", "RLIMIT_NOFILE"}, {"hard", 4096}, {"soft", 2048}}));
  EXPECT_EQ(s["process"]["rlimits"][1]["type"], "RLIMIT_CORE");
  EXPECT_EQ(s["process"]["rlimits"][1]["hard"], UINT64_MAX);
  EXPECT_EQ(s["linux"]["sysctl"]["net.ipv4.ip_forward"], "1");
  EXPECT_EQ(s["process"]["oomScoreAdj"], 500);
  EXPECT_EQ(s["root"]["readonly"], true);
  EXPECT_NO_THROW(oci::ParseSpec(s.dump()));

  EXPECT_NE(ErrorOf({{"Ulimits", {{{"Name", "bogus"}, {"Soft", 1}, {"Hard", 1}}}}})
                .find("invalid ulimit type"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"Ulimits", {{{"Name", "nofile"}, {"Soft", 2}, {"Hard", 1}}}}})
                .find("HostConfig.Ulimits.nofile"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"Sysctls", {{"kernel.panic", "1"}}}}).find("not whitelisted"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"Sysctls", {{"net.core.somaxconn", "1"}}}, {"NetworkMode", "host"}})
                .find("HostConfig.Sysctls"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"OomScoreAdj", 2000}}).find("HostConfig.OomScoreAdj"), std::string::npos);
}

TEST(ContainerSpec, SecurityOpt) {
  ContainerSpec cs = WithHost({{"SecurityOpt", {"seccomp=unconfined"}}});
  EXPECT_FALSE(cs.spec["linux"].contains("seccomp"));
  EXPECT_EQ(cs.spec["process"]["noNewPrivileges"], true);

  json profile = {
      {"defaultAction", "SCMP_ACT_ERRNO"},
      {"archMap",
       {{{"architecture", "SCMP_ARCH_X86_64"}, {"subArchitectures", {"SCMP_ARCH_X86"}}},
        {{"architecture", "SCMP_ARCH_AARCH64"}, {"subArchitectures", {"SCMP_ARCH_ARM"}}}}},
      {"syscalls",
       {{{"names", {"read", "write", "exit_group"}}, {"action", "SCMP_ACT_ALLOW"}},
        {{"names", {"mount"}},
         {"action", "SCMP_ACT_ALLOW"},
         {"includes", {{"caps", {"CAP_SYS_ADMIN"}}}}}}}};
  cs = WithHost({{"SecurityOpt", {"seccomp=" + profile.dump(), "no-new-privileges:false"}}});
  const json& sc = cs.spec["linux"]["seccomp"];
  EXPECT_EQ(sc["defaultAction"], "SCMP_ACT_ERRNO");
  ASSERT_EQ(sc["syscalls"].size(), 1u) << "mount needs CAP_SYS_ADMIN, which is not held";
  EXPECT_EQ(sc["syscalls"][0]["names"], json({"read", "write", "exit_group"}));
  EXPECT_EQ(sc["architectures"].size(), 2u);
  EXPECT_EQ(cs.spec["process"]["noNewPrivileges"], false);
  EXPECT_NO_THROW(oci::ParseSpec(cs.spec.dump()));

  cs = WithHost(
      {{"SecurityOpt",
        {"apparmor=docker-default", "label=type:svirt_t", "label=disable", "no-new-privileges"}}});
  EXPECT_EQ(cs.warnings.size(), 2u);

  EXPECT_EQ(ErrorOf({{"SecurityOpt", {"bogus=1"}}}),
            "invalid argument: HostConfig.SecurityOpt: invalid --security-opt: \"bogus=1\"");
  EXPECT_NE(ErrorOf({{"SecurityOpt", {"no-new-privileges=maybe"}}}).find("invalid --security-opt"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"SecurityOpt", {"seccomp={not json"}}}).find("seccomp"), std::string::npos);
}

TEST(ContainerSpec, LogRestartDevicesInit) {
  EXPECT_NE(ErrorOf({{"LogConfig", {{"Type", "syslog"}, {"Config", json::object()}}}})
                .find("HostConfig.LogConfig.Type"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"RestartPolicy", {{"Name", "always"}, {"MaximumRetryCount", 0}}}})
                .find("AutoRemove"),
            std::string::npos);
  EXPECT_NE(ErrorOf({{"RestartPolicy", {{"Name", "sometimes"}}}, {"AutoRemove", false}})
                .find("HostConfig.RestartPolicy.Name"),
            std::string::npos);

  ContainerSpec cs = WithHost(
      {{"Devices",
        {{{"PathOnHost", "/dev/fuse"}, {"PathInContainer", ""}, {"CgroupPermissions", "rwm"}}}},
       {"Init", true}});
  ASSERT_EQ(cs.devices.size(), 1u);
  EXPECT_EQ(cs.devices[0].path_in_container, "/dev/fuse");
  EXPECT_TRUE(cs.init);
  AddDevice(cs.spec, cs.devices[0], 'c', 10, 229, 0666);
  EXPECT_EQ(cs.spec["linux"]["devices"][0]["major"], 10);
  EXPECT_EQ(cs.spec["linux"]["resources"]["devices"].back()["allow"], true);
  EXPECT_NO_THROW(oci::ParseSpec(cs.spec.dump()));
  EXPECT_EQ(ErrorOf({{"DeviceCgroupRules", {"c 1:3 mr"}}}).rfind("not implemented", 0), 0u);
  EXPECT_EQ(
      WithHost({{"BlkioDeviceReadBps", {{{"Path", "/dev/sda"}, {"Rate", 1}}}}}).warnings.size(),
      1u);
  EXPECT_NE(ErrorOf({{"Devices", {{{"PathOnHost", "/dev/fuse"}, {"CgroupPermissions", "x"}}}}})
                .find("HostConfig.Devices"),
            std::string::npos);
}

}  // namespace
}  // namespace berth::engine

#include "cli/container_opts.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

#include "base/error.h"

namespace berth::cli {
namespace {

using nlohmann::json;

// Parses a `run` command line the way berth does and returns the create body.
json Body(const std::string& line, bool detach = false) {
  CLI::App app;
  ContainerOptions o;
  AddContainerFlags(&app, o);
  app.parse(line, false);
  return CreateBody(o, app.remaining(), detach);
}

std::string TempFile(const std::string& text) {
  char path[] = "/tmp/berth-opts-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  return path;
}

TEST(CreateBody, DefaultsAreThe2010CliShape) {
  json b = Body("busybox echo hi");
  EXPECT_EQ(b["Image"], "busybox");
  EXPECT_EQ(b["Cmd"], json({"echo", "hi"}));
  EXPECT_TRUE(b["Env"].is_null());
  EXPECT_TRUE(b["Entrypoint"].is_null());
  EXPECT_EQ(b["AttachStdout"], true);
  EXPECT_EQ(b["AttachStdin"], false);
  EXPECT_EQ(b["HostConfig"]["NetworkMode"], "default");
  EXPECT_EQ(b["HostConfig"]["MemorySwappiness"], -1);
  EXPECT_EQ(b["HostConfig"]["RestartPolicy"]["Name"], "no");
  EXPECT_EQ(b["NetworkingConfig"], json({{"EndpointsConfig", json::object()}}));
  EXPECT_TRUE(Body("busybox")["Cmd"].is_null());
}

TEST(CreateBody, CommandFlagsStayTheCommands) {
  // Everything after the image belongs to the container, -l and -e included.
  json b = Body("-e A=1 busybox ls -l -e");
  EXPECT_EQ(b["Cmd"], json({"ls", "-l", "-e"}));
  EXPECT_EQ(b["Env"], json({"A=1"}));
  EXPECT_EQ(b["Labels"], json::object());
}

TEST(CreateBody, Resources) {
  json h = Body(
      "--cpus 1.5 -m 64m --memory-swap -1 --memory-reservation 32m --cpu-shares 512 "
      "--cpu-quota 50000 --cpu-period 100000 --cpuset-cpus 0-1 --pids-limit 100 "
      "--shm-size 1g --oom-score-adj 500 busybox")["HostConfig"];
  EXPECT_EQ(h["NanoCpus"], 1500000000);
  EXPECT_EQ(h["Memory"], 64 << 20);
  EXPECT_EQ(h["MemorySwap"], -1);
  EXPECT_EQ(h["MemoryReservation"], 32 << 20);
  EXPECT_EQ(h["CpuShares"], 512);
  EXPECT_EQ(h["CpuQuota"], 50000);
  EXPECT_EQ(h["CpuPeriod"], 100000);
  EXPECT_EQ(h["CpusetCpus"], "0-1");
  EXPECT_EQ(h["PidsLimit"], 100);
  EXPECT_EQ(h["ShmSize"], int64_t{1} << 30);
  EXPECT_EQ(h["OomScoreAdj"], 500);
  EXPECT_EQ(ParseCpus("0.000000001"), 1);
  EXPECT_THROW(ParseCpus("0.0000000001"), Error);
  EXPECT_THROW(Body("--cpus x busybox"), Error);
  EXPECT_THROW(Body("-m 12q busybox"), Error);
  EXPECT_THROW(Body("--oom-score-adj 1001 busybox"), Error);
}

TEST(CreateBody, UlimitTmpfsDevice) {
  json h = Body(
      "--ulimit nofile=10:20 --ulimit nproc=5 --tmpfs /run:size=1m --tmpfs /tmp "
      "--device /dev/fuse --device /dev/a:/dev/b:r --device /dev/c:rw busybox")["HostConfig"];
  EXPECT_EQ(h["Ulimits"], json::parse(R"([{"Name":"nofile","Hard":20,"Soft":10},
                                          {"Name":"nproc","Hard":5,"Soft":5}])"));
  EXPECT_EQ(h["Tmpfs"], json({{"/run", "size=1m"}, {"/tmp", ""}}));
  EXPECT_EQ(h["Devices"], json::parse(R"([
    {"PathOnHost":"/dev/fuse","PathInContainer":"/dev/fuse","CgroupPermissions":"rwm"},
    {"PathOnHost":"/dev/a","PathInContainer":"/dev/b","CgroupPermissions":"r"},
    {"PathOnHost":"/dev/c","PathInContainer":"/dev/c","CgroupPermissions":"rw"}])"));
  EXPECT_THROW(ParseUlimit("nofile=20:10"), Error);
  EXPECT_THROW(ParseUlimit("bogus=1"), Error);
  EXPECT_THROW(ParseUlimit("nofile"), Error);
}

TEST(CreateBody, EnvFromTheEnvironmentAndFiles) {
  setenv("BERTH_OPTS_TEST", "from env", 1);
  unsetenv("BERTH_OPTS_UNSET");
  std::string file =
      TempFile("# comment\n\nF=1\n  G=two words\nBERTH_OPTS_TEST\nBERTH_OPTS_UNSET\n");
  json b = Body("--env-file " + file + " -e BERTH_OPTS_TEST -e BERTH_OPTS_UNSET -e X= busybox");
  EXPECT_EQ(b["Env"], json({"F=1", "G=two words", "BERTH_OPTS_TEST=from env",
                            "BERTH_OPTS_TEST=from env", "BERTH_OPTS_UNSET", "X="}));
  unlink(file.c_str());
  EXPECT_THROW(Body("-e =x busybox"), Error);
  std::string bad = TempFile("A B=1\n");
  EXPECT_THROW(Body("--env-file " + bad + " busybox"), Error);
  unlink(bad.c_str());
}

TEST(CreateBody, LabelsAndMore) {
  std::string file = TempFile("from=file\nbare\n");
  json b = Body("--label-file " + file +
                " -l a=b --label from=flag --name n -w /w -u 1:2 "
                "--entrypoint /bin/sh --hostname h --domainname d --read-only --init --privileged "
                "--cap-add NET_ADMIN --cap-drop ALL --security-opt no-new-privileges "
                "--network none --stop-signal SIGINT --stop-timeout 3 --log-driver json-file "
                "--log-opt max-size=1m --sysctl net.core.somaxconn=1024 --group-add 10 "
                "--userns host --pid host --ipc private --uts host -v /src:/dst:ro -v /anon "
                "--restart on-failure:3 busybox");
  unlink(file.c_str());
  EXPECT_EQ(b["Labels"], json({{"from", "flag"}, {"bare", ""}, {"a", "b"}}));
  EXPECT_EQ(b["WorkingDir"], "/w");
  EXPECT_EQ(b["User"], "1:2");
  EXPECT_EQ(b["Entrypoint"], json({"/bin/sh"}));
  EXPECT_EQ(b["Hostname"], "h");
  EXPECT_EQ(b["Domainname"], "d");
  EXPECT_EQ(b["StopSignal"], "SIGINT");
  EXPECT_EQ(b["StopTimeout"], 3);
  EXPECT_EQ(b["Volumes"], json({{"/anon", json::object()}}));
  const json& h = b["HostConfig"];
  EXPECT_EQ(h["ReadonlyRootfs"], true);
  EXPECT_EQ(h["Init"], true);
  EXPECT_EQ(h["Privileged"], true);
  EXPECT_EQ(h["CapAdd"], json({"NET_ADMIN"}));
  EXPECT_EQ(h["CapDrop"], json({"ALL"}));
  EXPECT_EQ(h["SecurityOpt"], json({"no-new-privileges"}));
  EXPECT_EQ(h["NetworkMode"], "none");
  EXPECT_EQ(h["LogConfig"], json({{"Type", "json-file"}, {"Config", {{"max-size", "1m"}}}}));
  EXPECT_EQ(h["Sysctls"], json({{"net.core.somaxconn", "1024"}}));
  EXPECT_EQ(h["GroupAdd"], json({"10"}));
  EXPECT_EQ(h["UsernsMode"], "host");
  EXPECT_EQ(h["PidMode"], "host");
  EXPECT_EQ(h["IpcMode"], "private");
  EXPECT_EQ(h["UTSMode"], "host");
  EXPECT_EQ(h["Binds"], json({"/src:/dst:ro"}));
  EXPECT_EQ(h["RestartPolicy"], json({{"Name", "on-failure"}, {"MaximumRetryCount", 3}}));
  EXPECT_THROW(Body("--rm --restart always busybox"), Error);
  // --entrypoint "" resets the image's entrypoint.
  CLI::App app;
  ContainerOptions o;
  AddContainerFlags(&app, o);
  std::vector<std::string> reversed = {"busybox", "", "--entrypoint"};
  app.parse(reversed);
  EXPECT_EQ(CreateBody(o, app.remaining(), false)["Entrypoint"], json({""}));
}

TEST(CreateBody, SeccompProfileTravelsInline) {
  std::string file = TempFile("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n");
  json b = Body("--security-opt seccomp=" + file + " busybox");
  unlink(file.c_str());
  EXPECT_EQ(b["HostConfig"]["SecurityOpt"],
            json({R"(seccomp={"defaultAction":"SCMP_ACT_ALLOW"})"}));
  EXPECT_EQ(Body("--security-opt seccomp=unconfined busybox")["HostConfig"]["SecurityOpt"],
            json({"seccomp=unconfined"}));
  EXPECT_THROW(Body("--security-opt bogus busybox"), Error);
}

TEST(CreateBody, InteractiveAndDetached) {
  json b = Body("-i -t busybox sh");
  EXPECT_EQ(b["AttachStdin"], true);
  EXPECT_EQ(b["OpenStdin"], true);
  EXPECT_EQ(b["StdinOnce"], true);
  EXPECT_EQ(b["Tty"], true);
  json d = Body("-i --rm busybox sh", true);
  EXPECT_EQ(d["AttachStdin"], false);
  EXPECT_EQ(d["AttachStdout"], false);
  EXPECT_EQ(d["AttachStderr"], false);
  EXPECT_EQ(d["OpenStdin"], true);
  EXPECT_EQ(d["StdinOnce"], false);
  EXPECT_EQ(d["HostConfig"]["AutoRemove"], true);
}

TEST(UpdateBody, OnlyTheFlagsGiven) {
  CLI::App app;
  UpdateOptions o;
  AddUpdateFlags(&app, o);
  app.parse("--memory 64m --cpus 0.5 --pids-limit 10", false);
  EXPECT_EQ(UpdateBody(o),
            json({{"Memory", 64 << 20}, {"NanoCpus", 500000000}, {"PidsLimit", 10}}));
  EXPECT_THROW(UpdateBody(UpdateOptions{}), Error);
}

TEST(CreateBody, HealthFlags) {
  EXPECT_FALSE(Body("busybox").contains("Healthcheck"));
  EXPECT_EQ(Body("--health-cmd 'test -e /ok' --health-interval 1m30s --health-timeout 5s "
                 "--health-start-period 100ms --health-start-interval 1s --health-retries 4 "
                 "busybox")["Healthcheck"],
            json({{"Test", {"CMD-SHELL", "test -e /ok"}},
                  {"Interval", 90000000000},
                  {"Timeout", 5000000000},
                  {"StartPeriod", 100000000},
                  {"StartInterval", 1000000000},
                  {"Retries", 4}}));
  // Settings without a command keep the image's probe (no Test).
  EXPECT_EQ(Body("--health-interval 2s busybox")["Healthcheck"], json({{"Interval", 2000000000}}));
  EXPECT_EQ(Body("--no-healthcheck busybox")["Healthcheck"], json({{"Test", {"NONE"}}}));
  auto refused = [](const std::string& line) {
    try {
      Body(line);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refused("--no-healthcheck --health-cmd true busybox"),
            "--no-healthcheck conflicts with --health-* options");
  EXPECT_EQ(refused("--health-retries -1 busybox"), "--health-retries cannot be negative");
  EXPECT_EQ(refused("--health-interval=-1s busybox"), "--health-interval cannot be negative");
  EXPECT_NE(refused("--health-timeout 5x busybox").find("invalid duration"), std::string::npos);
}

}  // namespace
}  // namespace berth::cli

namespace berth::cli {
namespace {

std::string MountError(const std::string& text) {
  try {
    ParseMountOpt(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(MountOpt, TheDockerCliShapes) {
  EXPECT_EQ(ParseMountOpt("type=bind,source=/srv,target=/srv,readonly,bind-propagation=rshared"),
            json({{"Type", "bind"},
                  {"Source", "/srv"},
                  {"Target", "/srv"},
                  {"ReadOnly", true},
                  {"BindOptions", {{"Propagation", "rshared"}}}}));
  // volume is the default type
  EXPECT_EQ(
      ParseMountOpt("src=data,dst=/data,volume-nocopy,volume-label=a=b,volume-opt=type=tmpfs,"
                    "volume-opt=device=tmpfs,volume-driver=local"),
      json({{"Type", "volume"},
            {"Source", "data"},
            {"Target", "/data"},
            {"VolumeOptions",
             {{"NoCopy", true},
              {"Labels", {{"a", "b"}}},
              {"DriverConfig",
               {{"Name", "local"}, {"Options", {{"type", "tmpfs"}, {"device", "tmpfs"}}}}}}}}));
  EXPECT_EQ(ParseMountOpt("type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1770"),
            json({{"Type", "tmpfs"},
                  {"Source", ""},
                  {"Target", "/t"},
                  {"TmpfsOptions", {{"SizeBytes", 64 << 20}, {"Mode", 01770}}}}));
  EXPECT_EQ(ParseMountOpt("type=bind,src=/a,dst=/b,ro=false,bind-nonrecursive")["BindOptions"],
            json({{"NonRecursive", true}}));
  EXPECT_EQ(ParseMountOpt("type=volume,dst=/x,ro=1")["ReadOnly"], true);
  // A CSV field may be quoted (a comma in a value).
  EXPECT_EQ(
      ParseMountOpt(
          "type=volume,\"volume-opt=o=size=1m,uid=1\",dst=/x")["VolumeOptions"]["DriverConfig"]
                                                              ["Options"]["o"],
      "size=1m,uid=1");
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  EXPECT_EQ(ParseMountOpt("type=bind,src=./d,dst=/d")["Source"], std::string(cwd) + "/d");
}

TEST(MountOpt, DockersErrors) {
  EXPECT_NE(MountError("type=bind,src=/a").find("target is required"), std::string::npos);
  EXPECT_NE(MountError("type=bind,src=/a,dst=/b,bogus=1").find("unexpected key 'bogus'"),
            std::string::npos);
  EXPECT_NE(MountError("type=bind,src=/a,dst=/b,lonely").find("must be a key=value pair"),
            std::string::npos);
  EXPECT_NE(MountError("type=bind,src=/a,dst=/b,volume-nocopy").find("cannot mix 'volume-*'"),
            std::string::npos);
  EXPECT_NE(MountError("type=volume,dst=/b,bind-propagation=shared").find("cannot mix 'bind-*'"),
            std::string::npos);
  EXPECT_NE(MountError("type=volume,dst=/b,tmpfs-size=1m").find("cannot mix 'tmpfs-*'"),
            std::string::npos);
  EXPECT_NE(MountError("type=tmpfs,dst=/b,tmpfs-mode=999").find("invalid value for tmpfs-mode"),
            std::string::npos);
  EXPECT_NE(MountError("type=tmpfs,dst=/b,tmpfs-size=lots").find("invalid value for tmpfs-size"),
            std::string::npos);
  EXPECT_NE(MountError("type=bind,dst=/b,ro=maybe").find("invalid value for ro"),
            std::string::npos);
  EXPECT_NE(MountError("type=bind,dst=/b,ro=maybe").find("for \"--mount\" flag"),
            std::string::npos);
}

TEST(CreateBody, VolumesMountsAndVolumesFrom) {
  json b = Body(
      "-v /anon -v data:/data:ro -v /h:/c --mount type=tmpfs,dst=/t --volumes-from "
      "web:ro --volumes-from db busybox");
  EXPECT_EQ(b["Volumes"], json({{"/anon", json::object()}}));
  EXPECT_EQ(b["HostConfig"]["Binds"], json({"data:/data:ro", "/h:/c"}));
  EXPECT_EQ(b["HostConfig"]["VolumesFrom"], json({"web:ro", "db"}));
  ASSERT_EQ(b["HostConfig"]["Mounts"].size(), 1u);
  EXPECT_EQ(b["HostConfig"]["Mounts"][0]["Type"], "tmpfs");
  EXPECT_TRUE(Body("busybox")["HostConfig"]["VolumesFrom"].is_null());
  EXPECT_FALSE(Body("busybox")["HostConfig"].contains("Mounts"));
}

TEST(RestartPolicyFlag, Strings) {
  EXPECT_EQ(RestartPolicy(""), json({{"Name", "no"}, {"MaximumRetryCount", 0}}));
  EXPECT_EQ(RestartPolicy("always"), json({{"Name", "always"}, {"MaximumRetryCount", 0}}));
  EXPECT_EQ(RestartPolicy("unless-stopped")["Name"], "unless-stopped");
  EXPECT_EQ(RestartPolicy("on-failure:3"),
            json({{"Name", "on-failure"}, {"MaximumRetryCount", 3}}));
  EXPECT_THROW(RestartPolicy("sometimes"), Error);
  EXPECT_THROW(RestartPolicy("always:3"), Error);
  EXPECT_THROW(RestartPolicy("on-failure:x"), Error);
  EXPECT_THROW(Body("--rm --restart always busybox"), Error) << "Conflicting options";
  EXPECT_NO_THROW(Body("--rm --restart no busybox"));
}

}  // namespace
}  // namespace berth::cli

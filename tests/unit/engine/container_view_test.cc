// Expected strings from Docker 20.10 (container/state.go, container/view.go, daemon/list.go).

#include "engine/container_view.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

using nlohmann::json;

constexpr int64_t kS = 1'000'000'000;
// 2026-11-28T16:40:54Z
constexpr int64_t kT0 = 1795884054 * kS;

Container Sample() {
  Container c;
  c.id = std::string(64, 'a');
  c.name = "/web";
  c.image = "busybox";
  c.image_id = "sha256:" + std::string(64, 'b');
  c.created = "2026-11-28T16:40:54.246968785Z";
  c.path = "httpd";
  c.args = {"-f", "-p", "80"};
  c.config = {{"Image", "busybox"}, {"Labels", {{"tier", "web"}}}, {"Hostname", "aaaaaaaaaaaa"}};
  c.host_config = {{"NetworkMode", "none"},
                   {"Binds", {"/srv:/data:ro", "/tmp:/tmp"}},
                   {"Tmpfs", {{"/run", "size=64m"}}}};
  c.log_path = "/var/lib/berth/containers/aaa/aaa-json.log";
  return c;
}

Container Running() {
  Container c = Sample();
  c.state.status = ContainerStatus::kRunning;
  c.state.pid = 4242;
  c.state.started_at = "2026-11-28T16:40:54Z";
  return c;
}

TEST(StatusText, RunningUsesGoUnitsDurations) {
  const Container c = Running();
  EXPECT_EQ(StatusText(c, kT0), "Up Less than a second");
  EXPECT_EQ(StatusText(c, kT0 + kS / 2), "Up Less than a second");
  EXPECT_EQ(StatusText(c, kT0 + 1 * kS), "Up 1 second");
  EXPECT_EQ(StatusText(c, kT0 + 59 * kS), "Up 59 seconds");
  EXPECT_EQ(StatusText(c, kT0 + 60 * kS), "Up About a minute");
  EXPECT_EQ(StatusText(c, kT0 + 120 * kS), "Up 2 minutes");
  EXPECT_EQ(StatusText(c, kT0 + 3600 * kS), "Up About an hour");
  EXPECT_EQ(StatusText(c, kT0 + 2 * 86400 * kS), "Up 2 days");
}

TEST(StatusText, EveryState) {
  Container c = Sample();
  EXPECT_EQ(StatusText(c, kT0), "Created");
  c = Running();
  c.state.status = ContainerStatus::kPaused;
  EXPECT_EQ(StatusText(c, kT0 + 120 * kS), "Up 2 minutes (Paused)");
  c.state.status = ContainerStatus::kRestarting;
  c.state.exit_code = 1;
  c.state.finished_at = "2026-11-28T16:41:00Z";
  EXPECT_EQ(StatusText(c, kT0 + 11 * kS), "Restarting (1) 5 seconds ago");
  c.state.status = ContainerStatus::kExited;
  c.state.exit_code = 0;
  EXPECT_EQ(StatusText(c, kT0 + 6 * kS + 180 * kS), "Exited (0) 3 minutes ago");
  c.state.exit_code = 137;
  EXPECT_EQ(StatusText(c, kT0 + 2 * 3600 * kS), "Exited (137) 2 hours ago");
  c.state.status = ContainerStatus::kRemoving;
  EXPECT_EQ(StatusText(c, kT0), "Removal In Progress");
  c.state.status = ContainerStatus::kDead;
  EXPECT_EQ(StatusText(c, kT0), "Dead");
  // A failed start: exited with exit code 127 but never started, as Docker shows it.
  c = Sample();
  c.state.status = ContainerStatus::kExited;
  c.state.exit_code = 127;
  EXPECT_EQ(StatusText(c, kT0), "Created");
  EXPECT_EQ(StateString(c), "created");
}

TEST(StatusText, Health) {
  Container c = Running();
  EXPECT_EQ(HealthStatus(c), "none");
  c.config["Healthcheck"] = {{"Test", {"CMD-SHELL", "true"}}};
  EXPECT_EQ(HealthStatus(c), "starting");
  EXPECT_EQ(StatusText(c, kT0 + 5 * kS), "Up 5 seconds (health: starting)");
  c.state.health.status = "healthy";
  EXPECT_EQ(StatusText(c, kT0 + 5 * 60 * kS), "Up 5 minutes (healthy)");
  c.config["Healthcheck"] = {{"Test", {"NONE"}}};
  EXPECT_EQ(HealthStatus(c), "none");
  EXPECT_EQ(StatusText(c, kT0 + 5 * kS), "Up 5 seconds");
}

TEST(CommandText, QuotesArgsWithSpaces) {
  Container c = Sample();
  EXPECT_EQ(CommandText(c), "httpd -f -p 80");
  c.path = "sh";
  c.args = {"-c", "echo hi; sleep 1"};
  EXPECT_EQ(CommandText(c), "sh -c 'echo hi; sleep 1'");
  c.args = {"a\tb"};
  EXPECT_EQ(CommandText(c), "sh a\tb") << "only a space makes Docker quote";
  c.args.clear();
  EXPECT_EQ(CommandText(c), "sh");
}

TEST(InspectJson, ShapeAndOrder) {
  Container c = Running();
  InspectExtras x;
  x.sandbox_key = "/run/berth/netns/aaaa";
  const nlohmann::ordered_json j = InspectJson(c, x);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) {
    keys.push_back(k);
  }
  EXPECT_EQ(keys,
            (std::vector<std::string>{
                "Id",           "Created",         "Path",           "Args",       "State",
                "Image",        "ResolvConfPath",  "HostnamePath",   "HostsPath",  "LogPath",
                "Name",         "RestartCount",    "Driver",         "Platform",   "MountLabel",
                "ProcessLabel", "AppArmorProfile", "ExecIDs",        "HostConfig", "GraphDriver",
                "Mounts",       "Config",          "NetworkSettings"}));
  EXPECT_EQ(j["Image"], c.image_id) << "inspect shows the image ID";
  EXPECT_EQ(j["Config"]["Image"], "busybox") << "Config keeps the name as given";
  EXPECT_EQ(j["Config"].begin().key(), "Hostname") << "Config in Docker's field order";
  EXPECT_EQ(j["HostConfig"].begin().key(), "Binds");
  EXPECT_EQ(j["State"].dump(),
            R"({"Status":"running","Running":true,"Paused":false,"Restarting":false,)"
            R"("OOMKilled":false,"Dead":false,"Pid":4242,"ExitCode":0,"Error":"",)"
            R"("StartedAt":"2026-11-28T16:40:54Z","FinishedAt":"0001-01-01T00:00:00Z"})");
  EXPECT_TRUE(j["ExecIDs"].is_null());
  EXPECT_EQ(j["GraphDriver"]["Name"], "overlay2");
  EXPECT_FALSE(j.contains("SizeRw"));
  // Binds are listed, sorted by destination; HostConfig.Tmpfs is not (as Docker).
  EXPECT_EQ(j["Mounts"].dump(),
            R"([{"Destination":"/data","Mode":"ro","Propagation":"rprivate","RW":false,)"
            R"("Source":"/srv","Type":"bind"},)"
            R"({"Destination":"/tmp","Mode":"","Propagation":"rprivate","RW":true,)"
            R"("Source":"/tmp","Type":"bind"}])");
  const auto& ns = j["NetworkSettings"];
  EXPECT_EQ(ns["SandboxKey"], "/run/berth/netns/aaaa");
  EXPECT_EQ(ns["Ports"], json::object());
  ASSERT_TRUE(ns["Networks"].contains("none"));
  EXPECT_EQ(ns["Networks"]["none"]["IPAddress"], "");
  EXPECT_TRUE(ns["Networks"]["none"]["IPAMConfig"].is_null());
}

TEST(InspectJson, HealthOnlyWithAHealthcheck) {
  Container c = Running();
  EXPECT_FALSE(InspectJson(c, {})["State"].contains("Health"));
  c.config["Healthcheck"] = {{"Test", {"CMD", "true"}}};
  const auto health = InspectJson(c, {})["State"]["Health"];
  EXPECT_EQ(health["Status"], "starting");
  EXPECT_EQ(health["FailingStreak"], 0);
  // Never started: no monitor yet, no Health (Docker sets it up at start).
  c.state = {};
  EXPECT_FALSE(InspectJson(c, {})["State"].contains("Health"));
}

TEST(InspectJson, ExtrasAndPrivileged) {
  Container c = Sample();
  c.host_config["Privileged"] = true;
  c.host_config["NetworkMode"] = "host";
  InspectExtras x;
  x.exec_ids = {"e1"};
  x.size_rw = 0;
  x.size_root_fs = 1234;
  const auto j = InspectJson(c, x);
  EXPECT_EQ(j["HostConfig"]["Privileged"], true);
  EXPECT_EQ(j["ExecIDs"], json({"e1"}));
  EXPECT_EQ(j["SizeRw"], 0) << "inspect's sizes are pointers in Docker: 0 is shown";
  EXPECT_EQ(j["SizeRootFs"], 1234);
  EXPECT_TRUE(j["NetworkSettings"]["Networks"].contains("host"));
}

TEST(ListEntry, Shape) {
  Container c = Running();
  c.host_config["NetworkMode"] = "default";
  json j = ListEntry(c, kT0 + 120 * kS);
  EXPECT_EQ(j["Id"], c.id);
  EXPECT_EQ(j["Names"], json({"/web"}));
  EXPECT_EQ(j["Image"], "busybox");
  EXPECT_EQ(j["ImageID"], c.image_id);
  EXPECT_EQ(j["Command"], "httpd -f -p 80");
  EXPECT_EQ(j["Created"], 1795884054);
  EXPECT_EQ(j["Ports"], json::array());
  EXPECT_EQ(j["Labels"], json({{"tier", "web"}}));
  EXPECT_EQ(j["State"], "running");
  EXPECT_EQ(j["Status"], "Up 2 minutes");
  EXPECT_EQ(j["HostConfig"], json({{"NetworkMode", "default"}}));
  EXPECT_TRUE(j["NetworkSettings"]["Networks"].contains("bridge"));
  EXPECT_EQ(j["Mounts"].size(), 2u);
  EXPECT_FALSE(j.contains("SizeRw"));

  c.host_config["Privileged"] = true;
  ListExtras x;
  x.image = c.image_id;  // the name moved to another image
  x.size_rw = 0;
  x.size_root_fs = 4096;
  j = ListEntry(c, kT0, x);
  EXPECT_EQ(j["HostConfig"], json({{"NetworkMode", "default"}, {"Privileged", true}}));
  EXPECT_EQ(j["Image"], c.image_id);
  EXPECT_FALSE(j.contains("SizeRw")) << "omitempty int64 in Docker's list entry";
  EXPECT_EQ(j["SizeRootFs"], 4096);
}

TEST(ListEntry, SortNewestFirst) {
  Container a = Sample(), b = Sample(), c = Sample();
  a.id = "a";
  a.created = "2026-11-28T16:40:54.5Z";
  b.id = "b";
  b.created = "2026-11-28T16:40:54.25Z";  // older, though longer as a string
  c.id = "c";
  c.created = "2026-11-28T16:40:55Z";
  std::vector<const Container*> list = {&b, &a, &c};
  SortNewestFirst(list);
  EXPECT_EQ(list[0]->id, "c");
  EXPECT_EQ(list[1]->id, "a");
  EXPECT_EQ(list[2]->id, "b");
}

}  // namespace
}  // namespace berth::engine

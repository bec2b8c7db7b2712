#include "engine/container_health.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

using nlohmann::json;

TEST(HealthConfig, FormsAndDefaults) {
  EXPECT_FALSE(ParseHealthConfig(json(), {}));
  EXPECT_FALSE(ParseHealthConfig({{"Test", {"NONE"}}}, {}));
  EXPECT_FALSE(ParseHealthConfig({{"Test", json::array()}}, {}));
  EXPECT_FALSE(ParseHealthConfig({{"Test", {"CMD"}}}, {}));
  auto cmd = ParseHealthConfig({{"Test", {"CMD", "curl", "-f", "http://localhost/"}}}, {});
  ASSERT_TRUE(cmd);
  EXPECT_EQ(cmd->args, std::vector<std::string>({"curl", "-f", "http://localhost/"}));
  EXPECT_EQ(cmd->interval_ns, kDefaultProbeInterval);
  EXPECT_EQ(cmd->timeout_ns, kDefaultProbeTimeout);
  EXPECT_EQ(cmd->start_period_ns, 0);
  EXPECT_EQ(cmd->start_interval_ns, kDefaultStartInterval);
  EXPECT_EQ(cmd->retries, kDefaultRetries);
  auto shell = ParseHealthConfig({{"Test", {"CMD-SHELL", "test -e /ok"}},
                                  {"Interval", 100000000},
                                  {"Timeout", 0},
                                  {"Retries", 1}},
                                 {});
  ASSERT_TRUE(shell);
  EXPECT_EQ(shell->args, std::vector<std::string>({"/bin/sh", "-c", "test -e /ok"}));
  EXPECT_EQ(shell->interval_ns, 100000000);
  EXPECT_EQ(shell->timeout_ns, kDefaultProbeTimeout);  // zero: the default
  EXPECT_EQ(shell->retries, 1);
  auto own = ParseHealthConfig({{"Test", {"CMD-SHELL", "true"}}}, {"/bin/ash", "-eo"});
  EXPECT_EQ(own->args, std::vector<std::string>({"/bin/ash", "-eo", "true"}));
}

ProbeResult Probe(int64_t code, std::string output = "") {
  return {"2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", code, std::move(output)};
}

TEST(HealthRecord, RetriesMakeUnhealthyAndOneSuccessHeals) {
  ContainerHealth h;
  h.status = "starting";
  EXPECT_FALSE(RecordProbe(h, Probe(1), 3, false));
  EXPECT_FALSE(RecordProbe(h, Probe(2), 3, false));
  EXPECT_EQ((std::pair{h.status, h.failing_streak}),
            (std::pair<std::string, int64_t>{"starting", 2}));
  EXPECT_TRUE(RecordProbe(h, Probe(1), 3, false));
  EXPECT_EQ(h.status, "unhealthy");
  EXPECT_TRUE(RecordProbe(h, Probe(0, "ok\n"), 3, false));
  EXPECT_EQ((std::pair{h.status, h.failing_streak}),
            (std::pair<std::string, int64_t>{"healthy", 0}));
  EXPECT_EQ(h.log.size(), 4u);
  EXPECT_EQ(h.log.back()["Output"], "ok\n");
  EXPECT_EQ(h.log.back()["ExitCode"], 0);
}

TEST(HealthRecord, StartPeriodFailuresDoNotCountUntilAProbeSucceeded) {
  ContainerHealth h;
  h.status = "starting";
  for (int i = 0; i < 5; i++) RecordProbe(h, Probe(1), 1, true);
  EXPECT_EQ((std::pair{h.status, h.failing_streak}),
            (std::pair<std::string, int64_t>{"starting", 0}));
  RecordProbe(h, Probe(0), 1, true);
  EXPECT_EQ(h.status, "healthy");
  EXPECT_TRUE(RecordProbe(h, Probe(1), 1, true));  // healthy now: it counts
  EXPECT_EQ(h.status, "unhealthy");
}

TEST(HealthRecord, KeepsFiveResultsAndCapsOutput) {
  ContainerHealth h;
  for (int i = 0; i < 8; i++) RecordProbe(h, Probe(i == 7 ? 0 : 1, std::to_string(i)), 100, false);
  ASSERT_EQ(h.log.size(), kMaxHealthLog);
  EXPECT_EQ(h.log.front()["Output"], "3");
  RecordProbe(h, Probe(0, std::string(10000, 'x')), 100, false);
  EXPECT_EQ(h.log.back()["Output"].get<std::string>().size(), kMaxProbeOutput);
}

TEST(HealthOutput, DemultiplexesFramesAndKeepsPlainText) {
  std::string framed =
      std::string("\1\0\0\0\0\0\0\3out", 11) + std::string("\2\0\0\0\0\0\0\4err\n", 12);
  EXPECT_EQ(DemuxOutput(framed, 4096), "outerr\n");
  EXPECT_EQ(DemuxOutput(framed, 4), "oute");
  EXPECT_EQ(DemuxOutput("plain text\n", 4096), "plain text\n");
  EXPECT_EQ(DemuxOutput("", 4096), "");
}

TEST(HealthOutput, GoDurations) {
  EXPECT_EQ(GoDurationString(30'000'000'000), "30s");
  EXPECT_EQ(GoDurationString(1'500'000'000), "1.5s");
  EXPECT_EQ(GoDurationString(90'000'000'000), "1m30s");
  EXPECT_EQ(GoDurationString(3'600'000'000'000), "1h0m0s");
  EXPECT_EQ(GoDurationString(300'000'000), "300ms");
  EXPECT_EQ(GoDurationString(1'500'000), "1.5ms");
  EXPECT_EQ(GoDurationString(0), "0s");
}

}  // namespace
}  // namespace berth::engine

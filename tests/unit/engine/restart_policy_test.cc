// Docker's restart manager rules: which exits restart, the back-off, and daemon start.

#include "engine/restart_policy.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

using nlohmann::json;

RestartPolicy Policy(const std::string& name, int64_t max = 0) { return {name, max}; }

TEST(RestartPolicy, FromHostConfig) {
  EXPECT_TRUE(RestartPolicyOf(json()).None());
  EXPECT_TRUE(RestartPolicyOf({{"RestartPolicy", {{"Name", "no"}}}}).None());
  RestartPolicy p =
      RestartPolicyOf({{"RestartPolicy", {{"Name", "on-failure"}, {"MaximumRetryCount", 3}}}});
  EXPECT_EQ(p.name, "on-failure");
  EXPECT_EQ(p.max_retries, 3);
}

TEST(RestartPolicy, WhichExitsRestart) {
  EXPECT_FALSE(ShouldRestart(Policy("no"), 1, false, 0, false));
  EXPECT_FALSE(ShouldRestart(Policy(""), 1, false, 0, true));

  EXPECT_TRUE(ShouldRestart(Policy("always"), 0, false, 100, false));
  EXPECT_FALSE(ShouldRestart(Policy("always"), 0, true, 0, false)) << "a user's stop holds";
  EXPECT_TRUE(ShouldRestart(Policy("always"), 0, true, 0, true))
      << "dockerd starts always-containers at its start, even stopped ones";

  EXPECT_TRUE(ShouldRestart(Policy("unless-stopped"), 0, false, 7, false));
  EXPECT_FALSE(ShouldRestart(Policy("unless-stopped"), 1, true, 0, false));
  EXPECT_FALSE(ShouldRestart(Policy("unless-stopped"), 1, true, 0, true));
  EXPECT_TRUE(ShouldRestart(Policy("unless-stopped"), 1, false, 0, true));

  EXPECT_FALSE(ShouldRestart(Policy("on-failure"), 0, false, 0, false)) << "success ends it";
  EXPECT_TRUE(ShouldRestart(Policy("on-failure"), 3, false, 1000, false)) << "0 = no maximum";
  EXPECT_TRUE(ShouldRestart(Policy("on-failure", 2), 3, false, 0, false));
  EXPECT_TRUE(ShouldRestart(Policy("on-failure", 2), 3, false, 1, false));
  EXPECT_FALSE(ShouldRestart(Policy("on-failure", 2), 3, false, 2, false))
      << "on-failure:2 stops after two restarts";
  EXPECT_FALSE(ShouldRestart(Policy("on-failure", 2), 3, false, 2, true));
  EXPECT_FALSE(ShouldRestart(Policy("on-failure"), 137, true, 0, false));
}

TEST(RestartPolicy, BackOffGrowsAndResets) {
  constexpr int64_t kSecond = 1000LL * 1000 * 1000;
  int64_t ms = 0;
  std::vector<int64_t> seen;
  for (int i = 0; i < 12; ++i) {
    ms = NextBackoffMs(ms, kSecond / 10);
    seen.push_back(ms);
  }
  EXPECT_EQ(seen[0], 100);
  EXPECT_EQ(seen[1], 200);
  EXPECT_EQ(seen[2], 400);
  EXPECT_EQ(seen[9], 51200);
  EXPECT_EQ(seen[10], 60000) << "capped at a minute";
  EXPECT_EQ(seen[11], 60000);
  EXPECT_EQ(NextBackoffMs(60000, 10 * kSecond), 100) << "a run of 10 s resets it";
  EXPECT_EQ(NextBackoffMs(800, 10 * kSecond - 1), 1600);
}

}  // namespace
}  // namespace berth::engine

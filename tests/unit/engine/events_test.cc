// `GET /events`: Docker's JSON (engine-api.md §2.17), its filters (daemon/events/filter.go)
// and the bus's replay, live delivery, back-pressure and shutdown.

#include "engine/events.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "base/error.h"
#include "base/file_util.h"

namespace berth::engine {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kS = 1'000'000'000;

Container Sample() {
  Container c;
  c.id = "52a2" + std::string(60, '0');
  c.name = "/evtest";
  c.image = "busybox";
  c.config = {{"Image", "busybox"}, {"Labels", {{"com.example.tier", "web"}}}};
  return c;
}

Event At(std::string type, std::string action, std::string id, int64_t seconds,
         std::map<std::string, std::string> attributes = {}) {
  return Event{
      std::move(type), std::move(action), {std::move(id), std::move(attributes)}, seconds * kS};
}

TEST(Events, ContainerJsonHasLegacyFields) {
  Event e = ContainerEvent(Sample(), "die", {{"exitCode", "0"}}, 1795884100938001627);
  EXPECT_EQ(ToJson(e).dump(),
            R"({"status":"die","id":"52a2)" + std::string(60, '0') +
                R"(","from":"busybox","Type":"container","Action":"die","Actor":{"ID":"52a2)" +
                std::string(60, '0') +
                R"(","Attributes":{"com.example.tier":"web","exitCode":"0","image":"busybox",)"
                R"("name":"evtest"}},"scope":"local","time":1795884100,)"
                R"("timeNano":1795884100938001627})");
}

TEST(Events, OtherTypes) {
  EXPECT_EQ(
      ToJson(At("network", "create", "ebf8", 7, {{"name", "rsnet"}, {"type", "bridge"}})).dump(),
      R"({"Type":"network","Action":"create","Actor":{"ID":"ebf8","Attributes":)"
      R"({"name":"rsnet","type":"bridge"}},"scope":"local","time":7,"timeNano":7000000000})");
  EXPECT_EQ(ToJson(At("image", "tag", "sha256:ab", 7, {{"name", "busybox:1"}})).dump(),
            R"({"status":"tag","id":"sha256:ab","Type":"image","Action":"tag","Actor":)"
            R"({"ID":"sha256:ab","Attributes":{"name":"busybox:1"}},"scope":"local","time":7,)"
            R"("timeNano":7000000000})");
}

TEST(Events, Filters) {
  const Event start = ContainerEvent(Sample(), "start", {}, kS);
  const Event exec = ContainerEvent(Sample(), "exec_start: sh -c true", {}, kS);
  const Event image =
      At("image", "untag", "sha256:ab", 1, {{"name", "docker.io/library/busybox:1"}});
  EXPECT_TRUE(EventMatches(start, {}));
  EXPECT_TRUE(EventMatches(start, {{"type", {"container", "image"}}}));
  EXPECT_FALSE(EventMatches(start, {{"type", {"network"}}}));
  EXPECT_TRUE(EventMatches(start, {{"event", {"start"}}}));
  EXPECT_FALSE(EventMatches(exec, {{"event", {"exec"}}}));
  EXPECT_TRUE(EventMatches(exec, {{"event", {"exec_start"}}})) << "moby #25798";
  EXPECT_TRUE(EventMatches(start, {{"container", {"evtest"}}}));
  EXPECT_TRUE(EventMatches(start, {{"container", {"52a2"}}})) << "an ID prefix";
  EXPECT_TRUE(EventMatches(start, {{"container", {"evt"}}})) << "a name prefix";
  EXPECT_FALSE(EventMatches(image, {{"container", {"evtest"}}})) << "other types drop out";
  EXPECT_TRUE(EventMatches(start, {{"image", {"busybox"}}}));
  EXPECT_TRUE(EventMatches(image, {{"image", {"busybox"}}})) << "the name without its tag";
  EXPECT_FALSE(EventMatches(image, {{"image", {"alpine"}}}));
  EXPECT_TRUE(EventMatches(start, {{"label", {"com.example.tier=web"}}}));
  EXPECT_FALSE(EventMatches(start, {{"label", {"com.example.tier=db"}}}));
  EXPECT_TRUE(EventMatches(start, {{"scope", {"local"}}}));
  EXPECT_FALSE(EventMatches(start, {{"scope", {"swarm"}}}));
  EXPECT_FALSE(EventMatches(start, {{"network", {"rsnet"}}}));
}

TEST(Events, Validation) {
  auto error = [](const Filters& f) -> std::string {
    try {
      ValidateEventFilters(f);
      return "";
    } catch (const Error& e) {
      return e.what();
    }
  };
  EXPECT_EQ(error({{"type", {"container"}}, {"event", {"die"}}, {"label", {"a"}}}), "");
  EXPECT_EQ(error({{"foo", {"bar"}}}), "invalid filter 'foo'");
  EXPECT_EQ(error({{"type", {"containers"}}}), "invalid filter 'type=containers'");
  EXPECT_EQ(error({{"scope", {"global"}}}), "invalid filter 'scope=global'");
}

TEST(Events, ParseEventTime) {
  EXPECT_EQ(ParseEventTime(""), 0);
  EXPECT_EQ(ParseEventTime("1795884046"), 1795884046 * kS);
  EXPECT_EQ(ParseEventTime("1795884046.5"), 1795884046 * kS + 500'000'000);
  EXPECT_EQ(ParseEventTime("1795884046.000000001"), 1795884046 * kS + 1);
  try {
    ParseEventTime("1m");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "strconv.ParseInt: parsing \"1m\": invalid syntax");
  }
}

TEST(EventBus, ReplaysSinceThenLive) {
  EventBus bus;
  bus.Publish(At("container", "create", "a", 10));
  bus.Publish(At("network", "create", "n", 20));
  bus.Publish(At("container", "start", "a", 30));
  auto sub = bus.Subscribe(15 * kS, 0, {{"type", {"container"}}});
  auto e = sub->Next(0ms);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->action, "start") << "older than since, or filtered out: not replayed";
  EXPECT_FALSE(sub->Next(10ms));
  EXPECT_FALSE(sub->done());
  bus.Publish(At("network", "destroy", "n", 40));
  bus.Publish(At("container", "die", "a", 50));
  e = sub->Next(1s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->action, "die");
  // Without since/until nothing is replayed, as Docker.
  EXPECT_FALSE(bus.Subscribe(0, 0, {})->Next(0ms));
}

TEST(EventBus, UntilInThePastEndsAfterTheReplay) {
  EventBus bus;
  bus.Publish(At("container", "create", "a", 10));
  bus.Publish(At("container", "start", "a", 30));
  auto sub = bus.Subscribe(0, 20 * kS, {});
  auto e = sub->Next(1s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->action, "create");
  EXPECT_FALSE(sub->Next(1s));
  EXPECT_TRUE(sub->done());
}

TEST(EventBus, SlowReaderDropsOldestWithoutBlocking) {
  EventBus bus(16, 4);
  auto sub = bus.Subscribe(0, 0, {});
  for (int i = 1; i <= 10; ++i) {
    bus.Publish(At("container", "a" + std::to_string(i), "x", i));
  }
  EXPECT_EQ(sub->dropped(), 6u);
  EXPECT_EQ(sub->Next(0ms)->action, "a7");
}

TEST(EventBus, PublishStampsTime) {
  EventBus bus;
  auto sub = bus.Subscribe(0, 0, {});
  bus.Publish(Event{"daemon", "reload", {"d", {}}, 0});
  EXPECT_GT(sub->Next(1s)->time_nano, 1'600'000'000 * kS);
}

TEST(EventBus, ThreadsSeeEveryEventInOrder) {
  EventBus bus;
  constexpr int kPublishers = 4, kEach = 200;
  std::vector<std::shared_ptr<Subscription>> subs;
  for (int i = 0; i < 3; ++i) {
    subs.push_back(bus.Subscribe(0, 0, {}));
  }
  std::vector<std::thread> readers;
  std::vector<std::vector<std::string>> seen(subs.size());
  for (size_t i = 0; i < subs.size(); ++i) {
    readers.emplace_back([&, i] {
      while (seen[i].size() < kPublishers * kEach) {
        if (auto e = subs[i]->Next(5s)) {
          seen[i].push_back(e->actor.id + e->action);
        } else {
          return;
        }
      }
    });
  }
  std::vector<std::thread> publishers;
  for (int p = 0; p < kPublishers; ++p) {
    publishers.emplace_back([&bus, p] {
      for (int i = 0; i < kEach; ++i) {
        bus.Publish(At("container", std::to_string(i), std::to_string(p) + ":", 1));
      }
    });
  }
  for (auto& t : publishers) {
    t.join();
  }
  for (auto& t : readers) {
    t.join();
  }
  for (const auto& s : seen) {
    EXPECT_EQ(s.size(), static_cast<size_t>(kPublishers * kEach));
    EXPECT_EQ(s, seen[0]) << "one order for every subscriber";
  }
  for (const auto& s : subs) {
    EXPECT_EQ(s->dropped(), 0u);
  }
}

TEST(EventBus, CloseAndUnsubscribeWakeWaiters) {
  EventBus bus;
  auto a = bus.Subscribe(0, 0, {});
  auto b = bus.Subscribe(0, 0, {});
  EXPECT_EQ(bus.SubscriberCount(), 2u);
  std::atomic<int> woken = 0;
  auto wait = [&](std::shared_ptr<Subscription> s) {
    return std::thread([s, &woken] {
      EXPECT_FALSE(s->Next(30s));
      EXPECT_TRUE(s->done());
      ++woken;
    });
  };
  std::thread ta = wait(a), tb = wait(b);
  std::this_thread::sleep_for(20ms);
  bus.Unsubscribe(a);
  ta.join();
  EXPECT_EQ(woken, 1);
  EXPECT_EQ(bus.SubscriberCount(), 1u);
  bus.Close();
  tb.join();
  EXPECT_EQ(woken, 2);
  EXPECT_TRUE(bus.Subscribe(0, 0, {})->done()) << "a closed bus has nothing more to say";
}

TEST(EventBus, LogKeepsTheHistoryAcrossRestarts) {
  char dir[] = "/tmp/berth-events.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/events.log";
  {
    EventBus bus(3);
    bus.Persist(path);
    for (int i = 1; i <= 40; i++) bus.Publish(At("container", "start", std::to_string(i), i));
    bus.Publish(At("image", "tag", "sha256:x", 41, {{"name", "busybox:1"}}));
  }
  // Compaction bounds the file: far fewer lines than events, the last ones among them.
  std::string text = ReadFile(path);
  size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  EXPECT_LE(lines, 4u * 256u);
  WriteFileAtomic(path, text + "not json\n{\"Type\":1}\n", 0600);
  EventBus again(3);
  again.Persist(path);
  auto sub = again.Subscribe(1 * kS, 0, {});
  std::vector<std::string> seen;
  while (auto e = sub->Next(0ms)) seen.push_back(e->type + " " + e->actor.id);
  EXPECT_EQ(seen, std::vector<std::string>({"container 39", "container 40", "image sha256:x"}));
  again.Publish(At("container", "die", "40", 42));
  EventBus third(10);
  third.Persist(path);
  auto all = third.Subscribe(1 * kS, 0, {{"type", {"image"}}});
  auto e = all->Next(0ms);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->actor.attributes.at("name"), "busybox:1");
  RemoveAll(dir);
}

}  // namespace
}  // namespace berth::engine

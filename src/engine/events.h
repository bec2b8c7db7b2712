#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/container.h"
#include "engine/container_filters.h"

// `GET /events`: the daemon's in-memory event bus (moby daemon/events). Publishers never
// block on subscribers; each subscriber has a bounded queue that drops its oldest event when
// the reader falls behind. The last events are kept for `since` replays.

namespace berth::engine {

struct EventActor {
  std::string id;
  std::map<std::string, std::string> attributes;
};

struct Event {
  // "container", "image", "network", "volume", "daemon", "plugin", "builder".
  std::string type;
  // "create", "start", "die", "destroy", "exec_create: sh -c …", "health_status: healthy",
  // image "tag", "untag", "delete", "load", "import", "save", "pull", "push", … (engine-api.md
  // §2.17).
  std::string action;
  EventActor actor;
  int64_t time_nano = 0;  // unix nanoseconds; 0: Publish stamps the current time
};

// Docker's JSON for one event, keys in its order: the legacy "status", "id" (container and
// image events) and "from" (container events: the image), then Type, Action, Actor, "scope":
// "local", time, timeNano.
nlohmann::ordered_json ToJson(const Event& e);
// The other way, for the event log; nullopt for a document that is not one.
std::optional<Event> EventFromJson(const nlohmann::json& j);

// A container event as dockerd logs it: Actor.Attributes are the container's labels plus
// "image" (as the user gave it) and "name" (no slash), then `extra` (e.g. {"exitCode","0"}
// for "die", {"signal","15"} for "kill").
Event ContainerEvent(const Container& c, std::string action,
                     const std::map<std::string, std::string>& extra = {}, int64_t time_nano = 0);

// Throws berth::Error kInvalidArgument: "invalid filter 'foo'" for a name Docker's event
// filter does not know, "invalid filter 'type=foo'" / "invalid filter 'scope=foo'" for a
// value none of its events has. (dockerd 20.10 accepts anything and matches nothing.)
void ValidateEventFilters(const Filters& filters);
// Docker's daemon/events/filter.go Include: every filter name must match (type, event,
// scope, container/network/volume/daemon/plugin/… by ID or name prefix, image by ID or name
// with or without its tag, label as key or key=value over the attributes).
bool EventMatches(const Event& e, const Filters& filters);

// `since`/`until` query values: unix seconds with an optional fraction ("1795884046",
// "1795884046.5") to unix nanoseconds. "" gives 0 (unset). Throws kInvalidArgument with Go's
// strconv text.
int64_t ParseEventTime(std::string_view text);

class EventBus;

// One `GET /events` stream. Only its handler thread calls Next.
class Subscription {
 public:
  // The next event: the replayed past ones first, then live ones as they are published.
  // nullopt after `timeout` without one, or once done().
  std::optional<Event> Next(std::chrono::milliseconds timeout);
  // Nothing more will come: unsubscribed, the bus closed, or `until` has passed.
  bool done() const;
  // Live events dropped because this reader fell behind.
  uint64_t dropped() const;

 private:
  friend class EventBus;
  Subscription(Filters filters, int64_t until_nano, size_t limit)
      : filters_(std::move(filters)), until_nano_(until_nano), limit_(limit) {}
  void Deliver(const Event& e);
  void Close();

  const Filters filters_;
  const int64_t until_nano_;  // 0: none
  const size_t limit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> queue_;
  bool closed_ = false;
  uint64_t dropped_ = 0;
};

class EventBus {
 public:
  // `history`: past events kept for `since`; `queue_limit`: per-subscriber backlog.
  explicit EventBus(size_t history = 1024, size_t queue_limit = 1024);
  ~EventBus();
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  void Publish(Event e);
  // Keeps the history in `path` too (JSON lines, one per event, appended as published; no
  // fsync: a crash may lose the last ones): the events of earlier runs are replayed to
  // `since` after a restart. The file is rewritten with only the kept history when it grows
  // past a few times that. Unreadable lines are skipped.
  void Persist(const std::string& path);
  // Validates `filters` (ValidateEventFilters). With `since` or `until` set (unix ns, 0 =
  // unset), the kept events in [since, until] that match come first, as Docker replays them.
  std::shared_ptr<Subscription> Subscribe(int64_t since_nano, int64_t until_nano, Filters filters);
  void Unsubscribe(const std::shared_ptr<Subscription>& subscription);
  // Daemon shutdown: every subscription is done and every waiting Next returns.
  void Close();

  size_t SubscriberCount() const;

 private:
  const size_t history_limit_;
  const size_t queue_limit_;
  mutable std::mutex mu_;
  std::deque<Event> history_;
  std::vector<std::shared_ptr<Subscription>> subscribers_;
  bool closed_ = false;
  std::string log_path_;  // "" when not persisted
  int log_fd_ = -1;
  size_t log_lines_ = 0;  // in the file now
  void CompactLog();      // under mu_
};

}  // namespace berth::engine

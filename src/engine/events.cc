#include "engine/events.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include "base/error.h"
#include "base/file_util.h"
#include "base/log.h"
#include "image/reference.h"

namespace berth::engine {

using nlohmann::ordered_json;

namespace {

constexpr std::array<std::string_view, 11> kTypes = {"builder", "config",  "container", "daemon",
                                                     "image",   "network", "node",      "plugin",
                                                     "secret",  "service", "volume"};
// Filters matched by Actor ID or name prefix: one per event type that has names.
constexpr std::array<std::string_view, 9> kNamed = {
    "config", "container", "daemon", "network", "node", "plugin", "secret", "service", "volume"};

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

template <size_t N>
bool In(const std::array<std::string_view, N>& set, std::string_view v) {
  return std::find(set.begin(), set.end(), v) != set.end();
}

const std::vector<std::string>* Values(const Filters& f, const char* key) {
  auto it = f.find(key);
  return it == f.end() || it->second.empty() ? nullptr : &it->second;
}

// filters.Args ExactMatch / FuzzyMatch: no values match everything.
bool Exact(const Filters& f, const char* key, const std::string& source) {
  const auto* vs = Values(f, key);
  return vs == nullptr || std::find(vs->begin(), vs->end(), source) != vs->end();
}

bool Fuzzy(const Filters& f, const char* key, const std::string& source) {
  const auto* vs = Values(f, key);
  return vs == nullptr || std::any_of(vs->begin(), vs->end(), [&](const std::string& v) {
           return source.rfind(v, 0) == 0;
         });
}

std::string Attribute(const Event& e, const std::string& key) {
  auto it = e.actor.attributes.find(key);
  return it == e.actor.attributes.end() ? std::string() : it->second;
}

// reference.FamiliarName of a parsable name ("docker.io/library/busybox:1" -> "busybox").
std::string StripTag(const std::string& image) {
  try {
    return image::ParseReference(image).FamiliarName();
  } catch (const Error&) {
    return image;
  }
}

int64_t ParseInt64(const std::string& text) {
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec == std::errc::invalid_argument || ptr != text.data() + text.size()) {
    ThrowInvalid("strconv.ParseInt: parsing \"" + text + "\": invalid syntax");
  }
  if (ec == std::errc::result_out_of_range) {
    ThrowInvalid("strconv.ParseInt: parsing \"" + text + "\": value out of range");
  }
  return value;
}

}  // namespace

ordered_json ToJson(const Event& e) {
  ordered_json out = ordered_json::object();
  if (e.type == "container" || e.type == "image") {
    if (!e.action.empty()) {
      out["status"] = e.action;
    }
    if (!e.actor.id.empty()) {
      out["id"] = e.actor.id;
    }
    if (const std::string from = Attribute(e, "image"); e.type == "container" && !from.empty()) {
      out["from"] = from;
    }
  }
  out["Type"] = e.type;
  out["Action"] = e.action;
  out["Actor"] = {{"ID", e.actor.id}, {"Attributes", e.actor.attributes}};
  out["scope"] = "local";
  out["time"] = e.time_nano / 1'000'000'000;
  out["timeNano"] = e.time_nano;
  return out;
}

Event ContainerEvent(const Container& c, std::string action,
                     const std::map<std::string, std::string>& extra, int64_t time_nano) {
  Event e{"container", std::move(action), {c.id, extra}, time_nano};
  if (const auto labels =
          c.config.is_object() ? c.config.value("Labels", nlohmann::json()) : nlohmann::json();
      labels.is_object()) {
    for (const auto& [key, value] : labels.items()) {
      if (value.is_string()) {
        e.actor.attributes[key] = value.get<std::string>();
      }
    }
  }
  const std::string image = c.config.is_object() ? c.config.value("Image", c.image) : c.image;
  if (!image.empty()) {
    e.actor.attributes["image"] = image;
  }
  const size_t first = c.name.find_first_not_of('/');  // strings.TrimLeft(name, "/")
  e.actor.attributes["name"] = first == std::string::npos ? "" : c.name.substr(first);
  return e;
}

void ValidateEventFilters(const Filters& filters) {
  for (const auto& [key, values] : filters) {
    if (!In(kNamed, key) && key != "event" && key != "image" && key != "label" && key != "scope" &&
        key != "type") {
      ThrowInvalid("invalid filter '" + key + "'");
    }
    for (const std::string& v : values) {
      if ((key == "type" && !In(kTypes, v)) || (key == "scope" && v != "local" && v != "swarm")) {
        ThrowInvalid("invalid filter '" + key + "=" + v + "'");
      }
    }
  }
}

bool EventMatches(const Event& e, const Filters& f) {
  // moby #25798: "health_status", "exec_create" and "exec_start" also match the actions
  // that carry a suffix ("exec_start: sh -c …").
  const auto* events = Values(f, "event");
  const bool fuzzy_event =
      events != nullptr && std::any_of(events->begin(), events->end(), [](const std::string& v) {
        return v == "health_status" || v == "exec_create" || v == "exec_start";
      });
  if (!(fuzzy_event ? Fuzzy(f, "event", e.action) : Exact(f, "event", e.action)) ||
      !Exact(f, "type", e.type) || !Exact(f, "scope", "local")) {
    return false;
  }
  const std::string name = Attribute(e, "name");
  for (std::string_view key : kNamed) {
    const std::string k(key);
    if (!Fuzzy(f, k.c_str(), e.actor.id) && !Fuzzy(f, k.c_str(), name)) {
      return false;
    }
  }
  if (Values(f, "image") != nullptr) {
    const std::string image = Attribute(e, e.type == "image" ? "name" : "image");
    if (!Exact(f, "image", e.actor.id) && !Exact(f, "image", image) &&
        !Exact(f, "image", StripTag(e.actor.id)) && !Exact(f, "image", StripTag(image))) {
      return false;
    }
  }
  if (const auto* labels = Values(f, "label")) {  // MatchKVList: every one must hold
    for (const std::string& v : *labels) {
      const size_t eq = v.find('=');
      auto it = e.actor.attributes.find(v.substr(0, eq));
      if (it == e.actor.attributes.end() ||
          (eq != std::string::npos && it->second != v.substr(eq + 1))) {
        return false;
      }
    }
  }
  return true;
}

int64_t ParseEventTime(std::string_view text) {
  if (text.empty()) {
    return 0;
  }
  const std::string s(text);
  const size_t dot = s.find('.');
  const int64_t seconds = ParseInt64(s.substr(0, dot));
  if (dot == std::string::npos) {
    return seconds * 1'000'000'000;
  }
  // Docker: the fraction as an integer scaled to 9 digits ("5" is 0.5 s).
  const std::string frac = s.substr(dot + 1);
  int64_t nanos = ParseInt64(frac);
  for (size_t i = frac.size(); i < 9; ++i) {
    nanos *= 10;
  }
  for (size_t i = 9; i < frac.size(); ++i) {
    nanos /= 10;
  }
  return seconds * 1'000'000'000 + nanos;
}

// ---- Subscription ----

std::optional<Event> Subscription::Next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::system_clock::now() + timeout;
  if (until_nano_ > 0) {
    deadline =
        std::min(deadline, std::chrono::system_clock::time_point(
                               std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                   std::chrono::nanoseconds(until_nano_))));
  }
  cv_.wait_until(lock, deadline, [&] { return closed_ || !queue_.empty(); });
  if (queue_.empty()) {
    return std::nullopt;
  }
  Event e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

bool Subscription::done() const {
  std::lock_guard lock(mu_);
  return queue_.empty() && (closed_ || (until_nano_ > 0 && NowNanos() > until_nano_));
}

uint64_t Subscription::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void Subscription::Deliver(const Event& e) {
  if (!EventMatches(e, filters_) || (until_nano_ > 0 && e.time_nano > until_nano_)) {
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      return;
    }
    if (queue_.size() >= limit_) {
      queue_.pop_front();
      ++dropped_;
    }
    queue_.push_back(e);
  }
  cv_.notify_one();
}

void Subscription::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

// ---- EventBus ----

EventBus::EventBus(size_t history, size_t queue_limit)
    : history_limit_(history), queue_limit_(std::max<size_t>(queue_limit, 1)) {}

EventBus::~EventBus() {
  Close();
  if (log_fd_ >= 0) close(log_fd_);
}

std::optional<Event> EventFromJson(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("Type") || !j["Type"].is_string() || !j.contains("Action") ||
      !j["Action"].is_string() || !j.contains("timeNano") || !j["timeNano"].is_number_integer()) {
    return std::nullopt;
  }
  Event e;
  e.type = j["Type"].get<std::string>();
  e.action = j["Action"].get<std::string>();
  e.time_nano = j["timeNano"].get<int64_t>();
  if (j.contains("Actor") && j["Actor"].is_object()) {
    const nlohmann::json& a = j["Actor"];
    if (a.contains("ID") && a["ID"].is_string()) e.actor.id = a["ID"].get<std::string>();
    if (a.contains("Attributes") && a["Attributes"].is_object()) {
      for (const auto& item : a["Attributes"].items()) {
        if (item.value().is_string())
          e.actor.attributes[item.key()] = item.value().get<std::string>();
      }
    }
  }
  return e;
}

void EventBus::Persist(const std::string& path) {
  std::lock_guard lock(mu_);
  log_path_ = path;
  if (auto text = ReadFileIfExists(path)) {
    size_t pos = 0;
    while (pos < text->size()) {
      size_t end = text->find('\n', pos);
      if (end == std::string::npos) end = text->size();
      nlohmann::json j =
          nlohmann::json::parse(text->begin() + static_cast<std::ptrdiff_t>(pos),
                                text->begin() + static_cast<std::ptrdiff_t>(end), nullptr, false);
      pos = end + 1;
      if (std::optional<Event> e = EventFromJson(j)) {
        if (history_limit_ > 0 && history_.size() >= history_limit_) history_.pop_front();
        if (history_limit_ > 0) history_.push_back(std::move(*e));
        ++log_lines_;
      }
    }
  }
  CompactLog();
}

void EventBus::CompactLog() {
  // The kept history alone, replacing the file at once (a crash leaves the old or the new).
  std::string text;
  for (const Event& e : history_) text += ToJson(e).dump() + "\n";
  try {
    WriteFileAtomic(log_path_, text, 0600, Durability::kVolatile);
  } catch (const Error& err) {
    log::Warn("event log: " + std::string(err.what()));
  }
  if (log_fd_ >= 0) close(log_fd_);
  log_fd_ = open(log_path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  log_lines_ = history_.size();
}

void EventBus::Publish(Event e) {
  if (e.time_nano == 0) {
    e.time_nano = NowNanos();
  }
  // Under mu_ so that every subscriber sees events in one order and a new subscription gets
  // each event exactly once (from the replay or live). Delivery only queues: it never waits.
  std::lock_guard lock(mu_);
  if (closed_) {
    return;
  }
  for (const auto& s : subscribers_) {
    s->Deliver(e);
  }
  std::string line = log_fd_ >= 0 ? ToJson(e).dump() + "\n" : "";
  if (history_limit_ > 0) {
    if (history_.size() >= history_limit_) {
      history_.pop_front();
    }
    history_.push_back(std::move(e));
  }
  if (log_fd_ >= 0) {
    if (log_lines_ + 1 > 4 * std::max<size_t>(history_limit_, 256)) {
      CompactLog();  // the history, this event included
    } else if (write(log_fd_, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
      ++log_lines_;
    } else {
      log::Warn("event log: write " + log_path_ + ": " + strerror(errno));
    }
  }
}

std::shared_ptr<Subscription> EventBus::Subscribe(int64_t since_nano, int64_t until_nano,
                                                  Filters filters) {
  ValidateEventFilters(filters);
  std::shared_ptr<Subscription> s(new Subscription(std::move(filters), until_nano, queue_limit_));
  std::lock_guard lock(mu_);
  if (since_nano != 0 || until_nano != 0) {
    // The replay is not bounded by the live queue's limit: it is at most the history.
    for (const Event& e : history_) {
      if (e.time_nano >= since_nano && (until_nano == 0 || e.time_nano <= until_nano) &&
          EventMatches(e, s->filters_)) {
        s->queue_.push_back(e);
      }
    }
  }
  if (closed_) {
    s->closed_ = true;
  } else {
    subscribers_.push_back(s);
  }
  return s;
}

void EventBus::Unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  {
    std::lock_guard lock(mu_);
    std::erase(subscribers_, subscription);
  }
  subscription->Close();
}

void EventBus::Close() {
  std::vector<std::shared_ptr<Subscription>> subscribers;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    subscribers.swap(subscribers_);
  }
  for (const auto& s : subscribers) {
    s->Close();
  }
}

size_t EventBus::SubscriberCount() const {
  std::lock_guard lock(mu_);
  return subscribers_.size();
}

}  // namespace berth::engine

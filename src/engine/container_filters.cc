#include "engine/container_filters.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>

#include "base/error.h"
#include "base/time_text.h"
#include "engine/container_view.h"
#include "image/reference.h"

namespace berth::engine {

using nlohmann::json;

namespace {

constexpr std::array<std::string_view, 15> kAccepted = {
    "ancestor", "before", "exited", "id",      "isolation", "label",   "name",  "status",
    "health",   "since",  "volume", "network", "is-task",   "publish", "expose"};

std::string Joined(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    out += (i == 0 ? "" : " ") + values[i];
  }
  return out + "]";
}

// strconv.Atoi / ParseUint: the whole text, decimal, in range; Go's error text otherwise.
template <typename T>
T ParseGoInt(const std::string& text, const char* func) {
  T value{};
  const char* begin = text.data();
  const char* end = begin + text.size();
  if (!text.empty() && text[0] == '+' && std::is_signed_v<T>) {
    ++begin;
  }
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (text.empty() || ec == std::errc::invalid_argument || ptr != end) {
    ThrowInvalid(std::string(func) + ": parsing \"" + text + "\": invalid syntax");
  }
  if (ec == std::errc::result_out_of_range) {
    ThrowInvalid(std::string(func) + ": parsing \"" + text + "\": value out of range");
  }
  return value;
}

// go-connections nat: "80", "80/udp", "8000-8010/tcp" into "80/tcp"… (daemon/list.go portOp).
void AddPorts(const std::string& key, const std::string& value, std::set<std::string>& out) {
  if (value.find(':') != std::string::npos) {
    ThrowInvalid("filter for '" + key + "' should not contain ':': " + value);
  }
  std::string port = value, proto = "tcp";
  if (const size_t slash = value.find('/'); slash != std::string::npos) {
    port = value.substr(0, slash);
    const size_t next = value.find('/', slash + 1);
    if (std::string p = value.substr(slash + 1, next - slash - 1); !p.empty()) {
      proto = p;
    }
  }
  try {
    if (port.empty()) {
      ThrowInvalid("empty string specified for ports");
    }
    const size_t dash = port.find('-');
    const auto start = ParseGoInt<uint16_t>(port.substr(0, dash), "strconv.ParseUint");
    const auto end = dash == std::string::npos
                         ? start
                         : ParseGoInt<uint16_t>(port.substr(dash + 1), "strconv.ParseUint");
    if (end < start) {
      ThrowInvalid("invalid range specified for port: " + port);
    }
    for (uint32_t p = start; p <= end; ++p) {
      out.insert(std::to_string(p) + "/" + proto);
    }
  } catch (const Error& e) {
    ThrowInvalid("error while looking up for " + key + " " + value + ": " + e.what());
  }
}

// "80/tcp" for a Config.ExposedPorts or HostConfig.PortBindings key ("80" means tcp).
std::string PortKey(const std::string& key) {
  return key.find('/') == std::string::npos ? key + "/tcp" : key;
}

std::string Hex(const std::string& id) {
  const size_t colon = id.find(':');
  return colon == std::string::npos ? id : id.substr(colon + 1);
}

// The default ancestor check: the container's own image by name or ID.
bool OwnImage(const Container& c, const std::string& ref) {
  if (ref.empty()) {
    return false;
  }
  if (ref == c.image || ref == c.image_id) {
    return true;
  }
  const std::string hex = Hex(ref);
  if (hex.size() >= 4 && Hex(c.image_id).rfind(hex, 0) == 0 &&
      hex.find_first_not_of("0123456789abcdef") == std::string::npos) {
    return true;
  }
  try {
    return image::ParseReferenceWithDefaultTag(ref).String() ==
           image::ParseReferenceWithDefaultTag(c.image).String();
  } catch (const Error&) {
    return false;
  }
}

std::string Label(const Container& c, const std::string& key, bool* found) {
  const json labels = c.config.is_object() ? c.config.value("Labels", json()) : json();
  auto it = labels.is_object() ? labels.find(key) : labels.end();
  *found = labels.is_object() && it != labels.end();
  return *found && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

void ValidateContainerFilters(const Filters& filters) {
  for (const auto& [key, values] : filters) {
    if (std::find(kAccepted.begin(), kAccepted.end(), key) == kAccepted.end()) {
      ThrowInvalid("invalid filter '" + key + "'");
    }
  }
  auto each = [&](const char* key, auto check) {
    if (auto it = filters.find(key); it != filters.end()) {
      for (const std::string& v : it->second) {
        check(v);
      }
    }
  };
  each("exited", [](const std::string& v) {
    try {
      ParseGoInt<int>(v, "strconv.Atoi");
    } catch (const Error& e) {
      ThrowInvalid("invalid filter 'exited=" + v + "': " + e.what());
    }
  });
  each("status", [](const std::string& v) {
    try {
      ParseStatus(v);
    } catch (const Error&) {
      ThrowInvalid("invalid filter 'status=" + v + "': invalid value for state (" + v +
                   "): must be one of created, running, paused, restarting, removing, exited, "
                   "dead");
    }
  });
  if (auto it = filters.find("is-task"); it != filters.end() && !it->second.empty()) {
    const auto& v = it->second;
    auto has = [&](const char* s) { return std::find(v.begin(), v.end(), s) != v.end(); };
    const bool is_false = has("0") || has("false");
    const bool is_true = has("1") || has("true");
    if (is_false == is_true) {
      ThrowInvalid("invalid filter 'is-task=" + Joined(v) + "'");
    }
  }
  each("health", [](const std::string& v) {
    if (v != "none" && v != "starting" && v != "healthy" && v != "unhealthy") {
      ThrowInvalid("invalid filter 'health=" + v + "': invalid value for health (" + v +
                   "): must be one of none, starting, healthy, unhealthy");
    }
  });
  std::set<std::string> ports;
  each("publish", [&](const std::string& v) { AddPorts("publish", v, ports); });
  each("expose", [&](const std::string& v) { AddPorts("expose", v, ports); });
}

ContainerFilter::ContainerFilter(const Filters& filters, FilterContext context)
    : context_(std::move(context)) {
  ValidateContainerFilters(filters);
  for (const auto& [key, values] : filters) {
    if (!values.empty()) {
      filters_[key] = values;  // an empty list constrains nothing (Docker's ExactMatch)
    }
  }
  auto values = [&](const char* key) {
    auto it = filters_.find(key);
    return it == filters_.end() ? std::vector<std::string>{} : it->second;
  };
  for (const std::string& v : values("name")) {
    try {
      names_.emplace_back(v, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      // Docker skips a value that is not a regular expression (it may still match exactly).
    }
  }
  for (const std::string& v : values("exited")) {
    exited_.push_back(ParseGoInt<int>(v, "strconv.Atoi"));
  }
  auto resolve = [&](const std::string& ref) {
    const Container* c = context_.find_container ? context_.find_container(ref) : nullptr;
    if (c == nullptr) {
      throw Error(Kind::kNotFound, "no such container " + ref);
    }
    return std::make_pair(CreatedNanos(*c), c->id);
  };
  for (const std::string& v : values("before")) {
    before_ = resolve(v);
  }
  for (const std::string& v : values("since")) {
    since_ = resolve(v);
  }
  for (const std::string& v : values("publish")) {
    AddPorts("publish", v, publish_);
  }
  for (const std::string& v : values("expose")) {
    AddPorts("expose", v, expose_);
  }
}

bool ContainerFilter::Matches(const Container& c) const {
  auto values = [&](const char* key) -> const std::vector<std::string>* {
    auto it = filters_.find(key);
    return it == filters_.end() ? nullptr : &it->second;
  };
  auto any = [](const std::vector<std::string>* vs, auto pred) {
    return vs == nullptr || std::any_of(vs->begin(), vs->end(), pred);
  };
  const std::pair<int64_t, std::string> order{CreatedNanos(c), c.id};
  if ((before_ && !(order < *before_)) || (since_ && !(*since_ < order))) {
    return false;
  }
  if (!MatchesNames(c)) {
    return false;
  }
  if (!any(values("id"), [&](const std::string& v) { return c.id.rfind(v, 0) == 0; })) {
    return false;
  }
  if (const auto* task = values("is-task");
      task != nullptr && std::find(task->begin(), task->end(), "true") != task->end()) {
    return false;  // no swarm tasks here
  }
  if (const auto* labels = values("label")) {
    for (const std::string& v : *labels) {  // every label filter must hold
      const size_t eq = v.find('=');
      const bool negated = eq != std::string::npos && eq > 0 && v[eq - 1] == '!';
      const std::string key = v.substr(0, negated ? eq - 1 : eq);
      bool found = false;
      const std::string value = Label(c, key, &found);
      if (negated ? found && value == v.substr(eq + 1)
                  : !found || (eq != std::string::npos && value != v.substr(eq + 1))) {
        return false;
      }
    }
  }
  if (!exited_.empty() &&
      (c.Running() || !ParseRfc3339Nano(c.state.started_at) ||
       std::find(exited_.begin(), exited_.end(), c.state.exit_code) == exited_.end())) {
    return false;
  }
  const std::string state = StateString(c);
  if (!any(values("status"), [&](const std::string& v) { return v == state; })) {
    return false;
  }
  const std::string health = HealthStatus(c);
  if (!any(values("health"), [&](const std::string& v) { return v == health; })) {
    return false;
  }
  if (const auto* volumes = values("volume")) {
    const json mounts = MountPoints(c);
    if (!std::any_of(volumes->begin(), volumes->end(), [&](const std::string& v) {
          return std::any_of(mounts.begin(), mounts.end(), [&](const json& m) {
            return m.value("Destination", "") == v || m.value("Name", "") == v ||
                   (m.value("Name", "").empty() && m.value("Source", "") == v);
          });
        })) {
      return false;
    }
  }
  return MatchesAncestor(c) && MatchesNetwork(c) && MatchesPorts(c);
}

bool ContainerFilter::MatchesNames(const Container& c) const {
  auto it = filters_.find("name");
  if (it == filters_.end()) {
    return true;
  }
  const std::string bare = c.name.empty() || c.name[0] != '/' ? c.name : c.name.substr(1);
  for (const std::string& v : it->second) {
    if (v == c.name || v == bare) {
      return true;
    }
  }
  return std::any_of(names_.begin(), names_.end(), [&](const std::regex& re) {
    return std::regex_search(c.name, re) || std::regex_search(bare, re);
  });
}

bool ContainerFilter::MatchesAncestor(const Container& c) const {
  auto it = filters_.find("ancestor");
  if (it == filters_.end()) {
    return true;
  }
  return std::any_of(it->second.begin(), it->second.end(), [&](const std::string& ref) {
    return context_.image_matches ? context_.image_matches(ref, c.image_id) : OwnImage(c, ref);
  });
}

bool ContainerFilter::MatchesNetwork(const Container& c) const {
  auto it = filters_.find("network");
  if (it == filters_.end()) {
    return true;
  }
  const json networks = NetworksFromMode(c);
  return std::any_of(it->second.begin(), it->second.end(), [&](const std::string& v) {
    for (const auto& [name, endpoint] : networks.items()) {
      std::string id = endpoint.value("NetworkID", "");
      if (id.empty() && context_.network_id) {
        id = context_.network_id(name);
      }
      if (name == v || (!id.empty() && id.rfind(v, 0) == 0)) {
        return true;
      }
    }
    return false;
  });
}

bool ContainerFilter::MatchesPorts(const Container& c) const {
  if (publish_.empty() && expose_.empty()) {
    return true;
  }
  const json bindings =
      c.host_config.is_object() ? c.host_config.value("PortBindings", json()) : json();
  if (bindings.is_object()) {
    for (const auto& [key, list] : bindings.items()) {
      const std::string port = PortKey(key);
      if (expose_.count(port)) {
        return true;
      }
      const std::string proto = port.substr(port.find('/') + 1);
      for (const json& b : list.is_array() ? list : json::array()) {
        if (const std::string host = b.value("HostPort", "");
            !host.empty() && publish_.count(host + "/" + proto)) {
          return true;
        }
      }
    }
  }
  const json exposed = c.config.is_object() ? c.config.value("ExposedPorts", json()) : json();
  if (exposed.is_object()) {
    for (const auto& [key, unused] : exposed.items()) {
      if (expose_.count(PortKey(key))) {
        return true;
      }
    }
  }
  return false;
}

bool MatchesFilters(const Container& c, const Filters& filters, const FilterContext& context) {
  return ContainerFilter(filters, context).Matches(c);
}

}  // namespace berth::engine

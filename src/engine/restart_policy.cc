#include "engine/restart_policy.h"

#include <algorithm>

namespace berth::engine {

namespace {

constexpr int64_t kFirstBackoffMs = 100;
constexpr int64_t kMaxBackoffMs = 60 * 1000;
constexpr int64_t kResetAfterNs = 10LL * 1000 * 1000 * 1000;

}  // namespace

RestartPolicy RestartPolicyOf(const nlohmann::json& host_config) {
  RestartPolicy p;
  if (!host_config.is_object()) return p;
  auto it = host_config.find("RestartPolicy");
  if (it == host_config.end() || !it->is_object()) return p;
  if (auto n = it->find("Name"); n != it->end() && n->is_string()) p.name = n->get<std::string>();
  if (auto m = it->find("MaximumRetryCount"); m != it->end() && m->is_number_integer()) {
    p.max_retries = std::max<int64_t>(0, m->get<int64_t>());
  }
  return p;
}

bool ShouldRestart(const RestartPolicy& policy, int64_t exit_code, bool manually_stopped,
                   int64_t restart_count, bool daemon_start) {
  if (policy.name == "always") {
    return daemon_start || !manually_stopped;
  }
  if (policy.name == "unless-stopped") {
    return !manually_stopped;
  }
  if (policy.name == "on-failure") {
    if (manually_stopped || exit_code == 0) return false;
    return policy.max_retries == 0 || restart_count < policy.max_retries;
  }
  return false;
}

int64_t NextBackoffMs(int64_t previous_ms, int64_t ran_ns) {
  if (previous_ms <= 0 || ran_ns >= kResetAfterNs) return kFirstBackoffMs;
  return std::min(previous_ms * 2, kMaxBackoffMs);
}

}  // namespace berth::engine

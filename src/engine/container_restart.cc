// Restart policies in berthd: the monitor thread sees a container's exit through its shim's
// pidfd (Exited); PlanRestartLocked decides with Docker's rules (restart_policy.h) and files a
// due time; the restarter thread starts the container again when it is due. A container
// waiting for its restart is `restarting` (State.Restarting, Running as Docker has it), so
// berthd never spins: the wait grows from 100 ms to a minute while the container keeps failing.

#include <chrono>

#include "base/error.h"
#include "base/log.h"
#include "base/time_text.h"
#include "engine/container_service.h"
#include "engine/container_service_internal.h"
#include "engine/restart_policy.h"

namespace berth::engine {

namespace {

int64_t RanNs(const Container& c) {
  std::optional<int64_t> started = ParseRfc3339Nano(c.state.started_at);
  std::optional<int64_t> finished = ParseRfc3339Nano(c.state.finished_at);
  if (!started || !finished || *finished < *started) return 0;
  return *finished - *started;
}

}  // namespace

bool ContainerService::PlanRestartLocked(Entry& e) {
  Container& c = e.c;
  RestartPolicy policy = RestartPolicyOf(c.host_config);
  if (policy.None() || e.removed || shutting_down_) return false;
  if (!ShouldRestart(policy, c.state.exit_code, c.state.manually_stopped, c.state.restart_count,
                     false)) {
    return false;
  }
  e.backoff_ms = NextBackoffMs(e.backoff_ms, RanNs(c));
  c.state.status = ContainerStatus::kRestarting;
  ++c.state.restart_count;
  restart_due_[c.id] = std::chrono::steady_clock::now() + std::chrono::milliseconds(e.backoff_ms);
  changed_.notify_all();
  return true;
}

bool ContainerService::CancelRestartLocked(Entry& e) {
  if (e.c.state.status != ContainerStatus::kRestarting) return false;
  restart_due_.erase(e.c.id);
  e.c.state.status = ContainerStatus::kExited;
  e.c.state.manually_stopped = true;
  changed_.notify_all();
  return true;
}

void ContainerService::ResetRestartLocked(Entry& e) {
  restart_due_.erase(e.c.id);
  e.c.state.manually_stopped = false;
  e.c.state.restart_count = 0;
  e.backoff_ms = 0;
}

bool ContainerService::RestartAtDaemonStart(Entry& e) {
  Container& c = e.c;
  bool restart = c.state.status == ContainerStatus::kRestarting;  // berthd died in the wait
  if (!restart &&
      (c.state.status == ContainerStatus::kExited || c.state.status == ContainerStatus::kCreated)) {
    // Only containers that ran once: a created container waits for its first start.
    restart = ParseRfc3339Nano(c.state.started_at).has_value() &&
              ShouldRestart(RestartPolicyOf(c.host_config), c.state.exit_code,
                            c.state.manually_stopped, c.state.restart_count, true);
  }
  if (!restart) return false;
  std::lock_guard<std::mutex> lock(mu_);
  c.state.status = ContainerStatus::kRestarting;
  c.state.pid = 0;
  restart_due_[c.id] = std::chrono::steady_clock::now();
  return true;
}

void ContainerService::RestartLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!shutting_down_) {
    if (restart_due_.empty()) {
      changed_.wait(lock);
      continue;
    }
    auto next = restart_due_.begin();
    for (auto it = restart_due_.begin(); it != restart_due_.end(); ++it) {
      if (it->second < next->second) next = it;
    }
    if (std::chrono::steady_clock::now() < next->second) {
      // A copy: a stop or rm erases the entry while this waits (the lock released).
      const auto due = next->second;
      changed_.wait_until(lock, due);
      continue;
    }
    std::string id = next->first;
    restart_due_.erase(next);
    lock.unlock();
    RestartNow(id);
    lock.lock();
  }
}

void ContainerService::RestartNow(const std::string& id) {
  std::shared_ptr<Entry> e;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    e = it->second;
  }
  std::lock_guard<std::mutex> op(e->op);
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A stop, kill or rm came first, or a user's start did the job.
    if (e->removed || shutting_down_ || e->c.state.status != ContainerStatus::kRestarting) return;
  }
  try {
    StartLocked(*e);  // emits "start", as dockerd does for a policy's restart
  } catch (const Error& err) {
    // StartLocked recorded the failure (exited, 125-127): the policy gives up, as dockerd's
    // restart manager does when a start fails.
    log::Warn("restart " + id + ": " + err.what());
  }
}

}  // namespace berth::engine

#include "engine/container.h"

#include <array>

#include "base/error.h"

namespace berth::engine {
namespace {

constexpr std::array<std::string_view, 7> kStatusNames = {
    "created", "running", "paused", "restarting", "removing", "exited", "dead"};

template <typename T>
T Field(const nlohmann::json& j, const char* key) {
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(Kind::kDataLoss, std::string("container record: ") + key + ": " + e.what());
  }
}

template <typename T>
T Optional(const nlohmann::json& j, const char* key, T fallback) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? fallback : Field<T>(j, key);
}

}  // namespace

std::string_view StatusName(ContainerStatus status) {
  return kStatusNames[static_cast<size_t>(status)];
}

ContainerStatus ParseStatus(std::string_view name) {
  for (size_t i = 0; i < kStatusNames.size(); ++i) {
    if (kStatusNames[i] == name) {
      return static_cast<ContainerStatus>(i);
    }
  }
  ThrowInvalid("invalid container status: \"" + std::string(name) + "\"");
}

nlohmann::json ToJson(const Container& c) {
  const ContainerState& s = c.state;
  nlohmann::json out = {{"Id", c.id},
                        {"Name", c.name},
                        {"Image", c.image},
                        {"ImageID", c.image_id},
                        {"Created", c.created},
                        {"Path", c.path},
                        {"Args", c.args},
                        {"Config", c.config},
                        {"HostConfig", c.host_config},
                        {"ChainIDs", c.chain_ids},
                        {"UsernsBase", c.userns_base},
                        {"LogPath", c.log_path},
                        {"State",
                         {{"Status", StatusName(s.status)},
                          {"Pid", s.pid},
                          {"ExitCode", s.exit_code},
                          {"Error", s.error},
                          {"StartedAt", s.started_at},
                          {"FinishedAt", s.finished_at},
                          {"OOMKilled", s.oom_killed},
                          {"RestartCount", s.restart_count},
                          {"ShimPid", s.shim_pid},
                          {"ShimStartTime", s.shim_start_time},
                          {"HasBeenManuallyStopped", s.manually_stopped},
                          {"Health",
                           {{"Status", s.health.status},
                            {"FailingStreak", s.health.failing_streak},
                            {"Log", s.health.log}}}}}};
  if (c.mounts) {
    nlohmann::json m = nlohmann::json::array();
    for (const MountPoint& p : *c.mounts) m.push_back(ToJson(p));
    out["MountPoints"] = std::move(m);
  }
  return out;
}

Container ContainerFromJson(const nlohmann::json& j) {
  Container c;
  c.id = Field<std::string>(j, "Id");
  c.name = Field<std::string>(j, "Name");
  c.image = Field<std::string>(j, "Image");
  c.image_id = Field<std::string>(j, "ImageID");
  c.created = Field<std::string>(j, "Created");
  c.path = Field<std::string>(j, "Path");
  c.args = Field<std::vector<std::string>>(j, "Args");
  c.config = j.value("Config", nlohmann::json::object());
  c.host_config = j.value("HostConfig", nlohmann::json::object());
  c.chain_ids = Field<std::vector<std::string>>(j, "ChainIDs");
  c.userns_base = Optional<uint64_t>(j, "UsernsBase", 0);
  c.log_path = Optional<std::string>(j, "LogPath", "");
  const nlohmann::json& s = j.contains("State") ? j["State"] : nlohmann::json::object();
  try {
    c.state.status = ParseStatus(Field<std::string>(s, "Status"));
  } catch (const Error& e) {
    throw Error(Kind::kDataLoss, std::string("container record: ") + e.what());
  }
  c.state.pid = Optional<int64_t>(s, "Pid", 0);
  c.state.exit_code = Optional<int64_t>(s, "ExitCode", 0);
  c.state.error = Optional<std::string>(s, "Error", "");
  c.state.started_at = Optional<std::string>(s, "StartedAt", std::string(kZeroTime));
  c.state.finished_at = Optional<std::string>(s, "FinishedAt", std::string(kZeroTime));
  c.state.oom_killed = Optional<bool>(s, "OOMKilled", false);
  c.state.restart_count = Optional<int64_t>(s, "RestartCount", 0);
  c.state.shim_pid = Optional<int64_t>(s, "ShimPid", 0);
  c.state.shim_start_time = Optional<uint64_t>(s, "ShimStartTime", 0);
  c.state.manually_stopped = Optional<bool>(s, "HasBeenManuallyStopped", false);
  if (const nlohmann::json m = j.value("MountPoints", nlohmann::json()); m.is_array()) {
    std::vector<MountPoint> mounts;
    for (const auto& item : m) mounts.push_back(MountPointFromJson(item));
    c.mounts = std::move(mounts);
  }
  if (const nlohmann::json h = s.value("Health", nlohmann::json()); h.is_object()) {
    c.state.health.status = Optional<std::string>(h, "Status", "");
    c.state.health.failing_streak = Optional<int64_t>(h, "FailingStreak", 0);
    c.state.health.log = h.value("Log", nlohmann::json::array());
  }
  return c;
}

}  // namespace berth::engine

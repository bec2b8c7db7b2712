// -v specs, --mount CSV lines, HostConfig mount objects and mount(8) -o text are untrusted
// input (any API client, any command line): parse or refuse with berth::Error, nothing else.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "base/error.h"
#include "cli/container_opts.h"
#include "engine/mount_point.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    berth::engine::ParseBind(text);
  } catch (const berth::Error&) {
  }
  try {
    berth::cli::ParseMountOpt(text);
  } catch (const berth::Error&) {
  }
  try {
    berth::engine::ParseVolumesFrom(text);
  } catch (const berth::Error&) {
  }
  berth::engine::ParseMountFlags(text);
  berth::engine::IsValidVolumeName(text);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) {
    try {
      berth::engine::ParseMountRequests(
          j, j.is_object() ? j.value("Volumes", nlohmann::json()) : nlohmann::json());
    } catch (const berth::Error&) {
    }
    try {
      berth::engine::ValidateLocalVolumeOptions(j);
    } catch (const berth::Error&) {
    }
  }
  return 0;
}

// What the container commands parse: the daemon's multiplexed stream (frames of any size,
// cut anywhere), and user text for --since/--until, --ulimit and --device.
// Anything may be refused with berth::Error; nothing may crash or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/error.h"
#include "cli/attach.h"
#include "cli/container_format.h"
#include "cli/container_opts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t total = 0;
  berth::cli::FrameDemuxer demux([&](int, std::string_view payload) { total += payload.size(); });
  try {
    for (size_t i = 0; i < text.size(); i += 5) {
      demux.Feed(text.substr(i, 5));
    }
  } catch (const berth::Error&) {
  }
  for (auto parse : {+[](std::string_view t) { (void)berth::cli::ApiTimestamp(t, 1700000000); },
                     +[](std::string_view t) { (void)berth::cli::ParseUlimit(t); },
                     +[](std::string_view t) { (void)berth::cli::ParseDevice(t); }}) {
    try {
      parse(text);
    } catch (const berth::Error&) {
    } catch (const std::exception&) {
    }
  }
  return 0;
}

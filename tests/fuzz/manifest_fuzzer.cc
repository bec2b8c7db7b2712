// Manifests, indexes and image configs come from registries and tarballs: parse or refuse
// with berth::Error, whatever the bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/error.h"
#include "image/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    berth::image::Document d = berth::image::ParseDocument(bytes);
    if (d.index) {
      berth::image::SelectPlatform(*d.index, berth::image::HostPlatform());
    }
  } catch (const berth::Error&) {
  }
  try {
    berth::image::ParseImageConfig(bytes);
  } catch (const berth::Error&) {
  }
  return 0;
}

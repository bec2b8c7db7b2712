// Image references come from users and registries: parse or refuse with berth::Error, and
// what parses must print to a form that parses back to the same reference.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/error.h"
#include "image/reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  berth::image::Reference ref;
  try {
    ref = berth::image::ParseReference(text);
  } catch (const berth::Error&) {
    return 0;
  }
  if (!(berth::image::ParseReference(ref.String()) == ref) ||
      !(berth::image::ParseReference(ref.Familiar()) == ref)) {
    abort();
  }
  return 0;
}

// config.json and process.json are untrusted input: any byte string must either parse or be
// refused with berth::Error, never crash or throw anything else.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/error.h"
#include "oci/runtime_spec.h"
#include "runtime/lsm.h"
#include "runtime/sysctl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    berth::oci::Spec spec = berth::oci::ParseSpec(text);
    if (spec.linux) {
      berth::runtime::ValidateSysctls(*spec.linux);
    }
  } catch (const berth::Error&) {
  }
  try {
    berth::oci::ParseProcess(text);
  } catch (const berth::Error&) {
  }
  return 0;
}

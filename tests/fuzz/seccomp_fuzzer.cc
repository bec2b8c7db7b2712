// linux.seccomp objects are untrusted input: compile or refuse with berth::Error.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "runtime/seccomp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return 0;
  }
  try {
    berth::runtime::CompileSeccomp(j);
  } catch (const berth::Error&) {
  }
  return 0;
}

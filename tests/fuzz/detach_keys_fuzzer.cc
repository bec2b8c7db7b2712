// `detachKeys` on attach and exec comes from API clients: the first bytes (up to a newline)
// are the key spec, the rest is stdin fed to the matcher in pieces. Anything may be refused
// with berth::Error; nothing may crash, and the matcher's output is always the input minus
// at most the sequence and what followed it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/error.h"
#include "shim/detach_keys.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t nl = text.find('\n');
  std::string_view spec = text.substr(0, nl);
  std::string_view input = nl == std::string_view::npos ? "" : text.substr(nl + 1);
  std::string keys;
  try {
    keys = berth::shim::ParseDetachKeys(spec);
  } catch (const berth::Error&) {
    return 0;
  }
  berth::shim::DetachMatcher matcher(keys);
  std::string out;
  size_t fed = 0;
  bool detached = false;
  for (size_t i = 0; i < input.size() && !detached; i += 3) {
    std::string_view piece = input.substr(i, 3);
    detached = matcher.Feed(piece, &out);
    fed = i + piece.size();
  }
  if (out.size() + matcher.held().size() > fed) {
    abort();
  }
  if (!detached && out + matcher.held() != input.substr(0, fed)) {
    abort();
  }
  return 0;
}

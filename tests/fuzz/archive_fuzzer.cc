// Image archives (docker load bodies) are untrusted input: read or refuse with berth::Error,
// and a refused archive leaves the content store exactly as it was (checked after each input:
// the store must hold only what the seed put there).
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/error.h"
#include "base/file_util.h"
#include "image/archive.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string base = [] {
    char tmpl[] = "/tmp/berth-fuzz-archive.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) abort();
    static std::string path = tmpl;
    atexit([] { berth::RemoveAll(path); });
    return path;
  }();
  berth::image::ContentStore store(base + "/content");
  size_t pos = 0;
  berth::image::ReadFn read = [&](void* buf, size_t n) {
    n = std::min(n, size - pos);
    memcpy(buf, data + pos, n);
    pos += n;
    return n;
  };
  bool ok = false;
  try {
    berth::image::ReadImageArchive(read, store, berth::image::HostPlatform());
    ok = true;
  } catch (const berth::Error&) {
  }
  if (!ok && !store.List().empty()) abort();  // a refused archive left blobs behind
  for (const std::string& digest : store.List()) {
    if (!store.Verify(digest)) abort();  // a blob under a name that is not its digest
    store.Delete(digest);
  }
  return 0;
}

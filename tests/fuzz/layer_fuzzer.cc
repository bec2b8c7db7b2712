// Layer tars are untrusted input: apply or refuse with berth::Error, and never create anything
// outside the target root (checked here for the directory around it).
#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "image/layer.h"

namespace {

int EntriesIn(const std::string& dir) {
  int n = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d)) {
      n += e->d_name[0] != '.';
    }
    closedir(d);
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string base = [] {
    char tmpl[] = "/tmp/berth-fuzz-layer.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) abort();
    static std::string path = tmpl;
    atexit([] { berth::RemoveAll(path); });
    return path;
  }();
  std::string root = base + "/root";
  berth::MkdirAll(root, 0755);
  berth::UniqueFd fd(memfd_create("layer", MFD_CLOEXEC));
  if (write(fd.get(), data, size) != static_cast<ssize_t>(size)) abort();
  lseek(fd.get(), 0, SEEK_SET);
  auto mode = size % 2 ? berth::image::WhiteoutMode::kApply : berth::image::WhiteoutMode::kOverlay;
  try {
    berth::image::ApplyLayer(fd.get(), root, mode);
  } catch (const berth::Error&) {
  }
  if (EntriesIn(base) != 1) abort();  // something was written beside the root
  berth::RemoveAll(root);
  return 0;
}

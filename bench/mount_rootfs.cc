// berth-bench-mount ROOT IMAGE RUNS WORKDIR
//
// Mounts the rootfs of IMAGE (loaded in the berthd whose --root is ROOT) RUNS times, each on
// a fresh upper/work directory under WORKDIR, the way a container start does, and prints the
// time of the mount alone: median, p90 and min in milliseconds. Each mount is undone before
// the next. For bench/image_load.sh.

#include <sys/mount.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/file_util.h"
#include "engine/image_service.h"

namespace {

double NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s ROOT IMAGE RUNS WORKDIR\n", argv[0]);
    return 2;
  }
  try {
    berth::engine::ImageService images(argv[1]);
    std::vector<std::string> chain = images.ChainIds(images.Resolve(argv[2]));
    int runs = std::stoi(argv[3]);
    std::string work = argv[4];
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) {
      std::string rw = work + "/rw" + std::to_string(i), target = work + "/rootfs";
      berth::MkdirAll(target, 0755);
      double t0 = NowMs();
      images.snapshots().MountRootfs(chain, rw, target);
      times.push_back(NowMs() - t0);
      if (umount2(target.c_str(), 0) < 0) {
        berth::ThrowErrno("umount " + target);
      }
      berth::RemoveAll(rw);
    }
    std::sort(times.begin(), times.end());
    printf("layers=%zu runs=%d median_ms=%.3f p90_ms=%.3f min_ms=%.3f\n", chain.size(), runs,
           times[times.size() / 2], times[times.size() * 9 / 10], times.front());
    return 0;
  } catch (const berth::Error& e) {
    fprintf(stderr, "berth-bench-mount: %s\n", e.what());
    return 1;
  }
}

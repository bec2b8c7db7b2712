// linux.resources objects are untrusted input: translate or refuse with berth::Error, on a
// hybrid and a pure v2 layout alike.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "runtime/cgroup_resources.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return 0;
  }
  static const berth::runtime::CgroupLayout hybrid = [] {
    auto l = berth::runtime::ParseCgroupLayout(
        "1 0 0:1 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "2 0 0:2 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
        "3 0 0:3 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n"
        "4 0 0:4 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
    l.v2_controllers = {"hugetlb"};
    return l;
  }();
  static const berth::runtime::CgroupLayout v2 =
      berth::runtime::ParseCgroupLayout("1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  for (const auto* layout : {&hybrid, &v2}) {
    std::vector<std::string> warnings;
    try {
      berth::runtime::TranslateResources(j, *layout, &warnings);
    } catch (const berth::Error&) {
    }
  }
  return 0;
}

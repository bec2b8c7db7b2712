#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

// Docker's progress messages, as the daemon streams them for pull and push (and the CLI
// renders them): {"status","progressDetail":{"current","total"},"progress","id"}.

namespace berth::engine {

// Docker's units.HumanSize: decimal, four significant digits ("115B", "19.97kB", "1.984MB").
std::string HumanSize(double bytes);
// Docker's JSONProgress.String(): "[==>      ]  1.2MB/3.4MB" (50 columns of bar), or the
// current size alone when the total is unknown or passed.
std::string ProgressBar(uint64_t current, uint64_t total);
// {"status":status,"progressDetail":{},"id":id} (id omitted when empty).
nlohmann::json StatusMessage(const std::string& status, const std::string& id = "");
// {"status":status,"progressDetail":{"current","total"},"progress":bar,"id":id}.
nlohmann::json ProgressMessage(const std::string& status, const std::string& id, uint64_t current,
                               uint64_t total);
// {"errorDetail":{"message":m},"error":m}: a failure once the stream has begun.
nlohmann::json ErrorMessage(const std::string& message);

}  // namespace berth::engine

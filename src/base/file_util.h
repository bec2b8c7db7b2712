#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace berth {

// Reads a whole file; throws berth::Error naming the path.
std::string ReadFile(const std::string& path);

// Like ReadFile, but returns nullopt when the file does not exist.
std::optional<std::string> ReadFileIfExists(const std::string& path);

enum class Durability {
  kDurable,   // fsync the file and its directory: survives power loss (engine metadata)
  kVolatile,  // rename only: survives a crash of the writer, not of the machine (/run state)
};

// Writes `data` to a temp file beside `path` and renames it over `path`: readers and a
// crashed writer see the old or the new content, never a mix. kDurable also fsyncs the file
// before the rename and the directory after it.
void WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                     Durability durability = Durability::kDurable);

// Writes `data` to an existing file (cgroup and /proc knobs); throws naming the path.
void WriteFileOrThrow(const std::string& path, std::string_view data);

// mkdir -p; throws naming the path on failure.
void MkdirAll(const std::string& path, mode_t mode = 0755);

// rm -rf that never crosses into another mount; returns false if something remained.
bool RemoveAll(const std::string& path) noexcept;

// Bytes allocated to everything under the directory `path` (st_blocks; links not followed,
// other mounts not skipped); 0 when it cannot be opened.
uint64_t DiskUsage(const std::string& path);

// Joins two path pieces with exactly one '/'.
std::string JoinPath(std::string_view a, std::string_view b);

}  // namespace berth

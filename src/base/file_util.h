#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace berth {

// Reads a whole file; throws berth::Error naming the path.
std::string ReadFile(const std::string& path);

// Like ReadFile, but returns nullopt when the file does not exist.
std::optional<std::string> ReadFileIfExists(const std::string& path);

// Writes `data` to a temp file beside `path`, fsyncs it, renames it over `path` and fsyncs the
// directory: after a crash the file holds either the old or the new content, never a mix.
void WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644);

// Writes `data` to an existing file (cgroup and /proc knobs); throws naming the path.
void WriteFileOrThrow(const std::string& path, std::string_view data);

// mkdir -p; throws naming the path on failure.
void MkdirAll(const std::string& path, mode_t mode = 0755);

// rm -rf that never crosses into another mount; returns false if something remained.
bool RemoveAll(const std::string& path) noexcept;

// Joins two path pieces with exactly one '/'.
std::string JoinPath(std::string_view a, std::string_view b);

}  // namespace berth

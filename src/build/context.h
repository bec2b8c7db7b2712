#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "build/dockerignore.h"

// The build context: the files of a directory that .dockerignore does not exclude, in a
// deterministic order (byte order of names, depth first), sent as a tar stream; and the
// content hash of the files a COPY or ADD takes from it.

namespace berth::build {

// Where `berth build --secret id=X,src=F` puts F in the context tar it sends: <dir>/X. berthd
// takes the directory out of the context before reading it; RUN --mount=type=secret,id=X binds
// the file read-only (a Berth extension of the classic protocol, which has no secrets).
inline constexpr const char* kSecretsDir = ".berth-build-secrets";

struct ContextEntry {
  std::string path;  // relative to the context root, '/'-separated, never "." or ".."
  mode_t mode = 0;   // type and permission bits (lstat)
  uid_t uid = 0;
  gid_t gid = 0;
  uint64_t size = 0;
  int64_t mtime = 0;        // seconds; sent in the tar, never part of a hash
  std::string link_target;  // symlinks
  bool IsDir() const { return S_ISDIR(mode); }
};

// Reads <dir>/.dockerignore when it exists (no patterns otherwise).
IgnoreMatcher LoadDockerignore(const std::string& dir);

// Lists the context: everything under `dir` that `ignore` does not exclude, plus the files in
// `always` (the Dockerfile and .dockerignore: Docker sends them even when ignored, and the
// builder hides them from COPY). Sockets, fifos and devices are left out. Throws berth::Error
// when `dir` cannot be read.
std::vector<ContextEntry> WalkContext(const std::string& dir, const IgnoreMatcher& ignore,
                                      const std::vector<std::string>& always = {});

using TarWriteFn = std::function<void(const void* data, size_t size)>;

// Writes `entries` of `dir` as an uncompressed tar (pax) to `write`, owners 0:0 as the docker
// CLI sends them, modes and mtimes as on disk.
void WriteContextTar(const std::string& dir, const std::vector<ContextEntry>& entries,
                     const TarWriteFn& write);

// What `berth build` sends: the context `dir` as a tar, honouring its .dockerignore, with
// `dockerfile` (relative to `dir`, when it is inside) and .dockerignore always included.
void WriteBuildContext(const std::string& dir, const std::string& dockerfile,
                       const TarWriteFn& write);

// The entries of one context, with the content hash of each file computed once.
class ContextIndex {
 public:
  ContextIndex(std::string dir, std::vector<ContextEntry> entries);
  // Walks `dir` with its .dockerignore; `dockerfile` (relative) is hidden when ignored.
  static ContextIndex Load(const std::string& dir);

  const std::vector<ContextEntry>& entries() const { return entries_; }

  // sha256 of one entry: path, type, permission bits, uid, gid, symlink target and content;
  // never the mtime.
  std::string EntryDigest(const ContextEntry& e);

  // The entries a COPY/ADD source selects: the path itself or what its wildcards match, and
  // everything below a directory. Throws berth::Error: kInvalidArgument for a source outside
  // the context ("../x"), kNotFound when nothing matches.
  // `excludes` (COPY/ADD --exclude, .dockerignore syntax) drop entries whose path relative to
  // the source they come from matches (a file source is matched by its base name), with
  // everything below an excluded directory.
  std::vector<const ContextEntry*> Select(const std::string& source,
                                          const std::vector<std::string>& excludes = {}) const;

  // One digest over everything `sources` select (sorted and de-duplicated).
  std::string SourcesDigest(const std::vector<std::string>& sources,
                            const std::vector<std::string>& excludes = {});

 private:
  std::string dir_;
  std::vector<ContextEntry> entries_;
  std::map<std::string, size_t> by_path_;
  std::map<std::string, std::string> digests_;
};

}  // namespace berth::build

#include "build/context.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <set>

#include "base/digest.h"
#include "base/error.h"
#include "base/fd.h"

namespace berth::build {
namespace {

std::string Join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

std::string ReadLink(const std::string& path) {
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0) ThrowErrno("build context: readlink " + path);
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

std::optional<ContextEntry> Stat(const std::string& root, const std::string& rel) {
  std::string full = root + "/" + rel;
  struct stat st {};
  if (lstat(full.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::nullopt;
    ThrowErrno("build context: stat " + full);
  }
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
    return std::nullopt;
  }
  ContextEntry e;
  e.path = rel;
  e.mode = st.st_mode;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.size = S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
  e.mtime = st.st_mtim.tv_sec;
  if (S_ISLNK(st.st_mode)) e.link_target = ReadLink(full);
  return e;
}

std::vector<std::string> SortedNames(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
  if (!d) ThrowErrno("build context: list " + dir);
  std::vector<std::string> names;
  while (struct dirent* e = readdir(d.get())) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void Walk(const std::string& root, const std::string& rel, const IgnoreMatcher& ignore,
          const std::set<std::string>& always, std::vector<ContextEntry>& out) {
  for (const std::string& name : SortedNames(rel.empty() ? root : root + "/" + rel)) {
    std::string path = Join(rel, name);
    std::optional<ContextEntry> e = Stat(root, path);
    if (!e) continue;
    bool excluded = ignore.Excluded(path) && always.count(path) == 0;
    if (!excluded) out.push_back(*e);
    if (e->IsDir() && (!excluded || ignore.MayReinclude(path) ||
                       std::any_of(always.begin(), always.end(), [&](const std::string& a) {
                         return a.compare(0, path.size() + 1, path + "/") == 0;
                       }))) {
      Walk(root, path, ignore, always, out);
    }
  }
}

struct ArchiveWriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};

struct WriteCtx {
  const TarWriteFn* write;
  std::string error;
};

la_ssize_t WriteCallback(struct archive*, void* opaque, const void* buf, size_t size) {
  auto* ctx = static_cast<WriteCtx*>(opaque);
  try {
    (*ctx->write)(buf, size);
    return static_cast<la_ssize_t>(size);
  } catch (const std::exception& e) {
    ctx->error = e.what();
    return -1;
  }
}

bool HasWildcard(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

}  // namespace

IgnoreMatcher LoadDockerignore(const std::string& dir) {
  std::string path = dir + "/.dockerignore";
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return IgnoreMatcher();
    ThrowErrno("build context: open " + path);
  }
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) ThrowErrno("build context: read " + path);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return IgnoreMatcher(ParseDockerignore(text));
}

std::vector<ContextEntry> WalkContext(const std::string& dir, const IgnoreMatcher& ignore,
                                      const std::vector<std::string>& always) {
  std::set<std::string> keep;
  for (const std::string& a : always) keep.insert(CleanPath(a));
  std::vector<ContextEntry> out;
  Walk(dir, "", ignore, keep, out);
  return out;
}

void WriteContextTar(const std::string& dir, const std::vector<ContextEntry>& entries,
                     const TarWriteFn& write) {
  WriteCtx ctx{&write, {}};
  std::unique_ptr<struct archive, ArchiveWriteFree> a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  archive_write_set_bytes_per_block(a.get(), 10240);
  archive_write_set_bytes_in_last_block(a.get(), 1);
  if (archive_write_open2(a.get(), &ctx, nullptr, WriteCallback, nullptr, nullptr) != ARCHIVE_OK) {
    ThrowInvalid(std::string("build context: start the tar: ") + archive_error_string(a.get()));
  }
  auto fail = [&](const std::string& what) {
    if (!ctx.error.empty()) ThrowInvalid("build context: " + ctx.error);
    ThrowInvalid("build context: " + what + ": " + archive_error_string(a.get()));
  };
  std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> entry(archive_entry_new(),
                                                                               archive_entry_free);
  std::vector<char> buf(1 << 16);
  for (const ContextEntry& e : entries) {
    archive_entry_clear(entry.get());
    archive_entry_set_pathname(entry.get(), e.IsDir() ? (e.path + "/").c_str() : e.path.c_str());
    archive_entry_set_mode(entry.get(), e.mode);
    archive_entry_set_uid(entry.get(), 0);
    archive_entry_set_gid(entry.get(), 0);
    archive_entry_set_mtime(entry.get(), e.mtime, 0);
    if (S_ISLNK(e.mode)) archive_entry_set_symlink(entry.get(), e.link_target.c_str());
    UniqueFd fd;
    uint64_t size = 0;
    if (S_ISREG(e.mode)) {
      std::string full = dir + "/" + e.path;
      fd = UniqueFd(open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
      if (!fd) ThrowErrno("build context: open " + full);
      struct stat st {};
      if (fstat(fd.get(), &st) != 0) ThrowErrno("build context: stat " + full);
      size = static_cast<uint64_t>(st.st_size);
    }
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(size));
    if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK) fail("write " + e.path);
    uint64_t left = size;
    while (left > 0) {
      ssize_t n = read(fd.get(), buf.data(), std::min<uint64_t>(buf.size(), left));
      if (n < 0) ThrowErrno("build context: read " + e.path);
      if (n == 0) ThrowInvalid("build context: " + e.path + " shrank while being sent");
      if (archive_write_data(a.get(), buf.data(), static_cast<size_t>(n)) < 0) {
        fail("write " + e.path);
      }
      left -= static_cast<uint64_t>(n);
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) fail("finish the tar");
}

void WriteBuildContext(const std::string& dir, const std::string& dockerfile,
                       const TarWriteFn& write) {
  std::vector<std::string> always = {".dockerignore"};
  std::string df = CleanPath(dockerfile);
  if (df != "." && df[0] != '/' && df != ".." && df.rfind("../", 0) != 0) always.push_back(df);
  WriteContextTar(dir, WalkContext(dir, LoadDockerignore(dir), always), write);
}

ContextIndex::ContextIndex(std::string dir, std::vector<ContextEntry> entries)
    : dir_(std::move(dir)), entries_(std::move(entries)) {
  for (size_t i = 0; i < entries_.size(); ++i) by_path_[entries_[i].path] = i;
}

ContextIndex ContextIndex::Load(const std::string& dir) {
  return ContextIndex(dir, WalkContext(dir, LoadDockerignore(dir)));
}

std::string ContextIndex::EntryDigest(const ContextEntry& e) {
  auto it = digests_.find(e.path);
  if (it != digests_.end()) return it->second;
  Sha256 h;
  char head[128];
  int n = snprintf(head, sizeof head, "%o %u %u %llu", static_cast<unsigned>(e.mode),
                   static_cast<unsigned>(e.uid), static_cast<unsigned>(e.gid),
                   static_cast<unsigned long long>(e.size));
  h.Update(e.path);
  h.Update("\0", 1);
  h.Update(head, static_cast<size_t>(n));
  h.Update("\0", 1);
  h.Update(e.link_target);
  h.Update("\0", 1);
  if (S_ISREG(e.mode)) {
    std::string full = dir_ + "/" + e.path;
    UniqueFd fd(open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) ThrowErrno("build context: open " + full);
    char buf[65536];
    for (;;) {
      ssize_t r = read(fd.get(), buf, sizeof buf);
      if (r < 0) ThrowErrno("build context: read " + full);
      if (r == 0) break;
      h.Update(buf, static_cast<size_t>(r));
    }
  }
  std::string d = h.Digest();
  digests_[e.path] = d;
  return d;
}

std::vector<const ContextEntry*> ContextIndex::Select(
    const std::string& source, const std::vector<std::string>& excludes) const {
  IgnoreMatcher exclude;
  if (!excludes.empty()) {
    std::string text;
    for (const std::string& e : excludes) text += e + "\n";
    exclude = IgnoreMatcher(ParseDockerignore(text));
  }
  std::string clean = CleanPath(source);
  while (!clean.empty() && clean[0] == '/') clean.erase(0, 1);
  if (clean.empty()) clean = ".";
  if (clean == ".." || clean.rfind("../", 0) == 0) {
    ThrowInvalid("COPY source \"" + source + "\" is outside the build context");
  }
  std::vector<const ContextEntry*> out;
  auto add_tree = [&](const std::string& top) {
    std::string prefix = top + "/";
    for (const ContextEntry& e : entries_) {
      std::string rel;
      if (top == ".") {
        rel = e.path;
      } else if (e.path == top) {
        rel = top.substr(top.rfind('/') + 1);
      } else if (e.path.compare(0, prefix.size(), prefix) == 0) {
        rel = e.path.substr(prefix.size());
      } else {
        continue;
      }
      if (!exclude.empty() && exclude.Excluded(rel)) continue;
      out.push_back(&e);
    }
  };
  if (clean == ".") {
    add_tree(".");
    return out;
  }
  if (!HasWildcard(clean)) {
    if (by_path_.count(clean) == 0) {
      ThrowNotFound("\"" + source +
                    "\" not found in the build context (or excluded by "
                    ".dockerignore)");
    }
    add_tree(clean);
    return out;
  }
  std::set<std::string> tops;
  for (const ContextEntry& e : entries_) {
    if (PatternMatch(clean, e.path)) tops.insert(e.path);
  }
  if (tops.empty()) {
    ThrowNotFound("no file in the build context matches \"" + source + "\"");
  }
  for (const std::string& t : tops) add_tree(t);
  return out;
}

std::string ContextIndex::SourcesDigest(const std::vector<std::string>& sources,
                                        const std::vector<std::string>& excludes) {
  std::map<std::string, const ContextEntry*> all;
  for (const std::string& s : sources) {
    for (const ContextEntry* e : Select(s, excludes)) all[e->path] = e;
  }
  Sha256 h;
  for (const auto& kv : all) {
    h.Update(EntryDigest(*kv.second));
    h.Update("\n", 1);
  }
  return h.Digest();
}

}  // namespace berth::build

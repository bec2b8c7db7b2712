// berth cp [-a] [-L] CONTAINER:SRC DEST|-  and  berth cp [-a] [-L] SRC|- CONTAINER:DEST: the
// docker CLI's copy (cli/command/container/cp.go with pkg/archive's CopyTo rules), over
// HEAD/GET/PUT /containers/{id}/archive. The tar goes through an unnamed temp file each way.

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <memory>

#include "base/error.h"
#include "base/fd.h"
#include "cli/cli.h"

namespace berth::cli {
namespace {

using nlohmann::json;

struct ReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};

UniqueFd TempFile() {
  const char* dir = getenv("TMPDIR");
  UniqueFd fd(open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!fd) ThrowErrno("cp: temp file");
  return fd;
}

void WriteAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno("cp: write");
    p += n;
    size -= static_cast<size_t>(n);
  }
}

std::string Base(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string Dir(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : p.substr(0, slash);
}

bool EndsWithDot(const std::string& p) {
  return p == "." || (p.size() >= 2 && p.compare(p.size() - 2, 2, "/.") == 0);
}

std::string Decode64(const std::string& in) {
  std::string out;
  int val = 0, bits = -8;
  for (unsigned char c : in) {
    const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char* at = strchr(k, c);
    if (c == '=' || !at || !c) break;
    val = (val << 6) + static_cast<int>(at - k);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

// The container's stat of `path`, or null when it does not exist.
json ContainerStat(Context& ctx, const std::string& id, const std::string& path) {
  try {
    api::Reply r = ctx.client().Do(
        "HEAD", "/containers/" + QueryEscape(id) + "/archive?path=" + QueryEscape(path));
    auto it = r.headers.find("x-docker-container-path-stat");
    if (it == r.headers.end()) return json::object();
    return json::parse(Decode64(it->second), nullptr, false);
  } catch (const Error& e) {
    if (e.kind() == Kind::kNotFound &&
        std::string(e.what()).find("No such container") == std::string::npos) {
      return json();
    }
    throw;
  }
}

bool IsDirMode(const json& stat) {
  return stat.is_object() && stat.value("mode", uint64_t{0}) & (uint64_t{1} << 31);
}

// Host -> tar: `path` archived as `as` (recursively), into `a`.
void AddHost(struct archive* a, const std::string& path, const std::string& as, bool follow) {
  struct stat st;
  if ((follow ? stat(path.c_str(), &st) : lstat(path.c_str(), &st)) < 0) {
    ThrowErrno("cp: " + path);
  }
  std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> e(archive_entry_new(),
                                                                           archive_entry_free);
  archive_entry_copy_stat(e.get(), &st);
  archive_entry_set_pathname(e.get(), (S_ISDIR(st.st_mode) ? as + "/" : as).c_str());
  UniqueFd file;
  if (S_ISLNK(st.st_mode)) {
    std::string target(4096, '\0');
    ssize_t n = readlink(path.c_str(), target.data(), target.size());
    if (n < 0) ThrowErrno("cp: readlink " + path);
    target.resize(static_cast<size_t>(n));
    archive_entry_set_symlink(e.get(), target.c_str());
  } else if (S_ISREG(st.st_mode)) {
    file = UniqueFd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file) ThrowErrno("cp: open " + path);
  } else if (!S_ISDIR(st.st_mode)) {
    return;  // devices, sockets, fifos: not copied
  }
  if (archive_write_header(a, e.get()) != ARCHIVE_OK) {
    ThrowInvalid(std::string("cp: ") + archive_error_string(a));
  }
  if (file) {
    char buf[1 << 16];
    for (ssize_t n; (n = read(file.get(), buf, sizeof(buf))) > 0;) {
      archive_write_data(a, buf, static_cast<size_t>(n));
    }
  }
  if (S_ISDIR(st.st_mode)) {
    DIR* d = opendir(path.c_str());
    if (!d) ThrowErrno("cp: " + path);
    std::vector<std::string> names;
    while (dirent* ent = readdir(d)) {
      if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0) {
        names.push_back(ent->d_name);
      }
    }
    closedir(d);
    for (const std::string& n : names) AddHost(a, path + "/" + n, as + "/" + n, false);
  }
}

void FromContainer(Context& ctx, const std::string& id, const std::string& src,
                   const std::string& dst, bool follow) {
  std::string path = src;
  if (follow) {
    json st = ContainerStat(ctx, id, src);
    if (st.is_object() && !st.value("linkTarget", "").empty()) path = st["linkTarget"];
  }
  UniqueFd tar = dst == "-" ? UniqueFd(dup(STDOUT_FILENO)) : TempFile();
  ctx.client().Stream(
      "GET", "/containers/" + QueryEscape(id) + "/archive?path=" + QueryEscape(path), nullptr, "",
      [&](std::string_view d) { WriteAll(tar.get(), d.data(), d.size()); });
  if (dst == "-") return;
  // pkg/archive CopyTo: into an existing directory, else renamed to the destination's name.
  struct stat dst_st;
  bool exists = stat(dst.c_str(), &dst_st) == 0;
  std::string into = dst, from, to;
  std::string src_base = Base(path);
  if (!exists || !S_ISDIR(dst_st.st_mode)) {
    if (!exists && dst.back() == '/') {
      ThrowInvalid("destination directory \"" + dst + "\" does not exist");
    }
    into = Dir(dst);
    from = src_base;
    to = Base(dst);
  } else if (EndsWithDot(src)) {
    from = ".";
  }
  std::unique_ptr<struct archive, ReadFree> in(archive_read_new());
  archive_read_support_format_tar(in.get());
  if (lseek(tar.get(), 0, SEEK_SET) < 0 || archive_read_open_fd(in.get(), tar.get(), 1 << 16)) {
    ThrowInvalid(std::string("cp: ") + archive_error_string(in.get()));
  }
  std::unique_ptr<struct archive, WriteFree> out(archive_write_disk_new());
  archive_write_disk_set_options(
      out.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                     ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  for (;;) {
    struct archive_entry* e;
    int rc = archive_read_next_header(in.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) ThrowInvalid(std::string("cp: ") + archive_error_string(in.get()));
    std::string name = archive_entry_pathname(e);
    if (!from.empty() && from != "." && (name == from || name.rfind(from + "/", 0) == 0)) {
      name = to + name.substr(from.size());
    } else if (from == ".") {
      name = name.rfind("./", 0) == 0 ? name.substr(2) : name;
      if (name.empty() || name == ".") continue;
    }
    archive_entry_set_pathname(e, (into + "/" + name).c_str());
    if (archive_write_header(out.get(), e) < ARCHIVE_WARN) {
      ThrowInvalid(std::string("cp: ") + archive_error_string(out.get()));
    }
    const void* block;
    size_t size;
    la_int64_t offset;
    while (archive_read_data_block(in.get(), &block, &size, &offset) == ARCHIVE_OK) {
      archive_write_data_block(out.get(), block, size, offset);
    }
  }
  archive_write_close(out.get());
}

void ToContainer(Context& ctx, const std::string& src, const std::string& id,
                 const std::string& dst, bool archive_ids, bool follow) {
  std::string target = dst;
  UniqueFd tar = TempFile();
  if (src == "-") {
    // A tar on stdin goes as is into an existing directory.
    char buf[1 << 16];
    for (ssize_t n; (n = read(STDIN_FILENO, buf, sizeof(buf))) > 0;) WriteAll(tar.get(), buf, n);
    if (!IsDirMode(ContainerStat(ctx, id, dst))) {
      ThrowInvalid("destination \"" + id + ":" + dst + "\" must be a directory");
    }
  } else {
    struct stat st;
    if ((follow ? stat(src.c_str(), &st) : lstat(src.c_str(), &st)) < 0) {
      ThrowErrno("cp: " + src);
    }
    json dst_stat = ContainerStat(ctx, id, dst);
    std::string as = EndsWithDot(src) ? "." : Base(src);
    if (dst_stat.is_null()) {
      if (dst.back() == '/') {
        ThrowInvalid("destination directory \"" + id + ":" + dst + "\" does not exist");
      }
      target = Dir(dst);
      as = Base(dst);
    } else if (!IsDirMode(dst_stat)) {
      if (S_ISDIR(st.st_mode)) ThrowInvalid("cannot copy a directory to a file");
      target = Dir(dst);
      as = Base(dst);
    }
    std::unique_ptr<struct archive, WriteFree> a(archive_write_new());
    archive_write_set_format_pax_restricted(a.get());
    if (archive_write_open_fd(a.get(), tar.get()) != ARCHIVE_OK) {
      ThrowInvalid(std::string("cp: ") + archive_error_string(a.get()));
    }
    AddHost(a.get(), src, as, follow);
    archive_write_close(a.get());
  }
  if (lseek(tar.get(), 0, SEEK_SET) < 0) ThrowErrno("cp: rewind");
  api::Client::ReadFn read = [&tar](void* buf, size_t size) -> size_t {
    ssize_t n = ::read(tar.get(), buf, size);
    if (n < 0) ThrowErrno("cp: read");
    return static_cast<size_t>(n);
  };
  ctx.client().Stream("PUT",
                      "/containers/" + QueryEscape(id) + "/archive?path=" + QueryEscape(target) +
                          "&noOverwriteDirNonDir=true" + (archive_ids ? "&copyUIDGID=true" : ""),
                      &read, "application/x-tar", [](std::string_view) {});
}

// "name:path" -> {name, path}; a local path has no colon before its first slash.
std::pair<std::string, std::string> SplitCpArg(const std::string& arg) {
  if (arg.empty() || arg[0] == '/' || arg[0] == '.') return {"", arg};
  size_t colon = arg.find(':');
  size_t slash = arg.find('/');
  if (colon == std::string::npos || (slash != std::string::npos && slash < colon)) {
    return {"", arg};
  }
  return {arg.substr(0, colon), arg.substr(colon + 1)};
}

}  // namespace

void AddCpCommand(CLI::App& app, Context& ctx) {
  struct O {
    std::string src, dst;
    bool archive = false, follow = false;
  };
  auto o = std::make_shared<O>();
  CLI::App* cmd =
      app.add_subcommand("cp", "Copy files/folders between a container and the local filesystem");
  cmd->add_option("src", o->src, "CONTAINER:SRC_PATH or SRC_PATH|-")->required();
  cmd->add_option("dst", o->dst, "DEST_PATH|- or CONTAINER:DEST_PATH")->required();
  cmd->add_flag("-a,--archive", o->archive, "Archive mode (copy all uid/gid information)");
  cmd->add_flag("-L,--follow-link", o->follow, "Always follow symbol link in SRC_PATH");
  cmd->callback([&ctx, o] {
    auto [src_ctr, src_path] = SplitCpArg(o->src);
    auto [dst_ctr, dst_path] = SplitCpArg(o->dst);
    if (!src_ctr.empty() && !dst_ctr.empty()) {
      ThrowInvalid("copying between containers is not supported");
    }
    if (src_ctr.empty() && dst_ctr.empty()) {
      ThrowInvalid("must specify at least one container source");
    }
    if (src_path.empty() || dst_path.empty()) ThrowInvalid("filepath can not be empty");
    if (!src_ctr.empty()) {
      FromContainer(ctx, src_ctr, src_path, dst_path, o->follow);
    } else {
      ToContainer(ctx, src_path, dst_ctr, dst_path, o->archive, o->follow);
    }
  });
}

}  // namespace berth::cli

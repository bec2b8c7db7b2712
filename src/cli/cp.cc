// berth cp [-a] [-L] CONTAINER:SRC DEST|-  and  berth cp [-a] [-L] SRC|- CONTAINER:DEST: the
// docker CLI's copy (cli/command/container/cp.go with pkg/archive's CopyTo rules), over
// HEAD/GET/PUT /containers/{id}/archive. The tar is never stored: it is made (or unpacked) on a
// thread of its own while the HTTP body streams, as the docker CLI pipes it.

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

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

// The tar's pieces are made this size: the API client's own chunk.
constexpr size_t kPiece = 256 << 10;

// Pieces of the tar handed from the thread that makes them to the one that takes them, at
// most kPending at a time. Either side may fail: the first error is kept, the other side's
// next Push or Next throws Stopped, and Rethrow gives the error once both sides are done.
class ChunkPipe {
 public:
  static constexpr size_t kPending = 16;
  struct Stopped : std::exception {
    const char* what() const noexcept override { return "cp: stopped"; }
  };

  // Maker: blocks while the taker is kPending pieces behind; once the taker stopped
  // (Done), what comes is dropped.
  void Push(const void* data, size_t size) {
    if (size == 0) return;  // an empty piece would read as the end
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return queue_.size() < kPending || taker_done_ || error_; });
    if (error_) throw Stopped();
    if (taker_done_) return;
    std::string piece;
    if (!spare_.empty()) {
      piece = std::move(spare_.back());
      spare_.pop_back();
    }
    piece.assign(static_cast<const char*>(data), size);
    queue_.push_back(std::move(piece));
    cv_.notify_all();
  }
  void Finish() {
    std::lock_guard<std::mutex> l(mu_);
    maker_done_ = true;
    cv_.notify_all();
  }

  // Taker: the next piece, valid until the next call; empty at the end.
  std::string_view Next() {
    std::unique_lock<std::mutex> l(mu_);
    if (!current_.empty()) spare_.push_back(std::move(current_));
    current_.clear();
    cv_.wait(l, [&] { return !queue_.empty() || maker_done_ || error_; });
    if (error_) throw Stopped();
    if (queue_.empty()) return {};
    current_ = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    return current_;
  }
  void Done() {
    std::lock_guard<std::mutex> l(mu_);
    taker_done_ = true;
    queue_.clear();
    cv_.notify_all();
  }

  // Either side, from its catch block.
  void Fail(std::exception_ptr e) {
    std::lock_guard<std::mutex> l(mu_);
    if (!error_) error_ = std::move(e);
    cv_.notify_all();
  }
  void Rethrow() {
    std::lock_guard<std::mutex> l(mu_);
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::vector<std::string> spare_;  // buffers taken, reused so a piece is not an allocation
  std::string current_;
  bool maker_done_ = false, taker_done_ = false;
  std::exception_ptr error_;
};

// Runs `maker` on a thread of its own while `taker` runs here, and rethrows the first error
// of either (a failure on one side stops the other at its next Push or Next).
template <typename Maker, typename Taker>
void Pipeline(ChunkPipe& pipe, const Maker& maker, const Taker& taker) {
  std::thread thread([&] {
    try {
      maker();
    } catch (...) {
      pipe.Fail(std::current_exception());
    }
    pipe.Finish();
  });
  try {
    taker();
  } catch (...) {
    pipe.Fail(std::current_exception());
  }
  pipe.Done();
  thread.join();
  pipe.Rethrow();
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

// Host -> tar: `path` archived as `as` (recursively), into `a`; `buf` carries file data.
void AddHost(struct archive* a, const std::string& path, const std::string& as, bool follow,
             std::vector<char>& buf) {
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
    for (;;) {
      ssize_t n = read(file.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ThrowErrno("cp: read " + path);
      if (n == 0) break;
      if (archive_write_data(a, buf.data(), static_cast<size_t>(n)) < 0) {
        ThrowInvalid(std::string("cp: ") + archive_error_string(a));
      }
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
    for (const std::string& n : names) AddHost(a, path + "/" + n, as + "/" + n, false, buf);
  }
}

// libarchive's callbacks onto a ChunkPipe: the tar's bytes in, and out.
la_ssize_t PushPiece(struct archive* a, void* pipe, const void* data, size_t size) {
  try {
    static_cast<ChunkPipe*>(pipe)->Push(data, size);
    return static_cast<la_ssize_t>(size);
  } catch (const std::exception& e) {
    archive_set_error(a, EIO, "%s", e.what());
    return -1;
  }
}
la_ssize_t NextPiece(struct archive* a, void* pipe, const void** data) {
  try {
    std::string_view piece = static_cast<ChunkPipe*>(pipe)->Next();
    *data = piece.data();
    return static_cast<la_ssize_t>(piece.size());
  } catch (const std::exception& e) {
    archive_set_error(a, EIO, "%s", e.what());
    return -1;
  }
}

// Tar from `pipe` -> the working directory, each name under `from` renamed to `to` (`from`
// ".": the content of the tar's top directory).
void Extract(ChunkPipe& pipe, const std::string& from, const std::string& to) {
  std::unique_ptr<struct archive, ReadFree> in(archive_read_new());
  archive_read_support_format_tar(in.get());
  if (archive_read_open(in.get(), &pipe, nullptr, NextPiece, nullptr) != ARCHIVE_OK) {
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
    archive_entry_set_pathname(e, name.c_str());
    if (archive_write_header(out.get(), e) < ARCHIVE_WARN) {
      ThrowInvalid(std::string("cp: ") + archive_error_string(out.get()));
    }
    const void* block;
    size_t size;
    la_int64_t offset;
    while ((rc = archive_read_data_block(in.get(), &block, &size, &offset)) == ARCHIVE_OK) {
      if (archive_write_data_block(out.get(), block, size, offset) < ARCHIVE_WARN) {
        ThrowInvalid("cp: " + name + ": " + archive_error_string(out.get()));
      }
    }
    if (rc != ARCHIVE_EOF) ThrowInvalid(std::string("cp: ") + archive_error_string(in.get()));
  }
  if (archive_write_close(out.get()) < ARCHIVE_WARN) {
    ThrowInvalid(std::string("cp: ") + archive_error_string(out.get()));
  }
}

void FromContainer(Context& ctx, const std::string& id, const std::string& src,
                   const std::string& dst, bool follow) {
  std::string path = src;
  if (follow) {
    json st = ContainerStat(ctx, id, src);
    if (st.is_object() && !st.value("linkTarget", "").empty()) path = st["linkTarget"];
  }
  std::string target = "/containers/" + QueryEscape(id) + "/archive?path=" + QueryEscape(path);
  if (dst == "-") {
    ctx.client().Stream("GET", target, nullptr, "",
                        [](std::string_view d) { WriteAll(STDOUT_FILENO, d.data(), d.size()); });
    return;
  }
  // The answer's status first: a path the container lacks fails before anything is made here.
  ctx.client().Begin("GET", target);
  // pkg/archive CopyTo: into an existing directory, else renamed to the destination's name.
  struct stat dst_st;
  bool exists = stat(dst.c_str(), &dst_st) == 0;
  std::string into = dst, from, to;
  std::string src_base = Base(path);
  if (!exists && EndsWithDot(src)) {
    // "SRC/." into a new directory: it is made, and gets SRC's content.
    if (mkdir(dst.c_str(), 0755) < 0) ThrowErrno("cp: " + dst);
    from = ".";
  } else if (!exists || !S_ISDIR(dst_st.st_mode)) {
    if (!exists && dst.back() == '/') {
      ThrowInvalid("destination directory \"" + dst + "\" does not exist");
    }
    into = Dir(dst);
    from = src_base;
    to = Base(dst);
  } else if (EndsWithDot(src)) {
    from = ".";
  }
  // Entries are written relative to `into` (the working directory for the while):
  // libarchive's secure mode refuses absolute names, and a relative one cannot climb out.
  UniqueFd cwd(open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (chdir(into.c_str()) < 0) ThrowErrno("cp: " + into);
  struct RestoreCwd {
    int fd;
    ~RestoreCwd() {
      if (fd >= 0 && fchdir(fd) < 0) {
      }
    }
  } restore{cwd.get()};
  // The body is read on a thread while it is unpacked here, piece by piece.
  ChunkPipe pipe;
  Pipeline(
      pipe,
      [&] { ctx.client().ReadBody([&](std::string_view d) { pipe.Push(d.data(), d.size()); }); },
      [&] { Extract(pipe, from, to); });
}

// The PUT of a tar whose bytes come from `read`.
void PutArchive(Context& ctx, const std::string& id, const std::string& dir, bool archive_ids,
                const api::Client::ReadFn& read) {
  ctx.client().Stream("PUT",
                      "/containers/" + QueryEscape(id) + "/archive?path=" + QueryEscape(dir) +
                          "&noOverwriteDirNonDir=true" + (archive_ids ? "&copyUIDGID=true" : ""),
                      &read, "application/x-tar", [](std::string_view) {});
}

void ToContainer(Context& ctx, const std::string& src, const std::string& id,
                 const std::string& dst, bool archive_ids, bool follow) {
  if (src == "-") {
    // A tar on stdin goes as is into an existing directory.
    if (!IsDirMode(ContainerStat(ctx, id, dst))) {
      ThrowInvalid("destination \"" + id + ":" + dst + "\" must be a directory");
    }
    PutArchive(ctx, id, dst, archive_ids, [](void* buf, size_t size) -> size_t {
      for (;;) {
        ssize_t n = ::read(STDIN_FILENO, buf, size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) ThrowErrno("cp: read stdin");
        return static_cast<size_t>(n);
      }
    });
    return;
  }
  std::string target = dst;
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
  // The tar is made on a thread while it is sent from here, piece by piece. A failure
  // while making it cuts the request short, and a truncated body is never unpacked.
  ChunkPipe pipe;
  Pipeline(
      pipe,
      [&] {
        std::unique_ptr<struct archive, WriteFree> a(archive_write_new());
        archive_write_set_format_pax_restricted(a.get());
        archive_write_set_bytes_per_block(a.get(), static_cast<int>(kPiece));
        archive_write_set_bytes_in_last_block(a.get(), 1);
        if (archive_write_open(a.get(), &pipe, nullptr, PushPiece, nullptr) != ARCHIVE_OK) {
          ThrowInvalid(std::string("cp: ") + archive_error_string(a.get()));
        }
        std::vector<char> buf(kPiece);
        AddHost(a.get(), src, as, follow, buf);
        if (archive_write_close(a.get()) != ARCHIVE_OK) {
          ThrowInvalid(std::string("cp: ") + archive_error_string(a.get()));
        }
      },
      [&] {
        std::string_view piece;
        PutArchive(ctx, id, target, archive_ids, [&](void* buf, size_t size) -> size_t {
          if (piece.empty()) piece = pipe.Next();
          if (piece.empty()) return 0;  // the end (and no data pointer to copy from)
          size_t n = std::min(size, piece.size());
          memcpy(buf, piece.data(), n);
          piece.remove_prefix(n);
          return n;
        });
      });
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

#include "image/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <isa-l/igzip_lib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/byte_ring.h"
#include "base/digest.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "base/path_in_root.h"

namespace berth::image {
namespace {

constexpr size_t kChunk = 1 << 17;
constexpr size_t kTarRing = 1 << 20;  // decoded tar between the decoding thread and the unpack
// Layer files smaller than this are decoded on the unpacking thread.
constexpr off_t kInlineBelow = 1 << 20;
// Regular files up to this size go to writer threads, once a layer has had this many.
constexpr la_int64_t kQueuedFileMax = 1 << 20;
constexpr size_t kWritersAfter = 64;

[[noreturn]] void Bad(const std::string& what) { ThrowInvalid("layer: " + what); }

// Fills up to `len` bytes of `buf`, returns how many, 0 at the end; throws on failure.
using ReadFn = std::function<size_t(void* buf, size_t len)>;

// read(2) from `fd` as a ReadFn.
ReadFn ReadFd(int fd) {
  return [fd](void* buf, size_t len) {
    ssize_t n;
    do {
      n = read(fd, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      ThrowErrno("layer: read");
    }
    return static_cast<size_t>(n);
  };
}

// What both directions count and hash: the bytes as stored (digest) and as a tar (diffID).
struct StreamHashes {
  Sha256 raw, diff;
  uint64_t compressed = 0, uncompressed = 0;
  // An uncompressed layer: its bytes are its tar, so one hash gives both digests (SHA-256
  // over every byte is most of what applying or writing a plain layer costs).
  bool one = false;

  ApplyResult Result() const {
    ApplyResult r;
    r.digest = one ? diff.Digest() : raw.Digest();
    r.diff_id = diff.Digest();
    r.compressed_size = compressed;
    r.uncompressed_size = uncompressed;
    return r;
  }
};

const char* IsalError(int rc) {
  switch (rc) {
    case ISAL_INVALID_BLOCK:
      return "invalid deflate block";
    case ISAL_INVALID_SYMBOL:
      return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK:
      return "invalid distance too far back";
    case ISAL_INVALID_WRAPPER:
      return "invalid gzip header";
    case ISAL_UNSUPPORTED_METHOD:
      return "unsupported compression method";
    case ISAL_INCORRECT_CHECKSUM:
      return "incorrect data check";
    case ISAL_NEED_DICT:
      return "needs a preset dictionary";
    default:
      return "error";
  }
}

// The input side of the pipeline: compressed bytes read, hashed as read, inflated (or passed
// through), the output hashed again for the diffID.
class Source {
 public:
  Source(const ReadFn& read, bool hash_input)
      : read_(&read), hash_input_(hash_input), in_(kChunk) {}
  Source(const PieceFn& pieces, bool hash_input) : pieces_(&pieces), hash_input_(hash_input) {}
  ~Source() {
    if (zstd_ != nullptr) {
      ZSTD_freeDStream(zstd_);
    }
  }

  // The next piece of uncompressed tar into `out` (at most `cap` bytes); 0 at the end of the
  // stream.
  size_t Read(char* out, size_t cap) {
    if (!started_) {
      Start();
    }
    while (true) {
      size_t n;
      if (kind_ == Kind::kTar && in_pos_ == in_len_ && !eof_ && read_ != nullptr) {
        n = (*read_)(out, cap);  // a plain tar goes straight where it is wanted
        hashes_.compressed += n;
        eof_ = n == 0;
      } else {
        if (in_pos_ == in_len_ && !eof_) {
          Fill();
        }
        n = Decode(out, cap);
      }
      if (n > 0) {
        hashes_.diff.Update(out, n);
        hashes_.uncompressed += n;
        return n;
      }
      if (eof_ && in_pos_ == in_len_) {
        Finish();
        return 0;
      }
    }
  }

  ApplyResult Result() const {
    ApplyResult r = hashes_.Result();
    if (!hash_input_ && kind_ != Kind::kTar) {
      r.digest.clear();  // not hashed (a plain tar's digest is its diffID, hashed anyway)
    }
    return r;
  }

 private:
  enum class Kind { kTar, kGzip, kZstd };

  // The next input: read into in_, or a piece lent by the caller (no copy).
  void Fill() {
    in_pos_ = 0;
    if (pieces_ != nullptr) {
      std::span<const char> piece = (*pieces_)();
      in_ptr_ = reinterpret_cast<const unsigned char*>(piece.data());
      in_len_ = piece.size();
    } else {
      in_ptr_ = in_.data();
      in_len_ = (*read_)(in_.data(), in_.size());
    }
    hashes_.compressed += in_len_;
    eof_ = in_len_ == 0;
    if (kind_ != Kind::kTar && hash_input_) {
      hashes_.raw.Update(in_ptr_, in_len_);
    }
  }

  void Start() {
    started_ = true;
    Fill();
    // The format is told by the first four bytes: a shorter first piece is gathered with
    // what follows.
    if (in_len_ < 4 && !eof_) {
      std::vector<unsigned char> head(in_ptr_, in_ptr_ + in_len_);
      while (head.size() < 4 && !eof_) {
        Fill();
        head.insert(head.end(), in_ptr_, in_ptr_ + in_len_);
      }
      in_ = std::move(head);
      in_ptr_ = in_.data();
      in_len_ = in_.size();
      in_pos_ = 0;
    }
    const unsigned char* b = in_ptr_;
    if (in_len_ >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
      kind_ = Kind::kGzip;
      gz_ = std::make_unique<inflate_state>();
      isal_inflate_init(gz_.get());
      gz_->crc_flag = ISAL_GZIP;  // the header parsed, the trailer's CRC-32 and size checked
    } else if (in_len_ >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd) {
      kind_ = Kind::kZstd;
      zstd_ = ZSTD_createDStream();
      if (zstd_ == nullptr || ZSTD_isError(ZSTD_initDStream(zstd_))) {
        Bad("cannot start zstd decompression");
      }
    }
    // The first read came before the kind was known.
    if (kind_ == Kind::kTar) {
      hashes_.one = true;
    } else if (hash_input_) {
      hashes_.raw.Update(in_ptr_, in_len_);
    }
  }

  size_t Decode(char* out, size_t cap) {
    // Decoders can hold output back for want of room: they are asked again without input
    // (a gzip member not yet ended, zstd always).
    if (in_pos_ == in_len_ && (kind_ == Kind::kTar || (kind_ == Kind::kGzip && !in_member_))) {
      return 0;
    }
    switch (kind_) {
      case Kind::kTar: {
        size_t n = std::min(cap, in_len_ - in_pos_);
        memcpy(out, in_ptr_ + in_pos_, n);
        in_pos_ += n;
        return n;
      }
      case Kind::kGzip: {
        if (member_done_) {
          // Another gzip member follows (concatenated gzip is still one stream).
          isal_inflate_reset(gz_.get());
          gz_->crc_flag = ISAL_GZIP;
          member_done_ = false;
        }
        gz_->next_in = const_cast<uint8_t*>(in_ptr_ + in_pos_);  // isal does not write it
        gz_->avail_in = static_cast<uint32_t>(in_len_ - in_pos_);
        gz_->next_out = reinterpret_cast<uint8_t*>(out);
        gz_->avail_out = static_cast<uint32_t>(std::min<size_t>(cap, UINT32_MAX));
        uint32_t avail = gz_->avail_out;
        int rc = isal_inflate(gz_.get());
        in_pos_ = in_len_ - gz_->avail_in;
        if (rc != ISAL_DECOMP_OK) {
          Bad(std::string("corrupt gzip stream: ") + IsalError(rc));
        }
        member_done_ = gz_->block_state == ISAL_BLOCK_FINISH;
        in_member_ = !member_done_;
        return avail - gz_->avail_out;
      }
      case Kind::kZstd: {
        ZSTD_inBuffer in = {in_ptr_ + in_pos_, in_len_ - in_pos_, 0};
        ZSTD_outBuffer zout = {out, cap, 0};
        size_t rc = ZSTD_decompressStream(zstd_, &zout, &in);
        if (ZSTD_isError(rc)) {
          Bad(std::string("corrupt zstd stream: ") + ZSTD_getErrorName(rc));
        }
        in_pos_ += in.pos;
        if (in.pos > 0 || zout.pos > 0) {
          // 0: the frame is complete and flushed. (With nothing to do, a finished decoder
          // already asks for the next frame's header, which is not a truncation.)
          zstd_pending_ = rc != 0;
        }
        return zout.pos;
      }
    }
    return 0;
  }

  void Finish() {
    if (kind_ == Kind::kGzip && in_member_) {
      Bad("truncated gzip stream");
    }
    if (kind_ == Kind::kZstd && zstd_pending_) {
      Bad("truncated zstd stream");
    }
  }

  const ReadFn* read_ = nullptr;
  const PieceFn* pieces_ = nullptr;
  bool hash_input_;
  std::vector<unsigned char> in_;
  const unsigned char* in_ptr_ = nullptr;  // in_, or the piece lent
  size_t in_pos_ = 0, in_len_ = 0;
  bool eof_ = false, started_ = false;
  Kind kind_ = Kind::kTar;
  std::unique_ptr<inflate_state> gz_;  // ~100 KB: on the heap
  bool member_done_ = false, in_member_ = false;
  ZSTD_DStream* zstd_ = nullptr;
  bool zstd_pending_ = false;
  StreamHashes hashes_;
};

// The uncompressed tar as libarchive reads it, decoded on a thread of its own (a large or
// streamed layer: on many small files decoding and unpacking cost about the same) or on the
// caller's (a small file, where a thread's start and hand-offs cost more than they save).
class TarStream {
 public:
  // `in` is a ReadFn or a PieceFn.
  template <typename In>
  TarStream(const In& in, bool hash_input, bool threaded) : source_(in, hash_input) {
    if (!threaded) {
      buf_.resize(kChunk);
      return;
    }
    ring_.emplace(kTarRing);
    decoder_ = std::thread([this] {
      try {
        while (true) {
          std::span<char> space = ring_->WriteSpace(kChunk);
          if (space.empty()) {
            return;  // the unpack stopped early
          }
          size_t n = source_.Read(space.data(), space.size());
          if (n == 0) {
            ring_->Close();
            return;
          }
          ring_->Commit(n);
        }
      } catch (...) {
        ring_->Close(std::current_exception());
      }
    });
  }
  ~TarStream() {
    if (decoder_.joinable()) {  // left early: stop the decoding and wait for it
      ring_->Stop();
      decoder_.join();
    }
  }

  // The next piece, lent until the next call; empty at the end.
  std::span<const char> Next() {
    if (!ring_) {
      return {buf_.data(), source_.Read(buf_.data(), buf_.size())};
    }
    ring_->Consume(lent_);
    std::span<const char> piece = ring_->ReadSpan();
    lent_ = piece.size();
    return piece;
  }

  // Reads to the end (the diffID covers the whole stream, padding after the tar's end
  // included) and returns the digests.
  ApplyResult Finish() {
    while (!Next().empty()) {
    }
    if (decoder_.joinable()) {
      decoder_.join();
    }
    return source_.Result();
  }

 private:
  Source source_;
  std::optional<ByteRing> ring_;
  std::thread decoder_;
  size_t lent_ = 0;
  std::vector<char> buf_;
};

struct ReadContext {
  TarStream* tar;
  std::exception_ptr error;  // carried across libarchive's C frames
};

la_ssize_t ReadCallback(struct archive*, void* data, const void** buf) {
  auto* ctx = static_cast<ReadContext*>(data);
  try {
    std::span<const char> piece = ctx->tar->Next();
    *buf = piece.data();
    return static_cast<la_ssize_t>(piece.size());
  } catch (...) {
    ctx->error = std::current_exception();
    return -1;
  }
}

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// "./a/b/" -> {"a", "b"}; refuses ".." (an entry that would climb out of the root).
std::vector<std::string> SplitName(const char* raw, const char* what) {
  std::string name = raw != nullptr ? raw : "";
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string::npos) {
      slash = name.size();
    }
    std::string part = name.substr(start, slash - start);
    if (part == "..") {
      Bad(std::string(what) + " \"" + name + "\" climbs out of the root with ..");
    }
    if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = slash + 1;
  }
  return parts;
}

std::string Join(const std::vector<std::string>& parts, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += "/" + parts[i];
  }
  return out.empty() ? "/" : out;
}

// rm -rf of `name` in the directory `dir_fd` (which may be O_PATH), without following symlinks.
void RemoveAt(int dir_fd, const std::string& name, const std::string& shown) {
  struct stat st;
  if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) {
      return;
    }
    ThrowErrno("layer: stat " + shown);
  }
  if (S_ISDIR(st.st_mode)) {
    UniqueFd d(openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) {
      ThrowErrno("layer: open " + shown);
    }
    std::vector<std::string> children;
    {
      DIR* ds = fdopendir(dup(d.get()));
      if (ds == nullptr) {
        ThrowErrno("layer: list " + shown);
      }
      while (struct dirent* e = readdir(ds)) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
          children.emplace_back(e->d_name);
        }
      }
      closedir(ds);
    }
    for (const auto& c : children) {
      RemoveAt(d.get(), c, shown + "/" + c);
    }
    if (unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) < 0) {
      ThrowErrno("layer: remove " + shown);
    }
  } else if (unlinkat(dir_fd, name.c_str(), 0) < 0) {
    ThrowErrno("layer: remove " + shown);
  }
}

bool KeepXattr(const char* name) {
  return strncmp(name, "user.", 5) == 0 || strcmp(name, "security.capability") == 0;
}

using XattrList = std::vector<std::pair<std::string, std::string>>;

// The xattrs of a tar entry that a layer may set (KeepXattr).
XattrList KeptXattrs(struct archive_entry* e) {
  XattrList out;
  const char* name;
  const void* value;
  size_t size;
  archive_entry_xattr_reset(e);
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (KeepXattr(name)) {
      out.emplace_back(name, std::string(static_cast<const char*>(value), size));
    }
  }
  return out;
}

void SetXattrs(int fd, const XattrList& xattrs, const std::string& shown) {
  for (const auto& [name, value] : xattrs) {
    if (fsetxattr(fd, name.c_str(), value.data(), value.size(), 0) < 0 && errno != ENOTSUP) {
      ThrowErrno("layer: set xattr " + name + " on " + shown);
    }
  }
}

// The process's umask, read without changing it (umask(2) would, for every thread).
mode_t ProcessUmask() {
  std::optional<std::string> status = ReadFileIfExists("/proc/self/status");
  size_t at = status ? status->find("\nUmask:") : std::string::npos;
  if (at == std::string::npos) {
    return 07777;  // unknown: never rely on the creation mode
  }
  return static_cast<mode_t>(strtoul(status->c_str() + at + 7, nullptr, 8)) & 0777;
}

// A regular file to create, handed from the unpack to a FileWriters thread.
struct FileJob {
  std::shared_ptr<UniqueFd> dir;  // its directory, open until the last job in it is done
  std::string name, shown;
  std::string data;
  mode_t perm = 0;
  bool mode_at_create = false;  // created with `perm`, no chmod
  bool chown = false;           // creation does not give it the tar's owner
  uid_t uid = 0;
  gid_t gid = 0;
  struct timespec mtime = {};
  XattrList xattrs;  // the ones kept
};

// Regular files of a layer unpacked into an empty directory, created and written by a few
// threads beside the unpack: on a layer of many small files, creating them is most of the
// work (four system calls each, mostly the create). The unpack hands over only files whose
// names cannot exist yet, and drains the queue before anything that could touch a file
// still queued (see Unpacker::Entry).
class FileWriters {
 public:
  explicit FileWriters(size_t threads) {
    for (size_t i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { Run(); });
    }
  }
  ~FileWriters() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      queue_.clear();
    }
    work_cv_.notify_all();
    for (std::thread& t : threads_) {
      t.join();
    }
  }

  // Queues a file; rethrows a writer's earlier failure. Waits while too much data is queued.
  void Add(FileJob job) {
    std::unique_lock lock(mu_);
    done_cv_.wait(lock, [this] { return error_ || queued_bytes_ < kMaxQueued; });
    if (error_) {
      std::rethrow_exception(error_);
    }
    queued_bytes_ += job.data.size();
    queue_.push_back(std::move(job));
    // Waking a thread costs about what writing a small file does: they are woken for a batch.
    if (idle_ > 0 && (queue_.size() >= kWakeJobs || queued_bytes_ >= kWakeBytes)) {
      work_cv_.notify_one();
    }
  }

  // Waits until every queued file is written; rethrows the first failure.
  void Drain() {
    std::unique_lock lock(mu_);
    work_cv_.notify_all();
    done_cv_.wait(lock, [this] { return error_ || (queue_.empty() && busy_ == 0); });
    if (error_) {
      std::rethrow_exception(error_);
    }
  }

 private:
  static constexpr size_t kMaxQueued = 16 << 20;
  static constexpr size_t kWakeJobs = 16, kWakeBytes = 256 << 10;

  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      ++idle_;
      work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      --idle_;
      if (stop_) {
        return;
      }
      FileJob job = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
      lock.unlock();
      std::exception_ptr failed;
      try {
        Write(job);
      } catch (...) {
        failed = std::current_exception();
      }
      size_t bytes = job.data.size();
      job = FileJob();  // the directory and the data go before the lock is taken
      lock.lock();
      --busy_;
      queued_bytes_ -= bytes;
      if (failed && !error_) {
        error_ = failed;
      }
      done_cv_.notify_all();
    }
  }

  static void Write(const FileJob& j) {
    UniqueFd fd(openat(j.dir->get(), j.name.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       j.mode_at_create ? j.perm : 0600));
    if (!fd) {
      ThrowErrno("layer: create " + j.shown);
    }
    const char* p = j.data.data();
    size_t left = j.data.size();
    while (left > 0) {
      ssize_t n = write(fd.get(), p, left);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        ThrowErrno("layer: write " + j.shown);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    // As Unpacker::Entry: chown before chmod, xattrs, then the time.
    if (j.chown && fchown(fd.get(), j.uid, j.gid) < 0) {
      ThrowErrno("layer: chown " + j.shown);
    }
    if ((j.chown || !j.mode_at_create) && fchmod(fd.get(), j.perm) < 0) {
      ThrowErrno("layer: chmod " + j.shown);
    }
    SetXattrs(fd.get(), j.xattrs, j.shown);
    struct timespec ts[2] = {j.mtime, j.mtime};
    futimens(fd.get(), ts);
  }

  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<FileJob> queue_;
  size_t queued_bytes_ = 0, busy_ = 0, idle_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
};

bool IsEmptyDir(const std::string& path) {
  DIR* d = opendir(path.c_str());
  if (d == nullptr) {
    return false;
  }
  bool empty = true;
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  closedir(d);
  return empty;
}

class Unpacker {
 public:
  Unpacker(const std::string& root, WhiteoutMode mode) : mode_(mode) {
    root_.Reset(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_) {
      ThrowErrno("layer: open target " + root);
    }
    empty_root_ = IsEmptyDir(root);
  }

  // The archive ended right after the last entry's data, without padding or end blocks.
  bool tail_missing() const { return tail_missing_; }

  void Entry(struct archive* a, struct archive_entry* e) {
    std::vector<std::string> parts = SplitName(archive_entry_pathname(e), "entry");
    if (parts.empty()) {
      return;  // the root itself: its metadata belongs to the snapshot, not the layer
    }
    std::string name = parts.back();
    std::string shown = Join(parts, parts.size());
    int parent = Parent(Join(parts, parts.size() - 1), shown);
    if (name.rfind(".wh.", 0) == 0) {
      DrainWriters();
      return Whiteout(parent, parts, name);
    }
    bool fresh = created_.insert(shown).second;  // no earlier entry of this layer made it
    const char* hardlink = archive_entry_hardlink(e);
    mode_t type = archive_entry_filetype(e);
    if (!fresh || hardlink != nullptr) {
      DrainWriters();  // the name, or the link's target, may be a file still queued
    }
    // A regular file is created first and looked at only when the name is taken (the
    // common case, a new name, costs one call instead of two).
    // Created with its final mode where the umask leaves it whole (no chmod then; layers
    // carry no ACLs, and the store's directories have no default ACL to mask it); special
    // bits only ever by chmod after the chown.
    mode_t perm = archive_entry_perm(e) & 07777;
    bool mode_at_create = (perm & 07000) == 0 && (perm & umask_) == 0;
    if (type == AE_IFREG && hardlink == nullptr && fresh && empty_root_ &&
        Queue(a, e, name, shown, perm, mode_at_create)) {
      return;
    }
    UniqueFd created;
    if (type == AE_IFREG && hardlink == nullptr) {
      created.Reset(openat(parent, name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           mode_at_create ? perm : 0600));
      if (!created && errno != EEXIST) {
        ThrowErrno("layer: create " + shown);
      }
    }
    bool replaced = false;  // created by the second try, with mode 0600
    struct stat existing;
    bool exists = !created && fstatat(parent, name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && !(type == AE_IFDIR && hardlink == nullptr && S_ISDIR(existing.st_mode))) {
      RemoveAt(parent, name, shown);
    }
    if (hardlink != nullptr) {
      return HardLink(parent, name, shown, hardlink);
    }
    uid_t uid = static_cast<uid_t>(archive_entry_uid(e));
    gid_t gid = static_cast<gid_t>(archive_entry_gid(e));
    UniqueFd fd;
    switch (type) {
      case AE_IFDIR:
        if (!(exists && S_ISDIR(existing.st_mode)) && mkdirat(parent, name.c_str(), 0700) < 0) {
          ThrowErrno("layer: mkdir " + shown);
        }
        fd.Reset(openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        dirs_.push_back({shown, archive_entry_mtime(e), archive_entry_mtime_nsec(e)});
        break;
      case AE_IFREG:
        if (created) {
          fd = std::move(created);
        } else {
          replaced = true;
          fd.Reset(openat(parent, name.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        }
        if (!fd) {
          ThrowErrno("layer: create " + shown);
        }
        WriteData(a, e, fd.get(), shown);
        break;
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(e);
        if (symlinkat(target != nullptr ? target : "", parent, name.c_str()) < 0) {
          ThrowErrno("layer: symlink " + shown);
        }
        if (fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
          ThrowErrno("layer: chown " + shown);
        }
        struct timespec ts[2] = {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
                                 {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
        utimensat(parent, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
        return;
      }
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO: {
        mode_t kind = type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO;
        if (mknodat(parent, name.c_str(), kind | 0600, archive_entry_rdev(e)) < 0) {
          ThrowErrno("layer: mknod " + shown);
        }
        fd.Reset(openat(parent, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        break;
      }
      default:
        return;  // sockets and the like have no place in a layer
    }
    if (!fd) {
      ThrowErrno("layer: open " + shown);
    }
    // chown before chmod: chown clears setuid and setgid bits. A file just created already
    // has the owner the tar asks for when that is the daemon's own and its directory's group
    // is too (whether new files take the creator's group or the directory's).
    bool owned = type == AE_IFREG && hardlink == nullptr && uid == euid_ && gid == egid_ &&
                 parent_gid_ == egid_;
    if (!owned && fchownat(fd.get(), "", uid, gid, AT_EMPTY_PATH) < 0) {
      ThrowErrno("layer: chown " + shown);
    }
    bool moded = owned && mode_at_create && !replaced;
    if (type == AE_IFREG || type == AE_IFDIR) {
      if (!moded && fchmod(fd.get(), perm) < 0) {
        ThrowErrno("layer: chmod " + shown);
      }
      SetXattrs(fd.get(), KeptXattrs(e), shown);
    } else if (fchmodat(parent, name.c_str(), perm, 0) < 0) {
      ThrowErrno("layer: chmod " + shown);
    }
    if (type != AE_IFDIR) {
      struct timespec ts[2] = {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
                               {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
      utimensat(parent, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
    }
  }

  // The directory an entry goes into, resolved in the root (missing ones created). Consecutive
  // entries of one directory share one resolution: an entry only ever changes children of
  // its own parent, never the parent or the path to it, so the directory the path named for
  // the previous entry is still the one it names.
  int Parent(const std::string& path, const std::string& shown) {
    if (parent_ && path == parent_path_) {
      return parent_->get();
    }
    parent_.reset();
    // A queued file on the way would be made a directory here, or fail to be created.
    for (size_t slash = path.find('/', 1); !queued_.empty(); slash = path.find('/', slash + 1)) {
      if (queued_.count(path.substr(0, slash))) {
        DrainWriters();
      }
      if (slash == std::string::npos) {
        break;
      }
    }
    UniqueFd fd(ResolveInRoot(root_.get(), path, CreateMode::kDirs));
    if (!fd) {
      errno = -fd.get();
      ThrowErrno("layer: make the directory of " + shown);
    }
    struct stat st;
    parent_gid_ = fstat(fd.get(), &st) == 0 ? st.st_gid : static_cast<gid_t>(-1);
    parent_ = std::make_shared<UniqueFd>(std::move(fd));
    parent_path_ = path;
    return parent_->get();
  }

  // Directory times last: every entry written into a directory changes its mtime.
  void Finish() {
    DrainWriters();
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      UniqueFd d(ResolveInRoot(root_.get(), it->path));
      if (!d) {
        continue;
      }
      struct timespec ts[2] = {{it->sec, it->nsec}, {it->sec, it->nsec}};
      utimensat(d.get(), "", ts, AT_EMPTY_PATH);
    }
  }

 private:
  struct DirTime {
    std::string path;
    time_t sec;
    long nsec;
  };

  void Whiteout(int parent, const std::vector<std::string>& parts, const std::string& name) {
    std::string dir = Join(parts, parts.size() - 1);
    if (name == ".wh..wh..opq") {
      if (mode_ == WhiteoutMode::kOverlay) {
        UniqueFd d(openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!d || fsetxattr(d.get(), "trusted.overlay.opaque", "y", 1, 0) < 0) {
          ThrowErrno("layer: mark " + dir + " opaque");
        }
        return;
      }
      // Hide what lower layers put there, not what this layer did.
      UniqueFd d(openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      std::vector<std::string> children;
      if (DIR* ds = d ? fdopendir(dup(d.get())) : nullptr) {
        while (struct dirent* e = readdir(ds)) {
          if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            children.emplace_back(e->d_name);
          }
        }
        closedir(ds);
      }
      for (const auto& c : children) {
        std::string p = (dir == "/" ? "" : dir) + "/" + c;
        if (!created_.count(p)) {
          RemoveAt(parent, c, p);
        }
      }
      return;
    }
    std::string hidden = name.substr(4);
    if (hidden.empty() || hidden == "." || hidden == "..") {
      Bad("whiteout \"" + Join(parts, parts.size()) + "\" names nothing");
    }
    std::string shown = (dir == "/" ? "" : dir) + "/" + hidden;
    RemoveAt(parent, hidden, shown);
    if (mode_ == WhiteoutMode::kOverlay) {
      if (mknodat(parent, hidden.c_str(), S_IFCHR | 0, makedev(0, 0)) < 0) {
        ThrowErrno("layer: whiteout " + shown);
      }
      created_.insert(shown);
    }
  }

  void HardLink(int parent, const std::string& name, const std::string& shown, const char* target) {
    std::vector<std::string> tparts = SplitName(target, "hard link target");
    if (tparts.empty()) {
      Bad("hard link " + shown + " to the root");
    }
    UniqueFd tparent(ResolveInRoot(root_.get(), Join(tparts, tparts.size() - 1)));
    if (!tparent || linkat(tparent.get(), tparts.back().c_str(), parent, name.c_str(), 0) < 0) {
      int err = tparent ? errno : -tparent.get();
      throw SysError("layer: hard link " + shown + " to " + Join(tparts, tparts.size()), err);
    }
  }

  // An entry's data, block by block, to `put` (bytes, length, offset in the file).
  // Returns where the data ended.
  template <typename Put>
  la_int64_t ReadData(struct archive* a, struct archive_entry* e, const std::string& shown,
                      Put put) {
    const void* buf;
    size_t size;
    la_int64_t offset;
    la_int64_t end = 0;
    while (true) {
      int rc = archive_read_data_block(a, &buf, &size, &offset);
      if (rc == ARCHIVE_EOF) {
        break;
      }
      if (rc != ARCHIVE_OK) {
        const char* why = archive_error_string(a);
        // The entry's data is all there and only the tar's padding and end blocks are
        // missing (umoci 0.4 writes layers so): Go's tar reader, and so Docker, take that as
        // the end of the archive, and so does Berth. The diffID still covers the real bytes.
        if (archive_entry_size_is_set(e) && end >= archive_entry_size(e) && why != nullptr &&
            strstr(why, "Truncated input file") != nullptr) {
          tail_missing_ = true;
          break;
        }
        Bad("read " + shown + ": " + (why != nullptr ? why : "error"));
      }
      put(static_cast<const char*>(buf), size, offset);
      end = offset + static_cast<la_int64_t>(size);
    }
    return end;
  }

  void WriteData(struct archive* a, struct archive_entry* e, int fd, const std::string& shown) {
    la_int64_t end = ReadData(a, e, shown, [&](const char* p, size_t size, la_int64_t offset) {
      size_t done = 0;
      while (done < size) {
        ssize_t n = pwrite(fd, p + done, size - done, offset + static_cast<la_int64_t>(done));
        if (n < 0) {
          if (errno == EINTR) {
            continue;
          }
          ThrowErrno("layer: write " + shown);
        }
        done += static_cast<size_t>(n);
      }
    });
    // A sparse file may end in a hole: its size comes from the entry, not the last block.
    if (archive_entry_size_is_set(e) && archive_entry_size(e) > end &&
        ftruncate(fd, static_cast<off_t>(archive_entry_size(e))) < 0) {
      ThrowErrno("layer: size " + shown);
    }
  }

  // Hands a new small regular file to the writer threads (started once a layer has shown
  // enough of them to be worth it). False: the caller writes it itself.
  bool Queue(struct archive* a, struct archive_entry* e, const std::string& name,
             const std::string& shown, mode_t perm, bool mode_at_create) {
    if (!archive_entry_size_is_set(e) || archive_entry_size(e) > kQueuedFileMax ||
        archive_entry_sparse_count(e) > 0) {
      return false;
    }
    if (!writers_) {
      if (++small_files_ < kWritersAfter) {
        return false;
      }
      writers_ = std::make_unique<FileWriters>(
          std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4));
    }
    FileJob job;
    job.dir = parent_;
    job.name = name;
    job.shown = shown;
    job.data.resize(static_cast<size_t>(archive_entry_size(e)));
    ReadData(a, e, shown, [&](const char* p, size_t size, la_int64_t offset) {
      if (offset < 0 || static_cast<uint64_t>(offset) + size > job.data.size()) {
        Bad("read " + shown + ": data beyond the entry's size");
      }
      memcpy(job.data.data() + offset, p, size);
    });
    job.perm = perm;
    job.mode_at_create = mode_at_create;
    job.uid = static_cast<uid_t>(archive_entry_uid(e));
    job.gid = static_cast<gid_t>(archive_entry_gid(e));
    job.chown = !(job.uid == euid_ && job.gid == egid_ && parent_gid_ == egid_);
    job.mtime = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
    job.xattrs = KeptXattrs(e);
    queued_.insert(shown);
    writers_->Add(std::move(job));
    return true;
  }

  void DrainWriters() {
    if (writers_) {
      writers_->Drain();
      queued_.clear();
    }
  }

  UniqueFd root_;
  std::shared_ptr<UniqueFd> parent_;  // the previous entry's directory, its path and group
  std::string parent_path_;
  gid_t parent_gid_ = static_cast<gid_t>(-1);
  uid_t euid_ = geteuid();
  gid_t egid_ = getegid();
  mode_t umask_ = ProcessUmask();
  WhiteoutMode mode_;
  bool tail_missing_ = false;
  std::set<std::string> created_;
  std::vector<DirTime> dirs_;
  bool empty_root_ = false;  // nothing there but what this layer makes
  size_t small_files_ = 0;
  std::unique_ptr<FileWriters> writers_;
  std::unordered_set<std::string> queued_;  // files handed to writers_ since the last drain
};

template <typename In>
ApplyResult ApplyTar(const In& in, const std::string& root, WhiteoutMode whiteouts, bool hash_input,
                     bool threaded) {
  TarStream tar(in, hash_input, threaded);
  ReadContext ctx{&tar};
  auto fail = [&ctx](const std::string& what) {
    if (ctx.error) {
      try {
        std::rethrow_exception(ctx.error);
      } catch (const Error& e) {
        ThrowInvalid(e.what());  // a broken stream is bad input, whatever the reader said
      }
    }
    Bad(what);
  };
  std::unique_ptr<struct archive, ArchiveFree> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  if (archive_read_open(a.get(), &ctx, nullptr, ReadCallback, nullptr) != ARCHIVE_OK) {
    const char* why = archive_error_string(a.get());
    fail(std::string("not a tar: ") + (why != nullptr ? why : "error"));
  }
  Unpacker unpacker(root, whiteouts);
  uint64_t entries = 0;
  while (true) {
    struct archive_entry* e;
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) {
      break;
    }
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      fail(std::string("malformed tar after ") + std::to_string(entries) + " entries: " +
           (archive_error_string(a.get()) ? archive_error_string(a.get()) : "error"));
    }
    try {
      unpacker.Entry(a.get(), e);
    } catch (const Error&) {
      if (ctx.error) {
        fail("");  // the stream broke under the entry: that is the cause to name
      }
      throw;
    }
    ++entries;
    if (unpacker.tail_missing()) {
      break;
    }
  }
  unpacker.Finish();
  ApplyResult result = tar.Finish();
  result.entries = entries;
  return result;
}

}  // namespace

ApplyResult ApplyLayer(int in_fd, const std::string& root, WhiteoutMode whiteouts,
                       bool hash_input) {
  struct stat st;
  bool small = fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < kInlineBelow;
  ReadFn read = ReadFd(in_fd);
  return ApplyTar(read, root, whiteouts, hash_input, !small);
}

ApplyResult ApplyLayer(const PieceFn& next, const std::string& root, WhiteoutMode whiteouts,
                       bool hash_input) {
  return ApplyTar(next, root, whiteouts, hash_input, true);
}

namespace {

// The output side: uncompressed tar bytes from libarchive, hashed (diffID), compressed (or
// not), hashed again (digest), written to the fd.
class Sink {
 public:
  Sink(const std::function<void(const void*, size_t)>& out, Compression c)
      : out_(out), c_(c), buf_(kChunk) {
    hashes_.one = c_ == Compression::kNone;
    if (c_ == Compression::kGzip) {
      memset(&z_, 0, sizeof(z_));
      // Level 6, gzip header with no name and mtime 0: the same input gives the same bytes.
      if (deflateInit2(&z_, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        Bad("cannot start gzip compression");
      }
    } else if (c_ == Compression::kZstd) {
      zstd_ = ZSTD_createCStream();
      if (zstd_ == nullptr || ZSTD_isError(ZSTD_initCStream(zstd_, 3))) {
        Bad("cannot start zstd compression");
      }
    }
  }
  ~Sink() {
    if (c_ == Compression::kGzip) deflateEnd(&z_);
    if (zstd_ != nullptr) ZSTD_freeCStream(zstd_);
  }

  void Write(const void* data, size_t size) {
    hashes_.diff.Update(data, size);
    hashes_.uncompressed += size;
    Compress(data, size, false);
  }
  void Finish() { Compress(nullptr, 0, true); }

  ApplyResult Result() const { return hashes_.Result(); }

 private:
  void Out(const void* data, size_t size) {
    if (!hashes_.one) hashes_.raw.Update(data, size);
    hashes_.compressed += size;
    out_(data, size);
  }

  void Compress(const void* data, size_t size, bool end) {
    switch (c_) {
      case Compression::kNone:
        if (size > 0) Out(data, size);
        return;
      case Compression::kGzip: {
        z_.next_in = static_cast<Bytef*>(const_cast<void*>(data));
        z_.avail_in = static_cast<uInt>(size);
        int rc;
        do {
          z_.next_out = buf_.data();
          z_.avail_out = static_cast<uInt>(buf_.size());
          rc = deflate(&z_, end ? Z_FINISH : Z_NO_FLUSH);
          if (rc == Z_STREAM_ERROR) Bad("gzip compression failed");
          Out(buf_.data(), buf_.size() - z_.avail_out);
        } while (z_.avail_out == 0 || (end && rc != Z_STREAM_END));
        return;
      }
      case Compression::kZstd: {
        ZSTD_inBuffer in = {data, size, 0};
        size_t rc;
        do {
          ZSTD_outBuffer out = {buf_.data(), buf_.size(), 0};
          rc = ZSTD_compressStream2(zstd_, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
          if (ZSTD_isError(rc))
            Bad(std::string("zstd compression failed: ") + ZSTD_getErrorName(rc));
          Out(buf_.data(), out.pos);
        } while (in.pos < in.size || (end && rc != 0));
        return;
      }
    }
  }

  const std::function<void(const void*, size_t)>& out_;
  Compression c_;
  std::vector<unsigned char> buf_;
  z_stream z_;
  ZSTD_CStream* zstd_ = nullptr;
  StreamHashes hashes_;
};

struct WriteContext {
  Sink* sink;
  std::string error;
};

la_ssize_t WriteCallback(struct archive*, void* data, const void* buf, size_t size) {
  auto* ctx = static_cast<WriteContext*>(data);
  try {
    ctx->sink->Write(buf, size);
    return static_cast<la_ssize_t>(size);
  } catch (const Error& e) {
    ctx->error = e.what();
    return -1;
  }
}

struct ArchiveWriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};

std::vector<std::string> SortedChildren(int dir_fd) {
  std::vector<std::string> out;
  DIR* d = fdopendir(dup(dir_fd));
  if (d == nullptr) {
    ThrowErrno("layer: list a directory of the upper dir");
  }
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      out.emplace_back(e->d_name);
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

class UpperWriter {
 public:
  UpperWriter(struct archive* a, WriteContext* ctx, IdShift shift)
      : a_(a), ctx_(ctx), shift_(shift) {}

  void Dir(int dir_fd, const std::string& prefix) {
    for (const auto& name : SortedChildren(dir_fd)) {
      std::string path = prefix + name;
      struct stat st;
      if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        ThrowErrno("layer: stat " + path);
      }
      if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
        Header(Plain(prefix + ".wh." + name, AE_IFREG, 0));
        continue;
      }
      std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> e(archive_entry_new(),
                                                                               archive_entry_free);
      archive_entry_set_pathname(e.get(), path.c_str());
      archive_entry_set_uid(e.get(), static_cast<la_int64_t>(shift_(st.st_uid)));
      archive_entry_set_gid(e.get(), static_cast<la_int64_t>(shift_(st.st_gid)));
      archive_entry_set_perm(e.get(), st.st_mode & 07777);
      archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
      UniqueFd fd;
      if (S_ISDIR(st.st_mode)) {
        archive_entry_set_filetype(e.get(), AE_IFDIR);
        fd.Reset(openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) ThrowErrno("layer: open " + path);
        Xattrs(e.get(), fd.get());
        Header(e.get());
        char v[2];
        if (fgetxattr(fd.get(), "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y') {
          Header(Plain(path + "/.wh..wh..opq", AE_IFREG, 0));
        }
        Dir(fd.get(), path + "/");
        continue;
      }
      if (S_ISLNK(st.st_mode)) {
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = readlinkat(dir_fd, name.c_str(), target.data(), target.size());
        if (n < 0) ThrowErrno("layer: readlink " + path);
        target.resize(static_cast<size_t>(n));
        archive_entry_set_filetype(e.get(), AE_IFLNK);
        archive_entry_set_symlink(e.get(), target.c_str());
        Header(e.get());
        continue;
      }
      if (S_ISREG(st.st_mode)) {
        if (st.st_nlink > 1) {
          auto [it, first] = links_.emplace(std::make_pair(st.st_dev, st.st_ino), path);
          if (!first) {
            archive_entry_set_filetype(e.get(), AE_IFREG);
            archive_entry_set_hardlink(e.get(), it->second.c_str());
            archive_entry_set_size(e.get(), 0);
            Header(e.get());
            continue;
          }
        }
        fd.Reset(openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) ThrowErrno("layer: open " + path);
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_size(e.get(), st.st_size);
        Xattrs(e.get(), fd.get());
        Header(e.get());
        Data(fd.get(), path);
        continue;
      }
      if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
        archive_entry_set_filetype(e.get(), S_ISCHR(st.st_mode)   ? AE_IFCHR
                                            : S_ISBLK(st.st_mode) ? AE_IFBLK
                                                                  : AE_IFIFO);
        archive_entry_set_rdev(e.get(), st.st_rdev);
        Header(e.get());
      }
      // Sockets are not part of a filesystem's content.
    }
  }

  uint64_t entries() const { return entries_; }

 private:
  struct archive_entry* Plain(const std::string& path, mode_t type, mode_t perm) {
    scratch_.reset(archive_entry_new());
    archive_entry_set_pathname(scratch_.get(), path.c_str());
    archive_entry_set_filetype(scratch_.get(), type);
    archive_entry_set_perm(scratch_.get(), perm);
    archive_entry_set_size(scratch_.get(), 0);
    return scratch_.get();
  }

  void Header(struct archive_entry* e) {
    if (archive_write_header(a_, e) != ARCHIVE_OK) {
      Fail();
    }
    ++entries_;
  }

  void Data(int fd, const std::string& path) {
    std::vector<char> buf(kChunk);
    ssize_t n;
    while ((n = read(fd, buf.data(), buf.size())) != 0) {
      if (n < 0) {
        if (errno == EINTR) continue;
        ThrowErrno("layer: read " + path);
      }
      if (archive_write_data(a_, buf.data(), static_cast<size_t>(n)) < 0) {
        Fail();
      }
    }
  }

  void Xattrs(struct archive_entry* e, int fd) {
    char names[4096];
    ssize_t len = flistxattr(fd, names, sizeof(names));
    std::vector<std::string> keep;
    for (ssize_t i = 0; i < len; i += static_cast<ssize_t>(strlen(names + i)) + 1) {
      if (KeepXattr(names + i)) keep.emplace_back(names + i);
    }
    std::sort(keep.begin(), keep.end());
    for (const auto& k : keep) {
      char value[4096];
      ssize_t vn = fgetxattr(fd, k.c_str(), value, sizeof(value));
      if (vn >= 0) archive_entry_xattr_add_entry(e, k.c_str(), value, static_cast<size_t>(vn));
    }
  }

  [[noreturn]] void Fail() {
    if (!ctx_->error.empty()) ThrowInvalid(ctx_->error);
    Bad(std::string("write the tar: ") +
        (archive_error_string(a_) ? archive_error_string(a_) : "error"));
  }

  struct archive* a_;
  WriteContext* ctx_;
  IdShift shift_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> scratch_{
      nullptr, archive_entry_free};
  uint64_t entries_ = 0;
};

}  // namespace

ApplyResult WriteLayerFromUpper(const std::string& upper, int out_fd, Compression compression,
                                IdShift shift) {
  return WriteLayerFromUpper(
      upper,
      [out_fd](const void* data, size_t size) {
        const char* p = static_cast<const char*>(data);
        while (size > 0) {
          ssize_t n = write(out_fd, p, size);
          if (n < 0) {
            if (errno == EINTR) continue;
            ThrowErrno("layer: write");
          }
          p += n;
          size -= static_cast<size_t>(n);
        }
      },
      compression, shift);
}

ApplyResult WriteLayerFromUpper(const std::string& upper,
                                const std::function<void(const void*, size_t)>& out,
                                Compression compression, IdShift shift) {
  UniqueFd root(open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    ThrowErrno("layer: open upper directory " + upper);
  }
  Sink sink(out, compression);
  WriteContext ctx{&sink, ""};
  std::unique_ptr<struct archive, ArchiveWriteFree> a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  archive_write_set_bytes_per_block(a.get(), 10240);
  archive_write_set_bytes_in_last_block(a.get(), 1);
  if (archive_write_open2(a.get(), &ctx, nullptr, WriteCallback, nullptr, nullptr) != ARCHIVE_OK) {
    Bad(std::string("start the tar: ") + archive_error_string(a.get()));
  }
  UpperWriter writer(a.get(), &ctx, shift);
  writer.Dir(root.get(), "");
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    if (!ctx.error.empty()) ThrowInvalid(ctx.error);
    Bad(std::string("finish the tar: ") + archive_error_string(a.get()));
  }
  sink.Finish();
  ApplyResult r = sink.Result();
  r.entries = writer.entries();
  return r;
}

}  // namespace berth::image

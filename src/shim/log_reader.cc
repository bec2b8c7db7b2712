// LogReader: `docker logs` over the json-file driver's files (see logfile.h).

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "base/error.h"
#include "shim/logfile.h"

namespace berth::shim {
namespace {

constexpr size_t kChunk = 64 * 1024;
// A line longer than any the writer produces (16 KiB escaped at most 6x) is garbage.
constexpr size_t kMaxLineBytes = 1 << 20;
constexpr int kStopCheckMs = 250;

struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};

// An open log file and how far it has been read.
struct Cursor {
  UniqueFd fd;
  FileId id;
  off_t size_at_open = 0;
  off_t offset = 0;
  std::string pending;  // an unterminated line: a write in progress, or torn
  bool skipping = false;

  bool valid() const { return fd.valid(); }
};

// Opens `path` for reading; an invalid cursor if it does not exist.
Cursor OpenCursor(const std::string& path) {
  Cursor c;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return c;
    }
    ThrowErrno("open log file " + path);
  }
  c.fd.Reset(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ThrowErrno("stat log file " + path);
  }
  c.id = {st.st_dev, st.st_ino};
  c.size_at_open = st.st_size;
  return c;
}

std::optional<FileId> StatId(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return std::nullopt;
  }
  return FileId{st.st_dev, st.st_ino};
}

std::optional<FileId> IdOf(const Cursor& c) {
  return c.valid() ? std::optional<FileId>(c.id) : std::nullopt;
}

// The log files opened at one instant: `current` is the path (invalid while the writer is
// between renaming it away and creating the next one), rotated[i] is path.<i+1> (invalid for
// a name the writer's renames leave empty for a moment).
struct Snapshot {
  Cursor current;
  std::vector<Cursor> rotated;
};

ssize_t PreadRetry(int fd, char* buf, size_t len, off_t off) {
  for (;;) {
    ssize_t n = ::pread(fd, buf, len, off);
    if (n >= 0 || errno != EINTR) {
      return n;
    }
  }
}

// The offset in [0, size) where the last `remaining` complete lines of the file start,
// reading backwards in chunks; subtracts the lines found from `remaining`.
off_t TailStart(int fd, off_t size, size_t& remaining, const std::string& path) {
  if (remaining == 0) {
    return size;
  }
  std::vector<char> buf(kChunk);
  size_t seen = 0;
  off_t pos = size;
  while (pos > 0) {
    const size_t n = static_cast<size_t>(std::min<off_t>(pos, static_cast<off_t>(kChunk)));
    pos -= static_cast<off_t>(n);
    ssize_t got = PreadRetry(fd, buf.data(), n, pos);
    if (got != static_cast<ssize_t>(n)) {
      ThrowErrno("read log file " + path);
    }
    for (size_t i = n; i-- > 0;) {
      // The (remaining+1)-th newline from the end precedes the lines wanted.
      if (buf[i] == '\n' && ++seen == remaining + 1) {
        remaining = 0;
        return pos + static_cast<off_t>(i) + 1;
      }
    }
  }
  remaining -= seen;
  return 0;
}

class Session {
 public:
  Session(std::string path, const LogReadOptions& options, const LogCallback& callback)
      : path_(std::move(path)), options_(options), callback_(callback) {}

  void Run(const FollowControl& control);

 private:
  void Drain(Cursor& c);
  void HandleLine(std::string_view line);
  bool OpenSnapshot(Snapshot& s) const;
  void FollowOnce();
  std::string Rotated(int i) const { return path_ + "." + std::to_string(i); }

  std::string path_;
  const LogReadOptions& options_;
  const LogCallback& callback_;
  Cursor current_;
  // The last file read to its end while no current one is open: rotated away, or the newest
  // rotated file when following began without a current file. Its descriptor stays open so
  // that its inode number cannot be given to a new file while it is looked for by id.
  Cursor previous_;
  std::vector<char> buf_;  // read buffer, reused across drains
  bool done_ = false;      // passed `until`
};

void Session::HandleLine(std::string_view line) {
  if (line.empty()) {
    return;
  }
  std::optional<LogEntry> e = ParseLogLine(line);
  if (!e) {
    return;  // a torn or foreign line: skipped, like a reader that resynchronises
  }
  if (options_.until_ns && e->time_ns > *options_.until_ns) {
    done_ = true;
    return;
  }
  if (options_.since_ns && e->time_ns < *options_.since_ns) {
    return;
  }
  if (!(e->stream == Stream::kStdout ? options_.stdout : options_.stderr)) {
    return;
  }
  if (options_.timestamps) {
    std::string text = FormatTimestamp(e->time_ns);
    text += ' ';
    text += e->text;
    callback_(e->stream, text, e->time_ns);
  } else {
    callback_(e->stream, e->text, e->time_ns);
  }
}

// Reads `c` from its offset to the end of the file, handling every complete line.
void Session::Drain(Cursor& c) {
  buf_.resize(kChunk);
  while (!done_) {
    ssize_t n = PreadRetry(c.fd.get(), buf_.data(), buf_.size(), c.offset);
    if (n < 0) {
      ThrowErrno("read log file " + path_);
    }
    if (n == 0) {
      return;
    }
    c.offset += n;
    std::string_view data(buf_.data(), static_cast<size_t>(n));
    for (size_t nl; !done_ && (nl = data.find('\n')) != std::string_view::npos;) {
      if (c.skipping) {
        c.skipping = false;
      } else if (c.pending.empty()) {
        HandleLine(data.substr(0, nl));
      } else {
        c.pending.append(data.substr(0, nl));
        HandleLine(c.pending);
      }
      c.pending.clear();
      data.remove_prefix(nl + 1);
    }
    if (!c.skipping) {
      c.pending.append(data);
      if (c.pending.size() > kMaxLineBytes) {
        c.pending.clear();
        c.skipping = true;
      }
    }
  }
}

void Session::Run(const FollowControl& control) {
  // Watch before the first read so that no append after it goes unnoticed.
  UniqueFd inotify;
  if (options_.follow) {
    inotify.Reset(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!inotify) {
      ThrowErrno("inotify_init1");
    }
    const size_t slash = path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
    if (inotify_add_watch(
            inotify.get(), dir.c_str(),
            IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE) < 0) {
      ThrowErrno("watch log directory " + dir);
    }
  }

  // The writer (another process) may rotate while the files are being opened: retry until
  // the names still point at what was opened, so no file is read twice or skipped. A writer
  // that never pauses leaves the last attempt.
  Snapshot snapshot;
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (OpenSnapshot(snapshot)) {
      break;
    }
  }
  current_ = std::move(snapshot.current);
  std::vector<Cursor> files;  // oldest first
  for (auto it = snapshot.rotated.rbegin(); it != snapshot.rotated.rend(); ++it) {
    if (it->valid()) {
      files.push_back(std::move(*it));
    }
  }

  if (options_.tail) {
    size_t remaining = *options_.tail;
    if (current_.valid()) {
      current_.offset = TailStart(current_.fd.get(), current_.size_at_open, remaining, path_);
    }
    for (auto it = files.rbegin(); it != files.rend(); ++it) {
      it->offset = TailStart(it->fd.get(), it->size_at_open, remaining, path_);
    }
  }
  for (Cursor& c : files) {
    if (done_) {
      return;
    }
    Drain(c);
  }
  if (current_.valid() && !done_) {
    Drain(current_);
  }
  if (!options_.follow || done_) {
    return;
  }
  if (!current_.valid() && !files.empty()) {
    previous_ = std::move(files.back());
  }
  if (options_.until_ns) {
    timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (*options_.until_ns < static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec) {
      return;  // nothing newer can be wanted
    }
  }

  struct pollfd fds[2] = {{inotify.get(), POLLIN, 0}, {control.stop_fd, POLLIN, 0}};
  const nfds_t nfds = control.stop_fd >= 0 ? 2 : 1;
  for (;;) {
    FollowOnce();
    if (done_ || (control.should_stop && control.should_stop())) {
      return;
    }
    int r = ::poll(fds, nfds, kStopCheckMs);
    if (r < 0 && errno != EINTR) {
      ThrowErrno("poll log follow");
    }
    if (nfds == 2 && fds[1].revents != 0) {
      return;
    }
    if (fds[0].revents & POLLIN) {
      char events[4096];
      while (::read(inotify.get(), events, sizeof(events)) > 0) {
      }
    }
  }
}

// Opens the current file and the rotated ones, then checks that every name still points at
// what was opened (or at nothing); false if the writer renamed something in between.
bool Session::OpenSnapshot(Snapshot& s) const {
  s.current = OpenCursor(path_);
  s.rotated.clear();
  // A rotation renames path.<N-1> to path.<N>, ..., path.1 to path.2, then path to path.1:
  // while it runs, one name in the chain is missing. Only two missing names in a row end it.
  for (int missing = 0; missing < 2;) {
    s.rotated.push_back(OpenCursor(Rotated(static_cast<int>(s.rotated.size()) + 1)));
    missing = s.rotated.back().valid() ? 0 : missing + 1;
  }
  bool stable = StatId(path_) == IdOf(s.current);
  for (size_t i = 0; stable && i < s.rotated.size(); ++i) {
    stable = StatId(Rotated(static_cast<int>(i) + 1)) == IdOf(s.rotated[i]);
  }
  s.rotated.resize(s.rotated.size() - 2);
  return stable;
}

// Reads what was appended and follows rotations: the writer renames the file to path.1 (or
// unlinks it with max-file 1) and creates a new one, possibly several times between two looks
// of ours. Files are found by what they are, never by a name looked at earlier: between two
// looks the writer may have moved everything one name along.
void Session::FollowOnce() {
  for (int guard = 0; guard < 16 && !done_; ++guard) {
    if (current_.valid()) {
      Drain(current_);
      std::optional<FileId> now = StatId(path_);
      if (now && *now == current_.id) {
        return;  // no rotation
      }
      // Rotated: the writer closed the file first, so this reads its last lines (a torn last
      // line is dropped with the cursor).
      Drain(current_);
      if (done_) {
        return;
      }
      previous_ = std::move(current_);
      current_ = Cursor();
    }
    // Read the files rotated after previous_ (if the writer got ahead by more than one),
    // oldest first, then make the new file current. All of them are newer if previous_ was
    // deleted (the oldest file goes first) or if there was none.
    Snapshot s;
    if (!OpenSnapshot(s) || !s.current.valid()) {
      return;  // mid-rotation: the writer's next rename or create wakes us
    }
    size_t newer = s.rotated.size();
    for (size_t i = 0; previous_.valid() && i < s.rotated.size(); ++i) {
      if (s.rotated[i].valid() && s.rotated[i].id == previous_.id) {
        newer = i;
        break;
      }
    }
    for (size_t i = newer; i-- > 0 && !done_;) {
      if (s.rotated[i].valid()) {
        Drain(s.rotated[i]);
      }
    }
    previous_ = Cursor();
    current_ = std::move(s.current);
  }
}

}  // namespace

void LogReader::Read(const LogReadOptions& options, const LogCallback& callback,
                     const FollowControl& control) const {
  Session(path_, options, callback).Run(control);
}

}  // namespace berth::shim

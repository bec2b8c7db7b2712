#pragma once

// The shim's two ends of a stream: Input, a process's stdin (a pipe or the pty master) fed
// without blocking, and Attachment, one client connection handed over by berthd (attach or
// exec) that gets the output and feeds the Input. Both are driven by the shim's poll loop.

#include <string>
#include <string_view>

#include "base/fd.h"
#include "shim/detach_keys.h"
#include "shim/logfile.h"

namespace berth::shim {

// Output queued for one client beyond this drops the client: a reader that does not keep up
// must not hold back the container (or the shim's memory).
inline constexpr size_t kMaxClientBacklog = 4 << 20;
// Stdin queued for a process beyond this stops reading from its clients until it drains.
inline constexpr size_t kMaxInputBacklog = 1 << 20;

class Input {
 public:
  Input() = default;
  // `closable`: a pipe whose closing is the process's EOF (a pty master is not closed).
  Input(UniqueFd fd, bool closable) : fd_(std::move(fd)), closable_(closable) {}

  bool open() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  bool full() const { return pending_.size() >= kMaxInputBacklog; }
  bool wants_write() const { return fd_.valid() && !pending_.empty(); }

  // Queues bytes and writes what the pipe takes now. Dropped once closed.
  void Write(std::string_view bytes);
  // Closes after the queued bytes are written (a pipe; no-op for a pty).
  void CloseWhenFlushed();
  void OnWritable() { Flush(); }

 private:
  void Flush();

  UniqueFd fd_;
  bool closable_ = false;
  bool close_pending_ = false;
  std::string pending_;
};

struct AttachConfig {
  bool tty = false;  // raw output; else Docker's 8-byte frames
  bool stdout = true;
  bool stderr = true;
  Input* input = nullptr;           // where the client's bytes go; null: stdin not attached
  bool close_input_on_eof = false;  // StdinOnce (or an exec): the client's EOF is the process's
  std::string detach_keys;          // parsed (ParseDetachKeys)
};

class Attachment {
 public:
  // Takes the client connection; makes it non-blocking.
  Attachment(UniqueFd fd, AttachConfig config);

  int fd() const { return fd_.get(); }
  // What to poll for; 0 when there is nothing to do.
  short PollEvents() const;
  void OnEvents(short revents);
  // Container output: queued (framed or raw), written as far as the client takes it.
  void Output(Stream stream, std::string_view bytes);
  // Client bytes (as if read from the connection): `initial_stdin`.
  void FeedStdin(std::string_view bytes);
  // The output ended: close once the queue is written.
  void FinishOutput();
  // Closes now (gone, not reading, or the shim is leaving).
  void Drop();
  bool done() const { return !fd_.valid(); }

 private:
  void Flush();
  void ReadStdin();
  void StdinEnded();

  UniqueFd fd_;
  AttachConfig config_;
  DetachMatcher matcher_;
  bool reading_;
  bool finishing_ = false;
  std::string out_;
};

}  // namespace berth::shim

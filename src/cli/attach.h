#pragma once

#include <termios.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "api/client.h"
#include "shim/detach_keys.h"

// The stream side of run/attach/exec/logs: the multiplexed frames, detach keys, the local
// terminal and the loop that copies between the hijacked connection and stdio.
namespace berth::cli {

// Docker's stdcopy: without a TTY each write of the container is one frame, an 8-byte header
// (stream 0 stdin / 1 stdout / 2 stderr / 3 system error, three zero bytes, the payload size
// as big-endian uint32) and the payload. Feed takes bytes as they arrive, split anywhere.
class FrameDemuxer {
 public:
  using Sink = std::function<void(int stream, std::string_view payload)>;
  explicit FrameDemuxer(Sink sink) : sink_(std::move(sink)) {}
  // Throws berth::Error for a frame of stream 3 ("Error from daemon in stream: ...") or a
  // stream number over 3.
  void Feed(std::string_view data);
  // True when no frame is cut short in the buffer.
  bool Idle() const { return pending_.empty(); }

 private:
  Sink sink_;
  std::string pending_;
};

// The local terminal in raw mode (moby term.MakeRaw) for as long as the object lives.
class RawTerminal {
 public:
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  int fd_;
  bool active_ = false;
  struct termios saved_ {};
};

// Height and width of the terminal on stdout (else stdin), if there is one.
std::optional<std::pair<int, int>> TerminalSize();

// The signal's name as the kill endpoint takes it ("INT", "WINCH"); empty if unknown.
std::string SignalName(int sig);

// Signals taken over for the length of a stream (blocked and read from a signalfd): the ones
// the sig-proxy forwards, SIGWINCH for the TTY size, and those that must restore the
// terminal before berth ends. Restores the signal mask when it goes.
class SignalWatch {
 public:
  SignalWatch(bool proxy, bool tty);
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;
  int fd() const { return fd_; }
  bool proxy() const { return proxy_; }

 private:
  int fd_ = -1;
  bool proxy_;
  sigset_t old_{};
};

struct StreamOptions {
  bool tty = false;         // raw bytes both ways; otherwise frames from the server
  bool stdin_open = false;  // copy stdin to the connection (else half-close at once)
  std::string detach_keys;  // bytes (ParseDetachKeys); watched for with a TTY only
  SignalWatch* signals = nullptr;
  std::function<void()> resize;                              // SIGWINCH with a TTY
  std::function<void(const std::string& name)> send_signal;  // sig-proxy
};

enum class StreamEnd { kClosed, kDetached };

// Copies the hijacked connection to stdout/stderr (demultiplexing frames without a TTY) and
// stdin to the connection until the server closes it. At stdin's end the write side is shut
// down and output is read on. Returns kDetached when the detach keys were typed. A signal
// berth does not forward (no sig-proxy) ends the stream with ExitStatus 128+N once the
// terminal is restored by the caller's RawTerminal.
StreamEnd PumpStreams(api::Client::Hijacked& conn, const StreamOptions& options);

// Writes all of `data` to fd (EINTR-safe); throws on error.
void WriteAll(int fd, std::string_view data);

}  // namespace berth::cli

#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <span>

// A bounded byte stream from one writer thread to one reader thread inside the process: what a
// pipe or socket pair would carry, without the two copies through the kernel and a system
// call per piece. Both sides can work in place: the writer fills the span WriteSpace() lends
// and commits it (or copies with Write), the reader reads the span ReadSpan() lends and
// consumes it.
//
// The writer ends the stream with Close(), or with Close(error) to hand the reader an
// exception instead of an end; the reader gives up with Stop(), after which the writer's calls
// fail at once (a broken pipe, without the signal). Either side blocks only while the ring is
// full (writer) or empty (reader), and is then woken for a batch (a quarter of the ring, at
// most 64 KiB) or the end, not for every byte: a stream, not a request/response channel.
namespace berth {

class ByteRing {
 public:
  explicit ByteRing(size_t capacity);
  ByteRing(const ByteRing&) = delete;
  ByteRing& operator=(const ByteRing&) = delete;

  // Writer. Room to write into, one contiguous span of at most `max` bytes; waits while the
  // ring is full. Empty once the reader has stopped.
  std::span<char> WriteSpace(size_t max = SIZE_MAX);
  // Makes `n` bytes of the last span readable.
  void Commit(size_t n);
  // Copies all of `data` in; false if the reader stopped first.
  bool Write(const void* data, size_t len);
  // The end of the stream: the reader gets what is left, then the end (or `error`, rethrown).
  void Close(std::exception_ptr error = nullptr);

  // Reader. Bytes to read, one contiguous span; waits while the ring is empty and open. Empty
  // at the end; rethrows the writer's error at the end.
  std::span<const char> ReadSpan();
  // Frees the first `n` bytes of the last span for the writer.
  void Consume(size_t n);
  // The reader wants nothing more: the writer's waits end and its calls fail.
  void Stop();

 private:
  std::unique_ptr<char[]> buf_;  // not zeroed: a page is touched only when bytes reach it
  size_t size_;
  size_t batch_;  // a waiting side is woken once this much is there (or free), or at the end
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t written_ = 0, read_ = 0;  // totals: positions are these modulo the size
  bool closed_ = false, stopped_ = false;
  bool writer_waits_ = false, reader_waits_ = false;
  std::exception_ptr error_;
};

}  // namespace berth

#include "base/byte_ring.h"

#include <algorithm>
#include <cstring>

namespace berth {

ByteRing::ByteRing(size_t capacity)
    : buf_(new char[std::max<size_t>(capacity, 1)]),
      size_(std::max<size_t>(capacity, 1)),
      batch_(std::clamp<size_t>(size_ / 4, 1, 64 << 10)) {}

std::span<char> ByteRing::WriteSpace(size_t max) {
  std::unique_lock lock(mu_);
  // A side that waits is woken when a batch is there, not for every byte: a wake-up costs
  // about what copying 64 KiB does.
  if (!stopped_ && written_ - read_ == size_) {
    writer_waits_ = true;
    cv_.wait(lock, [this] { return stopped_ || size_ - (written_ - read_) >= batch_; });
    writer_waits_ = false;
  }
  if (stopped_) {
    return {};
  }
  size_t at = written_ % size_;
  size_t room = size_ - static_cast<size_t>(written_ - read_);
  return {buf_.get() + at, std::min({room, size_ - at, max})};
}

void ByteRing::Commit(size_t n) {
  std::lock_guard lock(mu_);
  written_ += n;
  if (reader_waits_ && written_ - read_ >= batch_) {
    cv_.notify_all();
  }
}

bool ByteRing::Write(const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    std::span<char> space = WriteSpace(len);
    if (space.empty()) {
      return false;
    }
    memcpy(space.data(), p, space.size());
    Commit(space.size());
    p += space.size();
    len -= space.size();
  }
  return true;
}

void ByteRing::Close(std::exception_ptr error) {
  std::lock_guard lock(mu_);
  closed_ = true;
  error_ = std::move(error);
  cv_.notify_all();
}

std::span<const char> ByteRing::ReadSpan() {
  std::unique_lock lock(mu_);
  if (written_ == read_ && !closed_) {
    reader_waits_ = true;
    cv_.wait(lock, [this] { return closed_ || written_ - read_ >= batch_; });
    reader_waits_ = false;
  }
  if (written_ == read_) {
    if (error_) {
      std::rethrow_exception(error_);
    }
    return {};
  }
  size_t at = read_ % size_;
  size_t ready = static_cast<size_t>(written_ - read_);
  return {buf_.get() + at, std::min(ready, size_ - at)};
}

void ByteRing::Consume(size_t n) {
  std::lock_guard lock(mu_);
  read_ += n;
  if (writer_waits_ && size_ - (written_ - read_) >= batch_) {
    cv_.notify_all();
  }
}

void ByteRing::Stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  cv_.notify_all();
}

}  // namespace berth

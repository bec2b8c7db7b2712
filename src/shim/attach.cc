#include "shim/attach.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace berth::shim {

void Input::Write(std::string_view bytes) {
  if (!fd_) {
    return;
  }
  pending_.append(bytes);
  Flush();
}

void Input::CloseWhenFlushed() {
  if (closable_) {
    close_pending_ = true;
    Flush();
  }
}

void Input::Flush() {
  while (fd_ && !pending_.empty()) {
    ssize_t n = write(fd_.get(), pending_.data(), pending_.size());
    if (n > 0) {
      pending_.erase(0, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {
      // The reader is gone (EPIPE): nothing will read stdin again.
      pending_.clear();
      fd_.Reset();
    }
  }
  if (close_pending_ && pending_.empty()) {
    fd_.Reset();
  }
}

Attachment::Attachment(UniqueFd fd, AttachConfig config)
    : fd_(std::move(fd)),
      config_(std::move(config)),
      matcher_(config_.detach_keys),
      reading_(config_.input != nullptr) {
  int flags = fcntl(fd_.get(), F_GETFL);
  fcntl(fd_.get(), F_SETFL, flags | O_NONBLOCK);
}

short Attachment::PollEvents() const {
  if (!fd_) {
    return 0;
  }
  short events = 0;
  if (reading_ && !config_.input->full()) {
    events |= POLLIN;
  }
  if (!out_.empty()) {
    events |= POLLOUT;
  }
  return events;
}

void Attachment::OnEvents(short revents) {
  if (!fd_) {
    return;
  }
  if (reading_ && (revents & (POLLIN | POLLHUP | POLLERR))) {
    ReadStdin();
  }
  if (fd_ && (revents & POLLOUT)) {
    Flush();
  }
  if (fd_ && (revents & (POLLHUP | POLLERR)) && !reading_) {
    Drop();  // the client is gone entirely: nothing can be delivered
  }
}

void Attachment::ReadStdin() {
  char buf[32768];
  while (fd_ && reading_ && !config_.input->full()) {
    ssize_t n = read(fd_.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      return;
    }
    if (n <= 0) {
      StdinEnded();
      if (n < 0) {
        Drop();  // ECONNRESET
      }
      return;
    }
    FeedStdin(std::string_view(buf, static_cast<size_t>(n)));
  }
}

void Attachment::FeedStdin(std::string_view bytes) {
  if (config_.input == nullptr) {
    return;
  }
  std::string forward;
  bool detach = matcher_.Feed(bytes, &forward);
  config_.input->Write(forward);
  if (detach) {
    Drop();  // the container keeps running, its stdin open
  }
}

void Attachment::StdinEnded() {
  reading_ = false;
  config_.input->Write(matcher_.held());  // a partial detach sequence is plain input
  if (config_.close_input_on_eof) {
    config_.input->CloseWhenFlushed();
  }
}

void Attachment::Output(Stream stream, std::string_view bytes) {
  if (!fd_ || finishing_) {
    return;
  }
  if ((stream == Stream::kStdout && !config_.stdout) ||
      (stream == Stream::kStderr && !config_.stderr)) {
    return;
  }
  if (config_.tty) {
    out_.append(bytes);
  } else {
    out_.append(FrameMessage(stream, bytes));
  }
  Flush();
  if (out_.size() > kMaxClientBacklog) {
    Drop();
  }
}

void Attachment::FinishOutput() {
  finishing_ = true;
  Flush();
}

void Attachment::Flush() {
  while (fd_ && !out_.empty()) {
    ssize_t n = write(fd_.get(), out_.data(), out_.size());
    if (n > 0) {
      out_.erase(0, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {
      Drop();  // EPIPE, ECONNRESET: the client hung up
      return;
    }
  }
  if (finishing_ && out_.empty()) {
    fd_.Reset();
  }
}

void Attachment::Drop() {
  out_.clear();
  fd_.Reset();
}

}  // namespace berth::shim

#pragma once

#include <exception>
#include <string>
#include <string_view>

namespace berth {

// What went wrong, independent of where; mapped to exit codes and HTTP statuses in one place
// each (modelled on containerd's errdefs).
enum class Kind {
  kNotFound,
  kAlreadyExists,
  kInvalidArgument,
  kConflict,
  kPermissionDenied,
  kUnavailable,
  kNotImplemented,
  kDataLoss,
  kInternal,
};

std::string_view KindName(Kind kind);

// The one exception type above the syscall layer. The message reads as a context chain,
// outermost first: "create container c1: mount proc on /rootfs/proc: permission denied".
class Error : public std::exception {
 public:
  Error(Kind kind, std::string message, int err = 0);

  Kind kind() const { return kind_; }
  int err() const { return errno_; }
  const char* what() const noexcept override { return text_.c_str(); }

  // Returns a copy with `context` prepended ("context: message").
  Error WithContext(std::string_view context) const;

 private:
  Kind kind_;
  int errno_;
  std::string text_;
};

// Builds an error from an errno value: "what: strerror(err)". The kind follows the errno
// (ENOENT is kNotFound, EEXIST kAlreadyExists, EPERM/EACCES kPermissionDenied, ...).
Error SysError(std::string_view what, int err);

// Throws SysError(what, errno) — for direct libc calls in library code.
[[noreturn]] void ThrowErrno(std::string_view what);

// Kind-specific helpers for errors that are not syscall failures.
[[noreturn]] void ThrowInvalid(std::string message);
[[noreturn]] void ThrowNotFound(std::string message);
[[noreturn]] void ThrowConflict(std::string message);

}  // namespace berth

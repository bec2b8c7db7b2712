#include "base/error.h"

#include <cerrno>
#include <cstring>

namespace berth {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kNotFound:
      return "not found";
    case Kind::kAlreadyExists:
      return "already exists";
    case Kind::kInvalidArgument:
      return "invalid argument";
    case Kind::kConflict:
      return "conflict";
    case Kind::kPermissionDenied:
      return "permission denied";
    case Kind::kUnavailable:
      return "unavailable";
    case Kind::kNotImplemented:
      return "not implemented";
    case Kind::kDataLoss:
      return "data loss";
    case Kind::kInternal:
      return "internal";
  }
  return "unknown";
}

Error::Error(Kind kind, std::string message, int err)
    : kind_(kind), errno_(err), text_(std::move(message)) {}

Error Error::WithContext(std::string_view context) const {
  std::string text(context);
  text += ": ";
  text += text_;
  return Error(kind_, std::move(text), errno_);
}

namespace {

Kind KindFromErrno(int err) {
  switch (err) {
    case ENOENT:
    case ESRCH:
      return Kind::kNotFound;
    case EEXIST:
      return Kind::kAlreadyExists;
    case EINVAL:
    case ENOTDIR:
    case EISDIR:
    case ELOOP:
    case ENAMETOOLONG:
      return Kind::kInvalidArgument;
    case EPERM:
    case EACCES:
    case EROFS:
      return Kind::kPermissionDenied;
    case EBUSY:
      return Kind::kConflict;
    case ENOSYS:
    case EOPNOTSUPP:
      return Kind::kNotImplemented;
    case EAGAIN:
    case ENOSPC:
    case ENOMEM:
      return Kind::kUnavailable;
    default:
      return Kind::kInternal;
  }
}

}  // namespace

Error SysError(std::string_view what, int err) {
  std::string text(what);
  text += ": ";
  text += std::strerror(err);
  // strerror capitalises; Berth messages are lower case throughout.
  size_t first = what.size() + 2;
  if (first < text.size() && text[first] >= 'A' && text[first] <= 'Z') {
    text[first] = static_cast<char>(text[first] - 'A' + 'a');
  }
  return Error(KindFromErrno(err), std::move(text), err);
}

void ThrowErrno(std::string_view what) { throw SysError(what, errno); }
void ThrowInvalid(std::string message) { throw Error(Kind::kInvalidArgument, std::move(message)); }
void ThrowNotFound(std::string message) { throw Error(Kind::kNotFound, std::move(message)); }
void ThrowConflict(std::string message) { throw Error(Kind::kConflict, std::move(message)); }

}  // namespace berth

#include "registry/errors.h"

namespace berth::registry {

namespace {

Kind KindOf(Code code) {
  switch (code) {
    case Code::kBlobUnknown:
    case Code::kBlobUploadUnknown:
    case Code::kManifestUnknown:
    case Code::kNameUnknown:
      return Kind::kNotFound;
    case Code::kUnauthorized:
    case Code::kDenied:
      return Kind::kPermissionDenied;
    case Code::kUnsupported:
      return Kind::kNotImplemented;
    case Code::kTooManyRequests:
    case Code::kUnavailable:
      return Kind::kUnavailable;
    case Code::kUnknown:
      return Kind::kInternal;
    default:
      return Kind::kInvalidArgument;
  }
}

}  // namespace

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kBlobUnknown:
      return "BLOB_UNKNOWN";
    case Code::kBlobUploadInvalid:
      return "BLOB_UPLOAD_INVALID";
    case Code::kBlobUploadUnknown:
      return "BLOB_UPLOAD_UNKNOWN";
    case Code::kDigestInvalid:
      return "DIGEST_INVALID";
    case Code::kManifestBlobUnknown:
      return "MANIFEST_BLOB_UNKNOWN";
    case Code::kManifestInvalid:
      return "MANIFEST_INVALID";
    case Code::kManifestUnknown:
      return "MANIFEST_UNKNOWN";
    case Code::kNameInvalid:
      return "NAME_INVALID";
    case Code::kNameUnknown:
      return "NAME_UNKNOWN";
    case Code::kSizeInvalid:
      return "SIZE_INVALID";
    case Code::kUnauthorized:
      return "UNAUTHORIZED";
    case Code::kDenied:
      return "DENIED";
    case Code::kUnsupported:
      return "UNSUPPORTED";
    case Code::kTooManyRequests:
      return "TOOMANYREQUESTS";
    case Code::kPaginationNumberInvalid:
      return "PAGINATION_NUMBER_INVALID";
    case Code::kUnavailable:
      return "UNAVAILABLE";
    case Code::kUnknown:
      break;
  }
  return "UNKNOWN";
}

int DefaultStatus(Code code) {
  switch (code) {
    case Code::kBlobUnknown:
    case Code::kBlobUploadUnknown:
    case Code::kManifestUnknown:
    case Code::kNameUnknown:
      return 404;
    case Code::kUnauthorized:
      return 401;
    case Code::kDenied:
      return 403;
    case Code::kUnsupported:
      return 405;
    case Code::kTooManyRequests:
      return 429;
    case Code::kUnavailable:
      return 503;
    case Code::kUnknown:
      return 500;
    default:
      return 400;
  }
}

std::string_view DefaultMessage(Code code) {
  switch (code) {
    case Code::kBlobUnknown:
      return "blob unknown to registry";
    case Code::kBlobUploadInvalid:
      return "blob upload invalid";
    case Code::kBlobUploadUnknown:
      return "blob upload unknown to registry";
    case Code::kDigestInvalid:
      return "provided digest did not match uploaded content";
    case Code::kManifestBlobUnknown:
      return "manifest references a manifest or blob unknown to registry";
    case Code::kManifestInvalid:
      return "manifest invalid";
    case Code::kManifestUnknown:
      return "manifest unknown to registry";
    case Code::kNameInvalid:
      return "invalid repository name";
    case Code::kNameUnknown:
      return "repository name not known to registry";
    case Code::kSizeInvalid:
      return "provided length did not match content length";
    case Code::kUnauthorized:
      return "authentication required";
    case Code::kDenied:
      return "requested access to the resource is denied";
    case Code::kUnsupported:
      return "the operation is unsupported";
    case Code::kTooManyRequests:
      return "too many requests";
    case Code::kPaginationNumberInvalid:
      return "invalid number of results requested";
    case Code::kUnavailable:
      return "service unavailable";
    case Code::kUnknown:
      break;
  }
  return "unknown error";
}

ApiError::ApiError(Code code, std::string message, nlohmann::json detail, int status)
    : Error(KindOf(code), message.empty() ? std::string(DefaultMessage(code)) : message),
      code_(code),
      status_(status == 0 ? DefaultStatus(code) : status),
      detail_(std::move(detail)) {}

nlohmann::json ApiError::Body() const {
  nlohmann::json e = {{"code", CodeName(code_)}, {"message", what()}};
  if (!detail_.is_null()) {
    e["detail"] = detail_;
  }
  return {{"errors", nlohmann::json::array({e})}};
}

ApiError ToApiError(const std::exception& e) {
  if (const auto* api = dynamic_cast<const ApiError*>(&e)) {
    return *api;
  }
  if (const auto* err = dynamic_cast<const Error*>(&e)) {
    switch (err->kind()) {
      case Kind::kUnavailable:
        return ApiError(Code::kUnavailable, err->what());
      case Kind::kNotImplemented:
        return ApiError(Code::kUnsupported, err->what());
      default:
        break;
    }
    return ApiError(Code::kUnknown, err->what());
  }
  return ApiError(Code::kUnknown, e.what());
}

}  // namespace berth::registry

#pragma once

#include <exception>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/error.h"

// The distribution spec's error codes, their HTTP statuses and the JSON body clients parse:
//   {"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":{...}}]}
// Handlers throw ApiError; anything else thrown (a berth::Error from the disk, a bug) is mapped
// to one in ToApiError, the one place where failures become statuses.

namespace berth::registry {

enum class Code {
  kBlobUnknown,
  kBlobUploadInvalid,
  kBlobUploadUnknown,
  kDigestInvalid,
  kManifestBlobUnknown,
  kManifestInvalid,
  kManifestUnknown,
  kNameInvalid,
  kNameUnknown,
  kSizeInvalid,
  kUnauthorized,
  kDenied,
  kUnsupported,
  kTooManyRequests,
  kPaginationNumberInvalid,  // distribution's, for a bad `n` (400)
  kUnavailable,              // distribution's UNAVAILABLE (503)
  kUnknown,                  // distribution's UNKNOWN (500): a failure of the server itself
};

// "BLOB_UNKNOWN", ...
std::string_view CodeName(Code code);
// The status the spec gives the code (BLOB_UNKNOWN 404, UNAUTHORIZED 401, ...).
int DefaultStatus(Code code);
// The spec's message for the code ("blob unknown to registry").
std::string_view DefaultMessage(Code code);

class ApiError : public Error {
 public:
  // `message` empty: the spec's message. `status` 0: the code's default status.
  ApiError(Code code, std::string message = {}, nlohmann::json detail = nullptr, int status = 0);

  Code code() const { return code_; }
  int status() const { return status_; }
  const nlohmann::json& detail() const { return detail_; }
  // {"errors":[{"code":...,"message":...,"detail":...}]}
  nlohmann::json Body() const;

 private:
  Code code_;
  int status_;
  nlohmann::json detail_;
};

// Any exception as the registry answers it: ApiErrors as they are, berth::Errors by kind
// (a missing file is not the client's fault: UNKNOWN 500 unless the kind says otherwise),
// anything else UNKNOWN 500.
ApiError ToApiError(const std::exception& e);

}  // namespace berth::registry

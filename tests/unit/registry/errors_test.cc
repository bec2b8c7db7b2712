#include "registry/errors.h"

#include <gtest/gtest.h>

namespace berth::registry {
namespace {

TEST(RegistryErrors, CodesAndStatuses) {
  struct Row {
    Code code;
    const char* name;
    int status;
  };
  for (const Row& r : std::initializer_list<Row>{
           {Code::kBlobUnknown, "BLOB_UNKNOWN", 404},
           {Code::kBlobUploadInvalid, "BLOB_UPLOAD_INVALID", 400},
           {Code::kBlobUploadUnknown, "BLOB_UPLOAD_UNKNOWN", 404},
           {Code::kDigestInvalid, "DIGEST_INVALID", 400},
           {Code::kManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN", 400},
           {Code::kManifestInvalid, "MANIFEST_INVALID", 400},
           {Code::kManifestUnknown, "MANIFEST_UNKNOWN", 404},
           {Code::kNameInvalid, "NAME_INVALID", 400},
           {Code::kNameUnknown, "NAME_UNKNOWN", 404},
           {Code::kSizeInvalid, "SIZE_INVALID", 400},
           {Code::kUnauthorized, "UNAUTHORIZED", 401},
           {Code::kDenied, "DENIED", 403},
           {Code::kUnsupported, "UNSUPPORTED", 405},
           {Code::kTooManyRequests, "TOOMANYREQUESTS", 429},
           {Code::kUnknown, "UNKNOWN", 500},
       }) {
    EXPECT_EQ(CodeName(r.code), r.name);
    EXPECT_EQ(DefaultStatus(r.code), r.status) << r.name;
    EXPECT_FALSE(DefaultMessage(r.code).empty());
  }
}

TEST(RegistryErrors, Body) {
  ApiError e(Code::kBlobUnknown, "", nlohmann::json{{"digest", "sha256:x"}});
  nlohmann::json body = e.Body();
  ASSERT_EQ(body["errors"].size(), 1u);
  EXPECT_EQ(body["errors"][0]["code"], "BLOB_UNKNOWN");
  EXPECT_EQ(body["errors"][0]["message"], "blob unknown to registry");
  EXPECT_EQ(body["errors"][0]["detail"]["digest"], "sha256:x");
  EXPECT_FALSE(ApiError(Code::kDenied).Body()["errors"][0].contains("detail"));
  EXPECT_EQ(ApiError(Code::kBlobUploadInvalid, "x", nullptr, 416).status(), 416);
}

TEST(RegistryErrors, OtherFailuresMapInOnePlace) {
  EXPECT_EQ(ToApiError(ApiError(Code::kNameInvalid)).code(), Code::kNameInvalid);
  // A disk failure is the server's, whatever errno says: never a client-side 4xx.
  ApiError disk = ToApiError(SysError("open /x", EACCES));
  EXPECT_EQ(disk.code(), Code::kUnknown);
  EXPECT_EQ(disk.status(), 500);
  EXPECT_EQ(ToApiError(SysError("open /x", ENOENT)).status(), 500);
  EXPECT_EQ(ToApiError(Error(Kind::kUnavailable, "upstream down")).status(), 503);
  EXPECT_EQ(ToApiError(std::runtime_error("bug")).code(), Code::kUnknown);
}

}  // namespace
}  // namespace berth::registry

#include "base/error.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace berth {
namespace {

TEST(SysErrorTest, MessageIsWhatThenLowerCasedStrerror) {
  Error e = SysError("open /etc/berth.conf", ENOENT);
  EXPECT_STREQ(e.what(), "open /etc/berth.conf: no such file or directory");
  EXPECT_EQ(e.err(), ENOENT);
}

TEST(SysErrorTest, OnlyTheFirstLetterOfStrerrorIsLowered) {
  // "what" keeps its case; strerror's first letter is lowered and the rest untouched.
  Error e = SysError("Mount /Proc", EPERM);
  EXPECT_STREQ(e.what(), "Mount /Proc: operation not permitted");
}

TEST(SysErrorTest, EmptyWhat) {
  Error e = SysError("", EACCES);
  EXPECT_STREQ(e.what(), ": permission denied");
}

TEST(SysErrorTest, NoUpperCaseLetterAtTheStartOfTheErrnoText) {
  for (int err : {ENOENT, EEXIST, EPERM, EACCES, EINVAL, ENOTDIR, ELOOP, EBUSY, ENOSYS, ENOSPC, EIO,
                  EAGAIN}) {
    Error e = SysError("op", err);
    std::string text = e.what();
    ASSERT_GT(text.size(), 4u) << err;
    EXPECT_EQ(text.substr(0, 4), "op: ") << err;
    EXPECT_FALSE(text[4] >= 'A' && text[4] <= 'Z') << text;
    EXPECT_NE(text.back(), '.') << text;
  }
}

struct KindCase {
  int err;
  Kind kind;
};

class SysErrorKindTest : public testing::TestWithParam<KindCase> {};

TEST_P(SysErrorKindTest, KindFollowsErrno) {
  Error e = SysError("op", GetParam().err);
  EXPECT_EQ(e.kind(), GetParam().kind)
      << "errno " << GetParam().err << " gave " << KindName(e.kind());
  EXPECT_EQ(e.err(), GetParam().err);
}

INSTANTIATE_TEST_SUITE_P(
    Errnos, SysErrorKindTest,
    testing::Values(
        KindCase{ENOENT, Kind::kNotFound}, KindCase{ESRCH, Kind::kNotFound},
        KindCase{EEXIST, Kind::kAlreadyExists}, KindCase{EPERM, Kind::kPermissionDenied},
        KindCase{EACCES, Kind::kPermissionDenied}, KindCase{EROFS, Kind::kPermissionDenied},
        KindCase{EINVAL, Kind::kInvalidArgument}, KindCase{ENOTDIR, Kind::kInvalidArgument},
        KindCase{ELOOP, Kind::kInvalidArgument}, KindCase{EBUSY, Kind::kConflict},
        KindCase{ENOSYS, Kind::kNotImplemented}, KindCase{EOPNOTSUPP, Kind::kNotImplemented},
        KindCase{EAGAIN, Kind::kUnavailable}, KindCase{ENOSPC, Kind::kUnavailable},
        KindCase{EIO, Kind::kInternal}));

TEST(ErrorTest, WithContextPrependsAndKeepsKindAndErrno) {
  Error inner = SysError("mount proc on /rootfs/proc", EPERM);
  Error outer = inner.WithContext("create container c1");
  EXPECT_STREQ(outer.what(),
               "create container c1: mount proc on /rootfs/proc: operation not permitted");
  EXPECT_EQ(outer.kind(), Kind::kPermissionDenied);
  EXPECT_EQ(outer.err(), EPERM);
  // The original is unchanged.
  EXPECT_STREQ(inner.what(), "mount proc on /rootfs/proc: operation not permitted");
}

TEST(ErrorTest, WithContextChainsOutermostFirst) {
  Error e = Error(Kind::kDataLoss, "checksum mismatch")
                .WithContext("apply layer sha256:abc")
                .WithContext("pull alpine");
  EXPECT_STREQ(e.what(), "pull alpine: apply layer sha256:abc: checksum mismatch");
  EXPECT_EQ(e.kind(), Kind::kDataLoss);
  EXPECT_EQ(e.err(), 0);
}

TEST(ErrorTest, ThrowHelpersSetTheKind) {
  try {
    ThrowInvalid("process.user.uid: must not be negative");
    FAIL() << "ThrowInvalid returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
    EXPECT_STREQ(e.what(), "process.user.uid: must not be negative");
    EXPECT_EQ(e.err(), 0);
  }
  try {
    ThrowNotFound("container c1");
    FAIL() << "ThrowNotFound returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kNotFound);
  }
  try {
    ThrowConflict("container c1 is running");
    FAIL() << "ThrowConflict returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kConflict);
  }
}

TEST(ErrorTest, ThrowErrnoUsesErrno) {
  errno = EEXIST;
  try {
    ThrowErrno("mkdir /run/berth");
    FAIL() << "ThrowErrno returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kAlreadyExists);
    EXPECT_EQ(e.err(), EEXIST);
    EXPECT_STREQ(e.what(), "mkdir /run/berth: file exists");
  }
}

TEST(ErrorTest, IsAStdException) {
  try {
    ThrowInvalid("bad");
  } catch (const std::exception& e) {
    EXPECT_STREQ(e.what(), "bad");
    return;
  }
  FAIL() << "not caught as std::exception";
}

TEST(ErrorTest, KindNamesAreLowerCase) {
  for (Kind k : {Kind::kNotFound, Kind::kAlreadyExists, Kind::kInvalidArgument, Kind::kConflict,
                 Kind::kPermissionDenied, Kind::kUnavailable, Kind::kNotImplemented,
                 Kind::kDataLoss, Kind::kInternal}) {
    std::string name(KindName(k));
    EXPECT_FALSE(name.empty());
    for (char c : name) {
      EXPECT_FALSE(c >= 'A' && c <= 'Z') << name;
    }
  }
  EXPECT_EQ(KindName(Kind::kNotFound), "not found");
}

}  // namespace
}  // namespace berth

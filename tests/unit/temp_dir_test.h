#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "base/file_util.h"

namespace berth::testing {

// A test with a private directory under /tmp (`dir_`), removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-unit.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) {
      RemoveAll(dir_);
    }
  }
  std::string dir_;
};

}  // namespace berth::testing

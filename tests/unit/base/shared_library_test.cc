#include "base/shared_library.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "base/error.h"

namespace berth {
namespace {

bool Mapped(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find(name) != std::string::npos) return true;
  }
  return false;
}

TEST(SharedLibraryTest, BindsAFunctionAndUnmapsOnClose) {
  // libnftables is a dependency of Berth that nothing in this binary links.
  ASSERT_FALSE(Mapped("libnftables.so"));
  {
    SharedLibrary lib("libnftables.so.1");
    void* (*ctx_new)(unsigned) = nullptr;
    void (*ctx_free)(void*) = nullptr;
    lib.Bind("nft_ctx_new", ctx_new);
    lib.Bind("nft_ctx_free", ctx_free);
    void* ctx = ctx_new(0);
    ASSERT_NE(ctx, nullptr);
    ctx_free(ctx);
    EXPECT_TRUE(Mapped("libnftables.so"));
  }
  EXPECT_FALSE(Mapped("libnftables.so"));
}

TEST(SharedLibraryTest, MissingLibraryIsNamed) {
  try {
    SharedLibrary lib("libberth-no-such-library.so.9");
    FAIL() << "loaded a library that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kUnavailable);
    EXPECT_NE(std::string(e.what()).find("cannot load libberth-no-such-library.so.9"),
              std::string::npos)
        << e.what();
  }
}

TEST(SharedLibraryTest, MissingSymbolIsNamed) {
  SharedLibrary lib("libnftables.so.1");
  int (*fn)() = nullptr;
  try {
    lib.Bind("berth_no_such_symbol", fn);
    FAIL() << "bound a symbol that does not exist";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("libnftables.so.1 has no berth_no_such_symbol"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(fn, nullptr);
}

}  // namespace
}  // namespace berth

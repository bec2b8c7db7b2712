#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "cli/cli.h"

namespace berth::cli {
namespace {

std::string_view Invoked(std::vector<const char*> args) {
  args.insert(args.begin(), "berth");
  return InvokedCommand(static_cast<int>(args.size()), const_cast<char**>(args.data()));
}

TEST(InvokedCommand, SkipsGlobalOptionsAndTheirValues) {
  EXPECT_EQ(Invoked({"run", "--rm", "busybox"}), "run");
  EXPECT_EQ(Invoked({"-H", "unix:///x.sock", "ps", "-a"}), "ps");
  EXPECT_EQ(Invoked({"--host", "unix:///x.sock", "--no-autostart", "image", "ls"}), "image");
  EXPECT_EQ(Invoked({"--host=unix:///x.sock", "version"}), "version");
  EXPECT_EQ(Invoked({"-Hunix:///x.sock", "info"}), "info");
}

TEST(InvokedCommand, NoneForHelpOrNothing) {
  EXPECT_EQ(Invoked({}), "");
  EXPECT_EQ(Invoked({"--help"}), "");
  EXPECT_EQ(Invoked({"-h", "run"}), "");
  EXPECT_EQ(Invoked({"-H"}), "");
}

// Each group claims exactly the top-level commands it registers, and no two groups claim
// one: a command missing from its group's list would still work (every group is registered
// then) but lose the fast path.
TEST(CommandGroups, ClaimExactlyWhatTheyRegister) {
  std::set<std::string> seen;
  for (const CommandGroup& group : CommandGroups()) {
    Context ctx;
    CLI::App app;
    group.add(app, ctx);
    std::set<std::string> registered;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      registered.insert(sub->get_name());
      for (const std::string& alias : sub->get_aliases()) registered.insert(alias);
    }
    std::set<std::string> claimed(group.commands.begin(), group.commands.end());
    EXPECT_EQ(registered, claimed);
    for (const std::string& name : claimed) {
      EXPECT_TRUE(seen.insert(name).second) << name << " is claimed twice";
    }
  }
}

bool Has(CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == name) return true;
  }
  return false;
}

TEST(CommandGroups, OnlyTheInvokedGroupIsBuilt) {
  Context ctx;
  CLI::App app;
  std::vector<const char*> args = {"berth", "-H", "unix:///x.sock", "version"};
  AddCommands(app, ctx, static_cast<int>(args.size()), const_cast<char**>(args.data()));
  EXPECT_TRUE(Has(app, "version"));
  EXPECT_FALSE(Has(app, "run"));

  CLI::App all;
  std::vector<const char*> help = {"berth", "--help"};
  AddCommands(all, ctx, static_cast<int>(help.size()), const_cast<char**>(help.data()));
  EXPECT_TRUE(Has(all, "version"));
  EXPECT_TRUE(Has(all, "run"));
  EXPECT_TRUE(Has(all, "images"));
}

}  // namespace
}  // namespace berth::cli

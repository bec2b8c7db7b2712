// `docker ps --filter`: expected behaviour and texts from moby daemon/list.go.

#include "engine/container_filters.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace berth::engine {
namespace {

using nlohmann::json;

Container Make(const std::string& id, const std::string& name, const std::string& created) {
  Container c;
  c.id = id + std::string(64 - id.size(), '0');
  c.name = name;
  c.image = "busybox";
  c.image_id = "sha256:b0b0" + std::string(60, '1');
  c.created = created;
  c.path = "sh";
  c.config = {{"Image", "busybox"}, {"Labels", {{"tier", "web"}, {"env", "prod"}}}};
  c.host_config = {{"NetworkMode", "none"}};
  return c;
}

std::string ErrorOf(const Filters& f) {
  try {
    ValidateContainerFilters(f);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
    return e.what();
  }
  return "";
}

bool Match(const Container& c, const Filters& f, const FilterContext& ctx = {}) {
  return MatchesFilters(c, f, ctx);
}

TEST(ContainerFilters, Validation) {
  EXPECT_EQ(ErrorOf({{"status", {"running"}}, {"label", {"a"}}}), "");
  EXPECT_EQ(ErrorOf({{"foo", {"bar"}}}), "invalid filter 'foo'");
  EXPECT_EQ(ErrorOf({{"status", {"foo"}}}),
            "invalid filter 'status=foo': invalid value for state (foo): must be one of "
            "created, running, paused, restarting, removing, exited, dead");
  EXPECT_EQ(ErrorOf({{"exited", {"x"}}}),
            "invalid filter 'exited=x': strconv.Atoi: parsing \"x\": invalid syntax");
  EXPECT_EQ(ErrorOf({{"health", {"ok"}}}),
            "invalid filter 'health=ok': invalid value for health (ok): must be one of none, "
            "starting, healthy, unhealthy");
  EXPECT_EQ(ErrorOf({{"is-task", {"maybe"}}}), "invalid filter 'is-task=[maybe]'");
  EXPECT_EQ(ErrorOf({{"is-task", {"true", "false"}}}), "invalid filter 'is-task=[true false]'");
  EXPECT_EQ(ErrorOf({{"publish", {"80:80"}}}),
            "filter for 'publish' should not contain ':': 80:80");
  EXPECT_EQ(ErrorOf({{"expose", {"http"}}}),
            "error while looking up for expose http: strconv.ParseUint: parsing \"http\": "
            "invalid syntax");
}

TEST(ContainerFilters, IdNameLabel) {
  const Container c = Make("abc123", "/web-1", "2026-11-28T16:40:54Z");
  EXPECT_TRUE(Match(c, {}));
  EXPECT_TRUE(Match(c, {{"id", {"abc"}}}));
  EXPECT_FALSE(Match(c, {{"id", {"bc1"}}})) << "an ID filter is a prefix";
  EXPECT_TRUE(Match(c, {{"id", {"zzz", "abc1"}}})) << "values of one name are alternatives";
  EXPECT_TRUE(Match(c, {{"name", {"web"}}})) << "names match as regular expressions";
  EXPECT_TRUE(Match(c, {{"name", {"^web-[0-9]$"}}})) << "without the slash";
  EXPECT_TRUE(Match(c, {{"name", {"^/web"}}})) << "and with it";
  EXPECT_FALSE(Match(c, {{"name", {"db"}}}));
  EXPECT_FALSE(Match(c, {{"name", {"web("}}})) << "a bad expression matches nothing";
  EXPECT_TRUE(Match(c, {{"label", {"tier", "env=prod"}}}));
  EXPECT_FALSE(Match(c, {{"label", {"tier", "env=dev"}}})) << "every label filter must hold";
  EXPECT_FALSE(Match(c, {{"label", {"owner"}}}));
  EXPECT_TRUE(Match(c, {{"label", {"env!=dev"}}}));
  EXPECT_FALSE(Match(c, {{"label", {"env!=prod"}}}));
  EXPECT_FALSE(Match(c, {{"id", {"abc"}}, {"name", {"db"}}})) << "names are and-ed";
  EXPECT_TRUE(Match(c, {{"is-task", {"false"}}}));
  EXPECT_FALSE(Match(c, {{"is-task", {"true"}}}));
  EXPECT_TRUE(Match(c, {{"isolation", {"default"}}}));
}

TEST(ContainerFilters, StatusExitedHealth) {
  Container c = Make("abc", "/web", "2026-11-28T16:40:54Z");
  EXPECT_TRUE(Match(c, {{"status", {"created"}}}));
  EXPECT_FALSE(Match(c, {{"exited", {"0"}}})) << "never ran: no exit code to match";
  c.state.status = ContainerStatus::kExited;
  c.state.started_at = "2026-11-28T16:40:55Z";
  c.state.finished_at = "2026-11-28T16:40:56Z";
  c.state.exit_code = 3;
  EXPECT_TRUE(Match(c, {{"status", {"running", "exited"}}}));
  EXPECT_TRUE(Match(c, {{"exited", {"3"}}}));
  EXPECT_FALSE(Match(c, {{"exited", {"0"}}}));
  EXPECT_TRUE(Match(c, {{"health", {"none"}}}));
  c.state.status = ContainerStatus::kRunning;
  EXPECT_FALSE(Match(c, {{"exited", {"3"}}}));
  c.config["Healthcheck"] = {{"Test", {"CMD", "true"}}};
  EXPECT_TRUE(Match(c, {{"health", {"starting"}}}));
  c.state.health.status = "unhealthy";
  EXPECT_TRUE(Match(c, {{"health", {"unhealthy"}}}));
  EXPECT_FALSE(Match(c, {{"health", {"healthy", "none"}}}));
  EXPECT_TRUE(ContainerFilter(Filters{{"status", {"running"}}}).ImpliesAll());
}

TEST(ContainerFilters, BeforeSince) {
  const Container old = Make("a01", "/old", "2026-11-28T16:40:54.25Z");
  const Container mid = Make("b02", "/mid", "2026-11-28T16:40:54.5Z");
  const Container neu = Make("c03", "/new", "2026-11-28T16:40:55Z");
  FilterContext ctx;
  ctx.find_container = [&](const std::string& ref) -> const Container* {
    for (const Container* c : {&old, &mid, &neu}) {
      if (c->id.rfind(ref, 0) == 0 || c->name == "/" + ref) {
        return c;
      }
    }
    return nullptr;
  };
  const ContainerFilter before(Filters{{"before", {"mid"}}}, ctx);
  EXPECT_TRUE(before.Matches(old));
  EXPECT_FALSE(before.Matches(mid));
  EXPECT_FALSE(before.Matches(neu));
  const ContainerFilter since(Filters{{"since", {"b02"}}}, ctx);
  EXPECT_FALSE(since.Matches(old));
  EXPECT_FALSE(since.Matches(mid));
  EXPECT_TRUE(since.Matches(neu));
  try {
    ContainerFilter(Filters{{"since", {"ghost"}}}, ctx);
    FAIL() << "no error for an unknown container";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kNotFound);
    EXPECT_STREQ(e.what(), "no such container ghost");
  }
}

TEST(ContainerFilters, AncestorVolumeNetworkPorts) {
  Container c = Make("abc", "/web", "2026-11-28T16:40:54Z");
  EXPECT_TRUE(Match(c, {{"ancestor", {"busybox"}}}));
  EXPECT_TRUE(Match(c, {{"ancestor", {"busybox:latest"}}}));
  EXPECT_TRUE(Match(c, {{"ancestor", {"docker.io/library/busybox"}}}));
  EXPECT_TRUE(Match(c, {{"ancestor", {"b0b0111"}}})) << "a short image ID";
  EXPECT_TRUE(Match(c, {{"ancestor", {c.image_id}}}));
  EXPECT_FALSE(Match(c, {{"ancestor", {"busybox:1.36"}}}));
  EXPECT_FALSE(Match(c, {{"ancestor", {"alpine"}}}));
  FilterContext ctx;
  ctx.image_matches = [](const std::string& ref, const std::string&) { return ref == "base"; };
  EXPECT_TRUE(Match(c, {{"ancestor", {"base"}}}, ctx)) << "the service knows the parents";
  EXPECT_FALSE(Match(c, {{"ancestor", {"busybox"}}}, ctx));

  c.host_config["Binds"] = {"/srv/www:/usr/share/www:ro"};
  EXPECT_TRUE(Match(c, {{"volume", {"/usr/share/www"}}}));
  EXPECT_TRUE(Match(c, {{"volume", {"/srv/www"}}}));
  EXPECT_FALSE(Match(c, {{"volume", {"/srv"}}}));

  EXPECT_TRUE(Match(c, {{"network", {"none"}}}));
  EXPECT_FALSE(Match(c, {{"network", {"host"}}}));
  c.host_config["NetworkMode"] = "default";
  EXPECT_TRUE(Match(c, {{"network", {"bridge"}}}));
  ctx = {};
  ctx.network_id = [](const std::string& name) { return name == "bridge" ? "f00d1234" : ""; };
  EXPECT_TRUE(Match(c, {{"network", {"f00d"}}}, ctx));

  c.config["ExposedPorts"] = {{"80/tcp", json::object()}};
  c.host_config["PortBindings"] = {{"53/udp", {{{"HostIp", ""}, {"HostPort", "5353"}}}}};
  EXPECT_TRUE(Match(c, {{"expose", {"80"}}}));
  EXPECT_TRUE(Match(c, {{"expose", {"70-90/tcp"}}}));
  EXPECT_FALSE(Match(c, {{"expose", {"80/udp"}}}));
  EXPECT_TRUE(Match(c, {{"expose", {"53/udp"}}}));
  EXPECT_TRUE(Match(c, {{"publish", {"5353/udp"}}}));
  EXPECT_FALSE(Match(c, {{"publish", {"5353"}}})) << "tcp by default";
  EXPECT_FALSE(Match(c, {{"publish", {"80"}}}));
}

}  // namespace
}  // namespace berth::engine

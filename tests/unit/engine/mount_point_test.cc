// -v and --mount specs, volumes-from, image VOLUMEs, volume names and the local driver's
// options: what create accepts, what it refuses and with which words; and the OCI mounts a
// resolved container gets.

#include "engine/mount_point.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <string>

#include "base/error.h"
#include "engine/container_spec.h"

namespace berth::engine {
namespace {

using nlohmann::json;

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(MountPoint, VolumeNames) {
  EXPECT_TRUE(IsValidVolumeName("data"));
  EXPECT_TRUE(IsValidVolumeName("my_vol-1.2"));
  EXPECT_TRUE(IsValidVolumeName("a1"));
  EXPECT_FALSE(IsValidVolumeName("a")) << "Docker's pattern needs two characters";
  EXPECT_FALSE(IsValidVolumeName(""));
  EXPECT_FALSE(IsValidVolumeName("a/b"));
  EXPECT_FALSE(IsValidVolumeName(".."));
  EXPECT_FALSE(IsValidVolumeName("..."));
  EXPECT_FALSE(IsValidVolumeName(".hidden"));
  EXPECT_FALSE(IsValidVolumeName("-x"));
  EXPECT_FALSE(IsValidVolumeName("a b"));
  EXPECT_NE(InvalidVolumeNameText("a/b").find("only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed"),
            std::string::npos);
}

TEST(MountPoint, BindShortSyntax) {
  MountPoint m = ParseBind("/srv/www/:/usr/share/www:ro,z");
  EXPECT_EQ(m.type, "bind");
  EXPECT_EQ(m.source, "/srv/www");
  EXPECT_EQ(m.destination, "/usr/share/www");
  EXPECT_FALSE(m.rw);
  EXPECT_EQ(m.mode, "ro,z");
  EXPECT_EQ(m.propagation, "rprivate");
  EXPECT_TRUE(m.create_source) << "-v makes a missing host directory";

  m = ParseBind("/a:/b:rw,rshared,Z");
  EXPECT_TRUE(m.rw);
  EXPECT_EQ(m.propagation, "rshared");

  m = ParseBind("data:/var/lib/data");
  EXPECT_EQ(m.type, "volume");
  EXPECT_EQ(m.name, "data");
  EXPECT_EQ(m.driver, "local");
  EXPECT_TRUE(m.copy_data);
  EXPECT_FALSE(m.anonymous);
  EXPECT_EQ(m.propagation, "");

  m = ParseBind("data:/d:ro,nocopy");
  EXPECT_FALSE(m.copy_data);
  EXPECT_FALSE(m.rw);

  m = ParseBind("/anon/");
  EXPECT_EQ(m.type, "volume");
  EXPECT_EQ(m.name, "");
  EXPECT_EQ(m.destination, "/anon");
  EXPECT_TRUE(m.anonymous);
  EXPECT_TRUE(m.copy_data);
}

TEST(MountPoint, BindShortSyntaxErrors) {
  auto err = [](const std::string& raw) { return ErrorOf([&] { ParseBind(raw); }); };
  EXPECT_NE(err("/a:/b:c:d").find("too many colons"), std::string::npos);
  EXPECT_NE(err("/a:relative").find("absolute"), std::string::npos);
  EXPECT_NE(err("/a:/").find("can't be '/'"), std::string::npos);
  EXPECT_NE(err("relative").find("absolute"), std::string::npos);
  EXPECT_NE(err("/a:/b:ro,rw").find("invalid mode: ro,rw"), std::string::npos);
  EXPECT_NE(err("/a:/b:shared,slave").find("invalid mode"), std::string::npos);
  EXPECT_NE(err("/a:/b:bogus").find("invalid mode"), std::string::npos);
  EXPECT_NE(err("/a:/b:nocopy").find("invalid mode"), std::string::npos) << "binds never copy";
  EXPECT_NE(err("a/b:/data").find("invalid characters for a local volume name"), std::string::npos);
  EXPECT_NE(err("..:/data").find("invalid characters"), std::string::npos);
  EXPECT_NE(err(":/data").find("empty source"), std::string::npos);
  EXPECT_EQ(err("/a:/b").rfind("", 0), 0u);
  EXPECT_EQ(err("/a:/b"), "");
}

TEST(MountPoint, MountLongSyntax) {
  MountPoint m = ParseMount({{"Type", "bind"},
                             {"Source", "/srv//x/"},
                             {"Target", "/x"},
                             {"ReadOnly", true},
                             {"BindOptions", {{"Propagation", "rslave"}, {"NonRecursive", true}}}});
  EXPECT_EQ(m.source, "/srv/x");
  EXPECT_FALSE(m.rw);
  EXPECT_EQ(m.propagation, "rslave");
  EXPECT_TRUE(m.non_recursive);
  EXPECT_FALSE(m.create_source) << "--mount bind never makes its source";
  EXPECT_EQ(m.mode, "");

  m = ParseMount({{"Type", "volume"},
                  {"Source", "cache"},
                  {"Target", "/cache"},
                  {"VolumeOptions",
                   {{"NoCopy", true},
                    {"Labels", {{"team", "a"}}},
                    {"DriverConfig",
                     {{"Name", "local"},
                      {"Options", {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}}}}}}}});
  EXPECT_EQ(m.type, "volume");
  EXPECT_EQ(m.name, "cache");
  EXPECT_FALSE(m.copy_data);
  EXPECT_EQ(m.volume_labels, json({{"team", "a"}}));
  EXPECT_EQ(m.volume_options["type"], "tmpfs");

  m = ParseMount({{"Type", "volume"}, {"Target", "/anon"}});
  EXPECT_TRUE(m.anonymous);
  EXPECT_TRUE(m.copy_data);

  m = ParseMount({{"Type", "tmpfs"},
                  {"Target", "/t"},
                  {"TmpfsOptions", {{"SizeBytes", 1048576}, {"Mode", 01770}}}});
  EXPECT_EQ(m.tmpfs_options, "size=1048576,mode=1770");
  EXPECT_EQ(m.source, "");
}

TEST(MountPoint, MountLongSyntaxErrors) {
  auto err = [](const json& spec) { return ErrorOf([&] { ParseMount(spec); }); };
  EXPECT_NE(err({{"Type", "npipe"}, {"Target", "/x"}}).find("mount type unknown"),
            std::string::npos);
  EXPECT_NE(err({{"Type", "bind"}, {"Target", "/x"}}).find("field Source must not be empty"),
            std::string::npos);
  EXPECT_NE(err({{"Type", "bind"}, {"Source", "rel"}, {"Target", "/x"}}).find("absolute"),
            std::string::npos);
  EXPECT_NE(err({{"Type", "bind"}, {"Source", "/a"}}).find("field Target must not be empty"),
            std::string::npos);
  EXPECT_NE(err({{"Type", "volume"}, {"Source", "v1"}, {"Target", "x"}}).find("must be absolute"),
            std::string::npos);
  EXPECT_NE(
      err({{"Type", "volume"}, {"Source", "a/b"}, {"Target", "/x"}}).find("invalid characters"),
      std::string::npos);
  EXPECT_NE(
      err({{"Type", "volume"}, {"Target", "/x"}, {"BindOptions", {{"Propagation", "rshared"}}}})
          .find("BindOptions must not be specified"),
      std::string::npos);
  EXPECT_NE(err({{"Type", "tmpfs"}, {"Source", "x"}, {"Target", "/x"}})
                .find("Source must not be specified"),
            std::string::npos);
  EXPECT_NE(err({{"Type", "bind"},
                 {"Source", "/a"},
                 {"Target", "/x"},
                 {"BindOptions", {{"Propagation", "sideways"}}}})
                .find("invalid propagation mode"),
            std::string::npos);
  EXPECT_NE(err({{"Type", "volume"},
                 {"Target", "/x"},
                 {"VolumeOptions", {{"DriverConfig", {{"Options", {{"bogus", "1"}}}}}}}})
                .find("invalid option key: \"bogus\""),
            std::string::npos);
  try {
    ParseMount({{"Type", "volume"},
                {"Target", "/x"},
                {"VolumeOptions", {{"DriverConfig", {{"Name", "rexray"}}}}}});
    ADD_FAILURE() << "a volume plugin is not found";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Kind::kNotFound);
  }
}

TEST(MountPoint, VolumesFrom) {
  VolumesFrom v = ParseVolumesFrom("web");
  EXPECT_EQ(v.container, "web");
  EXPECT_FALSE(v.rw.has_value());
  v = ParseVolumesFrom("web:ro");
  EXPECT_EQ(v.rw, false);
  v = ParseVolumesFrom("web:rw");
  EXPECT_EQ(v.rw, true);
  EXPECT_NE(ErrorOf([] { ParseVolumesFrom("web:rx"); }).find("invalid mode"), std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseVolumesFrom(":ro"); }).find("malformed"), std::string::npos);
}

TEST(MountPoint, RequestsOfABody) {
  json hc = {{"Binds", {"/h:/a", "v1:/b"}},
             {"Mounts", {{{"Type", "tmpfs"}, {"Target", "/c"}}}},
             {"Tmpfs", {{"/run", ""}}},
             {"VolumesFrom", {"other:ro"}}};
  json volumes = {{"/a", json::object()},  // covered by a bind: no anonymous volume
                  {"/run", json::object()},
                  {"/var/lib/db/", json::object()},
                  {"relative", json::object()}};
  MountRequests r = ParseMountRequests(hc, volumes);
  ASSERT_EQ(r.mounts.size(), 3u);
  EXPECT_EQ(r.mounts[0].destination, "/a");
  EXPECT_EQ(r.mounts[2].type, "tmpfs");
  ASSERT_EQ(r.volumes_from.size(), 1u);
  ASSERT_EQ(r.image_volumes.size(), 1u);
  EXPECT_EQ(r.image_volumes[0].destination, "/var/lib/db");
  EXPECT_TRUE(r.image_volumes[0].anonymous);
  EXPECT_TRUE(r.image_volumes[0].copy_data);

  EXPECT_NE(ErrorOf([] {
              ParseMountRequests(
                  {{"Binds", {"/a:/x"}}, {"Mounts", {{{"Type", "tmpfs"}, {"Target", "/x/"}}}}},
                  json());
            }).find("Duplicate mount point: /x"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] {
              ParseMountRequests({{"Binds", "/a:/x"}}, json());
            }).find("expected an array"),
            std::string::npos);
}

TEST(MountPoint, LocalDriverOptions) {
  EXPECT_NO_THROW(ValidateLocalVolumeOptions(json()));
  EXPECT_NO_THROW(ValidateLocalVolumeOptions(json::object()));
  EXPECT_NO_THROW(ValidateLocalVolumeOptions(
      {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=100m,uid=1000"}}));
  EXPECT_NO_THROW(
      ValidateLocalVolumeOptions({{"type", "none"}, {"device", "/srv/x"}, {"o", "bind"}}));
  auto err = [](const json& o) { return ErrorOf([&] { ValidateLocalVolumeOptions(o); }); };
  EXPECT_EQ(err({{"size", "1g"}}), "invalid option key: \"size\"");
  EXPECT_EQ(err({{"type", "tmpfs"}}), "missing required option: \"device\"");
  EXPECT_EQ(err({{"o", "bind"}, {"device", "/x"}}), "missing required option: \"type\"");
  EXPECT_NE(err({{"type", "none"}, {"device", "rel"}, {"o", "bind"}}).find("absolute host path"),
            std::string::npos);
  EXPECT_NE(err({{"type", 3}}).find("expected a string"), std::string::npos);
}

TEST(MountPoint, MountFlags) {
  MountFlags f = ParseMountFlags("size=100m,uid=1000,ro,noexec,nosuid");
  EXPECT_EQ(f.flags, static_cast<unsigned long>(MS_RDONLY | MS_NOEXEC | MS_NOSUID));
  EXPECT_EQ(f.data, "size=100m,uid=1000");
  f = ParseMountFlags("rbind,ro,rw");
  EXPECT_EQ(f.flags, static_cast<unsigned long>(MS_BIND | MS_REC)) << "the later flag wins";
  EXPECT_EQ(f.data, "");
  f = ParseMountFlags("addr=10.0.0.1,nfsvers=4");
  EXPECT_EQ(f.flags, 0u);
  EXPECT_EQ(f.data, "addr=10.0.0.1,nfsvers=4");
}

TEST(MountPoint, RecordRoundTripAndInspectShape) {
  MountPoint m = ParseBind("data:/d:ro");
  m.source = "/var/lib/berth/volumes/data/_data";
  EXPECT_EQ(MountPointFromJson(ToJson(m)), m);
  EXPECT_EQ(InspectMountJson(m).dump(),
            R"({"Destination":"/d","Driver":"local","Mode":"ro","Name":"data","Propagation":"",)"
            R"("RW":false,"Source":"/var/lib/berth/volumes/data/_data","Type":"volume"})");
  MountPoint b = ParseBind("/srv:/srv");
  EXPECT_FALSE(InspectMountJson(b).contains("Name")) << "binds have no Name or Driver";
  EXPECT_THROW(MountPointFromJson(json{{"Type", "bind"}}), Error);
}

// What BuildContainerSpec makes of resolved mounts: id-mapped binds under the default user
// namespace, plain ones with --userns=host, tmpfs with Docker's defaults.
TEST(MountPoint, ResolvedMountsInTheSpec) {
  std::vector<MountPoint> resolved = {ParseBind("data:/data:ro"), ParseBind("/srv:/srv:rshared"),
                                      ParseMount({{"Type", "tmpfs"}, {"Target", "/scratch"}})};
  resolved[0].source = "/var/lib/berth/volumes/data/_data";
  json body = {{"Image", "busybox"},
               {"Cmd", {"true"}},
               {"HostConfig", {{"Binds", {"data:/data:ro", "/srv:/srv:rshared"}}}}};
  ContainerSpecInput in{body, json::object(), std::string(64, 'a'), "/c", "/rootfs", "aaaa"};
  in.mounts = &resolved;
  json spec = BuildContainerSpec(in).spec;
  auto find = [&spec](const std::string& d) -> json {
    for (const json& m : spec["mounts"]) {
      if (m["destination"] == d) return m;
    }
    return json();
  };
  EXPECT_EQ(find("/data"), json({{"destination", "/data"},
                                 {"type", "bind"},
                                 {"source", "/var/lib/berth/volumes/data/_data"},
                                 {"options", {"rbind", "ro", "rprivate", "idmap"}}}));
  EXPECT_EQ(find("/srv")["options"], json({"rbind", "rw", "rshared", "idmap"}));
  EXPECT_EQ(find("/scratch")["type"], "tmpfs");
  EXPECT_EQ(find("/scratch")["options"], json({"noexec", "nosuid", "nodev", "rprivate"}));

  body["HostConfig"]["UsernsMode"] = "host";
  ContainerSpecInput host{body, json::object(), std::string(64, 'a'), "/c", "/rootfs", "aaaa"};
  host.mounts = &resolved;
  json plain = BuildContainerSpec(host).spec;
  for (const json& m : plain["mounts"]) {
    if (m["destination"] == "/data") {
      EXPECT_EQ(m["options"], json({"rbind", "ro", "rprivate"})) << "no user namespace to map to";
    }
  }
}

}  // namespace
}  // namespace berth::engine

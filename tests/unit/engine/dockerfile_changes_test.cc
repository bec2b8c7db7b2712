// `import --change`: Dockerfile instructions applied to an image's container config.

#include "engine/dockerfile_changes.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace berth::engine {
namespace {

using nlohmann::json;

TEST(DockerfileChanges, ExecAndShellForms) {
  json c = ApplyChanges(json::object(), {R"(CMD ["nginx", "-g", "daemon off;"])"});
  EXPECT_EQ(c["Cmd"], json({"nginx", "-g", "daemon off;"}));
  c = ApplyChanges(c, {"ENTRYPOINT /docker-entrypoint.sh --verbose"});
  EXPECT_EQ(c["Entrypoint"], json({"/bin/sh", "-c", "/docker-entrypoint.sh --verbose"}));
  EXPECT_TRUE(c["Cmd"].is_null()) << "a new entrypoint drops the command, as in a Dockerfile";
  // Not a JSON array of strings: the shell form, as Docker does.
  c = ApplyChanges(c, {"CMD [not json"});
  EXPECT_EQ(c["Cmd"], json({"/bin/sh", "-c", "[not json"}));
}

TEST(DockerfileChanges, EnvLabelExposeVolumeWorkdirUser) {
  json c = ApplyChanges(
      json{{"Env", {"PATH=/bin", "A=old"}}},
      {"ENV A=new B=\"two words\" C=three\\ words", "env D four words", "LABEL a=1 \"b c\"=2",
       "EXPOSE 80 53/udp 443/TCP", "VOLUME [\"/data\", \"/logs\"]", "VOLUME /cache", "WORKDIR /srv",
       "WORKDIR app", "USER nobody:nogroup", "STOPSIGNAL SIGQUIT", "ONBUILD RUN make"});
  EXPECT_EQ(c["Env"], json({"PATH=/bin", "A=new", "B=two words", "C=three words", "D=four words"}));
  EXPECT_EQ(c["Labels"], json({{"a", "1"}, {"b c", "2"}}));
  EXPECT_EQ(
      c["ExposedPorts"],
      json({{"80/tcp", json::object()}, {"53/udp", json::object()}, {"443/tcp", json::object()}}));
  EXPECT_EQ(
      c["Volumes"],
      json({{"/data", json::object()}, {"/logs", json::object()}, {"/cache", json::object()}}));
  EXPECT_EQ(c["WorkingDir"], "/srv/app");
  EXPECT_EQ(c["User"], "nobody:nogroup");
  EXPECT_EQ(c["StopSignal"], "SIGQUIT");
  EXPECT_EQ(c["OnBuild"], json({"RUN make"}));
}

TEST(DockerfileChanges, SubstitutesFromTheConfigsEnv) {
  json c = ApplyChanges(json{{"Env", {"HOME=/root", "PORT=8080"}}},
                        {"WORKDIR $HOME/app", "EXPOSE ${PORT}", "ENV PATH=$HOME/bin X='$HOME'",
                         "LABEL home=\"$HOME\"", "CMD echo $HOME"});
  EXPECT_EQ(c["WorkingDir"], "/root/app");
  EXPECT_TRUE(c["ExposedPorts"].contains("8080/tcp"));
  EXPECT_EQ(c["Env"], json({"HOME=/root", "PORT=8080", "PATH=/root/bin", "X=$HOME"}));
  EXPECT_EQ(c["Labels"]["home"], "/root");
  EXPECT_EQ(c["Cmd"], json({"/bin/sh", "-c", "echo $HOME"})) << "the shell expands CMD";
}

TEST(DockerfileChanges, BadInstructionsNameWhatIsWrong) {
  auto error = [](const std::string& change) {
    try {
      ApplyChanges(json::object(), {change});
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), Kind::kInvalidArgument);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(error("RUN rm -rf /"), "RUN is not a valid change command");
  EXPECT_EQ(error("FROM scratch"), "FROM is not a valid change command");
  EXPECT_NE(error("EXPOSE 99999").find("invalid port"), std::string::npos);
  EXPECT_NE(error("EXPOSE 80/icmp").find("invalid port"), std::string::npos);
  EXPECT_NE(error("ENV").find("requires at least one argument"), std::string::npos);
  EXPECT_NE(error("ENV A=\"unterminated").find("unterminated double quote"), std::string::npos);
  EXPECT_EQ(error("LABEL =x"), "LABEL: LABEL names can not be blank");
  EXPECT_NE(error("ENV ONLYKEY").find("has no value"), std::string::npos);
  EXPECT_EQ(error("FOO x"), "FOO is not a valid change command");
  EXPECT_EQ(error("USER ${U:?must be set}"), "USER: U: must be set");
}

}  // namespace
}  // namespace berth::engine

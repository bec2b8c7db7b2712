#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "engine/container_service.h"
#include "engine/image_service.h"
#include "image/archive.h"

// The builder's executor, as Docker's classic builder works: each RUN runs in a container on
// the previous step's image and its changes become the next image (a layer from the overlay
// upper dir); COPY and ADD unpack their files into a created container the same way; the other
// instructions change the image config only (an empty_layer history entry). Every step's image
// is recorded in the build cache under its cache key (src/build/cache_key.h), so a rebuild
// reuses each step whose parent, instruction, build args and copied files are unchanged.
// docs/build.md has the details and what is not done yet.

namespace berth::engine {

// The label on the volumes RUN --mount=type=cache uses (its value: the cache id).
inline constexpr const char* kBuildCacheLabel = "berth.build-cache";

struct BuildOptions {
  std::string dockerfile = "Dockerfile";  // path inside the context
  std::vector<std::string> tags;          // -t, each "name[:tag]"
  std::string target;                     // --target ("" = the last stage)
  std::map<std::string, std::string> build_args;
  std::map<std::string, std::string> labels;  // --label: added to the final image
  bool no_cache = false;
  bool quiet = false;  // only the final ID is streamed
  bool pull = false;   // --pull: fetch base images even when present
  // rm: remove a RUN's container after its step succeeded (a failed step's always goes, so
  // forcerm changes nothing here).
  bool remove = true;
  std::string network = "default";  // RUN's network: default, none, host, or a network name
  std::string platform;             // "" or this host's platform
  // X-Registry-Config: credentials per registry (normalized host[:port]) for pulling bases.
  std::map<std::string, registry::AuthConfig> registry_auths;
};

// A failing build step: what() is Docker's message; `code` the RUN's exit status (0 when
// the step failed otherwise), which the API puts in errorDetail and the CLI exits with.
class BuildError : public Error {
 public:
  BuildError(std::string message, int code)
      : Error(Kind::kInvalidArgument, std::move(message)), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

class Builder {
 public:
  // `work_root`: where contexts are unpacked while a build runs (<root>/build).
  Builder(ImageService& images, ContainerService& containers, std::string work_root);

  // Builds the context tar read from `read` (plain, gzip or zstd). `message` receives Docker's
  // classic stream ({"stream": "Step 1/4 : FROM busybox\n"}, {"aux": {"ID": ...}}); returns
  // the image ID. A bad Dockerfile throws before anything is streamed (build::SyntaxError);
  // a failing step throws BuildError. Step containers and the unpacked context are removed
  // whatever happens.
  std::string Build(const image::ReadFn& read, const BuildOptions& options,
                    const MessageFn& message);

  // Removes what is left of builds a crash interrupted (daemon start).
  void CleanUp();

 private:
  ImageService& images_;
  ContainerService& containers_;
  std::string work_root_;
};

}  // namespace berth::engine

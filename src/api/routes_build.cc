// POST /build (the classic builder's protocol, engine-api.md §2.13) and POST /build/prune.

#include <string>

#include "api/routes.h"
#include "base/error.h"
#include "build/dockerfile.h"
#include "engine/builder.h"
#include "registry/auth_config.h"

namespace berth::api {
namespace {

using nlohmann::json;

constexpr const char* kNoBuildKit =
    "BuildKit is not supported by this engine: unset DOCKER_BUILDKIT (or set it to 0) to use the "
    "classic builder";

// A JSON object of strings in a query parameter (buildargs, labels); null values are
// dropped, as Docker does for a --build-arg given without a value and not in the environment.
std::map<std::string, std::string> StringMap(const Request& req, const char* name) {
  std::map<std::string, std::string> out;
  std::optional<std::string> text = req.Query(name);
  if (!text || text->empty()) return out;
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object()) ThrowInvalid(std::string(name) + ": not a JSON object: " + *text);
  for (const auto& [k, v] : j.items()) {
    if (v.is_string()) {
      out[k] = v.get<std::string>();
    } else if (!v.is_null()) {
      ThrowInvalid(std::string(name) + ": the value of \"" + k + "\" is not a string");
    }
  }
  return out;
}

}  // namespace

void AddBuildRoutes(Router& router, engine::Builder& builder, engine::ImageService& images,
                    engine::VolumeService& volumes) {
  router.Add("POST", "/build", [&builder](Request& req, Response& res) {
    if (req.Query("version").value_or("1") == "2") {
      ThrowInvalid(kNoBuildKit);
    }
    if (!req.Query("remote").value_or("").empty()) {
      ThrowInvalid(
          "building from a remote context (git or URL) is not supported: send the "
          "context as the request body");
    }
    engine::BuildOptions o;
    o.tags = req.QueryAll("t");
    o.dockerfile = req.Query("dockerfile").value_or("");
    if (o.dockerfile.empty()) o.dockerfile = "Dockerfile";
    o.target = req.Query("target").value_or("");
    o.build_args = StringMap(req, "buildargs");
    o.labels = StringMap(req, "labels");
    o.no_cache = Flag(req, "nocache");
    o.quiet = Flag(req, "q");
    o.pull = Flag(req, "pull");
    o.remove = !req.Query("rm") || Flag(req, "rm");
    o.network = req.Query("networkmode").value_or("default");
    o.platform = req.Query("platform").value_or("");
    o.registry_auths = registry::DecodeRegistryConfig(req.Header("X-Registry-Config"));
    auto send = [&res](const json& m) {
      if (!res.streaming()) res.BeginStream(200, "application/json");
      res.Write(m.dump() + "\r\n");
    };
    try {
      std::string id = builder.Build(
          [&req](void* buf, size_t size) { return req.ReadBody(buf, size); }, o, send);
      if (o.quiet) send({{"stream", id + "\n"}});
    } catch (const engine::BuildError& e) {
      send({{"errorDetail", {{"code", e.code()}, {"message", e.what()}}}, {"error", e.what()}});
    }
    res.EndStream();
  });

  // BuildKit's session (DOCKER_BUILDKIT=1 on a 20.10 CLI): refused with the same words.
  router.Add("POST", "/session", [](Request&, Response&) { ThrowInvalid(kNoBuildKit); });

  // builder prune: the step images; with all=1 also every cache key and the RUN --mount
  // cache volumes no container uses.
  router.Add("POST", "/build/prune", [&images, &volumes](Request& req, Response& res) {
    bool all = Flag(req, "all");
    json out = images.PruneBuildCache(all);
    if (all) {
      json v = volumes.Prune({{"label", {engine::kBuildCacheLabel}}, {"all", {"true"}}});
      if (v["VolumesDeleted"].is_array()) {
        if (!out["CachesDeleted"].is_array()) out["CachesDeleted"] = json::array();
        for (const json& name : v["VolumesDeleted"]) out["CachesDeleted"].push_back(name);
      }
      out["SpaceReclaimed"] =
          out["SpaceReclaimed"].get<uint64_t>() + v.value("SpaceReclaimed", uint64_t{0});
    }
    res.Json(200, out);
  });
}

}  // namespace berth::api

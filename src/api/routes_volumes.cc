// /volumes/...: create, list, inspect, remove, prune (engine-api.md; moby's swagger Volume).

#include "api/routes.h"
#include "base/error.h"

namespace berth::api {

void AddVolumeRoutes(Router& router, engine::VolumeService& volumes) {
  router.Add("GET", "/volumes", [&volumes](Request& req, Response& res) {
    res.Json(200, volumes.List(FiltersOf(req)));
  });

  router.Add("POST", "/volumes/create", [&volumes](Request& req, Response& res) {
    nlohmann::json body = req.ReadJson();
    res.Json(201, volumes.Create(body.is_null() ? nlohmann::json::object() : body));
  });

  router.Add("POST", "/volumes/prune", [&volumes](Request& req, Response& res) {
    res.Json(200, volumes.Prune(FiltersOf(req)));
  });

  router.Add("GET", "/volumes/{name}", [&volumes](Request& req, Response& res) {
    res.Json(200, volumes.Inspect(req.Param("name")));
  });

  router.Add("DELETE", "/volumes/{name}", [&volumes](Request& req, Response& res) {
    volumes.Remove(req.Param("name"), Flag(req, "force"));
    res.Empty(204);
  });
}

}  // namespace berth::api

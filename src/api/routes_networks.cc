// /networks/...: list, inspect, create, remove, connect, disconnect and prune in Docker's
// shapes (types.NetworkResource, NetworkCreateResponse, NetworkConnect).

#include <string>

#include "api/routes.h"
#include "base/error.h"

namespace berth::api {
namespace {

using nlohmann::json;

json BodyObject(Request& req) {
  json body = req.ReadJson();
  if (body.is_null()) return json::object();
  if (!body.is_object()) ThrowInvalid("the request body must be a JSON object");
  return body;
}

std::string ContainerOf(const json& body) {
  auto it = body.find("Container");
  if (it == body.end() || !it->is_string() || it->get<std::string>().empty()) {
    ThrowInvalid("a container name or ID is required");
  }
  return it->get<std::string>();
}

}  // namespace

void AddNetworkRoutes(Router& router, engine::NetworkService& networks,
                      engine::ContainerService& containers) {
  router.Add("GET", "/networks", [&networks](Request& req, Response& res) {
    res.Json(200, networks.List(FiltersOf(req)));
  });

  router.Add("POST", "/networks/create", [&networks](Request& req, Response& res) {
    res.Json(201, networks.Create(BodyObject(req)));
  });

  router.Add("POST", "/networks/prune", [&networks](Request& req, Response& res) {
    res.Json(200, networks.Prune(FiltersOf(req)));
  });

  router.Add("GET", "/networks/{id}", [&networks](Request& req, Response& res) {
    res.Json(200, networks.Inspect(req.Param("id"), Flag(req, "verbose")));
  });

  router.Add("DELETE", "/networks/{id}", [&networks](Request& req, Response& res) {
    networks.Remove(req.Param("id"));
    res.Empty(204);
  });

  router.Add("POST", "/networks/{id}/connect", [&containers](Request& req, Response& res) {
    json body = BodyObject(req);
    json settings = body.value("EndpointConfig", json::object());
    if (!settings.is_object()) settings = json::object();
    engine::EndpointRequest r;
    if (settings.contains("Aliases") && settings["Aliases"].is_array()) {
      for (const auto& a : settings["Aliases"]) {
        if (a.is_string()) r.aliases.push_back(a.get<std::string>());
      }
    }
    json ipam = settings.value("IPAMConfig", json::object());
    if (ipam.is_object()) {
      r.ipv4 = ipam.value("IPv4Address", "");
      r.ipv6 = ipam.value("IPv6Address", "");
    }
    containers.ConnectNetwork(ContainerOf(body), req.Param("id"), r);
    res.Empty(200);
  });

  router.Add("POST", "/networks/{id}/disconnect", [&containers](Request& req, Response& res) {
    json body = BodyObject(req);
    containers.DisconnectNetwork(ContainerOf(body), req.Param("id"), body.value("Force", false));
    res.Empty(200);
  });
}

}  // namespace berth::api

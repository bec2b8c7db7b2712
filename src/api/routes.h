#pragma once

#include <string>

#include "api/server.h"
#include "engine/builder.h"
#include "engine/container_service.h"
#include "engine/image_service.h"
#include "engine/volume_service.h"

// The Engine API routes berthd serves, registered on a Router. Handlers parse the request,
// call the engine and write Docker's answer; they hold no state of their own.

namespace berth::api {

struct DaemonInfo {
  std::string root;   // --root
  std::string state;  // --state
  std::string name;   // the host's name
};

// Query helpers the route files share: `filters` decoded (both shapes; none = no filter), and
// a boolean parameter by Docker's rule (absent = false).
inline engine::Filters FiltersOf(const Request& req) {
  std::optional<std::string> text = req.Query("filters");
  return text && !text->empty() ? ParseFilters(*text) : engine::Filters{};
}

inline bool Flag(const Request& req, const char* name) {
  std::optional<std::string> v = req.Query(name);
  return v && ParseBool(*v);
}

void AddSystemRoutes(Router& router, engine::ImageService& images,
                     engine::ContainerService& containers, engine::VolumeService& volumes,
                     const DaemonInfo& info);
void AddImageRoutes(Router& router, engine::ImageService& images);
void AddContainerRoutes(Router& router, engine::ContainerService& containers);
void AddEventRoutes(Router& router, engine::EventBus& events);
void AddVolumeRoutes(Router& router, engine::VolumeService& volumes);
void AddArchiveRoutes(Router& router, engine::ContainerService& containers);
void AddBuildRoutes(Router& router, engine::Builder& builder, engine::ImageService& images,
                    engine::VolumeService& volumes);
void AddNetworkRoutes(Router& router, engine::NetworkService& networks,
                      engine::ContainerService& containers);

}  // namespace berth::api

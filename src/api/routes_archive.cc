// /containers/{id}/archive: HEAD (stat), GET (a tar of a path) and PUT (a tar unpacked into a
// directory) — what `docker cp` speaks. The path's stat travels base64-encoded JSON in the
// X-Docker-Container-Path-Stat header (moby's swagger ContainerPathStat).

#include <string>

#include "api/routes.h"
#include "base/error.h"

namespace berth::api {
namespace {

constexpr size_t kBuffer = 256 << 10;

std::string Base64(std::string_view in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

void SetStatHeader(Response& res, const engine::PathStat& st) {
  nlohmann::json j = {{"name", st.name},
                      {"size", st.size},
                      {"mode", st.mode},
                      {"mtime", st.mtime},
                      {"linkTarget", st.link_target}};
  res.SetHeader("X-Docker-Container-Path-Stat", Base64(j.dump()));
}

std::string PathQuery(const Request& req) {
  std::optional<std::string> path = req.Query("path");
  if (!path || path->empty()) ThrowInvalid("path: no path given");
  return *path;
}

}  // namespace

void AddArchiveRoutes(Router& router, engine::ContainerService& containers) {
  router.Add("HEAD", "/containers/{id}/archive", [&containers](Request& req, Response& res) {
    SetStatHeader(res, containers.StatPath(req.Param("id"), PathQuery(req)));
    res.Empty(200);
  });

  router.Add("GET", "/containers/{id}/archive", [&containers](Request& req, Response& res) {
    std::string buffer;
    auto flush = [&] {
      res.Write(buffer);
      buffer.clear();
      if (res.client_gone()) throw Error(Kind::kUnavailable, "archive: the client went away");
    };
    containers.ArchivePath(
        req.Param("id"), PathQuery(req),
        [&res](const engine::PathStat& st) {
          SetStatHeader(res, st);
          res.BeginStream(200, "application/x-tar");
        },
        [&](const void* data, size_t size) {
          buffer.append(static_cast<const char*>(data), size);
          if (buffer.size() >= kBuffer) flush();
        });
    if (!buffer.empty()) flush();
    res.EndStream();
  });

  router.Add("PUT", "/containers/{id}/archive", [&containers](Request& req, Response& res) {
    containers.ExtractToPath(
        req.Param("id"), PathQuery(req),
        [&req](void* buf, size_t size) { return req.ReadBody(buf, size); },
        Flag(req, "noOverwriteDirNonDir"), Flag(req, "copyUIDGID"));
    res.Empty(200);
  });
}

}  // namespace berth::api

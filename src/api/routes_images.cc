// /images/...: list, inspect, history, tag, remove, prune, load, save, import.

#include <algorithm>
#include <string>
#include <vector>

#include "api/routes.h"
#include "base/error.h"

namespace berth::api {
namespace {

using nlohmann::json;

constexpr size_t kSaveBuffer = 256 << 10;

std::string Text(const Request& req, const char* name) { return req.Query(name).value_or(""); }

image::ReadFn BodyReader(Request& req) {
  return [&req](void* buf, size_t size) { return req.ReadBody(buf, size); };
}

// A JSON message stream as Docker writes it: one object per chunk, each ending in "\r\n".
void Message(Response& res, const json& message) { res.Write(message.dump() + "\r\n"); }

void Save(Request& req, Response& res, engine::ImageService& images,
          const std::vector<std::string>& names) {
  // Berth's own parameter: format=oci for a plain OCI layout (docker save's form otherwise).
  image::ArchiveFormat format = req.Query("format").value_or("") == "oci"
                                    ? image::ArchiveFormat::kOci
                                    : image::ArchiveFormat::kDocker;
  if (names.empty()) {
    ThrowInvalid("no image names given to save");
  }
  // Every name must resolve before the 200 goes out: a missing image is a 404, not a
  // truncated tar.
  for (const std::string& name : names) {
    images.Resolve(name);
  }
  res.BeginStream(200, "application/x-tar");
  std::string buffer;
  auto flush = [&] {
    res.Write(buffer);
    buffer.clear();
    if (res.client_gone()) {
      throw Error(Kind::kUnavailable, "save: the client went away");
    }
  };
  images.Save(names, format, [&](const void* data, size_t size) {
    buffer.append(static_cast<const char*>(data), size);
    if (buffer.size() >= kSaveBuffer) {
      flush();
    }
  });
  if (!buffer.empty()) {
    flush();
  }
  res.EndStream();
}

// The credentials the docker CLI sends along (X-Registry-Auth, base64url JSON).
registry::AuthConfig AuthOf(const Request& req) {
  return registry::DecodeRegistryAuth(req.Header("X-Registry-Auth"));
}

// A pull streams from its first message on: failures before it (a missing tag, refused
// credentials) are plain error answers, later ones travel in the stream.
void Pull(Request& req, Response& res, engine::ImageService& images, const std::string& from) {
  engine::PullOptions options;
  options.from_image = from;
  options.tag = Text(req, "tag");
  options.platform = Text(req, "platform");
  options.auth = AuthOf(req);
  images.Pull(options, [&res](const json& m) {
    if (!res.streaming()) {
      res.BeginStream(200, "application/json");
    }
    Message(res, m);
  });
  if (!res.streaming()) {
    res.BeginStream(200, "application/json");
  }
  res.EndStream();
}

}  // namespace

void AddImageRoutes(Router& router, engine::ImageService& images) {
  router.Add("GET", "/images/json", [&images](Request& req, Response& res) {
    res.Json(200, images.List(Flag(req, "all"), FiltersOf(req)));
  });

  router.Add("POST", "/images/prune", [&images](Request& req, Response& res) {
    res.Json(200, images.Prune(FiltersOf(req)));
  });

  router.Add("POST", "/images/load", [&images](Request& req, Response& res) {
    bool quiet = Flag(req, "quiet");
    res.BeginStream(200, "application/json");
    images.Load(BodyReader(req), quiet, [&res](const json& m) { Message(res, m); });
    res.EndStream();
  });

  router.Add("GET", "/images/get", [&images](Request& req, Response& res) {
    Save(req, res, images, req.QueryAll("names"));
  });

  router.Add("POST", "/images/create", [&images](Request& req, Response& res) {
    std::optional<std::string> src = req.Query("fromSrc");
    if (!src) {
      if (std::optional<std::string> from = req.Query("fromImage")) {
        Pull(req, res, images, *from);
        return;
      }
      ThrowInvalid("image create: one of fromSrc or fromImage is needed");
    }
    if (*src != "-") {
      ThrowInvalid("import from a URL is not supported: send the tarball as the body (fromSrc=-)");
    }
    engine::ImportOptions options;
    options.repo = Text(req, "repo");
    options.tag = Text(req, "tag");
    options.message = Text(req, "message");
    options.changes = req.QueryAll("changes");
    res.BeginStream(200, "application/json");
    std::string id = images.Import(BodyReader(req), options);
    Message(res, {{"status", id}});
    res.EndStream();
  });

  router.Add("GET", "/images/{name*}/json", [&images](Request& req, Response& res) {
    res.Json(200, images.Inspect(req.Param("name")));
  });

  router.Add("GET", "/images/{name*}/history", [&images](Request& req, Response& res) {
    res.Json(200, images.History(req.Param("name")));
  });

  router.Add("GET", "/images/{name*}/get", [&images](Request& req, Response& res) {
    Save(req, res, images, {req.Param("name")});
  });

  router.Add("POST", "/images/{name*}/push", [&images](Request& req, Response& res) {
    registry::AuthConfig auth = AuthOf(req);
    auto send = [&res](const json& m) {
      if (!res.streaming()) {
        res.BeginStream(200, "application/json");
      }
      Message(res, m);
    };
    images.Push(req.Param("name"), Text(req, "tag"), auth, send);
    res.EndStream();
  });

  router.Add("POST", "/auth", [&images](Request& req, Response& res) {
    json body = req.ReadJson(1 << 20);
    if (!body.is_object()) {
      ThrowInvalid("auth: the body must be a JSON object");
    }
    registry::AuthConfig auth;
    auth.username = body.value("username", "");
    auth.password = body.value("password", "");
    auth.server_address = body.value("serveraddress", "");
    auth.identity_token = body.value("identitytoken", "");
    auth.registry_token = body.value("registrytoken", "");
    res.Json(200, images.Login(auth));
  });

  router.Add("POST", "/images/{name*}/tag", [&images](Request& req, Response& res) {
    std::string repo = Text(req, "repo");
    if (repo.empty()) {
      ThrowInvalid("repository name must have at least one component");
    }
    images.Tag(req.Param("name"), repo, Text(req, "tag"));
    res.Empty(201);
  });

  router.Add("DELETE", "/images/{name*}", [&images](Request& req, Response& res) {
    res.Json(200, images.Remove(req.Param("name"), Flag(req, "force"), Flag(req, "noprune")));
  });
}

}  // namespace berth::api

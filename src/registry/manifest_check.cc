#include "registry/manifest_check.h"

#include "image/manifest.h"
#include "registry/errors.h"
#include "registry/names.h"

namespace berth::registry {

namespace media = berth::image::media;

namespace {

[[noreturn]] void Invalid(const std::string& why) {
  throw ApiError(Code::kManifestInvalid, "manifest invalid: " + why,
                 nlohmann::json{{"reason", why}});
}

std::string_view BaseType(std::string_view content_type) {
  size_t semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && t.back() == ' ') {
    t.remove_suffix(1);
  }
  return t;
}

RefDescriptor ParseDescriptor(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) {
    Invalid(where + ": not an object");
  }
  RefDescriptor d;
  auto mt = j.find("mediaType");
  if (mt == j.end() || !mt->is_string()) {
    Invalid(where + ".mediaType: missing");
  }
  d.media_type = mt->get<std::string>();
  auto dg = j.find("digest");
  if (dg == j.end() || !dg->is_string()) {
    Invalid(where + ".digest: missing");
  }
  d.digest = dg->get<std::string>();
  if (!ValidDigest(d.digest)) {
    if (!LooksLikeDigest(d.digest)) {
      Invalid(where + ".digest: invalid digest \"" + d.digest + "\"");
    }
    // Another algorithm: well-formed, but nothing this registry stores can match it.
    Invalid(where + ".digest: unsupported digest algorithm in \"" + d.digest + "\"");
  }
  auto sz = j.find("size");
  if (sz == j.end() || !sz->is_number_integer() || sz->get<int64_t>() < 0) {
    Invalid(where + ".size: missing or negative");
  }
  d.size = sz->get<int64_t>();
  auto urls = j.find("urls");
  d.external = urls != j.end() && urls->is_array() && !urls->empty();
  return d;
}

}  // namespace

bool IsManifestMediaType(std::string_view t) {
  return t == media::kOciManifest || t == media::kOciIndex || t == media::kDockerManifest ||
         t == media::kDockerManifestList;
}

bool IsIndexMediaType(std::string_view t) {
  return t == media::kOciIndex || t == media::kDockerManifestList;
}

ManifestInfo CheckManifest(std::string_view bytes, std::string_view content_type) {
  if (bytes.size() > kMaxManifestSize) {
    throw ApiError(Code::kSizeInvalid, "manifest is larger than 4 MiB", nullptr, 413);
  }
  nlohmann::json doc = nlohmann::json::parse(bytes, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    Invalid("not a JSON object");
  }
  auto sv = doc.find("schemaVersion");
  if (sv == doc.end() || !sv->is_number_integer()) {
    Invalid("schemaVersion: missing");
  }
  if (sv->get<int64_t>() == 1) {
    Invalid("schema 1 manifests are not supported");
  }
  if (sv->get<int64_t>() != 2) {
    Invalid("schemaVersion: must be 2");
  }
  std::string field_type;
  if (auto mt = doc.find("mediaType"); mt != doc.end()) {
    if (!mt->is_string()) {
      Invalid("mediaType: not a string");
    }
    field_type = mt->get<std::string>();
  }
  std::string header_type(BaseType(content_type));
  ManifestInfo info;
  if (IsManifestMediaType(header_type)) {
    if (!field_type.empty() && field_type != header_type) {
      Invalid("mediaType \"" + field_type + "\" does not match the Content-Type \"" + header_type +
              "\"");
    }
    info.media_type = header_type;
  } else if (IsManifestMediaType(field_type)) {
    info.media_type = field_type;
  } else if (!field_type.empty()) {
    Invalid("unsupported mediaType \"" + field_type + "\"");
  } else {
    info.media_type =
        std::string(doc.contains("manifests") ? media::kOciIndex : media::kOciManifest);
  }
  info.is_index = IsIndexMediaType(info.media_type);
  if (info.is_index) {
    auto m = doc.find("manifests");
    if (m == doc.end() || !m->is_array()) {
      Invalid("manifests: missing");
    }
    for (size_t i = 0; i < m->size(); ++i) {
      info.manifests.push_back(ParseDescriptor((*m)[i], "manifests[" + std::to_string(i) + "]"));
    }
  } else {
    auto cfg = doc.find("config");
    if (cfg == doc.end()) {
      Invalid("config: missing");
    }
    info.blobs.push_back(ParseDescriptor(*cfg, "config"));
    auto layers = doc.find("layers");
    if (layers != doc.end()) {
      if (!layers->is_array()) {
        Invalid("layers: not an array");
      }
      for (size_t i = 0; i < layers->size(); ++i) {
        info.blobs.push_back(ParseDescriptor((*layers)[i], "layers[" + std::to_string(i) + "]"));
      }
    } else if (info.media_type == media::kDockerManifest) {
      Invalid("layers: missing");
    }
  }
  if (auto s = doc.find("subject"); s != doc.end() && !s->is_null()) {
    info.subject = ParseDescriptor(*s, "subject");
  }
  if (auto at = doc.find("artifactType"); at != doc.end()) {
    if (!at->is_string()) {
      Invalid("artifactType: not a string");
    }
    info.artifact_type = at->get<std::string>();
  } else if (!info.is_index && !info.blobs.empty()) {
    info.artifact_type = info.blobs.front().media_type;
  }
  if (auto a = doc.find("annotations"); a != doc.end() && a->is_object()) {
    info.annotations = *a;
  }
  return info;
}

nlohmann::json ReferrerDescriptor(const ManifestInfo& info, std::string_view digest,
                                  uint64_t size) {
  nlohmann::json d = {
      {"mediaType", info.media_type}, {"digest", std::string(digest)}, {"size", size}};
  if (!info.artifact_type.empty()) {
    d["artifactType"] = info.artifact_type;
  }
  if (info.annotations.is_object() && !info.annotations.empty()) {
    d["annotations"] = info.annotations;
  }
  return d;
}

}  // namespace berth::registry

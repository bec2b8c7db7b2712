#include "image_archive_builder.h"

#include <cstring>
#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "base/digest.h"
#include "image/manifest.h"

namespace berth::testing {
namespace {

using nlohmann::ordered_json;

std::string Hex(const std::string& digest) { return digest.substr(7); }

std::string Compress(const std::string& tar, Filter filter) {
  if (filter == Filter::kNone) {
    return tar;
  }
  return CompressBytes(tar, filter);
}

void Fill(TestImage& image) {
  image.layer_blobs.clear();
  for (const std::string& layer : image.layers) {
    image.layer_blobs.push_back(Compress(layer, image.compression));
  }
  image.config = MakeConfig(image);
  image.config_digest = Sha256Digest(image.config);
}

std::string LayerMediaType(Filter f) {
  switch (f) {
    case Filter::kGzip:
      return std::string(image::media::kOciLayerGzip);
    case Filter::kZstd:
      return std::string(image::media::kOciLayerZstd);
    case Filter::kNone:
      break;
  }
  return std::string(image::media::kOciLayer);
}

}  // namespace

std::string MakeConfig(const TestImage& image) {
  ordered_json config;
  config["architecture"] = image::HostPlatform().architecture;
  config["os"] = "linux";
  config["created"] = image.created;
  config["config"] = {{"Cmd", {"sh"}}, {"Labels", ordered_json::parse(image.labels_json)}};
  std::vector<std::string> diff_ids = image.diff_ids;
  if (diff_ids.empty()) {
    for (const std::string& layer : image.layers) {
      diff_ids.push_back(Sha256Digest(layer));
    }
  }
  config["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
  config["history"] = ordered_json::array();
  for (size_t i = 0; i < image.layers.size(); ++i) {
    config["history"].push_back(
        {{"created", image.created}, {"created_by", "layer " + std::to_string(i)}});
  }
  config["history"].push_back(
      {{"created", image.created}, {"created_by", "CMD [\"sh\"]"}, {"empty_layer", true}});
  return config.dump();
}

std::string OneFileLayer(const std::string& path, const std::string& data) {
  return MakeTar({{.path = path, .data = data}}, Filter::kNone);
}

std::function<size_t(void*, size_t)> ReaderOf(const std::string& bytes) {
  auto pos = std::make_shared<size_t>(0);
  return [&bytes, pos](void* buf, size_t size) {
    size_t n = std::min(size, bytes.size() - *pos);
    memcpy(buf, bytes.data() + *pos, n);
    *pos += n;
    return n;
  };
}

std::string ClassicArchive(std::vector<TestImage>& images) {
  std::vector<E> entries;
  std::map<std::string, std::string> written;  // layer blob digest -> its path
  ordered_json manifest = ordered_json::array();
  ordered_json repositories = ordered_json::object();
  for (TestImage& image : images) {
    Fill(image);
    ordered_json entry;
    entry["Config"] = Hex(image.config_digest) + ".json";
    entry["RepoTags"] = image.names;
    entry["Layers"] = ordered_json::array();
    entries.push_back({.path = Hex(image.config_digest) + ".json", .data = image.config});
    std::string parent;
    for (const std::string& blob : image.layer_blobs) {
      std::string digest = Sha256Digest(blob);
      std::string v1 = Hex(Sha256Digest(parent + digest));
      parent = v1;
      std::string path = v1 + "/layer.tar";
      if (!written.count(digest)) {
        entries.push_back({.path = v1, .type = AE_IFDIR, .perm = 0755});
        entries.push_back({.path = v1 + "/VERSION", .data = "1.0"});
        entries.push_back({.path = v1 + "/json", .data = "{\"id\":\"" + v1 + "\"}"});
        entries.push_back({.path = path, .data = blob});
        written[digest] = path;
      } else if (written[digest] != path) {
        entries.push_back({.path = v1, .type = AE_IFDIR, .perm = 0755});
        entries.push_back({.path = path, .type = AE_IFLNK, .link = "../" + written[digest]});
      }
      entry["Layers"].push_back(path);
    }
    manifest.push_back(entry);
    for (const std::string& name : image.names) {
      size_t colon = name.rfind(':');
      repositories[name.substr(0, colon)][name.substr(colon + 1)] = parent;
    }
  }
  entries.push_back({.path = "manifest.json", .data = manifest.dump()});
  entries.push_back({.path = "repositories", .data = repositories.dump()});
  return MakeTar(entries, Filter::kNone);
}

std::string OciArchive(std::vector<TestImage>& images, bool docker_manifest, bool ref_name_only) {
  std::vector<E> entries;
  std::set<std::string> blobs;
  auto blob = [&](const std::string& bytes) {
    std::string digest = Sha256Digest(bytes);
    if (blobs.insert(digest).second) {
      entries.push_back({.path = "blobs/sha256/" + Hex(digest), .data = bytes});
    }
    return digest;
  };
  entries.push_back({.path = "blobs", .type = AE_IFDIR, .perm = 0755});
  entries.push_back({.path = "blobs/sha256", .type = AE_IFDIR, .perm = 0755});
  ordered_json index = {{"schemaVersion", 2},
                        {"mediaType", image::media::kOciIndex},
                        {"manifests", ordered_json::array()}};
  ordered_json docker = ordered_json::array();
  for (TestImage& image : images) {
    Fill(image);
    ordered_json m;
    m["schemaVersion"] = 2;
    m["mediaType"] = image::media::kOciManifest;
    m["config"] = {{"mediaType", image::media::kOciConfig},
                   {"digest", blob(image.config)},
                   {"size", image.config.size()}};
    m["layers"] = ordered_json::array();
    ordered_json docker_layers = ordered_json::array();
    for (const std::string& layer : image.layer_blobs) {
      std::string digest = blob(layer);
      m["layers"].push_back({{"mediaType", LayerMediaType(image.compression)},
                             {"digest", digest},
                             {"size", layer.size()}});
      docker_layers.push_back("blobs/sha256/" + Hex(digest));
    }
    std::string manifest = m.dump();
    ordered_json desc = {{"mediaType", image::media::kOciManifest},
                         {"digest", blob(manifest)},
                         {"size", manifest.size()}};
    if (image.names.empty()) {
      index["manifests"].push_back(desc);
    }
    for (const std::string& name : image.names) {
      ordered_json named = desc;
      std::string tag = name.substr(name.rfind(':') + 1);
      named["annotations"] = ref_name_only
                                 ? ordered_json{{"org.opencontainers.image.ref.name", tag}}
                                 : ordered_json{{"io.containerd.image.name", name},
                                                {"org.opencontainers.image.ref.name", tag}};
      index["manifests"].push_back(named);
    }
    docker.push_back({{"Config", "blobs/sha256/" + Hex(image.config_digest)},
                      {"RepoTags", image.names},
                      {"Layers", docker_layers}});
  }
  entries.push_back({.path = "index.json", .data = index.dump()});
  if (docker_manifest) {
    entries.push_back({.path = "manifest.json", .data = docker.dump()});
  }
  entries.push_back({.path = "oci-layout", .data = R"({"imageLayoutVersion":"1.0.0"})"});
  return MakeTar(entries, Filter::kNone);
}

}  // namespace berth::testing

#include "image/manifest.h"

#include <sys/utsname.h>

#include "base/error.h"
#include "image/reference.h"

namespace berth::image {
namespace {

using nlohmann::json;

[[noreturn]] void Fail(const std::string& where, const std::string& what) {
  ThrowInvalid(where + ": " + what);
}

const char* TypeName(const json& j) {
  return j.is_object()    ? "object"
         : j.is_array()   ? "array"
         : j.is_string()  ? "string"
         : j.is_number()  ? "number"
         : j.is_boolean() ? "boolean"
                          : "null";
}

json ParseJson(std::string_view bytes, const std::string& what) {
  if (bytes.size() > kMaxDocumentSize) {
    Fail(what, std::to_string(bytes.size()) + " bytes, more than the " +
                   std::to_string(kMaxDocumentSize) + " allowed");
  }
  json j = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    Fail(what, "malformed JSON");
  }
  if (!j.is_object()) {
    Fail(what, std::string("expected an object, got ") + TypeName(j));
  }
  return j;
}

// A JSON object with the path it was found at, for errors that name the field.
class Obj {
 public:
  Obj(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  std::string Field(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }
  bool Has(const std::string& key) const { return j_.contains(key) && !j_[key].is_null(); }

  std::string Str(const std::string& key, bool required = false) const {
    if (!Has(key)) {
      if (required) {
        Fail(Field(key), "is required");
      }
      return "";
    }
    if (!j_[key].is_string()) {
      Fail(Field(key), std::string("expected a string, got ") + TypeName(j_[key]));
    }
    return j_[key].get<std::string>();
  }

  int64_t Int(const std::string& key, bool required = false) const {
    if (!Has(key)) {
      if (required) {
        Fail(Field(key), "is required");
      }
      return 0;
    }
    if (!j_[key].is_number_integer()) {
      Fail(Field(key), std::string("expected an integer, got ") + TypeName(j_[key]));
    }
    return j_[key].get<int64_t>();
  }

  std::vector<std::string> Strings(const std::string& key) const {
    std::vector<std::string> out;
    if (!Has(key)) {
      return out;
    }
    if (!j_[key].is_array()) {
      Fail(Field(key), std::string("expected an array, got ") + TypeName(j_[key]));
    }
    for (size_t i = 0; i < j_[key].size(); ++i) {
      if (!j_[key][i].is_string()) {
        Fail(Field(key) + "[" + std::to_string(i) + "]", "expected a string");
      }
      out.push_back(j_[key][i].get<std::string>());
    }
    return out;
  }

  std::map<std::string, std::string> StringMap(const std::string& key) const {
    std::map<std::string, std::string> out;
    if (!Has(key)) {
      return out;
    }
    if (!j_[key].is_object()) {
      Fail(Field(key), std::string("expected an object, got ") + TypeName(j_[key]));
    }
    for (const auto& [k, v] : j_[key].items()) {
      if (!v.is_string()) {
        Fail(Field(key) + "." + k, "expected a string");
      }
      out[k] = v.get<std::string>();
    }
    return out;
  }

  // Calls fn(Obj) for each object of the array at `key`.
  template <typename Fn>
  void EachObject(const std::string& key, Fn fn) const {
    if (!Has(key)) {
      return;
    }
    if (!j_[key].is_array()) {
      Fail(Field(key), std::string("expected an array, got ") + TypeName(j_[key]));
    }
    for (size_t i = 0; i < j_[key].size(); ++i) {
      std::string p = Field(key) + "[" + std::to_string(i) + "]";
      if (!j_[key][i].is_object()) {
        Fail(p, std::string("expected an object, got ") + TypeName(j_[key][i]));
      }
      fn(Obj(j_[key][i], p));
    }
  }

  std::optional<Obj> Child(const std::string& key) const {
    if (!Has(key)) {
      return std::nullopt;
    }
    if (!j_[key].is_object()) {
      Fail(Field(key), std::string("expected an object, got ") + TypeName(j_[key]));
    }
    return Obj(j_[key], Field(key));
  }

  const std::string& path() const { return path_; }

 private:
  const json& j_;
  std::string path_;
};

Platform ParsePlatform(const Obj& o) {
  Platform p;
  p.os = o.Str("os", true);
  p.architecture = o.Str("architecture", true);
  p.variant = o.Str("variant");
  p.os_version = o.Str("os.version");
  p.os_features = o.Strings("os.features");
  return p;
}

Descriptor ParseDescriptor(const Obj& o) {
  Descriptor d;
  d.media_type = o.Str("mediaType", true);
  d.digest = o.Str("digest", true);
  if (!IsValidDigest(d.digest)) {
    Fail(o.Field("digest"), "invalid digest \"" + d.digest + "\"");
  }
  d.size = o.Int("size", true);
  if (d.size < 0) {
    Fail(o.Field("size"), "must not be negative");
  }
  d.urls = o.Strings("urls");
  d.annotations = o.StringMap("annotations");
  if (auto p = o.Child("platform")) {
    d.platform = ParsePlatform(*p);
  }
  d.artifact_type = o.Str("artifactType");
  return d;
}

bool IsManifestType(std::string_view t) {
  return t == media::kOciManifest || t == media::kDockerManifest;
}
bool IsIndexType(std::string_view t) {
  return t == media::kOciIndex || t == media::kDockerManifestList;
}

Manifest ParseManifestObj(const Obj& o, const std::string& media_type) {
  Manifest m;
  m.media_type = media_type;
  auto config = o.Child("config");
  if (!config) {
    Fail(o.Field("config"), "is required");
  }
  m.config = ParseDescriptor(*config);
  if (m.config.media_type != media::kOciConfig && m.config.media_type != media::kDockerConfig) {
    Fail(config->Field("mediaType"),
         "\"" + m.config.media_type + "\" is not a container image config (not an image)");
  }
  if (!o.Has("layers")) {
    Fail(o.Field("layers"), "is required");
  }
  o.EachObject("layers", [&](const Obj& l) {
    Descriptor d = ParseDescriptor(l);
    if (!LayerCompression(d.media_type)) {
      Fail(l.Field("mediaType"), "unknown layer media type \"" + d.media_type + "\"");
    }
    m.layers.push_back(std::move(d));
  });
  m.annotations = o.StringMap("annotations");
  if (auto s = o.Child("subject")) {
    m.subject = ParseDescriptor(*s);
  }
  return m;
}

Index ParseIndexObj(const Obj& o, const std::string& media_type) {
  Index x;
  x.media_type = media_type;
  if (!o.Has("manifests")) {
    Fail(o.Field("manifests"), "is required");
  }
  o.EachObject("manifests", [&](const Obj& e) { x.manifests.push_back(ParseDescriptor(e)); });
  x.annotations = o.StringMap("annotations");
  return x;
}

// The architecture's variant when an index entry names none.
std::string DefaultVariant(const std::string& arch) {
  if (arch == "arm64") return "v8";
  if (arch == "arm") return "v7";
  return "";
}

}  // namespace

std::string Platform::String() const {
  return os + "/" + architecture + (variant.empty() ? "" : "/" + variant);
}

std::optional<Compression> LayerCompression(std::string_view t) {
  if (t == media::kOciLayer || t == "application/vnd.oci.image.layer.nondistributable.v1.tar") {
    return Compression::kNone;
  }
  if (t == media::kOciLayerGzip || t == media::kDockerLayer || t == media::kDockerForeignLayer ||
      t == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip") {
    return Compression::kGzip;
  }
  if (t == media::kOciLayerZstd ||
      t == "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd") {
    return Compression::kZstd;
  }
  return std::nullopt;
}

Document ParseDocument(std::string_view bytes, std::string_view hint) {
  json j = ParseJson(bytes, "manifest");
  Obj o(j, "manifest");
  std::string type = o.Str("mediaType");
  if (!type.empty() && !hint.empty() && type != hint &&
      !(IsManifestType(hint) && IsManifestType(type)) &&
      !(IsIndexType(hint) && IsIndexType(type))) {
    Fail(o.Field("mediaType"), "\"" + type + "\" where \"" + std::string(hint) + "\" was expected");
  }
  if (type.empty()) {
    // OCI allows leaving mediaType out: the caller's type, else the document's shape.
    type = !hint.empty()        ? std::string(hint)
           : o.Has("manifests") ? std::string(media::kOciIndex)
                                : std::string(media::kOciManifest);
  }
  if (o.Int("schemaVersion", true) != 2) {
    Fail(o.Field("schemaVersion"), "must be 2, got " + std::to_string(o.Int("schemaVersion")));
  }
  Document doc;
  if (IsManifestType(type)) {
    doc.manifest = ParseManifestObj(o, type);
  } else if (IsIndexType(type)) {
    doc.index = ParseIndexObj(o, type);
  } else {
    Fail(o.Field("mediaType"), "unknown media type \"" + type + "\"");
  }
  return doc;
}

Manifest ParseManifest(std::string_view bytes, std::string_view hint) {
  Document doc = ParseDocument(bytes, hint);
  if (!doc.manifest) {
    ThrowInvalid("manifest: an index where an image manifest was expected");
  }
  return std::move(*doc.manifest);
}

ImageConfig ParseImageConfig(std::string_view bytes) {
  ImageConfig c;
  c.raw = ParseJson(bytes, "image config");
  Obj o(c.raw, "image config");
  c.os = o.Str("os", true);
  c.architecture = o.Str("architecture", true);
  c.variant = o.Str("variant");
  auto rootfs = o.Child("rootfs");
  if (!rootfs) {
    Fail(o.Field("rootfs"), "is required");
  }
  if (rootfs->Str("type", true) != "layers") {
    Fail(rootfs->Field("type"), "must be \"layers\"");
  }
  c.diff_ids = rootfs->Strings("diff_ids");
  for (size_t i = 0; i < c.diff_ids.size(); ++i) {
    if (!IsValidDigest(c.diff_ids[i])) {
      Fail(rootfs->Field("diff_ids") + "[" + std::to_string(i) + "]",
           "invalid digest \"" + c.diff_ids[i] + "\"");
    }
  }
  if (auto cfg = o.Child("config")) {
    (void)cfg;  // validated as an object; its fields are read by the engine
  }
  return c;
}

Platform HostPlatform() {
  Platform p;
  p.os = "linux";
  struct utsname u;
  std::string m = uname(&u) == 0 ? u.machine : "";
  if (m == "x86_64") {
    p.architecture = "amd64";
  } else if (m == "aarch64") {
    p.architecture = "arm64";
    p.variant = "v8";
  } else if (m.rfind("armv7", 0) == 0) {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (m == "i686" || m == "i386") {
    p.architecture = "386";
  } else {
    p.architecture = m;  // ppc64le, s390x, riscv64 use the kernel's names
  }
  return p;
}

const Descriptor* SelectPlatform(const Index& index, const Platform& want) {
  for (const auto& d : index.manifests) {
    if (!IsManifestType(d.media_type) || !d.platform) {
      continue;
    }
    const Platform& p = *d.platform;
    if (p.os != want.os || p.architecture != want.architecture) {
      continue;
    }
    std::string variant = p.variant.empty() ? DefaultVariant(p.architecture) : p.variant;
    std::string wanted = want.variant.empty() ? DefaultVariant(want.architecture) : want.variant;
    if (variant == wanted) {
      return &d;
    }
  }
  return nullptr;
}

}  // namespace berth::image

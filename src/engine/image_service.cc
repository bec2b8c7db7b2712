#include "engine/image_service.h"

#include <time.h>

#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <set>

#include "base/digest.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "base/log.h"
#include "engine/dockerfile_changes.h"
#include "image/reference.h"
#include "shim/logfile.h"

namespace berth::engine {
namespace {

using nlohmann::json;

constexpr int kSchemaVersion = 1;

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS images (
  id       TEXT PRIMARY KEY,  -- sha256 of the config: the image ID
  manifest TEXT NOT NULL,     -- digest of the manifest blob
  created  INTEGER NOT NULL,  -- the config's "created", unix seconds (0 when absent)
  size     INTEGER NOT NULL,  -- bytes of its layers, uncompressed
  added    INTEGER NOT NULL   -- when this store got it
);
CREATE TABLE IF NOT EXISTS names (
  name  TEXT PRIMARY KEY,     -- full reference: docker.io/library/busybox:latest
  image TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS names_image ON names(image);
CREATE TABLE IF NOT EXISTS layers (
  chain_id TEXT PRIMARY KEY,  -- the snapshot's key
  size     INTEGER NOT NULL   -- bytes of the layer's tar, uncompressed
);
-- The builder's cache (src/engine/builder.h): a step's cache key and the image it made.
CREATE TABLE IF NOT EXISTS build_cache (
  key   TEXT PRIMARY KEY,
  image TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  used  INTEGER NOT NULL      -- unix seconds of its last use
);
CREATE INDEX IF NOT EXISTS build_cache_image ON build_cache(image);
-- Images a build made for its steps: `images -a` lists them, `image prune` leaves them,
-- `builder prune` removes them. A build's result is not one (unless a later build's step).
CREATE TABLE IF NOT EXISTS intermediate (
  image TEXT PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE
);
)";

int64_t Now() { return static_cast<int64_t>(time(nullptr)); }

std::string Familiar(const std::string& full) { return image::ParseReference(full).Familiar(); }

bool IsHex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

std::string ShortId(const std::string& id) { return id.substr(7, 12); }

// An image's names as the API lists them: tags ("busybox:latest") and digest references
// ("busybox@sha256:…"), familiar form.
std::pair<json, json> TagsAndDigests(const std::vector<std::string>& names) {
  json tags = json::array(), digests = json::array();
  for (const std::string& name : names) {
    (name.find('@') == std::string::npos ? tags : digests).push_back(Familiar(name));
  }
  return {tags, digests};
}

bool FilterTrue(const Filters& filters, const std::string& key, bool* value) {
  auto it = filters.find(key);
  if (it == filters.end() || it->second.empty()) {
    return false;
  }
  const std::string& v = it->second.front();
  if (v == "true" || v == "1") {
    *value = true;
  } else if (v == "false" || v == "0") {
    *value = false;
  } else {
    ThrowInvalid("invalid filter '" + key + "=" + v + "'");
  }
  return true;
}

void CheckFilterKeys(const Filters& filters, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, values] : filters) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      ThrowInvalid("invalid filter '" + key + "'");
    }
  }
}

// Docker's label filter: "key" (present) or "key=value" (equal).
bool MatchLabels(const json& labels, const std::vector<std::string>& wanted) {
  for (const std::string& w : wanted) {
    size_t eq = w.find('=');
    std::string key = w.substr(0, eq);
    if (!labels.is_object() || !labels.contains(key)) {
      return false;
    }
    if (eq != std::string::npos &&
        (!labels[key].is_string() || labels[key].get<std::string>() != w.substr(eq + 1))) {
      return false;
    }
  }
  return true;
}

// Docker's `until`: unix seconds, an RFC 3339 time, or a duration back from now ("24h").
int64_t ParseUntil(const std::string& text) {
  if (std::optional<int64_t> t = ParseRfc3339(text)) {
    return *t;
  }
  char* end = nullptr;
  double value = strtod(text.c_str(), &end);
  if (end != text.c_str() && *end == '\0') {
    return static_cast<int64_t>(value);
  }
  // A Go duration: a sequence of <number><unit>.
  double seconds = 0;
  const char* p = text.c_str();
  while (*p != '\0') {
    double n = strtod(p, &end);
    if (end == p) {
      ThrowInvalid("invalid filter 'until=" + text + "'");
    }
    p = end;
    if (strncmp(p, "ms", 2) == 0) {
      seconds += n / 1000, p += 2;
    } else if (*p == 'h') {
      seconds += n * 3600, ++p;
    } else if (*p == 'm') {
      seconds += n * 60, ++p;
    } else if (*p == 's') {
      seconds += n, ++p;
    } else {
      ThrowInvalid("invalid filter 'until=" + text + "'");
    }
  }
  return Now() - static_cast<int64_t>(seconds);
}

}  // namespace

std::optional<int64_t> ParseRfc3339(const std::string& text) {
  struct tm tm = {};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) {
    return std::nullopt;
  }
  if (*rest == '.') {
    ++rest;
    while (*rest >= '0' && *rest <= '9') {
      ++rest;
    }
  }
  int64_t offset = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    int hours = 0, minutes = 0;
    if (sscanf(rest + 1, "%2d:%2d", &hours, &minutes) != 2) {
      return std::nullopt;
    }
    offset = (hours * 3600 + minutes * 60) * (*rest == '+' ? 1 : -1);
    rest += 6;
  } else {
    return std::nullopt;
  }
  if (*rest != '\0') {
    return std::nullopt;
  }
  return static_cast<int64_t>(timegm(&tm)) - offset;
}

std::string FormatRfc3339(int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

ImageService::ImageService(const std::string& root)
    : content_(root + "/content"),
      snapshots_(root + "/snapshots"),
      db_((MkdirAll(root, 0711), root + "/berth.db")) {
  Statement version = db_.Prepare("PRAGMA user_version");
  version.Step();
  int64_t have = version.Int(0);
  if (have > kSchemaVersion) {
    throw Error(Kind::kUnavailable, root + "/berth.db: schema version " + std::to_string(have) +
                                        " is newer than this berthd knows (" +
                                        std::to_string(kSchemaVersion) + ")");
  }
  Transaction tx(db_);
  db_.Exec(kSchema);
  db_.Exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
  tx.Commit();
}

std::vector<ImageService::ImageRow> ImageService::Rows() {
  std::lock_guard lock(db_mu_);
  std::vector<ImageRow> rows;
  std::map<std::string, size_t> by_id;
  Statement images = db_.Prepare(
      "SELECT id, manifest, created, size, image IS NOT NULL FROM images "
      "LEFT JOIN intermediate ON image = id ORDER BY created DESC, id");
  while (images.Step()) {
    by_id[images.Text(0)] = rows.size();
    rows.push_back(
        {images.Text(0), images.Text(1), images.Int(2), images.Int(3), {}, images.Int(4) != 0});
  }
  Statement names = db_.Prepare("SELECT name, image FROM names ORDER BY name");
  while (names.Step()) {
    auto it = by_id.find(names.Text(1));
    if (it != by_id.end()) {
      rows[it->second].names.push_back(names.Text(0));
    }
  }
  return rows;
}

std::optional<ImageService::ImageRow> ImageService::Row(const std::string& id) {
  std::lock_guard lock(db_mu_);
  Statement image = db_.Prepare(
      "SELECT id, manifest, created, size, image IS NOT NULL FROM images "
      "LEFT JOIN intermediate ON image = id WHERE id = ?1");
  image.Bind(1, id);
  if (!image.Step()) {
    return std::nullopt;
  }
  ImageRow row{image.Text(0), image.Text(1), image.Int(2), image.Int(3), {}, image.Int(4) != 0};
  Statement names = db_.Prepare("SELECT name FROM names WHERE image = ?1 ORDER BY name");
  names.Bind(1, id);
  while (names.Step()) {
    row.names.push_back(names.Text(0));
  }
  return row;
}

int64_t ImageService::Size(const std::string& image_id) {
  std::optional<ImageRow> row = Row(image_id);
  return row ? row->size : 0;
}

std::string ImageService::Resolve(const std::string& name) {
  std::string not_found = "No such image: " + name;
  // A full ID.
  if (name.rfind("sha256:", 0) == 0 && image::IsValidDigest(name)) {
    if (Row(name)) {
      return name;
    }
    ThrowNotFound(not_found);
  }
  // A name.
  std::optional<image::Reference> ref;
  try {
    ref = image::ParseReferenceWithDefaultTag(name);
  } catch (const Error&) {
  }
  if (ref) {
    std::lock_guard lock(db_mu_);
    Statement q = db_.Prepare("SELECT image FROM names WHERE name = ?1");
    q.Bind(1, ref->String());
    if (q.Step()) {
      return q.Text(0);
    }
    not_found = "No such image: " + ref->Familiar();
  }
  // A short ID (with or without "sha256:").
  std::string hex = name.rfind("sha256:", 0) == 0 ? name.substr(7) : name;
  if (IsHex(hex) && hex.size() <= 64) {
    std::lock_guard lock(db_mu_);
    Statement q = db_.Prepare("SELECT id FROM images WHERE substr(id, 8, ?2) = ?1 LIMIT 2");
    q.Bind(1, hex).Bind(2, static_cast<int64_t>(hex.size()));
    std::vector<std::string> found;
    while (q.Step()) {
      found.push_back(q.Text(0));
    }
    if (found.size() == 1) {
      return found.front();
    }
    if (found.size() > 1) {
      ThrowInvalid("short ID " + hex + " is ambiguous: more than one image matches");
    }
  }
  ThrowNotFound(not_found);
}

image::Manifest ImageService::ReadManifest(const std::string& manifest_digest) const {
  return image::ParseManifest(content_.Read(manifest_digest, image::kMaxDocumentSize));
}

image::ImageConfig ImageService::ReadConfig(const image::Manifest& manifest) const {
  return image::ParseImageConfig(content_.Read(manifest.config.digest, image::kMaxDocumentSize));
}

std::vector<std::string> ImageService::ChainIds(const std::string& image_id) {
  std::optional<ImageRow> row = Row(image_id);
  if (!row) {
    ThrowNotFound("No such image: " + image_id);
  }
  return image::ChainIds(ReadConfig(ReadManifest(row->manifest)).diff_ids);
}

int64_t ImageService::Unpack(const image::Manifest& manifest, const image::ImageConfig& config) {
  std::vector<std::string> chain = image::ChainIds(config.diff_ids);
  int64_t size = 0;
  for (size_t i = 0; i < chain.size(); ++i) {
    std::optional<int64_t> known;
    {
      std::lock_guard lock(db_mu_);
      Statement q = db_.Prepare("SELECT size FROM layers WHERE chain_id = ?1");
      q.Bind(1, chain[i]);
      if (q.Step()) {
        known = q.Int(0);
      }
    }
    if (known && snapshots_.Has(chain[i])) {
      size += *known;
      continue;
    }
    const image::Descriptor& layer = manifest.layers[i];
    UniqueFd fd(open(content_.PathOf(layer.digest).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      ThrowErrno("open layer " + layer.digest);
    }
    int64_t layer_size;
    std::optional<image::ApplyResult> r;
    try {
      r = snapshots_.Unpack(chain[i], config.diff_ids[i], fd.get());
    } catch (const Error& e) {
      throw e.WithContext("layer " + layer.digest);
    }
    if (r) {
      layer_size = static_cast<int64_t>(r->uncompressed_size);
    } else {
      layer_size = static_cast<int64_t>(snapshots_.DiskUsage(chain[i]));
    }
    {
      std::lock_guard lock(db_mu_);
      db_.Prepare("INSERT OR REPLACE INTO layers (chain_id, size) VALUES (?1, ?2)")
          .Bind(1, chain[i])
          .Bind(2, layer_size)
          .Run();
    }
    size += layer_size;
  }
  return size;
}

std::vector<std::string> ImageService::Record(const std::string& manifest_digest,
                                              const std::string& id, int64_t created, int64_t size,
                                              const std::vector<std::string>& names) {
  std::vector<std::string> moved;
  std::lock_guard lock(db_mu_);
  Transaction tx(db_);
  db_.Prepare(
         "INSERT INTO images (id, manifest, created, size, added) VALUES (?1, ?2, ?3, ?4, ?5) "
         "ON CONFLICT(id) DO NOTHING")
      .Bind(1, id)
      .Bind(2, manifest_digest)
      .Bind(3, created)
      .Bind(4, size)
      .Bind(5, Now())
      .Run();
  for (const std::string& name : names) {
    Statement old = db_.Prepare("SELECT image FROM names WHERE name = ?1");
    old.Bind(1, name);
    if (old.Step() && old.Text(0) != id) {
      moved.push_back("The image " + Familiar(name) +
                      " already exists, renaming the old one with ID " + old.Text(0) +
                      " to empty string");
    }
    db_.Prepare("INSERT OR REPLACE INTO names (name, image) VALUES (?1, ?2)")
        .Bind(1, name)
        .Bind(2, id)
        .Run();
  }
  tx.Commit();
  return moved;
}

void ImageService::Load(const image::ReadFn& read, bool quiet, const MessageFn& message) {
  std::lock_guard write(write_mu_);
  uint64_t last_report = 0;
  image::ProgressFn progress;
  if (!quiet) {
    progress = [&](const std::string& name, uint64_t done, uint64_t total) {
      if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) {
        return;  // a config of the classic layout, not a layer
      }
      if (done != total && done - last_report < (4u << 20) && done >= last_report) {
        return;
      }
      last_report = done == total ? 0 : done;
      std::string id = name;
      if (id.rfind("blobs/sha256/", 0) == 0) {
        id = id.substr(13);
      }
      id = id.substr(0, 12);
      message({{"status", "Loading layer"},
               {"progressDetail", {{"current", done}, {"total", total}}},
               {"id", id}});
    };
  }
  image::ArchiveContents contents =
      image::ReadImageArchive(read, content_, image::HostPlatform(), progress);
  std::vector<std::string> lines;
  try {
    std::vector<int64_t> sizes;
    for (const image::ArchiveImage& img : contents.images) {
      sizes.push_back(Unpack(img.manifest, ReadConfig(img.manifest)));
    }
    // One flush for the whole load (blobs and snapshots) before the database names them.
    content_.SyncAll();
    snapshots_.SyncAll();
    for (size_t i = 0; i < contents.images.size(); ++i) {
      const image::ArchiveImage& img = contents.images[i];
      image::ImageConfig config = ReadConfig(img.manifest);
      int64_t size = sizes[i];
      int64_t created = 0;
      if (config.raw.contains("created") && config.raw["created"].is_string()) {
        created = ParseRfc3339(config.raw["created"].get<std::string>()).value_or(0);
      }
      for (std::string& line :
           Record(img.manifest_digest, img.config_digest, created, size, img.names)) {
        lines.push_back(std::move(line));
      }
      if (img.names.empty()) {
        lines.push_back("Loaded image ID: " + img.config_digest);
      }
      for (const std::string& name : img.names) {
        lines.push_back("Loaded image: " + Familiar(name));
      }
    }
  } catch (...) {
    // Nothing half-loaded stays: blobs this load added and snapshots no image uses go.
    CollectGarbage();
    throw;
  }
  // An image that was there already keeps its manifest: what this load added for it goes.
  CollectGarbage();
  for (const std::string& line : lines) {
    message({{"stream", line + "\n"}});
  }
}

void ImageService::Save(const std::vector<std::string>& names, image::ArchiveFormat format,
                        const image::WriteFn& write) {
  std::vector<image::SaveImage> images;
  for (const std::string& name : names) {
    std::string id = Resolve(name);
    std::optional<ImageRow> row = Row(id);
    if (!row) {
      ThrowNotFound("No such image: " + name);
    }
    // A name saves that name; an ID saves the image with all its names.
    std::vector<std::string> tags;
    std::optional<image::Reference> ref;
    bool by_name = false;
    try {
      ref = image::ParseReferenceWithDefaultTag(name);
      by_name = std::find(row->names.begin(), row->names.end(), ref->String()) != row->names.end();
    } catch (const Error&) {
    }
    if (by_name) {
      tags.push_back(ref->String());
    } else {
      for (const std::string& n : row->names) {
        if (n.find('@') == std::string::npos) {
          tags.push_back(n);
        }
      }
    }
    auto same = std::find_if(images.begin(), images.end(), [&](const image::SaveImage& s) {
      return s.manifest_digest == row->manifest;
    });
    if (same == images.end()) {
      images.push_back({row->manifest, tags});
    } else {
      for (const std::string& t : tags) {
        if (std::find(same->names.begin(), same->names.end(), t) == same->names.end()) {
          same->names.push_back(t);
        }
      }
    }
  }
  image::WriteImageArchive(images, content_, format, write);
}

std::string ImageService::Import(const image::ReadFn& read, const ImportOptions& options) {
  std::string name;
  if (!options.repo.empty()) {
    std::string text = options.repo + (options.tag.empty() ? "" : ":" + options.tag);
    name = image::ParseReferenceWithDefaultTag(text).String();
  }
  json container_config = ApplyChanges(json::object(), options.changes);
  std::lock_guard write(write_mu_);
  // The body as a blob, then unpacked: its diffID is only known once read through.
  image::ContentStore::Writer writer = content_.Ingest();
  writer.set_sync(image::ContentStore::Writer::Sync::kDeferred);
  std::vector<char> buf(1 << 20);
  while (size_t n = read(buf.data(), buf.size())) {
    writer.Write(buf.data(), n);
  }
  std::string layer_digest = writer.Commit();
  try {
    UniqueFd fd(open(content_.PathOf(layer_digest).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      ThrowErrno("open layer " + layer_digest);
    }
    std::optional<image::ApplyResult> r;
    std::string diff_id;
    try {
      r = snapshots_.Unpack("", "", fd.get());
    } catch (const Error& e) {
      throw e.WithContext("import");
    }
    diff_id = r->diff_id;
    image::Platform platform = image::HostPlatform();
    std::string now = FormatRfc3339(Now());
    nlohmann::ordered_json config;
    config["architecture"] = platform.architecture;
    if (!platform.variant.empty()) {
      config["variant"] = platform.variant;
    }
    config["os"] = platform.os;
    config["created"] = now;
    config["config"] = container_config;
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", {diff_id}}};
    config["history"] = {
        {{"created", now},
         {"comment", options.message.empty() ? "Imported from -" : options.message}}};
    std::string config_bytes = config.dump();
    std::string config_digest = content_.Put(config_bytes);
    image::Descriptor layer = image::LayerDescriptor(content_, layer_digest);
    std::string manifest =
        image::MakeManifest(config_digest, static_cast<int64_t>(config_bytes.size()), {layer});
    std::string manifest_digest = content_.Put(manifest);
    int64_t size = static_cast<int64_t>(r->uncompressed_size);
    {
      std::lock_guard lock(db_mu_);
      db_.Prepare("INSERT OR REPLACE INTO layers (chain_id, size) VALUES (?1, ?2)")
          .Bind(1, diff_id)
          .Bind(2, size)
          .Run();
    }
    content_.SyncAll();
    snapshots_.SyncAll();
    Record(manifest_digest, config_digest, Now(), size,
           name.empty() ? std::vector<std::string>{} : std::vector<std::string>{name});
    CollectGarbage();
    return config_digest;
  } catch (...) {
    CollectGarbage();
    throw;
  }
}

std::string ImageService::Commit(const std::string& parent_id,
                                 const std::function<void(const image::WriteFn&)>& write_layer,
                                 const CommitOptions& options) {
  NewImage n;
  if (!options.repo.empty()) {
    std::string text = options.repo + (options.tag.empty() ? "" : ":" + options.tag);
    n.names.push_back(image::ParseReferenceWithDefaultTag(text).String());
  }
  n.config = ApplyChanges(options.config, options.changes);
  n.container_id = options.container_id;
  n.author = options.author;
  n.comment = options.comment;
  n.created_by = options.created_by;
  return AddImage(parent_id, write_layer, n);
}

std::string ImageService::AddBuildStep(
    const std::string& parent_id, const std::function<void(const image::WriteFn&)>& write_layer,
    const BuildStep& step) {
  NewImage n;
  n.config = step.config;
  n.container_id = step.container_id;
  n.created_by = step.created_by;
  n.empty_layer = !write_layer;
  n.intermediate = true;
  n.cache_key = step.cache_key;
  return AddImage(parent_id, write_layer, n);
}

std::optional<std::string> ImageService::CachedBuildStep(const std::string& key) {
  std::lock_guard lock(db_mu_);
  Statement q = db_.Prepare("SELECT image FROM build_cache WHERE key = ?1");
  q.Bind(1, key);
  if (!q.Step()) return std::nullopt;
  std::string id = q.Text(0);
  db_.Prepare("UPDATE build_cache SET used = ?2 WHERE key = ?1").Bind(1, key).Bind(2, Now()).Run();
  return id;
}

std::vector<std::string> ImageService::FinishBuild(const std::string& id,
                                                   const std::vector<std::string>& names) {
  std::lock_guard write(write_mu_);
  std::vector<std::string> full;
  for (const std::string& name : names) {
    full.push_back(image::ParseReferenceWithDefaultTag(name).String());
  }
  std::optional<ImageRow> row = Row(id);
  if (!row) ThrowNotFound("No such image: " + id);
  {
    std::lock_guard lock(db_mu_);
    db_.Prepare("DELETE FROM intermediate WHERE image = ?1").Bind(1, id).Run();
  }
  return Record(row->manifest, id, row->created, row->size, full);
}

json ImageService::PruneBuildCache(bool all) {
  std::lock_guard write(write_mu_);
  std::vector<std::string> doomed;
  {
    std::lock_guard lock(db_mu_);
    // Without `all`, a step whose image is some build's tagged or final result stays: the
    // image is the user's (its cache entry goes with it when it is removed).
    Statement q = db_.Prepare(
        "SELECT i.image FROM intermediate i WHERE NOT EXISTS "
        "(SELECT 1 FROM names n WHERE n.image = i.image)");
    while (q.Step()) doomed.push_back(q.Text(0));
    if (all) {
      db_.Prepare("DELETE FROM build_cache").Run();
    }
  }
  json deleted = json::array();
  std::vector<std::string> removed;
  for (const std::string& id : doomed) {
    if (InUse(id)) continue;
    removed.push_back(id);
    deleted.push_back(id);
  }
  {
    std::lock_guard lock(db_mu_);
    Transaction tx(db_);
    for (const std::string& id : removed) {
      db_.Prepare("DELETE FROM images WHERE id = ?1").Bind(1, id).Run();
    }
    tx.Commit();
  }
  uint64_t freed = CollectGarbage().second;
  return {{"CachesDeleted", deleted.empty() ? json(nullptr) : deleted}, {"SpaceReclaimed", freed}};
}

std::string ImageService::AddImage(const std::string& parent_id,
                                   const std::function<void(const image::WriteFn&)>& write_layer,
                                   const NewImage& n) {
  std::lock_guard write(write_mu_);
  image::Manifest manifest;
  image::ImageConfig base;
  int64_t parent_size = 0;
  if (parent_id.empty()) {  // FROM scratch
    image::Platform platform = image::HostPlatform();
    base.raw = {{"architecture", platform.architecture}, {"os", platform.os}};
    if (!platform.variant.empty()) base.raw["variant"] = platform.variant;
  } else {
    std::optional<ImageRow> parent = Row(parent_id);
    if (!parent) ThrowNotFound("No such image: " + parent_id);
    manifest = ReadManifest(parent->manifest);
    base = ReadConfig(manifest);
    parent_size = parent->size;
  }

  // The layer is stored as written, uncompressed (Docker's commit does not compress either):
  // its digest is its diffID, so the new snapshot's chain ID is known before unpacking.
  std::string layer_digest;
  if (write_layer) {
    image::ContentStore::Writer writer = content_.Ingest();
    writer.set_sync(image::ContentStore::Writer::Sync::kDeferred);
    write_layer([&writer](const void* data, size_t size) { writer.Write(data, size); });
    layer_digest = writer.Commit();
  }
  try {
    std::vector<std::string> diff_ids = base.diff_ids;
    std::vector<image::Descriptor> layers = manifest.layers;
    int64_t layer_size = 0;
    std::string chain;
    if (write_layer) {
      diff_ids.push_back(layer_digest);
      chain = image::ChainIds(diff_ids).back();
      UniqueFd fd(open(content_.PathOf(layer_digest).c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) ThrowErrno("open layer " + layer_digest);
      std::optional<image::ApplyResult> r = snapshots_.Unpack(chain, layer_digest, fd.get());
      layer_size = r ? static_cast<int64_t>(r->uncompressed_size) : 0;
      layers.push_back(image::LayerDescriptor(content_, layer_digest));
    }

    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    // Nanoseconds, as Docker writes them: two commits of one container a second apart are
    // two images.
    std::string now =
        shim::FormatJsonTime(static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec);
    nlohmann::ordered_json config = nlohmann::ordered_json::parse(base.raw.dump());
    config["created"] = now;
    if (!n.author.empty()) config["author"] = n.author;
    if (!n.comment.empty()) config["comment"] = n.comment;
    if (!n.container_id.empty()) config["container"] = n.container_id;
    config["config"] = n.config;
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
    nlohmann::ordered_json entry = {{"created", now}};
    if (!n.author.empty()) entry["author"] = n.author;
    if (!n.created_by.empty()) entry["created_by"] = n.created_by;
    if (!n.comment.empty()) entry["comment"] = n.comment;
    if (n.empty_layer) entry["empty_layer"] = true;
    if (!config.contains("history") || !config["history"].is_array()) {
      config["history"] = nlohmann::ordered_json::array();
    }
    config["history"].push_back(entry);
    std::string config_bytes = config.dump();
    std::string config_digest = content_.Put(config_bytes);
    std::string new_manifest =
        image::MakeManifest(config_digest, static_cast<int64_t>(config_bytes.size()), layers);
    std::string manifest_digest = content_.Put(new_manifest);
    if (write_layer) {
      std::lock_guard lock(db_mu_);
      db_.Prepare("INSERT OR IGNORE INTO layers (chain_id, size) VALUES (?1, ?2)")
          .Bind(1, chain)
          .Bind(2, layer_size)
          .Run();
    }
    content_.SyncAll();
    snapshots_.SyncAll();
    bool existed = Row(config_digest).has_value();
    Record(manifest_digest, config_digest, Now(), parent_size + layer_size, n.names);
    if (n.intermediate || !n.cache_key.empty()) {
      std::lock_guard lock(db_mu_);
      Transaction tx(db_);
      if (n.intermediate && !existed) {
        db_.Prepare("INSERT OR IGNORE INTO intermediate (image) VALUES (?1)")
            .Bind(1, config_digest)
            .Run();
      }
      if (!n.cache_key.empty()) {
        db_.Prepare("INSERT OR REPLACE INTO build_cache (key, image, used) VALUES (?1, ?2, ?3)")
            .Bind(1, n.cache_key)
            .Bind(2, config_digest)
            .Bind(3, Now())
            .Run();
      }
      tx.Commit();
    }
    return config_digest;
  } catch (...) {
    CollectGarbage();
    throw;
  }
}

std::pair<std::vector<std::string>, uint64_t> ImageService::CollectGarbage() {
  std::set<std::string> blobs, chains;
  for (const ImageRow& row : Rows()) {
    blobs.insert(row.manifest);
    try {
      image::Manifest m = ReadManifest(row.manifest);
      blobs.insert(m.config.digest);
      for (const image::Descriptor& layer : m.layers) {
        blobs.insert(layer.digest);
      }
      for (const std::string& chain : image::ChainIds(ReadConfig(m).diff_ids)) {
        chains.insert(chain);
      }
    } catch (const Error& e) {
      // A damaged image keeps what it still has; `system check` reports it.
      log::Warn("garbage collection: image " + row.id + ": " + e.what());
    }
  }
  uint64_t freed = content_.Prune(blobs);
  std::vector<std::string> removed;
  for (const std::string& chain : snapshots_.List()) {
    if (chains.count(chain) == 0) {
      freed += snapshots_.DiskUsage(chain);
      snapshots_.Remove(chain);
      removed.push_back(chain);
    }
  }
  snapshots_.RemoveLeftovers();
  std::lock_guard lock(db_mu_);
  Transaction tx(db_);
  for (const std::string& chain : removed) {
    db_.Prepare("DELETE FROM layers WHERE chain_id = ?1").Bind(1, chain).Run();
  }
  tx.Commit();
  return {removed, freed};
}

json ImageService::Summary(const ImageRow& row) {
  auto [tags, digests] = TagsAndDigests(row.names);
  if (tags.empty() && digests.empty()) {
    tags.push_back("<none>:<none>");
    digests.push_back("<none>@<none>");
  }
  json labels = nullptr;
  try {
    image::ImageConfig config = ReadConfig(ReadManifest(row.manifest));
    if (config.raw.contains("config") && config.raw["config"].is_object() &&
        config.raw["config"].contains("Labels") && config.raw["config"]["Labels"].is_object() &&
        !config.raw["config"]["Labels"].empty()) {
      labels = config.raw["config"]["Labels"];
    }
  } catch (const Error&) {
  }
  return {{"Containers", -1}, {"Created", row.created}, {"Id", row.id},     {"Labels", labels},
          {"ParentId", ""},   {"RepoDigests", digests}, {"RepoTags", tags}, {"SharedSize", -1},
          {"Size", row.size}, {"VirtualSize", row.size}};
}

json ImageService::List(bool all, const Filters& filters) {
  CheckFilterKeys(filters, {"dangling", "label", "reference", "before", "since"});
  bool dangling = false;
  bool want_dangling = FilterTrue(filters, "dangling", &dangling);
  std::optional<int64_t> before, since;
  if (auto it = filters.find("before"); it != filters.end() && !it->second.empty()) {
    before = Row(Resolve(it->second.front()))->created;
  }
  if (auto it = filters.find("since"); it != filters.end() && !it->second.empty()) {
    since = Row(Resolve(it->second.front()))->created;
  }
  json out = json::array();
  for (const ImageRow& row : Rows()) {
    if (row.intermediate && row.names.empty() && !all) {
      continue;  // a build step's image: `images -a` shows it, as Docker's
    }
    if (want_dangling && dangling != row.names.empty()) {
      continue;
    }
    if ((before && row.created >= *before) || (since && row.created <= *since)) {
      continue;
    }
    if (auto it = filters.find("reference"); it != filters.end()) {
      bool match = false;
      for (const std::string& name : row.names) {
        image::Reference ref = image::ParseReference(name);
        for (const std::string& pattern : it->second) {
          match = match || fnmatch(pattern.c_str(), ref.Familiar().c_str(), FNM_PATHNAME) == 0 ||
                  fnmatch(pattern.c_str(), ref.FamiliarName().c_str(), FNM_PATHNAME) == 0;
        }
      }
      if (!match) {
        continue;
      }
    }
    json summary = Summary(row);
    if (auto it = filters.find("label");
        it != filters.end() && !MatchLabels(summary["Labels"], it->second)) {
      continue;
    }
    out.push_back(std::move(summary));
  }
  return out;
}

json ImageService::Inspect(const std::string& name) {
  std::optional<ImageRow> row = Row(Resolve(name));
  if (!row) {
    ThrowNotFound("No such image: " + name);
  }
  image::Manifest manifest = ReadManifest(row->manifest);
  image::ImageConfig config = ReadConfig(manifest);
  const json& raw = config.raw;
  auto field = [&](const char* key, json fallback) {
    return raw.contains(key) && !raw[key].is_null() ? raw[key] : fallback;
  };
  auto [tags, digests] = TagsAndDigests(row->names);
  std::vector<std::string> chain = image::ChainIds(config.diff_ids);
  json graph = json::object();
  if (!chain.empty()) {
    std::string lower;
    for (size_t i = chain.size() - 1; i-- > 0;) {
      lower += (lower.empty() ? "" : ":") + snapshots_.FsPath(chain[i]);
    }
    graph["UpperDir"] = snapshots_.FsPath(chain.back());
    if (!lower.empty()) {
      graph["LowerDir"] = lower;
    }
  }
  nlohmann::ordered_json out;
  out["Id"] = row->id;
  out["RepoTags"] = tags;
  out["RepoDigests"] = digests;
  out["Parent"] = "";
  out["Comment"] = field("comment", "");
  out["Created"] = field("created", "0001-01-01T00:00:00Z");
  out["Container"] = field("container", "");
  out["ContainerConfig"] = field("container_config", json::object());
  out["DockerVersion"] = field("docker_version", "");
  out["Author"] = field("author", "");
  out["Config"] = field("config", nullptr);
  out["Architecture"] = config.architecture;
  if (!config.variant.empty()) {
    out["Variant"] = config.variant;
  }
  out["Os"] = config.os;
  if (raw.contains("os.version")) {
    out["OsVersion"] = raw["os.version"];
  }
  out["Size"] = row->size;
  out["VirtualSize"] = row->size;
  out["GraphDriver"] = {{"Data", graph}, {"Name", "overlay2"}};
  out["RootFS"] = {{"Type", "layers"}, {"Layers", config.diff_ids}};
  out["Metadata"] = {{"LastTagTime", "0001-01-01T00:00:00Z"}};
  return json::parse(out.dump());
}

json ImageService::History(const std::string& name) {
  std::optional<ImageRow> row = Row(Resolve(name));
  if (!row) {
    ThrowNotFound("No such image: " + name);
  }
  image::ImageConfig config = ReadConfig(ReadManifest(row->manifest));
  std::vector<std::string> chain = image::ChainIds(config.diff_ids);
  json out = json::array();
  size_t layer = 0;
  if (config.raw.contains("history") && config.raw["history"].is_array()) {
    for (const json& h : config.raw["history"]) {
      if (!h.is_object()) {
        continue;
      }
      int64_t size = 0;
      bool empty = h.contains("empty_layer") && h["empty_layer"].is_boolean() &&
                   h["empty_layer"].get<bool>();
      if (!empty && layer < chain.size()) {
        std::lock_guard lock(db_mu_);
        Statement q = db_.Prepare("SELECT size FROM layers WHERE chain_id = ?1");
        q.Bind(1, chain[layer++]);
        size = q.Step() ? q.Int(0) : 0;
      }
      auto text = [&](const char* key) {
        return h.contains(key) && h[key].is_string() ? h[key].get<std::string>() : std::string();
      };
      json entry = {{"Comment", text("comment")},
                    {"Created", ParseRfc3339(text("created")).value_or(0)},
                    {"CreatedBy", text("created_by")},
                    {"Id", "<missing>"},
                    {"Size", size},
                    {"Tags", nullptr}};
      out.insert(out.begin(), std::move(entry));
    }
  }
  if (!out.empty()) {
    out[0]["Id"] = row->id;
    json tags = TagsAndDigests(row->names).first;
    out[0]["Tags"] = tags.empty() ? json(nullptr) : tags;
  }
  return out;
}

void ImageService::Tag(const std::string& name, const std::string& repo, const std::string& tag) {
  std::lock_guard write(write_mu_);
  std::string id = Resolve(name);
  std::string text = repo + (tag.empty() ? "" : ":" + tag);
  image::Reference ref = image::ParseReferenceWithDefaultTag(text);
  if (!ref.digest.empty()) {
    ThrowInvalid("refusing to create a tag with a digest reference");
  }
  std::optional<ImageRow> row = Row(id);
  Record(row->manifest, id, row->created, row->size, {ref.String()});
}

bool ImageService::InUse(const std::string& id) {
  if (!in_use_) {
    return false;
  }
  std::vector<std::string> ids = in_use_();
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

json ImageService::Remove(const std::string& name, bool force, bool /*noprune*/) {
  std::lock_guard write(write_mu_);
  std::string id = Resolve(name);
  std::optional<ImageRow> row = Row(id);
  if (!row) {
    ThrowNotFound("No such image: " + name);
  }
  std::optional<std::string> by_name;
  try {
    std::string full = image::ParseReferenceWithDefaultTag(name).String();
    if (std::find(row->names.begin(), row->names.end(), full) != row->names.end()) {
      by_name = full;
    }
  } catch (const Error&) {
  }
  if (!by_name && row->names.size() > 1 && !force) {
    ThrowConflict("conflict: unable to delete " + ShortId(id) +
                  " (must be forced) - image is referenced in multiple repositories");
  }
  bool last_name = !(by_name && row->names.size() > 1);
  if (last_name && InUse(id)) {
    if (!force) {
      ThrowConflict("conflict: unable to remove repository reference \"" + name +
                    "\" (must force) - a container is using its referenced image " + ShortId(id));
    }
    // Forced: the names go, the image stays for its containers (dangling, as Docker).
    by_name.reset();
  }
  json out = json::array();
  bool keep_image = !last_name || InUse(id);
  {
    std::lock_guard lock(db_mu_);
    Transaction tx(db_);
    for (const std::string& n : row->names) {
      if (!by_name || n == *by_name) {
        db_.Prepare("DELETE FROM names WHERE name = ?1").Bind(1, n).Run();
        out.push_back({{"Untagged", Familiar(n)}});
      }
    }
    if (!keep_image) {
      db_.Prepare("DELETE FROM images WHERE id = ?1").Bind(1, id).Run();
      out.push_back({{"Deleted", id}});
    }
    tx.Commit();
  }
  if (!keep_image) {
    for (const std::string& chain : CollectGarbage().first) {
      out.push_back({{"Deleted", chain}});
    }
  }
  return out;
}

json ImageService::Prune(const Filters& filters) {
  CheckFilterKeys(filters, {"dangling", "until", "label", "label!"});
  bool dangling = true;
  FilterTrue(filters, "dangling", &dangling);
  std::optional<int64_t> until;
  if (auto it = filters.find("until"); it != filters.end() && !it->second.empty()) {
    until = ParseUntil(it->second.front());
  }
  std::lock_guard write(write_mu_);
  json deleted = json::array();
  std::vector<std::string> doomed;
  for (const ImageRow& row : Rows()) {
    if ((dangling && !row.names.empty()) || (until && row.created >= *until) || InUse(row.id) ||
        (row.intermediate && row.names.empty())) {
      continue;  // build steps are the build cache's: `builder prune` removes them
    }
    json labels = Summary(row)["Labels"];
    if (auto it = filters.find("label"); it != filters.end() && !MatchLabels(labels, it->second)) {
      continue;
    }
    if (auto it = filters.find("label!"); it != filters.end() && MatchLabels(labels, it->second)) {
      continue;
    }
    doomed.push_back(row.id);
    for (const std::string& n : row.names) {
      deleted.push_back({{"Untagged", Familiar(n)}});
    }
    deleted.push_back({{"Deleted", row.id}});
  }
  {
    std::lock_guard lock(db_mu_);
    Transaction tx(db_);
    for (const std::string& id : doomed) {
      db_.Prepare("DELETE FROM images WHERE id = ?1").Bind(1, id).Run();
    }
    tx.Commit();
  }
  auto [chains, freed] = CollectGarbage();
  for (const std::string& chain : chains) {
    deleted.push_back({{"Deleted", chain}});
  }
  return {{"ImagesDeleted", deleted.empty() ? json(nullptr) : deleted}, {"SpaceReclaimed", freed}};
}

json ImageService::DiskUsage() {
  int64_t layers_size = 0;
  {
    std::lock_guard lock(db_mu_);
    Statement q = db_.Prepare("SELECT coalesce(sum(size), 0) FROM layers");
    q.Step();
    layers_size = q.Int(0);
  }
  json images = json::array();
  for (const ImageRow& row : Rows()) {
    json summary = Summary(row);
    summary["Containers"] = 0;
    summary["SharedSize"] = 0;
    images.push_back(std::move(summary));
  }
  return {{"LayersSize", layers_size},
          {"Images", images},
          {"Containers", json::array()},
          {"Volumes", json::array()},
          {"BuildCache", json::array()}};
}

json ImageService::Check() {
  std::lock_guard write(write_mu_);
  json problems = json::array();
  std::set<std::string> blobs_used, chains_used;
  std::vector<ImageRow> rows = Rows();
  for (const ImageRow& row : rows) {
    std::string what = "image " + row.id;
    blobs_used.insert(row.manifest);
    try {
      image::Manifest m = ReadManifest(row.manifest);
      blobs_used.insert(m.config.digest);
      std::string config_bytes = content_.Read(m.config.digest, image::kMaxDocumentSize);
      if (Sha256Digest(config_bytes) != row.id) {
        problems.push_back(what + ": its config is " + m.config.digest);
      }
      image::ImageConfig config = image::ParseImageConfig(config_bytes);
      for (const image::Descriptor& layer : m.layers) {
        blobs_used.insert(layer.digest);
        if (!content_.Has(layer.digest)) {
          problems.push_back(what + ": layer blob " + layer.digest + " is missing");
        }
      }
      for (const std::string& chain : image::ChainIds(config.diff_ids)) {
        chains_used.insert(chain);
        if (!snapshots_.Has(chain)) {
          problems.push_back(what + ": snapshot " + chain + " is missing");
        }
      }
    } catch (const Error& e) {
      problems.push_back(what + ": " + e.what());
    }
  }
  {
    std::lock_guard lock(db_mu_);
    Statement q =
        db_.Prepare("SELECT name, image FROM names WHERE image NOT IN (SELECT id FROM images)");
    while (q.Step()) {
      problems.push_back("name " + q.Text(0) + " points to the missing image " + q.Text(1));
    }
  }
  std::vector<std::string> blobs = content_.List();
  for (const std::string& digest : blobs) {
    if (!content_.Verify(digest)) {
      problems.push_back("blob " + digest + " does not match its digest");
    }
    if (blobs_used.count(digest) == 0) {
      problems.push_back("blob " + digest + " is not used by any image");
    }
  }
  std::vector<std::string> snapshots = snapshots_.List();
  for (const std::string& chain : snapshots) {
    if (chains_used.count(chain) == 0) {
      problems.push_back("snapshot " + chain + " is not used by any image");
    }
  }
  return {{"Images", rows.size()},
          {"Blobs", blobs.size()},
          {"Snapshots", snapshots.size()},
          {"Problems", problems}};
}

}  // namespace berth::engine

#include "image/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/fd.h"
#include "image/reference.h"

namespace berth::image {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr size_t kChunk = 1 << 20;
constexpr int kMaxLinkHops = 16;
constexpr int kMaxIndexDepth = 4;

constexpr std::string_view kContainerdName = "io.containerd.image.name";
constexpr std::string_view kOciRefName = "org.opencontainers.image.ref.name";

[[noreturn]] void Bad(const std::string& what) { ThrowInvalid("image archive: " + what); }

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_free(a); }
};

// "./a/../b//c" -> "b/c"; ".." never climbs above the archive's root (names are only keys).
std::string CleanName(std::string_view name) {
  std::vector<std::string_view> parts;
  while (!name.empty()) {
    size_t slash = name.find('/');
    std::string_view part = name.substr(0, slash);
    name = slash == std::string_view::npos ? std::string_view() : name.substr(slash + 1);
    if (part.empty() || part == ".") {
      continue;
    }
    if (part == "..") {
      if (!parts.empty()) {
        parts.pop_back();
      }
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (std::string_view part : parts) {
    if (!out.empty()) {
      out += '/';
    }
    out += part;
  }
  return out;
}

std::string DirName(const std::string& name) {
  size_t slash = name.rfind('/');
  return slash == std::string::npos ? std::string() : name.substr(0, slash);
}

std::string BaseName(const std::string& name) {
  size_t slash = name.rfind('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

bool IsMetadataName(const std::string& name) {
  return name == "manifest.json" || name == "index.json" || name == "oci-layout" ||
         name == "repositories";
}

// blobs/sha256/<hex> -> "sha256:<hex>", else "".
std::string DigestFromBlobName(const std::string& name) {
  constexpr std::string_view kPrefix = "blobs/sha256/";
  if (name.size() != kPrefix.size() + 64 || name.compare(0, kPrefix.size(), kPrefix) != 0) {
    return {};
  }
  std::string digest = "sha256:" + name.substr(kPrefix.size());
  return IsValidDigest(digest) ? digest : std::string();
}

struct ReadContext {
  const ReadFn* read;
  std::vector<char> buf;
  std::string error;
};

la_ssize_t ReadCallback(struct archive*, void* data, const void** out) {
  auto* ctx = static_cast<ReadContext*>(data);
  try {
    size_t n = (*ctx->read)(ctx->buf.data(), ctx->buf.size());
    *out = ctx->buf.data();
    return static_cast<la_ssize_t>(n);
  } catch (const std::exception& e) {
    ctx->error = e.what();
    return -1;
  }
}

// What one pass over the archive found.
class ArchiveScan {
 public:
  ArchiveScan(const ContentStore& store, const ProgressFn& progress)
      : store_(store), progress_(progress) {}

  void Run(const ReadFn& read) {
    ReadContext ctx{&read, std::vector<char>(kChunk), {}};
    std::unique_ptr<struct archive, ArchiveFree> a(archive_read_new());
    archive_read_support_format_tar(a.get());
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_zstd(a.get());
    archive_read_support_filter_xz(a.get());
    archive_read_support_filter_bzip2(a.get());
    if (archive_read_open(a.get(), &ctx, nullptr, ReadCallback, nullptr) != ARCHIVE_OK) {
      Fail(a.get(), ctx, "not a tar archive");
    }
    while (true) {
      struct archive_entry* e;
      int rc = archive_read_next_header(a.get(), &e);
      if (rc == ARCHIVE_EOF) {
        break;
      }
      if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
        Fail(a.get(), ctx, "malformed tar");
      }
      Entry(a.get(), ctx, e);
    }
  }

  // The digest of the blob at archive path `name`, following links.
  std::optional<std::string> Lookup(std::string name) const {
    for (int hop = 0; hop < kMaxLinkHops; ++hop) {
      auto blob = blobs_.find(name);
      if (blob != blobs_.end()) {
        return blob->second;
      }
      auto link = links_.find(name);
      if (link == links_.end()) {
        return std::nullopt;
      }
      name = link->second;
    }
    return std::nullopt;
  }

  const std::optional<std::string>& file(const std::string& name) const {
    static const std::optional<std::string> kNone;
    auto it = metadata_.find(name);
    return it == metadata_.end() ? kNone : it->second;
  }

  std::vector<std::string>& added() { return added_; }

 private:
  [[noreturn]] void Fail(struct archive* a, const ReadContext& ctx, const std::string& what) {
    if (!ctx.error.empty()) {
      throw Error(Kind::kInvalidArgument, "image archive: " + ctx.error);
    }
    const char* detail = archive_error_string(a);
    Bad(what + (detail != nullptr ? std::string(": ") + detail : std::string()));
  }

  void Entry(struct archive* a, const ReadContext& ctx, struct archive_entry* e) {
    const char* raw = archive_entry_pathname(e);
    std::string name = CleanName(raw != nullptr ? raw : "");
    if (const char* hard = archive_entry_hardlink(e); hard != nullptr) {
      links_[name] = CleanName(hard);
      return;
    }
    mode_t type = archive_entry_filetype(e);
    if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(e);
      std::string t = target != nullptr ? target : "";
      links_[name] = CleanName(!t.empty() && t[0] == '/' ? t : DirName(name) + "/" + t);
      return;
    }
    if (type != AE_IFREG || name.empty()) {
      return;
    }
    if (IsMetadataName(name)) {
      metadata_[name] = ReadSmall(a, ctx, name, archive_entry_size(e));
      return;
    }
    std::string base = BaseName(name);
    if (base == "json" || base == "VERSION") {
      return;  // the classic layout's v1 layer metadata: nothing Berth needs
    }
    Ingest(a, ctx, name, archive_entry_size_is_set(e) ? archive_entry_size(e) : 0);
  }

  std::string ReadSmall(struct archive* a, const ReadContext& ctx, const std::string& name,
                        int64_t size) {
    if (size < 0 || static_cast<uint64_t>(size) > kMaxDocumentSize) {
      Bad(name + " is larger than " + std::to_string(kMaxDocumentSize) + " bytes");
    }
    std::string data(static_cast<size_t>(size), '\0');
    size_t got = 0;
    while (got < data.size()) {
      la_ssize_t n = archive_read_data(a, data.data() + got, data.size() - got);
      if (n < 0) {
        Fail(a, ctx, "read " + name);
      }
      if (n == 0) {
        Bad(name + ": truncated");
      }
      got += static_cast<size_t>(n);
    }
    return data;
  }

  void Ingest(struct archive* a, const ReadContext& ctx, const std::string& name, int64_t size) {
    std::string expected = DigestFromBlobName(name);
    ContentStore::Writer writer = store_.Ingest();
    writer.set_sync(ContentStore::Writer::Sync::kDeferred);
    std::vector<char> buf(kChunk);
    uint64_t done = 0;
    uint64_t total = size > 0 ? static_cast<uint64_t>(size) : 0;
    while (true) {
      la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
      if (n < 0) {
        Fail(a, ctx, "read " + name);
      }
      if (n == 0) {
        break;
      }
      writer.Write(buf.data(), static_cast<size_t>(n));
      done += static_cast<uint64_t>(n);
      if (progress_) {
        progress_(name, done, total);
      }
    }
    std::string digest;
    try {
      digest = writer.Commit(expected);
    } catch (const Error& e) {
      throw e.WithContext("image archive: " + name);
    }
    if (writer.created()) {
      added_.push_back(digest);
    }
    blobs_[name] = digest;
  }

  const ContentStore& store_;
  const ProgressFn& progress_;
  std::map<std::string, std::string> blobs_;                    // archive path -> digest
  std::map<std::string, std::string> links_;                    // archive path -> target path
  std::map<std::string, std::optional<std::string>> metadata_;  // manifest.json, ...
  std::vector<std::string> added_;
};

nlohmann::json ParseJsonFile(const std::string& name, const std::string& bytes) {
  nlohmann::json doc = nlohmann::json::parse(bytes, nullptr, false);
  if (doc.is_discarded()) {
    Bad(name + ": invalid JSON");
  }
  return doc;
}

// A reference as an archive names it ("busybox:latest", "docker.io/library/busybox:1"),
// normalized with the default tag.
std::string NormalizeName(const std::string& where, const std::string& name) {
  try {
    return ParseReferenceWithDefaultTag(name).String();
  } catch (const Error& e) {
    throw e.WithContext("image archive: " + where + ": name \"" + name + "\"");
  }
}

class ImageCollector {
 public:
  ImageCollector(ArchiveScan& scan, const ContentStore& store, const Platform& platform)
      : scan_(scan), store_(store), platform_(platform) {}

  void FromIndex(const std::string& index_bytes) {
    Document doc;
    try {
      doc = ParseDocument(index_bytes, media::kOciIndex);
    } catch (const Error& e) {
      throw e.WithContext("image archive: index.json");
    }
    if (!doc.index) {
      Bad("index.json is not an image index");
    }
    for (const Descriptor& desc : doc.index->manifests) {
      if (desc.platform && desc.platform->os != platform_.os && !desc.platform->os.empty()) {
        continue;  // another OS's manifest listed at the top: not for this host
      }
      if (desc.platform && !desc.platform->architecture.empty() &&
          desc.platform->architecture != platform_.architecture) {
        continue;
      }
      std::vector<std::string> names;
      auto full = desc.annotations.find(std::string(kContainerdName));
      auto ref = desc.annotations.find(std::string(kOciRefName));
      if (full != desc.annotations.end()) {
        names.push_back(NormalizeName("index.json", full->second));
      } else if (ref != desc.annotations.end() && !IsValidTag(ref->second)) {
        // A whole reference; a bare tag ("latest") names no repository, so no image name.
        names.push_back(NormalizeName("index.json", ref->second));
      }
      Add(ResolveManifest(desc, 0), names);
    }
  }

  void FromDockerManifest(const std::string& bytes, bool names_only) {
    nlohmann::json doc = ParseJsonFile("manifest.json", bytes);
    if (!doc.is_array()) {
      Bad("manifest.json: not a list of images");
    }
    for (size_t i = 0; i < doc.size(); ++i) {
      const nlohmann::json& entry = doc[i];
      std::string where = "manifest.json[" + std::to_string(i) + "]";
      if (!entry.is_object() || !entry.contains("Config") || !entry["Config"].is_string()) {
        Bad(where + ": no Config");
      }
      std::string config = Blob(where + ".Config", entry["Config"].get<std::string>());
      std::vector<std::string> names;
      if (entry.contains("RepoTags") && entry["RepoTags"].is_array()) {
        for (const auto& tag : entry["RepoTags"]) {
          if (!tag.is_string()) {
            Bad(where + ".RepoTags: not a string");
          }
          names.push_back(NormalizeName(where, tag.get<std::string>()));
        }
      }
      if (names_only) {
        // Docker 25's hybrid: the images came from index.json; this adds their tags.
        for (ArchiveImage& image : images_) {
          if (image.config_digest == config) {
            AddNames(image, names);
          }
        }
        continue;
      }
      if (!entry.contains("Layers") || !entry["Layers"].is_array()) {
        Bad(where + ": no Layers");
      }
      std::vector<Descriptor> layers;
      for (size_t l = 0; l < entry["Layers"].size(); ++l) {
        const auto& layer = entry["Layers"][l];
        if (!layer.is_string()) {
          Bad(where + ".Layers[" + std::to_string(l) + "]: not a string");
        }
        layers.push_back(LayerDescriptor(
            store_, Blob(where + ".Layers[" + std::to_string(l) + "]", layer.get<std::string>())));
      }
      int64_t config_size = static_cast<int64_t>(store_.Size(config).value_or(0));
      std::string bytes_out = MakeManifest(config, config_size, layers);
      ContentStore::Writer writer = store_.Ingest();
      writer.Write(bytes_out);
      std::string digest = writer.Commit();
      if (writer.created()) {
        scan_.added().push_back(digest);
      }
      Descriptor desc;
      desc.media_type = media::kOciManifest;
      desc.digest = digest;
      desc.size = static_cast<int64_t>(bytes_out.size());
      Add(ResolveManifest(desc, 0), names);
    }
  }

  std::vector<ArchiveImage>& images() { return images_; }

 private:
  std::string Blob(const std::string& where, const std::string& path) {
    std::optional<std::string> digest = scan_.Lookup(CleanName(path));
    if (!digest) {
      Bad(where + ": \"" + path + "\" is not in the archive");
    }
    return *digest;
  }

  std::string ReadDocument(const Descriptor& desc) {
    if (!store_.Has(desc.digest)) {
      Bad("blob " + desc.digest + " is not in the archive");
    }
    std::optional<uint64_t> size = store_.Size(desc.digest);
    if (size && desc.size != 0 && static_cast<int64_t>(*size) != desc.size) {
      Bad("blob " + desc.digest + " has " + std::to_string(*size) + " bytes, its descriptor says " +
          std::to_string(desc.size));
    }
    return store_.Read(desc.digest, kMaxDocumentSize);
  }

  std::pair<Descriptor, Manifest> ResolveManifest(Descriptor desc, int depth) {
    if (depth > kMaxIndexDepth) {
      Bad("indexes nested deeper than " + std::to_string(kMaxIndexDepth));
    }
    std::string bytes = ReadDocument(desc);
    Document doc;
    try {
      doc = ParseDocument(bytes, desc.media_type);
    } catch (const Error& e) {
      throw e.WithContext("image archive: " + desc.digest);
    }
    if (doc.index) {
      const Descriptor* chosen = SelectPlatform(*doc.index, platform_);
      if (chosen == nullptr) {
        Bad("index " + desc.digest + " has no image for " + platform_.String());
      }
      return ResolveManifest(*chosen, depth + 1);
    }
    Manifest manifest = *doc.manifest;
    ReadDocument(manifest.config);
    ImageConfig config;
    try {
      config = ParseImageConfig(store_.Read(manifest.config.digest, kMaxDocumentSize));
    } catch (const Error& e) {
      throw e.WithContext("image archive: config " + manifest.config.digest);
    }
    if (config.diff_ids.size() != manifest.layers.size()) {
      Bad("manifest " + desc.digest + " has " + std::to_string(manifest.layers.size()) +
          " layers but its config lists " + std::to_string(config.diff_ids.size()));
    }
    for (const Descriptor& layer : manifest.layers) {
      std::optional<uint64_t> size = store_.Size(layer.digest);
      if (!size) {
        Bad("layer " + layer.digest + " is not in the archive");
      }
      if (layer.size != 0 && static_cast<int64_t>(*size) != layer.size) {
        Bad("layer " + layer.digest + " has " + std::to_string(*size) +
            " bytes, the manifest says " + std::to_string(layer.size));
      }
    }
    return {desc, std::move(manifest)};
  }

  void Add(std::pair<Descriptor, Manifest> found, const std::vector<std::string>& names) {
    for (ArchiveImage& image : images_) {
      if (image.manifest_digest == found.first.digest) {
        AddNames(image, names);
        return;
      }
    }
    ArchiveImage image;
    image.manifest_digest = found.first.digest;
    image.config_digest = found.second.config.digest;
    image.manifest = std::move(found.second);
    AddNames(image, names);
    images_.push_back(std::move(image));
  }

  static void AddNames(ArchiveImage& image, const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      if (std::find(image.names.begin(), image.names.end(), name) == image.names.end()) {
        image.names.push_back(name);
      }
    }
  }

  ArchiveScan& scan_;
  const ContentStore& store_;
  const Platform& platform_;
  std::vector<ArchiveImage> images_;
};

}  // namespace

std::string MakeManifest(const std::string& config_digest, int64_t config_size,
                         const std::vector<Descriptor>& layers) {
  ordered_json doc;
  doc["schemaVersion"] = 2;
  doc["mediaType"] = media::kOciManifest;
  doc["config"] = {
      {"mediaType", media::kOciConfig}, {"digest", config_digest}, {"size", config_size}};
  doc["layers"] = ordered_json::array();
  for (const Descriptor& layer : layers) {
    doc["layers"].push_back(
        {{"mediaType", layer.media_type}, {"digest", layer.digest}, {"size", layer.size}});
  }
  return doc.dump();
}

Compression DetectCompression(const ContentStore& store, const std::string& digest) {
  UniqueFd fd(open(store.PathOf(digest).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    ThrowErrno("open blob " + digest);
  }
  unsigned char head[4] = {};
  ssize_t n = pread(fd.get(), head, sizeof(head), 0);
  if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
    return Compression::kGzip;
  }
  if (n >= 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd) {
    return Compression::kZstd;
  }
  return Compression::kNone;
}

Descriptor LayerDescriptor(const ContentStore& store, const std::string& digest) {
  Descriptor d;
  d.digest = digest;
  d.size = static_cast<int64_t>(store.Size(digest).value_or(0));
  switch (DetectCompression(store, digest)) {
    case Compression::kNone:
      d.media_type = media::kOciLayer;
      break;
    case Compression::kGzip:
      d.media_type = media::kOciLayerGzip;
      break;
    case Compression::kZstd:
      d.media_type = media::kOciLayerZstd;
      break;
  }
  return d;
}

ArchiveContents ReadImageArchive(const ReadFn& read, const ContentStore& store,
                                 const Platform& platform, const ProgressFn& progress) {
  ArchiveScan scan(store, progress);
  try {
    scan.Run(read);
    ImageCollector collector(scan, store, platform);
    const auto& index = scan.file("index.json");
    const auto& manifest = scan.file("manifest.json");
    if (index) {
      if (const auto& layout = scan.file("oci-layout"); layout) {
        nlohmann::json doc = ParseJsonFile("oci-layout", *layout);
        if (!doc.is_object() || !doc.contains("imageLayoutVersion") ||
            !doc["imageLayoutVersion"].is_string() ||
            doc["imageLayoutVersion"].get<std::string>().rfind("1.", 0) != 0) {
          Bad("oci-layout: unsupported imageLayoutVersion");
        }
      }
      collector.FromIndex(*index);
      if (manifest) {
        collector.FromDockerManifest(*manifest, /*names_only=*/true);
      }
    } else if (manifest) {
      collector.FromDockerManifest(*manifest, /*names_only=*/false);
    } else {
      Bad("neither manifest.json nor index.json found: not a docker-save or OCI layout archive");
    }
    if (collector.images().empty()) {
      Bad("no image for " + platform.String());
    }
    ArchiveContents contents;
    contents.images = std::move(collector.images());
    // Blobs the archive carried that no image uses are not kept.
    std::set<std::string> used;
    for (const ArchiveImage& image : contents.images) {
      used.insert(image.manifest_digest);
      used.insert(image.manifest.config.digest);
      for (const Descriptor& layer : image.manifest.layers) {
        used.insert(layer.digest);
      }
    }
    for (const std::string& digest : scan.added()) {
      if (used.count(digest) != 0) {
        contents.added.push_back(digest);
      } else {
        store.Delete(digest);
      }
    }
    return contents;
  } catch (...) {
    for (const std::string& digest : scan.added()) {
      store.Delete(digest);
    }
    throw;
  }
}

namespace {

struct WriteContext {
  const WriteFn* write;
  std::string error;
};

la_ssize_t WriteCallback(struct archive*, void* data, const void* buf, size_t size) {
  auto* ctx = static_cast<WriteContext*>(data);
  try {
    (*ctx->write)(buf, size);
    return static_cast<la_ssize_t>(size);
  } catch (const std::exception& e) {
    ctx->error = e.what();
    return -1;
  }
}

class TarWriter {
 public:
  explicit TarWriter(const WriteFn& write) : ctx_{&write, {}}, a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_.get());
    archive_write_set_bytes_in_last_block(a_.get(), 1);
    if (archive_write_open(a_.get(), &ctx_, nullptr, WriteCallback, nullptr) != ARCHIVE_OK) {
      Fail("start");
    }
  }

  void Directory(const std::string& name) { Header(name, AE_IFDIR, 0755, 0); }

  void File(const std::string& name, std::string_view data) {
    Header(name, AE_IFREG, 0644, data.size());
    Data(data.data(), data.size());
  }

  void Blob(const ContentStore& store, const std::string& digest) {
    std::string path = store.PathOf(digest);
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      ThrowErrno("open blob " + digest);
    }
    struct stat st;
    if (fstat(fd.get(), &st) < 0) {
      ThrowErrno("stat blob " + digest);
    }
    Header("blobs/sha256/" + digest.substr(7), AE_IFREG, 0644, static_cast<uint64_t>(st.st_size));
    std::vector<char> buf(kChunk);
    uint64_t left = static_cast<uint64_t>(st.st_size);
    while (left > 0) {
      ssize_t n = read(fd.get(), buf.data(), std::min<uint64_t>(buf.size(), left));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        ThrowErrno("read blob " + digest);
      }
      Data(buf.data(), static_cast<size_t>(n));
      left -= static_cast<uint64_t>(n);
    }
  }

  void Close() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) {
      Fail("finish");
    }
  }

 private:
  struct EntryFree {
    void operator()(struct archive_entry* e) const { archive_entry_free(e); }
  };

  void Header(const std::string& name, mode_t type, mode_t perm, uint64_t size) {
    std::unique_ptr<struct archive_entry, EntryFree> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), perm);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    archive_entry_set_mtime(e.get(), 0, 0);
    archive_entry_set_uid(e.get(), 0);
    archive_entry_set_gid(e.get(), 0);
    if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) {
      Fail("write " + name);
    }
  }

  void Data(const void* data, size_t size) {
    if (size > 0 && archive_write_data(a_.get(), data, size) != static_cast<la_ssize_t>(size)) {
      Fail("write data");
    }
  }

  [[noreturn]] void Fail(const std::string& what) {
    if (!ctx_.error.empty()) {
      throw Error(Kind::kUnavailable, "save: " + ctx_.error);
    }
    const char* detail = archive_error_string(a_.get());
    throw Error(Kind::kInternal,
                "save: " + what + (detail != nullptr ? std::string(": ") + detail : ""));
  }

  WriteContext ctx_;
  std::unique_ptr<struct archive, ArchiveFree> a_;
};

}  // namespace

void WriteImageArchive(const std::vector<SaveImage>& images, const ContentStore& store,
                       ArchiveFormat format, const WriteFn& write) {
  // Every document first: a save fails before it writes anything when one is missing.
  std::vector<Manifest> manifests;
  std::set<std::string> blobs;
  for (const SaveImage& image : images) {
    manifests.push_back(ParseManifest(store.Read(image.manifest_digest, kMaxDocumentSize)));
    blobs.insert(image.manifest_digest);
    blobs.insert(manifests.back().config.digest);
    for (const Descriptor& layer : manifests.back().layers) {
      blobs.insert(layer.digest);
    }
  }
  for (const std::string& digest : blobs) {
    if (!store.Has(digest)) {
      ThrowNotFound("save: blob " + digest + " is missing from the content store");
    }
  }

  ordered_json index;
  index["schemaVersion"] = 2;
  index["mediaType"] = media::kOciIndex;
  index["manifests"] = ordered_json::array();
  ordered_json docker_manifest = ordered_json::array();
  ordered_json repositories = ordered_json::object();
  for (size_t i = 0; i < images.size(); ++i) {
    const SaveImage& image = images[i];
    const Manifest& manifest = manifests[i];
    ordered_json desc;
    desc["mediaType"] = manifest.media_type;
    desc["digest"] = image.manifest_digest;
    desc["size"] = store.Size(image.manifest_digest).value_or(0);
    ordered_json repo_tags = ordered_json::array();
    for (const std::string& name : image.names) {
      Reference ref = ParseReference(name);
      ordered_json named = desc;
      named["annotations"] = {{std::string(kContainerdName), ref.String()},
                              {std::string(kOciRefName), ref.tag}};
      index["manifests"].push_back(std::move(named));
      repo_tags.push_back(ref.Familiar());
      if (!manifest.layers.empty()) {
        repositories[ref.FamiliarName()][ref.tag] = manifest.layers.back().digest.substr(7);
      }
    }
    if (image.names.empty()) {
      index["manifests"].push_back(desc);
    }
    ordered_json entry;
    entry["Config"] = "blobs/sha256/" + manifest.config.digest.substr(7);
    entry["RepoTags"] = image.names.empty() ? ordered_json(nullptr) : repo_tags;
    entry["Layers"] = ordered_json::array();
    for (const Descriptor& layer : manifest.layers) {
      entry["Layers"].push_back("blobs/sha256/" + layer.digest.substr(7));
    }
    docker_manifest.push_back(std::move(entry));
  }

  TarWriter tar(write);
  tar.Directory("blobs");
  tar.Directory("blobs/sha256");
  for (const std::string& digest : blobs) {
    tar.Blob(store, digest);
  }
  tar.File("index.json", index.dump());
  if (format == ArchiveFormat::kDocker) {
    tar.File("manifest.json", docker_manifest.dump());
  }
  tar.File("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  if (format == ArchiveFormat::kDocker) {
    tar.File("repositories", repositories.dump());
  }
  tar.Close();
}

}  // namespace berth::image

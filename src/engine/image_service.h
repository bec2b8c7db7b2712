#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/db.h"
#include "image/archive.h"
#include "image/content_store.h"
#include "image/snapshot.h"
#include "registry/client.h"

// The daemon's images: names and metadata in SQLite, bytes in the content store, layers in
// snapshots. Every operation returns what the Engine API answers (Docker's JSON shapes), so
// the HTTP layer only routes. berthd is the only writer (DESIGN.md).

namespace berth::engine {

// Filters as the API decodes them: {"dangling": ["true"], "label": ["a=b"]}.
using Filters = std::map<std::string, std::vector<std::string>>;

// One line of a load's progress or outcome, as the API streams it.
using MessageFn = std::function<void(const nlohmann::json& message)>;

struct ImportOptions {
  std::string repo;                  // "" for an untagged image
  std::string tag;                   // "" means latest
  std::vector<std::string> changes;  // Dockerfile instructions: CMD, ENV, ...
  std::string message;               // the history entry's comment
};

// The daemon config's registry settings (dockerd's daemon.json names).
struct RegistryOptions {
  std::vector<std::string> insecure;  // insecure-registries: host, host:port or IPv4 CIDR
  std::vector<std::string> mirrors;   // registry-mirrors: URLs tried for docker.io images
  int max_concurrent_downloads = 3;   // layers fetched at once per pull
  int max_concurrent_uploads = 5;     // layers pushed at once per push
  uint64_t push_chunk_size = 0;       // 0: one PUT per blob; else PATCH chunks of this size
};

struct PullOptions {
  std::string from_image;  // fromImage: a name, possibly with a tag or digest
  std::string tag;         // tag: a tag or a digest; empty with no tag in from_image: all tags
  std::string platform;    // "os/arch[/variant]"; empty: this host's
  registry::AuthConfig auth;
};

// A container's changes as a new image (POST /commit).
struct CommitOptions {
  std::string repo;                  // "" for an untagged image
  std::string tag;                   // "" means latest
  nlohmann::json config;             // the new image's "config" (before `changes`)
  std::vector<std::string> changes;  // Dockerfile instructions: CMD, ENV, ...
  std::string comment;               // the history entry's and the image's comment
  std::string author;
  std::string container_id;
  std::string created_by;  // the history entry's command: the container's
};

// One step of a build (src/engine/builder.h).
struct BuildStep {
  nlohmann::json config;     // the new image's whole "config" (Cmd, Env, ...)
  std::string created_by;    // its history entry: "/bin/sh -c #(nop)  ENV A=b", ...
  std::string container_id;  // the container that ran the step, if one did
  std::string cache_key;     // recorded in the build cache when not ""
};

class ImageService {
 public:
  // `root` is berthd's --root: berth.db, content/ and snapshots/ live there.
  explicit ImageService(const std::string& root);

  nlohmann::json List(bool all, const Filters& filters);
  nlohmann::json Inspect(const std::string& name);
  nlohmann::json History(const std::string& name);
  void Tag(const std::string& name, const std::string& repo, const std::string& tag);
  nlohmann::json Remove(const std::string& name, bool force, bool noprune);
  nlohmann::json Prune(const Filters& filters);

  // Loads an archive from `read`; `message` receives the progress (unless quiet) and one
  // {"stream":"Loaded image: …\n"} per name. On failure the store is as before.
  void Load(const image::ReadFn& read, bool quiet, const MessageFn& message);
  // The images `names` name, as one archive.
  void Save(const std::vector<std::string>& names, image::ArchiveFormat format,
            const image::WriteFn& write);
  // A root filesystem tar as a one-layer image; returns its ID.
  std::string Import(const image::ReadFn& read, const ImportOptions& options);
  // The image `parent_id` plus one layer, the uncompressed tar `write_layer` writes to the
  // function it is given (a container's changes, straight into the content store); returns
  // the new image's ID.
  std::string Commit(const std::string& parent_id,
                     const std::function<void(const image::WriteFn&)>& write_layer,
                     const CommitOptions& options);

  // Build steps: the image `parent_id` ("" = scratch) with `step.config`, plus the layer
  // `write_layer` writes (none when it is empty: an empty_layer history entry). The image is
  // an intermediate one (hidden from `images` without -a, left alone by `image prune`) and
  // the result of `step.cache_key`. Returns its ID.
  std::string AddBuildStep(const std::string& parent_id,
                           const std::function<void(const image::WriteFn&)>& write_layer,
                           const BuildStep& step);
  // The image an earlier step with this cache key made, if it is still there.
  std::optional<std::string> CachedBuildStep(const std::string& key);
  // A build's result: listed from now on, and tagged with `names` (familiar or full). Returns
  // Docker's "renaming the old one" notes for names that moved.
  std::vector<std::string> FinishBuild(const std::string& id,
                                       const std::vector<std::string>& names);
  // `builder prune`: intermediate images no container uses and no name holds; `all` also
  // forgets every cache key. {"CachesDeleted": [...], "SpaceReclaimed": N}.
  nlohmann::json PruneBuildCache(bool all);

  // Pulls from a registry (image_pull.cc): layers fetched in parallel and unpacked while they
  // download, every digest checked; `message` receives Docker's progress stream. Errors
  // thrown before the first message (a missing tag: kNotFound) come before any streaming.
  void Pull(const PullOptions& options, const MessageFn& message);
  // Pushes the image `name` (with `tag`, or every tag of its repository when none).
  void Push(const std::string& name, const std::string& tag, const registry::AuthConfig& auth,
            const MessageFn& message);
  // POST /auth: checks the credentials against the registry; Docker's answer.
  nlohmann::json Login(const registry::AuthConfig& auth);
  void SetRegistryOptions(RegistryOptions options) { registry_ = std::move(options); }

  nlohmann::json DiskUsage();
  // Verifies the store (every blob matches its digest, every name has its image, every image
  // its blobs and snapshots, no snapshot that no image uses). Returns {"Problems":[…]}.
  nlohmann::json Check();

  // The image ID `name` refers to (a name, a full or short ID), or kNotFound.
  std::string Resolve(const std::string& name);
  // The bytes an image's layers take (0 for an unknown ID).
  int64_t Size(const std::string& image_id);
  // The chain IDs of an image's layers, bottom first (for mounting a rootfs).
  std::vector<std::string> ChainIds(const std::string& image_id);
  const image::Snapshots& snapshots() const { return snapshots_; }
  // Who tells which image IDs containers use: those are not deleted (rmi -f only untags
  // them, prune skips them), so their layers stay for the containers' rootfs.
  void SetImagesInUse(std::function<std::vector<std::string>()> in_use) {
    in_use_ = std::move(in_use);
  }
  const image::ContentStore& content() const { return content_; }

 private:
  struct ImageRow {
    std::string id;
    std::string manifest;
    int64_t created = 0;
    int64_t size = 0;
    std::vector<std::string> names;  // full references
    bool intermediate = false;       // a build step's image (build_cache)
  };

  struct NewImage {
    nlohmann::json config;
    std::vector<std::string> names;  // full references
    std::string container_id, author, comment, created_by, cache_key;
    bool empty_layer = false;
    bool intermediate = false;
  };
  std::string AddImage(const std::string& parent_id,
                       const std::function<void(const image::WriteFn&)>& write_layer,
                       const NewImage& n);

  std::vector<ImageRow> Rows();
  std::optional<ImageRow> Row(const std::string& id);
  image::Manifest ReadManifest(const std::string& manifest_digest) const;
  image::ImageConfig ReadConfig(const image::Manifest& manifest) const;
  // Unpacks an image's layers that are not unpacked yet; returns the image's size.
  int64_t Unpack(const image::Manifest& manifest, const image::ImageConfig& config);
  // Records an image and points `names` at it; returns one message per name moved off
  // another image.
  std::vector<std::string> Record(const std::string& manifest_digest, const std::string& id,
                                  int64_t created, int64_t size,
                                  const std::vector<std::string>& names);
  // Removes every blob and snapshot no image refers to; returns the chain IDs removed and
  // the bytes freed.
  std::pair<std::vector<std::string>, uint64_t> CollectGarbage();
  nlohmann::json Summary(const ImageRow& row);
  // Pull and push, one reference each (image_pull.cc).
  struct Source;
  void PullOne(Source& source, const std::string& reference, const std::string& display,
               const image::Platform& platform, const MessageFn& message);
  void PullLayers(Source& source, const image::Manifest& manifest, const image::ImageConfig& config,
                  const MessageFn& message);
  void PushOne(registry::DistributionClient& client, const std::string& repo,
               const std::string& name, const std::string& tag, const MessageFn& message);
  void RecordLayerSize(const std::string& chain_id, int64_t size);
  bool InUse(const std::string& id);

  image::ContentStore content_;
  image::Snapshots snapshots_;
  // Writers (load, import, tag, remove, prune, check) hold write_mu_ throughout, so a
  // garbage collection never sees half a load; pulls hold it shared, so that several run side
  // by side (what they write goes in by atomic renames, and only a collection, which waits for
  // them, removes anything). Every use of the one SQLite connection holds db_mu_ (briefly:
  // readers are not held up by a long load).
  std::shared_mutex write_mu_;
  std::mutex db_mu_;
  Db db_;
  std::function<std::vector<std::string>()> in_use_;
  RegistryOptions registry_;
};

// RFC 3339 ("2026-11-28T16:40:54.246968785Z", "…+02:00") to unix seconds; nullopt if not.
std::optional<int64_t> ParseRfc3339(const std::string& text);
// Unix seconds to RFC 3339 UTC with nanoseconds omitted ("2026-11-28T16:40:54Z").
std::string FormatRfc3339(int64_t seconds);

}  // namespace berth::engine

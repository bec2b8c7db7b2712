// Pull and push: the engine's side of the registry client (DistributionClient). A pull
// fetches the manifest (the host's platform out of an index), the config, then the layers on
// `max_concurrent_downloads` threads; each layer's bytes go to the content store (hashed,
// committed only when its digest checks out) and, through a ByteRing, to the snapshot
// unpack running beside the download, which renames the snapshot into place only when its
// diffID matches the config.

#include <unistd.h>

#include <fcntl.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <exception>
#include <shared_mutex>
#include <thread>

#include "base/byte_ring.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/log.h"
#include "engine/image_service.h"
#include "engine/progress.h"
#include "image/reference.h"

namespace berth::engine {

namespace {

using nlohmann::json;

constexpr uint64_t kProgressStep = 512 << 10;  // a Downloading/Pushing message every 512 KiB
// A layer's bytes between its download and its unpack.
constexpr size_t kUnpackRing = 4 << 20;
// Layers from this size on are unpacked while they download.
constexpr uint64_t kStreamUnpackFrom = 1 << 20;

std::string ShortDigest(const std::string& digest) {
  size_t colon = digest.find(':');
  return digest.substr(colon == std::string::npos ? 0 : colon + 1, 12);
}

image::Platform ParsePlatform(const std::string& text) {
  if (text.empty()) {
    return image::HostPlatform();
  }
  image::Platform p;
  size_t a = text.find('/');
  if (a == std::string::npos) {
    ThrowInvalid("invalid platform \"" + text + "\": want os/arch[/variant]");
  }
  p.os = text.substr(0, a);
  size_t b = text.find('/', a + 1);
  p.architecture = text.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
  if (b != std::string::npos) {
    p.variant = text.substr(b + 1);
  }
  if (p.os.empty() || p.architecture.empty()) {
    ThrowInvalid("invalid platform \"" + text + "\": want os/arch[/variant]");
  }
  return p;
}

// A mirror's URL ("http://10.0.0.5:5000/") as a host and whether plain HTTP is meant.
std::pair<std::string, bool> MirrorHost(std::string url) {
  bool plain = url.rfind("http://", 0) == 0;
  size_t scheme = url.find("://");
  if (scheme != std::string::npos) {
    url = url.substr(scheme + 3);
  }
  url = url.substr(0, url.find('/'));
  return {url, plain};
}

// Messages from several download threads go out one at a time.
class SerialMessages {
 public:
  explicit SerialMessages(const MessageFn& message) : message_(message) {}
  void operator()(const json& m) {
    std::lock_guard lock(mu_);
    message_(m);
  }

 private:
  const MessageFn& message_;
  std::mutex mu_;
};

}  // namespace

struct ImageService::Source {
  std::unique_ptr<registry::DistributionClient> client;
  std::string repo;  // path in the registry ("library/busybox")
  std::string name;  // the image's full name without tag ("docker.io/library/busybox")
};

void ImageService::RecordLayerSize(const std::string& chain_id, int64_t size) {
  std::lock_guard lock(db_mu_);
  db_.Prepare("INSERT OR REPLACE INTO layers (chain_id, size) VALUES (?1, ?2)")
      .Bind(1, chain_id)
      .Bind(2, size)
      .Run();
}

void ImageService::Pull(const PullOptions& options, const MessageFn& message) {
  std::string text = options.from_image;
  if (!options.tag.empty()) {
    text += (options.tag.find(':') != std::string::npos ? "@" : ":") + options.tag;
  }
  image::Reference ref = image::ParseReference(text);
  image::Platform platform = ParsePlatform(options.platform);

  // Where to pull from: the registry the name says; for docker.io the configured mirrors.
  std::vector<std::pair<std::string, bool>> hosts;
  if (ref.domain == "docker.io") {
    for (const std::string& mirror : registry_.mirrors) {
      auto [host, plain] = MirrorHost(mirror);
      hosts.emplace_back(host, plain || registry::AllowsPlainHttp(host, registry_.insecure));
    }
    if (hosts.empty()) {
      throw Error(Kind::kUnavailable,
                  "pull " + ref.Familiar() +
                      ": no registry-mirrors configured for docker.io (Berth does not reach "
                      "public registries by itself; name a registry host in the image name)");
    }
  } else {
    hosts.emplace_back(ref.domain, registry::AllowsPlainHttp(ref.domain, registry_.insecure));
  }

  std::shared_lock ingest(write_mu_);
  for (size_t h = 0; h < hosts.size(); ++h) {
    Source source;
    source.client = std::make_unique<registry::DistributionClient>(hosts[h].first, hosts[h].second,
                                                                   options.auth);
    source.client->AddScope(registry::RepositoryScope(ref.path, false));
    source.repo = ref.path;
    source.name = ref.Name();
    try {
      if (!ref.digest.empty() || !ref.tag.empty()) {
        std::string reference = ref.digest.empty() ? ref.tag : ref.digest;
        PullOne(source, reference, ref.Familiar(), platform, message);
      } else {
        std::vector<std::string> tags = source.client->ListTags(source.repo);
        if (tags.empty()) {
          ThrowNotFound("no tags in " + ref.Familiar());
        }
        for (const std::string& tag : tags) {
          PullOne(source, tag, "", platform, message);
        }
        message(StatusMessage("Status: Downloaded newer image for " + ref.FamiliarName()));
      }
      return;
    } catch (const Error& e) {
      // A mirror that fails gives way to the next one.
      if (h + 1 == hosts.size()) {
        // What this pull stored and no image names goes; the collection waits for the
        // other pulls under way, whose blobs are not named yet either.
        ingest.unlock();
        std::lock_guard write(write_mu_);
        CollectGarbage();
        throw;
      }
      log::Warn(std::string("pull from mirror ") + hosts[h].first + ": " + e.what());
    }
  }
}

void ImageService::PullOne(Source& source, const std::string& reference, const std::string& display,
                           const image::Platform& platform, const MessageFn& message) {
  registry::DistributionClient& client = *source.client;
  bool by_digest = reference.rfind("sha256:", 0) == 0;
  registry::FetchedManifest top = client.GetManifest(source.repo, reference);
  image::Document doc = image::ParseDocument(top.bytes, top.media_type);
  registry::FetchedManifest chosen = top;
  if (doc.index) {
    const image::Descriptor* d = image::SelectPlatform(*doc.index, platform);
    if (d == nullptr) {
      ThrowNotFound("no matching manifest for " + platform.String() +
                    " in the manifest list entries");
    }
    chosen = client.GetManifest(source.repo, d->digest);
    doc = image::ParseDocument(chosen.bytes, chosen.media_type);
    if (!doc.manifest) {
      ThrowInvalid("manifest " + d->digest + " of " + source.name + " is not an image manifest");
    }
  }
  const image::Manifest& manifest = *doc.manifest;

  // From here on the answer streams.
  SerialMessages send(message);
  send(StatusMessage("Pulling from " + source.repo, reference));

  // The config: small, fetched whole, checked, stored.
  std::string config_bytes;
  if (content_.Has(manifest.config.digest)) {
    config_bytes = content_.Read(manifest.config.digest, image::kMaxDocumentSize);
  } else {
    client.GetBlob(source.repo, manifest.config.digest, [&](const char* data, size_t len) {
      if (config_bytes.size() + len > image::kMaxDocumentSize) {
        return false;
      }
      config_bytes.append(data, len);
      return true;
    });
    content_.Put(config_bytes, manifest.config.digest);
  }
  image::ImageConfig config = image::ParseImageConfig(config_bytes);
  if (config.diff_ids.size() != manifest.layers.size()) {
    ThrowInvalid("image " + source.name + ": the config names " +
                 std::to_string(config.diff_ids.size()) + " layers, the manifest " +
                 std::to_string(manifest.layers.size()));
  }
  bool had_image = Row(manifest.config.digest).has_value();
  PullLayers(source, manifest, config, [&send](const json& m) { send(m); });

  // Both documents stored (the index too: its digest is the name's RepoDigest).
  content_.Put(chosen.bytes, chosen.digest);
  content_.Put(top.bytes, top.digest);
  content_.SyncAll();
  snapshots_.SyncAll();
  int64_t size = 0;
  for (const std::string& chain : image::ChainIds(config.diff_ids)) {
    std::lock_guard lock(db_mu_);
    Statement q = db_.Prepare("SELECT size FROM layers WHERE chain_id = ?1");
    q.Bind(1, chain);
    if (q.Step()) {
      size += q.Int(0);
    }
  }
  int64_t created = 0;
  if (config.raw.contains("created") && config.raw["created"].is_string()) {
    created = ParseRfc3339(config.raw["created"].get<std::string>()).value_or(0);
  }
  std::vector<std::string> names = {source.name + "@" + top.digest};
  if (!by_digest) {
    names.push_back(source.name + ":" + reference);
  }
  bool moved = false;
  {
    std::lock_guard lock(db_mu_);
    for (const std::string& n : names) {
      Statement q = db_.Prepare("SELECT image FROM names WHERE name = ?1");
      q.Bind(1, n);
      moved = moved || !q.Step() || q.Text(0) != manifest.config.digest;
    }
  }
  Record(chosen.digest, manifest.config.digest, created, size, names);
  send(StatusMessage("Digest: " + top.digest));
  if (!display.empty()) {
    send(StatusMessage(std::string(had_image && !moved ? "Status: Image is up to date for "
                                                       : "Status: Downloaded newer image for ") +
                       display));
  }
}

void ImageService::PullLayers(Source& source, const image::Manifest& manifest,
                              const image::ImageConfig& config, const MessageFn& send) {
  std::vector<std::string> chain = image::ChainIds(config.diff_ids);
  std::deque<size_t> queue;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    std::string id = ShortDigest(manifest.layers[i].digest);
    if (content_.Has(manifest.layers[i].digest) && snapshots_.Has(chain[i])) {
      send(StatusMessage("Already exists", id));
      continue;
    }
    send(StatusMessage("Pulling fs layer", id));
    queue.push_back(i);
  }
  size_t workers = std::min<size_t>(
      queue.size(), static_cast<size_t>(std::max(1, registry_.max_concurrent_downloads)));
  for (size_t k = workers; k < queue.size(); ++k) {
    send(StatusMessage("Waiting", ShortDigest(manifest.layers[queue[k]].digest)));
  }
  std::mutex mu;
  std::atomic<bool> failed{false};
  std::exception_ptr error;

  auto pull_layer = [&](size_t i) {
    auto started = std::chrono::steady_clock::now();
    const image::Descriptor& layer = manifest.layers[i];
    std::string id = ShortDigest(layer.digest);
    uint64_t total = static_cast<uint64_t>(layer.size);
    bool need_snapshot = !snapshots_.Has(chain[i]);
    // A small layer is unpacked after its download, from the content store: for it the
    // threads and hand-offs of unpacking beside the download cost more than they save.
    bool have_blob = content_.Has(layer.digest);
    bool stream = need_snapshot && !have_blob && total >= kStreamUnpackFrom;
    std::optional<image::ApplyResult> applied;
    if (!have_blob) {
      image::ContentStore::Writer writer = content_.Ingest();
      writer.set_sync(image::ContentStore::Writer::Sync::kDeferred);
      std::optional<ByteRing> to_unpack;
      std::thread unpacker;
      std::exception_ptr unpack_error;
      if (stream) {
        to_unpack.emplace(kUnpackRing);
        const std::string& chain_id = chain[i];
        const std::string& diff_id = config.diff_ids[i];
        ByteRing* ring = &*to_unpack;
        unpacker = std::thread([this, &applied, &unpack_error, chain_id, diff_id, ring] {
          try {
            // The unpack reads the ring in place, each piece lent until it asks for the next.
            size_t lent = 0;
            auto next = [ring, &lent] {
              ring->Consume(lent);
              std::span<const char> piece = ring->ReadSpan();
              lent = piece.size();
              return piece;
            };
            // The content store's writer hashes the blob: the unpack hashes only the tar.
            applied = snapshots_.Unpack(chain_id, diff_id, next, /*hash_input=*/false);
          } catch (...) {
            unpack_error = std::current_exception();
          }
          // Whatever is still written is not wanted: the download's writes fail at once.
          ring->Stop();
        });
      }
      auto rethrow_unpack_error = [&] {
        try {
          std::rethrow_exception(unpack_error);
        } catch (const Error& e) {
          throw e.WithContext("layer " + layer.digest);
        }
      };
      uint64_t done = 0, reported = 0;
      bool unpack_stopped = false;
      try {
        source.client->GetBlob(source.repo, layer.digest, [&](const char* data, size_t len) {
          if (failed) {
            return false;
          }
          writer.Write(data, len);
          if (stream && !to_unpack->Write(data, len)) {
            // The unpack stops early only on an error, which is the pull's: the rest of the
            // layer is not wanted (a bad tar at the start of 2 GB fails at once).
            unpack_stopped = true;
            return false;
          }
          done += len;
          if (done - reported >= kProgressStep || done == total) {
            reported = done;
            send(ProgressMessage("Downloading", id, done, total));
          }
          return true;
        });
      } catch (...) {
        if (to_unpack) {
          to_unpack->Close();
        }
        if (unpacker.joinable()) {
          unpacker.join();
        }
        if (unpack_stopped && unpack_error) {
          rethrow_unpack_error();
        }
        throw;
      }
      if (to_unpack) {
        to_unpack->Close();
      }
      log::Debug("pull: layer " + layer.digest + ": " + std::to_string(done) + " bytes in " +
                 std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - started)
                                    .count()) +
                 " ms");
      send(StatusMessage("Verifying Checksum", id));
      try {
        writer.Commit(layer.digest, total);
      } catch (const Error& e) {
        if (unpacker.joinable()) {
          unpacker.join();
        }
        throw e.WithContext("layer " + layer.digest + " from " + source.client->host());
      }
      send(StatusMessage("Download complete", id));
      if (unpacker.joinable()) {
        unpacker.join();
      }
      if (unpack_error) {
        rethrow_unpack_error();
      }
    }
    if (need_snapshot && !stream) {
      UniqueFd fd(open(content_.PathOf(layer.digest).c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) {
        ThrowErrno("open layer " + layer.digest);
      }
      try {
        // Verified as it came in (or when it was stored): the unpack hashes only the tar.
        applied = snapshots_.Unpack(chain[i], config.diff_ids[i], fd.get(), /*hash_input=*/false);
      } catch (const Error& e) {
        throw e.WithContext("layer " + layer.digest);
      }
    }
    if (need_snapshot) {
      uint64_t size = applied ? applied->uncompressed_size : snapshots_.DiskUsage(chain[i]);
      send(ProgressMessage("Extracting", id, total, total));
      RecordLayerSize(chain[i], static_cast<int64_t>(size));
    }
    log::Debug("pull: layer " + layer.digest + " complete after " +
               std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - started)
                                  .count()) +
               " ms");
    send(StatusMessage("Pull complete", id));
  };

  std::vector<std::thread> threads;
  for (size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (;;) {
        size_t i;
        {
          std::lock_guard lock(mu);
          if (queue.empty() || failed) {
            return;
          }
          i = queue.front();
          queue.pop_front();
        }
        try {
          pull_layer(i);
        } catch (...) {
          std::lock_guard lock(mu);
          if (!error) {
            error = std::current_exception();
          }
          failed = true;
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  if (error) {
    std::rethrow_exception(error);
  }
}

void ImageService::Push(const std::string& name, const std::string& tag,
                        const registry::AuthConfig& auth, const MessageFn& message) {
  image::Reference ref = image::ParseReference(name);
  if (!tag.empty()) {
    if (!image::IsValidTag(tag)) {
      ThrowInvalid("invalid tag format: " + tag);
    }
    ref.tag = tag;
    ref.digest.clear();
  }
  if (ref.domain == "docker.io") {
    throw Error(Kind::kUnavailable, "push " + ref.Familiar() +
                                        ": Berth does not push to docker.io; tag the image "
                                        "with a registry host (host:port/name)");
  }
  // Shared, as a pull: no collection removes a blob while it is being sent.
  std::shared_lock reading(write_mu_);
  std::vector<std::string> tags;
  if (!ref.tag.empty()) {
    Resolve(ref.String());  // a missing image is a 404 before anything streams
    tags.push_back(ref.tag);
  } else {
    for (const ImageRow& row : Rows()) {
      for (const std::string& n : row.names) {
        image::Reference r = image::ParseReference(n);
        if (r.Name() == ref.Name() && !r.tag.empty()) {
          tags.push_back(r.tag);
        }
      }
    }
    if (tags.empty()) {
      ThrowNotFound("An image does not exist locally with the tag: " + ref.FamiliarName());
    }
  }
  registry::DistributionClient client(
      ref.domain, registry::AllowsPlainHttp(ref.domain, registry_.insecure), auth);
  client.AddScope(registry::RepositoryScope(ref.path, true));
  message(StatusMessage("The push refers to repository [" + ref.FamiliarName() + "]"));
  for (const std::string& t : tags) {
    PushOne(client, ref.path, ref.Name(), t, message);
  }
}

void ImageService::PushOne(registry::DistributionClient& client, const std::string& repo,
                           const std::string& name, const std::string& tag,
                           const MessageFn& message) {
  std::optional<ImageRow> row = Row(Resolve(name + ":" + tag));
  if (!row) {
    ThrowNotFound("No such image: " + name + ":" + tag);
  }
  std::string manifest_bytes = content_.Read(row->manifest, image::kMaxDocumentSize);
  image::Manifest manifest = image::ParseManifest(manifest_bytes);
  SerialMessages send(message);

  // Repositories of the same registry whose images have a blob: where a mount can come from.
  image::Reference self = image::ParseReference(name);
  std::map<std::string, std::string> mount_from;
  for (const ImageRow& other : Rows()) {
    for (const std::string& n : other.names) {
      image::Reference r = image::ParseReference(n);
      if (r.domain != self.domain || r.path == self.path) {
        continue;
      }
      try {
        image::Manifest m = ReadManifest(other.manifest);
        for (const image::Descriptor& l : m.layers) {
          mount_from.emplace(l.digest, r.path);
        }
      } catch (const Error&) {
      }
    }
  }
  for (const auto& [digest, from] : mount_from) {
    client.AddScope(registry::RepositoryScope(from, false));
  }

  std::vector<image::Descriptor> blobs;
  for (const image::Descriptor& layer : manifest.layers) {
    if (layer.urls.empty()) {  // foreign layers are not pushed
      blobs.push_back(layer);
      send(StatusMessage("Preparing", ShortDigest(layer.digest)));
    }
  }
  std::deque<size_t> queue;
  for (size_t i = 0; i < blobs.size(); ++i) {
    queue.push_back(i);
  }
  size_t workers = std::min<size_t>(
      blobs.size(), static_cast<size_t>(std::max(1, registry_.max_concurrent_uploads)));
  for (size_t k = workers; k < blobs.size(); ++k) {
    send(StatusMessage("Waiting", ShortDigest(blobs[k].digest)));
  }
  auto push_blob = [&](const image::Descriptor& d, bool quiet) {
    std::string id = ShortDigest(d.digest);
    if (client.HasBlob(repo, d.digest)) {
      if (!quiet) send(StatusMessage("Layer already exists", id));
      return;
    }
    auto from = mount_from.find(d.digest);
    if (!quiet && from != mount_from.end() && client.MountBlob(repo, d.digest, from->second)) {
      send(StatusMessage("Mounted from " + from->second, id));
      return;
    }
    UniqueFd fd(open(content_.PathOf(d.digest).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      ThrowErrno("open blob " + d.digest);
    }
    uint64_t total = static_cast<uint64_t>(d.size), reported = 0;
    client.PushBlob(repo, d.digest, total, fd.get(), registry_.push_chunk_size, [&](uint64_t sent) {
      if (!quiet && (sent - reported >= kProgressStep || sent == total)) {
        reported = sent;
        send(ProgressMessage("Pushing", id, sent, total));
      }
    });
    if (!quiet) send(StatusMessage("Pushed", id));
  };
  std::mutex mu;
  std::exception_ptr error;
  std::vector<std::thread> threads;
  for (size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (;;) {
        size_t i;
        {
          std::lock_guard lock(mu);
          if (queue.empty() || error) {
            return;
          }
          i = queue.front();
          queue.pop_front();
        }
        try {
          push_blob(blobs[i], false);
        } catch (...) {
          std::lock_guard lock(mu);
          if (!error) {
            error = std::current_exception();
          }
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  if (error) {
    std::rethrow_exception(error);
  }
  push_blob(manifest.config, true);
  std::string digest = client.PutManifest(repo, tag, manifest_bytes, manifest.media_type);
  Record(row->manifest, row->id, row->created, row->size, {name + "@" + digest});
  send(StatusMessage(tag + ": digest: " + digest +
                     " size: " + std::to_string(manifest_bytes.size())));
  send({{"progressDetail", json::object()},
        {"aux", {{"Tag", tag}, {"Digest", digest}, {"Size", manifest_bytes.size()}}}});
}

json ImageService::Login(const registry::AuthConfig& auth) {
  std::string host = auth.server_address;
  for (const char* prefix : {"https://", "http://"}) {
    if (host.rfind(prefix, 0) == 0) {
      host = host.substr(strlen(prefix));
    }
  }
  host = host.substr(0, host.find('/'));
  if (host.empty() || host == "docker.io" || host == "index.docker.io") {
    throw Error(Kind::kUnavailable,
                "login: name a registry (berth login HOST[:PORT]); Berth does not reach "
                "public registries by itself");
  }
  registry::DistributionClient client(host, registry::AllowsPlainHttp(host, registry_.insecure),
                                      auth);
  client.Login();
  return {{"Status", "Login Succeeded"}, {"IdentityToken", ""}};
}

}  // namespace berth::engine

#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "registry/config.h"
#include "registry/http_client.h"
#include "registry/storage.h"

// The pull-through cache: what a repository lacks is fetched from the upstream registry
// (proxy.remote), verified against its digest and stored as if it had been pushed, then
// served from the store. Upstream auth: Basic, or Bearer tokens from the realm its
// WWW-Authenticate names, with proxy.username/password when set.

namespace berth::registry {

class Upstream {
 public:
  static std::unique_ptr<Upstream> Create(const Config& config, const Storage& storage);
  virtual ~Upstream() = default;
  // The manifest `reference` (tag or digest) of `repo` fetched and stored; nullopt when the
  // upstream does not have it.
  virtual std::optional<ManifestRecord> FetchManifest(const std::string& repo,
                                                      const std::string& reference) = 0;
  // The blob fetched, verified and linked into `repo`; false when the upstream lacks it.
  virtual bool FetchBlob(const std::string& repo, const std::string& digest) = 0;
};

}  // namespace berth::registry

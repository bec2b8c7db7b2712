#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "image/content_store.h"
#include "image/manifest.h"

// Image archives: what `docker save` writes (the classic layout with manifest.json and
// per-layer directories, and Docker 25's OCI layout with manifest.json beside it), and OCI
// image layouts as skopeo and umoci write them. Reading puts every blob into the content
// store, verified; writing streams blobs out of it. Neither touches image names or layers on
// disk: the engine decides what to do with what was read.

namespace berth::image {

// Reads up to `size` bytes into `buf`; 0 at the end. Throws on failure.
using ReadFn = std::function<size_t(void* buf, size_t size)>;
// Writes all of `data` or throws.
using WriteFn = std::function<void(const void* data, size_t size)>;
// Called as a blob streams in: its name in the archive, bytes so far, its size.
using ProgressFn = std::function<void(const std::string& name, uint64_t done, uint64_t total)>;

struct ArchiveImage {
  std::string manifest_digest;  // in the store; synthesized for the classic layout
  Manifest manifest;
  std::string config_digest;       // the image ID
  std::vector<std::string> names;  // full references ("docker.io/library/busybox:latest")
};

struct ArchiveContents {
  std::vector<ArchiveImage> images;
  // Blobs this read put into the store that were not there before (the caller removes them
  // if it gives up, so a failed load leaves the store as it was).
  std::vector<std::string> added;
};

// Reads an image archive (tar, optionally gzip/zstd/xz/bzip2 compressed) from `read`. Where
// an index lists several platforms, `platform`'s manifest is taken. Throws kInvalidArgument
// naming the archive member or document at fault; blobs already added are then removed.
// Blobs are written without waiting for the disk: call store.SyncAll() before recording
// anything that refers to them.
ArchiveContents ReadImageArchive(const ReadFn& read, const ContentStore& store,
                                 const Platform& platform, const ProgressFn& progress = {});

enum class ArchiveFormat {
  kDocker,  // OCI layout plus manifest.json and repositories: loads in docker 20.10+, podman
  kOci,     // OCI image layout only
};

struct SaveImage {
  std::string manifest_digest;
  std::vector<std::string> names;  // full references with a tag; may be empty
};

// Writes the images as one tar to `write`. Entries are in a fixed order with zero times and
// owners, so the same images give the same bytes.
void WriteImageArchive(const std::vector<SaveImage>& images, const ContentStore& store,
                       ArchiveFormat format, const WriteFn& write);

// The manifest Berth makes for a config and layers that came without one (the classic
// docker-save layout, import, commit): OCI media types, layers typed by their compression.
std::string MakeManifest(const std::string& config_digest, int64_t config_size,
                         const std::vector<Descriptor>& layers);

// The compression a blob starts with (gzip, zstd, else none).
Compression DetectCompression(const ContentStore& store, const std::string& digest);

// The descriptor of a stored layer blob, its OCI media type chosen by DetectCompression.
Descriptor LayerDescriptor(const ContentStore& store, const std::string& digest);

}  // namespace berth::image

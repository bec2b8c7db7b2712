#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "image/manifest.h"

// Layer apply: a layer tar, uncompressed or gzip or zstd (told apart by its first bytes), is
// decompressed and unpacked in one streaming pass that also computes the layer's digest (of
// the bytes as read) and its diffID (of the uncompressed tar). Every entry is placed inside
// the target root the way the kernel would resolve it after a chroot there: names that climb
// out with `..` are refused, and symlinks in the target (absolute or not) cannot lead out.
namespace berth::image {

enum class WhiteoutMode {
  // Keep whiteouts as overlayfs reads them: `.wh.NAME` becomes a 0:0 character device NAME,
  // `.wh..wh..opq` the xattr trusted.overlay.opaque=y on its directory. For a layer unpacked
  // into a snapshot of its own, stacked by overlayfs.
  kOverlay,
  // Carry them out: remove what they hide from the target (a flat rootfs being built).
  kApply,
};

struct ApplyResult {
  std::string digest;   // sha256 of the bytes read (the compressed blob)
  std::string diff_id;  // sha256 of the uncompressed tar
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t entries = 0;
};

// Unpacks the layer read from `in_fd` into the existing directory `root`. Throws
// berth::Error naming the entry on anything unsafe or malformed (a `..` name, a hard link
// to a missing or outside file, corrupt or truncated compression, a tar that is not one).
// xattrs from the tar are kept for user.* and security.capability; trusted.* (overlayfs's
// own, which a layer could use to forge redirects) and other security.* are dropped.
// `hash_input` false skips hashing the bytes read (`digest` is then empty): for a caller that
// hashes them itself (a pull tees the download into the content store, which verifies it).
ApplyResult ApplyLayer(int in_fd, const std::string& root, WhiteoutMode whiteouts,
                       bool hash_input = true);
// Where a streamed layer's bytes come from: the next piece, lent until the next call; empty
// at the end. Throws on failure.
using PieceFn = std::function<std::span<const char>()>;
// The same, the layer's bytes handed over piece by piece (a pull hands them over from its
// download, without copying them again). The decompression and both hashes run on a thread
// of their own beside the unpack.
ApplyResult ApplyLayer(const PieceFn& next, const std::string& root, WhiteoutMode whiteouts,
                       bool hash_input = true);

// The other direction, for commit and build: the changes an overlayfs upper directory holds,
// written to `out_fd` as a layer tar compressed as asked. A whiteout device becomes
// `.wh.NAME`, an opaque directory (trusted.overlay.opaque=y) gets `.wh..wh..opq`; everything
// else keeps its type, ownership, mode, mtime, user.* and security.capability xattrs, and
// hard links stay links. Entries are in name order and carry nothing time- or host-dependent
// beyond the files' own mtimes, so the same directory gives the same bytes and digests.
// `entries` in the result counts tar entries.
//
// `shift` maps the owners back for a container in a user namespace of its own: ids it wrote
// are on disk as base + n and go into the tar as n; ids outside the range (the image's own,
// seen through a plain mount) are written as they are.
struct IdShift {
  uint64_t base = 0;
  uint64_t size = 0;
  uint64_t operator()(uint64_t id) const { return id >= base && id - base < size ? id - base : id; }
};
ApplyResult WriteLayerFromUpper(const std::string& upper, int out_fd, Compression compression,
                                IdShift shift = {});
// The same, the layer's bytes going to `out` as they are made.
ApplyResult WriteLayerFromUpper(const std::string& upper,
                                const std::function<void(const void*, size_t)>& out,
                                Compression compression, IdShift shift = {});

}  // namespace berth::image

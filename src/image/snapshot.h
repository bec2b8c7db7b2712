#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "image/layer.h"

// Snapshots: each layer unpacked once, in overlayfs's whiteout form, under the chain ID of
// its position in an image (so two images sharing a base share its snapshots); a container's
// rootfs is one overlay mount over them.
namespace berth::image {

// OCI chain IDs: chain[0] = diff_ids[0], chain[n] = sha256(chain[n-1] + " " + diff_ids[n]).
std::vector<std::string> ChainIds(const std::vector<std::string>& diff_ids);

class Snapshots {
 public:
  explicit Snapshots(std::string root);  // <root>: snapshots/<hex>/fs live here

  bool Has(const std::string& chain_id) const;
  // The unpacked layer of `chain_id` (its directory, whether present or not).
  std::string FsPath(const std::string& chain_id) const;

  // Unpacks the layer read from `layer_fd` as the snapshot `chain_id`, unless it exists:
  // into a temporary directory, renamed into place only when its diffID is `diff_id`, so a
  // snapshot is complete or absent. An empty `diff_id` takes the layer as it comes, and an
  // empty `chain_id` keys it by its own diffID (a bottom layer). Returns what was read, or
  // nullopt when the snapshot `chain_id` existed already (nothing was read).
  // `hash_input` as ApplyLayer's.
  std::optional<ApplyResult> Unpack(const std::string& chain_id, const std::string& diff_id,
                                    int layer_fd, bool hash_input = true);
  std::optional<ApplyResult> Unpack(const std::string& chain_id, const std::string& diff_id,
                                    const PieceFn& next, bool hash_input = true);
  // Flushes the snapshots' filesystem (syncfs): unpacked files are not synced one by one.
  void SyncAll() const;
  // Every complete snapshot's chain ID, sorted.
  std::vector<std::string> List() const;
  // Removes what interrupted unpacks left behind; returns how many.
  size_t RemoveLeftovers() const;
  // Mounts at `target` the overlay of `chain_ids` (bottom layer first, as in an image) with
  // its upper and work directories in `rw_dir` (created). Uses the new mount API, one lower
  // layer per call, where the kernel has it (no limit on the number of layers), else mount(2).
  // Where overlayfs is missing (ENODEV) the rootfs is a copy instead (`CopyRootfs` into
  // `target`, nothing mounted); returns whether it mounted.
  // With `idmap_userns_fd`, every lower layer is id-mapped through that user namespace first
  // (a user-namespaced container's rootfs: the host-owned image shows as owned by the
  // container's ids, with no chown); the caller owns the upper directory to the container's
  // root. There is no copy fallback then.
  bool MountRootfs(const std::vector<std::string>& chain_ids, const std::string& rw_dir,
                   const std::string& target, int idmap_userns_fd = -1) const;
  // The copy-based rootfs: the layers' files copied into `target` bottom up, with whiteouts
  // and opaque directories carried out, so `target` shows what the overlay would. Ownership,
  // modes, times, user.* and security.capability xattrs and hard links are kept. Every path
  // is resolved from directory descriptors without following symlinks, so a link that one
  // layer put in `target` cannot lead a later layer's files out of it.
  void CopyRootfs(const std::vector<std::string>& chain_ids, const std::string& target) const;

  // Bytes used by a snapshot's files (blocks actually allocated).
  uint64_t DiskUsage(const std::string& chain_id) const;
  void Remove(const std::string& chain_id) const;

 private:
  // Unpack's work, `apply` unpacking the layer into the directory it is given.
  std::optional<ApplyResult> Unpack(const std::string& chain_id, const std::string& diff_id,
                                    const std::function<ApplyResult(const std::string& fs)>& apply);
  std::string root_;
};

}  // namespace berth::image

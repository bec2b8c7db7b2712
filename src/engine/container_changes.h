#pragma once

#include <string>
#include <vector>

// What a container changed in its filesystem (GET /containers/{id}/changes, `diff`): read
// from its overlayfs upper directory, against the image's layers below it.
namespace berth::engine {

enum class ChangeKind { kModified = 0, kAdded = 1, kDeleted = 2 };  // Docker's numbers

struct Change {
  std::string path;  // absolute, inside the container
  ChangeKind kind;
};

// Every entry of `upper`, in path order: a whiteout is a deletion; anything else is an
// addition unless a lower layer (`lowers`, the top one first) has the path, then a
// modification (a directory copied up because something in it changed shows as modified,
// as Docker reports it). Lower paths are resolved inside each layer, never through a link
// out of it.
std::vector<Change> UpperChanges(const std::string& upper, const std::vector<std::string>& lowers);

}  // namespace berth::engine

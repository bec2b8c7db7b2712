#pragma once

#include <string>
#include <string_view>

// Image references as Docker reads them: the distribution reference grammar, normalized the
// way the docker CLI and dockerd do ("busybox" is docker.io/library/busybox).
namespace berth::image {

struct Reference {
  std::string domain;  // "docker.io", "registry.example:5000", "localhost"
  std::string path;    // "library/busybox"
  std::string tag;     // "" when none was given
  std::string digest;  // "" or "sha256:<64 hex>"

  // domain/path: "docker.io/library/busybox".
  std::string Name() const;
  // The full normalized form: "docker.io/library/busybox:latest",
  // "docker.io/library/busybox@sha256:…".
  std::string String() const;
  // Docker's short form for display: "busybox:latest", "user/app", "localhost:5000/app:1".
  std::string Familiar() const;
  std::string FamiliarName() const;

  bool operator==(const Reference&) const = default;

 private:
  std::string WithTagAndDigest(std::string name) const;
};

// Parses and normalizes a reference. Throws berth::Error (kInvalidArgument) naming what is
// wrong: "invalid reference format: repository name (library/Busybox) must be lowercase",
// "invalid reference format" for anything else the grammar refuses. A 64-hex string alone is
// refused (it would be an image ID, not a name).
Reference ParseReference(std::string_view text);

// ParseReference plus the default tag "latest" when neither a tag nor a digest is given.
Reference ParseReferenceWithDefaultTag(std::string_view text);

// The grammar's pieces, for the API layers that take them separately (?tag=, repo names).
bool IsValidTag(std::string_view tag);
bool IsValidDigest(std::string_view digest);  // "sha256:" + 64 lowercase hex (and the grammar)

}  // namespace berth::image

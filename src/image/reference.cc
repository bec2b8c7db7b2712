#include "image/reference.h"

#include <algorithm>
#include <cctype>

#include "base/error.h"

namespace berth::image {
namespace {

constexpr std::string_view kDockerDomain = "docker.io";
constexpr std::string_view kLegacyDockerDomain = "index.docker.io";
constexpr size_t kMaxNameLength = 255;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

[[noreturn]] void Invalid(const std::string& why = "") {
  ThrowInvalid("invalid reference format" + (why.empty() ? "" : ": " + why));
}

// path-component: alpha-numeric (separator alpha-numeric)*, separator: [_.] | __ | -+
bool IsValidPathComponent(std::string_view c) {
  size_t i = 0;
  auto alnum_run = [&] {
    size_t start = i;
    while (i < c.size() && IsLowerAlnum(c[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) {
    return false;
  }
  while (i < c.size()) {
    if (c[i] == '_' && i + 1 < c.size() && c[i + 1] == '_') {
      i += 2;
    } else if (c[i] == '_' || c[i] == '.') {
      ++i;
    } else if (c[i] == '-') {
      while (i < c.size() && c[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnum_run()) {
      return false;
    }
  }
  return true;
}

bool IsValidPath(std::string_view path) {
  if (path.empty()) {
    return false;
  }
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view comp =
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (!IsValidPathComponent(comp)) {
      return false;
    }
    if (slash == std::string_view::npos) {
      return true;
    }
    start = slash + 1;
  }
}

// domain-component: [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool IsValidDomainComponent(std::string_view c) {
  if (c.empty() || !IsAlnum(c.front()) || !IsAlnum(c.back())) {
    return false;
  }
  return std::all_of(c.begin(), c.end(), [](char ch) { return IsAlnum(ch) || ch == '-'; });
}

// host [":" port]; host: domain-name or "[" IPv6 "]".
bool IsValidDomain(std::string_view d) {
  std::string_view host = d;
  if (!d.empty() && d.front() == '[') {
    size_t close = d.find(']');
    if (close == std::string_view::npos || close < 3) {
      return false;
    }
    std::string_view v6 = d.substr(1, close - 1);
    if (!std::all_of(
            v6.begin(), v6.end(),
            [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)) || ch == ':'; }) ||
        v6.find(':') == std::string_view::npos) {
      return false;
    }
    host = std::string_view();
    d = d.substr(close + 1);
    if (d.empty()) {
      return true;
    }
    if (d.front() != ':') {
      return false;
    }
  } else {
    size_t colon = d.find(':');
    host = d.substr(0, colon);
    d = colon == std::string_view::npos ? std::string_view() : d.substr(colon);
    size_t start = 0;
    while (true) {
      size_t dot = host.find('.', start);
      if (!IsValidDomainComponent(
              host.substr(start, dot == std::string_view::npos ? host.npos : dot - start))) {
        return false;
      }
      if (dot == std::string_view::npos) {
        break;
      }
      start = dot + 1;
    }
  }
  if (!d.empty()) {  // ":" port
    std::string_view port = d.substr(1);
    if (port.empty() ||
        !std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool IsValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) {
    return false;
  }
  auto word = [](char c) { return IsAlnum(c) || c == '_'; };
  return word(tag[0]) && std::all_of(tag.begin() + 1, tag.end(),
                                     [&](char c) { return word(c) || c == '.' || c == '-'; });
}

bool IsValidDigest(std::string_view digest) {
  size_t colon = digest.find(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  std::string_view algo = digest.substr(0, colon);
  std::string_view hex = digest.substr(colon + 1);
  size_t want = algo == "sha256" ? 64 : algo == "sha512" ? 128 : 0;
  return want != 0 && hex.size() == want && std::all_of(hex.begin(), hex.end(), IsHex);
}

std::string Reference::Name() const { return domain + "/" + path; }

std::string Reference::String() const { return WithTagAndDigest(Name()); }

std::string Reference::WithTagAndDigest(std::string name) const {
  if (!tag.empty()) {
    name += ":" + tag;
  }
  if (!digest.empty()) {
    name += "@" + digest;
  }
  return name;
}

std::string Reference::FamiliarName() const {
  if (domain != kDockerDomain) {
    return Name();
  }
  // A first component that looks like a host would read back as a registry.
  std::string first = path.substr(0, path.find('/'));
  if (first.find('.') != std::string::npos || first == "localhost") {
    return Name();
  }
  constexpr std::string_view kLibrary = "library/";
  if (path.compare(0, kLibrary.size(), kLibrary) == 0 &&
      path.find('/', kLibrary.size()) == std::string::npos) {
    std::string name = path.substr(kLibrary.size());
    // A 64-hex name alone would read as an image ID: keep "library/" so it reads back.
    if (!(name.size() == 64 && std::all_of(name.begin(), name.end(), IsHex))) {
      return name;
    }
  }
  return path;
}

std::string Reference::Familiar() const { return WithTagAndDigest(FamiliarName()); }

Reference ParseReference(std::string_view text) {
  if (text.empty()) {
    Invalid();
  }
  Reference ref;
  std::string_view rest = text;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!IsValidDigest(ref.digest)) {
      Invalid("invalid digest \"" + ref.digest + "\"");
    }
  }
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!IsValidTag(ref.tag)) {
      Invalid("invalid tag \"" + ref.tag + "\"");
    }
  }
  if (rest.empty()) {
    Invalid();
  }
  if (ref.tag.empty() && ref.digest.empty() && rest.size() == 64 &&
      std::all_of(rest.begin(), rest.end(), IsHex)) {
    ThrowInvalid("invalid repository name (" + std::string(rest) +
                 "), cannot specify 64-byte hexadecimal strings");
  }
  // The first component is a registry when it looks like a host: a dot, a port, localhost,
  // or capitals (which a repository path may not have).
  size_t slash = rest.find('/');
  std::string_view first = rest.substr(0, slash);
  bool has_domain =
      slash != std::string_view::npos &&
      (first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
       std::any_of(first.begin(), first.end(), [](char c) { return c >= 'A' && c <= 'Z'; }));
  std::string_view path = rest;
  if (has_domain) {
    ref.domain = std::string(first);
    path = rest.substr(slash + 1);
    if (!IsValidDomain(ref.domain)) {
      Invalid();
    }
  } else {
    ref.domain = std::string(kDockerDomain);
  }
  if (ref.domain == kLegacyDockerDomain) {
    ref.domain = std::string(kDockerDomain);
  }
  ref.path = std::string(path);
  if (ref.domain == kDockerDomain && ref.path.find('/') == std::string::npos) {
    ref.path = "library/" + ref.path;
  }
  if (!IsValidPath(ref.path)) {
    std::string lower = ref.path;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower != ref.path && IsValidPath(lower)) {
      Invalid("repository name (" + ref.path + ") must be lowercase");
    }
    Invalid();
  }
  if (ref.Name().size() > kMaxNameLength) {
    Invalid("repository name must not be more than 255 characters");
  }
  return ref;
}

Reference ParseReferenceWithDefaultTag(std::string_view text) {
  Reference ref = ParseReference(text);
  if (ref.tag.empty() && ref.digest.empty()) {
    ref.tag = "latest";
  }
  return ref;
}

}  // namespace berth::image

#include "registry/names.h"

#include <vector>

#include "registry/errors.h"

namespace berth::registry {

namespace {

bool LowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool ValidComponent(std::string_view c) {
  size_t i = 0;
  auto alnum_run = [&] {
    size_t start = i;
    while (i < c.size() && LowerAlnum(c[i])) {
      ++i;
    }
    return i > start;
  };
  if (!alnum_run()) {
    return false;
  }
  while (i < c.size()) {
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < c.size() && c[i] == '_') {
        ++i;
      }
    } else if (c[i] == '-') {
      while (i < c.size() && c[i] == '-') {
        ++i;
      }
    } else {
      return false;
    }
    if (!alnum_run()) {
      return false;
    }
  }
  return true;
}

std::string Join(const std::vector<std::string_view>& parts, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) {
      out += '/';
    }
    out += parts[i];
  }
  return out;
}

}  // namespace

bool ValidRepositoryName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return false;
  }
  size_t pos = 0;
  while (true) {
    size_t slash = name.find('/', pos);
    std::string_view comp =
        name.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (!ValidComponent(comp)) {
      return false;
    }
    if (slash == std::string_view::npos) {
      return true;
    }
    pos = slash + 1;
  }
}

bool ValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) {
    return false;
  }
  for (size_t i = 0; i < tag.size(); ++i) {
    char c = tag[i];
    bool word =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!word && (i == 0 || (c != '.' && c != '-'))) {
      return false;
    }
  }
  return true;
}

bool ValidDigest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.size() != kPrefix.size() + 64 || digest.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  for (char c : digest.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

bool LooksLikeDigest(std::string_view digest) {
  // algorithm: [a-z0-9]+([+._-][a-z0-9]+)* ; encoded: [a-zA-Z0-9=_-]+
  size_t colon = digest.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == digest.size()) {
    return false;
  }
  std::string_view alg = digest.substr(0, colon);
  bool prev_sep = true;
  for (char c : alg) {
    bool sep = c == '+' || c == '.' || c == '_' || c == '-';
    if (!(LowerAlnum(c) || sep) || (sep && prev_sep)) {
      return false;
    }
    prev_sep = sep;
  }
  if (prev_sep) {
    return false;
  }
  for (char c : digest.substr(colon + 1)) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '=' || c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

Route ParseRoute(std::string_view path) {
  Route route;
  if (path == "/v2" || path == "/v2/") {
    route.kind = Route::Kind::kPing;
    return route;
  }
  if (path.substr(0, 4) != "/v2/") {
    return route;
  }
  std::string_view rest = path.substr(4);
  bool trailing_slash = !rest.empty() && rest.back() == '/';
  if (trailing_slash) {
    rest.remove_suffix(1);
  }
  if (rest == "_catalog") {
    route.kind = Route::Kind::kCatalog;
    return route;
  }
  std::vector<std::string_view> segs;
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t slash = rest.find('/', pos);
    if (slash == std::string_view::npos) {
      slash = rest.size();
    }
    segs.push_back(rest.substr(pos, slash - pos));
    pos = slash + 1;
  }
  size_t n = segs.size();
  size_t name_end = 0;
  if (n >= 3 && segs[n - 2] == "blobs" && segs[n - 1] == "uploads") {
    route.kind = Route::Kind::kUploadStart;
    name_end = n - 2;
  } else if (trailing_slash) {
    return route;
  } else if (n >= 4 && segs[n - 3] == "blobs" && segs[n - 2] == "uploads") {
    route.kind = Route::Kind::kUpload;
    name_end = n - 3;
  } else if (n >= 3 && segs[n - 2] == "blobs") {
    route.kind = Route::Kind::kBlob;
    name_end = n - 2;
  } else if (n >= 3 && segs[n - 2] == "manifests") {
    route.kind = Route::Kind::kManifest;
    name_end = n - 2;
  } else if (n >= 3 && segs[n - 2] == "tags" && segs[n - 1] == "list") {
    route.kind = Route::Kind::kTags;
    name_end = n - 2;
  } else if (n >= 3 && segs[n - 2] == "referrers") {
    route.kind = Route::Kind::kReferrers;
    name_end = n - 2;
  } else {
    return route;
  }
  if (route.kind != Route::Kind::kUploadStart && route.kind != Route::Kind::kTags) {
    route.reference = std::string(segs[n - 1]);
  }
  route.name = Join(segs, 0, name_end);
  if (!ValidRepositoryName(route.name)) {
    throw ApiError(Code::kNameInvalid, "invalid repository name",
                   nlohmann::json{{"name", route.name}});
  }
  return route;
}

}  // namespace berth::registry

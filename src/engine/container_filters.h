#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/container.h"

// The `filters` of `GET /containers/json` (docker ps --filter), as moby's daemon/list.go
// applies them: validated once with Docker's error texts, then matched per container. `all`,
// `limit` and `size` are the caller's (a status filter implies all=1, as Docker); the order is
// SortNewestFirst (container_view.h).

namespace berth::engine {

// Filters as src/api/http.h ParseFilters decodes both wire shapes: {"status": ["running"]}.
using Filters = std::map<std::string, std::vector<std::string>>;

// What the filters need to know beyond the one container; the service answers.
struct FilterContext {
  // `ancestor`: is the image `ref` (as the user wrote it: a name, name:tag, a short or full ID)
  // the image `image_id` or one of its ancestors? Unset: `ref` names the container's own image
  // (its image as given, the same name normalized, or an ID prefix of image_id).
  std::function<bool(const std::string& ref, const std::string& image_id)> image_matches;
  // `before`, `since`: the container a full or short ID or a name refers to (nullptr when none);
  // the pointer need only live through the ContainerFilter constructor.
  std::function<const Container*(const std::string& id_or_name)> find_container;
  // `network` by ID prefix: the ID of the network named `name`, "" when unknown. Unset: names
  // only.
  std::function<std::string(const std::string& name)> network_id;
};

// Throws berth::Error kInvalidArgument: "invalid filter 'foo'" for an unknown name, and
// Docker's texts for bad values ("invalid filter 'status=foo': invalid value for state (foo):
// must be one of created, running, paused, restarting, removing, exited, dead", …).
void ValidateContainerFilters(const Filters& filters);

class ContainerFilter {
 public:
  // Validates, and resolves before/since (kNotFound "no such container <ref>", as dockerd).
  ContainerFilter(const Filters& filters, FilterContext context = {});

  bool Matches(const Container& c) const;
  // A status filter lists stopped containers too (Docker sets all=1).
  bool ImpliesAll() const { return filters_.count("status") > 0; }

 private:
  bool MatchesNames(const Container& c) const;
  bool MatchesAncestor(const Container& c) const;
  bool MatchesNetwork(const Container& c) const;
  bool MatchesPorts(const Container& c) const;

  Filters filters_;
  FilterContext context_;
  std::vector<std::regex> names_;  // name values that compile (Docker skips the others)
  std::vector<int64_t> exited_;
  // (created nanoseconds, id) of the before/since containers: the list's sort key.
  std::optional<std::pair<int64_t, std::string>> before_, since_;
  std::set<std::string> publish_, expose_;  // "80/tcp"
};

// Convenience for one container (validates and resolves every call).
bool MatchesFilters(const Container& c, const Filters& filters, const FilterContext& context);

}  // namespace berth::engine

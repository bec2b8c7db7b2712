#pragma once

#include <optional>
#include <string>
#include <string_view>

// Base64 for Basic credentials, tokens and Docker's X-Registry-Auth header.

namespace berth::registry {

// Standard alphabet with padding, or (url) the URL alphabet without padding.
std::string Base64Encode(std::string_view data, bool url = false);
// Standard or URL alphabet, padding optional; nullopt on anything else.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace berth::registry

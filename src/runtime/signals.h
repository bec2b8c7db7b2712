#pragma once

#include <string>

namespace berth::runtime {

// Parses "KILL", "SIGKILL", "sigkill", "9" or "RTMIN+2"; kInvalidArgument for anything else.
int ParseSignal(const std::string& name);

}  // namespace berth::runtime

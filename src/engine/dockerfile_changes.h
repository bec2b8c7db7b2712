#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "build/dockerfile.h"

// `import --change` and `commit --change`: Dockerfile instructions that edit an image's
// container config (its "config" object: Cmd, Entrypoint, Env, ...).

namespace berth::engine {

// Applies each instruction in order to `config` and returns the result. Supported: CMD,
// ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR, in exec
// (JSON array) or shell form where Dockerfiles allow both, read by the Dockerfile parser of
// src/build and substituted against the config's Env as a Dockerfile would be. Anything else
// throws kInvalidArgument naming the instruction.
nlohmann::json ApplyChanges(nlohmann::json config, const std::vector<std::string>& changes);

// Applies one instruction whose words are already substituted (build::Resolve's, or
// ApplyChanges's own) to `config`: the instructions above plus SHELL and HEALTHCHECK (the
// builder's). Anything else throws kInvalidArgument.
void ApplyInstruction(nlohmann::json& config, const build::Instruction& inst);

}  // namespace berth::engine

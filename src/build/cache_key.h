#pragma once

#include <map>
#include <string>

#include "build/context.h"
#include "build/resolve.h"

// Cache keys, as pure functions: a step reuses an earlier result when its key is equal. The
// key covers the parent (the previous step's key, or the base image's ID), the instruction
// after substitution, the build args in scope and, for COPY/ADD, the digest of every file it
// copies (ContextIndex::SourcesDigest). Nothing else: no time, no mtime.

namespace berth::build {

struct StepKeyInput {
  std::string parent;
  std::string instruction;                  // CanonicalInstruction()
  std::map<std::string, std::string> args;  // build args in scope
  std::string files;                        // COPY/ADD sources digest, "" otherwise
  std::string platform;
};

// A stable text of a substituted instruction: command, flags, arguments, pairs, heredocs,
// mounts, health check, trigger (JSON with sorted keys).
std::string CanonicalInstruction(const Instruction& inst);

// "sha256:…" over the fields of `in`, each length-prefixed.
std::string StepCacheKey(const StepKeyInput& in);

// The files digest a COPY/ADD step's key takes from the context: its sources (not the
// destination, not heredocs, not URLs) with its --exclude patterns. "" for other steps and
// for COPY --from (its files come from a stage or image, keyed by that one's result).
std::string StepFilesDigest(ContextIndex& context, const ResolvedStep& step);

// The key of `step` after `parent`.
std::string StepCacheKey(const std::string& parent, const ResolvedStep& step,
                         const std::string& files_digest, const std::string& platform = "");

}  // namespace berth::build

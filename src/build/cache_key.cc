#include "build/cache_key.h"

#include <nlohmann/json.hpp>

#include "base/digest.h"

namespace berth::build {
namespace {

using nlohmann::json;

json InstructionJson(const Instruction& inst) {
  json j;
  j["command"] = CommandName(inst.command);
  json flags = json::array();
  for (const Flag& f : inst.flags) {
    if (f.name != "mount") flags.push_back({f.name, f.value});
  }
  j["flags"] = flags;
  j["json"] = inst.json;
  j["args"] = inst.args;
  json pairs = json::array();
  for (const KeyValue& kv : inst.pairs) pairs.push_back({kv.key, kv.value, kv.has_value});
  j["pairs"] = pairs;
  json heredocs = json::array();
  for (const Heredoc& h : inst.heredocs) {
    heredocs.push_back({{"name", h.name},
                        {"content", h.content},
                        {"expand", h.expand},
                        {"chomp", h.chomp},
                        {"fd", h.fd}});
  }
  j["heredocs"] = heredocs;
  json mounts = json::array();
  for (const Mount& m : inst.mounts) {
    mounts.push_back({{"type", static_cast<int>(m.type)},
                      {"target", m.target},
                      {"source", m.source},
                      {"from", m.from},
                      {"id", m.id},
                      {"env", m.env},
                      {"readonly", m.readonly},
                      {"sharing", static_cast<int>(m.sharing)},
                      {"mode", m.mode ? json(*m.mode) : json()},
                      {"uid", m.uid ? json(*m.uid) : json()},
                      {"gid", m.gid ? json(*m.gid) : json()},
                      {"size", m.size ? json(*m.size) : json()},
                      {"required", m.required}});
  }
  j["mounts"] = mounts;
  j["network"] = inst.network;
  j["security"] = inst.security;
  if (inst.command == Command::kHealthcheck) {
    const Healthcheck& h = inst.health;
    j["health"] = {{"none", h.none},
                   {"test", h.test},
                   {"interval", h.interval_ns},
                   {"timeout", h.timeout_ns},
                   {"start_period", h.start_period_ns},
                   {"start_interval", h.start_interval_ns},
                   {"retries", h.retries}};
  }
  if (!inst.trigger.empty()) j["trigger"] = InstructionJson(inst.trigger.front());
  return j;
}

void Field(Sha256& h, std::string_view tag, std::string_view value) {
  std::string head = std::string(tag) + ":" + std::to_string(value.size()) + ":";
  h.Update(head);
  h.Update(value);
}

}  // namespace

std::string CanonicalInstruction(const Instruction& inst) {
  json j = InstructionJson(inst);  // nlohmann::json objects keep keys sorted
  try {
    return j.dump();
  } catch (const json::type_error&) {
    // Not UTF-8 (a Dockerfile may hold any bytes): CBOR keeps them as they are.
    std::vector<uint8_t> cbor = json::to_cbor(j);
    return "cbor:" + std::string(cbor.begin(), cbor.end());
  }
}

std::string StepCacheKey(const StepKeyInput& in) {
  Sha256 h;
  Field(h, "berth-build-cache-v1", "");
  Field(h, "parent", in.parent);
  Field(h, "instruction", in.instruction);
  for (const auto& kv : in.args) {
    Field(h, "arg", kv.first);
    Field(h, "value", kv.second);
  }
  Field(h, "files", in.files);
  Field(h, "platform", in.platform);
  return h.Digest();
}

std::string StepFilesDigest(ContextIndex& context, const ResolvedStep& step) {
  const Instruction& inst = step.inst;
  if ((inst.command != Command::kCopy && inst.command != Command::kAdd) ||
      inst.FindFlag("from") != nullptr || inst.args.size() < 2) {
    return {};
  }
  std::vector<std::string> sources;
  for (size_t i = 0; i + 1 < inst.args.size(); ++i) {
    const std::string& a = inst.args[i];
    size_t digits = a.find_first_not_of("0123456789");
    bool heredoc =
        !inst.heredocs.empty() && digits != std::string::npos && a.compare(digits, 2, "<<") == 0;
    bool url = a.rfind("http://", 0) == 0 || a.rfind("https://", 0) == 0 || a.rfind("git@", 0) == 0;
    if (!heredoc && !url) sources.push_back(a);
  }
  if (sources.empty()) return {};
  return context.SourcesDigest(sources, inst.FlagValues("exclude"));
}

std::string StepCacheKey(const std::string& parent, const ResolvedStep& step,
                         const std::string& files_digest, const std::string& platform) {
  return StepCacheKey(
      {parent, CanonicalInstruction(step.inst), step.Args(), files_digest, platform});
}

}  // namespace berth::build

#include "engine/builder.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "base/digest.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "base/log.h"
#include "build/cache_key.h"
#include "build/context.h"
#include "build/dockerfile.h"
#include "build/resolve.h"
#include "build/stage_graph.h"
#include "engine/dockerfile_changes.h"
#include "image/layer.h"
#include "image/reference.h"
#include "shim/logfile.h"

namespace berth::engine {
namespace {

using nlohmann::json;

std::string Short(const std::string& id) {
  std::string hex = id.rfind("sha256:", 0) == 0 ? id.substr(7) : id;
  return hex.substr(0, 12);
}

// Reads a file through `fd` as ExtractToPath's `in` wants it.
std::function<size_t(void*, size_t)> FdReader(int fd) {
  return [fd](void* buf, size_t size) -> size_t {
    for (;;) {
      ssize_t n = read(fd, buf, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ThrowErrno("build: read");
      return static_cast<size_t>(n);
    }
  };
}

bool HasWildcard(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

// "a/./b/" -> "a/b", "/" and "." -> "": a context-relative path without leading slashes.
std::string CleanRelative(const std::string& p) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string part = p.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : "/") + part;
  return out;
}

std::string BaseName(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string Parent(const std::string& abs) {
  size_t slash = abs.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : abs.substr(0, slash);
}

// One file, directory or symlink a COPY/ADD writes, at `target` (absolute in the image).
struct CopyItem {
  std::string target;
  mode_t mode = 0;      // type and permission bits
  std::string source;   // a host file to read (regular files)
  std::string content;  // or this (heredocs)
  bool from_content = false;
  std::string link;
  uint64_t size = 0;
  int64_t mtime = 0;
};

struct Owner {
  uint32_t uid = 0, gid = 0;
};

// --chown: "user[:group]", names or numbers. A user without a group gives the group the same
// number as the user (the Dockerfile reference's rule). Names are looked up in the step
// container's /etc/passwd and /etc/group, so an empty (scratch) stage takes numbers only.
Owner ResolveOwner(const std::string& spec, ContainerService& containers, const std::string& cid) {
  Owner o;
  if (spec.empty()) return o;
  size_t colon = spec.find(':');
  std::string user = spec.substr(0, colon);
  std::string group = colon == std::string::npos ? "" : spec.substr(colon + 1);
  auto number = [](const std::string& s) {
    return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), ::isdigit);
  };
  if (user.empty() || (colon != std::string::npos && group.empty())) {
    ThrowInvalid("--chown=" + spec + ": expected user[:group]");
  }
  if (number(user) && (group.empty() || number(group))) {
    o.uid = static_cast<uint32_t>(std::stoul(user));
    o.gid = group.empty() ? o.uid : static_cast<uint32_t>(std::stoul(group));
    return o;
  }
  if (cid.empty()) {
    ThrowInvalid("--chown=" + spec +
                 ": names need the image's /etc/passwd; an empty stage takes "
                 "numeric ids");
  }
  std::pair<uint32_t, uint32_t> ids = containers.LookupOwner(cid, user, group);
  o.uid = ids.first;
  o.gid = group.empty() ? o.uid : ids.second;
  return o;
}

// The tar ExtractToPath unpacks at "/": `items` with owners and modes as the step wants.
void WriteCopyTar(const std::string& path, const std::vector<CopyItem>& items, Owner owner,
                  std::optional<uint32_t> chmod) {
  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_write_new(),
                                                              archive_write_free);
  archive_write_set_format_pax_restricted(a.get());
  if (archive_write_open_filename(a.get(), path.c_str()) != ARCHIVE_OK) {
    ThrowInvalid(std::string("build: ") + archive_error_string(a.get()));
  }
  std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> e(archive_entry_new(),
                                                                           archive_entry_free);
  std::vector<char> buf(256 << 10);
  for (const CopyItem& item : items) {
    archive_entry_clear(e.get());
    archive_entry_set_pathname(e.get(), item.target.substr(1).c_str());
    mode_t perm = chmod ? *chmod : (item.mode & 07777);
    archive_entry_set_mode(e.get(), (item.mode & S_IFMT) | perm);
    archive_entry_set_uid(e.get(), owner.uid);
    archive_entry_set_gid(e.get(), owner.gid);
    archive_entry_set_mtime(e.get(), item.mtime, 0);
    if (S_ISLNK(item.mode)) {
      archive_entry_set_symlink(e.get(), item.link.c_str());
      archive_entry_set_mode(e.get(), S_IFLNK | 0777);
    }
    bool regular = S_ISREG(item.mode);
    archive_entry_set_size(e.get(), regular ? static_cast<la_int64_t>(item.size) : 0);
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK) {
      ThrowInvalid("build: " + item.target + ": " + archive_error_string(a.get()));
    }
    if (!regular) continue;
    if (item.from_content) {
      archive_write_data(a.get(), item.content.data(), item.content.size());
      continue;
    }
    UniqueFd fd(open(item.source.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) ThrowErrno("build: open " + item.source);
    uint64_t left = item.size;
    while (left > 0) {
      ssize_t n = read(fd.get(), buf.data(), std::min<uint64_t>(buf.size(), left));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ThrowErrno("build: read " + item.source);
      if (n == 0) ThrowInvalid("build: " + item.source + " changed while it was copied");
      if (archive_write_data(a.get(), buf.data(), static_cast<size_t>(n)) < 0) {
        ThrowInvalid(std::string("build: ") + archive_error_string(a.get()));
      }
      left -= static_cast<uint64_t>(n);
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    ThrowInvalid(std::string("build: ") + archive_error_string(a.get()));
  }
}

// Where a stage's messages go: the client at once, or held until the stages before it in its
// wave have finished (stages of one wave run side by side; the output reads as if they ran
// one after another). `step` numbers the stage's steps as the sequential order would.
struct Channel {
  bool live = true;
  std::vector<json> held;
  int step = 0;
};
thread_local Channel* tl_channel = nullptr;

// A stage's state while it is built: the image so far and its config.
struct StageState {
  std::string image;  // "" = scratch with nothing yet
  json config = json::object();
  std::string key;  // the cache key of the last step (the base's ID first)
};

class Run {
 public:
  Run(ImageService& images, ContainerService& containers, const BuildOptions& options,
      const MessageFn& message, std::string dir)
      : images_(images),
        containers_(containers),
        o_(options),
        message_(message),
        dir_(std::move(dir)),
        context_dir_(JoinPath(dir_, "context")),
        secrets_dir_(JoinPath(dir_, "secrets")) {}

  ~Run() {
    for (const std::string& id : containers_left_) {
      try {
        containers_.Remove(id, true, true);
      } catch (const Error& e) {
        log::Warn("build: removing step container " + id + ": " + e.what());
      }
    }
  }

  std::string Go(const image::ReadFn& read) {
    UnpackContext(read);
    std::string dockerfile_path = JoinPath(context_dir_, CleanRelative(o_.dockerfile));
    std::optional<std::string> text = ReadFileIfExists(dockerfile_path);
    if (!text || CleanRelative(o_.dockerfile).empty()) {
      ThrowInvalid("Cannot locate specified Dockerfile: " + o_.dockerfile);
    }
    build::Dockerfile df = build::ParseDockerfile(*text, BaseName(o_.dockerfile));
    build::ResolveOptions ro;
    ro.build_args = o_.build_args;
    ro.image_env = [this](const std::string& name) -> std::optional<std::vector<std::string>> {
      try {
        json config = images_.Inspect(name)["Config"];
        if (config.contains("Env") && config["Env"].is_array()) {
          return config["Env"].get<std::vector<std::string>>();
        }
        return std::vector<std::string>{};
      } catch (const Error&) {
        return std::nullopt;
      }
    };
    build::ResolvedBuild rb = build::Resolve(df, ro);
    build::StageGraph graph = build::BuildStageGraph(rb, o_.target);
    for (const build::Diagnostic& d : rb.warnings) {
      Say("[WARNING]: " + d.String(rb.file) + "\n");
    }
    context_ = std::make_unique<build::ContextIndex>(build::ContextIndex::Load(context_dir_));

    total_ = 0;
    for (int s : graph.order) total_ += 1 + static_cast<int>(rb.stages[s].steps.size());
    std::map<int, StageState> done;
    int numbered = 0;
    for (const std::vector<int>& wave : graph.waves) {
      BuildWave(rb, wave, done, numbered);
      for (int s : wave) numbered += 1 + static_cast<int>(rb.stages[s].steps.size());
    }
    StageState last = done.at(graph.target);
    if (!o_.labels.empty()) {
      json config = last.config;
      for (const auto& [k, v] : o_.labels) {
        if (!config.contains("Labels") || !config["Labels"].is_object())
          config["Labels"] = json::object();
        config["Labels"][k] = v;
      }
      BuildStep step;
      step.config = config;
      step.created_by = "/bin/sh -c #(nop)  LABEL (build labels)";
      last.image = images_.AddBuildStep(last.image, {}, step);
    }
    if (last.image.empty()) {
      // FROM scratch and nothing else: still an image, with no layers.
      BuildStep step;
      step.config = last.config;
      last.image = images_.AddBuildStep("", {}, step);
    }
    for (const std::string& note : images_.FinishBuild(last.image, o_.tags)) {
      Say(note + "\n");
    }
    if (!rb.unused_build_args.empty()) {
      std::string names;
      for (const std::string& n : rb.unused_build_args) names += (names.empty() ? "" : " ") + n;
      Say("[Warning] One or more build-args [" + names + "] were not consumed\n");
    }
    message_({{"aux", {{"ID", last.image}}}});
    Say("Successfully built " + Short(last.image) + "\n");
    for (const std::string& t : o_.tags) Say("Successfully tagged " + t + "\n");
    return last.image;
  }

 private:
  void Say(const std::string& text) {
    if (o_.quiet) return;
    json m = {{"stream", text}};
    if (tl_channel != nullptr && !tl_channel->live) {
      tl_channel->held.push_back(std::move(m));
      return;
    }
    std::lock_guard lock(say_mu_);
    message_(m);
  }

  // The stages of one wave: each needs only stages of earlier waves, so they are built side by
  // side, one thread each; the first streams, the others' messages follow it in order. A
  // failure stops the other stages at their next step and is thrown after all have stopped.
  void BuildWave(const build::ResolvedBuild& rb, const std::vector<int>& wave,
                 std::map<int, StageState>& done, int numbered) {
    std::vector<StageState*> slots;
    std::vector<Channel> channels(wave.size());
    for (size_t i = 0; i < wave.size(); ++i) {
      slots.push_back(&done[wave[i]]);  // made here: the threads only assign their own
      channels[i].live = i == 0;
      channels[i].step = numbered;
      numbered += 1 + static_cast<int>(rb.stages[wave[i]].steps.size());
    }
    std::vector<std::exception_ptr> errors(wave.size());
    auto build = [&](size_t i) {
      tl_channel = &channels[i];
      try {
        *slots[i] = BuildStage(rb, rb.stages[wave[i]], done);
      } catch (...) {
        errors[i] = std::current_exception();
        failed_ = true;
      }
      tl_channel = nullptr;
    };
    std::vector<std::thread> threads;
    for (size_t i = 1; i < wave.size(); ++i) threads.emplace_back(build, i);
    build(0);
    for (std::thread& t : threads) t.join();
    for (size_t i = 1; i < wave.size(); ++i) {
      std::lock_guard lock(say_mu_);
      for (const json& m : channels[i].held) message_(m);
    }
    for (const std::exception_ptr& e : errors) {
      if (e) std::rethrow_exception(e);
    }
  }

  void UnpackContext(const image::ReadFn& read) {
    MkdirAll(context_dir_, 0755);
    // Unpacked as it arrives: the body goes through a pipe from a thread of its own.
    std::vector<char> first(128 << 10);
    size_t got = read(first.data(), first.size());
    if (got == 0) return;  // an empty context
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) ThrowErrno("build: pipe");
    UniqueFd in(p[0]);
    UniqueFd out(p[1]);
    std::exception_ptr read_error;
    std::thread feeder([&] {
      try {
        std::vector<char> buf = std::move(first);
        for (size_t n = got; n > 0; n = read(buf.data(), buf.size())) {
          for (size_t off = 0; off < n;) {
            ssize_t w = write(out.get(), buf.data() + off, n - off);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) return;  // the unpack stopped reading: its error is the one to tell
            off += static_cast<size_t>(w);
          }
        }
      } catch (...) {
        read_error = std::current_exception();
      }
      out.Reset();
    });
    try {
      image::ApplyLayer(in.get(), context_dir_, image::WhiteoutMode::kApply, false);
      // Whatever the tar's end leaves (the docker CLI pads it) is read, so the body is whole.
      char sink[4096];
      while (::read(in.get(), sink, sizeof sink) > 0) {
      }
    } catch (...) {
      in.Reset();  // the feeder's next write fails and it ends
      feeder.join();
      if (read_error) std::rethrow_exception(read_error);
      try {
        throw;
      } catch (const Error& e) {
        ThrowInvalid(std::string("the build context is not a tar archive: ") + e.what());
      }
    }
    feeder.join();
    if (read_error) std::rethrow_exception(read_error);
    // `berth build --secret` sends each secret as <kSecretsDir>/<id> in the context; they
    // leave it before anything reads the context (no COPY, no cache key sees them).
    std::string secrets = JoinPath(context_dir_, build::kSecretsDir);
    struct stat sst;
    if (lstat(secrets.c_str(), &sst) == 0) {
      if (!S_ISDIR(sst.st_mode) || rename(secrets.c_str(), secrets_dir_.c_str()) < 0) {
        ThrowInvalid(std::string("the build context's ") + build::kSecretsDir +
                     " is not a directory");
      }
      // Readable by the step's root, which is an unprivileged id on the host.
      if (DIR* d = opendir(secrets_dir_.c_str())) {
        while (struct dirent* de = readdir(d)) {
          std::string file = JoinPath(secrets_dir_, de->d_name);
          if (de->d_type == DT_REG) chmod(file.c_str(), 0444);
        }
        closedir(d);
      }
    }
  }

  // The base of a stage: a stage built before, scratch, or an image (pulled when missing or
  // with --pull).
  StageState Base(const build::ResolvedStage& stage, const std::map<int, StageState>& done) {
    StageState st;
    if (stage.base_stage) {
      st = done.at(*stage.base_stage);
      return st;
    }
    if (stage.base == "scratch") {
      st.key = "scratch";
      return st;
    }
    std::string id;
    bool have = true;
    try {
      id = images_.Resolve(stage.base);
    } catch (const Error& e) {
      if (e.kind() != Kind::kNotFound) throw;
      have = false;
    }
    if (!have || o_.pull) {
      PullOptions p;
      p.from_image = stage.base;
      auto auth = o_.registry_auths.find(image::ParseReference(stage.base).domain);
      if (auth != o_.registry_auths.end()) {
        p.auth = auth->second;
      }
      try {
        images_.Pull(p, [this](const json& m) {
          if (m.contains("status") && m["status"].is_string() && !m.contains("progressDetail")) {
            Say(m["status"].get<std::string>() + "\n");
          }
        });
      } catch (const Error& e) {
        if (have) throw;
        throw Error(e.kind(), "FROM " + stage.base +
                                  ": the image is not here and could not be pulled: " + e.what());
      }
      id = images_.Resolve(stage.base);
    }
    st.image = id;
    json config = images_.Inspect(id)["Config"];
    st.config = config.is_object() ? config : json::object();
    st.key = id;
    return st;
  }

  StageState BuildStage(const build::ResolvedBuild& rb, const build::ResolvedStage& stage,
                        const std::map<int, StageState>& done) {
    Say("Step " + std::to_string(++tl_channel->step) + "/" + std::to_string(total_) + " : FROM " +
        stage.base + (stage.name.empty() ? "" : " AS " + stage.name) + "\n");
    StageState st = Base(stage, done);
    if (!st.image.empty()) Say(" ---> " + Short(st.image) + "\n");
    RunTriggers(rb, st, done);
    for (const build::ResolvedStep& step : stage.steps) {
      StopIfAnotherStageFailed();
      Say("Step " + std::to_string(++tl_channel->step) + "/" + std::to_string(total_) + " : " +
          step.inst.text + "\n");
      Execute(rb, st, step, done);
    }
    return st;
  }

  void StopIfAnotherStageFailed() {
    if (failed_) throw Error(Kind::kUnavailable, "stopped: another stage of the build failed");
  }

  // One step: from the cache when an earlier build made the same one, else run.
  void Execute(const build::ResolvedBuild& rb, StageState& st, const build::ResolvedStep& step,
               const std::map<int, StageState>& done) {
    StopIfAnotherStageFailed();
    const build::Instruction& inst = step.inst;
    std::string files;
    if (inst.command == build::Command::kCopy || inst.command == build::Command::kAdd) {
      files = FilesKey(rb, step, done);
    }
    for (const build::Mount& m : inst.mounts) {
      // What a bind mount shows is an input of the step, as a COPY's files are.
      if (m.type == build::MountType::kBind && m.from.empty()) {
        std::lock_guard lock(context_mu_);
        files += "bind:" + context_->SourcesDigest({m.source.empty() ? "." : m.source});
      }
    }
    std::string key = build::StepCacheKey(st.key, step, files);
    if (!o_.no_cache) {
      if (std::optional<std::string> hit = images_.CachedBuildStep(key)) {
        try {
          json config = images_.Inspect(*hit)["Config"];
          st.image = *hit;
          st.config = config.is_object() ? config : json::object();
          st.key = key;
          Say(" ---> Using cache\n ---> " + Short(st.image) + "\n");
          return;
        } catch (const Error&) {
          // removed meanwhile: build it again
        }
      }
    }
    switch (inst.command) {
      case build::Command::kRun:
        RunStep(st, step, key);
        break;
      case build::Command::kCopy:
      case build::Command::kAdd:
        CopyStep(rb, st, step, key, done);
        break;
      default:
        ConfigStep(st, step, key);
        break;
    }
    st.key = key;
    Say(" ---> " + Short(st.image) + "\n");
  }

  // The base image's ONBUILD triggers run first, as if written after FROM, substituted with
  // the base's environment and this build's args; the child's config does not keep them.
  void RunTriggers(const build::ResolvedBuild& rb, StageState& st,
                   const std::map<int, StageState>& done) {
    if (!st.config.contains("OnBuild") || !st.config["OnBuild"].is_array() ||
        st.config["OnBuild"].empty()) {
      return;
    }
    std::string text = "FROM base\n";
    size_t n = 0;
    for (const json& t : st.config["OnBuild"]) {
      if (t.is_string()) {
        text += t.get<std::string>() + "\n";
        ++n;
      }
    }
    st.config["OnBuild"] = nullptr;
    Say("# Executing " + std::to_string(n) + " build trigger" + (n == 1 ? "" : "s") + "\n");
    build::Dockerfile df = build::ParseDockerfile(text, "ONBUILD");
    build::ResolveOptions ro;
    ro.build_args = o_.build_args;
    std::vector<std::string> env;
    if (st.config.contains("Env") && st.config["Env"].is_array()) {
      for (const json& e : st.config["Env"]) {
        if (e.is_string()) env.push_back(e.get<std::string>());
      }
    }
    ro.image_env = [&env](const std::string&) { return env; };
    build::ResolvedBuild triggers = build::Resolve(df, ro);
    for (const build::ResolvedStep& step : triggers.stages.at(0).steps) {
      Say("Trigger: " + step.inst.text + "\n");
      Execute(rb, st, step, done);
    }
  }

  void ConfigStep(StageState& st, const build::ResolvedStep& step, const std::string& key) {
    build::Instruction inst = step.inst;
    switch (inst.command) {
      case build::Command::kArg:
      case build::Command::kMaintainer:
        break;  // nothing in the config: the history entry and the cache key say it
      case build::Command::kCmd:
      case build::Command::kEntrypoint:
        if (!inst.json && !inst.args.empty()) {
          std::vector<std::string> cmd = step.Shell();
          cmd.push_back(inst.args.front());
          inst.args = cmd;
          inst.json = true;
        }
        ApplyInstruction(st.config, inst);
        break;
      case build::Command::kWorkdir:
        st.config["WorkingDir"] = step.Workdir();
        break;
      case build::Command::kHealthcheck:
        if (!inst.health.none && inst.health.test.size() == 2 &&
            inst.health.test[0] == "CMD-SHELL") {
          // CMD-SHELL runs with the image's shell when the probe runs: kept as written.
        }
        ApplyInstruction(st.config, inst);
        break;
      default:
        ApplyInstruction(st.config, inst);
        break;
    }
    BuildStep s;
    s.config = st.config;
    s.created_by = "/bin/sh -c #(nop)  " + inst.text;
    s.cache_key = key;
    st.image = images_.AddBuildStep(st.image, {}, s);
  }

  // The step's environment for RUN: the stage's ENV, then the build args in scope that ENV
  // does not set, then the predefined proxy args given with --build-arg.
  std::vector<std::string> RunEnv(const StageState& st, const build::ResolvedStep& step) {
    std::vector<std::string> env;
    std::set<std::string> names;
    if (st.config.contains("Env") && st.config["Env"].is_array()) {
      for (const json& e : st.config["Env"]) {
        if (!e.is_string()) continue;
        env.push_back(e.get<std::string>());
        names.insert(env.back().substr(0, env.back().find('=')));
      }
    }
    for (const auto& [k, v] : step.Args()) {
      if (names.insert(k).second) env.push_back(k + "=" + v);
    }
    for (const std::string& proxy : build::PredefinedProxyArgs()) {
      auto it = o_.build_args.find(proxy);
      if (it != o_.build_args.end() && names.insert(proxy).second) {
        env.push_back(proxy + "=" + it->second);
      }
    }
    return env;
  }

  std::vector<std::string> RunCommand(const build::ResolvedStep& step) {
    const build::Instruction& inst = step.inst;
    if (inst.json) return inst.args;
    std::string command = inst.args.empty() ? "" : inst.args.front();
    std::vector<std::string> cmd = step.Shell();
    if (!inst.heredocs.empty()) {
      std::string trimmed = command;
      trimmed.erase(0, trimmed.find_first_not_of(" \t"));
      trimmed.erase(trimmed.find_last_not_of(" \t\n") + 1);
      if (inst.heredocs.size() == 1 && trimmed.rfind("<<", 0) == 0 &&
          trimmed.find_first_of(" \t|;&>") == std::string::npos) {
        // `RUN <<EOF` alone: the body is the script (BuildKit's behaviour).
        cmd.push_back(inst.heredocs.front().content);
        return cmd;
      }
      // Otherwise the shell reads the heredocs itself: give it the bodies after the line.
      for (const build::Heredoc& h : inst.heredocs) {
        command += "\n" + h.content + h.name;
      }
    }
    cmd.push_back(command);
    return cmd;
  }

  std::string CreateStepContainer(const StageState& st, json body) {
    if (st.image.empty()) {
      ThrowInvalid("a step on an empty image (FROM scratch) has no filesystem to run in");
    }
    body["Image"] = st.image;
    CreateResult r = containers_.Create("", body);
    std::lock_guard lock(left_mu_);
    containers_left_.insert(r.id);
    return r.id;
  }

  void KeepStepContainer(const std::string& id) {
    std::lock_guard lock(left_mu_);
    containers_left_.erase(id);
  }

  void RemoveStepContainer(const std::string& id) {
    containers_.Remove(id, true, true);
    std::lock_guard lock(left_mu_);
    containers_left_.erase(id);
  }

  // RUN --mount, on the step container: a cache mount is a named volume of the daemon's
  // (berth-build-cache-<digest of its id>, empty when new, id-mapped like every volume, kept
  // across builds until `builder prune --all`); a bind mount shows a context path read-only; a
  // tmpfs is a tmpfs. What is not supported is refused with the mount named.
  void AddRunMounts(const build::Instruction& inst, json& host_config) {
    for (const build::Mount& m : inst.mounts) {
      std::string what = "RUN --mount=type=";
      switch (m.type) {
        case build::MountType::kCache: {
          if (!m.from.empty() || m.uid || m.gid || m.mode) {
            ThrowInvalid(what + "cache," + m.target +
                         ": from, uid, gid and mode are not supported by this builder yet");
          }
          std::string id = m.id.empty() ? m.target : m.id;
          std::string name = "berth-build-cache-" + Sha256Digest(id).substr(7, 16);
          host_config["Mounts"].push_back(
              {{"Type", "volume"},
               {"Source", name},
               {"Target", m.target},
               {"ReadOnly", m.readonly},
               {"VolumeOptions", {{"NoCopy", true}, {"Labels", {{kBuildCacheLabel, id}}}}}});
          break;
        }
        case build::MountType::kBind: {
          if (!m.from.empty()) {
            ThrowInvalid(what + "bind,from=" + m.from +
                         ": binding from a stage or image is not supported by this builder yet");
          }
          if (!m.readonly) {
            ThrowInvalid(what + "bind," + m.target +
                         ",rw: writable bind mounts are not supported by this builder yet");
          }
          std::string source = CleanRelative(m.source);
          std::string host = source.empty() ? context_dir_ : JoinPath(context_dir_, source);
          struct stat sb;
          if (lstat(host.c_str(), &sb) < 0) {
            ThrowInvalid(what + "bind,source=" + m.source + ": not in the build context");
          }
          host_config["Binds"].push_back(host + ":" + m.target + ":ro");
          break;
        }
        case build::MountType::kTmpfs: {
          std::string opts = m.size ? "size=" + std::to_string(*m.size) : "";
          host_config["Tmpfs"][m.target] = opts;
          break;
        }
        case build::MountType::kSecret: {
          if (!m.env.empty()) {
            ThrowInvalid(what + "secret,id=" + m.id +
                         ",env=: secrets as environment variables are not supported yet");
          }
          std::string file = JoinPath(secrets_dir_, m.id);
          struct stat sb;
          if (m.id.find('/') != std::string::npos || m.id == "." || m.id == ".." ||
              lstat(file.c_str(), &sb) < 0 || !S_ISREG(sb.st_mode)) {
            if (m.required) {
              ThrowInvalid(what + "secret,id=" + m.id +
                           ": no such secret (berth build --secret id=" + m.id + ",src=FILE)");
            }
            break;  // as BuildKit: an optional secret that was not given is not mounted
          }
          std::string target = m.target.empty() ? "/run/secrets/" + m.id : m.target;
          host_config["Binds"].push_back(file + ":" + target + ":ro");
          break;
        }
        case build::MountType::kSsh:
          ThrowInvalid(what +
                       "ssh: forwarding an ssh agent is BuildKit's; the classic builder protocol "
                       "has no way to do it");
      }
    }
  }

  static std::vector<std::string> MountTargets(const json& host_config) {
    std::vector<std::string> out;
    if (host_config.contains("Mounts")) {
      for (const json& m : host_config["Mounts"]) out.push_back(m["Target"].get<std::string>());
    }
    if (host_config.contains("Binds")) {
      for (const json& b : host_config["Binds"]) {
        std::string spec = b.get<std::string>();  // host:target:ro
        size_t a = spec.find(':');
        size_t z = spec.rfind(':');
        out.push_back(spec.substr(a + 1, z - a - 1));
      }
    }
    if (host_config.contains("Tmpfs")) {
      for (const auto& item : host_config["Tmpfs"].items()) out.push_back(item.key());
    }
    return out;
  }

  void RunStep(StageState& st, const build::ResolvedStep& step, const std::string& key) {
    const build::Instruction& inst = step.inst;
    std::vector<std::string> cmd = RunCommand(step);
    std::string network = inst.network.empty() ? o_.network : inst.network;
    if (network.empty() || network == "default") network = "default";
    json host_config = {{"NetworkMode", network}};
    AddRunMounts(inst, host_config);
    json body = {{"Cmd", cmd},
                 {"Entrypoint", json::array()},
                 {"Env", RunEnv(st, step)},
                 {"User", st.config.value("User", "")},
                 {"WorkingDir", st.config.value("WorkingDir", "")},
                 {"Labels", json::object()},
                 {"HostConfig", host_config}};
    std::string id = CreateStepContainer(st, body);
    // The mount targets and their parents, deepest first: where the runtime had to make them,
    // they are empty entries in the changes, which the layer must not keep.
    std::vector<std::string> made;
    for (const std::string& target : MountTargets(host_config)) {
      for (std::string path = "/" + CleanRelative(AbsoluteDest(st, target)); path != "/";
           path = Parent(path)) {
        made.push_back(path);
      }
    }
    Say(" ---> Running in " + Short(id) + "\n");
    containers_.Start(id);
    // The output is followed until the container exits: a waiter thread signals the exit on
    // an eventfd the follower polls, so the step ends when its process does.
    UniqueFd exited(eventfd(0, EFD_CLOEXEC));
    if (!exited) ThrowErrno("build: eventfd");
    WaitResult w;
    std::thread waiter([&] {
      w = containers_.WaitFor(id, WaitCondition::kNotRunning, [] { return false; });
      uint64_t one = 1;
      ssize_t n = write(exited.get(), &one, sizeof one);
      (void)n;
    });
    size_t shown = 0;
    auto show = [&](bool follow) {
      std::pair<std::string, bool> info = containers_.LogInfo(id);
      shim::LogReadOptions lo;
      lo.follow = follow;
      shim::FollowControl control;
      control.stop_fd = exited.get();
      size_t seen = 0;
      shim::LogReader(info.first)
          .Read(
              lo,
              [&](shim::Stream, std::string_view text, int64_t) {
                if (seen++ >= shown) {
                  ++shown;
                  Say(std::string(text));
                }
              },
              control);
    };
    try {
      show(true);
    } catch (...) {
      waiter.join();
      throw;
    }
    waiter.join();
    show(false);  // what came after the follow saw the container stop
    std::string shown_cmd;
    for (const std::string& a : cmd) shown_cmd += (shown_cmd.empty() ? "" : " ") + a;
    if (w.status_code != 0 || !w.error.empty()) {
      std::string why = "The command '" + shown_cmd +
                        "' returned a non-zero code: " + std::to_string(w.status_code);
      if (!w.error.empty()) why = "The command '" + shown_cmd + "' failed: " + w.error;
      throw BuildError(why, static_cast<int>(w.status_code));
    }
    for (const std::string& path : made) containers_.RemoveMountPoint(id, path);
    BuildStep s;
    s.config = st.config;
    // Docker's history of a RUN with build args in scope: "|2 A=1 B=2 /bin/sh -c …".
    std::map<std::string, std::string> args = step.Args();
    s.created_by = shown_cmd;
    if (!args.empty()) {
      std::string prefix = "|" + std::to_string(args.size());
      for (const auto& [k, v] : args) prefix += " " + k + "=" + v;
      s.created_by = prefix + " " + shown_cmd;
    }
    s.container_id = id;
    s.cache_key = key;
    st.image = images_.AddBuildStep(
        st.image, [&](const image::WriteFn& out) { containers_.WriteChanges(id, out); }, s);
    if (o_.remove) {
      RemoveStepContainer(id);
      Say("Removing intermediate container " + Short(id) + "\n");
    } else {
      KeepStepContainer(id);  // rm=0: it outlives the build, as Docker's
    }
  }

  // The part of a COPY/ADD cache key that is not the instruction: the context files' digest,
  // or the source stage's or image's ID for --from.
  std::string FilesKey(const build::ResolvedBuild& rb, const build::ResolvedStep& step,
                       const std::map<int, StageState>& done) {
    if (const build::Flag* from = step.inst.FindFlag("from")) {
      if (std::optional<int> s = rb.FindStage(from->value)) {
        auto it = done.find(*s);
        return "from:" + (it == done.end() ? std::string() : it->second.image);
      }
      return "from:" + images_.Resolve(from->value);
    }
    std::lock_guard lock(context_mu_);
    return build::StepFilesDigest(*context_, step);
  }

  // Where a COPY's files go: absolute, relative ones under the workdir.
  std::string AbsoluteDest(const StageState& st, const std::string& dest) {
    if (!dest.empty() && dest.front() == '/') return dest;
    std::string wd = st.config.value("WorkingDir", "");
    if (wd.empty()) wd = "/";
    return (wd.back() == '/' ? wd : wd + "/") + dest;
  }

  bool IsDirIn(const std::string& container, const std::string& path) {
    try {
      return (containers_.StatPath(container, path).mode & (1u << 31)) != 0;  // Go's ModeDir
    } catch (const Error& e) {
      if (e.kind() == Kind::kNotFound) return false;
      throw;
    }
  }

  bool ExistsIn(const std::string& container, const std::string& path) {
    try {
      containers_.StatPath(container, path);
      return true;
    } catch (const Error& e) {
      if (e.kind() == Kind::kNotFound) return false;
      throw;
    }
  }

  void CopyStep(const build::ResolvedBuild& rb, StageState& st, const build::ResolvedStep& step,
                const std::string& key, const std::map<int, StageState>& done) {
    const build::Instruction& inst = step.inst;
    if (inst.args.size() < 2) ThrowInvalid(inst.text + ": a source and a destination are needed");
    std::vector<std::string> sources(inst.args.begin(), inst.args.end() - 1);
    std::string raw_dest = inst.args.back();
    bool is_add = inst.command == build::Command::kAdd;
    std::string chown;
    if (const build::Flag* f = inst.FindFlag("chown")) chown = f->value;
    std::optional<uint32_t> chmod;
    if (const build::Flag* f = inst.FindFlag("chmod")) {
      chmod = static_cast<uint32_t>(std::stoul(f->value, nullptr, 8));
    }
    for (const std::string& s : sources) {
      if (s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0 || s.rfind("git@", 0) == 0) {
        ThrowInvalid(std::string(is_add ? "ADD" : "COPY") + " " + s +
                     ": remote sources are not fetched by this builder (no network access to "
                     "them here): put the file in the build context and COPY it");
      }
    }
    const build::Flag* from = inst.FindFlag("from");
    if (from) {
      CopyFrom(rb, st, step, key, done, *from, sources, raw_dest, chown, chmod);
      return;
    }

    std::string dest = AbsoluteDest(st, raw_dest);
    bool dest_slash = !raw_dest.empty() && raw_dest.back() == '/';
    std::string cid;
    if (!st.image.empty())
      cid = CreateStepContainer(st, {{"Cmd", {"true"}}, {"Entrypoint", json::array()}});
    Owner owner = ResolveOwner(chown, containers_, cid);

    // Which entries go where.
    std::vector<CopyItem> items;
    std::vector<std::pair<std::string, std::string>> archives;  // ADD: local tar -> dest dir
    std::vector<std::string> excludes = inst.FlagValues("exclude");
    bool many = sources.size() > 1;
    for (const std::string& src : sources) {
      if (HasWildcard(src)) many = true;
    }
    const build::Flag* parents_flag = inst.FindFlag("parents");
    bool parents = parents_flag != nullptr && parents_flag->value != "false";
    bool dest_dir = dest_slash || many || parents || (!cid.empty() && IsDirIn(cid, dest));
    std::string dest_root = CleanRelative(dest);
    dest_root = "/" + dest_root;
    for (const std::string& src : sources) {
      if (src.rfind("<<", 0) == 0) {
        const build::Heredoc* h = nullptr;
        for (const build::Heredoc& d : inst.heredocs) {
          if ("<<" + d.name == src || "<<-" + d.name == src || "<<\"" + d.name + "\"" == src ||
              "<<'" + d.name + "'" == src) {
            h = &d;
          }
        }
        if (h) {
          CopyItem item;
          item.target = dest_dir ? (dest_root == "/" ? "" : dest_root) + "/" + h->name : dest_root;
          item.mode = S_IFREG | 0644;
          item.content = h->content;
          item.from_content = true;
          item.size = h->content.size();
          items.push_back(item);
          continue;
        }
      }
      std::string clean = CleanRelative(src);
      bool wildcard = HasWildcard(src);
      size_t depth = clean.empty() ? 0 : std::count(clean.begin(), clean.end(), '/') + 1;
      std::vector<const build::ContextEntry*> chosen = context_->Select(src, excludes);
      std::map<std::string, const build::ContextEntry*> by_path;
      for (const build::ContextEntry* e : chosen) by_path[e->path] = e;
      for (const build::ContextEntry* e : chosen) {
        std::string root = clean;
        if (wildcard) {
          size_t pos = 0;
          for (size_t k = 0; k < depth && pos != std::string::npos; ++k) {
            pos = e->path.find('/', pos == 0 && k == 0 ? 0 : pos + 1);
          }
          root = pos == std::string::npos ? e->path : e->path.substr(0, pos);
        }
        bool root_is_dir = root.empty();
        if (!root_is_dir) {
          auto it = by_path.find(root);
          root_is_dir = it != by_path.end() ? it->second->IsDir() : true;
        }
        CopyItem item;
        item.mode = e->mode;
        item.size = e->size;
        item.mtime = e->mtime;
        item.link = e->link_target;
        item.source = JoinPath(context_dir_, e->path);
        if (parents) {
          // --parents: the path below the context (or below a "/./" in the source) is kept.
          std::string rel = e->path;
          if (size_t pv = src.find("/./"); pv != std::string::npos) {
            std::string pivot = CleanRelative(src.substr(0, pv));
            if (!pivot.empty()) {
              if (rel == pivot) continue;
              rel = rel.substr(pivot.size() + 1);
            }
          }
          item.target = (dest_root == "/" ? "" : dest_root) + "/" + rel;
          items.push_back(item);
          continue;
        }
        if (root_is_dir) {
          if (e->path == root) continue;  // the directory itself: its contents go to dest
          std::string rel = root.empty() ? e->path : e->path.substr(root.size() + 1);
          item.target = (dest_root == "/" ? "" : dest_root) + "/" + rel;
        } else if (dest_dir) {
          item.target = (dest_root == "/" ? "" : dest_root) + "/" + BaseName(root);
        } else {
          item.target = dest_root;
        }
        if (is_add && S_ISREG(e->mode) && !root_is_dir && IsArchive(item.source)) {
          archives.emplace_back(item.source, dest_dir ? dest_root : Parent(dest_root));
          continue;
        }
        items.push_back(item);
      }
    }

    if (cid.empty()) {
      // FROM scratch: nothing below, so the layer is exactly these files.
      std::string upper = JoinPath(dir_, "scratch-" + RandomHex(6));
      MkdirAll(upper, 0755);
      std::string tar = JoinPath(dir_, "copy-" + RandomHex(6) + ".tar");
      WriteCopyTar(tar, WithParents(items, {}, owner), owner, chmod);
      UniqueFd fd(open(tar.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) ThrowErrno("build: " + tar);
      image::ApplyLayer(fd.get(), upper, image::WhiteoutMode::kApply, false);
      for (const auto& [archive, to] : archives) {
        UniqueFd a(open(archive.c_str(), O_RDONLY | O_CLOEXEC));
        MkdirAll(JoinPath(upper, to), 0755);
        image::ApplyLayer(a.get(), JoinPath(upper, to), image::WhiteoutMode::kApply, false);
      }
      unlink(tar.c_str());
      BuildStep s;
      s.config = st.config;
      s.created_by = "/bin/sh -c #(nop) " + inst.text;
      s.cache_key = key;
      st.image = images_.AddBuildStep(
          "",
          [&](const image::WriteFn& out) {
            image::WriteLayerFromUpper(upper, out, image::Compression::kNone);
          },
          s);
      RemoveAll(upper);
      return;
    }
    Unpack(cid, WithParents(items, cid, owner), owner, chmod);
    for (const auto& [archive, to] : archives) {
      Unpack(cid, WithParents({}, cid, owner, to), owner, chmod);
      UniqueFd a(open(archive.c_str(), O_RDONLY | O_CLOEXEC));
      if (!a) ThrowErrno("build: " + archive);
      containers_.ExtractToPath(cid, to, FdReader(a.get()), false, true);
    }
    Commit(st, cid, inst.text, key);
  }

  static bool IsArchive(const std::string& path) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return false;
    unsigned char b[262] = {};
    ssize_t n = pread(fd.get(), b, sizeof b, 0);
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) return true;                               // gzip
    if (n >= 3 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h') return true;                  // bzip2
    if (n >= 6 && b[0] == 0xfd && b[1] == '7' && b[2] == 'z' && b[3] == 'X') return true;  // xz
    return n >= 262 && memcmp(b + 257, "ustar", 5) == 0;                                   // tar
  }

  // The items with a directory entry first for each missing ancestor of their targets (and
  // of `extra`), owned as the step says, mode 0755: Docker creates COPY's destination so.
  std::vector<CopyItem> WithParents(const std::vector<CopyItem>& items, const std::string& cid,
                                    Owner, const std::string& extra = "") {
    std::set<std::string> have;
    for (const CopyItem& i : items) have.insert(i.target);
    std::vector<std::string> want;
    auto add_chain = [&](std::string dir) {
      std::vector<std::string> chain;
      while (dir != "/" && !dir.empty() && !have.count(dir)) {
        if (!cid.empty() && ExistsIn(cid, dir)) break;
        chain.push_back(dir);
        have.insert(dir);
        dir = Parent(dir);
      }
      want.insert(want.end(), chain.rbegin(), chain.rend());
    };
    for (const CopyItem& i : items) add_chain(Parent(i.target));
    if (!extra.empty() && extra != "/") add_chain(extra);
    std::vector<CopyItem> out;
    for (const std::string& d : want) {
      CopyItem dir;
      dir.target = d;
      dir.mode = S_IFDIR | 0755;
      out.push_back(dir);
    }
    out.insert(out.end(), items.begin(), items.end());
    return out;
  }

  void Unpack(const std::string& cid, const std::vector<CopyItem>& items, Owner owner,
              std::optional<uint32_t> chmod) {
    if (items.empty()) return;
    std::string tar = JoinPath(dir_, "copy-" + RandomHex(6) + ".tar");
    // Created directories keep 0755 even under --chmod: only copied entries get it.
    std::vector<CopyItem> dirs, files;
    for (const CopyItem& i : items)
      (i.mode == (S_IFDIR | 0755) && i.source.empty() ? dirs : files).push_back(i);
    WriteCopyTar(tar, dirs, owner, std::nullopt);
    {
      UniqueFd fd(open(tar.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) ThrowErrno("build: " + tar);
      if (!dirs.empty()) containers_.ExtractToPath(cid, "/", FdReader(fd.get()), false, true);
    }
    WriteCopyTar(tar, files, owner, chmod);
    UniqueFd fd(open(tar.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) ThrowErrno("build: " + tar);
    if (!files.empty()) containers_.ExtractToPath(cid, "/", FdReader(fd.get()), false, true);
    unlink(tar.c_str());
  }

  void Commit(StageState& st, const std::string& cid, const std::string& text,
              const std::string& key) {
    BuildStep s;
    s.config = st.config;
    s.created_by = "/bin/sh -c #(nop) " + text;
    s.container_id = cid;
    s.cache_key = key;
    st.image = images_.AddBuildStep(
        st.image, [&](const image::WriteFn& out) { containers_.WriteChanges(cid, out); }, s);
    RemoveStepContainer(cid);
  }

  // COPY --from=<stage|image>: the path's tar from a container of that image, renamed under
  // the destination.
  void CopyFrom(const build::ResolvedBuild& rb, StageState& st, const build::ResolvedStep& step,
                const std::string& key, const std::map<int, StageState>& done,
                const build::Flag& from, const std::vector<std::string>& sources,
                const std::string& raw_dest, const std::string& chown,
                std::optional<uint32_t> chmod) {
    std::string source_image;
    if (std::optional<int> s = rb.FindStage(from.value)) {
      source_image = done.at(*s).image;
    } else {
      source_image = images_.Resolve(from.value);
    }
    if (source_image.empty())
      ThrowInvalid(step.inst.text + ": the stage " + from.value + " is empty");
    StageState src_state;
    src_state.image = source_image;
    std::string src_cid =
        CreateStepContainer(src_state, {{"Cmd", {"true"}}, {"Entrypoint", json::array()}});
    std::string cid;
    if (!st.image.empty())
      cid = CreateStepContainer(st, {{"Cmd", {"true"}}, {"Entrypoint", json::array()}});
    if (cid.empty()) {
      ThrowInvalid(step.inst.text +
                   ": COPY --from onto an empty (scratch) stage is not supported yet");
    }
    Owner owner = ResolveOwner(chown, containers_, cid);
    std::string dest = "/" + CleanRelative(AbsoluteDest(st, raw_dest));
    bool dest_dir =
        (!raw_dest.empty() && raw_dest.back() == '/') || sources.size() > 1 || IsDirIn(cid, dest);
    for (const std::string& src : sources) {
      if (HasWildcard(src))
        ThrowInvalid(step.inst.text + ": wildcards in COPY --from are not supported yet");
      std::string path = "/" + CleanRelative(src);
      PathStat ps = containers_.StatPath(src_cid, path);
      bool is_dir = (ps.mode & (1u << 31)) != 0;
      std::string raw = JoinPath(dir_, "from-" + RandomHex(6) + ".tar");
      {
        UniqueFd out(open(raw.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!out) ThrowErrno("build: " + raw);
        containers_.ArchivePath(
            src_cid, path, [](const PathStat&) {},
            [&](const void* data, size_t size) {
              const char* p = static_cast<const char*>(data);
              while (size > 0) {
                ssize_t w = write(out.get(), p, size);
                if (w < 0 && errno == EINTR) continue;
                if (w < 0) ThrowErrno("build: write " + raw);
                p += w;
                size -= static_cast<size_t>(w);
              }
            });
      }
      // Rename: "<base>/x" -> "<dest>/x" for a directory, "<base>" -> dest or dest/<base>.
      std::string base = ps.name;
      std::string target_root =
          is_dir ? dest : (dest_dir ? (dest == "/" ? "" : dest) + "/" + base : dest);
      std::vector<CopyItem> parents =
          WithParents({}, cid, owner, is_dir ? dest : Parent(target_root));
      Unpack(cid, parents, owner, std::nullopt);
      RewriteAndExtract(cid, raw, base, target_root, owner, chmod);
      unlink(raw.c_str());
    }
    RemoveStepContainer(src_cid);
    Commit(st, cid, step.inst.text, key);
  }

  // Reads the tar at `raw` (entries under `base`), writes it again with `base` replaced by
  // `target_root` and the owners and modes the step asks for, and unpacks it at "/".
  void RewriteAndExtract(const std::string& cid, const std::string& raw, const std::string& base,
                         const std::string& target_root, Owner owner,
                         std::optional<uint32_t> chmod) {
    std::string out_path = JoinPath(dir_, "from2-" + RandomHex(6) + ".tar");
    {
      std::unique_ptr<struct archive, int (*)(struct archive*)> r(archive_read_new(),
                                                                  archive_read_free);
      archive_read_support_format_tar(r.get());
      if (archive_read_open_filename(r.get(), raw.c_str(), 128 << 10) != ARCHIVE_OK) {
        ThrowInvalid(std::string("build: ") + archive_error_string(r.get()));
      }
      std::unique_ptr<struct archive, int (*)(struct archive*)> w(archive_write_new(),
                                                                  archive_write_free);
      archive_write_set_format_pax_restricted(w.get());
      if (archive_write_open_filename(w.get(), out_path.c_str()) != ARCHIVE_OK) {
        ThrowInvalid(std::string("build: ") + archive_error_string(w.get()));
      }
      struct archive_entry* e;
      std::vector<char> buf(256 << 10);
      std::string prefix = target_root.substr(1);
      while (archive_read_next_header(r.get(), &e) == ARCHIVE_OK) {
        std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
        while (!name.empty() && name.back() == '/') name.pop_back();
        std::string rel;
        if (name == base) {
          rel = "";
        } else if (name.rfind(base + "/", 0) == 0) {
          rel = name.substr(base.size() + 1);
        } else {
          continue;
        }
        if (rel.empty() && archive_entry_filetype(e) == AE_IFDIR) continue;  // the dir itself
        std::string target = rel.empty() ? prefix : (prefix.empty() ? rel : prefix + "/" + rel);
        archive_entry_set_pathname(e, target.c_str());
        if (const char* hl = archive_entry_hardlink(e)) {
          std::string link = hl;
          if (link.rfind(base + "/", 0) == 0) {
            std::string lrel = link.substr(base.size() + 1);
            archive_entry_set_hardlink(e, (prefix.empty() ? lrel : prefix + "/" + lrel).c_str());
          }
        }
        archive_entry_set_uid(e, owner.uid);
        archive_entry_set_gid(e, owner.gid);
        if (chmod && archive_entry_filetype(e) != AE_IFLNK) archive_entry_set_perm(e, *chmod);
        if (archive_write_header(w.get(), e) != ARCHIVE_OK) {
          ThrowInvalid(std::string("build: ") + archive_error_string(w.get()));
        }
        for (la_ssize_t n; (n = archive_read_data(r.get(), buf.data(), buf.size())) > 0;) {
          archive_write_data(w.get(), buf.data(), static_cast<size_t>(n));
        }
      }
      archive_write_close(w.get());
    }
    UniqueFd fd(open(out_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) ThrowErrno("build: " + out_path);
    containers_.ExtractToPath(cid, "/", FdReader(fd.get()), false, true);
    unlink(out_path.c_str());
  }

  ImageService& images_;
  ContainerService& containers_;
  const BuildOptions& o_;
  const MessageFn& message_;
  std::string dir_;
  std::string context_dir_;
  std::string secrets_dir_;
  std::unique_ptr<build::ContextIndex> context_;
  std::mutex left_mu_;
  std::set<std::string> containers_left_;  // left_mu_
  std::mutex context_mu_;                  // context_'s digests are computed once, lazily
  std::mutex say_mu_;
  std::atomic<bool> failed_ = false;
  int total_ = 0;
};

}  // namespace

Builder::Builder(ImageService& images, ContainerService& containers, std::string work_root)
    : images_(images), containers_(containers), work_root_(std::move(work_root)) {}

std::string Builder::Build(const image::ReadFn& read, const BuildOptions& options,
                           const MessageFn& message) {
  if (!options.platform.empty()) {
    build::Platform host = build::HostPlatform();
    if (options.platform != host.String() && options.platform != host.os + "/" + host.arch) {
      ThrowInvalid("platform " + options.platform + " is not supported: this builder builds for " +
                   host.String() + " only");
    }
  }
  MkdirAll(work_root_, 0700);
  std::string dir = JoinPath(work_root_, RandomHex(8));
  MkdirAll(dir, 0700);
  try {
    std::string id;
    {
      Run run(images_, containers_, options, message, dir);
      id = run.Go(read);
    }
    // The unpacked context goes after the answer: a large one takes a while to delete.
    std::thread([dir] { RemoveAll(dir); }).detach();
    return id;
  } catch (...) {
    RemoveAll(dir);
    throw;
  }
}

void Builder::CleanUp() { RemoveAll(work_root_); }

}  // namespace berth::engine

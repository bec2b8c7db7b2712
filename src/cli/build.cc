// berth build | image build: the context as a tar streamed to POST /build (the classic
// builder's protocol), the daemon's output as it arrives, and Berth's own mark when each step
// ends: its time, and whether the cache gave it.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <sstream>
#include <thread>

#include "base/digest.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/file_util.h"
#include "build/context.h"
#include "cli/attach.h"
#include "cli/build_stream.h"
#include "cli/cli.h"
#include "cli/docker_config.h"
#include "cli/progress_display.h"
#include "cli/units.h"

namespace berth::cli {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct BuildFlags {
  std::string path;
  std::vector<std::string> tags, build_args, labels, secrets;
  std::string file, target, network, platform, iidfile;
  bool no_cache = false, quiet = false, pull = false, rm = true, force_rm = false;
};

// ---- The body ----

// What goes to the daemon: `produce` writes the tar, `dockerfile` is its name inside.
struct Body {
  std::function<void(const build::TarWriteFn&)> produce;
  std::string dockerfile;
};

void WriteAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno("write");
    p += n;
    size -= static_cast<size_t>(n);
  }
}

// Reads up to `size` bytes, fewer only at the end of the input.
size_t ReadFull(int fd, char* buf, size_t size) {
  size_t got = 0;
  while (got < size) {
    ssize_t n = read(fd, buf + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno("read stdin");
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

std::string ReadAllFd(int fd) {
  std::string out;
  char buf[1 << 16];
  while (size_t n = ReadFull(fd, buf, sizeof buf)) out.append(buf, n);
  return out;
}

std::string Prepare(const std::string& what) { return "unable to prepare context: " + what; }

std::string LowerFirst(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(tolower(static_cast<unsigned char>(text[0])));
  return text;
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) {
    throw Error(Kind::kInvalidArgument,
                Prepare("unable to evaluate symlinks in Dockerfile path: lstat " + path + ": " +
                        LowerFirst(strerror(errno))));
  }
  return buf;
}

std::string Absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == nullptr) ThrowErrno("getcwd");
  return JoinPath(cwd, path);
}

// A context directory with a Dockerfile from elsewhere (stdin, or a file outside it), as the
// docker CLI sends it (AddDockerfileToBuildContext): the Dockerfile under a random name, and
// that name added to .dockerignore so that COPY does not see it.
Body DirWithDockerfile(const std::string& dir, std::string text) {
  std::string name = ".dockerfile." + RandomHex(10);
  Body body;
  body.dockerfile = name;
  body.produce = [dir, name, text = std::move(text)](const build::TarWriteFn& write) {
    std::optional<std::string> ignore = ReadFileIfExists(JoinPath(dir, ".dockerignore"));
    std::string ignore_text = ignore ? *ignore : ".dockerignore";
    ignore_text += "\n" + name + "\n";
    std::string head = TarFile(".dockerignore", ignore_text, 0600, time(nullptr)) +
                       TarFile(name, text, 0600, time(nullptr));
    write(head.data(), head.size());
    std::vector<build::ContextEntry> entries =
        build::WalkContext(dir, build::LoadDockerignore(dir));
    std::erase_if(entries, [](const build::ContextEntry& e) { return e.path == ".dockerignore"; });
    build::WriteContextTar(dir, entries, write);
  };
  return body;
}

// --secret id=X,src=FILE (BuildKit's syntax; `source` too, `type=file` the only type): the
// file goes in front of the context as .berth-build-secrets/X, which berthd takes out of the
// context before anything reads it and binds for RUN --mount=type=secret,id=X only
// (docs/build.md). Read now, so a missing file fails before anything is sent.
Body WithSecrets(Body body, const BuildFlags& f) {
  if (f.secrets.empty()) return body;
  if (f.path == "-") ThrowInvalid("--secret needs a context directory, not a tar from stdin");
  auto head = std::make_shared<std::string>();
  for (const std::string& spec : f.secrets) {
    std::string id, src;
    size_t start = 0;
    while (start <= spec.size()) {
      size_t comma = spec.find(',', start);
      std::string part = spec.substr(start, comma == std::string::npos ? comma : comma - start);
      size_t eq = part.find('=');
      std::string key = part.substr(0, eq),
                  value = eq == std::string::npos ? "" : part.substr(eq + 1);
      if (key == "id") {
        id = value;
      } else if (key == "src" || key == "source") {
        src = value;
      } else if (!(key == "type" && value == "file")) {
        ThrowInvalid("--secret " + spec + ": unexpected key \"" + key +
                     "\" (id=ID,src=FILE is supported)");
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (src.empty()) src = id;
    if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..") {
      ThrowInvalid("--secret " + spec + ": a secret needs an id (a name without /)");
    }
    std::optional<std::string> content = ReadFileIfExists(src);
    if (!content) ThrowInvalid("--secret " + spec + ": cannot read " + src);
    *head += TarFile(std::string(build::kSecretsDir) + "/" + id, *content, 0400, time(nullptr));
  }
  auto inner = std::move(body.produce);
  body.produce = [head, inner](const build::TarWriteFn& write) {
    write(head->data(), head->size());
    inner(write);
  };
  return body;
}

Body PrepareBody(const BuildFlags& f) {
  bool dockerfile_stdin = f.file == "-";
  if (f.path == "-") {
    if (dockerfile_stdin) {
      ThrowInvalid("invalid argument: can't use stdin for both build context and dockerfile");
    }
    // A tar (maybe compressed) as it is, or a Dockerfile alone (`berth build - < Dockerfile`).
    auto head = std::make_shared<std::string>(512, '\0');
    head->resize(ReadFull(STDIN_FILENO, head->data(), head->size()));
    Body body;
    if (IsArchive(*head)) {
      body.dockerfile = f.file;
      body.produce = [head](const build::TarWriteFn& write) {
        write(head->data(), head->size());
        char buf[1 << 16];
        while (size_t n = ReadFull(STDIN_FILENO, buf, sizeof buf)) write(buf, n);
      };
      return body;
    }
    if (!f.file.empty()) {
      ThrowInvalid("ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles");
    }
    std::string text = *head + ReadAllFd(STDIN_FILENO);
    body.dockerfile = "Dockerfile";
    body.produce = [text](const build::TarWriteFn& write) {
      std::string tar = TarFile("Dockerfile", text, 0600, time(nullptr)) + TarEnd();
      write(tar.data(), tar.size());
    };
    return body;
  }

  struct stat st;
  if (stat(f.path.c_str(), &st) != 0) {
    ThrowInvalid(Prepare("path \"" + f.path + "\" not found"));
  }
  if (!S_ISDIR(st.st_mode)) ThrowInvalid(Prepare("context must be a directory: " + f.path));
  char buf[PATH_MAX];
  if (realpath(f.path.c_str(), buf) == nullptr) ThrowErrno(Prepare(f.path));
  std::string dir = buf;
  if (dockerfile_stdin) return DirWithDockerfile(dir, ReadAllFd(STDIN_FILENO));

  // -f is relative to the current directory, not to the context (as the docker CLI has it);
  // without it, <context>/Dockerfile, else <context>/dockerfile.
  std::string given = f.file.empty() ? JoinPath(dir, "Dockerfile") : Absolute(f.file);
  if (f.file.empty() && access(given.c_str(), F_OK) != 0 &&
      access(JoinPath(dir, "dockerfile").c_str(), F_OK) == 0) {
    given = JoinPath(dir, "dockerfile");
  }
  std::string dockerfile = RealPath(given);
  if (stat(dockerfile.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    ThrowInvalid(Prepare("the Dockerfile (" + given + ") is not a regular file"));
  }
  if (dockerfile.rfind(dir + "/", 0) != 0 && dir != "/") {
    return DirWithDockerfile(dir, ReadFile(dockerfile));
  }
  Body body;
  body.dockerfile = dir == "/" ? dockerfile.substr(1) : dockerfile.substr(dir.size() + 1);
  body.produce = [dir, rel = body.dockerfile](const build::TarWriteFn& write) {
    build::WriteBuildContext(dir, rel, write);
  };
  return body;
}

// Runs `produce` on a thread of its own writing into a pipe, so that the body goes out
// chunked as it is made, never whole in memory. Counts what it sends and shows it as the
// docker CLI does ("Sending build context to Docker daemon  2.048kB").
class PipedBody {
 public:
  PipedBody(const Body& body, bool show) : show_(show), tty_(isatty(STDOUT_FILENO) != 0) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) ThrowErrno("build context: pipe");
    read_ = UniqueFd(fds[0]);
    producer_ = std::make_shared<Producer>();
    producer_->write = UniqueFd(fds[1]);
    thread_ = std::thread([p = producer_, produce = body.produce] {
      try {
        produce([&p](const void* data, size_t size) { WriteAll(p->write.get(), data, size); });
      } catch (...) {
        p->error = std::current_exception();
      }
      p->write.Reset();
      p->done = true;
    });
  }
  PipedBody(const PipedBody&) = delete;
  PipedBody& operator=(const PipedBody&) = delete;

  // Closing the read end makes the producer's next write fail, so it ends; one still waiting
  // for stdin (a tar piped in) is left to the end of the process.
  ~PipedBody() {
    read_.Reset();
    if (!thread_.joinable()) return;
    if (producer_->done) {
      thread_.join();
    } else {
      thread_.detach();
    }
  }

  // The next bytes; 0 at the end. The producer's failure is thrown here, before the last
  // chunk goes out, so the daemon never takes a cut tar for a whole one.
  size_t Read(void* buf, size_t size) {
    for (;;) {
      ssize_t n = read(read_.get(), buf, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) ThrowErrno("build context: read");
      if (n == 0) {
        if (thread_.joinable()) thread_.join();
        if (producer_->error) std::rethrow_exception(producer_->error);
        Show(true);
        return 0;
      }
      sent_ += static_cast<uint64_t>(n);
      Show(false);
      return static_cast<size_t>(n);
    }
  }

  // The "Sending" line is open (on a terminal, redrawn in place) and needs its end.
  void EndLine() {
    if (open_) std::cout << "\n" << std::flush;
    open_ = false;
  }

 private:
  void Show(bool done) {
    if (!show_ || (!done && !tty_)) return;
    Clock::time_point now = Clock::now();
    if (!done && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    char line[96];
    snprintf(line, sizeof line, "Sending build context to Docker daemon  %8s",
             HumanSize(static_cast<double>(sent_)).c_str());
    std::cout << (tty_ ? "\r" : "") << line;
    open_ = true;
    if (done) EndLine();
    std::cout << std::flush;
  }

  bool show_, tty_, open_ = false;
  Clock::time_point last_{};
  uint64_t sent_ = 0;
  // What the producer's thread owns with this object (shared: it may outlive it).
  struct Producer {
    UniqueFd write;
    std::exception_ptr error;
    std::atomic<bool> done = false;
  };
  UniqueFd read_;
  std::shared_ptr<Producer> producer_;
  std::thread thread_;
};

int TerminalWidth() {
  std::optional<std::pair<int, int>> size = TerminalSize();
  return size ? size->second : 0;
}

std::string JsonOf(const std::map<std::string, json>& values) {
  json j = json::object();
  for (const auto& [k, v] : values) j[k] = v;
  return j.dump();
}

std::string Target(const BuildFlags& f, const std::string& dockerfile) {
  std::string t = "/build?version=1";
  for (const std::string& tag : f.tags) t += "&t=" + QueryEscape(tag);
  if (!dockerfile.empty()) t += "&dockerfile=" + QueryEscape(dockerfile);
  // KEY=VALUE; KEY alone takes the value from the environment, else null (the daemon then
  // keeps the ARG's default), as the docker CLI has it.
  std::map<std::string, json> args;
  for (const std::string& a : f.build_args) {
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      args[a.substr(0, eq)] = a.substr(eq + 1);
    } else if (const char* v = getenv(a.c_str())) {
      args[a] = v;
    } else {
      args[a] = nullptr;
    }
  }
  std::map<std::string, json> labels;
  for (const std::string& l : f.labels) {
    size_t eq = l.find('=');
    labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  t += "&buildargs=" + QueryEscape(JsonOf(args)) + "&labels=" + QueryEscape(JsonOf(labels));
  if (!f.target.empty()) t += "&target=" + QueryEscape(f.target);
  if (!f.network.empty()) t += "&networkmode=" + QueryEscape(f.network);
  if (!f.platform.empty()) t += "&platform=" + QueryEscape(f.platform);
  t += std::string("&rm=") + (f.rm ? "1" : "0");
  if (f.force_rm) t += "&forcerm=1";
  if (f.no_cache) t += "&nocache=1";
  if (f.quiet) t += "&q=1";
  if (f.pull) t += "&pull=1";
  return t;
}

void Build(Context& ctx, const BuildFlags& f) {
  if (!f.iidfile.empty() && unlink(f.iidfile.c_str()) != 0 && errno != ENOENT) {
    ThrowErrno("remove the image ID file " + f.iidfile);  // no stale ID if the build fails
  }
  Body body = WithSecrets(PrepareBody(f), f);
  std::string target = Target(f, body.dockerfile);

  bool tty = isatty(STDOUT_FILENO) != 0;
  std::ostringstream quiet_out;  // -q: the daemon's text, printed at the end
  std::ostream& out = f.quiet ? static_cast<std::ostream&>(quiet_out) : std::cout;
  JsonMessageDisplay display(out, tty && !f.quiet, TerminalWidth());
  StepMarks marks(out);
  std::string image_id, error;
  int code = 0;
  bool failed = false;
  api::JsonStreamSplitter splitter([&](const json& m) {
    if (!m.is_object() || failed) return;
    if (m.contains("error") || m.contains("errorDetail")) {
      failed = true;
      const json& d = m.contains("errorDetail") ? m["errorDetail"] : json::object();
      error = d.is_object() && d.contains("message") && d["message"].is_string()
                  ? d["message"].get<std::string>()
                  : m.value("error", std::string("the build failed"));
      code = d.is_object() && d.contains("code") && d["code"].is_number_integer()
                 ? d["code"].get<int>()
                 : 0;
      marks.Fail();
      return;
    }
    if (m.contains("aux")) {
      if (m["aux"].is_object() && m["aux"].contains("ID") && m["aux"]["ID"].is_string()) {
        image_id = m["aux"]["ID"].get<std::string>();
      }
      return;
    }
    std::string text =
        m.contains("stream") && m["stream"].is_string() ? m["stream"].get<std::string>() : "";
    marks.Before(text);
    display.Show(m);
    marks.After(text);
  });

  // Every credential config.json has, as the docker CLI sends them: a base image from a
  // private registry is pulled with them.
  try {
    ctx.client().SetHeader("X-Registry-Config",
                           registry::EncodeRegistryConfig(DockerConfig().GetAll()));
  } catch (const Error& e) {
    std::cerr << "WARNING: " << e.what() << "\n";
  }
  PipedBody piped(body, !f.quiet);
  api::Client::ReadFn read = [&piped](void* buf, size_t size) { return piped.Read(buf, size); };
  try {
    ctx.client().Stream("POST", target, &read, "application/x-tar",
                        [&](std::string_view d) { splitter.Feed(d); });
  } catch (...) {
    piped.EndLine();
    throw;
  }
  std::cout.flush();
  if (failed) {
    if (f.quiet) std::cerr << quiet_out.str();
    std::cerr << error << "\n";
    throw ExitStatus(code == 0 ? 1 : code);
  }
  if (f.quiet) {
    std::cout << quiet_out.str() << std::flush;
    if (image_id.empty()) {
      image_id = quiet_out.str();
      while (!image_id.empty() && image_id.back() == '\n') image_id.pop_back();
    }
  }
  if (!f.iidfile.empty()) {
    if (image_id.empty()) {
      ThrowInvalid("Server did not provide an image ID. Cannot write " + f.iidfile);
    }
    UniqueFd fd(open(f.iidfile.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666));
    if (!fd) ThrowErrno("write the image ID file " + f.iidfile);
    WriteAll(fd.get(), image_id.data(), image_id.size());
  }
}

}  // namespace

void AddBuildCommand(CLI::App* parent, Context& ctx) {
  auto f = std::make_shared<BuildFlags>();
  CLI::App* cmd = parent->add_subcommand("build", "Build an image from a Dockerfile");
  cmd->add_option("PATH", f->path,
                  "The context: a directory, or - for stdin (a tar, or a Dockerfile alone)")
      ->required();
  auto many = [cmd](const std::string& name, std::vector<std::string>& into,
                    const std::string& help) {
    cmd->add_option(name, into, help)->allow_extra_args(false);
  };
  many("-t,--tag", f->tags, "Name and optionally a tag in the 'name:tag' format");
  many("--build-arg", f->build_args, "Set build-time variables (KEY=VALUE, or KEY from the env)");
  many("--label", f->labels, "Set metadata for an image");
  many("--secret", f->secrets, "A secret for RUN --mount=type=secret (id=ID,src=FILE)");
  cmd->add_option("-f,--file", f->file,
                  "Name of the Dockerfile (default: 'PATH/Dockerfile'; - for stdin)");
  cmd->add_option("--target", f->target, "Set the target build stage to build");
  cmd->add_option("--network", f->network, "Networking mode for the RUN instructions");
  cmd->add_option("--platform", f->platform, "Set platform if server is multi-platform capable");
  cmd->add_option("--iidfile", f->iidfile, "Write the image ID to the file");
  cmd->add_flag("--no-cache", f->no_cache, "Do not use cache when building the image");
  cmd->add_flag("-q,--quiet", f->quiet, "Suppress the build output and print image ID on success");
  cmd->add_flag("--pull", f->pull, "Always attempt to pull a newer version of the image");
  cmd->add_flag("--rm", f->rm,
                "Remove intermediate containers after a successful build (default true)");
  cmd->add_flag("--force-rm", f->force_rm, "Always remove intermediate containers");
  cmd->callback([&ctx, f] { Build(ctx, *f); });
}

// `builder prune`: the build cache's step images no name and no container holds; with -a
// also every cache key and RUN --mount=type=cache volumes (docs/build.md).
void BuilderPrune(Context& ctx, bool all, bool force) {
  if (!force) {
    std::cerr << "WARNING! This will remove all dangling build cache. Are you sure you want to "
                 "continue? [y/N] "
              << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y") return;
  }
  nlohmann::json out =
      ctx.client().Json("POST", std::string("/build/prune") + (all ? "?all=1" : ""));
  const nlohmann::json deleted = out.value("CachesDeleted", nlohmann::json::array());
  if (deleted.is_array() && !deleted.empty()) {
    std::cout << "Deleted build cache objects:\n";
    for (const nlohmann::json& id : deleted) std::cout << id.get<std::string>() << "\n";
    std::cout << "\n";
  }
  std::cout << "Total reclaimed space: " << HumanSize(out.value("SpaceReclaimed", 0.0)) << "\n";
}

void AddBuildCommands(CLI::App& app, Context& ctx) {
  AddBuildCommand(&app, ctx);
  CLI::App* builder = app.add_subcommand("builder", "Manage builds");
  builder->require_subcommand(1);
  AddBuildCommand(builder, ctx);
  auto all = std::make_shared<bool>(false);
  auto force = std::make_shared<bool>(false);
  CLI::App* prune = builder->add_subcommand("prune", "Remove build cache");
  prune->add_flag("-a,--all", *all, "Remove all unused build cache, not just dangling ones");
  prune->add_flag("-f,--force", *force, "Do not prompt for confirmation");
  prune->callback([&ctx, all, force] { BuilderPrune(ctx, *all, *force); });
}

}  // namespace berth::cli

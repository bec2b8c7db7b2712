// berth images | image ls|inspect|history|rm|prune|tag|load|save|import, rmi, tag, load,
// save, import: the docker CLI's image commands, same flags and output.

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <iostream>
#include <set>

#include "base/error.h"
#include "base/fd.h"
#include "cli/cli.h"
#include "cli/table.h"
#include "cli/units.h"

extern char** environ;

namespace berth::cli {
namespace {

using nlohmann::json;

const std::map<std::string, std::string> kImageHeaders = {{"ID", "IMAGE ID"},
                                                          {"Repository", "REPOSITORY"},
                                                          {"Tag", "TAG"},
                                                          {"Digest", "DIGEST"},
                                                          {"CreatedSince", "CREATED"},
                                                          {"CreatedAt", "CREATED AT"},
                                                          {"Size", "SIZE"},
                                                          {"Containers", "CONTAINERS"},
                                                          {"SharedSize", "SHARED SIZE"},
                                                          {"UniqueSize", "UNIQUE SIZE"},
                                                          {"VirtualSize", "VIRTUAL SIZE"}};

const std::map<std::string, std::string> kHistoryHeaders = {{"ID", "IMAGE"},
                                                            {"CreatedSince", "CREATED"},
                                                            {"CreatedAt", "CREATED AT"},
                                                            {"CreatedBy", "CREATED BY"},
                                                            {"Size", "SIZE"},
                                                            {"Comment", "COMMENT"}};

std::string Since(int64_t created) {
  return TimeAgo(static_cast<int64_t>(time(nullptr)) - created);
}

std::string Id(const std::string& id, bool no_trunc) { return no_trunc ? id : TruncateId(id); }

// One row per repository:tag, as docker images prints them (<none> for untagged images).
std::vector<json> ImageRows(const json& images, bool no_trunc) {
  std::vector<json> rows;
  for (const json& image : images) {
    json base = {{"ID", Id(image["Id"], no_trunc)},
                 {"CreatedSince", Since(image["Created"])},
                 {"CreatedAt", GoTime(image["Created"])},
                 {"Size", HumanSizeWithPrecision(image["Size"].get<double>(), 3)},
                 {"VirtualSize", HumanSizeWithPrecision(image["VirtualSize"].get<double>(), 3)},
                 {"SharedSize", "N/A"},
                 {"UniqueSize", "N/A"},
                 {"Containers", "N/A"}};
    std::map<std::string, std::string> digest_of;  // repository -> digest
    for (const json& d : image.value("RepoDigests", json::array())) {
      std::string s = d.get<std::string>();
      size_t at = s.find('@');
      if (at != std::string::npos && s != "<none>@<none>") {
        digest_of[s.substr(0, at)] = s.substr(at + 1);
      }
    }
    bool any = false;
    for (const json& t : image.value("RepoTags", json::array())) {
      std::string s = t.get<std::string>();
      if (s == "<none>:<none>") {
        continue;
      }
      size_t colon = s.rfind(':');
      json row = base;
      row["Repository"] = s.substr(0, colon);
      row["Tag"] = s.substr(colon + 1);
      auto d = digest_of.find(s.substr(0, colon));
      row["Digest"] = d == digest_of.end() ? "<none>" : d->second;
      rows.push_back(row);
      any = true;
    }
    if (!any) {
      json row = base;
      row["Repository"] = digest_of.empty() ? "<none>" : digest_of.begin()->first;
      row["Tag"] = "<none>";
      row["Digest"] = digest_of.empty() ? "<none>" : digest_of.begin()->second;
      rows.push_back(row);
    }
  }
  return rows;
}

struct ListOptions {
  bool all = false, quiet = false, digests = false, no_trunc = false;
  std::vector<std::string> filters;
  std::string format;
  std::string repository;
};

void List(Context& ctx, ListOptions& o) {
  std::vector<std::string> filters = o.filters;
  if (!o.repository.empty()) {
    filters.push_back("reference=" + o.repository);
  }
  std::string target = "/images/json?all=" + std::string(o.all ? "1" : "0");
  if (!filters.empty()) {
    target += "&filters=" + QueryEscape(FiltersJson(filters));
  }
  json images = ctx.client().Json("GET", target);
  if (o.quiet) {
    std::set<std::string> seen;
    for (const json& image : images) {
      std::string id = Id(image["Id"], o.no_trunc);
      if (seen.insert(id).second) {
        std::cout << id << "\n";
      }
    }
    return;
  }
  std::string def = o.digests ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t"
                                "{{.CreatedSince}}\t{{.Size}}"
                              : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t"
                                "{{.Size}}";
  PrintList(o.format, def, ImageRows(images, o.no_trunc), kImageHeaders);
}

void AddList(CLI::App* cmd, Context& ctx, bool positional) {
  auto o = std::make_shared<ListOptions>();
  cmd->add_flag("-a,--all", o->all, "Show all images (default hides intermediate images)");
  cmd->add_flag("-q,--quiet", o->quiet, "Only show image IDs");
  cmd->add_flag("--digests", o->digests, "Show digests");
  cmd->add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
  cmd->add_option("-f,--filter", o->filters, "Filter output based on conditions provided");
  cmd->add_option("--format", o->format, "Pretty-print images using a Go template");
  if (positional) {
    cmd->add_option("repository", o->repository, "REPOSITORY[:TAG]");
  }
  cmd->callback([&ctx, o] { List(ctx, *o); });
}

void Inspect(Context& ctx, const std::vector<std::string>& names, const std::string& format) {
  std::vector<json> items;
  std::string failed;
  for (const std::string& name : names) {
    try {
      items.push_back(ctx.client().Json("GET", "/images/" + name + "/json"));
    } catch (const Error& e) {
      if (e.kind() != Kind::kNotFound) {
        throw;
      }
      failed += (failed.empty() ? "" : "\n") + std::string("Error: No such image: ") + name;
    }
  }
  PrintInspect(format, items);
  if (!failed.empty()) {
    throw Error(Kind::kNotFound, failed);
  }
}

std::string TruncateCreatedBy(std::string text, bool no_trunc) {
  std::replace(text.begin(), text.end(), '\t', ' ');
  if (no_trunc) {
    return text;
  }
  // Docker cuts at 45 runes and ends with an ellipsis.
  size_t runes = 0, cut = text.size();
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) {
      if (runes == 44) {
        cut = i;
      }
      ++runes;
    }
  }
  return runes > 45 ? text.substr(0, cut) + "…" : text;
}

void History(Context& ctx, const std::string& name, bool human, bool quiet, bool no_trunc,
             const std::string& format) {
  json history = ctx.client().Json("GET", "/images/" + name + "/history");
  std::vector<json> rows;
  for (const json& h : history) {
    std::string id = h["Id"];
    int64_t created = h["Created"];
    int64_t size = h["Size"];
    if (quiet) {
      std::cout << (id == "<missing>" ? id : Id(id, no_trunc)) << "\n";
      continue;
    }
    rows.push_back({{"ID", id == "<missing>" ? id : Id(id, no_trunc)},
                    {"CreatedSince", human ? Since(created) : GoTime(created)},
                    {"CreatedAt", GoTime(created)},
                    {"CreatedBy", TruncateCreatedBy(h["CreatedBy"], no_trunc)},
                    {"Size", human ? HumanSizeWithPrecision(static_cast<double>(size), 3)
                                   : std::to_string(size)},
                    {"Comment", h["Comment"]}});
  }
  if (!quiet) {
    PrintList(format, "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
              rows, kHistoryHeaders);
  }
}

void Remove(Context& ctx, const std::vector<std::string>& names, bool force, bool no_prune) {
  std::string errors;
  for (const std::string& name : names) {
    try {
      json out = ctx.client().Json("DELETE", "/images/" + name + "?force=" + (force ? "1" : "0") +
                                                 "&noprune=" + (no_prune ? "1" : "0"));
      for (const json& line : out) {
        if (line.contains("Untagged")) {
          std::cout << "Untagged: " << line["Untagged"].get<std::string>() << "\n";
        }
        if (line.contains("Deleted")) {
          std::cout << "Deleted: " << line["Deleted"].get<std::string>() << "\n";
        }
      }
    } catch (const Error& e) {
      errors += (errors.empty() ? "" : "\n") + std::string(e.what());
    }
  }
  if (!errors.empty()) {
    throw Error(Kind::kInvalidArgument, errors);
  }
}

// REPOSITORY[:TAG] as the API takes it: the tag is what follows the last ':' after the last
// '/' (a registry's port is not a tag).
std::pair<std::string, std::string> SplitRepoTag(const std::string& reference) {
  size_t slash = reference.rfind('/');
  size_t colon = reference.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    return {reference.substr(0, colon), reference.substr(colon + 1)};
  }
  return {reference, ""};
}

void Tag(Context& ctx, const std::string& source, const std::string& target) {
  auto [repo, tag] = SplitRepoTag(target);
  ctx.client().Do(
      "POST", "/images/" + source + "/tag?repo=" + QueryEscape(repo) + "&tag=" + QueryEscape(tag));
}

// A body source: a file, stdin, or a directory tarred on the fly (an OCI layout).
class Input {
 public:
  explicit Input(const std::string& path) {
    if (path.empty() || path == "-") {
      fd_ = STDIN_FILENO;
      return;
    }
    struct stat st;
    if (stat(path.c_str(), &st) < 0) {
      ThrowErrno("open " + path);
    }
    if (S_ISDIR(st.st_mode)) {
      int p[2];
      if (pipe2(p, O_CLOEXEC) < 0) {
        ThrowErrno("pipe");
      }
      posix_spawn_file_actions_t actions;
      posix_spawn_file_actions_init(&actions);
      posix_spawn_file_actions_adddup2(&actions, p[1], STDOUT_FILENO);
      const char* argv[] = {"tar", "-C", path.c_str(), "-cf", "-", ".", nullptr};
      int rc = posix_spawnp(&tar_, "tar", &actions, nullptr, const_cast<char**>(argv), environ);
      posix_spawn_file_actions_destroy(&actions);
      close(p[1]);
      if (rc != 0) {
        close(p[0]);
        throw SysError("run tar for " + path, rc);
      }
      owned_ = UniqueFd(p[0]);
      fd_ = p[0];
      return;
    }
    owned_ = UniqueFd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!owned_) {
      ThrowErrno("open " + path);
    }
    fd_ = owned_.get();
  }

  ~Input() {
    if (tar_ > 0) {
      owned_.Reset();
      int status;
      waitpid(tar_, &status, 0);
    }
  }

  size_t Read(void* buf, size_t size) {
    while (true) {
      ssize_t n = read(fd_, buf, size);
      if (n >= 0) {
        return static_cast<size_t>(n);
      }
      if (errno != EINTR) {
        ThrowErrno("read input");
      }
    }
  }

 private:
  UniqueFd owned_;
  int fd_ = -1;
  pid_t tar_ = 0;
};

// Docker's progress messages on a terminal: one line per id, redrawn in place.
class ProgressDisplay {
 public:
  explicit ProgressDisplay(bool tty) : tty_(tty) {}

  void Show(const json& m) {
    if (m.contains("errorDetail") || m.contains("error")) {
      std::string text = m.contains("error") ? m["error"].get<std::string>()
                                             : m["errorDetail"].value("message", "error");
      throw Error(Kind::kInternal, text);
    }
    if (m.contains("stream")) {
      EndLine();
      std::cout << m["stream"].get<std::string>() << std::flush;
      return;
    }
    if (!m.contains("status")) {
      return;
    }
    std::string id = m.value("id", "");
    std::string line = (id.empty() ? "" : id + ": ") + m["status"].get<std::string>();
    if (m.contains("progressDetail") && m["progressDetail"].contains("total")) {
      double current = m["progressDetail"].value("current", 0.0);
      double total = m["progressDetail"].value("total", 0.0);
      if (total > 0) {
        int width = 50, done = static_cast<int>(width * current / total);
        std::string bar(static_cast<size_t>(done), '=');
        if (done < width) {
          bar += '>';
          bar += std::string(static_cast<size_t>(width - done - 1), ' ');
        }
        line += "  [" + bar + "]  " + HumanSize(current) + "/" + HumanSize(total);
      }
    }
    if (!tty_) {
      std::cout << line << "\n";
      return;
    }
    if (id != current_id_) {
      EndLine();
      current_id_ = id;
    }
    std::cout << "\r\033[2K" << line << std::flush;
    open_ = true;
  }

  void EndLine() {
    if (open_) {
      std::cout << "\n";
      open_ = false;
    }
  }

 private:
  bool tty_;
  bool open_ = false;
  std::string current_id_;
};

void Load(Context& ctx, const std::string& input, bool quiet) {
  Input in(input);
  if (input.empty() && isatty(STDIN_FILENO)) {
    throw Error(Kind::kInvalidArgument,
                "requested load from stdin, but stdin is empty (use -i or redirect a file)");
  }
  bool tty = isatty(STDOUT_FILENO) != 0;
  ProgressDisplay display(tty);
  api::JsonStreamSplitter splitter([&](const json& m) { display.Show(m); });
  api::Client::ReadFn read = [&in](void* buf, size_t size) { return in.Read(buf, size); };
  ctx.client().Stream("POST", std::string("/images/load?quiet=") + (quiet || !tty ? "1" : "0"),
                      &read, "application/x-tar", [&](std::string_view d) { splitter.Feed(d); });
  display.EndLine();
}

void Save(Context& ctx, const std::vector<std::string>& names, const std::string& output,
          bool oci) {
  std::string target = "/images/get?";
  for (size_t i = 0; i < names.size(); ++i) {
    target += (i ? "&" : "") + std::string("names=") + QueryEscape(names[i]);
  }
  if (oci) {
    target += "&format=oci";
  }
  DownloadTo(ctx, target, output);
}

void Import(Context& ctx, const std::string& source, const std::string& reference,
            const std::vector<std::string>& changes, const std::string& message) {
  Input in(source);
  auto [repo, tag] = SplitRepoTag(reference);
  std::string target = "/images/create?fromSrc=-&repo=" + QueryEscape(repo) +
                       "&tag=" + QueryEscape(tag) + "&message=" + QueryEscape(message);
  for (const std::string& c : changes) {
    target += "&changes=" + QueryEscape(c);
  }
  std::string id;
  api::JsonStreamSplitter splitter([&](const json& m) {
    if (m.contains("error")) {
      throw Error(Kind::kInternal, m["error"].get<std::string>());
    }
    if (m.contains("status")) {
      id = m["status"].get<std::string>();
    }
  });
  api::Client::ReadFn read = [&in](void* buf, size_t size) { return in.Read(buf, size); };
  ctx.client().Stream("POST", target, &read, "application/x-tar",
                      [&](std::string_view d) { splitter.Feed(d); });
  std::cout << id << "\n";
}

void Prune(Context& ctx, bool all, bool force, const std::vector<std::string>& filters) {
  if (!force) {
    std::cerr << (all ? "WARNING! This will remove all images without at least one container "
                        "associated to them."
                      : "WARNING! This will remove all dangling images.")
              << "\nAre you sure you want to continue? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y") {
      return;
    }
  }
  std::vector<std::string> f = filters;
  f.push_back(std::string("dangling=") + (all ? "false" : "true"));
  json out = ctx.client().Json("POST", "/images/prune?filters=" + QueryEscape(FiltersJson(f)));
  if (out["ImagesDeleted"].is_array() && !out["ImagesDeleted"].empty()) {
    std::cout << "Deleted Images:\n";
    for (const json& line : out["ImagesDeleted"]) {
      if (line.contains("Untagged")) {
        std::cout << "untagged: " << line["Untagged"].get<std::string>() << "\n";
      }
      if (line.contains("Deleted")) {
        std::cout << "deleted: " << line["Deleted"].get<std::string>() << "\n";
      }
    }
    std::cout << "\n";
  }
  std::cout << "Total reclaimed space: " << HumanSize(out["SpaceReclaimed"].get<double>()) << "\n";
}

// Registers the commands shared by `image X` and their top-level aliases.
struct Commands {
  static void Inspect(CLI::App* cmd, Context& ctx) {
    auto names = std::make_shared<std::vector<std::string>>();
    auto format = std::make_shared<std::string>();
    cmd->add_option("image", *names, "IMAGE")->required();
    cmd->add_option("-f,--format", *format, "Format the output using the given Go template");
    cmd->callback([&ctx, names, format] { cli::Inspect(ctx, *names, *format); });
  }
  static void History(CLI::App* cmd, Context& ctx) {
    struct O {
      std::string name, format;
      bool human = true, quiet = false, no_trunc = false;
    };
    auto o = std::make_shared<O>();
    cmd->add_option("image", o->name, "IMAGE")->required();
    cmd->add_option("-H,--human", o->human, "Print sizes and dates in human readable format")
        ->capture_default_str();
    cmd->add_flag("-q,--quiet", o->quiet, "Only show image IDs");
    cmd->add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
    cmd->add_option("--format", o->format, "Pretty-print images using a Go template");
    cmd->callback(
        [&ctx, o] { cli::History(ctx, o->name, o->human, o->quiet, o->no_trunc, o->format); });
  }
  static void Remove(CLI::App* cmd, Context& ctx) {
    struct O {
      std::vector<std::string> names;
      bool force = false, no_prune = false;
    };
    auto o = std::make_shared<O>();
    cmd->add_option("image", o->names, "IMAGE")->required();
    cmd->add_flag("-f,--force", o->force, "Force removal of the image");
    cmd->add_flag("--no-prune", o->no_prune, "Do not delete untagged parents");
    cmd->callback([&ctx, o] { cli::Remove(ctx, o->names, o->force, o->no_prune); });
  }
  static void Tag(CLI::App* cmd, Context& ctx) {
    auto args = std::make_shared<std::vector<std::string>>();
    cmd->add_option("source_target", *args, "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]")
        ->required()
        ->expected(2);
    cmd->callback([&ctx, args] { cli::Tag(ctx, (*args)[0], (*args)[1]); });
  }
  static void Load(CLI::App* cmd, Context& ctx) {
    struct O {
      std::string input;
      bool quiet = false;
    };
    auto o = std::make_shared<O>();
    cmd->add_option("-i,--input", o->input,
                    "Read from tar archive file, or an OCI layout directory, instead of STDIN");
    cmd->add_flag("-q,--quiet", o->quiet, "Suppress the load output");
    cmd->callback([&ctx, o] { cli::Load(ctx, o->input, o->quiet); });
  }
  static void Save(CLI::App* cmd, Context& ctx) {
    struct O {
      std::vector<std::string> names;
      std::string output;
      bool oci = false;
    };
    auto o = std::make_shared<O>();
    cmd->add_option("image", o->names, "IMAGE")->required();
    cmd->add_option("-o,--output", o->output, "Write to a file, instead of STDOUT");
    cmd->add_flag("--oci", o->oci, "Write a plain OCI image layout (default: docker save's)");
    cmd->callback([&ctx, o] { cli::Save(ctx, o->names, o->output, o->oci); });
  }
  static void Import(CLI::App* cmd, Context& ctx) {
    struct O {
      std::string source, reference, message;
      std::vector<std::string> changes;
    };
    auto o = std::make_shared<O>();
    cmd->add_option("file", o->source, "file|- (a tar of a root filesystem)")->required();
    cmd->add_option("reference", o->reference, "REPOSITORY[:TAG]");
    cmd->add_option("-c,--change", o->changes, "Apply Dockerfile instruction to the created image");
    cmd->add_option("-m,--message", o->message, "Set commit message for imported image");
    cmd->callback([&ctx, o] { cli::Import(ctx, o->source, o->reference, o->changes, o->message); });
  }
  static void Prune(CLI::App* cmd, Context& ctx) {
    struct O {
      bool all = false, force = false;
      std::vector<std::string> filters;
    };
    auto o = std::make_shared<O>();
    cmd->add_flag("-a,--all", o->all, "Remove all unused images, not just dangling ones");
    cmd->add_flag("-f,--force", o->force, "Do not prompt for confirmation");
    cmd->add_option("--filter", o->filters, "Provide filter values (e.g. 'until=<timestamp>')");
    cmd->callback([&ctx, o] { cli::Prune(ctx, o->all, o->force, o->filters); });
  }
};

}  // namespace

void AddImageCommands(CLI::App& app, Context& ctx) {
  CLI::App* image = app.add_subcommand("image", "Manage images");
  image->require_subcommand(1);
  AddList(image->add_subcommand("ls", "List images")->alias("list"), ctx, true);
  Commands::Inspect(
      image->add_subcommand("inspect", "Display detailed information on one or more images"), ctx);
  Commands::History(image->add_subcommand("history", "Show the history of an image"), ctx);
  Commands::Remove(image->add_subcommand("rm", "Remove one or more images")->alias("remove"), ctx);
  Commands::Prune(image->add_subcommand("prune", "Remove unused images"), ctx);
  Commands::Tag(
      image->add_subcommand("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"), ctx);
  AddBuildCommand(image, ctx);
  Commands::Load(image->add_subcommand("load", "Load an image from a tar archive or STDIN"), ctx);
  Commands::Save(image->add_subcommand("save", "Save one or more images to a tar archive"), ctx);
  Commands::Import(image->add_subcommand(
                       "import", "Import the contents from a tarball to create a filesystem image"),
                   ctx);

  AddPullPushCommands(image, ctx);

  AddList(app.add_subcommand("images", "List images"), ctx, true);
  Commands::Remove(app.add_subcommand("rmi", "Remove one or more images"), ctx);
  Commands::Tag(app.add_subcommand("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
                ctx);
  Commands::Load(app.add_subcommand("load", "Load an image from a tar archive or STDIN"), ctx);
  Commands::Save(app.add_subcommand("save", "Save one or more images to a tar archive"), ctx);
  Commands::Import(app.add_subcommand(
                       "import", "Import the contents from a tarball to create a filesystem image"),
                   ctx);
  Commands::History(app.add_subcommand("history", "Show the history of an image"), ctx);
  AddPullPushCommands(&app, ctx);
  // The top-level `inspect` (containers, then images) is in containers.cc.
}

}  // namespace berth::cli

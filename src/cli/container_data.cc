// berth diff, commit and export: a container's filesystem changes, as an image or a tar.

#include <iostream>

#include "base/error.h"
#include "cli/cli.h"

namespace berth::cli {

using nlohmann::json;

namespace {

void Diff(Context& ctx, const std::string& name) {
  json changes = ctx.client().Json("GET", "/containers/" + QueryEscape(name) + "/changes");
  if (!changes.is_array()) return;
  for (const json& c : changes) {
    static const char kKinds[] = {'C', 'A', 'D'};
    int kind = c.value("Kind", 0);
    std::cout << (kind >= 0 && kind <= 2 ? kKinds[kind] : '?') << " " << c.value("Path", "")
              << "\n";
  }
}

struct CommitFlags {
  std::string author, message;
  std::vector<std::string> changes;
  bool pause = true;
  std::string container, reference;
};

void Commit(Context& ctx, const CommitFlags& f) {
  std::string target = "/commit?container=" + QueryEscape(f.container);
  if (!f.reference.empty()) {
    // REPOSITORY[:TAG]: a colon after the last slash starts the tag.
    size_t colon = f.reference.rfind(':');
    size_t slash = f.reference.rfind('/');
    bool tagged = colon != std::string::npos && (slash == std::string::npos || colon > slash);
    target += "&repo=" + QueryEscape(tagged ? f.reference.substr(0, colon) : f.reference);
    if (tagged) target += "&tag=" + QueryEscape(f.reference.substr(colon + 1));
  }
  if (!f.author.empty()) target += "&author=" + QueryEscape(f.author);
  if (!f.message.empty()) target += "&comment=" + QueryEscape(f.message);
  for (const std::string& change : f.changes) target += "&changes=" + QueryEscape(change);
  target += std::string("&pause=") + (f.pause ? "1" : "0");
  json body = json::object();
  std::cout << ctx.client().Json("POST", target, &body).value("Id", "") << "\n";
}

}  // namespace

void AddDataCommands(CLI::App& parent, Context& ctx) {
  auto diff_name = std::make_shared<std::string>();
  CLI::App* diff = parent.add_subcommand(
      "diff", "Inspect changes to files or directories on a container's filesystem");
  diff->add_option("container", *diff_name, "CONTAINER")->required();
  diff->callback([&ctx, diff_name] { Diff(ctx, *diff_name); });

  auto c = std::make_shared<CommitFlags>();
  CLI::App* commit =
      parent.add_subcommand("commit", "Create a new image from a container's changes");
  commit->add_option("-a,--author", c->author,
                     "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")");
  commit->add_option("-c,--change", c->changes, "Apply Dockerfile instruction to the created image")
      ->allow_extra_args(false);
  commit->add_option("-m,--message", c->message, "Commit message");
  commit->add_flag("-p,--pause,!--no-pause", c->pause, "Pause container during commit")
      ->default_val(true);
  commit->add_option("container", c->container, "CONTAINER")->required();
  commit->add_option("reference", c->reference, "[REPOSITORY[:TAG]]");
  commit->callback([&ctx, c] { Commit(ctx, *c); });

  struct ExportFlags {
    std::string output, container;
  };
  auto x = std::make_shared<ExportFlags>();
  CLI::App* exp =
      parent.add_subcommand("export", "Export a container's filesystem as a tar archive");
  exp->add_option("-o,--output", x->output, "Write to a file, instead of STDOUT");
  exp->add_option("container", x->container, "CONTAINER")->required();
  exp->callback([&ctx, x] {
    DownloadTo(ctx, "/containers/" + QueryEscape(x->container) + "/export", x->output);
  });
}

}  // namespace berth::cli

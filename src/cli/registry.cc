// berth pull, push, login, logout (and `image pull|push`): the docker CLI's registry commands.
// The credentials for an image's registry come from config.json (docker_config.h) and travel
// to berthd in X-Registry-Auth; berthd does the registry work.

#include <termios.h>
#include <unistd.h>

#include <iostream>

#include "base/error.h"
#include "cli/attach.h"
#include "cli/cli.h"
#include "cli/docker_config.h"
#include "cli/progress_display.h"

namespace berth::cli {
namespace {

using nlohmann::json;

int TerminalWidth() {
  if (auto size = TerminalSize()) {
    return size->second;
  }
  return 0;
}

// Splits "name[:tag][@digest]" (a colon after the last slash is a tag).
void SplitImage(const std::string& image, std::string* name, std::string* tag) {
  size_t at = image.find('@');
  if (at != std::string::npos) {
    *name = image.substr(0, at);
    *tag = image.substr(at + 1);
    return;
  }
  size_t slash = image.rfind('/'), colon = image.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    *name = image.substr(0, colon);
    *tag = image.substr(colon + 1);
  } else {
    *name = image;
    tag->clear();
  }
}

// The credentials config.json has for the image's registry, as X-Registry-Auth.
void SetRegistryAuth(Context& ctx, const std::string& image) {
  std::string server = RegistryOfImage(image);
  registry::AuthConfig auth;
  try {
    DockerConfig config;
    auth = config.Get(server).value_or(registry::AuthConfig{});
  } catch (const Error& e) {
    std::cerr << "WARNING: " << e.what() << "\n";
  }
  auth.server_address = server;
  ctx.client().SetHeader("X-Registry-Auth", registry::EncodeRegistryAuth(auth));
}

void Stream(Context& ctx, const std::string& target, bool quiet, std::ostream& out = std::cout) {
  bool tty = isatty(&out == &std::cerr ? STDERR_FILENO : STDOUT_FILENO) != 0;
  JsonMessageDisplay display(out, tty, TerminalWidth());
  api::JsonStreamSplitter splitter([&](const json& m) {
    if (quiet) {
      if (m.contains("error")) {
        display.Show(m);  // throws
      }
      return;
    }
    display.Show(m);
  });
  try {
    ctx.client().Stream("POST", target, nullptr, "", [&](std::string_view d) { splitter.Feed(d); });
  } catch (const Error& e) {
    out.flush();
    if (e.kind() == Kind::kUnavailable) {
      throw;  // in-band, or the daemon is not there: the text says it all
    }
    throw Error(Kind::kUnavailable, std::string("Error response from daemon: ") + e.what());
  }
}

void Push(Context& ctx, const std::string& image, bool all_tags, bool quiet) {
  std::string name, tag;
  SplitImage(image, &name, &tag);
  if (all_tags && !tag.empty()) {
    throw Error(Kind::kInvalidArgument, "tag can't be used with --all-tags/-a");
  }
  if (!all_tags && tag.empty()) {
    tag = "latest";
    if (!quiet) {
      std::cout << "Using default tag: latest\n";
    }
  }
  SetRegistryAuth(ctx, name);
  // The name sits in the path unescaped, as the docker CLI sends it.
  Stream(ctx, "/images/" + name + "/push" + (tag.empty() ? "" : "?tag=" + QueryEscape(tag)), quiet);
  if (quiet) {
    std::cout << image << "\n";
  }
}

std::string ReadLine(bool echo) {
  termios old{};
  bool tty = isatty(STDIN_FILENO) != 0 && tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty && !echo) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty && !echo) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
  }
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  return line;
}

void Login(Context& ctx, std::string server, std::string user, std::string password,
           bool password_stdin) {
  if (password_stdin) {
    if (user.empty()) {
      throw Error(Kind::kInvalidArgument, "Must provide --username with --password-stdin");
    }
    std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    while (!all.empty() && (all.back() == '\n' || all.back() == '\r')) {
      all.pop_back();
    }
    password = all;
  } else if (!password.empty()) {
    std::cerr << "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n";
  }
  server = registry::NormalizeServer(server.empty() ? "docker.io" : server);
  DockerConfig config;
  if (user.empty() || password.empty()) {
    std::optional<registry::AuthConfig> stored = config.Get(server);
    if (user.empty()) {
      if (isatty(STDIN_FILENO) == 0) {
        if (stored && !stored->username.empty()) {
          user = stored->username;
          password = password.empty() ? stored->password : password;
        } else {
          throw Error(Kind::kInvalidArgument,
                      "Cannot perform an interactive login from a non TTY device");
        }
      } else {
        std::cout << "Username" << (stored ? " (" + stored->username + ")" : "") << ": "
                  << std::flush;
        user = ReadLine(true);
        if (user.empty() && stored) {
          user = stored->username;
        }
      }
    }
    if (password.empty()) {
      if (isatty(STDIN_FILENO) == 0) {
        throw Error(Kind::kInvalidArgument,
                    "Cannot perform an interactive login from a non TTY device");
      }
      std::cout << "Password: " << std::flush;
      password = ReadLine(false);
    }
  }
  if (user.empty()) {
    throw Error(Kind::kInvalidArgument, "Error: Non-null Username Required");
  }
  if (password.empty()) {
    throw Error(Kind::kInvalidArgument, "Error: Password Required");
  }
  json body = {{"username", user}, {"password", password}, {"serveraddress", server}};
  json reply;
  try {
    reply = ctx.client().Json("POST", "/auth", &body);
  } catch (const Error& e) {
    throw Error(Kind::kUnavailable, std::string("Error response from daemon: ") + e.what());
  }
  registry::AuthConfig auth;
  auth.username = user;
  auth.password = password;
  auth.server_address = server;
  auth.identity_token = reply.value("IdentityToken", "");
  if (!auth.identity_token.empty()) {
    auth.password.clear();
  }
  config.Store(server, auth);
  if (config.HelperFor(server).empty()) {
    std::cout
        << "WARNING! Your password will be stored unencrypted in " << config.path()
        << ".\nConfigure a credential helper to remove this warning. See\n"
           "https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n";
  }
  std::cout << reply.value("Status", "Login Succeeded") << "\n";
}

void Logout(const std::string& server_arg) {
  std::string server = registry::NormalizeServer(server_arg.empty() ? "docker.io" : server_arg);
  DockerConfig config;
  if (!config.Erase(server)) {
    std::cout << "Not logged in to " << server << "\n";
    return;
  }
  std::cout << "Removing login credentials for " << server << "\n";
}

}  // namespace

void PullImage(Context& ctx, const std::string& image, std::ostream& out,
               const std::string& platform, bool all_tags, bool quiet) {
  std::string name, tag;
  SplitImage(image, &name, &tag);
  if (all_tags && !tag.empty()) {
    throw Error(Kind::kInvalidArgument, "tag can't be used with --all-tags/-a");
  }
  if (!all_tags && tag.empty()) {
    tag = "latest";
    if (!quiet && &out == &std::cout) {
      out << "Using default tag: latest\n";
    }
  }
  SetRegistryAuth(ctx, name);
  std::string target = "/images/create?fromImage=" + QueryEscape(name);
  if (!tag.empty()) {
    target += "&tag=" + QueryEscape(tag);
  }
  if (!platform.empty()) {
    target += "&platform=" + QueryEscape(platform);
  }
  Stream(ctx, target, quiet, out);
  if (&out != &std::cout) {
    return;
  }
  // The full reference, as the docker CLI prints it at the end.
  std::string full = name;
  if (RegistryOfImage(name) == "docker.io" && name.rfind("docker.io/", 0) != 0) {
    full = "docker.io/" + (name.find('/') == std::string::npos ? "library/" + name : name);
  }
  if (!all_tags) {
    full += (tag.find(':') != std::string::npos ? "@" : ":") + tag;
  }
  std::cout << full << "\n";
}

void AddPullPushCommands(CLI::App* parent, Context& ctx) {
  struct PullO {
    std::string image, platform;
    bool all = false, quiet = false, no_trust = false;
  };
  auto p = std::make_shared<PullO>();
  CLI::App* pull = parent->add_subcommand("pull", "Download an image from a registry");
  pull->add_option("image", p->image, "NAME[:TAG|@DIGEST]")->required();
  pull->add_flag("-a,--all-tags", p->all, "Download all tagged images in the repository");
  pull->add_option("--platform", p->platform, "Set platform if server is multi-platform capable");
  pull->add_flag("-q,--quiet", p->quiet, "Suppress verbose output");
  pull->add_flag("--disable-content-trust", p->no_trust, "Skip image verification (ignored)");
  pull->callback([&ctx, p] { PullImage(ctx, p->image, std::cout, p->platform, p->all, p->quiet); });

  struct PushO {
    std::string image;
    bool all = false, quiet = false, no_trust = false;
  };
  auto o = std::make_shared<PushO>();
  CLI::App* push = parent->add_subcommand("push", "Upload an image to a registry");
  push->add_option("image", o->image, "NAME[:TAG]")->required();
  push->add_flag("-a,--all-tags", o->all, "Push all tags of an image to the repository");
  push->add_flag("-q,--quiet", o->quiet, "Suppress verbose output");
  push->add_flag("--disable-content-trust", o->no_trust, "Skip image signing (ignored)");
  push->callback([&ctx, o] { Push(ctx, o->image, o->all, o->quiet); });
}

void AddLoginCommands(CLI::App& app, Context& ctx) {
  struct O {
    std::string server, user, password;
    bool password_stdin = false;
  };
  auto o = std::make_shared<O>();
  CLI::App* login = app.add_subcommand("login", "Log in to a registry");
  login->add_option("server", o->server, "SERVER");
  login->add_option("-u,--username", o->user, "Username");
  login->add_option("-p,--password", o->password, "Password");
  login->add_flag("--password-stdin", o->password_stdin, "Take the password from stdin");
  login->callback([&ctx, o] { Login(ctx, o->server, o->user, o->password, o->password_stdin); });

  auto server = std::make_shared<std::string>();
  CLI::App* logout = app.add_subcommand("logout", "Log out from a registry");
  logout->add_option("server", *server, "SERVER");
  logout->callback([server] { Logout(*server); });
}

}  // namespace berth::cli

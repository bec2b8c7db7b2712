#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "base/error.h"
#include "base/fd.h"
#include "cli/autostart.h"
#include "cli/cli.h"
#include "cli/go_template.h"
#include "cli/table.h"

namespace berth::cli {

namespace {

constexpr const char* kDefaultSocket = "/run/berth/berth.sock";

bool EnvSet(const char* name) {
  const char* v = getenv(name);
  return v != nullptr && *v != '\0';
}

// Starts berthd when the default socket has nobody behind it: the user asked for no other
// daemon (-H, BERTH_HOST, DOCKER_HOST), did not opt out, and a berthd can be found.
void Autostart() {
  if (SocketAnswers(kDefaultSocket)) {
    return;
  }
  AutostartPlan plan;
  plan.socket = kDefaultSocket;
  plan.berthd = FindBerthd();
  plan.log = "/run/berth/berthd.log";
  if (plan.berthd.empty()) {
    return;  // the connection error says what is missing
  }
  pid_t pid = StartDaemon(plan);
  std::cerr << "berth: started berthd (pid " << pid << "), log in " << plan.log << std::endl;
}

}  // namespace

const std::string& Context::resolved_host() {
  client();
  return client_->host();
}

api::Client& Context::client() {
  if (!client_) {
    if (host.empty() && !no_autostart && !EnvSet("BERTH_HOST") && !EnvSet("DOCKER_HOST") &&
        std::string_view(getenv("BERTH_NO_AUTOSTART") ? getenv("BERTH_NO_AUTOSTART") : "") != "1") {
      Autostart();
    }
    client_ = std::make_unique<api::Client>(host.empty() ? api::DefaultHost() : host);
  }
  return *client_;
}

std::string FiltersJson(const std::vector<std::string>& filters) {
  nlohmann::json doc = nlohmann::json::object();
  for (const std::string& f : filters) {
    size_t eq = f.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw Error(Kind::kInvalidArgument, "bad format of filter (expected name=value)");
    }
    doc[f.substr(0, eq)][f.substr(eq + 1)] = true;
  }
  return doc.dump();
}

std::string QueryEscape(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void PrintList(const std::string& format, const std::string& default_format,
               const std::vector<nlohmann::json>& items,
               const std::map<std::string, std::string>& headers) {
  std::cout << RenderList(format.empty() ? default_format : format, items, headers);
}

void PrintInspect(const std::string& format, const std::vector<nlohmann::json>& items) {
  if (format.empty()) {
    std::cout << nlohmann::json(items).dump(4) << "\n";
    return;
  }
  // As the docker CLI runs -f on raw inspect JSON: a missing key is an error.
  Template tmpl = Template::Parse(format);
  ExecuteOptions options;
  options.missing_key = MissingKey::kError;
  for (const nlohmann::json& item : items) {
    std::cout << tmpl.Execute(item, options) << "\n";
  }
}

void DownloadTo(Context& ctx, const std::string& target, const std::string& output) {
  UniqueFd file;
  int fd = STDOUT_FILENO;
  if (output.empty() || output == "-") {
    if (isatty(STDOUT_FILENO)) {
      throw Error(Kind::kInvalidArgument,
                  "cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
  } else {
    file =
        UniqueFd(open((output + ".tmp").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!file) {
      ThrowErrno("create " + output);
    }
    fd = file.get();
  }
  try {
    ctx.client().Stream("GET", target, nullptr, "", [fd](std::string_view d) {
      while (!d.empty()) {
        ssize_t n = write(fd, d.data(), d.size());
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n < 0) {
          ThrowErrno("write the archive");
        }
        d.remove_prefix(static_cast<size_t>(n));
      }
    });
  } catch (...) {
    if (file) {
      unlink((output + ".tmp").c_str());
    }
    throw;
  }
  if (file) {
    // Whole or absent: a failed download never leaves a truncated archive under the name.
    if (fsync(fd) < 0 || rename((output + ".tmp").c_str(), output.c_str()) < 0) {
      ThrowErrno("write " + output);
    }
  }
}

}  // namespace berth::cli

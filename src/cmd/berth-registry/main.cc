// berth-registry: an OCI distribution (registry) server.
//
//   berth-registry serve --addr HOST:PORT --root DIR [--config FILE] [--tls-cert F --tls-key F]
//                        [--htpasswd FILE [--token-auth]] [--debug]
//   berth-registry gc --root DIR [--dry-run]

#include <malloc.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "base/error.h"
#include "base/log.h"
#include "registry/config.h"
#include "registry/http_server.h"
#include "registry/proxy.h"
#include "registry/registry.h"
#include "registry/storage.h"
#include "registry/uploads.h"

namespace {

using namespace berth::registry;

std::string Describe(const GcResult& r, bool dry_run) {
  return std::string(dry_run ? "would remove " : "removed ") + std::to_string(r.blobs_removed) +
         " blobs (" + std::to_string(r.bytes_freed) + " bytes) and " +
         std::to_string(r.links_removed) + " links; " + std::to_string(r.blobs_kept) +
         " blobs in use";
}

int Serve(const Config& config) {
  RootLock lock(config.root);
  Storage storage(config.root);
  if (config.gc_on_start) {
    berth::log::Info("gc: " + Describe(storage.CollectGarbage(false), false));
  }
  Uploads uploads(storage, std::chrono::seconds(config.upload_expiry), config.max_uploads);
  if (size_t n = uploads.Expire()) {
    berth::log::Info("removed " + std::to_string(n) + " expired uploads");
  }
  std::unique_ptr<TlsContext> tls;
  if (!config.tls_cert.empty() || !config.tls_key.empty()) {
    if (config.tls_cert.empty() || config.tls_key.empty()) {
      berth::ThrowInvalid("TLS needs both --tls-cert and --tls-key");
    }
    tls = TlsContext::Load(config.tls_cert, config.tls_key);
  }
  Registry registry(config, storage, uploads, Upstream::Create(config, storage));
  HttpServer server([&registry](HttpRequest& req, HttpResponse& res) { registry.Handle(req, res); },
                    tls.get());
  std::string bound = server.Listen(config.addr);

  // SIGINT/SIGTERM stop the server; the janitor removes abandoned uploads meanwhile.
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread janitor([&] {
    std::unique_lock l(mu);
    while (!cv.wait_for(l, std::chrono::seconds(std::max<int64_t>(1, config.upload_purge_interval)),
                        [&] { return stopping; })) {
      l.unlock();
      try {
        if (size_t n = uploads.Expire()) {
          berth::log::Info("removed " + std::to_string(n) + " expired uploads");
        }
      } catch (const std::exception& e) {
        berth::log::Warn(std::string("upload expiry: ") + e.what());
      }
      l.lock();
    }
  });
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    berth::log::Info(std::string("stopping on ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
    {
      std::lock_guard l(mu);
      stopping = true;
    }
    cv.notify_all();
    server.Stop();
  });
  signals.detach();
  berth::log::Info(std::string("listening on ") + (tls ? "https://" : "http://") + bound +
                   " (root " + config.root + ")");
  server.Run();
  {
    std::lock_guard l(mu);
    stopping = true;
  }
  cv.notify_all();
  janitor.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by one thread (sigwait): blocked in every thread, before any starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);  // sendfile and TLS writes to a client that left
  // Few arenas: one per connection thread would keep freed buffers resident.
  mallopt(M_ARENA_MAX, 2);

  CLI::App app{"berth-registry: an OCI distribution registry server"};
  app.require_subcommand(1);
  Config config;
  std::string config_file;
  bool debug = false;

  CLI::App* serve = app.add_subcommand("serve", "Serve the registry API");
  serve->add_option("--addr", config.addr, "HOST:PORT to listen on (port 0: any free port)");
  serve->add_option("--root", config.root, "Storage directory");
  serve->add_option("--config", config_file, "JSON config file (docs/registry.md)");
  serve->add_option("--tls-cert", config.tls_cert, "TLS certificate chain (PEM)");
  serve->add_option("--tls-key", config.tls_key, "TLS private key (PEM)");
  serve->add_option("--htpasswd", config.htpasswd, "htpasswd file (bcrypt): Basic auth");
  bool token_auth = false;
  serve->add_flag("--token-auth", token_auth,
                  "Bearer tokens from the built-in /token endpoint (users from --htpasswd)");
  bool no_request_log = false;
  serve->add_flag("--no-request-log", no_request_log, "No log line per request");
  serve->add_flag("--debug", debug, "Debug logging");

  CLI::App* gc = app.add_subcommand("gc", "Remove blobs no manifest refers to (server stopped)");
  std::string gc_root;
  bool dry_run = false;
  gc->add_option("--root", gc_root, "Storage directory")->required();
  gc->add_flag("--dry-run", dry_run, "Only say what would be removed");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*gc) {
      berth::log::Init(2, berth::log::Format::kText, debug);
      RootLock lock(gc_root);
      Storage storage(gc_root);
      printf("%s\n", Describe(storage.CollectGarbage(dry_run), dry_run).c_str());
      return 0;
    }
    if (!config_file.empty()) {
      // The file first, then the flags given on the command line over it.
      Config from_file;
      LoadConfigFile(config_file, from_file);
      auto given = [&](const char* flag) { return serve->count(flag) > 0; };
      if (given("--addr")) from_file.addr = config.addr;
      if (given("--root")) from_file.root = config.root;
      if (given("--tls-cert")) from_file.tls_cert = config.tls_cert;
      if (given("--tls-key")) from_file.tls_key = config.tls_key;
      if (given("--htpasswd")) from_file.htpasswd = config.htpasswd;
      config = std::move(from_file);
    }
    if (token_auth) {
      config.token_auth = true;
    }
    if (no_request_log) {
      config.log_requests = false;
    }
    config.debug = config.debug || debug;
    if (config.token_auth && config.htpasswd.empty()) {
      berth::ThrowInvalid("token auth needs --htpasswd (the users tokens are issued to)");
    }
    berth::log::Init(2, berth::log::Format::kText, config.debug);
    return Serve(config);
  } catch (const std::exception& e) {
    fprintf(stderr, "berth-registry: %s\n", e.what());
    return 1;
  }
}

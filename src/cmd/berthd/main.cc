// berthd: the daemon behind the Engine API socket.
//
//   berthd [--root DIR] [--state DIR] [-H unix:///PATH]... [--config-file FILE] [--debug]

#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include "api/routes.h"
#include "api/server.h"
#include "base/error.h"
#include "base/file_util.h"
#include "base/log.h"
#include "engine/container_service.h"
#include "engine/image_service.h"
#include "engine/network_service.h"
#include "engine/volume_service.h"

namespace {

struct Options {
  std::string root = "/var/lib/berth";
  std::string state = "/run/berth";
  std::vector<std::string> hosts;
  std::string config_file;
  bool debug = false;
  std::string log_format = "text";
  berth::engine::RegistryOptions registry;
  berth::engine::NetworkDaemonConfig network;
};

// dockerd's daemon.json names, where they mean the same: data-root, exec-root, hosts, debug,
// insecure-registries, registry-mirrors, max-concurrent-downloads/uploads; and Berth's own
// push-chunk-size (bytes per PATCH of a blob upload; 0, the default, sends a blob in one PUT).
void ApplyConfigFile(Options& o, const CLI::App& app) {
  std::string text = berth::ReadFile(o.config_file);
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    berth::ThrowInvalid(o.config_file + ": not a JSON object");
  }
  for (const auto& item : doc.items()) {
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    auto str = [&]() {
      if (!value.is_string()) {
        berth::ThrowInvalid(o.config_file + ": \"" + key + "\" must be a string");
      }
      return value.get<std::string>();
    };
    // Flags on the command line win over the file.
    if (key == "data-root" || key == "root") {
      if (app.count("--root") == 0) o.root = str();
    } else if (key == "exec-root" || key == "state") {
      if (app.count("--state") == 0) o.state = str();
    } else if (key == "hosts") {
      if (!value.is_array()) {
        berth::ThrowInvalid(o.config_file + ": \"hosts\" must be a list");
      }
      if (app.count("--host") == 0) o.hosts = value.get<std::vector<std::string>>();
    } else if (key == "bridge") {
      // dockerd's names: the default network's bridge and its address with the subnet's
      // length ("bip": "172.17.0.1/16"); Berth's own: "default-subnet", "nftables-table".
      o.network.bridge_name = str();
    } else if (key == "bip" || key == "default-subnet") {
      o.network.bridge_subnet = str();
    } else if (key == "nftables-table") {
      o.network.nft_table = str();
    } else if (key == "bridge-prefix") {
      o.network.user_bridge_prefix = str();
    } else if (key == "default-address-pools") {
      if (!value.is_array()) {
        berth::ThrowInvalid(o.config_file + ": \"default-address-pools\" must be a list");
      }
      for (const auto& pool : value) {
        if (!pool.is_object() || !pool.value("base", nlohmann::json()).is_string() ||
            !pool.value("size", nlohmann::json()).is_number_integer()) {
          berth::ThrowInvalid(o.config_file +
                              ": \"default-address-pools\" entries are {\"base\",\"size\"}");
        }
        o.network.address_pools.emplace_back(pool["base"].get<std::string>(),
                                             pool["size"].get<int>());
      }
    } else if (key == "mtu") {
      if (!value.is_number_integer()) {
        berth::ThrowInvalid(o.config_file + ": \"mtu\" must be a number");
      }
      o.network.mtu = value.get<int>();
    } else if (key == "debug") {
      if (!value.is_boolean()) {
        berth::ThrowInvalid(o.config_file + ": \"debug\" must be true or false");
      }
      o.debug = o.debug || value.get<bool>();
    } else if (key == "insecure-registries" || key == "registry-mirrors") {
      if (!value.is_array() ||
          !std::all_of(value.begin(), value.end(), [](const auto& v) { return v.is_string(); })) {
        berth::ThrowInvalid(o.config_file + ": \"" + key + "\" must be a list of strings");
      }
      (key == "insecure-registries" ? o.registry.insecure : o.registry.mirrors) =
          value.get<std::vector<std::string>>();
    } else if (key == "max-concurrent-downloads" || key == "max-concurrent-uploads" ||
               key == "push-chunk-size") {
      if (!value.is_number_integer() || value.get<int64_t>() < (key == "push-chunk-size" ? 0 : 1)) {
        berth::ThrowInvalid(o.config_file + ": \"" + key + "\" must be a positive number");
      }
      if (key == "max-concurrent-downloads") {
        o.registry.max_concurrent_downloads = value.get<int>();
      } else if (key == "max-concurrent-uploads") {
        o.registry.max_concurrent_uploads = value.get<int>();
      } else {
        o.registry.push_chunk_size = value.get<uint64_t>();
      }
    } else {
      berth::ThrowInvalid(o.config_file + ": unknown setting \"" + key + "\"");
    }
  }
}

// A helper binary installed next to berthd (berth-shim), else found in PATH by name.
std::string Sibling(const std::string& name) {
  char buf[4096] = {};
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  std::string self = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  std::string beside = self.substr(0, self.rfind('/') + 1) + name;
  return access(beside.c_str(), X_OK) == 0 ? beside : name;
}

std::string HostName() {
  char buf[256] = {};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

// glibc's malloc raises its mmap threshold (up to 32 MB) each time a large block is freed, and
// its trim threshold with it: after one `docker load` an idle berthd kept 3 MB of freed buffers
// in the arena of the thread that served it. Fixed thresholds (glibc's own starting values)
// hand blocks of 128 KiB and up back at free, and an arena's top once 128 KiB of it is free.
// Large blocks are per request here (I/O buffers), so the extra mmap calls cost nothing
// measurable.
void KeepIdleHeapSmall() {
  mallopt(M_MMAP_THRESHOLD, 128 << 10);
  mallopt(M_TRIM_THRESHOLD, 128 << 10);
}

// Gives what the connection threads freed back to the kernel (their arenas keep it otherwise:
// +9 MB after 100 containers) once berthd has had no connection for a second: a busy client
// never waits for it, and an idle daemon is as small as it can be.
class IdleTrimmer {
 public:
  IdleTrimmer() : thread_([this] { Loop(); }) {}
  ~IdleTrimmer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  // The last connection ended.
  void Poke() {
    {
      std::lock_guard lock(mu_);
      due_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      pending_ = true;
    }
    cv_.notify_one();
  }

 private:
  void Loop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (!pending_) {
        cv_.wait(lock);
        continue;
      }
      if (cv_.wait_until(lock, due_) == std::cv_status::timeout &&
          std::chrono::steady_clock::now() >= due_) {
        pending_ = false;
        lock.unlock();
        malloc_trim(0);
        lock.lock();
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::chrono::steady_clock::time_point due_;
  bool pending_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  KeepIdleHeapSmall();
  Options o;
  CLI::App app{"berthd: the Berth engine, serving the Docker Engine API"};
  app.add_option("--root,--data-root", o.root, "persistent state (images, containers)")
      ->capture_default_str();
  app.add_option("--state,--exec-root", o.state, "volatile state (sockets, runtime state)")
      ->capture_default_str();
  app.add_option("-H,--host", o.hosts, "socket to listen on (unix:///path; repeatable)");
  app.add_option("--config-file", o.config_file, "daemon configuration file (JSON)");
  app.add_flag("-D,--debug", o.debug, "log every request");
  app.add_option("--log-format", o.log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  CLI11_PARSE(app, argc, argv);

  // Threads started later inherit this mask: only the waiter below sees SIGINT/SIGTERM.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  try {
    if (!o.config_file.empty()) {
      ApplyConfigFile(o, app);
    }
    berth::log::Init(STDERR_FILENO,
                     o.log_format == "json" ? berth::log::Format::kJson : berth::log::Format::kText,
                     o.debug);
    if (o.hosts.empty()) {
      o.hosts.push_back("unix://" + o.state + "/berth.sock");
    }
    berth::MkdirAll(o.state, 0711);
    berth::engine::ImageService images(o.root);
    images.SetRegistryOptions(o.registry);
    berth::engine::EventBus events;
    events.Persist(o.root + "/events.log");  // `events --since` reaches back past restarts
    berth::engine::VolumeService volumes(o.root, &events);
    berth::engine::NetworkService networks(o.root, o.network, &events);
    // Containers that ran on while berthd was down are found again here (live restore).
    berth::engine::ContainerService containers(
        {o.root, o.state, Sibling("berth-shim"),
         access("/usr/bin/tini-static", X_OK) == 0 ? "/usr/bin/tini-static" : ""},
        images, &events, &volumes, &networks);
    images.SetImagesInUse([&containers] { return containers.ImagesInUse(); });
    berth::engine::Builder builder(images, containers, o.root + "/build");
    builder.CleanUp();  // contexts of builds a crash interrupted
    berth::api::Router router;
    berth::api::AddSystemRoutes(router, images, containers, volumes, {o.root, o.state, HostName()});
    berth::api::AddImageRoutes(router, images);
    berth::api::AddContainerRoutes(router, containers);
    berth::api::AddEventRoutes(router, events);
    berth::api::AddVolumeRoutes(router, volumes);
    berth::api::AddArchiveRoutes(router, containers);
    berth::api::AddNetworkRoutes(router, networks, containers);
    berth::api::AddBuildRoutes(router, builder, images, volumes);
    IdleTrimmer trimmer;  // before the server: its threads may poke it until Run returns
    berth::api::Server server(router);
    server.SetIdleHook([&trimmer] { trimmer.Poke(); });
    for (const std::string& host : o.hosts) {
      server.Listen(host);
    }
    std::thread waiter([&server, &containers, &events, stop_signals] {
      int sig = 0;
      sigwait(&stop_signals, &sig);
      berth::log::Info(std::string("berthd: ") + strsignal(sig) + ", stopping");
      // Handlers blocked in a wait end first; the containers keep running (live restore).
      containers.Shutdown();
      events.Close();
      server.Stop();
    });
    std::string listening;
    for (const std::string& h : o.hosts) {
      listening += (listening.empty() ? "" : ", ") + h;
    }
    berth::log::Info("berthd: serving on " + listening + " (root " + o.root + ")");
    server.Run();
    // Run returns only after Stop: the waiter has its signal.
    waiter.join();
    return 0;
  } catch (const berth::Error& e) {
    berth::log::Error(std::string("berthd: ") + e.what());
    return 1;
  }
}

// berth stats: a live table of containers' resource use, or one reading with --no-stream.

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "base/error.h"
#include "cli/cli.h"
#include "cli/container_format.h"
#include "cli/table.h"

namespace berth::cli {

using nlohmann::json;

namespace {

struct StatsFlags {
  bool all = false;
  bool no_stream = false;
  bool no_trunc = false;
  std::string format;
  std::vector<std::string> names;
};

void Stats(Context& ctx, const StatsFlags& f) {
  // The containers: as named (each must exist), else the running ones (all with -a) by ID.
  std::vector<std::string> names = f.names;
  if (names.empty()) {
    for (const json& c :
         ctx.client().Json("GET", f.all ? "/containers/json?all=1" : "/containers/json")) {
      names.push_back(c.value("Id", "").substr(0, 12));
    }
  } else {
    for (const std::string& name : names) {
      ctx.client().Json("GET", "/containers/" + QueryEscape(name) + "/json");
    }
  }
  const std::string format = f.format.empty() ? kStatsDefaultFormat : f.format;
  const std::string host = ctx.resolved_host();
  std::mutex mu;
  std::map<std::string, StatsFigures> latest;  // name → the figures of its newest document
  std::map<std::string, std::string> failed;
  size_t running = names.size();  // streams still open
  auto read = [&](const std::string& name) {
    std::string target =
        "/containers/" + QueryEscape(name) + "/stats?stream=" + (f.no_stream ? "0" : "1");
    try {
      api::Client client(host);
      // One document per line: each is scanned for the figures the columns need (no DOM),
      // into buffers reused from one document to the next.
      std::string pending;
      StatsFigures figures;
      client.Stream("GET", target, nullptr, "", [&](std::string_view data) {
        pending.append(data);
        size_t start = 0, nl;
        while ((nl = pending.find('\n', start)) != std::string::npos) {
          std::string_view line(pending.data() + start, nl - start);
          start = nl + 1;
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          if (line.empty()) continue;
          if (!ParseStatsFigures(line, figures)) {
            throw Error(Kind::kInternal, "malformed message in the daemon's stream");
          }
          std::lock_guard<std::mutex> lock(mu);
          std::swap(latest[name], figures);
        }
        pending.erase(0, start);
      });
    } catch (const Error& e) {
      std::lock_guard<std::mutex> lock(mu);
      failed[name] = e.what();
    }
    std::lock_guard<std::mutex> lock(mu);
    running--;
  };
  auto table = [&] {
    std::vector<json> rows;
    std::lock_guard<std::mutex> lock(mu);
    for (const std::string& name : names) {
      auto it = latest.find(name);
      if (it != latest.end()) rows.push_back(StatsRow(it->second, name, !f.no_trunc));
    }
    return RenderList(format, rows, kStatsHeaders);
  };

  std::vector<std::thread> threads;
  for (const std::string& name : names) threads.emplace_back(read, name);
  if (f.no_stream) {
    for (std::thread& t : threads) t.join();
    for (const auto& item : failed) std::cerr << "Error: " << item.second << "\n";
    std::cout << table();
    if (!failed.empty()) throw ExitStatus(1);
    return;
  }
  // Redrawn each second, as docker does, until every stream ended (Ctrl-C ends berth).
  while (true) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::cout << "\033[2J\033[H" << table() << std::flush;
    std::lock_guard<std::mutex> lock(mu);
    if (running == 0) break;
  }
  for (std::thread& t : threads) t.join();
  for (const auto& item : failed) std::cerr << "Error: " << item.second << "\n";
}

}  // namespace

void AddStatsCommand(CLI::App* cmd, Context& ctx) {
  auto f = std::make_shared<StatsFlags>();
  cmd->add_flag("-a,--all", f->all, "Show all containers (default shows just running)");
  cmd->add_flag("--no-stream", f->no_stream,
                "Disable streaming stats and only pull the first result");
  cmd->add_flag("--no-trunc", f->no_trunc, "Do not truncate output");
  cmd->add_option("--format", f->format, "Pretty-print stats using a Go template");
  cmd->add_option("container", f->names, "CONTAINER");
  cmd->callback([&ctx, f] { Stats(ctx, *f); });
}

}  // namespace berth::cli

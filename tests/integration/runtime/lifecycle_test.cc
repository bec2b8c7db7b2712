// The created/running/stopped lifecycle, the create/start split, kill, delete, pause,
// resume, ps, list, state and the pid file, through the berth-runtime binary.

#include <signal.h>
#include <unistd.h>

#include <thread>

#include "base/file_util.h"
#include "harness.h"

namespace berth::testing {
namespace {

class LifecycleTest : public RuntimeTest {
 protected:
  std::string Status(const std::string& id) {
    Result r = Rt({"state", id});
    if (r.exit_code != 0) {
      return "gone";
    }
    return nlohmann::json::parse(r.out).at("status").get<std::string>();
  }
  // Polls until `id` has `want` status (the process may take a moment to exit).
  bool WaitStatus(const std::string& id, const std::string& want) {
    for (int i = 0; i < 200; ++i) {
      if (Status(id) == want) {
        return true;
      }
      usleep(10000);
    }
    return false;
  }
};

TEST_F(LifecycleTest, RunPropagatesOutputAndExitCode) {
  Result r = RunContainer("echo hello; exit 42");
  EXPECT_EQ(r.exit_code, 42) << r.err;
  EXPECT_EQ(r.out, "hello\n");
}

TEST_F(LifecycleTest, KilledBySignalExitsWith128PlusSignal) {
  // A pid namespace's init ignores signals it has no handler for, so run without one (and
  // without a user namespace, which could not mount /proc for a pid namespace it does not own).
  RemoveNamespace("pid");
  RemoveNamespace("user");
  Result r = RunContainer("kill -USR1 $$; sleep 5");
  EXPECT_EQ(r.exit_code, 128 + SIGUSR1) << r.err;
}

TEST_F(LifecycleTest, CreateWaitsUntilStart) {
  // The bundle dir is bind-mounted in, so the container's marker shows on the host.
  ShareTestDir("/out");
  SetScript("touch /out/started; exec sleep 100");
  std::string id = NewId();
  std::string pid_file = dir_ + "/pid";
  Result r = Rt({"create", "--bundle", bundle_, "--pid-file", pid_file, id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Status(id), "created");
  auto state = nlohmann::json::parse(Rt({"state", id}).out);
  EXPECT_EQ(state["id"], id);
  EXPECT_EQ(state["bundle"], bundle_);
  EXPECT_EQ(state["ociVersion"], "1.1.0");
  EXPECT_EQ(std::to_string(state["pid"].get<int>()), Trim(ReadFile(pid_file)));
  usleep(100000);
  EXPECT_FALSE(FileExists(dir_ + "/started")) << "the process ran before start";

  r = Rt({"start", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Status(id), "running");
  for (int i = 0; i < 200 && !FileExists(dir_ + "/started"); ++i) {
    usleep(10000);
  }
  EXPECT_TRUE(FileExists(dir_ + "/started"));

  r = Rt({"start", id});
  EXPECT_NE(r.exit_code, 0) << "a second start must fail";
  EXPECT_NE(r.err.find("running"), std::string::npos) << r.err;

  r = Rt({"delete", id});
  EXPECT_NE(r.exit_code, 0) << "delete of a running container without --force must fail";
  EXPECT_NE(r.err.find("not stopped"), std::string::npos) << r.err;

  r = Rt({"kill", id, "KILL"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(WaitStatus(id, "stopped"));
  EXPECT_EQ(nlohmann::json::parse(Rt({"state", id}).out)["pid"], 0);

  r = Rt({"delete", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Status(id), "gone");
  EXPECT_FALSE(FileExists(state_ + "/" + id));
  r = Rt({"state", id});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
}

TEST_F(LifecycleTest, KillAcceptsNamesAndNumbers) {
  SetScript("trap 'echo got-usr2' USR2; trap 'exit 3' TERM; while true; do sleep 0.05; done");
  // A pid namespace's init ignores TERM until its trap is installed: wait for the loop (its
  // sleep child) before signalling.
  auto start = [&] {
    std::string id = NewId();
    EXPECT_EQ(Rt({"run", "--detach", "--bundle", bundle_, id}).exit_code, 0);
    for (int i = 0; i < 200; ++i) {
      auto pids = nlohmann::json::parse(Rt({"ps", "--format", "json", id}).out);
      if (pids.size() >= 2) {
        break;
      }
      usleep(10000);
    }
    return id;
  };
  for (const std::string sig : {"TERM", "SIGTERM", "15"}) {
    std::string id = start();
    Result r = Rt({"kill", id, sig});
    EXPECT_EQ(r.exit_code, 0) << sig << ": " << r.err;
    EXPECT_TRUE(WaitStatus(id, "stopped")) << sig;
  }
  std::string id = start();
  Result r = Rt({"kill", id, "NOSUCHSIG"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("NOSUCHSIG"), std::string::npos) << r.err;
  EXPECT_EQ(Rt({"kill", id}).exit_code, 0) << "default signal is SIGTERM";
  EXPECT_TRUE(WaitStatus(id, "stopped"));
  r = Rt({"kill", id, "KILL"});
  EXPECT_NE(r.exit_code, 0) << "kill of a stopped container must fail";
}

TEST_F(LifecycleTest, KillAllReachesEveryProcess) {
  // Without a pid namespace the init's children are not killed with it: --all must be.
  RemoveNamespace("pid");
  RemoveNamespace("user");
  SetScript("sleep 100 & sleep 100 & wait");
  std::string id = NewId();
  ASSERT_EQ(Rt({"run", "--detach", "--bundle", bundle_, id}).exit_code, 0);
  std::vector<int> pids;
  for (int i = 0; i < 100 && pids.size() < 3; ++i) {
    pids = nlohmann::json::parse(Rt({"ps", "--format", "json", id}).out).get<std::vector<int>>();
    usleep(10000);
  }
  ASSERT_EQ(pids.size(), 3u);
  ASSERT_EQ(Rt({"kill", "--all", id, "KILL"}).exit_code, 0);
  for (int pid : pids) {
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
      std::string stat = ReadFileIfExists("/proc/" + std::to_string(pid) + "/stat").value_or("");
      gone = stat.empty() || stat.find(") Z ") != std::string::npos;
      usleep(10000);
    }
    EXPECT_TRUE(gone) << "pid " << pid << " survived kill --all";
  }
}

TEST_F(LifecycleTest, DeleteForceStopsARunningContainer) {
  SetScript("exec sleep 100");
  std::string id = NewId();
  ASSERT_EQ(Rt({"run", "--detach", "--bundle", bundle_, id}).exit_code, 0);
  int pid = nlohmann::json::parse(Rt({"state", id}).out)["pid"];
  Result r = Rt({"delete", "--force", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Status(id), "gone");
  // Gone, or a zombie waiting for whoever inherited it (here pid 1) to reap it.
  std::string stat = ReadFileIfExists("/proc/" + std::to_string(pid) + "/stat").value_or("");
  EXPECT_TRUE(stat.empty() || stat.find(") Z ") != std::string::npos)
      << "init still alive after delete --force: " << stat;
}

TEST_F(LifecycleTest, PauseFreezesAndResumeThaws) {
  ShareTestDir("/out");
  SetScript("i=0; while true; do i=$((i+1)); echo $i > /out/tick; sleep 0.01; done");
  std::string id = NewId();
  ASSERT_EQ(Rt({"run", "--detach", "--bundle", bundle_, id}).exit_code, 0);
  usleep(100000);
  ASSERT_EQ(Rt({"pause", id}).exit_code, 0);
  EXPECT_EQ(Status(id), "paused");
  std::string t1 = ReadFile(dir_ + "/tick");
  usleep(200000);
  EXPECT_EQ(ReadFile(dir_ + "/tick"), t1) << "the container kept running while paused";
  Result r = Rt({"pause", id});
  EXPECT_NE(r.exit_code, 0) << "pausing a paused container must fail";
  ASSERT_EQ(Rt({"resume", id}).exit_code, 0);
  EXPECT_EQ(Status(id), "running");
  usleep(200000);
  EXPECT_NE(ReadFile(dir_ + "/tick"), t1) << "the container did not run after resume";
  EXPECT_NE(Rt({"resume", id}).exit_code, 0) << "resuming a running container must fail";
  // A paused container can be force-deleted.
  ASSERT_EQ(Rt({"pause", id}).exit_code, 0);
  EXPECT_EQ(Rt({"delete", "--force", id}).exit_code, 0);
}

TEST_F(LifecycleTest, ListAndPs) {
  SetScript("exec sleep 100");
  std::string a = NewId(), b = NewId();
  ASSERT_EQ(Rt({"create", "--bundle", bundle_, a}).exit_code, 0);
  ASSERT_EQ(Rt({"run", "--detach", "--bundle", bundle_, b}).exit_code, 0);
  auto list = nlohmann::json::parse(Rt({"list", "--format", "json"}).out);
  ASSERT_EQ(list.size(), 2u);
  std::map<std::string, std::string> statuses;
  for (const auto& c : list) {
    statuses[c["id"]] = c["status"];
  }
  EXPECT_EQ(statuses[a], "created");
  EXPECT_EQ(statuses[b], "running");
  Result q = Rt({"list", "-q"});
  EXPECT_EQ(q.out, a + "\n" + b + "\n");
  Result table = Rt({"list"});
  EXPECT_NE(table.out.find("STATUS"), std::string::npos);
  int pid = nlohmann::json::parse(Rt({"state", b}).out)["pid"];
  Result ps = Rt({"ps", b});
  EXPECT_EQ(ps.exit_code, 0) << ps.err;
  EXPECT_NE(ps.out.find("PID"), std::string::npos);
  EXPECT_NE(ps.out.find(std::to_string(pid)), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("sleep 100"), std::string::npos) << ps.out;
  // ps options pass through to ps(1) as arguments, never through a shell.
  ps = Rt({"ps", b, "-o", "pid,args"});
  EXPECT_EQ(ps.exit_code, 0) << ps.err;
  EXPECT_NE(ps.out.substr(0, ps.out.find('\n')).find("PID"), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find(std::to_string(pid) + " sleep 100"), std::string::npos) << ps.out;
  ps = Rt({"ps", b, "-o", "pid;touch " + dir_ + "/injected"});
  EXPECT_FALSE(FileExists(dir_ + "/injected")) << "ps options went through a shell";
}

TEST_F(LifecycleTest, ConcurrentRunsDoNotInterfere) {
  // Creates and deletes at once must not race over shared cgroup state (a shared parent
  // once made cpuset attaches fail with ENOSPC under parallel runs).
  SetScript("true");
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) {
    ids.push_back(NewId());
  }
  std::vector<Result> results(ids.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ids.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = Rt({"run", "--bundle", bundle_, ids[i]}); });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(results[i].exit_code, 0) << ids[i] << ": " << results[i].err;
  }
}

}  // namespace
}  // namespace berth::testing

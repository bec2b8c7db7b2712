// The CVE-2019-5736 class: a container process must not reach the runtime's binary through
// /proc/<pid>/exe (or the runtime's fds) of a runtime process that enters the container.

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/fd.h"
#include "base/file_util.h"
#include "harness.h"

namespace berth::testing {
namespace {

using SecurityTest = RuntimeTest;

TEST_F(SecurityTest, ContainerCannotReachTheRuntimeBinaryDuringExec) {
  SetScript("exec sleep 100");
  std::string id = NewId();
  ASSERT_EQ(Rt({"run", "--detach", "--bundle", bundle_, id}).exit_code, 0);
  std::string before = ReadFile(RuntimePath());

  // Hold an exec'd runtime process inside the container (before its execve), then attack it
  // from a second process in the container, as the CVE's exploit does.
  setenv("BERTH_RUNTIME_TEST_EXEC_DELAY_MS", "3000", 1);
  std::string pid_file = dir_ + "/held.pid";
  Result held = Rt({"exec", "--detach", "--pid-file", pid_file, id, "true"});
  unsetenv("BERTH_RUNTIME_TEST_EXEC_DELAY_MS");
  ASSERT_EQ(held.exit_code, 0) << held.err;
  pid_t pid = std::stoi(ReadFile(pid_file));

  // From the host: the held process runs from a binary that cannot be written through its
  // /proc/<pid>/exe: a read-only mount of it, or a sealed memfd copy.
  UniqueFd exe(open(("/proc/" + std::to_string(pid) + "/exe").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(exe.valid());
  struct statvfs sv;
  ASSERT_EQ(fstatvfs(exe.get(), &sv), 0);
  int seals = fcntl(exe.get(), F_GET_SEALS);
  EXPECT_TRUE((sv.f_flag & ST_RDONLY) || (seals > 0 && (seals & F_SEAL_WRITE)))
      << "the runtime process in the container runs from a writable binary";

  Result attack = Rt(
      {"exec", id, "sh", "-c",
       "for d in /proc/[0-9]*; do p=${d#/proc/}; [ $p = 1 ] && continue; "
       "[ $p = $$ ] && continue; case \"$(cat $d/comm 2>/dev/null)\" in "
       "*berth*) echo found; readlink $d/exe && echo link-ok; "
       "head -c 4 $d/exe >/dev/null 2>&1 && echo read-ok; "
       "(echo x >> $d/exe) 2>/dev/null && echo write-ok; "
       "for f in $d/fd/*; do readlink $f >/dev/null 2>&1 && echo fd-link-ok; done;; esac; done"});
  ASSERT_EQ(attack.exit_code, 0) << attack.err;
  // "found" proves the attacker saw the runtime process; every access must have failed.
  EXPECT_EQ(attack.out, "found\n") << attack.out;
  EXPECT_EQ(ReadFile(RuntimePath()), before) << "the runtime binary was modified";
}

TEST_F(SecurityTest, EntrypointThroughProcSelfExeRunsOnlyTheSealedCopy) {
  // An image whose entrypoint is /proc/self/exe makes the init execute "the runtime" inside
  // the container. It must be the protected copy: writing to it fails, the host file is intact.
  UseRootfsCopy();
  ASSERT_EQ(symlink("/proc/self/exe", (rootfs_ + "/bin/evil").c_str()), 0);
  std::string before = ReadFile(RuntimePath());
  config_["process"]["args"] = {"/bin/evil", "--version"};
  WriteConfig();
  Rt({"run", "--bundle", bundle_, NewId()});
  EXPECT_EQ(ReadFile(RuntimePath()), before);
  // And what a process inside reaches through /proc/self/exe cannot be written.
  SetScript("exec 3</proc/self/exe; echo x >> /proc/self/fd/3 2>/dev/null && echo wrote; true");
  Result r = Rt({"run", "--bundle", bundle_, NewId()});
  EXPECT_EQ(r.out.find("wrote"), std::string::npos);
}

}  // namespace
}  // namespace berth::testing

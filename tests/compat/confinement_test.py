#!/usr/bin/env python3
"""The confinement battery: escape attempts inside a container under the default spec.

tests/battery/battery.cc makes each attempt and prints a verdict. It runs as the process of a
container made from `berth-runtime spec` -- the default spec as printed, changed only in
process.args (the battery), process.terminal (false), root.path (a copy of the busybox rootfs
holding the battery and a setuid-root copy of it) and process.env (the battery's inputs) --
under berth-runtime, crun and runc, the same config.json for the three; and once unconfined
on the host as root (in a private mount namespace), which shows that each attempt is real:
it gets through where nothing confines it.

The table printed has one row per attempt and one column per runtime. The test fails if
  * berth-runtime lets any attempt through (or gives no verdict),
  * crun's verdict on an attempt differs from berth-runtime's, unless the difference comes
    from something in the config crun does not implement and is explained in
    EXPLAINED_VERDICT_DIFFERENCES (printed as a footnote; berth must still block it),
  * an attempt every root host can make (MUST_ESCAPE_ON_HOST) is blocked on the host, i.e.
    the battery's attempt is not a real one.
runc's column is informational. Where the verdicts agree but the reasons differ, the
reasons are printed below the table, with REASON_NOTES explaining the known ones.

Every runtime command goes through runtime_compat_test's WRAP (the cgroup2 tree hidden, as
crun 1.8.1 needs on this hybrid host). The containers' stdin is an empty pipe, not /dev/null:
crun 1.8.1 chowns its stdio to the container's root, and would so give the host's /dev/null
to host uid 1000000000 (a guard checks /dev/null around every run and puts it back).

Environment: BERTH_RUNTIME, BERTH_ROOTFS, BERTH_BATTERY. Needs root and crun; skips (exit 0)
otherwise. Everything it starts is stopped by pid or deleted by id, even on failure.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_compat_test import WRAP, remove_hidden_leftovers  # noqa: E402

BERTH = os.environ.get("BERTH_RUNTIME", "")
ROOTFS = os.environ.get("BERTH_ROOTFS", "")
BATTERY = os.environ.get("BERTH_BATTERY", "")
TIMEOUT = 60
SLEEPER_NAME = "berth-battery-sleeper"

ATTEMPTS = ["mount", "module_load", "sysrq_trigger", "sys_write", "raw_socket", "mknod",
            "ptrace_outside", "keyctl", "setuid_nnp", "masked_paths", "sysctl_host", "proc_exe",
            "symlink_escape", "open_by_handle", "nested_userns", "kallsyms", "dev_mem"]

# Attempts that get through for root on any Linux host this test runs on; blocked there, the
# battery's attempt is broken. The others depend on the kernel's configuration (modules,
# sysrq, /dev/mem, kallsyms, which /proc and /sys files exist) and get a footnote instead.
MUST_ESCAPE_ON_HOST = ["mount", "raw_socket", "mknod", "ptrace_outside", "keyctl",
                       "setuid_nnp", "sysctl_host", "proc_exe", "symlink_escape",
                       "open_by_handle", "nested_userns"]

# attempt -> why crun's verdict may differ from berth-runtime's (a config field crun does not
# implement). Empty: crun and berth-runtime agree on every attempt today.
EXPLAINED_VERDICT_DIFFERENCES = {}

# attempt -> why the reasons (not the verdicts) differ between the runtimes.
REASON_NOTES = {
    "setuid_nnp": "crun and runc ignore the annotation org.berth.rootfs.idmap, so in their "
                  "user namespace the rootfs (host root's) shows as owned by the overflow "
                  "uid 65534, and the setuid copy could not give euid 0 even without "
                  "no_new_privs; under berth-runtime it shows as root's and no_new_privs is "
                  "what keeps euid 1000.",
    "sys_write": "EROFS where the runtime mounts sysfs read-only from the start (a read-only "
                 "superblock: berth-runtime, runc), EACCES where crun mounts it read-write and "
                 "then remounts the mount read-only: the permission check (the file is host "
                 "root's, unmapped in the user namespace) then comes before the mount's.",
    "proc_exe": "/proc/self/exe O_RDWR: EACCES where the battery shows as owned by the "
                "overflow uid (crun, runc), ETXTBSY where it shows as root's (berth-runtime's "
                "id-mapped root); either way no host binary is reachable.",
}


def parse(output):
    """{attempt: (verdict, detail)} from the battery's lines."""
    verdicts = {}
    for line in output.splitlines():
        parts = line.split(" ", 2)
        if len(parts) >= 2 and parts[0] in ATTEMPTS and parts[1] in ("blocked", "ESCAPED"):
            verdicts[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    return verdicts


def start_sleeper():
    """A host process named SLEEPER_NAME; returns (Popen, a readable address in it)."""
    sleeper = subprocess.Popen(["bash", "-c", f"exec -a {SLEEPER_NAME} sleep 600"],
                               stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while True:
        try:
            with open(f"/proc/{sleeper.pid}/cmdline", "rb") as f:
                if f.read().startswith(SLEEPER_NAME.encode()):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the host sleeper did not start")
        time.sleep(0.01)
    with open(f"/proc/{sleeper.pid}/maps") as f:
        for line in f:
            fields = line.split()
            if fields[1].startswith("r"):
                return sleeper, fields[0].split("-")[0]
    raise RuntimeError("the host sleeper has no readable mapping")


def dev_ino(path):
    st = os.stat(path)
    return f"{st.st_dev}:{st.st_ino}"


class DevNullGuard:
    """Notices (and undoes) a change of owner or mode of the host's /dev/null.

    A change during berth-runtime's run fails the test; one during another runtime's run is a
    note (another job on the host running crun with /dev/null as stdin does the same).
    """

    def __init__(self):
        st = os.stat("/dev/null")
        self.owner, self.mode = (st.st_uid, st.st_gid), st.st_mode & 0o7777
        self.changes = []

    def check(self, who):
        st = os.stat("/dev/null")
        if (st.st_uid, st.st_gid) != self.owner or st.st_mode & 0o7777 != self.mode:
            self.changes.append((who, f"during the {who} run, the host's /dev/null changed to "
                                      f"uid {st.st_uid} gid {st.st_gid} mode "
                                      f"{st.st_mode & 0o7777:o} (put back)"))
            os.chown("/dev/null", *self.owner)
            os.chmod("/dev/null", self.mode)


def remove_our_cgroups(tag):
    """Removes cgroup directories whose name carries tag, in every visible hierarchy."""
    with open("/proc/self/mounts") as f:
        mps = [line.split()[1] for line in f if line.split()[2] in ("cgroup", "cgroup2")]
    for mp in mps:
        found = []
        for dirpath, dirnames, _ in os.walk(mp):
            if dirpath[len(mp):].count("/") >= 3:
                dirnames[:] = []
            found += [os.path.join(dirpath, d) for d in dirnames if tag in d]
        for d in sorted(found, key=len, reverse=True):
            for sub, _, _ in sorted(os.walk(d), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(sub)
                except OSError as e:
                    print(f"WARNING: rmdir {sub}: {e}", file=sys.stderr)


def cell(v, width):
    text = f"{v[0]} {v[1]}" if v else "(no verdict)"
    return text if len(text) <= width else text[:width - 3] + "..."


def print_table(results, columns, titles, host_col):
    width = 46
    first = max(len(a) for a in ATTEMPTS) + 2
    print("attempt".ljust(first) + "".join(titles[c].ljust(width + 2) for c in columns))
    print("-" * (first + (width + 2) * len(columns)))
    for a in ATTEMPTS:
        row = a.ljust(first) + "".join(cell(results[c].get(a), width).ljust(width + 2)
                                       for c in columns)
        v = {c: (results[c].get(a) or ("(none)",))[0] for c in ("berth", "crun")}
        print(row.rstrip() + ("   <-- berth-runtime and crun differ" if v["berth"] != v["crun"]
                              else ""))
    notes = []
    ref = [c for c in columns if c != host_col]
    for a in ATTEMPTS:
        reasons = {c: results[c].get(a) for c in ref}
        if len({r for r in reasons.values()}) > 1 or any(
                r and len(f"{r[0]} {r[1]}") > width for r in reasons.values()):
            notes.append(f"  {a}:")
            notes += [f"    {titles[c]}: {r[0]} {r[1]}" if r else f"    {titles[c]}: (no verdict)"
                      for c, r in reasons.items()]
            verdicts = {r[0] for r in reasons.values() if r}
            if a in REASON_NOTES and len(verdicts) == 1:
                notes.append(f"    why the reasons differ: {REASON_NOTES[a]}")
            if a in EXPLAINED_VERDICT_DIFFERENCES and len(verdicts) > 1:
                notes.append(f"    why the verdicts differ: {EXPLAINED_VERDICT_DIFFERENCES[a]}")
    if notes:
        print("\nIn full, where the runtimes' reasons differ or do not fit the table:")
        print("\n".join(notes))
    host_blocked = [f"{a} ({results[host_col][a][1]})" for a in ATTEMPTS
                    if results[host_col].get(a, ("",))[0] == "blocked"]
    print(f"\n{titles[host_col]}: the battery run as root outside any container (private mount "
          "namespace), to show the attempts are real. "
          + ("Blocked there, so not shown getting through on this machine (kernel "
             f"configuration): {', '.join(host_blocked)}." if host_blocked
             else "Every attempt gets through there."))
    print("proc_exe looks for host binaries (the runtimes', the host sleeper's) behind every "
          "/proc/*/exe and map_files link the container sees; the CVE-2019-5736 race itself is "
          "in tests/integration/runtime/security_test.cc.")


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root")
        return 0
    if shutil.which("crun") is None or shutil.which("unshare") is None:
        print("SKIP: crun or unshare is not installed")
        return 0
    for name, path in (("BERTH_RUNTIME", BERTH), ("BERTH_BATTERY", BATTERY)):
        if not path or not os.access(path, os.X_OK):
            print(f"{name}={path!r} is not executable", file=sys.stderr)
            return 1
    if not ROOTFS or not os.path.isfile(os.path.join(ROOTFS, "bin", "busybox")):
        print(f"BERTH_ROOTFS={ROOTFS!r} is not the busybox rootfs", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tag = f"confine-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    tmp = tempfile.mkdtemp(prefix="berth-confine-")
    sleeper = None
    created = []  # (argv prefix, container id)
    devnull = DevNullGuard()
    try:
        # The containers' root is an unprivileged host user: it must be able to walk in.
        os.chmod(tmp, 0o711)
        rootfs = os.path.join(tmp, "rootfs")
        subprocess.run(["cp", "-a", ROOTFS, rootfs], check=True)
        shutil.copy(BATTERY, os.path.join(rootfs, "battery"))
        suid = os.path.join(rootfs, "battery-suid")
        shutil.copy(BATTERY, suid)
        os.chown(suid, 0, 0)
        os.chmod(suid, 0o4755)
        # The host file the container must not reach, on the filesystem of the rootfs (so that
        # its file handle could be opened through the container's root).
        marker = os.path.join(tmp, "host-marker")
        marker_text = "berth-battery-marker-" + uuid.uuid4().hex
        with open(marker, "w") as f:
            f.write(marker_text)
        os.chmod(marker, 0o644)
        handle = subprocess.run([BATTERY, "--file-handle", marker], capture_output=True,
                                text=True, check=True).stdout.strip()
        sleeper, sleeper_addr = start_sleeper()
        binaries = {"berth-runtime": os.path.abspath(BERTH), "crun": shutil.which("crun"),
                    "host-sleeper": f"/proc/{sleeper.pid}/exe"}
        if shutil.which("runc"):
            binaries["runc"] = shutil.which("runc")
        env = {"BATTERY_HOST_PID": str(sleeper.pid), "BATTERY_HOST_ADDR": sleeper_addr,
               "BATTERY_HOST_BINARIES": ",".join(f"{k}={dev_ino(v)}" for k, v in binaries.items()),
               "BATTERY_MARKER": marker, "BATTERY_MARKER_TEXT": marker_text,
               "BATTERY_HANDLE": handle}

        spec_dir = os.path.join(tmp, "spec")
        os.mkdir(spec_dir)
        subprocess.run([BERTH, "spec", "--bundle", spec_dir], check=True, timeout=TIMEOUT)
        with open(os.path.join(spec_dir, "config.json")) as f:
            config = json.load(f)
        config["process"]["terminal"] = False
        config["process"]["args"] = ["/battery"]
        config["process"]["env"] = config["process"].get("env", []) + [
            f"{k}={v}" for k, v in env.items()]
        config["root"]["path"] = rootfs
        bundle = os.path.join(tmp, "bundle")
        os.mkdir(bundle)
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(config, f, indent=2)

        results, outputs, rcs = {}, {}, {}
        # Unconfined: a private mount namespace with a tmpfs as the scratch directory, so that
        # the attempts that get through touch nothing of the host's.
        scratch = os.path.join(tmp, "scratch")
        os.mkdir(scratch)
        host_env = dict(os.environ, BATTERY_SUID=suid, BATTERY_SCRATCH=scratch, **env)
        p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            'mount -t tmpfs battery-scratch "$1" && exec "$2"', "host", scratch,
                            BATTERY], env=host_env, capture_output=True, text=True,
                           timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        results["host"], outputs["host"], rcs["host"] = parse(p.stdout), p.stdout + p.stderr, \
            p.returncode

        runtimes = [("berth", os.path.abspath(BERTH)), ("crun", shutil.which("crun"))]
        if shutil.which("runc"):
            runtimes.append(("runc", shutil.which("runc")))
        for name, exe in runtimes:
            # The pid in the id lets remove_hidden_leftovers find what crun leaves.
            cid = f"{tag}-{name}-{os.getpid()}"
            prefix = WRAP + [exe, "--root", os.path.join(tmp, "root-" + name)]
            created.append((prefix, cid))
            p = subprocess.run(prefix + ["run", "--bundle", bundle, cid], capture_output=True,
                               text=True, timeout=TIMEOUT, input="")
            devnull.check(name)
            results[name], outputs[name], rcs[name] = parse(p.stdout), p.stdout + p.stderr, \
                p.returncode

        titles = {"berth": "berth-runtime", "crun": "crun", "runc": "runc (informational)",
                  "host": "host (unconfined root)"}
        columns = [n for n, _ in runtimes] + ["host"]
        print_table(results, columns, titles, "host")

        failures = []
        for a in ATTEMPTS:
            got, crun = results["berth"].get(a), results["crun"].get(a)
            if got is None:
                failures.append(f"berth-runtime gave no verdict on {a}")
            elif got[0] != "blocked":
                failures.append(f"berth-runtime let {a} through: {got[1]}")
            if crun is None:
                failures.append(f"crun gave no verdict on {a}")
            elif got is not None and crun[0] != got[0] and a not in EXPLAINED_VERDICT_DIFFERENCES:
                failures.append(f"{a}: crun {crun[0]} ({crun[1]}), berth-runtime {got[0]} "
                                f"({got[1]})")
        for a in MUST_ESCAPE_ON_HOST:
            h = results["host"].get(a)
            if h is None or h[0] != "ESCAPED":
                failures.append(f"{a} is {h[0] + ' (' + h[1] + ')' if h else 'not judged'} even "
                                "unconfined on the host: the battery's attempt is not real")
        if rcs["berth"] != 0:
            failures.append(f"berth-runtime's run exited {rcs['berth']} (the battery exits 0 "
                            "when every attempt is blocked)")
        if rcs["crun"] != rcs["berth"]:
            failures.append(f"crun's run exited {rcs['crun']}, berth-runtime's {rcs['berth']}")
        for who, what in devnull.changes:
            if who == "berth":
                failures.append(what)
            else:
                print("NOTE: " + what, file=sys.stderr)
        if "runc" in results and rcs["runc"] not in (0, 1):
            print(f"NOTE: runc run exited {rcs['runc']}: {outputs['runc'].strip()[-500:]}",
                  file=sys.stderr)
        if failures:
            for c in columns:
                print(f"--- output under {titles[c]} (exit status {rcs[c]}):\n{outputs[c]}",
                      file=sys.stderr)
            for f in failures:
                print("FAIL: " + f, file=sys.stderr)
            return 1
        print(f"\nconfinement: all {len(ATTEMPTS)} attempts blocked under berth-runtime, the "
              "same verdicts under crun")
        return 0
    finally:
        for prefix, cid in created:
            try:
                subprocess.run(prefix + ["delete", "--force", cid], capture_output=True,
                               timeout=TIMEOUT, input="")
            except subprocess.TimeoutExpired:
                print(f"WARNING: delete --force {cid} timed out", file=sys.stderr)
        if sleeper is not None:
            sleeper.kill()
            sleeper.wait()
        remove_our_cgroups(tag)
        remove_hidden_leftovers()
        devnull.check("cleanup")
        for who, what in devnull.changes:
            if who == "cleanup":
                print("NOTE: " + what, file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The confinement battery: escape attempts inside a container under the default spec.

tests/battery/battery.cc makes each attempt and prints a verdict. It runs here four times:
unconfined on the host (in a private mount namespace, to show which attempts can succeed at
all on this machine), and as the process of a container made from `berth-runtime spec` under
berth-runtime, crun and runc — the same config.json for all three. A table of the verdicts
is printed. The test fails if berth-runtime lets any attempt through, or if crun's verdict on
an attempt differs from berth-runtime's (runc's column is informational: runc 1.1 cannot
apply parts of the spec the same way, which the table shows).

Environment: BERTH_RUNTIME, BERTH_ROOTFS, BERTH_BATTERY. Needs root and crun; skips (exit 0)
otherwise. Everything it starts is stopped by pid or deleted by id, even on failure.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_compat_test import WRAP, remove_hidden_leftovers  # noqa: E402

BERTH = os.environ.get("BERTH_RUNTIME", "")
ROOTFS = os.environ.get("BERTH_ROOTFS", "")
BATTERY = os.environ.get("BERTH_BATTERY", "")
TIMEOUT = 60

ATTEMPTS = ["mount", "module_load", "sysrq_trigger", "sys_write", "raw_socket", "mknod",
            "ptrace_outside", "keyctl", "setuid_nnp", "masked_paths", "sysctl_host", "proc_exe",
            "symlink_escape", "nested_userns", "dev_mem"]


def parse(output):
    """{attempt: (verdict, detail)} from the battery's lines."""
    verdicts = {}
    for line in output.splitlines():
        parts = line.split(" ", 2)
        if len(parts) >= 2 and parts[0] in ATTEMPTS and parts[1] in ("blocked", "ESCAPED"):
            verdicts[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    return verdicts


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root")
        return 0
    if shutil.which("crun") is None:
        print("SKIP: crun is not installed")
        return 0
    for name, path in (("BERTH_RUNTIME", BERTH), ("BERTH_BATTERY", BATTERY)):
        if not path or not os.access(path, os.X_OK):
            print(f"{name}={path!r} is not executable", file=sys.stderr)
            return 1
    tmp = tempfile.mkdtemp(prefix="berth-confine-")
    sleeper = None
    created = []  # (argv prefix, id)
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
        marker = os.path.join(tmp, "host-marker")
        marker_text = "berth-battery-marker-" + uuid.uuid4().hex
        with open(marker, "w") as f:
            f.write(marker_text)
        os.chmod(marker, 0o644)
        sleeper = subprocess.Popen(["bash", "-c", "exec -a berth-battery-sleeper sleep 300"])
        env = {"BATTERY_HOST_PID": str(sleeper.pid), "BATTERY_MARKER": marker,
               "BATTERY_MARKER_TEXT": marker_text}

        spec_dir = os.path.join(tmp, "spec")
        os.mkdir(spec_dir)
        subprocess.run([BERTH, "spec", "--bundle", spec_dir], check=True)
        with open(os.path.join(spec_dir, "config.json")) as f:
            config = json.load(f)
        config["process"]["terminal"] = False
        config["process"]["args"] = ["/battery"]
        config["process"]["env"] += [f"{k}={v}" for k, v in env.items()]
        config["root"]["path"] = rootfs

        results, outputs = {}, {}
        host_env = dict(os.environ, BATTERY_SUID=suid, **env)
        p = subprocess.run(["unshare", "--mount", "--propagation", "private", BATTERY],
                           env=host_env, capture_output=True, text=True, timeout=TIMEOUT)
        results["host"], outputs["host"] = parse(p.stdout), p.stdout + p.stderr

        runtimes = [("berth", os.path.abspath(BERTH)), ("crun", shutil.which("crun"))]
        if shutil.which("runc"):
            runtimes.append(("runc", shutil.which("runc")))
        for name, exe in runtimes:
            bundle = os.path.join(tmp, "bundle-" + name)
            os.mkdir(bundle)
            with open(os.path.join(bundle, "config.json"), "w") as f:
                json.dump(config, f, indent=2)
            # The pid in the id lets remove_hidden_leftovers find what crun leaves.
            cid = f"confine-{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            prefix = WRAP + [exe, "--root", os.path.join(tmp, "root-" + name)]
            created.append((prefix, cid))
            p = subprocess.run(prefix + ["run", "--bundle", bundle, cid], capture_output=True,
                               text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
            results[name], outputs[name] = parse(p.stdout), p.stdout + p.stderr

        columns = ["host"] + [n for n, _ in runtimes]
        width = max(len(a) for a in ATTEMPTS) + 2
        print("attempt".ljust(width) + "".join(c.ljust(30) for c in columns))
        for a in ATTEMPTS:
            cells = []
            for c in columns:
                v = results[c].get(a)
                cells.append((f"{v[0]} ({v[1]})" if v else "(no verdict)")[:28].ljust(30))
            print(a.ljust(width) + "".join(cells))
        print("host = the battery unconfined as root (private mount namespace); 'blocked' there "
              "means this machine cannot show the attempt succeeding (e.g. a kernel without "
              "modules, sysrq or /dev/mem). proc_exe tries every /proc/*/exe the container "
              "sees; the CVE-2019-5736 race itself is tested in tests/integration "
              "(SecurityTest).")

        failures = []
        for a in ATTEMPTS:
            got = results["berth"].get(a)
            if got is None:
                failures.append(f"berth-runtime: no verdict for {a}")
            elif got[0] != "blocked":
                failures.append(f"berth-runtime let {a} through: {got[1]}")
            crun = results["crun"].get(a)
            if crun is None or (got is not None and crun[0] != got[0]):
                failures.append(f"{a}: crun says {crun}, berth-runtime {got}")
        if failures:
            for c in columns:
                print(f"--- output under {c}:\n{outputs[c]}", file=sys.stderr)
            for f in failures:
                print("FAIL: " + f, file=sys.stderr)
            return 1
        print(f"confinement: all {len(ATTEMPTS)} attempts blocked under berth-runtime, "
              "same verdicts under crun")
        return 0
    finally:
        for prefix, cid in created:
            subprocess.run(prefix + ["delete", "--force", cid], capture_output=True,
                           timeout=TIMEOUT)
        if sleeper is not None:
            sleeper.kill()
            sleeper.wait()
        remove_hidden_leftovers()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

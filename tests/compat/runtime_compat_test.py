#!/usr/bin/env python3
"""Compatibility tests: berth-runtime against crun and runc, side by side, on one machine.

The same OCI bundles are run by crun, runc and berth-runtime, and what the container sees
(credentials, capabilities, mounts, namespaces, /dev, umask, rlimits, cwd, env, exit code),
the lifecycle (create/start/state/kill/delete), and exec are compared.

Every runtime command goes through the SAME wrapper: a private mount namespace in which the
cgroup2 tree /sys/fs/cgroup/unified is unmounted when it is mounted. crun 1.8.1 refuses this
host's hybrid cgroup layout otherwise (see /work/shared/ANCHORS.md); wrapping all three the
same way keeps the comparison fair. Each runtime gets its own --root in a temp dir and every
container a unique id; every container created is deleted with --force, by id, by the runtime
that created it, even when a test fails.

Environment: BERTH_RUNTIME (the berth-runtime binary), BERTH_ROOTFS (the busybox rootfs).
Needs root, crun, runc and unshare; skips (exit 0) otherwise.

Where crun and runc disagree on an item the difference is reported (stderr, "NOTE:") and
berth-runtime is compared with runc: runc is the OCI's reference implementation and what
docker/containerd use by default, while what crun does beyond it (a /dev/core symlink,
binding the host's /dev/null over masked files, a sized tmpfs on /sys/fs/cgroup) are crun's
own choices that the runtime spec does not ask for.

Mount points whose options crun and runc disagree on (the /sys/fs/cgroup tmpfs, masked
directories) have their own tests; the mount-table test leaves them out.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

BERTH = os.environ.get("BERTH_RUNTIME", "")
ROOTFS = os.environ.get("BERTH_ROOTFS", "")
CMD_TIMEOUT = 20  # seconds, per runtime command


def _skip_reason():
    if os.geteuid() != 0:
        return "needs root (containers in real namespaces)"
    missing = [t for t in ("crun", "runc", "unshare") if shutil.which(t) is None]
    if missing:
        return "not installed: " + ", ".join(missing)
    return None


SKIP_REASON = _skip_reason()

# The wrapper every runtime command goes through (see the module docstring).
WRAP_SCRIPT = (
    'if awk \'$5 == "/sys/fs/cgroup/unified" {f=1} END {exit !f}\' /proc/self/mountinfo; then '
    "umount /sys/fs/cgroup/unified || exit 125; fi; "
    'exec "$@"'
)
WRAP = ["unshare", "--mount", "--propagation", "private", "sh", "-c", WRAP_SCRIPT, "compat-wrap"]

# The probe: one section per item, each introduced by a marker line.
MARK = "@@@compat:"
PROBE = f"""
echo '{MARK}id'; id
echo '{MARK}hostname'; hostname
echo '{MARK}status'; cat /proc/self/status
echo '{MARK}mounts'; cat /proc/self/mounts
echo '{MARK}ns'
for n in cgroup ipc mnt net pid pid_for_children time time_for_children user uts; do
  echo "$n $(readlink /proc/self/ns/$n 2>/dev/null)"
done
echo '{MARK}dev'; ls -l /dev
echo '{MARK}umask'; umask
echo '{MARK}ulimit'; ulimit -n
echo '{MARK}cwd'; pwd
echo '{MARK}env'; env
exit 7
"""
PROBE_EXIT = 7
NS_NAMES = ("cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time",
            "time_for_children", "user", "uts")
STATUS_FIELDS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")
# /proc/<pid>/ns entries each OCI namespace type shows up in.
OCI_NS_FILES = {"pid": ("pid", "pid_for_children"), "network": ("net",), "ipc": ("ipc",),
                "uts": ("uts",), "mount": ("mnt",), "cgroup": ("cgroup",), "user": ("user",),
                "time": ("time", "time_for_children")}

# Compared by its own test (crun and runc differ on its tmpfs options).
CGROUP_TMPFS = "/sys/fs/cgroup"

# The cgroup parent of the containers of tests 1, 3 and 4 (linux.cgroupsPath, the same for the
# three runtimes, as docker/containerd/podman always pass one). The bundles of test 2 keep
# each runtime's default (they run unchanged).
CGROUP_PARENT = f"/berth-compat-{os.getpid()}"


_NOTED = set()


def note(msg):
    if msg not in _NOTED:
        _NOTED.add(msg)
        print("NOTE: " + msg, file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Runtimes and containers


class Runtime:
    """One runtime binary with its own --root, always run through WRAP."""

    def __init__(self, name, exe, root):
        self.name, self.exe, self.root = name, exe, root
        os.makedirs(root, exist_ok=True)

    def argv(self, *args):
        return WRAP + [self.exe, "--root", self.root, *args]

    def call(self, *args, timeout=CMD_TIMEOUT, umask=-1, stdout=subprocess.PIPE,
             stderr=subprocess.PIPE):
        """Runs one command; returns CompletedProcess (text). stdin is an empty file of ours.

        Never the host's /dev/null: crun 1.8 chowns a container's stdio to the container's
        root when it has a user namespace, and would chown /dev/null itself."""
        with open(scratch_file("stdin"), "rb") as stdin:
            return subprocess.run(self.argv(*args), stdin=stdin, stdout=stdout,
                                  stderr=stderr, text=True, timeout=timeout, umask=umask)

    def state(self, cid):
        """(returncode, parsed state or None, stderr)."""
        p = self.call("state", cid)
        if p.returncode != 0:
            return p.returncode, None, p.stderr
        return 0, json.loads(p.stdout), p.stderr


def scratch_file(name):
    """A file of this run's own in its temp dir (created empty if missing)."""
    path = os.path.join(Env.tmp, name)
    if not os.path.exists(path):
        open(path, "w").close()
    return path


# Every container created, as (runtime, id): deleted with --force by tearDownModule at the
# latest, and by each test's cleanup as soon as it is done with them.
CREATED = []


def new_id(tag, rt):
    return f"compat-{tag}-{rt.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def force_delete(rt, cid):
    """`delete --force` by id; an id that no longer exists is fine."""
    try:
        p = rt.call("delete", "--force", cid)
        if p.returncode != 0 and rt.state(cid)[0] == 0:
            print(f"WARNING: {rt.name} delete --force {cid} failed: {p.stderr.strip()}",
                  file=sys.stderr)
    except subprocess.TimeoutExpired:
        print(f"WARNING: {rt.name} delete --force {cid} timed out", file=sys.stderr)


def cleanup_containers():
    while CREATED:
        rt, cid = CREATED.pop()
        force_delete(rt, cid)


def register(testcase, rt, cid):
    """Registers a container id before it is created, so that it is always deleted."""
    entry = (rt, cid)
    CREATED.append(entry)

    def cleanup():
        if entry in CREATED:
            CREATED.remove(entry)
            force_delete(rt, cid)

    if testcase is not None:
        testcase.addCleanup(cleanup)


# ---------------------------------------------------------------------------------------------
# Module fixture: temp dir, a private copy of the rootfs, the three runtimes


class Env:
    tmp = None
    rootfs = None
    runtimes = None  # name -> Runtime; "crun", "runc", "berth"
    host_ns = None


def setUpModule():
    if SKIP_REASON:
        return
    if not BERTH or not os.access(BERTH, os.X_OK):
        raise RuntimeError(f"BERTH_RUNTIME={BERTH!r} is not an executable berth-runtime")
    if not ROOTFS or not os.path.isfile(os.path.join(ROOTFS, "bin", "busybox")):
        raise RuntimeError(f"BERTH_ROOTFS={ROOTFS!r} is not the busybox rootfs")
    Env.tmp = tempfile.mkdtemp(prefix="berth-compat-")
    # The default spec has a user namespace: its root is an unprivileged host user, which runc
    # and crun make walk to the rootfs (berth-runtime opens it before leaving host root).
    os.chmod(Env.tmp, 0o711)
    # A private copy of the rootfs: runtimes may create mount points in it, and the build's
    # copy is shared with other tests.
    Env.rootfs = os.path.join(Env.tmp, "rootfs")
    subprocess.run(["cp", "-a", ROOTFS, Env.rootfs], check=True)
    Env.runtimes = {
        "crun": Runtime("crun", shutil.which("crun"), os.path.join(Env.tmp, "root-crun")),
        "runc": Runtime("runc", shutil.which("runc"), os.path.join(Env.tmp, "root-runc")),
        "berth": Runtime("berth", os.path.abspath(BERTH), os.path.join(Env.tmp, "root-berth")),
    }
    Env.host_ns = {}
    for n in NS_NAMES:
        try:
            Env.host_ns[n] = os.readlink(f"/proc/self/ns/{n}")
        except OSError:
            Env.host_ns[n] = ""


def cgroup_mounts():
    """Mount points of the host's cgroup hierarchies (v1 and v2)."""
    mps = []
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[2] in ("cgroup", "cgroup2"):
                mps.append(fields[1])
    return mps


def remove_cgroup_parent():
    """Removes CGROUP_PARENT (and what the runtimes left below it) in every hierarchy."""
    for mp in cgroup_mounts():
        top = mp + CGROUP_PARENT
        if not os.path.isdir(top):
            continue
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except OSError as e:
                print(f"WARNING: rmdir {dirpath}: {e}", file=sys.stderr)


def remove_hidden_leftovers():
    """Removes what crun left under the host's cgroup2 mount point.

    Inside WRAP the cgroup2 tree is unmounted, so crun takes the empty directory beneath it
    for a cgroup and creates its directories there, in the host's /sys/fs/cgroup tmpfs,
    hidden under the cgroup2 mount. Only this run's own (named with its pid) are removed.
    """
    if not os.path.ismount("/sys/fs/cgroup/unified"):
        return
    pid = os.getpid()
    script = (
        "umount /sys/fs/cgroup/unified || exit 0; cd /sys/fs/cgroup/unified || exit 0; "
        f"for d in *-{pid}-* berth-compat-{pid}; do [ -d \"$d\" ] || continue; "
        "find \"$d\" -depth \\( -type f -delete -o -type d -exec rmdir {} \\; \\); done")
    subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                   check=False)


def tearDownModule():
    cleanup_containers()
    if Env.tmp:
        remove_cgroup_parent()
        remove_hidden_leftovers()
        shutil.rmtree(Env.tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Bundles


def berth_spec_config():
    """A config.json written by `berth-runtime spec` (not wrapped: it touches no namespace)."""
    d = tempfile.mkdtemp(dir=Env.tmp, prefix="spec-berth-")
    subprocess.run([Env.runtimes["berth"].exe, "spec", "--bundle", d], check=True,
                   capture_output=True, timeout=CMD_TIMEOUT)
    with open(os.path.join(d, "config.json")) as f:
        return json.load(f)


def reference_spec_config(name):
    """A config.json written by `crun spec` or `runc spec` in an empty dir."""
    d = tempfile.mkdtemp(dir=Env.tmp, prefix=f"spec-{name}-")
    subprocess.run([Env.runtimes[name].exe, "spec"], cwd=d, check=True, capture_output=True,
                   timeout=CMD_TIMEOUT)
    with open(os.path.join(d, "config.json")) as f:
        return json.load(f)


def make_bundle(config, args, tag, cgroups_path=None):
    """Writes a bundle dir with config changed only in root.path, process.terminal, args
    (and linux.cgroupsPath when cgroups_path is given)."""
    config = json.loads(json.dumps(config))
    config["root"]["path"] = Env.rootfs
    config["process"]["terminal"] = False
    config["process"]["args"] = args
    if cgroups_path:
        config.setdefault("linux", {})["cgroupsPath"] = cgroups_path
    d = tempfile.mkdtemp(dir=Env.tmp, prefix=f"bundle-{tag}-")
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    return d


# ---------------------------------------------------------------------------------------------
# Probe output parsing and normalising


def split_sections(out):
    sections, cur = {}, None
    for line in out.splitlines():
        if line.startswith(MARK):
            cur = line[len(MARK):]
            sections[cur] = []
        elif cur is not None:
            sections[cur].append(line)
    return sections


def parse_probe(out, rc):
    """Probe stdout -> dict of normalised items."""
    s = split_sections(out)
    items = {"exit_code": rc}
    items["id"] = "\n".join(s.get("id", []))
    items["hostname"] = "\n".join(s.get("hostname", []))
    status = {}
    for line in s.get("status", []):
        k, _, v = line.partition(":")
        if k in STATUS_FIELDS:
            status[k] = v.strip()
    items["status"] = status
    # Mount table: mount point -> sorted list of (fs type, sorted option set), one per mount
    # stacked there (the source is left out: it is a free-form string).
    mounts = {}
    for line in s.get("mounts", []):
        f = line.split()
        if len(f) < 4:
            continue
        mounts.setdefault(f[1], []).append((f[2], tuple(sorted(set(f[3].split(","))))))
    items["mounts"] = {k: sorted(v) for k, v in mounts.items()}
    # Namespaces that differ from the host's.
    ns = {}
    for line in s.get("ns", []):
        name, _, link = line.partition(" ")
        ns[name] = link.strip()
    items["ns_differ"] = sorted(n for n in NS_NAMES
                                if ns.get(n, "") != Env.host_ns.get(n, ""))
    items["ns_raw"] = ns
    # /dev: name -> (type char, major:minor for devices, "-> target" for links, "" otherwise)
    dev, dev_perms = {}, {}
    for line in s.get("dev", []):
        f = line.split()
        if not f or f[0] == "total":
            continue
        kind = f[0][0]
        if kind in "cb":
            # crw-rw-rw-  1 root root  1,   3 Nov 28 18:28 null
            name = " ".join(f[9:])
            dev[name] = (kind, f[4].rstrip(",") + ":" + f[5])
            dev_perms[name] = f[0]
        else:
            rest = " ".join(f[8:])
            name, _, target = rest.partition(" -> ")
            dev[name] = (kind, "-> " + target if kind == "l" else "")
    items["dev"] = dev
    items["dev_perms"] = dev_perms
    items["umask"] = "\n".join(s.get("umask", []))
    items["ulimit"] = "\n".join(s.get("ulimit", []))
    items["cwd"] = "\n".join(s.get("cwd", []))
    env = {}
    for line in s.get("env", []):
        k, _, v = line.partition("=")
        env[k] = v
    items["env"] = env
    return items


def run_probe(rt, bundle, tag, testcase=None):
    """`run` the probe bundle in the foreground; returns (items, CompletedProcess).

    The caller's umask is 077 on purpose: the container's umask must not depend on it.
    """
    cid = new_id(tag, rt)
    register(testcase, rt, cid)
    p = rt.call("run", "--bundle", bundle, cid, umask=0o077)
    force_delete(rt, cid)  # `run` deletes it; this is belt and braces
    if (rt, cid) in CREATED:
        CREATED.remove((rt, cid))
    return parse_probe(p.stdout, p.returncode), p


def reference_value(name, crun_v, runc_v):
    """What berth must match: the value crun and runc agree on, else runc's (see docstring)."""
    if crun_v != runc_v:
        note(f"crun and runc differ on {name}: crun={crun_v!r} runc={runc_v!r}; "
             "berth-runtime is compared with runc")
    return runc_v


def masked_dirs(config, runc_mounts):
    """Masked paths that are directories, which runc covers with a read-only tmpfs (masked
    files get /dev/null bound over them instead). The container's /proc and /sys show the
    same kernel as the host's, so the host tells which paths are directories."""
    return sorted(p for p in config.get("linux", {}).get("maskedPaths", [])
                  if os.path.isdir(p) and not os.path.islink(p)
                  and any(fs == "tmpfs" for fs, _ in runc_mounts.get(p, [])))


class ProbeComparison:
    """Mixin: item-by-item comparison of probe results of crun, runc and berth.

    Subclasses set cls.results = {"crun": items, "runc": items, "berth": items},
    cls.procs (CompletedProcess per runtime) and cls.config (the config run).
    """

    results = None
    procs = None
    config = None

    def ref(self, item, get=lambda v: v):
        return reference_value(item,
                               get(self.results["crun"][item]),
                               get(self.results["runc"][item]))

    def berth(self, item, get=lambda v: v):
        return get(self.results["berth"][item])

    def assert_item(self, item, get=lambda v: v):
        self.assertEqual(self.berth(item, get), self.ref(item, get),
                         f"{item}: berth-runtime differs "
                         f"(berth stderr: {self.procs['berth'].stderr.strip()!r})")

    def bug_mount_points(self):
        return {CGROUP_TMPFS} | set(masked_dirs(self.config, self.results["runc"]["mounts"]))

    # -- the items ------------------------------------------------------------------------

    def check_exit_code(self):
        for name in ("crun", "runc"):
            self.assertEqual(self.results[name]["exit_code"], PROBE_EXIT,
                             f"{name} did not run the bundle: {self.procs[name].stderr!r}")
        self.assertEqual(self.berth("exit_code"), PROBE_EXIT,
                         f"berth-runtime stderr: {self.procs['berth'].stderr.strip()!r}")

    def check_id(self):
        self.assertEqual(self.ref("id"), "uid=0(root) gid=0(root)")
        self.assert_item("id")

    def check_hostname(self):
        self.assertEqual(self.ref("hostname"), self.config.get("hostname"))
        self.assert_item("hostname")

    def check_status(self):
        ref = self.ref("status")
        self.assertEqual(sorted(ref), sorted(STATUS_FIELDS))
        for field in STATUS_FIELDS:
            with self.subTest(field=field):
                self.assertEqual(self.berth("status").get(field), ref[field], field)

    def check_mounts(self):
        """Every mount point but those the bug tests cover (they assert those in full)."""
        skip = self.bug_mount_points()
        crun_m, runc_m, berth_m = (self.results[n]["mounts"] for n in ("crun", "runc", "berth"))
        self.assertIn("/proc", runc_m)
        for mp in sorted(set(crun_m) | set(runc_m) | set(berth_m)):
            if mp in skip:
                continue
            with self.subTest(mount_point=mp):
                ref = reference_value(f"mount {mp}",
                                      crun_m.get(mp), runc_m.get(mp))
                got = berth_m.get(mp)
                if mp == "/" and self.config.get("annotations", {}).get(
                        "org.berth.rootfs.idmap") == "true":
                    # Berth's own addition: the root is id-mapped (runc and crun ignore the
                    # annotation and show host root's files as the overflow id instead).
                    self.assertTrue(got and all("idmapped" in opts for _, opts in got), got)
                    got = [(t, tuple(o for o in opts if o != "idmapped")) for t, opts in got]
                self.assertEqual(got, ref, f"mount {mp}")

    def check_namespaces(self):
        ref = self.ref("ns_differ")
        expected = sorted(f for ns in self.config["linux"]["namespaces"]
                          for f in OCI_NS_FILES[ns["type"]] if f in Env.host_ns)
        self.assertEqual(ref, expected)
        self.assert_item("ns_differ")

    def check_dev(self):
        crun_d, runc_d, berth_d = (self.results[n]["dev"] for n in ("crun", "runc", "berth"))
        self.assertIn("null", runc_d)
        self.assertEqual(runc_d["null"], ("c", "1:3"))
        for name in sorted(set(crun_d) | set(runc_d) | set(berth_d)):
            with self.subTest(dev=name):
                ref = reference_value(f"/dev/{name}",
                                      crun_d.get(name), runc_d.get(name))
                self.assertEqual(berth_d.get(name), ref, f"/dev/{name}")

    def check_umask(self):
        self.assertEqual(self.ref("umask"), "0022")
        self.assert_item("umask")

    def check_ulimit(self):
        nofile = [r for r in self.config["process"].get("rlimits", [])
                  if r["type"] == "RLIMIT_NOFILE"]
        if nofile:
            self.assertEqual(self.ref("ulimit"), str(nofile[0]["soft"]))
        self.assert_item("ulimit")

    def check_cwd(self):
        self.assertEqual(self.ref("cwd"), self.config["process"]["cwd"])
        self.assert_item("cwd")

    def check_env(self):
        """The environment but HOME (test_bug_env_home asserts that)."""
        ref = self.ref("env")
        for kv in self.config["process"]["env"]:
            k, _, v = kv.partition("=")
            self.assertEqual(ref.get(k), v)
        without_home = lambda e: {k: v for k, v in e.items() if k != "HOME"}  # noqa: E731
        self.assert_item("env", without_home)

    def check_all_items(self):
        for check in (self.check_exit_code, self.check_id, self.check_hostname,
                      self.check_status, self.check_mounts, self.check_namespaces,
                      self.check_dev, self.check_umask, self.check_ulimit, self.check_cwd,
                      self.check_env):
            with self.subTest(item=check.__name__):
                check()


# ---------------------------------------------------------------------------------------------
# 1. One bundle (from `berth-runtime spec`) under all three runtimes


@unittest.skipIf(SKIP_REASON, SKIP_REASON or "")
class ProbeParityTest(ProbeComparison, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.config = berth_spec_config()
        # berth-runtime spec's config is taken as is: crun 1.8.1 and runc 1.1.5 accept every
        # field of it (ociVersion 1.1.0 included), so nothing is adjusted. If a reference
        # runtime rejects it, test_exit_code fails and prints that runtime's stderr.
        cls.results, cls.procs = {}, {}
        for name, rt in Env.runtimes.items():
            bundle = make_bundle(cls.config, ["/bin/sh", "-c", PROBE], "probe",
                                 f"{CGROUP_PARENT}/probe-{name}")
            cls.results[name], cls.procs[name] = run_probe(rt, bundle, "probe")
            if cls.procs[name].returncode != PROBE_EXIT:
                note(f"{name} run of the berth spec bundle exited "
                     f"{cls.procs[name].returncode}: {cls.procs[name].stderr.strip()}")

    def test_exit_code(self):
        self.check_exit_code()

    def test_id(self):
        self.check_id()

    def test_hostname(self):
        self.check_hostname()

    def test_status_caps_nonewprivs_seccomp(self):
        self.check_status()

    def test_mounts(self):
        self.check_mounts()

    def test_namespaces(self):
        self.check_namespaces()

    def test_dev(self):
        self.check_dev()

    def test_umask(self):
        self.check_umask()

    def test_ulimit_nofile(self):
        self.check_ulimit()

    def test_cwd(self):
        self.check_cwd()

    def test_env(self):
        self.check_env()

    # Device nodes are crw-rw-rw- whatever the caller's umask (the probe runs under 077).
    def test_dev_node_modes(self):
        crun_p, runc_p = self.results["crun"]["dev_perms"], self.results["runc"]["dev_perms"]
        self.assertEqual(runc_p.get("null"), "crw-rw-rw-")
        self.assertEqual(self.results["berth"]["dev_perms"],
                         reference_value("dev modes", crun_p, runc_p))

    # HOME comes from the process user's passwd entry when the config's env has none.
    def test_env_home(self):
        self.assertEqual(self.ref("env", lambda e: e.get("HOME")), "/root")
        self.assert_item("env", lambda e: e.get("HOME"))

    # On a cgroup v1 host the tmpfs on /sys/fs/cgroup stays rw; the hierarchies under it are
    # read-only.
    def test_cgroup_tmpfs_rw(self):
        runc_m = self.results["runc"]["mounts"].get(CGROUP_TMPFS)
        crun_m = self.results["crun"]["mounts"].get(CGROUP_TMPFS)
        self.assertIsNotNone(runc_m)
        self.assertIn("rw", runc_m[0][1])
        self.assertIn("rw", crun_m[0][1])
        self.assertEqual(self.results["berth"]["mounts"].get(CGROUP_TMPFS),
                         reference_value("mount /sys/fs/cgroup", crun_m, runc_m))

    # Masked directories get a read-only tmpfs with no data, as runc mounts it (crun adds
    # size=0k).
    def test_masked_dir_tmpfs(self):
        dirs = masked_dirs(self.config, self.results["runc"]["mounts"])
        self.assertTrue(dirs)
        for mp in dirs:
            with self.subTest(mount_point=mp):
                crun_m = self.results["crun"]["mounts"].get(mp)
                runc_m = self.results["runc"]["mounts"].get(mp)
                self.assertIsNotNone(runc_m)
                self.assertEqual(self.results["berth"]["mounts"].get(mp),
                                 reference_value(f"mount {mp}", crun_m, runc_m))


# ---------------------------------------------------------------------------------------------
# 2. Bundles made by `crun spec` and `runc spec`, run unchanged (but root.path, terminal,
#    args) under all three


class SpecBundleBase(ProbeComparison):
    origin = None  # "crun" or "runc"

    @classmethod
    def setUpClass(cls):
        cls.config = reference_spec_config(cls.origin)
        bundle = make_bundle(cls.config, ["/bin/sh", "-c", PROBE], f"{cls.origin}spec")
        cls.results, cls.procs = {}, {}
        for name, rt in Env.runtimes.items():
            cls.results[name], cls.procs[name] = run_probe(rt, bundle, f"{cls.origin}spec")
        if cls.procs["berth"].returncode != PROBE_EXIT:
            note(f"berth-runtime run of the `{cls.origin} spec` bundle exited "
                 f"{cls.procs['berth'].returncode}: {cls.procs['berth'].stderr.strip()}")

    def test_reference_runtimes_run_it(self):
        for name in ("crun", "runc"):
            with self.subTest(runtime=name):
                r = self.results[name]
                self.assertEqual(r["exit_code"], PROBE_EXIT, self.procs[name].stderr)
                self.assertEqual(r["hostname"], self.origin)
                self.assertEqual(r["id"], "uid=0(root) gid=0(root)")

    # `crun spec` and `runc spec` list ambient capabilities that are not inheritable; the kernel
    # refuses to raise those, and all three runtimes skip them (CapAmb 0).
    def test_berth_runs_it_unchanged(self):
        self.check_all_items()



@unittest.skipIf(SKIP_REASON, SKIP_REASON or "")
class CrunSpecBundleTest(SpecBundleBase, unittest.TestCase):
    origin = "crun"


@unittest.skipIf(SKIP_REASON, SKIP_REASON or "")
class RuncSpecBundleTest(SpecBundleBase, unittest.TestCase):
    origin = "runc"


# ---------------------------------------------------------------------------------------------
# 3. Lifecycle parity and 4. exec parity


def read_words(path):
    try:
        with open(path) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def wait_for(pred, timeout=5.0, step=0.02):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)


LIFECYCLE_SCRIPT = """
echo started > /tmp/marker
trap 'echo usr1 >> /tmp/signals' USR1
trap 'echo usr2 >> /tmp/signals' USR2
trap 'echo hup >> /tmp/signals' HUP
while :; do sleep 1 & wait $!; done
"""

# Signals sent in the lifecycle, each as runc/crun accept it: a number, a SIG name, a bare name.
SIGNALS = (("10", "usr1"), ("SIGUSR2", "usr2"), ("HUP", "hup"))


@unittest.skipIf(SKIP_REASON, SKIP_REASON or "")
class LifecycleParityTest(unittest.TestCase):
    def lifecycle(self, rt):
        """Runs the whole lifecycle with rt; returns the list of observations."""
        hostdir = tempfile.mkdtemp(dir=Env.tmp, prefix=f"life-{rt.name}-")
        os.chmod(hostdir, 0o777)  # writable by the container's (user-namespaced) root
        config = berth_spec_config()
        config["mounts"].append({"destination": "/tmp", "type": "bind", "source": hostdir,
                                 "options": ["rbind", "rw"]})
        bundle = make_bundle(config, ["/bin/sh", "-c", LIFECYCLE_SCRIPT], "life",
                             f"{CGROUP_PARENT}/life-{rt.name}")
        cid = new_id("life", rt)
        register(self, rt, cid)
        marker = os.path.join(hostdir, "marker")
        signals = os.path.join(hostdir, "signals")
        seq = []

        def status():
            rc, st, err = rt.state(cid)
            if rc != 0:
                return "<state fails>"
            self.assertEqual(st["id"], cid)
            self.assertEqual(os.path.realpath(st["bundle"]), os.path.realpath(bundle))
            return st["status"]

        # create: the container's stdio goes to files (a pipe would stay open while it runs).
        with open(os.path.join(hostdir, "create.out"), "w") as out:
            p = rt.call("create", "--bundle", bundle, cid, stdout=out, stderr=out)
        with open(os.path.join(hostdir, "create.out")) as f:
            self.assertEqual(p.returncode, 0, f"{rt.name} create: {f.read()}")
        rc, st, err = rt.state(cid)
        self.assertEqual(rc, 0, f"{rt.name} state: {err}")
        self.assertGreater(st["pid"], 0)
        self.assertTrue(os.path.exists(f"/proc/{st['pid']}"), "the created init is not alive")
        time.sleep(0.3)  # give a process that wrongly runs already time to write the marker
        seq.append(("after create", status(), os.path.exists(marker)))

        p = rt.call("start", cid)
        self.assertEqual(p.returncode, 0, f"{rt.name} start: {p.stderr}")
        self.assertTrue(wait_for(lambda: os.path.exists(marker)), "marker never appeared")
        seq.append(("after start", status(), os.path.exists(marker)))

        for sig, word in SIGNALS:
            p = rt.call("kill", cid, sig)
            got = wait_for(lambda: word in read_words(signals))
            seq.append((f"kill {sig}", p.returncode, bool(got)))

        p = rt.call("delete", cid)  # running, no --force: must fail and leave it running
        seq.append(("delete running", p.returncode != 0, status()))

        p = rt.call("kill", cid, "SIGKILL")
        self.assertEqual(p.returncode, 0, f"{rt.name} kill SIGKILL: {p.stderr}")
        seq.append(("after kill SIGKILL", wait_for(lambda: status() == "stopped") and "stopped"
                    or status()))

        p = rt.call("delete", cid)
        self.assertEqual(p.returncode, 0, f"{rt.name} delete: {p.stderr}")
        rc, _, _ = rt.state(cid)
        seq.append(("state after delete", "fails" if rc != 0 else "succeeds"))
        return seq

    def test_lifecycle(self):
        expected = [
            ("after create", "created", False),  # the process has NOT run yet
            ("after start", "running", True),
            ("kill 10", 0, True),
            ("kill SIGUSR2", 0, True),
            ("kill HUP", 0, True),
            ("delete running", True, "running"),
            ("after kill SIGKILL", "stopped"),
            ("state after delete", "fails"),
        ]
        seqs = {}
        for name, rt in Env.runtimes.items():
            seqs[name] = self.lifecycle(rt)
        for name in ("crun", "runc"):
            self.assertEqual(seqs[name], expected, f"{name}'s lifecycle is not as expected")
        for step_exp, step_berth in zip(expected, seqs["berth"]):
            with self.subTest(step=step_exp[0]):
                self.assertEqual(step_berth, step_exp)
        self.assertEqual(seqs["berth"], seqs["runc"])
        self.assertEqual(seqs["berth"], seqs["crun"])

    def test_exec(self):
        config = berth_spec_config()
        outs = {}
        for name, rt in Env.runtimes.items():
            bundle = make_bundle(config, ["sleep", "60"], "exec", f"{CGROUP_PARENT}/exec-{name}")
            cid = new_id("exec", rt)
            register(self, rt, cid)
            # The container keeps its stdio: a file of ours (a pipe would never see EOF, and
            # crun would chown /dev/null, see Runtime.call).
            with open(scratch_file(f"exec-{name}.out"), "w") as out:
                p = rt.call("create", "--bundle", bundle, cid, stdout=out, stderr=out)
            self.assertEqual(p.returncode, 0, f"{name} create")
            p = rt.call("start", cid)
            self.assertEqual(p.returncode, 0, f"{name} start: {p.stderr}")
            res = []
            for args in (["id"], ["hostname"], ["sh", "-c", "pwd; umask; exit 5"]):
                p = rt.call("exec", cid, *args)
                res.append((args[0] if len(args) == 1 else "sh -c ...", p.returncode,
                            p.stdout))
                if p.returncode not in (0, 5):
                    note(f"{name} exec {args}: rc {p.returncode}: {p.stderr.strip()}")
            outs[name] = res
            force_delete(rt, cid)
        expected = [("id", 0, "uid=0(root) gid=0(root)\n"),
                    ("hostname", 0, config["hostname"] + "\n"),
                    ("sh -c ...", 5, "/\n0022\n")]
        self.assertEqual(outs["runc"], expected)
        self.assertEqual(outs["crun"], expected)
        for exp, got in zip(expected, outs["berth"]):
            with self.subTest(exec=exp[0]):
                self.assertEqual(got, exp)


# ---------------------------------------------------------------------------------------------


def main():
    t0 = time.monotonic()
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    ok = r.wasSuccessful()
    if SKIP_REASON:
        print(f"runtime_compat_test: SKIPPED: {SKIP_REASON}")
    print(f"runtime_compat_test: {'OK' if ok else 'FAILED'}: ran {r.testsRun}, "
          f"failures {len(r.failures)}, errors {len(r.errors)}, skipped {len(r.skipped)}, "
          f"expected failures {len(r.expectedFailures)}, "
          f"unexpected successes {len(r.unexpectedSuccesses)}, "
          f"{time.monotonic() - t0:.1f}s")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Volumes and restart policies through berthd's API on the wire (raw HTTP on its socket).

Volumes: create/inspect/list/remove/prune with Docker's shapes, filters and status codes; bad
names and options refused with nothing created; data in a named volume survives `rm` of its
container and a daemon restart (SIGTERM and kill -9); anonymous volumes (Config.Volumes,
`-v /path`) go with `rm -v` and stay without; a volume in use is a 409; a tmpfs volume of the
local driver; `-v` makes a missing host directory, `--mount` bind refuses one; copy-up of the
image's content into a new empty volume (and not with nocopy); ownership through the id-mapped
mount (the container's ids on disk, nothing chowned); --volumes-from; inspect's Mounts.

Restart policies: always comes back after its process is killed and after berthd is killed -9
(with the container killed while berthd is down); on-failure:2 stops after two restarts; a
crash loop backs off (no busy loop); stop holds a restart; Docker's daemon-start rule for
always/unless-stopped; --rm with a restart policy is a 400.

Environment: BERTHD, BERTH_BUSYBOX_IMAGE. Needs root. berthd runs on a temp dir and is stopped
by pid; the test fails if a mount, a shim or a host directory of its own is left behind.
"""

import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import unittest
from urllib.parse import quote

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "compat"))
from berthd_fixture import Berthd  # noqa: E402

BERTHD = os.environ.get("BERTHD", "")
IMAGE = os.environ.get("BERTH_BUSYBOX_IMAGE", "")


def api(method, path, body=None):
    """One request on its own connection: (status, parsed JSON or bytes)."""
    return DAEMON.api(method, path, body)

def filters(**f):
    return quote(json.dumps({k: v if isinstance(v, list) else [v] for k, v in f.items()}))


def create(cmd, name=None, **config):
    body = {"Image": "busybox", "Cmd": cmd, "HostConfig": {"NetworkMode": "none"}}
    body["HostConfig"].update(config.pop("HostConfig", {}))
    body.update(config)
    status, out = api("POST", "/containers/create" + ("?name=" + name if name else ""), body)
    assert status == 201, (status, out)
    return out["Id"]


def run(cmd, **config):
    """create + start + wait; returns (exit code, container id)."""
    cid = create(cmd, **config)
    status, out = api("POST", "/containers/%s/start" % cid)
    assert status == 204, (status, out)
    status, out = api("POST", "/containers/%s/wait" % cid)
    assert status == 200, (status, out)
    return out["StatusCode"], cid


def output(cid):
    _, data = api("GET", "/containers/%s/logs?stdout=1&stderr=1" % cid)
    out = b""
    while data:
        n = int.from_bytes(data[4:8], "big")
        out += data[8:8 + n]
        data = data[8 + n:]
    return out.decode()


def inspect(cid):
    status, out = api("GET", "/containers/%s/json" % cid)
    assert status == 200, (status, out)
    return out


def volume_names():
    return sorted(v["Name"] for v in api("GET", "/volumes")[1]["Volumes"])


def wait_for(predicate, timeout=15, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def leftovers():
    left = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"berth-shim" in cmd and DAEMON.dir.encode() in cmd:
            left.append("shim pid " + pid)
    with open("/proc/self/mountinfo") as f:
        left += ["mount " + line.split()[4] for line in f
                 if DAEMON.dir in line.split()[4] or HOST_DIR in line.split()[4]]
    return left


def restart_daemon(hard=False):
    if hard:
        DAEMON.kill9()
    else:
        DAEMON.proc.send_signal(signal.SIGTERM)
        DAEMON.proc.wait(10)
    DAEMON.start()


def setUpModule():
    global DAEMON, HOST_DIR
    if os.geteuid() != 0 or not (BERTHD and IMAGE):
        raise unittest.SkipTest("needs root and BERTHD, BERTH_BUSYBOX_IMAGE")
    DAEMON = Berthd(BERTHD, "berth-api-vol.")
    HOST_DIR = tempfile.mkdtemp(prefix="berth-api-vol-host.")
    with open(IMAGE, "rb") as f:
        status, _ = api("POST", "/images/load?quiet=1", f.read())
    assert status == 200


def tearDownModule():
    if "DAEMON" not in globals():
        return
    _, listed = api("GET", "/containers/json?all=1")
    for c in listed:
        api("DELETE", "/containers/%s?force=1&v=1" % c["Id"])
    api("POST", "/volumes/prune?filters=" + filters(all="true"))
    left = leftovers()
    vols = volume_names()
    status, log = DAEMON.stop()
    shutil.rmtree(HOST_DIR, ignore_errors=True)
    if status != 0 or left or vols:
        raise AssertionError("berthd exited with %d; left behind: %s; volumes %s\nberthd log:\n%s"
                             % (status, left, vols, log[-4000:]))


class VolumeApiTest(unittest.TestCase):
    def tearDown(self):
        _, listed = api("GET", "/containers/json?all=1")
        for c in listed:
            api("DELETE", "/containers/%s?force=1&v=1" % c["Id"])
        for name in volume_names():
            api("DELETE", "/volumes/" + name)

    def test_create_inspect_list_remove(self):
        status, v = api("POST", "/volumes/create",
                        {"Name": "data1", "Driver": "local", "Labels": {"tier": "db"},
                         "DriverOpts": {}})
        self.assertEqual(status, 201)
        self.assertEqual(sorted(v), ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name",
                                     "Options", "Scope"])
        self.assertEqual((v["Name"], v["Driver"], v["Scope"], v["Labels"]),
                         ("data1", "local", "local", {"tier": "db"}))
        self.assertTrue(os.path.isdir(v["Mountpoint"]))
        self.assertEqual(api("GET", "/volumes/data1"), (200, v))
        # An existing name: the volume as it is, 201 (Docker's answer).
        self.assertEqual(api("POST", "/volumes/create", {"Name": "data1"}), (201, v))
        status, anon = api("POST", "/volumes/create", {})
        self.assertEqual((status, len(anon["Name"])), (201, 64))
        api("POST", "/volumes/create", {"Name": "other", "Labels": {"tier": "web"}})
        self.assertEqual(volume_names(), sorted(["data1", "other", anon["Name"]]))
        for f, want in ((filters(label="tier=db"), ["data1"]),
                        (filters(label="tier"), ["data1", "other"]),
                        (filters(name="oth"), ["other"]),
                        (filters(driver="local", dangling="true"),
                         sorted(["data1", "other", anon["Name"]]))):
            status, out = api("GET", "/volumes?filters=" + f)
            self.assertEqual(status, 200)
            self.assertEqual(sorted(x["Name"] for x in out["Volumes"]), want, f)
        self.assertEqual(api("GET", "/volumes?filters=" + filters(colour="red"))[0], 400)
        self.assertEqual(api("DELETE", "/volumes/data1")[0], 204)
        self.assertEqual(api("DELETE", "/volumes/data1")[0], 404)
        self.assertEqual(api("DELETE", "/volumes/data1?force=1")[0], 204)
        self.assertEqual(api("GET", "/volumes/data1")[0], 404)
        self.assertFalse(os.path.exists(v["Mountpoint"]))

    def test_bad_input_creates_nothing(self):
        before = volume_names()
        for name in ("a/b", "..", "...", "x", "../../etc", ".hidden"):
            status, out = api("POST", "/volumes/create", {"Name": name})
            self.assertEqual(status, 400, name)
            self.assertIn("invalid characters", out["message"])
        self.assertEqual(api("POST", "/volumes/create",
                             {"Name": "v1", "DriverOpts": {"bogus": "1"}})[0], 400)
        self.assertEqual(api("POST", "/volumes/create",
                             {"Name": "v2", "DriverOpts": {"type": "tmpfs"}})[0], 400)
        self.assertEqual(api("POST", "/volumes/create",
                             {"Name": "v3", "DriverOpts": {"type": "none", "o": "bind",
                                                           "device": HOST_DIR + "/missing"}})[0],
                         400)
        self.assertEqual(api("POST", "/volumes/create", {"Name": "v4", "Driver": "nfsplug"})[0],
                         404)
        self.assertEqual(volume_names(), before)
        root = os.path.join(DAEMON.dir, "root", "volumes")
        self.assertEqual(sorted(os.listdir(root)), before)
        # A container whose mounts are refused leaves no volume and no container behind.
        for hc in ({"Binds": ["a/b:/data"]}, {"Binds": ["new1:/x", "/h:/x"]},
                   {"Mounts": [{"Type": "bind", "Source": HOST_DIR + "/nope", "Target": "/x"}]},
                   {"Binds": ["new2:/y"],
                    "Mounts": [{"Type": "bind", "Source": HOST_DIR + "/nope", "Target": "/x"}]},
                   {"VolumesFrom": ["no-such-container"]}):
            status, out = api("POST", "/containers/create",
                              {"Image": "busybox", "Cmd": ["true"], "HostConfig": hc})
            self.assertIn(status, (400, 404), (hc, out))
        self.assertEqual(volume_names(), before)
        self.assertEqual(api("GET", "/containers/json?all=1")[1], [])
        self.assertFalse(os.path.exists(HOST_DIR + "/nope"))

    def test_named_volume_survives_rm_and_daemon_restarts(self):
        code, cid = run(["sh", "-c", "echo kept > /data/file; id -u > /data/uid"],
                        HostConfig={"Binds": ["keep:/data"]})
        self.assertEqual(code, 0)
        mounts = inspect(cid)["Mounts"]
        self.assertEqual(mounts, [{
            "Type": "volume", "Name": "keep",
            "Source": os.path.join(DAEMON.dir, "root", "volumes", "keep", "_data"),
            "Destination": "/data", "Driver": "local", "Mode": "", "RW": True,
            "Propagation": ""}])
        self.assertEqual(api("DELETE", "/containers/%s?v=1" % cid)[0], 204)
        self.assertIn("keep", volume_names(), "rm -v keeps named volumes")
        restart_daemon()
        restart_daemon(hard=True)
        code, cid = run(["cat", "/data/file"], HostConfig={"Binds": ["keep:/data:ro"]})
        self.assertEqual((code, output(cid)), (0, "kept\n"))
        # On disk the file belongs to the container's root as the container sees it (0), not
        # to its shifted host id: the id-mapped mount did that, nothing was chowned.
        st = os.stat(os.path.join(DAEMON.dir, "root", "volumes", "keep", "_data", "file"))
        self.assertEqual((st.st_uid, st.st_gid), (0, 0))

    def test_anonymous_volumes_go_with_rm_v(self):
        cid = create(["true"], Volumes={"/anon1": {}},
                     HostConfig={"Binds": ["/anon2", "named:/n"]})
        mounts = {m["Destination"]: m for m in inspect(cid)["Mounts"]}
        anon = sorted(mounts[d]["Name"] for d in ("/anon1", "/anon2"))
        self.assertEqual([len(a) for a in anon], [64, 64])
        self.assertEqual(api("GET", "/volumes/" + anon[0])[1]["Labels"],
                         {"com.docker.volume.anonymous": ""})
        self.assertEqual(volume_names(), sorted(anon + ["named"]))
        # In use: 409, with the user named, even with force.
        for q in ("", "?force=1"):
            status, out = api("DELETE", "/volumes/named" + q)
            self.assertEqual(status, 409)
            self.assertIn(cid, out["message"])
        status, out = api("GET", "/volumes?filters=" + filters(dangling="false"))
        self.assertEqual(sorted(v["Name"] for v in out["Volumes"]), sorted(anon + ["named"]))
        # Plain rm keeps them (prune finds them then); rm -v removes the anonymous ones.
        cid2 = create(["true"], HostConfig={"Binds": ["/anon3"]})
        anon3 = inspect(cid2)["Mounts"][0]["Name"]
        self.assertEqual(api("DELETE", "/containers/" + cid2)[0], 204)
        self.assertIn(anon3, volume_names())
        self.assertEqual(api("DELETE", "/containers/%s?v=1" % cid)[0], 204)
        self.assertEqual(volume_names(), sorted(["named", anon3]))
        status, out = api("POST", "/volumes/prune?filters=" + filters(all="false"))
        self.assertEqual((status, out["VolumesDeleted"]), (200, [anon3]))
        status, out = api("POST", "/volumes/prune")
        self.assertEqual(out["VolumesDeleted"], ["named"])
        self.assertEqual(volume_names(), [])

    def test_bind_volume_of_the_local_driver(self):
        host = os.path.join(HOST_DIR, "bound")
        os.mkdir(host)
        with open(os.path.join(host, "existing"), "w") as f:
            f.write("host data\n")
        status, out = api("POST", "/volumes/create", {
            "Name": "hostbind", "DriverOpts": {"type": "none", "device": host, "o": "bind"}})
        self.assertEqual(status, 201, out)
        code, cid = run(["sh", "-c", "cat /b/existing && echo new > /b/new"],
                        HostConfig={"Binds": ["hostbind:/b"]})
        self.assertEqual((code, output(cid)), (0, "host data\n"))
        with open(os.path.join(host, "new")) as f:
            self.assertEqual(f.read(), "new\n")
        data = os.path.join(DAEMON.dir, "root", "volumes", "hostbind", "_data")
        with open("/proc/self/mountinfo") as f:
            self.assertNotIn(data, f.read())
        api("DELETE", "/containers/" + cid)
        # A read-only bind volume: o=bind,ro.
        api("POST", "/volumes/create", {
            "Name": "hostro", "DriverOpts": {"type": "none", "device": host, "o": "bind,ro"}})
        code, cid = run(["sh", "-c", "echo x > /b/blocked"], HostConfig={"Binds": ["hostro:/b"]})
        self.assertNotEqual(code, 0)
        self.assertFalse(os.path.exists(os.path.join(host, "blocked")))
        api("DELETE", "/containers/" + cid)
        # Removing the volumes never touches the host directory they bound.
        self.assertEqual(api("DELETE", "/volumes/hostbind")[0], 204)
        self.assertEqual(api("DELETE", "/volumes/hostro")[0], 204)
        self.assertEqual(sorted(os.listdir(host)), ["existing", "new"])
        shutil.rmtree(host)

    def test_volume_events(self):
        since = time.time()
        api("POST", "/volumes/create", {"Name": "evented"})
        code, cid = run(["true"], HostConfig={"Binds": ["evented:/e:ro"]})
        api("DELETE", "/containers/" + cid)
        api("DELETE", "/volumes/evented")
        status, events = api("GET", "/events?since=%f&until=%f&filters=%s" %
                             (since - 1, time.time() + 1, filters(type="volume")))
        self.assertEqual(status, 200)
        mine = [e for e in events if e["Actor"]["ID"] == "evented"]
        self.assertEqual([e["Action"] for e in mine], ["create", "mount", "unmount", "destroy"])
        self.assertEqual(mine[1]["Actor"]["Attributes"],
                         {"container": cid, "destination": "/e", "driver": "local",
                          "propagation": "", "read/write": "false"})

    def test_tmpfs_volume(self):
        status, _ = api("POST", "/volumes/create",
                        {"Name": "scratch",
                         "DriverOpts": {"type": "tmpfs", "device": "tmpfs",
                                        "o": "size=2m,mode=1770"}})
        self.assertEqual(status, 201)
        data = os.path.join(DAEMON.dir, "root", "volumes", "scratch", "_data")
        holder = create(["sleep", "60"], HostConfig={"Binds": ["scratch:/s"]})
        api("POST", "/containers/%s/start" % holder)
        code, cid = run(["sh", "-c", "echo hi > /s/f && cat /s/f && grep ' /s ' /proc/mounts "
                         "&& stat -c %a /s"],
                        HostConfig={"Binds": ["scratch:/s"]})
        out = output(cid)
        self.assertEqual(code, 0, out)
        self.assertIn("hi\n", out)
        self.assertIn("tmpfs /s tmpfs", out)
        self.assertIn("size=2048k", out)
        self.assertTrue(out.endswith("1770\n"), out)
        # Mounted while a container uses it; the content is shared by its users.
        with open(os.path.join(data, "f")) as f:
            self.assertEqual(f.read(), "hi\n")
        api("POST", "/containers/%s/kill" % holder)
        api("POST", "/containers/%s/wait" % holder)
        with open("/proc/self/mountinfo") as f:
            self.assertNotIn(data, f.read(), "unmounted with its last container")
        self.assertEqual(os.listdir(data), [])

    def test_binds_and_their_two_rules(self):
        made = os.path.join(HOST_DIR, "made", "by", "v")
        code, cid = run(["sh", "-c", "touch /b/f && ls -ln /b/f"],
                        HostConfig={"Binds": [made + ":/b"]})
        self.assertEqual(code, 0, output(cid))
        self.assertTrue(os.path.isdir(made), "-v makes a missing host directory")
        self.assertEqual(os.stat(os.path.join(made, "f")).st_uid, 0)
        # --mount type=bind: a missing source is an error, and nothing is made.
        status, out = api("POST", "/containers/create", {
            "Image": "busybox", "Cmd": ["true"],
            "HostConfig": {"Mounts": [{"Type": "bind", "Source": HOST_DIR + "/absent",
                                       "Target": "/x"}]}})
        self.assertEqual(status, 400)
        self.assertIn("bind source path does not exist", out["message"])
        self.assertFalse(os.path.exists(HOST_DIR + "/absent"))
        # A host file owned by 1000 shows as 1000 inside, and the container's user 1000
        # writes as 1000 on the host: the id-mapped bind, no chown either way.
        own = os.path.join(HOST_DIR, "own")
        os.mkdir(own)
        os.chown(own, 1000, 1000)
        code, cid = run(["sh", "-c", "stat -c %u:%g /o && touch /o/mine"], User="1000:1000",
                        HostConfig={"Mounts": [{"Type": "bind", "Source": own, "Target": "/o",
                                                "BindOptions": {"Propagation": "rslave"}}]})
        self.assertEqual((code, output(cid)), (0, "1000:1000\n"))
        st = os.stat(os.path.join(own, "mine"))
        self.assertEqual((st.st_uid, st.st_gid), (1000, 1000))
        self.assertEqual(os.stat(own).st_uid, 1000)
        m = inspect(cid)["Mounts"][0]
        self.assertEqual(m, {"Type": "bind", "Source": own, "Destination": "/o", "Mode": "",
                             "RW": True, "Propagation": "rslave"})

    def test_copy_up_into_a_new_empty_volume(self):
        code, cid = run(["ls", "/bin/busybox"], HostConfig={"Binds": ["bins:/bin"]})
        self.assertEqual((code, output(cid)), (0, "/bin/busybox\n"))
        data = os.path.join(DAEMON.dir, "root", "volumes", "bins", "_data")
        st = os.lstat(os.path.join(data, "busybox"))
        self.assertEqual(st.st_uid, 0, "the image's owner as the container sees it")
        self.assertTrue(os.path.islink(os.path.join(data, "sh")))
        # Not empty any more: a second container sees what the volume holds, no new copy.
        os.unlink(os.path.join(data, "ls"))
        code, cid = run(["/bin/busybox", "ls", "/bin/ls"], HostConfig={"Binds": ["bins:/bin"]})
        self.assertNotEqual(code, 0)
        # nocopy: the volume stays empty (and busybox's /bin with it).
        status, out = api("POST", "/containers/create", {
            "Image": "busybox", "Cmd": ["true"],
            "HostConfig": {"Mounts": [{"Type": "volume", "Source": "empty", "Target": "/bin",
                                       "VolumeOptions": {"NoCopy": True}}]}})
        self.assertEqual(status, 201)
        api("POST", "/containers/%s/start" % out["Id"])
        api("POST", "/containers/%s/wait" % out["Id"])
        self.assertEqual(os.listdir(os.path.join(DAEMON.dir, "root", "volumes", "empty",
                                                 "_data")), [])

    def test_volumes_from(self):
        src = create(["true"], name="vsrc", HostConfig={"Binds": ["shared:/shared", "/anon"]})
        code, cid = run(["sh", "-c", "echo x > /shared/f; touch /anon/g"],
                        HostConfig={"VolumesFrom": ["vsrc:ro"]})
        self.assertNotEqual(code, 0, "read-only through volumes-from:ro")
        self.assertEqual(sorted((m["Destination"], m["RW"]) for m in inspect(cid)["Mounts"]),
                         [("/anon", False), ("/shared", False)])
        code, cid2 = run(["sh", "-c", "echo x > /shared/f && cat /shared/f"],
                         HostConfig={"VolumesFrom": [src[:12]]})
        self.assertEqual((code, output(cid2)), (0, "x\n"))
        # rm -v of a container that only borrowed the anonymous volume keeps it.
        anon = [m["Name"] for m in inspect(src)["Mounts"] if m["Destination"] == "/anon"][0]
        api("DELETE", "/containers/%s?v=1" % cid)
        api("DELETE", "/containers/%s?v=1" % cid2)
        self.assertIn(anon, volume_names())
        api("DELETE", "/containers/%s?v=1" % src)
        self.assertNotIn(anon, volume_names())


def state(cid):
    s = inspect(cid)
    return s["State"]["Status"], s["RestartCount"], s["State"]["Pid"]


class RestartPolicyTest(unittest.TestCase):
    def tearDown(self):
        _, listed = api("GET", "/containers/json?all=1")
        for c in listed:
            api("DELETE", "/containers/%s?force=1&v=1" % c["Id"])

    def test_rm_with_a_restart_policy_is_refused(self):
        status, out = api("POST", "/containers/create", {
            "Image": "busybox", "Cmd": ["true"],
            "HostConfig": {"AutoRemove": True, "RestartPolicy": {"Name": "always"}}})
        self.assertEqual(status, 400)
        self.assertIn("AutoRemove", out["message"])
        status, _ = api("POST", "/containers/create", {
            "Image": "busybox", "Cmd": ["true"],
            "HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}}})
        self.assertEqual(status, 400)
        self.assertEqual(api("GET", "/containers/json?all=1")[1], [])

    def test_always_comes_back_after_its_process_is_killed(self):
        cid = create(["sleep", "600"], HostConfig={"RestartPolicy": {"Name": "always"}})
        api("POST", "/containers/%s/start" % cid)
        _, count, pid = state(cid)
        self.assertEqual(count, 0)
        os.kill(pid, signal.SIGKILL)
        status, count, pid2 = wait_for(
            lambda: (lambda s: s[0] == "running" and s[1] == 1 and s[2] not in (0, pid) and s)(
                state(cid)), what="a restart")
        self.assertNotEqual(pid2, pid)
        self.assertEqual(inspect(cid)["State"]["ExitCode"], 0)
        # A user's stop holds it: exited, and it stays so.
        self.assertEqual(api("POST", "/containers/%s/stop?t=1" % cid)[0], 204)
        time.sleep(0.5)
        self.assertEqual(state(cid)[:2], ("exited", 1))
        # start resets the count.
        api("POST", "/containers/%s/start" % cid)
        self.assertEqual(state(cid)[:2], ("running", 0))

    def test_always_after_berthd_is_killed_and_restarted(self):
        cid = create(["sleep", "600"], HostConfig={"RestartPolicy": {"Name": "always"}})
        api("POST", "/containers/%s/start" % cid)
        pid = state(cid)[2]
        DAEMON.kill9()
        os.kill(pid, signal.SIGKILL)  # dies while nobody watches
        time.sleep(0.3)
        DAEMON.start()
        # One look per try: a state read in pieces could mix the stale "running" of the old
        # process (before berthd has seen it gone) with the next read's "restarting", pid 0.
        status, count, pid2 = wait_for(
            lambda: (lambda s: s[0] == "running" and s[2] not in (0, pid) and s)(state(cid)),
            what="the restart after berthd came back")
        self.assertNotEqual(pid2, pid)
        self.assertEqual(count, 1)
        # Killed again with berthd up, then berthd killed -9 and back: live restore keeps it.
        DAEMON.kill9()
        DAEMON.start()
        self.assertEqual(state(cid), ("running", 1, pid2))

    def test_on_failure_stops_after_its_maximum(self):
        cid = create(["sh", "-c", "exit 3"],
                     HostConfig={"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}})
        api("POST", "/containers/%s/start" % cid)
        wait_for(lambda: state(cid)[:2] == ("exited", 2), what="two restarts then exited")
        time.sleep(1)  # a third would have come after 400 ms
        self.assertEqual(state(cid)[:2], ("exited", 2))
        self.assertEqual(inspect(cid)["State"]["ExitCode"], 3)
        # on-failure leaves a clean exit alone.
        ok = create(["true"], HostConfig={"RestartPolicy": {"Name": "on-failure"}})
        api("POST", "/containers/%s/start" % ok)
        api("POST", "/containers/%s/wait" % ok)
        time.sleep(0.5)
        self.assertEqual(state(ok)[:2], ("exited", 0))

    def test_a_crash_loop_backs_off(self):
        cid = create(["sh", "-c", "exit 1"], HostConfig={"RestartPolicy": {"Name": "always"}})
        api("POST", "/containers/%s/start" % cid)
        time.sleep(2)
        # 100 + 200 + 400 + 800 ms of waits fit in 2 s, plus the runs: 5 restarts at most.
        count = state(cid)[1]
        self.assertGreaterEqual(count, 2)
        self.assertLessEqual(count, 5)
        seen = set()
        for _ in range(20):
            seen.add(inspect(cid)["State"]["Status"])
            time.sleep(0.02)
        self.assertIn("restarting", seen)
        s = inspect(cid)["State"]
        if s["Status"] == "restarting":
            self.assertTrue(s["Restarting"] and s["Running"])
        # rm without force refuses a restarting container; stop ends the loop.
        self.assertEqual(api("POST", "/containers/%s/stop?t=1" % cid)[0], 204)
        count = state(cid)[1]
        time.sleep(1.5)
        self.assertEqual(state(cid)[:2], ("exited", count))

    def test_daemon_start_rules(self):
        always = create(["sleep", "600"], HostConfig={"RestartPolicy": {"Name": "always"}})
        unless = create(["sleep", "600"],
                        HostConfig={"RestartPolicy": {"Name": "unless-stopped"}})
        never_started = create(["sleep", "600"], HostConfig={"RestartPolicy": {"Name": "always"}})
        for cid in (always, unless):
            api("POST", "/containers/%s/start" % cid)
            api("POST", "/containers/%s/kill" % cid)
            api("POST", "/containers/%s/wait" % cid)
        self.assertEqual(state(always)[0], "exited")
        restart_daemon()
        # dockerd's rules: always starts again (even after a user's stop), unless-stopped does
        # not, a container never started stays created.
        wait_for(lambda: state(always)[0] == "running", what="always at daemon start")
        self.assertEqual(state(unless)[0], "exited")
        self.assertEqual(state(never_started)[0], "created")


def tar_of(entries):
    """A tar in memory: [(name, data or None for a directory, or ("link", target))]."""
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data, *owner in entries:
            ti = tarfile.TarInfo(name)
            if owner:
                ti.uid, ti.gid = owner[0], owner[0]
            if data is None:
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                t.addfile(ti)
            elif isinstance(data, tuple):
                ti.type = tarfile.SYMTYPE
                ti.linkname = data[1]
                t.addfile(ti)
            else:
                ti.size = len(data)
                ti.mode = 0o640
                t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def tar_names(data):
    import io
    import tarfile
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return sorted(m.name for m in t.getmembers())


def path_stat(cid, path):
    """HEAD's decoded X-Docker-Container-Path-Stat, or the status when not 200."""
    import base64
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(DAEMON.sock)
    s.sendall(("HEAD /v1.41/containers/%s/archive?path=%s HTTP/1.1\r\nHost: d\r\n"
               "Connection: close\r\n\r\n" % (cid, quote(path))).encode())
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = s.recv(4096)
        if not chunk:
            break
        raw += chunk
    s.close()
    lines = raw.split(b"\r\n\r\n")[0].decode().split("\r\n")
    status = int(lines[0].split()[1])
    for line in lines[1:]:
        k, v = line.split(":", 1)
        if k.lower() == "x-docker-container-path-stat":
            return json.loads(base64.b64decode(v.strip()))
    return status


class ArchiveApiTest(unittest.TestCase):
    def tearDown(self):
        _, listed = api("GET", "/containers/json?all=1")
        for c in listed:
            api("DELETE", "/containers/%s?force=1&v=1" % c["Id"])

    def test_stat_and_get(self):
        cid = create(["sh", "-c", "mkdir -p /d/sub && echo hi > /d/sub/f && ln -s /d/sub /d/l "
                      "&& ln -s ../../../../.. /d/up && exec sleep 600"])
        api("POST", "/containers/%s/start" % cid)
        wait_for(lambda: isinstance(path_stat(cid, "/d/up"), dict), what="the files")
        st = path_stat(cid, "/d/sub/f")
        self.assertEqual((st["name"], st["size"], st["mode"], st["linkTarget"]),
                         ("f", 3, 0o644, ""))
        self.assertRegex(st["mtime"], r"^\d{4}-\d\d-\d\dT")
        self.assertEqual(path_stat(cid, "/d")["mode"], (1 << 31) | 0o755)
        st = path_stat(cid, "/d/l")
        self.assertEqual((st["mode"] & (1 << 27), st["linkTarget"]), (1 << 27, "/d/sub"))
        self.assertEqual(path_stat(cid, "/d/up")["linkTarget"], "/")
        self.assertEqual(path_stat(cid, "/nope"), 404)
        status, data = api("GET", "/containers/%s/archive?path=/d" % cid)
        self.assertEqual(status, 200)
        self.assertEqual(tar_names(data), ["d", "d/l", "d/sub", "d/sub/f", "d/up"])
        status, data = api("GET", "/containers/%s/archive?path=/d/sub/." % cid)
        self.assertEqual(tar_names(data), [".", "./f"])
        # A link on the way is followed inside the container: /d/up/etc is the container's.
        status, data = api("GET", "/containers/%s/archive?path=/d/up/bin/busybox" % cid)
        self.assertEqual((status, tar_names(data)), (200, ["busybox"]))
        self.assertEqual(api("GET", "/containers/%s/archive?path=/d/up/%s" %
                             (cid, HOST_DIR.lstrip("/")))[0], 404)
        self.assertEqual(api("GET", "/containers/%s/archive?path=/nope" % cid)[0], 404)
        self.assertEqual(api("GET", "/containers/nope/archive?path=/" )[0], 404)

    def test_put_into_running_and_stopped_containers(self):
        cid = create(["sleep", "600"])
        # Created, never started: the rootfs is mounted for the copy.
        body = tar_of([("dir", None), ("dir/file", b"data"), ("dir/link", ("link", "file")),
                       ("owned", b"x", 1000)])
        self.assertEqual(api("PUT", "/containers/%s/archive?path=/tmp" % cid, body)[0], 200)
        with open("/proc/self/mountinfo") as f:
            self.assertNotIn(cid, f.read(), "the rootfs is unmounted after the copy")
        api("POST", "/containers/%s/start" % cid)
        out = api("POST", "/exec/%s/start" % api("POST", "/containers/%s/exec" % cid, {
            "Cmd": ["sh", "-c", "cat /tmp/dir/link; stat -c '%u %a' /tmp/dir/file /tmp/owned"],
            "AttachStdout": True})[1]["Id"], {"Detach": False})[1]
        text = out  # frames: their payloads are what matters here
        self.assertIn(b"data", text)
        self.assertIn(b"0 640", text, "the container's root owns what cp put there")
        # copyUIDGID keeps the tar's owner, as the container sees it.
        self.assertEqual(api("PUT", "/containers/%s/archive?path=/tmp&copyUIDGID=1" % cid,
                             tar_of([("kept", b"k", 1000)]))[0], 200)
        st = path_stat(cid, "/tmp/kept")
        self.assertEqual(st["size"], 1)
        rootfs = os.path.join(DAEMON.dir, "root", "containers", cid, "rw", "upper", "tmp")
        base = os.stat(os.path.join(rootfs, "owned")).st_uid
        self.assertGreaterEqual(base, 1000000000, "stored as the container's root on disk")
        self.assertEqual(os.stat(os.path.join(rootfs, "kept")).st_uid, base + 1000)
        # Stopped: still reachable.
        api("POST", "/containers/%s/kill" % cid)
        api("POST", "/containers/%s/wait" % cid)
        status, data = api("GET", "/containers/%s/archive?path=/tmp/dir/file" % cid)
        self.assertEqual((status, tar_names(data)), (200, ["file"]))

    def test_paths_in_volumes_reach_the_volume(self):
        cid = create(["sleep", "600"], HostConfig={"Binds": ["cpvol:/data"]})
        api("POST", "/containers/%s/start" % cid)
        self.assertEqual(api("PUT", "/containers/%s/archive?path=/data" % cid,
                             tar_of([("in-volume", b"v")]))[0], 200)
        data = os.path.join(DAEMON.dir, "root", "volumes", "cpvol", "_data")
        st = os.stat(os.path.join(data, "in-volume"))
        self.assertEqual(st.st_uid, 0, "a volume's data is stored unshifted")
        self.assertEqual(path_stat(cid, "/data")["name"], "data")
        status, body = api("GET", "/containers/%s/archive?path=/data/in-volume" % cid)
        self.assertEqual((status, tar_names(body)), (200, ["in-volume"]))
        api("DELETE", "/containers/%s?force=1&v=1" % cid)
        api("DELETE", "/volumes/cpvol")

    def test_put_refuses_escapes_and_writes_nothing(self):
        cid = create(["sleep", "600"])
        api("POST", "/containers/%s/start" % cid)
        for entries in ([("fine", b"1"), ("../../../../escape", b"x")],
                        [("fine", b"1"), ("a/../../escape", b"x")]):
            status, out = api("PUT", "/containers/%s/archive?path=/tmp" % cid, tar_of(entries))
            self.assertEqual(status, 400, out)
            self.assertIn("outside", out["message"])
        self.assertEqual(path_stat(cid, "/tmp/fine"), 404, "nothing of a refused tar is written")
        self.assertFalse(os.path.exists("/escape"))
        # A link in the container pointing at the host's directory stays inside the container.
        r = api("POST", "/exec/%s/start" % api("POST", "/containers/%s/exec" % cid, {
            "Cmd": ["sh", "-c", "mkdir -p /inside%s && ln -s /inside%s /tmp/out && "
                    "ln -s ../../../../../..%s /tmp/up" % (HOST_DIR, HOST_DIR, HOST_DIR)],
            "AttachStdout": True})[1]["Id"], {"Detach": False})
        self.assertEqual(r[0], 200)
        for target in ("/tmp/up", "/tmp/out"):
            status, _ = api("PUT", "/containers/%s/archive?path=%s" % (cid, target),
                            tar_of([("planted", b"x")]))
            self.assertIn(status, (200, 404), target)
        self.assertEqual(os.listdir(HOST_DIR), [], "nothing landed on the host")
        self.assertEqual(api("PUT", "/containers/%s/archive?path=/nope" % cid,
                             tar_of([("f", b"x")]))[0], 404)
        self.assertEqual(api("PUT", "/containers/%s/archive?path=/bin/busybox" % cid,
                             tar_of([("f", b"x")]))[0], 400)
        self.assertEqual(api("PUT", "/containers/%s/archive?path=/tmp" % cid, b"not a tar")[0],
                         400)
        # noOverwriteDirNonDir: a file may not replace a directory.
        status, out = api("PUT", "/containers/%s/archive?path=/&noOverwriteDirNonDir=true" % cid,
                          tar_of([("tmp", b"x")]))
        self.assertEqual(status, 400, out)


if __name__ == "__main__":
    unittest.main()

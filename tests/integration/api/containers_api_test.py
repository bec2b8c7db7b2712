#!/usr/bin/env python3
"""berthd's container endpoints on the wire: raw HTTP over its unix socket, byte for byte as
engine-api.md records Docker's answers (attach hijack and frames, wait before start, AutoRemove,
304s, signal names, logs), the bad-input rules (clear errors with Docker's status codes,
nothing half-created), a client hanging up in the middle of attach, and 50 concurrent
`run --rm`s with nothing lost or leaked (no container, shim, mount or cgroup left).

Environment: BERTHD, BERTH_BUSYBOX_IMAGE. Needs root. berthd runs on a temp dir and is
stopped by pid; the test fails if it leaves a mount, a shim or a cgroup behind.
"""

import io
import json
import os
import socket
import struct
import tarfile
import sys
import threading
import time
import unittest
from urllib.parse import quote

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "compat"))
from berthd_fixture import Berthd  # noqa: E402

BERTHD = os.environ.get("BERTHD", "")
IMAGE = os.environ.get("BERTH_BUSYBOX_IMAGE", "")


class Conn:
    """One HTTP/1.1 connection to berthd, kept alive like the docker CLI's."""

    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(60)
        self.s.connect(DAEMON.sock)
        self.buf = b""

    def close(self):
        self.s.close()

    def send(self, method, path, body=None, headers=None):
        data = b"" if body is None else (body if isinstance(body, bytes)
                                         else json.dumps(body).encode())
        head = "%s /v1.41%s HTTP/1.1\r\nHost: docker\r\nContent-Length: %d\r\n" % (
            method, path, len(data))
        if body is not None:
            head += "Content-Type: application/json\r\n"
        for k, v in (headers or {}).items():
            head += "%s: %s\r\n" % (k, v)
        self.s.sendall(head.encode() + b"\r\n" + data)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self):
        status = int(self._line().split()[1])
        headers = {}
        while True:
            line = self._line()
            if not line:
                return status, headers
            k, v = line.decode().split(":", 1)
            headers[k.strip().lower()] = v.strip()

    def body(self, headers):
        if headers.get("transfer-encoding") == "chunked":
            out = b""
            while True:
                n = int(self._line(), 16)
                if n == 0:
                    self._line()
                    return out
                out += self._exact(n)
                self._line()
        return self._exact(int(headers.get("content-length", "0")))

    def request(self, method, path, body=None):
        self.send(method, path, body)
        status, headers = self.head()
        data = self.body(headers)
        is_json = headers.get("content-type", "").startswith("application/json")
        if is_json and data.count(b"\n") > 1:
            return status, data  # a stream of JSON lines (events)
        return status, (json.loads(data) if data.strip() and is_json else data)

    def read_to_eof(self):
        out = self.buf
        self.buf = b""
        while True:
            chunk = self.s.recv(65536)
            if not chunk:
                return out
            out += chunk


def api(method, path, body=None):
    c = Conn()
    try:
        return c.request(method, path, body)
    finally:
        c.close()


def create(cmd, name=None, **config):
    body = {"Image": "busybox", "Cmd": cmd, "HostConfig": {"NetworkMode": "none"}}
    host = config.pop("HostConfig", {})
    body["HostConfig"].update(host)
    body.update(config)
    status, out = api("POST", "/containers/create" + ("?name=" + name if name else ""), body)
    assert status == 201, (status, out)
    return out["Id"]


def frames(data):
    out = []
    while data:
        stream, n = data[0], struct.unpack(">I", data[4:8])[0]
        out.append((stream, data[8:8 + n]))
        data = data[8 + n:]
    return out


def attach(cid, query="stream=1&stdout=1&stderr=1"):
    c = Conn()
    c.send("POST", "/containers/%s/attach?%s" % (cid, query),
           headers={"Connection": "Upgrade", "Upgrade": "tcp"})
    return c


def run_rm(cmd, **config):
    """The 20.10 CLI's `run --rm`: create, attach, wait(removed), start; output + status."""
    host = dict(config.pop("HostConfig", {}), AutoRemove=True)
    cid = create(cmd, HostConfig=host, **config)
    a = attach(cid)
    assert a.head()[0] == 101
    a.s.shutdown(socket.SHUT_WR)
    w = Conn()
    w.send("POST", "/containers/%s/wait?condition=removed" % cid)
    status, headers = w.head()
    assert status == 200
    s, out = api("POST", "/containers/%s/start" % cid)
    raw = a.read_to_eof()
    a.close()
    result = json.loads(w.body(headers))
    w.close()
    return s, raw, result


def leftovers():
    """Shims, mounts and cgroups of this berthd that still exist."""
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
        left += ["mount " + line.split()[4] for line in f if DAEMON.dir in line.split()[4]]
    ids = os.listdir(os.path.join(DAEMON.dir, "root", "containers"))
    for hierarchy in os.listdir("/sys/fs/cgroup"):
        for cid in ids:
            if os.path.isdir("/sys/fs/cgroup/%s/berth-%s" % (hierarchy, cid)):
                left.append("cgroup %s/berth-%s" % (hierarchy, cid))
    return left


def setUpModule():
    global DAEMON
    if os.geteuid() != 0 or not (BERTHD and IMAGE):
        raise unittest.SkipTest("needs root and BERTHD, BERTH_BUSYBOX_IMAGE")
    DAEMON = Berthd(BERTHD, "berth-api-ctr.")
    with open(IMAGE, "rb") as f:
        status, _ = api("POST", "/images/load?quiet=1", f.read())
    assert status == 200


def diagnose():
    """What a stuck container's shim is doing, for the failure report."""
    out = []
    root = os.path.join(DAEMON.dir, "root", "containers")
    for cid in os.listdir(root):
        log = os.path.join(root, cid, "shim.log")
        if os.path.exists(log):
            with open(log) as f:
                out.append("%s shim.log:\n%s" % (cid[:12], f.read()[-2000:]))
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
            if b"berth-shim" in cmd and DAEMON.dir.encode() in cmd:
                with open("/proc/%s/wchan" % pid) as f:
                    out.append("shim %s waits in %s" % (pid, f.read()))
        except OSError:
            continue
    return "\n".join(out)


def tearDownModule():
    if "DAEMON" not in globals():
        return
    report = diagnose()
    _, listed = api("GET", "/containers/json?all=1")
    for c in listed:
        api("DELETE", "/containers/%s?force=1" % c["Id"])
    left = leftovers()
    status, log = DAEMON.stop()
    if status != 0 or left or listed:
        raise AssertionError("berthd exited with %d on SIGTERM; left behind: %s; containers: "
                             "%s\n%s\nberthd log:\n%s" % (status, left, listed, report,
                                                         log[-4000:]))


class RunTest(unittest.TestCase):
    def test_attach_is_hijacked_and_framed(self):
        cid = create(["sh", "-c", "echo hi; echo err >&2"],
                     HostConfig={"AutoRemove": True})
        a = attach(cid)
        a.s.shutdown(socket.SHUT_WR)  # no stdin: must not end the output
        raw = a._exact(len(b"HTTP/1.1 101 UPGRADED\r\n"))
        self.assertEqual(raw, b"HTTP/1.1 101 UPGRADED\r\n")
        status, headers = 101, {}
        while True:
            line = a._line()
            if not line:
                break
            k, v = line.decode().split(":", 1)
            headers[k.lower()] = v.strip()
        self.assertEqual(headers, {"content-type": "application/vnd.docker.raw-stream",
                                   "connection": "Upgrade", "upgrade": "tcp"})
        w = Conn()
        w.send("POST", "/containers/%s/wait?condition=removed" % cid)
        self.assertEqual(w.head()[0], 200)  # the headers come before start
        self.assertEqual(api("POST", "/containers/%s/start" % cid)[0], 204)
        out = frames(a.read_to_eof())
        self.assertEqual(sorted(out), [(1, b"hi\n"), (2, b"err\n")])
        self.assertEqual(w.body({"transfer-encoding": "chunked"}),
                         b'{"Error":null,"StatusCode":0}\n')
        a.close()
        w.close()
        self.assertEqual(api("GET", "/containers/%s/json" % cid)[0], 404)

    def test_exit_codes_and_start_failure(self):
        self.assertEqual(run_rm(["sh", "-c", "exit 3"])[2]["StatusCode"], 3)
        status, _, result = run_rm(["/nonexistent"])
        self.assertEqual(status, 400)
        self.assertEqual(result["StatusCode"], 127)

    def test_stdin_before_start(self):
        cid = create(["cat"], AttachStdin=True, OpenStdin=True, StdinOnce=True,
                     HostConfig={"AutoRemove": True})
        a = attach(cid, "stream=1&stdin=1&stdout=1&stderr=1")
        self.assertEqual(a.head()[0], 101)
        a.s.sendall(b"piped input\n")
        a.s.shutdown(socket.SHUT_WR)
        self.assertEqual(api("POST", "/containers/%s/start" % cid)[0], 204)
        self.assertEqual(frames(a.read_to_eof()), [(1, b"piped input\n")])
        a.close()
        self.assertEqual(api("POST", "/containers/%s/wait?condition=removed" % cid)[1],
                         {"Error": None, "StatusCode": 0})

    def test_lifecycle_codes(self):
        cid = create(["sleep", "60"], name="lifecycle")
        self.assertEqual(api("POST", "/containers/lifecycle/wait?condition=not-running")[1],
                         {"Error": None, "StatusCode": 0})
        self.assertEqual(api("POST", "/containers/%s/start" % cid[:12])[0], 204)
        self.assertEqual(api("POST", "/containers/%s/start" % cid)[0], 304)
        for sig in ("WINCH", "SIGWINCH", "28"):
            self.assertEqual(api("POST", "/containers/%s/kill?signal=%s" % (cid, sig))[0], 204)
        self.assertEqual(api("POST", "/containers/%s/kill?signal=NOPE" % cid)[0], 400)
        self.assertEqual(api("DELETE", "/containers/%s" % cid)[0], 409)
        self.assertEqual(api("POST", "/containers/%s/pause" % cid)[0], 204)
        self.assertEqual(api("GET", "/containers/%s/json" % cid)[1]["State"]["Status"],
                         "paused")
        self.assertEqual(api("POST", "/containers/%s/unpause" % cid)[0], 204)
        self.assertEqual(api("POST", "/containers/%s/stop?t=1" % cid)[0], 204)
        self.assertEqual(api("POST", "/containers/%s/stop" % cid)[0], 304)
        state = api("GET", "/containers/%s/json" % cid)[1]["State"]
        self.assertEqual((state["Status"], state["ExitCode"]), ("exited", 137))
        self.assertEqual(api("POST", "/containers/%s/rename?name=renamed" % cid)[0], 204)
        self.assertEqual(api("GET", "/containers/renamed/json")[1]["Name"], "/renamed")
        self.assertEqual(api("DELETE", "/containers/renamed")[0], 204)
        self.assertEqual(api("DELETE", "/containers/renamed")[0], 404)

    def test_logs_framed_with_timestamps_and_tail(self):
        # (stdout and stderr are two pipes: only time orders lines across them)
        cid = create(["sh", "-c", "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three"])
        api("POST", "/containers/%s/start" % cid)
        api("POST", "/containers/%s/wait" % cid)
        status, data = api("GET", "/containers/%s/logs?stdout=1&stderr=1&tail=2&timestamps=1"
                           % cid)
        self.assertEqual(status, 200)
        out = frames(data)
        self.assertEqual([s for s, _ in out], [2, 1])
        self.assertRegex(out[1][1].decode(),
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n$")
        api("DELETE", "/containers/%s" % cid)

    def test_attach_logs_replays_the_log(self):
        cid = create(["sh", "-c", "echo one; echo two >&2"])
        api("POST", "/containers/%s/start" % cid)
        api("POST", "/containers/%s/wait" % cid)
        a = attach(cid, "logs=1&stream=0&stdout=1&stderr=1")
        self.assertEqual(a.head()[0], 101)
        self.assertEqual(sorted(frames(a.read_to_eof())), [(1, b"one\n"), (2, b"two\n")])
        a.close()
        # stream=1 on a stopped container: Docker's 409, before any hijack.
        self.assertEqual(api("POST", "/containers/%s/attach?stream=1&stdout=1" % cid)[0], 409)
        api("DELETE", "/containers/%s" % cid)

    def test_exec_tty_resize_before_it_runs(self):
        cid = create(["sleep", "60"])
        api("POST", "/containers/%s/start" % cid)
        _, out = api("POST", "/containers/%s/exec" % cid,
                     {"AttachStdout": True, "Tty": True, "Cmd": ["sh", "-c", "sleep 0.3; stty size"]})
        x = Conn()
        x.send("POST", "/exec/%s/start" % out["Id"], {"Detach": False, "Tty": True},
               headers={"Connection": "Upgrade", "Upgrade": "tcp"})
        self.assertEqual(x.head()[0], 101)
        self.assertEqual(api("POST", "/exec/%s/resize?h=33&w=111" % out["Id"])[0], 200)
        self.assertEqual(x.read_to_eof(), b"33 111\r\n")
        x.close()
        api("DELETE", "/containers/%s?force=1" % cid)

    def test_exec(self):
        cid = create(["sleep", "60"])
        api("POST", "/containers/%s/start" % cid)
        status, out = api("POST", "/containers/%s/exec" % cid,
                          {"AttachStdout": True, "AttachStderr": True, "Tty": False,
                           "Env": ["FOO=bar"], "WorkingDir": "/tmp",
                           "Cmd": ["sh", "-c", "echo $FOO $(pwd); exit 5"]})
        self.assertEqual(status, 201)
        x = Conn()
        x.send("POST", "/exec/%s/start" % out["Id"], {"Detach": False, "Tty": False},
               headers={"Connection": "Upgrade", "Upgrade": "tcp"})
        self.assertEqual(x.head()[0], 101)
        self.assertEqual(frames(x.read_to_eof()), [(1, b"bar /tmp\n")])
        x.close()
        info = api("GET", "/exec/%s/json" % out["Id"])[1]
        self.assertEqual((info["ExitCode"], info["Running"]), (5, False))
        # exec -d: answered at once, the exit code arrives later.
        _, out = api("POST", "/containers/%s/exec" % cid, {"Cmd": ["sh", "-c", "exit 6"]})
        self.assertEqual(api("POST", "/exec/%s/start" % out["Id"], {"Detach": True})[0], 200)
        deadline = time.time() + 10
        while api("GET", "/exec/%s/json" % out["Id"])[1]["Running"]:
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)
        self.assertEqual(api("GET", "/exec/%s/json" % out["Id"])[1]["ExitCode"], 6)
        self.assertEqual(api("POST", "/containers/%s/exec" % cid, {"Cmd": []})[0], 400)
        self.assertEqual(api("GET", "/exec/nope/json")[0], 404)
        api("DELETE", "/containers/%s?force=1" % cid)


def run_output(cmd, **config):
    """run --rm, returning (status code, stdout) of a container made with `config`."""
    status, raw, result = run_rm(cmd, **config)
    assert status == 204, (status, raw)
    return result["StatusCode"], b"".join(p for s, p in frames(raw) if s == 1).decode()


class OptionsTest(unittest.TestCase):
    """Create options take effect inside the container (and show in inspect)."""

    def test_limits_user_tmpfs_readonly_init(self):
        code, out = run_output(
            ["sh", "-c", "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max "
             "2>/dev/null; id -u; id -g; mount | grep ' /run '; touch /x || echo ro; "
             "cat /proc/1/cmdline | tr '\\0' ' '"],
            User="1234:5678",
            HostConfig={"PidsLimit": 77, "Tmpfs": {"/run": "size=1m"}, "ReadonlyRootfs": True,
                        "Init": True})
        lines = out.splitlines()
        self.assertEqual(code, 0, out)
        self.assertEqual(lines[0], "77")
        self.assertEqual(lines[1:3], ["1234", "5678"])
        self.assertIn("tmpfs on /run type tmpfs", lines[3])
        self.assertIn("ro", lines[4:])
        self.assertTrue(lines[-1].startswith("/sbin/docker-init -- sh"), lines[-1])

    def test_security_and_namespace_options(self):
        script = ("grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; ulimit -n; "
                  "cat /proc/self/uid_map; hostname; ls -l /dev/mynull; "
                  "cat /proc/sys/net/ipv4/ip_unprivileged_port_start")
        code, out = run_output(
            ["sh", "-c", script],
            HostConfig={"CapAdd": ["NET_RAW"], "CapDrop": ["CHOWN"],
                        "SecurityOpt": ["seccomp=unconfined"],
                        "Ulimits": [{"Name": "nofile", "Soft": 321, "Hard": 654}],
                        "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull",
                                     "CgroupPermissions": "rwm"}],
                        "Sysctls": {"net.ipv4.ip_unprivileged_port_start": "99"}})
        self.assertEqual(code, 0, out)
        fields = dict(line.split(":\t") for line in out.splitlines()[:3])
        caps = int(fields["CapEff"], 16)
        self.assertTrue(caps & (1 << 13), "NET_RAW added")
        self.assertFalse(caps & (1 << 0), "CHOWN dropped")
        self.assertEqual((fields["NoNewPrivs"], fields["Seccomp"]), ("1", "0"))
        lines = out.splitlines()
        self.assertEqual(lines[3], "321")
        self.assertNotEqual(lines[4].split()[1], "0")
        self.assertIn("/dev/mynull", lines[6])
        self.assertEqual(lines[7], "99")
        # --userns=host: no user namespace; --uts=host: the host's name.
        code, out = run_output(["sh", "-c", "cat /proc/self/uid_map; hostname"],
                               HostConfig={"UsernsMode": "host", "UTSMode": "host"})
        self.assertEqual(out.split()[:3], ["0", "0", "4294967295"])
        self.assertEqual(out.split()[3], socket.gethostname())

    def test_missing_working_dir_is_made_owned_by_the_containers_root(self):
        # As Docker: `run -w /new/dir` makes it (0755, the container's root), also as a user.
        code, out = run_output(["sh", "-c", "pwd; stat -c '%a %u %g' /srv/new /srv/new/dir"],
                               WorkingDir="/srv/new/dir", User="1234")
        self.assertEqual((code, out), (0, "/srv/new/dir\n755 0 0\n755 0 0\n"))

    def test_privileged_keeps_the_user_namespace_and_is_marked(self):
        cid = create(["sleep", "30"], HostConfig={"Privileged": True})
        api("POST", "/containers/%s/start" % cid)
        info = api("GET", "/containers/%s/json" % cid)[1]
        self.assertTrue(info["HostConfig"]["Privileged"])
        listed = [c for c in api("GET", "/containers/json")[1] if c["Id"] == cid]
        self.assertTrue(listed[0]["HostConfig"]["Privileged"])
        with open("/proc/%d/uid_map" % info["State"]["Pid"]) as f:
            self.assertNotEqual(f.read().split()[1], "0")  # container root is not host root
        api("DELETE", "/containers/%s?force=1" % cid)

    def test_each_container_gets_its_own_id_range(self):
        a, b = create(["sleep", "30"]), create(["sleep", "30"])
        maps = []
        for cid in (a, b):
            api("POST", "/containers/%s/start" % cid)
            pid = api("GET", "/containers/%s/json" % cid)[1]["State"]["Pid"]
            with open("/proc/%d/uid_map" % pid) as f:
                maps.append(f.read().split()[1])
            api("DELETE", "/containers/%s?force=1" % cid)
        self.assertNotEqual(maps[0], maps[1])


class ManageTest(unittest.TestCase):
    def test_update_top_list_filters_prune_events(self):
        since = time.time()
        cid = create(["sleep", "30"], name="managed", Labels={"tier": "web"})
        api("POST", "/containers/%s/start" % cid)
        status, out = api("POST", "/containers/%s/update" % cid, {"PidsLimit": 55})
        self.assertEqual((status, out), (200, {"Warnings": []}))
        self.assertEqual(api("GET", "/containers/%s/json" % cid)[1]["HostConfig"]["PidsLimit"], 55)
        top = api("GET", "/containers/%s/top" % cid)[1]
        self.assertIn("PID", top["Titles"])
        self.assertEqual([p[-1] for p in top["Processes"]], ["sleep 30"])
        def names(filters, all_=True):
            q = "/containers/json?all=%d&filters=%s" % (all_, quote(json.dumps(filters)))
            return [c["Names"][0] for c in api("GET", q)[1]]
        self.assertEqual(names({"label": ["tier=web"]}), ["/managed"])
        self.assertEqual(names({"status": ["running"], "name": ["^/managed$"]}), ["/managed"])
        self.assertEqual(names({"status": ["exited"], "name": ["managed"]}), [])
        self.assertEqual(api("GET", "/containers/json?filters=" + quote('{"nope":["x"]}'))[0], 400)
        api("POST", "/containers/%s/kill" % cid)
        api("POST", "/containers/%s/wait" % cid)
        self.assertEqual(names({"exited": ["137"]}), ["/managed"])
        status, out = api("POST", "/containers/prune?filters=" +
                          quote(json.dumps({"label": ["tier=web"]})))
        self.assertEqual(out["ContainersDeleted"], [cid])
        self.assertEqual(api("GET", "/containers/%s/json" % cid)[0], 404)
        status, data = api("GET", "/events?since=%f&until=%f&filters=%s" % (
            since, time.time() + 0.5, quote(json.dumps({"container": [cid]}))))
        actions = [json.loads(line)["Action"] for line in data.decode().splitlines()]
        self.assertEqual(actions, ["create", "start", "update", "kill", "die", "destroy"])


class StatsTest(unittest.TestCase):
    ZERO = "0001-01-01T00:00:00Z"

    def test_stats_one_reading_one_shot_stream_and_stopped(self):
        cid = create(["sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; sleep 30"],
                     name="statsweb", HostConfig={"Memory": 64 << 20})
        self.addCleanup(api, "DELETE", "/containers/%s?force=1" % cid)
        self.assertEqual(api("POST", "/containers/%s/start" % cid)[0], 204)
        status, doc = api("GET", "/containers/statsweb/stats?stream=0")
        self.assertEqual(status, 200)
        self.assertEqual((doc["id"], doc["name"]), (cid, "/statsweb"))
        self.assertEqual(doc["memory_stats"]["limit"], 64 << 20)
        self.assertGreater(doc["memory_stats"]["usage"], 0)
        self.assertIn("stats", doc["memory_stats"])
        self.assertGreaterEqual(doc["pids_stats"]["current"], 1)
        self.assertEqual(doc["pids_stats"]["limit"], 4096)  # the default pids limit
        cpu, pre = doc["cpu_stats"], doc["precpu_stats"]
        self.assertGreater(cpu["cpu_usage"]["total_usage"], pre["cpu_usage"]["total_usage"])
        self.assertGreater(cpu["system_cpu_usage"], pre["system_cpu_usage"])
        self.assertEqual(cpu["online_cpus"], os.cpu_count())
        self.assertNotEqual(doc["preread"], self.ZERO)
        self.assertNotEqual(doc["read"], doc["preread"])
        self.assertNotIn("networks", doc)  # NetworkMode none: loopback only

        status, doc = api("GET", "/containers/%s/stats?stream=0&one-shot=1" % cid)
        self.assertEqual(doc["preread"], self.ZERO)
        self.assertEqual(doc["precpu_stats"]["cpu_usage"]["total_usage"], 0)
        self.assertGreater(doc["cpu_stats"]["cpu_usage"]["total_usage"], 0)

        # The stream: a document a second, each with the one before as precpu; it ends when
        # the client goes.
        c = Conn()
        c.send("GET", "/containers/%s/stats" % cid)
        status, headers = c.head()
        self.assertEqual((status, headers.get("transfer-encoding")), (200, "chunked"))
        docs = []
        for _ in range(2):
            docs.append(json.loads(c._exact(int(c._line(), 16))))
            c._line()
        c.close()
        self.assertEqual(docs[0]["preread"], self.ZERO)
        self.assertEqual(docs[1]["preread"], docs[0]["read"])
        self.assertEqual(docs[1]["precpu_stats"], docs[0]["cpu_stats"])

        api("POST", "/containers/%s/kill" % cid)
        api("POST", "/containers/%s/wait" % cid)
        status, doc = api("GET", "/containers/%s/stats?stream=0" % cid)
        self.assertEqual((status, doc["read"], doc["memory_stats"]), (200, self.ZERO, {}))
        self.assertEqual(doc["id"], cid)
        self.assertEqual(api("GET", "/containers/nosuchstats/stats?stream=0")[0], 404)

    def test_stream_follows_a_stop_and_a_restart(self):
        # A stream holds the container's files open for its run: stopped, it sends the zero
        # document; started again, it reads the new run's cgroup, not the old one's files.
        cid = create(["sleep", "30"], name="statsrestart")
        self.addCleanup(api, "DELETE", "/containers/%s?force=1" % cid)
        self.assertEqual(api("POST", "/containers/%s/start" % cid)[0], 204)
        c = Conn()
        self.addCleanup(c.close)
        c.send("GET", "/containers/%s/stats" % cid)
        self.assertEqual(c.head()[0], 200)

        def next_doc():
            doc = json.loads(c._exact(int(c._line(), 16)))
            c._line()
            return doc

        first = next_doc()
        self.assertNotEqual(first["read"], self.ZERO)
        self.assertGreaterEqual(first["pids_stats"]["current"], 1)
        api("POST", "/containers/%s/kill" % cid)
        api("POST", "/containers/%s/wait" % cid)
        for _ in range(10):
            doc = next_doc()
            if doc["read"] == self.ZERO:
                break
        self.assertEqual((doc["read"], doc["memory_stats"], doc["pids_stats"]),
                         (self.ZERO, {}, {}))
        self.assertEqual(doc["id"], cid)

        self.assertEqual(api("POST", "/containers/%s/start" % cid)[0], 204)
        for _ in range(10):
            doc = next_doc()
            if doc["read"] != self.ZERO:
                break
        self.assertNotEqual(doc["read"], self.ZERO)
        self.assertGreaterEqual(doc["pids_stats"]["current"], 1)
        self.assertGreater(doc["memory_stats"]["usage"], 0)
        doc = next_doc()  # a reading of the new run with the one before as precpu
        self.assertNotEqual(doc["preread"], self.ZERO)
        self.assertGreaterEqual(doc["cpu_stats"]["cpu_usage"]["total_usage"],
                                doc["precpu_stats"]["cpu_usage"]["total_usage"])
        self.assertGreaterEqual(doc["pids_stats"]["current"], 1)


class FilesystemTest(unittest.TestCase):
    def test_changes_commit_export(self):
        # /data/f appears last (renamed into place), so once it shows every change is there.
        cid = create(["sh", "-c", "rm /bin/vi && echo x >> /etc/passwd && mkdir /data && "
                      "echo hello > /data/t && chown 1234:1234 /data/t && mv /data/t /data/f && "
                      "sleep 30"],
                     name="fsweb")
        self.addCleanup(api, "DELETE", "/containers/%s?force=1" % cid)
        # Never started: nothing changed (Docker answers null).
        self.assertEqual(api("GET", "/containers/%s/changes" % cid), (200, None))
        api("POST", "/containers/%s/start" % cid)
        deadline = time.time() + 10
        while True:
            status, changes = api("GET", "/containers/%s/changes" % cid)
            if changes and {"Path": "/data/f", "Kind": 1} in changes:
                break
            self.assertLess(time.time(), deadline, changes)
            time.sleep(0.05)
        self.assertEqual(changes, [{"Path": "/bin", "Kind": 0}, {"Path": "/bin/vi", "Kind": 2},
                                   {"Path": "/data", "Kind": 1}, {"Path": "/data/f", "Kind": 1},
                                   {"Path": "/etc", "Kind": 0}, {"Path": "/etc/passwd", "Kind": 0}])

        # Export: the whole filesystem, owners as the container sees them (not its host range).
        status, data = api("GET", "/containers/%s/export" % cid)
        self.assertEqual(status, 200)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            names = tar.getnames()
            self.assertIn("bin/sh", names)
            self.assertNotIn("bin/vi", names)
            f = tar.getmember("data/f")
            self.assertEqual((f.uid, f.gid), (1234, 1234))
            self.assertEqual(tar.extractfile(f).read(), b"hello\n")

        # Commit: a new image with the changes, its config from the container's and --change.
        query = "container=fsweb&repo=committed/fs&tag=v1&comment=msg&author=me&changes=" + \
            quote('CMD ["cat", "/data/f"]') + "&changes=" + quote("ENV FOO=bar")
        status, out = api("POST", "/commit?" + query, {"Labels": {"k": "v"}})
        self.assertEqual(status, 201, out)
        image_id = out["Id"]
        self.addCleanup(api, "DELETE", "/images/%s?force=1" % image_id)
        status, img = api("GET", "/images/committed/fs:v1/json")
        self.assertEqual(img["Id"], image_id)
        self.assertEqual((img["Author"], img["Comment"]), ("me", "msg"))
        self.assertEqual(img["Config"]["Cmd"], ["cat", "/data/f"])
        self.assertIn("FOO=bar", img["Config"]["Env"])
        self.assertEqual(img["Config"]["Labels"], {"k": "v"})
        parent = api("GET", "/images/busybox/json")[1]
        self.assertEqual(len(img["RootFS"]["Layers"]), len(parent["RootFS"]["Layers"]) + 1)
        history = api("GET", "/images/%s/history" % image_id)[1]
        self.assertEqual(history[0]["Comment"], "msg")
        self.assertTrue(history[0]["CreatedBy"].startswith("sh -c rm /bin/vi"), history[0])
        # The container kept running (paused and thawed), and the image runs the changes.
        self.assertTrue(api("GET", "/containers/%s/json" % cid)[1]["State"]["Running"])
        self.assertEqual(run_output(None, Image="committed/fs:v1"), (0, "hello\n"))
        out = run_output(["sh", "-c", "stat -c %u /data/f; test -e /bin/vi || echo gone"],
                         Image="committed/fs:v1")
        self.assertEqual(out, (0, "1234\ngone\n"))

        # A stopped container exports from its mounted-for-the-while rootfs, and nothing stays
        # mounted.
        api("POST", "/containers/%s/kill" % cid)
        api("POST", "/containers/%s/wait" % cid)
        status, data = api("GET", "/containers/%s/export" % cid)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            self.assertEqual(tar.extractfile("data/f").read(), b"hello\n")
        with open("/proc/self/mountinfo") as mounts:
            self.assertNotIn(cid, mounts.read())
        self.assertEqual(api("GET", "/containers/nosuchfs/changes")[0], 404)
        self.assertEqual(api("GET", "/containers/nosuchfs/export")[0], 404)
        self.assertEqual(api("POST", "/commit?container=nosuchfs")[0], 404)


class HealthTest(unittest.TestCase):
    def health(self, cid):
        return api("GET", "/containers/%s/json" % cid)[1]["State"].get("Health") or {}

    def wait_health(self, cid, status):
        deadline = time.time() + 15
        while self.health(cid).get("Status") != status:
            self.assertLess(time.time(), deadline, self.health(cid))
            time.sleep(0.05)
        return self.health(cid)

    def test_probes_status_events_and_timeout(self):
        since = time.time()
        cid = create(["sleep", "60"], name="healthy1", Healthcheck={
            "Test": ["CMD-SHELL", "test -e /tmp/ok && echo fine"],
            "Interval": 100_000_000, "Timeout": 5_000_000_000, "Retries": 2})
        self.addCleanup(api, "DELETE", "/containers/%s?force=1" % cid)
        api("POST", "/containers/%s/start" % cid)
        self.assertEqual(self.health(cid)["Status"], "starting")
        h = self.wait_health(cid, "unhealthy")
        self.assertGreaterEqual(h["FailingStreak"], 2)
        self.assertEqual(h["Log"][-1]["ExitCode"], 1)
        status, out = api("GET", "/containers/json?filters=" + quote('{"health":["unhealthy"]}'))
        self.assertEqual([c["Id"] for c in out], [cid])
        self.assertIn("(unhealthy)", out[0]["Status"])
        x = api("POST", "/containers/%s/exec" % cid, {"Cmd": ["touch", "/tmp/ok"]})[1]["Id"]
        api("POST", "/exec/%s/start" % x, {"Detach": True})
        h = self.wait_health(cid, "healthy")
        self.assertEqual((h["FailingStreak"], h["Log"][-1]["Output"]), (0, "fine\n"))
        self.assertLessEqual(len(h["Log"]), 5)
        # Probes are execs only for the while.
        self.assertLessEqual(len(api("GET", "/containers/%s/json" % cid)[1]["ExecIDs"] or []), 1)
        status, data = api("GET", "/events?since=%f&until=%f&filters=%s" % (
            since, time.time() + 0.2, quote(json.dumps({"container": [cid]}))))
        actions = [json.loads(line)["Action"] for line in data.decode().splitlines()]
        self.assertIn("health_status: unhealthy", actions)
        self.assertIn("health_status: healthy", actions)
        self.assertLess(actions.index("health_status: unhealthy"),
                        actions.index("health_status: healthy"))

        # A probe over its timeout is killed and recorded as -1.
        slow = create(["sleep", "60"], name="slowprobe", Healthcheck={
            "Test": ["CMD", "sleep", "30"], "Interval": 100_000_000,
            "Timeout": 300_000_000, "Retries": 1})
        self.addCleanup(api, "DELETE", "/containers/%s?force=1" % slow)
        api("POST", "/containers/%s/start" % slow)
        h = self.wait_health(slow, "unhealthy")
        self.assertEqual(h["Log"][-1]["ExitCode"], -1)
        self.assertEqual(h["Log"][-1]["Output"], "Health check exceeded timeout (300ms)")
        top = api("GET", "/containers/%s/top" % slow)[1]
        self.assertLessEqual(sum(1 for p in top["Processes"] if "sleep 30" in p[-1]), 1)

        # NONE turns an image's check off; a stopped container keeps its last state.
        none = create(["true"], name="nocheck", Healthcheck={"Test": ["NONE"]})
        self.addCleanup(api, "DELETE", "/containers/%s?force=1" % none)
        api("POST", "/containers/%s/start" % none)
        api("POST", "/containers/%s/wait" % none)
        self.assertEqual(self.health(none), {})
        api("POST", "/containers/%s/kill" % cid)
        api("POST", "/containers/%s/wait" % cid)
        self.assertEqual(self.health(cid)["Status"], "healthy")


class BadInputTest(unittest.TestCase):
    def assert_refused(self, body, status, text, query=""):
        before = sorted(os.listdir(os.path.join(DAEMON.dir, "root", "containers")))
        got, out = api("POST", "/containers/create" + query, body)
        self.assertEqual(got, status, out)
        self.assertIn(text, out["message"])
        after = sorted(os.listdir(os.path.join(DAEMON.dir, "root", "containers")))
        self.assertEqual(before, after, "a refused create left a container directory")

    def test_refusals(self):
        base = {"Image": "busybox", "Cmd": ["true"]}
        self.assert_refused(b"{not json", 400, "")
        self.assert_refused(dict(base, Image="nosuch:1"), 404, "No such image: nosuch:1")
        self.assert_refused(dict(base, HostConfig={"Binds": ["relative:/x:rw:zz:qq"]}), 400,
                            "HostConfig.Binds")
        self.assert_refused(dict(base, HostConfig={"Memory": 1}), 400, "HostConfig.Memory")
        self.assert_refused(dict(base, HostConfig={"CapAdd": ["CAP_FOO"]}), 400,
                            "unknown capability")
        self.assert_refused(dict(base), 400, "Invalid container name", "?name=a/b")
        create(["true"], name="taken")
        self.assert_refused(dict(base), 409, 'The container name "/taken" is already in use',
                            "?name=taken")
        api("DELETE", "/containers/taken")

    def test_client_hangs_up_mid_attach(self):
        cid = create(["sh", "-c", "while true; do echo spam; done"])
        a = attach(cid)
        self.assertEqual(a.head()[0], 101)
        api("POST", "/containers/%s/start" % cid)
        a._exact(1000)
        a.close()
        time.sleep(0.3)
        state = api("GET", "/containers/%s/json" % cid)[1]["State"]
        self.assertTrue(state["Running"])
        self.assertEqual(api("DELETE", "/containers/%s?force=1" % cid)[0], 204)

    def test_client_hangs_up_mid_archive(self):
        # A `docker cp` out of a container stopped early: berthd's tar writer is left with a
        # client that is gone (it once wrote its error into freed memory and crashed).
        cid = create(["true"])
        big = io.BytesIO()
        with tarfile.open(fileobj=big, mode="w") as tar:
            info = tarfile.TarInfo("big")
            info.size = 16 << 20
            tar.addfile(info, io.BytesIO(bytes(info.size)))
        self.assertEqual(api("PUT", "/containers/%s/archive?path=/" % cid, big.getvalue())[0],
                         200)
        for _ in range(5):
            c = Conn()
            c.send("GET", "/containers/%s/archive?path=/big" % cid)
            self.assertEqual(c.head()[0], 200)
            c._exact(1000)
            c.close()
        time.sleep(0.3)
        status, data = api("GET", "/containers/%s/archive?path=/big" % cid)
        self.assertEqual(status, 200)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            self.assertEqual(tar.getmember("big").size, 16 << 20)
        self.assertEqual(api("DELETE", "/containers/%s" % cid)[0], 204)


class ConcurrencyTest(unittest.TestCase):
    def test_50_concurrent_run_rm(self):
        results = {}

        def one(i):
            try:
                results[i] = run_rm(["echo", str(i)])
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = e

        threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for i in range(50):
            self.assertNotIsInstance(results.get(i), Exception, results.get(i))
            status, raw, result = results[i]
            self.assertEqual((status, frames(raw), result["StatusCode"]),
                             (204, [(1, b"%d\n" % i)], 0))
        self.assertEqual(api("GET", "/containers/json?all=1")[1], [])
        self.assertEqual(leftovers(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/env python3
"""Volumes and restart policies in berthd under the tools Docker users have: the unchanged
docker CLIs (Debian's 20.10 and the 28.2 client) and docker-py (5.0.3 and 7.1.0).

docker volume create/ls/inspect/rm (labels, options, filters, --format, in use), `docker run
-v vol:/data` (data kept across containers), `--mount` of a tmpfs, `docker run --restart
always` coming back after its process is killed, `docker cp` both ways (running and stopped),
volumes and a restart policy through docker-py, and a compose 1.29 project with a named
volume, a bind and a tmpfs (up, recreate, down -v).

Environment: BERTHD (binary), BERTH_BUSYBOX_IMAGE (the embedded image archive). Needs root.
berthd is stopped by pid and its directory removed even on failure; the test fails if a shim
or a mount outlives it.
"""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from berthd_fixture import DOCKERS, PYTHONS, Berthd  # noqa: E402

BERTHD = os.environ.get("BERTHD", "")
IMAGE = os.environ.get("BERTH_BUSYBOX_IMAGE", "")
TIMEOUT = 60


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path)]


def setUpModule():
    global DAEMON
    if os.geteuid() != 0 or not (BERTHD and IMAGE):
        raise unittest.SkipTest("needs root and BERTHD, BERTH_BUSYBOX_IMAGE")
    if not DOCKERS:
        raise unittest.SkipTest("no docker CLI installed")
    DAEMON = Berthd(BERTHD, "berth-compat-vol.")
    subprocess.run([DOCKERS[0], "load", "-q", "-i", IMAGE], env=DAEMON.env(), check=True,
                   capture_output=True, timeout=TIMEOUT)


def tearDownModule():
    if "DAEMON" not in globals():
        return
    env = DAEMON.env()
    ids = subprocess.run([DOCKERS[0], "ps", "-aq"], env=env, capture_output=True, text=True,
                         timeout=TIMEOUT).stdout.split()
    if ids:
        subprocess.run([DOCKERS[0], "rm", "-f", "-v"] + ids, env=env, capture_output=True,
                       timeout=TIMEOUT)
    vols = subprocess.run([DOCKERS[0], "volume", "ls", "-q"], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT).stdout.split()
    if vols:
        subprocess.run([DOCKERS[0], "volume", "rm"] + vols, env=env, capture_output=True,
                       timeout=TIMEOUT)
    left = mounts_under(DAEMON.dir)
    status, log = DAEMON.stop()
    if status != 0:
        raise AssertionError("berthd exited with %d on SIGTERM:\n%s" % (status, log))
    if left:
        for m in reversed(left):
            subprocess.run(["umount", "-l", m])
        raise AssertionError("mounts left behind: %s" % left)


class DockerCliTest(unittest.TestCase):
    def docker(self, binary, *args, check=True):
        p = subprocess.run([binary] + list(args), env=DAEMON.env(), capture_output=True,
                           text=True, timeout=TIMEOUT)
        if check and p.returncode != 0:
            raise AssertionError("docker %s failed (%d):\n%s%s" % (" ".join(args), p.returncode,
                                                                 p.stdout, p.stderr))
        return p

    def check_volumes(self, docker, tag):
        vol = "data-" + tag
        self.assertEqual(self.docker(docker, "volume", "create", "--label", "suite=compat",
                                     vol).stdout, vol + "\n")
        tmp = "tmp-" + tag
        self.docker(docker, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs",
                    "-o", "o=size=1m", tmp)
        ls = self.docker(docker, "volume", "ls", "-q", "--filter", "label=suite=compat").stdout
        self.assertEqual(ls.split(), [vol])
        table = self.docker(docker, "volume", "ls").stdout.splitlines()
        self.assertEqual(table[0].split(), ["DRIVER", "VOLUME", "NAME"])
        self.assertIn(["local", vol], [line.split() for line in table[1:]])
        fmt = self.docker(docker, "volume", "ls", "--format", "{{.Name}}:{{.Driver}}",
                          "--filter", "name=" + tmp).stdout
        self.assertEqual(fmt, tmp + ":local\n")
        info = json.loads(self.docker(docker, "volume", "inspect", vol).stdout)
        self.assertEqual((info[0]["Name"], info[0]["Driver"], info[0]["Labels"]),
                         (vol, "local", {"suite": "compat"}))
        self.assertEqual(self.docker(docker, "volume", "inspect", "-f", "{{.Options.type}}",
                                     tmp).stdout, "tmpfs\n")
        # docker run -v vol:/data: written by one container, read by the next.
        self.docker(docker, "run", "--rm", "--network", "none", "-v", vol + ":/data", "busybox",
                    "sh", "-c", "echo persisted > /data/f")
        p = self.docker(docker, "run", "--rm", "--network", "none", "-v", vol + ":/data:ro",
                        "busybox", "cat", "/data/f")
        self.assertEqual(p.stdout, "persisted\n")
        p = self.docker(docker, "run", "--rm", "--network", "none", "--mount",
                        "type=volume,src=%s,dst=/t" % tmp, "busybox", "sh", "-c",
                        "grep ' /t ' /proc/mounts | cut -d' ' -f3")
        self.assertEqual(p.stdout, "tmpfs\n")
        # In use: the daemon's 409 text through the CLI; then removable.
        cid = self.docker(docker, "create", "--network", "none", "-v", vol + ":/data",
                          "busybox", "true").stdout.strip()
        p = self.docker(docker, "volume", "rm", vol, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("volume is in use", p.stderr)
        self.docker(docker, "rm", cid)
        p = self.docker(docker, "volume", "create", "bad/" + tag, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("invalid characters", p.stderr)
        self.assertEqual(self.docker(docker, "volume", "rm", vol, tmp).stdout.split(), [vol, tmp])
        self.assertNotIn(vol, self.docker(docker, "volume", "ls", "-q").stdout.split())

    def check_restart(self, docker, tag):
        name = "always-" + tag
        self.docker(docker, "run", "-d", "--network", "none", "--name", name, "--restart",
                    "always", "busybox", "sleep", "600")
        pid = int(self.docker(docker, "inspect", "-f", "{{.State.Pid}}", name).stdout)
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 15
        while True:
            out = self.docker(docker, "inspect", "-f",
                              "{{.State.Status}} {{.RestartCount}} {{.State.Pid}}", name).stdout
            status, count, new_pid = out.split()
            if status == "running" and int(new_pid) != pid:
                break
            self.assertLess(time.time(), deadline, out)
            time.sleep(0.05)
        self.assertEqual(count, "1")
        self.assertEqual(self.docker(docker, "inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}",
                                     name).stdout, "always\n")
        p = self.docker(docker, "run", "--rm", "--restart", "always", "busybox", "true",
                        check=False)
        self.assertNotEqual(p.returncode, 0)
        self.docker(docker, "rm", "-f", name)

    def check_cp(self, docker, tag):
        import tempfile
        name = "cp-" + tag
        self.docker(docker, "run", "-d", "--network", "none", "--name", name, "busybox",
                    "sleep", "600")
        with tempfile.TemporaryDirectory(prefix="berth-compat-cp.") as tmp:
            src = os.path.join(tmp, "src")
            os.makedirs(os.path.join(src, "sub"))
            with open(os.path.join(src, "sub", "f"), "w") as f:
                f.write("into\n")
            self.docker(docker, "cp", src, name + ":/tmp/")
            self.assertEqual(self.docker(docker, "exec", name, "cat", "/tmp/src/sub/f").stdout,
                             "into\n")
            self.docker(docker, "cp", src + "/sub/f", name + ":/tmp/renamed")
            self.assertEqual(self.docker(docker, "exec", name, "stat", "-c", "%u",
                                         "/tmp/renamed").stdout, "0\n")
            self.docker(docker, "exec", name, "sh", "-c", "echo out > /tmp/src/o")
            out = os.path.join(tmp, "out")
            self.docker(docker, "cp", name + ":/tmp/src", out)
            with open(os.path.join(out, "o")) as f:
                self.assertEqual(f.read(), "out\n")
            self.docker(docker, "stop", "-t", "0", name)
            self.docker(docker, "cp", name + ":/tmp/renamed", os.path.join(tmp, "back"))
            with open(os.path.join(tmp, "back")) as f:
                self.assertEqual(f.read(), "into\n")
            p = self.docker(docker, "cp", name + ":/nonexistent", tmp, check=False)
            self.assertNotEqual(p.returncode, 0)
            # 20.10 words the 404 itself ("No such container:path"), 28 shows the daemon's.
            self.assertRegex(p.stderr, "Could not find the file|No such container:path")
        self.docker(docker, "rm", "-f", name)

    def test_docker_20_10(self):
        if "/usr/bin/docker" not in DOCKERS:
            self.skipTest("Debian's docker.io is not installed")
        self.check_volumes("/usr/bin/docker", "20")
        self.check_restart("/usr/bin/docker", "20")
        self.check_cp("/usr/bin/docker", "20")

    def test_docker_28(self):
        if "/usr/local/bin/docker" not in DOCKERS:
            self.skipTest("the 28.2 docker CLI is not installed")
        self.check_volumes("/usr/local/bin/docker", "28")
        self.check_restart("/usr/local/bin/docker", "28")
        self.check_cp("/usr/local/bin/docker", "28")


DOCKER_PY_SCRIPT = r"""
import sys, time, docker, os, signal
c = docker.DockerClient(base_url=sys.argv[1], version="auto")
tag = sys.argv[2]
v = c.volumes.create(name="py-" + tag, driver="local", labels={"by": "docker-py"})
assert v.name == "py-" + tag and v.attrs["Labels"] == {"by": "docker-py"}, v.attrs
assert [x.name for x in c.volumes.list(filters={"label": "by=docker-py"})] == [v.name]
out = c.containers.run("busybox", ["sh", "-c", "echo py > /v/f; cat /v/f"], remove=True,
                       network_mode="none", volumes={v.name: {"bind": "/v", "mode": "rw"}})
assert out == b"py\n", out
out = c.containers.run("busybox", ["cat", "/v/f"], remove=True, network_mode="none",
                       volumes=[v.name + ":/v:ro"])
assert out == b"py\n", out
ct = c.containers.create("busybox", ["true"], network_mode="none", volumes=[v.name + ":/v"])
try:
    v.remove()
    raise AssertionError("a volume in use was removed")
except docker.errors.APIError as e:
    assert e.status_code == 409, e
ct.remove()
v.reload()
v.remove()
assert v.name not in [x.name for x in c.volumes.list()]
ct = c.containers.run("busybox", ["sleep", "600"], detach=True, network_mode="none",
                      restart_policy={"Name": "on-failure", "MaximumRetryCount": 3})
pid = ct.attrs["State"]["Pid"] if ct.attrs["State"]["Pid"] else c.api.inspect_container(ct.id)["State"]["Pid"]
os.kill(pid, signal.SIGKILL)
deadline = time.time() + 15
while True:
    s = c.api.inspect_container(ct.id)
    if s["State"]["Status"] == "running" and s["State"]["Pid"] != pid:
        break
    assert time.time() < deadline, s["State"]
    time.sleep(0.05)
assert s["RestartCount"] == 1, s["RestartCount"]
ct.remove(force=True)
print("ok")
"""


class DockerPyTest(unittest.TestCase):
    def test_docker_py(self):
        if not PYTHONS:
            self.skipTest("docker-py is not installed")
        for i, (py, version) in enumerate(PYTHONS):
            with self.subTest(docker_py=version):
                p = subprocess.run([py, "-c", DOCKER_PY_SCRIPT, DAEMON.host, str(i)],
                                   capture_output=True, text=True, timeout=TIMEOUT)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, "ok\n")


COMPOSE_FILE = """version: "3.8"
services:
  app:
    image: busybox
    command: sh -c "cat /conf/c > /data/f; exec sleep 600"
    network_mode: none
    restart: unless-stopped
    stop_grace_period: 1s
    volumes:
      - appdata:/data
      - ./conf:/conf:ro
      - type: tmpfs
        target: /scratch
volumes:
  appdata:
    labels:
      tier: test
"""


class ComposeTest(unittest.TestCase):
    def test_compose_volumes(self):
        import shutil as sh
        import tempfile
        compose = sh.which("docker-compose")
        if not compose:
            self.skipTest("docker-compose is not installed")
        with tempfile.TemporaryDirectory(prefix="berth-compat-compose.") as proj:
            os.mkdir(os.path.join(proj, "conf"))
            with open(os.path.join(proj, "conf", "c"), "w") as f:
                f.write("conf\n")
            with open(os.path.join(proj, "docker-compose.yml"), "w") as f:
                f.write(COMPOSE_FILE)

            def run(*args):
                p = subprocess.run([compose, "-p", "bvol"] + list(args), cwd=proj,
                                   env=DAEMON.env(), capture_output=True, text=True,
                                   timeout=TIMEOUT)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                return p

            def docker(*args):
                return subprocess.run([DOCKERS[0]] + list(args), env=DAEMON.env(),
                                      capture_output=True, text=True, timeout=TIMEOUT).stdout

            try:
                run("up", "-d")
                self.assertEqual(json.loads(docker("volume", "inspect", "bvol_appdata"))[0]
                                 ["Labels"]["tier"], "test")
                deadline = time.time() + 10
                while docker("exec", "bvol_app_1", "cat", "/data/f") != "conf\n":
                    self.assertLess(time.time(), deadline)
                    time.sleep(0.05)
                mounts = json.loads(docker("inspect", "-f", "{{json .Mounts}}", "bvol_app_1"))
                self.assertEqual(sorted((m["Type"], m["Destination"]) for m in mounts),
                                 [("bind", "/conf"), ("tmpfs", "/scratch"), ("volume", "/data")])
                # Recreated with a changed command: the named volume keeps its data.
                with open(os.path.join(proj, "docker-compose.yml"), "w") as f:
                    f.write(COMPOSE_FILE.replace("cat /conf/c > /data/f; ", ""))
                run("up", "-d")
                self.assertEqual(docker("exec", "bvol_app_1", "cat", "/data/f"), "conf\n")
            finally:
                run("down", "-v")
            self.assertNotIn("bvol_appdata", docker("volume", "ls", "-q").split())


if __name__ == "__main__":
    unittest.main()

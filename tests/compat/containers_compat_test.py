#!/usr/bin/env python3
"""Containers in berthd under the tools Docker users have: the unchanged docker CLIs
(Debian's 20.10 and the 28.2 client, DOCKER_HOST at berthd) and docker-py (5.0.3 and 7.1.0).

The flows of engine-api.md §2: run --rm (exit codes, start failures, AutoRemove), run -i with
piped stdin, run -d + logs + exec + ps + inspect + stop + wait + rm -f, and live restore
(berthd killed with -9 while containers run, started again).

Environment: BERTHD (binary), BERTH_BUSYBOX_IMAGE (the embedded image archive). Needs root.
Every container runs with --network none. berthd is stopped by pid and its directory removed
even on failure; the test fails if a container's shim or mount outlives it.
"""

import io
import os
import shutil
import subprocess
import sys
import tarfile
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
    DAEMON = Berthd(BERTHD, "berth-compat-ctr.")
    subprocess.run([DOCKERS[0], "load", "-q", "-i", IMAGE], env=DAEMON.env(), check=True,
                   capture_output=True, timeout=TIMEOUT)


def tearDownModule():
    if "DAEMON" not in globals():
        return
    d = DAEMON.dir
    # Nothing may outlive the test: remove what is left, then check.
    subprocess.run([DOCKERS[0], "rm", "-f"] + docker_ids(), env=DAEMON.env(),
                   capture_output=True, timeout=TIMEOUT)
    left = mounts_under(d)
    status, log = DAEMON.stop()
    if status != 0:
        raise AssertionError("berthd exited with %d on SIGTERM:\n%s" % (status, log))
    if left:
        for m in reversed(left):
            subprocess.run(["umount", "-l", m])
        raise AssertionError("mounts left behind: %s" % left)


def docker_ids():
    p = subprocess.run([DOCKERS[0], "ps", "-aq", "--no-trunc"], env=DAEMON.env(),
                       capture_output=True, text=True, timeout=TIMEOUT)
    return p.stdout.split()


class DockerCliTest(unittest.TestCase):
    def docker(self, binary, *args, check=True, input=None):
        p = subprocess.run([binary] + list(args), env=DAEMON.env(), capture_output=True,
                           text=True, timeout=TIMEOUT, input=input)
        if check and p.returncode != 0:
            raise AssertionError("docker %s failed (%d):\n%s%s" % (" ".join(args), p.returncode,
                                                                 p.stdout, p.stderr))
        return p

    def docker_bytes(self, binary, *args):
        p = subprocess.run([binary] + list(args), env=DAEMON.env(), capture_output=True,
                           timeout=TIMEOUT)
        if p.returncode != 0:
            raise AssertionError("docker %s failed (%d):\n%s" % (" ".join(args), p.returncode,
                                                               p.stderr.decode()))
        return p.stdout

    def check_run_rm(self, docker):
        p = self.docker(docker, "run", "--rm", "--network", "none", "busybox", "echo", "hi")
        self.assertEqual(p.stdout, "hi\n")
        p = self.docker(docker, "run", "--rm", "--network", "none", "busybox", "sh", "-c",
                        "echo out; echo err >&2; exit 3", check=False)
        self.assertEqual((p.returncode, p.stdout), (3, "out\n"))
        self.assertIn("err\n", p.stderr)
        # A start failure: 127 and nothing left (AutoRemove completes the wait).
        p = self.docker(docker, "run", "--rm", "--network", "none", "busybox", "/nonexistent",
                        check=False)
        self.assertEqual(p.returncode, 127, p.stderr)
        self.assertIn("no such file or directory", p.stderr)
        # Piped stdin written before start reaches the process, then EOF.
        p = self.docker(docker, "run", "-i", "--rm", "--network", "none", "busybox", "cat",
                        input="piped input\n")
        self.assertEqual(p.stdout, "piped input\n")
        self.assertEqual(docker_ids(), [])

    def check_detached(self, docker):
        name = "web" + os.path.basename(os.path.dirname(docker))
        cid = self.docker(docker, "run", "-d", "--name", name, "--network", "none", "busybox",
                          "sh", "-c", "echo started; echo warn >&2; exec sleep 60").stdout.strip()
        self.assertRegex(cid, "^[0-9a-f]{64}$")
        deadline = time.time() + 10
        while "started" not in self.docker(docker, "logs", name).stdout:
            self.assertLess(time.time(), deadline, "no log output")
            time.sleep(0.05)
        p = self.docker(docker, "logs", name)
        self.assertEqual((p.stdout, p.stderr), ("started\n", "warn\n"))
        self.assertEqual(self.docker(docker, "exec", name, "sh", "-c", "echo $((1+2))").stdout,
                         "3\n")
        p = self.docker(docker, "exec", "-e", "FOO=bar", "-w", "/tmp", name, "sh", "-c",
                        'echo $FOO $(pwd); exit 5', check=False)
        self.assertEqual((p.returncode, p.stdout), (5, "bar /tmp\n"))
        ps = self.docker(docker, "ps", "--format", "{{.ID}} {{.Names}} {{.Status}}").stdout
        self.assertRegex(ps, "%s %s Up " % (cid[:12], name))
        self.assertEqual(
            self.docker(docker, "inspect", "-f", "{{.State.Running}} {{.Name}}", name).stdout,
            "true /%s\n" % name)
        # Secure defaults are visible: a user namespace of its own, no new privileges.
        self.assertEqual(self.docker(docker, "exec", name, "cat", "/proc/self/uid_map").stdout
                         .split()[0:1], ["0"])
        self.assertNotEqual(self.docker(docker, "exec", name, "cat", "/proc/self/uid_map")
                            .stdout.split()[1], "0")
        # stats: one reading, rendered by the CLI's own formatter.
        p = self.docker(docker, "stats", "--no-stream", "--format",
                        "{{.Name}} {{.PIDs}} {{.CPUPerc}} {{.MemUsage}}", name)
        self.assertRegex(p.stdout, r"^%s 1 [0-9.]+%% [0-9.]+[KMG]?i?B / [0-9.]+[KMGT]iB\n$" % name)
        # diff, commit, export: the container's changes, as an image and as a tar.
        self.docker(docker, "exec", name, "sh", "-c", "echo data > /root/f; rm /bin/vi")
        diff = self.docker(docker, "diff", name).stdout
        self.assertIn("A /root/f\n", diff)
        self.assertIn("C /bin\nD /bin/vi\n", diff)
        image = "committed" + name
        iid = self.docker(docker, "commit", "-m", "msg", "-c", "CMD cat /root/f", name,
                          image + ":1").stdout.strip()
        self.assertRegex(iid, "^sha256:[0-9a-f]{64}$")
        self.assertEqual(self.docker(docker, "run", "--rm", "--network", "none",
                                     image + ":1").stdout, "data\n")
        exported = self.docker_bytes(docker, "export", name)
        with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
            self.assertEqual(tar.extractfile("root/f").read(), b"data\n")
        self.docker(docker, "rmi", image + ":1")
        # sleep as pid 1 ignores SIGTERM: stop kills it after the timeout.
        self.docker(docker, "stop", "-t", "1", name)
        self.assertEqual(self.docker(docker, "wait", name).stdout, "137\n")
        self.assertEqual(self.docker(docker, "inspect", "-f", "{{.State.Status}}", name).stdout,
                         "exited\n")
        self.docker(docker, "rm", "-f", name)
        p = self.docker(docker, "inspect", name, check=False)
        self.assertNotEqual(p.returncode, 0)
        # logs -f follows until the container ends.
        self.docker(docker, "run", "-d", "--name", name, "--network", "none", "busybox", "sh",
                    "-c", "echo a; sleep 1; echo b")
        started = time.time()
        self.assertEqual(self.docker(docker, "logs", "-f", name).stdout, "a\nb\n")
        self.assertGreater(time.time() - started, 0.5)
        self.docker(docker, "rm", name)

    def check_health(self, docker):
        name = "hc" + os.path.basename(os.path.dirname(docker))
        self.docker(docker, "run", "-d", "--name", name, "--network", "none", "--health-cmd",
                    "test -e /tmp/ok", "--health-interval", "100ms", "--health-retries", "1",
                    "busybox", "sleep", "60")
        def status():
            return self.docker(docker, "inspect", "-f", "{{.State.Health.Status}}",
                               name).stdout.strip()
        deadline = time.time() + 15
        while status() != "unhealthy":
            self.assertLess(time.time(), deadline, status())
            time.sleep(0.05)
        self.docker(docker, "exec", name, "touch", "/tmp/ok")
        while status() != "healthy":
            self.assertLess(time.time(), deadline, status())
            time.sleep(0.05)
        self.assertIn("(healthy)", self.docker(docker, "ps", "--filter", "name=" + name,
                                               "--format", "{{.Status}}").stdout)
        self.docker(docker, "rm", "-f", name)

    def check_errors(self, docker):
        p = self.docker(docker, "run", "--rm", "--network", "none", "--cap-add", "CAP_FOO",
                        "busybox", "true", check=False)
        self.assertEqual(p.returncode, 125)
        self.assertIn("unknown capability", p.stderr)
        p = self.docker(docker, "create", "--network", "none", "nosuchimage:1", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.docker(docker, "create", "--name", "dup", "--network", "none", "busybox")
        p = self.docker(docker, "create", "--name", "dup", "--network", "none", "busybox",
                        check=False)
        self.assertIn("is already in use", p.stderr)
        self.docker(docker, "rm", "dup")
        self.assertEqual(docker_ids(), [])

    def test_docker_20_10(self):
        if "/usr/bin/docker" not in DOCKERS:
            self.skipTest("Debian's docker.io is not installed")
        for check in (self.check_run_rm, self.check_detached, self.check_health,
                      self.check_errors):
            with self.subTest(check.__name__):
                check("/usr/bin/docker")

    def test_docker_28(self):
        if "/usr/local/bin/docker" not in DOCKERS:
            self.skipTest("the 28.2 client is not installed")
        for check in (self.check_run_rm, self.check_detached, self.check_health,
                      self.check_errors):
            with self.subTest(check.__name__):
                check("/usr/local/bin/docker")


class TtyTest(unittest.TestCase):
    """`docker run -it` in a real terminal (tmux): a shell under a pty, resize, exit code."""

    def setUp(self):
        if not shutil.which("tmux"):
            self.skipTest("tmux is not installed")
        self.session = "berth-compat-%d" % os.getpid()

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), capture_output=True,
                              text=True, timeout=TIMEOUT)

    def tearDown(self):
        if hasattr(self, "sock"):
            self.tmux("kill-server")

    def read(self, path):
        with open(path) as f:
            return f.read()

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", self.session).stdout

    def wait_for(self, text):
        deadline = time.time() + 15
        while text not in self.screen():
            self.assertLess(time.time(), deadline, "%r never appeared:\n%s" %
                            (text, self.screen()))
            time.sleep(0.05)

    def test_interactive_shell(self):
        for i, docker in enumerate(DOCKERS):
            with self.subTest(docker=docker):
                self.sock = os.path.join(DAEMON.dir, "tmux-%d.sock" % i)  # a fresh server each
                status = os.path.join(DAEMON.dir, "tty-status")
                command = "DOCKER_HOST=%s %s run -it --rm --network none busybox sh; " \
                          "echo $? > %s; sleep 60" % (DAEMON.host, docker, status)
                self.tmux("new-session", "-d", "-s", self.session, "-x", "120", "-y", "40",
                          command)
                self.wait_for("/ #")
                self.tmux("send-keys", "-t", self.session, "stty size; echo mark-$((6*7))",
                          "Enter")
                self.wait_for("mark-42")
                self.assertIn("40 120", self.screen())
                self.tmux("resize-window", "-t", self.session, "-x", "100", "-y", "30")
                time.sleep(0.5)
                self.tmux("send-keys", "-t", self.session, "clear; stty size", "Enter")
                self.wait_for("30 100")
                self.tmux("send-keys", "-t", self.session, "exit 3", "Enter")
                deadline = time.time() + 15
                while not os.path.exists(status) or not self.read(status).strip():
                    self.assertLess(time.time(), deadline, self.screen())
                    time.sleep(0.05)
                self.assertEqual(self.read(status), "3\n")
                os.unlink(status)
                self.tmux("kill-server")

    def test_exec_and_attach(self):
        env = dict(DAEMON.env())
        subprocess.run([DOCKERS[0], "run", "-d", "-it", "--name", "tty", "--network", "none",
                        "busybox", "sh"], env=env, check=True, capture_output=True)
        try:
            for i, docker in enumerate(DOCKERS):
                with self.subTest(docker=docker):
                    self.sock = os.path.join(DAEMON.dir, "tmux-x%d.sock" % i)
                    status = os.path.join(DAEMON.dir, "exec-status")
                    self.tmux("new-session", "-d", "-s", self.session, "-x", "100", "-y", "30",
                              "DOCKER_HOST=%s %s exec -it tty sh; echo $? > %s; sleep 60" %
                              (DAEMON.host, docker, status))
                    self.wait_for("/ #")
                    self.tmux("send-keys", "-t", self.session, "stty size; echo x$((6*7))",
                              "Enter")
                    self.wait_for("x42")
                    self.assertIn("30 100", self.screen())
                    self.tmux("send-keys", "-t", self.session, "exit 5", "Enter")
                    deadline = time.time() + 15
                    while not os.path.exists(status) or not self.read(status).strip():
                        self.assertLess(time.time(), deadline, self.screen())
                        time.sleep(0.05)
                    self.assertEqual(self.read(status), "5\n")
                    os.unlink(status)
                    self.tmux("kill-server")
                    # attach, type, and detach with Ctrl-P Ctrl-Q: the shell keeps running.
                    self.sock = os.path.join(DAEMON.dir, "tmux-a%d.sock" % i)
                    self.tmux("new-session", "-d", "-s", self.session, "-x", "100", "-y", "30",
                              "DOCKER_HOST=%s %s attach tty; echo detached-$?; sleep 60" %
                              (DAEMON.host, docker))
                    # An empty line until the attached shell answers with its prompt.
                    deadline = time.time() + 15
                    while "/ #" not in self.screen():
                        self.assertLess(time.time(), deadline, self.screen())
                        self.tmux("send-keys", "-t", self.session, "Enter")
                        time.sleep(0.2)
                    self.tmux("send-keys", "-t", self.session, "echo at$((20+3))", "Enter")
                    self.wait_for("at23")
                    self.tmux("send-keys", "-t", self.session, "C-p", "C-q")
                    self.wait_for("detached-")
                    self.tmux("kill-server")
                    p = subprocess.run([docker, "inspect", "-f", "{{.State.Running}}", "tty"],
                                       env=env, capture_output=True, text=True)
                    self.assertEqual(p.stdout, "true\n")
        finally:
            subprocess.run([DOCKERS[0], "rm", "-f", "tty"], env=env, capture_output=True)


DOCKER_PY_SCRIPT = r"""
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1], version="auto")
out = c.containers.run("busybox", ["sh", "-c", "echo hi"], remove=True, network_mode="none")
assert out == b"hi\n", out
ct = c.containers.run("busybox", ["sh", "-c", "echo ready; exec sleep 60"], detach=True,
                      network_mode="none")
import time
deadline = time.time() + 10
while b"ready" not in ct.logs():
    assert time.time() < deadline, ct.logs()
    time.sleep(0.05)
code, output = ct.exec_run(["sh", "-c", "echo x; exit 4"])
assert (code, output) == (4, b"x\n"), (code, output)
ct.reload()
assert ct.status == "running", ct.status
st = ct.stats(stream=False)
assert st["id"] == ct.id and st["pids_stats"]["current"] == 1, st
assert st["cpu_stats"]["system_cpu_usage"] > st["precpu_stats"]["system_cpu_usage"] > 0, st
assert st["memory_stats"]["usage"] > 0 and st["memory_stats"]["limit"] > 0, st
stream = ct.stats(decode=True)
first, second = next(stream), next(stream)
assert second["preread"] == first["read"], (first, second)
stream.close()
ct.exec_run(["sh", "-c", "echo py > /root/p"])
assert {"Path": "/root/p", "Kind": 1} in ct.diff(), ct.diff()
img = ct.commit(repository="pycommit", tag="1", message="from py", changes=["CMD cat /root/p"])
assert c.containers.run(img.id, remove=True, network_mode="none") == b"py\n"
c.images.remove(img.id, force=True)
ct.kill()
assert ct.wait()["StatusCode"] == 137
ct.remove()
print("ok")
"""


class DockerPyTest(unittest.TestCase):
    def test_docker_py(self):
        if not PYTHONS:
            self.skipTest("docker-py is not installed")
        for py, version in PYTHONS:
            with self.subTest(docker_py=version):
                p = subprocess.run([py, "-c", DOCKER_PY_SCRIPT, DAEMON.host],
                                   capture_output=True, text=True, timeout=TIMEOUT)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, "ok\n")


class LiveRestoreTest(unittest.TestCase):
    def docker(self, *args, check=True):
        p = subprocess.run([DOCKERS[0]] + list(args), env=DAEMON.env(), capture_output=True,
                           text=True, timeout=TIMEOUT)
        if check and p.returncode != 0:
            raise AssertionError("docker %s failed (%d):\n%s" % (" ".join(args), p.returncode,
                                                               p.stderr))
        return p.stdout

    def test_kill_9_and_restart(self):
        since = "%.3f" % time.time()
        self.docker("run", "-d", "--name", "keeper", "--network", "none", "busybox", "sh",
                    "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done")
        self.docker("run", "-d", "--name", "quitter", "--network", "none", "busybox", "sh",
                    "-c", "sleep 1; exit 7")
        pid = self.docker("inspect", "-f", "{{.State.Pid}}", "keeper").strip()
        DAEMON.kill9()
        time.sleep(1.5)  # quitter exits while no berthd runs
        DAEMON.start()
        self.assertEqual(self.docker("inspect", "-f", "{{.State.Status}} {{.State.Pid}}",
                                     "keeper"), "running %s\n" % pid)
        self.assertEqual(self.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}",
                                     "quitter"), "exited 7\n")
        # The log went on while berthd was down: the ticks are consecutive.
        time.sleep(0.5)
        ticks = [int(w) for w in self.docker("logs", "keeper").split() if w.isdigit()]
        self.assertGreater(len(ticks), 10)
        self.assertEqual(ticks, list(range(len(ticks))))
        self.assertEqual(self.docker("exec", "keeper", "echo", "alive"), "alive\n")
        # The event log outlived the daemon: the starts from before the kill are replayed.
        events = self.docker("events", "--since", since, "--until", "%.3f" % time.time(),
                             "--filter", "event=start", "--format", "{{.Actor.Attributes.name}}")
        self.assertEqual(events.split(), ["keeper", "quitter"])
        self.docker("rm", "-f", "keeper", "quitter")


if __name__ == "__main__":
    unittest.main(verbosity=2)

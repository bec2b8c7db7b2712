#!/usr/bin/env python3
"""Pull, push and login across tools: the docker CLIs (20.10 /usr/bin/docker and 28.2
/usr/local/bin/docker) against berthd (`docker push`, `docker pull`, `docker login`) with
berth-registry; the berth CLI against Debian's docker-registry (distribution 2.8) with
htpasswd (login, push, pull, logout); Debian's dockerd pushing to and pulling from
berth-registry, and berthd pulling what dockerd pushed (same image ID).

Environment: BERTHD, BERTH, BERTH_REGISTRY, BERTH_BUSYBOX_IMAGE. Root. Skips what is not
installed. Network only on 127.0.0.1, ports picked by the kernel; every daemon stopped by pid,
every directory removed; /run/docker and /run/containerd removed only if this test made them.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from berthd_fixture import DOCKERS, Berthd  # noqa: E402
from registry_fixture import DockerRegistry, Registry  # noqa: E402

BERTHD = os.environ.get("BERTHD", "")
BERTH = os.environ.get("BERTH", "")
REGISTRY = os.environ.get("BERTH_REGISTRY", "")
IMAGE = os.environ.get("BERTH_BUSYBOX_IMAGE", "")
DOCKER_REGISTRY = shutil.which("docker-registry")
HAVE_DOCKERD = all(os.access(p, os.X_OK) for p in ("/usr/sbin/dockerd", "/usr/bin/containerd"))


def bcrypt(password):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32))


def run(args, env=None, input=None, check=True, timeout=300):
    r = subprocess.run(args, env=env, input=input, capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (" ".join(args), r.returncode,
                                                           r.stdout, r.stderr))
    return r


class IsolatedDockerd:
    """containerd + dockerd with roots, sockets and pid files in a temp dir (no bridge, no
    iptables), as tests/integration/cli/containers_test.cc starts them."""

    def __init__(self, insecure=()):
        self.made = [d for d in ("/run/docker", "/run/containerd") if not os.path.exists(d)]
        self.dir = tempfile.mkdtemp(prefix="berth-compat-dockerd.")
        d = self.dir
        with open(os.path.join(d, "containerd.toml"), "w") as f:
            f.write('version = 2\nroot = "%s/containerd-root"\nstate = "%s/containerd-state"\n'
                    '[grpc]\n  address = "%s/containerd.sock"\n[ttrpc]\n'
                    '  address = "%s/containerd.sock.ttrpc"\n[debug]\n  address = ""\n'
                    '[plugins]\n  [plugins."io.containerd.internal.v1.opt"]\n'
                    '    path = "%s/containerd-opt"\n' % (d, d, d, d, d))
        self.log = open(os.path.join(d, "daemons.log"), "a")
        self.containerd = subprocess.Popen(
            ["/usr/bin/containerd", "--config", os.path.join(d, "containerd.toml")],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            if os.path.exists(os.path.join(d, "containerd.sock")):
                break
            time.sleep(0.1)
        self.host = "unix://%s/docker.sock" % d
        args = ["/usr/sbin/dockerd", "--containerd=%s/containerd.sock" % d, "--data-root",
                d + "/data", "--exec-root", d + "/exec", "--pidfile", d + "/dockerd.pid",
                "-H", self.host, "--bridge=none", "--iptables=false"]
        for r in insecure:
            args += ["--insecure-registry", r]
        self.dockerd = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            if run(["/usr/bin/docker", "-H", self.host, "version"], check=False).returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("dockerd did not start")

    def env(self):
        env = dict(os.environ)
        env["DOCKER_HOST"] = self.host
        env["DOCKER_CONFIG"] = os.path.join(self.dir, "docker-config")
        return env

    def stop(self):
        for p in (self.dockerd, self.containerd):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.log.close()
        subprocess.run(["umount", "-R", os.path.join(self.dir, "data")], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        for d in self.made:
            shutil.rmtree(d, ignore_errors=True)


@unittest.skipIf(os.geteuid() != 0, "needs root (berthd)")
@unittest.skipIf(not (BERTHD and BERTH and REGISTRY and IMAGE), "environment not set")
class PullPushCompatTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="berth-pull-compat.")
        self.cleanup = []

    def tearDown(self):
        for f in reversed(self.cleanup):
            f()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def berthd(self):
        b = Berthd(BERTHD, prefix="berth-pull-compat-d.")
        self.cleanup.append(b.stop)
        return b

    def registry(self, args=()):
        r = Registry(REGISTRY, list(args))
        self.cleanup.append(r.stop)
        return r

    def htpasswd(self, user="alice", password="secret"):
        path = os.path.join(self.tmp, "htpasswd")
        with open(path, "w") as f:
            f.write("%s:%s\n" % (user, bcrypt(password)))
        return path

    @unittest.skipIf(not DOCKERS, "no docker CLI")
    def test_docker_cli_against_berthd(self):
        reg = self.registry(["--htpasswd", self.htpasswd(), "--token-auth"])
        for docker in DOCKERS:
            with self.subTest(docker=docker):
                b = self.berthd()
                env = b.env()
                run([docker, "load", "-i", IMAGE], env)
                ref = "%s/compat/bb:%d" % (reg.addr, DOCKERS.index(docker))
                run([docker, "tag", "busybox:latest", ref], env)
                # Without login the push is refused.
                r = run([docker, "push", ref], env, check=False)
                self.assertNotEqual(r.returncode, 0, r.stdout)
                r = run([docker, "login", "-u", "alice", "--password-stdin", reg.addr], env,
                        input="wrong\n", check=False)
                self.assertNotEqual(r.returncode, 0)
                r = run([docker, "login", "-u", "alice", "--password-stdin", reg.addr], env,
                        input="secret\n")
                self.assertIn("Login Succeeded", r.stdout)
                with open(os.path.join(env["DOCKER_CONFIG"], "config.json")) as f:
                    self.assertIn(reg.addr, json.load(f)["auths"])
                r = run([docker, "push", ref], env)
                self.assertIn("digest: sha256:", r.stdout)
                digest = r.stdout.split("digest: ")[1].split()[0]
                image_id = run([docker, "inspect", "-f", "{{.Id}}", ref], env).stdout.strip()
                run([docker, "rmi", "-f", image_id], env)
                r = run([docker, "pull", ref], env)
                self.assertIn("Digest: " + digest, r.stdout)
                self.assertIn("Status: Downloaded newer image for " + ref, r.stdout)
                self.assertEqual(
                    run([docker, "inspect", "-f", "{{.Id}}", ref], env).stdout.strip(), image_id)
                # By digest.
                run([docker, "rmi", "-f", image_id], env)
                name = ref.rsplit(":", 1)[0]
                r = run([docker, "pull", name + "@" + digest], env)
                self.assertIn("Digest: " + digest, r.stdout)
                # A missing tag.
                r = run([docker, "pull", name + ":missing"], env, check=False)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("not found", r.stderr)
                # The classic builder pulls a private base with the credentials the CLI
                # sends in X-Registry-Config.
                run([docker, "rmi", "-f", image_id], env)
                ctx = tempfile.mkdtemp(prefix="berth-compat-ctx.", dir=self.tmp)
                with open(os.path.join(ctx, "Dockerfile"), "w") as f:
                    f.write("FROM %s\nLABEL from=private\n" % ref)
                env_build = dict(env, DOCKER_BUILDKIT="0")
                run([docker, "build", "-t", "fromprivate:1", ctx], env_build)
                self.assertEqual(run([docker, "inspect", "-f", "{{.Config.Labels.from}}",
                                      "fromprivate:1"], env).stdout.strip(), "private")
                run([docker, "logout", reg.addr], env)

    @unittest.skipIf(not DOCKER_REGISTRY, "docker-registry is not installed")
    def test_berth_against_docker_registry_with_htpasswd(self):
        ht = self.htpasswd("bob", "hunter2")
        dreg = DockerRegistry(extra_yaml="auth:\n  htpasswd:\n    realm: test\n    path: %s\n" % ht)
        self.cleanup.append(dreg.stop)
        b = self.berthd()
        env = b.env()
        berth = [BERTH, "-H", b.host, "--no-autostart"]
        run(berth + ["load", "-i", IMAGE], env)
        ref = "%s/team/bb:1" % dreg.addr
        run(berth + ["tag", "busybox:latest", ref], env)
        r = run(berth + ["push", ref], env, check=False)
        self.assertNotEqual(r.returncode, 0)
        r = run(berth + ["login", "-u", "bob", "--password-stdin", dreg.addr], env,
                input="nope\n", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Error response from daemon", r.stderr)
        r = run(berth + ["login", "-u", "bob", "--password-stdin", dreg.addr], env,
                input="hunter2\n")
        self.assertIn("Login Succeeded", r.stdout)
        r = run(berth + ["push", ref], env)
        self.assertIn("Pushed", r.stdout)
        digest = r.stdout.split("digest: ")[1].split()[0]
        image_id = run(berth + ["inspect", "-f", "{{.Id}}", ref], env).stdout.strip()
        run(berth + ["rmi", "-f", image_id], env)
        r = run(berth + ["pull", ref], env)
        self.assertIn("Digest: " + digest, r.stdout)
        self.assertEqual(r.stdout.strip().splitlines()[-1], ref)
        self.assertEqual(run(berth + ["inspect", "-f", "{{.Id}}", ref], env).stdout.strip(),
                         image_id)
        r = run(berth + ["pull", "-q", ref], env)
        self.assertEqual(r.stdout.strip(), ref)
        # berth build sends every stored credential (X-Registry-Config) for a private base.
        run(berth + ["rmi", "-f", image_id], env)
        ctx = tempfile.mkdtemp(prefix="berth-compat-ctx.", dir=self.tmp)
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("FROM %s\nLABEL from=private\n" % ref)
        run(berth + ["build", "-q", "-t", "fromprivate:1", ctx], env)
        self.assertEqual(run(berth + ["inspect", "-f", "{{.Config.Labels.from}}",
                                      "fromprivate:1"], env).stdout.strip(), "private")
        run(berth + ["rmi", "fromprivate:1"], env)
        run(berth + ["pull", "-q", ref], env)
        # run pulls a missing image (with the stored credentials), progress on stderr.
        run(berth + ["rmi", "-f", image_id], env)
        r = run(berth + ["run", "--rm", ref, "echo", "hi"], env)
        self.assertEqual(r.stdout, "hi\n")
        self.assertIn("Unable to find image", r.stderr)
        self.assertIn("Pull complete", r.stderr)
        r = run(berth + ["logout", dreg.addr], env)
        self.assertIn("Removing login credentials", r.stdout)
        run(berth + ["rmi", "-f", image_id], env)
        r = run(berth + ["pull", ref], env, check=False)
        self.assertNotEqual(r.returncode, 0)

    @unittest.skipIf(not HAVE_DOCKERD, "dockerd/containerd are not installed")
    def test_dockerd_with_berth_registry(self):
        reg = self.registry()
        dockerd = IsolatedDockerd()
        self.cleanup.append(dockerd.stop)
        env = dockerd.env()
        docker = "/usr/bin/docker"
        run([docker, "load", "-i", IMAGE], env)
        ref = "%s/fromdocker/bb:1" % reg.addr
        run([docker, "tag", "busybox:latest", ref], env)
        r = run([docker, "push", ref], env)
        digest = r.stdout.split("digest: ")[1].split()[0]
        image_id = run([docker, "inspect", "-f", "{{.Id}}", ref], env).stdout.strip()
        run([docker, "rmi", ref, "busybox:latest"], env)
        r = run([docker, "pull", ref], env)
        self.assertIn("Digest: " + digest, r.stdout)
        self.assertEqual(run([docker, "inspect", "-f", "{{.Id}}", ref], env).stdout.strip(),
                         image_id)
        # berthd pulls what dockerd pushed (Docker's manifest, gzip layers): the same image.
        b = self.berthd()
        berth = [BERTH, "-H", b.host, "--no-autostart"]
        r = run(berth + ["pull", ref], b.env())
        self.assertIn("Digest: " + digest, r.stdout)
        self.assertEqual(run(berth + ["inspect", "-f", "{{.Id}}", ref], b.env()).stdout.strip(),
                         image_id)
        r = run(berth + ["run", "--rm", ref, "echo", "hello"], b.env(), check=False)
        self.assertEqual(r.stdout.strip(), "hello", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)

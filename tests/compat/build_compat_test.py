#!/usr/bin/env python3
"""`docker build` against berthd with the tools Docker users have: the unchanged docker CLIs
(Debian's 20.10, which picks the classic builder from /_ping's Builder-Version, and the 28.2
client, which has no buildx here and falls back to it), docker-py (5.0.3 and 7.1.0)
`images.build`, and podman running an image berth built after `docker save | podman load`.

A multi-stage Dockerfile with build args, COPY --from, a heredoc and a .dockerignore; -t, --target,
--iidfile, -q; a failing RUN's exit code as the CLI's; DOCKER_BUILDKIT=1 failing without building
(20.10).

Environment: BERTHD, BERTH_BUSYBOX_IMAGE. Needs root. berthd is stopped by pid and its
directory removed even on failure.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from berthd_fixture import DOCKERS, PYTHONS, Berthd  # noqa: E402

BERTHD = os.environ.get("BERTHD", "")
IMAGE = os.environ.get("BERTH_BUSYBOX_IMAGE", "")
TIMEOUT = 120

DOCKERFILE = """\
FROM busybox AS tools
ARG WHO=nobody
RUN echo "built by $WHO" > /built
FROM busybox
WORKDIR /app
COPY --from=tools /built ./built
COPY greeting.txt ./
COPY <<EOF /app/heredoc.txt
from a heredoc
EOF
RUN cat built greeting.txt heredoc.txt > all.txt
CMD ["cat", "/app/all.txt"]
"""

# podman as ANCHORS.md runs it here, with a store of its own and /var/lib private.
PODMAN_PREFIX = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                 'mount -t tmpfs berth-compat /var/lib && exec "$@"', "private-var-lib", "podman"]


def setUpModule():
    global DAEMON, CONTEXT
    if os.geteuid() != 0 or not (BERTHD and IMAGE):
        raise unittest.SkipTest("needs root and BERTHD, BERTH_BUSYBOX_IMAGE")
    if not DOCKERS:
        raise unittest.SkipTest("no docker CLI installed")
    DAEMON = Berthd(BERTHD, "berth-compat-build.")
    CONTEXT = tempfile.mkdtemp(prefix="berth-compat-build-ctx.")
    with open(os.path.join(CONTEXT, "Dockerfile"), "w") as f:
        f.write(DOCKERFILE)
    with open(os.path.join(CONTEXT, "greeting.txt"), "w") as f:
        f.write("hello\n")
    with open(os.path.join(CONTEXT, "ignored.bin"), "w") as f:
        f.write("x" * 1000)
    with open(os.path.join(CONTEXT, ".dockerignore"), "w") as f:
        f.write("*.bin\n")
    subprocess.run([DOCKERS[0], "load", "-q", "-i", IMAGE], env=DAEMON.env(), check=True,
                   capture_output=True, timeout=TIMEOUT)


def tearDownModule():
    if "DAEMON" not in globals():
        return
    shutil.rmtree(CONTEXT, ignore_errors=True)
    env = DAEMON.env()
    ids = subprocess.run([DOCKERS[0], "ps", "-aq"], env=env, capture_output=True, text=True,
                         timeout=TIMEOUT).stdout.split()
    status, log = DAEMON.stop()
    if status != 0 or ids:
        raise AssertionError("berthd exit %d; containers left: %s\n%s" % (status, ids, log[-3000:]))


def docker(binary, *args, env_extra=None, check=True, stdin=None):
    env = DAEMON.env()
    env.pop("DOCKER_BUILDKIT", None)
    env.update(env_extra or {})
    p = subprocess.run([binary] + list(args), env=env, capture_output=True, text=True,
                       timeout=TIMEOUT, input=stdin)
    if check and p.returncode != 0:
        raise AssertionError("%s %s failed (%d):\n%s%s" % (binary, " ".join(args), p.returncode,
                                                          p.stdout, p.stderr))
    return p


class DockerCliTest(unittest.TestCase):
    def test_build_run_and_options(self):
        for i, binary in enumerate(DOCKERS):
            for env in ({}, {"DOCKER_BUILDKIT": "0"}):
                with self.subTest(docker=binary, env=env):
                    tag = "compat/built:%d-%d" % (i, len(env))
                    iid = os.path.join(DAEMON.dir, "iid-%d-%d" % (i, len(env)))
                    p = docker(binary, "build", "-t", tag, "--build-arg", "WHO=cli",
                               "--iidfile", iid, CONTEXT, env_extra=env)
                    self.assertIn("Successfully tagged " + tag, p.stdout)
                    self.assertNotIn("ignored.bin", p.stdout)
                    with open(iid) as f:
                        image_id = f.read().strip()
                    self.assertTrue(image_id.startswith("sha256:"), image_id)
                    inspect = docker(binary, "image", "inspect", "-f", "{{.Id}}", tag).stdout
                    self.assertEqual(inspect.strip(), image_id)
                    out = docker(binary, "run", "--rm", "--network", "none", tag).stdout
                    self.assertEqual(out, "built by cli\nhello\nfrom a heredoc\n")
                    # -q prints the ID only; the second build is all cache.
                    q = docker(binary, "build", "-q", "--build-arg", "WHO=cli", CONTEXT,
                               env_extra=env).stdout.strip()
                    self.assertEqual(q, image_id)
                    # --target stops at the first stage.
                    docker(binary, "build", "-q", "--target", "tools", "-t", tag + "-tools",
                           CONTEXT, env_extra=env)
                    out = docker(binary, "run", "--rm", "--network", "none", tag + "-tools",
                                 "cat", "/built").stdout
                    self.assertEqual(out, "built by nobody\n")

    def test_failing_run_exits_with_its_code(self):
        ctx = tempfile.mkdtemp(prefix="berth-compat-build-fail.")
        try:
            with open(os.path.join(ctx, "Dockerfile"), "w") as f:
                f.write("FROM busybox\nRUN echo failing; exit 7\n")
            for binary in DOCKERS:
                with self.subTest(docker=binary):
                    p = docker(binary, "build", ctx, env_extra={"DOCKER_BUILDKIT": "0"},
                               check=False)
                    self.assertEqual(p.returncode, 7, p.stdout + p.stderr)
                    self.assertIn("returned a non-zero code: 7", p.stderr)
                    self.assertIn("failing", p.stdout)
        finally:
            shutil.rmtree(ctx, ignore_errors=True)

    def test_buildkit_asked_for_is_refused_clearly(self):
        if "/usr/bin/docker" not in DOCKERS:
            self.skipTest("the 20.10 CLI is not installed")
        # The 20.10 CLI opens BuildKit's session first (POST /session, an h2c upgrade) and
        # prints only that it failed, not the daemon's message (which says to unset
        # DOCKER_BUILDKIT: build_api_test checks it); the build must fail and build nothing.
        before = docker("/usr/bin/docker", "images", "-aq").stdout
        p = docker("/usr/bin/docker", "build", CONTEXT, env_extra={"DOCKER_BUILDKIT": "1"},
                   check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("h2c", p.stderr)
        self.assertEqual(docker("/usr/bin/docker", "images", "-aq").stdout, before)


DOCKER_PY_SCRIPT = r"""
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1], version="1.41")
image, logs = c.images.build(path=sys.argv[2], tag="compat/py:" + sys.argv[3],
                             buildargs={"WHO": "docker-py"}, rm=True)
text = "".join(l.get("stream", "") for l in logs)
assert "Successfully built" in text, text
out = c.containers.run(image.id, network_mode="none", remove=True)
assert out == b"built by docker-py\nhello\nfrom a heredoc\n", out
try:
    c.images.build(fileobj=__import__("io").BytesIO(b"FROM busybox\nRUN exit 5\n"), rm=True)
    raise SystemExit("a failing build did not raise")
except docker.errors.BuildError as e:
    assert "non-zero code: 5" in str(e), str(e)
print("ok")
"""


class DockerPyTest(unittest.TestCase):
    def test_docker_py_build(self):
        if not PYTHONS:
            self.skipTest("docker-py is not installed")
        for i, (py, version) in enumerate(PYTHONS):
            with self.subTest(docker_py=version):
                p = subprocess.run([py, "-c", DOCKER_PY_SCRIPT, DAEMON.host, CONTEXT, str(i)],
                                   capture_output=True, text=True, timeout=TIMEOUT)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, "ok\n")


class PodmanTest(unittest.TestCase):
    def test_podman_runs_what_berth_built(self):
        if not shutil.which("podman"):
            self.skipTest("podman is not installed")
        docker(DOCKERS[0], "build", "-q", "-t", "compat/forpodman:1", "--build-arg", "WHO=berth",
               CONTEXT, env_extra={"DOCKER_BUILDKIT": "0"})
        archive = os.path.join(DAEMON.dir, "built.tar")
        docker(DOCKERS[0], "save", "-o", archive, "compat/forpodman:1")
        store = tempfile.mkdtemp(prefix="bpb.", dir="/tmp")  # podman: runroot < 50 chars
        podman = PODMAN_PREFIX + ["--root", store + "/root", "--runroot", store + "/run",
                                  "--tmpdir", store + "/tmp", "--storage-driver", "vfs",
                                  "--cgroup-manager", "cgroupfs", "--events-backend", "none",
                                  "--runtime", "runc"]
        try:
            subprocess.run(podman + ["load", "-q", "-i", archive], check=True,
                           capture_output=True, timeout=TIMEOUT)
            p = subprocess.run(podman + ["run", "--rm", "--network", "none", "--ulimit",
                                         "nofile=20000:20000", "--ulimit", "nproc=32768:32768",
                                         "compat/forpodman:1"],
                               capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, "built by berth\nhello\nfrom a heredoc\n")
        finally:
            subprocess.run(podman + ["rm", "-a", "-f"], capture_output=True, timeout=TIMEOUT)
            subprocess.run(podman + ["rmi", "-a", "-f"], capture_output=True, timeout=TIMEOUT)
            shutil.rmtree(store, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)

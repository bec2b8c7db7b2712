#!/usr/bin/env python3
"""Compatibility of berthd's image endpoints and archives with the tools Docker users have.

One berthd (its own --root, --state and socket in a temp dir) serves every test. Against it:
  * the unchanged docker CLIs: Debian's 20.10 (/usr/bin/docker, API 1.41) and the 28.2
    client in /usr/local/bin (negotiates down), with DOCKER_HOST pointing at berthd;
  * docker-py: Debian's 5.0.3 (/usr/bin/python3) and the pip 7.1.0 (python3 in PATH);
  * archives made by skopeo and umoci load, and what berth saves is read by skopeo, umoci
    and podman with the same digests.

Environment: BERTHD, BERTH (binaries), BERTH_BUSYBOX_IMAGE (the embedded image archive).
Needs root. A tool that is missing skips its tests (install them with
scripts/install-deps.sh). berthd is stopped by pid, the temp dir removed, even on failure.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from berthd_fixture import DOCKERS, PYTHONS, Berthd  # noqa: E402

BERTHD = os.environ.get("BERTHD", "")
BERTH = os.environ.get("BERTH", "")
IMAGE = os.environ.get("BERTH_BUSYBOX_IMAGE", "")
TIMEOUT = 60


def run(cmd, check=True, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(cmd), p.returncode, p.stdout,
                                                     p.stderr))
    return p


# skopeo and podman (containers/image) keep a blob-info cache in /var/lib/containers/cache
# when run as root, with no flag to move it: they run in a private mount namespace with a
# tmpfs over /var/lib, so the test leaves nothing there.
PRIVATE_VAR_LIB = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   'mount -t tmpfs berth-compat /var/lib && exec "$@"', "private-var-lib"]


def skopeo(*args):
    return run(PRIVATE_VAR_LIB + ["skopeo"] + list(args))


def image_config_digest(archive):
    """The image ID inside a docker-save archive: the sha256 of its config's bytes."""
    with tarfile.open(archive) as t:
        manifest = json.load(t.extractfile("manifest.json"))
        config = t.extractfile(manifest[0]["Config"]).read()
    return "sha256:" + hashlib.sha256(config).hexdigest()


def setUpModule():
    global DAEMON
    if os.geteuid() != 0 or not (BERTHD and BERTH and IMAGE):
        raise unittest.SkipTest("needs root and BERTHD, BERTH, BERTH_BUSYBOX_IMAGE")
    DAEMON = Berthd(BERTHD, "berth-compat-images.")


def tearDownModule():
    if "DAEMON" in globals():
        status, log = DAEMON.stop()
        if status != 0:
            raise AssertionError("berthd exited with %d on SIGTERM:\n%s" % (status, log))


class DockerCliTest(unittest.TestCase):
    """The unchanged docker CLIs drive berthd's image endpoints."""

    def docker(self, binary, *args, check=True, **kw):
        return run([binary] + list(args), check=check, env=DAEMON.env(), **kw)

    def check_cli(self, docker):
        tag = "compat/%s:1" % ("v20" if docker == "/usr/bin/docker" else "v28")
        want_id = image_config_digest(IMAGE)
        out = self.docker(docker, "load", "-i", IMAGE).stdout
        self.assertIn("Loaded image: busybox:latest", out)
        images = self.docker(docker, "images").stdout.splitlines()
        self.assertEqual(images[0].split(), ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"])
        self.assertTrue(any(l.split()[:3] == ["busybox", "latest", want_id[7:19]] for l in images),
                        images)
        ids = self.docker(docker, "images", "-q", "--no-trunc", "busybox").stdout.split()
        self.assertEqual(ids, [want_id])
        inspect = json.loads(self.docker(docker, "inspect", "busybox").stdout)
        self.assertEqual(inspect[0]["Id"], want_id)
        self.assertEqual(inspect[0]["Config"]["Cmd"], ["sh"])
        fmt = self.docker(docker, "image", "inspect", "-f", "{{.Os}}/{{index .RepoTags 0}}",
                          "busybox").stdout.strip()
        self.assertEqual(fmt, "linux/busybox:latest")
        history = self.docker(docker, "history", "busybox").stdout.splitlines()
        self.assertIn("CREATED BY", history[0])
        self.assertIn('CMD ["sh"]', history[1])

        self.docker(docker, "tag", "busybox", tag)
        self.assertIn(tag.split(":")[0], self.docker(docker, "images", tag).stdout)
        saved = os.path.join(DAEMON.dir, "saved-%s.tar" % tag.replace("/", "_"))
        self.docker(docker, "save", "-o", saved, tag)
        with tarfile.open(saved) as t:
            manifest = json.load(t.extractfile("manifest.json"))
        self.assertEqual(manifest[0]["RepoTags"], [tag])
        self.assertEqual(image_config_digest(saved), want_id)
        out = self.docker(docker, "rmi", tag).stdout
        self.assertIn("Untagged: " + tag, out)
        self.assertNotIn("Deleted", out, "busybox:latest still names the image")
        # Loading the saved archive from stdin brings the tag back.
        with open(saved, "rb") as f:
            out = self.docker(docker, "load", stdin=f).stdout
        self.assertIn("Loaded image: " + tag, out)
        self.docker(docker, "rmi", tag)

        missing = self.docker(docker, "rmi", "compat/nosuch:1", check=False)
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("No such image", missing.stderr)
        missing = self.docker(docker, "inspect", "compat-nosuch", check=False)
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("No such object: compat-nosuch", missing.stderr)
        bad = self.docker(docker, "load", input="not a tar archive at all" * 40, check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("image archive", bad.stderr + bad.stdout)
        version = self.docker(docker, "version", "--format", "{{.Server.APIVersion}}").stdout
        self.assertEqual(version.strip(), "1.41")
        self.assertIn("Images:", self.docker(docker, "info").stdout)
        self.assertIn("Images", self.docker(docker, "system", "df").stdout)
        out = self.docker(docker, "image", "prune", "-f").stdout
        self.assertIn("Total reclaimed space", out)

    def test_docker_20_10(self):
        if "/usr/bin/docker" not in DOCKERS:
            self.skipTest("Debian's docker.io (20.10 CLI) is not installed")
        self.check_cli("/usr/bin/docker")

    def test_docker_28(self):
        if "/usr/local/bin/docker" not in DOCKERS:
            self.skipTest("no docker 28 CLI in /usr/local/bin")
        self.check_cli("/usr/local/bin/docker")
        # Pinned to its own API version instead of negotiating: served as 1.41.
        env = DAEMON.env()
        env["DOCKER_API_VERSION"] = "1.50"
        out = run(["/usr/local/bin/docker", "images", "--format", "{{.Repository}}"], env=env)
        self.assertIn("busybox", out.stdout.split())


DOCKER_PY_SCRIPT = r"""
import json, sys, docker
image_tar, want_id, workdir = sys.argv[1:4]
c = docker.DockerClient(base_url=sys.argv[4], version="auto")
with open(image_tar, "rb") as f:
    loaded = c.images.load(f.read())
assert [i.id for i in loaded] == [want_id], loaded
img = c.images.get("busybox")
assert img.id == want_id and "busybox:latest" in img.tags, img.tags
assert img.attrs["RootFS"]["Type"] == "layers"
assert img.history()[0]["CreatedBy"] == 'CMD ["sh"]'
assert img.tag("compat/py", "1")
assert any("compat/py:1" in i.tags for i in c.images.list())
assert [i.id for i in c.images.list(filters={"reference": "compat/*"})] == [want_id]
data = b"".join(c.images.get("compat/py:1").save(named=True))
assert len(data) > 1000
c.images.remove("compat/py:1")
try:
    c.images.get("compat/py:1")
    raise SystemExit("still there")
except docker.errors.ImageNotFound:
    pass
again = c.images.load(data)
assert [i.id for i in again] == [want_id]
c.images.remove("compat/py:1")
print(json.dumps(c.images.prune(filters={"dangling": True})))
print(c.version()["ApiVersion"])
"""


class DockerPyTest(unittest.TestCase):
    def test_docker_py(self):
        if not PYTHONS:
            self.skipTest("docker-py is not installed")
        for py, version in PYTHONS:
            with self.subTest(docker_py=version):
                out = run([py, "-c", DOCKER_PY_SCRIPT, IMAGE, image_config_digest(IMAGE),
                           DAEMON.dir, DAEMON.host]).stdout
                self.assertIn("1.41", out)


class ForeignArchivesTest(unittest.TestCase):
    """skopeo and umoci write archives berth loads; berth's archives read back the same."""

    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="work.", dir=DAEMON.dir)

    def tearDown(self):
        shutil.rmtree(self.work, ignore_errors=True)

    def berth(self, *args, **kw):
        return run([BERTH, "-H", DAEMON.host] + list(args), **kw)

    def test_skopeo_docker_archive_loads(self):
        if not shutil.which("skopeo"):
            self.skipTest("skopeo is not installed")
        out = os.path.join(self.work, "skopeo.tar")
        skopeo("copy", "docker-archive:" + IMAGE, "docker-archive:%s:compat/skopeo:1" % out)
        self.assertIn("Loaded image: compat/skopeo:1", self.berth("load", "-i", out).stdout)
        inspect = json.loads(self.berth("image", "inspect", "compat/skopeo:1").stdout)
        self.assertEqual(inspect[0]["Id"], image_config_digest(IMAGE))
        # An oci-archive from skopeo (which rewrites the config for OCI media types): its
        # ref name is only a tag, so it loads by ID.
        oci = os.path.join(self.work, "skopeo-oci.tar")
        skopeo("copy", "docker-archive:" + IMAGE, "oci-archive:%s:v1" % oci)
        with tarfile.open(oci) as t:
            index = json.load(t.extractfile("index.json"))
            manifest = json.load(t.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]))
        self.assertIn("Loaded image ID: " + manifest["config"]["digest"],
                      self.berth("load", "-i", oci).stdout)
        self.berth("rmi", manifest["config"]["digest"])
        self.berth("rmi", "compat/skopeo:1")

    def test_umoci_layout_loads(self):
        if not shutil.which("umoci"):
            self.skipTest("umoci is not installed")
        layout = os.path.join(self.work, "layout")
        run(["umoci", "init", "--layout", layout])
        run(["umoci", "new", "--image", layout + ":base"])
        payload = os.path.join(self.work, "hello.txt")
        with open(payload, "w") as f:
            f.write("made by umoci\n")
        run(["umoci", "insert", "--image", layout + ":base", payload, "/hello.txt"])
        run(["umoci", "config", "--image", layout + ":base", "--config.cmd", "cat",
             "--config.cmd", "/hello.txt"])
        with open(os.path.join(layout, "index.json")) as f:
            manifest_digest = json.load(f)["manifests"][0]["digest"]
        with open(os.path.join(layout, "blobs", "sha256", manifest_digest[7:])) as f:
            config_digest = json.load(f)["config"]["digest"]
        out = self.berth("load", "-i", layout).stdout  # a directory: sent as a tar
        self.assertIn("Loaded image ID: " + config_digest, out)
        inspect = json.loads(self.berth("image", "inspect", config_digest).stdout)
        self.assertEqual(inspect[0]["Config"]["Cmd"], ["cat", "/hello.txt"])
        # Saved again, the manifest is umoci's own: the same digest.
        saved = os.path.join(self.work, "umoci-again.tar")
        self.berth("save", "--oci", "-o", saved, config_digest)
        with tarfile.open(saved) as t:
            index = json.load(t.extractfile("index.json"))
        self.assertEqual(index["manifests"][0]["digest"], manifest_digest)
        self.berth("rmi", config_digest)

    def saved_archive(self, oci):
        self.berth("load", "-i", IMAGE)
        self.berth("tag", "busybox", "compat/saved:1")
        path = os.path.join(self.work, "saved-oci.tar" if oci else "saved.tar")
        args = ["save", "-o", path] + (["--oci"] if oci else []) + ["compat/saved:1"]
        self.berth(*args)
        self.berth("rmi", "compat/saved:1")
        with tarfile.open(path) as t:
            index = json.load(t.extractfile("index.json"))
            manifest = json.load(t.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]))
        return path, index["manifests"][0]["digest"], manifest

    def test_skopeo_reads_what_berth_saves(self):
        if not shutil.which("skopeo"):
            self.skipTest("skopeo is not installed")
        path, manifest_digest, manifest = self.saved_archive(oci=True)
        info = json.loads(skopeo("inspect", "oci-archive:%s:1" % path).stdout)
        self.assertEqual(info["Digest"], manifest_digest)
        self.assertEqual(info["Layers"], [l["digest"] for l in manifest["layers"]])
        path, _, manifest = self.saved_archive(oci=False)
        config = json.loads(skopeo("inspect", "--config", "docker-archive:" + path).stdout)
        self.assertEqual(config["rootfs"]["diff_ids"], [l["digest"] for l in manifest["layers"]])
        raw = skopeo("inspect", "--raw", "docker-archive:" + path).stdout
        self.assertEqual(json.loads(raw)["config"]["digest"], image_config_digest(IMAGE))

    def test_umoci_reads_what_berth_saves(self):
        if not shutil.which("umoci"):
            self.skipTest("umoci is not installed")
        path, manifest_digest, _ = self.saved_archive(oci=True)
        layout = os.path.join(self.work, "layout")
        os.mkdir(layout)
        with tarfile.open(path) as t:
            t.extractall(layout)
        stat = json.loads(run(["umoci", "stat", "--json", "--image", layout + ":1"]).stdout)
        self.assertTrue(stat["history"])
        bundle = os.path.join(self.work, "bundle")
        run(["umoci", "unpack", "--image", layout + ":1", bundle])
        self.assertTrue(os.path.islink(os.path.join(bundle, "rootfs", "bin", "sh")))
        ls = run(["umoci", "ls", "--layout", layout]).stdout.split()
        self.assertEqual(ls, ["1"])
        self.assertTrue(os.path.exists(os.path.join(layout, "blobs", "sha256", manifest_digest[7:])))

    def test_podman_loads_what_berth_saves(self):
        if not shutil.which("podman"):
            self.skipTest("podman is not installed")
        path, _, _ = self.saved_archive(oci=False)
        store = tempfile.mkdtemp(prefix="bpm.", dir="/tmp")  # podman: runroot < 50 chars
        # --tmpdir and no events: podman keeps neither lock files nor an event log in /run.
        podman = PRIVATE_VAR_LIB + ["podman", "--root", store + "/root", "--runroot", store + "/run",
                  "--tmpdir", store + "/tmp", "--storage-driver", "vfs",
                  "--cgroup-manager", "cgroupfs", "--events-backend", "none"]
        try:
            out = run(podman + ["load", "-i", path]).stdout
            self.assertIn("compat/saved:1", out)
            ids = run(podman + ["images", "--no-trunc", "--format", "{{.ID}}"]).stdout.split()
            self.assertIn(image_config_digest(IMAGE), ["sha256:" + i.replace("sha256:", "") for i in ids])
        finally:
            run(podman + ["rmi", "-a", "-f"], check=False)
            shutil.rmtree(store, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)

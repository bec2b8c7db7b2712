#!/usr/bin/env python3
"""berth-registry under skopeo: images copied in (from the project's busybox docker-save
archive and from an OCI layout) and out again, manifests and layer digests compared; tags
listed and deleted; with htpasswd and with token auth (right and wrong credentials); and
docker:// to docker:// between berth-registry and Debian's docker-registry when it is
installed. Skips (exit 0) without skopeo.

Environment: BERTH_REGISTRY, BERTH_BUSYBOX_IMAGE. No root needed.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry_fixture import DockerRegistry, Registry  # noqa: E402

BIN = os.environ.get("BERTH_REGISTRY", "")
IMAGE = os.environ.get("BERTH_BUSYBOX_IMAGE", "")
SKOPEO = shutil.which("skopeo")
DOCKER_REGISTRY = shutil.which("docker-registry")
# alice/secret (bcrypt)
ALICE = "alice:$2b$05$w5FR90M0ByTEZ/fqlqnu6upTuq7xbzUOR7dQ/xLpvCt.G1hDczxVi\n"


def skopeo(*args, check=True):
    r = subprocess.run([SKOPEO, "--insecure-policy"] + list(args), capture_output=True,
                       text=True, timeout=300)
    if check and r.returncode != 0:
        raise AssertionError("skopeo %s failed: %s" % (" ".join(args), r.stderr))
    return r


def layout_digests(layout, tag):
    """The manifest digest of `tag` in an OCI layout and the digests of its config and layers."""
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    desc = [m for m in index["manifests"]
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag][0]
    with open(os.path.join(layout, "blobs", "sha256", desc["digest"][7:]), "rb") as f:
        manifest = json.load(f)
    blobs = [manifest["config"]["digest"]] + [l["digest"] for l in manifest["layers"]]
    for b in blobs:  # and the bytes are what their names say
        with open(os.path.join(layout, "blobs", "sha256", b[7:]), "rb") as f:
            assert "sha256:" + hashlib.sha256(f.read()).hexdigest() == b, b
    return desc["digest"], blobs


@unittest.skipIf(not SKOPEO, "skopeo is not installed")
class SkopeoTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="berth-registry-compat.")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def stop(self, reg):
        code, log = reg.stop()
        self.assertIn(code, (0, None), log[-3000:])

    def round_trip(self, reg, repo, creds=()):
        """docker-archive -> registry -> dir (manifest bytes unchanged) and -> oci layout ->
        registry again (an OCI manifest) -> oci layout (unchanged); digests compared at each
        step. Returns the digest of the first manifest."""
        dest = "docker://%s/%s" % (reg.addr, repo)
        src_creds = [c.replace("--dest-", "--src-") for c in creds]
        any_creds = [c.replace("--dest-", "--") for c in creds]
        skopeo("copy", "--dest-tls-verify=false", *creds, "docker-archive:" + IMAGE, dest + ":1")
        raw = skopeo("inspect", "--tls-verify=false", "--raw", *any_creds, dest + ":1").stdout
        digest = "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
        layers = [l["digest"] for l in json.loads(raw)["layers"]]
        # dir: keeps the manifest as served: its bytes hash to the same digest.
        d = os.path.join(self.tmp, repo.replace("/", "_") + ".dir")
        skopeo("copy", "--src-tls-verify=false", *src_creds, dest + ":1", "dir:" + d)
        with open(os.path.join(d, "manifest.json"), "rb") as f:
            self.assertEqual("sha256:" + hashlib.sha256(f.read()).hexdigest(), digest)
        for l in layers:
            with open(os.path.join(d, l[7:]), "rb") as f:
                self.assertEqual("sha256:" + hashlib.sha256(f.read()).hexdigest(), l)
        # oci: converts to an OCI manifest (same layers); that goes back in and out unchanged.
        out = os.path.join(self.tmp, repo.replace("/", "_") + ".oci")
        skopeo("copy", "--src-tls-verify=false", *src_creds, dest + ":1", "oci:%s:1" % out)
        oci_manifest, oci_blobs = layout_digests(out, "1")
        self.assertEqual(oci_blobs[1:], layers)
        skopeo("copy", "--dest-tls-verify=false", *creds, "oci:%s:1" % out, dest + ":oci")
        raw2 = skopeo("inspect", "--tls-verify=false", "--raw", *any_creds, dest + ":oci").stdout
        self.assertEqual(json.loads(raw2)["mediaType"], "application/vnd.oci.image.manifest.v1+json")
        self.assertEqual("sha256:" + hashlib.sha256(raw2.encode()).hexdigest(), oci_manifest)
        back = os.path.join(self.tmp, repo.replace("/", "_") + ".back")
        skopeo("copy", "--src-tls-verify=false", *src_creds, dest + ":oci", "oci:%s:x" % back)
        self.assertEqual(layout_digests(back, "x"), (oci_manifest, oci_blobs))
        return digest

    def test_plain(self):
        reg = Registry(BIN)
        try:
            self.round_trip(reg, "compat/busybox")
            tags = json.loads(skopeo("list-tags", "--tls-verify=false",
                                     "docker://%s/compat/busybox" % reg.addr).stdout)
            self.assertEqual(sorted(tags["Tags"]), ["1", "oci"])
            # skopeo deletes by digest: the manifest goes, and with it its tag.
            skopeo("delete", "--tls-verify=false", "docker://%s/compat/busybox:oci" % reg.addr)
            r = skopeo("inspect", "--tls-verify=false", "docker://%s/compat/busybox:oci" % reg.addr,
                       check=False)
            self.assertNotEqual(r.returncode, 0)
            tags = json.loads(skopeo("list-tags", "--tls-verify=false",
                                     "docker://%s/compat/busybox" % reg.addr).stdout)
            self.assertEqual(tags["Tags"], ["1"])
        finally:
            self.stop(reg)

    def auth_config(self, token):
        ht = os.path.join(self.tmp, "htpasswd")
        with open(ht, "w") as f:
            f.write(ALICE)
        cfg = os.path.join(self.tmp, "config.json")
        auth = {"htpasswd": ht}
        if token:
            auth["token"] = {"ttl": 120}
        with open(cfg, "w") as f:
            json.dump({"auth": auth}, f)
        return ["--config", cfg]

    def check_auth(self, token):
        reg = Registry(BIN, self.auth_config(token))
        try:
            dest = "docker://%s/auth/busybox:1" % reg.addr
            r = skopeo("copy", "--dest-tls-verify=false", "docker-archive:" + IMAGE, dest,
                       check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertRegex(r.stderr.lower(), "authentication required|unauthorized|denied")
            r = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:wrong",
                       "docker-archive:" + IMAGE, dest, check=False)
            self.assertNotEqual(r.returncode, 0)
            self.round_trip(reg, "auth/busybox", ["--dest-creds", "alice:secret"])
            log = reg.read_log()
            self.assertIn("user=alice", log)
            if token:
                self.assertIn('"GET /token?', log)
        finally:
            self.stop(reg)

    def test_htpasswd(self):
        self.check_auth(token=False)

    def test_token(self):
        self.check_auth(token=True)

    @unittest.skipIf(not DOCKER_REGISTRY, "docker-registry is not installed")
    def test_to_and_from_docker_registry(self):
        reg = Registry(BIN)
        dreg = DockerRegistry()
        try:
            digest = self.round_trip(reg, "x/busybox")
            skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                   "docker://%s/x/busybox:1" % reg.addr, "docker://%s/y/busybox:1" % dreg.addr)
            skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                   "docker://%s/y/busybox:1" % dreg.addr, "docker://%s/z/busybox:1" % reg.addr)
            for addr, repo in ((dreg.addr, "y/busybox"), (reg.addr, "z/busybox")):
                raw = skopeo("inspect", "--tls-verify=false", "--raw",
                             "docker://%s/%s:1" % (addr, repo)).stdout
                self.assertEqual("sha256:" + hashlib.sha256(raw.encode()).hexdigest(), digest)
        finally:
            dreg.stop()
            self.stop(reg)


if __name__ == "__main__":
    if not BIN or not os.access(BIN, os.X_OK) or not os.path.exists(IMAGE):
        print("BERTH_REGISTRY and BERTH_BUSYBOX_IMAGE must name the binary and the image")
        sys.exit(1)
    warnings.simplefilter("ignore", ResourceWarning)
    unittest.main(verbosity=2)

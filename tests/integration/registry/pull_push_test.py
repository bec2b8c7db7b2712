#!/usr/bin/env python3
"""berthd's registry client through its raw Engine API: push an image loaded from the busybox
archive to berth-registry, remove it, pull it back (image ID and digests compared), pull by
digest, a ten-layer image in parallel, a missing tag (404 before streaming), htpasswd and token
auth with right, wrong and no credentials (POST /auth too), a registry behind a proxy that
cuts the connection mid-blob (resumed with Range; or a clear error and no partial blob when it
always cuts), a wrong blob (digest refused, nothing stored).

Environment: BERTHD, BERTH_REGISTRY, BERTH_BUSYBOX_IMAGE, BERTH_MAKE_IMAGE (bench/make_image.py).
Needs root (berthd unpacks layers with their owners). Network only on 127.0.0.1 with ports the
kernel picks; every server is stopped by pid and its directory removed.
"""

import base64
import hashlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "compat"))
from berthd_fixture import TestNetwork  # noqa: E402
from registry_fixture import Registry  # noqa: E402

BERTHD = os.environ.get("BERTHD", "")
REGISTRY = os.environ.get("BERTH_REGISTRY", "")
IMAGE = os.environ.get("BERTH_BUSYBOX_IMAGE", "")
MAKE_IMAGE = os.environ.get("BERTH_MAKE_IMAGE",
                            os.path.join(HERE, "..", "..", "..", "bench", "make_image.py"))


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(120)
        self.sock.connect(self.path)


class Daemon:
    def __init__(self, config=None):
        self.dir = tempfile.mkdtemp(prefix="berth-pull-test.")
        self.sock = os.path.join(self.dir, "berth.sock")
        args = [BERTHD, "--root", os.path.join(self.dir, "root"), "--state",
                os.path.join(self.dir, "state"), "-H", "unix://" + self.sock]
        # Networking of its own, so daemons of parallel tests never share a bridge or subnet.
        self.net = TestNetwork()
        path = os.path.join(self.dir, "daemon.json")
        with open(path, "w") as f:
            json.dump(dict(self.net.config(), **(config or {})), f)
        args += ["--config-file", path]
        self.log = open(os.path.join(self.dir, "berthd.log"), "a")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        # Until it accepts: the socket file exists from bind(), before listen().
        deadline = time.time() + 10
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.sock)
                s.close()
                break
            except OSError:
                s.close()
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("berthd did not start: " + self.stop())
            time.sleep(0.02)

    def request(self, method, path, body=None, headers=None):
        c = UnixConn(self.sock)
        c.request(method, "/v1.41" + path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def stream(self, method, path, auth=None):
        """A progress stream: (status, [messages])."""
        headers = {}
        if auth is not None:
            headers["X-Registry-Auth"] = base64.urlsafe_b64encode(
                json.dumps(auth).encode()).decode()
        status, data = self.request(method, path, headers=headers)
        if status != 200:
            return status, [json.loads(data)]
        return status, [json.loads(line) for line in data.decode().split("\r\n") if line]

    def build(self, dockerfile, registry_config=None, tag=None):
        """POST /build of a context holding only `dockerfile`: the stream's messages."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(dockerfile.encode())
            t.addfile(info, io.BytesIO(dockerfile.encode()))
        headers = {"Content-Type": "application/x-tar"}
        if registry_config is not None:
            headers["X-Registry-Config"] = base64.urlsafe_b64encode(
                json.dumps(registry_config).encode()).decode()
        status, data = self.request("POST", "/build" + ("?t=" + tag if tag else ""),
                                    body=buf.getvalue(), headers=headers)
        assert status == 200, data
        return [json.loads(line) for line in data.decode().split("\r\n") if line]

    def json(self, method, path, body=None):
        status, data = self.request(method, path, body=body)
        return status, json.loads(data) if data else None

    def load(self, path):
        with open(path, "rb") as f:
            status, data = self.request("POST", "/images/load?quiet=1", body=f.read(),
                                        headers={"Content-Type": "application/x-tar"})
        assert status == 200, data
        return [json.loads(l)["stream"].split(": ", 1)[1].strip()
                for l in data.decode().split("\r\n") if l and "stream" in json.loads(l)]

    def blobs(self):
        d = os.path.join(self.dir, "root", "content", "blobs", "sha256")
        return set(os.listdir(d)) if os.path.isdir(d) else set()

    def ingest(self):
        d = os.path.join(self.dir, "root", "content", "ingest")
        return os.listdir(d) if os.path.isdir(d) else []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        with open(os.path.join(self.dir, "berthd.log")) as f:
            log = f.read()
        self.net.remove()
        shutil.rmtree(self.dir, ignore_errors=True)
        return log


class CuttingProxy:
    """Forwards 127.0.0.1:<port> to the registry; cuts a connection after `cut` bytes of a
    blob GET's answer, `times` times (-1: always)."""

    def __init__(self, upstream_port, cut, times, hold=None):
        self.upstream = upstream_port
        self.cut = cut
        self.times = times
        self.cuts = 0
        # hold: a threading.Event the answer to a blob GET waits for (`held` counts them).
        self.hold = hold
        self.held = 0
        self.lock = threading.Lock()
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(64)
        self.port = self.srv.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while self.running:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            u = socket.create_connection(("127.0.0.1", self.upstream))
        except OSError:
            c.close()
            return
        state = {"blob": False, "sent": 0, "closed": False}

        def close():
            state["closed"] = True
            for s in (c, u):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

        def up():
            while not state["closed"]:
                try:
                    data = c.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                if b"GET /v2/" in data and b"/blobs/sha256:" in data:
                    state["blob"], state["sent"] = True, 0
                try:
                    u.sendall(data)
                except OSError:
                    break
            close()

        threading.Thread(target=up, daemon=True).start()
        while not state["closed"]:
            try:
                data = u.recv(65536)
            except OSError:
                break
            if not data:
                break
            if state["blob"] and self.hold is not None and state["sent"] == 0:
                with self.lock:
                    self.held += 1
                self.hold.wait()
            if state["blob"]:
                left = self.cut - state["sent"]
                with self.lock:
                    cutting = 0 <= left < len(data) and (self.times < 0 or self.cuts < self.times)
                    if cutting:
                        self.cuts += 1
                if cutting:
                    try:
                        c.sendall(data[:left])
                    except OSError:
                        pass
                    break
                state["sent"] += len(data)
            try:
                c.sendall(data)
            except OSError:
                break
        close()

    def stop(self):
        self.running = False
        self.srv.close()


def bcrypt(password):
    import crypt  # noqa: deprecated, but present in Debian 12's python
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32))


@unittest.skipIf(os.geteuid() != 0, "needs root (berthd)")
@unittest.skipIf(not (BERTHD and REGISTRY and IMAGE), "BERTHD, BERTH_REGISTRY, "
                 "BERTH_BUSYBOX_IMAGE not set")
class PullPushTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="berth-pull-test-files.")
        self.servers = []
        self.daemons = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        for d in self.daemons:
            log = d.stop()
            if d.proc.returncode not in (0, None):
                print(log)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def registry(self, args=()):
        r = Registry(REGISTRY, list(args))
        self.servers.append(r)
        return r

    def daemon(self, config=None):
        d = Daemon(config)
        self.daemons.append(d)
        return d

    def push_busybox(self, d, addr, repo="t/bb", tag="1", auth=None):
        d.load(IMAGE)
        st, _ = d.json("POST", "/images/busybox:latest/tag?repo=%s/%s&tag=%s" % (addr, repo, tag))
        self.assertEqual(st, 201)
        st, msgs = d.stream("POST", "/images/%s/%s/push?tag=%s" % (addr, repo, tag), auth)
        return st, msgs

    def assert_clean(self, d):
        st, check = d.json("GET", "/system/check")
        self.assertEqual(check["Problems"], [])
        self.assertEqual(d.ingest(), [])

    def test_push_remove_pull_round_trip(self):
        reg = self.registry()
        d = self.daemon()
        st, msgs = self.push_busybox(d, reg.addr)
        self.assertEqual(st, 200, msgs)
        self.assertFalse([m for m in msgs if "error" in m], msgs)
        self.assertEqual(msgs[0]["status"], "The push refers to repository [%s/t/bb]" % reg.addr)
        self.assertIn("Pushed", [m.get("status") for m in msgs])
        aux = [m["aux"] for m in msgs if "aux" in m][0]
        self.assertEqual(aux["Tag"], "1")
        ref = "%s/t/bb:1" % reg.addr
        st, before = d.json("GET", "/images/%s/json" % ref)
        self.assertIn("%s/t/bb@%s" % (reg.addr, aux["Digest"]), before["RepoDigests"])
        # The registry has what was pushed, under that digest.
        c = http.client.HTTPConnection("127.0.0.1", reg.port)
        c.request("GET", "/v2/t/bb/manifests/1",
                  headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        r = c.getresponse()
        body = r.read()
        self.assertEqual("sha256:" + hashlib.sha256(body).hexdigest(), aux["Digest"])
        self.assertEqual(aux["Size"], len(body))
        # A second push finds every layer there.
        st, again = d.stream("POST", "/images/%s/t/bb/push?tag=1" % reg.addr)
        self.assertIn("Layer already exists", [m.get("status") for m in again])
        # Remove it all, pull it back.
        st, _ = d.json("DELETE", "/images/%s?force=1" % before["Id"])
        self.assertEqual(st, 200)
        st, _ = d.json("DELETE", "/images/busybox:latest")
        self.assertEqual(d.blobs(), set())
        st, msgs = d.stream("POST", "/images/create?fromImage=%s/t/bb&tag=1" % reg.addr)
        self.assertEqual(st, 200, msgs)
        statuses = [m.get("status", "") for m in msgs]
        self.assertFalse([m for m in msgs if "error" in m], msgs)
        self.assertEqual(statuses[0], "Pulling from t/bb")
        for s in ("Pulling fs layer", "Downloading", "Verifying Checksum", "Download complete",
                  "Extracting", "Pull complete"):
            self.assertIn(s, statuses)
        self.assertEqual(statuses[-2], "Digest: " + aux["Digest"])
        self.assertEqual(statuses[-1], "Status: Downloaded newer image for " + ref)
        st, after = d.json("GET", "/images/%s/json" % ref)
        self.assertEqual(after["Id"], before["Id"])
        self.assertEqual(after["RootFS"], before["RootFS"])
        self.assertIn("%s/t/bb@%s" % (reg.addr, aux["Digest"]), after["RepoDigests"])
        self.assert_clean(d)
        # Pulled again: up to date, nothing fetched.
        st, msgs = d.stream("POST", "/images/create?fromImage=%s/t/bb&tag=1" % reg.addr)
        self.assertEqual(msgs[-1]["status"], "Status: Image is up to date for " + ref)
        self.assertIn("Already exists", [m.get("status") for m in msgs])
        # By digest, into a fresh daemon.
        d2 = self.daemon()
        st, msgs = d2.stream("POST", "/images/create?fromImage=%s/t/bb&tag=%s" %
                             (reg.addr, aux["Digest"]))
        self.assertEqual(st, 200, msgs)
        st, byd = d2.json("GET", "/images/%s/t/bb@%s/json" % (reg.addr, aux["Digest"]))
        self.assertEqual(st, 200)
        self.assertEqual(byd["Id"], before["Id"])
        self.assertEqual(byd["RepoTags"], [])
        self.assert_clean(d2)
        # A missing tag or repository: 404 before anything streams.
        st, msgs = d2.stream("POST", "/images/create?fromImage=%s/t/bb&tag=nope" % reg.addr)
        self.assertEqual(st, 404)
        self.assertIn("not found", msgs[0]["message"])
        st, msgs = d2.stream("POST", "/images/create?fromImage=%s/t/bb&tag=sha256:%s" %
                             (reg.addr, "0" * 64))
        self.assertEqual(st, 404)
        # Another repository of the same registry: the layer is mounted, not uploaded.
        st, _ = d.json("POST", "/images/%s/tag?repo=%s/u/bb&tag=2" % (ref, reg.addr))
        st, msgs = d.stream("POST", "/images/%s/u/bb/push?tag=2" % reg.addr)
        self.assertIn("Mounted from t/bb", [m.get("status") for m in msgs], msgs)

    def test_parallel_layers_and_chunked_push(self):
        reg = self.registry()
        d = self.daemon({"max-concurrent-downloads": 4, "push-chunk-size": 65536})
        tar = os.path.join(self.tmp, "ten.tar")
        subprocess.run([sys.executable, MAKE_IMAGE, tar, "ten:1", "ten"], check=True)
        d.load(tar)
        st, _ = d.json("POST", "/images/ten:1/tag?repo=%s/ten&tag=1" % reg.addr)
        st, msgs = d.stream("POST", "/images/%s/ten/push?tag=1" % reg.addr)
        self.assertFalse([m for m in msgs if "error" in m], msgs)
        self.assertEqual([m.get("status") for m in msgs].count("Pushed"), 10)
        st, before = d.json("GET", "/images/ten:1/json")
        d2 = self.daemon({"max-concurrent-downloads": 4})
        st, msgs = d2.stream("POST", "/images/create?fromImage=%s/ten&tag=1" % reg.addr)
        self.assertFalse([m for m in msgs if "error" in m], msgs)
        statuses = [m.get("status") for m in msgs]
        self.assertEqual(statuses.count("Pull complete"), 10)
        self.assertEqual(statuses.count("Waiting"), 6)  # 10 layers, 4 at a time
        st, after = d2.json("GET", "/images/%s/ten:1/json" % reg.addr)
        self.assertEqual(after["Id"], before["Id"])
        self.assert_clean(d2)
        # All tags of the repository.
        st, _ = d.json("POST", "/images/ten:1/tag?repo=%s/ten&tag=2" % reg.addr)
        d.stream("POST", "/images/%s/ten/push?tag=2" % reg.addr)
        d3 = self.daemon()
        st, msgs = d3.stream("POST", "/images/create?fromImage=%s/ten" % reg.addr)
        self.assertFalse([m for m in msgs if "error" in m], msgs)
        st, img = d3.json("GET", "/images/%s/ten:2/json" % reg.addr)
        self.assertEqual(sorted(img["RepoTags"]), ["%s/ten:1" % reg.addr, "%s/ten:2" % reg.addr])

    def test_index_platforms_and_mirror(self):
        reg = self.registry()
        d = self.daemon()
        st, msgs = self.push_busybox(d, reg.addr)
        digest = [m["aux"]["Digest"] for m in msgs if "aux" in m][0]
        c = http.client.HTTPConnection("127.0.0.1", reg.port)
        c.request("GET", "/v2/t/bb/manifests/1",
                  headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        r = c.getresponse()
        manifest = r.read()
        mtype = r.getheader("Content-Type")
        # An index naming that manifest for two platforms (the bytes are the same image).
        entry = {"mediaType": mtype, "digest": digest, "size": len(manifest)}
        index = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [dict(entry, platform={"os": "linux", "architecture": "arm64"}),
                          dict(entry, platform={"os": "linux", "architecture": "amd64"})]
        }).encode()
        index_digest = "sha256:" + hashlib.sha256(index).hexdigest()
        c.request("PUT", "/v2/t/bb/manifests/multi", body=index,
                  headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
        r = c.getresponse()
        r.read()
        self.assertEqual(r.status, 201)
        d2 = self.daemon()
        for platform in ("", "linux/arm64", "linux/arm64/v8"):
            st, msgs = d2.stream("POST", "/images/create?fromImage=%s/t/bb&tag=multi&platform=%s"
                                 % (reg.addr, platform))
            self.assertFalse([m for m in msgs if "error" in m], msgs)
            # The name's digest is the index's, as dockerd records it.
            self.assertEqual(msgs[-2]["status"], "Digest: " + index_digest)
        st, img = d2.json("GET", "/images/%s/t/bb:multi/json" % reg.addr)
        self.assertIn("%s/t/bb@%s" % (reg.addr, index_digest), img["RepoDigests"])
        st, msgs = d2.stream("POST", "/images/create?fromImage=%s/t/bb&tag=multi&platform="
                             "linux/s390x" % reg.addr)
        self.assertEqual(st, 404, msgs)
        self.assertIn("no matching manifest for linux/s390x", msgs[0]["message"])
        self.assert_clean(d2)
        # docker.io names come from the registry-mirrors, here this registry.
        st, _ = d.json("POST", "/images/busybox:latest/tag?repo=%s/library/mirrored&tag=1"
                       % reg.addr)
        st, msgs = d.stream("POST", "/images/%s/library/mirrored/push?tag=1" % reg.addr)
        self.assertFalse([m for m in msgs if "error" in m], msgs)
        d3 = self.daemon({"registry-mirrors": ["http://" + reg.addr]})
        st, msgs = d3.stream("POST", "/images/create?fromImage=mirrored&tag=1")
        self.assertEqual(st, 200, msgs)
        self.assertEqual(msgs[-1]["status"], "Status: Downloaded newer image for mirrored:1")
        st, img = d3.json("GET", "/images/mirrored:1/json")
        self.assertEqual(st, 200)
        # Without mirrors a docker.io name is refused, saying why.
        st, msgs = d2.stream("POST", "/images/create?fromImage=mirrored&tag=1")
        self.assertEqual(st, 503, msgs)
        self.assertIn("registry-mirrors", msgs[0]["message"])

    def check_auth(self, reg):
        d = self.daemon()
        good = {"username": "alice", "password": "secret", "serveraddress": reg.addr}
        bad = {"username": "alice", "password": "wrong", "serveraddress": reg.addr}
        # POST /auth
        st, body = d.json("POST", "/auth", json.dumps(good))
        self.assertEqual((st, body["Status"]), (200, "Login Succeeded"))
        st, body = d.json("POST", "/auth", json.dumps(bad))
        self.assertEqual(st, 403, body)
        # Push without, with wrong and with right credentials.
        for creds in (None, bad):
            st, msgs = self.push_busybox(d, reg.addr, auth=creds)
            self.assertTrue(st != 200 or any("error" in m for m in msgs), msgs)
        st, msgs = self.push_busybox(d, reg.addr, auth=good)
        self.assertFalse([m for m in msgs if "error" in m], msgs)
        d2 = self.daemon()
        for creds in (None, bad):
            st, msgs = d2.stream("POST", "/images/create?fromImage=%s/t/bb&tag=1" % reg.addr,
                                 creds)
            self.assertEqual(st, 403, msgs)
        st, msgs = d2.stream("POST", "/images/create?fromImage=%s/t/bb&tag=1" % reg.addr, good)
        self.assertEqual(st, 200, msgs)
        self.assertFalse([m for m in msgs if "error" in m], msgs)
        self.assert_clean(d2)
        # A build whose base is only in that registry pulls it with the X-Registry-Config
        # credentials (every registry's, keyed as config.json keys them).
        d3 = self.daemon()
        for config in (None, {"other.lan:5000": good}, {"http://%s/v2/" % reg.addr: bad}):
            msgs = d3.build("FROM %s/t/bb:1\nLABEL built=yes\n" % reg.addr, config)
            self.assertTrue(any("error" in m for m in msgs), msgs)
        msgs = d3.build("FROM %s/t/bb:1\nLABEL built=yes\n" % reg.addr,
                        {"https://index.docker.io/v1/": bad, "http://%s/v2/" % reg.addr: good},
                        tag="built:1")
        self.assertFalse([m for m in msgs if "error" in m], msgs)
        st, built = d3.json("GET", "/images/built:1/json")
        self.assertEqual(built["Config"]["Labels"]["built"], "yes")

    def htpasswd(self):
        path = os.path.join(self.tmp, "htpasswd")
        with open(path, "w") as f:
            f.write("alice:%s\n" % bcrypt("secret"))
        return path

    def test_htpasswd(self):
        self.check_auth(self.registry(["--htpasswd", self.htpasswd()]))

    def test_token_auth(self):
        self.check_auth(self.registry(["--htpasswd", self.htpasswd(), "--token-auth"]))

    def test_dropped_connection_is_resumed(self):
        reg = self.registry()
        d = self.daemon()
        st, msgs = self.push_busybox(d, reg.addr)
        self.assertFalse([m for m in msgs if "error" in m], msgs)
        proxy = CuttingProxy(reg.port, cut=700 * 1024, times=2)
        self.servers.append(proxy)
        # The same registry seen through the proxy: 127.0.0.1:<proxy port>.
        d2 = self.daemon()
        st, msgs = d2.stream("POST", "/images/create?fromImage=127.0.0.1:%d/t/bb&tag=1" %
                             proxy.port)
        self.assertEqual(st, 200, msgs)
        self.assertFalse([m for m in msgs if "error" in m], msgs)
        self.assertEqual(proxy.cuts, 2)
        st, a = d.json("GET", "/images/%s/t/bb:1/json" % reg.addr)
        st, b = d2.json("GET", "/images/127.0.0.1:%d/t/bb:1/json" % proxy.port)
        self.assertEqual(a["Id"], b["Id"])
        self.assert_clean(d2)

    def test_pulls_run_side_by_side(self):
        # A pull held up inside a layer does not hold up another one: pulls share the image
        # store's lock (only a garbage collection waits for them all).
        reg = self.registry()
        d = self.daemon()
        st, msgs = self.push_busybox(d, reg.addr)
        self.assertFalse([m for m in msgs if "error" in m], msgs)
        hold = threading.Event()
        proxy = CuttingProxy(reg.port, cut=1 << 62, times=0, hold=hold)
        self.servers.append(proxy)
        d2 = self.daemon()
        results = {}

        def pull(key, host):
            results[key] = d2.stream("POST", "/images/create?fromImage=%s/t/bb&tag=1" % host)

        slow = threading.Thread(target=pull, args=("slow", "127.0.0.1:%d" % proxy.port))
        slow.start()
        try:
            deadline = time.time() + 20
            while not proxy.held and time.time() < deadline:
                time.sleep(0.02)
            self.assertTrue(proxy.held, "the first pull never reached a layer")
            fast = threading.Thread(target=pull, args=("fast", reg.addr))
            fast.start()
            fast.join(30)
            self.assertFalse(fast.is_alive(), "the second pull waited for the held one")
            self.assertTrue(slow.is_alive(), "the held pull ended first")
        finally:
            hold.set()
            slow.join(60)
        for key in ("fast", "slow"):
            st, msgs = results[key]
            self.assertEqual(st, 200, msgs)
            self.assertFalse([m for m in msgs if "error" in m], msgs)
        st, a = d2.json("GET", "/images/%s/t/bb:1/json" % reg.addr)
        st, b = d2.json("GET", "/images/127.0.0.1:%d/t/bb:1/json" % proxy.port)
        self.assertEqual(a["Id"], b["Id"])
        self.assert_clean(d2)

    def test_always_dropped_connection_fails_clearly(self):
        reg = self.registry()
        d = self.daemon()
        self.push_busybox(d, reg.addr)
        # Every connection breaks after 100 KiB: five attempts resume four times and still
        # fall short of the 2 MB layer.
        proxy = CuttingProxy(reg.port, cut=100 * 1024, times=-1)
        self.servers.append(proxy)
        d2 = self.daemon()
        st, msgs = d2.stream("POST", "/images/create?fromImage=127.0.0.1:%d/t/bb&tag=1" %
                             proxy.port)
        errors = [m for m in msgs if "error" in m]
        self.assertTrue(errors, msgs)
        self.assertIn("5 attempts", errors[0]["error"])
        # Nothing partial: no layer blob, no ingest leftover, no image.
        layer_blobs = [b for b in d2.blobs()]
        self.assertEqual(layer_blobs, [])
        self.assertEqual(d2.ingest(), [])
        st, images = d2.json("GET", "/images/json")
        self.assertEqual(images, [])

    def test_wrong_blob_is_refused(self):
        reg = self.registry()
        d = self.daemon()
        self.push_busybox(d, reg.addr)
        # Corrupt the layer in the registry's store (same size, other bytes).
        st, img = d.json("GET", "/images/%s/t/bb:1/json" % reg.addr)
        c = http.client.HTTPConnection("127.0.0.1", reg.port)
        c.request("GET", "/v2/t/bb/manifests/1",
                  headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        layer = json.loads(c.getresponse().read())["layers"][0]["digest"]
        path = os.path.join(reg.root, "blobs", "sha256", layer.split(":")[1])
        os.chmod(path, 0o644)
        with open(path, "r+b") as f:
            f.seek(5000)
            f.write(b"\0garbage\0")
        d2 = self.daemon()
        st, msgs = d2.stream("POST", "/images/create?fromImage=%s/t/bb&tag=1" % reg.addr)
        errors = [m for m in msgs if "error" in m]
        self.assertTrue(errors, msgs)
        self.assertNotIn(layer.split(":")[1], d2.blobs())
        self.assertEqual(d2.ingest(), [])
        st, images = d2.json("GET", "/images/json")
        self.assertEqual(images, [])

    def test_a_layer_that_fails_to_unpack_stops_its_download(self):
        # A large layer whose tar is refused at its first entry: the pull fails with the
        # unpack's reason without taking in the rest of the layer, and keeps nothing.
        import gzip
        reg = self.registry()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            evil = tarfile.TarInfo("../evil")
            evil.size = 4
            t.addfile(evil, io.BytesIO(b"evil"))
            big = os.urandom(24 << 20)
            info = tarfile.TarInfo("big")
            info.size = len(big)
            t.addfile(info, io.BytesIO(big))
        tar = buf.getvalue()
        layer = gzip.compress(tar, compresslevel=1)
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": [
                                 "sha256:" + hashlib.sha256(tar).hexdigest()]}}).encode()

        def put_blob(data):
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            c = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=60)
            c.request("POST", "/v2/t/evil/blobs/uploads/?digest=" + digest, body=data)
            self.assertEqual(c.getresponse().status, 201)
            return {"digest": digest, "size": len(data)}

        manifest = {"schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": dict(put_blob(config),
                                   mediaType="application/vnd.oci.image.config.v1+json"),
                    "layers": [dict(put_blob(layer),
                                    mediaType="application/vnd.oci.image.layer.v1.tar+gzip")]}
        c = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=60)
        c.request("PUT", "/v2/t/evil/manifests/1", body=json.dumps(manifest).encode(),
                  headers={"Content-Type": manifest["mediaType"]})
        self.assertEqual(c.getresponse().status, 201)
        d = self.daemon()
        st, msgs = d.stream("POST", "/images/create?fromImage=%s/t/evil&tag=1" % reg.addr)
        errors = [m["error"] for m in msgs if "error" in m]
        self.assertTrue(errors and ".." in errors[0], msgs)
        statuses = [m.get("status") for m in msgs]
        self.assertNotIn("Download complete", statuses)
        got = max([m["progressDetail"].get("current", 0) for m in msgs
                   if m.get("status") == "Downloading"] or [0])
        self.assertLess(got, len(layer) // 2, "the download went on after the unpack failed")
        self.assertEqual(d.blobs(), set())
        self.assertEqual(d.ingest(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)

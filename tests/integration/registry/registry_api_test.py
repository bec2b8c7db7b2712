#!/usr/bin/env python3
"""berth-registry on the wire: raw HTTP against a server started on 127.0.0.1 with a port of
its own choosing. Push/pull round trips with digests compared (monolithic, POST+PUT, chunked
with Content-Range, streamed), uploads out of order (416), cancelled and expired, cross-repo
mounts, manifests of the four media types with Accept negotiation, tags and catalog paging,
referrers, deletion and gc, bad digests/lengths/names/manifests (the right code, nothing
stored), htpasswd and token auth required and enforced, TLS.

Environment: BERTH_REGISTRY (the binary). No root needed. Each server has its own temp root
and is stopped by pid; the test fails if a server exits non-zero.
"""

import base64
import hashlib
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "compat"))
from registry_fixture import Registry  # noqa: E402

BIN = os.environ.get("BERTH_REGISTRY", "")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
# htpasswd -nbB: alice/secret, bob/hunter2 (bcrypt, cost 5)
ALICE = "alice:$2b$05$w5FR90M0ByTEZ/fqlqnu6upTuq7xbzUOR7dQ/xLpvCt.G1hDczxVi"


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def bcrypt(password):
    import crypt  # noqa: deprecated, but present in Debian 12's python
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32))


class Client:
    def __init__(self, reg, auth=None, tls=False):
        self.reg = reg
        self.auth = auth
        self.tls = tls
        self.conn = None

    def _connect(self):
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.conn = http.client.HTTPSConnection("127.0.0.1", self.reg.port, timeout=60,
                                                    context=ctx)
        else:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.reg.port, timeout=60)

    def req(self, method, path, body=None, headers=None, chunked=False):
        h = dict(headers or {})
        if self.auth and "Authorization" not in h:
            h["Authorization"] = self.auth
        for attempt in range(2):
            if self.conn is None:
                self._connect()
            try:
                self.conn.request(method, path, body=body, headers=h, encode_chunked=chunked)
                r = self.conn.getresponse()
                data = r.read()
                hdrs = {k.lower(): v for k, v in r.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, hdrs, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = None
                if attempt == 1 or (body is not None and not isinstance(body, bytes)):
                    raise

    def code(self, data):
        return json.loads(data)["errors"][0]["code"]

    # --- push helpers
    def push_blob(self, repo, data):
        st, h, _ = self.req("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, sha(data)), data)
        assert st == 201, (st, h)
        return sha(data)

    def push_manifest(self, repo, ref, doc, media_type=OCI_MANIFEST):
        body = json.dumps(doc).encode() if not isinstance(doc, bytes) else doc
        return self.req("PUT", "/v2/%s/manifests/%s" % (repo, ref), body,
                        {"Content-Type": media_type})

    def push_image(self, repo, tag, layers=(b"layer one", b"layer two"), media_type=OCI_MANIFEST):
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        self.push_blob(repo, config)
        ls = []
        for layer in layers:
            self.push_blob(repo, layer)
            ls.append({"mediaType": "application/vnd.oci.image.layer.v1.tar" if media_type ==
                       OCI_MANIFEST else "application/vnd.docker.image.rootfs.diff.tar.gzip",
                       "digest": sha(layer), "size": len(layer)})
        doc = {"schemaVersion": 2, "mediaType": media_type,
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json" if media_type
                          == OCI_MANIFEST else "application/vnd.docker.container.image.v1+json",
                          "digest": sha(config), "size": len(config)},
               "layers": ls}
        body = json.dumps(doc).encode()
        st, h, data = self.push_manifest(repo, tag, body, media_type)
        assert st == 201, (st, data)
        return sha(body), body


def blob_files(reg):
    d = os.path.join(reg.root, "blobs", "sha256")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


class RegistryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.reg = Registry(BIN)
        cls.c = Client(cls.reg)

    @classmethod
    def tearDownClass(cls):
        code, log = cls.reg.stop()
        if code not in (0, None):
            raise AssertionError("berth-registry exited %s:\n%s" % (code, log[-3000:]))

    def test_ping(self):
        st, h, body = self.c.req("GET", "/v2/")
        self.assertEqual(st, 200)
        self.assertEqual(h["docker-distribution-api-version"], "registry/2.0")
        self.assertEqual(json.loads(body), {})
        self.assertEqual(self.c.req("HEAD", "/v2/")[0], 200)
        self.assertEqual(self.c.req("GET", "/v3/")[0], 404)

    def test_monolithic_blob_round_trip_with_ranges(self):
        data = os.urandom(300000)
        d = self.c.push_blob("mono/x", data)
        st, h, body = self.c.req("GET", "/v2/mono/x/blobs/" + d)
        self.assertEqual(st, 200)
        self.assertEqual(sha(body), d)
        self.assertEqual(h["docker-content-digest"], d)
        st, h, body = self.c.req("HEAD", "/v2/mono/x/blobs/" + d)
        self.assertEqual((st, h["content-length"], body), (200, str(len(data)), b""))
        st, h, body = self.c.req("GET", "/v2/mono/x/blobs/" + d, headers={"Range": "bytes=10-19"})
        self.assertEqual((st, body), (206, data[10:20]))
        self.assertEqual(h["content-range"], "bytes 10-19/%d" % len(data))
        st, h, _ = self.c.req("GET", "/v2/mono/x/blobs/" + d, headers={"Range": "bytes=-5"})
        self.assertEqual(st, 206)
        st, h, _ = self.c.req("GET", "/v2/mono/x/blobs/" + d,
                              headers={"Range": "bytes=%d-" % len(data)})
        self.assertEqual(st, 416)
        self.assertEqual(h["content-range"], "bytes */%d" % len(data))
        # Linked into mono/x only: another repository does not see it.
        st, _, body = self.c.req("GET", "/v2/other/blobs/" + d)
        self.assertEqual((st, self.c.code(body)), (404, "BLOB_UNKNOWN"))

    def test_post_then_put(self):
        data = b"post then put" * 1000
        st, h, _ = self.c.req("POST", "/v2/pp/blobs/uploads/")
        self.assertEqual(st, 202)
        self.assertIn("docker-upload-uuid", h)
        self.assertEqual(h["range"], "0-0")
        st, h, _ = self.c.req("PUT", h["location"] + "?digest=" + sha(data), data)
        self.assertEqual(st, 201)
        self.assertEqual(h["location"], "/v2/pp/blobs/" + sha(data))
        self.assertEqual(sha(self.c.req("GET", h["location"])[2]), sha(data))

    def test_chunked_upload_and_out_of_order(self):
        data = os.urandom(250000)
        st, h, _ = self.c.req("POST", "/v2/chunk/blobs/uploads/")
        loc = h["location"]
        st, h, _ = self.c.req("PATCH", loc, data[:100000],
                              {"Content-Range": "0-99999", "Content-Type":
                               "application/octet-stream"})
        self.assertEqual((st, h["range"]), (202, "0-99999"))
        # A chunk that skips ahead: 416, with where the upload stands.
        st, h, body = self.c.req("PATCH", loc, data[150000:],
                                 {"Content-Range": "150000-%d" % (len(data) - 1)})
        self.assertEqual(st, 416)
        self.assertEqual(h["range"], "0-99999")
        self.assertEqual(self.c.code(body), "BLOB_UPLOAD_INVALID")
        # Content-Range and Content-Length disagree: SIZE_INVALID, nothing appended.
        st, _, body = self.c.req("PATCH", loc, data[100000:100010], {"Content-Range": "100000-100019"})
        self.assertEqual((st, self.c.code(body)), (400, "SIZE_INVALID"))
        st, h, _ = self.c.req("GET", loc)
        self.assertEqual((st, h["range"]), (204, "0-99999"))
        st, h, _ = self.c.req("PATCH", loc, data[100000:],
                              {"Content-Range": "100000-%d" % (len(data) - 1)})
        self.assertEqual(st, 202)
        st, h, _ = self.c.req("PUT", loc + "?digest=" + sha(data))
        self.assertEqual(st, 201)
        self.assertEqual(sha(self.c.req("GET", "/v2/chunk/blobs/" + sha(data))[2]), sha(data))

    def test_streamed_upload(self):
        parts = [os.urandom(70000) for _ in range(5)]
        data = b"".join(parts)
        st, h, _ = self.c.req("POST", "/v2/stream/blobs/uploads/")
        st, h, _ = self.c.req("PATCH", h["location"], iter(parts), chunked=True)
        self.assertEqual((st, h["range"]), (202, "0-%d" % (len(data) - 1)))
        st, h, _ = self.c.req("PUT", h["location"] + "?digest=" + sha(data))
        self.assertEqual(st, 201)
        self.assertEqual(sha(self.c.req("GET", "/v2/stream/blobs/" + sha(data))[2]), sha(data))

    def raw_responses(self, sock, count):
        """Reads `count` HTTP responses off `sock`: [(status, headers, body)]."""
        buf, out = b"", []
        while len(out) < count:
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                self.assertTrue(chunk, "connection closed after %d responses" % len(out))
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode().split("\r\n")
            hdrs = {k.strip().lower(): v.strip() for k, v in
                    (line.split(":", 1) for line in lines[1:])}
            n = int(hdrs.get("content-length", "0"))
            while len(buf) < n:
                chunk = sock.recv(65536)
                self.assertTrue(chunk)
                buf += chunk
            out.append((int(lines[0].split()[1]), hdrs, buf[:n]))
            buf = buf[n:]
        return out

    def test_pipelined_requests_and_expect_continue_keep_the_connection(self):
        # A body of known length is read straight off the socket: the bytes after it are the
        # next request, and a body behind Expect: 100-continue is read once asked for.
        data = os.urandom(200000)
        s = socket.create_connection(("127.0.0.1", self.reg.port), timeout=30)
        try:
            s.sendall(("POST /v2/pipe/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: x\r\n"
                       "Content-Length: %d\r\n\r\n" % (sha(data), len(data))).encode() + data +
                      ("GET /v2/pipe/blobs/%s HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n" % sha(data)).encode())
            (st1, _, _), (st2, _, got), (st3, _, _) = self.raw_responses(s, 3)
            self.assertEqual((st1, st2, st3), (201, 200, 200))
            self.assertEqual(sha(got), sha(data))
            more = os.urandom(100000)
            s.sendall(("POST /v2/pipe/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: x\r\n"
                       "Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" %
                       (sha(more), len(more))).encode())
            interim = b""
            while b"\r\n\r\n" not in interim:
                interim += s.recv(1)
            self.assertIn(b" 100 ", interim.split(b"\r\n")[0])
            s.sendall(more + b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
            (st4, _, _), (st5, _, _) = self.raw_responses(s, 2)
            self.assertEqual((st4, st5), (201, 200))
        finally:
            s.close()
        self.assertEqual(sha(self.c.req("GET", "/v2/pipe/blobs/" + sha(more))[2]), sha(more))

    def test_slow_large_upload(self):
        # A large body trickling in (the server waits a little between reads of a large
        # body that leave the socket empty): all of it arrives, nothing is held back.
        data = os.urandom(4 << 20)
        s = socket.create_connection(("127.0.0.1", self.reg.port), timeout=60)
        try:
            s.sendall(("POST /v2/slow/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: x\r\n"
                       "Content-Length: %d\r\n\r\n" % (sha(data), len(data))).encode())
            for at in range(0, len(data), 32768):
                s.sendall(data[at:at + 32768])
                time.sleep(0.0005)
            (st, h, _), = self.raw_responses(s, 1)
            self.assertEqual(st, 201, h)
        finally:
            s.close()
        self.assertEqual(sha(self.c.req("GET", "/v2/slow/blobs/" + sha(data))[2]), sha(data))

    def test_cancel_and_unknown_upload(self):
        st, h, _ = self.c.req("POST", "/v2/cancel/blobs/uploads/")
        loc = h["location"]
        self.c.req("PATCH", loc, b"abc")
        self.assertEqual(self.c.req("DELETE", loc)[0], 204)
        st, _, body = self.c.req("GET", loc)
        self.assertEqual((st, self.c.code(body)), (404, "BLOB_UPLOAD_UNKNOWN"))
        st, _, body = self.c.req("PATCH", "/v2/cancel/blobs/uploads/not-a-uuid", b"x")
        self.assertEqual((st, self.c.code(body)), (404, "BLOB_UPLOAD_UNKNOWN"))
        # Another repository's upload is not reachable through this one.
        st, h, _ = self.c.req("POST", "/v2/cancel/blobs/uploads/")
        other = h["location"].replace("/v2/cancel/", "/v2/elsewhere/")
        self.assertEqual(self.c.req("GET", other)[0], 404)

    def test_bad_digests_and_lengths_store_nothing(self):
        before = blob_files(self.reg)
        data = b"some bytes"
        st, _, body = self.c.req("POST", "/v2/bad/blobs/uploads/?digest=" + sha(b"other"), data)
        self.assertEqual((st, self.c.code(body)), (400, "DIGEST_INVALID"))
        st, _, body = self.c.req("POST", "/v2/bad/blobs/uploads/?digest=sha256:xyz", data)
        self.assertEqual((st, self.c.code(body)), (400, "DIGEST_INVALID"))
        st, _, body = self.c.req("POST", "/v2/bad/blobs/uploads/?digest=sha512:" + "a" * 128, data)
        self.assertEqual((st, self.c.code(body)), (400, "DIGEST_INVALID"))
        st, h, _ = self.c.req("POST", "/v2/bad/blobs/uploads/")
        self.c.req("PATCH", h["location"], data)
        st, _, body = self.c.req("PUT", h["location"] + "?digest=" + sha(b"nope"))
        self.assertEqual((st, self.c.code(body)), (400, "DIGEST_INVALID"))
        self.assertEqual(self.c.req("GET", h["location"])[0], 404)  # the upload is gone
        # A body shorter than its Content-Length (the client hangs up).
        s = socket.create_connection(("127.0.0.1", self.reg.port))
        s.sendall(("POST /v2/bad/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: x\r\n"
                   "Content-Length: 100\r\n\r\n" % sha(b"x" * 100)).encode() + b"x" * 40)
        s.shutdown(socket.SHUT_WR)
        s.recv(1000)
        s.close()
        time.sleep(0.2)
        self.assertEqual(blob_files(self.reg), before)
        self.assertEqual(os.listdir(os.path.join(self.reg.root, "uploads")), [])
        self.assertEqual(self.c.req("HEAD", "/v2/bad/blobs/" + sha(data))[0], 404)

    def test_names(self):
        for path in ("/v2/UPPER/tags/list", "/v2/a//b/tags/list", "/v2/a/../b/tags/list",
                     "/v2/%2e%2e/x/tags/list", "/v2/a%2F..%2F..%2Fb/manifests/x", "/v2/-a/tags/list"):
            st, _, body = self.c.req("GET", path)
            self.assertEqual((st, self.c.code(body)), (400, "NAME_INVALID"), path)
        st, _, body = self.c.req("GET", "/v2/never/pushed/tags/list")
        self.assertEqual((st, self.c.code(body)), (404, "NAME_UNKNOWN"))
        st, _, body = self.c.req("PUT", "/v2/x/manifests/bad:tag", b"{}")
        self.assertEqual(st, 400)

    def test_manifests_round_trip_and_negotiation(self):
        d, body = self.c.push_image("img/oci", "v1")
        for ref in ("v1", d):
            st, h, got = self.c.req("GET", "/v2/img/oci/manifests/" + ref,
                                    headers={"Accept": OCI_MANIFEST})
            self.assertEqual((st, got), (200, body))
            self.assertEqual(h["content-type"], OCI_MANIFEST)
            self.assertEqual(h["docker-content-digest"], d)
        st, h, got = self.c.req("HEAD", "/v2/img/oci/manifests/v1")
        self.assertEqual((st, h["content-length"], got), (200, str(len(body)), b""))
        # A client that takes only Docker's type does not get an OCI manifest.
        st, _, got = self.c.req("GET", "/v2/img/oci/manifests/v1",
                                headers={"Accept": DOCKER_MANIFEST})
        self.assertEqual((st, self.c.code(got)), (404, "MANIFEST_UNKNOWN"))
        # Docker schema 2 and a manifest list over both.
        dd, dbody = self.c.push_image("img/oci", "docker", media_type=DOCKER_MANIFEST)
        st, h, _ = self.c.req("GET", "/v2/img/oci/manifests/docker",
                              headers={"Accept": DOCKER_MANIFEST + ", " + OCI_MANIFEST})
        self.assertEqual((st, h["content-type"]), (200, DOCKER_MANIFEST))
        lst = {"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
            {"mediaType": DOCKER_MANIFEST, "digest": dd, "size": len(dbody),
             "platform": {"os": "linux", "architecture": "amd64"}}]}
        st, h, _ = self.c.push_manifest("img/oci", "list", lst, DOCKER_LIST)
        self.assertEqual(st, 201)
        st, h, _ = self.c.req("GET", "/v2/img/oci/manifests/list",
                              headers={"Accept": DOCKER_LIST})
        self.assertEqual((st, h["content-type"]), (200, DOCKER_LIST))
        # An old client that takes no lists gets the platform's image by tag.
        st, h, _ = self.c.req("GET", "/v2/img/oci/manifests/list",
                              headers={"Accept": DOCKER_MANIFEST})
        self.assertEqual((st, h["docker-content-digest"]), (200, dd))
        idx = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": d, "size": len(body)}]}
        self.assertEqual(self.c.push_manifest("img/oci", "index", idx, OCI_INDEX)[0], 201)
        # Pushed by digest: the digest must be the body's.
        st, h, _ = self.c.push_manifest("img/oci", d, body)
        self.assertEqual(st, 201)
        st, _, got = self.c.push_manifest("img/oci", sha(b"other"), body)
        self.assertEqual((st, self.c.code(got)), (400, "DIGEST_INVALID"))
        st, _, got = self.c.req("GET", "/v2/img/oci/manifests/nope")
        self.assertEqual((st, self.c.code(got)), (404, "MANIFEST_UNKNOWN"))

    def test_bad_manifests_are_refused(self):
        before = blob_files(self.reg)
        cfg = b"{}"
        self.c.push_blob("badm", cfg)
        before = blob_files(self.reg)
        missing = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                   "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                              "digest": sha(cfg), "size": 2},
                   "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                               "digest": sha(b"absent"), "size": 6}]}
        st, _, body = self.c.push_manifest("badm", "t", missing)
        self.assertEqual((st, self.c.code(body)), (400, "MANIFEST_BLOB_UNKNOWN"))
        self.assertEqual(json.loads(body)["errors"][0]["detail"]["digest"], sha(b"absent"))
        # A blob of another repository is absent from this one.
        self.c.push_blob("elsewhere", b"absent")
        st, _, body = self.c.push_manifest("badm", "t", missing)
        self.assertEqual((st, self.c.code(body)), (400, "MANIFEST_BLOB_UNKNOWN"))
        before = blob_files(self.reg)
        idx = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": sha(b"nomanifest"), "size": 10}]}
        st, _, body = self.c.push_manifest("badm", "t", idx, OCI_INDEX)
        self.assertEqual((st, self.c.code(body)), (400, "MANIFEST_BLOB_UNKNOWN"))
        for bad in (b"not json", b"[]", b'{"schemaVersion":1,"fsLayers":[]}',
                    json.dumps(dict(missing, layers="x")).encode()):
            st, _, body = self.c.push_manifest("badm", "t", bad)
            self.assertEqual((st, self.c.code(body)), (400, "MANIFEST_INVALID"), bad)
        big = json.dumps(dict(missing, annotations={"pad": "x" * (4 << 20)})).encode()
        st, _, body = self.c.push_manifest("badm", "t", big)
        self.assertEqual(st, 413)
        self.assertEqual(blob_files(self.reg), before)
        self.assertEqual(self.c.req("GET", "/v2/badm/tags/list")[2], b'{"name":"badm","tags":[]}\n')

    def test_tags_and_catalog_pages(self):
        for i in range(5):
            self.c.push_image("pages/r%d" % i, "t%d" % i)
        _, _ , _ = self.c.req("GET", "/v2/")
        for t in ("a", "b", "c", "d"):
            self.c.push_image("pages/r0", t)
        st, h, body = self.c.req("GET", "/v2/pages/r0/tags/list")
        self.assertEqual(json.loads(body), {"name": "pages/r0", "tags": ["a", "b", "c", "d", "t0"]})
        self.assertNotIn("link", h)
        got, url = [], "/v2/pages/r0/tags/list?n=2"
        while url:
            st, h, body = self.c.req("GET", url)
            self.assertEqual(st, 200)
            page = json.loads(body)["tags"]
            self.assertLessEqual(len(page), 2)
            got += page
            url = h["link"].split(">")[0][1:] if "link" in h else None
        self.assertEqual(got, ["a", "b", "c", "d", "t0"])
        st, h, body = self.c.req("GET", "/v2/pages/r0/tags/list?n=2&last=b")
        self.assertEqual(json.loads(body)["tags"], ["c", "d"])
        st, _, body = self.c.req("GET", "/v2/pages/r0/tags/list?n=x")
        self.assertEqual(st, 400)
        got, url = [], "/v2/_catalog?n=2"
        while url:
            st, h, body = self.c.req("GET", url)
            got += json.loads(body)["repositories"]
            url = h["link"].split(">")[0][1:] if "link" in h else None
        self.assertEqual([r for r in got if r.startswith("pages/")],
                         ["pages/r%d" % i for i in range(5)])
        self.assertEqual(got, sorted(got))

    def test_mount(self):
        data = b"mountable"
        d = self.c.push_blob("mnt/src", data)
        st, h, _ = self.c.req("POST", "/v2/mnt/dst/blobs/uploads/?mount=%s&from=mnt/src" % d)
        self.assertEqual((st, h["location"], h["docker-content-digest"]),
                         (201, "/v2/mnt/dst/blobs/" + d, d))
        self.assertEqual(self.c.req("GET", "/v2/mnt/dst/blobs/" + d)[2], data)
        # Not in `from`: an ordinary upload starts instead.
        st, h, _ = self.c.req("POST", "/v2/mnt/dst/blobs/uploads/?mount=%s&from=mnt/none"
                              % sha(b"nothing"))
        self.assertEqual(st, 202)
        self.assertIn("/blobs/uploads/", h["location"])

    def test_referrers(self):
        d, body = self.c.push_image("ref", "v1")
        empty = b"{}"
        self.c.push_blob("ref", empty)
        sig = b"signature bytes"
        self.c.push_blob("ref", sig)
        arts = {}
        for kind in ("application/vnd.example.sig", "application/vnd.example.sbom"):
            art = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": kind,
                   "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                              "digest": sha(empty), "size": 2},
                   "layers": [{"mediaType": "application/octet-stream", "digest": sha(sig),
                               "size": len(sig)}],
                   "subject": {"mediaType": OCI_MANIFEST, "digest": d, "size": len(body)},
                   "annotations": {"kind": kind}}
            ab = json.dumps(art).encode()
            st, h, _ = self.c.push_manifest("ref", sha(ab), ab)
            self.assertEqual((st, h.get("oci-subject")), (201, d))
            arts[kind] = sha(ab)
        st, h, got = self.c.req("GET", "/v2/ref/referrers/" + d)
        self.assertEqual((st, h["content-type"]), (200, OCI_INDEX))
        idx = json.loads(got)
        self.assertEqual(sorted(m["digest"] for m in idx["manifests"]), sorted(arts.values()))
        self.assertEqual({m["artifactType"] for m in idx["manifests"]}, set(arts))
        st, h, got = self.c.req("GET", "/v2/ref/referrers/%s?artifactType=%s" %
                                (d, "application/vnd.example.sbom"))
        self.assertEqual(h["oci-filters-applied"], "artifactType")
        self.assertEqual([m["digest"] for m in json.loads(got)["manifests"]],
                         [arts["application/vnd.example.sbom"]])
        # Deleting a referrer takes it out of the list; an unknown subject has none.
        self.assertEqual(self.c.req("DELETE", "/v2/ref/manifests/" +
                                    arts["application/vnd.example.sig"])[0], 202)
        st, h, got = self.c.req("GET", "/v2/ref/referrers/" + d)
        self.assertEqual(len(json.loads(got)["manifests"]), 1)
        st, h, got = self.c.req("GET", "/v2/ref/referrers/" + sha(b"no subject"))
        self.assertEqual((st, json.loads(got)["manifests"]), (200, []))

    def test_concurrent_pushes_of_one_blob(self):
        data = os.urandom(1 << 20)
        results = []

        def push():
            c = Client(self.reg)
            results.append(c.req("POST", "/v2/conc/blobs/uploads/?digest=" + sha(data), data)[0])

        threads = [threading.Thread(target=push) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [201] * 8)
        self.assertEqual(sha(self.c.req("GET", "/v2/conc/blobs/" + sha(data))[2]), sha(data))


class DeletionAndGcTest(unittest.TestCase):
    def test_delete_then_gc(self):
        reg = Registry(BIN)
        try:
            c = Client(reg)
            d, _ = c.push_image("gc/a", "v1", layers=(b"only in a",))
            c.push_image("gc/b", "v1", layers=(b"shared",))
            c.push_blob("gc/a", b"shared")
            orphan = c.push_blob("gc/a", b"never referenced")
            st, _, _ = c.req("DELETE", "/v2/gc/a/blobs/" + orphan)
            self.assertEqual(st, 202)
            st, _, body = c.req("GET", "/v2/gc/a/blobs/" + orphan)
            self.assertEqual((st, c.code(body)), (404, "BLOB_UNKNOWN"))
            # By tag: the tag goes, the manifest stays; by digest: the manifest goes.
            self.assertEqual(c.req("DELETE", "/v2/gc/a/manifests/v1")[0], 202)
            self.assertEqual(c.req("GET", "/v2/gc/a/manifests/v1")[0], 404)
            self.assertEqual(c.req("GET", "/v2/gc/a/manifests/" + d)[0], 200)
            self.assertEqual(c.req("DELETE", "/v2/gc/a/manifests/" + d)[0], 202)
            st, _, body = c.req("GET", "/v2/gc/a/manifests/" + d)
            self.assertEqual((st, c.code(body)), (404, "MANIFEST_UNKNOWN"))
            self.assertEqual(c.req("DELETE", "/v2/gc/a/manifests/" + d)[0], 404)
            # gc refuses while the server holds the root.
            r = subprocess.run([BIN, "gc", "--root", reg.root], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("lock", r.stderr)
            self.assertEqual(reg.terminate(), 0)
            n = len(blob_files(reg))
            r = subprocess.run([BIN, "gc", "--root", reg.root, "--dry-run"], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(len(blob_files(reg)), n)
            r = subprocess.run([BIN, "gc", "--root", reg.root], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            # gc/a's manifest and layer, and the orphan (gc/a's config is gc/b's too).
            self.assertIn("removed 3 blobs", r.stdout)
            left = blob_files(reg)
            self.assertNotIn(orphan[7:], left)
            self.assertNotIn(sha(b"only in a")[7:], left)
            self.assertIn(sha(b"shared")[7:], left)
            reg.start()
            c = Client(reg)
            st, _, body = c.req("GET", "/v2/gc/b/manifests/v1")
            self.assertEqual(st, 200)
            self.assertEqual(c.req("GET", "/v2/gc/b/blobs/" + sha(b"shared"))[2], b"shared")
            self.assertEqual(c.req("GET", "/v2/gc/a/blobs/" + sha(b"shared"))[2], b"shared")
        finally:
            code, log = reg.stop()
            self.assertIn(code, (0, None), log[-2000:])

    def test_delete_disabled_and_expiry(self):
        reg = Registry(BIN)
        cfg = os.path.join(reg.dir, "config.json")
        with open(cfg, "w") as f:
            json.dump({"storage": {"delete": False, "upload_expiry": 1,
                                   "upload_purge_interval": 1}}, f)
        reg.terminate()
        reg.args = ["--config", cfg]
        reg.start()
        try:
            c = Client(reg)
            d = c.push_blob("exp", b"x")
            st, _, body = c.req("DELETE", "/v2/exp/blobs/" + d)
            self.assertEqual((st, c.code(body)), (405, "UNSUPPORTED"))
            st, h, _ = c.req("POST", "/v2/exp/blobs/uploads/")
            loc = h["location"]
            c.req("PATCH", loc, b"abandoned")
            time.sleep(3.5)
            self.assertEqual(c.req("GET", loc)[0], 404)
            self.assertEqual(os.listdir(os.path.join(reg.root, "uploads")), [])
            self.assertIn("expired uploads", reg.read_log())
        finally:
            code, log = reg.stop()
            self.assertIn(code, (0, None), log[-2000:])


class AuthTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="berth-registry-auth.")
        self.htpasswd = os.path.join(self.tmp, "htpasswd")
        with open(self.htpasswd, "w") as f:
            f.write(ALICE + "\nbob:%s\n" % bcrypt("hunter2"))
        self.cfg = os.path.join(self.tmp, "config.json")
        with open(self.cfg, "w") as f:
            json.dump({"auth": {"htpasswd": self.htpasswd, "access": [
                {"user": "alice", "repository": "*", "actions": ["*"]},
                {"user": "bob", "repository": "pub/*", "actions": ["pull"]},
                {"user": "bob", "repository": "bob/*", "actions": ["pull", "push"]}]}}, f)

    def tearDown(self):
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    @staticmethod
    def basic(user, pw):
        return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()

    def test_htpasswd(self):
        reg = Registry(BIN, ["--config", self.cfg])
        try:
            anon = Client(reg)
            st, h, body = anon.req("GET", "/v2/")
            self.assertEqual((st, anon.code(body)), (401, "UNAUTHORIZED"))
            self.assertEqual(h["www-authenticate"], 'Basic realm="berth-registry"')
            st, _, _ = anon.req("POST", "/v2/pub/x/blobs/uploads/?digest=" + sha(b"a"), b"a")
            self.assertEqual(st, 401)
            wrong = Client(reg, self.basic("alice", "wrong"))
            self.assertEqual(wrong.req("GET", "/v2/")[0], 401)
            alice = Client(reg, self.basic("alice", "secret"))
            self.assertEqual(alice.req("GET", "/v2/")[0], 200)
            alice.push_image("pub/x", "v1")
            bob = Client(reg, self.basic("bob", "hunter2"))
            self.assertEqual(bob.req("GET", "/v2/pub/x/manifests/v1")[0], 200)
            st, _, body = bob.req("POST", "/v2/pub/x/blobs/uploads/")
            self.assertEqual((st, bob.code(body)), (403, "DENIED"))
            bob.push_image("bob/y", "v1")
            st, _, body = bob.req("DELETE", "/v2/bob/y/manifests/v1")
            self.assertEqual((st, bob.code(body)), (403, "DENIED"))
            self.assertEqual(bob.req("GET", "/v2/_catalog")[0], 403)
            self.assertEqual(alice.req("GET", "/v2/_catalog")[0], 200)
            # Mount from a repository bob may not pull from: no mount, an upload instead.
            d = alice.push_blob("secret/z", b"private")
            st, _, _ = bob.req("POST", "/v2/bob/y/blobs/uploads/?mount=%s&from=secret/z" % d)
            self.assertEqual(st, 202)
            self.assertEqual(bob.req("GET", "/v2/bob/y/blobs/" + d)[0], 404)
        finally:
            code, log = reg.stop()
            self.assertIn(code, (0, None), log[-2000:])

    def test_tokens(self):
        reg = Registry(BIN, ["--config", self.cfg, "--token-auth"])
        try:
            anon = Client(reg)
            st, h, body = anon.req("GET", "/v2/pub/x/manifests/v1")
            self.assertEqual((st, anon.code(body)), (401, "UNAUTHORIZED"))
            self.assertEqual(h["www-authenticate"],
                             'Bearer realm="http://127.0.0.1:%d/token",service="berth-registry",'
                             'scope="repository:pub/x:pull"' % reg.port)

            def token(auth, *scopes):
                c = Client(reg, auth)
                q = "&".join("scope=" + s for s in scopes)
                st, _, body = c.req("GET", "/token?service=berth-registry&" + q)
                return st, (json.loads(body).get("token") if st == 200 else None)

            st, tok = token(self.basic("alice", "wrong"), "repository:pub/x:pull")
            self.assertEqual(st, 401)
            st, tok = token(self.basic("alice", "secret"), "repository:pub/x:pull,push")
            self.assertEqual(st, 200)
            alice = Client(reg, "Bearer " + tok)
            alice.push_image("pub/x", "v1")
            self.assertEqual(alice.req("GET", "/v2/pub/x/manifests/v1")[0], 200)
            # The token is for pub/x only.
            st, h, _ = alice.req("GET", "/v2/pub/other/tags/list")
            self.assertEqual(st, 401)
            self.assertIn('error="insufficient_scope"', h["www-authenticate"])
            self.assertIn('scope="repository:pub/other:pull"', h["www-authenticate"])
            # bob asks for push on pub/x, gets pull only.
            st, tok = token(self.basic("bob", "hunter2"), "repository:pub/x:pull,push")
            bob = Client(reg, "Bearer " + tok)
            self.assertEqual(bob.req("GET", "/v2/pub/x/manifests/v1")[0], 200)
            self.assertEqual(bob.req("POST", "/v2/pub/x/blobs/uploads/")[0], 401)
            # Anonymous tokens carry no access here; forged or garbage tokens none either.
            st, tok = token(None, "repository:pub/x:pull")
            self.assertEqual(st, 200)
            self.assertEqual(Client(reg, "Bearer " + tok).req("GET", "/v2/pub/x/tags/list")[0], 401)
            self.assertEqual(Client(reg, "Bearer abc.def.ghi").req("GET", "/v2/")[0], 401)
            st, tok = token(self.basic("alice", "secret"), "registry:catalog:*")
            self.assertEqual(Client(reg, "Bearer " + tok).req("GET", "/v2/_catalog")[0], 200)
        finally:
            code, log = reg.stop()
            self.assertIn(code, (0, None), log[-2000:])


class PullThroughTest(unittest.TestCase):
    def test_cache_in_front_of_a_token_registry(self):
        tmp = tempfile.mkdtemp(prefix="berth-registry-proxy.")
        ht = os.path.join(tmp, "htpasswd")
        with open(ht, "w") as f:
            f.write(ALICE + "\n")
        up = Registry(BIN, ["--htpasswd", ht, "--token-auth"])
        cache = None
        try:
            st, _, body = Client(up, AuthTest.basic("alice", "secret")).req(
                "GET", "/token?service=berth-registry&scope=repository:lib/app:pull,push")
            pusher = Client(up, "Bearer " + json.loads(body)["token"])
            d, manifest = pusher.push_image("lib/app", "v1", layers=(b"upstream layer",))
            cfg = os.path.join(tmp, "cache.json")
            with open(cfg, "w") as f:
                json.dump({"proxy": {"remote": "http://" + up.addr, "username": "alice",
                                     "password": "secret"}}, f)
            cache = Registry(BIN, ["--config", cfg])
            c = Client(cache)
            st, h, got = c.req("GET", "/v2/lib/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
            self.assertEqual((st, got, h["docker-content-digest"]), (200, manifest, d))
            st, _, got = c.req("GET", "/v2/lib/app/blobs/" + sha(b"upstream layer"))
            self.assertEqual((st, got), (200, b"upstream layer"))
            st, _, body = c.req("GET", "/v2/lib/app/manifests/nope")
            self.assertEqual((st, c.code(body)), (404, "MANIFEST_UNKNOWN"))
            st, _, body = c.req("GET", "/v2/lib/app/blobs/" + sha(b"absent"))
            self.assertEqual((st, c.code(body)), (404, "BLOB_UNKNOWN"))
            st, _, body = c.req("POST", "/v2/lib/app/blobs/uploads/")
            self.assertEqual((st, c.code(body)), (405, "UNSUPPORTED"))
            # Served from the cache once the upstream is gone.
            up.terminate()
            self.assertEqual(c.req("GET", "/v2/lib/app/manifests/" + d)[2], manifest)
            self.assertEqual(c.req("GET", "/v2/lib/app/blobs/" + sha(b"upstream layer"))[0], 200)
            st, _, body = c.req("GET", "/v2/lib/app/manifests/other")
            self.assertEqual((st, c.code(body)), (503, "UNAVAILABLE"))
        finally:
            if cache:
                code, log = cache.stop()
                self.assertIn(code, (0, None), log[-2000:])
            up.stop()
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)


class TlsTest(unittest.TestCase):
    def test_tls(self):
        tmp = tempfile.mkdtemp(prefix="berth-registry-tls.")
        try:
            cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                            "1", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                           check=True, capture_output=True)
            reg = Registry(BIN, ["--tls-cert", cert, "--tls-key", key])
            try:
                self.assertEqual(reg.scheme, "https")
                c = Client(reg, tls=True)
                data = os.urandom(1 << 20)
                d = c.push_blob("tls/x", data)
                st, _, body = c.req("GET", "/v2/tls/x/blobs/" + d)
                self.assertEqual((st, sha(body)), (200, d))
                # Plain HTTP to the TLS port gets nowhere.
                s = socket.create_connection(("127.0.0.1", reg.port), 5)
                s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
                s.settimeout(5)
                try:
                    self.assertNotIn(b"200 OK", s.recv(1000))
                except (ConnectionResetError, socket.timeout):
                    pass
                s.close()
                c.conn.close()  # the server stops with no TLS session left open
            finally:
                code, log = reg.stop()
                self.assertIn(code, (0, None), log[-2000:])
        finally:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if not BIN or not os.access(BIN, os.X_OK):
        print("BERTH_REGISTRY is not set to the berth-registry binary")
        sys.exit(1)
    warnings.simplefilter("ignore", ResourceWarning)
    unittest.main(verbosity=2)

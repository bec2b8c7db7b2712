#!/usr/bin/env python3
"""The builder through berthd's API on the wire: POST /build in the classic builder's protocol.

Each instruction's effect on the image config and history; RUN with the stage's env, build
args, workdir and user; COPY's rules (rename, into a directory, a directory's contents,
wildcards, --chown, --chmod, .dockerignore, heredocs); multi-stage builds with COPY --from and
--target; the cache (a hit for every step on a rebuild, a miss from exactly the step whose input
changed, --no-cache); deleted files as whiteouts; ONBUILD triggers run by a child build;
RUN --mount (a cache that persists across builds, a context bind that is an input of the
step, a tmpfs; their targets leave nothing in the layer); secrets sent in the context's
.berth-build-secrets (bound, never copied or kept); failures (a RUN's exit code in errorDetail, a
parse error as a 400 with file:line:col, a missing COPY source) leaving no container behind;
builder prune; BuildKit refused clearly.

Environment: BERTHD, BERTH_BUSYBOX_IMAGE. Needs root. berthd runs on a temp dir and is stopped
by pid.
"""

import io
import json
import os
import sys
import tarfile
import unittest
from urllib.parse import quote

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "compat"))
from berthd_fixture import Berthd  # noqa: E402

BERTHD = os.environ.get("BERTHD", "")
IMAGE = os.environ.get("BERTH_BUSYBOX_IMAGE", "")


def context(files):
    """A context tar from {path: text or (text, mode)}; a path ending in / is a directory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, spec in sorted(files.items()):
            if path.endswith("/"):
                info = tarfile.TarInfo(path.rstrip("/"))
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
                continue
            text, mode = spec if isinstance(spec, tuple) else (spec, 0o644)
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build(files, **query):
    """POST /build; returns (status, messages or error body)."""
    params = {"networkmode": "none"}
    params.update(query)
    qs = "&".join("%s=%s" % (k, quote(v if isinstance(v, str) else json.dumps(v)))
                  for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs]))
    return DAEMON.api("POST", "/build?" + qs, context(files), "application/x-tar")


def stream(messages):
    return "".join(m.get("stream", "") for m in messages)


def built_id(messages):
    ids = [m["aux"]["ID"] for m in messages if "aux" in m]
    assert len(ids) == 1, messages
    return ids[0]


def ok_build(files, **query):
    status, out = build(files, **query)
    assert status == 200, (status, out)
    errors = [m for m in out if "error" in m]
    assert not errors, stream(out) + str(errors)
    return built_id(out), out


def run(image, cmd):
    """A container of `image` running `cmd`: (exit code, output)."""
    status, out = DAEMON.api("POST", "/containers/create", {
        "Image": image, "Cmd": cmd, "HostConfig": {"NetworkMode": "none"}})
    assert status == 201, (status, out)
    cid = out["Id"]
    try:
        assert DAEMON.api("POST", "/containers/%s/start" % cid)[0] == 204
        status, out = DAEMON.api("POST", "/containers/%s/wait" % cid)
        code = out["StatusCode"]
        _, data = DAEMON.api("GET", "/containers/%s/logs?stdout=1&stderr=1" % cid)
        text = b""
        while len(data) >= 8:
            n = int.from_bytes(data[4:8], "big")
            text += data[8:8 + n]
            data = data[8 + n:]
        return code, text.decode()
    finally:
        DAEMON.api("DELETE", "/containers/%s?force=1" % cid)


def containers():
    return DAEMON.api("GET", "/containers/json?all=1")[1]


def setUpModule():
    global DAEMON
    if os.geteuid() != 0 or not (BERTHD and IMAGE):
        raise unittest.SkipTest("needs root and BERTHD, BERTH_BUSYBOX_IMAGE")
    DAEMON = Berthd(BERTHD, "berth-api-build.")
    try:
        with open(IMAGE, "rb") as f:
            status, _ = DAEMON.api("POST", "/images/load?quiet=1", f.read(), "application/x-tar")
        assert status == 200
    except BaseException:
        DAEMON.stop()
        raise


def tearDownModule():
    if "DAEMON" not in globals():
        return
    left = containers()
    status, log = DAEMON.stop()
    if status != 0 or left:
        raise AssertionError("berthd exit %d; containers left: %s\nberthd log:\n%s" % (
            status, left, log[-4000:]))


class BuildTest(unittest.TestCase):
    def tearDown(self):
        self.assertEqual(containers(), [], "a build left a container behind")

    def test_instructions_config_history_and_run(self):
        image, out = ok_build({"Dockerfile": """
FROM busybox
ARG WHO=world
ENV GREETING=hi PATH=/opt/bin:$PATH
WORKDIR /app
WORKDIR sub
RUN echo "$GREETING $WHO from $(pwd) as $(id -u)" > /out.txt
USER 1000:1000
RUN id -u > /tmp/uid
EXPOSE 8080/tcp 53/udp
LABEL a=b "c d"=e
STOPSIGNAL SIGINT
VOLUME /data
HEALTHCHECK --interval=5s --retries=2 CMD true
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/cat"]
CMD /out.txt
"""}, t="cfg:1", buildargs={"WHO": "tester"})
        self.assertIn("Step 1/16 : FROM busybox", stream(out))
        self.assertIn("Successfully tagged cfg:1", stream(out))
        _, inspect = DAEMON.api("GET", "/images/cfg:1/json")
        self.assertEqual(inspect["Id"], image)
        c = inspect["Config"]
        self.assertIn("GREETING=hi", c["Env"])
        self.assertTrue(any(e.startswith("PATH=/opt/bin:") for e in c["Env"]), c["Env"])
        self.assertFalse(any(e.startswith("WHO=") for e in c["Env"]), "ARG leaked into Env")
        self.assertEqual(c["WorkingDir"], "/app/sub")
        self.assertEqual(c["User"], "1000:1000")
        self.assertEqual(sorted(c["ExposedPorts"]), ["53/udp", "8080/tcp"])
        self.assertEqual({k: c["Labels"][k] for k in ("a", "c d")}, {"a": "b", "c d": "e"})
        self.assertEqual(c["StopSignal"], "SIGINT")
        self.assertEqual(list(c["Volumes"]), ["/data"])
        self.assertEqual(c["Healthcheck"]["Test"], ["CMD-SHELL", "true"])
        self.assertEqual(c["Healthcheck"]["Interval"], 5 * 10**9)
        self.assertEqual(c["Healthcheck"]["Retries"], 2)
        self.assertEqual(c["Shell"], ["/bin/sh", "-ec"])
        self.assertEqual(c["Entrypoint"], ["/bin/cat"])
        self.assertEqual(c["Cmd"], ["/bin/sh", "-ec", "/out.txt"])
        _, history = DAEMON.api("GET", "/images/cfg:1/history")
        self.assertGreaterEqual(len(history), 16)
        # The RUN steps add layers, the others none.
        self.assertEqual(len(inspect["RootFS"]["Layers"]), 1 + 2)
        code, text = run("cfg:1", ["/out.txt", "/tmp/uid"])  # the entrypoint is cat
        self.assertEqual(code, 0)
        self.assertEqual(text, "hi tester from /app/sub as 0\n1000\n")

    def test_copy_rules(self):
        files = {
            "Dockerfile": """
FROM busybox
WORKDIR /w
COPY a.txt renamed.txt
COPY a.txt b.txt dir1/
COPY src /tree/
COPY src/*.c /globbed/
COPY --chown=1000:2000 --chmod=600 a.txt /owned
COPY --chown=daemon:tty a.txt /named
COPY --chown=nobody a.txt /byname
COPY --parents src/deep/z.c src/x.c /kept/
COPY --parents ./src/./deep /pivot/
COPY <<EOF /here.txt
from a heredoc
EOF
RUN ls -ln /owned /named /byname | awk '{print $1, $3, $4}' && find /w /tree /globbed /kept /pivot | sort && cat /here.txt
""",
            "a.txt": "A\n", "b.txt": "B\n", "secret.txt": "no\n",
            "src/": "", "src/x.c": "x", "src/y.h": "y", "src/deep/": "", "src/deep/z.c": "z",
            ".dockerignore": "secret.txt\n",
        }
        image, out = ok_build(files)
        text = stream(out)
        self.assertIn("-rw------- 1000 2000", text)
        self.assertIn("-rw-r--r-- 1 5", text)  # daemon:tty by name
        self.assertIn("-rw-r--r-- 65534 65534", text)  # a user alone: the group of its number
        for path in ("/kept/src/deep/z.c", "/kept/src/x.c", "/pivot/deep/z.c"):
            self.assertIn(path + "\n", text)
        self.assertNotIn("/pivot/src", text)
        for path in ("/w/renamed.txt", "/w/dir1/a.txt", "/w/dir1/b.txt", "/tree/x.c",
                     "/tree/y.h", "/tree/deep/z.c", "/globbed/x.c"):
            self.assertIn(path + "\n", text)
        self.assertNotIn("/tree/src", text)
        self.assertNotIn("/globbed/y.h", text)
        self.assertIn("from a heredoc", text)
        # A name the image does not have.
        status, out = build({"Dockerfile": "FROM busybox\nCOPY --chown=nosuchuser a /a\n",
                             "a": "x"})
        self.assertIn("unable to find user nosuchuser", json.dumps(out))
        # .dockerignore hides secret.txt from COPY.
        status, out = build({"Dockerfile": "FROM busybox\nCOPY secret.txt /\n",
                             "secret.txt": "no\n", ".dockerignore": "secret.txt\n"})
        self.assertEqual(status, 200)
        self.assertIn("secret.txt", json.dumps([m for m in out if "error" in m]))

    def test_multistage_copy_from_and_target(self):
        files = {"Dockerfile": """
FROM busybox AS one
RUN echo one > /one
FROM busybox AS unused
RUN echo never > /never
FROM busybox AS two
COPY --from=one /one /got/one
RUN cat /got/one
FROM two
RUN echo final > /final
"""}
        image, out = ok_build(files, target="two", t="ms:two")
        text = stream(out)
        self.assertNotIn("never", text)
        self.assertNotIn("final", text)
        self.assertEqual(run("ms:two", ["cat", "/got/one"]), (0, "one\n"))
        image, out = ok_build(files, t="ms:last")
        self.assertEqual(run("ms:last", ["cat", "/got/one", "/final"]), (0, "one\nfinal\n"))

    def test_independent_stages_run_side_by_side(self):
        # Each of the two stages waits (up to 20 s) for the other's mark in a shared cache
        # mount: built one after the other, the first would give up and fail the build.
        wait = ("touch /sync/{me} && for i in $(seq 200); do test -e /sync/{other} && "
                "echo {me} saw {other} > /{me} && exit 0; sleep 0.1; done; exit 9")
        _, out = ok_build({"Dockerfile": """
FROM busybox AS left
RUN --mount=type=cache,id=sync-{tag},target=/sync {left}
FROM busybox AS right
RUN --mount=type=cache,id=sync-{tag},target=/sync {right}
FROM busybox
COPY --from=left /l /l
COPY --from=right /r /r
""".format(tag=os.getpid(), left=wait.format(me="l", other="r"),
           right=wait.format(me="r", other="l"))}, t="par:1")
        self.assertEqual(run("par:1", ["cat", "/l", "/r"]), (0, "l saw r\nr saw l\n"))
        # The output reads as if the stages ran one after another.
        steps = [int(line.split()[1].split("/")[0]) for line in stream(out).splitlines()
                 if line.startswith("Step ")]
        self.assertEqual(steps, list(range(1, 8)))

    def test_cache_hits_and_misses(self):
        files = {"Dockerfile": """
FROM busybox
ARG V=1
RUN echo "v=$V" > /v
COPY a.txt /a.txt
RUN cat /a.txt /v > /both
""", "a.txt": "one\n", "other.txt": "x\n"}
        first, out = ok_build(files)
        self.assertNotIn("Using cache", stream(out))
        again, out = ok_build(files)
        self.assertEqual(again, first)
        self.assertEqual(stream(out).count("Using cache"), 4)
        # A file no step copies changes nothing.
        files["other.txt"] = "changed\n"
        self.assertEqual(ok_build(files)[0], first)
        # The copied file changes: the steps before it come from the cache, it and after not.
        files["a.txt"] = "two\n"
        second, out = ok_build(files)
        self.assertNotEqual(second, first)
        self.assertEqual(stream(out).count("Using cache"), 2)
        self.assertEqual(run(second, ["cat", "/both"]), (0, "two\nv=1\n"))
        # A build arg in scope: everything from the first step that has it in scope is new.
        third, out = ok_build(files, buildargs={"V": "2"})
        self.assertEqual(stream(out).count("Using cache"), 0)
        self.assertEqual(run(third, ["cat", "/both"]), (0, "two\nv=2\n"))
        # --no-cache uses none.
        _, out = ok_build(files, nocache="1")
        self.assertNotIn("Using cache", stream(out))

    def test_deleted_files_are_whiteouts(self):
        image, _ = ok_build({"Dockerfile": """
FROM busybox
RUN mkdir -p /d && echo x > /d/f && echo y > /keep
RUN rm -rf /d && rm /etc/group
"""}, t="wh:1")
        self.assertEqual(run("wh:1", ["sh", "-c", "test -e /d || test -e /etc/group || cat /keep"]),
                         (0, "y\n"))
        status, data = DAEMON.api("GET", "/images/wh:1/get")
        self.assertEqual(status, 200)
        outer = tarfile.open(fileobj=io.BytesIO(data))
        manifest = json.load(outer.extractfile("manifest.json"))
        last = manifest[0]["Layers"][-1]
        names = tarfile.open(fileobj=outer.extractfile(last)).getnames()
        self.assertIn(".wh.d", names)
        self.assertIn("etc/.wh.group", names)

    def test_rm_0_keeps_the_run_containers(self):
        _, out = ok_build({"Dockerfile": "FROM busybox\nRUN echo kept\n"}, rm="0")
        self.assertNotIn("Removing intermediate container", stream(out))
        left = containers()
        self.assertEqual(len(left), 1, left)
        DAEMON.api("DELETE", "/containers/%s?force=1" % left[0]["Id"])

    def test_heredoc_run(self):
        _, out = ok_build({"Dockerfile": "FROM busybox\nRUN <<EOF\necho one\necho two\nEOF\n"
                                         "RUN cat <<X\nthree\nX\n"})
        text = stream(out)
        self.assertIn("one\ntwo\n", text)
        self.assertIn("three\n", text)

    def test_failures_report_and_leave_nothing(self):
        before = DAEMON.api("GET", "/images/json")[1]
        status, out = build({"Dockerfile": "FROM busybox\nRUN echo doing; exit 3\n"}, t="bad:1")
        self.assertEqual(status, 200)
        err = [m for m in out if "error" in m]
        self.assertEqual(err[0]["errorDetail"]["code"], 3)
        self.assertIn("returned a non-zero code: 3", err[0]["error"])
        self.assertIn("doing", stream(out))
        self.assertEqual(DAEMON.api("GET", "/images/bad:1/json")[0], 404)
        # A parse error: a 400 before anything is built, naming file, line and column.
        status, body = build({"Dockerfile": "FROM busybox\nBOGUS x\n"})
        self.assertEqual(status, 400)
        self.assertIn("Dockerfile:2:1", body["message"])
        self.assertIn("BOGUS", body["message"])
        # A cycle between stages: a 400 naming the cycle.
        status, body = build({"Dockerfile": "FROM busybox AS a\nCOPY --from=b /x /x\n"
                                            "FROM busybox AS b\nCOPY --from=a /y /y\n"})
        self.assertEqual(status, 400)
        self.assertIn("circular dependency between stages", body["message"])
        # A source outside the context, a context that is not a tar.
        status, out = build({"Dockerfile": "FROM busybox\nCOPY ../../etc/passwd /\n"})
        self.assertIn("outside the build context", json.dumps(out))
        status, body = DAEMON.api("POST", "/build", b"this is not a tar" * 100,
                                  "application/x-tar")
        self.assertEqual(status, 400)
        self.assertIn("not a tar", body["message"])
        # A COPY source that is not there, and a custom Dockerfile name that is not there.
        status, out = build({"Dockerfile": "FROM busybox\nCOPY missing.txt /\n"})
        self.assertIn("missing.txt", json.dumps(out))
        status, body = build({"Dockerfile": "FROM busybox\n"}, dockerfile="Other.dockerfile")
        self.assertEqual(status, 400)
        self.assertIn("Other.dockerfile", body["message"])
        # A failing stage among parallel ones: its error, the others stopped, nothing left.
        status, out = build({"Dockerfile": "FROM busybox AS a\nRUN exit 4\nFROM busybox AS b\n"
                                           "RUN sleep 3\nRUN echo never-after-the-failure\n"
                                           "FROM busybox\nCOPY --from=a /etc/passwd /a\n"
                                           "COPY --from=b /etc/passwd /b\n"})
        err = [m for m in out if "error" in m]
        self.assertEqual(err[0]["errorDetail"]["code"], 4, out)
        self.assertNotIn("never-after-the-failure", stream(out))
        self.assertEqual(DAEMON.api("GET", "/images/json")[1], before)

    def test_buildkit_and_remote_refused(self):
        status, body = build({"Dockerfile": "FROM busybox\n"}, version="2")
        self.assertEqual(status, 400)
        self.assertIn("DOCKER_BUILDKIT", body["message"])

    def test_onbuild_triggers_run_in_the_child(self):
        ok_build({"Dockerfile": "FROM busybox\nONBUILD ENV FROM_TRIGGER=yes\n"
                                "ONBUILD RUN echo \"trigger saw $FROM_TRIGGER\" > /trigger\n"},
                 t="onb:parent")
        _, parent = DAEMON.api("GET", "/images/onb:parent/json")
        self.assertEqual(len(parent["Config"]["OnBuild"]), 2)
        _, out = ok_build({"Dockerfile": "FROM onb:parent\nRUN cat /trigger\n"}, t="onb:child")
        text = stream(out)
        self.assertIn("# Executing 2 build triggers", text)
        self.assertIn("trigger saw yes", text)
        _, child = DAEMON.api("GET", "/images/onb:child/json")
        self.assertFalse(child["Config"].get("OnBuild"))
        self.assertIn("FROM_TRIGGER=yes", child["Config"]["Env"])

    def test_run_mounts(self):
        files = {"Dockerfile": """
FROM busybox
RUN --mount=type=cache,target=/cache echo run >> /cache/log && wc -l < /cache/log
RUN --mount=type=bind,source=data,target=/data cat /data/f
RUN --mount=type=tmpfs,target=/t,size=1m grep ' /t ' /proc/mounts && touch /t/x
RUN test ! -e /cache && test ! -e /data && test ! -e /t && echo clean
""", "data/": "", "data/f": "bound\n"}
        _, out = ok_build(files, t="mounts:1")
        text = stream(out)
        self.assertIn("\n1\n", text)
        self.assertIn("bound\n", text)
        self.assertIn("tmpfs", text)
        self.assertIn("clean\n", text)
        # The cache mount keeps its content for the next build; the bind's file is an input.
        files["data/f"] = "changed\n"
        _, out = ok_build(files, nocache="1")
        self.assertIn("\n2\n", stream(out))
        self.assertIn("changed\n", stream(out))
        files["Dockerfile"] = "FROM busybox\nRUN --mount=type=bind,source=data,target=/d cat /d/f\n"
        ok_build(files)
        files["data/f"] = "again\n"
        _, out = ok_build(files)
        self.assertNotIn("Using cache", stream(out))
        self.assertIn("again", stream(out))
        _, vols = DAEMON.api("GET", "/volumes?filters=" + quote(json.dumps(
            {"label": ["berth.build-cache=/cache"]})))
        self.assertEqual(len(vols["Volumes"]), 1)
        status, out = build({"Dockerfile": "FROM busybox\nRUN --mount=type=ssh cat /x\n"})
        self.assertIn("ssh", json.dumps([m for m in out if "error" in m]))

    def test_secrets(self):
        # berth build --secret sends them under .berth-build-secrets/ in the context.
        files = {"Dockerfile": """
FROM busybox
COPY . /ctx
RUN --mount=type=secret,id=tok cat /run/secrets/tok && echo
RUN --mount=type=secret,id=tok,target=/s/t wc -c < /s/t
RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent && echo optional
RUN test ! -e /ctx/.berth-build-secrets && test ! -e /run/secrets && test ! -e /s && echo gone
""", ".berth-build-secrets/": "", ".berth-build-secrets/tok": "s3cret"}
        image, out = ok_build(files, t="sec:1")
        text = stream(out)
        self.assertIn("s3cret\n", text)
        self.assertIn("\n6\n", text)
        self.assertIn("optional\n", text)
        self.assertIn("gone\n", text)
        status, data = DAEMON.api("GET", "/images/sec:1/get")
        self.assertNotIn(b"s3cret", data)
        status, out = build({"Dockerfile": "FROM busybox\n"
                                           "RUN --mount=type=secret,id=need,required=true true\n"})
        self.assertIn("no such secret", json.dumps([m for m in out if "error" in m]))

    def test_zz_builder_prune(self):
        ok_build({"Dockerfile": "FROM busybox\nRUN echo p > /p\nENV X=1\n"}, t="keep:1")
        _, everything = DAEMON.api("GET", "/images/json?all=1")
        _, listed = DAEMON.api("GET", "/images/json")
        self.assertGreater(len(everything), len(listed))  # the steps are intermediate images
        status, body = DAEMON.api("POST", "/build/prune?all=1")
        self.assertEqual(status, 200)
        self.assertTrue(body["CachesDeleted"])
        _, after = DAEMON.api("GET", "/images/json?all=1")
        self.assertEqual(len(after), len(listed))
        _, vols = DAEMON.api("GET", "/volumes?filters=" + quote(json.dumps(
            {"label": ["berth.build-cache"]})))
        self.assertEqual(vols["Volumes"], [])  # RUN --mount=type=cache's volumes went too
        self.assertEqual(run("keep:1", ["cat", "/p"]), (0, "p\n"))


if __name__ == "__main__":
    unittest.main(verbosity=2)

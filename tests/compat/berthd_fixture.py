"""A private berthd for the compat tests: its own --root, --state and socket in a temp dir;
and the foreign clients found on this machine.

Stopped by pid (SIGTERM, then SIGKILL after 10 s) and its directory removed by stop(), which
returns berthd's exit status and log (a sanitizer's report lands there). kill9() and start()
let a test kill it hard and start it again on the same directories (live restore).

berthd turns IP forwarding on (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding), as dockerd
does, and leaves it on. The tests put the host's values back: ForwardingGuard counts the test
daemons alive on the machine (test modules run side by side) and restores what was there
before the first once the last one stops.
"""

import fcntl
import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

# The docker CLIs: Debian's 20.10 and the 28.2 client in /usr/local/bin.
DOCKERS = [d for d in ("/usr/bin/docker", "/usr/local/bin/docker") if os.access(d, os.X_OK)]
# docker-py: Debian's 5.0.3 (/usr/bin/python3) and the pip 7.1.0 (python3 in PATH), as
# (interpreter, version) once each.
PYTHONS = []
for _py in ("/usr/bin/python3", shutil.which("python3") or ""):
    if _py and os.access(_py, os.X_OK):
        _probe = subprocess.run([_py, "-c", "import docker; print(docker.__version__)"],
                                capture_output=True, text=True)
        if _probe.returncode == 0 and _probe.stdout.strip() not in [v for _, v in PYTHONS]:
            PYTHONS.append((_py, _probe.stdout.strip()))


def _routes():
    out = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True,
                         text=True).stdout
    nets = []
    for line in out.splitlines():
        word = line.split()[0] if line.split() else ""
        try:
            if word not in ("default", "broadcast", "local"):
                nets.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            pass
    return nets


def _routes6():
    out = subprocess.run(["ip", "-6", "route", "show", "table", "all"], capture_output=True,
                         text=True).stdout
    nets = []
    for line in out.splitlines():
        word = line.split()[0] if line.split() else ""
        if word in ("local", "anycast", "multicast", "unreachable", "blackhole", "prohibit"):
            word = line.split()[1] if len(line.split()) > 1 else ""
        try:
            if word != "default":
                nets.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            pass
    return nets


def _free_block6():
    """A random /48 of fd00::/8 (a unique local prefix: never routable) that overlaps no route
    of the host (this one's own fd00::/64, for one)."""
    taken = _routes6()
    for _ in range(100):
        b = ipaddress.ip_network("fd%02x:%04x:%04x::/48" % (random.getrandbits(8),
                                                         random.getrandbits(16),
                                                         random.getrandbits(16)))
        if not any(b.overlaps(t) for t in taken):
            return b
    raise RuntimeError("no free IPv6 block in fd00::/8")


def _free_block(base, prefixlen, taken):
    """A random subnet of `base` with `prefixlen` that overlaps no route of the host."""
    blocks = list(ipaddress.ip_network(base).subnets(new_prefix=prefixlen))
    random.shuffle(blocks)
    for b in blocks:
        if not any(b.overlaps(t) for t in taken):
            return b
    raise RuntimeError("no free subnet in " + base)


class TestNetwork:
    """A berthd's networking of its own: the default bridge, user-defined bridges (`prefix`
    + the network id), the nftables table and every subnet (198.18.0.0/15, checked against
    the host's routes) are unique to it; remove() deletes the links and tables (berthd leaves
    its bridges, as dockerd does)."""

    def __init__(self):
        tag = "%05x" % random.getrandbits(20)
        self.prefix = "bt" + tag + "-"
        self.bridge = self.prefix + "0"
        self.nft_table = "berthtest" + tag
        taken = _routes()
        self.subnet = _free_block("198.18.0.0/16", 24, taken)
        # Networks created without --subnet take /24s from the start of this /20; tests that
        # pick their own use user_subnet(n) from its end.
        self.pool = _free_block("198.19.0.0/16", 20, taken + [self.subnet])
        # IPv6 subnets (--ipv6 --subnet) for the tests: /64s of a random unique-local /48.
        self.pool6 = _free_block6()

    def user_subnet6(self, n):
        """The n-th /64 of this berthd's IPv6 block."""
        return str(ipaddress.ip_network("%s/64" % (self.pool6.network_address + (n << 64))))

    def config(self):
        """The daemon.json keys that keep a berthd's networking to itself."""
        return {"bridge": self.bridge, "default-subnet": str(self.subnet),
                "nftables-table": self.nft_table, "bridge-prefix": self.prefix,
                "default-address-pools": [{"base": str(self.pool), "size": 24}]}

    def links(self):
        """The bridges and whatever else carries the prefix."""
        out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
        names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]
        return [n for n in names if n.startswith(self.prefix)]

    def remove(self):
        for link in self.links():
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        for family in ("inet", "bridge"):
            subprocess.run(["nft", "delete", "table", family, self.nft_table],
                           capture_output=True)


class ForwardingGuard:
    """The forwarding sysctls as they were before the first test daemon of a run."""

    SYSCTLS = ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding")
    STATE = "/run/berth-test-forwarding.json"

    @classmethod
    def _update(cls, change):
        with open(cls.STATE + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with open(cls.STATE) as f:
                    state = json.load(f)
            except (OSError, ValueError):
                state = {"pids": [], "saved": {}}
            # A test process that died without stop() no longer counts.
            state["pids"] = [p for p in state["pids"] if os.path.exists("/proc/%d" % p)]
            change(state)
            if state["pids"]:
                with open(cls.STATE, "w") as f:
                    json.dump(state, f)
            else:
                for path, value in state["saved"].items():
                    try:
                        with open(path, "w") as f:
                            f.write(value)
                    except OSError:
                        pass
                for path in (cls.STATE, cls.STATE + ".lock"):
                    try:
                        os.unlink(path)
                    except OSError:
                        pass

    @classmethod
    def enter(cls):
        def change(state):
            if not state["pids"]:
                state["saved"] = {}
                for path in cls.SYSCTLS:
                    try:
                        with open(path) as f:
                            state["saved"][path] = f.read().strip()
                    except OSError:
                        pass
            state["pids"].append(os.getpid())
        cls._update(change)

    @classmethod
    def leave(cls):
        def change(state):
            if os.getpid() in state["pids"]:
                state["pids"].remove(os.getpid())
        cls._update(change)


class Berthd:
    """A berthd of the test's own, with its own networking (TestNetwork)."""

    def __init__(self, berthd, prefix="berth-compat."):
        self.berthd = berthd
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.sock = os.path.join(self.dir, "berth.sock")
        self.host = "unix://" + self.sock
        self.log = open(os.path.join(self.dir, "berthd.log"), "a")
        self.net = TestNetwork()
        self.bridge_prefix = self.net.prefix
        self.bridge = self.net.bridge
        self.nft_table = self.net.nft_table
        self.subnet = self.net.subnet
        self.pool = self.net.pool
        self.user_subnet6 = self.net.user_subnet6
        self.config = os.path.join(self.dir, "daemon.json")
        with open(self.config, "w") as f:
            json.dump(self.net.config(), f)
        ForwardingGuard.enter()
        self.start()

    def user_subnet(self, n):
        """The n-th (0..7) /24 reserved for tests' own --subnet choices."""
        return str(list(self.pool.subnets(new_prefix=24))[15 - n])

    def start(self):
        self.proc = subprocess.Popen(
            [self.berthd, "--root", os.path.join(self.dir, "root"), "--state",
             os.path.join(self.dir, "state"), "-H", self.host, "--config-file", self.config],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        # The socket file appears at bind, a moment before berthd listens: wait for a connect.
        while not self._answers():
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("berthd did not start")
            time.sleep(0.02)

    def _answers(self):
        if not os.path.exists(self.sock):
            return False
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.sock)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def api(self, method, path, body=None, content_type="application/json"):
        """One request on its own connection: (status, body). A JSON answer is parsed; a
        stream of JSON lines (pull, build, events) becomes a list."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(120)
        s.connect(self.sock)
        try:
            data = b"" if body is None else (body if isinstance(body, bytes)
                                             else json.dumps(body).encode())
            head = "%s /v1.41%s HTTP/1.1\r\nHost: docker\r\nContent-Length: %d\r\n" % (
                method, path, len(data))
            if body is not None:
                head += "Content-Type: %s\r\n" % content_type
            s.sendall(head.encode() + b"Connection: close\r\n\r\n" + data)
            raw = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                raw += chunk
        finally:
            s.close()
        header, _, rest = raw.partition(b"\r\n\r\n")
        lines = header.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in
                   (line.split(":", 1) for line in lines[1:])}
        if headers.get("transfer-encoding") == "chunked":
            out = b""
            while rest:
                size, _, rest = rest.partition(b"\r\n")
                n = int(size, 16)
                if n == 0:
                    break
                out += rest[:n]
                rest = rest[n + 2:]
            rest = out
        if headers.get("content-type", "").startswith("application/json") and rest.strip():
            try:
                return status, json.loads(rest)
            except ValueError:
                return status, [json.loads(line) for line in rest.splitlines() if line.strip()]
        return status, rest

    def kill9(self):
        """Kills berthd hard, as a crash would; its socket file stays behind."""
        self.proc.kill()
        self.proc.wait()
        os.unlink(self.sock)

    def env(self):
        env = dict(os.environ)
        env["DOCKER_HOST"] = self.host
        env.pop("DOCKER_API_VERSION", None)
        env["DOCKER_CONFIG"] = os.path.join(self.dir, "docker-config")
        return env

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
        self.remove_network_state()
        shutil.rmtree(self.dir, ignore_errors=True)
        ForwardingGuard.leave()
        return self.proc.returncode, log

    def links(self):
        """This instance's bridges and whatever else carries its prefix."""
        return self.net.links()

    def remove_network_state(self):
        self.net.remove()

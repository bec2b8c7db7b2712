"""A private berth-registry (or Debian's docker-registry) for the registry tests: its own root
in a temp dir, on 127.0.0.1 with a port the kernel picks (berth-registry: --addr
127.0.0.1:0, the address read back from its log; docker-registry: a free port found first).
Stopped by pid (SIGTERM, then SIGKILL after 10 s); stop() removes the directory and returns
the exit status and the log.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Registry:
    def __init__(self, binary, args=(), prefix="berth-registry-test.", root=None):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.root = root or os.path.join(self.dir, "root")
        self.binary = binary
        self.args = list(args)
        self.log_path = os.path.join(self.dir, "registry.log")
        self.proc = None
        self.start()

    def start(self):
        self.log = open(self.log_path, "a")
        offset = self.log.tell()
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--addr", "127.0.0.1:0", "--root", self.root] + self.args,
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while True:
            with open(self.log_path) as f:
                f.seek(offset)
                m = re.search(r"listening on (https?)://([0-9.]+:[0-9]+)", f.read())
            if m:
                self.scheme, self.addr = m.group(1), m.group(2)
                self.port = int(self.addr.rsplit(":", 1)[1])
                return
            if self.proc.poll() is not None or time.time() > deadline:
                code, log = self.stop()
                raise RuntimeError("berth-registry did not start (%s):\n%s" % (code, log))
            time.sleep(0.02)

    def terminate(self):
        """Stops the server, keeps its directory (a restart or gc follows)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        code = self.terminate()
        log = self.read_log()
        shutil.rmtree(self.dir, ignore_errors=True)
        return code, log


class DockerRegistry:
    """Debian's docker-registry (distribution 2.8), filesystem storage, on a free port."""

    def __init__(self, binary="docker-registry", prefix="docker-registry-test.", extra_yaml=""):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.port = free_port()
        self.addr = "127.0.0.1:%d" % self.port
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                    "storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"
                    "http:\n  addr: %s\n%s" % (os.path.join(self.dir, "root"), self.addr, extra_yaml))
        self.log = open(os.path.join(self.dir, "registry.log"), "a")
        self.proc = subprocess.Popen([binary, "serve", cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError("docker-registry did not start")
                time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode

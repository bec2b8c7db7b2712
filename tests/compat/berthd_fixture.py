"""A private berthd for the compat tests: its own --root, --state and socket in a temp dir;
and the foreign clients found on this machine.

Stopped by pid (SIGTERM, then SIGKILL after 10 s) and its directory removed by stop(), which
returns berthd's exit status and log (a sanitizer's report lands there). kill9() and start()
let a test kill it hard and start it again on the same directories (live restore).
"""

import os
import shutil
import signal
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


class Berthd:
    def __init__(self, berthd, prefix="berth-compat."):
        self.berthd = berthd
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.sock = os.path.join(self.dir, "berth.sock")
        self.host = "unix://" + self.sock
        self.log = open(os.path.join(self.dir, "berthd.log"), "a")
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [self.berthd, "--root", os.path.join(self.dir, "root"), "--state",
             os.path.join(self.dir, "state"), "-H", self.host],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("berthd did not start")
            time.sleep(0.02)

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
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode, log

#!/usr/bin/env python3
"""berthd's networking under the unchanged docker CLIs (Debian's 20.10 and the 28.2 client)
and docker-py: network create/ls/inspect/connect/disconnect/rm/prune, run -p and port, a
published busybox httpd answering on 127.0.0.1, and a peer resolved by name; IPv6 networks
(create --ipv6 --subnet --gateway, run --ip6, inspect's v6 fields, AAAA, the refusals).

Environment: BERTHD, BERTH_BUSYBOX_IMAGE. Needs root. berthd has its own bridges, nftables
table and subnets (berthd_fixture.py); traffic goes only to 127.0.0.1 and the test's bridges.
Everything is removed at the end, also on failure.
"""

import os
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from berthd_fixture import DOCKERS, PYTHONS, Berthd  # noqa: E402

BERTHD = os.environ.get("BERTHD", "")
IMAGE = os.environ.get("BERTH_BUSYBOX_IMAGE", "")
TIMEOUT = 60
HTTPD = "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"
FETCH = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 %s 80"


def setUpModule():
    global DAEMON
    if os.geteuid() != 0 or not (BERTHD and IMAGE):
        raise unittest.SkipTest("needs root and BERTHD, BERTH_BUSYBOX_IMAGE")
    if not DOCKERS:
        raise unittest.SkipTest("no docker CLI installed")
    DAEMON = Berthd(BERTHD, "berth-compat-net.")
    try:
        subprocess.run([DOCKERS[0], "load", "-q", "-i", IMAGE], env=DAEMON.env(), check=True,
                       capture_output=True, timeout=TIMEOUT)
    except BaseException:
        DAEMON.stop()
        raise


def tearDownModule():
    if "DAEMON" not in globals():
        return
    env = DAEMON.env()
    ids = subprocess.run([DOCKERS[0], "ps", "-aq"], env=env, capture_output=True, text=True,
                         timeout=TIMEOUT).stdout.split()
    if ids:
        subprocess.run([DOCKERS[0], "rm", "-f"] + ids, env=env, capture_output=True,
                       timeout=TIMEOUT)
    subprocess.run([DOCKERS[0], "network", "prune", "-f"], env=env, capture_output=True,
                   timeout=TIMEOUT)
    status, log = DAEMON.stop()
    if status != 0 or DAEMON.links():
        raise AssertionError("berthd exited with %d; links left: %s\n%s" % (
            status, DAEMON.links(), log[-4000:]))


def wait_http(url, want, tries=50):
    last = None
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                body = r.read().decode()
                if want in body:
                    return body
                last = body
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise AssertionError("%s did not answer %r: %s" % (url, want, last))


class DockerCliNetworkTest(unittest.TestCase):
    def docker(self, binary, *args, check=True):
        p = subprocess.run([binary] + list(args), env=DAEMON.env(), capture_output=True,
                           text=True, timeout=TIMEOUT)
        if check and p.returncode != 0:
            raise AssertionError("docker %s failed (%d):\n%s%s" % (" ".join(args), p.returncode,
                                                                 p.stdout, p.stderr))
        return p

    def check(self, docker, tag):
        net, other = "cnet" + tag, "cother" + tag
        web, client = "cweb" + tag, "cclient" + tag
        try:
            nid = self.docker(docker, "network", "create", "--label", "t=" + tag, net)
            self.assertEqual(len(nid.stdout.strip()), 64)
            self.docker(docker, "network", "create", "--internal", other)
            ls = self.docker(docker, "network", "ls").stdout
            self.assertIn(net, ls)
            self.assertIn("bridge", ls)
            only = self.docker(docker, "network", "ls", "-q", "--filter", "label=t=" + tag)
            self.assertEqual(only.stdout.split(), [nid.stdout.strip()[:12]])
            fmt = self.docker(docker, "network", "inspect", "-f",
                              "{{.Driver}} {{(index .IPAM.Config 0).Subnet}}", net).stdout
            self.assertTrue(fmt.startswith("bridge " + str(DAEMON.pool).split(".")[0]), fmt)
            dup = self.docker(docker, "network", "create", net, check=False)
            self.assertNotEqual(dup.returncode, 0)
            self.assertIn("already exists", dup.stderr)

            # run -p on 127.0.0.1, port, and the host reaching it.
            self.docker(docker, "run", "-d", "--name", web, "--network", net,
                        "--network-alias", "site" + tag, "-p", "127.0.0.1::80", "busybox",
                        "sh", "-c", HTTPD)
            port = self.docker(docker, "port", web, "80").stdout.strip()
            self.assertRegex(port, r"^127\.0\.0\.1:\d+$")
            wait_http("http://%s/" % port, "hello-from-")
            self.assertIn("127.0.0.1:", self.docker(docker, "ps", "--filter", "name=" + web,
                                                     "--format", "{{.Ports}}").stdout)
            ip = self.docker(docker, "inspect", "-f",
                             "{{(index .NetworkSettings.Networks \"%s\").IPAddress}}" % net,
                             web).stdout.strip()
            self.assertTrue(ip)

            # A peer by name and by alias; from another network, nothing.
            out = self.docker(docker, "run", "--rm", "--network", net, "busybox", "sh", "-c",
                              FETCH % web + "; " + FETCH % ("site" + tag)).stdout
            self.assertEqual(out.count("hello-from-"), 2, out)
            out = self.docker(docker, "run", "--rm", "--network", other, "busybox", "sh", "-c",
                              FETCH % ip + "; echo rc=$?", check=False).stdout
            self.assertNotIn("hello-from-", out)

            # connect/disconnect a running container.
            self.docker(docker, "run", "-d", "--name", client, "--network", other, "busybox",
                        "sleep", "300")
            self.docker(docker, "network", "connect", net, client)
            out = self.docker(docker, "exec", client, "sh", "-c", FETCH % web).stdout
            self.assertIn("hello-from-", out)
            nets = self.docker(docker, "inspect", "-f",
                               "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
                               client).stdout.split()
            self.assertEqual(sorted(nets), sorted([net, other]))
            self.docker(docker, "network", "disconnect", net, client)
            busy = self.docker(docker, "network", "rm", net, check=False)
            self.assertNotEqual(busy.returncode, 0)
            self.assertIn("active endpoints", busy.stderr)
        finally:
            self.docker(docker, "rm", "-f", web, client, check=False)
        self.docker(docker, "network", "rm", net)
        pruned = self.docker(docker, "network", "prune", "-f").stdout
        self.assertIn(other, pruned)

    def check_ipv6(self, docker, tag, n):
        net, web = "c6net" + tag, "c6web" + tag
        subnet = DAEMON.user_subnet6(n)
        prefix = subnet.split("::")[0]
        fixed = prefix + "::c:1"
        try:
            # A v6 subnet without --ipv6, and --ipv6 without one: refused, nothing created.
            bad = self.docker(docker, "network", "create", "--subnet", subnet, net, check=False)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn("IPv6 has not been enabled", bad.stderr)
            bad = self.docker(docker, "network", "create", "--ipv6", net, check=False)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn("IPv6 address pool", bad.stderr)
            self.assertNotIn(net, self.docker(docker, "network", "ls").stdout)

            self.docker(docker, "network", "create", "--ipv6", "--subnet", subnet, "--gateway",
                        prefix + "::fe", net)
            fmt = self.docker(docker, "network", "inspect", "-f",
                              "{{.EnableIPv6}}{{range .IPAM.Config}} {{.Subnet}}={{.Gateway}}"
                              "{{end}}", net).stdout.split()
            self.assertEqual(fmt[0], "true")
            self.assertIn("%s=%s::fe" % (subnet, prefix), fmt)
            self.docker(docker, "run", "-d", "--name", web, "--network", net, "--ip6", fixed,
                        "-p", "80", "busybox", "sh", "-c", HTTPD)
            got = self.docker(docker, "inspect", "-f",
                              "{{with index .NetworkSettings.Networks \"%s\"}}"
                              "{{.GlobalIPv6Address}} {{.GlobalIPv6PrefixLen}} {{.IPv6Gateway}}"
                              "{{end}}" % net, web).stdout.split()
            self.assertEqual(got, [fixed, "64", prefix + "::fe"])
            # A peer by v6 address and by name (AAAA), then the published port over IPv6 on
            # the network's own gateway address.
            out = self.docker(docker, "run", "--rm", "--network", net, "busybox", "sh", "-c",
                              FETCH % fixed + "; nslookup -type=AAAA " + web).stdout
            self.assertIn("hello-from-", out)
            self.assertIn("Address: " + fixed, out)
            port = self.docker(docker, "port", web, "80").stdout
            host_port = port.split()[0].rsplit(":", 1)[1]
            wait_http("http://[%s::fe]:%s/" % (prefix, host_port), "hello-from-")
            wait_http("http://[::1]:%s/" % host_port, "hello-from-")
            # Listed on :: as well, as Docker does (20.10 prints ":::N", 28 "[::]:N").
            self.assertTrue(":::" + host_port in port or "[::]:" + host_port in port, port)
            # --ip6 outside the subnet.
            bad = self.docker(docker, "run", "--rm", "--network", net, "--ip6", "fd00:1:2:3::5",
                              "busybox", "true", check=False)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn("does not belong to any of the network's subnets", bad.stderr)
        finally:
            self.docker(docker, "rm", "-f", web, check=False)
            self.docker(docker, "network", "rm", net, check=False)
        self.assertNotIn(net, self.docker(docker, "network", "ls").stdout)

    def test_ipv6_docker_20_10(self):
        if "/usr/bin/docker" not in DOCKERS:
            self.skipTest("Debian's docker CLI is not installed")
        self.check_ipv6("/usr/bin/docker", "a", 10)

    def test_ipv6_docker_28(self):
        if "/usr/local/bin/docker" not in DOCKERS:
            self.skipTest("the docker 28 CLI is not installed")
        self.check_ipv6("/usr/local/bin/docker", "b", 11)

    def test_docker_20_10(self):
        if "/usr/bin/docker" not in DOCKERS:
            self.skipTest("Debian's docker CLI is not installed")
        self.check("/usr/bin/docker", "a")

    def test_docker_28(self):
        if "/usr/local/bin/docker" not in DOCKERS:
            self.skipTest("the docker 28 CLI is not installed")
        self.check("/usr/local/bin/docker", "b")


DOCKER_PY_SCRIPT = r"""
import sys, time, urllib.request
import docker
c = docker.DockerClient(base_url=sys.argv[1], version="1.41", timeout=60)
tag = sys.argv[2]
net = c.networks.create("pynet" + tag, driver="bridge", labels={"py": tag})
try:
    assert net.attrs["Driver"] == "bridge", net.attrs
    web = c.containers.run("busybox", ["sh", "-c", sys.argv[3]], name="pyweb" + tag,
                           detach=True, network="pynet" + tag, ports={"80/tcp": ("127.0.0.1", None)})
    try:
        web.reload()
        binding = web.attrs["NetworkSettings"]["Ports"]["80/tcp"][0]
        assert binding["HostIp"] == "127.0.0.1", binding
        url = "http://127.0.0.1:%s/" % binding["HostPort"]
        for _ in range(50):
            try:
                body = urllib.request.urlopen(url, timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert "hello-from-" in body, body
        out = c.containers.run("busybox", ["sh", "-c", sys.argv[4] % ("pyweb" + tag)],
                               network="pynet" + tag, remove=True).decode()
        assert "hello-from-" in out, out
        net.reload()
        assert web.id in net.attrs["Containers"], net.attrs
        other = c.containers.run("busybox", ["sleep", "60"], detach=True, network_mode="none")
        try:
            pass
        finally:
            other.remove(force=True)
    finally:
        web.remove(force=True)
finally:
    net.remove()
assert "pynet" + tag not in [n.name for n in c.networks.list()]
print("ok")
"""


class DockerPyNetworkTest(unittest.TestCase):
    def test_docker_py(self):
        if not PYTHONS:
            self.skipTest("docker-py is not installed")
        for i, (py, version) in enumerate(PYTHONS):
            with self.subTest(docker_py=version):
                p = subprocess.run([py, "-c", DOCKER_PY_SCRIPT, DAEMON.host, str(i), HTTPD,
                                    FETCH], capture_output=True, text=True, timeout=TIMEOUT)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout, "ok\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)

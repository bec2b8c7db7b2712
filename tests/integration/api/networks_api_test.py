#!/usr/bin/env python3
"""berthd's networking over the raw Engine API (issue 7): containers on a user-defined network
reach each other by name and alias (the embedded DNS server), a busybox httpd published on
127.0.0.1 answers from the host, containers on different networks cannot reach each other,
an --internal network has no route out, connect/disconnect on a running container, the
/networks errors with Docker's status codes, berthd killed with -9 and restarted keeps the
rules and the containers' connectivity, and a failed start leaves no veth, address or rule.

Environment: BERTHD, BERTH_BUSYBOX_IMAGE. Needs root. berthd runs on a temp dir with its own
bridges (unique names), nftables table and subnets from 198.18.0.0/15 (berthd_fixture.py);
traffic goes only to 127.0.0.1 and to the test's own bridges. Everything is removed at the
end, also on failure.
"""

import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import time
import unittest
import urllib.request
from urllib.parse import quote

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "compat"))
from berthd_fixture import Berthd  # noqa: E402

BERTHD = os.environ.get("BERTHD", "")
IMAGE = os.environ.get("BERTH_BUSYBOX_IMAGE", "")
HTTPD = "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(self.path)


def api(method, path, body=None):
    c = UnixConnection(DAEMON.sock)
    try:
        data = body if body is None or isinstance(body, bytes) else json.dumps(body)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        c.request(method, "/v1.41" + path, body=data, headers=headers)
        r = c.getresponse()
        raw = r.read()
        if r.getheader("Content-Type", "").startswith("application/json") and raw.strip():
            return r.status, json.loads(raw)
        return r.status, raw
    finally:
        c.close()


def ok(result, *codes):
    status, out = result
    assert status in (codes or (200, 201, 204)), (status, out)
    return out


def frames(data):
    out = b""
    while len(data) >= 8:
        n = struct.unpack(">I", data[4:8])[0]
        out += data[8:8 + n]
        data = data[8 + n:]
    return out.decode(errors="replace")


def create(cmd, name=None, network="default", **extra):
    body = {"Image": "busybox", "Cmd": ["sh", "-c", cmd],
            "HostConfig": dict({"NetworkMode": network}, **extra.pop("HostConfig", {}))}
    body.update(extra)
    return ok(api("POST", "/containers/create" + ("?name=" + name if name else ""), body),
              201)["Id"]


def start(cid):
    return api("POST", "/containers/%s/start" % cid)


def run(cmd, network="default", timeout=30, **extra):
    """Runs `cmd` to its end; returns (exit code, output)."""
    cid = create(cmd, network=network, **extra)
    try:
        ok(start(cid), 204)
        c = UnixConnection(DAEMON.sock)
        c.timeout = timeout
        c.request("POST", "/v1.41/containers/%s/wait" % cid)
        code = json.loads(c.getresponse().read())["StatusCode"]
        c.close()
        _, logs = api("GET", "/containers/%s/logs?stdout=1&stderr=1" % cid)
        return code, frames(logs)
    finally:
        api("DELETE", "/containers/%s?force=1" % cid)


def server(name, network, **extra):
    cid = create(HTTPD, name=name, network=network, **extra)
    ok(start(cid), 204)
    return cid


def fetch_in(network, target, **extra):
    """An HTTP GET from a container on `network` to `target` (host:port) with busybox nc."""
    return run("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 %s; echo rc=$?" %
               target.replace(":", " "), network=network, **extra)[1]


def net_create(name, **body):
    body = dict({"Name": name, "Driver": "bridge"}, **body)
    return ok(api("POST", "/networks/create", body), 201)["Id"]


def bridges():
    _, nets = api("GET", "/networks")
    return [n["Options"].get("com.docker.network.bridge.name") or "" for n in nets
            if n["Driver"] == "bridge"]


def veths():
    """Host ends of veths enslaved to this berthd's bridges."""
    out = []
    for link in DAEMON.links():
        text = subprocess.run(["ip", "-o", "link", "show", "master", link], capture_output=True,
                              text=True).stdout
        out += [line.split(":")[1].strip().split("@")[0] for line in text.splitlines()]
    return out


def nft_rules():
    text = subprocess.run(["nft", "list", "table", "inet", DAEMON.nft_table],
                          capture_output=True, text=True).stdout
    return sorted(line.strip() for line in text.splitlines() if line.strip())


def inspect(cid):
    return ok(api("GET", "/containers/%s/json" % cid), 200)


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


def setUpModule():
    global DAEMON
    if os.geteuid() != 0 or not (BERTHD and IMAGE):
        raise unittest.SkipTest("needs root and BERTHD, BERTH_BUSYBOX_IMAGE")
    DAEMON = Berthd(BERTHD, "berth-api-net.")
    try:
        with open(IMAGE, "rb") as f:
            status, _ = api("POST", "/images/load?quiet=1", f.read())
        assert status == 200
    except BaseException:
        DAEMON.stop()  # unittest skips tearDownModule when setUpModule fails
        raise


def tearDownModule():
    if "DAEMON" not in globals():
        return
    problems = []
    try:
        _, listed = api("GET", "/containers/json?all=1")
        for c in listed:
            api("DELETE", "/containers/%s?force=1" % c["Id"])
        left = veths()
        if left:
            problems.append("veths left: %s" % left)
        ok(api("POST", "/networks/prune"), 200)
        _, nets = api("GET", "/networks")
        if sorted(n["Name"] for n in nets) != ["bridge", "host", "none"]:
            problems.append("networks left: %s" % [n["Name"] for n in nets])
    finally:
        status, log = DAEMON.stop()
    if DAEMON.links():
        problems.append("links left after cleanup: %s" % DAEMON.links())
    if status != 0 or problems:
        raise AssertionError("berthd exit %d; %s\nberthd log:\n%s" % (status, problems,
                                                                    log[-4000:]))


class NetworkTest(unittest.TestCase):
    def setUp(self):
        self.containers = []
        self.networks = []

    def tearDown(self):
        for cid in self.containers:
            api("DELETE", "/containers/%s?force=1" % cid)
        for n in self.networks:
            api("DELETE", "/networks/%s" % n)

    def net(self, name, **body):
        nid = net_create(name, **body)
        self.networks.append(nid)
        return nid

    def srv(self, name, network, **extra):
        cid = server(name, network, **extra)
        self.containers.append(cid)
        return cid

    def test_peers_reach_each_other_by_name_and_alias(self):
        self.net("ntA")
        self.srv("web1", "ntA", NetworkingConfig={"EndpointsConfig": {"ntA": {
            "Aliases": ["www"]}}})
        out = fetch_in("ntA", "web1:8080")
        self.assertIn("hello-from-", out)
        self.assertIn("rc=0", out)
        self.assertIn("hello-from-", fetch_in("ntA", "www:8080"))
        # A rename moves the DNS name along.
        ok(api("POST", "/containers/web1/rename?name=web1b"), 204)
        self.assertIn("hello-from-", fetch_in("ntA", "web1b:8080"))
        self.assertNotIn("hello-from-", fetch_in("ntA", "web1:8080"))
        ok(api("POST", "/containers/web1b/rename?name=web1"), 204)
        code, out = run("nslookup web1 && cat /etc/resolv.conf", network="ntA")
        self.assertEqual(code, 0, out)
        net = ok(api("GET", "/networks/ntA"), 200)
        gateway = net["IPAM"]["Config"][0]["Gateway"]
        self.assertIn("nameserver " + gateway, out)
        # Inspect: the endpoint in Docker's shape, on both sides.
        info = inspect("web1")["NetworkSettings"]
        ep = info["Networks"]["ntA"]
        self.assertEqual(ep["NetworkID"], net["Id"])
        self.assertEqual(ep["Gateway"], gateway)
        self.assertEqual(ep["IPPrefixLen"], 24)
        self.assertIn("www", ep["Aliases"])
        # Docker's MAC for the address, and the interface really has it.
        self.assertEqual(ep["MacAddress"], "02:42:" + ":".join(
            "%02x" % int(x) for x in ep["IPAddress"].split(".")))
        text = subprocess.run(["nsenter", "-t", str(inspect("web1")["State"]["Pid"]), "-n",
                               "ip", "-o", "link", "show", "eth0"], capture_output=True,
                              text=True).stdout
        self.assertIn(ep["MacAddress"], text)
        self.assertEqual(len(ep["EndpointID"]), 64)
        self.assertEqual(net["Containers"][inspect("web1")["Id"]]["IPv4Address"],
                         ep["IPAddress"] + "/24")

    def test_published_port_on_loopback(self):
        cid = self.srv("pub1", "default", HostConfig={
            "PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}},
            ExposedPorts={"8080/tcp": {}})
        info = inspect(cid)["NetworkSettings"]
        binding = info["Ports"]["8080/tcp"][0]
        self.assertEqual(binding["HostIp"], "127.0.0.1")
        port = int(binding["HostPort"])
        self.assertTrue(info["IPAddress"].startswith(str(DAEMON.subnet).rsplit(".", 1)[0]))
        self.assertIn("bridge", info["Networks"])
        wait_http("http://127.0.0.1:%d/" % port, "hello-from-")
        _, listed = api("GET", "/containers/json?filters=" + quote(json.dumps(
            {"id": [cid]})))
        self.assertEqual(listed[0]["Ports"], [{"IP": "127.0.0.1", "PrivatePort": 8080,
                                               "PublicPort": port, "Type": "tcp"}])
        # The same host port again: Docker's conflict, and nothing of the second one stays.
        before = nft_rules()
        second = create(HTTPD, HostConfig={
            "PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}})
        self.containers.append(second)
        status, out = start(second)
        self.assertGreaterEqual(status, 400)
        self.assertIn("port is already allocated", out["message"])
        self.assertEqual(nft_rules(), before)
        # berthd holds the host port: no host process can take it meanwhile ...
        taker = socket.socket()
        taker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with self.assertRaises(OSError):
            taker.bind(("127.0.0.1", port))
        taker.close()
        ok(api("DELETE", "/containers/%s?force=1" % cid), 204)
        self.assertNotIn(str(port), " ".join(nft_rules()))
        # ... and a port a host process listens on cannot be published (nothing left behind).
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        try:
            third = create(HTTPD, HostConfig={
                "PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}})
            self.containers.append(third)
            status, out = start(third)
            self.assertGreaterEqual(status, 400)
            self.assertIn("address already in use", out["message"])
            self.assertEqual(nft_rules(), [r for r in before if str(port) not in r])
        finally:
            listener.close()

    def test_ephemeral_ports_another_process_holds_are_passed_over(self):
        # The ephemeral range is shared with every process on the host (clients' own ports,
        # other daemons): a port the round robin offers that something listens on is skipped.
        first = self.srv("eph1", "default", HostConfig={
            "PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}})
        port = int(inspect(first)["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
        ok(api("DELETE", "/containers/%s?force=1" % first), 204)
        held = []
        try:
            for p in range(port + 1, port + 9):  # the next ones the daemon would offer
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", p))
                    s.listen(1)
                    held.append(s)
                except OSError:
                    s.close()
            self.assertGreater(len(held), 4)
            second = self.srv("eph2", "default", HostConfig={
                "PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}})
            got = int(inspect(second)["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
            self.assertNotIn(got, [s.getsockname()[1] for s in held])
            wait_http("http://127.0.0.1:%d/" % got, "hello-from-")
        finally:
            for s in held:
                s.close()

    def test_rule_changes_leave_no_libnftables_or_libcurl_mapped(self):
        # An idle berthd stays small: libnftables is loaded for each rule change only, and
        # libcurl (with its TLS stack) only once something is pulled or pushed.
        cid = self.srv("maps1", "default", HostConfig={
            "PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}},
            ExposedPorts={"8080/tcp": {}})
        port = inspect(cid)["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        self.assertTrue(any("dport %s dnat" % port in r for r in nft_rules()), nft_rules())
        ok(api("DELETE", "/containers/%s?force=1" % cid), 204)
        self.assertFalse(any("dport %s dnat" % port in r for r in nft_rules()), nft_rules())
        with open("/proc/%d/maps" % DAEMON.proc.pid) as f:
            maps = f.read()
        for lib in ("libnftables", "libcurl", "libgnutls", "libcrypto"):
            self.assertNotIn(lib, maps)

    def test_published_port_from_containers_hairpin(self):
        # Published on every host address: containers reach it through a host address (their
        # gateway), from the same network and from another one; the host through 127.0.0.1.
        self.net("ntHp")
        cid = self.srv("hpweb", "ntHp", HostConfig={
            "PortBindings": {"8080/tcp": [{"HostPort": ""}]}})
        port = int(inspect(cid)["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
        wait_http("http://127.0.0.1:%d/" % port, "hello-from-")
        hp_gw = ok(api("GET", "/networks/ntHp"), 200)["IPAM"]["Config"][0]["Gateway"]
        self.assertIn("hello-from-", fetch_in("ntHp", "%s:%d" % (hp_gw, port)))
        bridge_gw = ok(api("GET", "/networks/bridge"), 200)["IPAM"]["Config"][0]["Gateway"]
        self.assertIn("hello-from-", fetch_in("default", "%s:%d" % (bridge_gw, port)))

    def test_different_networks_are_isolated(self):
        self.net("ntIsoA")
        self.net("ntIsoB")
        cid = self.srv("isoweb", "ntIsoA")
        ip = inspect(cid)["NetworkSettings"]["Networks"]["ntIsoA"]["IPAddress"]
        self.assertIn("hello-from-", fetch_in("ntIsoA", ip + ":8080"))
        out = fetch_in("ntIsoB", ip + ":8080")
        self.assertNotIn("hello-from-", out)
        self.assertNotIn("rc=0", out)
        # The name of a container on another network does not resolve either.
        code, _ = run("nslookup isoweb", network="ntIsoB")
        self.assertNotEqual(code, 0)

    def test_icc_off_separates_containers_of_one_network(self):
        self.net("ntIcc", Options={"com.docker.network.bridge.enable_icc": "false",
                                   "com.docker.network.driver.mtu": "1400"})
        cid = self.srv("iccweb", "ntIcc", HostConfig={
            "PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}})
        ip = inspect(cid)["NetworkSettings"]["Networks"]["ntIcc"]["IPAddress"]
        out = fetch_in("ntIcc", ip + ":8080")
        self.assertNotIn("hello-from-", out)
        # Its published port stays reachable, and the MTU option reached the interface.
        port = int(inspect(cid)["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
        wait_http("http://127.0.0.1:%d/" % port, "hello-from-")
        code, out = run("cat /sys/class/net/eth0/mtu", network="ntIcc")
        self.assertEqual(out.strip(), "1400")

    def test_internal_network_has_no_route_out(self):
        self.net("ntInt", Internal=True)
        _, nets = api("GET", "/networks/bridge")
        outside = nets["IPAM"]["Config"][0]["Gateway"]
        code, out = run("ip route; printf x | nc -w 2 %s 9 ; echo rc=$?" % outside,
                        network="ntInt")
        self.assertNotIn("default", out)
        self.assertNotIn("rc=0", out)
        self.srv("intweb", "ntInt")
        self.assertIn("hello-from-", fetch_in("ntInt", "intweb:8080"))

    def test_connect_and_disconnect_a_running_container(self):
        self.net("ntC1")
        self.net("ntC2")
        self.srv("cweb", "ntC2")
        client = create("sleep 300", network="ntC1")
        self.containers.append(client)
        ok(start(client), 204)
        ok(api("POST", "/networks/ntC2/connect", {"Container": client}), 200)
        eps = inspect(client)["NetworkSettings"]["Networks"]
        self.assertEqual(sorted(eps), ["ntC1", "ntC2"])
        ok(api("POST", "/networks/ntC2/connect", {"Container": client}), 403)
        _, out = api("POST", "/containers/%s/exec" % client, {
            "Cmd": ["sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 cweb 8080"],
            "AttachStdout": True, "AttachStderr": True})
        status, raw = api("POST", "/exec/%s/start" % out["Id"], {"Detach": False})
        self.assertIn("hello-from-", frames(raw))
        ok(api("POST", "/networks/ntC2/disconnect", {"Container": client}), 200)
        self.assertEqual(sorted(inspect(client)["NetworkSettings"]["Networks"]), ["ntC1"])
        text = subprocess.run(["nsenter", "-t", str(inspect(client)["State"]["Pid"]), "-n",
                               "ip", "-o", "link"], capture_output=True, text=True).stdout
        self.assertNotIn("eth1", text)

    def test_api_errors(self):
        subnet = DAEMON.user_subnet(0)
        self.net("ntErr", IPAM={"Config": [{"Subnet": subnet}]})
        self.assertEqual(api("POST", "/networks/create", {"Name": "ntErr"})[0], 409)
        status, out = api("POST", "/networks/create", {"Name": "ntErr2", "IPAM": {
            "Config": [{"Subnet": subnet}]}})
        self.assertEqual(status, 403, out)
        self.assertIn("overlaps", out["message"])
        status, _ = api("POST", "/networks/create", {"Name": "ntErr3", "IPAM": {
            "Config": [{"Subnet": DAEMON.user_subnet(1), "Gateway": "10.0.0.1"}]}})
        self.assertEqual(status, 400)
        self.assertEqual(api("DELETE", "/networks/bridge")[0], 403)
        self.assertEqual(api("DELETE", "/networks/nosuchnet")[0], 404)
        self.assertEqual(api("GET", "/networks/nosuchnet")[0], 404)
        status, out = api("POST", "/containers/create", {
            "Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "nosuchnet"}})
        self.assertEqual(status, 404, out)
        status, out = api("POST", "/containers/create", {
            "Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "ntErr"},
            "NetworkingConfig": {"EndpointsConfig": {"ntErr": {
                "IPAMConfig": {"IPv4Address": "10.9.9.9"}}}}})
        self.assertEqual(status, 400, out)
        # --ip inside the subnet is honoured; the same address twice is refused.
        ip = subnet.rsplit(".", 1)[0] + ".77"
        cid = self.srv("errweb", "ntErr", NetworkingConfig={"EndpointsConfig": {"ntErr": {
            "IPAMConfig": {"IPv4Address": ip}}}})
        self.assertEqual(inspect(cid)["NetworkSettings"]["Networks"]["ntErr"]["IPAddress"], ip)
        status, out = api("DELETE", "/networks/ntErr")
        self.assertEqual(status, 403, out)
        self.assertIn("active endpoints", out["message"])
        _, listed = api("GET", "/networks?filters=" + quote(json.dumps({"name": ["ntErr"]})))
        self.assertEqual([n["Name"] for n in listed], ["ntErr"])
        self.assertEqual(api("GET", "/networks?filters=" + quote(json.dumps(
            {"bogus": ["x"]})))[0], 400)

    def test_failed_start_leaves_nothing(self):
        self.net("ntFail")
        before_rules, before_veths = nft_rules(), veths()
        cid = create("true", network="ntFail", Entrypoint=["/nonexistent"], HostConfig={
            "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}})
        self.containers.append(cid)
        status, _ = start(cid)
        self.assertGreaterEqual(status, 400)
        for _ in range(50):
            if not inspect(cid)["State"]["Running"]:
                break
            time.sleep(0.1)
        # The veth goes with the container's namespace, which the kernel tears down
        # asynchronously after the exit: bounded wait.
        for _ in range(50):
            if veths() == before_veths:
                break
            time.sleep(0.1)
        self.assertEqual(veths(), before_veths)
        self.assertEqual(nft_rules(), before_rules)
        self.assertEqual(ok(api("GET", "/networks/ntFail"), 200)["Containers"], {})
        self.assertEqual(inspect(cid)["NetworkSettings"]["Networks"]["ntFail"]["IPAddress"], "")

    def test_etc_files_and_joining_another_container(self):
        self.net("ntEtc")
        code, out = run("cat /etc/hostname /etc/hosts /etc/resolv.conf; ip -o -4 addr show eth0",
                        network="ntEtc", Hostname="box1", Domainname="example.test",
                        HostConfig={"ExtraHosts": ["db.local:198.18.0.200"],
                                    "Dns": ["198.18.0.53"], "DnsSearch": ["example.test"],
                                    "DnsOptions": ["ndots:3"]})
        self.assertEqual(code, 0, out)
        self.assertTrue(out.startswith("box1\n"), out)
        self.assertIn("198.18.0.200\tdb.local", out)
        self.assertRegex(out, r"\n(\d+\.\d+\.\d+\.\d+)\tbox1\.example\.test box1\n")
        self.assertIn("search example.test", out)
        self.assertIn("ndots:3", out)
        # The embedded server is the only nameserver; --dns is where it forwards to.
        self.assertNotIn("nameserver 198.18.0.53", out)
        # --network container:<id> shares the namespace (and the /etc files).
        cid = self.srv("etcweb", "ntEtc")
        ip = inspect(cid)["NetworkSettings"]["Networks"]["ntEtc"]["IPAddress"]
        code, out = run("ip -o -4 addr show eth0; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | "
                        "nc -w 3 127.0.0.1 8080", network="container:" + cid)
        self.assertEqual(code, 0, out)
        self.assertIn(ip + "/", out)
        self.assertIn("hello-from-", out)
        # A stopped container's namespace cannot be joined: Docker's 409 at start.
        ok(api("POST", "/containers/%s/stop?t=1" % cid), 204)
        joiner = create("true", network="container:" + cid)
        self.containers.append(joiner)
        self.assertEqual(start(joiner)[0] // 100, 4)

    # ---- IPv6 (--ipv6 --subnet fdXX:…::/64, random per daemon; traffic stays inside it) ----

    def v6net(self, name, n, **body):
        subnet = DAEMON.user_subnet6(n)
        body = dict({"EnableIPv6": True, "IPAM": {"Config": [{"Subnet": subnet}]}}, **body)
        nid = self.net(name, **body)
        return nid, subnet

    def test_ipv6_peers_by_address_and_name(self):
        _, subnet = self.v6net("nt6", 0)
        net = ok(api("GET", "/networks/nt6"), 200)
        self.assertTrue(net["EnableIPv6"])
        configs = {c["Subnet"]: c for c in net["IPAM"]["Config"]}
        gw6 = subnet.split("/")[0] + "1"
        self.assertEqual(configs[subnet]["Gateway"], gw6)
        self.assertEqual(len(configs), 2)  # and an IPv4 subnet from the pools
        # The bridge holds the v6 gateway.
        addrs = subprocess.run(["ip", "-o", "-6", "addr", "show"], capture_output=True,
                               text=True).stdout
        self.assertIn(gw6 + "/64", addrs)
        cid = self.srv("web6", "nt6")
        ep = inspect(cid)["NetworkSettings"]["Networks"]["nt6"]
        addr6 = ep["GlobalIPv6Address"]
        self.assertTrue(addr6.startswith(subnet.split("::")[0] + "::"), addr6)
        self.assertEqual(ep["GlobalIPv6PrefixLen"], 64)
        self.assertEqual(ep["IPv6Gateway"], gw6)
        self.assertTrue(ep["IPAddress"])  # the IPv4 address as well
        top = inspect(cid)["NetworkSettings"]
        # Docker's top-level fields are the default bridge's: empty on a user network.
        self.assertEqual(top["GlobalIPv6Address"], "")
        net = ok(api("GET", "/networks/nt6"), 200)
        self.assertEqual(net["Containers"][cid]["IPv6Address"], addr6 + "/64")
        # A peer reaches it by v6 address, and by name through an AAAA record.
        code, out = run("cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6; ip -6 route; "
                        "cat /etc/hosts; nslookup -type=AAAA web6; "
                        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 %s 8080; echo rc=$?"
                        % addr6, network="nt6")
        self.assertTrue(out.startswith("0\n"), out)
        self.assertIn("default via %s dev eth0" % gw6, out)
        self.assertIn("Address: " + addr6, out)  # the AAAA answer
        self.assertIn("hello-from-", out)
        self.assertIn("rc=0", out)
        code, hosts = run("cat /etc/hosts; ip -o -6 addr show eth0 scope global", network="nt6")
        self.assertEqual(code, 0, hosts)
        v6_lines = [l for l in hosts.splitlines() if l.startswith(subnet.split("::")[0] + "::")]
        self.assertEqual(len(v6_lines), 1, hosts)  # the container's own v6 line in /etc/hosts
        self.assertIn("inet6 " + subnet.split("::")[0] + "::", hosts)
        # The name resolves to the v6 address from a peer (nc by name over v6).
        code, out = run("nslookup -type=AAAA web6 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' | "
                        "nc -w 3 %s 8080" % addr6, network="nt6")
        self.assertIn(addr6, out)

    def test_ipv6_static_address_and_published_port(self):
        _, subnet = self.v6net("nt6p", 1)
        prefix = subnet.split("::")[0]
        fixed = prefix + "::a:b"
        cid = self.srv("web6p", "nt6p", NetworkingConfig={"EndpointsConfig": {"nt6p": {
            "IPAMConfig": {"IPv6Address": fixed}}}}, HostConfig={
            "PortBindings": {"8080/tcp": [{"HostIp": "", "HostPort": ""}]}})
        info = inspect(cid)["NetworkSettings"]
        ep = info["Networks"]["nt6p"]
        self.assertEqual(ep["GlobalIPv6Address"], fixed)
        self.assertEqual(ep["IPAMConfig"]["IPv6Address"], fixed)
        port = int(info["Ports"]["8080/tcp"][0]["HostPort"])
        # v4 as before, and over IPv6 through the DNAT on a host address of the test's own
        # network (the bridge's gateway): the container answers.
        wait_http("http://127.0.0.1:%d/" % port, "hello-from-")
        wait_http("http://[%s::1]:%d/" % (prefix, port), "hello-from-")
        self.assertIn("ip6 daddr != ::1 tcp dport %d dnat ip6 to [%s]:8080" % (port, fixed),
                      " ".join(nft_rules()))
        # Docker lists it on both families.
        self.assertEqual([b["HostIp"] for b in info["Ports"]["8080/tcp"]], ["0.0.0.0", "::"])
        # ::1, which no DNAT can serve: berthd's socket on [::] relays it.
        wait_http("http://[::1]:%d/" % port, "hello-from-")
        # And a port published on [::1] only.
        lo = self.srv("web6lo", "nt6p", HostConfig={
            "PortBindings": {"8080/tcp": [{"HostIp": "::1", "HostPort": ""}]}})
        binding = inspect(lo)["NetworkSettings"]["Ports"]["8080/tcp"]
        self.assertEqual(binding[0]["HostIp"], "::1")
        wait_http("http://[::1]:%s/" % binding[0]["HostPort"], "hello-from-")
        ok(api("POST", "/containers/%s/stop?t=1" % lo), 204)
        with self.assertRaises(OSError):  # released with the container
            urllib.request.urlopen("http://[::1]:%s/" % binding[0]["HostPort"], timeout=2)
        # berthd holds the port on [::] too.
        s = socket.socket(socket.AF_INET6)
        try:
            with self.assertRaises(OSError):
                s.bind(("::", port))
        finally:
            s.close()
        # The same fixed address is taken: a second container cannot start with it.
        other = create("true", network="nt6p", NetworkingConfig={"EndpointsConfig": {"nt6p": {
            "IPAMConfig": {"IPv6Address": fixed}}}})
        self.containers.append(other)
        self.assertEqual(start(other)[0] // 100, 4)

    def test_ipv6_networks_are_isolated(self):
        self.v6net("nt6i1", 6)
        self.v6net("nt6i2", 7)
        cid = self.srv("web6i", "nt6i1")
        addr6 = inspect(cid)["NetworkSettings"]["Networks"]["nt6i1"]["GlobalIPv6Address"]
        # Routed v6 takes a moment after a container's start (its link-local is still
        # tentative): a few tries, each bounded.
        probe = ("for i in 1 2 3 4; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | "
                 "nc -w 1 %s 8080 && break; sleep 1; done; echo rc=$?" % addr6)
        self.assertIn("hello-from-", run(probe, network="nt6i1")[1])
        self.assertNotIn("hello-from-", run(probe, network="nt6i2")[1])
        # The isolation rules are what stops it: without them (this berthd's own table; the
        # rules come back at the networks' removal) the host routes it.
        subprocess.run(["nft", "flush", "chain", "inet", DAEMON.nft_table, "forward"],
                       check=True)
        self.assertIn("hello-from-", run(probe, network="nt6i2")[1])

    def test_ipv6_berth_cli(self):
        berth = os.path.join(os.path.dirname(BERTHD), "berth")
        if not os.access(berth, os.X_OK):
            self.skipTest("no berth CLI beside berthd")

        def b(*args):
            return subprocess.run([berth, "-H", DAEMON.host] + list(args), capture_output=True,
                                  text=True, timeout=60)
        subnet6, subnet4 = DAEMON.user_subnet6(9), DAEMON.user_subnet(0)
        prefix = subnet6.split("::")[0]
        # Gateways and ranges pair with the subnet of their family, in any order.
        r = b("network", "create", "--ipv6", "--subnet", subnet4, "--subnet", subnet6,
              "--gateway", prefix + "::fe", "--gateway", subnet4.rsplit(".", 1)[0] + ".254",
              "nt6cli")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.networks.append("nt6cli")
        r = b("network", "inspect", "-f",
              "{{.EnableIPv6}}{{range .IPAM.Config}} {{.Subnet}}={{.Gateway}}{{end}}", "nt6cli")
        self.assertEqual(r.stdout.split(), ["true", "%s=%s.254" % (
            subnet4, subnet4.rsplit(".", 1)[0]), "%s=%s::fe" % (subnet6, prefix)])
        r = b("run", "-d", "--name", "web6cli", "--network", "nt6cli", "--ip6", prefix + "::77",
              "busybox", "sleep", "60")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.containers.append(r.stdout.strip())
        r = b("inspect", "-f", "{{(index .NetworkSettings.Networks \"nt6cli\").GlobalIPv6Address}}",
              "web6cli")
        self.assertEqual(r.stdout.strip(), prefix + "::77")
        # A second network's --ip6 on connect.
        self.v6net("nt6cli2", 12)
        p2 = DAEMON.user_subnet6(12).split("::")[0]
        r = b("network", "connect", "--ip6", p2 + "::88", "nt6cli2", "web6cli")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = b("inspect", "-f", "{{(index .NetworkSettings.Networks \"nt6cli2\").GlobalIPv6Address}}",
              "web6cli")
        self.assertEqual(r.stdout.strip(), p2 + "::88")
        r = b("network", "create", "--subnet", subnet6, "--gateway", "10.0.0.1", "nt6clibad")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no matching subnet for gateway 10.0.0.1", r.stderr)

    def test_ipv4_only_network_has_no_ipv6(self):
        self.net("nt4only")
        for network in ("nt4only", "default"):
            code, out = run("cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6; "
                            "ip -o -6 addr show eth0", network=network)
            self.assertEqual(code, 0, out)
            self.assertTrue(out.startswith("1\n"), out)
            self.assertNotIn("inet6", out)
        net = ok(api("GET", "/networks/nt4only"), 200)
        self.assertFalse(net["EnableIPv6"])

    def test_ipv6_bad_input_refused_and_nothing_left(self):
        before_links = sorted(DAEMON.links())
        before_rules = nft_rules()
        s6 = DAEMON.user_subnet6(2)
        # A v6 subnet without --ipv6.
        status, out = api("POST", "/networks/create", {"Name": "bad6a", "IPAM": {
            "Config": [{"Subnet": s6}]}})
        self.assertEqual(status, 400, out)
        self.assertIn("IPv6 has not been enabled", out["message"])
        # --ipv6 without a v6 subnet: API 1.41 has no default IPv6 pools.
        status, out = api("POST", "/networks/create", {"Name": "bad6b", "EnableIPv6": True})
        self.assertEqual(status, 400, out)
        self.assertIn("non-overlapping IPv6 address pool", out["message"])
        # Overlapping v6 subnets: libnetwork's 403.
        self.v6net("nt6o", 3)
        overlapping = DAEMON.user_subnet6(3).replace("::/64", "::/96")
        status, out = api("POST", "/networks/create", {"Name": "bad6c", "EnableIPv6": True,
                                                       "IPAM": {"Config": [
                                                           {"Subnet": overlapping}]}})
        self.assertEqual(status, 403, out)
        self.assertEqual(out["message"], "Pool overlaps with other one on this address space")
        # A gateway outside the subnet.
        status, out = api("POST", "/networks/create", {"Name": "bad6d", "EnableIPv6": True,
                                                       "IPAM": {"Config": [
                                                           {"Subnet": s6,
                                                            "Gateway": "fd00:1:2:3::1"}]}})
        self.assertEqual(status, 400, out)
        # --ip6 outside the subnet, and --ip6 on a network without IPv6.
        self.net("nt4b")
        for network in ("nt6o", "nt4b"):
            status, out = api("POST", "/containers/create", {
                "Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": network},
                "NetworkingConfig": {"EndpointsConfig": {network: {
                    "IPAMConfig": {"IPv6Address": "fd00:1:2:3::5"}}}}})
            self.assertEqual(status, 400, out)
            self.assertIn("does not belong to any of the network's subnets", out["message"])
        for name in ("bad6a", "bad6b", "bad6c", "bad6d"):
            self.assertEqual(api("GET", "/networks/" + name)[0], 404)
        ok(api("DELETE", "/networks/nt6o"), 204)
        ok(api("DELETE", "/networks/nt4b"), 204)
        self.assertEqual(sorted(DAEMON.links()), before_links)
        self.assertEqual(nft_rules(), before_rules)

    def test_zy_ipv6_survives_kill9_restart(self):
        _, subnet = self.v6net("nt6k", 8)
        cid = self.srv("k6web", "nt6k", HostConfig={
            "PortBindings": {"8080/tcp": [{"HostIp": "::1", "HostPort": ""}]}})
        port = inspect(cid)["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        addr6 = inspect(cid)["NetworkSettings"]["Networks"]["nt6k"]["GlobalIPv6Address"]
        wait_http("http://[::1]:%s/" % port, "hello-from-")
        DAEMON.kill9()
        DAEMON.start()
        # The held [::1] socket and its relay come back with the records.
        wait_http("http://[::1]:%s/" % port, "hello-from-")
        self.assertEqual(inspect(cid)["NetworkSettings"]["Networks"]["nt6k"][
            "GlobalIPv6Address"], addr6)
        code, out = run("nslookup -type=AAAA k6web", network="nt6k")
        self.assertIn("Address: " + addr6, out)
        ok(api("POST", "/containers/%s/stop?t=1" % cid), 204)
        with self.assertRaises(OSError):
            urllib.request.urlopen("http://[::1]:%s/" % port, timeout=2)

    def test_zz_kill9_restart_keeps_rules_and_connectivity(self):
        self.net("ntK")
        cid = self.srv("kweb", "ntK", HostConfig={
            "PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}})
        port = int(inspect(cid)["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
        wait_http("http://127.0.0.1:%d/" % port, "hello-from-")
        rules = nft_rules()
        links = sorted(veths())
        DAEMON.kill9()
        # What a crashed daemon could leave: a stale rule in its table. Reconciliation drops it.
        subprocess.run(["nft", "add", "rule", "inet", DAEMON.nft_table, "publish", "tcp",
                        "dport", "1", "drop"], check=True)
        DAEMON.start()
        self.assertEqual(nft_rules(), rules)
        self.assertEqual(sorted(veths()), links)
        wait_http("http://127.0.0.1:%d/" % port, "hello-from-")
        self.assertIn("hello-from-", fetch_in("ntK", "kweb:8080"))
        # And a clean stop of the container after the restart releases all of it.
        ok(api("POST", "/containers/%s/stop?t=1" % cid), 204)
        self.assertNotIn("dport %d " % port, " ".join(nft_rules()))
        for _ in range(50):
            if not veths():
                break
            time.sleep(0.1)
        self.assertEqual(veths(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)

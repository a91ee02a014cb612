"""Issue 11: a row the API would never have stored, written straight into
the database, costs its own port and nothing else. A real server core
(SQLite) and a real L2 agent with its firewall on a per-test "host"
namespace; instances are namespaces on veth taps the agent wires into the
bridge; the packets between them are what counts.

The bad port is isolated (no traffic, tap off the bridge), reported ERROR
and logged at ERROR; every other port on the host keeps being wired and
filtered, including one created after the bad row appeared (on the code
before this change the firewall renderer raised for the row and the agent
stopped converging the whole host)."""
from __future__ import annotations

import datetime
import logging
import time
import uuid

import pytest
from sqlalchemy import insert, select

from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink
from tests.dataplane.helpers import ping, server_with_l2_agent

pytestmark = pytest.mark.root

HOST = "badrowhost"
W = "neutron-linuxbri"


class Lab:
    def __init__(self, client, core, host_ns, make_ns, start_agent):
        self.client, self.core, self.host_ns = client, core, host_ns
        self.make_ns, self.start_agent = make_ns, start_agent
        self.net = self.post("networks", {"name": "n"})
        self.post("subnets", {"network_id": self.net["id"], "ip_version": 4,
                              "cidr": "10.93.0.0/24", "enable_dhcp": False})
        self.inst: dict[str, str] = {}

    def post(self, collection, attrs):
        singular = collection.replace("-", "_")[:-1]
        r = self.client.post(f"/v2.0/{collection}", json={singular: attrs})
        assert r.status_code == 201, r.text
        return r.json()[singular]

    def port(self, n: int, **attrs) -> dict:
        """A port bound to HOST and an instance namespace on its tap."""
        port = self.post("ports", {"network_id": self.net["id"], "binding:host_id": HOST,
                                   "device_owner": "compute:x",
                                   "fixed_ips": [{"ip_address": f"10.93.0.{n}"}], **attrs})
        inst = self.make_ns(f"i{n}")
        with Netlink(self.host_ns) as nl:
            nl.create_veth("tap" + port["id"][:11], "eth0", peer_netns=inst,
                           peer_mac=port["mac_address"])
        with Netlink(inst) as nl:
            nl.set_up("eth0")
            nl.add_address("eth0", f"10.93.0.{n}/24")
        self.inst[port["id"]] = inst
        return port

    def status(self, port_id: str) -> str:
        return self.client.get(f"/v2.0/ports/{port_id}").json()["port"]["status"]

    def wait_status(self, port_id: str, want: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.status(port_id) != want:
            assert time.monotonic() < deadline, \
                f"port {port_id} stayed {self.status(port_id)}, want {want}"
            time.sleep(0.2)

    def reaches(self, a: dict, b: dict, tries: int = 5) -> bool:
        ip = b["fixed_ips"][0]["ip_address"]
        return any(ping(self.inst[a["id"]], ip) for _ in range(tries))

    def master(self, port: dict) -> str | None:
        out = ns.run(["ip", "-o", "link", "show", "dev", "tap" + port["id"][:11]],
                     netns=self.host_ns)
        return out.split(" master ")[1].split()[0] if " master " in out else None

    def write(self, table, **values) -> None:
        """Behind the API's back: no validation, no notification."""
        self.core.db.write(lambda conn: conn.execute(insert(table).values(**values)))


@pytest.fixture(params=["iptables", "nftables"])
def lab(request, tmp_path, netns):
    with server_with_l2_agent(tmp_path, netns, "badrow", HOST, request.param) as (
            client, core, host_ns, start_agent):
        lab = Lab(client, core, host_ns, netns, start_agent)
        lab.driver = request.param
        yield lab


def _error_lines(caplog, port_id: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.ERROR and port_id in r.getMessage()]


def test_bad_address_pair_isolates_only_its_port(lab, caplog):
    from neutrino.db import models
    caplog.set_level(logging.INFO)
    a, b, c = lab.port(1), lab.port(2), lab.port(3)
    agent = lab.start_agent()
    for p in (a, b, c):
        lab.wait_status(p["id"], "ACTIVE")
    assert lab.reaches(a, b) and lab.reaches(a, c)

    # C gets an address pair the API refuses (400), written into the table
    lab.write(models.allowed_address_pairs, port_id=c["id"], mac_address=c["mac_address"],
              ip_address="10.0.0.1/99")
    # ... and the host changes afterwards: a new port D must still be served
    d = lab.port(4)
    lab.wait_status(d["id"], "ACTIVE")
    lab.wait_status(c["id"], "ERROR")
    assert lab.reaches(a, d) and lab.reaches(d, b)          # filtered and wired as usual
    assert lab.reaches(a, b)
    assert not lab.reaches(a, c, tries=2) and not lab.reaches(c, b, tries=2)
    assert lab.master(c) is None and lab.master(d) == "brq" + lab.net["id"][:11]
    if lab.driver == "nftables":
        inet = ns.run(["nft", "list", "table", "inet", "neutrino"], netns=lab.host_ns)
        d_chain = inet.split(f"chain in-{d['id']} {{")[1].split("}")[0]
        c_chain = inet.split(f"chain in-{c['id']} {{")[1].split("}")[0]
        assert "goto gi-" in d_chain                     # on to its groups' rules
        assert c_chain.split() == ["drop"]               # isolated: nothing in
        assert "10.0.0.1" not in inet
    else:
        save = ns.run(["iptables-save"], netns=lab.host_ns)
        assert f"-A {W}-i{d['id'][:10]} -m state --state RELATED,ESTABLISHED" in save
        assert f"-A {W}-i{c['id'][:10]} -m comment --comment \"Send unmatched traffic to " \
               f"the fallback chain.\" -j {W}-sg-fallback" in save
        assert "10.0.0.1/99" not in ns.run(["ipset", "save"], netns=lab.host_ns)
    assert _error_lines(caplog, c["id"]), "no ERROR log line names the bad port"
    assert agent.firewall.bad_ports.keys() == {c["id"]}

    # the operator removes the bad pair through the API: C is filtered and wired again
    r = lab.client.put(f"/v2.0/ports/{c['id']}", json={"port": {"allowed_address_pairs": []}})
    assert r.status_code == 200, r.text
    lab.wait_status(c["id"], "ACTIVE")
    assert lab.reaches(a, c) and lab.reaches(c, b)


def test_bad_rule_isolates_only_the_ports_of_its_group(lab, caplog):
    from neutrino.db import models
    caplog.set_level(logging.INFO)
    a, b = lab.port(1), lab.port(2)
    lab.start_agent()
    for p in (a, b):
        lab.wait_status(p["id"], "ACTIVE")
    group = lab.post("security-groups", {"name": "g"})
    r = lab.client.put(f"/v2.0/ports/{b['id']}", json={"port": {"security_groups": [
        group["id"]]}})
    assert r.status_code == 200, r.text
    lab.post("security-group-rules", {"security_group_id": group["id"],
                                      "direction": "ingress", "protocol": "icmp"})
    assert lab.reaches(a, b)
    # a rule whose remote_ip_prefix is the text "true" (the API stored such rows before)
    gid = group["id"]
    lab.write(models.security_group_rules, id=str(uuid.uuid4()), project_id=group["project_id"],
              security_group_id=gid, direction="ingress", ethertype="IPv4", protocol="tcp",
              remote_ip_prefix="true", description="", created_at=datetime.datetime(2026, 1, 1),
              updated_at=datetime.datetime(2026, 1, 1), revision_number=0)
    lab.core.notifier.resource_changed("security_group", gid, -1, hosts=(HOST,))
    c = lab.port(3)                            # default group, like a
    lab.wait_status(b["id"], "ERROR")
    lab.wait_status(c["id"], "ACTIVE")
    assert lab.reaches(a, c) and lab.reaches(c, a)
    assert not lab.reaches(a, b, tries=2)
    assert _error_lines(caplog, b["id"])
    rules = lab.core.db.read(lambda conn: conn.execute(
        select(models.security_group_rules.c.remote_ip_prefix).where(
            models.security_group_rules.c.security_group_id == gid)).scalars().all())
    assert "true" in rules                      # the row is still there: the agent copes

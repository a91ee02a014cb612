"""dnsmasq with the DNS extensions, for real: the files the DHCP agent
writes from the server's dns_assignment and extra_dhcp_opts, served by
dnsmasq in a qdhcp namespace to busybox udhcpc and nslookup in instance
namespaces on one bridge. An instance gets its dns_name as hostname and
its own extra DHCP option (not the other's), and resolves another
instance's name through the DHCP port."""
from __future__ import annotations

import pytest

from neutrino.dataplane import netns as ns
from neutrino.dataplane.dnsmasq import (DhcpNetwork, DnsmasqConf, DnsmasqProcess, Port, Subnet,
                                        argv, files, write_if_changed)
from tests.dataplane.conftest import have

pytestmark = [pytest.mark.root,
              pytest.mark.missing(not (have("dnsmasq") and have("udhcpc") and have("busybox")),
                                 reason="needs dnsmasq, busybox and its udhcpc")]

SUB = Subnet(id="5b1d2c36-0000-4000-8000-000000000001", cidr="10.77.0.0/24",
             gateway_ip="10.77.0.1")
DHCP = Port(id="d0c0ffee-0000-4000-8000-000000000002", mac_address="fa:16:3e:00:00:02",
            fixed_ips=((SUB.id, "10.77.0.2"),), device_owner="network:dhcp")
WEB = Port(id="a1a1a1a1-0000-4000-8000-000000000011", mac_address="fa:16:3e:00:00:11",
           fixed_ips=((SUB.id, "10.77.0.11"),), device_owner="compute:nova",
           names=(("10.77.0.11", "web-1", "web-1.example.org."),),
           options=(("bootfile-name", "pxelinux.0", 4), ("tftp-server", "10.77.0.99", 4)))
DB = Port(id="b2b2b2b2-0000-4000-8000-000000000012", mac_address="fa:16:3e:00:00:12",
          fixed_ips=((SUB.id, "10.77.0.12"),), device_owner="compute:nova",
          names=(("10.77.0.12", "db-1", "db-1.example.org."),))
NET = DhcpNetwork(id="9e7e7e7e-0000-4000-8000-000000000000", mtu=1500, subnets=(SUB,),
                  ports=(DHCP, WEB, DB))
SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew)
    ip addr add "$ip/$mask" dev "$interface"
    { echo "ip=$ip"; echo "hostname=$hostname"; echo "domain=$domain"
      echo "bootfile=$bootfile"; echo "tftp=$tftp"; } > "$LEASE_FILE" ;;
esac
"""


def _plug(host: str, other: str, dev: str, peer: str, mac: str | None = None) -> None:
    ns.run(["ip", "link", "add", peer, "type", "veth", "peer", "name", dev,
            "netns", other], netns=host)
    ns.run(["ip", "link", "set", peer, "master", "br0", "up"], netns=host)
    if mac:
        ns.run(["ip", "link", "set", dev, "address", mac], netns=other)
    ns.run(["ip", "link", "set", dev, "up"], netns=other)


def _lease(vm: str, tmp_path, name: str) -> dict[str, str]:
    script = tmp_path / "udhcpc.sh"
    script.write_text(SCRIPT)
    script.chmod(0o755)
    lease = tmp_path / f"{name}.lease"
    ns.run(["udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", str(script),
            "-O", "hostname", "-O", "domain", "-O", "bootfile", "-O", "tftp"],
           netns=vm, env={"LEASE_FILE": str(lease), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
           timeout=30)
    return dict(line.split("=", 1) for line in lease.read_text().splitlines())


@pytest.fixture
def served(netns, tmp_path):
    host, qdhcp = netns("host"), netns("qdhcp")
    web, db = netns("web"), netns("db")
    ns.run(["ip", "link", "add", "br0", "type", "bridge"], netns=host)
    ns.run(["ip", "link", "set", "br0", "up"], netns=host)
    dev = "ns-" + DHCP.id[:11]
    _plug(host, qdhcp, dev, "tapdhcp", DHCP.mac_address)
    ns.run(["ip", "addr", "add", "10.77.0.2/24", "dev", dev], netns=qdhcp)
    _plug(host, web, "eth0", "tapweb", WEB.mac_address)
    _plug(host, db, "eth0", "tapdb", DB.mac_address)
    conf = DnsmasqConf(state_path=str(tmp_path / "state"), domain="example.org",
                       extra=("--log-facility=-", "--log-dhcp"))
    for name, text in files(NET, conf, DHCP).items():
        write_if_changed(conf.path(NET.id, name), text)
    proc = DnsmasqProcess(conf, NET.id, argv(NET, conf, dev), netns=qdhcp)
    proc.start(wait=10)
    try:
        yield web, db, conf
    finally:
        proc.stop()


def test_files_carry_names_and_tagged_options(served):
    _, _, conf = served
    host = (conf.network_dir(NET.id) / "host").read_text()
    assert f"{WEB.mac_address},set:port-{WEB.id},web-1.example.org,10.77.0.11\n" in host
    assert f"{DB.mac_address},db-1.example.org,10.77.0.12\n" in host
    opts = (conf.network_dir(NET.id) / "opts").read_text()
    assert f"tag:port-{WEB.id},option:bootfile-name,pxelinux.0\n" in opts
    assert f"tag:port-{WEB.id},option:tftp-server,10.77.0.99\n" in opts
    addn = (conf.network_dir(NET.id) / "addn_hosts").read_text()
    assert "10.77.0.12\tdb-1.example.org db-1\n" in addn


def test_instance_gets_its_name_and_only_its_options(served, tmp_path):
    web, db, _ = served
    got = _lease(web, tmp_path, "web")
    assert got["ip"] == "10.77.0.11"
    assert (got["hostname"], got["domain"]) == ("web-1", "example.org")
    assert (got["bootfile"], got["tftp"]) == ("pxelinux.0", "10.77.0.99")
    other = _lease(db, tmp_path, "db")
    assert (other["ip"], other["hostname"]) == ("10.77.0.12", "db-1")
    assert other["bootfile"] == "" and other["tftp"] == ""    # the options are web's alone


def test_instance_resolves_another_by_name(served, tmp_path):
    web, db, _ = served
    _lease(web, tmp_path, "web")
    _lease(db, tmp_path, "db")
    for name in ("db-1", "db-1.example.org"):
        assert "Address: 10.77.0.12" in _lookup(web, name)
    assert "Address: 10.77.0.11" in _lookup(db, "web-1.example.org")
    # a name no port has is not invented
    assert "Address: 10.77.0." not in _lookup(web, "nobody.example.org", check=False)


def _lookup(vm: str, name: str, check: bool = True) -> str:
    """An A query to the DHCP port's address (the server the lease names)."""
    return ns.run(["busybox", "nslookup", "-type=a", name, "10.77.0.2"], netns=vm,
                  check=check, timeout=15)

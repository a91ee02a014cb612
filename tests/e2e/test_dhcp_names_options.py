"""DNS names and extra DHCP options through the whole stack: the API, the
DHCP agent of host1, its dnsmasq, and instances on host1 and host2. An
instance resolves another by the name in its dns_assignment through the
DHCP port; extra_dhcp_opts set on one port reach that instance's DHCP
client (not the other's) after a SIGHUP, not a restart."""
from __future__ import annotations

import pytest

from neutrino.dataplane import netns as ns
from tests.e2e.helpers import wait_for
from tests.e2e.test_dhcp_agent import dhcp_dir, dhcp_port, dnsmasq_pid, serving

pytestmark = pytest.mark.root

SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew) { echo "ip=$ip"; echo "bootfile=$bootfile"; echo "tftp=$tftp"; } > "$LEASE_FILE" ;;
esac
"""


def _ask(inst, tmp_path) -> dict[str, str]:
    """One more DHCP exchange from the instance asking for options 66/67
    (the lab's own lease stays: this script changes no address)."""
    script = tmp_path / "ask.sh"
    script.write_text(SCRIPT)
    script.chmod(0o755)
    out = tmp_path / f"{inst.name}.lease"
    ns.run(["udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", str(script),
            "-O", "bootfile", "-O", "tftp"], netns=inst.netns, timeout=30,
           env={"LEASE_FILE": str(out), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    return dict(line.split("=", 1) for line in out.read_text().splitlines())


def _lookup(inst, name: str, server: str) -> str:
    return ns.run(["busybox", "nslookup", "-type=a", name, server], netns=inst.netns,
                  check=False, timeout=15)


def test_names_resolve_and_options_reach_one_port(world, lab, tmp_path):
    net = world.network("dn", cidr="10.94.0.0/24", network_type="vxlan")
    serving(lab, net["id"])
    a = world.instance("a", net, dhcp=True)
    b = world.instance("b", net, host="host2", dhcp=True)
    server = dhcp_port(world, net["id"])["fixed_ips"][0]["ip_address"]
    assert a.lease["dns"] == server
    # the names of dns_assignment, answered by the DHCP port
    a_names = world.api.show("ports", a.port_id)["dns_assignment"][0]
    assert a_names["ip_address"] == a.lease["ip"]
    for name in (a_names["hostname"], a_names["fqdn"].rstrip(".")):
        assert f"Address: {a.lease['ip']}" in _lookup(b, name, server), name
    assert f"Address: {b.lease['ip']}" in _lookup(
        a, world.api.show("ports", b.port_id)["dns_assignment"][0]["hostname"], server)
    assert "Address: 10.94." not in _lookup(a, "nobody", server)

    pid = dnsmasq_pid(lab, net["id"])
    assert _ask(a, tmp_path)["bootfile"] == ""
    port = world.api.update("ports", a.port_id, {"extra_dhcp_opts": [
        {"opt_name": "bootfile-name", "opt_value": "pxelinux.0"},
        {"opt_name": "tftp-server", "opt_value": "10.94.0.99"}]})
    assert {o["opt_name"] for o in port["extra_dhcp_opts"]} == {"bootfile-name", "tftp-server"}
    opts = dhcp_dir(lab, net["id"]) / "opts"
    wait_for(lambda: f"tag:port-{a.port_id},option:bootfile-name,pxelinux.0" in opts.read_text(),
             timeout=20, what="the option in the opts file")
    got = _ask(a, tmp_path)
    assert (got["ip"], got["bootfile"], got["tftp"]) == (a.lease["ip"], "pxelinux.0",
                                                         "10.94.0.99")
    other = _ask(b, tmp_path)
    assert (other["ip"], other["bootfile"], other["tftp"]) == (b.lease["ip"], "", "")
    assert dnsmasq_pid(lab, net["id"]) == pid              # SIGHUP, not a restart
    # removing an option (opt_value null) takes it back
    world.api.update("ports", a.port_id, {"extra_dhcp_opts": [
        {"opt_name": "bootfile-name", "opt_value": None}]})
    wait_for(lambda: "bootfile-name" not in opts.read_text(), timeout=20,
             what="the option gone from the opts file")
    got = _ask(a, tmp_path)
    assert (got["bootfile"], got["tftp"]) == ("", "10.94.0.99")

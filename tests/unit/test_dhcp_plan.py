"""The DHCP agent's pure parts: dnsmasq files and command line (SEED-SPEC §4)
and plan(desired, observed) -> ops."""
from __future__ import annotations

from neutrino.agent.dhcp.model import NetDesired, NetObserved
from neutrino.agent.dhcp.plan import plan
from neutrino.dataplane import dnsmasq
from neutrino.dataplane.dnsmasq import DnsmasqConf
from neutrino.rpc.dhcp_handlers import dhcp_device_id

NET = "8642b715-3fb4-4f10-852a-9f05ff98e7e4"
SUB = "686bf3ab-7e0c-4c84-acbe-0f343138fb56"
DHCP_PORT = "19a0ed3d-fe11-4c1e-9b7e-000000000001"
VM_PORT = "af361670-dd00-4c1e-9b7e-000000000002"
CONF = DnsmasqConf(state_path="/opt/stack/data/neutron", lease_max=256)


def wire(vm_ports=(("fa:16:3e:b5:73:0d", "102.0.0.251"),), dhcp=True, mtu=1500,
         enable_dhcp=True, **subnet):
    ports = [{"id": DHCP_PORT, "mac_address": "fa:16:3e:00:00:01", "device_owner": "network:dhcp",
              "device_id": dhcp_device_id("node1", NET),
              "fixed_ips": [{"subnet_id": SUB, "ip_address": "102.0.0.2"}]}] if dhcp else []
    for i, (mac, ip) in enumerate(vm_ports):
        ports.append({"id": f"{VM_PORT[:-1]}{i + 3}", "mac_address": mac,
                      "device_owner": "compute:nova", "device_id": "vm",
                      "fixed_ips": [{"subnet_id": SUB, "ip_address": ip}]})
    sub = {"id": SUB, "cidr": "102.0.0.0/24", "ip_version": 4, "gateway_ip": "102.0.0.1",
           "enable_dhcp": enable_dhcp, "dns_nameservers": [], "host_routes": [], **subnet}
    return {"id": NET, "mtu": mtu, "admin_state_up": True, "subnets": [sub], "ports": ports}


def desired(**kw) -> NetDesired:
    return NetDesired.from_wire(wire(**kw), "node1")


def converged(d: NetDesired, pid=4242) -> NetObserved:
    dev = d.interface()
    return NetObserved(netns_exists=True, ns_devices={dev: ("fa:16:3e:00:00:01", d.network.mtu,
                                                            True)},
                       addresses=d.cidrs(), taps={d.tap()}, files=d.files(CONF), pid=pid,
                       cmdline=d.argv(CONF), has_state_dir=True)


def test_host_file_line_is_the_seeds():
    d = desired()
    assert "fa:16:3e:b5:73:0d,host-102-0-0-251.openstacklocal,102.0.0.251\n" in \
        dnsmasq.host_file(d.network, CONF)


def test_command_line_has_the_seeds_arguments():
    argv = desired().argv(CONF)
    base = f"/opt/stack/data/neutron/dhcp/{NET}"
    for arg in ("--no-hosts", f"--pid-file={base}/pid", f"--dhcp-hostsfile={base}/host",
                f"--addn-hosts={base}/addn_hosts", f"--dhcp-optsfile={base}/opts",
                f"--dhcp-leasefile={base}/leases", "--dhcp-match=set:ipxe,175",
                "--local-service", "--bind-dynamic",
                f"--dhcp-range=set:subnet-{SUB},102.0.0.0,static,255.255.255.0,86400s",
                "--dhcp-option-force=option:mtu,1500", "--dhcp-lease-max=256", "--conf-file=",
                "--domain=openstacklocal", "--interface=ns-19a0ed3d-fe"):
        assert arg in argv


def test_options_gateway_dns_and_host_routes():
    d = desired(dns_nameservers=["8.8.8.8"],
                host_routes=[{"destination": "10.9.0.0/16", "nexthop": "102.0.0.9"}])
    opts = dnsmasq.opts_file(d.network, d.dhcp_port)
    assert f"tag:subnet-{SUB},option:router,102.0.0.1" in opts
    assert f"tag:subnet-{SUB},option:dns-server,8.8.8.8" in opts
    assert (f"tag:subnet-{SUB},option:classless-static-route,"
            "10.9.0.0/16,102.0.0.9,0.0.0.0/0,102.0.0.1") in opts


def test_no_gateway_sends_an_empty_router_and_dhcp_port_is_dns():
    d = desired(gateway_ip=None)
    opts = dnsmasq.opts_file(d.network, d.dhcp_port)
    assert f"tag:subnet-{SUB},option:router\n" in opts
    assert f"tag:subnet-{SUB},option:dns-server,102.0.0.2" in opts


def test_ipv6_stateful_and_stateless():
    six = {"id": "v6", "cidr": "fd00::/64", "ip_version": 6, "gateway_ip": "fd00::1",
           "enable_dhcp": True, "ipv6_address_mode": "dhcpv6-stateful"}
    w = wire()
    w["subnets"].append(six)
    w["ports"][1]["fixed_ips"].append({"subnet_id": "v6", "ip_address": "fd00::5"})
    d = NetDesired.from_wire(w, "node1")
    assert "--dhcp-range=set:subnet-v6,fd00::,static,64,86400s" in d.argv(CONF)
    assert "host-fd00--5.openstacklocal,[fd00::5]" in dnsmasq.host_file(d.network, CONF)
    six["ipv6_address_mode"] = "dhcpv6-stateless"
    d = NetDesired.from_wire(w, "node1")
    assert "host-fd00--5.openstacklocal\n" in dnsmasq.host_file(d.network, CONF)
    six["ipv6_address_mode"] = "slaac"          # RAs only: no range
    d = NetDesired.from_wire(w, "node1")
    assert not any("subnet-v6" in a for a in d.argv(CONF))


def test_fresh_network_is_built_in_order():
    d = desired()
    ops = plan(d, NetObserved(), CONF)
    kinds = [op[0] for op in ops]
    assert kinds == ["create_netns", "create_veth", "address", "write", "write", "write", "start"]
    assert ops[1] == ("create_veth", "tap19a0ed3d-fe", "ns-19a0ed3d-fe", "fa:16:3e:00:00:01",
                      1500)


def test_converged_network_needs_nothing():
    d = desired()
    assert plan(d, converged(d), CONF) == []


def test_new_port_rewrites_host_file_and_reloads_without_restart():
    before = desired()
    after = desired(vm_ports=(("fa:16:3e:b5:73:0d", "102.0.0.251"),
                              ("fa:16:3e:b5:73:0e", "102.0.0.252")))
    ops = plan(after, converged(before), CONF)
    assert [op[0] for op in ops] == ["write", "write", "reload"]
    assert {op[1] for op in ops if op[0] == "write"} == {"host", "addn_hosts"}


def test_dead_dnsmasq_is_started_again():
    d = desired()
    obs = converged(d, pid=None)
    obs.cmdline = None
    assert plan(d, obs, CONF) == [("start", d.argv(CONF))]


def test_mtu_change_restarts():
    before = desired()
    after = desired(mtu=1450)
    kinds = [op[0] for op in plan(after, converged(before), CONF)]
    assert kinds == ["set_dev", "restart"]


def test_network_without_dhcp_subnet_is_torn_down():
    d = desired()
    ops = plan(desired(enable_dhcp=False), converged(d), CONF)
    assert ops == [("stop",), ("delete_tap", "tap19a0ed3d-fe"), ("delete_netns",),
                   ("remove_dir",)]
    assert plan(None, NetObserved(), CONF) == []


def test_missing_dhcp_port_is_not_served_yet():
    d = desired(dhcp=False)
    assert d.wanted and not d.port_complete
    assert plan(d, NetObserved(), CONF) == []

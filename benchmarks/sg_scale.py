"""Security groups at scale (issue #7): 1,000 ports on one host, all in one
group of 10 rules (2 egress, 8 ingress of which one names the group itself
as remote, so an ipset is in play), programmed by a real L2 agent into a
throwaway namespace standing for the host. Prints:

  full     agent start -> every port's chains, sets and ebtables applied
  rule     one ingress rule POSTed -> it is in all 1,000 ingress chains
  member   one port of another host joins the group -> its address in the set
  idle     a full resync with nothing changed (diff only, no restore)

Targets: full < 5 s, rule < 1 s. Run as root:
    .venv/bin/python benchmarks/sg_scale.py [--ports 1000]
The server (SQLite), bus (inproc) and agent share this process; the ports
are bound to the host but have no taps (filters do not need them).
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from neutrino import config as config_mod  # noqa: E402
from neutrino.agent.l2.agent import LinuxBridgeAgent  # noqa: E402
from neutrino.agent_options import LINUXBRIDGE_AGENT_SCHEMA  # noqa: E402
from neutrino.api.app import build_app  # noqa: E402
from neutrino.dataplane import netns as ns  # noqa: E402
from neutrino.rpc.bus import make_transport  # noqa: E402
from neutrino.rpc.client import LINUXBRIDGE_AGENT_TYPE, ServerClient  # noqa: E402
from neutrino.rpc.server_handlers import attach_bus  # noqa: E402
from neutrino.service import build_auth, build_core, load_server_config  # noqa: E402
from l2_fw_kernel import udp53_rules  # noqa: E402  (this script's directory)

HOST = "bench-host"


def wait(pred, timeout=120.0, interval=0.002):
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("benchmark condition not reached")
        time.sleep(interval)
    return time.monotonic() - t0


def post(client, path, body):
    r = client.post(path, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", type=int, default=1000)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces)")
        return 2
    netns = f"sgbench{secrets.token_hex(3)}"
    prefix = f"sgb-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="neutrino-sgbench-") as tmp:
        cfg = load_server_config([], {
            "DEFAULT": {"state_path": tmp, "auth_strategy": "noauth", "api_workers": "1"},
            "ml2": {"type_drivers": "local,vxlan", "tenant_network_types": "local",
                    "mechanism_drivers": "linuxbridge"},
            "quotas": {"quota_port": "-1", "quota_security_group_rule": "-1"},
            "oslo_policy": {"policy_file": ""}})
        core = build_core(cfg)
        server_bus = make_transport(f"inproc://{prefix}")
        attach_bus(core, server_bus, prefix=prefix)
        client = TestClient(build_app(core, build_auth(cfg, core.db)))
        agent_bus = make_transport(f"inproc://{prefix}")
        ns.create(netns)
        agent = None
        try:
            # the host's agent registers first, so ports bind to it
            state = {"agent_type": LINUXBRIDGE_AGENT_TYPE, "binary": "neutrino-linuxbridge-agent",
                     "host": HOST, "topic": "N/A", "start_flag": True,
                     "configurations": {"interface_mappings": {}, "bridge_mappings": {},
                                        "tunnel_types": [], "devices": 0}}
            ServerClient(agent_bus, HOST, prefix).report_state(state, wait=True)
            net = post(client, "/v2.0/networks", {"network": {"name": "bench"}})["network"]
            post(client, "/v2.0/subnets", {"subnet": {
                "network_id": net["id"], "ip_version": 4, "cidr": "10.128.0.0/16",
                "enable_dhcp": False}})
            group = post(client, "/v2.0/security-groups",
                         {"security_group": {"name": "bench"}})["security_group"]
            gid = group["id"]
            rules = [{"protocol": "icmp", "remote_group_id": gid}]
            rules += [{"protocol": "tcp", "port_range_min": 1000 + i, "port_range_max": 1000 + i,
                       "remote_ip_prefix": f"192.0.2.{i * 16}/28"} for i in range(7)]
            for r in rules:          # + the 2 egress rules every new group has = 10
                post(client, "/v2.0/security-group-rules", {"security_group_rule": {
                    "security_group_id": gid, "direction": "ingress", "ethertype": "IPv4", **r}})
            t0 = time.monotonic()
            for i in range(args.ports):
                post(client, "/v2.0/ports", {"port": {
                    "network_id": net["id"], "binding:host_id": HOST, "device_owner": "compute:b",
                    "security_groups": [gid]}})
            print(f"{args.ports} ports created in {time.monotonic() - t0:.1f} s; group of "
                  f"{len(rules) + 2} rules; load average {open('/proc/loadavg').read().split()[0]}"
                  f" on {os.cpu_count()} CPU(s)")

            acfg = config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [], {
                "DEFAULT": {"host": HOST, "transport_url": f"inproc://{prefix}",
                            "control_exchange": prefix},
                "agent": {"report_interval": "0", "polling_interval": "2",
                          "resync_interval": "3600"},
                "securitygroup": {"firewall_driver": "iptables"}})
            t0 = time.monotonic()
            agent = LinuxBridgeAgent(acfg, agent_bus, netns=netns).start()
            assert agent.wait_synced(120), "agent did not sync"
            full = time.monotonic() - t0
            fw = agent.firewall
            save = ns.run(["iptables-save"], netns=netns)
            chains = save.count(":neutron-linuxbri-i")
            lines = save.count("\n-A ")
            print(f"full     {full:6.3f} s  agent start -> {chains} ports filtered "
                  f"({lines} iptables rules, v4; firewall {fw.stats.get('total', 0):.3f} s of it: "
                  f"fetch {fw.stats.get('fetch', 0):.3f}, observe+render "
                  f"{fw.stats.get('observe_render', 0):.3f}, apply {fw.stats.get('apply', 0):.3f}: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in fw.kernel.timings.items()) + ")")

            restores = fw.kernel.restores
            t0 = time.monotonic()
            post(client, "/v2.0/security-group-rules", {"security_group_rule": {
                "security_group_id": gid, "direction": "ingress", "ethertype": "IPv4",
                "protocol": "udp", "port_range_min": 53, "port_range_max": 53,
                "remote_ip_prefix": "198.51.100.0/24"}})
            wait(lambda: fw.kernel.restores > restores)
            rule_t = time.monotonic() - t0
            n = udp53_rules(netns)       # ingress chains reaching the rule
            print(f"rule     {rule_t:6.3f} s  POST rule -> in {n} ingress chains "
                  f"(fetch {fw.stats['fetch']:.3f}, observe+render {fw.stats['observe_render']:.3f}"
                  f", apply {fw.stats['apply']:.3f})")

            sets, restores = fw.kernel.set_restores, fw.kernel.restores
            t0 = time.monotonic()
            port = post(client, "/v2.0/ports", {"port": {
                "network_id": net["id"], "binding:host_id": "elsewhere",
                "security_groups": [gid]}})["port"]
            ip = port["fixed_ips"][0]["ip_address"]
            wait(lambda: fw.kernel.set_restores > sets)
            member_t = time.monotonic() - t0
            listed = ns.run(["ipset", "list", f"NIPv4{gid}"[:31]], netns=netns)
            print(f"member   {member_t:6.3f} s  POST port in the group (another host) -> "
                  f"{ip} in the set: {ip in listed}; iptables restores: "
                  f"{fw.kernel.restores - restores}")

            restores = fw.kernel.restores
            t0 = time.monotonic()
            agent.sync(True)
            idle = time.monotonic() - t0
            print(f"idle     {idle:6.3f} s  full resync with nothing to change "
                  f"(iptables restores: {fw.kernel.restores - restores})")
        finally:
            if agent is not None:
                agent.stop()
            ns.delete(netns, missing_ok=True)
            agent_bus.close()
            core.notifier.close()
            server_bus.close()
            core.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

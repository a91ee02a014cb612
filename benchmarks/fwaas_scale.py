"""FWaaS v2 at scale on one L3 agent: one policy of 512 rules on a router
with 10 interfaces.

1. A 1-host lab (rabbit: the L3 agent is its own process); a router with 10
   interfaces (one vxlan network each), 512 firewall rules (tcp, distinct
   destination ports) in one policy.
2. K rounds: POST firewall_group (ingress policy = the 512 rules, the 10
   interface ports) -> the kernel of the router namespace has the group's
   chain with all 512 rules and the 10 ports' jumps (iptables-save polled
   every few ms). Then its ports are taken out (the chains go) and it is
   deleted.
3. With the group in place: K rounds of PUT insert_rule (a new rule at the
   top of the 512) -> that rule in the kernel (which is when it is enforced:
   the restore is atomic); then remove_rule and wait until it is gone and
   the group is ACTIVE again.

    .venv/bin/python benchmarks/fwaas_scale.py [--rules 512] [--ports 10] [--rounds 10]

Targets (issue #13): API call -> rules in the kernel < 1 s; one rule
inserted -> enforced < 0.3 s p50. Prints figures, asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import time

from l2_common import pct, summary, throwaway_lab

from neutrino.agent.l3.fwaas.model import chain_tags, group_chain
from neutrino.dataplane import netns as ns
from neutrino.dataplane.iptables import parse_save

FW = "/v2.0/fwaas"


def fw_create(api, kind: str, body: dict) -> dict:
    plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    return api.request("POST", f"{FW}/{plural}", {kind: body})[kind]


def wait(cond, timeout: float = 60.0, step: float = 0.005) -> float:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(getattr(cond, "__doc__", None) or "condition")
        time.sleep(step)
    return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rules", type=int, default=512)
    ap.add_argument("--ports", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--keep-logs", help="copy the lab's logs to this directory")
    args = ap.parse_args()
    with throwaway_lab(1, "rabbit", keep_logs=args.keep_logs) as lab:
        api = lab.api
        host = "host1"
        router = api.create("routers", {"name": "fw-bench"})
        for k in range(args.ports):
            net = api.create_network(f"fw{k}", "vxlan")
            sub = api.create_subnet(net["id"], f"10.{120 + k}.0.0/24", enable_dhcp=False)
            api.request("PUT", f"/v2.0/routers/{router['id']}/add_router_interface",
                        {"subnet_id": sub["id"]})
        ports = [p["id"] for p in api.list("ports", device_id=router["id"])]
        netns = f"{lab.state.prefix}{host}-qrouter-{router['id']}"
        wait(lambda: ns.exists(netns), timeout=60, step=0.05)

        def filter_v4() -> dict[str, list[str]]:
            text = ns.run(["iptables-save", "-t", "filter"], netns=netns)
            return parse_save(text).get("filter", {})
        api.request("PUT", f"/v2.0/quotas/{router['project_id']}", {"quota": {
            "firewall_rule": -1, "firewall_policy": -1, "firewall_group": -1}})
        t0 = time.monotonic()
        rules = [fw_create(api, "firewall_rule", {
            "protocol": "tcp", "destination_port": str(20000 + i), "action": "allow"})["id"]
            for i in range(args.rules)]
        policy = fw_create(api, "firewall_policy", {"name": "big", "firewall_rules": rules})
        print(f"router with {len(ports)} interfaces, {len(rules)} rules in one policy made "
              f"through the API in {time.monotonic() - t0:.1f} s")

        def chain_of(group_id: str) -> str:
            return group_chain(chain_tags([group_id])[group_id], 4, "ingress")

        def group_in_kernel(gid: str, present: bool):
            def check() -> bool:
                table = filter_v4()
                chain = table.get(chain_of(gid), [])
                jumps = [r for r in table.get("neutron-l3-agent-FORWARD", [])
                         if chain_of(gid) in r]
                if present:
                    return len(chain) == len(rules) + 2 and len(jumps) == len(ports)
                return not chain and not jumps
            return check

        def group_status(gid: str, want: str):
            def check() -> bool:
                got = api.request("GET", f"{FW}/firewall_groups/{gid}")["firewall_group"]
                return got["status"] == want
            return check

        create_times = []
        group = None
        for r in range(args.rounds + 1):      # round 0 warms up (the router's first sync)
            t0 = time.monotonic()
            group = fw_create(api, "firewall_group", {
                "name": f"g{r}", "ingress_firewall_policy_id": policy["id"], "ports": ports})
            wait(group_in_kernel(group["id"], True))
            if r:
                create_times.append(time.monotonic() - t0)
            wait(group_status(group["id"], "ACTIVE"), step=0.05)
            if r < args.rounds:      # ports out (an active group cannot be deleted)
                api.request("PUT", f"{FW}/firewall_groups/{group['id']}",
                            {"firewall_group": {"ports": []}})
                wait(group_in_kernel(group["id"], False))
                wait(group_status(group["id"], "INACTIVE"), step=0.05)
                api.request("DELETE", f"{FW}/firewall_groups/{group['id']}")
        print(summary(f"group of {len(rules)} rules, {len(ports)} ports -> kernel",
                      create_times))

        insert_times, api_times = [], []
        top = rules[0]
        for r in range(args.rounds * 2):
            new = fw_create(api, "firewall_rule", {
                "protocol": "tcp", "destination_port": str(40000 + r), "action": "deny"})
            line = f"--dport {40000 + r} -j neutron-l3-agent-dropped"
            chain = chain_of(group["id"])

            def present(want: bool = True, line=line) -> bool:
                rows = filter_v4().get(chain, [])
                return any(x.endswith(line) for x in rows) == want
            t0 = time.monotonic()
            api.request("PUT", f"{FW}/firewall_policies/{policy['id']}/insert_rule",
                        {"firewall_rule_id": new["id"], "insert_before": top})
            api_times.append(time.monotonic() - t0)
            wait(present)
            insert_times.append(time.monotonic() - t0)
            wait(group_status(group["id"], "ACTIVE"), step=0.05)
            api.request("PUT", f"{FW}/firewall_policies/{policy['id']}/remove_rule",
                        {"firewall_rule_id": new["id"]})
            wait(lambda: present(False))
            wait(group_status(group["id"], "ACTIVE"), step=0.05)
            api.request("DELETE", f"{FW}/firewall_rules/{new['id']}")
        print(summary(f"insert_rule into {len(rules)} -> kernel", insert_times))
        print(summary("  of which the API call", api_times))
        print(f"targets: group -> kernel < 1 s: "
              f"{'met' if max(create_times) < 1 else 'NOT met'} (max {max(create_times):.3f} s); "
              f"insert -> enforced p50 < 0.3 s: "
              f"{'met' if pct(insert_times, .5) < 0.3 else 'NOT met'}; load average "
              f"{open('/proc/loadavg').read().split()[0]} on {os.cpu_count()} CPU(s)")


if __name__ == "__main__":
    main()

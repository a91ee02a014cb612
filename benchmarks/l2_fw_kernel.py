"""What benchmarks/l2_scale.py reads of a host's firewall, for either
[securitygroup] firewall_driver (iptables, nftables; iptables-nft and
iptables-legacy: the iptables driver with that iptables_backend): which
ports have their filters, how many ingress chains hold a rule, the
network's conntrack zone, what is left of deleted ports, and a reboot's
empty netfilter."""
from __future__ import annotations

import functools
import json
import re
import subprocess

from neutrino.agent.l2.firewall.apply import tool
from neutrino.dataplane import netns as ns

W = "neutron-linuxbri"


def _nft_chains(host_ns: str, family: str, table: str = "neutrino") -> set[str]:
    out = ns.run(["nft", "-j", "list", "chains", family], netns=host_ns, check=False)
    try:
        objs = json.loads(out).get("nftables", []) if out.strip() else []
    except ValueError:
        return set()
    return {o["chain"]["name"] for o in objs
            if "chain" in o and o["chain"]["table"] == table}


def ipt_tool(command: str, driver: str) -> str:
    """The iptables tool the agent runs with this driver (see module doc)."""
    return tool(command, driver.partition("-")[2] or "auto")


@functools.cache
def _iptables_is_nft(driver: str = "iptables") -> bool:
    return "nf_tables" in ns.run([ipt_tool("iptables", driver), "--version"], check=False)


def _chain_names(host_ns: str, argv: list[str]) -> set[str]:
    """The chains a save declares (its `:name` lines, printed before any
    rule): the rest is not read (at 5,000 ports: 10 MB)."""
    names: set[str] = set()
    proc = subprocess.Popen(["ip", "netns", "exec", host_ns, *argv], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        for line in proc.stdout:
            if line.startswith(":"):
                names.add(line[1:].split(" ", 1)[0])
            elif line.startswith("-A") or line.startswith("COMMIT"):
                break
    finally:
        proc.kill()
        proc.wait()
    return names


def filtered_ports(host_ns: str, ids: list[str], driver: str = "iptables") -> int:
    """How many of the ports have their ingress, egress and spoofing chains."""
    if driver == "nftables":
        chains = _nft_chains(host_ns, "inet")
        return sum(1 for pid in ids if all(f"{k}-{pid}" in chains for k in ("in", "eg")))
    save = ns.run([ipt_tool("iptables-save", driver), "-t", "filter"], netns=host_ns)
    return sum(1 for pid in ids if all(f":{W}-{k}{pid[:10]} " in save for k in "ios"))


def flush_netfilter(host_ns: str, driver: str = "iptables") -> None:
    """What a reboot leaves (or a flush behind the agent's back)."""
    if driver == "nftables":
        for family in ("inet", "bridge"):
            ns.run(["nft", "delete", "table", family, "neutrino"], netns=host_ns, check=False)
        return
    for cmd in ("iptables", "ip6tables"):
        for table in ("filter", "raw"):
            ns.run([ipt_tool(cmd, driver), "-t", table, "-F"], netns=host_ns)
            ns.run([ipt_tool(cmd, driver), "-t", table, "-X"], netns=host_ns)
    ns.run(["ebtables", "-t", "nat", "-F"], netns=host_ns)
    ns.run(["ebtables", "-t", "nat", "-X"], netns=host_ns)


def udp53_rules(host_ns: str, driver: str = "iptables") -> int:
    """Ingress chains holding the benchmark's rule (udp 53 from 198.51.100.0/24)."""
    if driver == "nftables":      # ports reach it through their groups' (shared) chain
        text = ns.run(["nft", "list", "table", "inet", "neutrino"], netns=host_ns)
        holding = {m.group(1) for m in re.finditer(
            r"chain (gi-\S+) \{[^}]*?ip saddr 198\.51\.100\.0/24 udp dport 53 return", text)}
        return sum(1 for m in re.finditer(r"chain in-\S+ \{[^}]*?goto (gi-\S+)", text)
                   if m.group(1) in holding)
    # the iptables driver too: each ingress chain jumps to its groups' shared chain
    save = ns.run([ipt_tool("iptables-save", driver), "-t", "filter"], netns=host_ns).splitlines()
    rule = "-s 198.51.100.0/24 -p udp -m udp --dport 53 -j RETURN"
    holding = {line.split()[1] for line in save if line.startswith("-A ") and line.endswith(rule)}
    return sum(1 for line in save if line.startswith(f"-A {W}-i")
               and (line.endswith(rule) or line.split()[-1] in holding))


def zone(host_ns: str, driver: str = "iptables") -> int:
    """The conntrack zone of the (first) network."""
    if driver == "nftables":
        text = ns.run(["nft", "list", "map", "inet", "neutrino", "zones"], netns=host_ns)
        return int(re.search(r'"brq\S*" : (\d+)', text).group(1))
    raw = ns.run([ipt_tool("iptables-save", driver), "-t", "raw"], netns=host_ns)
    return int(re.search(r"--zone (\d+)", raw).group(1))


def chains_left(host_ns: str, port_ids: list[str], driver: str = "iptables") -> int:
    """Ingress chains and MAC/ARP checks of these ports still in the kernel."""
    taps = {"tap" + pid[:11] for pid in port_ids}
    if driver == "nftables":
        inet, bridged = _nft_chains(host_ns, "inet"), _nft_chains(host_ns, "bridge")
        return (sum(1 for pid in port_ids if f"in-{pid}" in inet)
                + sum(1 for pid in port_ids if f"pi-{pid}" in bridged))
    if _iptables_is_nft(driver):
        # iptables-nft/ebtables-nft chains are nf_tables chains: their names
        # alone, 0.15 s at 5,000 ports (iptables-save -t filter: 1.4 s, 10 MB)
        ip, bridged = _nft_chains(host_ns, "ip", "filter"), _nft_chains(host_ns, "bridge", "nat")
        return (sum(1 for pid in port_ids if f"{W}-i{pid[:10]}" in ip)
                + sum(1 for t in taps if f"neutronMAC-{t}" in bridged))
    ip = _chain_names(host_ns, [ipt_tool("iptables-save", driver), "-t", "filter"])
    eb_nft = "nf_tables" in ns.run(["ebtables", "--version"], check=False)
    bridged = (_nft_chains(host_ns, "bridge", "nat") if eb_nft
               else _chain_names(host_ns, ["ebtables-save", "-t", "nat"]))
    return (sum(1 for pid in port_ids if f"{W}-i{pid[:10]}" in ip)
            + sum(1 for t in taps if f"neutronMAC-{t}" in bridged))

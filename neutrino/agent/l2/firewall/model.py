"""What the security-group firewall of one host works on: the ports bound
here with their groups, the groups' rules, the members of the groups that
rules name as remote, and the kernel names (chains, sets) of seed §10.
Plain frozen values, no I/O."""
from __future__ import annotations

import functools
import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any

WRAP = "neutron-linuxbri"          # upstream's wrap name for the Linux bridge agent
TOP = "neutron-filter-top"
SG_CHAIN = f"{WRAP}-sg-chain"
FALLBACK = f"{WRAP}-sg-fallback"
OWN_PREFIXES = (f"{WRAP}-", TOP)
GROUP_PREFIXES = (f"{WRAP}-gi", f"{WRAP}-go")     # chains of a combination of groups
SET_PREFIXES = ("NIPv4", "NIPv6")
EB_PREFIXES = ("neutronMAC-", "neutronARP-")
ZONE_BASE = 4097                   # conntrack zones per network, as upstream
FAMILIES = (4, 6)


def port_tag(port_id: str) -> str:
    return port_id[:10]


def tap(port_id: str) -> str:
    return "tap" + port_id[:11]


def bridge(network_id: str) -> str:
    return "brq" + network_id[:11]


def ingress_chain(port_id: str) -> str:
    return f"{WRAP}-i{port_tag(port_id)}"


def egress_chain(port_id: str) -> str:
    return f"{WRAP}-o{port_tag(port_id)}"


def spoof_chain(port_id: str) -> str:
    return f"{WRAP}-s{port_tag(port_id)}"


def group_chain(direction: str, key: str) -> str:
    """The chain shared by every port of one combination of groups (and
    statefulness), holding the groups' rules of one direction: gi/go + 9
    hex digits of the combination's hash (chain names: 28 characters)."""
    digest = hashlib.sha1(key.encode()).hexdigest()[:9]
    return f"{WRAP}-g{'i' if direction == 'ingress' else 'o'}{digest}"


def set_name(group_id: str, version: int) -> str:
    # ipset names are at most 31 characters
    return f"NIPv{version}{group_id}"[:31]


@functools.lru_cache(maxsize=65536)      # every port's addresses, on every render
def ip_version(address: str) -> int:
    return ipaddress.ip_network(address, strict=False).version


@functools.lru_cache(maxsize=1 << 16)      # every cycle asks, for each of thousands of ports
def ips_by_version(fixed_ips: tuple[str, ...]) -> dict[int, tuple[str, ...]]:
    """A port's fixed IPs by IP version. Callers never change the answer."""
    return {v: tuple(ip for ip in fixed_ips if ip_version(ip) == v) for v in (4, 6)}


@functools.lru_cache(maxsize=1 << 17)      # a remote group's members, on every render
def canonical_member(address: str) -> str:
    """How `ipset save` prints a hash:net member: hosts without a length."""
    net = ipaddress.ip_network(address, strict=False)
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return str(net)


# ---------------------------------------------------------------- desired

@dataclass(frozen=True)
class SgRule:
    direction: str                 # ingress | egress
    ethertype: str                 # IPv4 | IPv6
    protocol: str | None = None    # name or number as the API stored it; None = any
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> SgRule:
        return cls(direction=d["direction"], ethertype=d["ethertype"],
                   protocol=d.get("protocol"), port_range_min=d.get("port_range_min"),
                   port_range_max=d.get("port_range_max"),
                   remote_ip_prefix=d.get("remote_ip_prefix"),
                   remote_group_id=d.get("remote_group_id"))

    @property
    def version(self) -> int:
        return 6 if self.ethertype == "IPv6" else 4


@dataclass(frozen=True)
class FwPort:
    id: str
    network_id: str
    mac_address: str
    device_owner: str = ""
    port_security_enabled: bool = True
    fixed_ips: tuple[str, ...] = ()
    allowed_address_pairs: tuple[tuple[str, str], ...] = ()   # (ip or cidr, mac)
    security_groups: tuple[str, ...] = ()
    # A port whose data could not be rendered (checks.py): filtered with
    # nothing allowed, no address, no MAC.
    isolated: bool = False

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> FwPort:
        mac = d["mac_address"].lower()
        return cls(id=d["id"], network_id=d["network_id"], mac_address=mac,
                   device_owner=d.get("device_owner", ""),
                   port_security_enabled=bool(d.get("port_security_enabled", True)),
                   fixed_ips=tuple(d.get("fixed_ips", ())),
                   allowed_address_pairs=tuple(
                       (p["ip_address"], (p.get("mac_address") or mac).lower())
                       for p in d.get("allowed_address_pairs", ())),
                   security_groups=tuple(d.get("security_groups", ())),
                   isolated=bool(d.get("isolated", False)))

    def isolate(self) -> FwPort:
        return FwPort(self.id, self.network_id, "", isolated=True)

    @property
    def trusted(self) -> bool:
        """DHCP and router ports: "Accept all packets when port is trusted"."""
        return self.device_owner.startswith("network:")

    @property
    def filtered(self) -> bool:
        return self.isolated or (self.port_security_enabled and not self.trusted)

    def ips(self, version: int) -> tuple[str, ...]:
        return ips_by_version(self.fixed_ips)[version]


def remote_groups(rules: dict[str, tuple[SgRule, ...]]) -> set[str]:
    """The groups these rules name as remote."""
    return {r.remote_group_id for rs in rules.values() for r in rs if r.remote_group_id}


@dataclass
class FwDesired:
    """The host's ports and everything their filters depend on."""
    ports: dict[str, FwPort] = field(default_factory=dict)
    rules: dict[str, tuple[SgRule, ...]] = field(default_factory=dict)   # group -> rules
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)    # group -> addresses
    # stateless groups (stateful=false): their ports are filtered without
    # conntrack, return traffic passes only through their own rules
    stateless: frozenset[str] = frozenset()

    @classmethod
    def from_wire(cls, state: dict[str, Any]) -> FwDesired:
        return cls(ports={p["id"]: FwPort.from_wire(p) for p in state.get("ports", ())},
                   rules={gid: tuple(SgRule.from_wire(r) for r in rules)
                          for gid, rules in state.get("security_groups", {}).items()},
                   members={gid: tuple(ips) for gid, ips in state.get("members", {}).items()},
                   stateless=frozenset(state.get("stateless", ())))

    def restrict(self, port_ids) -> FwDesired:
        """Only the given ports (those the L2 agent has bound here)."""
        keep = set(port_ids)
        return FwDesired(ports={k: v for k, v in self.ports.items() if k in keep},
                         rules=self.rules, members=self.members, stateless=self.stateless)

    def updated(self, fresh: FwDesired, ports: dict[str, FwPort]) -> FwDesired:
        """This state with `ports` and what `fresh` (a part fetched alone)
        says of its groups: their rules, the members those name, whether
        stateless; what no port or rule uses any more left out."""
        used = {g for p in ports.values() for g in p.security_groups}
        rules = {g: r for g, r in {**self.rules, **fresh.rules}.items() if g in used}
        named = remote_groups(rules)
        return FwDesired(
            ports=ports, rules=rules,
            members={g: m for g, m in {**self.members, **fresh.members}.items() if g in named},
            stateless=((self.stateless - set(fresh.rules)) | fresh.stateless) & used)

    def is_stateless(self, port: FwPort) -> bool:
        """A port of stateless groups (the API refuses to mix both kinds)."""
        return bool(self.stateless) and not port.isolated and any(
            g in self.stateless for g in port.security_groups)


@dataclass(frozen=True)
class FwConf:
    enabled: bool = True            # firewall_driver = iptables and enable_security_group
    use_ipset: bool = True
    iptables_backend: str = "auto"  # auto (PATH) | nft | legacy: the tools apply.py runs

    @classmethod
    def from_config(cls, cfg) -> FwConf:
        sg = cfg.securitygroup
        return cls(enabled=bool(sg.enable_security_group and sg.firewall_driver == "iptables"),
                   use_ipset=bool(sg.enable_ipset), iptables_backend=sg.iptables_backend)


# ---------------------------------------------------------------- what the kernel shows

@dataclass
class Observed:
    """iptables-save per family (table -> chain -> ['-A ...']), ipsets
    (name -> members), ebtables nat (chain -> ['-A ...']) and chain policies."""
    iptables: dict[int, dict[str, dict[str, list[str]]]] = field(default_factory=dict)
    sets: dict[str, set[str]] = field(default_factory=dict)
    set_family: dict[str, int] = field(default_factory=dict)
    ebtables: dict[str, list[str]] = field(default_factory=dict)
    eb_policy: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- what to change

@dataclass(frozen=True)
class ConntrackDelete:
    """Forget flows a removed allow let in (or out), so they stop now."""
    version: int
    zone: int
    src: str | None = None
    dst: str | None = None


@dataclass
class FwPlan:
    ipset_before: str = ""                          # ipset restore input: create/add/del
    iptables: dict[int, str] = field(default_factory=dict)   # family -> restore input
    ebtables: str = ""                              # ebtables-restore --noflush input
    ipset_after: list[str] = field(default_factory=list)     # sets to destroy afterwards
    conntrack: list[ConntrackDelete] = field(default_factory=list)
    # The restores only add: the tables they write hold no chain of ours yet
    # (a cold start). FirewallKernel may then run them side by side.
    additive: bool = False

    @property
    def empty(self) -> bool:
        return not (self.ipset_before or self.iptables or self.ebtables or self.ipset_after
                    or self.conntrack)

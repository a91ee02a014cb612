"""What the firewall reads back from the server is checked with the API's
own validators (neutrino.validators) before anything is rendered from it:
a row written behind the API's back (an address pair "10.0.0.1/99", a
rule's remote_ip_prefix "true") must cost that one port its filter, never
the whole host its firewall updates.

check(state) -> (clean state, {port id: why}). A port whose own row, or a
rule of one of its groups, is bad comes back isolated: still filtered, with
nothing allowed (the reconciler reports it ERROR and the L2 agent keeps its
tap off the bridge). A bad rule is dropped from its group, a bad remote-group
member from the member list: dropping an allow only ever filters more. Pure.
"""
from __future__ import annotations

import functools
from typing import Any

from neutrino import validators as v


@functools.lru_cache(maxsize=1 << 16)
def _cached(check, text: str) -> str | None:
    return check(text)


def _judge(check, value: Any) -> str | None:
    """check(value), remembered for strings: every refetch of a host's state
    sees the same few thousand addresses again."""
    return _cached(check, value) if isinstance(value, str) else check(value)


def _prefix_problem(text: str) -> str | None:
    try:
        v.ip_prefix_to_cidr(text)
    except ValueError:
        return f"remote_ip_prefix: '{v.shown(text)}' is not a valid IP subnet"
    return None

# Protocol names the renderer knows (plan.PROTO_NUMBERS, which imports the model).
_PROTOCOL_NAMES = {"ah", "dccp", "egp", "esp", "gre", "icmp", "icmpv6", "igmp", "ipip",
                   "ipv6-encap", "ipv6-frag", "ipv6-icmp", "ipv6-nonxt", "ipv6-opts",
                   "ipv6-route", "ospf", "pgm", "rsvp", "sctp", "tcp", "udp", "udplite", "vrrp"}
_ICMP = {"icmp", "icmpv6", "ipv6-icmp", "1", "58"}


def port_problem(port: Any) -> str | None:
    """Why this port's row cannot be rendered (None: it can). Only what the
    renderer uses is judged: nothing but the id for an unfiltered port."""
    if not isinstance(port, dict):
        return f"port entry {v.shown(port)} is not a dictionary"
    owner = port.get("device_owner", "")
    reason = v.validate_string(owner)
    if reason:
        return f"device_owner: {reason}"
    security = port.get("port_security_enabled", True)
    if not isinstance(security, bool):
        return f"port_security_enabled: '{v.shown(security)}' is not a valid boolean value"
    if owner.startswith("network:") or not security:
        return None                         # trusted or unfiltered: only the tap is named
    mac = port.get("mac_address")
    reason = _judge(v.validate_mac_address, mac.lower() if isinstance(mac, str) else mac)
    if reason:
        return f"mac_address: {reason}"
    fixed = port.get("fixed_ips", [])
    if not isinstance(fixed, list):
        return f"fixed_ips: '{v.shown(fixed)}' is not a list"
    for address in fixed:
        reason = _judge(v.validate_ip_address, address)
        if reason:
            return f"fixed_ips: {reason}"
    pairs = port.get("allowed_address_pairs", [])
    if not isinstance(pairs, list):
        return f"allowed_address_pairs: '{v.shown(pairs)}' is not a list"
    for pair in pairs:
        if not isinstance(pair, dict):
            return f"allowed_address_pairs: '{v.shown(pair)}' is not a dictionary"
        reason = _judge(v.validate_ip_or_subnet, pair.get("ip_address"))
        if reason is None and pair.get("mac_address") is not None:
            pmac = pair["mac_address"]
            reason = _judge(v.validate_mac_address,
                            pmac.lower() if isinstance(pmac, str) else pmac)
        if reason:
            return f"allowed_address_pairs: {reason}"
    groups = port.get("security_groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        return f"security_groups: '{v.shown(groups)}' is not a list of ids"
    return None


def rule_problem(rule: Any) -> str | None:
    """Why a security group rule cannot be rendered (None: it can)."""
    if not isinstance(rule, dict):
        return f"rule {v.shown(rule)} is not a dictionary"
    reason = (v.validate_values(rule.get("direction"), ("ingress", "egress"))
              or v.validate_values(rule.get("ethertype"), ("IPv4", "IPv6")))
    if reason:
        return reason
    protocol = rule.get("protocol")
    name = None
    if protocol is not None:
        if isinstance(protocol, bool) or not isinstance(protocol, (str, int)):
            return f"protocol '{v.shown(protocol)}' is not a protocol name or number"
        name = str(protocol).lower()
        if name not in _PROTOCOL_NAMES and not (name.isdigit() and name.isascii()
                                                and 0 <= int(name) <= 255):
            return f"protocol '{v.shown(protocol)}' is not a protocol name or number"
    limits = (0, 255) if name in _ICMP else (1, 65535)
    for key in ("port_range_min", "port_range_max"):
        value = rule.get(key)
        if value is not None and v.validate_range(value, *limits):
            return f"{key}: {v.validate_range(value, *limits)}"
    lo, hi = rule.get("port_range_min"), rule.get("port_range_max")
    if name not in _ICMP and lo is not None and hi is not None and lo > hi:
        return f"port_range_min {lo} is above port_range_max {hi}"
    prefix = rule.get("remote_ip_prefix")
    if prefix is not None:
        reason = _judge(_prefix_problem, prefix)
        if reason:
            return reason
        if prefix and (":" in prefix) != (rule["ethertype"] == "IPv6"):
            return f"remote_ip_prefix {prefix} does not match ethertype {rule['ethertype']}"
    remote = rule.get("remote_group_id")
    if remote is not None and (v.validate_string(remote, 255) or not remote):
        return f"remote_group_id: '{v.shown(remote)}' is not a group id"
    return None


def member_problem(address: Any) -> str | None:
    """A remote-group member: an address, or the CIDR of an address pair."""
    if isinstance(address, str) and "/" in address:
        return _judge(v.validate_subnet, address)
    return _judge(v.validate_ip_address, address)


def isolated(port: dict) -> dict:
    """A bad port as the renderer gets it: filtered, nothing allowed."""
    return {"id": port["id"], "network_id": port["network_id"], "mac_address": "",
            "device_owner": "", "port_security_enabled": True, "fixed_ips": [],
            "allowed_address_pairs": [], "security_groups": [], "isolated": True}


def check(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """The firewall state with bad rows isolated or dropped, why each
    isolated port is, and what else was dropped (rules, members). Raises
    nothing for any JSON the server may send, but a port without a usable
    id and network is left out (it can be neither named nor filtered; the
    L2 agent gets no bridge for it either)."""
    bad: dict[str, str] = {}
    dropped: list[str] = []
    groups_in = state.get("security_groups") or {}
    rules: dict[str, list] = {}
    bad_groups: dict[str, str] = {}
    for gid, group_rules in (groups_in.items() if isinstance(groups_in, dict) else ()):
        kept = []
        for rule in group_rules if isinstance(group_rules, list) else [group_rules]:
            reason = rule_problem(rule)
            if reason:
                bad_groups.setdefault(gid, f"a rule of security group {gid}: {reason}")
                dropped.append(f"rule {v.shown(rule, 200)} of security group {gid}: {reason}")
            else:
                kept.append(rule)
        rules[gid] = kept
    ports = []
    for port in state.get("ports") or ():
        if not (isinstance(port, dict) and isinstance(port.get("id"), str)
                and isinstance(port.get("network_id"), str)):
            dropped.append(f"port entry {v.shown(port, 200)}: no id or network_id")
            continue
        reason = port_problem(port)
        if reason is None and not port.get("device_owner", "").startswith("network:") \
                and port.get("port_security_enabled", True):
            reason = next((bad_groups[g] for g in port.get("security_groups", ())
                           if g in bad_groups), None)
        if reason:
            bad[port["id"]] = reason
            port = isolated(port)
        ports.append(port)
    members_in = state.get("members") or {}
    members: dict[str, list] = {}
    for gid, found in (members_in.items() if isinstance(members_in, dict) else ()):
        members[gid] = []
        for member in found if isinstance(found, list) else ():
            reason = member_problem(member)
            if reason:
                dropped.append(f"member of remote group {gid}: {reason}")
            else:
                members[gid].append(member)
    clean = {**state, "ports": ports, "security_groups": rules, "members": members}
    return clean, bad, dropped

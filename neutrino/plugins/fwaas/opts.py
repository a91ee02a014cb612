"""neutron-fwaas's server options, read from neutron.conf (neutrino/options.py
adds them): the [quotas] of the three resources and [default_fwg_rules], the
rules of each project's default firewall group."""
from __future__ import annotations

from neutrino import validators as v
from neutrino.config import Opt, Section, choice, int_range, to_bool

QUOTA_OPTS = (
    Opt("quota_firewall_group", int_range(-1), 10,
        "FWaaS v2 firewall groups per project (the project's `default` group counts)."),
    Opt("quota_firewall_policy", int_range(-1), 10,
        "FWaaS v2 firewall policies per project (the default group's two count)."),
    Opt("quota_firewall_rule", int_range(-1), 100,
        "FWaaS v2 firewall rules per project (the default group's four count)."),
)


def _address(version: int):
    def conv(raw: str) -> str | None:
        value = raw.strip()
        if not value:
            return None
        if v.validate_ip_address(value) and v.validate_subnet(value):
            raise ValueError(f"{value!r} is not an IP address or CIDR")
        if (":" in value) != (version == 6):
            raise ValueError(f"{value!r} is not an IPv{version} address or CIDR")
        return value
    conv.__name__ = "string"
    return conv


def _port(raw: str) -> str | None:
    from neutrino.plugins.fwaas.resources import port_range
    value = raw.strip()
    if not value:
        return None
    reason = port_range(value)
    if reason:
        raise ValueError(reason)
    return value


def _protocol(raw: str) -> str | None:
    from neutrino.plugins.fwaas.resources import PROTOCOL_NAMES
    value = raw.strip()
    if not value:
        return None
    if value not in PROTOCOL_NAMES and not (value.isdigit() and int(value) <= 255):
        raise ValueError(f"{value!r} is not one of {', '.join(PROTOCOL_NAMES)} or 0-255")
    return value


_port.__name__ = _protocol.__name__ = "string"
_ACTION = choice("allow", "deny", "reject")


def _direction(name: str, action: str) -> tuple[Opt, ...]:
    return (
        Opt(f"{name}_action", _ACTION, action, f"Action of the {name} rules."),
        Opt(f"{name}_source_ipv4_address", _address(4), None,
            f"IPv4 source address or CIDR of the {name} IPv4 rule."),
        Opt(f"{name}_source_ipv6_address", _address(6), None,
            f"IPv6 source address or CIDR of the {name} IPv6 rule."),
        Opt(f"{name}_source_port", _port, None,
            f"Source port or range (`N:M`) of the {name} rules (needs `protocol` tcp or udp)."),
        Opt(f"{name}_destination_ipv4_address", _address(4), None,
            f"IPv4 destination address or CIDR of the {name} IPv4 rule."),
        Opt(f"{name}_destination_ipv6_address", _address(6), None,
            f"IPv6 destination address or CIDR of the {name} IPv6 rule."),
        Opt(f"{name}_destination_port", _port, None,
            f"Destination port or range of the {name} rules (needs `protocol` tcp or udp)."),
    )


DEFAULT_FWG_RULES = Section("default_fwg_rules", (
    *_direction("ingress", "deny"),
    *_direction("egress", "allow"),
    Opt("shared", to_bool, False, "Whether the default group's rules are shared."),
    Opt("protocol", _protocol, None, "Protocol of the default group's rules (unset: any)."),
    Opt("enabled", to_bool, True, "Whether the default group's rules are enabled."),
), help="The rules of each project's `default` firewall group (neutron-fwaas's).")


def check(cfg):
    """The checks upstream's rule validation would make when the default
    group is created, made at start-up instead: ports need tcp or udp."""
    from neutrino.config import ConfigError
    rules = cfg.default_fwg_rules
    for name in ("ingress_source_port", "ingress_destination_port", "egress_source_port",
                 "egress_destination_port"):
        if getattr(rules, name) is not None and rules.protocol not in ("tcp", "udp"):
            raise ConfigError(f"[default_fwg_rules] {name} needs protocol = tcp or udp")
    return cfg


def default_rules(rules) -> list[dict]:
    """The four rules of a default group from [default_fwg_rules], in
    upstream's order: ingress IPv4, ingress IPv6, egress IPv4, egress IPv6."""
    out = []
    for direction in ("ingress", "egress"):
        for version in (4, 6):
            out.append({
                "key": f"{direction[:2]}{version}",
                "name": f"default {direction} ipv{version}",
                "description": f"default {direction} rule for IPv{version}",
                "ip_version": version, "protocol": rules.protocol,
                "action": getattr(rules, f"{direction}_action"),
                "enabled": rules.enabled, "shared": rules.shared,
                "source_ip_address": getattr(rules, f"{direction}_source_ipv{version}_address"),
                "destination_ip_address": getattr(
                    rules, f"{direction}_destination_ipv{version}_address"),
                "source_port": getattr(rules, f"{direction}_source_port"),
                "destination_port": getattr(rules, f"{direction}_destination_port")})
    return out

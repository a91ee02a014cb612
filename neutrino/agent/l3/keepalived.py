"""keepalived's configuration for one HA router: a pure function of the
router (neutrino.agent.l3.model.Router with its HA fields), no I/O.

As upstream (neutron/agent/linux/keepalived.py, written anew): every
instance starts BACKUP with the same priority and `nopreempt`, so a returning
host never takes the router back (no second outage); the only address in
`virtual_ipaddress` is the primary VIP 169.254.0.<vrid>/24 on the ha- device
(VRRP advertisements carry few addresses), the router's real addresses are
`virtual_ipaddress_excluded`, and the default and extra routes are
`virtual_routes`, so only the master carries them. keepalived sends the
gratuitous ARPs on takeover. A `notify` script writes the new state into the
router's directory, where the L3 agent reads it.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

PRIMARY_VIP_RANGE = "169.254.0.0/24"
PRIORITY = 50
GARP_MASTER_REPEAT = 5
GARP_MASTER_DELAY = 60      # seconds: a second round of GARPs after takeover
STATES = {"MASTER": "active", "BACKUP": "standby", "FAULT": "fault", "STOP": "standby"}


@dataclass(frozen=True)
class VrrpOptions:
    advert_int: float = 2
    auth_type: str = "PASS"
    auth_password: str = ""


@dataclass(frozen=True)
class HaInstance:
    """What keepalived must do for one router: interface, VRID, VIPs, routes."""
    router_id: str
    vr_id: int
    interface: str                              # the ha- device
    vips: tuple[tuple[str, str], ...]           # (cidr, device), excluded from adverts
    routes: tuple[tuple[str, str, str | None], ...]   # (destination, via, device or None)


def primary_vip(vr_id: int) -> str:
    net = ipaddress.ip_network(PRIMARY_VIP_RANGE)
    return f"{net[vr_id]}/{net.prefixlen}"


def instance_name(vr_id: int) -> str:
    return f"VR_{vr_id}"


def _advert(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.2f}".rstrip("0")


def render(inst: HaInstance, opts: VrrpOptions, notify_script: str) -> str:
    out = ["global_defs {",
           "    router_id neutrino",
           "    script_user root",
           f"    vrrp_garp_master_repeat {GARP_MASTER_REPEAT}",
           f"    vrrp_garp_master_delay {GARP_MASTER_DELAY}"]
    if opts.advert_int != int(opts.advert_int):
        out.append("    vrrp_version 3")      # sub-second adverts need VRRPv3
    out += ["}", f"vrrp_instance {instance_name(inst.vr_id)} {{",
            "    state BACKUP",
            f"    interface {inst.interface}",
            f"    virtual_router_id {inst.vr_id}",
            f"    priority {PRIORITY}",
            "    nopreempt",
            f"    advert_int {_advert(opts.advert_int)}"]
    if opts.auth_password and opts.advert_int == int(opts.advert_int):
        # (VRRPv3 has no authentication)
        out += ["    authentication {", f"        auth_type {opts.auth_type}",
                f"        auth_pass {opts.auth_password[:8]}", "    }"]
    out += ["    track_interface {", f"        {inst.interface}", "    }",
            "    virtual_ipaddress {", f"        {primary_vip(inst.vr_id)} dev {inst.interface}",
            "    }"]
    if inst.vips:
        out.append("    virtual_ipaddress_excluded {")
        out += [f"        {cidr} dev {dev}" for cidr, dev in inst.vips]
        out.append("    }")
    if inst.routes:
        out.append("    virtual_routes {")
        out += [f"        {dest} via {via}" + (f" dev {dev}" if dev else "")
                for dest, via, dev in inst.routes]
        out.append("    }")
    out += [f'    notify "{notify_script}"', "}", ""]
    return "\n".join(out)


def notify_script(state_file: str) -> str:
    """keepalived runs it as `<script> INSTANCE <name> <STATE> <priority>`."""
    return ("#!/bin/sh\n"
            f'printf "%s\\n" "$3" > "{state_file}.new" && mv -f "{state_file}.new" '
            f'"{state_file}"\n')


def ha_state(raw: str | None) -> str | None:
    """keepalived's state word -> the API's ha_state (None: unknown yet)."""
    return STATES.get((raw or "").strip().upper())

"""Wire values of load balancers (the get_loadbalancers contract) for the
LB agent's unit tests."""
from __future__ import annotations

import copy

PORT_ID = "5f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"


def rule(rid, type_="PATH", compare="STARTS_WITH", value="/api", key=None, invert=False,
         admin=True):
    return {"id": rid, "type": type_, "compare_type": compare, "key": key, "value": value,
            "invert": invert, "admin_state_up": admin}


def policy(pid, position, action, rules, **kw):
    base = {"id": pid, "position": position, "action": action, "redirect_pool_id": None,
            "redirect_url": None, "redirect_prefix": None, "redirect_http_code": None,
            "admin_state_up": True, "rules": rules}
    base.update(kw)
    return base


def member(mid, address="10.0.0.11", port=80, **kw):
    base = {"id": mid, "address": address, "protocol_port": port, "weight": 1,
            "backup": False, "admin_state_up": True, "monitor_address": None,
            "monitor_port": None, "subnet_id": "sub"}
    base.update(kw)
    return base


def monitor(type_="HTTP", **kw):
    base = {"id": "hm1", "type": type_, "delay": 5, "timeout": 3, "max_retries": 2,
            "max_retries_down": 4, "http_method": "GET", "url_path": "/healthz",
            "expected_codes": "200", "admin_state_up": True}
    base.update(kw)
    return base


def pool(pid="pool1", algorithm="ROUND_ROBIN", protocol="HTTP", members=None,
         healthmonitor=None, session_persistence=None, **kw):
    base = {"id": pid, "protocol": protocol, "lb_algorithm": algorithm, "admin_state_up": True,
            "session_persistence": session_persistence, "healthmonitor": healthmonitor,
            "members": members if members is not None else [member("m1"),
                                                            member("m2", "10.0.0.12")]}
    base.update(kw)
    return base


def listener(lid="lis1", protocol="HTTP", port=80, default_pool_id="pool1", **kw):
    base = {"id": lid, "protocol": protocol, "protocol_port": port, "admin_state_up": True,
            "connection_limit": -1, "default_pool_id": default_pool_id,
            "timeout_client_data": 50000, "timeout_member_connect": 5000,
            "timeout_member_data": 50000, "timeout_tcp_inspect": 0, "insert_headers": {},
            "allowed_cidrs": [], "l7policies": []}
    base.update(kw)
    return base


def loadbalancer(listeners=None, pools=None, **kw):
    base = {"id": "lb1", "admin_state_up": True, "provisioning_status": "PENDING_CREATE",
            "deleted": False, "epoch": 0, "version": "v1",
            "vip": {"address": "10.0.0.5", "port_id": PORT_ID, "mac_address": "fa:16:3e:11:22:33",
                    "subnet_id": "sub", "network_id": "net", "cidr": "10.0.0.0/24",
                    "gateway_ip": "10.0.0.1", "prefixlen": 24, "mtu": 1450, "ip_version": 4},
            "listeners": listeners if listeners is not None else [listener()],
            "pools": pools if pools is not None else [pool()]}
    base.update(kw)
    return copy.deepcopy(base)

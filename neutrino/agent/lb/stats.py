"""haproxy's statistics (`show stat` on the stats socket) -> Octavia's
operating statuses and listener statistics. Parsing and mapping are pure;
`query` is the one socket read.

Mapping (Octavia's health manager, simplified to what one haproxy shows):
  member  admin down -> OFFLINE; no health monitor -> NO_MONITOR;
          UP / UP going down / DRAIN / NOLB -> ONLINE; DOWN (going up too) -> ERROR;
          MAINT -> OFFLINE; not (yet) in the statistics -> NO_MONITOR or OFFLINE
  pool    no listener uses it (default pool, L7 redirect) -> OFFLINE, its members
          OFFLINE (NO_MONITOR without a monitor); admin down -> OFFLINE;
          every enabled monitored member ERROR -> ERROR;
          some -> DEGRADED; else ONLINE (no members: ONLINE)
  listener admin down -> OFFLINE; frontend OPEN -> ONLINE (FULL: DEGRADED), its
          default pool ERROR/DEGRADED -> DEGRADED; missing -> ERROR
  load balancer admin down -> OFFLINE; haproxy not running -> ERROR; any
          listener or pool not ONLINE/OFFLINE -> DEGRADED; else ONLINE
"""
from __future__ import annotations

import csv
import io
import socket
from pathlib import Path


def query(sock_path: str | Path, command: str = "show stat", timeout: float = 2.0) -> str:
    """One command on haproxy's stats socket (a unix socket: reachable from
    any namespace)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(sock_path))
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def parse_stat(text: str) -> dict[tuple[str, str], dict[str, str]]:
    """`show stat` CSV -> {(pxname, svname): row}."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        return {}
    header = lines[0][2:]
    reader = csv.DictReader(io.StringIO("\n".join([header] + [ln for ln in lines[1:] if ln])))
    return {(row["pxname"], row["svname"]): row for row in reader
            if row.get("pxname") and row.get("svname")}


def member_status(member: dict, monitored: bool, row: dict | None) -> str:
    if not member.get("admin_state_up", True):
        return "OFFLINE"
    if not monitored:
        return "NO_MONITOR"
    if row is None:
        return "NO_MONITOR"
    status = (row.get("status") or "").upper()
    if status.startswith("MAINT"):
        return "OFFLINE"
    if status.startswith("DOWN"):
        return "ERROR"
    if status.startswith(("UP", "DRAIN", "NOLB")):
        return "ONLINE"
    return "NO_MONITOR"      # "no check", or the first check not done yet


def used_pools(lb: dict) -> set[str]:
    """Pools a listener sends traffic to: its default pool, or the target
    of one of its L7 REDIRECT_TO_POOL policies."""
    used = set()
    for listener in lb.get("listeners") or ():
        if listener.get("default_pool_id"):
            used.add(listener["default_pool_id"])
        for policy in listener.get("l7policies") or ():
            if policy.get("action") == "REDIRECT_TO_POOL" and policy.get("redirect_pool_id"):
                used.add(policy["redirect_pool_id"])
    return used


def _int(row: dict | None, key: str) -> int:
    try:
        return int((row or {}).get(key) or 0)
    except ValueError:
        return 0


def statuses(lb: dict, rows: dict[tuple[str, str], dict[str, str]] | None) -> dict:
    """The operating statuses and statistics of `lb` (a wire value) from
    parsed `show stat` rows (None: haproxy is not running)."""
    running = rows is not None
    rows = rows or {}
    members: dict[str, str] = {}
    pools: dict[str, str] = {}
    used = used_pools(lb)
    for pool in lb.get("pools") or ():
        hm = pool.get("healthmonitor") or None
        monitored = bool(hm) and hm.get("admin_state_up", True)
        states = []
        for member in pool.get("members") or ():
            if pool["id"] in used:
                state = member_status(member, monitored, rows.get((pool["id"], member["id"])))
            else:
                state = "OFFLINE" if monitored or not member.get("admin_state_up", True) \
                    else "NO_MONITOR"
            members[member["id"]] = state
            if member.get("admin_state_up", True):
                states.append(state)
        if pool["id"] not in used:      # no traffic can reach it (as Octavia: OFFLINE)
            pools[pool["id"]] = "OFFLINE"
        elif not pool.get("admin_state_up", True):
            pools[pool["id"]] = "OFFLINE"
        elif not running:
            pools[pool["id"]] = "ERROR" if states else "ONLINE"
        elif states and all(s == "ERROR" for s in states):
            pools[pool["id"]] = "ERROR"
        elif any(s == "ERROR" for s in states):
            pools[pool["id"]] = "DEGRADED"
        else:
            pools[pool["id"]] = "ONLINE"
    listeners: dict[str, str] = {}
    stats: dict[str, dict[str, int]] = {}
    lb_up = lb.get("admin_state_up", True)
    for listener in lb.get("listeners") or ():
        row = rows.get((listener["id"], "FRONTEND"))
        stats[listener["id"]] = {"bytes_in": _int(row, "bin"), "bytes_out": _int(row, "bout"),
                                 "active_connections": _int(row, "scur"),
                                 "total_connections": _int(row, "stot"),
                                 "request_errors": _int(row, "ereq")}
        if not (lb_up and listener.get("admin_state_up", True)):
            listeners[listener["id"]] = "OFFLINE"
            continue
        if row is None and running:
            # not (yet) in haproxy's stats, e.g. read across a reload: Octavia
            # reports a listener missing from the amphora's health message OFFLINE
            listeners[listener["id"]] = "OFFLINE"
            continue
        status = (row or {}).get("status", "").upper()
        if row is None or status not in ("OPEN", "FULL"):
            listeners[listener["id"]] = "ERROR"
            continue
        state = "DEGRADED" if status == "FULL" else "ONLINE"
        if pools.get(listener.get("default_pool_id") or "") in ("ERROR", "DEGRADED"):
            state = "DEGRADED"
        listeners[listener["id"]] = state
    if not lb_up:
        overall = "OFFLINE"
    elif not running:
        overall = "ERROR"
    elif any(s not in ("ONLINE", "OFFLINE") for s in list(listeners.values())
             + list(pools.values())):
        overall = "DEGRADED"
    else:
        overall = "ONLINE"
    return {"operating_status": overall, "listeners": listeners, "pools": pools,
            "members": members, "stats": {"listeners": stats}}

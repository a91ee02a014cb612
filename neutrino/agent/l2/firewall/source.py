"""What both firewall drivers' reconcilers (firewall/agent.py: iptables,
firewall/nft/agent.py: nftables) share: their view of the server's state
for the host (fetched when marked dirty, checked by checks.py before
anything is rendered, restricted to the ports bound here), the ports
isolated for bad data, each logged once, and the flows of ports that
left."""
from __future__ import annotations

import logging
import threading

from dataclasses import replace

from neutrino.agent.l2.firewall import checks
from neutrino.agent.l2.firewall.model import FAMILIES, FwDesired, remote_groups
from neutrino.rpc.bus import Transport
from neutrino.rpc.client import server_target

LOG = logging.getLogger("neutrino.agent.l2.firewall.agent")    # where operators look


def fetch_state(transport: Transport, host: str, prefix: str,
                timeout: float) -> tuple[FwDesired, dict[str, str]]:
    """(the host's desired firewall, {port id: why it is isolated})."""
    state = transport.call(server_target(prefix), "get_firewall_state", {"host": host},
                           timeout=timeout)
    clean, bad, dropped = checks.check(state)
    for note in dropped:
        LOG.error("firewall: ignoring bad data from the server: %s", note)
    return FwDesired.from_wire(clean), bad


def fetch_ports(transport: Transport, host: str, prefix: str, ports: list[str],
                timeout: float) -> FwDesired | None:
    """`ports` of the host (those not bound here absent), their groups'
    rules and the members those name; None when the answer has anything
    the checks drop or isolate (the whole fetch judges and logs it), or is
    an older server's whole state."""
    state = transport.call(server_target(prefix), "get_firewall_state",
                           {"host": host, "ports": ports}, timeout=timeout) or {}
    if state.get("asked") != ports:
        return None
    clean, bad, dropped = checks.check(state)
    if bad or dropped:
        return None
    return FwDesired.from_wire(clean)


def fetch_group_rules(transport: Transport, prefix: str, groups: list[str],
                      timeout: float) -> FwDesired | None:
    """The rules of `groups`, the members of the remote groups they name and
    which are stateless, as a port-less FwDesired; None when the answer has
    anything the checks drop (which ports a bad rule isolates is the whole
    fetch's call, and it logs what it drops)."""
    answer = transport.call(server_target(prefix), "get_group_rules", {"groups": groups},
                            timeout=timeout) or {}
    clean, _, dropped = checks.check({"security_groups": answer.get("security_groups"),
                                      "members": answer.get("members")})
    if dropped or set(clean["security_groups"]) != set(groups):
        return None
    return FwDesired.from_wire({**clean, "stateless": answer.get("stateless") or ()})


def fetch_members(transport: Transport, prefix: str, groups: list[str],
                  timeout: float) -> dict[str, tuple[str, ...]]:
    """The current members of remote groups, checked as in a whole fetch."""
    answer = transport.call(server_target(prefix), "get_group_members", {"groups": groups},
                            timeout=timeout)
    clean, _, dropped = checks.check({"members": (answer or {}).get("members")})
    for note in dropped:
        LOG.error("firewall: ignoring bad data from the server: %s", note)
    return {gid: tuple(ips) for gid, ips in clean["members"].items() if gid in groups}


class BadPorts:
    """Ports isolated because their data is bad: each logged at ERROR once
    when it turns bad (or changes reason), at INFO once when it is fixed."""

    def __init__(self, host: str):
        self.host = host
        self.logged: dict[str, str] = {}

    def note(self, bad: dict[str, str]) -> dict[str, str]:
        for pid, why in sorted(bad.items()):
            if self.logged.get(pid) != why:
                LOG.error("firewall: port %s on host %s is isolated (status ERROR): %s",
                          pid, self.host, why)
        for pid in sorted(set(self.logged) - set(bad)):
            LOG.info("firewall: port %s on host %s is filtered normally again", pid, self.host)
        self.logged = dict(bad)
        return dict(bad)


class ServerView:
    """The desired firewall of one host as the server last said, refetched
    whole on a full resync or a network change. Each other change fetches
    only what it touched: a port deleted here is dropped without asking
    (its chains go); a port created or changed here is fetched alone, with
    its groups' rules; the remote groups a port left or joined get their
    members refetched alone; a group whose rules changed gets its rules
    (with the members of the remote groups they name) refetched alone."""

    def __init__(self, transport: Transport, host: str, prefix: str, timeout: float):
        self.transport, self.host, self.prefix, self.timeout = transport, host, prefix, timeout
        self.desired: FwDesired | None = None
        self.dirty = True
        # groups whose members changed: added by the thread that hears the
        # notices while the reconciler takes them, hence the lock
        self.members_due: set[str] = set()
        self.rules_due: set[str] = set()       # groups whose rules changed
        self._due_lock = threading.Lock()
        self.ports: frozenset[str] = frozenset()
        self.checked_bad: dict[str, str] = {}      # port -> why, from the last fetch
        self.log = BadPorts(host)
        # calls made (tests, benchmarks): whole states, members, rules, ports alone
        self.fetches = {"state": 0, "members": 0, "rules": 0, "ports": 0}

    def mark_dirty(self) -> None:
        self.dirty = True

    def members_changed(self, groups) -> None:
        """Ports joined or left `groups` (a membership notice)."""
        with self._due_lock:
            self.members_due.update(str(g) for g in groups)

    def rules_changed(self, groups) -> None:
        """The rules of `groups` changed (a security group notice)."""
        with self._due_lock:
            self.rules_due.update(str(g) for g in groups)

    def _take_rules_due(self) -> set[str]:
        with self._due_lock:
            due, self.rules_due = self.rules_due, set()
        return due

    def _take_due(self) -> set[str]:
        """The groups owed a members refetch, as one step: a notice heard
        between reading them and clearing them was lost (its member's
        address stayed in the set until the next full fetch)."""
        with self._due_lock:
            due, self.members_due = self.members_due, set()
        return due

    def refresh(self, port_ids, refetch: bool, full: bool, applied: bool,
                gone=frozenset(), ports=frozenset()) -> tuple[FwDesired, dict[str, str]] | None:
        """(the desired state of `port_ids`, those of them isolated and why);
        None when nothing of ours can have changed since the last apply
        (`applied`: there was one): a kernel poll. `refetch`: the whole
        state; `gone`: ports notified deleted, dropped without a fetch;
        `ports`: ports notified changed here, fetched alone."""
        port_ids = frozenset(port_ids)
        fetch = refetch or self.dirty or self.desired is None
        changed = False
        if not fetch:
            rules = self._refresh_rules()
            fetched = self._refresh_ports(ports) if rules is not None else None
            fetch = fetched is None
            if not fetch:
                changed = rules | fetched | self._forget(gone) | self._refresh_members()
        if not (fetch or full or changed) and applied and port_ids == self.ports:
            return None
        self.ports = port_ids
        if fetch:
            self.dirty = False
            self._take_due()          # the whole fetch below brings every member
            self._take_rules_due()    # and every rule
            try:
                self.desired, self.checked_bad = fetch_state(self.transport, self.host,
                                                             self.prefix, self.timeout)
                self.fetches["state"] += 1
            except Exception:
                self.dirty = True
                raise
        desired = self.desired.restrict(port_ids)
        return desired, {p: why for p, why in self.checked_bad.items() if p in desired.ports}

    def _refresh_rules(self) -> bool | None:
        """The due groups that ports here are in: their rules, and the
        members of the remote groups those name, in one call. None: only a
        whole fetch will do (a port here is isolated for bad data: what it
        is in, only the whole state says; or the call failed or brought
        something the checks drop)."""
        due = self._take_rules_due()
        if due and self.checked_bad:      # (an isolated port shows no group)
            return None
        held = {g for p in self.desired.ports.values() for g in p.security_groups}
        wanted = sorted(due & held)
        if not wanted:
            return False
        try:
            fresh = fetch_group_rules(self.transport, self.prefix, wanted, self.timeout)
        except Exception as exc:  # noqa: BLE001 - the whole fetch instead (an older server)
            LOG.debug("firewall: rules of %d group(s) not fetched alone (%s)", len(wanted), exc)
            return None
        if fresh is None:
            return None
        self.fetches["rules"] += 1
        self.desired = self.desired.updated(fresh, self.desired.ports)
        return True

    def _refresh_ports(self, ports) -> bool | None:
        """`ports` (changed here: created, updated, bound or moved away)
        with their groups' rules and the members those name, in one call.
        The groups they were and are in owe a members refetch where rules
        here name them as remote and the answer did not bring them: the
        server leaves a port's own hosts out of membership notices. None:
        only a whole fetch will do (a port here is isolated for bad data,
        the answer has anything the checks drop or isolate, an older
        server)."""
        wanted = sorted(set(ports))
        if not wanted:
            return False
        if self.checked_bad:
            return None
        try:
            fresh = fetch_ports(self.transport, self.host, self.prefix, wanted, self.timeout)
        except Exception as exc:  # noqa: BLE001 - the whole fetch says what is wrong
            LOG.debug("firewall: %d port(s) not fetched alone (%s)", len(wanted), exc)
            return None
        if fresh is None:
            return None
        self.fetches["ports"] += 1
        held = self.desired
        touched = {g for pid in wanted if pid in held.ports
                   for g in held.ports[pid].security_groups}
        touched |= {g for p in fresh.ports.values() for g in p.security_groups}
        kept = {pid: p for pid, p in held.ports.items() if pid not in set(wanted)}
        self.desired = held.updated(fresh, {**kept, **fresh.ports})
        self.members_changed((touched & remote_groups(self.desired.rules)) - set(fresh.members))
        return True

    def _forget(self, gone) -> bool:
        """Drop deleted ports; the groups they were in owe a members refetch."""
        held = self.desired.ports
        left = [held[p] for p in gone if p in held]
        if not left:
            return False
        self.desired = replace(self.desired, ports={k: v for k, v in held.items()
                                                    if k not in gone})
        self.members_changed(g for port in left for g in port.security_groups)
        return True

    def _refresh_members(self) -> bool:
        """Members of the due groups that our rules name (a remote group we
        hold): one call for all."""
        wanted = sorted(self._take_due() & set(self.desired.members))
        if not wanted:
            return False
        try:
            fresh = fetch_members(self.transport, self.prefix, wanted, self.timeout)
            self.fetches["members"] += 1
        except Exception:
            self.dirty = True         # the next cycle refetches everything
            raise
        self.desired = replace(self.desired, members={**self.desired.members, **fresh})
        return True


def removed_flows(flows_of: dict[str, list[tuple[int, int, str]]], desired: FwDesired,
                  zones: dict[str, int]):
    """(the filtered ports' (version, zone, address) as of now, the conntrack
    filters for every flow of the addresses of ports filtered before and gone
    now: deleted, unbound, port security off)."""
    now = {p.id: [(v, zones[p.network_id], ip) for v in FAMILIES for ip in p.ips(v)]
           for p in desired.ports.values() if p.filtered and p.network_id in zones}
    gone = [f for pid in set(flows_of) - set(now) for f in flows_of[pid]]
    return now, ([(v, zone, ip, None) for v, zone, ip in gone]
                 + [(v, zone, None, ip) for v, zone, ip in gone])


def forget_removed(flows_of: dict[str, list[tuple[int, int, str]]], desired: FwDesired,
                   zones: dict[str, int], cleaner) -> dict[str, list[tuple[int, int, str]]]:
    """The removed ports' flows go to the conntrack cleaner (their filters
    are gone already). Returns the filtered ports' flows as of now."""
    now, filters = removed_flows(flows_of, desired, zones)
    if filters:
        cleaner.submit(filters)
    return now


class Reconciler:
    """What both drivers' reconcilers do alike around their own converge():
    they hold `server` (a ServerView), `kernel` (with `close()`,
    `ensure_bridge_netfilter()`), `conf` (`enabled`), `last` (their last
    applied rendering) and `bad_ports`, which the L2 agent reads."""

    server: ServerView
    bad_ports: dict[str, str]
    _bridge_nf = False

    def _hold(self, conf, transport: Transport, host: str, prefix: str, timeout: float,
              kernel) -> None:
        """The fields every reconciler has (its __init__ adds its own)."""
        self.conf, self.kernel = conf, kernel
        self.transport, self.host, self.prefix, self.timeout = transport, host, prefix, timeout
        self.server = ServerView(transport, host, prefix, timeout)
        self.stats: dict[str, float] = {}
        self.bad_ports = {}       # isolated for bad data: the L2 agent keeps their taps off
        self._flows_of: dict[str, list[tuple[int, int, str]]] = {}   # port -> its flows

    def mark_dirty(self) -> None:
        self.server.mark_dirty()

    def close(self) -> None:
        self.kernel.close()

    def _note_bad(self, bad: dict[str, str]) -> None:
        """Log each port that turns bad (or changes reason) once, at ERROR."""
        self.bad_ports = self.server.log.note(bad)

    def members_changed(self, groups) -> None:
        self.server.members_changed(groups)

    def rules_changed(self, groups) -> None:
        self.server.rules_changed(groups)

    def _refresh(self, port_ids, refetch: bool, full: bool, gone=frozenset(),
                 ports=frozenset()):
        """ServerView.refresh(), and br_netfilter on before the first apply."""
        view = self.server.refresh(port_ids, refetch, full, self.last is not None, gone, ports)
        if view is not None and self.conf.enabled and not self._bridge_nf:
            self.kernel.ensure_bridge_netfilter()
            self._bridge_nf = True
        return view

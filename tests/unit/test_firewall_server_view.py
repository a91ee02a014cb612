"""The firewall's view of the server (firewall/source.py ServerView): a
membership notice is heard on the transport's thread while the reconciler
takes the groups owed a refetch; none may be lost between the two (its
member's address would stay in the host's sets until the next full fetch).
The server is a fake answering the two calls (pure logic)."""
from __future__ import annotations

import sys
import threading

from neutrino.agent.l2.firewall.source import ServerView

GROUPS = [f"{n:08x}-0000-4000-8000-000000000000" for n in range(3000)]


class Server:
    """get_firewall_state: no port, every group a remote group of ours;
    get_group_members: records which groups were asked for."""

    def __init__(self):
        self.asked: set[str] = set()

    def call(self, target, method, payload, timeout=None):
        if method == "get_firewall_state":
            return {"ports": [], "security_groups": {}, "members": {g: [] for g in GROUPS}}
        assert method == "get_group_members"
        self.asked.update(payload["groups"])
        return {"members": {g: [] for g in payload["groups"]}}


def test_no_membership_notice_is_lost_while_the_reconciler_takes_them():
    server = Server()
    view = ServerView(server, "h1", "neutrino", timeout=5)
    assert view.refresh(set(), refetch=False, full=False, applied=False) is not None
    done = threading.Event()

    def notices():           # the transport's thread: one notice per group
        for g in GROUPS:
            view.members_changed([g])
        done.set()

    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)      # thread switches everywhere: the window shows
    try:
        hearing = threading.Thread(target=notices)
        hearing.start()
        while not done.is_set():     # the reconciler's cycles meanwhile
            view.refresh(set(), refetch=False, full=False, applied=True)
        hearing.join()
    finally:
        sys.setswitchinterval(before)
    view.refresh(set(), refetch=False, full=False, applied=True)   # the cycle after
    assert sorted(set(GROUPS) - server.asked) == []


WEB, DB, OTHER, REMOTE = "web", "db", "other", "remote"
RULE = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22,
        "port_range_max": 22, "remote_ip_prefix": None, "remote_group_id": None}


class Groups:
    """A host with two ports (in web, in db); get_group_rules answers from
    `rules`, or fails as an older server would."""

    def __init__(self):
        self.bound = {"p1": (WEB, "10.0.0.1"), "p2": (DB, "10.0.0.2")}   # port -> group, address
        self.rules = {WEB: [RULE], DB: [], OTHER: []}
        self.members = {REMOTE: ["10.0.0.7"]}
        self.stateless: list[str] = []
        self.calls: list[tuple[str, list[str]]] = []
        self.older = False

    def call(self, target, method, payload, timeout=None):
        self.calls.append((method, payload.get("groups")))
        named = lambda gs: {r["remote_group_id"] for g in gs for r in self.rules[g]  # noqa: E731
                            if r["remote_group_id"]}
        if method == "get_firewall_state":
            asked = payload.get("ports")
            ids = sorted(self.bound) if asked is None or self.older else \
                [pid for pid in asked if pid in self.bound]
            ports = [{"id": pid, "network_id": "n", "mac_address": "fa:16:3e:00:00:01",
                      "device_owner": "compute:x", "port_security_enabled": True,
                      "fixed_ips": [self.bound[pid][1]], "allowed_address_pairs": [],
                      "security_groups": [self.bound[pid][0]]} for pid in ids]
            groups = sorted({self.bound[pid][0] for pid in ids})
            state = {"ports": ports, "security_groups": {g: self.rules[g] for g in groups},
                     "members": {g: self.members[g] for g in named(groups)},
                     "stateless": [g for g in self.stateless if g in groups]}
            return state if asked is None or self.older else {**state, "asked": asked}
        if method == "get_group_members":
            return {"members": {g: self.members.get(g, []) for g in payload["groups"]}}
        if method == "get_group_rules":
            if self.older:
                raise RuntimeError("unknown method 'get_group_rules'")
            groups = payload["groups"]
            return {"security_groups": {g: self.rules[g] for g in groups},
                    "members": {g: self.members[g] for g in named(groups)},
                    "stateless": [g for g in self.stateless if g in groups]}
        raise AssertionError(method)


def _view(server) -> ServerView:
    view = ServerView(server, "h1", "neutrino", timeout=5)
    assert view.refresh({"p1", "p2"}, refetch=False, full=False, applied=False) is not None
    server.calls.clear()
    return view


def test_a_rule_change_refetches_that_groups_rules_alone():
    """A rule naming a remote group added to web: one call for web's rules
    (they come with the remote group's members); the host's whole state is
    not fetched again. Then web turns stateless, and its remote rule goes."""
    server = Groups()
    view = _view(server)
    server.rules[WEB] = [RULE, {**RULE, "port_range_min": 80, "port_range_max": 80,
                                "remote_group_id": REMOTE}]
    view.rules_changed([WEB])
    desired, bad = view.refresh({"p1", "p2"}, refetch=False, full=False, applied=True)
    assert server.calls == [("get_group_rules", [WEB])] and bad == {}
    assert [r.port_range_min for r in desired.rules[WEB]] == [22, 80]
    assert desired.members == {REMOTE: ("10.0.0.7",)}
    assert set(desired.ports) == {"p1", "p2"} and desired.rules[DB] == ()
    server.rules[WEB], server.stateless = [RULE], [WEB]
    view.rules_changed([WEB])
    desired, _ = view.refresh({"p1", "p2"}, refetch=False, full=False, applied=True)
    assert desired.members == {} and desired.stateless == {WEB}
    assert view.fetches == {"state": 1, "members": 0, "rules": 2, "ports": 0}
    # a group no port here is in: nothing to ask, nothing changed
    server.calls.clear()
    view.rules_changed([OTHER])
    assert view.refresh({"p1", "p2"}, refetch=False, full=False, applied=True) is None
    assert server.calls == []


def test_a_rule_change_refetches_the_whole_state_when_it_cannot_be_done_alone():
    """The whole state instead of the group's rules: when the new rules
    hold one the checks refuse (which ports it isolates is the whole
    check's call), when a port here is isolated already (only the whole
    state says what it is in), and when the server does not know the call
    (an older one)."""
    server = Groups()
    view = _view(server)
    server.rules[WEB] = [{**RULE, "remote_ip_prefix": "10.0.0.1/99"}]
    view.rules_changed([WEB])
    desired, bad = view.refresh({"p1", "p2"}, refetch=False, full=False, applied=True)
    assert [m for m, _ in server.calls] == ["get_group_rules", "get_firewall_state"]
    assert set(bad) == {"p1"} and desired.ports["p1"].isolated
    server.calls.clear()
    server.rules[WEB] = [RULE]       # fixed: p1 is isolated until the whole state says
    view.rules_changed([WEB])
    desired, bad = view.refresh({"p1", "p2"}, refetch=False, full=False, applied=True)
    assert [m for m, _ in server.calls] == ["get_firewall_state"] and bad == {}
    assert desired.ports["p1"].security_groups == (WEB,)
    server.calls.clear()
    server.older = True
    server.rules[DB] = [RULE]
    view.rules_changed([DB])
    desired, _ = view.refresh({"p1", "p2"}, refetch=False, full=False, applied=True)
    assert [m for m, _ in server.calls] == ["get_group_rules", "get_firewall_state"]
    assert len(desired.rules[DB]) == 1


def test_ports_changed_here_are_fetched_alone():
    """A port created here and one moved away: one call for those two
    (with the new port's group's rules and the members they name); the
    host's whole state is not fetched again. A port here changing address
    in a group that a rule here names as remote: that group's members are
    refetched too (the server tells a port's own hosts no membership
    change). An older server (no `asked` in its answer): the whole state."""
    server = Groups()
    server.rules[DB] = [{**RULE, "remote_group_id": WEB}]       # p2's group names web
    server.members[WEB] = ["10.0.0.1"]
    view = _view(server)
    server.bound["p3"] = (OTHER, "10.0.0.3")
    server.rules[OTHER] = [{**RULE, "remote_group_id": REMOTE}]
    del server.bound["p1"]
    server.members[WEB] = []
    desired, _ = view.refresh({"p2", "p3"}, refetch=False, full=False, applied=True,
                              ports={"p1", "p3"})
    assert server.calls == [("get_firewall_state", None), ("get_group_members", [WEB])]
    assert set(desired.ports) == {"p2", "p3"} and set(desired.rules) == {DB, OTHER}
    assert desired.members == {WEB: (), REMOTE: ("10.0.0.7",)}
    assert view.fetches == {"state": 1, "members": 1, "rules": 0, "ports": 1}
    server.calls.clear()
    server.bound["p3"] = (WEB, "10.0.0.33")          # p3 moves to web, which db names
    server.members[WEB] = ["10.0.0.33"]
    desired, _ = view.refresh({"p2", "p3"}, refetch=False, full=False, applied=True,
                              ports={"p3"})
    assert [m for m, _ in server.calls] == ["get_firewall_state", "get_group_members"]
    assert desired.members == {WEB: ("10.0.0.33",)} and set(desired.rules) == {DB, WEB}
    server.calls.clear()
    server.older = True
    desired, _ = view.refresh({"p2", "p3"}, refetch=False, full=False, applied=True,
                              ports={"p3"})
    assert [m for m, _ in server.calls] == ["get_firewall_state", "get_firewall_state"]
    assert view.fetches["state"] == 2 and set(desired.ports) == {"p2", "p3"}

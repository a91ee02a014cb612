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

"""The threads every agent runs, and how they stop together.

Each agent (L2, DHCP, L3) is a level-triggered reconciler: a worker thread
waits on one condition for something to be dirty, a heartbeat thread reports
the agent's state, and some agents add a watchdog. They share one stop event
and, where the agent manages another namespace, run inside it so that the
processes they start (dnsmasq, helpers) live there too. The agent keeps its
own trigger state (what is dirty); this holds only the mechanics."""
from __future__ import annotations

import logging
import random
import threading
import time
from typing import Callable

from neutrino.dataplane import netns as _netns
from neutrino.rpc.bus import Transport

LOG = logging.getLogger(__name__)
MAX_BACKOFF = 10.0
# A periodic full resync comes after 80-100 % of resync_interval, drawn anew
# each time: agents started together (a rack after a power cut, a fleet)
# would otherwise fetch their whole state from the server in the same second
# forever after. Never later than the interval, which is the promise.
RESYNC_JITTER = 0.2
# With a `check` (the DHCP agent's digests), the timer runs the check and
# every CHECKS_PER_FULL-th time a full pass still (what a check cannot see).
CHECKS_PER_FULL = 12


def next_full_resync(now: float, resync_interval: float) -> float:
    """When the next periodic full resync is due."""
    return now + resync_interval * (1.0 - RESYNC_JITTER * random.random())


class Triggers:
    """What wakes a reconciler: "fetch everything" (start, reconnect, an
    error, the resync timer) or the ids of things to fetch again."""

    def __init__(self, cond: threading.Condition):
        self.cond = cond
        self.full = True
        self.ids: set[str] = set()

    def mark(self, *ids: str) -> None:
        with self.cond:
            self.ids.update(ids)
            self.cond.notify()

    def request_full(self) -> None:
        with self.cond:
            self.full = True
            self.cond.notify()


class AgentThreads:
    def __init__(self, host: str, netns: str | None = None):
        """`netns`: the namespace the threads enter (None: stay where the
        process is)."""
        self.host = host
        self.netns = netns
        self.cond = threading.Condition()
        self.stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._triggers: list[Triggers] = []    # told to resync fully after a freeze
        self.freezes = 0

    def spawn(self, name: str, target: Callable[[], None]) -> None:
        def run() -> None:
            with _netns.in_netns(self.netns):
                target()
        thread = threading.Thread(target=run, name=f"{name}-{self.host}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def heartbeat(self, name: str, report: Callable[[], None], interval: float) -> None:
        """Call `report` every `interval` seconds; a failed report (the
        server not up yet, the broker away) is retried within a second."""
        def loop() -> None:
            last = time.monotonic()
            while not self.stopped.is_set():
                now = time.monotonic()
                if now - last > 2 * interval + 5:
                    self._thawed(now - last)
                last = now
                try:
                    report()
                    wait = interval
                except Exception as exc:  # noqa: BLE001 - retried shortly
                    LOG.warning("report_state failed: %s", exc)
                    wait = min(interval, 1.0)
                self.stopped.wait(wait)
        self.spawn(name, loop)

    def _thawed(self, gap: float) -> None:
        """The process did not run for `gap` seconds (SIGSTOP, a host
        frozen, a suspended VM): the server may have moved this host's
        routers and networks to other agents meanwhile, so every worker
        resyncs fully now (not at its next resync_interval)."""
        self.freezes += 1
        LOG.warning("agent on %s did not run for %.0f s: full resync", self.host, gap)
        for triggers in self._triggers:
            triggers.request_full()

    def reconcile(self, triggers: Triggers, sync: Callable[[bool, set[str]], object],
                  resync_interval: float, what: str,
                  check: Callable[[], set[str] | None] | None = None) -> None:
        """The worker loop (run it in a spawned thread): wait for a trigger
        or the resync timer, then `sync(full, ids)`. Any error makes the next
        pass a full one, after a backoff that doubles up to MAX_BACKOFF.
        `check`: what the timer runs instead of a full pass (all but every
        CHECKS_PER_FULL-th time): the ids to sync again, None for a full
        pass (e.g. the server cannot tell)."""
        self._triggers.append(triggers)
        next_full = next_full_resync(time.monotonic(), resync_interval)
        backoff = 0.0
        timers = 0
        while not self.stopped.is_set():
            timer = False
            with self.cond:
                while not (triggers.full or triggers.ids or self.stopped.is_set()):
                    now = time.monotonic()
                    if now >= next_full:
                        timer = True
                        break
                    self.cond.wait(next_full - now)
                if self.stopped.is_set():
                    return
            if timer:
                timers += 1
                stale = None
                if check is not None and timers % CHECKS_PER_FULL:
                    try:
                        stale = check()
                    except Exception as exc:  # noqa: BLE001 - then a full pass, as before
                        LOG.info("%s periodic check failed (%s): full resync", what, exc)
                with self.cond:
                    if stale is None:
                        triggers.full = True
                    else:
                        triggers.ids |= stale
                next_full = next_full_resync(time.monotonic(), resync_interval)
            with self.cond:
                full, triggers.full = triggers.full, False
                ids, triggers.ids = triggers.ids, set()
            if not full and not ids:
                continue           # a check that found everything as fetched
            try:
                sync(full, ids)
                backoff = 0.0
            except Exception as exc:  # noqa: BLE001 - any error: full resync, with backoff
                backoff = min(max(backoff * 2, 0.5), MAX_BACKOFF)
                LOG.warning("%s sync failed (%s: %s); full resync in %.1f s", what,
                            type(exc).__name__, exc, backoff,
                            exc_info=LOG.isEnabledFor(logging.DEBUG))
                with self.cond:
                    triggers.full = True
                self.stopped.wait(backoff)
            if full:
                next_full = next_full_resync(time.monotonic(), resync_interval)

    def stop(self, timeout: float = 10.0) -> None:
        """Set the stop event, wake the worker, join every thread."""
        self.stopped.set()
        with self.cond:
            self.cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)


def report_state(client, agent_state: Callable[[bool], dict], registered: threading.Event,
                 agent_type: str, host: str, log: logging.Logger = LOG) -> bool:
    """One heartbeat: a call (the server's answer awaited) until the server
    has registered the agent, casts after. True on the registering one: the
    server may have just scheduled work to the agent."""
    first = not registered.is_set()
    client.report_state(agent_state(first), wait=first)
    if first:
        registered.set()
        log.info("registered with the server as %s on %s", agent_type, host)
    return first


def leave_bus(transport: Transport, topic: str, owned: bool) -> None:
    """Stop listening on the agent's topic; close the connection if the
    agent made it (an all-in-one shares its in-process bus)."""
    try:
        transport.unsubscribe(topic)
    except Exception:  # noqa: BLE001 - shutting down
        pass
    if owned:
        transport.close()

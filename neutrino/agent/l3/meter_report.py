"""The metering report of an L3 agent: what upstream's metering agent
reports (its l3.meter notification: label_id, project_id, pkts, bytes,
time, first_update, last_update, host), per label, summed over the routers
of this host. Read at every heartbeat from the counters of each metered
router (neutrino.agent.l3.metering); logged (INFO, one JSON line per label
with traffic: "metering report {...}") and written, cumulative since the
agent started, to <state_path>/metering/report.json (admin-readable on the
network node; see docs/user-guide.md)."""
from __future__ import annotations

import json
import logging
import os
import threading
import time

from neutrino.agent.l3.metering import MeterTables
from neutrino.agent.l3.model import Router
from neutrino.agent.l3.router_ns import router_ns

LOG = logging.getLogger(__name__)


class MeterReport:
    def __init__(self, host: str, ns_prefix: str, state_path: str):
        self.host = host
        self.ns_prefix = ns_prefix
        self.path = os.path.join(state_path, "metering", "report.json")
        self._last: dict[tuple[str, str], tuple[int, int]] = {}   # (router, chain) -> count
        self.totals: dict[str, dict] = {}                          # label id -> payload
        self._lock = threading.Lock()

    def collect(self, routers: dict[str, Router]) -> dict[str, dict]:
        """Read the counters of every metered router; returns the labels'
        traffic since the previous call (and adds it to the totals)."""
        now = time.time()
        delta: dict[str, list[int]] = {}
        seen: set = set()
        with self._lock:
            for rid, router in sorted(routers.items()):
                if not router.metering_labels:
                    continue
                try:
                    counts = MeterTables(router_ns(self.ns_prefix, rid)).counters()
                except Exception as exc:  # noqa: BLE001 - a router going away
                    LOG.debug("metering: router %s not read: %s", rid, exc)
                    continue
                for label in router.metering_labels:
                    pkts, nbytes = counts.get(label.count_chain, (0, 0))
                    key = (rid, label.count_chain)
                    seen.add(key)
                    last_p, last_b = self._last.get(key, (0, 0))
                    if pkts < last_p or nbytes < last_b:     # chain rewritten: counted anew
                        last_p = last_b = 0
                    self._last[key] = (pkts, nbytes)
                    d = delta.setdefault(label.id, [0, 0, label.project_id])
                    d[0] += pkts - last_p
                    d[1] += nbytes - last_b
            for key in set(self._last) - seen:
                del self._last[key]
            out = {}
            for label_id, (pkts, nbytes, project) in delta.items():
                total = self.totals.setdefault(label_id, {
                    "label_id": label_id, "project_id": project, "tenant_id": project,
                    "host": self.host, "pkts": 0, "bytes": 0, "first_update": int(now),
                    "last_update": int(now), "time": 0})
                total["pkts"] += pkts
                total["bytes"] += nbytes
                total["time"] = int(now) - total["first_update"]
                total["last_update"] = int(now)
                out[label_id] = {**total, "pkts": pkts, "bytes": nbytes}
            self._write()
        for payload in out.values():
            if payload["pkts"]:
                LOG.info("metering report %s", json.dumps(payload, sort_keys=True))
        return out

    def _write(self) -> None:
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            tmp = self.path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump({"host": self.host, "labels": self.totals}, handle, indent=1,
                          sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            LOG.warning("metering report not written to %s: %s", self.path, exc)

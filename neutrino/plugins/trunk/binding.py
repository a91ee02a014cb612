"""Subports follow their parent port: bound to the parent's host (with the
Linux bridge binding of their own network) while the parent is bound, and
unbound when it is not or when they leave the trunk — what upstream's
trunk server RPC (update_subport_bindings) and remove_subports do."""
from __future__ import annotations

import weakref

from sqlalchemy import select, update

from neutrino.db import models
from neutrino.db import trunk_models as tm
from neutrino.plugins import listing
from neutrino.plugins.ml2.segments import segments_for

SUBPORT_OWNER = "trunk:subport"
P = models.ports

# The cores (their mechanism drivers) of this process, for the port update
# hook, which gets none (registered by the trunk feature's install()); a
# process may hold several (tests), each on its own connection pool.
_CORES: list = []


def register(core) -> None:
    _CORES.append(weakref.ref(core))


def core_for(conn):
    """The core whose database `conn` is a connection of."""
    alive = [c for c in (ref() for ref in _CORES) if c is not None]
    _CORES[:] = [weakref.ref(c) for c in alive]
    pool = getattr(conn.engine, "pool", None)
    for core in reversed(alive):
        if getattr(core.db.engine, "pool", None) is pool:
            return core
    return alive[-1] if alive else None


def set_bindings(conn, core, trunk_id: str, port_ids: list[str], host: str,
                 leaving: bool = False) -> list[dict]:
    """Bind `port_ids` to `host` ("" unbinds); `leaving`: they leave the
    trunk, so their trunk device_owner goes too. Returns what to notify:
    [{id, network_id, revision_number, hosts}]."""
    if not port_ids or core is None:
        return []
    rows = conn.execute(select(P).where(P.c.id.in_(port_ids))).mappings().all()
    segs = segments_for(conn, sorted({r["network_id"] for r in rows}))
    out = []
    for r in rows:
        values: dict = {}
        if r["binding_host"] != host:
            values.update(binding_host=host, status="DOWN")
            binding = core.mech.bind(conn, {"id": r["id"], "network_id": r["network_id"],
                                            "binding:vnic_type": r["binding_vnic_type"]},
                                     segs.get(r["network_id"]), host)
            values.update(binding.columns())
        if host and not r["device_owner"]:
            values.update(device_owner=SUBPORT_OWNER, device_id=trunk_id)
        if leaving and r["device_owner"] == SUBPORT_OWNER:
            values.update(device_owner="", device_id="")
        if not values:
            continue
        values.update(updated_at=listing.now(), revision_number=r["revision_number"] + 1)
        conn.execute(update(P).where(P.c.id == r["id"]).values(**values))
        out.append({"id": r["id"], "network_id": r["network_id"],
                    "revision_number": values["revision_number"],
                    "hosts": tuple(sorted({r["binding_host"], host} - {""}))})
    return out


def notify(core, changed: list[dict]) -> None:
    for c in changed:
        core.notifier.resource_changed("port", c["id"], c["revision_number"], hosts=c["hosts"],
                                       network_id=c["network_id"])


def subport_ids(conn, trunk_id: str) -> list[str]:
    S = tm.subports
    return [r[0] for r in conn.execute(select(S.c.port_id).where(S.c.trunk_id == trunk_id))]

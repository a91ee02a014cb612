"""nftables of one namespace through the `nft` binary (Debian's `nftables`
package): a change is one `nft -f -` transaction (a single netlink batch,
so packets see the ruleset before or after it, never half of it); reading
uses `nft -j` (JSON) so nothing depends on how nft prints a rule.
Never run in the machine's own namespace by tests: callers pass theirs."""
from __future__ import annotations

import json
import socket
import struct
from typing import Any

from neutrino.dataplane import netns as _netns

_NETLINK_NETFILTER = 12
_NFT_MSG_GETGEN = (10 << 8) | 16          # NFNL_SUBSYS_NFTABLES, NFT_MSG_GETGEN
_NFTA_GEN_ID = 1


def apply(netns: str | None, text: str) -> None:
    """One atomic transaction (`text`: nft commands, one per line)."""
    if text:
        _netns.run(["nft", "-f", "-"], netns=netns, input=text, timeout=120.0)


def apply_side_by_side(netns: str | None, texts: list[str]) -> None:
    """One transaction per text, all at once (texts touching apart tables)."""
    _netns.run_all([(["nft", "-f", "-"], t) for t in texts if t], netns=netns, timeout=120.0)


def _objects(netns: str | None, argv: list[str]) -> list[dict[str, Any]]:
    out = _netns.run(["nft", "-j", *argv], netns=netns, check=False)
    try:
        return json.loads(out).get("nftables", []) if out.strip() else []
    except ValueError:
        return []


def elements(netns: str | None, family: str, table: str, kind: str, name: str) -> list[Any]:
    """The elements of a set or map as nft's JSON gives them ([] if absent):
    set members as strings or {"prefix": {...}}; map entries as [key, value]."""
    for o in _objects(netns, ["list", kind, family, table, name]):
        if kind in o:
            return o[kind].get("elem", [])
    return []


def sets(netns: str | None, family: str, table: str) -> dict[str, list[Any]]:
    """Every set of a table (not maps) -> its elements."""
    return {o["set"]["name"]: o["set"].get("elem", [])
            for o in _objects(netns, ["list", "sets", family])
            if "set" in o and o["set"]["table"] == table}


def ruleset(netns: str | None, family: str, table: str) -> str:
    """The table as `nft list table` prints it ("" if absent, or no nft here):
    `neutrino show`."""
    try:
        return _netns.run(["nft", "list", "table", family, table], netns=netns, check=False)
    except OSError:
        return ""


def generation(netns: str | None) -> int:
    """The namespace's nftables ruleset generation: the kernel bumps it on
    every committed transaction, whoever commits. One netlink round trip
    (listing a table of 50,000 rules takes seconds)."""
    with _netns.in_netns(netns):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_NETFILTER)
    try:
        body = struct.pack("BBH", socket.AF_UNSPEC, 0, 0)          # struct nfgenmsg
        sock.send(struct.pack("=LHHLL", 16 + len(body), _NFT_MSG_GETGEN, 1, 1, 0) + body)
        data = sock.recv(65536)
    finally:
        sock.close()
    length, kind = struct.unpack_from("=LH", data)
    if kind == 2:                                                  # NLMSG_ERROR
        raise OSError(-struct.unpack_from("=i", data, 16)[0], "nftables: getgen failed")
    pos = 16 + 4
    while pos + 4 <= length:
        alen, atype = struct.unpack_from("=HH", data, pos)
        if atype & 0x3FFF == _NFTA_GEN_ID:
            return struct.unpack_from("!I", data, pos + 4)[0]
        pos += (alen + 3) & ~3
    raise OSError("nftables: no generation id in the kernel's answer")


def chain_names(netns: str | None, family: str, table: str) -> set[str] | None:
    """The chains of one table (None: no such table), without their rules."""
    objs = _objects(netns, ["list", "chains", family])
    names = {o["chain"]["name"] for o in objs if "chain" in o and o["chain"]["table"] == table}
    return names or None

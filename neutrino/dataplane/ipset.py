"""ipsets of one namespace: read with `ipset save`, changed with one
`ipset restore -exist` per change (creates, adds and deletes in one call).
Never run in the machine's own namespace by tests: callers pass theirs."""
from __future__ import annotations

from neutrino.dataplane import netns as _netns


def parse_save(text: str) -> tuple[dict[str, set[str]], dict[str, int]]:
    """`ipset save` output -> (set -> members, set -> IP version)."""
    members: dict[str, set[str]] = {}
    family: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "create":
            members.setdefault(parts[1], set())
            family[parts[1]] = 6 if "inet6" in parts else 4
        elif len(parts) >= 3 and parts[0] == "add":
            members.setdefault(parts[1], set()).add(parts[2])
    return members, family


def save(netns: str | None) -> tuple[dict[str, set[str]], dict[str, int]]:
    return parse_save(_netns.run(["ipset", "save"], netns=netns))


def restore(netns: str | None, text: str) -> None:
    if text:
        _netns.run(["ipset", "restore", "-exist"], netns=netns, input=text)


def destroy(netns: str | None, names: list[str]) -> None:
    """Destroy sets no rule references any more (after the iptables change)."""
    if names:
        _netns.run(["ipset", "restore", "-exist"], netns=netns,
                   input="".join(f"destroy {n}\n" for n in names))

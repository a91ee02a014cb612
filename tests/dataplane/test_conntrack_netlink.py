"""The ctnetlink cleaner on a real kernel: entries put into a namespace's
conntrack table (in several zones), then one batch of filters deletes
exactly the entries it names, in their zone, and nothing else."""
from __future__ import annotations

import pytest

from neutrino.dataplane import conntrack
from neutrino.dataplane import netns as ns

pytestmark = pytest.mark.root


def add(netns: str, src: str, dst: str, sport: int, zone: int) -> None:
    ns.run(["conntrack", "-I", "-p", "tcp", "-s", src, "-d", dst,
            "--sport", str(sport), "--dport", "22", "--state", "ESTABLISHED",
            "-t", "300", "-u", "SEEN_REPLY", "-w", str(zone)], netns=netns)


def flows(netns: str, version: int = 4) -> set[tuple[int, str, str, int]]:
    with conntrack.CtNetlink(netns) as nl:
        dumped = nl.dump(version)
    return {(f.zone, f.src, f.dst, f.proto) for f in dumped}


def test_dump_and_delete_by_zone_and_address(netns):
    host = netns("ct")
    add(host, "10.7.0.1", "10.7.0.2", 1001, 4097)
    add(host, "10.7.0.3", "10.7.0.2", 1002, 4097)
    add(host, "10.7.0.1", "10.7.0.2", 1003, 4098)     # same addresses, another network
    add(host, "10.7.0.2", "10.7.0.9", 1004, 4097)
    add(host, "fd00:7::1", "fd00:7::2", 1005, 4097)
    assert flows(host) == {(4097, "10.7.0.1", "10.7.0.2", 6), (4097, "10.7.0.3", "10.7.0.2", 6),
                           (4098, "10.7.0.1", "10.7.0.2", 6), (4097, "10.7.0.2", "10.7.0.9", 6)}
    cleaner = conntrack.Cleaner(host, background=False)
    # flows to .2 in zone 4097 (an ingress allow removed); a filter naming no flow costs nothing
    cleaner.submit([(4, 4097, None, "10.7.0.2/32"), (4, 4099, None, "10.7.0.2"),
                    (6, 4097, "fd00:7::1", "fd00:0007:0::2")])
    assert cleaner.deleted == 3
    assert flows(host) == {(4098, "10.7.0.1", "10.7.0.2", 6), (4097, "10.7.0.2", "10.7.0.9", 6)}
    assert flows(host, 6) == set()
    cleaner.close()


def test_background_cleaner_runs_queued_batches_in_one_pass(netns):
    host = netns("ct")
    for i in range(300):            # more than one sendmsg batch
        add(host, f"10.8.{i // 200}.{i % 200 + 1}", "10.8.9.9", 2000 + i, 4097)
    add(host, "10.8.9.9", "10.8.9.8", 3000, 4097)
    cleaner = conntrack.Cleaner(host, background=True)
    try:
        cleaner.submit([(4, 4097, None, "10.8.9.9")])
        cleaner.submit([(4, 4097, "10.8.9.9", "10.8.9.8")])
        assert cleaner.wait_idle(30)
        assert cleaner.deleted == 301
        assert flows(host) == set()
    finally:
        cleaner.close()


def test_select_is_pure_and_matches_like_conntrack_d():
    f = conntrack.Flow(4, 4097, 6, "10.0.0.1", "10.0.0.2", 7, b"")
    g = conntrack.Flow(4, 4098, 6, "10.0.0.1", "10.0.0.2", 8, b"")
    assert conntrack.select([f, g], [(4, 4097, "10.0.0.1", None)]) == [f]
    assert conntrack.select([f, g], [(4, None, None, "10.0.0.2")]) == [f, g]
    assert conntrack.select([f, g], [(6, 4097, "10.0.0.1", None)]) == []
    assert conntrack.select([f, g], [(4, 4097, "10.0.0.2", None)]) == []

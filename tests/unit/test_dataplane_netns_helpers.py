"""neutrino.dataplane.netns pieces that need no privileges."""

from __future__ import annotations

import pytest

from neutrino.dataplane import netns as ns


@pytest.mark.parametrize("name", ["qdhcp-f53d7c4e-d7a1", "nl3f9a2c-host1", "a.b_c"])
def test_valid_names(name):
    assert ns.validate_name(name) == name
    assert ns.netns_path(name) == f"/run/netns/{name}"


@pytest.mark.parametrize("name", ["", ".", "..", "../etc", "a/b", "x" * 65, "sp ace"])
def test_invalid_names(name):
    with pytest.raises(ValueError):
        ns.validate_name(name)


def test_sysctl_paths():
    assert ns._sysctl_path("net.ipv4.ip_forward") == "/proc/sys/net/ipv4/ip_forward"
    key = ns.sysctl_key("net", "ipv4", "conf", "eth1.100", "forwarding")
    assert ns._sysctl_path(key) == "/proc/sys/net/ipv4/conf/eth1.100/forwarding"
    with pytest.raises(ValueError):
        ns._sysctl_path("net/../../etc/passwd")


def test_run_without_netns_and_typed_error():
    assert ns.run(["echo", "ok"]) == "ok\n"
    with pytest.raises(ns.CommandError) as err:
        ns.run(["sh", "-c", "echo out; echo bad >&2; exit 3"])
    e = err.value
    assert (e.returncode, e.stdout, e.stderr.strip(), e.netns) == (3, "out\n", "bad", None)
    assert "exited 3: bad" in str(e)


def test_sysctl_get_in_current_namespace():
    assert ns.sysctl_get("net.ipv4.ip_forward") in ("0", "1")


def test_in_netns_none_is_noop():
    before = ns.current_netns_inode()
    with ns.in_netns(None):
        assert ns.current_netns_inode() == before

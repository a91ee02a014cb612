"""Named namespaces, thread-local setns, commands and sysctls inside them."""

from __future__ import annotations

import os
import threading

import pytest

from neutrino.dataplane import netns as ns
from neutrino.dataplane.netlink import Netlink
from tests.machine import missing

pytestmark = pytest.mark.root


def test_create_list_delete_like_ip_netns(netns):
    name = netns("a")
    assert name in ns.list_netns()
    assert name in ns.run(["ip", "netns", "list"])
    assert os.path.exists(f"/run/netns/{name}")
    # lo is up, nothing else exists
    assert "lo" in ns.run(["ip", "-br", "link"], netns=name)
    with Netlink(name) as nl:
        assert [link.name for link in nl.links()] == ["lo"]
        assert nl.link("lo").up
    ns.create(name, exist_ok=True)
    with pytest.raises(ns.NetnsError):
        ns.create(name)
    ns.delete(name)
    assert name not in ns.list_netns()
    assert name not in ns.run(["ip", "netns", "list"])
    ns.delete(name)  # idempotent
    with pytest.raises(ns.NetnsError):
        ns.delete(name, missing_ok=False)


def test_in_netns_moves_only_the_current_thread(netns):
    name = netns("a")
    home = ns.current_netns_inode()
    target = os.stat(f"/run/netns/{name}").st_ino
    go, done = threading.Event(), threading.Event()
    seen_by_existing: list[int] = []
    seen_by_child: list[int] = []

    def existing():
        go.wait(5)
        seen_by_existing.append(ns.current_netns_inode())
        done.set()

    other = threading.Thread(target=existing)
    other.start()  # started outside: stays where it was
    with ns.in_netns(name):
        assert ns.current_netns_inode() == target
        go.set()
        done.wait(5)
        # a thread started from inside inherits the creator's namespace
        child = threading.Thread(target=lambda: seen_by_child.append(ns.current_netns_inode()))
        child.start()
        child.join()
        with ns.in_netns(name):  # nesting restores correctly
            pass
        assert ns.current_netns_inode() == target
    other.join()
    assert seen_by_existing == [home]
    assert seen_by_child == [target]
    assert ns.current_netns_inode() == home


def test_in_netns_restores_after_exception(netns):
    name = netns("a")
    home = ns.current_netns_inode()
    with pytest.raises(RuntimeError):
        with ns.in_netns(name):
            raise RuntimeError("boom")
    assert ns.current_netns_inode() == home


def test_thread_can_live_in_a_namespace_and_spawn_there(netns):
    name = netns("a")
    out: list[str] = []

    def agent():
        with ns.in_netns(name):
            # a subprocess forked from this thread inherits its namespace
            out.append(ns.run(["readlink", "/proc/self/ns/net"]).strip())

    t = threading.Thread(target=agent)
    t.start()
    t.join()
    assert out == [f"net:[{os.stat(f'/run/netns/{name}').st_ino}]"]


def test_run_returns_stdout_and_raises_typed_error(netns):
    name = netns("a")
    assert ns.run(["echo", "hi"], netns=name) == "hi\n"
    assert ns.run(["cat"], netns=name, input="x") == "x"
    with pytest.raises(ns.CommandError) as err:
        ns.run(["ip", "link", "show", "dev", "nosuchdev"], netns=name)
    assert err.value.returncode != 0
    assert "nosuchdev" in err.value.stderr
    assert err.value.netns == name
    with pytest.raises(ns.CommandError) as err:
        ns.run(["/nonexistent/binary"], netns=name)
    assert err.value.returncode == 127
    assert ns.run(["false"], netns=name, check=False) == ""
    with pytest.raises(ns.CommandError, match="timed out"):
        ns.run(["sleep", "5"], netns=name, timeout=0.2)


def test_run_sysfs_mode_sees_the_namespace_devices(netns):
    name = netns("a")
    with Netlink(name) as nl:
        nl.ensure_bridge("brtest")
    listing = ns.run(["ls", "/sys/class/net"], netns=name, sysfs=True).split()
    assert sorted(listing) == ["brtest", "lo"]


def test_sysctl_inside_namespace_only(netns):
    a, b = netns("a"), netns("b")
    ns.sysctl_set("net.ipv4.ip_forward", 1, netns=a)
    assert ns.sysctl_get("net.ipv4.ip_forward", netns=a) == "1"
    assert ns.sysctl_get("net.ipv4.ip_forward", netns=b) == "0"
    assert ns.run(["sysctl", "-n", "net.ipv4.ip_forward"], netns=a).strip() == "1"
    # per-device keys with the slash form
    with Netlink(a) as nl:
        nl.ensure_bridge("br.x")
    key = ns.sysctl_key("net", "ipv4", "conf", "br.x", "forwarding")
    assert ns.sysctl_get(key, netns=a) == "1"


def test_sysctl_set_refuses_initial_namespace():
    if not ns.in_init_netns():
        missing("test process does not run in the initial netns")
    with pytest.raises(ns.NetnsError):
        ns.sysctl_set("net.ipv4.ip_forward", 1)

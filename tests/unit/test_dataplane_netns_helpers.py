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


def test_run_all_feeds_each_its_input_and_runs_them_at_once(tmp_path):
    """Each command reads its own input; the second starts before the first
    ends (the first waits for a file the second writes)."""
    flag = tmp_path / "flag"
    big = "x" * 3_000_000 + "\n"          # past any pipe buffer
    outs = ns.run_all([
        (["sh", "-c", f"while [ ! -e {flag} ]; do sleep 0.01; done; wc -c"], big),
        (["sh", "-c", f"cat > /dev/null; touch {flag}; echo two"], "y\n")], timeout=10)
    assert [o.strip() for o in outs] == [str(len(big)), "two"]


def test_run_all_raises_the_failure_once_every_command_ended(tmp_path):
    done = tmp_path / "done"
    with pytest.raises(ns.CommandError) as err:
        ns.run_all([(["sh", "-c", "echo bad >&2; exit 3"], ""),
                    (["sh", "-c", f"sleep 0.3; touch {done}"], "")], timeout=10)
    assert err.value.returncode == 3 and "bad" in str(err.value)
    assert done.exists()                  # the other was waited for, not left running
    with pytest.raises(ns.CommandError) as missing:
        ns.run_all([(["/nonexistent/tool"], "")])
    assert missing.value.returncode == 127

"""extra_dhcp_opt: options on create, merge on update (set, replace,
remove with a null value, others kept), IP versions, validation as
upstream's key specs; nothing written on a refusal."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand


def _port(persona, **attrs):
    net = expect(persona.post("networks", {"network": {"name": rand("net")}}), 201)["network"]
    expect(persona.post("subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                               "cidr": "10.30.0.0/24"}}), 201)
    return expect(persona.post("ports", {"port": {"network_id": net["id"], **attrs}}),
                  201)["port"]


def _opts(port) -> set:
    return {(o["opt_name"], o["opt_value"], o["ip_version"]) for o in port["extra_dhcp_opts"]}


def test_create_show_list(api):
    m = api.project()
    plain = _port(m)
    assert plain["extra_dhcp_opts"] == []
    port = _port(m, extra_dhcp_opts=[
        {"opt_name": "bootfile-name", "opt_value": "pxelinux.0"},
        {"opt_name": "tftp-server", "opt_value": "123.123.123.123", "ip_version": "4"},
        {"opt_name": "dns-server", "opt_value": "[2001:db8::1]", "ip_version": 6},
        {"opt_name": "mtu", "opt_value": None}])          # null: not stored
    want = {("bootfile-name", "pxelinux.0", 4), ("tftp-server", "123.123.123.123", 4),
            ("dns-server", "[2001:db8::1]", 6)}
    assert _opts(port) == want
    assert _opts(expect(m.get(f"ports/{port['id']}"), 200)["port"]) == want
    listed = {p["id"]: p for p in expect(m.get("ports"), 200)["ports"]}
    assert _opts(listed[port["id"]]) == want
    fields = expect(m.get(f"ports/{port['id']}", params={"fields": "extra_dhcp_opts"}),
                    200)["port"]
    assert set(fields) == {"extra_dhcp_opts"}


def test_update_merges(api):
    m = api.project()
    port = _port(m, extra_dhcp_opts=[{"opt_name": "bootfile-name", "opt_value": "a.0"},
                                     {"opt_name": "tftp-server", "opt_value": "10.0.0.9"}])
    up = expect(m.put(f"ports/{port['id']}", {"port": {"extra_dhcp_opts": [
        {"opt_name": "bootfile-name", "opt_value": "b.0"},          # replaced
        {"opt_name": "tftp-server", "opt_value": None},            # removed
        {"opt_name": "tftp-server", "opt_value": "fd00::9", "ip_version": 6},   # added
    ]}}), 200)["port"]
    assert _opts(up) == {("bootfile-name", "b.0", 4), ("tftp-server", "fd00::9", 6)}
    assert up["revision_number"] > port["revision_number"]
    assert _opts(expect(m.get(f"ports/{port['id']}"), 200)["port"]) == _opts(up)
    # an empty list or other attributes leave the options alone
    up2 = expect(m.put(f"ports/{port['id']}", {"port": {"extra_dhcp_opts": [],
                                                          "name": "x"}}), 200)["port"]
    assert _opts(up2) == _opts(up)
    # the blank-able options keep an empty value
    up3 = expect(m.put(f"ports/{port['id']}", {"port": {"extra_dhcp_opts": [
        {"opt_name": "router", "opt_value": ""}]}}), 200)["port"]
    assert ("router", "", 4) in _opts(up3)


@pytest.mark.parametrize("opts, message", [
    ("x", "Invalid input for operation: 'x' is not a list."),
    ([{"opt_name": "a"}], "Invalid input for operation: No valid key specs matched for: "
     "{'opt_name': 'a'}."),
    ([{"opt_name": "a", "opt_value": "b", "other": 1}], None),
    ([{"opt_name": "", "opt_value": "b"}], None),
    ([{"opt_name": "a", "opt_value": ""}], None),
    ([{"opt_name": "a", "opt_value": "b\nc"}], None),
    ([{"opt_name": "a" * 65, "opt_value": "b"}], None),
    ([{"opt_name": "a", "opt_value": "b" * 256}], None),
    ([{"opt_name": "a", "opt_value": "b", "ip_version": 5}], None),
    ([{"opt_name": "a", "opt_value": "b"}, {"opt_name": "a", "opt_value": "b"}],
     "Invalid input for operation: Duplicate items in the list: "
     "'{'opt_name': 'a', 'opt_value': 'b'}'."),
])
def test_refused(api, opts, message):
    m = api.project()
    port = _port(m, extra_dhcp_opts=[{"opt_name": "keep", "opt_value": "1"}])
    net_id = port["network_id"]
    err = expect(m.post("ports", {"port": {"network_id": net_id, "extra_dhcp_opts": opts}}),
                 400, "InvalidInput")
    if message:
        assert err["message"] == message
    else:
        assert err["message"].startswith("Invalid input for operation: No valid key specs")
    expect(m.put(f"ports/{port['id']}", {"port": {"extra_dhcp_opts": opts, "name": "n"}}),
           400, "InvalidInput")
    again = expect(m.get(f"ports/{port['id']}"), 200)["port"]
    assert _opts(again) == {("keep", "1", 4)} and again["name"] == ""
    ports = expect(m.get("ports", params={"network_id": net_id}), 200)["ports"]
    assert [p["id"] for p in ports] == [port["id"]]


def test_options_go_with_the_port(api):
    m = api.project()
    port = _port(m, extra_dhcp_opts=[{"opt_name": "bootfile-name", "opt_value": "x"}])
    expect(m.delete(f"ports/{port['id']}"), 204)
    from sqlalchemy import func, select

    from neutrino.db import dns_models as dm
    left = api.core.db.read(lambda conn: conn.execute(
        select(func.count()).select_from(dm.extra_dhcp_opts)
        .where(dm.extra_dhcp_opts.c.port_id == port["id"])).scalar())
    assert left == 0

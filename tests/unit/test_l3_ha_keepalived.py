"""HA routers, agent side, pure parts: what keepalived is told for a router
(VIPs, routes, VRRP options) and how its states read."""
from __future__ import annotations

from neutrino.agent.l3 import keepalived as kc
from neutrino.agent.l3.model import Router

RID = "5b1e0a3c-0000-4000-8000-000000000001"
QR, QG, HA = "aaaaaaaa-1111-4000-8000-000000000001", "bbbbbbbb-2222-4000-8000-000000000002", \
    "cccccccc-3333-4000-8000-000000000003"


def wire(**kw):
    d = {"id": RID, "admin_state_up": True, "enable_snat": True,
         "gw_port": {"id": QG, "mac_address": "fa:16:3e:00:00:02", "mtu": 1500,
                     "fixed_ips": [{"ip_address": "203.0.113.10", "prefixlen": 24,
                                    "gateway_ip": "203.0.113.1"}]},
         "interfaces": [{"id": QR, "mac_address": "fa:16:3e:00:00:01", "mtu": 1450,
                         "fixed_ips": [{"ip_address": "10.0.0.1", "prefixlen": 24},
                                       {"ip_address": "2001:db8::1", "prefixlen": 64}]}],
         "routes": [{"destination": "192.168.5.0/24", "nexthop": "10.0.0.9"}],
         "floating_ips": [{"id": "f1", "floating_ip_address": "203.0.113.20",
                           "fixed_ip_address": "10.0.0.5", "status": "DOWN"}],
         "ha": True, "ha_vr_id": 12, "ha_cidr": "169.254.192.0/18",
         "ha_port": {"id": HA, "mac_address": "fa:16:3e:00:00:03", "mtu": 1450,
                     "fixed_ips": [{"ip_address": "169.254.192.7", "prefixlen": 18}]}}
    d.update(kw)
    return d


def test_ha_instance_moves_addresses_routes_and_floating_ips():
    router = Router.from_wire(wire())
    assert router.ha and router.ha_dev == "ha-cccccccc-33"
    assert set(router.all_devices()) == {"qr-aaaaaaaa-11", "qg-bbbbbbbb-22", "ha-cccccccc-33"}
    inst = router.ha_instance()
    assert inst.interface == "ha-cccccccc-33" and inst.vr_id == 12
    assert set(inst.vips) == {("10.0.0.1/24", "qr-aaaaaaaa-11"),
                              ("203.0.113.10/24", "qg-bbbbbbbb-22"),
                              ("203.0.113.20/32", "qg-bbbbbbbb-22")}
    assert set(inst.routes) == {("0.0.0.0/0", "203.0.113.1", "qg-bbbbbbbb-22"),
                                ("192.168.5.0/24", "10.0.0.9", None)}


def test_not_ha_or_down_has_no_instance():
    assert Router.from_wire(wire(ha=False)).ha_instance() is None
    assert Router.from_wire(wire(ha_port=None)).ha_instance() is None   # not on this host
    assert Router.from_wire(wire(admin_state_up=False)).ha_instance() is None


def test_render():
    inst = Router.from_wire(wire()).ha_instance()
    text = kc.render(inst, kc.VrrpOptions(advert_int=2, auth_password="secret"), "/x/notify.sh")
    assert "vrrp_instance VR_12 {" in text
    for line in ("state BACKUP", "nopreempt", "priority 50", "virtual_router_id 12",
                 "interface ha-cccccccc-33", "advert_int 2", "auth_type PASS",
                 "auth_pass secret", "169.254.0.12/24 dev ha-cccccccc-33",
                 "10.0.0.1/24 dev qr-aaaaaaaa-11", "203.0.113.20/32 dev qg-bbbbbbbb-22",
                 "0.0.0.0/0 via 203.0.113.1 dev qg-bbbbbbbb-22",
                 "192.168.5.0/24 via 10.0.0.9", 'notify "/x/notify.sh"',
                 "vrrp_garp_master_repeat 5"):
        assert line in text, line
    assert "vrrp_version" not in text
    # The primary VIP is the only advertised one; the rest are excluded.
    adv = text.split("virtual_ipaddress {")[1].split("}")[0]
    assert adv.split() == ["169.254.0.12/24", "dev", "ha-cccccccc-33"]
    # Same router, same text: a restarted agent rewrites nothing.
    assert text == kc.render(inst, kc.VrrpOptions(advert_int=2, auth_password="secret"),
                             "/x/notify.sh")


def test_sub_second_adverts_use_vrrp_v3_without_auth():
    inst = Router.from_wire(wire()).ha_instance()
    text = kc.render(inst, kc.VrrpOptions(advert_int=0.5, auth_password="secret"), "/n")
    assert "vrrp_version 3" in text and "advert_int 0.5" in text
    assert "authentication" not in text


def test_states_and_notify_script():
    assert kc.ha_state("MASTER\n") == "active"
    assert kc.ha_state("BACKUP") == "standby"
    assert kc.ha_state("FAULT") == "fault"
    assert kc.ha_state("STOP") == "standby"
    assert kc.ha_state("") is None and kc.ha_state(None) is None
    script = kc.notify_script("/d/state")
    assert script.startswith("#!/bin/sh\n") and '"$3"' in script and "/d/state" in script


def test_advert_int_option():
    from neutrino.plugins.l3.ha_opts import _advert, _cidr
    assert _advert("2") == 2 and _advert("0.5") == 0.5
    for bad in ("0", "-1", "nan", "300"):
        try:
            _advert(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
    assert _cidr("169.254.192.0/18") == "169.254.192.0/18"
    for bad in ("fe80::/64", "10.0.0.0/30"):
        try:
            _cidr(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_show_router_lists_every_instance(tmp_path):
    from neutrino.agent.l3 import ha_show
    (tmp_path / "h2" / RID).mkdir(parents=True)
    (tmp_path / "h2" / RID / "state").write_text("MASTER\n")
    agents = [{"id": "a2", "host": "h2", "alive": True, "ha_state": "active"},
              {"id": "a3", "host": "h3", "alive": False, "ha_state": "standby"}]
    items = ha_show.instances(RID, agents, {"h2": tmp_path / "h2", "h3": tmp_path / "h3"})
    assert [(i["host"], i["ha_state"], i["keepalived_state"], i["keepalived_pid"])
            for i in items] == [("h2", "active", "active", None),
                                ("h3", "standby", None, None)]
    lines = ha_show.render(items)
    assert lines[0] == "  HA instances (VRRP)"
    assert lines[1] == "    h2: ha_state active; keepalived active pid -"
    assert lines[2] == "    h3: ha_state standby (agent dead); keepalived ? pid -"
    # a router that is not HA: no instances section
    assert ha_show.instances(RID, [{"id": "a", "host": "h", "alive": True}], {}) == []
    assert ha_show.render([]) == []

"""dns-integration, dns-domain-ports, subnet-dns-publish-fixed-ip: the
attributes, their validation, dns_assignment with the default and a
configured [DEFAULT] dns_domain, filters; nothing written on a refusal."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand

DOMAIN = {"DEFAULT": {"dns_domain": "example.org"}}


@pytest.fixture(scope="module")
def named(make_api):
    """An app whose [DEFAULT] dns_domain is not the default: ports keep dns_name."""
    return make_api(DOMAIN)


def _net(persona, **attrs):
    attrs.setdefault("name", rand("net"))
    return expect(persona.post("networks", {"network": attrs}), 201)["network"]


def _subnet(persona, net, cidr="10.20.0.0/24", **attrs):
    body = {"network_id": net["id"], "cidr": cidr, "ip_version": 4, **attrs}
    return expect(persona.post("subnets", {"subnet": body}), 201)["subnet"]


def _port(persona, net, **attrs):
    return expect(persona.post("ports", {"port": {"network_id": net["id"], **attrs}}),
                  201)["port"]


def test_default_domain_keeps_no_names(api):
    """With dns_domain = openstacklocal, upstream ignores dns_name: the
    assignment is host-<address> in openstacklocal."""
    m = api.project()
    net = _net(m)
    assert net["dns_domain"] == ""
    _subnet(m, net)
    port = _port(m, net, dns_name="vm1")
    ip = port["fixed_ips"][0]["ip_address"]
    host = "host-" + ip.replace(".", "-")
    assert port["dns_name"] == "" and port["dns_domain"] == ""
    assert port["dns_assignment"] == [{"ip_address": ip, "hostname": host,
                                       "fqdn": f"{host}.openstacklocal."}]
    shown = expect(m.get(f"ports/{port['id']}"), 200)["port"]
    assert shown["dns_assignment"] == port["dns_assignment"] and shown["dns_name"] == ""
    # still validated
    expect(m.post("ports", {"port": {"network_id": net["id"], "dns_name": "-bad"}}), 400,
           "HTTPBadRequest", "Invalid input for dns_name. Reason: '-bad' not a valid PQDN or "
           "FQDN. Reason: Name '-bad' must not start or end with a hyphen.")


def test_port_dns_name_and_assignment(named):
    m = named.project()
    net = _net(m, dns_domain="Corp.Example.ORG.")
    assert net["dns_domain"] == "corp.example.org."
    _subnet(m, net)
    port = _port(m, net, dns_name="Web-1", dns_domain="zone.example.com.")
    ip = port["fixed_ips"][0]["ip_address"]
    assert (port["dns_name"], port["dns_domain"]) == ("web-1", "zone.example.com.")
    assert port["dns_assignment"] == [{"ip_address": ip, "hostname": "web-1",
                                       "fqdn": "web-1.example.org."}]
    assert expect(m.get(f"ports/{port['id']}"), 200)["port"]["dns_name"] == "web-1"
    up = expect(m.put(f"ports/{port['id']}", {"port": {"dns_name": "web-2"}}), 200)["port"]
    assert up["dns_name"] == "web-2" and up["dns_domain"] == "zone.example.com."
    assert up["dns_assignment"][0]["fqdn"] == "web-2.example.org."
    assert up["revision_number"] > port["revision_number"]
    # a FQDN in the configured domain is kept as given
    up = expect(m.put(f"ports/{port['id']}", {"port": {"dns_name": "db.example.org."}}),
                200)["port"]
    assert up["dns_assignment"][0] == {"ip_address": ip, "hostname": "db.example.org.",
                                       "fqdn": "db.example.org."}
    # filters
    found = expect(m.get("ports", params={"dns_name": "db.example.org."}), 200)["ports"]
    assert [p["id"] for p in found] == [port["id"]]
    other = _port(m, net)
    assert other["dns_name"] == "" and other["dns_assignment"][0]["hostname"].startswith("host-")
    found = expect(m.get("ports", params={"network_id": net["id"], "dns_name": ""}),
                   200)["ports"]
    assert [p["id"] for p in found] == [other["id"]]
    # clearing
    up = expect(m.put(f"ports/{port['id']}", {"port": {"dns_name": "", "dns_domain": ""}}),
                200)["port"]
    assert up["dns_name"] == "" and up["dns_domain"] == ""
    assert up["dns_assignment"][0]["hostname"] == "host-" + ip.replace(".", "-")


@pytest.mark.parametrize("value, reason", [
    ("a..b", "'a..b' not a valid PQDN or FQDN. Reason: Encountered an empty component"),
    ("under_score", "'under_score' not a valid PQDN or FQDN. Reason: Name 'under_score' must "
     "be 1-63 characters long, each of which can only be alphanumeric or a hyphen"),
    ("a.123", "'a.123' not a valid PQDN or FQDN. Reason: TLD '123' must not be all numeric"),
    ("vm.other.org.", "The dns_name passed is a FQDN. Its higher level labels must be equal "
     "to the dns_domain option in neutron.conf, that has been set to 'example.org'. It must "
     "also include one or more valid DNS labels to the left of 'example.org'"),
    ("example.org.", "The dns_name passed is a FQDN. Its higher level labels must be equal "
     "to the dns_domain option in neutron.conf, that has been set to 'example.org'. It must "
     "also include one or more valid DNS labels to the left of 'example.org'"),
])
def test_port_dns_name_refused(named, value, reason):
    m = named.project()
    net = _net(m)
    before = expect(m.get("ports", params={"network_id": net["id"]}), 200)["ports"]
    expect(m.post("ports", {"port": {"network_id": net["id"], "dns_name": value}}), 400,
           "HTTPBadRequest", f"Invalid input for dns_name. Reason: {reason}.")
    assert expect(m.get("ports", params={"network_id": net["id"]}), 200)["ports"] == before
    port = _port(m, net, dns_name="keep")
    expect(m.put(f"ports/{port['id']}", {"port": {"dns_name": value, "name": "x"}}), 400)
    again = expect(m.get(f"ports/{port['id']}"), 200)["port"]
    assert (again["dns_name"], again["name"], again["revision_number"]) == (
        "keep", "", port["revision_number"])


def test_dns_name_not_a_string(named):
    m = named.project()
    net = _net(m)
    expect(m.post("ports", {"port": {"network_id": net["id"], "dns_name": 5}}), 400,
           "InvalidInput", "Invalid input for operation: '5' cannot be converted to "
           "lowercase string.")


@pytest.mark.parametrize("value, reason", [
    ("example.org", "'example.org' is not a FQDN"),
    ("a..org.", "'a..org.' not a valid PQDN or FQDN. Reason: Encountered an empty component"),
    (("a" * 63 + ".") * 4, f"'{('a' * 63 + '.') * 4}' contains 256 characters. Adding a "
     "sub-domain will cause it to exceed the maximum length of a FQDN of '255'"),
])
def test_dns_domain_refused(named, value, reason):
    m = named.project()
    resp = m.post("networks", {"network": {"name": rand("n"), "dns_domain": value}})
    expect(resp, 400, "HTTPBadRequest", f"Invalid input for dns_domain. Reason: {reason}.")
    net = _net(m)
    expect(m.put(f"networks/{net['id']}", {"network": {"dns_domain": value}}), 400)
    expect(m.post("ports", {"port": {"network_id": net["id"], "dns_domain": value}}), 400)
    assert expect(m.get(f"networks/{net['id']}"), 200)["network"]["dns_domain"] == ""


def test_network_dns_domain_update_and_filter(named):
    m = named.project()
    net = _net(m)
    up = expect(m.put(f"networks/{net['id']}", {"network": {"dns_domain": "a.example."}}),
                200)["network"]
    assert up["dns_domain"] == "a.example."
    assert up["revision_number"] > net["revision_number"]
    found = expect(m.get("networks", params={"dns_domain": "a.example."}), 200)["networks"]
    assert [n["id"] for n in found] == [net["id"]]
    up = expect(m.put(f"networks/{net['id']}", {"network": {"dns_domain": ""}}),
                200)["network"]
    assert up["dns_domain"] == ""
    assert expect(m.get("networks", params={"dns_domain": "a.example."}),
                  200)["networks"] == []


def test_subnet_dns_publish_fixed_ip(api):
    m = api.project()
    net = _net(m)
    sub = _subnet(m, net)
    assert sub["dns_publish_fixed_ip"] is False
    pub = _subnet(m, net, cidr="10.21.0.0/24", dns_publish_fixed_ip=True)
    assert pub["dns_publish_fixed_ip"] is True
    assert expect(m.get(f"subnets/{pub['id']}"), 200)["subnet"]["dns_publish_fixed_ip"] is True
    ids = {s["id"] for s in expect(m.get("subnets", params={
        "network_id": net["id"], "dns_publish_fixed_ip": "True"}), 200)["subnets"]}
    assert ids == {pub["id"]}
    up = expect(m.put(f"subnets/{sub['id']}", {"subnet": {"dns_publish_fixed_ip": "true"}}),
                200)["subnet"]
    assert up["dns_publish_fixed_ip"] is True
    up = expect(m.put(f"subnets/{pub['id']}", {"subnet": {"dns_publish_fixed_ip": False}}),
                200)["subnet"]
    assert up["dns_publish_fixed_ip"] is False
    expect(m.put(f"subnets/{sub['id']}", {"subnet": {"dns_publish_fixed_ip": "maybe"}}), 400,
           "InvalidInput", "Invalid input for operation: 'maybe' cannot be converted to "
           "boolean.")


def test_extensions_listed(api):
    aliases = {e["alias"] for e in expect(api.member_a.get("extensions"), 200)["extensions"]}
    assert {"dns-integration", "dns-domain-ports", "subnet-dns-publish-fixed-ip",
            "extra_dhcp_opt", "availability_zone", "availability_zone_filter",
            "network_availability_zone", "network_ha"} <= aliases
    assert "network-availability-zone" not in aliases

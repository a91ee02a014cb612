"""Version discovery, extensions, routing errors (404/405), bad bodies."""
from __future__ import annotations

import pytest

from tests.api.helpers import expect, rand


def test_root_lists_v2(api):
    body = expect(api.anonymous.get("/"), 200)
    assert body == {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
        {"rel": "self", "href": "http://testserver/v2.0/"}]}]}


@pytest.mark.parametrize("path", ["/v2.0", "/v2.0/"])
def test_v2_lists_resources(api, path):
    body = expect(api.member_a.get(path), 200)
    collections = {r["collection"]: r for r in body["resources"]}
    for name in ("networks", "subnets", "ports", "security_groups", "security_group_rules",
                 "quotas"):
        assert name in collections
    assert collections["networks"]["name"] == "network"
    assert collections["networks"]["links"] == [
        {"rel": "self", "href": "http://testserver/v2.0/networks"}]
    assert collections["security_groups"]["links"][0]["href"].endswith("/v2.0/security-groups")


def test_extensions_list_and_show(api):
    exts = expect(api.member_a.get("extensions"), 200)["extensions"]
    aliases = [e["alias"] for e in exts]
    assert len(aliases) == len(set(aliases))
    for ext in exts:
        assert set(ext) == {"alias", "name", "description", "updated", "links"}
        one = expect(api.member_a.get(f"extensions/{ext['alias']}"), 200)
        assert one == {"extension": ext}


def test_unknown_extension_404(api):
    expect(api.member_a.get("extensions/no-such-ext"), 404, "ExtensionNotFound",
           "Extension with alias no-such-ext does not exist")


# Every alias GET /v2.0/extensions lists is exercised by these tests.
EXERCISED_BY = {
    "rbac-policies": ("test_rbac_policies.py::"
                      "test_network_shared_with_one_project_usable_by_it_invisible_to_a_third"),
    "rbac-security-groups": "test_rbac_secgroups.py::test_group_shared_with_one_project",
    "rbac-address-group": "test_address_groups.py::test_shared_by_rbac_and_rules",
    "address-group": "test_address_groups.py::test_lifecycle_and_actions",
    "security-groups-remote-address-group": "test_address_groups.py::test_shared_by_rbac_and_rules",
    "security-groups-shared-filtering": "test_rbac_secgroups.py::test_group_shared_with_one_project",
    "port-security-groups-filtering": "test_rbac_secgroups.py::test_group_shared_with_one_project",
    "security-groups-default-rules": "test_default_sg_rules.py::test_templates_make_the_groups_rules",
    "security-groups-rules-belongs-to-default-sg":
        "test_default_sg_rules.py::test_templates_make_the_groups_rules",
    "segment": "test_segments.py::test_segment_crud_and_network_views",
    "standard-attr-segment": "test_segments.py::test_segment_crud_and_network_views",
    "multi-provider": "test_segments.py::test_multi_provider_create",
    "subnet-segmentid-writable": "test_segments.py::test_subnet_segment_id_writable",
    "l2_adjacency": "test_segments.py::test_subnets_on_segments",
    "segments-peer-subnet-host-routes": "test_segments.py::test_peer_subnet_host_routes",
    "service-type": "test_segments.py::test_service_providers",
    "subnet-service-types": "test_segments.py::test_subnet_service_types",
    "subnet-external-network": "test_segments.py::test_subnet_router_external_filter",
    "network-segment-range": "test_segment_ranges.py::test_range_crud",
    "auto-allocated-topology": "test_auto_allocate.py::test_get_me_a_network",
    "qos": "test_qos.py::test_policy_crud_and_defaults",
    "qos-bw-limit-direction": "test_qos.py::test_rule_validation_and_policy",
    "qos-default": "test_qos.py::test_default_policy_per_project",
    "qos-rules-alias": "test_qos.py::test_alias_rules",
    "qos-pps-minimum-rule-alias": "test_qos.py::test_alias_rules",
    "qos-rule-type-details": "test_qos.py::test_rule_types",
    "qos-rule-type-filter": "test_qos.py::test_rule_types",
    "qos-port-network-policy": "test_qos.py::test_port_and_network_policies",
    "qos-bw-minimum-ingress": "test_qos.py::test_rule_crud",
    "qos-pps": "test_qos.py::test_rule_crud",
    "qos-pps-minimum": "test_qos.py::test_rule_crud",
    "qos-fip": "test_qos.py::test_floatingip_policy",
    "qos-gateway-ip": "test_qos.py::test_floatingip_policy",
    "fwaas_v2": "test_fwaas.py::test_rule_crud",
    "standard-attr-fwaas-v2": "test_fwaas.py::test_standard_attributes_and_tags",
    "agent": "test_agents.py::test_agent_list_show_update_delete",
    "allowed-address-pairs": "test_ports.py::test_allowed_address_pairs",
    "binding": "test_ports.py::test_binding_with_live_agent",
    "empty-string-filtering": "test_query.py::test_empty_string_filter",
    "external-net": "test_policy.py::test_shared_and_external_networks_visible_to_all",
    "ext-gw-mode": "test_routers.py::test_router_gateway_enable_snat",
    "extraroute": "test_routers.py::test_router_extra_routes",
    "l3_agent_scheduler": "test_routers.py::test_router_l3_agents",
    "l3-ha": "test_l3_ha.py::test_ha_router_network_ports_and_states",
    "dhcp_agent_scheduler": "test_dhcp_agents.py::test_network_dhcp_agents",
    "router": "test_routers.py::test_router_crud_and_interfaces",
    "filter-validation": "test_query.py::test_unknown_filter_400",
    "ip-substring-filtering": "test_query.py::test_fixed_ips_filters",
    "net-mtu": "test_networks.py::test_mtu_by_network_type",
    "net-mtu-writable": "test_networks.py::test_mtu_writable",
    "network_availability_zone": "test_availability_zones.py::test_network_hints_and_zones",
    "availability_zone": "test_availability_zones.py::test_zones_from_agents",
    "availability_zone_filter": "test_availability_zones.py::test_zones_from_agents",
    "network_ha": "test_availability_zones.py::test_network_ha_flag_is_create_only_and_hidden",
    "dns-integration": "test_dns.py::test_port_dns_name_and_assignment",
    "dns-domain-ports": "test_dns.py::test_port_dns_name_and_assignment",
    "subnet-dns-publish-fixed-ip": "test_dns.py::test_subnet_dns_publish_fixed_ip",
    "extra_dhcp_opt": "test_extra_dhcp_opts.py::test_create_show_list",
    "pagination": "test_query.py::test_pagination_walks_all_pages",
    "port-security": "test_ports.py::test_port_security_disabled_with_groups",
    "project-id": "test_networks.py::test_project_id_and_tenant_id",
    "provider": "test_ml2.py::test_admin_provider_networks",
    "quotas": "test_quotas.py::test_quota_get_put_delete",
    "quota_details": "test_quotas.py::test_quota_details",
    "security-group": "test_secgroups.py::test_security_group_crud",
    "sorting": "test_query.py::test_sorting",
    "standard-attr-description": "test_networks.py::test_description_everywhere",
    "standard-attr-revisions": "test_networks.py::test_revision_number_increments",
    "revision-if-match": "test_upstream_behaviours.py::test_if_match_revision",
    "standard-attr-tag": "test_tags.py::test_tags_endpoints",
    "standard-attr-timestamp": "test_networks.py::test_timestamps_format",
    "stateful-security-group": "test_secgroups.py::test_stateful_flag",
    "security-groups-normalized-cidr": "test_secgroups.py::test_normalized_cidr",
    "tag-creation": "test_tags.py::test_tags_on_create",
    # trunks and the port attribute extensions
    "trunk": "test_trunk.py::test_trunk_crud_and_subports",
    "trunk-details": "test_trunk.py::test_trunk_details_and_ports_in_use",
    "binding-extended": "test_port_attrs.py::test_binding_extended",
    "agent-resources-synced": "test_port_attrs.py::test_agents_resources_synced",
    "data-plane-status": "test_port_attrs.py::test_updates_and_policy",
    "ip_allocation": "test_port_attrs.py::test_ip_allocation_deferred_on_routed_networks",
    "port-device-profile": "test_port_attrs.py::test_defaults_and_create",
    "port-mac-address-regenerate": "test_port_attrs.py::test_mac_regenerate",
    "port-mac-override": "test_port_attrs.py::test_extensions_listed",
    "port-numa-affinity-policy": "test_port_attrs.py::test_updates_and_policy",
    "port-numa-affinity-policy-socket": "test_port_attrs.py::test_defaults_and_create",
    "port-resource-request": "test_port_attrs.py::test_resource_request_from_qos_minimum_rules",
    "port-resource-request-groups":
        "test_port_attrs.py::test_resource_request_from_qos_minimum_rules",
    "quota-check-limit": "test_port_attrs.py::test_quota_check_limit",
    "uplink-status-propagation": "test_port_attrs.py::test_defaults_and_create",
    "address-scope": "test_subnetpools.py::test_address_scope_crud_and_rules",
    "subnet_allocation": "test_subnetpools.py::test_subnets_from_a_pool",
    "default-subnetpools": "test_subnetpools.py::test_default_pool",
    "subnetpool-prefix-ops": "test_subnetpools.py::test_prefixes_only_grow_and_prefix_actions",
    "subnet_onboard": "test_subnetpools.py::test_network_address_scopes_and_onboarding",
    "network-ip-availability": "test_subnetpools.py::test_network_ip_availability",
    "rbac-address-scope": "test_subnetpools.py::test_rbac_sharing_of_pools_and_scopes",
    "rbac-subnetpool": "test_subnetpools.py::test_rbac_sharing_of_pools_and_scopes",
    # L3 extensions (port forwarding, conntrack helpers, metering, flavors, extras)
    "floating-ip-port-forwarding": "test_port_forwarding.py::test_life_cycle_and_fip_view",
    "floating-ip-port-forwarding-description":
        "test_port_forwarding.py::test_life_cycle_and_fip_view",
    "floating-ip-port-forwarding-detail": "test_port_forwarding.py::test_life_cycle_and_fip_view",
    "floating-ip-port-forwarding-port-ranges":
        "test_port_forwarding.py::test_port_ranges_and_default_address",
    "expose-port-forwarding-in-fip": "test_port_forwarding.py::test_life_cycle_and_fip_view",
    "l3-conntrack-helper": "test_conntrack_helpers.py::test_life_cycle_and_router_view",
    "expose-l3-conntrack-helper": "test_conntrack_helpers.py::test_life_cycle_and_router_view",
    "metering": "test_metering.py::test_label_and_rule_crud",
    "metering_source_and_destination_fields": "test_metering.py::test_label_and_rule_crud",
    "fip-port-details": "test_l3_extras.py::test_fip_port_details",
    "floatingip-pools": "test_l3_extras.py::test_floatingip_pools",
    "extraroute-atomic": "test_l3_extras.py::test_extraroute_atomic",
    "l3-port-ip-change-not-allowed": "test_l3_extras.py::test_router_port_ip_cannot_change",
    "router-admin-state-down-before-update": "test_l3_extras.py::test_dvr_attribute",
    "dvr": "test_l3_extras.py::test_dvr_attribute",
    "router_availability_zone": "test_l3_extras.py::test_router_scheduled_in_its_hinted_zone",
    "flavors": "test_flavors.py::test_flavor_and_profile_crud",
    "l3-flavors": "test_flavors.py::test_router_with_flavor",
}


def test_every_extension_is_exercised(api):
    import importlib
    aliases = {e["alias"] for e in expect(api.admin.get("extensions"), 200)["extensions"]}
    assert aliases == set(EXERCISED_BY), (
        f"untested: {sorted(aliases - set(EXERCISED_BY))}, "
        f"not served: {sorted(set(EXERCISED_BY) - aliases)}")
    for ref in EXERCISED_BY.values():
        module, func = ref.split("::")
        mod = importlib.import_module("tests.api." + module[:-3])
        assert callable(getattr(mod, func, None)), f"{ref} does not exist"


@pytest.mark.parametrize("path", ["/v2.0/foobars", "/v2.0/networks/x/y/z", "/nothing",
                                  "/v3/networks"])
def test_unknown_url_404(api, path):
    expect(api.admin.get(path), 404, "HTTPNotFound", "The resource could not be found.")


@pytest.mark.parametrize("method,path", [
    ("DELETE", "/v2.0/networks"), ("PUT", "/v2.0/networks"), ("PATCH", "/v2.0/networks"),
    ("POST", "/v2.0/networks/%s" % "6bdecb4b-429a-4947-8190-10abc831ed83"),
    ("POST", "/"), ("DELETE", "/v2.0/extensions"), ("POST", "/v2.0/agents"),
])
def test_method_not_allowed_405(api, method, path):
    resp = api.admin.request(method, path)
    assert resp.status_code == 405, resp.text
    assert "NeutronError" in resp.json()


@pytest.mark.parametrize("raw", ['{"network": {"name": "x"', "not json", "[1, 2", "\xff"])
def test_bad_json_400(api, raw):
    expect(api.member_a.post("networks", content=raw.encode("utf-8", "surrogateescape")
                             if isinstance(raw, str) else raw),
           400, "HTTPBadRequest", "Body contains invalid data")


@pytest.mark.parametrize("body,message", [
    ({}, "Unable to find 'network' in request body"),
    ({"net": {}}, "Unable to find 'network' in request body"),
    ({"network": "x"}, "Body contains invalid data"),
    ({"networks": {"name": "x"}}, "Body contains invalid data"),
    ([1], "Body contains invalid data"),
])
def test_malformed_bodies_400(api, body, message):
    expect(api.member_a.post("networks", body), 400, "HTTPBadRequest", message)


def test_empty_post_body_400(api):
    expect(api.member_a.post("networks", content=b""), 400, "HTTPBadRequest",
           "Body contains invalid data")


def test_update_bad_bodies_400(api):
    net = api.member_a.network()
    expect(api.member_a.put(f"networks/{net['id']}", {}), 400, "HTTPBadRequest",
           "Unable to find 'network' in request body")
    expect(api.member_a.put(f"networks/{net['id']}", content=b"{"), 400, "HTTPBadRequest",
           "Body contains invalid data")
    expect(api.member_a.put(f"networks/{net['id']}", {"network": {"id": rand()}}), 400,
           "HTTPBadRequest")
    expect(api.member_a.put(f"networks/{net['id']}", {"network": {"bogus": 1}}), 400,
           "HTTPBadRequest", "Unrecognized attribute(s) 'bogus'")


def test_no_headers_is_admin_of_default_project(api):
    net = api.anonymous.network()
    assert net["project_id"] == "00000000000000000000000000000000"
    assert net["provider:network_type"] == "vxlan"  # admin sees provider attributes
    api.anonymous.remove("networks", net["id"])

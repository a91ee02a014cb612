"""The attribute maps of the v2.0 resources (neutron-lib's RESOURCE_ATTRIBUTE_MAP,
reduced to what neutrino serves)."""
from __future__ import annotations

from dataclasses import dataclass

from neutrino.api import attributes as a
from neutrino.api.attributes import Attr


@dataclass(frozen=True)
class Resource:
    singular: str
    collection: str
    base_attrs: tuple[Attr, ...]
    not_found: str            # fault class name for a missing id
    tags: bool = True         # standard-attr-tag
    has_owner: bool = True

    @property
    def attrs(self) -> tuple[Attr, ...]:
        """The core attributes and those the loaded features add
        (neutrino.plugins.extend); resolved once, on first use."""
        cache = self.__dict__.get("_attrs")
        if cache is None:
            from neutrino.plugins import extend
            cache = self.base_attrs + extend.extra_attrs(self.collection)
            object.__setattr__(self, "_attrs", cache)
        return cache

    def attr(self, name: str) -> Attr | None:
        return self._index().get(name)

    def _index(self) -> dict[str, Attr]:
        cache = self.__dict__.get("_idx")
        if cache is None:
            cache = {x.name: x for x in self.attrs}
            object.__setattr__(self, "_idx", cache)
        return cache


_NAME = Attr("name", post=True, put=True, default="", validate=a.name_string(255),
             column="name")
_SG_NAME = Attr("name", post=True, put=True, default="", validate=a.string(255), column="name")
_DESC = Attr("description", post=True, put=True, default="", validate=a.string(255),
             column="description")
_ID = Attr("id", column="id")
_ADMIN_UP = Attr("admin_state_up", post=True, put=True, default=True, convert=a.to_boolean,
                 column="admin_state_up")

NETWORK = Resource("network", "networks", (
    _ID, _NAME, _DESC, *a.owner_attrs(), _ADMIN_UP,
    Attr("status", column="status"),
    Attr("subnets", sort=False),
    Attr("shared", post=True, put=True, default=False, convert=a.to_boolean, policy=True,
         column="shared"),
    Attr("router:external", post=True, put=True, default=False, convert=a.to_boolean,
         policy=True, column="external"),
    Attr("mtu", post=True, put=True, default=None, convert=a.to_int, validate=a.non_negative,
         column="mtu"),
    Attr("port_security_enabled", post=True, put=True, default=True, convert=a.to_boolean,
         column="port_security_enabled"),
    Attr("provider:network_type", post=True, put=True, default=None, policy=True,
         validate=a.string(32, nullable=True)),
    Attr("provider:physical_network", post=True, put=True, default=None, policy=True,
         validate=a.string(64, nullable=True)),
    Attr("provider:segmentation_id", post=True, put=True, default=None, policy=True,
         convert=a.to_int_or_none, validate=a.db_int_or_none),
    Attr("availability_zone_hints", post=True, default=[], filter=False, sort=False,
         validate=a.az_hints),
    Attr("availability_zones", filter=False, sort=False),
    Attr("ipv4_address_scope", filter=False, sort=False),
    Attr("ipv6_address_scope", filter=False, sort=False),
    # is_default: added by neutrino.plugins.auto_allocate
    *a.standard_attrs(),
), not_found="NetworkNotFound")

SUBNET = Resource("subnet", "subnets", (
    _ID, _NAME, _DESC, *a.owner_attrs(),
    Attr("network_id", post=True, validate=a.uuid_check, column="network_id"),
    Attr("ip_version", post=True, convert=a.to_int, validate=a.values(4, 6),
         column="ip_version"),
    Attr("cidr", post=True, default=None, validate=a.subnet_or_none, column="cidr"),
    Attr("prefixlen", post=True, default=None, visible=False, filter=False, sort=False,
         convert=a.to_int, validate=a.non_negative),
    Attr("subnetpool_id", post=True, default=None, validate=a.uuid_or_none,
         column="subnetpool_id"),
    Attr("gateway_ip", post=True, put=True, default=a.UNSET, convert=a.to_canonical_ip,
         validate=a.ip_or_none, column="gateway_ip"),
    Attr("allocation_pools", post=True, put=True, default=None, filter=False, sort=False,
         validate=a.ip_pools_or_none),
    Attr("dns_nameservers", post=True, put=True, default=[], sort=False,
         convert=a.none_to_empty_list, validate=a.ip_list),
    Attr("host_routes", post=True, put=True, default=[], filter=False, sort=False,
         convert=a.none_to_empty_list, validate=a.hostroutes),
    Attr("enable_dhcp", post=True, put=True, default=True, convert=a.to_boolean,
         column="enable_dhcp"),
    Attr("ipv6_ra_mode", post=True, default=None, column="ipv6_ra_mode",
         validate=lambda v: None if v is None else a.values(
             "slaac", "dhcpv6-stateful", "dhcpv6-stateless")(v)),
    Attr("ipv6_address_mode", post=True, default=None, column="ipv6_address_mode",
         validate=lambda v: None if v is None else a.values(
             "slaac", "dhcpv6-stateful", "dhcpv6-stateless")(v)),
    # service_types, segment_id and router:external (filterable): added by
    # neutrino.plugins.segments (subnet-service-types, segment, subnet-external-network)
    # Filter only: a subnet is shared when its network is.
    Attr("shared", visible=False, sort=False, convert=a.to_boolean),
    *a.standard_attrs(),
), not_found="SubnetNotFound")

PORT = Resource("port", "ports", (
    _ID, _NAME, _DESC, *a.owner_attrs(), _ADMIN_UP,
    Attr("network_id", post=True, validate=a.uuid_check, column="network_id"),
    # null on update: a new random MAC (port-mac-address-regenerate, neutrino.plugins.port_attrs)
    Attr("mac_address", post=True, put=True, default=None, convert=a.to_mac,
         validate=lambda v: None if v is None else a.mac_check(v), policy=True,
         column="mac_address"),
    Attr("fixed_ips", post=True, put=True, default=None, policy=True, sort=False,
         validate=a.fixed_ips),
    Attr("device_id", post=True, put=True, default="", validate=a.string(255),
         column="device_id"),
    Attr("device_owner", post=True, put=True, default="", validate=a.string(255),
         column="device_owner"),
    Attr("status", column="status"),
    Attr("security_groups", post=True, put=True, default=None, sort=False,
         convert=a.none_to_empty_list, validate=a.uuid_list),
    Attr("port_security_enabled", post=True, put=True, default=None, policy=True,
         convert=a.to_boolean, column="port_security_enabled"),
    Attr("allowed_address_pairs", post=True, put=True, default=None, policy=True,
         filter=False, sort=False, convert=a.address_pairs),
    Attr("binding:host_id", post=True, put=True, default="", policy=True,
         validate=a.string(255), column="binding_host"),
    Attr("binding:vnic_type", post=True, put=True, default="normal", policy=True,
         validate=a.values("normal", "direct", "macvtap", "baremetal", "direct-physical",
                           "virtio-forwarder", "smart-nic", "remote-managed", "vdpa"),
         column="binding_vnic_type"),
    Attr("binding:profile", post=True, put=True, default={}, policy=True,
         validate=a.dict_or_none, filter=False, sort=False),
    Attr("binding:vif_type", policy=True, column="binding_vif_type"),
    Attr("binding:vif_details", policy=True, filter=False, sort=False),
    *a.standard_attrs(),
), not_found="PortNotFound")

SECURITY_GROUP = Resource("security_group", "security-groups", (
    _ID, _SG_NAME, _DESC, *a.owner_attrs(),
    Attr("stateful", post=True, put=True, default=True, convert=a.to_boolean, column="stateful"),
    Attr("security_group_rules", filter=False, sort=False),
    Attr("shared", sort=False),       # filtered by the plugin (an RBAC view)
    *a.standard_attrs(),
), not_found="SecurityGroupNotFound")

# What a security group rule matches; the default rules' templates
# (neutrino/plugins/secgroup_defaults.py) have the same.
RULE_MATCH_ATTRS = (
    Attr("remote_address_group_id", post=True, default=None, validate=a.uuid_or_none,
         column="remote_address_group_id"),
    Attr("direction", post=True, validate=a.values("ingress", "egress"), column="direction"),
    Attr("protocol", post=True, default=None, column="protocol"),
    Attr("port_range_min", post=True, default=None, convert=a.to_port_or_none,
         column="port_range_min"),
    Attr("port_range_max", post=True, default=None, convert=a.to_port_or_none,
         column="port_range_max"),
    Attr("ethertype", post=True, default="IPv4", convert=a.to_ethertype,
         validate=a.values("IPv4", "IPv6"), column="ethertype"),
    Attr("remote_ip_prefix", post=True, default=None, convert=a.to_ip_prefix,
         column="remote_ip_prefix"),
)

SECURITY_GROUP_RULE = Resource("security_group_rule", "security-group-rules", (
    _ID, _DESC, *a.owner_attrs(),
    Attr("security_group_id", post=True, validate=a.uuid_check, column="security_group_id"),
    # Not UUID-validated: upstream answers 404 (group not found) for any bad
    # id; "" (which upstream would try to store) is refused.
    Attr("remote_group_id", post=True, default=None, validate=a.remote_group,
         column="remote_group_id"),
    *RULE_MATCH_ATTRS,
    Attr("normalized_cidr", column="normalized_cidr"),
    Attr("belongs_to_default_sg", sort=False),   # filtered by the plugin
    *a.standard_attrs(),
), not_found="SecurityGroupRuleNotFound", tags=False)

BY_COLLECTION = {r.collection: r for r in (NETWORK, SUBNET, PORT, SECURITY_GROUP,
                                           SECURITY_GROUP_RULE)}

AGENT = Resource("agent", "agents", (
    _ID,
    Attr("agent_type", column="agent_type"),
    Attr("binary", column="binary"),
    Attr("topic", column="topic"),
    Attr("host", column="host"),
    Attr("admin_state_up", put=True, convert=a.to_boolean, column="admin_state_up"),
    Attr("description", put=True, validate=a.string(255), column="description"),
    Attr("availability_zone", column="availability_zone"),
    Attr("alive", convert=a.to_boolean, sort=False),
    Attr("configurations", filter=False, sort=False),
    Attr("resource_versions", filter=False, sort=False),
    Attr("load", column="load", convert=a.to_int),
    Attr("resources_synced", filter=False, sort=False),   # agent-resources-synced
    # Timestamp filters are parsed (400 on garbage), as the standard attributes'.
    Attr("created_at", column="created_at", convert=a.to_datetime),
    Attr("started_at", column="started_at", convert=a.to_datetime),
    Attr("heartbeat_timestamp", column="heartbeat_timestamp", convert=a.to_datetime),
), not_found="AgentNotFound", tags=False, has_owner=False)

ROUTER = Resource("router", "routers", (
    _ID, _NAME, _DESC, *a.owner_attrs(), _ADMIN_UP,
    Attr("status", column="status"),
    Attr("external_gateway_info", post=True, put=True, default=None, policy=True,
         filter=False, sort=False, convert=a.gateway_info),
    Attr("routes", put=True, default=None, filter=False, sort=False,
         convert=a.none_to_empty_list, validate=a.hostroutes),
    Attr("availability_zone_hints", post=True, default=[], filter=False, sort=False,
         validate=a.az_hints),
    Attr("availability_zones", filter=False, sort=False),
    # l3-ha (admin only; the default is [DEFAULT] l3_ha)
    Attr("ha", post=True, put=True, default=a.UNSET, convert=a.to_boolean, policy=True,
         column="ha"),
    *a.standard_attrs(),
), not_found="RouterNotFound")

FLOATINGIP = Resource("floatingip", "floatingips", (
    _ID, _DESC, *a.owner_attrs(),
    Attr("floating_ip_address", post=True, default=None, policy=True,
         validate=a.ip_or_none, column="floating_ip_address"),
    Attr("subnet_id", post=True, default=None, validate=a.uuid_or_none, filter=False,
         sort=False, visible=False),
    Attr("floating_network_id", post=True, validate=a.uuid_check,
         column="floating_network_id"),
    Attr("router_id", column="router_id"),
    Attr("port_id", post=True, put=True, default=None, validate=a.uuid_or_none,
         column="fixed_port_id"),
    Attr("fixed_ip_address", post=True, put=True, default=None, validate=a.ip_or_none,
         column="fixed_ip_address"),
    Attr("status", column="status"),
    *a.standard_attrs(),
), not_found="FloatingIPNotFound")

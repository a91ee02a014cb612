"""DNS names, extra DHCP options and availability zones: dns-integration,
dns-domain-ports, subnet-dns-publish-fixed-ip, extra_dhcp_opt,
availability_zone, availability_zone_filter, network_availability_zone and
network_ha. The names and options reach dnsmasq through the DHCP agents'
payload (neutrino.rpc.dhcp_handlers)."""
from __future__ import annotations

from neutrino.api import attributes as a
from neutrino.api.attributes import Attr
from neutrino.plugins.dns import api_doc, az, settings
from neutrino.plugins.dns.dhcp_opts import EXTRA_DHCP_OPTS
from neutrino.plugins.dns.names import NETWORK_DNS, PORT_DNS, PORT_DNS_DOMAIN, SUBNET_DNS
from neutrino.plugins.extend import ResourceExtension

EXTENSIONS = [
    ("dns-integration", "DNS Integration", "Provides integration with DNS."),
    ("dns-domain-ports", "dns_domain for ports",
     "Allows the DNS domain to be specified for a network port."),
    ("subnet-dns-publish-fixed-ip", "Subnet DNS publish fixed IP",
     "Support choosing to publish DNS records for IPs from a subnet"),
    ("extra_dhcp_opt", "Neutron Extra DHCP options",
     "Extra options configuration for DHCP. For example PXE boot options to DHCP clients "
     "can be specified (e.g. tftp-server, server-ip-address, bootfile-name)"),
    ("availability_zone", "Availability Zone", "The availability zone extension."),
    ("availability_zone_filter", "Availability Zone Filter Extension",
     "Add filter parameters to AvailabilityZone resource"),
    ("network_availability_zone", "Network Availability Zone",
     "Availability zone support for network."),
    ("network_ha", "Network HA creation flag", "Network high availability creation flag."),
]

# network_ha: a create-only, hidden flag (upstream's L3 HA marks its own HA
# networks with it); accepted and validated, it changes nothing else here.
NETWORK_HA = ResourceExtension(
    "networks", "network_ha",
    attrs=(Attr("ha", post=True, default=False, convert=a.to_boolean, visible=False,
                filter=False, sort=False),))

RESOURCE_EXTENSIONS = [PORT_DNS, PORT_DNS_DOMAIN, EXTRA_DHCP_OPTS, NETWORK_DNS, SUBNET_DNS,
                       az.NETWORK_AZ, NETWORK_HA]
POLICY_RULES = dict(az.POLICY_RULES)
api_doc.attribute_types()    # before the core resources' schemas are built


def install(api) -> list:
    settings.remember(api.core)
    return az.install(api)


def openapi(schemas: dict, paths: dict) -> None:
    from neutrino.plugins.dns import api_doc
    api_doc.extend(schemas, paths)

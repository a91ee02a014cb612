"""The extensions neutrino serves: GET /v2.0/extensions lists exactly these."""
from __future__ import annotations

UPDATED = "2026-11-26T00:00:00-00:00"

_EXTENSIONS = [
    ("agent", "agent", "The agent management extension."),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("empty-string-filtering", "Empty String Filtering Extension",
     "Allow filtering by attributes with empty string value"),
    ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode",
     "Extension of the router abstraction for specifying whether SNAT should occur on the "
     "external gateway"),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
    ("l3_agent_scheduler", "L3 Agent Scheduler", "Schedule routers among l3 agents"),
    ("l3-ha", "HA Router extension", "Adds HA capability to routers."),
    ("dhcp_agent_scheduler", "DHCP Agent Scheduler", "Schedule networks among dhcp agents"),
    ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 "
     "Neutron networks and access to external networks via a NAT gateway."),
    ("filter-validation", "Filter parameters validation",
     "Provides validation on filtering parameters."),
    ("ip-substring-filtering", "IP address substring filtering",
     "Provides IP address substring filtering when listing ports"),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("net-mtu-writable", "Network MTU (writable)", "Provides a writable MTU attribute for a network resource."),
    ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
    ("port-security", "Port Security", "Provides port security"),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    ("quotas", "Quota management support", "Expose functions for quotas management per project"),
    ("quota_details", "Quota details management support",
     "Expose functions for quotas usage statistics per project"),
    ("revision-if-match", "If-Match constraints based on revision_number",
     "Extension indicating that If-Match based on revision_number is supported."),
    ("security-group", "security-group", "The security groups extension."),
    ("security-groups-normalized-cidr", "Normalized CIDR field for security group rules",
     "Add new field with normalized remote_ip_prefix cidr in SG rule"),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    ("standard-attr-description", "standard-attr-description",
     "Extension to add descriptions to standard attributes"),
    ("standard-attr-revisions", "Resource revision numbers",
     "This extension will display the revision number of neutron resources."),
    ("standard-attr-tag", "Tag support for resources with standard attribute: subnet, port, "
     "network, security_group", "Enables to set tag on resources with standard attribute."),
    ("standard-attr-timestamp", "Resource timestamps",
     "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
     "standard attributes."),
    ("stateful-security-group", "Stateful security group",
     "Indicates if the security group is stateful or not"),
    ("tag-creation", "Tag creation extension", "Allow to set tags on resource creation."),
    ("fwaas_v2", "FWaaS v2", "Provides support for firewall-as-a-service version 2"),
    ("standard-attr-fwaas-v2", "Standard Attribute FWaaS v2 Extension",
     "Add standard attributes to FWaaS v2 resources"),
]


def extensions(enabled_extra: tuple[str, ...] = ()) -> list[dict]:
    from neutrino.plugins import features   # each feature lists its own aliases
    return [{"alias": alias, "name": name, "description": desc, "updated": UPDATED,
             "links": []} for alias, name, desc in [*_EXTENSIONS, *features.extensions()]]


def by_alias() -> dict[str, dict]:
    return {e["alias"]: e for e in extensions()}

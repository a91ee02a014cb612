"""Pre-provisioned tempest accounts in neutrino's embedded identity, and the
tempest.conf that points tempest at the running neutrino.

Run with neutrino's venv python (it uses neutrino.identity directly):

    provision.py accounts --config-file neutron.conf --workers 2 --out accounts.yaml
    provision.py tempest-conf --url http://127.0.0.1:PORT --accounts accounts.yaml \
        --out tempest.conf [--log-dir DIR] [--octavia-out tempest-octavia.conf]

Accounts: one admin per worker (the bootstrap admin and admin-2.. in the admin
project) and, per worker, two projects each with a member and a reader.
Members come before readers in the file: tempest gives "alt" credentials
from the first free non-admin account, which is then a member of another
project than the primary one.

--octavia-out writes a second tempest.conf for octavia-tempest-plugin (see
octavia_conf): dynamic credentials and the [load_balancer] sections.
"""
from __future__ import annotations

import argparse
import configparser
import json
import secrets
import sys
import urllib.error
import urllib.request

import yaml


def cmd_accounts(args) -> int:
    from neutrino.db import migrate
    from neutrino.db.engine import Database
    from neutrino.identity.bootstrap import bootstrap, read_admin_password
    from neutrino.identity.store import Conflict, IdentityStore
    from neutrino.service import load_server_config

    cfg = load_server_config(args.config_file)
    db = Database.from_config(cfg)
    if db.backend == "sqlite":
        migrate.upgrade(db)
    store = IdentityStore(db)
    bootstrap(cfg, store)
    admin_project = cfg.identity.admin_project
    accounts = [{"username": cfg.identity.admin_user, "project_name": admin_project,
                 "project_id": store.find("project", admin_project)["id"],
                 "password": read_admin_password(cfg), "roles": ["admin"]}]
    members, readers = [], []

    def user(name: str, project: str, role: str) -> dict:
        password = secrets.token_urlsafe(12)
        try:
            store.create_user(name, password, default_project=project)
        except Conflict:
            store.set_password(name, password)
        store.assign(name, role, project=project)
        # project_id too: tempest reads client.project_id before the first
        # token request fills it in.
        return {"username": name, "project_name": project,
                "project_id": store.find("project", project)["id"],
                "password": password, "roles": [role]}

    for w in range(1, args.workers + 1):
        if w > 1:
            accounts.append(user(f"tempest-admin-{w}", admin_project, "admin"))
        for side in ("a", "b"):
            project = f"tempest-{w}{side}"
            try:
                store.create_project(project, description="tempest pre-provisioned")
            except Conflict:
                pass
            members.append(user(f"tempest-member-{w}{side}", project, "member"))
            readers.append(user(f"tempest-reader-{w}{side}", project, "reader"))
    accounts += members + readers
    with open(args.out, "w", encoding="utf-8") as handle:
        yaml.safe_dump(accounts, handle, sort_keys=False)
    db.dispose()
    print(f"{len(accounts)} accounts in {args.out}")
    return 0


def _token(url: str, user: str, project: str, password: str) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    req = urllib.request.Request(url + "/identity/v3/auth/tokens?nocatalog",
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.headers["X-Subject-Token"]


def _post(url: str, token: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          "X-Auth-Token": token})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def _public_network(url: str, token: str) -> str | None:
    """An external flat network with a subnet, as devstack's `public`, for the
    floating IP tests (public_network_id)."""
    try:
        net = _post(url + "/v2.0/networks", token, {"network": {
            "name": "public", "router:external": True, "provider:network_type": "flat",
            "provider:physical_network": "public"}})["network"]
        _post(url + "/v2.0/subnets", token, {"subnet": {
            "network_id": net["id"], "name": "public-subnet", "ip_version": 4,
            "cidr": "172.24.4.0/24", "enable_dhcp": False}})
        return net["id"]
    except urllib.error.HTTPError as exc:
        print(f"no public network: HTTP {exc.code} {exc.read()[:200]!r}")
        return None


def _default_subnetpool(url: str, token: str) -> None:
    """A shared default IPv4 subnet pool, as devstack's
    shared-default-subnetpool-v4, for get-me-a-network
    (test_auto_allocated_topology skips without one)."""
    try:
        _post(url + "/v2.0/subnetpools", token, {"subnetpool": {
            "name": "shared-default-subnetpool-v4", "prefixes": ["10.0.0.0/16"],
            "default_prefixlen": 26, "shared": True, "is_default": True}})
    except urllib.error.HTTPError as exc:
        print(f"no default subnet pool: HTTP {exc.code} {exc.read()[:200]!r}")


def _get(url: str, token: str) -> dict:
    req = urllib.request.Request(url, headers={"X-Auth-Token": token})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def _endpoint(url: str, token: str, service_type: str) -> str | None:
    """The public URL of `service_type` in the embedded identity's catalog."""
    for service in _get(url + "/identity/v3/auth/catalog", token)["catalog"]:
        if service["type"] == service_type:
            for ep in service["endpoints"]:
                if ep["interface"] == "public":
                    return ep["url"].rstrip("/")
    return None


def octavia_conf(conf: configparser.ConfigParser, url: str, token: str) -> str:
    """Turn the network tempest.conf into octavia-tempest-plugin's; returns a
    line saying what was found.

    - Dynamic credentials: the plugin's RBAC tests expect each of its users
      (admin, lb_admin, lb_member, lb_member2, lb_observer, lb_global_observer,
      plus a not-member it makes itself) in a project of its own, as Octavia's
      gate runs it; the embedded identity's admin API creates them.
    - nova/glance "available": the plugin's base class skips every test
      unless compute and image are there (it assumes amphora VMs) or
      test_with_noop is set; its API tests (tests/api/v2) never call either,
      and no-op mode would send random network ids that a real Neutron API
      rejects. Only this conf says so; the network selections keep nova off.
    - RBAC_test_type keystone_default_roles: neutrino's Octavia policy is
      admin / project member (owner) / project reader, no load-balancer_* roles.
    - What the provider serves: HTTP, HTTPS (pass-through), TCP, PROXY pools;
      no TERMINATED_HTTPS (no barbican), no PROMETHEUS listener, no log
      offload, no spare pool; health monitors, L7, session persistence yes.
    """
    lb_url = _endpoint(url, token, "load-balancer")
    provider, providers = "", {}
    if lb_url:
        try:
            listed = _get(lb_url + "/v2/lbaas/providers", token).get("providers", [])
            providers = {p["name"]: p.get("description") or p["name"] for p in listed}
            provider = next(iter(providers), "")
        except urllib.error.HTTPError as exc:
            print(f"no provider list: HTTP {exc.code}")
    auth = conf["auth"]
    auth["use_dynamic_credentials"] = "true"
    auth.pop("test_accounts_file", None)
    conf["service_available"].update({"load_balancer": "true" if lb_url else "false",
                                      "nova": "true", "glance": "true"})
    conf["load_balancer"] = {
        "region": "RegionOne", "catalog_type": "load-balancer", "endpoint_type": "public",
        "provider": provider or "octavia",
        "enabled_provider_drivers": ",".join(f"{k}:{v.replace(',', ' ')}"
                                             for k, v in providers.items()),
        "RBAC_test_type": "keystone_default_roles",
        "test_with_noop": "false", "test_with_ipv6": "true",
        # no subnet pools in neutrino: the IPv6 VIP subnet gets vip_ipv6_subnet_cidr
        "default_ipv6_subnetpool": "",
        "loadbalancer_topology": "SINGLE",
        # the agent applies in well under a second: poll often, fail in minutes
        "build_interval": "1", "build_timeout": "60",
        "lb_build_interval": "1", "lb_build_timeout": "120",
        "check_interval": "1", "check_timeout": "60",
        "log_user_roles": "false",
    }
    conf["loadbalancer-feature-enabled"] = {
        "not_implemented_is_error": "true",
        "health_monitor_enabled": "true",
        "terminated_tls_enabled": "false",
        "l7_protocol_enabled": "true",
        "pool_algorithms_enabled": "true",
        "l4_protocol": "TCP",
        "session_persistence_enabled": "true",
        "spare_pool_enabled": "false",
        "log_offload_enabled": "false",
        "prometheus_listener_enabled": "false",
    }
    conf["enforce_scope"] = {"octavia": "false"}
    return f"load-balancer endpoint {lb_url or 'missing'}, providers {sorted(providers)}"


def cmd_tempest_conf(args) -> int:
    url = args.url.rstrip("/")
    with open(args.accounts, encoding="utf-8") as handle:
        admin = next(a for a in yaml.safe_load(handle) if "admin" in a["roles"])
    token = _token(url, admin["username"], admin["project_name"], admin["password"])
    req = urllib.request.Request(url + "/v2.0/extensions", headers={"X-Auth-Token": token})
    with urllib.request.urlopen(req, timeout=30) as resp:
        aliases = sorted(e["alias"] for e in json.load(resp)["extensions"])

    public = _public_network(url, token) if "external-net" in aliases else None
    if "auto-allocated-topology" in aliases and "default-subnetpools" in aliases:
        _default_subnetpool(url, token)

    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str
    conf.read_dict({
        "DEFAULT": {"debug": "false", "log_dir": args.log_dir or ".",
                    "log_file": "tempest.log", "use_stderr": "false"},
        # Classes with force_tenant_isolation (the *SearchCriteria* ones) make
        # dynamic credentials anyway, through the identity admin API.
        "auth": {"use_dynamic_credentials": "false",
                 "admin_username": admin["username"], "admin_password": admin["password"],
                 "admin_project_name": admin["project_name"], "admin_domain_name": "Default",
                 "test_accounts_file": args.accounts,
                 "create_isolated_networks": "false",
                 "default_credentials_domain_name": "Default",
                 "admin_domain_scope": "false",
                 "tempest_roles": ""},
        "identity": {"uri_v3": url + "/identity/v3", "auth_version": "v3",
                     "region": "RegionOne", "v3_endpoint_type": "public",
                     "disable_ssl_certificate_validation": "true"},
        "identity-feature-enabled": {"api_v2": "false", "api_v3": "true"},
        "network": {"catalog_type": "network", "region": "RegionOne",
                    "endpoint_type": "public",
                    "project_network_cidr": "10.100.0.0/16",
                    "project_network_mask_bits": "28",
                    "project_network_v6_cidr": "2001:db8::/48",
                    "project_network_v6_mask_bits": "64",
                    "project_networks_reachable": "false",
                    "shared_physical_network": "false",
                    "build_timeout": "60", "build_interval": "1"},
        "network-feature-enabled": {"api_extensions": ",".join(aliases),
                                    "ipv6": "true", "ipv6_subnet_attributes": "true",
                                    "port_security": "true",
                                    "port_admin_state_change": "true"},
        "neutron_plugin_options": {"available_type_drivers": "local,flat,vlan,vxlan",
                                   "provider_vlans": "physnet1",
                                   "max_mtu": "1500",
                                   "firewall_driver": "iptables_hybrid",
                                   "specify_floating_ip_address_available": "true",
                                   # every DHCP and L3 agent reports the default zone
                                   "agent_availability_zone": "nova",
                                   # admins may share QoS policies (only test_qos reads it)
                                   "create_shared_resources": "true"},
        "service_available": {"neutron": "true", "nova": "false", "glance": "false",
                              "cinder": "false", "swift": "false", "horizon": "false",
                              "keystone": "true"},
        "validation": {"run_validation": "false"},
        "compute-feature-enabled": {"scheduler_enabled_filters": ""},
        "oslo_concurrency": {"lock_path": args.lock_dir or "."},
        # only neutron_tempest_plugin.fwaas.scenario reads it (not run: no compute)
        "fwaas": {"driver": "iptables_v2"},
    })
    if public:
        conf["network"]["public_network_id"] = public
        conf["network"]["floating_network_name"] = "public"
    with open(args.out, "w", encoding="utf-8") as handle:
        conf.write(handle)
    print(f"tempest.conf: {len(aliases)} extensions enabled")
    if args.octavia_out:
        found = octavia_conf(conf, url, token)
        with open(args.octavia_out, "w", encoding="utf-8") as handle:
            conf.write(handle)
        print(f"{args.octavia_out}: {found}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="provision.py")
    sub = parser.add_subparsers(dest="cmd", required=True)
    acc = sub.add_parser("accounts")
    acc.add_argument("--config-file", action="append", required=True)
    acc.add_argument("--workers", type=int, default=2)
    acc.add_argument("--out", required=True)
    acc.set_defaults(func=cmd_accounts)
    tc = sub.add_parser("tempest-conf")
    tc.add_argument("--url", required=True)
    tc.add_argument("--accounts", required=True)
    tc.add_argument("--out", required=True)
    tc.add_argument("--log-dir")
    tc.add_argument("--lock-dir")
    tc.add_argument("--octavia-out", help="also write octavia-tempest-plugin's tempest.conf")
    tc.set_defaults(func=cmd_tempest_conf)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

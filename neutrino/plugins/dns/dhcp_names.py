"""What the DHCP agents get of this feature: per port its dns_assignment
(hostname and FQDN per address, as the API shows it) and its
extra_dhcp_opts, added to get_dhcp_state's ports in two queries."""
from __future__ import annotations

from neutrino.plugins.dns import settings
from neutrino.plugins.dns.dhcp_opts import opts_of
from neutrino.plugins.dns.names import assignment, port_dns_rows

remember = settings.remember


def add_names_and_options(conn, ports: dict[str, dict]) -> None:
    """`ports`: {id: wire port with fixed_ips}; sets dns_assignment and
    extra_dhcp_opts on each."""
    ids = list(ports)
    if not ids:
        return
    domain = settings.dns_domain(conn)
    names = port_dns_rows(conn, ids) if settings.names_enabled(domain) else {}
    opts = opts_of(conn, ids)
    for pid, port in ports.items():
        port["dns_assignment"] = assignment(port["fixed_ips"], names.get(pid, ("", ""))[0],
                                            domain)
        port["extra_dhcp_opts"] = opts.get(pid, [])

"""dnsmasq for one network: its files and command line (SEED-SPEC §4).

    <state_path>/dhcp/<network-id>/{host,addn_hosts,opts,leases,pid}

Static leases only: every `--dhcp-range` is `static`, so dnsmasq answers
only the MACs listed in the host file, with the address the API chose.
The host and opts files are re-read on SIGHUP; the command line changes
(and dnsmasq must restart) only when the set of DHCP subnets, the MTU,
the interface or the global options change.

Everything here is pure (text in, text out) except `DnsmasqProcess`, a thin
wrapper over neutrino.dataplane.process.Daemon.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from neutrino.dataplane.process import Daemon

LEASE_TIME = "86400s"
DHCPV6_STATEFUL, DHCPV6_STATELESS, SLAAC = "dhcpv6-stateful", "dhcpv6-stateless", "slaac"
FILES = ("host", "addn_hosts", "opts", "leases", "pid")


@dataclass(frozen=True)
class Subnet:
    id: str
    cidr: str
    ip_version: int = 4
    gateway_ip: str | None = None
    enable_dhcp: bool = True
    ipv6_address_mode: str | None = None
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[tuple[str, str], ...] = ()     # (destination, nexthop)

    @property
    def served(self) -> bool:
        """dnsmasq has a range for it (SLAAC-only v6 subnets are left to RAs)."""
        return self.enable_dhcp and not (self.ip_version == 6
                                         and self.ipv6_address_mode == SLAAC)

    @property
    def tag(self) -> str:
        return f"subnet-{self.id}"


@dataclass(frozen=True)
class Port:
    id: str
    mac_address: str
    fixed_ips: tuple[tuple[str, str], ...]            # (subnet_id, ip_address)
    device_owner: str = ""
    # dns_assignment from the server: (ip_address, hostname, fqdn)
    names: tuple[tuple[str, str, str], ...] = ()
    # extra_dhcp_opts: (opt_name, opt_value, ip_version)
    options: tuple[tuple[str, str, int], ...] = ()

    @property
    def tag(self) -> str:
        return f"port-{self.id}"

    def name_of(self, ip: str, domain: str) -> tuple[str, str]:
        """(hostname, FQDN without its dot) of one address: the server's
        dns_assignment, else host-<address> in the agent's domain."""
        for addr, host, fqdn in self.names:
            if addr == ip:
                return host.rstrip("."), fqdn.rstrip(".")
        return hostname(ip), f"{hostname(ip)}.{domain}"


@dataclass(frozen=True)
class DhcpNetwork:
    id: str
    mtu: int
    subnets: tuple[Subnet, ...]
    ports: tuple[Port, ...] = ()

    @property
    def dhcp_subnets(self) -> tuple[Subnet, ...]:
        return tuple(s for s in self.subnets if s.served)


@dataclass(frozen=True)
class DnsmasqConf:
    """The agent-wide options that end up on every command line."""
    state_path: str
    domain: str = "openstacklocal"
    dns_servers: tuple[str, ...] = ()
    lease_max: int = 16777216
    binary: str = "dnsmasq"
    extra: tuple[str, ...] = field(default_factory=tuple)

    def network_dir(self, network_id: str) -> Path:
        return Path(self.state_path) / "dhcp" / network_id

    def path(self, network_id: str, name: str) -> str:
        return str(self.network_dir(network_id) / name)


def hostname(ip: str) -> str:
    return "host-" + ip.replace(".", "-").replace(":", "-")


def _ip_for_file(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def host_file(net: DhcpNetwork, conf: DnsmasqConf) -> str:
    """`mac[,set:port-<id>],<fqdn>,ip` per (port, address in a served
    subnet): the name is the port's dns_assignment (host-a-b-c-d.<domain>
    without one); the tag, for ports with extra DHCP options, selects their
    lines in the opts file. DHCPv6-stateless subnets list the MAC without an
    address (options only)."""
    by_id = {s.id: s for s in net.dhcp_subnets}
    lines = []
    for port in sorted(net.ports, key=lambda p: p.id):
        tag = f"set:{port.tag}," if port.options else ""
        for subnet_id, ip in port.fixed_ips:
            subnet = by_id.get(subnet_id)
            if subnet is None:
                continue
            name = port.name_of(ip, conf.domain)[1]
            if subnet.ip_version == 6 and subnet.ipv6_address_mode == DHCPV6_STATELESS:
                lines.append(f"{port.mac_address},{tag}{name}")
            else:
                lines.append(f"{port.mac_address},{tag}{name},{_ip_for_file(ip)}")
    return "".join(line + "\n" for line in lines)


def addn_hosts_file(net: DhcpNetwork, conf: DnsmasqConf) -> str:
    """DNS names of the ports (FQDN and hostname), so instances resolve
    each other by the names the API shows in dns_assignment."""
    served = {s.id for s in net.dhcp_subnets}
    lines = []
    for port in sorted(net.ports, key=lambda p: p.id):
        for subnet_id, ip in port.fixed_ips:
            if subnet_id in served:
                host, fqdn = port.name_of(ip, conf.domain)
                lines.append(f"{ip}\t{fqdn} {host}" if fqdn != host else f"{ip}\t{fqdn}")
    return "".join(line + "\n" for line in lines)


def port_option_lines(net: DhcpNetwork) -> list[str]:
    """extra_dhcp_opts: `tag:port-<id>,option:<name>,<value>` (a numeric
    IPv4 option goes by its number, IPv6 ones as option6:, as upstream)."""
    lines = []
    for port in sorted(net.ports, key=lambda p: p.id):
        for name, value, version in port.options:
            if version == 6:
                option = f"option6:{name}"
            else:
                option = name if name.isdigit() else f"option:{name}"
            lines.append(f"tag:{port.tag},{option},{value}")
    return lines


def all_dhcp_ips(net: DhcpNetwork) -> dict[str, list[str]]:
    """IPv4 addresses of every DHCP port of the network, per subnet, in
    port order."""
    out: dict[str, list[str]] = {}
    for port in sorted(net.ports, key=lambda p: p.id):
        if port.device_owner == "network:dhcp":
            for sid, ip in port.fixed_ips:
                if ":" not in ip:
                    out.setdefault(sid, []).append(ip)
    return out


def opts_file(net: DhcpNetwork, dhcp_port: Port | None) -> str:
    """Per-subnet options: router, DNS servers, host routes (RFC 3442 and
    the legacy MS option 249, as upstream writes both)."""
    lines = []
    dhcp_ips = {sid: ip for sid, ip in (dhcp_port.fixed_ips if dhcp_port else ())}
    # Several DHCP agents on the network (dhcp_agents_per_network > 1): each
    # dnsmasq names all of them as DNS servers, as upstream's agent does.
    for sid, ips in all_dhcp_ips(net).items():
        if len(ips) > 1 and sid in dhcp_ips:
            dhcp_ips[sid] = ",".join(ips)
    for s in net.dhcp_subnets:
        tag = f"tag:{s.tag}"
        if s.ip_version == 4:
            routes = [(d, n) for d, n in s.host_routes]
            if s.gateway_ip:
                lines.append(f"{tag},option:router,{s.gateway_ip}")
                routes.append(("0.0.0.0/0", s.gateway_ip))
            else:
                lines.append(f"{tag},option:router")   # no gateway: send none
            if s.dns_nameservers:
                lines.append(f"{tag},option:dns-server,{','.join(s.dns_nameservers)}")
            elif s.id in dhcp_ips:
                lines.append(f"{tag},option:dns-server,{dhcp_ips[s.id]}")
            if s.host_routes:
                text = ",".join(f"{d},{n}" for d, n in routes)
                lines.append(f"{tag},option:classless-static-route,{text}")
                lines.append(f"{tag},249,{text}")
        elif s.dns_nameservers:
            servers = ",".join(f"[{a}]" for a in s.dns_nameservers)
            lines.append(f"{tag},option6:dns-server,{servers}")
    lines += port_option_lines(net)
    return "".join(line + "\n" for line in lines)


def _range(s: Subnet) -> str:
    cidr = ipaddress.ip_network(s.cidr, strict=False)
    if s.ip_version == 4:
        return f"--dhcp-range=set:{s.tag},{cidr.network_address},static,{cidr.netmask},{LEASE_TIME}"
    return f"--dhcp-range=set:{s.tag},{cidr.network_address},static,{cidr.prefixlen},{LEASE_TIME}"


def argv(net: DhcpNetwork, conf: DnsmasqConf, interface: str) -> list[str]:
    """The seed's command line, plus what a foreground, supervised dnsmasq needs."""
    p = lambda name: conf.path(net.id, name)  # noqa: E731
    args = [conf.binary, "--no-hosts", "--keep-in-foreground",
            f"--pid-file={p('pid')}", f"--dhcp-hostsfile={p('host')}",
            f"--addn-hosts={p('addn_hosts')}", f"--dhcp-optsfile={p('opts')}",
            f"--dhcp-leasefile={p('leases')}", "--dhcp-match=set:ipxe,175",
            "--local-service", "--bind-dynamic", f"--interface={interface}",
            # root: the host and opts files live in a root-only state dir
            # and are re-read after SIGHUP, when dnsmasq would be `nobody`.
            "--user=root", "--group=root"]
    args += [_range(s) for s in net.dhcp_subnets]
    if any(s.ip_version == 6 for s in net.dhcp_subnets):
        args.append("--enable-ra")
    args.append(f"--dhcp-option-force=option:mtu,{net.mtu}")
    args.append(f"--dhcp-lease-max={conf.lease_max}")
    if conf.dns_servers:
        args.append("--no-resolv")
        args += [f"--server={s}" for s in conf.dns_servers]
    args += ["--conf-file=", f"--domain={conf.domain}", *conf.extra]
    return args


def files(net: DhcpNetwork, conf: DnsmasqConf, dhcp_port: Port | None) -> dict[str, str]:
    return {"host": host_file(net, conf), "addn_hosts": addn_hosts_file(net, conf),
            "opts": opts_file(net, dhcp_port)}


def write_if_changed(path: str | os.PathLike[str], text: str) -> bool:
    """Atomic replace; False (nothing written) if the content is the same."""
    path = Path(path)
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


def pids_with(marker: str) -> list[int]:
    """PIDs of live dnsmasq processes whose command line contains `marker`
    (a state directory path: unique to one agent, or one network)."""
    from neutrino.dataplane.process import pid_cmdline
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:    # comm first: one short read per process, argv only for dnsmasq
                if Path(f"/proc/{entry}/comm").read_text().strip() != "dnsmasq":
                    continue
            except OSError:
                continue
            argv = pid_cmdline(int(entry))
            if argv and argv[0].endswith("dnsmasq") and any(marker in a for a in argv):
                found.append(int(entry))
    return sorted(found)


def stop_strays(marker: str, keep: int | None = None, timeout: float = 5.0) -> list[int]:
    """SIGTERM (then SIGKILL) every dnsmasq matching `marker` except `keep`:
    a dnsmasq whose pid file was lost (a start that timed out, a crash
    between spawn and pid file) must not live on unsupervised."""
    import signal
    import time
    strays = [pid for pid in pids_with(marker) if pid != keep]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in strays:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(p in pids_with(marker) for p in strays):
            time.sleep(0.05)
        if not any(p in pids_with(marker) for p in strays):
            break
    return strays


class DnsmasqProcess(Daemon):
    """The supervised dnsmasq of one network, recognised by its pid file
    path (unique per network) in its command line. dnsmasq writes the pid
    file itself (--pid-file, even in the foreground): the supervisor writing
    it too raced with dnsmasq and made it exit 3 now and then."""

    def __init__(self, conf: DnsmasqConf, network_id: str, argv_: list[str] | None = None,
                 netns: str | None = None):
        pidfile = conf.path(network_id, "pid")
        super().__init__(argv_ or [conf.binary], pidfile, netns=netns,
                         cmdline_match=f"--pid-file={pidfile}",
                         log_file=conf.path(network_id, "dnsmasq.log"),
                         writes_own_pidfile=True)

    def cmdline(self) -> list[str] | None:
        from neutrino.dataplane.process import pid_cmdline
        pid = self.pid
        return pid_cmdline(pid) if pid else None

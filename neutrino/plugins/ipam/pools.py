"""Pure subnet arithmetic: CIDR parsing, default gateway and allocation
pools, and Neutron's validity checks. No database, no I/O."""
from __future__ import annotations

import ipaddress
from typing import Iterable

from neutrino.api import faults

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
Addr = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_cidr(cidr, ip_version: int) -> Net:
    if not isinstance(cidr, str):
        raise faults.invalid_input(f"{cidr} is not in a CIDR format")
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise faults.invalid_input(f"{cidr} is not in a CIDR format") from None
    if "/" not in cidr:
        raise faults.invalid_input(f"{cidr} is not in a CIDR format")
    # neutron-lib's validate_subnet wants IPv4 in its canonical text; IPv6
    # may be written any way (leading zeros, :: or not) and is stored canonical.
    if (net.version == 4 and str(net) != cidr.strip().lower()
            and str(net.network_address) != cidr.split("/")[0]):
        raise faults.HTTPBadRequest(
            f"Invalid input for cidr. Reason: '{cidr}' isn't a recognized IP subnet cidr, "
            f"'{net}' is recommended.")
    if net.version != ip_version:
        raise faults.invalid_input(
            f"Cidr {cidr} does not match ip_version {ip_version}")
    if net.prefixlen == 0:
        raise faults.invalid_input(f"{cidr} is not a valid subnet: a /0 prefix is not allowed")
    return net


def usable_range(net: Net) -> tuple[int, int]:
    """First and last address a port may get: IPv4 excludes network and
    broadcast (except /31 and /32); IPv6 excludes the subnet-router anycast."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 4:
        if net.prefixlen >= 31:
            return first, last
        return first + 1, last - 1
    if net.prefixlen == 128:
        return first, last
    return first + 1, last


def default_gateway(net: Net) -> str | None:
    lo, hi = usable_range(net)
    return str(ipaddress.ip_address(lo)) if lo <= hi else None


def subtract(ranges: list[tuple[int, int]], point: int) -> list[tuple[int, int]]:
    out = []
    for lo, hi in ranges:
        if lo <= point <= hi:
            if lo < point:
                out.append((lo, point - 1))
            if point < hi:
                out.append((point + 1, hi))
        else:
            out.append((lo, hi))
    return out


def default_pools(net: Net, gateway: str | None) -> list[tuple[int, int]]:
    lo, hi = usable_range(net)
    ranges = [(lo, hi)] if lo <= hi else []
    if gateway:
        ranges = subtract(ranges, int(ipaddress.ip_address(gateway)))
    return ranges


def as_dicts(net: Net, ranges: Iterable[tuple[int, int]]) -> list[dict]:
    cls = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
    return [{"start": str(cls(lo)), "end": str(cls(hi))} for lo, hi in ranges]


def check_gateway(net: Net, gateway) -> str | None:
    if gateway is None:
        return None
    try:
        addr = ipaddress.ip_address(gateway)
    except (ValueError, TypeError):
        raise faults.HTTPBadRequest(
            f"Invalid input for gateway_ip. Reason: '{gateway}' is not a valid IP address.")
    if addr.version != net.version:
        raise faults.invalid_input(f"Gateway IP version inconsistent with allocation pool version")
    if addr in net and net.version == 4 and net.prefixlen < 31 and (
            addr == net.network_address or addr == net.broadcast_address):
        raise faults.invalid_input(f"Gateway is not valid on subnet")
    if net.version == 6 and addr == net.network_address and net.prefixlen < 127:
        raise faults.invalid_input(f"Gateway is not valid on subnet")
    return str(addr)


def check_pools(net: Net, pools: list[dict], gateway: str | None) -> list[tuple[int, int]]:
    """Validate user-given pools; return them as sorted int ranges."""
    lo_ok, hi_ok = usable_range(net)
    ranges = []
    for pool in pools:
        start, end = pool.get("start"), pool.get("end")
        text = f"{start}-{end}"
        try:
            a, b = ipaddress.ip_address(start), ipaddress.ip_address(end)
        except (ValueError, TypeError):
            raise faults.InvalidAllocationPool(pool=text) from None
        if a.version != net.version or b.version != net.version or int(a) > int(b):
            raise faults.InvalidAllocationPool(pool=text)
        if a not in net or b not in net or int(a) < lo_ok or int(b) > hi_ok:
            raise faults.OutOfBoundsAllocationPool(pool=text, subnet_cidr=str(net))
        ranges.append((int(a), int(b), text))
    ranges.sort()
    for (a1, b1, t1), (a2, b2, t2) in zip(ranges, ranges[1:]):
        if a2 <= b1:
            raise faults.OverlappingAllocationPools(pool_1=t1, pool_2=t2, subnet_cidr=str(net))
    if gateway:
        g = int(ipaddress.ip_address(gateway))
        for lo, hi, text in ranges:
            if lo <= g <= hi:
                raise faults.GatewayConflictWithAllocationPools(ip_address=gateway, pool=text)
    return [(lo, hi) for lo, hi, _ in ranges]


def check_host_routes(net: Net, routes: list[dict], limit: int,
                      subnet_id: str = "new subnet") -> list[dict]:
    if len(routes) > limit:
        raise faults.HostRoutesExhausted(subnet_id=subnet_id, quota=limit)
    out = []
    for route in routes:
        try:
            dest = ipaddress.ip_network(route.get("destination"), strict=True)
            hop = ipaddress.ip_address(route.get("nexthop"))
        except (ValueError, TypeError):
            raise faults.invalid_input(f"Invalid route {route}") from None
        if dest.version != net.version or hop.version != net.version:
            raise faults.invalid_input(f"Host route {route} does not match ip_version {net.version}")
        item = {"destination": str(dest), "nexthop": str(hop)}
        if item in out:
            raise faults.invalid_input(f"Duplicate hostroute '{route}'")
        out.append(item)
    return out


def check_ipv6_modes(ip_version: int, ra_mode, address_mode, net: Net,
                     enable_dhcp: bool = True) -> None:
    # Worded as neutron's _validate_subnet / _validate_ipv6_dhcp.
    if ip_version == 4:
        for name, value in (("ipv6_ra_mode", ra_mode), ("ipv6_address_mode", address_mode)):
            if value:
                raise faults.invalid_input(f"{name} is not valid when ip_version is 4")
        return
    if (ra_mode or address_mode) and not enable_dhcp:
        raise faults.invalid_input("ipv6_ra_mode or ipv6_address_mode cannot be set when "
                                   "enable_dhcp is set to False")
    if ra_mode and address_mode and ra_mode != address_mode:
        raise faults.invalid_input(
            f"ipv6_ra_mode set to '{ra_mode}' with ipv6_address_mode set to '{address_mode}' "
            "is not valid. If both attributes are set, they must be the same value")
    if "slaac" in (ra_mode, address_mode) or "dhcpv6-stateless" in (ra_mode, address_mode):
        if net.prefixlen != 64:
            raise faults.invalid_input(
                f"Invalid CIDR {net} for IPv6 address mode. OpenStack uses the EUI-64 address "
                "format, which requires the prefix to be /64")


def is_auto_address(subnet: dict) -> bool:
    """SLAAC/stateless v6 subnets: addresses derived from the MAC (EUI-64)."""
    return subnet["ip_version"] == 6 and subnet.get("ipv6_address_mode") in (
        "slaac", "dhcpv6-stateless")


def eui64(cidr: str, mac: str) -> str:
    net = ipaddress.ip_network(cidr)
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    iid = octets[:3] + [0xFF, 0xFE] + octets[3:]
    value = int(net.network_address) | int.from_bytes(bytes(iid), "big")
    return str(ipaddress.IPv6Address(value))

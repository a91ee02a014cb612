"""Pure input validators with neutron-lib's semantics and wording.

Each returns None when the value is acceptable, else the reason as upstream
words it ("'x' is not a valid IP address"). They are shared by the API
(neutrino.api.attributes turns reasons into 400s) and by the agents, which
check what they read back from the server with the same rules before they
render anything from it. No I/O, no imports from the server.
"""
from __future__ import annotations

import ipaddress
import re
import unicodedata
import uuid
from typing import Any

# Largest values the database's integer columns hold.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

TRUE_STRINGS = ("1", "t", "true", "on", "y", "yes")     # oslo strutils, strict
FALSE_STRINGS = ("0", "f", "false", "off", "n", "no")

_MAC_RE = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
INVALID_MACS = ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff")


# --- strings -----------------------------------------------------------------

def nul_path(value: Any, where: str = "") -> str | None:
    """Where in a decoded JSON value (keys included) a NUL character sits,
    or None. PostgreSQL cannot store one in a text column."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return key
            found = nul_path(item, str(key))     # the innermost key names it
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = nul_path(item, where)
            if found is not None:
                return found
    return None


def shown(value: Any, limit: int | None = None) -> str:
    """A value as a reason quotes it (whole, as upstream's), NULs visible;
    `limit` cuts it for log lines."""
    text = str(value).replace("\x00", "\\x00")
    return text if limit is None or len(text) <= limit else text[:limit] + "..."


def validate_string(data: Any, max_len: int | None = None) -> str | None:
    if not isinstance(data, str):
        return f"'{shown(data)}' is not a valid string"
    if "\x00" in data:
        return f"'{shown(data)}' contains a NUL character"
    if max_len is not None and len(data) > max_len:
        return f"'{shown(data)}' exceeds maximum length of {max_len}"
    return None


def validate_string_or_none(data: Any, max_len: int | None = None) -> str | None:
    return None if data is None else validate_string(data, max_len)


def _printable(char: str) -> bool:
    category = unicodedata.category(char)
    return not category.startswith("C") and (not category.startswith("Z") or category == "Zs")


def validate_name_string(data: Any, max_len: int | None = None) -> str | None:
    """type:name_string: printable characters only, no leading or trailing
    whitespace (neutron-lib's valid_name_regex)."""
    reason = validate_string(data, max_len)
    if reason:
        return reason
    if data and (not all(_printable(c) for c in data)
                 or unicodedata.category(data[0]) == "Zs"
                 or unicodedata.category(data[-1]) == "Zs"):
        return f"'{shown(data)}' is not a valid string"
    return None


def validate_list_of_unique_strings(data: Any, max_len: int | None = None) -> str | None:
    if not isinstance(data, list):
        return f"'{shown(data)}' is not a list"
    dups = duplicates(data)
    if dups:
        return "Duplicate items in the list: '%s'" % ", ".join(shown(d) for d in dups)
    for item in data:
        reason = validate_string(item, max_len)
        if reason:
            return reason
    return None


def duplicates(items: list) -> list:
    """Items that occur more than once, in order; linear for hashable items
    (a body may carry tens of thousands)."""
    seen: set = set()
    seen_other: list = []          # unhashable items (dicts, lists): compared one by one
    dups: list = []
    for item in items:
        try:
            again = item in seen
            seen.add(item)
        except TypeError:
            again = item in seen_other
            seen_other.append(item)
        if again and item not in dups:
            dups.append(item)
    return dups


# --- booleans and integers -------------------------------------------------------

def boolean_value(data: Any) -> bool | None:
    """oslo's strict bool_from_string: the boolean `data` stands for, or None."""
    if isinstance(data, bool):
        return data
    text = str(data).strip().lower()
    if text in TRUE_STRINGS:
        return True
    if text in FALSE_STRINGS:
        return False
    return None


def validate_boolean(data: Any) -> str | None:
    return None if boolean_value(data) is not None else \
        f"'{shown(data)}' is not a valid boolean value"


def validate_range(data: Any, lo: int | None, hi: int | None) -> str | None:
    if isinstance(data, bool) or not isinstance(data, int):
        return f"'{shown(data)}' is not an integer"
    if lo is not None and data < lo:
        return f"'{data}' is too small - must be at least '{lo}'"
    if hi is not None and data > hi:
        return f"'{shown(data)}' is too large - must be no larger than '{hi}'"
    return None


def validate_non_negative(data: Any, hi: int | None = INT32_MAX) -> str | None:
    if isinstance(data, bool) or not isinstance(data, int):
        return f"'{shown(data)}' is not an integer"
    if data < 0:
        return f"'{data}' should be non-negative"
    if hi is not None and data > hi:
        return f"'{shown(data)}' is too large - must be no larger than '{hi}'"
    return None


def validate_port_number(data: Any) -> str | None:
    """A TCP/UDP port or ICMP type/code as stored: an int 0..65535."""
    if isinstance(data, bool) or not isinstance(data, int) or not 0 <= data <= 65535:
        return f"Invalid value for port {shown(data)}"
    return None


# --- identifiers -------------------------------------------------------------------

def is_uuid_like(data: Any) -> bool:
    if not isinstance(data, str):
        return False
    try:
        uuid.UUID(data)
    except ValueError:
        return False
    return True


def validate_uuid(data: Any) -> str | None:
    return None if is_uuid_like(data) else f"'{shown(data)}' is not a valid UUID"


def validate_uuid_or_none(data: Any) -> str | None:
    return None if data is None else validate_uuid(data)


def validate_uuid_list(data: Any) -> str | None:
    if not isinstance(data, list):
        return f"'{shown(data)}' is not a list"
    dups = duplicates(data)
    if dups:
        return "Duplicate items in the list: '%s'" % ", ".join(shown(d) for d in dups)
    for item in data:
        reason = validate_uuid(item)
        if reason:
            return reason
    return None


def validate_values(data: Any, allowed) -> str | None:
    try:
        ok = data in allowed
    except TypeError:           # an unhashable value against a set
        ok = False
    return None if ok else f"{shown(data)} is not in valid_values"


# --- MAC and IP addresses --------------------------------------------------------------

def validate_mac_address(data: Any) -> str | None:
    """A unicast MAC, other than all zeros, in the form xx:xx:xx:xx:xx:xx."""
    if isinstance(data, str) and _MAC_RE.fullmatch(data.lower()):
        value = data.lower()
        if value not in INVALID_MACS and not int(value[:2], 16) & 1:
            return None
    return f"'{shown(data)}' is not a valid MAC address"


def validate_ip_address(data: Any) -> str | None:
    """An IPv4 dotted quad in canonical form or an IPv6 address; no
    whitespace, no zone index."""
    if not isinstance(data, str) or not data or any(c.isspace() for c in data) or "%" in data:
        return f"'{shown(data)}' is not a valid IP address"
    if ":" not in data:          # IPv4, without ipaddress (agents check thousands)
        parts = data.split(".")
        if len(parts) != 4 or not all(p.isdigit() and p.isascii() and len(p) <= 3
                                      and int(p) <= 255 for p in parts):
            return f"'{shown(data)}' is not a valid IP address"
        canonical = ".".join(str(int(p)) for p in parts)      # netaddr's ZEROFILL
        if canonical != data:
            return f"'{data}' is not an accepted IP address, '{canonical}' is recommended"
        return None
    try:
        ipaddress.IPv6Address(data)
    except ValueError:
        return f"'{shown(data)}' is not a valid IP address"
    return None


def validate_ip_address_or_none(data: Any) -> str | None:
    return None if data is None else validate_ip_address(data)


def _interface(data: Any):
    if not isinstance(data, str) or "/" not in data or any(c.isspace() for c in data) \
            or "%" in data:
        raise ValueError
    address, length = data.split("/", 1)
    if not length.isdigit() or not length.isascii() or (len(length) > 1 and length[0] == "0"):
        raise ValueError
    return ipaddress.ip_interface(f"{address}/{int(length)}")


def validate_subnet(data: Any) -> str | None:
    """type:subnet: address/length (host bits allowed), IPv4 in canonical form."""
    if isinstance(data, str) and ":" not in data and "/" in data:     # IPv4: no ipaddress
        address, length = data.split("/", 1)
        if (validate_ip_address(address) is None and length.isdigit() and length.isascii()
                and int(length) <= 32 and str(int(length)) == length):
            return None
        return f"'{shown(data)}' is not a valid IP subnet"
    try:
        iface = _interface(data)
    except ValueError:
        return f"'{shown(data)}' is not a valid IP subnet"
    if iface.version == 4 and f"{iface.ip}/{iface.network.prefixlen}" != data:
        return f"'{shown(data)}' is not a valid IP subnet"
    return None


def validate_route_cidr(data: Any) -> str | None:
    """type:route_cidr (a host route or extra route destination)."""
    try:
        iface = _interface(data)
    except ValueError:
        return f"'{shown(data)}' is not a valid CIDR"
    if iface.ip != iface.network.network_address:
        return f"'{shown(data)}' is not a valid CIDR"
    if iface.network.is_loopback:
        return f"'{shown(data)}' is not a routable CIDR"
    return None


def validate_ip_or_subnet(data: Any) -> str | None:
    """An address pair's ip_address: an address, or a subnet when it has a
    length; never multicast."""
    if isinstance(data, str) and "/" in data:
        reason = validate_subnet(data)
        if reason:
            return reason
        address, length = data.split("/", 1)
        if ":" not in data:
            first, bits = int(address.split(".", 1)[0]), int(length)
            # overlaps 224.0.0.0/4: the first 4 bits (or all of a shorter prefix) match
            if bits and (first >> 4 == 14 if bits >= 4 else 14 >> (4 - bits)
                         == first >> (8 - bits)):
                return (f"Subnet {data} overlaps with multicast range 224.0.0.0/4, "
                        "which is not supported.")
            return None
        net = ipaddress.ip_interface(data).network
        mcast = ipaddress.ip_network("ff00::/8")
        if net.prefixlen and net.overlaps(mcast):
            return (f"Subnet {data} overlaps with multicast range {mcast}, "
                    "which is not supported.")
        return None
    reason = validate_ip_address(data)
    if reason:
        return reason
    multicast = (224 <= int(data.split(".", 1)[0]) <= 239 if ":" not in data
                 else ipaddress.ip_address(data).is_multicast)
    if multicast:
        return f"IP {data} is a multicast address, which is not supported."
    return None


def ip_prefix_to_cidr(data: Any) -> str | None:
    """A security group rule's remote_ip_prefix as upstream stores it
    ("10.0.0.1" -> "10.0.0.1/32", host bits kept); None for no prefix.
    Raises ValueError when it is not one."""
    if data is None or data == "":
        return None
    if not isinstance(data, str) or any(c.isspace() for c in data) or "%" in data:
        raise ValueError(data)
    iface = ipaddress.ip_interface(data)
    return f"{iface.ip}/{iface.network.prefixlen}"


# --- structured values --------------------------------------------------------------------

def verify_dict_keys(expected: list[str], target: Any, strict: bool = True) -> str | None:
    if not isinstance(target, dict):
        return (f"Invalid input. '{shown(target)}' must be a dictionary with keys: "
                f"{expected}")
    keys, given = set(expected), set(target)
    if (keys != given) if strict else not keys.issubset(given):
        return (f"Validation of dictionary's keys failed. Expected keys: {keys} "
                f"Provided keys: {given}")
    return None


def validate_dict(data: Any) -> str | None:
    return None if isinstance(data, dict) else f"'{shown(data)}' is not a dictionary"


def validate_dict_or_none(data: Any) -> str | None:
    return None if data is None else validate_dict(data)


def validate_fixed_ips(data: Any) -> str | None:
    if not isinstance(data, list):
        return f"Invalid data format for fixed IP: '{shown(data)}'"
    ips: set[str] = set()
    for fixed_ip in data:
        if not isinstance(fixed_ip, dict):
            return f"Invalid data format for fixed IP: '{shown(fixed_ip)}'"
        if "ip_address" in fixed_ip:
            address = fixed_ip["ip_address"]
            if isinstance(address, str) and address in ips:
                return f"Duplicate IP address '{address}'"
            reason = validate_ip_address(address)
            if reason:
                return reason
            ips.add(address)
        if "subnet_id" in fixed_ip:
            reason = validate_uuid(fixed_ip["subnet_id"])
            if reason:
                return reason
    return None


def validate_nameservers(data: Any) -> str | None:
    if not isinstance(data, list):
        return f"Invalid data format for nameserver: '{shown(data)}'"
    hosts: set[str] = set()
    for host in data:
        reason = validate_ip_address(host)
        if reason:
            return f"'{shown(host)}' is not a valid nameserver. {reason}"
        if host in hosts:
            return f"Duplicate nameserver '{host}'"
        hosts.add(host)
    return None


def validate_hostroutes(data: Any) -> str | None:
    if not isinstance(data, list):
        return f"Invalid data format for hostroute: '{shown(data)}'"
    seen: set[tuple[str, str]] = set()
    for route in data:
        reason = (verify_dict_keys(["destination", "nexthop"], route)
                  or validate_route_cidr(route["destination"])
                  or validate_ip_address(route["nexthop"]))
        if reason:
            return reason
        key = (route["destination"], route["nexthop"])      # both strings by now
        if key in seen:
            return f"Duplicate hostroute '{shown(route)}'"
        seen.add(key)
    return None


def validate_ip_pools(data: Any) -> str | None:
    if not isinstance(data, list):
        return f"Invalid data format for IP pool: '{shown(data)}'"
    for pool in data:
        reason = verify_dict_keys(["start", "end"], pool)
        if reason:
            return reason
        for key in ("start", "end"):
            reason = validate_ip_address(pool[key])
            if reason:
                return reason
    return None

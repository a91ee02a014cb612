"""Find DHCP servers on a segment: broadcast a DHCPDISCOVER from a MAC
nobody knows and collect every DHCPOFFER for a few seconds.

neutrino's dnsmasq only serves static leases (MACs of the network's
ports), so it never answers a random MAC: whoever does is another DHCP
server on the segment -- the seed's double-DHCP trap on flat networks.
Runs in the caller's current network namespace, on `interface`.
"""
from __future__ import annotations

import ipaddress
import os
import select
import socket
import struct
import time
from dataclasses import dataclass

MAGIC = b"\x63\x82\x53\x63"
SO_BINDTODEVICE = 25


@dataclass(frozen=True)
class Offer:
    server_id: str          # option 54
    offered_ip: str         # yiaddr
    source_ip: str          # IP source of the packet
    router: str | None = None


def discover_packet(mac: bytes, xid: int) -> bytes:
    header = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                         b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, mac.ljust(16, b"\0"),
                         b"\0" * 64, b"\0" * 128)
    options = (MAGIC + bytes([53, 1, 1])                  # DHCPDISCOVER
               + bytes([55, 3, 1, 3, 54])                 # ask: mask, router, server id
               + bytes([255]))
    return header + options


def parse_offer(data: bytes, xid: int) -> tuple[int, str, dict[int, bytes]] | None:
    if len(data) < 240 or data[0] != 2 or struct.unpack("!I", data[4:8])[0] != xid \
            or data[236:240] != MAGIC:
        return None
    yiaddr = str(ipaddress.IPv4Address(data[16:20]))
    options: dict[int, bytes] = {}
    i = 240
    while i < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        if i + 1 >= len(data):
            break
        code, length = data[i], data[i + 1]
        options[code] = data[i + 2:i + 2 + length]
        i += 2 + length
    kind = options.get(53, b"\0")[0]
    return kind, yiaddr, options


def _udp_payload(packet: bytes) -> tuple[str, int, bytes] | None:
    """(source IP, destination port, payload) of an IPv4/UDP packet."""
    if len(packet) < 28 or packet[0] >> 4 != 4 or packet[9] != socket.IPPROTO_UDP:
        return None
    ihl = (packet[0] & 0x0F) * 4
    dport = struct.unpack("!H", packet[ihl + 2:ihl + 4])[0]
    return str(ipaddress.IPv4Address(packet[12:16])), dport, packet[ihl + 8:]


def probe(interface: str, timeout: float = 5.0, mac: bytes | None = None) -> list[Offer]:
    """All DHCPOFFERs answering one DISCOVER (unique per server). Wait a
    few seconds: dnsmasq pings a dynamic address for 3 s before offering it."""
    xid = struct.unpack("!I", os.urandom(4))[0]
    # An interface without an IPv4 address does not deliver the broadcast
    # OFFERs to a UDP socket: read them from a packet socket instead.
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    raw.bind((interface, 0x0800))
    # chaddr: the interface's own (fresh, random, unknown to neutrino) MAC,
    # as a real client would send.
    mac = mac or raw.getsockname()[4]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, interface.encode())
        sock.bind(("0.0.0.0", 68))
        sock.sendto(discover_packet(mac, xid), ("255.255.255.255", 67))
        offers: dict[str, Offer] = {}
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([raw], [], [], left)
            if not ready:
                break
            udp = _udp_payload(raw.recv(65535))
            if udp is None or udp[1] != 68:
                continue
            src, _, data = udp
            parsed = parse_offer(data, xid)
            if parsed is None or parsed[0] != 2:          # 2: DHCPOFFER
                continue
            _, yiaddr, options = parsed
            server = (str(ipaddress.IPv4Address(options[54])) if len(options.get(54, b"")) == 4
                      else src)
            router = (str(ipaddress.IPv4Address(options[3][:4]))
                      if len(options.get(3, b"")) >= 4 else None)
            offers.setdefault(server, Offer(server, yiaddr, src, router))
        return sorted(offers.values(), key=lambda o: o.server_id)
    finally:
        sock.close()
        raw.close()

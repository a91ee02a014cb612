"""Server <-> agent messaging.

bus.py holds the interface, inproc.py and rabbit.py the two transports.
"""

from neutrino.rpc.bus import BrokerUnavailable, RemoteError, Transport, make_transport

__all__ = ["BrokerUnavailable", "RemoteError", "Transport", "make_transport"]

"""Server <-> agent messaging: see bus.py for the interface, inproc.py and rabbit.py for transports."""

from neutrino.rpc.bus import BrokerUnavailable, RemoteError, Transport, make_transport

__all__ = ["BrokerUnavailable", "RemoteError", "Transport", "make_transport"]

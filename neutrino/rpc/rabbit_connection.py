"""What every RabbitMQ connection of the transport (neutrino.rpc.rabbit)
shares: its settings once connected, reading what the broker already sent,
and letting it go. kombu/py-amqp connections are not thread-safe, so each has
one owner: the publisher's lock (rabbit_publisher) or a consumer's thread
(rabbit_consumer).
"""
from __future__ import annotations

import logging
import socket

import kombu

LOG = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
CLOSE_TIMEOUT = 2.0  # for the close handshake of a connection we give up


def prepare(conn: kombu.Connection, sync_timeout: float) -> None:
    """Settings every fresh connection of ours needs."""
    transport = conn.connection.transport
    # drain_events(timeout=0) must raise socket.timeout when nothing is
    # pending, not spin on EAGAIN (py-amqp's default, set explicitly).
    transport.raise_on_initial_eintr = True
    # py-amqp leaves the socket blocking forever: a broker that hangs in the
    # middle of a synchronous method (declare, close) would hang our thread.
    transport.sock.settimeout(sync_timeout)


def drain_ready(conn: kombu.Connection) -> None:
    """Handle every frame already received, without blocking for more."""
    while True:
        try:
            conn.drain_events(timeout=0)
        except socket.timeout:
            return


def release(conn: kombu.Connection, graceful: bool) -> None:
    """Close a connection: with the AMQP handshake when it is healthy, else
    just drop the socket (a close handshake with a dead broker never ends)."""
    try:
        if graceful:
            if conn.connected:  # (.connection on a dead kombu Connection reconnects)
                conn.connection.sock.settimeout(CLOSE_TIMEOUT)
            conn.release()
        else:
            conn.collect()
    except Exception:  # noqa: BLE001 - the connection is being thrown away anyway
        LOG.debug("error releasing connection", exc_info=True)

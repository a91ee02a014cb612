"""What this machine must have for the suite, and what a test does when it
does not.

`./bootstrap` installs every tool the tests use (haproxy, dnsmasq,
keepalived, iperf3, tcpdump, chromium, the openstack CLI ...), `./run-tests`
starts PostgreSQL, MariaDB and RabbitMQ when they are down, and the suite
runs as root beside ../shared. One of them missing is a broken install, not
a reason to skip: the test fails and names what is missing. Skips are kept
for what the machine truly lacks (a vm-run guest that cannot boot on its
CPU, a namespace without an IPv4 address), each with its reason."""
from __future__ import annotations

import pytest


def missing(what: str) -> None:
    """Fail the running test: `what` should be on this machine."""
    pytest.fail(f"missing on this machine (./bootstrap and ./run-tests provide it): {what}",
                pytrace=False)

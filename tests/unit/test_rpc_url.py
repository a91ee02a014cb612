"""transport_url parsing for the RabbitMQ transport (no broker needed)."""

import kombu
import pytest

from neutrino.rpc.bus import parse_transport_url


def test_single_host_default_vhost():
    urls, options = parse_transport_url("rabbit://guest:guest@127.0.0.1:5672/")
    assert urls == ["amqp://guest:guest@127.0.0.1:5672/%2F"]
    assert options == {}
    assert kombu.Connection(urls[0]).virtual_host == "/"


def test_several_hosts_vhost_and_options():
    urls, options = parse_transport_url(
        "rabbit://u1:p1@ctl1:5673,u2:p2@ctl2,ctl3:5674/openstack?heartbeat=30")
    assert urls == [
        "amqp://u1:p1@ctl1:5673/openstack",
        "amqp://u2:p2@ctl2:5672/openstack",
        "amqp://u2:p2@ctl3:5674/openstack",  # no credentials: reuse the previous host's
    ]
    assert options == {"heartbeat": "30"}


def test_quoted_credentials_and_vhost_survive_kombu_parsing():
    urls, _ = parse_transport_url("rabbit://us%40er:p%3Ass%2Fw@h:5672/v%2Fh")
    connection = kombu.Connection(urls[0])
    assert connection.userid == "us@er"
    assert connection.password == "p:ss/w"
    assert connection.virtual_host == "v/h"


def test_ipv6_and_defaults():
    urls, _ = parse_transport_url("rabbit://[::1]:5673,[fe80::1]")
    assert urls == ["amqp://guest:guest@[::1]:5673/%2F", "amqp://guest:guest@[fe80::1]:5672/%2F"]
    assert parse_transport_url("rabbit://")[0] == ["amqp://guest:guest@localhost:5672/%2F"]


def test_other_schemes_rejected():
    with pytest.raises(ValueError):
        parse_transport_url("kafka://h")

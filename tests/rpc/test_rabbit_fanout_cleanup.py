"""Fanout exchanges leave the broker with their last subscriber (an agent
that stops leaves nothing behind), against the real RabbitMQ: the
exchange's existence is checked by a passive declare, which the broker
refuses (404) for an exchange it does not have."""
from __future__ import annotations

import time

import kombu
import pytest
from amqp.exceptions import NotFound

from neutrino.rpc.rabbit import fanout_exchange, parse_transport_url
from tests.rpc.test_rabbit import RABBIT_URL, Recorder, suffix, topic, transports  # noqa: F401
from tests.rpc.test_rabbit import pytestmark  # noqa: F401  (skips without a broker)


def exchange_exists(name: str) -> bool:
    with kombu.Connection(parse_transport_url(RABBIT_URL)[0][0], connect_timeout=3) as conn:
        channel = conn.channel()
        try:
            channel.exchange_declare(name, "fanout", passive=True)
            return True
        except NotFound:
            return False


def wait_gone(name: str, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while exchange_exists(name):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_exchange_goes_with_the_last_subscriber(transports, topic):  # noqa: F811
    host_topic = topic("neutrino-agent.host-a")
    name = fanout_exchange(host_topic).name
    l2, l3 = Recorder(), Recorder()
    l2_agent, l3_agent = transports(), transports()   # two agents of one host
    l2_agent.subscribe(host_topic, l2)
    l3_agent.subscribe(host_topic, l3)
    server = transports()
    server.publish(host_topic, "resource_changed", {"i": 1})
    l2.wait_for(1)
    l3.wait_for(1)
    assert exchange_exists(name)

    l2_agent.close()   # one agent stops: the other one still hears
    time.sleep(0.3)
    assert exchange_exists(name)
    server.publish(host_topic, "resource_changed", {"i": 2})
    assert [p["i"] for p in l3.wait_for(2)] == [1, 2]

    l3_agent.close()   # the last one stops: nothing of theirs stays on the broker
    assert wait_gone(name), f"exchange {name} is still on the broker"


def test_unsubscribe_removes_the_exchange(transports, topic):  # noqa: F811
    host_topic = topic("neutrino-agent.host-b")
    agent = transports()
    agent.subscribe(host_topic, Recorder())
    assert exchange_exists(fanout_exchange(host_topic).name)
    agent.unsubscribe(host_topic)      # the agents' leave_bus on stop
    assert wait_gone(fanout_exchange(host_topic).name)


def test_publish_after_the_subscribers_left_still_works(transports, topic):  # noqa: F811
    host_topic = topic("neutrino-agent.host-c")
    name = fanout_exchange(host_topic).name
    agent, server = transports(), transports()
    agent.subscribe(host_topic, Recorder())
    server.publish(host_topic, "m", {"i": 0})
    agent.close()
    assert wait_gone(name)
    # the server does not know the agent is gone: its sends must not fail
    # (the exchange is declared again) and a restarted agent hears the next one
    server.publish(host_topic, "m", {"i": 1})
    again = Recorder()
    transports().subscribe(host_topic, again)
    server.publish(host_topic, "m", {"i": 2})
    assert [p["i"] for p in again.wait_for(1)] == [2]


def test_an_older_persistent_exchange_is_replaced(transports, topic):  # noqa: F811
    host_topic = topic("neutrino-agent.host-d")
    name = fanout_exchange(host_topic).name
    with kombu.Connection(parse_transport_url(RABBIT_URL)[0][0]) as conn:
        # what neutrino before auto-delete exchanges left behind
        conn.channel().exchange_declare(name, "fanout", durable=False, auto_delete=False)
    got = Recorder()
    agent = transports()
    agent.subscribe(host_topic, got)
    transports().publish(host_topic, "m", {"i": 1})
    assert [p["i"] for p in got.wait_for(1)] == [1]
    agent.close()
    assert wait_gone(name)

"""End-to-end fixtures: a real lab (namespaces, server, agents) per transport.

One 2-host lab per transport for the session (inproc, and RabbitMQ on
127.0.0.1:5672 with a random control_exchange, so parallel runs never share
a queue or an exchange). Each test builds its own networks and instances
through `world` and they are deleted afterwards; the lab itself is always
torn down (namespaces, processes, broker exchanges, state directory).
"""
from __future__ import annotations

import os
import secrets
import time

import pytest

from tests.e2e.helpers import World
from tests.machine import missing

# The VLAN e2e test needs an 802.1Q kernel: it runs inside vm-run, driven by
# test_l2_vlan_vm.py, and is not collected on the host.
if os.environ.get("VM_RUN") != "1":
    collect_ignore_glob = ["vlan_in_vm/*"]

RABBIT_URL = os.environ.get("NEUTRINO_TEST_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")
NOT_ROOT = "needs root: network namespaces"


def _rabbit_unreachable() -> str | None:
    try:
        import kombu

        from neutrino.rpc.bus import parse_transport_url
        with kombu.Connection(parse_transport_url(RABBIT_URL)[0][0], connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001
        return f"RabbitMQ unreachable at {RABBIT_URL}: {exc!r}"
    return None


def _postgres_unreachable() -> str | None:
    from sqlalchemy import create_engine

    from neutrino.lab.database import MAINTENANCE
    try:
        engine = create_engine(MAINTENANCE["postgresql"])
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL unreachable at {MAINTENANCE['postgresql']}: {exc!r}"
    return None


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.missing(True, reason=NOT_ROOT)
    for item in items:
        if "e2e" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session", params=["inproc", "rabbit"])
def lab(request, tmp_path_factory):
    """A running 2-host lab (LabControl)."""
    if os.geteuid() != 0:
        missing(NOT_ROOT)
    if request.param == "rabbit":
        reason = _rabbit_unreachable()
        if reason:
            missing(reason)
    from neutrino.lab.control import LabControl
    lab_dir = tmp_path_factory.mktemp(f"lab-{request.param}") / "lab"
    ctl = LabControl.up(hosts=2, transport=request.param, lab_dir=lab_dir,
                        rabbit_url=RABBIT_URL)
    try:
        yield ctl
    finally:
        ctl.down()


@pytest.fixture
def l3(lab):
    """An L3World (World plus routers and floating IPs) once every host's L3
    agent is alive; removed afterwards."""
    from tests.e2e.l3_helpers import l3_world
    with l3_world(lab) as w:
        yield w


@pytest.fixture
def world(lab):
    """Networks and instances for one test, removed afterwards."""
    w = World(lab, tag=secrets.token_hex(2))
    try:
        yield w
    finally:
        w.cleanup()
        # give the agents a moment to remove what the test left, so the next
        # test starts from a clean host
        time.sleep(0.2)

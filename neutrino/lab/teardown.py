"""What a lab leaves once its processes are stopped, removed: the daemons
its agents started (dnsmasq, metadata proxies, keepalived, haproxy, each by
its verified PID), its namespaces, its broker exchanges, its database and
its directory. Only what carries the lab's prefix or lives in its directory.
"""
from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path

from neutrino.dataplane import netns as _netns
from neutrino.lab import database as lab_database
from neutrino.lab.state import LabState
from neutrino.lab.topology import Lab

LOG = logging.getLogger(__name__)


def remove(state: LabState) -> None:
    """Everything but the processes LabControl started (stopped before);
    safe on a half-built lab."""
    if state.transport != "inproc":
        with contextlib.suppress(Exception):
            _delete_exchanges(state)
    _stop_dnsmasqs(state)
    _stop_metadata_proxies(state)
    _stop_keepalived(state)
    _stop_lb_haproxies(state)
    # instance namespaces: recorded ones, and any left with our instance prefix;
    # and the agents' router, DHCP and LB namespaces, once nothing runs in them
    inst_prefix = f"{state.prefix}i-"
    for name in _netns.list_netns():
        if name.startswith(inst_prefix) or (name.startswith(state.prefix) and any(
                kind in name for kind in ("-qrouter-", "-qdhcp-", "-qlbaas-"))):
            _netns.delete(name, missing_ok=True)
    topo_file = state.topology_dir / "topology.json"
    if topo_file.exists():
        Lab.load(topo_file).teardown()
    if state.db_url:
        try:
            lab_database.drop(state.db, state.db_url)
        except Exception as exc:  # noqa: BLE001 - still remove the rest
            LOG.warning("could not drop the lab database %s: %s", state.db_url, exc)
    if (Path(state.lab_dir) / "lab.json").exists():
        shutil.rmtree(state.lab_dir, ignore_errors=True)


def _delete_exchanges(state: LabState) -> None:
    import kombu

    from neutrino.rpc.bus import parse_transport_url
    from neutrino.rpc.client import host_topic
    from neutrino.rpc.rabbit import fanout_exchange

    with kombu.Connection(parse_transport_url(state.rabbit_url)[0][0],
                          connect_timeout=3) as conn:
        channel = conn.channel()
        for host in state.host_names():
            name = fanout_exchange(host_topic(host, state.control_exchange)).name
            channel.exchange_delete(name)


def _stop_metadata_proxies(state: LabState) -> None:
    """The haproxy metadata proxies the L3 and DHCP agents started, before
    their namespaces go."""
    from neutrino.agent.metadata.proxy import stop_all
    for host in state.host_names():
        stop_all(str(state.host_dir(host)))


def _stop_keepalived(state: LabState) -> None:
    """The L3 agents' keepalived of HA routers (by verified PID)."""
    from neutrino.agent.l3.ha import stop_all
    for host in state.host_names():
        with contextlib.suppress(Exception):
            stop_all(state.host_dir(host) / "ha_confs")


def _stop_lb_haproxies(state: LabState) -> None:
    """The LB agents' haproxies (by verified PID)."""
    from neutrino.agent.lb.driver import stop_all
    for host in state.host_names():
        with contextlib.suppress(Exception):
            stop_all(state.host_dir(host) / "lbaas")


def _stop_dnsmasqs(state: LabState) -> None:
    """The DHCP agents' dnsmasq processes (by the verified PID in each pid
    file)."""
    from neutrino.dataplane.dnsmasq import stop_strays
    from neutrino.dataplane.process import stop_process
    for host in state.host_names():
        for pidfile in (state.host_dir(host) / "dhcp").glob("*/pid"):
            with contextlib.suppress(Exception):
                stop_process(pidfile, f"--pid-file={pidfile}", timeout=5)
        # and any whose pid file was lost: their command line names our directory
        with contextlib.suppress(Exception):
            stop_strays(f"--pid-file={state.host_dir(host) / 'dhcp'}/")
